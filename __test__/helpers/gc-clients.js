'use strict'
// Run with --expose-gc as a child process (the parent bounds its time):
//
//   node --expose-gc __test__/helpers/gc-clients.js <brokerUrl> <dir> <cycles>
//
// 1. `cycles` times: a client with built-in persistence connects, publishes at QoS 1 and QoS 2,
//    ends and is dropped. Right after (before any collection) the open descriptors and threads
//    must be what they were before; once the garbage collector has run, every client must have
//    been finalized (FinalizationRegistry), and descriptors and threads still the same.
// 2. A persistence client that connected and lost its connection is dropped without end(); once
//    collected, a new client with the same clientId and directory opens the same log (the old
//    one's lock is released, its writer thread stopped) and connects.
// Prints one JSON line with what it saw.

const fs = require('node:fs')
const mqtt = require('../..')

const [url, dir, cyclesText] = process.argv.slice(2)
const cycles = Number(cyclesText)
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function fds () {
  return fs.readdirSync('/proc/self/fd').length
}

function threads () {
  return fs.readdirSync('/proc/self/task').length
}

/** Collects garbage until `done()` or 100 rounds; returns whether `done()` became true. */
async function collectUntil (done) {
  for (let i = 0; i < 100; i++) {
    global.gc()
    await sleep(20)
    if (done()) return true
  }
  return false
}

function connected (client) {
  return new Promise((resolve, reject) => {
    client.once('connect', resolve)
    client.once('error', reject)
  })
}

async function main () {
  let finalized = 0
  const registry = new FinalizationRegistry(() => { finalized++ })
  const options = (clientId) => ({ clientId, clean: false, reconnectPeriod: 0, persistence: { dir } })

  // A first cycle warms up what is made once per process (the runtime, the libuv handles).
  const warm = mqtt.connect(url, options(`gc-warm-${process.pid}`))
  await connected(warm)
  await warm.publishAsync('gc/warm', 'x', { qos: 1 })
  await warm.endAsync()
  await collectUntil(() => false).catch(() => {})
  const baseline = { fds: fds(), threads: threads() }

  // One function per cycle, so that no frame of this one keeps the last client.
  const cycle = async (i) => {
    const client = mqtt.connect(url, options(`gc-${process.pid}-${i}`))
    registry.register(client, i)
    await connected(client)
    await client.publishAsync('gc/cycle', `m${i}`, { qos: 1 })
    await client.publishAsync('gc/cycle', `m${i}`, { qos: 2 })
    await client.endAsync()
  }
  for (let i = 0; i < cycles; i++) await cycle(i)
  // An ended client holds nothing, even before it is collected.
  await sleep(50)
  const ended = { fds: fds(), threads: threads() }
  const allCollected = await collectUntil(() => finalized === cycles)
  await sleep(100)
  const after = { fds: fds(), threads: threads() }

  // A client dropped without end(), after its connection was lost.
  const clientId = `gc-dropped-${process.pid}`
  let droppedFinalized = false
  const dropped = new FinalizationRegistry(() => { droppedFinalized = true })
  await (async () => {
    const client = mqtt.connect(url, options(clientId))
    client.on('error', () => {})
    dropped.register(client, 'dropped')
    await connected(client)
    await client.publishAsync('gc/dropped', 'kept', { qos: 1 })
    client.publish('gc/dropped', 'pending', { qos: 1 })
    const closed = new Promise((resolve) => client.once('close', resolve))
    client.stream.destroy() // the connection is lost; reconnectPeriod 0: no retry
    await closed
  })()
  const droppedCollected = await collectUntil(() => droppedFinalized)
  let reused = null
  try {
    const again = mqtt.connect(url, options(clientId))
    await connected(again)
    reused = { restored: again._persist ? again._persist.restored.outgoing : null }
    await again.endAsync()
  } catch (err) {
    reused = { error: err.message }
  }
  process.stdout.write(JSON.stringify({ cycles, finalized, allCollected, baseline, ended, after, droppedCollected, reused }) + '\n')
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack}\n`)
  process.exitCode = 1
})
