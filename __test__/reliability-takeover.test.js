'use strict'
// Session takeover: two clients with the same clientId knock each other off the broker. MQTT.js
// reconnects silently forever; we report each occurrence with ERR_MQTT_SESSION_TAKEN_OVER.

const test = require('node:test')
const assert = require('node:assert/strict')
const mqtt = require('..')
const { normalize } = require('../lib/client')
const { startScriptedBroker } = require('./helpers/scripted-broker')
const { startMosquitto, requireBinary } = require('./helpers/mosquitto')

function next (emitter, event) {
  return new Promise((resolve) => emitter.once(event, (...args) => resolve(args)))
}

/** Resolves with the first `count` errors whose code is ERR_MQTT_SESSION_TAKEN_OVER. */
function takeovers (client, count) {
  const found = []
  return new Promise((resolve) => {
    client.on('error', (err) => {
      if (err.code !== 'ERR_MQTT_SESSION_TAKEN_OVER') return
      found.push(err)
      if (found.length === count) resolve(found)
    })
  })
}

test('an MQTT 3.1.1 broker that closes every connection right after CONNACK gives one takeover error per close from the second on, and reconnecting goes on', async (t) => {
  const broker = await startScriptedBroker({ protocolVersion: 4, autoConnack: true })
  t.after(() => broker.close())
  const c = mqtt.connect(broker.url, { clientId: 'twin-1', reconnectPeriod: 20 })
  t.after(() => c.end(true))
  let connects = 0
  let closes = 0
  c.on('connect', () => connects++)
  c.on('close', () => closes++)
  const closesAtError = []
  c.on('error', () => closesAtError.push(closes))
  const errors = takeovers(c, 3)
  const others = []
  c.on('error', (err) => { if (err.code !== 'ERR_MQTT_SESSION_TAKEN_OVER') others.push(err) })
  // Close each connection as soon as CONNACK is out.
  ;(async () => {
    for (;;) {
      let conn
      try { conn = await broker.nextConnection(30000) } catch { return }
      try { await conn.nextPacket('connect') } catch { continue }
      setImmediate(() => conn.destroy())
    }
  })()
  const found = await errors
  // The first quick close is not enough to say; the second and every one after it are reported.
  // Each error comes with its close, before the 'close' event: closes 2, 3 and 4.
  assert.deepEqual(closesAtError, [1, 2, 3])
  assert.ok(connects >= 4, `connects: ${connects}`)
  for (const err of found) {
    assert.match(err.message, /same clientId "twin-1"/)
    assert.equal(err.clientId, 'twin-1')
  }
  assert.deepEqual(others, [])
})

test('an MQTT 3.1.1 broker that closes once right after CONNACK and then keeps the connection gives no takeover error', async (t) => {
  const broker = await startScriptedBroker({ protocolVersion: 4, autoConnack: true })
  t.after(() => broker.close())
  const c = mqtt.connect(broker.url, { clientId: 'once', reconnectPeriod: 20 })
  t.after(() => c.end(true))
  const errors = []
  c.on('error', (err) => errors.push(err))
  const first = await broker.nextConnection()
  await next(c, 'connect')
  first.destroy()
  await next(c, 'close')
  await broker.nextConnection()
  await next(c, 'connect')
  assert.deepEqual(errors, [])
})

test('an MQTT 5 DISCONNECT with reason 0x8E gives one takeover error after the disconnect event, and reconnecting goes on', async (t) => {
  const broker = await startScriptedBroker({ protocolVersion: 5, autoConnack: true })
  t.after(() => broker.close())
  const c = mqtt.connect(broker.url, { protocolVersion: 5, clientId: 'twin-5', reconnectPeriod: 20 })
  t.after(() => c.end(true))
  const events = []
  c.on('disconnect', (packet) => events.push(`disconnect ${packet.reasonCode}`))
  c.on('error', (err) => events.push(`error ${err.code}`))
  c.on('reconnect', () => events.push('reconnect'))
  const conn = await broker.nextConnection()
  await next(c, 'connect')
  conn.send({ cmd: 'disconnect', reasonCode: 0x8e })
  conn.end()
  await broker.nextConnection()
  await next(c, 'connect')
  assert.deepEqual(events, ['disconnect 142', 'error ERR_MQTT_SESSION_TAKEN_OVER', 'reconnect'])
})

test('without an error listener a takeover is a process warning, not a crash', async (t) => {
  const broker = await startScriptedBroker({ protocolVersion: 5, autoConnack: true })
  t.after(() => broker.close())
  const warnings = []
  const onWarning = (w) => warnings.push(w)
  process.on('warning', onWarning)
  t.after(() => process.off('warning', onWarning))
  // mqtt.connect() adds a no-op 'error' listener, as MQTT.js does; a client made with
  // new MqttClient() has none, and an 'error' would throw.
  const c = new mqtt.MqttClient(normalize(broker.url, { protocolVersion: 5, clientId: 'quiet', reconnectPeriod: 20 }))
  t.after(() => c.end(true))
  const conn = await broker.nextConnection()
  await next(c, 'connect')
  conn.send({ cmd: 'disconnect', reasonCode: 0x8e })
  conn.end()
  await broker.nextConnection()
  await next(c, 'connect')
  await new Promise((resolve) => setImmediate(resolve))
  const ours = warnings.filter((w) => w.code === 'ERR_MQTT_SESSION_TAKEN_OVER')
  assert.equal(ours.length, 1)
  assert.match(ours[0].message, /same clientId "quiet"/)
})

for (const protocolVersion of [4, 5]) {
  test(`two clients with the same clientId on mosquitto both hear about the takeover (protocol ${protocolVersion})`, async (t) => {
    if (!requireBinary(t, 'mosquitto')) return
    const broker = await startMosquitto()
    t.after(() => broker.stop())
    const opts = { protocolVersion, clientId: `same-${protocolVersion}`, reconnectPeriod: 50 }
    const a = mqtt.connect(broker.url, opts)
    t.after(() => a.end(true))
    const aTakeover = takeovers(a, 1)
    await next(a, 'connect')
    const b = mqtt.connect(broker.url, opts)
    t.after(() => b.end(true))
    const bTakeover = takeovers(b, 1)
    const [[errA], [errB]] = await Promise.all([aTakeover, bTakeover])
    for (const err of [errA, errB]) assert.match(err.message, new RegExp(`same clientId "same-${protocolVersion}"`))
  })
}
