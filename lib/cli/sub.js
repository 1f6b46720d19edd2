'use strict'
// `mqtt subscribe` / `mqtt_sub`: subscribe and print messages until interrupted, or until
// `--count` messages have arrived.

const { parseArgs, UsageError } = require('./args')
const { connectionFlags, connectOptions, passThrough, qosValue, wholeNumber, PROTOCOLS } = require('./options')
const { createRun } = require('./run')
const { helpText } = require('./help')

function flags () {
  return {
    ...connectionFlags(),
    topic: { type: 'string', aliases: ['t'], repeat: true },
    verbose: { type: 'boolean', aliases: ['v'] },
    clean: { type: 'boolean', aliases: ['c'] },
    keepalive: { type: 'string', aliases: ['k'] },
    // Ours (mosquitto_sub has it too). MQTT.js reads -C as --protocol; see below.
    count: { type: 'string', aliases: ['C'] }
  }
}

/**
 * Runs the subscribe command.
 * @param {string[]} argv the arguments after the command name
 * @param {{ prog?: string }} [opts]
 */
function subscribe (argv, { prog = 'mqtt subscribe' } = {}) {
  const run = createRun(prog, 'subscribe')
  let options, topics, qos, count, verbose
  try {
    const { values, positionals } = parseArgs(argv, flags(), passThrough)
    if (values.help) {
      process.stdout.write(helpText('subscribe'))
      return
    }
    if (values.count !== undefined && !/^\d+$/.test(values.count) && PROTOCOLS.includes(values.count.replace(/\+unix$/, ''))) {
      // `-C mqtts`: MQTT.js's alias of --protocol. A number is a count.
      if (values.protocol === undefined) values.protocol = values.count
      values.count = undefined
    }
    count = values.count !== undefined ? wholeNumber('--count', values.count, 1, 0x7fffffff) : Infinity
    topics = [...(values.topic || []), ...positionals]
    if (topics.length === 0 || topics.some((t) => t === '')) {
      throw new UsageError('missing topic: give it with -t TOPIC or as an argument')
    }
    qos = qosValue('--qos', values.qos)
    verbose = !!values.verbose
    options = connectOptions(values)
    if (values.clean !== undefined) options.clean = values.clean
    if (values.keepalive !== undefined) options.keepalive = wholeNumber('--keepalive', values.keepalive, 0, 65535)
  } catch (err) {
    run.fail(err)
    return
  }

  const client = run.connect(options)
  if (!client) return
  run.endOnSignals()

  let received = 0
  client.on('message', (topic, payload) => {
    if (run.finished) return
    process.stdout.write(verbose ? `${topic} ${payload.toString()}\n` : `${payload.toString()}\n`)
    if (++received >= count) run.finish(0)
  })
  client.on('connect', () => {
    client.subscribe(topics.length === 1 ? topics[0] : topics, { qos }, (err, granted) => {
      if (err) {
        run.fail(err)
        return
      }
      for (const grant of granted || []) {
        if (grant.qos >= 0x80) {
          run.fail(new Error(`the broker refused the subscription to "${grant.topic}" (reason code ${grant.qos})`))
          return
        }
      }
    })
  })
}

module.exports = { subscribe }
