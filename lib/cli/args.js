'use strict'
// A small command-line parser for the `mqtt` commands, so that the package needs no runtime
// dependency. It understands what MQTT.js's minimist-based parser accepts in practice:
//
//   --name value   --name=value   -n value   -nvalue   -abc (short booleans together)
//   --no-name (a boolean set to false)   --   (everything after it is positional)
//
// Unlike minimist it knows the type of every flag, so a boolean never swallows the next word,
// a value flag always takes the next word (`-m -x` publishes "-x"), and an unknown flag is an
// error instead of being passed on silently.

class UsageError extends Error {}

/**
 * Declares one flag.
 * @typedef {object} FlagSpec
 * @property {'string' | 'boolean'} type
 * @property {string[]} [aliases] other names: one letter for `-x`, longer for `--xyz`
 * @property {boolean} [repeat] collect every value into an array instead of keeping the last
 */

/** `protocol-version` → `protocolVersion`. */
function camel (name) {
  return name.replace(/-([a-z])/g, (_, c) => c.toUpperCase())
}

/**
 * Parses `argv` against `flags` (canonical name → FlagSpec). Long names that are not declared
 * are looked up with `fallback(name)` (in kebab-case and camelCase); it returns a FlagSpec plus
 * the canonical key to store under, or null for an unknown flag.
 *
 * @param {string[]} argv
 * @param {Record<string, FlagSpec>} flags
 * @param {(name: string) => ({ key: string } & FlagSpec) | null} [fallback]
 * @returns {{ values: Record<string, any>, positionals: string[] }}
 */
function parseArgs (argv, flags, fallback = () => null) {
  const byName = new Map()
  for (const [key, spec] of Object.entries(flags)) {
    for (const name of [key, ...(spec.aliases || [])]) byName.set(name, { key, ...spec })
  }
  const lookupLong = (name) => byName.get(name) || byName.get(camel(name)) || fallback(name) || fallback(camel(name))

  const values = {}
  const positionals = []
  const set = (spec, value) => {
    if (spec.repeat) (values[spec.key] = values[spec.key] || []).push(value)
    else values[spec.key] = value
  }
  const toBoolean = (display, text) => {
    if (text === 'true') return true
    if (text === 'false') return false
    throw new UsageError(`${display} is a switch; give it alone, or as ${display}=true / ${display}=false`)
  }

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1))
      break
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=')
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq)
      const inline = eq === -1 ? undefined : arg.slice(eq + 1)
      let spec = lookupLong(name)
      if (!spec && name.startsWith('no-')) {
        const negated = lookupLong(name.slice(3))
        if (negated && negated.type === 'boolean' && inline === undefined) {
          set(negated, false)
          continue
        }
      }
      if (!spec) throw new UsageError(`unknown option --${name}`)
      if (spec.type === 'boolean') {
        if (inline !== undefined) {
          set(spec, toBoolean(`--${name}`, inline))
        } else if (argv[i + 1] === 'true' || argv[i + 1] === 'false') {
          set(spec, argv[++i] === 'true')
        } else {
          set(spec, true)
        }
        continue
      }
      if (inline !== undefined) {
        set(spec, inline)
      } else if (i + 1 < argv.length) {
        set(spec, argv[++i])
      } else {
        throw new UsageError(`--${name} needs a value`)
      }
      continue
    }
    if (arg.length > 1 && arg.startsWith('-') && !/^-\d/.test(arg)) {
      // One or more short flags: -v, -rv, -p1883, -t topic.
      for (let j = 1; j < arg.length; j++) {
        const letter = arg[j]
        const spec = byName.get(letter)
        if (!spec) throw new UsageError(`unknown option -${letter}`)
        if (spec.type === 'boolean') {
          set(spec, true)
          continue
        }
        const rest = arg.slice(j + 1)
        if (rest !== '') {
          set(spec, rest.startsWith('=') ? rest.slice(1) : rest)
        } else if (i + 1 < argv.length) {
          set(spec, argv[++i])
        } else {
          throw new UsageError(`-${letter} needs a value`)
        }
        break
      }
      continue
    }
    positionals.push(arg)
  }
  return { values, positionals }
}

module.exports = { parseArgs, UsageError, camel }
