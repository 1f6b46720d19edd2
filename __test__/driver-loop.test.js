'use strict'
// The connection driver runs on Node's own event loop (src/driver): reads, the session and the
// call into JavaScript happen in one libuv callback, and JavaScript may call back into the client
// from inside it. These are the things such a driver can get wrong.

const test = require('node:test')
const assert = require('node:assert/strict')
const net = require('node:net')
const crypto = require('node:crypto')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { once } = require('node:events')
const mqttPacket = require('mqtt-packet')
const mqtt = require('..')
const { runtimeWithoutLibuv, assertSupportedRuntime } = require('../lib/runtime')
const { startMosquitto, requireBinary } = require('./helpers/mosquitto')

const entry = path.join(__dirname, '..', 'index.js')

/** Resolves with the value of `promise`, or rejects after `ms` naming `what`. */
function within (ms, what, promise) {
  let timer
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

function connected (url, opts) {
  const client = mqtt.connect(url, { reconnectPeriod: 0, ...opts })
  return within(10000, 'connect', once(client, 'connect')).then(() => client)
}

test('a client created and ended inside a message handler completes its own round trip', async (t) => {
  if (!requireBinary(t)) return
  const broker = await startMosquitto()
  t.after(() => broker.stop())
  const outer = await connected(broker.url)
  t.after(() => outer.end(true))
  await outer.subscribeAsync('loop/outer', { qos: 1 })
  const done = new Promise((resolve, reject) => {
    outer.on('message', () => {
      // Inside the driver's callback: a new client, its whole life, and its end.
      const inner = mqtt.connect(broker.url, { reconnectPeriod: 0 })
      inner.on('error', reject)
      inner.on('connect', () => {
        inner.subscribe('loop/inner', { qos: 1 }, () => inner.publish('loop/inner', 'echo', { qos: 1 }))
      })
      inner.on('message', (topic, payload) => {
        inner.end(() => resolve({ topic, payload: payload.toString(), connected: inner.connected }))
      })
    })
  })
  outer.publish('loop/outer', 'go', { qos: 1 })
  const result = await within(10000, 'inner round trip', done)
  assert.deepEqual(result, { topic: 'loop/inner', payload: 'echo', connected: false })
})

test('end() from the first message of a batch ends the client once, with one close and one end callback', async (t) => {
  if (!requireBinary(t)) return
  const broker = await startMosquitto()
  t.after(() => broker.stop())
  const publisher = await connected(broker.url)
  t.after(() => publisher.end(true))
  const client = await connected(broker.url)
  await client.subscribeAsync('loop/batch', { qos: 0 })
  const events = []
  const ended = new Promise((resolve) => {
    client.on('message', (topic, payload) => {
      events.push(payload.toString())
      if (events.length === 1) client.end(() => { events.push('end callback'); resolve() })
    })
  })
  client.on('close', () => events.push('close'))
  client.on('end', () => events.push('end'))
  // One write, so that the messages arrive together and are delivered as one batch.
  for (let i = 0; i < 20; i++) publisher.publish('loop/batch', `m${i}`)
  await within(10000, 'end', ended)
  await new Promise((resolve) => setTimeout(resolve, 200))
  assert.equal(events.filter((e) => e === 'close').length, 1, 'one close')
  assert.equal(events.filter((e) => e === 'end').length, 1, 'one end')
  assert.equal(events.filter((e) => e === 'end callback').length, 1, 'one end callback')
  const messages = events.filter((e) => /^m\d+$/.test(e))
  assert.deepEqual(messages, messages.slice().sort((a, b) => a.slice(1) - b.slice(1)), 'in order')
  assert.ok(messages.length >= 1)
  assert.ok(events.indexOf('end callback') > events.indexOf('m0'))
})

test('a 4 MiB publish to itself while messages arrive is written and received intact (readable and writable together)', async (t) => {
  if (!requireBinary(t)) return
  const broker = await startMosquitto()
  t.after(() => broker.stop())
  const client = await connected(broker.url)
  t.after(() => client.end(true))
  const chatter = await connected(broker.url)
  t.after(() => chatter.end(true))
  await client.subscribeAsync('loop/big', { qos: 1 })
  await client.subscribeAsync('loop/chatter', { qos: 1 })
  const big = crypto.randomBytes(4 * 1024 * 1024)
  const chatterSeen = []
  let firstChatter
  const chatterFlowing = new Promise((resolve) => { firstChatter = resolve })
  const bigReceived = new Promise((resolve) => {
    client.on('message', (topic, payload) => {
      if (topic === 'loop/chatter') {
        chatterSeen.push(Number(payload.toString()))
        firstChatter()
      } else resolve(payload)
    })
  })
  // The broker keeps sending while the client's socket is full of the large publish.
  let sent = 0
  const interval = setInterval(() => { for (let i = 0; i < 20; i++) chatter.publish('loop/chatter', String(sent++), { qos: 1 }) }, 1)
  t.after(() => clearInterval(interval))
  await within(10000, 'the first chatter message', chatterFlowing)
  const acked = client.publishAsync('loop/big', big, { qos: 1 })
  const payload = await within(60000, 'the 4 MiB message back', bigReceived)
  await within(10000, 'the PUBACK', acked)
  clearInterval(interval)
  await within(10000, 'every chatter message', new Promise((resolve) => {
    const check = setInterval(() => { if (chatterSeen.length >= sent) { clearInterval(check); resolve() } }, 10)
  }))
  assert.equal(payload.length, big.length)
  assert.ok(payload.equals(big), 'the payload comes back byte for byte')
  assert.deepEqual(chatterSeen, Array.from({ length: sent }, (_, i) => i), 'every small message arrives once, in order')
})

test('a 4 MiB publish to a broker that reads slowly goes out over many writable events without loss', async (t) => {
  const server = net.createServer()
  const received = new Promise((resolve, reject) => {
    server.on('connection', (socket) => {
      const parser = mqttPacket.parser({ protocolVersion: 4 })
      parser.on('packet', (packet) => {
        if (packet.cmd === 'connect') socket.write(mqttPacket.generate({ cmd: 'connack', returnCode: 0, sessionPresent: false }))
        if (packet.cmd === 'publish') resolve(packet.payload)
      })
      parser.on('error', reject)
      // Read in small bursts with pauses, so that the client's socket fills again and again.
      socket.on('data', (chunk) => {
        parser.parse(chunk)
        socket.pause()
        setTimeout(() => socket.resume(), 2)
      })
      socket.on('error', () => {})
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => server.close())
  const client = await connected(`mqtt://127.0.0.1:${server.address().port}`)
  t.after(() => client.end(true))
  const big = crypto.randomBytes(4 * 1024 * 1024)
  client.publish('loop/slow', big, { qos: 0 })
  const payload = await within(60000, 'the whole publish at the broker', received)
  assert.ok(payload.equals(big), 'the broker got the payload byte for byte')
})

test('1,000 clients on one loop each get their message, none starved by the others', async (t) => {
  if (!requireBinary(t)) return
  const broker = await startMosquitto()
  t.after(() => broker.stop())
  const count = 1000
  const clients = []
  t.after(() => { for (const c of clients) c.end(true) })
  const opened = []
  for (let i = 0; i < count; i++) {
    const client = mqtt.connect(broker.url, { reconnectPeriod: 0, clientId: `loop-many-${i}` })
    clients.push(client)
    opened.push(once(client, 'connect'))
  }
  await within(120000, '1,000 connections', Promise.all(opened))
  await within(60000, '1,000 subscriptions', Promise.all(clients.map((c, i) => c.subscribeAsync(`loop/many/${i}`, { qos: 1 }))))
  const got = clients.map((c) => within(60000, 'a message', once(c, 'message')))
  // A flood on one client's topic must not keep the others from their single message.
  const flood = await connected(broker.url)
  t.after(() => flood.end(true))
  for (let i = 0; i < 2000; i++) flood.publish('loop/many/0', 'flood')
  for (let i = 0; i < count; i++) flood.publish(`loop/many/${i}`, `to ${i}`, { qos: 1 })
  const messages = await Promise.all(got)
  messages.forEach(([topic], i) => assert.equal(topic, `loop/many/${i}`))
})

/** Runs `source` in a child process with the package at `ENTRY`; resolves with its exit. */
function child (source, env) {
  const proc = spawn(process.execPath, ['-e', source], {
    env: { ...process.env, ENTRY: entry, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  proc.stdout.on('data', (d) => { out += d })
  proc.stderr.on('data', (d) => { out += d })
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal, out })))
  return { proc, exited, output: () => out }
}

test('a process exits by itself once its client has ended: no handle of ours keeps the loop alive', async (t) => {
  if (!requireBinary(t)) return
  const broker = await startMosquitto()
  t.after(() => broker.stop())
  const { proc, exited } = child(`
    const mqtt = require(process.env.ENTRY)
    const client = mqtt.connect(process.env.URL)
    client.on('connect', () => {
      client.subscribe('loop/exit', { qos: 1 }, () => {
        client.publish('loop/exit', 'x', { qos: 1 }, () => client.end(() => console.log('ended')))
      })
    })
  `, { URL: broker.url })
  t.after(() => proc.kill('SIGKILL'))
  const { code, out } = await within(15000, 'the child to exit by itself', exited)
  assert.equal(code, 0, out)
  assert.match(out, /ended/)
})

test('a process stays alive while its client is connected, as with MQTT.js sockets, and exits after end()', async (t) => {
  if (!requireBinary(t)) return
  const broker = await startMosquitto()
  t.after(() => broker.stop())
  const { proc, exited, output } = child(`
    const mqtt = require(process.env.ENTRY)
    const client = mqtt.connect(process.env.URL, { keepalive: 0 })
    client.on('connect', () => client.subscribe('loop/alive', () => console.log('ready')))
    client.on('message', () => client.end())
  `, { URL: broker.url })
  t.after(() => proc.kill('SIGKILL'))
  await within(10000, 'the child to connect', new Promise((resolve) => {
    const check = setInterval(() => { if (/ready/.test(output())) { clearInterval(check); resolve() } }, 20)
  }))
  // No keepalive timer, no user timer: only the connection keeps the child alive.
  await new Promise((resolve) => setTimeout(resolve, 1500))
  assert.equal(proc.exitCode, null, 'still running while connected')
  const sender = await connected(broker.url)
  t.after(() => sender.end(true))
  sender.publish('loop/alive', 'stop')
  const { code } = await within(10000, 'the child to exit after end()', exited)
  assert.equal(code, 0, output())
})

test('runtimes without libuv (Bun, Deno) are refused at load with an error naming the runtime', () => {
  assert.equal(runtimeWithoutLibuv({ versions: { node: '20.0.0' } }, {}), null)
  assert.equal(runtimeWithoutLibuv({ versions: { node: '22.6.0', bun: '1.1.30' } }, {}), 'Bun 1.1.30')
  assert.equal(runtimeWithoutLibuv({ versions: { node: '20.11.1' } }, { Deno: { version: { deno: '2.0.0' } } }), 'Deno 2.0.0')
  assert.throws(() => assertSupportedRuntime({ versions: { bun: '1.1.30' } }, {}), (err) => {
    assert.equal(err.code, 'ERR_MQTT_NATIVE_RUNTIME')
    assert.match(err.message, /Bun 1\.1\.30/)
    assert.match(err.message, /libuv/)
    return true
  })
  assert.doesNotThrow(() => assertSupportedRuntime(process, globalThis))
})
