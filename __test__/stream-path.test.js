'use strict'
// The Node-stream path (lib/stream.js, src/driver/stream.rs): options only Node's networking can
// honour, and streams the application builds, run the native session over a Node Duplex. Each
// way in exchanges QoS 0/1/2 messages with mosquitto, reconnects after a broker restart, and
// survives a broker that sends garbage (one error, closed, nothing crashes).

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const { once } = require('node:events')
const fs = require('node:fs')
const path = require('node:path')
const net = require('node:net')
const tls = require('node:tls')
const http = require('node:http')
const https = require('node:https')
const { Duplex } = require('node:stream')
const { execFileSync } = require('node:child_process')
const WebSocket = require('ws')
const { HttpsProxyAgent } = require('https-proxy-agent')
const mqtt = require('..')
const { startMosquitto, requireBinary, findBinary } = require('./helpers/mosquitto.js')
const { makeCerts, requireOpenssl, mosquittoTlsListener } = require('./helpers/certs.js')
const { freePort } = require('./helpers/ports.js')
const { startScriptedBroker, ScriptedConnection } = require('./helpers/scripted-broker.js')

const GARBAGE = Buffer.from([0x00, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x01, 0x02])

// ---------------------------------------------------------------------------------------------
// Fixtures: one mosquitto with every listener, the garbage servers, a CONNECT proxy

let fixture = null
const closers = []
after(async () => {
  for (const close of closers.reverse()) await close()
})

/** Extra key material: a PKCS#12 bundle and a legacy-encrypted copy of the client key. */
function extraKeys (certs) {
  const openssl = findBinary('openssl')
  const p12 = path.join(certs.dir, 'stream-client.p12')
  const legacy = path.join(certs.dir, 'stream-client-legacy.key')
  if (!fs.existsSync(p12)) {
    execFileSync(openssl, ['pkcs12', '-export', '-in', certs.client.certFile, '-inkey', certs.client.keyFile,
      '-passout', 'pass:pfx-secret', '-out', p12], { stdio: 'pipe' })
    execFileSync(openssl, ['ec', '-in', certs.client.keyFile, '-aes256', '-passout', 'pass:legacy-secret',
      '-out', legacy], { stdio: 'pipe' })
  }
  return { pfx: fs.readFileSync(p12), legacyKey: fs.readFileSync(legacy, 'utf8') }
}

async function setup (t) {
  if (!requireBinary(t, 'mosquitto') || !requireOpenssl(t)) return null
  if (fixture) return fixture
  const certs = makeCerts()
  const keys = extraKeys(certs)
  const ports = { tlsClientCert: await freePort(), tlsOtherName: await freePort(), wss: await freePort() }
  const broker = await startMosquitto({
    websockets: true,
    extraConfig: [
      ...mosquittoTlsListener(ports.tlsClientCert, certs.server, { requireClientCert: true }),
      ...mosquittoTlsListener(ports.tlsOtherName, certs.otherName),
      ...mosquittoTlsListener(ports.wss, certs.server, { websockets: true })
    ]
  })
  closers.push(() => broker.stop())
  fixture = { broker, certs, keys, ports, garbage: await garbageServers(certs), proxy: await connectProxy() }
  return fixture
}

/** Accepts `server` connections until the end of the file. */
function tracked (server) {
  const sockets = new Set()
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  closers.push(() => new Promise((resolve) => {
    for (const s of sockets) s.destroy()
    server.close(() => resolve())
  }))
  return server
}

async function listen (server) {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return server.address().port
}

/** Brokers that answer CONNECT with bytes that are no MQTT packet, over tcp, tls, ws and wss. */
async function garbageServers (certs) {
  const answer = (socket) => socket.once('data', () => socket.write(GARBAGE))
  const tcp = await listen(tracked(net.createServer(answer)))
  const tlsPort = await listen(tracked(tls.createServer({ cert: certs.server.cert, key: certs.server.key }, answer)))
  const tlsOther = await listen(tracked(tls.createServer({ cert: certs.otherName.cert, key: certs.otherName.key }, answer)))
  const onWs = (socket) => socket.once('message', () => socket.send(GARBAGE))
  const httpServer = tracked(http.createServer())
  new WebSocket.WebSocketServer({ server: httpServer }).on('connection', onWs)
  const ws = await listen(httpServer)
  const httpsServer = tracked(https.createServer({ cert: certs.server.cert, key: certs.server.key }))
  new WebSocket.WebSocketServer({ server: httpsServer }).on('connection', onWs)
  const wss = await listen(httpsServer)
  return { tcp, tls: tlsPort, tlsOther, ws, wss }
}

/** A small HTTP CONNECT proxy, counting the tunnels it opened. */
async function connectProxy () {
  const server = tracked(http.createServer((req, res) => {
    res.writeHead(405)
    res.end()
  }))
  const proxy = { tunnels: 0, port: 0 }
  server.on('connect', (req, socket, head) => {
    const [host, port] = req.url.split(':')
    const upstream = net.connect(Number(port), host, () => {
      proxy.tunnels++
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      if (head.length) upstream.write(head)
      upstream.pipe(socket)
      socket.pipe(upstream)
    })
    upstream.on('error', () => socket.destroy())
    socket.on('error', () => upstream.destroy())
    socket.on('close', () => upstream.destroy())
  })
  proxy.port = await listen(server)
  return proxy
}

/** Two Duplex ends joined in memory: what one writes, the other reads. */
function memoryPair () {
  const ends = []
  const make = (other) => new Duplex({
    read () {},
    write (chunk, encoding, callback) {
      ends[other].push(chunk)
      callback()
    },
    final (callback) {
      ends[other].push(null)
      callback()
    },
    destroy (err, callback) {
      if (!ends[other].destroyed) ends[other].destroy()
      callback(err)
    }
  })
  ends.push(make(1), make(0))
  return ends
}

/** An in-memory stream for the application, its far end joined to a TCP socket to `port`. */
function memoryToTcp (port) {
  const [near, far] = memoryPair()
  const socket = net.connect(port, '127.0.0.1')
  far.pipe(socket)
  socket.pipe(far)
  socket.on('error', () => far.destroy())
  socket.on('close', () => far.destroy())
  far.on('close', () => socket.destroy())
  return near
}

// ---------------------------------------------------------------------------------------------
// The ways onto the stream path

/**
 * Each: `reason`, the option the debug log names; `client(target, opts)` connects to
 * mosquitto (`target` is the fixture) or to a garbage server (`target.garbage` set).
 */
const WAYS = [
  {
    name: 'a streamBuilder over a net socket',
    reason: 'streamBuilder',
    client: (f, opts, g) => new mqtt.MqttClient(() => net.connect(g ? g.tcp : f.broker.port, '127.0.0.1'), opts)
  },
  {
    name: 'a streamBuilder over an in-memory duplex pair',
    reason: 'streamBuilder',
    client: (f, opts, g) => new mqtt.MqttClient(() => {
      if (!g) return memoryToTcp(f.broker.port)
      // The far end is the garbage broker itself.
      const [near, far] = memoryPair()
      far.once('data', () => far.write(GARBAGE))
      return near
    }, opts)
  },
  {
    name: 'ws:// through an HTTP CONNECT proxy agent',
    reason: 'wsOptions.agent',
    client: (f, opts, g) => mqtt.connect(`ws://127.0.0.1:${g ? g.ws : f.broker.wsPort}/mqtt`,
      { ...opts, wsOptions: { agent: new HttpsProxyAgent(`http://127.0.0.1:${f.proxy.port}`) } }),
    proxied: true
  },
  {
    name: 'wss:// through an HTTP CONNECT proxy agent',
    reason: 'wsOptions.agent',
    client: (f, opts, g) => mqtt.connect(`wss://localhost:${g ? g.wss : f.ports.wss}/mqtt`,
      { ...opts, ca: f.certs.ca, wsOptions: { agent: new HttpsProxyAgent(`http://127.0.0.1:${f.proxy.port}`) } }),
    proxied: true
  },
  {
    name: 'createWebsocket',
    reason: 'createWebsocket',
    client: (f, opts, g) => {
      f.created = (f.created || 0)
      return mqtt.connect(`ws://127.0.0.1:${g ? g.ws : f.broker.wsPort}/mqtt`, {
        ...opts,
        createWebsocket: (url, protocols) => {
          f.created++
          return new WebSocket(url, protocols)
        }
      })
    },
    check: (f, before) => assert.ok(f.created > before, 'createWebsocket was called')
  },
  {
    name: 'a pfx client certificate',
    reason: 'pfx',
    client: (f, opts, g) => mqtt.connect(`mqtts://localhost:${g ? g.tls : f.ports.tlsClientCert}`,
      { ...opts, ca: f.certs.ca, pfx: f.keys.pfx, passphrase: 'pfx-secret' })
  },
  {
    name: 'a legacy-encrypted key with its passphrase',
    reason: 'key (legacy encrypted PEM)',
    client: (f, opts, g) => mqtt.connect(`mqtts://localhost:${g ? g.tls : f.ports.tlsClientCert}`,
      { ...opts, ca: f.certs.ca, cert: f.certs.client.cert, key: f.keys.legacyKey, passphrase: 'legacy-secret' })
  },
  {
    name: 'ciphers',
    reason: 'ciphers',
    client: (f, opts, g) => mqtt.connect(`mqtts://localhost:${g ? g.tls : f.ports.tlsClientCert}`, {
      ...opts,
      ca: f.certs.ca,
      cert: f.certs.client.cert,
      key: f.certs.client.key,
      ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256',
      maxVersion: 'TLSv1.2'
    })
  },
  {
    name: 'localAddress on mqtts://',
    reason: 'localAddress',
    client: (f, opts, g) => mqtt.connect(`mqtts://localhost:${g ? g.tls : f.ports.tlsClientCert}`, {
      ...opts,
      ca: f.certs.ca,
      cert: f.certs.client.cert,
      key: f.certs.client.key,
      localAddress: '127.0.0.1'
    })
  },
  {
    name: 'checkServerIdentity',
    reason: 'checkServerIdentity',
    // The certificate names broker.example only: rustls would refuse it for localhost; the
    // application's check accepts it.
    client: (f, opts, g) => {
      f.identityChecks = f.identityChecks || 0
      return mqtt.connect(`mqtts://localhost:${g ? g.tlsOther : f.ports.tlsOtherName}`, {
        ...opts,
        ca: f.certs.ca,
        checkServerIdentity: (host, cert) => {
          f.identityChecks++
          return cert.subject.CN === 'broker.example' ? undefined : new Error(`unexpected certificate ${cert.subject.CN}`)
        }
      })
    },
    check: (f, before) => assert.ok(f.identityChecks > before, 'checkServerIdentity was called')
  }
]

function logger () {
  const lines = []
  const log = (...args) => lines.push(require('node:util').format(...args))
  return { lines, log }
}

function waitFor (emitter, event, ms = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${event}' within ${ms} ms`)), ms)
    emitter.once(event, (...args) => {
      clearTimeout(timer)
      resolve(args)
    })
  })
}

/** Subscribes to `prefix/#` and round-trips one message of each QoS; returns them. */
async function exchange (client, prefix) {
  await client.subscribeAsync(`${prefix}/#`, { qos: 2 })
  const got = []
  const all = new Promise((resolve) => {
    const onMessage = (topic, payload, packet) => {
      if (!topic.startsWith(prefix + '/')) return
      got.push({ topic, payload: payload.toString(), qos: packet.qos })
      if (got.length === 3) {
        client.removeListener('message', onMessage)
        resolve()
      }
    }
    client.on('message', onMessage)
  })
  for (const qos of [0, 1, 2]) await client.publishAsync(`${prefix}/q${qos}`, `payload ${qos}`, { qos })
  await all
  got.sort((a, b) => a.qos - b.qos)
  return got
}

function expected (prefix) {
  return [0, 1, 2].map((qos) => ({ topic: `${prefix}/q${qos}`, payload: `payload ${qos}`, qos }))
}

let serial = 0
for (const way of WAYS) {
  test(`${way.name}: QoS 0/1/2 with mosquitto over the Node-stream path, and again after a broker restart`, async (t) => {
    const f = await setup(t)
    if (!f) return
    const { lines, log } = logger()
    const tunnels = f.proxy.tunnels
    const before = way.name === 'createWebsocket' ? (f.created || 0) : (f.identityChecks || 0)
    const prefix = `stream/${process.pid}/${serial++}`
    for (const protocolVersion of [4, 5]) {
      const client = way.client(f, { protocolVersion, reconnectPeriod: 100, log })
      const errors = []
      client.on('error', (err) => errors.push(err))
      t.after(() => client.end(true))
      await waitFor(client, 'connect')
      assert.ok(lines.some((l) => l.includes(`Node-stream path (${way.reason})`)), lines.join('\n'))
      assert.ok(!lines.some((l) => l.includes('native path')), lines.join('\n'))
      assert.deepEqual(await exchange(client, `${prefix}/v${protocolVersion}`), expected(`${prefix}/v${protocolVersion}`))
      if (protocolVersion === 5) {
        // The broker goes away and comes back: the client reconnects by itself, resubscribes,
        // and exchanges again.
        const reconnected = waitFor(client, 'connect', 15000)
        await f.broker.restart()
        await reconnected
        assert.deepEqual(await exchange(client, `${prefix}/again`), expected(`${prefix}/again`))
      }
      await client.endAsync()
      assert.deepEqual(errors.filter((e) => !/ECONNREFUSED|ECONNRESET|socket hang up|closed/i.test(e.message)), [])
    }
    if (way.proxied) assert.ok(f.proxy.tunnels > tunnels, 'the connection went through the proxy')
    if (way.check) way.check(f, before)
  })

  test(`${way.name}: a broker that sends garbage gives one error and a close, and nothing crashes`, async (t) => {
    const f = await setup(t)
    if (!f) return
    const client = way.client(f, { reconnectPeriod: 0 }, f.garbage)
    const errors = []
    client.on('error', (err) => errors.push(err))
    t.after(() => client.end(true))
    await waitFor(client, 'close')
    // A late second error would arrive on a later turn.
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(errors.length, 1, errors.map((e) => `${e.code}: ${e.message}`).join('\n'))
    assert.equal(errors[0].code, 129, errors[0].message) // Malformed Packet (MQTT 5 §4.13)
    assert.equal(client.connected, false)
  })
}

// A saturated QoS 0 subscriber on the stream path is read lazily: its net or tls socket stops
// reading between two reads a millisecond apart (README, "Polling mode"). Nothing may be lost
// or reordered by it, and a held socket must still see the broker's close at end().
for (const name of ['a streamBuilder over a net socket', 'ciphers']) {
  test(`${name}: a QoS 0 flood read lazily arrives whole and in order, and end() still completes`, async (t) => {
    const f = await setup(t)
    if (!f) return
    const way = WAYS.find((w) => w.name === name)
    const topic = `stream/${process.pid}/${serial++}/flood`
    const sub = way.client(f, { reconnectPeriod: 0 })
    t.after(() => sub.end(true))
    await waitFor(sub, 'connect')
    await sub.subscribeAsync(topic, { qos: 0 })
    const pub = mqtt.connect(`mqtt://127.0.0.1:${f.broker.port}`, { reconnectPeriod: 0 })
    t.after(() => pub.end(true))
    await waitFor(pub, 'connect')
    const n = 30000
    let sent = 0
    let received = 0
    let outOfOrder = 0
    const done = new Promise((resolve) => {
      const pump = () => {
        while (sent < n && sent - received < 1000) pub.publish(topic, String(sent++))
      }
      sub.on('message', (_topic, payload) => {
        if (Number(payload.toString()) !== received) outOfOrder++
        received++
        if (received === n) resolve()
        else if (sent - received <= 500) pump()
      })
      pump()
    })
    await done
    assert.equal(outOfOrder, 0)
    assert.equal(received, n)
    await Promise.all([sub.endAsync(), pub.endAsync()])
  })
}

test('a connection that needs nothing of Node\'s networking stays on the native path', async (t) => {
  const f = await setup(t)
  if (!f) return
  const { lines, log } = logger()
  const client = mqtt.connect(`mqtts://localhost:${f.ports.tlsClientCert}`,
    { ca: f.certs.ca, cert: f.certs.client.cert, key: f.certs.client.key, log, reconnectPeriod: 0 })
  t.after(() => client.end(true))
  await waitFor(client, 'connect')
  assert.ok(lines.some((l) => l.includes('native path')), lines.join('\n'))
  assert.ok(!lines.some((l) => l.includes('Node-stream path')), lines.join('\n'))
})

test('wsOptions.agent, createWebsocket and OpenSSL-only TLS options are no longer refused', () => {
  const agent = new http.Agent()
  for (const [url, opts] of [
    ['ws://localhost:1', { wsOptions: { agent } }],
    ['wss://localhost:1', { wsOptions: { lookup: () => {} } }],
    ['ws://localhost:1', { createWebsocket: () => null }],
    ['mqtts://localhost:1', { pfx: Buffer.from('x') }],
    ['mqtts://localhost:1', { checkServerIdentity: () => undefined, secureContext: tls.createSecureContext() }],
    ['mqtts://localhost:1', { ciphers: 'HIGH', ecdhCurve: 'auto', sigalgs: 'ECDSA+SHA256' }]
  ]) {
    const c = mqtt.connect(url, { ...opts, manualConnect: true })
    c.end(true)
  }
  const c = new mqtt.MqttClient(() => new Duplex({ read () {}, write (c, e, cb) { cb() } }), { manualConnect: true })
  c.end(true)
})

test('an application stream gets the CONNECT bytes only after new MqttClient() returns, as with MQTT.js', async () => {
  // An application may attach its handlers to the stream it built after the constructor: MQTT.js
  // writes corked until the next tick, so nothing reaches the stream before that.
  const mqttjs = require('mqtt')
  const seen = {}
  for (const [name, lib] of [['MQTT.js', mqttjs], ['mqtt-native', mqtt]]) {
    const writes = []
    const stream = new Duplex({ read () {}, write (chunk, encoding, callback) { writes.push(chunk[0] >> 4); callback() } })
    const client = new lib.MqttClient(() => stream, { reconnectPeriod: 0 })
    const during = writes.length
    await new Promise((resolve) => setImmediate(resolve))
    seen[name] = { duringConstructor: during, firstPacketType: writes[0] }
    client.end(true)
  }
  assert.deepEqual(seen['mqtt-native'], seen['MQTT.js'])
  assert.deepEqual(seen['MQTT.js'], { duringConstructor: 0, firstPacketType: 1 })
})

test('an application streamBuilder that throws inside new MqttClient() throws from the constructor, as with MQTT.js', () => {
  const mqttjs = require('mqtt')
  for (const lib of [mqttjs, mqtt]) {
    assert.throws(() => new lib.MqttClient(() => { throw new Error('break') }, { reconnectPeriod: 0 }), { message: 'break' })
  }
})

test('an application stream that fails to build on a later attempt is one failed attempt, reported and retried', async () => {
  let calls = 0
  const [near, far] = memoryPair()
  far.on('data', () => far.destroy())
  const client = new mqtt.MqttClient(() => {
    calls++
    if (calls === 1) return near
    throw new Error('no stream today')
  }, { reconnectPeriod: 50 })
  const errors = []
  client.on('error', (err) => errors.push(err))
  await waitFor(client, 'close')
  await waitFor(client, 'reconnect')
  await waitFor(client, 'close')
  await waitFor(client, 'reconnect')
  client.end(true)
  assert.ok(calls >= 3)
  assert.equal(errors.find((e) => e.message === 'no stream today').message, 'no stream today')
})

test('end() writes DISCONNECT to the application stream and ends it', async () => {
  // A scripted broker on the far end of an in-memory pair.
  const [near, far] = memoryPair()
  const received = []
  far.on('data', (chunk) => {
    received.push(chunk[0] >> 4)
    if (chunk[0] >> 4 === 1) far.write(Buffer.from([0x20, 0x02, 0x00, 0x00])) // CONNACK
  })
  const ended = once(far, 'end')
  const client = new mqtt.MqttClient(() => near, { protocolVersion: 4 })
  await waitFor(client, 'connect')
  const closed = waitFor(client, 'close')
  client.end()
  await ended
  far.end()
  await closed
  assert.deepEqual(received, [1, 14]) // CONNECT, DISCONNECT
})

test('forceNativeWebSocket uses Node\'s global WebSocket, and says so where Node has none', async (t) => {
  const f = await setup(t)
  if (!f) return
  const client = mqtt.connect(`ws://127.0.0.1:${f.broker.wsPort}/mqtt`, { forceNativeWebSocket: true, reconnectPeriod: 0 })
  t.after(() => client.end(true))
  if (typeof globalThis.WebSocket === 'function') {
    await waitFor(client, 'connect')
    assert.deepEqual(await exchange(client, `stream/${process.pid}/native-ws`), expected(`stream/${process.pid}/native-ws`))
  } else {
    const [err] = await waitFor(client, 'error')
    assert.equal(err.code, 'ERR_MQTT_UNSUPPORTED')
    assert.match(err.message, /global WebSocket/)
    // Node 20 has the global WebSocket behind a flag: with it, the same program connects.
    const flagged = require('node:child_process').spawnSync(process.execPath, ['--experimental-websocket', '-e', 'process.exit(typeof WebSocket === "function" ? 0 : 3)'])
    if (flagged.status !== 0) return
    const script = `
      const mqtt = require(${JSON.stringify(path.join(__dirname, '..'))})
      const c = mqtt.connect('ws://127.0.0.1:${f.broker.wsPort}/mqtt', { forceNativeWebSocket: true, reconnectPeriod: 0 })
      c.on('error', (e) => { console.error(e.message); process.exit(1) })
      c.on('connect', async () => {
        await c.subscribeAsync('stream/${process.pid}/flagged/#', { qos: 2 })
        let n = 0
        c.on('message', () => { if (++n === 3) c.end(() => process.exit(0)) })
        for (const qos of [0, 1, 2]) c.publish('stream/${process.pid}/flagged/q' + qos, 'x', { qos })
      })
      setTimeout(() => process.exit(2), 8000)
    `
    const child = require('node:child_process').spawn(process.execPath, ['--no-warnings', '--experimental-websocket', '-e', script], { stdio: 'inherit' })
    const [code] = await once(child, 'exit')
    assert.equal(code, 0)
  }
})

test('a stream whose write() asks to wait gets the rest after \'drain\', every message in order', async (t) => {
  const f = await setup(t)
  if (!f) return
  let drains = 0
  const client = new mqtt.MqttClient(() => {
    const socket = net.connect(f.broker.port, '127.0.0.1')
    // A slow writer with a tiny buffer: write() returns false at once.
    const slow = new Duplex({
      highWaterMark: 1,
      read () { socket.resume() },
      write (chunk, encoding, callback) { setImmediate(() => socket.write(chunk, callback)) }
    })
    socket.on('data', (chunk) => slow.push(chunk))
    socket.on('end', () => slow.push(null))
    socket.on('close', () => slow.destroy())
    slow.on('drain', () => drains++)
    slow.on('close', () => socket.destroy())
    return slow
  }, { protocolVersion: 5 })
  t.after(() => client.end(true))
  await waitFor(client, 'connect')
  const topic = `stream/${process.pid}/drain`
  await client.subscribeAsync(topic, { qos: 1 })
  const count = 500
  const got = []
  const all = new Promise((resolve) => client.on('message', (tp, payload) => {
    got.push(Number(payload.toString()))
    if (got.length === count) resolve()
  }))
  for (let i = 0; i < count; i++) client.publish(topic, String(i), { qos: 1 })
  await all
  assert.deepEqual(got, Array.from({ length: count }, (_, i) => i))
  assert.ok(drains > 0, 'the stream asked to wait at least once')
  await client.endAsync()
})

test('a stream that drains inside the write() that asked to wait is not waited on for ever: a QoS 1 flood with up to 500 in flight arrives whole', { timeout: 60000 }, async (t) => {
  const f = await setup(t)
  if (!f) return
  let waits = 0
  const client = new mqtt.MqttClient(() => {
    const socket = net.connect(f.broker.port, '127.0.0.1')
    // write() returns false every time (a one-byte buffer) and completes at once, so Node
    // emits 'drain' from its nextTick queue; a write the driver makes from a libuv callback
    // sees that queue run before the call returns (N-API's callback scope), and so the
    // 'drain' of that very write.
    const eager = new Duplex({
      highWaterMark: 1,
      read () { socket.resume() },
      write (chunk, encoding, callback) { socket.write(chunk); callback() }
    })
    socket.on('data', (chunk) => eager.push(chunk))
    socket.on('end', () => eager.push(null))
    socket.on('close', () => eager.destroy())
    const write = eager.write
    eager.write = function (...args) {
      const ok = write.apply(this, args)
      if (!ok) waits++
      return ok
    }
    eager.on('close', () => socket.destroy())
    return eager
  }, { maxInflight: 1000, reconnectPeriod: 0 })
  t.after(() => client.end(true))
  await waitFor(client, 'connect')
  const topic = `stream/${process.pid}/eager-drain`
  await client.subscribeAsync(topic, { qos: 1 })
  // At most 500 outstanding: mosquitto's queue for a subscriber holds 1,000 by default.
  const count = 20000
  let sent = 0
  let received = 0
  let acked = 0
  let outOfOrder = 0
  const pump = () => {
    while (sent < count && sent - received < 500) client.publish(topic, String(sent++), { qos: 1 }, () => { acked++ })
  }
  const all = new Promise((resolve) => client.on('message', (tp, payload) => {
    if (Number(payload.toString()) !== received) outOfOrder++
    if (++received === count) resolve()
    else if (sent - received <= 250) pump()
  }))
  pump()
  await all
  assert.equal(outOfOrder, 0)
  while (acked < count) await new Promise((resolve) => setImmediate(resolve))
  assert.ok(waits > 0, 'the stream asked to wait')
  await client.endAsync()
})

// ---------------------------------------------------------------------------------------------
// The native path's guarantees, over a stream

/** A scripted broker on the far end of an in-memory pair; the client gets the near end. */
function scriptedPair (options) {
  const [near, far] = memoryPair()
  const broker = { options: { protocolVersion: 4, autoConnack: false, autoPingresp: false, autoPuback: false, ...options } }
  return { near, conn: new ScriptedConnection(far, broker) }
}

test('over a stream, keepalive sends PINGREQ from the native timer, and a silent broker gives one Keepalive timeout', async (t) => {
  const { near, conn } = scriptedPair({ autoConnack: true })
  const client = new mqtt.MqttClient(() => near, { keepalive: 1, reconnectPeriod: 0 })
  t.after(() => client.end(true))
  const errors = []
  client.on('error', (err) => errors.push(err))
  await waitFor(client, 'connect')
  await conn.nextPacket('pingreq', 5000)
  await waitFor(client, 'close', 10000)
  assert.deepEqual(errors.map((e) => e.message), ['Keepalive timeout'])
})

test('over a stream, QoS 1 publishes wait for the broker\'s Receive Maximum', async (t) => {
  const { near, conn } = scriptedPair({ protocolVersion: 5, autoConnack: { properties: { receiveMaximum: 2 } } })
  const client = new mqtt.MqttClient(() => near, { protocolVersion: 5, reconnectPeriod: 0 })
  t.after(() => client.end(true))
  await waitFor(client, 'connect')
  const acked = []
  for (let i = 0; i < 5; i++) client.publish('flow', String(i), { qos: 1 }, () => acked.push(i))
  const first = await conn.nextPacket('publish')
  await conn.nextPacket('publish')
  // Anything the client wrote before this ping is in front of it.
  client.sendPing()
  await conn.nextPacket('pingreq')
  assert.equal(conn.packets.filter((p) => p.cmd === 'publish').length, 2)
  conn.send({ cmd: 'puback', messageId: first.messageId, reasonCode: 0 })
  const third = await conn.nextPacket('publish')
  assert.equal(third.payload.toString(), '2')
})

test('over a stream, a packet larger than maxIncomingPacketSize is refused from its header: one error, closed', async (t) => {
  const { near, conn } = scriptedPair({ autoConnack: true })
  const client = new mqtt.MqttClient(() => near, { maxIncomingPacketSize: 1024, reconnectPeriod: 0 })
  t.after(() => client.end(true))
  const errors = []
  client.on('error', (err) => errors.push(err))
  const messages = []
  client.on('message', (topic) => messages.push(topic))
  await waitFor(client, 'connect')
  const closed = waitFor(client, 'close')
  conn.send({ cmd: 'publish', topic: 'big', payload: Buffer.alloc(4096), qos: 0 })
  await closed
  assert.equal(errors.length, 1, errors.map((e) => e.message).join('\n'))
  assert.deepEqual(messages, [])
})

test('over a stream, a DISCONNECT with Session taken over is reported as a takeover', async (t) => {
  const { near, conn } = scriptedPair({ protocolVersion: 5, autoConnack: true })
  const client = new mqtt.MqttClient(() => near, { protocolVersion: 5, clientId: 'stream-takeover', reconnectPeriod: 0 })
  t.after(() => client.end(true))
  const errors = []
  client.on('error', (err) => errors.push(err))
  const disconnects = []
  client.on('disconnect', (packet) => disconnects.push(packet.reasonCode))
  await waitFor(client, 'connect')
  const closed = waitFor(client, 'close')
  conn.send({ cmd: 'disconnect', reasonCode: 0x8e })
  conn.end()
  await closed
  assert.deepEqual(disconnects, [0x8e])
  assert.deepEqual(errors.map((e) => e.code), ['ERR_MQTT_SESSION_TAKEN_OVER'])
})

test('over a stream, built-in persistence resends an unacknowledged QoS 1 publish from a new client after a restart', async (t) => {
  const { near, conn } = scriptedPair({ protocolVersion: 5, autoConnack: true })
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'mqtt-native-stream-persist-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const opts = { protocolVersion: 5, clientId: `stream-persist-${process.pid}`, clean: false, reconnectPeriod: 0, persistence: { dir }, properties: { sessionExpiryInterval: 3600 } }
  const first = new mqtt.MqttClient(() => near, opts)
  await waitFor(first, 'connect')
  first.publish('kept', 'across restarts', { qos: 1 })
  const sent = await conn.nextPacket('publish')
  await new Promise((resolve) => first.end(true, resolve))
  // A new client (as after a crash) over a new stream: the session from the file resends it.
  const again = scriptedPair({ protocolVersion: 5, autoConnack: { sessionPresent: true } })
  const second = new mqtt.MqttClient(() => again.near, opts)
  t.after(() => second.end(true))
  const resent = await again.conn.nextPacket('publish')
  assert.equal(resent.messageId, sent.messageId)
  assert.equal(resent.payload.toString(), 'across restarts')
  assert.equal(resent.dup, true)
})

test('a process whose client ended on the Node-stream path exits by itself', async (t) => {
  const f = await setup(t)
  if (!f) return
  const script = `
    const mqtt = require(${JSON.stringify(path.join(__dirname, '..'))})
    const net = require('node:net')
    const c = new mqtt.MqttClient(() => net.connect(${f.broker.port}, '127.0.0.1'), {})
    c.on('connect', () => c.publish('x', 'y', { qos: 1 }, () => c.end()))
  `
  const child = require('node:child_process').spawn(process.execPath, ['-e', script], { stdio: 'inherit' })
  const timer = setTimeout(() => child.kill('SIGKILL'), 10000)
  const [code, signal] = await once(child, 'exit')
  clearTimeout(timer)
  assert.equal(signal, null, 'the process had to be killed')
  assert.equal(code, 0)
})

test('socksProxy with an OpenSSL-only option: TLS by Node through SOCKS5 (with a password), SOCKS5h and SOCKS4a', async (t) => {
  const f = await setup(t)
  if (!f) return
  const { startSocksProxy } = require('./helpers/socks-proxy.js')
  const tlsOpts = { ca: f.certs.ca, cert: f.certs.client.cert, key: f.certs.client.key, ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256', maxVersion: 'TLSv1.2' }
  for (const [scheme, auth, type] of [['socks5', { username: 'u', password: 'p' }, 'ipv4'], ['socks5h', null, 'domain'], ['socks4a', null, 'domain']]) {
    const proxy = await startSocksProxy(auth ? { auth } : {})
    t.after(() => proxy.stop())
    const { lines, log } = logger()
    const credentials = auth ? `${auth.username}:${auth.password}@` : ''
    const client = mqtt.connect(`mqtts://localhost:${f.ports.tlsClientCert}`,
      { ...tlsOpts, socksProxy: `${scheme}://${credentials}127.0.0.1:${proxy.port}`, reconnectPeriod: 0, log })
    t.after(() => client.end(true))
    await waitFor(client, 'connect')
    assert.ok(lines.some((l) => l.includes('Node-stream path (ciphers)')), lines.join('\n'))
    const prefix = `stream/${process.pid}/socks-${scheme}`
    assert.deepEqual(await exchange(client, prefix), expected(prefix))
    assert.equal(proxy.requests.length, 1)
    assert.equal(proxy.requests[0].type, type)
    assert.equal(proxy.requests[0].port, f.ports.tlsClientCert)
    await client.endAsync()
  }
  // A proxy that refuses gives the native path's code.
  const refusing = await startSocksProxy({ refuse: 5 })
  t.after(() => refusing.stop())
  const client = mqtt.connect(`mqtts://localhost:${f.ports.tlsClientCert}`,
    { ...tlsOpts, socksProxy: `socks5h://127.0.0.1:${refusing.port}`, reconnectPeriod: 0 })
  const [err] = await waitFor(client, 'error')
  client.end(true)
  assert.equal(err.code, 'ERR_SOCKS_CONNECTION_REFUSED')
})

test('an ack that arrives just before the stream ends is not lost: the publish completes, then the close', async () => {
  // The broker answers the PUBLISH with PUBACK and ends its side in the same write callback,
  // while mqtt-native is still in the call that handed the PUBLISH to the stream.
  const builder = () => {
    let pending = Buffer.alloc(0)
    const d = new Duplex({
      read () {},
      write (chunk, enc, cb) {
        pending = Buffer.concat([pending, chunk])
        while (pending.length >= 2 && pending.length >= 2 + pending[1]) {
          const type = pending[0] >> 4
          const body = pending.subarray(2, 2 + pending[1])
          pending = pending.subarray(2 + pending[1])
          if (type === 1) d.push(Buffer.from([0x20, 2, 0, 0])) // CONNACK
          if (type === 3) {
            const at = 2 + body.readUInt16BE(0)
            d.push(Buffer.from([0x40, 2, body[at], body[at + 1]])) // PUBACK
            d.push(null)
          }
        }
        cb()
      }
    })
    return d
  }
  const client = new mqtt.MqttClient(builder, { reconnectPeriod: 0, protocolVersion: 4 })
  const events = []
  client.on('error', (e) => events.push(`error ${e.message}`))
  await once(client, 'connect')
  const done = new Promise((resolve) => client.publish('t', 'x', { qos: 1 }, (err) => { events.push(err ? `callback ${err.message}` : 'acked'); resolve() }))
  await done
  if (client.connected) await once(client, 'close')
  client.end(true)
  assert.deepEqual(events, ['acked'])
})

// While a plain `net` socket of the stream path is in polling mode, the driver reads its
// descriptor itself and Node's handle stops reading (src/driver/direct_reads.rs). A socket
// with a 'data' listener of the application's is left to Node. Either way the application
// must see the same: every message, and the same end of the connection.
const { track, killGroup } = require('./helpers/child.js')
const native = require('../lib/native')

/** Starts helpers/flood-broker.js (`end` or `reset`); resolves with its port. */
async function startFloodBroker (t, ending) {
  const child = require('node:child_process').spawn(process.execPath, [path.join(__dirname, 'helpers', 'flood-broker.js'), ending],
    { stdio: ['ignore', 'pipe', 'inherit'], detached: true })
  track(child)
  t.after(() => killGroup(child.pid))
  let out = ''
  for await (const chunk of child.stdout) {
    out += chunk
    const match = /PORT (\d+)/.exec(out)
    if (match) return Number(match[1])
  }
  throw new Error('the flood broker exited before listening')
}

/** The number of this process's open socket descriptors. */
function openDescriptors () {
  let sockets = 0
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:')) sockets++
    } catch {} // the directory's own descriptor, gone by now
  }
  return sockets
}

/**
 * A stream-path client of a flood broker: once its socket is read by the driver (or, with
 * `nodeReads`, after 20,000 messages) it asks the broker to stop, and collects what it sees
 * until the connection closes. With `lateReader`, the application adds a 'data' listener of
 * its own once the driver reads the socket, and asks the broker to stop 20,000 messages later.
 */
async function floodUntilClosed (t, ending, nodeReads, lateReader = false) {
  const port = await startFloodBroker(t, ending)
  const descriptors = openDescriptors()
  const reads0 = native.driverCounts().socketReads
  let socket = null
  const client = new mqtt.MqttClient(() => {
    socket = net.connect(port, '127.0.0.1')
    socket.setNoDelay(true)
    if (nodeReads) socket.on('data', () => {})
    return socket
  }, { clientId: `direct-${ending}-${nodeReads}`, reconnectPeriod: 0, keepalive: 60 })
  t.after(() => client.end(true))
  const seen = { flooded: 0, count: -1, errors: [], closes: 0, directReads: 0, lateBytes: 0 }
  let stopped = false
  let stopAt = Infinity
  const stop = () => {
    if (stopped) return
    stopped = true
    seen.directReads = native.driverCounts().socketReads - reads0
    client.publish('stop', 'now')
  }
  const timer = setInterval(() => {
    if (native.driverCounts().socketReads === reads0 || stopAt < Infinity) return
    if (!lateReader) return stop()
    seen.directReads = native.driverCounts().socketReads - reads0
    socket.on('data', (chunk) => { seen.lateBytes += chunk.length })
    stopAt = seen.flooded + 20000
  }, 5)
  t.after(() => clearInterval(timer))
  client.on('message', (topic, payload) => {
    if (topic === 'flood') {
      if (payload.readUInt32BE(0) !== seen.flooded) seen.outOfOrder = true
      seen.flooded++
      if ((nodeReads && seen.flooded === 20000) || seen.flooded === stopAt) stop()
    } else if (topic === 'count') {
      seen.count = Number(payload.toString())
    }
  })
  client.on('error', (err) => seen.errors.push(err.code))
  await new Promise((resolve) => client.on('close', () => {
    seen.closes++
    resolve()
  }))
  clearInterval(timer)
  // The driver's duplicate of the socket's descriptor is closed with the connection (the
  // polling tick's timerfd is the thread's, and no socket).
  for (let i = 0; i < 100 && openDescriptors() > descriptors; i++) await new Promise((resolve) => setTimeout(resolve, 10))
  seen.leakedDescriptors = openDescriptors() - descriptors
  return seen
}

for (const ending of ['end', 'reset']) {
  test(`a flood read by the driver from the stream's socket arrives in order, and the broker's ${ending === 'end' ? 'close after it ends it, with every message' : 'reset in its middle ends it'}, as when Node reads`, { skip: process.platform !== 'linux' && 'polling mode uses a Linux timerfd', timeout: 60000 }, async (t) => {
    const direct = await floodUntilClosed(t, ending, false)
    const node = await floodUntilClosed(t, ending, true)
    assert.ok(direct.directReads > 0, 'the driver never read the socket itself')
    assert.equal(node.directReads, 0, 'the driver read a socket the application reads too')
    for (const seen of [direct, node]) {
      if (ending === 'end') {
        assert.ok(seen.count > 0, `the last publish (the count) never arrived: ${JSON.stringify(seen)}`)
        assert.equal(seen.flooded, seen.count)
      } else {
        // A reset drops what the kernel had not delivered yet, whoever reads.
        assert.ok(seen.flooded > 0)
      }
      assert.equal(seen.outOfOrder, undefined)
      assert.equal(seen.closes, 1)
      assert.equal(seen.leakedDescriptors, 0)
    }
    if (ending === 'end') {
      assert.deepEqual(direct.errors, [])
      assert.deepEqual(node.errors, [])
      // An application that starts reading the socket itself gets the reads back at once: it
      // sees the last 20,000 messages' bytes, and the client still every message.
      const late = await floodUntilClosed(t, ending, false, true)
      assert.ok(late.directReads > 0, 'the driver never read the socket itself')
      assert.ok(late.lateBytes >= 20000 * 17, `the late 'data' listener saw ${late.lateBytes} bytes`)
      assert.equal(late.flooded, late.count)
      assert.deepEqual(late.errors, [])
    } else {
      // A reset shows as ECONNRESET, or at times as a plain close, whoever reads (MQTT.js on
      // Node's reads too: 2 of 6 runs of this flood gave no error).
      for (const seen of [direct, node]) assert.ok(seen.errors.length === 0 || String(seen.errors) === 'ECONNRESET', String(seen.errors))
    }
  })
}
