'use strict'
// A persistent session: a subscriber with a fixed clientId, `clean: false` and QoS 1 gets the
// messages published while it was offline, even across a broker restart when the broker keeps
// its sessions on disk (mosquitto: `persistence true`).
//
//   node examples/persistent-session.js                           # mqtt://localhost:1883
//   node examples/persistent-session.js --url mqtt://broker.lan:1883 --restart
//
// What happens:
//   1. The subscriber connects with clean: false, subscribes at QoS 1, and disconnects. The
//      broker keeps its session: the subscription, plus a queue of QoS 1 messages for it.
//   2. A publisher publishes two QoS 1 messages. The broker queues them for the subscriber.
//   3. Only with --restart: you stop the broker and press Enter. The publisher publishes a
//      third message while the broker is down; it waits in the publisher's offline queue.
//      You start the broker again and press Enter; the publisher reconnects and sends it.
//   4. The subscriber connects again with the same clientId. The broker reports that the
//      session still exists (sessionPresent) and delivers every message the subscriber missed,
//      without a new subscribe.
//
// Flags, or the environment: --url (MQTT_URL, default mqtt://localhost:1883), --client-id
// (MQTT_CLIENT_ID, default mqtt-native-example-subscriber), --restart.

const readline = require('node:readline')
const { once } = require('node:events')
const { parseArgs } = require('node:util')
const mqtt = require('mqtt-native') // the same code works with require('mqtt')

const { values: flags } = parseArgs({
  options: {
    url: { type: 'string' },
    'client-id': { type: 'string' },
    restart: { type: 'boolean', default: false }
  }
})
const url = flags.url || process.env.MQTT_URL || 'mqtt://localhost:1883'
const clientId = flags['client-id'] || process.env.MQTT_CLIENT_ID || 'mqtt-native-example-subscriber'
const topic = 'examples/session'

// What makes the session persistent: the same clientId on every connection and clean: false.
// (With MQTT 5, also ask the broker to keep the session after the connection ends:
//  protocolVersion: 5, properties: { sessionExpiryInterval: 3600 }.)
// reconnectPeriod: 0 because this program reconnects the subscriber itself, in step 4.
const subscriberOptions = { clientId, clean: false, reconnectPeriod: 0 }

async function main () {
  // 1. Create the session, then go offline.
  let subscriber = await mqtt.connectAsync(url, subscriberOptions)
  await subscriber.subscribeAsync(topic, { qos: 1 }) // QoS 0 messages are not queued for offline clients
  await subscriber.endAsync()
  console.log(`1. subscriber ${clientId} subscribed to ${topic} at QoS 1 and went offline`)

  // 2. Publish while the subscriber is away. The publisher's own session does not matter here,
  //    but it reconnects by itself (every second, the default) if the broker goes away.
  const publisher = await mqtt.connectAsync(url, { clientId: `${clientId}-publisher` })
  publisher.on('error', (err) => console.log(`   publisher: ${err.message}`)) // reconnect failures
  const expected = []
  for (const text of ['sent while the subscriber was offline (1)', 'sent while the subscriber was offline (2)']) {
    await publisher.publishAsync(topic, text, { qos: 1 }) // resolves once the broker has it
    expected.push(text)
    console.log(`2. published "${text}"`)
  }

  // 3. Optionally, restart the broker; publish while it is down.
  let publishedWhileDown = Promise.resolve()
  if (flags.restart) {
    await waitForEnter('3. stop the broker now, then press Enter')
    if (publisher.connected) await new Promise((resolve) => publisher.once('offline', resolve))
    const text = 'sent while the broker was down'
    // Not awaited: the promise settles when the broker acknowledges, after the restart.
    publishedWhileDown = publisher.publishAsync(topic, text, { qos: 1 })
    expected.push(text)
    console.log(`   published "${text}" (in the publisher's offline queue)`)
    await waitForEnter('3. start the broker again, then press Enter')
  }

  // 4. Come back. Listen for messages before the connection opens: the broker sends the queued
  //    ones right after it accepts the connection.
  const missing = new Set(expected)
  subscriber = mqtt.connect(url, subscriberOptions)
  const allReceived = new Promise((resolve, reject) => {
    const fail = (err) => {
      clearTimeout(timer)
      reject(err)
    }
    const timer = setTimeout(() => fail(new Error(`not delivered within 10 s: ${[...missing].join(', ')}`)), 10000)
    subscriber.once('connect', (connack) => {
      console.log(`4. subscriber ${clientId} is back; session present: ${connack.sessionPresent}`)
      if (!connack.sessionPresent) {
        fail(new Error('the broker did not keep the session, so the queued messages are gone ' +
          '(mosquitto keeps sessions across a restart only with `persistence true`)'))
      }
    })
    subscriber.on('message', (topic, payload, packet) => {
      console.log(`   received "${payload}" (QoS ${packet.qos})`)
      missing.delete(payload.toString())
      if (missing.size === 0) {
        clearTimeout(timer)
        resolve()
      }
    })
    subscriber.on('error', fail)
  })

  try {
    await allReceived
    await publishedWhileDown
    console.log(`all ${expected.length} messages delivered`)
  } finally {
    // The session stays on the broker after this. To discard it, connect once with clean: true.
    await subscriber.endAsync()
    await publisher.endAsync()
    stopReadingStdin()
  }
}

/** A line reader on stdin, made on first use (only with --restart). */
let input = null

/** Prints `message` and resolves when a line arrives on stdin (Enter in a terminal). */
async function waitForEnter (message) {
  console.log(message)
  input = input || readline.createInterface({ input: process.stdin })
  await once(input, 'line')
}

/** Stops reading stdin, which would otherwise keep the process alive. */
function stopReadingStdin () {
  if (!input) return
  input.close()
  process.stdin.destroy()
}

main().catch((err) => {
  console.error(`error: ${err.message}${err.code ? ` (${err.code})` : ''}`)
  process.exitCode = 1
  process.exit() // other clients may still be trying to reconnect
})
