'use strict'
// Plain transports: unix sockets against mosquitto, and `servers` failover in rotation.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const mqtt = require('..')
const { startMosquitto, requireBinary } = require('./helpers/mosquitto')
const { freePort } = require('./helpers/ports')

async function waitForFile (file, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs
  while (!fs.existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`${file} did not appear`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

test('mqtt+unix:// and unixSocket: true reach mosquitto on a unix socket', async (t) => {
  if (!requireBinary(t, 'mosquitto')) return
  if (process.platform === 'win32') return t.skip('no unix sockets')
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'mqtt-native-unix-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const sock = path.join(dir, 'mqtt.sock')
  const broker = await startMosquitto({ extraConfig: [`listener 0 ${sock}`] })
  t.after(() => broker.stop())
  await waitForFile(sock)
  for (const [url, opts] of [[`mqtt+unix://${sock}`, {}], [null, { unixSocket: true, path: sock, protocol: 'mqtt' }]]) {
    const client = url ? mqtt.connect(url, { reconnectPeriod: 0, ...opts }) : mqtt.connect({ reconnectPeriod: 0, ...opts })
    try {
      await new Promise((resolve, reject) => { client.once('connect', resolve); client.once('error', reject) })
      await client.subscribeAsync('unix/echo', { qos: 1 })
      const got = new Promise((resolve) => client.once('message', (topic, payload) => resolve(payload.toString())))
      await client.publishAsync('unix/echo', 'over a unix socket', { qos: 1 })
      assert.equal(await got, 'over a unix socket')
    } finally {
      await client.endAsync()
    }
  }
})

test('a unix socket path that does not exist gives ENOENT naming the path', async () => {
  const missing = path.join(require('node:os').tmpdir(), `mqtt-native-missing-${process.pid}.sock`)
  const client = mqtt.connect(`mqtt+unix://${missing}`, { reconnectPeriod: 0 })
  const err = await new Promise((resolve) => client.once('error', resolve))
  client.end(true)
  assert.equal(err.code, 'ENOENT')
  assert.match(err.message, new RegExp(missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
})

test('servers: a dead entry then a live one gives one ECONNREFUSED, then connects to the second', async (t) => {
  if (!requireBinary(t, 'mosquitto')) return
  const broker = await startMosquitto()
  t.after(() => broker.stop())
  const dead = await freePort()
  const client = mqtt.connect({
    servers: [{ host: '127.0.0.1', port: dead }, { host: '127.0.0.1', port: broker.port }],
    reconnectPeriod: 50
  })
  t.after(() => client.end(true))
  const errors = []
  client.on('error', (err) => errors.push(err))
  await new Promise((resolve) => client.once('connect', resolve))
  assert.deepEqual(errors.map((e) => e.code), ['ECONNREFUSED'])
  assert.equal(client.options.port, broker.port)
  assert.equal(client.options.hostname, '127.0.0.1')
})

test('servers may mix transports: a dead mqtts:// entry, then a live ws:// one', async (t) => {
  if (!requireBinary(t, 'mosquitto')) return
  const broker = await startMosquitto({ websockets: true })
  t.after(() => broker.stop())
  const dead = await freePort()
  const client = mqtt.connect({
    servers: [{ host: '127.0.0.1', port: dead, protocol: 'mqtts' }, { host: '127.0.0.1', port: broker.wsPort, protocol: 'ws' }],
    reconnectPeriod: 50
  })
  t.after(() => client.end(true))
  const errors = []
  client.on('error', (err) => errors.push(err))
  await new Promise((resolve) => client.once('connect', resolve))
  assert.deepEqual(errors.map((e) => e.code), ['ECONNREFUSED'])
  assert.equal(client.options.protocol, 'ws')
})
