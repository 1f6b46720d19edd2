'use strict'
// One connection attempt, and one round trip, of mqtt-native, for the transport tests.
const assert = require('node:assert/strict')
const mqtt = require('../..')

/**
 * One connection attempt without reconnects: resolves, once the client has closed, with the
 * errors it emitted, whether it connected, and the client.
 * @param {string} url
 * @param {object} [opts] more client options
 */
function attempt (url, opts = {}) {
  return new Promise((resolve) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts })
    const errors = []
    let connected = false
    client.on('error', (err) => errors.push(err))
    client.on('connect', () => {
      connected = true
      client.end()
    })
    client.on('close', () => resolve({ errors, connected, client }))
  })
}

/**
 * Connects, subscribes to `topic`, publishes `text` at QoS 1, asserts it comes back, then ends
 * the client (also when something failed).
 */
async function roundTrip (url, opts, topic = 'transport/echo', text = 'round trip') {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts })
  try {
    await new Promise((resolve, reject) => {
      client.once('connect', resolve)
      client.once('error', reject)
    })
    await client.subscribeAsync(topic, { qos: 1 })
    const received = new Promise((resolve) => client.once('message', (t, payload) => resolve(payload.toString())))
    await client.publishAsync(topic, text, { qos: 1 })
    assert.equal(await received, text)
  } finally {
    await client.endAsync()
  }
}

module.exports = { attempt, roundTrip }
