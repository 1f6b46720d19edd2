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

test('QoS 1 publishes right behind 20 open QoS 2 exchanges reach the subscriber (mosquitto drops what exceeds its quota, MQTT 3.1.1)', async (t) => {
  if (!requireBinary(t, 'mosquitto')) return
  const broker = await startMosquitto()
  t.after(() => broker.stop())
  const subscriber = mqtt.connect(broker.url, { protocolVersion: 4, reconnectPeriod: 0 })
  t.after(() => subscriber.end(true))
  await once(subscriber, 'connect')
  await subscriber.subscribeAsync('quota/#', { qos: 2 })
  const received = new Set()
  subscriber.on('message', (topic, payload) => received.add(payload.toString()))
  const publisher = mqtt.connect(broker.url, { protocolVersion: 4, reconnectPeriod: 0 })
  t.after(() => publisher.end(true))
  await once(publisher, 'connect')
  // mosquitto 2.0 counts open QoS 2 exchanges against a receive quota of 20 and acknowledges,
  // then drops, a publish that finds it used up: with 20 QoS 2 in flight the next QoS 1 was lost.
  const all = []
  let n = 0
  for (let round = 0; round < 10; round++) {
    for (let i = 0; i < 20; i++) all.push(publisher.publishAsync('quota/2', String(n++), { qos: 2 }))
    for (let i = 0; i < 100; i++) all.push(publisher.publishAsync('quota/1', String(n++), { qos: 1 }))
  }
  await Promise.all(all)
  await waitFor(() => received.size === n, 20000, `${n} messages (got ${received.size})`)
})

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
