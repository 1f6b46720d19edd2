'use strict'
// ws:// and wss:// against mosquitto's WebSocket listeners, aedes, and a recording WebSocket
// server in front of aedes (to see the URL, subprotocol and headers the client sends).

const test = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')
const mqtt = require('..')
const { startMosquitto, requireBinary } = require('./helpers/mosquitto')
const { attempt } = require('./helpers/attempt')
const { startAedes } = require('./helpers/aedes')
const { freePort, waitForPort } = require('./helpers/ports')
const { makeCerts, requireOpenssl, mosquittoTlsListener } = require('./helpers/certs')

/** Connects, subscribes, publishes QoS 1 and 2 and receives both back. */
async function roundTrip (url, opts) {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts })
  try {
    await new Promise((resolve, reject) => {
      client.once('connect', resolve)
      client.once('error', reject)
    })
    await client.subscribeAsync('ws/echo', { qos: 2 })
    const received = []
    const both = new Promise((resolve) => client.on('message', (topic, payload) => {
      received.push(payload.toString())
      if (received.length === 2) resolve()
    }))
    await client.publishAsync('ws/echo', 'one', { qos: 1 })
    await client.publishAsync('ws/echo', Buffer.alloc(100000, 'x'), { qos: 2 })
    await both
    assert.equal(received[0], 'one')
    assert.equal(received[1].length, 100000)
  } finally {
    await client.endAsync()
  }
}

/**
 * aedes behind a WebSocket server of our own that records each upgrade request and accepts
 * any path, answering with the subprotocol the client offered.
 */
async function recordingBroker (t, host = '127.0.0.1') {
  const { WebSocketServer, createWebSocketStream } = require('ws')
  const aedes = await startAedes()
  const requests = []
  const server = http.createServer()
  const sockets = new Set()
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)) })
  const wss = new WebSocketServer({ server, handleProtocols: (protocols) => [...protocols][0] })
  wss.on('connection', (socket, req) => {
    requests.push({ url: req.url, headers: req.headers, protocol: socket.protocol })
    const stream = createWebSocketStream(socket)
    stream.on('error', () => {})
    aedes.broker.handle(stream, req)
  })
  await new Promise((resolve, reject) => server.once('error', reject).listen(0, host, resolve))
  t.after(async () => {
    for (const c of wss.clients) c.terminate()
    for (const s of sockets) s.destroy()
    await new Promise((resolve) => server.close(resolve))
    await aedes.stop()
  })
  return { port: server.address().port, requests, dropAll: () => { for (const c of wss.clients) c.terminate() } }
}

test('ws:// to mosquitto\'s WebSocket listener carries QoS 1 and 2 messages both ways', async (t) => {
  if (!requireBinary(t, 'mosquitto')) return
  const broker = await startMosquitto({ websockets: true })
  t.after(() => broker.stop())
  await roundTrip(`${broker.wsUrl}/mqtt`, { protocolVersion: 5 })
  await roundTrip(broker.wsUrl, { protocolVersion: 4 })
})

test('ws://…/mqtt to aedes works for MQTT 3.1.1 and MQTT 3.1', async (t) => {
  const aedes = await startAedes({ websockets: true })
  t.after(() => aedes.stop())
  await roundTrip(aedes.wsUrl)
  await roundTrip(aedes.wsUrl, { protocolId: 'MQIsdp', protocolVersion: 3 })
})

test('the WebSocket request uses the URL path (default "/"), subprotocol mqtt (mqttv3.1 for MQIsdp) and wsOptions.headers', async (t) => {
  const rec = await recordingBroker(t)
  let r = await attempt(`ws://127.0.0.1:${rec.port}`)
  assert.equal(r.connected, true, r.errors.map((e) => e.message).join())
  assert.equal(rec.requests[0].url, '/')
  assert.equal(rec.requests[0].protocol, 'mqtt')
  assert.equal(r.client.options.path, '/')

  r = await attempt(`ws://127.0.0.1:${rec.port}/mqtt?token=abc`, {
    protocolId: 'MQIsdp',
    protocolVersion: 3,
    wsOptions: { headers: { Authorization: 'Bearer secret', 'X-Many': ['a', 'b'] }, origin: 'https://app.example' }
  })
  assert.equal(r.connected, true, r.errors.map((e) => e.message).join())
  const req = rec.requests[1]
  assert.equal(req.url, '/mqtt?token=abc')
  assert.equal(req.protocol, 'mqttv3.1')
  assert.equal(req.headers.authorization, 'Bearer secret')
  assert.equal(req.headers['x-many'], 'a, b')
  assert.equal(req.headers.origin, 'https://app.example')
})

test('transformWsUrl is called with (url, options, client) on every attempt and its URL is used', async (t) => {
  const rec = await recordingBroker(t)
  const calls = []
  const client = mqtt.connect(`ws://127.0.0.1:${rec.port}`, {
    reconnectPeriod: 50,
    transformWsUrl: (url, options, c) => {
      calls.push({ url, same: options === c.options })
      return `${url}mqtt?attempt=${calls.length}`
    }
  })
  t.after(() => client.end(true))
  await new Promise((resolve) => client.once('connect', resolve))
  // Drop the connection from the server side; the client reconnects through transformWsUrl.
  const reconnected = new Promise((resolve) => client.once('connect', resolve))
  rec.dropAll()
  await reconnected
  assert.ok(calls.length >= 2)
  assert.equal(calls[0].url, `ws://127.0.0.1:${rec.port}/`)
  assert.equal(calls[0].same, true)
  assert.deepEqual(rec.requests.slice(0, 2).map((r) => r.url), ['/mqtt?attempt=1', '/mqtt?attempt=2'])
})

test('an IPv6 literal host is bracketed in the WebSocket URL', async (t) => {
  let rec
  try {
    rec = await recordingBroker(t, '::1')
  } catch (err) {
    t.skip(`no IPv6 loopback here (${err.code})`)
    return
  }
  const urls = []
  const r = await attempt(`ws://[::1]:${rec.port}/mqtt`, { transformWsUrl: (url) => { urls.push(url); return url } })
  assert.equal(r.connected, true, r.errors.map((e) => e.message).join())
  assert.deepEqual(urls, [`ws://[::1]:${rec.port}/mqtt`])
  assert.equal(rec.requests[0].headers.host, `[::1]:${rec.port}`)
})

test('wss:// to mosquitto uses the top-level TLS options (ca) as MQTT.js copies them into wsOptions', async (t) => {
  if (!requireBinary(t, 'mosquitto') || !requireOpenssl(t)) return
  const certs = makeCerts()
  const wssPort = await freePort()
  const broker = await startMosquitto({ extraConfig: mosquittoTlsListener(wssPort, certs.server, { websockets: true }) })
  t.after(() => broker.stop())
  await waitForPort(wssPort)
  await roundTrip(`wss://localhost:${wssPort}/mqtt`, { ca: certs.ca })
  // The same through wsOptions, and the certificate errors of mqtts:// apply.
  const viaWsOptions = await attempt(`wss://localhost:${wssPort}/mqtt`, { wsOptions: { ca: certs.ca } })
  assert.equal(viaWsOptions.connected, true)
  const untrusted = await attempt(`wss://localhost:${wssPort}/mqtt`)
  assert.equal(untrusted.errors.length, 1)
  assert.equal(untrusted.errors[0].code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE')
  // servername is not copied from the top level for wss (as in MQTT.js): only wsOptions counts.
  const named = await attempt(`wss://127.0.0.1:${wssPort}/mqtt`, { ca: certs.ca, wsOptions: { servername: 'broker.example' } })
  assert.equal(named.errors[0] && named.errors[0].code, 'ERR_TLS_CERT_ALTNAME_INVALID')
})

test('wsOptions that change how the connection is made are taken (the Node-stream path), malformed ones refused', () => {
  // They run over Node's networking and the ws package: __test__/stream-path.test.js.
  mqtt.connect('ws://localhost:1', { wsOptions: { agent: {} }, manualConnect: true }).end(true)
  mqtt.connect('ws://localhost:1', { createWebsocket: () => null, manualConnect: true }).end(true)
  assert.throws(() => mqtt.connect('ws://localhost:1', { createWebsocket: 'nope', manualConnect: true }), TypeError)
  assert.throws(() => mqtt.connect('ws://localhost:1', { transformWsUrl: 'nope', manualConnect: true }), TypeError)
})
