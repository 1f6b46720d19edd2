'use strict'
// One benchmark run in a fresh process:
//
//   node [--expose-gc] bench/worker.js <lib> <case> '<json params>'
//
// <lib> is `mqtt` (MQTT.js from node_modules) or `mqtt-native` (this package; the addon comes from
// NAPI_RS_NATIVE_LIBRARY_PATH when set). Prints one line `RESULT {json}` on stdout and exits.
// The same code drives both libraries, through the API they share.

const path = require('node:path')
const fs = require('node:fs')
const { spawn } = require('node:child_process')
const { snapshot, throughput, percentile, round, settleGc } = require('./measure.js')

const ROOT = path.join(__dirname, '..')
const [libName, caseName, paramsJson] = process.argv.slice(2)
const params = JSON.parse(paramsJson || '{}')

let requireMs = null
/** Loads the library under test, timing the `require`. */
function loadLib () {
  const t0 = process.hrtime.bigint()
  const lib = libName === 'mqtt' ? require('mqtt') : require(ROOT)
  requireMs = Number(process.hrtime.bigint() - t0) / 1e6
  return lib
}

/** The native addon this process mapped (to prove which build was measured). */
function loadedAddon () {
  if (libName === 'mqtt') return undefined
  try {
    const maps = fs.readFileSync('/proc/self/maps', 'utf8')
    const m = maps.match(/\s(\/\S+\.node)\n/)
    return m ? m[1] : undefined
  } catch {
    return undefined
  }
}

function done (result) {
  const out = { lib: libName, case: caseName, ...result }
  const addon = loadedAddon()
  if (addon) out.addon = addon
  process.stdout.write('RESULT ' + JSON.stringify(out) + '\n', () => process.exit(0))
}

function fail (err) {
  process.stdout.write('RESULT ' + JSON.stringify({ lib: libName, case: caseName, error: String(err && err.stack ? err.stack : err) }) + '\n', () => process.exit(1))
}
process.on('uncaughtException', fail)
process.on('unhandledRejection', fail)

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * With `params.streamBuilder`: MQTT.js's `new MqttClient(streamBuilder, options)` over a `net`
 * socket to `url`'s host and port (Nagle off for both libraries), which puts mqtt-native on its
 * Node-stream path.
 */
function streamClient (mqtt, url, options) {
  const { hostname, port } = new URL(url)
  return new mqtt.MqttClient(() => {
    const socket = require('node:net').connect(Number(port), hostname)
    socket.setNoDelay(true)
    return socket
  }, options)
}

/** Connects and resolves on the first `connect`; rejects on `error` or after `timeoutMs`. */
function open (mqtt, url, opts = {}, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const options = { reconnectPeriod: 0, ...params.clientOpts, ...opts }
    const client = params.streamBuilder ? streamClient(mqtt, url, options) : mqtt.connect(url, options)
    const timer = setTimeout(() => { client.end(true); reject(new Error(`no CONNACK from ${url} within ${timeoutMs} ms`)) }, timeoutMs)
    client.once('connect', () => { clearTimeout(timer); resolve(client) })
    client.once('error', (err) => { clearTimeout(timer); client.end(true); reject(err) })
  })
}

function subscribe (client, topic, qos) {
  return new Promise((resolve, reject) => {
    client.subscribe(topic, { qos }, (err, granted) => (err ? reject(err) : resolve(granted)))
  })
}

/**
 * Measures deliveries counted by `counter()` between `warmMs` and `warmMs + measureMs` after
 * now. Resolves with the throughput figures.
 */
async function window (counter, warmMs, measureMs) {
  await sleep(warmMs)
  const c0 = counter()
  const a = snapshot(params.peerPid)
  await sleep(measureMs)
  const c1 = counter()
  const b = snapshot(params.peerPid)
  if (c1 - c0 <= 0) throw new Error(`nothing was delivered in the ${measureMs} ms window`)
  return throughput(a, b, c1 - c0)
}

/**
 * The publisher's options: with `params.persist`, a `clean: false` session and, for mqtt-native,
 * its built-in persistence in a fresh temporary directory (MQTT.js has none; it runs the same
 * session without it, so the figure is mqtt-native with persistence against MQTT.js without).
 */
function publisherOpts (clientId) {
  if (!params.persist) return { clientId }
  const opts = { clientId, clean: false }
  if (libName !== 'mqtt') {
    const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'mqtt-native-bench-'))
    process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }))
    opts.persistence = { dir }
  }
  return opts
}

/**
 * With `params.trace` (mqtt-native only; MQTT.js has no channels and runs the case as it is): a
 * subscriber on every diagnostics channel and tracing channel, as an APM instrumentation attaches
 * one, counting what it sees. Compare with the same case without it for the cost of tracing.
 */
function attachTracing () {
  if (!params.trace || libName === 'mqtt') return
  const dc = require('node:diagnostics_channel')
  let seen = 0
  const count = () => { seen++ }
  for (const name of ['connect', 'publish', 'message', 'close']) dc.subscribe(`mqtt-native:${name}`, count)
  if (typeof dc.tracingChannel === 'function') {
    for (const op of ['publish', 'subscribe']) {
      dc.tracingChannel(`mqtt-native:${op}`).subscribe({ start: count, end: count, asyncStart: count, asyncEnd: count, error: count })
    }
  }
  process.on('exit', () => { if (seen === 0) process.stderr.write('tracing: no channel message was seen\n') })
}
attachTracing()

const cases = {
  /** Whether the library can connect to `url` (used to detect ws support). */
  async probe (mqtt) {
    const client = await open(mqtt, params.url, {}, params.timeoutMs || 5000)
    client.end(true)
    return { ok: true }
  },

  /**
   * Publishes through the broker to a subscriber in the same process. The publisher keeps at
   * most `window` messages between publish and delivery, topping up from the `message` handler,
   * and, when `inflight` > 0, at most `inflight` publishes unacknowledged (counted with publish
   * callbacks): mosquitto 2.0.11 strands QoS 2 messages that a 3.1.1 client sends beyond its
   * receive maximum of 20 (the publisher gets PUBCOMP, the subscriber never gets the message),
   * and MQTT.js, which has no flow control, would stall the run.
   */
  async pubsub (mqtt) {
    const { url, qos, size, warmMs, measureMs } = params
    const win = params.window || 2000
    const cap = qos > 0 ? params.inflight || 0 : 0
    const topic = `bench/${process.pid}/pubsub`
    const sub = await open(mqtt, url, { clientId: `sub-${process.pid}` })
    const pub = await open(mqtt, url, publisherOpts(`pub-${process.pid}`))
    await subscribe(sub, topic, qos)
    const payload = Buffer.alloc(size, 0x61)
    const opts = { qos }
    let sent = 0
    let received = 0
    let acked = 0
    let holding = false
    const onAck = cap
      ? () => {
          acked++
          if (sent - acked <= cap / 2) topUp()
        }
      : undefined
    function topUp () {
      if (holding) return
      while (sent - received < win && (!cap || sent - acked < cap)) {
        pub.publish(topic, payload, opts, onAck)
        sent++
      }
    }
    sub.on('message', () => {
      received++
      if (sent - received <= win / 2) topUp()
    })
    topUp()
    if (params.pauseMs) {
      // A first burst, everything delivered, then a pause: the measured traffic runs on
      // connections that have been idle for a while, as in a long-lived process (some
      // clients fall into one system call per message after this; shared/repro/warm-burst.mjs).
      await sleep(warmMs)
      holding = true
      while (received < sent) await sleep(2)
      await sleep(params.pauseMs)
      holding = false
      topUp()
    }
    const figures = await window(() => received, warmMs, measureMs)
    return figures
  },

  /** Receives a flood that another process publishes through the broker (QoS 0). */
  async flood (mqtt) {
    const { url, port, size, warmMs, measureMs } = params
    const topic = `bench/${process.pid}/flood`
    const sub = await open(mqtt, url, { clientId: `flood-sub-${process.pid}` })
    await subscribe(sub, topic, 0)
    let received = 0
    sub.on('message', () => { received++ })
    const publisher = spawn(process.execPath, [path.join(__dirname, 'peer.js'), 'flood', String(port), topic, String(params.n || 1e9), String(size)], { stdio: ['ignore', 'ignore', 'inherit'] })
    process.on('exit', () => { try { publisher.kill('SIGKILL') } catch {} })
    if (params.pauseMs) {
      // A first flood, then a pause (the publisher stopped), as in pubsub.
      await sleep(warmMs)
      publisher.kill('SIGSTOP')
      for (let last = -1; last !== received;) { last = received; await sleep(20) }
      await sleep(params.pauseMs)
      publisher.kill('SIGCONT')
    }
    const figures = await window(() => received, warmMs, measureMs)
    publisher.kill('SIGKILL')
    return figures
  },

  /**
   * Broker-free publish to a peer that swallows and acknowledges. The peer reports (with a
   * PUBLISH) when it has received the `warm`-th and the `n`-th message; the figures are those
   * between the two reports. The client publishes `chunk` messages per macrotask; QoS > 0 keeps
   * at most `window` unacknowledged.
   */
  async peerPublish (mqtt) {
    const { url, qos, size, n } = params
    const warm = Math.floor(n * (params.warmFraction || 0.1))
    const chunk = params.chunk || 256
    const win = params.window || 1000
    const client = await open(mqtt, url, publisherOpts(`ack:${warm}:${n}`))
    const payload = Buffer.alloc(size, 0x61)
    const opts = { qos }
    let sent = 0
    let acked = 0
    let stalled = false
    const onAck = qos > 0
      ? () => {
          acked++
          if (stalled && sent - acked <= win / 2) { stalled = false; setImmediate(pump) }
        }
      : undefined
    function pump () {
      let k = 0
      while (sent < n && k < chunk) {
        if (qos > 0 && sent - acked >= win) { stalled = true; return }
        client.publish('bench/peer', payload, opts, onAck)
        sent++
        k++
      }
      if (sent < n) setImmediate(pump)
    }
    const marks = []
    const finished = new Promise((resolve) => {
      client.on('message', (topic) => {
        if (topic !== 'bench/done') return
        marks.push(snapshot(params.peerPid))
        if (marks.length === 2) resolve()
      })
    })
    pump()
    await finished
    return throughput(marks[0], marks[1], n - warm)
  },

  /** Broker-free receive of QoS 0 PUBLISH packets blasted by the peer. */
  async peerReceive (mqtt) {
    const { url, size, warmMs, measureMs } = params
    const client = await open(mqtt, url, { clientId: `blast:0:${size}` })
    let received = 0
    client.on('message', () => { received++ })
    await subscribe(client, 'bench/blast', 0)
    return window(() => received, warmMs, measureMs)
  },

  /**
   * Sequential round trips: publish to self, await the message. Stops after `warm + n` round
   * trips or `maxMs`, whichever comes first (MQTT.js with Nagle on can take 40 ms per trip).
   */
  async rtt (mqtt) {
    const { url, qos, n, warm } = params
    const deadline = Date.now() + (params.maxMs || 4000)
    const topic = `bench/${process.pid}/rtt`
    const client = await open(mqtt, url, { clientId: `rtt-${process.pid}` })
    await subscribe(client, topic, qos)
    const payload = Buffer.alloc(params.size || 64, 0x61)
    let resolveMessage = null
    client.on('message', () => { if (resolveMessage) resolveMessage() })
    const samples = []
    const a = snapshot()
    for (let i = 0; i < warm + n; i++) {
      const t0 = process.hrtime.bigint()
      await new Promise((resolve) => {
        resolveMessage = resolve
        client.publish(topic, payload, { qos })
      })
      if (i >= warm) samples.push(Number(process.hrtime.bigint() - t0) / 1000)
      if (Date.now() > deadline && samples.length >= 10) break
    }
    const b = snapshot()
    samples.sort((x, y) => x - y)
    const cpu = throughput(a, b, warm + samples.length)
    return {
      roundTrips: samples.length,
      tripsMeasured: warm + samples.length,
      p50Us: round(percentile(samples, 50), 1),
      p99Us: round(percentile(samples, 99), 1),
      meanUs: round(samples.reduce((s, x) => s + x, 0) / samples.length, 1),
      cpuUsPerRoundTrip: cpu.cpuUsPerMsg,
      mainCpuUsPerRoundTrip: cpu.mainCpuUsPerMsg,
      ctxSwitchesPerRoundTrip: cpu.ctxSwitchesPerMsg
    }
  },

  /** `n` connections, each subscribing once, opened all at once in this process. */
  async conns (mqtt) {
    const { url, n } = params
    await settleGc()
    const before = process.memoryUsage()
    const t0 = process.hrtime.bigint()
    const clients = []
    const ready = []
    // At most WAVE connections are being opened at once: mosquitto listens with a backlog of
    // 100, and a burst of 1,000 SYNs overflows it; the dropped ones are retried by the kernel a
    // second later, which then measures the broker's backlog instead of the client.
    const WAVE = 64
    let opening = 0
    const waiters = []
    const slot = () => (opening < WAVE ? (opening++, Promise.resolve()) : new Promise((resolve) => waiters.push(resolve)))
    const release = () => {
      const next = waiters.shift()
      if (next) next()
      else opening--
    }
    for (let i = 0; i < n; i++) {
      await slot()
      const client = mqtt.connect(url, { clientId: `c-${process.pid}-${i}`, reconnectPeriod: 0 })
      clients.push(client)
      ready.push(new Promise((resolve, reject) => {
        client.once('error', reject)
        client.once('connect', () => {
          release()
          client.subscribe(`bench/${process.pid}/c/${i}`, { qos: 0 }, (err) => (err ? reject(err) : resolve()))
        })
      }))
    }
    await Promise.all(ready)
    const openMs = Number(process.hrtime.bigint() - t0) / 1e6
    await sleep(200)
    await settleGc()
    const after = process.memoryUsage()
    const result = {
      connections: n,
      openMs: round(openMs, 1),
      rssKbPerClient: round((after.rss - before.rss) / 1024 / n, 2),
      heapKbPerClient: round((after.heapUsed - before.heapUsed) / 1024 / n, 2),
      externalKbPerClient: round((after.external - before.external) / 1024 / n, 2),
      rssMb: round(after.rss / 1048576, 1)
    }
    for (const c of clients) c.end(true)
    return result
  },

  /** `require` time and time from `connect()` to the first `connect` event. */
  async coldstart (mqtt) {
    const t0 = process.hrtime.bigint()
    const client = await open(mqtt, params.url, { clientId: `cold-${process.pid}` })
    const connectMs = Number(process.hrtime.bigint() - t0) / 1e6
    client.end(true)
    return { requireMs: round(requireMs, 2), connectMs: round(connectMs, 2), totalMs: round(requireMs + connectMs, 2) }
  },

  /** Receives a broker-free flood for `seconds`, sampling RSS every second. */
  async floodRss (mqtt) {
    const { url, size, seconds } = params
    const client = await open(mqtt, url, { clientId: `blast:0:${size}` })
    let received = 0
    client.on('message', () => { received++ })
    await subscribe(client, 'bench/blast', 0)
    const samples = []
    const start = Date.now()
    for (let s = 1; s <= seconds; s++) {
      await sleep(start + s * 1000 - Date.now())
      samples.push({ s, rssMb: round(process.memoryUsage().rss / 1048576, 1), received })
    }
    const warmup = Math.min(10, Math.floor(seconds / 3))
    const after = samples.slice(warmup).map((x) => x.rssMb)
    const first = after[0]
    const last = after[after.length - 1]
    return {
      seconds,
      messages: received,
      rssMbAtWarmup: first,
      rssMbAtEnd: last,
      rssMbMaxAfterWarmup: Math.max(...after),
      rssGrowthMbAfterWarmup: round(last - first, 1),
      samples
    }
  }
}

async function main () {
  const fn = cases[caseName]
  if (!fn) throw new Error(`unknown case ${caseName}`)
  const mqtt = loadLib()
  const result = await fn(mqtt)
  done({ requireMs: round(requireMs, 2), ...result })
}

main().catch(fail)
