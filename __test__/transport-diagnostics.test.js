'use strict'
// Every failed connection attempt gives exactly one `error` with a stable code and a message
// that names the likely mistake and the fix (issue: transports). Certificate diagnostics are
// in transport-tls.test.js, the proxy ones in transport-nginx.test.js.

const test = require('node:test')
const assert = require('node:assert/strict')
const net = require('node:net')
const http = require('node:http')
const tls = require('node:tls')
const mqtt = require('..')
const { isRetryable } = require('../lib/options')
const { startMosquitto, requireBinary } = require('./helpers/mosquitto')
const { startAedes } = require('./helpers/aedes')
const { freePort, waitForPort } = require('./helpers/ports')
const { makeCerts, requireOpenssl, mosquittoTlsListener } = require('./helpers/certs')

/**
 * Runs `count` attempts (reconnectPeriod 20 ms) and returns the errors of each attempt: an
 * array with one array of errors per `close`.
 */
function attempts (url, opts = {}, count = 2) {
  return new Promise((resolve) => {
    const client = mqtt.connect(url, { reconnectPeriod: count > 1 ? 20 : 0, connectTimeout: 5000, ...opts })
    const perAttempt = [[]]
    client.on('error', (err) => perAttempt[perAttempt.length - 1].push(err))
    client.on('connect', () => perAttempt[perAttempt.length - 1].push(new Error('unexpectedly connected')))
    client.on('close', () => {
      if (perAttempt.length === count) {
        client.end(true)
        resolve(perAttempt)
      } else {
        perAttempt.push([])
      }
    })
  })
}

/** Asserts one error per attempt, all with `code`, each message matching every pattern. */
function assertDiagnosed (perAttempt, code, ...patterns) {
  for (const errors of perAttempt) {
    assert.equal(errors.length, 1, `exactly one error per attempt; got ${errors.map((e) => `${e.code}: ${e.message}`).join(' | ')}`)
    assert.equal(errors[0].code, code, errors[0].message)
    for (const p of patterns) assert.match(errors[0].message, p)
  }
  return perAttempt[0][0]
}

async function server (t, handler) {
  const s = net.createServer(handler)
  const sockets = new Set()
  s.on('connection', (c) => { sockets.add(c); c.on('close', () => sockets.delete(c)); c.on('error', () => {}) })
  await new Promise((resolve) => s.listen(0, '127.0.0.1', resolve))
  t.after(() => {
    for (const c of sockets) c.destroy()
    return new Promise((resolve) => s.close(resolve))
  })
  return s.address().port
}

/** An HTTP server that answers every WebSocket upgrade with `status`. */
async function httpUpgradeAnswer (t, status, headers = '') {
  const s = http.createServer((req, res) => res.writeHead(status).end())
  s.on('upgrade', (req, socket) => {
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n${headers}Content-Length: 0\r\nConnection: close\r\n\r\n`)
  })
  await new Promise((resolve) => s.listen(0, '127.0.0.1', resolve))
  t.after(() => { s.closeAllConnections(); return new Promise((resolve) => s.close(resolve)) })
  return s.address().port
}

test('a URL without a scheme throws at once, suggesting mqtt:// and ws://…/mqtt', () => {
  for (const url of ['localhost:8083', '127.0.0.1:1883']) {
    assert.throws(() => mqtt.connect(url), (err) => err.code === 'ERR_MQTT_URL_NO_SCHEME' &&
      err.message.includes(`mqtt://${url}`) && err.message.includes(`ws://${url}/mqtt`))
  }
  assert.throws(() => mqtt.connect('foo://h'), (err) => err.code === 'ERR_MQTT_URL_SCHEME')
  assert.throws(() => mqtt.connect('mqtt://h:70000'), (err) => err.code === 'ERR_MQTT_URL_PORT')
})

test('mqtt:// to an HTTP/WebSocket port gives ERR_MQTT_HTTP_PORT suggesting ws://host:port/mqtt', async (t) => {
  const aedes = await startAedes({ websockets: true })
  t.after(() => aedes.stop())
  const err = assertDiagnosed(await attempts(`mqtt://127.0.0.1:${aedes.wsPort}`), 'ERR_MQTT_HTTP_PORT',
    /answered with HTTP/, new RegExp(`ws://127\\.0\\.0\\.1:${aedes.wsPort}/mqtt`))
  assert.equal(err.port, aedes.wsPort)
  assert.equal(isRetryable(err), false)
})

test('a WebSocket upgrade answered 404 names the status and the path, and suggests /mqtt', async (t) => {
  const port = await httpUpgradeAnswer(t, 404)
  const err = assertDiagnosed(await attempts(`ws://127.0.0.1:${port}`), 'ERR_MQTT_WS_UPGRADE_REFUSED',
    /HTTP 404/, /path "\/"/, new RegExp(`try ws://127\\.0\\.0\\.1:${port}/mqtt`))
  assert.equal(isRetryable(err), false, 'a 4xx does not heal by retrying')
})

test('a WebSocket upgrade answered 401 points at wsOptions.headers', async (t) => {
  const port = await httpUpgradeAnswer(t, 401)
  assertDiagnosed(await attempts(`ws://127.0.0.1:${port}/mqtt`), 'ERR_MQTT_WS_UPGRADE_REFUSED', /HTTP 401/, /wsOptions\.headers/)
})

test('a WebSocket upgrade answered 502 by a proxy is a retryable failure saying the broker is unreachable', async (t) => {
  const port = await httpUpgradeAnswer(t, 502)
  const err = assertDiagnosed(await attempts(`ws://127.0.0.1:${port}/mqtt`), 'ERR_MQTT_WS_UPGRADE_FAILED', /HTTP 502/, /broker/)
  assert.equal(isRetryable(err), true)
})

test('a WebSocket server that does not agree to the mqtt subprotocol is named as such', async (t) => {
  const { WebSocketServer } = require('ws')
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => false })
  await new Promise((resolve) => wss.once('listening', resolve))
  t.after(() => new Promise((resolve) => { for (const c of wss.clients) c.terminate(); wss.close(resolve) }))
  assertDiagnosed(await attempts(`ws://127.0.0.1:${wss.address().port}/mqtt`), 'ERR_MQTT_WS_SUBPROTOCOL', /"mqtt" subprotocol/)
})

test('mqtts:// to a plain MQTT port gives ERR_MQTT_PLAIN_PORT suggesting mqtt://', async (t) => {
  if (!requireBinary(t, 'mosquitto')) return
  const broker = await startMosquitto()
  t.after(() => broker.stop())
  assertDiagnosed(await attempts(`mqtts://127.0.0.1:${broker.port}`), 'ERR_MQTT_PLAIN_PORT',
    /plain \(non-TLS\) port/, new RegExp(`mqtt://127\\.0\\.0\\.1:${broker.port}`))
})

test('wss:// to a plain WebSocket port gives ERR_MQTT_PLAIN_PORT suggesting ws://', async (t) => {
  const aedes = await startAedes({ websockets: true })
  t.after(() => aedes.stop())
  assertDiagnosed(await attempts(`wss://127.0.0.1:${aedes.wsPort}/mqtt`), 'ERR_MQTT_PLAIN_PORT', /ws:\/\//)
})

test('mqtt:// to mosquitto\'s TLS port gives one ECONNRESET per attempt suggesting mqtts://', async (t) => {
  if (!requireBinary(t, 'mosquitto') || !requireOpenssl(t)) return
  const tlsPort = await freePort()
  const broker = await startMosquitto({ extraConfig: mosquittoTlsListener(tlsPort, makeCerts().server) })
  t.after(() => broker.stop())
  await waitForPort(tlsPort)
  const err = assertDiagnosed(await attempts(`mqtt://127.0.0.1:${tlsPort}`, {}, 3), 'ECONNRESET',
    new RegExp(`mqtts://127\\.0\\.0\\.1:${tlsPort}`))
  assert.equal(isRetryable(err), true, 'the same code can mean a transient reset')
})

test('mqtt:// to a TLS server that answers with a TLS alert gives ERR_MQTT_TLS_PORT', async (t) => {
  // A TLS 1.2 alert record (RFC 5246 §6.2.1, §7.2): what some TLS stacks send to a non-TLS peer.
  const port = await server(t, (socket) => socket.once('data', () => socket.end(Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46]))))
  const err = assertDiagnosed(await attempts(`mqtt://127.0.0.1:${port}`), 'ERR_MQTT_TLS_PORT', /mqtts:\/\//)
  assert.equal(isRetryable(err), false)
})

test('mqtt:// to Node\'s TLS server (which closes silently) is not silent', async (t) => {
  if (!requireOpenssl(t)) return
  const certs = makeCerts()
  const s = tls.createServer({ cert: certs.server.cert, key: certs.server.key })
  s.on('tlsClientError', () => {})
  await new Promise((resolve) => s.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise((resolve) => s.close(resolve)))
  assertDiagnosed(await attempts(`mqtt://127.0.0.1:${s.address().port}`), 'ECONNRESET', /without answering CONNECT/, /mqtts:\/\//)
})

test('ws:// to a plain MQTT port gives ERR_MQTT_NOT_WEBSOCKET suggesting mqtt://', async (t) => {
  const aedes = await startAedes()
  t.after(() => aedes.stop())
  // aedes reads "GET / HTTP/1.1" as a malformed MQTT packet and closes the connection.
  assertDiagnosed(await attempts(`ws://127.0.0.1:${aedes.port}/mqtt`), 'ERR_MQTT_NOT_WEBSOCKET',
    new RegExp(`mqtt://127\\.0\\.0\\.1:${aedes.port}`))
})

test('ws:// to a TLS WebSocket port names wss://', async (t) => {
  if (!requireBinary(t, 'mosquitto') || !requireOpenssl(t)) return
  const wssPort = await freePort()
  const broker = await startMosquitto({ extraConfig: mosquittoTlsListener(wssPort, makeCerts().server, { websockets: true }) })
  t.after(() => broker.stop())
  await waitForPort(wssPort)
  assertDiagnosed(await attempts(`ws://127.0.0.1:${wssPort}/mqtt`), 'ERR_MQTT_NOT_WEBSOCKET', /wss:\/\//)
})

test('a refused connection gives ECONNREFUSED with the address, once per attempt', async (t) => {
  const port = await freePort()
  const err = assertDiagnosed(await attempts(`mqtt://127.0.0.1:${port}`, {}, 3), 'ECONNREFUSED', new RegExp(`127\\.0\\.0\\.1:${port}`))
  assert.equal(err.syscall, 'connect')
  assert.equal(isRetryable(err), true)
})

test('a name that does not resolve gives ENOTFOUND', async () => {
  // An invalid name (empty label) fails in the resolver without a DNS query leaving the machine.
  const err = assertDiagnosed(await attempts('mqtt://bad..name:1883', {}, 1), 'ENOTFOUND', /bad\.\.name/)
  assert.equal(err.syscall, 'getaddrinfo')
})

test('a connection reset by the server gives ECONNRESET', async (t) => {
  const port = await server(t, (socket) => socket.once('data', () => socket.resetAndDestroy()))
  assertDiagnosed(await attempts(`mqtt://127.0.0.1:${port}`), 'ECONNRESET')
})

test('a WebSocket server that never answers the upgrade times out with ETIMEDOUT naming connectTimeout', async (t) => {
  const port = await server(t, () => {})
  assertDiagnosed(await attempts(`ws://127.0.0.1:${port}/mqtt`, { connectTimeout: 300 }), 'ETIMEDOUT', /connectTimeout \(300 ms\)/, /\/mqtt/)
})
