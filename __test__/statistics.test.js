'use strict'
// client.getStatistics() against what a scripted broker did: messages and bytes by QoS, in flight
// against the broker's Receive Maximum, the window and the offline queue, inbound QoS 2 awaiting
// PUBREL, reconnects after a broker restart, takeovers, and the cost (one N-API call).

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { once } = require('node:events')
const mqtt = require('..')
const native = require('../lib/native')
const { startScriptedBroker } = require('./helpers/scripted-broker')

const STATE_NAMES = ['connecting', 'connected', 'reconnecting', 'disconnecting', 'closed']

/** Resolves once `predicate()` holds, checked after each of `client`'s events named in `events`. */
function until (emitter, events, predicate, what, ms = 5000) {
  if (predicate()) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!predicate()) return
      done()
      resolve()
    }
    const timer = setTimeout(() => {
      done()
      reject(new Error(`timed out waiting for ${what}`))
    }, ms)
    const done = () => {
      clearTimeout(timer)
      for (const e of events) emitter.removeListener(e, check)
    }
    for (const e of events) emitter.on(e, check)
  })
}

test('getStatistics counts messages and bytes by QoS and shows in flight against a Receive Maximum of 3, the window and inbound QoS 2', async (t) => {
  const broker = await startScriptedBroker({ protocolVersion: 5, autoConnack: { properties: { receiveMaximum: 3 } } })
  t.after(() => broker.close())
  const client = mqtt.connect(broker.url, { protocolVersion: 5, reconnectPeriod: 0 })
  t.after(() => client.end(true))
  const fresh = client.getStatistics()
  assert.equal(fresh.state, 'connecting')
  assert.equal(fresh.attempts, 1)
  const conn = await broker.nextConnection()
  await once(client, 'connect')

  const acked = []
  for (let i = 1; i <= 5; i++) acked.push(new Promise((resolve) => client.publish('stats/q1', 'ten bytes' + i, { qos: 1 }, (err) => resolve(err || i))))
  client.publish('stats/q0', 'four', { qos: 0 })
  client.publish('stats/q0', 'four', { qos: 0 })
  const first = []
  for (let i = 0; i < 5; i++) first.push(await conn.nextPacket('publish'))
  assert.deepEqual(first.map((p) => p.qos).sort(), [0, 0, 1, 1, 1])

  let s = client.getStatistics()
  assert.equal(s.state, 'connected')
  assert.equal(s.connects, 1)
  assert.deepEqual(s.messagesSent, [2, 3, 0])
  assert.deepEqual(s.bytesSent, [8, 30, 0])
  assert.deepEqual(s.inflight, { count: 3, bytes: 30, max: 3 }, 'three in flight, as the broker allows')
  assert.deepEqual(s.waiting, { count: 2, bytes: 20 }, 'two behind the window')
  assert.deepEqual(s.offline, { count: 0, bytes: 0 })

  for (const p of first.filter((p) => p.qos === 1)) conn.send({ cmd: 'puback', messageId: p.messageId, reasonCode: 0 })
  const rest = [await conn.nextPacket('publish'), await conn.nextPacket('publish')]
  for (const p of rest) conn.send({ cmd: 'puback', messageId: p.messageId, reasonCode: 0 })
  assert.deepEqual(await Promise.all(acked), [1, 2, 3, 4, 5])
  s = client.getStatistics()
  assert.deepEqual(s.messagesSent, [2, 5, 0])
  assert.deepEqual(s.bytesSent, [8, 50, 0])
  assert.deepEqual(s.inflight, { count: 0, bytes: 0, max: 3 })
  assert.deepEqual(s.waiting, { count: 0, bytes: 0 })
  assert.equal(s.resent, 0)
  assert.ok(s.rtt.samples >= 1, 'at least one acknowledged publish was timed')
  assert.equal(typeof s.rtt.lastMs, 'number')
  assert.ok(s.rtt.lastMs >= 0 && s.rtt.meanMs >= 0)

  // Inbound: QoS 0, QoS 1, and a QoS 2 that waits for PUBREL.
  const messages = []
  client.on('message', (topic, payload) => messages.push(payload.toString()))
  conn.send({ cmd: 'publish', topic: 'in/0', payload: 'a', qos: 0 })
  conn.send({ cmd: 'publish', topic: 'in/1', payload: 'bb', qos: 1, messageId: 7 })
  conn.send({ cmd: 'publish', topic: 'in/2', payload: 'ccc', qos: 2, messageId: 8 })
  await conn.nextPacket('puback')
  await conn.nextPacket('pubrec')
  s = client.getStatistics()
  assert.deepEqual(s.messagesReceived, [1, 1, 1])
  assert.deepEqual(s.bytesReceived, [1, 2, 3])
  assert.equal(s.incomingQos2, 1, 'the QoS 2 message awaits PUBREL')
  conn.send({ cmd: 'pubrel', messageId: 8, reasonCode: 0 })
  await conn.nextPacket('pubcomp')
  assert.equal(client.getStatistics().incomingQos2, 0)
  assert.deepEqual(messages, ['a', 'bb', 'ccc'])
  assert.equal(client.getStatistics().persistence, null, 'no persistence, no backlog figure')
})

test('getStatistics shows the offline queue while the broker is down, and the reconnects and errors until it is back', async (t) => {
  let broker = await startScriptedBroker({ autoConnack: true, autoPuback: true })
  const port = broker.port
  t.after(() => broker.close())
  const client = mqtt.connect(broker.url, { reconnectPeriod: 50 })
  t.after(() => client.end(true))
  const errors = []
  client.on('error', (err) => errors.push(err.code))
  await once(client, 'connect')
  assert.equal(client.getStatistics().connects, 1)

  await broker.close()
  await once(client, 'close')
  // The restarted broker is not there yet: attempts fail with ECONNREFUSED.
  await until(client, ['error', 'close'], () => errors.includes('ECONNREFUSED') && client.getStatistics().reconnects >= 1, 'a refused reconnect')
  client.publish('off/0', 'abc', { qos: 0 })
  client.publish('off/0', 'abc', { qos: 0 })
  const acked = new Promise((resolve) => client.publish('off/1', 'four', { qos: 1 }, resolve))
  let s = client.getStatistics()
  assert.ok(['reconnecting', 'connecting'].includes(s.state), s.state)
  assert.deepEqual(s.offline, { count: 3, bytes: 10 }, 'two QoS 0 and one QoS 1 publish wait for the connection')
  assert.deepEqual(s.waiting, { count: 0, bytes: 0 })
  assert.equal(s.lastErrorCode, 'ECONNREFUSED')
  assert.equal(s.connects, 1)

  broker = await startScriptedBroker({ port, autoConnack: true, autoPuback: true })
  await once(client, 'connect')
  assert.equal(await acked, null, 'the QoS 1 publish made offline was acknowledged')
  s = client.getStatistics()
  assert.equal(s.state, 'connected')
  assert.equal(s.connects, 2)
  assert.ok(s.reconnects >= 1 && s.attempts === s.reconnects + 1, `attempts ${s.attempts}, reconnects ${s.reconnects}`)
  assert.deepEqual(s.offline, { count: 0, bytes: 0 })
  assert.deepEqual(s.messagesSent, [2, 1, 0])
  assert.deepEqual(s.bytesSent, [6, 4, 0])
  assert.ok(STATE_NAMES.includes(s.state))
})

test('a QoS 1 publish in flight when the connection drops is resent and counted once as sent and once as resent', async (t) => {
  const broker = await startScriptedBroker({ autoConnack: true })
  t.after(() => broker.close())
  const client = mqtt.connect(broker.url, { reconnectPeriod: 20, clean: false, clientId: 'stats-resend' })
  t.after(() => client.end(true))
  const first = await broker.nextConnection()
  await once(client, 'connect')
  const acked = new Promise((resolve) => client.publish('r', 'xy', { qos: 1 }, resolve))
  await first.nextPacket('publish')
  first.destroy()
  const second = await broker.nextConnection()
  const again = await second.nextPacket('publish')
  assert.equal(again.dup, true)
  second.send({ cmd: 'puback', messageId: again.messageId })
  assert.equal(await acked, null)
  const s = client.getStatistics()
  assert.deepEqual(s.messagesSent, [0, 1, 0])
  assert.equal(s.resent, 1)
  assert.equal(s.connects, 2)
})

test('a session takeover (MQTT 5 DISCONNECT 0x8E) is counted', async (t) => {
  const broker = await startScriptedBroker({ protocolVersion: 5, autoConnack: true })
  t.after(() => broker.close())
  const client = mqtt.connect(broker.url, { protocolVersion: 5, reconnectPeriod: 0 })
  t.after(() => client.end(true))
  const codes = []
  client.on('error', (err) => codes.push(err.code))
  const conn = await broker.nextConnection()
  await once(client, 'connect')
  // (events.once would reject on the 'error' that reports the takeover.)
  const closed = new Promise((resolve) => client.once('close', resolve))
  conn.send({ cmd: 'disconnect', reasonCode: 0x8e })
  conn.end()
  await closed
  const s = client.getStatistics()
  assert.equal(s.takeovers, 1)
  assert.deepEqual(codes, ['ERR_MQTT_SESSION_TAKEN_OVER'])
  assert.equal(s.state, 'closed')
})

test('getStatistics is one N-API call, plus one for the persistence backlog when persistence is on', async (t) => {
  const broker = await startScriptedBroker({ protocolVersion: 4, autoConnack: true, autoPuback: true })
  t.after(() => broker.close())
  const calls = { clientStatistics: 0, clientPersistBacklog: 0 }
  for (const name of Object.keys(calls)) {
    const original = native[name]
    native[name] = function (...args) {
      calls[name]++
      return original.apply(this, args)
    }
    t.after(() => { native[name] = original })
  }
  const plain = mqtt.connect(broker.url, { reconnectPeriod: 0 })
  t.after(() => plain.end(true))
  await broker.nextConnection()
  await once(plain, 'connect')
  plain.getStatistics()
  assert.deepEqual(calls, { clientStatistics: 1, clientPersistBacklog: 0 })

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-native-stats-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  broker.options.autoPuback = false
  const durable = mqtt.connect(broker.url, { reconnectPeriod: 0, clean: false, clientId: 'stats-persist', persistence: { dir } })
  t.after(() => durable.end(true))
  const conn = await broker.nextConnection()
  await once(durable, 'connect')
  // The publish's record is the only one; once cbStorePut says it is on disk, nothing is unsynced.
  const acked = new Promise((resolve) => {
    durable.publish('p', 'x', { qos: 1, cbStorePut: () => resolve(durable.getStatistics()) }, () => {})
  })
  const s = await acked
  assert.deepEqual(calls, { clientStatistics: 2, clientPersistBacklog: 1 })
  assert.equal(s.persistence.backlog, 0)
  assert.deepEqual(s.messagesSent, [0, 1, 0])
  const pub = await conn.nextPacket('publish')
  conn.send({ cmd: 'puback', messageId: pub.messageId })
})
