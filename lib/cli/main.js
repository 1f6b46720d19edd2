'use strict'
// `mqtt <command>`: picks the command and runs it.
//
// MQTT.js matches commands by edit distance (commist), so that any word runs *some* command:
// `mqtt foo` prints the version. We accept the names and their unique beginnings only
// (`mqtt v`, `mqtt he`, `mqtt pu`), and refuse anything else.

const { helpText } = require('./help')

/** Every command name, with the canonical command it runs. */
const NAMES = {
  publish: 'publish',
  pub: 'publish',
  subscribe: 'subscribe',
  sub: 'subscribe',
  version: 'version',
  help: 'help',
  // `mqtt --help`, `mqtt -H`, `mqtt --version` as many users type them.
  '--help': 'help',
  '-H': 'help',
  '--version': 'version'
}

/** The canonical command `word` names, or null when it names none or several. */
function resolveCommand (word) {
  if (typeof word !== 'string' || word === '') return null
  if (Object.prototype.hasOwnProperty.call(NAMES, word)) return NAMES[word]
  const matches = new Set()
  for (const name of Object.keys(NAMES)) {
    if (!name.startsWith('-') && name.startsWith(word)) matches.add(NAMES[name])
  }
  return matches.size === 1 ? [...matches][0] : null
}

/** The version line. */
function versionLine () {
  const { version } = require('../../package.json')
  return `mqtt-native ${version} (MQTT.js-compatible 5.16)`
}

/**
 * Runs `mqtt` with `argv` (the arguments after the program name).
 * @param {string[]} argv
 */
function main (argv) {
  const [word, ...rest] = argv
  if (word === undefined) {
    process.stderr.write(helpText('general'))
    process.exitCode = 1
    return
  }
  const command = resolveCommand(word)
  switch (command) {
    case 'publish':
      return require('./pub').publish(rest, { prog: 'mqtt publish' })
    case 'subscribe':
      return require('./sub').subscribe(rest, { prog: 'mqtt subscribe' })
    case 'version':
      process.stdout.write(versionLine() + '\n')
      return
    case 'help': {
      const topic = rest[0] === undefined ? 'general' : resolveCommand(rest[0])
      if (topic === 'general' || topic === 'help') {
        process.stdout.write(helpText('general'))
      } else if (topic === 'publish' || topic === 'subscribe') {
        process.stdout.write(helpText(topic))
      } else if (topic === 'version') {
        process.stdout.write('Usage: mqtt version\n\nPrints the version of mqtt-native and the MQTT.js version it is compatible with.\n')
      } else {
        process.stderr.write(`mqtt help: no such command "${rest[0]}"; the commands are publish, subscribe, version and help\n`)
        process.exitCode = 1
      }
      return
    }
    default: {
      const hint = word.startsWith('-') ? ' (options go after the command: mqtt pub -t topic -m hello)' : ''
      process.stderr.write(`mqtt: no such command "${word}"${hint}; the commands are publish, subscribe, version and help\n`)
      process.exitCode = 1
    }
  }
}

module.exports = { main, resolveCommand, versionLine }
