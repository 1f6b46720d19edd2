'use strict'
// Worker churn, run as a child process so that a hang is a failure the parent can see (and kill)
// rather than a stuck test run:
//
//   node __test__/helpers/worker-churn.js <brokerUrl> <workers> [concurrency] [--json]
//
// Starts `workers` worker threads, `concurrency` at a time. Each connects a client to the broker,
// subscribes to a topic of its own and publishes to it without pause, so that its client is
// receiving when the main thread terminates it, after its first message and a random few
// milliseconds more. Every third worker is told first to throw from its `message` listener (so
// that the exception meets the termination). Prints one line `done <n> exited` when every worker
// has exited, then returns from the script: the process must exit by itself, which it cannot if a
// worker thread still runs.

const path = require('node:path')
const { Worker } = require('node:worker_threads')

const entry = path.join(__dirname, '..', '..', 'index.js')

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const mqtt = require(workerData.entry)
const { url, topic } = workerData
let throwing = false
let told = false
const client = mqtt.connect(url, { reconnectPeriod: 0, clientId: 'churn-' + topic.replace(/\\W/g, '-') })
client.on('error', () => {})
client.on('message', () => {
  if (!told) {
    told = true
    parentPort.postMessage('receiving')
  }
  if (throwing) throw new Error('a message listener that throws while the worker ends')
})
client.on('connect', () => {
  client.subscribe(topic, { qos: 0 }, () => {
    const payload = Buffer.alloc(256, 7)
    const burst = () => {
      if (!client.connected) return
      for (let i = 0; i < 64; i++) client.publish(topic, payload, { qos: i % 4 === 0 ? 1 : 0 })
      setImmediate(burst)
    }
    burst()
  })
})
parentPort.on('message', (msg) => { if (msg === 'throw') throwing = true })
parentPort.unref()
`

async function runOne (url, index) {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { entry, url, topic: `churn/${process.pid}/${index}` }
  })
  worker.on('error', () => {}) // the throwing ones end with their exception
  const exited = new Promise((resolve) => worker.once('exit', resolve))
  await Promise.race([new Promise((resolve) => worker.once('message', resolve)), exited])
  if (index % 3 === 0) worker.postMessage('throw')
  await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 15)))
  await worker.terminate()
  await exited
}

async function main () {
  const [url, countText, concurrencyText] = process.argv.slice(2)
  const count = Number(countText)
  const concurrency = Number(concurrencyText || 8)
  let next = 0
  let exited = 0
  const lane = async () => {
    while (next < count) {
      const index = next++
      await runOne(url, index)
      exited++
    }
  }
  await Promise.all(Array.from({ length: concurrency }, lane))
  process.stdout.write(`done ${exited} exited\n`)
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`${err && err.stack}\n`)
    process.exitCode = 1
  })
}

module.exports = { runOne }
