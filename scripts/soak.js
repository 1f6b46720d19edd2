'use strict'
// `npm run soak -- --minutes N`: publishers and a subscriber through repeated broker restarts,
// reporting loss, duplicates and memory over time. Not part of CI.
//
//   node scripts/soak.js [--minutes N] [--publishers P] [--rate R] [--restart-every S]
//                        [--persistence on|off] [--kill] [--worker-churn on|off]
//                        [--connect-churn on|off]
//
// Starts mosquitto on a loopback port with its persistence on (autosave_interval 1), one
// subscriber (clean: false, QoS 2) and P publishers (default 2, clean: false, built-in
// persistence on by default), each publishing R messages a second (default 200), alternating
// QoS 1 and QoS 2. Every S seconds (default 20) the broker is restarted: stopped with SIGTERM
// (it saves its database), or with --kill, SIGKILL (its last second of state may be lost, which
// is then the broker's loss, not the client's). Meanwhile (both on by default) worker threads
// are started, made to receive and terminated, one after another, every third throwing from its
// `message` listener as it ends; and persistence clients connect, publish, end and are dropped,
// one after another. Prints a line every 10 s, and at the end, after waiting for stragglers:
// messages acknowledged to the publishers and never delivered (loss), QoS 1 and QoS 2
// duplicates, and over time RSS, heap, threads and open descriptors (which must stay flat under
// the churn), with the churn counts. Exits 1 on loss or a QoS 2 duplicate.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const mqtt = require('..')
const { startMosquitto, findBinary } = require('../__test__/helpers/mosquitto')
const { runOne: churnWorker } = require('../__test__/helpers/worker-churn')

function parseArgs (argv) {
  const args = { minutes: 10, publishers: 2, rate: 200, restartEvery: 20, persistence: true, kill: false, workerChurn: true, connectChurn: true }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const next = () => argv[++i]
    if (a === '--minutes') args.minutes = Number(next())
    else if (a === '--publishers') args.publishers = Number(next())
    else if (a === '--rate') args.rate = Number(next())
    else if (a === '--restart-every') args.restartEvery = Number(next())
    else if (a === '--persistence') args.persistence = next() !== 'off'
    else if (a === '--kill') args.kill = true
    else if (a === '--worker-churn') args.workerChurn = next() !== 'off'
    else if (a === '--connect-churn') args.connectChurn = next() !== 'off'
    else if (a === '--help' || a === '-h') {
      process.stdout.write(fs.readFileSync(__filename, 'utf8').split('\n').slice(1, 22).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n')
      process.exit(0)
    } else throw new Error(`unknown argument ${a} (see --help)`)
  }
  if (!(args.minutes > 0)) throw new Error('--minutes must be a positive number')
  return args
}

const mb = (bytes) => Math.round(bytes / 1048576 * 10) / 10

/** Entries of a /proc directory (threads, descriptors), or null where there is none. */
function count (dir) {
  try {
    return fs.readdirSync(dir).length
  } catch {
    return null
  }
}

async function main () {
  const args = parseArgs(process.argv.slice(2))
  if (!findBinary('mosquitto')) throw new Error('mosquitto is not installed (apt-get install mosquitto)')
  const broker = await startMosquitto({ persistence: true, extraConfig: 'autosave_interval 1' })
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-native-soak-'))
  const tag = `soak-${process.pid}`

  // Bookkeeping in flat byte arrays (one slot per message), so that it adds little to the RSS
  // being measured: got[p][i] counts deliveries, ackedBy[p][i] is 1 once the publisher's
  // callback fired.
  const cap = Math.ceil(args.rate * args.minutes * 60 * 1.2) + 1000
  const got = Array.from({ length: args.publishers }, () => new Uint8Array(cap))
  const ackedBy = Array.from({ length: args.publishers }, () => new Uint8Array(cap))
  let receivedCount = 0
  let ackedCount = 0
  let duplicates1 = 0
  let duplicates2 = 0
  const sub = mqtt.connect(broker.url, { clientId: `${tag}-sub`, clean: false, reconnectPeriod: 200 })
  sub.on('error', () => {})
  sub.on('message', (topic, payload, packet) => {
    const [p, i] = payload.toString().split(':').map(Number)
    const n = got[p][i] = Math.min(255, got[p][i] + 1)
    if (n === 1) receivedCount++
    else if (i % 2 === 1) duplicates2++
    else duplicates1++
  })
  await new Promise((resolve) => sub.once('connect', resolve))
  await sub.subscribeAsync(`${tag}/#`, { qos: 2 })

  let sent = 0
  let failed = 0
  const publishers = []
  for (let p = 0; p < args.publishers; p++) {
    const opts = { clientId: `${tag}-pub-${p}`, clean: false, reconnectPeriod: 200 }
    if (args.persistence) opts.persistence = { dir: path.join(work, 'state') }
    const client = mqtt.connect(broker.url, opts)
    client.on('error', () => {})
    publishers.push({ client, i: 0 })
  }
  const tickMs = 50
  const perTick = Math.max(1, Math.round(args.rate * tickMs / 1000))
  const pump = setInterval(() => {
    for (let p = 0; p < publishers.length; p++) {
      const pub = publishers[p]
      for (let k = 0; k < perTick && pub.i < cap; k++) {
        const i = pub.i++
        const qos = i % 2 === 0 ? 1 : 2
        sent++
        pub.client.publish(`${tag}/${p}`, `${p}:${i}:${qos}`, { qos }, (err) => {
          if (err) failed++
          else if (!ackedBy[p][i]) {
            ackedBy[p][i] = 1
            ackedCount++
          }
        })
      }
    }
  }, tickMs)

  // Churn: workers terminated while receiving, and persistence clients that connect, publish,
  // end and are dropped, each one after another, until the end.
  let churning = true
  const churn = { workers: 0, workerErrors: 0, connects: 0, connectErrors: 0 }
  const churns = []
  if (args.workerChurn) {
    churns.push((async () => {
      while (churning) {
        try {
          await churnWorker(broker.url, churn.workers)
          churn.workers++
        } catch {
          churn.workerErrors++
          await new Promise((resolve) => setTimeout(resolve, 500))
        }
      }
    })())
  }
  if (args.connectChurn) {
    churns.push((async () => {
      while (churning) {
        const client = mqtt.connect(broker.url, { clientId: `${tag}-churn`, clean: false, reconnectPeriod: 0, connectTimeout: 5000, persistence: { dir: path.join(work, 'churn') } })
        client.on('error', () => {})
        try {
          await new Promise((resolve, reject) => {
            client.once('connect', resolve)
            client.once('close', () => reject(new Error('closed')))
          })
          // A broker restart may close the connection before PUBACK; with reconnectPeriod 0 the
          // publish then waits, in the persistence log, for a next connection that this client
          // never makes (as in MQTT.js), so the close ends the wait.
          await new Promise((resolve, reject) => {
            client.publish(`${tag}-churn/t`, 'x', { qos: 1 }, (err) => err ? reject(err) : resolve())
            client.once('close', () => reject(new Error('closed before PUBACK')))
          })
          churn.connects++
        } catch {
          churn.connectErrors++
          await new Promise((resolve) => setTimeout(resolve, 200))
        }
        await client.endAsync(true).catch(() => {})
      }
    })())
  }

  const start = Date.now()
  const samples = []
  const sample = () => {
    const m = process.memoryUsage()
    const s = { minute: Math.round((Date.now() - start) / 6000) / 10, sent, acked: ackedCount, received: receivedCount, duplicates1, duplicates2, rssMb: mb(m.rss), heapMb: mb(m.heapUsed), threads: count('/proc/self/task'), fds: count('/proc/self/fd'), ...churn }
    samples.push(s)
    console.log(JSON.stringify(s))
  }
  const reporter = setInterval(sample, 10000)
  let restarts = 0
  const restarter = setInterval(async () => {
    restarts++
    if (args.kill) {
      const pid = broker.pid()
      if (pid) process.kill(pid, 'SIGKILL')
    }
    await broker.restart()
  }, args.restartEvery * 1000)

  await new Promise((resolve) => setTimeout(resolve, args.minutes * 60000))
  clearInterval(pump)
  clearInterval(restarter)
  churning = false
  await Promise.all(churns)
  // Stragglers: wait until every acknowledged message arrived, at most 60 s.
  const lost = () => {
    const labels = []
    for (let p = 0; p < args.publishers; p++) {
      for (let i = 0; i < publishers[p].i; i++) if (ackedBy[p][i] && !got[p][i]) labels.push(`${p}:${i}`)
    }
    return labels
  }
  const deadline = Date.now() + 60000
  while (lost().length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 500))
  clearInterval(reporter)
  sample()
  const missing = lost()
  const rss = samples.map((s) => s.rssMb)
  const threads = samples.map((s) => s.threads)
  const fds = samples.map((s) => s.fds)
  const summary = {
    minutes: args.minutes,
    publishers: args.publishers,
    ratePerPublisher: args.rate,
    persistence: args.persistence,
    brokerRestarts: restarts,
    brokerStop: args.kill ? 'SIGKILL' : 'SIGTERM',
    sent,
    acked: ackedCount,
    publishErrors: failed,
    received: receivedCount,
    lost: missing.length,
    lostExamples: missing.slice(0, 5),
    duplicatesQos1: duplicates1,
    duplicatesQos2: duplicates2,
    rssMbFirst: rss[0],
    rssMbMax: Math.max(...rss),
    rssMbLast: rss[rss.length - 1],
    threadsFirst: threads[0],
    threadsMax: Math.max(...threads),
    threadsLast: threads[threads.length - 1],
    fdsFirst: fds[0],
    fdsMax: Math.max(...fds),
    fdsLast: fds[fds.length - 1],
    ...churn
  }
  console.log('SUMMARY ' + JSON.stringify(summary))
  for (const pub of publishers) pub.client.end(true)
  sub.end(true)
  await broker.stop()
  fs.rmSync(work, { recursive: true, force: true })
  process.exit(missing.length || duplicates2 ? 1 : 0)
}

main().catch((err) => {
  console.error(err)
  process.exit(2)
})
