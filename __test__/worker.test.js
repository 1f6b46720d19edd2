'use strict'
// The addon in worker_threads: it loads in a worker, clients in different workers are
// independent, and workers whose clients have ended exit by themselves.

const test = require('node:test')
const assert = require('node:assert/strict')
const { Worker } = require('node:worker_threads')
const { once } = require('node:events')
const path = require('node:path')
const { startMosquitto, requireBinary } = require('./helpers/mosquitto')

const entry = path.join(__dirname, '..', 'index.js')

/**
 * A worker that connects to `url`, subscribes to its own topic, publishes `count` messages to
 * it at QoS 1, and posts back what it received; it then ends its client and returns from its
 * script, so the thread must exit by itself.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const mqtt = require(workerData.entry)
const { url, topic, count } = workerData
const client = mqtt.connect(url, { reconnectPeriod: 0, clientId: 'worker-' + topic.replace(/\\W/g, '-') })
const received = []
client.on('error', (err) => parentPort.postMessage({ error: err.message }))
client.on('message', (t, payload) => {
  received.push(t + ' ' + payload.toString())
  if (received.length === count) {
    client.end(() => parentPort.postMessage({ received }))
  }
})
client.on('connect', () => {
  client.subscribe(topic, { qos: 1 }, (err) => {
    if (err) return parentPort.postMessage({ error: err.message })
    parentPort.postMessage({ subscribed: true })
  })
})
parentPort.on('message', (msg) => {
  if (msg === 'publish') {
    for (let i = 0; i < count; i++) client.publish(topic, 'm' + i, { qos: 1 })
  }
})
// Only the client may keep this thread alive: a listening port would too.
parentPort.unref()
`

function startWorker (t, workerData) {
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData })
  t.after(() => worker.terminate())
  const messages = []
  const waiters = []
  worker.on('message', (msg) => {
    messages.push(msg)
    for (const w of waiters.splice(0)) w()
  })
  const exited = once(worker, 'exit')
  /** Resolves with the first message for which `pick` returns true. */
  async function next (pick, what, timeoutMs = 10000) {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const error = messages.find((m) => m.error)
      if (error) throw new Error(`worker ${workerData.topic}: ${error.error}`)
      const found = messages.find(pick)
      if (found) return found
      if (Date.now() > deadline) throw new Error(`worker ${workerData.topic}: timed out waiting for ${what}`)
      await new Promise((resolve) => {
        waiters.push(resolve)
        setTimeout(resolve, 50)
      })
    }
  }
  return { worker, next, exited }
}

test('the addon loads in a worker thread', { timeout: 30000 }, async (t) => {
  const worker = new Worker(`
    const { parentPort, workerData } = require('node:worker_threads')
    const mqtt = require(workerData.entry)
    const client = mqtt.connect('mqtt://127.0.0.1:1', { manualConnect: true })
    parentPort.postMessage({ connect: typeof mqtt.connect, connected: client.connected })
  `, { eval: true, workerData: { entry } })
  t.after(() => worker.terminate())
  const [msg] = await once(worker, 'message')
  assert.deepEqual(msg, { connect: 'function', connected: false })
  const [code] = await once(worker, 'exit')
  assert.equal(code, 0)
})

test('two clients in two workers exchange messages independently and the workers exit cleanly', { timeout: 30000 }, async (t) => {
  if (!requireBinary(t, 'mosquitto')) return
  const broker = await startMosquitto()
  t.after(() => broker.stop())
  const count = 20
  const a = startWorker(t, { entry, url: broker.url, topic: `worker/a/${process.pid}`, count })
  const b = startWorker(t, { entry, url: broker.url, topic: `worker/b/${process.pid}`, count })
  await Promise.all([a.next((m) => m.subscribed, 'SUBACK'), b.next((m) => m.subscribed, 'SUBACK')])
  a.worker.postMessage('publish')
  b.worker.postMessage('publish')
  const [ra, rb] = await Promise.all([a.next((m) => m.received, 'the messages'), b.next((m) => m.received, 'the messages')])
  const expected = (topic) => Array.from({ length: count }, (_, i) => `${topic} m${i}`)
  assert.deepEqual(ra.received, expected(`worker/a/${process.pid}`))
  assert.deepEqual(rb.received, expected(`worker/b/${process.pid}`))
  // Nothing keeps a worker alive once its client has ended: both exit by themselves, with 0.
  const deadline = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('a worker did not exit within 5 s of ending its client')), 5000)
    timer.unref()
  })
  const [[codeA], [codeB]] = await Promise.race([Promise.all([a.exited, b.exited]), deadline])
  assert.equal(codeA, 0)
  assert.equal(codeB, 0)
})

test('terminating a worker with a connected client does not disturb a client in another worker', { timeout: 30000 }, async (t) => {
  if (!requireBinary(t, 'mosquitto')) return
  const broker = await startMosquitto()
  t.after(() => broker.stop())
  const a = startWorker(t, { entry, url: broker.url, topic: `worker/kill/${process.pid}`, count: 1 })
  const b = startWorker(t, { entry, url: broker.url, topic: `worker/live/${process.pid}`, count: 5 })
  await Promise.all([a.next((m) => m.subscribed, 'SUBACK'), b.next((m) => m.subscribed, 'SUBACK')])
  await a.worker.terminate()
  b.worker.postMessage('publish')
  const rb = await b.next((m) => m.received, 'the messages')
  assert.equal(rb.received.length, 5)
  const [code] = await b.exited
  assert.equal(code, 0)
})

test('terminating a worker whose client is still opening its connection (a TLS handshake that never ends) leaves the process healthy', { timeout: 30000 }, async (t) => {
  // A server that accepts and never answers: the TLS handshake waits on tokio while the worker goes.
  const silent = require('node:net').createServer((socket) => { socket.on('error', () => {}) })
  silent.listen(0, '127.0.0.1')
  await once(silent, 'listening')
  t.after(() => silent.close())
  const worker = new Worker(`
    const { parentPort, workerData } = require('node:worker_threads')
    const mqtt = require(workerData.entry)
    const client = mqtt.connect(workerData.url, { connectTimeout: 20000, rejectUnauthorized: false })
    client.on('error', () => {})
    parentPort.postMessage('connecting')
  `, { eval: true, workerData: { entry, url: `mqtts://127.0.0.1:${silent.address().port}` } })
  await once(worker, 'message')
  await new Promise((resolve) => setTimeout(resolve, 200))
  await worker.terminate()
  // The process goes on: a client on the main thread still works end to end.
  if (!requireBinary(t, 'mosquitto')) return
  const broker = await startMosquitto()
  t.after(() => broker.stop())
  const mqtt = require(entry)
  const client = mqtt.connect(broker.url, { reconnectPeriod: 0 })
  t.after(() => client.end(true))
  await once(client, 'connect')
  await client.subscribeAsync('worker/after', { qos: 1 })
  const got = once(client, 'message')
  client.publish('worker/after', 'still here', { qos: 1 })
  const [topic, payload] = await got
  assert.equal(`${topic} ${payload}`, 'worker/after still here')
})
