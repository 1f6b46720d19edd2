'use strict'
// wss:// through nginx terminating TLS in front of mosquitto's WebSocket listener, the way the
// classic tutorial deploys it, with the server block of examples/nginx-mqtt-wss.conf.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const mqtt = require('..')
const { startMosquitto, requireBinary } = require('./helpers/mosquitto')
const { attempt } = require('./helpers/attempt')
const { startNginx } = require('./helpers/nginx')
const { makeCerts, requireOpenssl } = require('./helpers/certs')

async function setup (t) {
  if (!requireBinary(t, 'mosquitto') || !requireBinary(t, 'nginx') || !requireOpenssl(t)) return null
  const certs = makeCerts()
  const broker = await startMosquitto({ websockets: true })
  t.after(() => broker.stop())
  const proxy = await startNginx({ upstreamPort: broker.wsPort, cert: certs.server })
  t.after(() => proxy.stop())
  return { certs, broker, proxy }
}

test('the example nginx configuration has one listen … ssl line, one location /mqtt and straight quotes', () => {
  const text = fs.readFileSync(path.join(__dirname, '..', 'examples', 'nginx-mqtt-wss.conf'), 'utf8')
  const code = text.split('\n').filter((l) => !l.trim().startsWith('#')).join('\n')
  assert.equal((code.match(/^\s*listen\s+\S+\s+ssl;/gm) || []).length, 1)
  assert.equal((code.match(/^\s*location\s/gm) || []).length, 1)
  assert.match(code, /location \/mqtt \{/)
  assert.doesNotMatch(text, /[\u2018\u2019\u201c\u201d]/)
  assert.match(code, /proxy_set_header Upgrade \$http_upgrade;/)
  assert.match(code, /proxy_set_header Connection "Upgrade";/)
})

test('wss://…/mqtt through nginx reaches mosquitto and carries messages both ways', async (t) => {
  const env = await setup(t)
  if (!env) return
  const client = mqtt.connect(env.proxy.url, { ca: env.certs.ca, reconnectPeriod: 0, connectTimeout: 5000 })
  try {
    await new Promise((resolve, reject) => { client.once('connect', resolve); client.once('error', reject) })
    await client.subscribeAsync('proxy/echo', { qos: 1 })
    const got = new Promise((resolve) => client.once('message', (topic, payload) => resolve(payload.toString())))
    await client.publishAsync('proxy/echo', 'through nginx', { qos: 1 })
    assert.equal(await got, 'through nginx')
  } finally {
    await client.endAsync()
  }
})

test('wss:// to nginx without /mqtt in the URL gives a 404 naming the path and suggesting /mqtt', async (t) => {
  const env = await setup(t)
  if (!env) return
  const r = await attempt(`wss://localhost:${env.proxy.port}`, { ca: env.certs.ca })
  assert.equal(r.connected, false)
  assert.equal(r.errors.length, 1)
  assert.equal(r.errors[0].code, 'ERR_MQTT_WS_UPGRADE_REFUSED')
  assert.match(r.errors[0].message, /HTTP 404/)
  assert.match(r.errors[0].message, /path "\/"/)
  assert.match(r.errors[0].message, new RegExp(`wss://localhost:${env.proxy.port}/mqtt`))
})

test('ws:// (no TLS) to nginx\'s TLS port names wss://', async (t) => {
  const env = await setup(t)
  if (!env) return
  const r = await attempt(`ws://localhost:${env.proxy.port}/mqtt`)
  assert.equal(r.errors.length, 1)
  // nginx answers plain HTTP on a TLS port with "400 The plain HTTP request was sent to HTTPS port".
  assert.equal(r.errors[0].code, 'ERR_MQTT_TLS_PORT')
  assert.match(r.errors[0].message, new RegExp(`wss://localhost:${env.proxy.port}/mqtt`))
})

test('with the broker down, nginx answers 502 and the error says the proxy cannot reach the broker', async (t) => {
  const env = await setup(t)
  if (!env) return
  await env.broker.stop()
  const r = await attempt(env.proxy.url, { ca: env.certs.ca })
  assert.equal(r.errors.length, 1)
  assert.equal(r.errors[0].code, 'ERR_MQTT_WS_UPGRADE_FAILED')
  assert.match(r.errors[0].message, /HTTP 502/)
  assert.match(r.errors[0].message, /broker/)
})
