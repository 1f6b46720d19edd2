'use strict'
// Built-in persistence (`persistence: { dir }`) in one process: what a run leaves in the log is
// taken back by the next client with the same clientId and directory; damaged logs are read
// record by record with one warning; mistakes in the options throw at once.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { once } = require('node:events')
const mqtt = require('..')
const { startScriptedBroker } = require('./helpers/scripted-broker')
const { freePort } = require('./helpers/ports')

function tempDir (t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-native-persist-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

function next (emitter, event) {
  return new Promise((resolve) => emitter.once(event, (...args) => resolve(args)))
}

/** Publishes `count` QoS 1 messages with nothing listening, waits until each is durable, ends. */
async function leaveInFlight (dir, clientId, count) {
  const port = await freePort()
  const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId, clean: false, reconnectPeriod: 0, persistence: { dir } })
  c.on('error', () => {})
  const durable = []
  for (let i = 0; i < count; i++) {
    await new Promise((resolve) => c.publish('p/t', `m${i}`, { qos: 1, cbStorePut: resolve }))
    durable.push(i)
  }
  await new Promise((resolve) => c.end(true, resolve))
  return durable
}

/** Captures process warnings while `fn` runs. */
async function warningsDuring (fn) {
  const warnings = []
  const listener = (w) => warnings.push(w)
  process.on('warning', listener)
  try {
    const result = await fn()
    await new Promise((resolve) => setImmediate(resolve))
    return { result, warnings }
  } finally {
    process.off('warning', listener)
  }
}

test('publishes never sent are sent by the next client with the same clientId and directory, in order, numbered then, without DUP', async (t) => {
  const dir = tempDir(t)
  await leaveInFlight(dir, 'resend-1', 5)
  const broker = await startScriptedBroker({ protocolVersion: 4, autoConnack: true, autoPuback: true })
  t.after(() => broker.close())
  const c = mqtt.connect(broker.url, { clientId: 'resend-1', clean: false, reconnectPeriod: 0, persistence: { dir } })
  t.after(() => c.end(true))
  assert.deepEqual(c._persist.restored, { outgoing: 5, incoming: 0 })
  const conn = await broker.nextConnection()
  const sent = []
  for (let i = 0; i < 5; i++) sent.push(await conn.nextPacket('publish'))
  assert.deepEqual(sent.map((p) => p.payload.toString()), ['m0', 'm1', 'm2', 'm3', 'm4'])
  // They never went out before, so this is their first delivery (MQTT 5 §3.3.1.1), and their
  // packet identifiers are taken now (MQTT 5 §2.2.1).
  assert.ok(sent.every((p) => !p.dup && p.qos === 1))
  const ids = sent.map((p) => p.messageId)
  assert.equal(new Set(ids).size, 5)
  // Acknowledged now: 'connect' follows, and the log is empty for the next run.
  await next(c, 'connect')
  await new Promise((resolve) => c.end(resolve))
  const again = mqtt.connect(broker.url, { clientId: 'resend-1', clean: false, reconnectPeriod: 0, persistence: { dir }, manualConnect: true })
  assert.deepEqual(again._persist.restored, { outgoing: 0, incoming: 0 })
  again.end(true)
})

test('publishes sent and left unacknowledged are resent by the next client in order with their packet identifiers and DUP set', async (t) => {
  const dir = tempDir(t)
  const silent = await startScriptedBroker({ protocolVersion: 4, autoConnack: true })
  t.after(() => silent.close())
  const first = mqtt.connect(silent.url, { clientId: 'resend-2', clean: false, reconnectPeriod: 0, persistence: { dir } })
  first.on('error', () => {})
  const conn1 = await silent.nextConnection()
  await next(first, 'connect')
  for (let i = 0; i < 4; i++) first.publish('p/t', `s${i}`, { qos: i % 2 ? 2 : 1 })
  const firstSent = []
  for (let i = 0; i < 4; i++) firstSent.push(await conn1.nextPacket('publish'))
  await new Promise((resolve) => first.end(true, resolve)) // as a crash would: nothing acknowledged
  const broker = await startScriptedBroker({ protocolVersion: 4, autoConnack: true, autoPuback: true })
  t.after(() => broker.close())
  const c = mqtt.connect(broker.url, { clientId: 'resend-2', clean: false, reconnectPeriod: 0, persistence: { dir } })
  t.after(() => c.end(true))
  assert.deepEqual(c._persist.restored, { outgoing: 4, incoming: 0 })
  const conn = await broker.nextConnection()
  const resent = []
  for (let i = 0; i < 4; i++) resent.push(await conn.nextPacket('publish'))
  assert.deepEqual(resent.map((p) => [p.payload.toString(), p.messageId, p.qos, p.dup]),
    firstSent.map((p) => [p.payload.toString(), p.messageId, p.qos, true]))
  await next(c, 'connect')
})

test('a truncated log gives one warning, and every whole record before the damage is resent', async (t) => {
  const dir = tempDir(t)
  await leaveInFlight(dir, 'trunc-1', 4)
  const [file] = fs.readdirSync(dir).filter((f) => f.endsWith('.mqttlog'))
  const full = fs.readFileSync(path.join(dir, file))
  // A crash in the middle of writing the last record.
  fs.writeFileSync(path.join(dir, file), full.subarray(0, full.length - 3))
  const { result: c, warnings } = await warningsDuring(() => mqtt.connect('mqtt://127.0.0.1:1', { clientId: 'trunc-1', clean: false, reconnectPeriod: 0, persistence: { dir }, manualConnect: true }))
  t.after(() => c.end(true))
  const ours = warnings.filter((w) => w.code === 'MQTT_NATIVE_PERSISTENCE_DAMAGED')
  assert.equal(ours.length, 1)
  assert.match(ours[0].message, /1 damaged or truncated stretch/)
  assert.deepEqual(c._persist.restored, { outgoing: 3, incoming: 0 })
})

test('a log full of garbage gives one warning and an empty session, never a crash', async (t) => {
  const dir = tempDir(t)
  const bytes = Buffer.alloc(5000)
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919 + 13) & 0xff
  fs.writeFileSync(path.join(dir, 'junk-1.mqttlog'), bytes)
  const { result: c, warnings } = await warningsDuring(() => mqtt.connect('mqtt://127.0.0.1:1', { clientId: 'junk-1', clean: false, reconnectPeriod: 0, persistence: { dir }, manualConnect: true }))
  t.after(() => c.end(true))
  assert.equal(warnings.filter((w) => w.code === 'MQTT_NATIVE_PERSISTENCE_DAMAGED').length, 1)
  assert.deepEqual(c._persist.restored, { outgoing: 0, incoming: 0 })
})

test('an inbound QoS 2 message answered with PUBREC is delivered by the next client when the broker sends PUBREL', async (t) => {
  const dir = tempDir(t)
  // The broker keeps the session (CONNACK session present), so it sends PUBREL after a reconnect.
  const broker = await startScriptedBroker({ protocolVersion: 4, autoConnack: { sessionPresent: true } })
  t.after(() => broker.close())
  const opts = { clientId: 'in-qos2', clean: false, reconnectPeriod: 0, persistence: { dir } }
  const first = mqtt.connect(broker.url, opts)
  const conn1 = await broker.nextConnection()
  await next(first, 'connect')
  const delivered = []
  first.on('message', (topic, payload) => delivered.push(payload.toString()))
  conn1.send({ cmd: 'publish', topic: 'in/t', payload: 'exactly once', qos: 2, messageId: 77 })
  const pubrec = await conn1.nextPacket('pubrec')
  assert.equal(pubrec.messageId, 77)
  // The first client goes away before PUBREL (as if it had crashed).
  await new Promise((resolve) => first.end(true, resolve))
  assert.deepEqual(delivered, [])

  const second = mqtt.connect(broker.url, opts)
  t.after(() => second.end(true))
  assert.deepEqual(second._persist.restored, { outgoing: 0, incoming: 1 })
  const conn2 = await broker.nextConnection()
  await conn2.nextPacket('connect')
  const message = next(second, 'message')
  conn2.send({ cmd: 'pubrel', messageId: 77 })
  const [topic, payload] = await message
  assert.equal(topic, 'in/t')
  assert.equal(payload.toString(), 'exactly once')
  const pubcomp = await conn2.nextPacket('pubcomp')
  assert.equal(pubcomp.messageId, 77)
})

test('a second client on the same clientId and directory is refused while the first is open, and accepted after its end()', async (t) => {
  const dir = tempDir(t)
  const opts = { clientId: 'lock-1', clean: false, reconnectPeriod: 0, persistence: { dir }, manualConnect: true }
  const first = mqtt.connect('mqtt://127.0.0.1:1', opts)
  assert.throws(() => mqtt.connect('mqtt://127.0.0.1:1', opts), (err) => err.code === 'ERR_MQTT_PERSISTENCE' && /in use/.test(err.message))
  await new Promise((resolve) => first.end(true, resolve))
  const second = mqtt.connect('mqtt://127.0.0.1:1', opts)
  second.end(true)
})

test('persistence options that cannot work throw ERR_MQTT_PERSISTENCE naming the fix', (t) => {
  const dir = tempDir(t)
  const base = { clientId: 'opts', clean: false, manualConnect: true }
  const cases = [
    [{ ...base, persistence: 'dir' }, /object such as \{ dir/],
    [{ ...base, persistence: {} }, /object such as \{ dir/],
    [{ ...base, clean: true, persistence: { dir } }, /needs clean: false/],
    [{ ...base, protocolVersion: 5, persistence: { dir } }, /sessionExpiryInterval/],
    [{ ...base, persistence: { dir }, outgoingStore: new mqtt.Store() }, /replaces outgoingStore/]
  ]
  // MQTT.js's own check comes first here: a clean: false client needs a clientId anyway.
  assert.throws(() => mqtt.connect('mqtt://127.0.0.1:1', { clean: false, manualConnect: true, persistence: { dir } }), /clientId/)
  for (const [opts, message] of cases) {
    assert.throws(() => mqtt.connect('mqtt://127.0.0.1:1', opts), (err) => err.code === 'ERR_MQTT_PERSISTENCE' && message.test(err.message))
  }
})

test('without persistence, cbStorePut still fires before the publish is sent, as in MQTT.js', async (t) => {
  const broker = await startScriptedBroker({ protocolVersion: 4, autoConnack: true, autoPuback: true })
  t.after(() => broker.close())
  const c = mqtt.connect(broker.url, { reconnectPeriod: 0 })
  t.after(() => c.end(true))
  await once(c, 'connect')
  const order = []
  await new Promise((resolve) => c.publish('t', 'x', { qos: 1, cbStorePut: () => order.push('stored') }, () => { order.push('acked'); resolve() }))
  assert.deepEqual(order, ['stored', 'acked'])
})
