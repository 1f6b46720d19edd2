'use strict'
// The client against a scripted broker, for exact control of the packets and the timing, and
// against MQTT.js itself where a detail of its behaviour is the reference.

const test = require('node:test')
const assert = require('node:assert/strict')
const { once } = require('node:events')
const { spawn } = require('node:child_process')
const path = require('node:path')
const mqtt = require('..')
const mqttjs = require('mqtt')
const { startScriptedBroker } = require('./helpers/scripted-broker')
const { freePort } = require('./helpers/ports')

async function scripted (t, options) {
  const broker = await startScriptedBroker({ autoConnack: true, autoPingresp: true, autoPuback: true, ...options })
  t.after(() => broker.close())
  return broker
}

/** Resolves on the next `event`; unlike events.once, an 'error' meanwhile does not reject. */
function next (emitter, event) {
  return new Promise((resolve) => emitter.once(event, (...args) => resolve(args)))
}

function client (t, url, opts) {
  const c = mqtt.connect(url, { reconnectPeriod: 0, ...opts })
  t.after(() => c.end(true))
  return c
}

for (const protocolVersion of [4, 5]) {
  test(`the CONNECT carries clientId, clean, keepalive, credentials and will (protocol ${protocolVersion})`, async (t) => {
    const broker = await scripted(t, { protocolVersion })
    client(t, broker.url, {
      protocolVersion,
      clientId: 'cid-1',
      clean: false,
      keepalive: 33,
      username: 'user',
      password: Buffer.from('pw'),
      will: { topic: 'w/t', payload: 'bye', qos: 1, retain: true }
    })
    const conn = await broker.nextConnection()
    const connect = await conn.nextPacket('connect')
    assert.equal(connect.protocolVersion, protocolVersion)
    assert.equal(connect.clientId, 'cid-1')
    assert.equal(connect.clean, false)
    assert.equal(connect.keepalive, 33)
    assert.equal(connect.username, 'user')
    assert.deepEqual(connect.password, Buffer.from('pw'))
    assert.equal(connect.will.topic, 'w/t')
    assert.deepEqual(connect.will.payload, Buffer.from('bye'))
    assert.equal(connect.will.qos, 1)
    assert.equal(connect.will.retain, true)
  })

  test(`inbound QoS 1 is acknowledged and QoS 2 is delivered on PUBREL (protocol ${protocolVersion})`, async (t) => {
    const broker = await scripted(t, { protocolVersion })
    const c = client(t, broker.url, { protocolVersion })
    const conn = await broker.nextConnection()
    await once(c, 'connect')
    const order = []
    c.on('message', (topic, payload) => order.push(`message ${payload}`))
    conn.send({ cmd: 'publish', topic: 'in/1', payload: 'one', qos: 1, messageId: 41 })
    const puback = await conn.nextPacket('puback')
    assert.equal(puback.messageId, 41)
    conn.send({ cmd: 'publish', topic: 'in/2', payload: 'two', qos: 2, messageId: 42 })
    const pubrec = await conn.nextPacket('pubrec')
    assert.equal(pubrec.messageId, 42)
    assert.deepEqual(order, ['message one'])
    const delivered = next(c, 'message')
    conn.send({ cmd: 'pubrel', messageId: 42 })
    const pubcomp = await conn.nextPacket('pubcomp')
    assert.equal(pubcomp.messageId, 42)
    await delivered
    assert.deepEqual(order, ['message one', 'message two'])
  })
}

test('the message packet object has the keys and values MQTT.js gives it', async (t) => {
  const broker = await scripted(t, { protocolVersion: 4 })
  const ours = client(t, broker.url, {})
  const theirs = mqttjs.connect(broker.url, { reconnectPeriod: 0 })
  t.after(() => theirs.end(true))
  const conns = [await broker.nextConnection(), await broker.nextConnection()]
  await Promise.all([once(ours, 'connect'), once(theirs, 'connect')])
  const got = [once(ours, 'message'), once(theirs, 'message')]
  for (const conn of conns) conn.send({ cmd: 'publish', topic: 'shape/t', payload: 'abc', qos: 1, messageId: 7, retain: true })
  const [[oTopic, oPayload, oPacket], [tTopic, tPayload, tPacket]] = await Promise.all(got)
  assert.equal(oTopic, tTopic)
  assert.deepEqual(oPayload, tPayload)
  assert.deepEqual(Object.keys(oPacket), Object.keys(tPacket))
  assert.deepEqual({ ...oPacket }, { ...tPacket })
})

test('keepalive sends PINGREQ after the interval when nothing is acknowledged', async (t) => {
  const broker = await scripted(t, { protocolVersion: 4 })
  client(t, broker.url, { keepalive: 1 })
  const conn = await broker.nextConnection()
  await conn.nextPacket('connect')
  const started = Date.now()
  await conn.nextPacket('pingreq', 3000)
  const elapsed = Date.now() - started
  assert.ok(elapsed >= 800, `PINGREQ came after ${elapsed} ms`)
})

test('a broker that stops answering PINGREQ gives offline, then Keepalive timeout, then close', async (t) => {
  const broker = await scripted(t, { protocolVersion: 4, autoPingresp: false })
  const c = client(t, broker.url, { keepalive: 1, reconnectPeriod: 10000 })
  const events = []
  c.on('offline', () => events.push('offline'))
  c.on('error', (err) => events.push(`error ${err.message}`))
  const closed = next(c, 'close').then(() => events.push('close'))
  await once(c, 'connect')
  await closed
  assert.deepEqual(events, ['offline', 'error Keepalive timeout', 'close'])
})

test('malformed bytes from the broker give one error and close the connection', async (t) => {
  const broker = await scripted(t, { protocolVersion: 4 })
  const c = client(t, broker.url, {})
  const conn = await broker.nextConnection()
  await once(c, 'connect')
  const errors = []
  c.on('error', (err) => errors.push(err))
  const closed = next(c, 'close')
  // A PUBREL must have flags 0010 (MQTT 3.1.1 §3.6.1); this one has 0000.
  conn.sendRaw(Buffer.from([0x60, 0x02, 0x00, 0x01]))
  await closed
  assert.equal(errors.length, 1)
  assert.match(errors[0].message, /PUBREL/)
  assert.equal(errors[0].code, 0x81)
  assert.equal(c.connected, false)
})

test('a refused TCP connection gives an ECONNREFUSED error, then close', async (t) => {
  const port = await freePort()
  const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 })
  const events = []
  c.on('error', (err) => events.push(`error ${err.code}`))
  c.on('offline', () => events.push('offline'))
  await next(c, 'close')
  events.push('close')
  assert.deepEqual(events, ['error ECONNREFUSED', 'close'])
})

test('an unresolvable host name gives ENOTFOUND', async (t) => {
  const c = mqtt.connect('mqtt://no-such-host.invalid:1883', { reconnectPeriod: 0 })
  const closed = next(c, 'close')
  const [err] = await next(c, 'error')
  assert.equal(err.code, 'ENOTFOUND')
  await closed
})

test('connectAsync rejects with the transport error on a refused first attempt', async (t) => {
  const port = await freePort()
  await assert.rejects(mqtt.connectAsync(`mqtt://127.0.0.1:${port}`), { code: 'ECONNREFUSED' })
})

test('after a broker drop the client reconnects and resends an unacknowledged QoS 1 publish with the same id', async (t) => {
  const broker = await scripted(t, { protocolVersion: 4, autoPuback: false })
  const c = mqtt.connect(broker.url, { reconnectPeriod: 50 })
  t.after(() => c.end(true))
  const first = await broker.nextConnection()
  await once(c, 'connect')
  const done = new Promise((resolve, reject) => c.publish('r/t', 'x', { qos: 1 }, (err, packet) => (err ? reject(err) : resolve(packet))))
  const original = await first.nextPacket('publish')
  const events = []
  c.on('offline', () => events.push('offline'))
  c.on('close', () => events.push('close'))
  c.on('reconnect', () => events.push('reconnect'))
  first.destroy()
  const second = await broker.nextConnection()
  const resent = await second.nextPacket('publish')
  assert.equal(resent.messageId, original.messageId)
  assert.equal(resent.dup, true)
  second.send({ cmd: 'puback', messageId: resent.messageId })
  const packet = await done
  assert.equal(packet.messageId, original.messageId)
  assert.deepEqual(events.slice(0, 3), ['offline', 'close', 'reconnect'])
})

test('QoS 0 publishes made offline are queued and sent after connect, calling back then', async (t) => {
  const broker = await scripted(t, { protocolVersion: 4 })
  const c = mqtt.connect(broker.url, { reconnectPeriod: 0, manualConnect: true })
  t.after(() => c.end(true))
  let called = false
  c.publish('q/t', 'queued', () => { called = true })
  assert.equal(c.queue.length, 1)
  c.connect()
  const conn = await broker.nextConnection()
  const publish = await conn.nextPacket('publish')
  assert.equal(publish.payload.toString(), 'queued')
  assert.equal(called, true)
})

test('an invalid topic filter calls back with "Invalid topic" and sends nothing', async (t) => {
  const broker = await scripted(t, { protocolVersion: 4 })
  const c = client(t, broker.url, {})
  await once(c, 'connect')
  const err = await new Promise((resolve) => c.subscribe('a/#/b', (e) => resolve(e)))
  assert.equal(err.message, 'Invalid topic a/#/b')
})

test('a URL without a scheme throws at once and suggests mqtt:// and ws://', () => {
  assert.throws(() => mqtt.connect('localhost:1883'), (err) => err.code === 'ERR_MQTT_URL_NO_SCHEME' && /mqtt:\/\/localhost:1883/.test(err.message) && /ws:\/\//.test(err.message))
  assert.throws(() => mqtt.connect('localhost'), /Missing protocol/)
})

test('a transport that cannot exist in Node is refused with ERR_MQTT_UNSUPPORTED rather than ignored', () => {
  assert.throws(() => mqtt.connect({ servers: [{ host: '127.0.0.1', port: 1, protocol: 'alis' }], manualConnect: true }), { code: 'ERR_MQTT_UNSUPPORTED' })
  // forceNativeWebSocket concerns ws:// only (__test__/stream-path.test.js); MQTT.js ignores it on mqtt://.
  mqtt.connect('mqtt://127.0.0.1:1', { forceNativeWebSocket: true, manualConnect: true }).end(true)
})

test('the Node process exits by itself after end()', async (t) => {
  const broker = await scripted(t, { protocolVersion: 4 })
  const script = `
    const mqtt = require(${JSON.stringify(path.join(__dirname, '..'))})
    const c = mqtt.connect(${JSON.stringify(broker.url)})
    c.on('connect', () => c.publish('x', 'y', { qos: 1 }, () => c.end()))
  `
  const child = spawn(process.execPath, ['-e', script], { stdio: 'inherit' })
  const timer = setTimeout(() => child.kill('SIGKILL'), 10000)
  const [code, signal] = await once(child, 'exit')
  clearTimeout(timer)
  assert.equal(signal, null, 'the process had to be killed: something kept it alive after end()')
  assert.equal(code, 0)
})

test('a listener that throws does not stop the other events of the same batch', async (t) => {
  const broker = await scripted(t, { protocolVersion: 4 })
  // node:test fails any test during which an exception is uncaught, so the client runs in a
  // child process that records what it sees.
  const script = `
    const mqtt = require(${JSON.stringify(path.join(__dirname, '..'))})
    const uncaught = []
    const seen = []
    process.on('uncaughtException', (err) => uncaught.push(err.message))
    const c = mqtt.connect(${JSON.stringify(broker.url)}, { reconnectPeriod: 0 })
    c.on('message', (topic) => {
      seen.push(topic)
      if (topic === 'b/1') throw new Error('listener failure')
      if (topic === 'b/2') setImmediate(() => { console.log(JSON.stringify({ seen, uncaught })); c.end() })
    })
  `
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  const timer = setTimeout(() => child.kill('SIGKILL'), 10000)
  let out = ''
  child.stdout.on('data', (d) => { out += d })
  const conn = await broker.nextConnection()
  await conn.nextPacket('connect')
  // Three publishes in one write, so that they reach the client in one batch.
  conn.sendRaw(Buffer.concat(['b/0', 'b/1', 'b/2'].map((topic) => require('mqtt-packet').generate({ cmd: 'publish', topic, payload: 'x', qos: 0 }))))
  await once(child, 'exit')
  clearTimeout(timer)
  assert.deepEqual(JSON.parse(out), { seen: ['b/0', 'b/1', 'b/2'], uncaught: ['listener failure'] })
})

test('with every message id in flight, a publish waits for an id instead of failing', async (t) => {
  const broker = await scripted(t, { protocolVersion: 4, autoPuback: false })
  // A provider with two ids, in the shape of MQTT.js's UniqueMessageIdProvider.
  const used = new Set()
  const messageIdProvider = {
    allocate () {
      for (const id of [1, 2]) if (!used.has(id)) { used.add(id); return id }
      return null
    },
    getLastAllocated () { return null },
    register (id) { return true },
    deallocate (id) { used.delete(id) },
    clear () {}
  }
  const c = client(t, broker.url, { messageIdProvider })
  const conn = await broker.nextConnection()
  await once(c, 'connect')
  const done = []
  for (const text of ['a', 'b', 'c']) c.publish('ids', text, { qos: 1 }, (err) => done.push(err ? err.message : text))
  const first = await conn.nextPacket('publish')
  const second = await conn.nextPacket('publish')
  await assert.rejects(conn.nextPacket('publish', 200), /timed out/)
  conn.send({ cmd: 'puback', messageId: first.messageId })
  const third = await conn.nextPacket('publish')
  assert.equal(third.payload.toString(), 'c')
  assert.equal(third.messageId, first.messageId)
  conn.send({ cmd: 'puback', messageId: second.messageId })
  conn.send({ cmd: 'puback', messageId: third.messageId })
  await new Promise((resolve) => { const check = () => (done.length === 3 ? resolve() : setTimeout(check, 5)); check() })
  assert.deepEqual(done, ['a', 'b', 'c'])
})

test('end() while waiting for CONNACK closes the socket at once and emits end (MQTT.js keeps it open until connectTimeout)', async (t) => {
  const broker = await scripted(t, { protocolVersion: 4, autoConnack: false })
  const c = mqtt.connect(broker.url, { reconnectPeriod: 1000, connectTimeout: 30000 })
  const conn = await broker.nextConnection()
  await conn.nextPacket('connect')
  const events = []
  c.on('error', (err) => events.push(`error ${err.message}`))
  c.on('close', () => events.push('close'))
  const ended = new Promise((resolve) => c.end(() => { events.push('end callback'); resolve() }))
  await ended
  await conn.closed
  assert.deepEqual(events, ['close', 'end callback'])
  assert.equal(c.disconnected, true)
})

test('end() while offline with a QoS 1 publish in flight completes instead of hanging', async (t) => {
  const broker = await scripted(t, { protocolVersion: 4, autoPuback: false })
  const c = mqtt.connect(broker.url, { reconnectPeriod: 60000 })
  const conn = await broker.nextConnection()
  await once(c, 'connect')
  c.publish('t', 'x', { qos: 1 })
  await conn.nextPacket('publish')
  const offline = next(c, 'close')
  conn.destroy()
  await offline
  await new Promise((resolve) => c.end(resolve))
  assert.equal(c.disconnected, true)
})

test('end() while offline leaves no stale DISCONNECT to be sent after a later reconnect()', async (t) => {
  const broker = await scripted(t, { protocolVersion: 4 })
  const c = mqtt.connect(broker.url, { reconnectPeriod: 60000 })
  t.after(() => c.end(true))
  const first = await broker.nextConnection()
  await once(c, 'connect')
  const offline = next(c, 'close')
  first.destroy()
  await offline
  await new Promise((resolve) => c.end(resolve))
  assert.equal(c.queue.length, 0)
  c.reconnect()
  const second = await broker.nextConnection()
  await once(c, 'connect')
  await new Promise((resolve) => setTimeout(resolve, 50))
  assert.deepEqual(second.packets.map((p) => p.cmd), ['connect'])
})

test('queueLimit bounds the offline queue: the call beyond it fails with ERR_MQTT_QUEUE_FULL and the rest are sent', async (t) => {
  const broker = await scripted(t, { protocolVersion: 4 })
  const c = mqtt.connect(broker.url, { reconnectPeriod: 0, manualConnect: true, queueLimit: 2 })
  t.after(() => c.end(true))
  const results = []
  for (const text of ['a', 'b', 'c']) c.publish('q', text, (err) => results.push(err ? err.code : text))
  assert.deepEqual(results, ['ERR_MQTT_QUEUE_FULL'])
  assert.equal(c.queue.length, 2)
  c.connect()
  const conn = await broker.nextConnection()
  const first = await conn.nextPacket('publish')
  const second = await conn.nextPacket('publish')
  assert.deepEqual([first.payload.toString(), second.payload.toString()], ['a', 'b'])
  assert.deepEqual(results, ['ERR_MQTT_QUEUE_FULL', 'a', 'b'])
})

test('packetsend reports a publish held back by the flow-control window when it is written, with the application\'s packet', async (t) => {
  const broker = await scripted(t, { protocolVersion: 4, autoPuback: false })
  const c = client(t, broker.url, { maxInflight: 2 })
  const conn = await broker.nextConnection()
  await once(c, 'connect')
  const reported = []
  c.on('packetsend', (p) => { if (p.cmd === 'publish') reported.push(p) })
  for (let i = 0; i < 4; i++) c.publish(`w/${i}`, 'x', { qos: 1 })
  // Two fit in the window: reported at publish(), as MQTT.js reports a write.
  assert.deepEqual(reported.map((p) => p.topic), ['w/0', 'w/1'])
  const first = await conn.nextPacket('publish')
  await conn.nextPacket('publish')
  conn.send({ cmd: 'puback', messageId: first.messageId })
  const third = await conn.nextPacket('publish')
  assert.equal(third.topic, 'w/2')
  await new Promise((resolve) => setTimeout(resolve, 50))
  // The third, written after the PUBACK, is reported then, as the object publish() built (the
  // one the outgoing store holds, under the packet identifier it was sent with).
  assert.deepEqual(reported.map((p) => p.topic), ['w/0', 'w/1', 'w/2'])
  assert.equal(reported[2].messageId, third.messageId)
  assert.equal(reported[2], c.outgoingStore._inflights.get(third.messageId))
})

test('before MQTT 5 the default window holds 1000 QoS 1/2 publishes in flight, none sent while 20 QoS 2 are, and maxInflight given bounds both', async (t) => {
  const broker = await scripted(t, { protocolVersion: 4, autoPuback: false })
  const inFlight = async (options, ...batches) => {
    const c = client(t, broker.url, options)
    await once(c, 'connect')
    let written = 0
    c.on('packetsend', (p) => { if (p.cmd === 'publish') written++ })
    // A publish that fits in the window is written (and reported) at publish().
    for (const [qos, count] of batches) for (let i = 0; i < count; i++) c.publish('w', 'x', { qos })
    return written
  }
  assert.equal(await inFlight({}, [1, 1100]), 1000)
  assert.equal(await inFlight({}, [2, 50]), 20)
  // mosquitto 2.0 drops a QoS 1 publish that arrives while 20 QoS 2 exchanges are open.
  assert.equal(await inFlight({}, [2, 20], [1, 10]), 20)
  assert.equal(await inFlight({}, [1, 50], [2, 50]), 70)
  assert.equal(await inFlight({ maxInflight: 30 }, [2, 50]), 30)
  assert.equal(await inFlight({ maxInflight: 30 }, [1, 50]), 30)
})

test('a maxInflight that is not a whole number from 1 to 65535 throws ERR_MQTT_INVALID_OPTION instead of being clamped', () => {
  for (const bad of [0, -1, 1.5, 65536, '20', Number.NaN]) {
    assert.throws(() => mqtt.connect('mqtt://127.0.0.1:1', { maxInflight: bad, manualConnect: true }),
      (err) => err.code === 'ERR_MQTT_INVALID_OPTION' && /^maxInflight must be a whole number from 1 to 65535/.test(err.message), String(bad))
  }
  mqtt.connect('mqtt://127.0.0.1:1', { maxInflight: 65535, manualConnect: true }).end(true)
})

// MQTT 3.1.1 §2.3.1 and MQTT 5 §2.2.1 forbid identifier 0 on a QoS 1/2 PUBLISH; MQTT.js takes
// it anyway (MQTT.js's own test broker numbers its messages from 0), and so do we, with a warning.
for (const [name, lib] of [['MQTT.js', mqttjs], ['mqtt-native', mqtt]]) {
  test(`a QoS 1 and a QoS 2 message the broker numbered 0 are delivered and answered under 0 (${name})`, async (t) => {
    const broker = await scripted(t, { protocolVersion: 4 })
    const warnings = []
    const onWarning = (w) => { if (w.code === 'MQTT_NATIVE_PACKET_ID_ZERO') warnings.push(w) }
    process.on('warning', onWarning)
    t.after(() => process.off('warning', onWarning))
    const c = lib.connect(broker.url, { reconnectPeriod: 0 })
    t.after(() => c.end(true))
    const conn = await broker.nextConnection()
    await once(c, 'connect')
    const messages = []
    const errors = []
    c.on('message', (topic, payload, packet) => messages.push([topic, payload.toString(), packet.qos, packet.messageId]))
    c.on('error', (e) => errors.push(e))
    for (let copy = 0; copy < 2; copy++) {
      conn.send({ cmd: 'publish', topic: 'z/1', payload: 'one', qos: 1, messageId: 0 })
      assert.equal((await conn.nextPacket('puback')).messageId, 0)
    }
    conn.send({ cmd: 'publish', topic: 'z/2', payload: 'two', qos: 2, messageId: 0 })
    assert.equal((await conn.nextPacket('pubrec')).messageId, 0)
    conn.send({ cmd: 'pubrel', messageId: 0 })
    assert.equal((await conn.nextPacket('pubcomp')).messageId, 0)
    await new Promise((resolve) => setImmediate(resolve))
    assert.deepEqual(messages, [['z/1', 'one', 1, 0], ['z/1', 'one', 1, 0], ['z/2', 'two', 2, 0]])
    assert.deepEqual(errors, [])
    assert.equal(c.connected, true)
    assert.equal(warnings.length, lib === mqtt ? 1 : 0)
    if (lib === mqtt) assert.match(warnings[0].message, /packet identifier 0/)
  })
}

test('a QoS 2 publish answered with PUBACK completes, with one process warning per client that exactly-once is gone', async (t) => {
  const broker = await scripted(t, { autoPuback: false })
  broker.onConnection((conn) => conn.on('packet', (p) => {
    // A broker that handles QoS 2 as QoS 1 (RabbitMQ's MQTT plugin).
    if (p.cmd === 'publish' && p.qos === 2) conn.send({ cmd: 'puback', messageId: p.messageId })
  }))
  const warnings = []
  const onWarning = (w) => { if (w.code === 'MQTT_NATIVE_QOS2_DOWNGRADED') warnings.push(w) }
  process.on('warning', onWarning)
  t.after(() => process.off('warning', onWarning))
  const c = client(t, broker.url)
  await next(c, 'connect')
  const errors = []
  c.on('error', (e) => errors.push(e))
  await c.publishAsync('q2/a', 'x', { qos: 2 })
  await c.publishAsync('q2/b', 'y', { qos: 2 })
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(warnings.length, 1)
  assert.match(warnings[0].message, /QoS 2 as QoS 1/)
  assert.deepEqual(errors, [])
  assert.equal(c.connected, true)
})

// connectTimeout runs on a JavaScript timer in both libraries (MQTT.js's `connackTimer`), so a
// fake clock drives it: an application's tests that tick past it see the same error.
for (const [name, lib] of [['MQTT.js', mqttjs], ['mqtt-native', mqtt]]) {
  test(`a fake clock ticked past connectTimeout ends an attempt the broker never answers with 'connack timeout' (${name})`, { timeout: 20000 }, async (t) => {
    const broker = await scripted(t, { protocolVersion: 4, autoConnack: false })
    t.mock.timers.enable({ apis: ['setTimeout'] })
    const c = lib.connect(broker.url, { reconnectPeriod: 0, connectTimeout: 60 * 60 * 1000 })
    t.after(() => c.end(true))
    const conn = await broker.nextConnection()
    await conn.nextPacket('connect')
    const failed = next(c, 'error')
    const closed = next(c, 'close')
    t.mock.timers.tick(60 * 60 * 1000)
    const [err] = await failed
    assert.equal(err.message, 'connack timeout')
    if (lib === mqtt) assert.equal(err.code, 'ERR_MQTT_CONNACK_TIMEOUT')
    await closed
    assert.equal(c.connected, false)
  })

  test(`a connectTimeout timer cleared by CONNACK never fires (${name})`, { timeout: 20000 }, async (t) => {
    const broker = await scripted(t, { protocolVersion: 4, autoConnack: true })
    const c = lib.connect(broker.url, { reconnectPeriod: 0, connectTimeout: 50 })
    t.after(() => c.end(true))
    let errors = 0
    c.on('error', () => { errors++ })
    await next(c, 'connect')
    // Past the timeout on the real clock: a timer left running would have ended the connection.
    await new Promise((resolve) => setTimeout(resolve, 150))
    assert.equal(errors, 0)
    assert.equal(c.connected, true)
  })
}
