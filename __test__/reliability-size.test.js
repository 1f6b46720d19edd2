'use strict'
// The incoming packet size bound: refused from the fixed header, before the body is buffered,
// with one error that names the size, the limit and the option.

const test = require('node:test')
const assert = require('node:assert/strict')
const { once } = require('node:events')
const mqtt = require('..')
const { startScriptedBroker } = require('./helpers/scripted-broker')

async function scripted (t, options) {
  const broker = await startScriptedBroker({ autoConnack: true, autoPingresp: true, autoPuback: true, ...options })
  t.after(() => broker.close())
  return broker
}

function next (emitter, event) {
  return new Promise((resolve) => emitter.once(event, (...args) => resolve(args)))
}

function client (t, url, opts) {
  const c = mqtt.connect(url, { reconnectPeriod: 0, ...opts })
  t.after(() => c.end(true))
  return c
}

/** The fixed header of a QoS 0 PUBLISH whose remaining length is `remaining`. */
function publishHeader (remaining) {
  const bytes = [0x30]
  let n = remaining
  do {
    let b = n % 128
    n = Math.floor(n / 128)
    if (n > 0) b |= 0x80
    bytes.push(b)
  } while (n > 0)
  return Buffer.from(bytes)
}

for (const protocolVersion of [4, 5]) {
  test(`a broker that declares a 256 MB PUBLISH and sends part of it gets one error and a closed connection by default (protocol ${protocolVersion})`, async (t) => {
    const broker = await scripted(t, { protocolVersion })
    const c = client(t, broker.url, { protocolVersion })
    const conn = await broker.nextConnection()
    await once(c, 'connect')
    const errors = []
    c.on('error', (err) => errors.push(err))
    const closed = next(c, 'close')
    // 268,435,455 bytes of body: the largest the protocol allows. Send 1 MiB of it.
    conn.sendRaw(publishHeader(268435455))
    conn.sendRaw(Buffer.alloc(1024 * 1024, 0x41))
    await closed
    assert.equal(errors.length, 1)
    const [err] = errors
    assert.equal(err.code, 0x95)
    assert.match(err.message, /PUBLISH of 268435460 bytes/)
    assert.match(err.message, /16777216 bytes/)
    assert.match(err.message, /maxIncomingPacketSize/)
    if (protocolVersion === 5) assert.match(err.message, /maximumPacketSize/)
    assert.equal(c.connected, false)
  })
}

test('maxIncomingPacketSize bounds incoming packets on MQTT 3.1.1: one under the limit arrives, one over it closes the connection', async (t) => {
  const broker = await scripted(t, { protocolVersion: 4 })
  const c = client(t, broker.url, { maxIncomingPacketSize: 1000 })
  const conn = await broker.nextConnection()
  const connect = await conn.nextPacket('connect')
  assert.equal(connect.properties, undefined)
  await once(c, 'connect')
  const messages = []
  c.on('message', (topic, payload) => messages.push(payload.length))
  const errors = []
  c.on('error', (err) => errors.push(err))
  // topic "t": 2 + 1 bytes of topic, so 900 bytes of payload make a 905-byte packet.
  conn.send({ cmd: 'publish', topic: 't', payload: Buffer.alloc(900), qos: 0 })
  await next(c, 'message')
  const closed = next(c, 'close')
  conn.send({ cmd: 'publish', topic: 't', payload: Buffer.alloc(1000), qos: 0 })
  await closed
  assert.deepEqual(messages, [900])
  assert.equal(errors.length, 1)
  assert.match(errors[0].message, /PUBLISH of 1006 bytes exceeds the maximum packet size of 1000 bytes/)
  assert.match(errors[0].message, /maxIncomingPacketSize/)
})

test('MQTT 5 properties.maximumPacketSize is announced in CONNECT and enforced', async (t) => {
  const broker = await scripted(t, { protocolVersion: 5 })
  const c = client(t, broker.url, { protocolVersion: 5, properties: { maximumPacketSize: 500 }, maxIncomingPacketSize: 100000 })
  const conn = await broker.nextConnection()
  const connect = await conn.nextPacket('connect')
  assert.equal(connect.properties.maximumPacketSize, 500)
  await once(c, 'connect')
  const errors = []
  c.on('error', (err) => errors.push(err))
  const closed = next(c, 'close')
  conn.send({ cmd: 'publish', topic: 't', payload: Buffer.alloc(600), qos: 0 })
  await closed
  assert.equal(errors.length, 1)
  assert.match(errors[0].message, /maximum packet size of 500 bytes/)
})

test('a maxIncomingPacketSize that is not a whole number of bytes from 1 to 268435460 throws at once', () => {
  for (const bad of [0, -1, 1.5, '1000', 268435461]) {
    assert.throws(() => mqtt.connect('mqtt://127.0.0.1:1', { maxIncomingPacketSize: bad, manualConnect: true }), /maxIncomingPacketSize/)
  }
})
