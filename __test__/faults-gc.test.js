'use strict'
// Issue 18, item 2: ownership the garbage collector can finish. Ended persistence clients are
// collected and give back their descriptors and threads; a persistence client dropped without
// end() is finalized (writer thread stopped, lock released), so its clientId can be used again.
// Runs a child node with --expose-gc, bounded in time.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { startMosquitto, requireBinary } = require('./helpers/mosquitto')
const { runNode } = require('./helpers/child')

const script = path.join(__dirname, 'helpers', 'gc-clients.js')

test('ended persistence clients are collected and descriptors return to the baseline; a dropped one frees its clientId', { timeout: 120000 }, async (t) => {
  if (process.platform !== 'linux') return t.skip('counts descriptors in /proc/self/fd')
  if (!requireBinary(t, 'mosquitto')) return
  const broker = await startMosquitto()
  t.after(() => broker.stop())
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-native-gc-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const cycles = 30
  const result = await runNode(['--expose-gc', script, broker.url, dir, String(cycles)], { timeoutMs: 90000 })
  assert.equal(result.timedOut, false, `the child did not finish within 90 s: ${result.stdout}\n${result.stderr.slice(-2000)}`)
  assert.equal(result.code, 0, result.stderr.slice(-2000))
  const seen = JSON.parse(result.stdout.trim().split('\n').pop())
  assert.equal(seen.ended.fds, seen.baseline.fds, `descriptors: ${seen.baseline.fds} before, ${seen.ended.fds} held by ${cycles} ended clients not yet collected`)
  assert.equal(seen.ended.threads, seen.baseline.threads, `threads: ${seen.baseline.threads} before, ${seen.ended.threads} held by ${cycles} ended clients not yet collected`)
  assert.equal(seen.finalized, cycles, `only ${seen.finalized} of ${cycles} ended clients were collected`)
  assert.equal(seen.after.fds, seen.baseline.fds, `descriptors: ${seen.baseline.fds} before, ${seen.after.fds} after ${cycles} ended clients`)
  assert.equal(seen.after.threads, seen.baseline.threads, `threads: ${seen.baseline.threads} before, ${seen.after.threads} after`)
  assert.equal(seen.droppedCollected, true, 'a persistence client dropped without end() was never finalized')
  assert.deepEqual(seen.reused, { restored: 1 }, 'a new client with the dropped one\'s clientId opens its log and takes back its pending publish')
})

test('a persistence client dropped in a worker without end() releases its log when the worker exits', { timeout: 60000 }, async (t) => {
  if (!requireBinary(t, 'mosquitto')) return
  const { Worker } = require('node:worker_threads')
  const mqtt = require('..')
  const broker = await startMosquitto()
  t.after(() => broker.stop())
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-native-gc-worker-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const clientId = `gc-worker-${process.pid}`
  // The worker's client loses its connection with a publish unacknowledged, and the worker's
  // script ends without end(): the worker exits, and its environment finalizes the client.
  const worker = new Worker(`
    const { workerData } = require('node:worker_threads')
    const mqtt = require(workerData.entry)
    const c = mqtt.connect(workerData.url, { clientId: workerData.clientId, clean: false, reconnectPeriod: 0, persistence: { dir: workerData.dir } })
    c.on('error', () => {})
    c.on('connect', () => {
      c.publish('gc/worker', 'pending', { qos: 1 })
      c.stream.destroy()
    })
  `, { eval: true, workerData: { entry: path.join(__dirname, '..'), url: broker.url, dir, clientId } })
  t.after(() => worker.terminate())
  const [code] = await Promise.race([
    new Promise((resolve) => worker.once('exit', (c) => resolve([c]))),
    new Promise((resolve, reject) => setTimeout(() => reject(new Error('the worker did not exit within 20 s')), 20000).unref())
  ])
  assert.equal(code, 0)
  const again = mqtt.connect(broker.url, { clientId, clean: false, reconnectPeriod: 0, persistence: { dir } })
  t.after(() => again.end(true))
  assert.deepEqual(again._persist.restored, { outgoing: 1, incoming: 0 })
  await new Promise((resolve, reject) => {
    again.once('connect', resolve)
    again.once('error', reject)
  })
})
