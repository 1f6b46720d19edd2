'use strict'
// Outgoing flow control and persistence against mosquitto's default configuration: what MQTT.js
// loses (research: a mixed burst of 1,000 QoS 1 and 1,000 QoS 2 lost 980 QoS 1 messages while
// every callback reported success), mqtt-native must deliver.

const test = require('node:test')
const assert = require('node:assert/strict')
const { once } = require('node:events')
const mqtt = require('..')
const { startMosquitto, requireBinary } = require('./helpers/mosquitto')

function waitFor (predicate, ms, what) {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    const timer = setInterval(() => {
      if (predicate()) {
        clearInterval(timer)
        resolve()
      } else if (Date.now() - started > ms) {
        clearInterval(timer)
        reject(new Error(`timed out waiting for ${what}`))
      }
    }, 10)
  })
}

for (const protocolVersion of [4, 5]) {
  test(`a burst of 1,000 QoS 1 and 1,000 QoS 2 publishes loses nothing and every callback tells the truth (protocol ${protocolVersion})`, async (t) => {
    if (!requireBinary(t, 'mosquitto')) return
    const broker = await startMosquitto()
    t.after(() => broker.stop())
    const subscriber = mqtt.connect(broker.url, { protocolVersion, reconnectPeriod: 0 })
    t.after(() => subscriber.end(true))
    await once(subscriber, 'connect')
    await subscriber.subscribeAsync('burst/#', { qos: 2 })
    const received = new Set()
    subscriber.on('message', (topic, payload) => received.add(payload.toString()))

    const publisher = mqtt.connect(broker.url, { protocolVersion, reconnectPeriod: 0 })
    t.after(() => publisher.end(true))
    await once(publisher, 'connect')
    const results = []
    const callbacks = []
    for (let i = 0; i < 2000; i++) {
      const qos = i % 2 === 0 ? 1 : 2
      callbacks.push(new Promise((resolve) => publisher.publish(`burst/${qos}`, String(i), { qos }, (err) => {
        results.push(err ? `${i} ${err.message}` : null)
        resolve()
      })))
    }
    await Promise.all(callbacks)
    assert.deepEqual(results.filter((r) => r !== null), [], 'every callback reported success')
    await waitFor(() => received.size === 2000, 20000, `2,000 messages (got ${received.size})`)
    assert.equal(received.size, 2000)
  })
}

test('a persistent session survives a broker restart with no QoS 1 or 2 message lost by the client', async (t) => {
  if (!requireBinary(t, 'mosquitto')) return
  const broker = await startMosquitto({ persistence: true })
  t.after(() => broker.stop())
  const subscriber = mqtt.connect(broker.url, { clientId: 'persistent-sub', clean: false, reconnectPeriod: 100 })
  t.after(() => subscriber.end(true))
  await once(subscriber, 'connect')
  await subscriber.subscribeAsync('persist/#', { qos: 1 })
  const received = new Set()
  subscriber.on('message', (topic, payload) => received.add(payload.toString()))

  const publisher = mqtt.connect(broker.url, { clientId: 'persistent-pub', clean: false, reconnectPeriod: 100 })
  t.after(() => publisher.end(true))
  await once(publisher, 'connect')
  let acked = 0
  const errors = []
  const all = []
  for (let i = 0; i < 300; i++) {
    const qos = i % 2 === 0 ? 1 : 2
    all.push(new Promise((resolve) => publisher.publish('persist/t', String(i), { qos }, (err) => {
      if (err) errors.push(err.message)
      else acked++
      resolve()
    })))
    if (i === 150) {
      // Restart the broker in the middle of the stream; the client keeps publishing while
      // offline and resends what was in flight when it comes back.
      await broker.restart()
    }
  }
  await Promise.all(all)
  assert.deepEqual(errors, [])
  assert.equal(acked, 300)
  await waitFor(() => received.size === 300, 20000, `300 messages (got ${received.size})`)
})
