'use strict'
// `mqtt publish` / `mqtt_pub`: connect, publish one message (or one per stdin line), end.

const readline = require('node:readline')
const { parseArgs, UsageError } = require('./args')
const { connectionFlags, connectOptions, passThrough, qosValue } = require('./options')
const { createRun } = require('./run')
const { helpText } = require('./help')

function flags () {
  const all = {
    ...connectionFlags(),
    topic: { type: 'string', aliases: ['t'] },
    message: { type: 'string', aliases: ['m'] },
    retain: { type: 'boolean', aliases: ['r'] },
    stdin: { type: 'boolean', aliases: ['s'] },
    multiline: { type: 'boolean', aliases: ['M'] }
  }
  // MQTT.js's publish help gives -C as the short form of --protocol.
  all.protocol = { ...all.protocol, aliases: [...all.protocol.aliases, 'C'] }
  return all
}

/** Reads the whole of stdin into one Buffer. */
function readStdin () {
  return new Promise((resolve, reject) => {
    const chunks = []
    process.stdin.on('data', (chunk) => chunks.push(chunk))
    process.stdin.once('end', () => resolve(Buffer.concat(chunks)))
    process.stdin.once('error', reject)
  })
}

/**
 * Runs the publish command.
 * @param {string[]} argv the arguments after the command name
 * @param {{ prog?: string }} [opts]
 */
async function publish (argv, { prog = 'mqtt publish' } = {}) {
  const run = createRun(prog, 'publish')
  let args, options, topic, message, qos
  try {
    const { values, positionals } = parseArgs(argv, flags(), passThrough)
    if (values.help) {
      process.stdout.write(helpText('publish'))
      return
    }
    topic = values.topic !== undefined ? values.topic : positionals.shift()
    message = values.message !== undefined ? values.message : positionals.shift()
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`)
    if (!topic) throw new UsageError('missing topic: give it with -t TOPIC or as the first argument')
    if (values.multiline && !values.stdin) throw new UsageError('--multiline reads stdin: add -s')
    qos = qosValue('--qos', values.qos)
    options = connectOptions(values)
    args = values
  } catch (err) {
    run.fail(err)
    return
  }
  const publishOpts = { qos, retain: !!args.retain }

  if (args.stdin && !args.multiline) {
    try {
      message = await readStdin()
    } catch (err) {
      run.fail(err)
      return
    }
  }

  const client = run.connect(options)
  if (!client) return

  if (args.multiline) {
    client.once('connect', () => {
      publishLines(client, topic, publishOpts).then(() => run.finish(0), (err) => run.fail(err))
    })
    return
  }
  client.once('connect', () => {
    client.publish(topic, message === undefined ? '' : message, publishOpts, (err) => {
      if (err) run.fail(err)
      else run.finish(0)
    })
  })
}

/** Publishes each line of stdin, in order, waiting for each to complete (as MQTT.js does). */
async function publishLines (client, topic, publishOpts) {
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
  for await (const line of lines) {
    // MQTT.js trims every line; so do we.
    await client.publishAsync(topic, line.trim(), publishOpts)
  }
}

module.exports = { publish }
