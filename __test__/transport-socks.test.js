'use strict'
// socksProxy (and MQTTJS_SOCKS_PROXY): mqtt:// and mqtts:// to mosquitto through a SOCKS5,
// SOCKS5h, SOCKS4 or SOCKS4a proxy written for the tests (helpers/socks-proxy.js), which
// records whether it was asked for a host name or an IP address.

const test = require('node:test')
const assert = require('node:assert/strict')
const net = require('node:net')
const path = require('node:path')
const { execFile } = require('node:child_process')
const mqtt = require('..')
const { startMosquitto, requireBinary } = require('./helpers/mosquitto')
const { attempt, roundTrip: echo } = require('./helpers/attempt')

/** The QoS 1 round trip of these tests. */
const roundTrip = (url, opts) => echo(url, opts, 'socks/echo', 'through the proxy')
const { freePort, waitForPort } = require('./helpers/ports')
const { makeCerts, requireOpenssl, mosquittoTlsListener } = require('./helpers/certs')
const { startSocksProxy } = require('./helpers/socks-proxy')

let brokerPromise = null
/** One mosquitto (plain TCP, WebSocket and, with openssl, a TLS listener) for the whole file. */
async function broker (t) {
  if (!requireBinary(t, 'mosquitto')) return null
  if (!brokerPromise) {
    brokerPromise = (async () => {
      const withTls = requireOpenssl({ skip () {} })
      const certs = withTls ? makeCerts() : null
      const tlsPort = withTls ? await freePort() : null
      const b = await startMosquitto({
        websockets: true,
        extraConfig: withTls ? mosquittoTlsListener(tlsPort, certs.server) : []
      })
      if (withTls) await waitForPort(tlsPort)
      await waitForPort(b.wsPort)
      return { ...b, tlsPort, certs }
    })()
  }
  return brokerPromise
}
test.after(async () => {
  if (brokerPromise) await (await brokerPromise).stop()
})

async function proxy (t, opts) {
  const p = await startSocksProxy(opts)
  t.after(() => p.stop())
  return p
}

test('mqtt:// through socks5://: the host name is resolved here, the proxy gets an IP address', async (t) => {
  const b = await broker(t)
  if (!b) return
  const p = await proxy(t)
  await roundTrip(`mqtt://localhost:${b.port}`, { socksProxy: `socks5://127.0.0.1:${p.port}` })
  assert.equal(p.requests.length, 1)
  assert.equal(p.requests[0].version, 5)
  assert.notEqual(p.requests[0].type, 'domain')
  assert.ok(net.isIP(p.requests[0].host), p.requests[0].host)
  assert.equal(p.requests[0].port, b.port)
})

test('mqtt:// through socks5h://: the proxy resolves the host name (it sees "localhost")', async (t) => {
  const b = await broker(t)
  if (!b) return
  const p = await proxy(t)
  await roundTrip(`mqtt://localhost:${b.port}`, { socksProxy: `socks5h://127.0.0.1:${p.port}` })
  assert.deepEqual(p.requests.map((r) => [r.version, r.type, r.host, r.port]), [[5, 'domain', 'localhost', b.port]])
})

test('socks4:// sends an IPv4 address, socks4a:// the host name, both with the user id', async (t) => {
  const b = await broker(t)
  if (!b) return
  const p = await proxy(t, { userId: 'mqtt-user' })
  await roundTrip(`mqtt://localhost:${b.port}`, { socksProxy: `socks4://mqtt-user@127.0.0.1:${p.port}` })
  await roundTrip(`mqtt://localhost:${b.port}`, { socksProxy: `socks4a://mqtt-user@127.0.0.1:${p.port}` })
  assert.deepEqual(p.requests.map((r) => [r.version, r.type, r.host, r.userId]), [
    [4, 'ipv4', '127.0.0.1', 'mqtt-user'],
    [4, 'domain', 'localhost', 'mqtt-user']
  ])
  // A wrong user id is refused by the proxy with SOCKS4 reply 93.
  const wrong = await attempt(`mqtt://localhost:${b.port}`, { socksProxy: `socks4a://someone@127.0.0.1:${p.port}` })
  assert.equal(wrong.connected, false)
  assert.deepEqual(wrong.errors.map((e) => e.code), ['ERR_SOCKS_AUTH_FAILED'])
  assert.match(wrong.errors[0].message, /reply 93/)
})

test('socks5://user:password@ authenticates; a wrong or missing password is one clear error', async (t) => {
  const b = await broker(t)
  if (!b) return
  const p = await proxy(t, { auth: { username: 'alice', password: 'p@ss:word' } })
  await roundTrip(`mqtt://localhost:${b.port}`, { socksProxy: `socks5h://alice:${encodeURIComponent('p@ss:word')}@127.0.0.1:${p.port}` })
  assert.equal(p.requests[0].username, 'alice')

  const wrong = await attempt(`mqtt://localhost:${b.port}`, { socksProxy: `socks5h://alice:nope@127.0.0.1:${p.port}` })
  assert.equal(wrong.connected, false)
  assert.deepEqual(wrong.errors.map((e) => e.code), ['ERR_SOCKS_AUTH_FAILED'])
  assert.match(wrong.errors[0].message, new RegExp(`socks5h://127\\.0\\.0\\.1:${p.port}`))
  assert.doesNotMatch(wrong.errors[0].message, /nope/, 'the password is not shown')

  const missing = await attempt(`mqtt://localhost:${b.port}`, { socksProxy: `socks5h://127.0.0.1:${p.port}` })
  assert.deepEqual(missing.errors.map((e) => e.code), ['ERR_SOCKS_AUTH_REQUIRED'])
  assert.match(missing.errors[0].message, /user:password@/)
})

test('mqtts:// through socks5:// and socks5h:// verifies the broker certificate over the proxy', async (t) => {
  const b = await broker(t)
  if (!b) return
  if (!b.tlsPort) return t.skip('openssl not installed')
  const p = await proxy(t)
  await roundTrip(`mqtts://127.0.0.1:${b.tlsPort}`, { ca: b.certs.ca, socksProxy: `socks5://127.0.0.1:${p.port}` })
  await roundTrip(`mqtts://localhost:${b.tlsPort}`, { ca: b.certs.ca, socksProxy: `socks5h://127.0.0.1:${p.port}` })
  assert.deepEqual(p.requests.map((r) => [r.type, r.host]), [['ipv4', '127.0.0.1'], ['domain', 'localhost']])
  // Without the CA the certificate error is the same as without a proxy.
  const r = await attempt(`mqtts://localhost:${b.tlsPort}`, { socksProxy: `socks5h://127.0.0.1:${p.port}` })
  assert.equal(r.connected, false)
  assert.equal(r.errors.length, 1)
  assert.match(r.errors[0].message, /\bca\b/)
})

test('MQTTJS_SOCKS_PROXY is used for mqtt:// when socksProxy is not given, and not for ws://', async (t) => {
  const b = await broker(t)
  if (!b) return
  const p = await proxy(t)
  const script = `
    const mqtt = require(${JSON.stringify(path.join(__dirname, '..'))})
    const once = (url) => new Promise((resolve) => {
      const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000 })
      c.once('connect', () => { c.end(); resolve('connected') })
      c.once('error', (e) => { c.end(true); resolve(e.code) })
    })
    ;(async () => {
      const results = [await once('mqtt://localhost:${b.port}'), await once('ws://localhost:${b.wsPort}')]
      process.stdout.write(JSON.stringify(results))
    })()`
  const out = await new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', script], {
      env: { ...process.env, MQTTJS_SOCKS_PROXY: `socks5h://127.0.0.1:${p.port}` },
      timeout: 20000
    }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)))
  })
  assert.deepEqual(JSON.parse(out), ['connected', 'connected'])
  assert.deepEqual(p.requests.map((r) => [r.host, r.port]), [['localhost', b.port]])
})

test('a SOCKS proxy that is down gives one ECONNREFUSED naming the proxy', async () => {
  const dead = await freePort()
  const r = await attempt('mqtt://localhost:1883', { socksProxy: `socks5://127.0.0.1:${dead}` })
  assert.equal(r.connected, false)
  assert.deepEqual(r.errors.map((e) => e.code), ['ECONNREFUSED'])
  assert.match(r.errors[0].message, new RegExp(`SOCKS proxy socks5://127\\.0\\.0\\.1:${dead}`))
  assert.match(r.errors[0].message, /MQTTJS_SOCKS_PROXY/)
})

test('a proxy that refuses the target gives the SOCKS reply as the error', async (t) => {
  const p5 = await proxy(t, { refuse: 5 })
  const r5 = await attempt('mqtt://localhost:1883', { socksProxy: `socks5h://127.0.0.1:${p5.port}` })
  assert.equal(r5.connected, false)
  assert.deepEqual(r5.errors.map((e) => e.code), ['ERR_SOCKS_CONNECTION_REFUSED'])
  assert.match(r5.errors[0].message, /could not connect to localhost:1883: connection refused \(SOCKS5 reply 5\)/)
  const p4 = await proxy(t, { refuse: 4 })
  const r4 = await attempt('mqtt://localhost:1883', { socksProxy: `socks5h://127.0.0.1:${p4.port}` })
  assert.deepEqual(r4.errors.map((e) => e.code), ['ERR_SOCKS_HOST_UNREACHABLE'])
  const p91 = await proxy(t, { refuse: 91 })
  const r91 = await attempt('mqtt://localhost:1883', { socksProxy: `socks4a://127.0.0.1:${p91.port}` })
  assert.deepEqual(r91.errors.map((e) => e.code), ['ERR_SOCKS_REJECTED'])
  assert.match(r91.errors[0].message, /request rejected or failed \(SOCKS4 reply 91\)/)
})

test('socksTimeout bounds a proxy that never answers: ETIMEDOUT naming the proxy', async (t) => {
  const silent = net.createServer((socket) => socket.on('error', () => {}))
  const sockets = new Set()
  silent.on('connection', (s) => sockets.add(s))
  await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.after(() => {
    for (const s of sockets) s.destroy()
    silent.close()
  })
  const { port } = silent.address()
  const started = Date.now()
  const r = await attempt('mqtt://localhost:1883', { socksProxy: `socks5://127.0.0.1:${port}`, socksTimeout: 200 })
  assert.ok(Date.now() - started < 3000)
  assert.deepEqual(r.errors.map((e) => e.code), ['ETIMEDOUT'])
  assert.match(r.errors[0].message, new RegExp(`socks5://127\\.0\\.0\\.1:${port}.*socksTimeout \\(200 ms\\)`))
})

test('a bad socksProxy URL throws synchronously; unix sockets and ws:// ignore socksProxy', () => {
  const cases = [
    ['http://127.0.0.1:3128', /Unsupported SOCKS proxy scheme "http".*socks5h:\/\//],
    ['socks5://127.0.0.1', /has no port: write socks5:\/\/127\.0\.0\.1:1080/],
    ['socks4://user:pass@127.0.0.1:1080', /SOCKS4 has no password/],
    ['socks5://127.0.0.1:1080/path', /must not have a path/],
    ['not a url', /Invalid SOCKS proxy URL/]
  ]
  for (const [socksProxy, message] of cases) {
    assert.throws(() => mqtt.connect('mqtt://localhost:1883', { socksProxy }), (err) => {
      assert.equal(err.code, 'ERR_MQTT_SOCKS_URL')
      assert.match(err.message, message)
      return true
    })
  }
  assert.throws(() => mqtt.connect('mqtt://localhost:1883', { socksProxy: 'socks5://127.0.0.1:1080', socksTimeout: -1 }), { code: 'ERR_MQTT_SOCKS_OPTIONS' })
  // As in MQTT.js: the proxy is not used (nor checked) for unix sockets and WebSocket.
  for (const [url, opts] of [['mqtt+unix:///tmp/nowhere.sock', {}], ['ws://localhost:1/mqtt', {}]]) {
    const client = mqtt.connect(url, { ...opts, socksProxy: 'http://proxy:3128', reconnectPeriod: 0, manualConnect: true })
    assert.equal(client.options.socksProxy, url.includes('unix') ? undefined : 'http://proxy:3128')
    client.end(true)
  }
})
