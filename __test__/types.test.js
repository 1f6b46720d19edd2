'use strict'
// The typings: programs written the way MQTT.js users write them, with the import switched to
// mqtt-native, compile under `tsc --strict`; programs with wrong option types or listeners do not.
// The same programs are compiled against MQTT.js itself (the `mqtt` devDependency), which proves
// that they are MQTT.js programs and that both reject the same mistakes.
//
// Programs: __test__/types/good/* (must compile cleanly) and __test__/types/bad/* (every line
// marked `// @error` must fail, and no other line); __test__/types/native/* use mqtt-native's own
// options and are compiled against mqtt-native only. 'mqtt-native' is resolved through a
// node_modules symlink in a temporary project, so the package's `exports`/`types` are used as
// an installed package's would be.

const test = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const root = path.join(__dirname, '..')
const programs = path.join(__dirname, 'types')
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc')

const TARGETS = {
  'mqtt-native': root,
  'MQTT.js': path.join(root, 'node_modules', 'mqtt')
}

const CONFIGS = {
  // The classic setup: CommonJS output, node10 resolution, esModuleInterop.
  commonjs: { module: 'commonjs', moduleResolution: 'node10', esModuleInterop: true, skipExt: '.mts' },
  // The modern one: Node's own resolution (package.json "exports"), .mts as ES modules.
  nodenext: { module: 'nodenext', moduleResolution: 'nodenext' }
}

/** Lines marked `// @error` in the bad programs, as `bad/<file>:<line>` strings. */
function expectedErrors () {
  const expected = new Set()
  for (const file of fs.readdirSync(path.join(programs, 'bad'))) {
    const lines = fs.readFileSync(path.join(programs, 'bad', file), 'utf8').split('\n')
    lines.forEach((line, i) => { if (/\/\/ @error\s*$/.test(line)) expected.add(`bad/${file}:${i + 1}`) })
  }
  return expected
}

/**
 * Compiles every program against `target` (a package directory linked as mqtt-native) with
 * `config`; returns tsc's diagnostics grouped as { good: [...], bad: Set of `bad/<file>:<line>` }.
 */
function compile (t, target, config) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-native-types-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  fs.mkdirSync(path.join(dir, 'node_modules'))
  fs.symlinkSync(target, path.join(dir, 'node_modules', 'mqtt-native'), 'dir')
  fs.symlinkSync(path.join(root, 'node_modules', '@types'), path.join(dir, 'node_modules', '@types'), 'dir')
  fs.cpSync(programs, path.join(dir, 'src'), { recursive: true })
  const files = []
  for (const group of target === root ? ['good', 'bad', 'native'] : ['good', 'bad']) {
    for (const file of fs.readdirSync(path.join(dir, 'src', group))) {
      if (config.skipExt && file.endsWith(config.skipExt)) continue
      files.push(`src/${group}/${file}`)
    }
  }
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'types-check', private: true }))
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      strict: true,
      noEmit: true,
      target: 'es2022',
      lib: ['es2022'],
      module: config.module,
      moduleResolution: config.moduleResolution,
      esModuleInterop: !!config.esModuleInterop,
      allowJs: true,
      checkJs: true,
      types: ['node'],
      // MQTT.js's own declarations pull in dependencies that are not ours to check; ours are.
      skipLibCheck: target !== root
    },
    files
  }, null, 2))
  const result = spawnSync(process.execPath, [tsc, '-p', dir, '--pretty', 'false'], { cwd: dir, encoding: 'utf8', timeout: 60000 })
  assert.equal(result.error, undefined, String(result.error))
  const good = []
  const bad = new Set()
  let inBad = false
  for (const line of result.stdout.split('\n')) {
    if (!line.trim()) continue
    const m = /^src\/(good|bad|native)\/([^(]+)\((\d+),\d+\): error TS\d+/.exec(line)
    // Indented lines continue the diagnostic above them.
    if (!m && /^\s/.test(line) && inBad) continue
    inBad = !!m && m[1] === 'bad'
    if (inBad) bad.add(`bad/${m[2]}:${m[3]}`)
    else good.push(line)
  }
  return { good, bad, status: result.status }
}

for (const [name, target] of Object.entries(TARGETS)) {
  for (const [configName, config] of Object.entries(CONFIGS)) {
    test(`MQTT.js-style programs compile against ${name} with tsc --strict (${configName}), and the wrong ones do not`, { timeout: 90000 }, (t) => {
      const { good, bad } = compile(t, target, config)
      assert.deepEqual(good, [], `unexpected diagnostics:\n${good.join('\n')}`)
      const expected = expectedErrors()
      const missing = [...expected].filter((k) => !bad.has(k))
      const extra = [...bad].filter((k) => !expected.has(k))
      assert.deepEqual(missing, [], `these lines should fail to compile against ${name} but do not`)
      assert.deepEqual(extra, [], `these lines fail against ${name} but are not marked @error`)
    })
  }
}
