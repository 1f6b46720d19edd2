'use strict'
// Run with --expose-gc as a child process:
//
//   node --expose-gc __test__/helpers/large-packet.js <brokerUrl> <mebibytes>
//
// A connected client publishes one message of <mebibytes> MiB at QoS 1 to a topic it subscribes
// to, and receives it. Prints one JSON line of resident set sizes in bytes: `baseline` (connected,
// idle, before), `peak` (sampled while the message travels), `held` (connected, once the message
// was delivered and acknowledged and the application dropped it, before a collection) and `after`
// (still connected, after garbage collection).

const fs = require('node:fs')
const mqtt = require('../..')

const [url, mibText] = process.argv.slice(2)
const size = Number(mibText) * 1024 * 1024
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function rss () {
  // /proc/self/statm: resident pages, second field.
  const pages = Number(fs.readFileSync('/proc/self/statm', 'utf8').split(' ')[1])
  return pages * 4096
}

async function settle () {
  for (let i = 0; i < 5; i++) {
    global.gc()
    await sleep(30)
  }
}

async function main () {
  const client = mqtt.connect(url, { reconnectPeriod: 0, maxIncomingPacketSize: size + 1024 * 1024 })
  await new Promise((resolve, reject) => {
    client.once('connect', resolve)
    client.once('error', reject)
  })
  const topic = `large/${process.pid}`
  await client.subscribeAsync(topic, { qos: 1 })
  // Warm up the paths a small message takes.
  const small = new Promise((resolve) => client.once('message', resolve))
  await client.publishAsync(topic, 'warm', { qos: 1 })
  await small
  await settle()
  const baseline = rss()
  let peak = baseline
  const sampler = setInterval(() => { peak = Math.max(peak, rss()) }, 5)
  await (async () => {
    if (process.env.LARGE_ONLY === 'publish') {
      await client.publishAsync(topic + '/nobody', Buffer.alloc(size, 1), { qos: 1 })
      return
    }
    const received = new Promise((resolve) => client.once('message', (t, payload) => resolve(payload.length)))
    await client.publishAsync(topic, Buffer.alloc(size, 1), { qos: 1 })
    const length = await received
    if (length !== size) throw new Error(`received ${length} bytes, sent ${size}`)
  })()
  await sleep(50)
  clearInterval(sampler)
  peak = Math.max(peak, rss())
  const held = rss()
  await settle()
  const after = rss()
  process.stdout.write(JSON.stringify({ size, baseline, peak, held, after, connected: client.connected }) + '\n')
  await client.endAsync()
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack}\n`)
  process.exitCode = 1
})
