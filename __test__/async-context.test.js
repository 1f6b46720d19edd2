'use strict'
// Events and callbacks run in the async context of the code that made the client, as MQTT.js's
// listeners run in the context of the socket its client made: an AsyncLocalStorage store (what
// OpenTelemetry and request-scoped loggers use) is visible in every one of them.

const test = require('node:test')
const assert = require('node:assert/strict')
const { AsyncLocalStorage } = require('node:async_hooks')
const mqttjs = require('mqtt')
const native = require('..')
const { startMosquitto, requireBinary } = require('./helpers/mosquitto')

/** What `als.getStore()` is in each event and callback of one exchange made inside `als.run`. */
function storesSeen (lib, url, topic) {
  const als = new AsyncLocalStorage()
  const seen = {}
  return new Promise((resolve, reject) => {
    als.run({ id: 42 }, () => {
      const client = lib.connect(url, { reconnectPeriod: 0 })
      client.on('error', reject)
      client.on('connect', () => {
        seen.connect = als.getStore()?.id
        client.subscribe(topic, { qos: 1 }, (err) => {
          if (err) return reject(err)
          seen.subscribe = als.getStore()?.id
          client.publish(topic, 'x', { qos: 1 }, () => { seen.publish = als.getStore()?.id })
        })
      })
      client.on('message', () => {
        seen.message = als.getStore()?.id
        client.end(() => {
          seen.end = als.getStore()?.id
          setImmediate(() => resolve(seen))
        })
      })
    })
  })
}

test('an AsyncLocalStorage store set around connect() is visible in connect, subscribe, publish, message and end, as with MQTT.js', async (t) => {
  if (!requireBinary(t, 'mosquitto')) return
  const broker = await startMosquitto()
  t.after(() => broker.stop())
  const expected = { connect: 42, subscribe: 42, publish: 42, message: 42, end: 42 }
  assert.deepEqual(await storesSeen(mqttjs, broker.url, `als/${process.pid}/a`), expected)
  assert.deepEqual(await storesSeen(native, broker.url, `als/${process.pid}/b`), expected)
})
