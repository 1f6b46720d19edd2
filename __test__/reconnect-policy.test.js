'use strict'
// Our opt-in reconnect policy: exponential backoff with jitter, and not retrying failures that
// retrying cannot heal. MQTT.js's fixed reconnectPeriod stays the default.

const test = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')
const mqtt = require('..')

async function httpServer (t) {
  const server = http.createServer((req, res) => res.end('hello'))
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise((resolve) => server.close(resolve)))
  return server.address().port
}

function record (client) {
  const events = []
  for (const e of ['error', 'offline', 'close', 'reconnect', 'end']) {
    client.on(e, (arg) => events.push(e === 'error' ? `error ${arg.code} retryable=${arg.retryable}` : e))
  }
  return events
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

test('with reconnectOnUnhealableError false, an HTTP port answering mqtt:// is not retried', async (t) => {
  const port = await httpServer(t)
  const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 20, reconnectOnUnhealableError: false })
  t.after(() => c.end(true))
  const events = record(c)
  await sleep(300)
  assert.deepEqual(events, ['error ERR_MQTT_HTTP_PORT retryable=false', 'close'])
  assert.equal(c.reconnecting, false)
})

test('by default (as MQTT.js) the same failure is retried every reconnectPeriod', async (t) => {
  const port = await httpServer(t)
  const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 20 })
  t.after(() => c.end(true))
  const events = record(c)
  await sleep(300)
  assert.ok(events.filter((e) => e === 'reconnect').length >= 2, events.join(', '))
})

test('transient failures stay retryable under reconnectOnUnhealableError false', async (t) => {
  const c = mqtt.connect('mqtt://127.0.0.1:1', { reconnectPeriod: 20, reconnectOnUnhealableError: false })
  t.after(() => c.end(true))
  const events = record(c)
  await sleep(200)
  assert.equal(events[0], 'error ECONNREFUSED retryable=true')
  assert.ok(events.includes('reconnect'), events.join(', '))
})

test('reconnectBackoff grows the delay by the factor up to maxDelay, and jitter only shortens it', () => {
  const c = mqtt.connect('mqtt://127.0.0.1:1', { manualConnect: true, reconnectPeriod: 100, reconnectBackoff: { factor: 2, maxDelay: 1000, jitter: 0 } })
  const delays = []
  for (let n = 0; n < 6; n++) {
    c._failedAttempts = n
    delays.push(c._reconnectDelay())
  }
  assert.deepEqual(delays, [100, 200, 400, 800, 1000, 1000])
  const jittered = mqtt.connect('mqtt://127.0.0.1:1', { manualConnect: true, reconnectPeriod: 100, reconnectBackoff: { jitter: 0.5 } })
  for (let i = 0; i < 50; i++) {
    jittered._failedAttempts = 1
    const d = jittered._reconnectDelay()
    assert.ok(d >= 100 && d <= 200, `delay ${d}`)
  }
})

test('without reconnectBackoff the delay is reconnectPeriod, every time', () => {
  const c = mqtt.connect('mqtt://127.0.0.1:1', { manualConnect: true, reconnectPeriod: 250 })
  for (let n = 0; n < 4; n++) {
    c._failedAttempts = n
    assert.equal(c._reconnectDelay(), 250)
  }
})
