'use strict'
// The broker path's cost is decided by system calls per message (DESIGN.md §2). These tests
// count them (the driver's own counters of socket reads and writes, `driverCounts()`), never
// time them: publishes of one turn leave in one write, and a subscriber keeps receiving many
// messages per read after a first burst and a pause (src/driver/ack_pacing.rs), against a
// mosquitto that keeps its default Nagle setting.

const test = require('node:test')
const assert = require('node:assert/strict')
const { once } = require('node:events')
const mqtt = require('..')
const native = require('../lib/native')
const { startMosquitto, requireBinary } = require('./helpers/mosquitto')

const PAYLOAD = Buffer.alloc(64, 'x')

async function open (url, clientId) {
  const client = mqtt.connect(url, { clientId, reconnectPeriod: 0, keepalive: 60 })
  await once(client, 'connect')
  return client
}

/** A publisher and a subscriber of `topic` on one broker, as `npm run bench`'s pub case. */
async function pair (url, topic) {
  const sub = await open(url, `bc-sub-${process.pid}-${topic}`)
  await sub.subscribeAsync(topic, { qos: 0 })
  const pub = await open(url, `bc-pub-${process.pid}-${topic}`)
  return { sub, pub }
}

/**
 * `n` QoS 0 messages through the broker with at most `window` outstanding, each next publish
 * made from the `message` handler (the pattern that fell into one read per message).
 */
function burst ({ sub, pub }, topic, n, window = 1000, qos = 0) {
  return new Promise((resolve) => {
    let sent = 0
    let received = 0
    const pump = () => {
      while (sent < n && sent - received < window) { sent++; pub.publish(topic, PAYLOAD, { qos }) }
    }
    const onMessage = () => {
      received++
      if (received === n) {
        sub.removeListener('message', onMessage)
        resolve()
      } else pump()
    }
    sub.on('message', onMessage)
    pump()
  })
}

/** Counts of socket calls made while `fn` runs (this thread's connections). */
async function counted (fn) {
  const before = native.driverCounts()
  await fn()
  const after = native.driverCounts()
  return { reads: after.socketReads - before.socketReads, writes: after.socketWrites - before.socketWrites }
}

function settle (ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

test('1,000 publishes made in one turn leave in at most a few writes, before and after a first burst', async (t) => {
  if (!requireBinary(t, 'mosquitto')) return
  const broker = await startMosquitto({ nagle: true })
  t.after(() => broker.stop())
  const clients = await pair(broker.url, 'bc/one-turn')
  t.after(() => { clients.sub.end(true); clients.pub.end(true) })

  const oneTurn = () => counted(async () => {
    const arrived = burst(clients, 'bc/one-turn', 1000, 1000)
    await arrived
  })
  const fresh = await oneTurn()
  // The 1,000 publishes are made by the first pump, in one turn; the subscriber (QoS 0) writes
  // nothing. A socket that refuses part of the 70 KB takes the rest on writable.
  assert.ok(fresh.writes <= 3, `fresh connection: ${fresh.writes} writes for 1,000 publishes`)

  await burst(clients, 'bc/one-turn', 5000)
  await settle(100)
  const warm = await oneTurn()
  assert.ok(warm.writes <= 3, `after a first burst: ${warm.writes} writes for 1,000 publishes`)
})

test('a subscriber still receives many messages per read after a first burst and a pause, from a broker with Nagle on', { skip: process.platform !== 'linux' && 'delayed acknowledgements are set with a Linux socket option' }, async (t) => {
  if (!requireBinary(t, 'mosquitto')) return
  const broker = await startMosquitto({ nagle: true })
  t.after(() => broker.stop())
  const clients = await pair(broker.url, 'bc/flood')
  t.after(() => { clients.sub.end(true); clients.pub.end(true) })

  await burst(clients, 'bc/flood', 5000)
  // A pause longer than the kernel's delayed-ACK timeout (40 ms): this is what used to drop the
  // subscriber's socket into acknowledging every segment, and mosquitto into sending every
  // message in a segment of its own.
  await settle(200)
  const n = 50000
  const { reads, writes } = await counted(() => burst(clients, 'bc/flood', n))
  // One read per message (and one write per read, from the handler's publishes) was the state
  // this guards against; a fresh connection gets hundreds of messages per read.
  assert.ok(reads * 20 <= n, `${reads} socket reads for ${n} messages`)
  assert.ok(writes * 20 <= n, `${writes} socket writes for ${n} messages`)
})

test('a subscriber of a broker that sends every message in its own segment reads them on the polling tick, several per read', { skip: process.platform !== 'linux' && 'polling mode uses a Linux timerfd' }, async (t) => {
  if (!requireBinary(t, 'mosquitto')) return
  const broker = await startMosquitto() // set_tcp_nodelay true: one segment per message
  t.after(() => broker.stop())
  const clients = await pair(broker.url, 'bc/nodelay')
  t.after(() => { clients.sub.end(true); clients.pub.end(true) })

  await burst(clients, 'bc/nodelay', 5000)
  const n = 50000
  const ticks0 = native.driverCounts().pollTicks
  const { reads } = await counted(() => burst(clients, 'bc/nodelay', n))
  const ticks = native.driverCounts().pollTicks - ticks0
  // Woken per segment, the subscriber read about one message per read (and its publisher
  // wrote as often); on the tick each read carries what arrived during it.
  assert.ok(ticks > 0, 'the saturated connections never went into polling mode')
  assert.ok(reads * 3 <= n, `${reads} socket reads for ${n} messages`)

  // Once the traffic stops, the tick stops: an idle client costs no wake-ups.
  await settle(50)
  const idle0 = native.driverCounts().pollTicks
  await settle(200)
  assert.equal(native.driverCounts().pollTicks - idle0, 0, 'the tick kept running on idle connections')
  // And a lone message is read on readiness again, not on a tick.
  const lone = counted(async () => {
    const got = once(clients.sub, 'message')
    clients.pub.publish('bc/nodelay', PAYLOAD)
    await got
  })
  await lone
  assert.equal(native.driverCounts().pollTicks - idle0, 0, 'a lone message waited for a tick')
})

test('a closed loop of 10 messages in flight, which the tick would slow, stays on readiness events', { skip: process.platform !== 'linux' && 'polling mode uses a Linux timerfd' }, async (t) => {
  if (!requireBinary(t, 'mosquitto')) return
  const broker = await startMosquitto() // set_tcp_nodelay true: one segment per message
  t.after(() => broker.stop())
  const clients = await pair(broker.url, 'bc/loop')
  t.after(() => { clients.sub.end(true); clients.pub.end(true) })

  // Each message delivered publishes the next: its reads are less than a tick apart, as a
  // flood's are, but on the tick each round waits for it. Its polling modes end after a tick
  // or two (the round is over), and the polling gate (src/driver/polling.rs, PollingGate)
  // blocks a connection that stumbles so twice in a row for ever longer: 100 ms, 200 ms, ...
  await burst(clients, 'bc/loop', 5000, 10)
  const n = 30000
  const ticks0 = native.driverCounts().pollTicks
  await burst(clients, 'bc/loop', n, 10)
  const ticks = native.driverCounts().pollTicks - ticks0
  // Without the gate, 2,624 ticks in a run (polling mode entered every 0.7 ms); with it, 8 to 172.
  assert.ok(ticks * 20 <= n, `${ticks} polling ticks for ${n} messages in a closed loop`)
})

test('clients on the Node-stream path decode a broker sending one segment per message on the polling tick, with fewer writes than messages', { skip: process.platform !== 'linux' && 'polling mode uses a Linux timerfd' }, async (t) => {
  if (!requireBinary(t, 'mosquitto')) return
  const broker = await startMosquitto() // set_tcp_nodelay true: one segment per message
  t.after(() => broker.stop())
  const { port } = new URL(broker.url)
  let writes = 0
  // `new MqttClient(streamBuilder)` puts a client on the stream path (README); the sockets'
  // writes are what the driver hands to Node.
  const streamClient = async (clientId) => {
    const client = new mqtt.MqttClient(() => {
      const socket = require('node:net').connect(Number(port), '127.0.0.1')
      socket.setNoDelay(true)
      const write = socket.write
      socket.write = function (...args) { writes++; return write.apply(this, args) }
      return socket
    }, { clientId, reconnectPeriod: 0, keepalive: 60 })
    t.after(() => client.end(true))
    await once(client, 'connect')
    return client
  }
  const sub = await streamClient(`bc-stream-sub-${process.pid}`)
  await sub.subscribeAsync('bc/stream', { qos: 1 })
  const pub = await streamClient(`bc-stream-pub-${process.pid}`)

  await burst({ sub, pub }, 'bc/stream', 2000, 1000, 1)
  const n = 20000
  // Polling mode starts after 16 chunks in a row less than 100 µs apart; on a loaded machine a
  // burst may not show that rhythm, so up to three bursts are tried.
  let ticks = 0
  let streamWrites = 0
  for (let attempt = 0; attempt < 3 && ticks === 0; attempt++) {
    const ticks0 = native.driverCounts().pollTicks
    const writes0 = writes
    await burst({ sub, pub }, 'bc/stream', n, 1000, 1)
    ticks = native.driverCounts().pollTicks - ticks0
    streamWrites = writes - writes0
  }
  // Chunk by chunk, the subscriber wrote a PUBACK and the publisher a PUBLISH for nearly every
  // chunk (0.85 writes per message measured); on the tick each write carries a tick's worth.
  assert.ok(ticks > 0, 'the saturated stream connections never went into polling mode')
  assert.ok(streamWrites <= n * 0.7, `${streamWrites} stream writes for ${n} QoS 1 messages`)

  await settle(50)
  const idle0 = native.driverCounts().pollTicks
  await settle(200)
  assert.equal(native.driverCounts().pollTicks - idle0, 0, 'the tick kept running on idle stream connections')
})

test('a QoS 0 flood on either path, read lazily or not, arrives whole and ends cleanly', { skip: process.platform !== 'linux' && 'polling mode uses a Linux timerfd' }, async (t) => {
  if (!requireBinary(t, 'mosquitto')) return
  const broker = await startMosquitto() // set_tcp_nodelay true: one segment per message
  t.after(() => broker.stop())
  const { port } = new URL(broker.url)
  let chunks = 0
  // The subscriber on the Node-stream path: its socket's 'data' chunks are Node's reads.
  const streamSub = new mqtt.MqttClient(() => {
    const socket = require('node:net').connect(Number(port), '127.0.0.1')
    socket.setNoDelay(true)
    socket.on('data', () => { chunks++ })
    return socket
  }, { clientId: `bc-lazy-stream-${process.pid}`, reconnectPeriod: 0, keepalive: 60 })
  t.after(() => streamSub.end(true))
  await once(streamSub, 'connect')
  await streamSub.subscribeAsync('bc/lazy', { qos: 0 })
  const nativeSub = await open(broker.url, `bc-lazy-native-${process.pid}`)
  t.after(() => nativeSub.end(true))
  await nativeSub.subscribeAsync('bc/lazy', { qos: 0 })
  const pub = await open(broker.url, `bc-lazy-pub-${process.pid}`)
  t.after(() => pub.end(true))
  let nativeReceived = 0
  nativeSub.on('message', () => { nativeReceived++ })

  await burst({ sub: streamSub, pub }, 'bc/lazy', 5000)
  const n = 50000
  const chunks0 = chunks
  const { reads } = await counted(() => burst({ sub: streamSub, pub }, 'bc/lazy', n))
  // Whether the reads went lazy depends on how steady the flood was (src/driver/polling.rs,
  // ReadSchedule, whose rules its unit tests check): a run whose rate dipped keeps reading on
  // every tick. What must hold either way: everything arrives, in full, and ends cleanly.
  assert.ok(chunks - chunks0 > 0)
  // The native subscriber got the same messages.
  while (nativeReceived < 5000 + n) await settle(5)
  await settle(20)
  assert.equal(nativeReceived, 5000 + n)
  assert.ok(reads > 0)
  // Held between reads, the stream's socket still sees the broker's close after DISCONNECT.
  await Promise.all([streamSub.endAsync(), nativeSub.endAsync()])
})

test('MQTT_NATIVE_POLL_US=0 turns polling mode off', { skip: process.platform !== 'linux' && 'polling mode uses a Linux timerfd' }, async (t) => {
  if (!requireBinary(t, 'mosquitto')) return
  const broker = await startMosquitto()
  t.after(() => broker.stop())
  const { spawn } = require('node:child_process')
  const script = `
    const mqtt = require(${JSON.stringify(require.resolve('..'))})
    const native = require(${JSON.stringify(require.resolve('../lib/native'))})
    const sub = mqtt.connect(${JSON.stringify(broker.url)}, { reconnectPeriod: 0 })
    const pub = mqtt.connect(${JSON.stringify(broker.url)}, { reconnectPeriod: 0 })
    let received = 0
    sub.on('message', () => { if (++received === 20000) { console.log(JSON.stringify(native.driverCounts())); sub.end(); pub.end() } else if (received % 500 === 0) pump() })
    const pump = () => { for (let i = 0; i < 500; i++) pub.publish('bc/off', 'x') }
    sub.subscribe('bc/off', () => pub.connected ? pump() : pub.once('connect', pump))
  `
  const child = spawn(process.execPath, ['-e', script], { env: { ...process.env, MQTT_NATIVE_POLL_US: '0' }, stdio: ['ignore', 'pipe', 'inherit'] })
  t.after(() => child.kill('SIGKILL'))
  let out = ''
  child.stdout.on('data', (c) => { out += c })
  const [code] = await once(child, 'exit')
  assert.equal(code, 0)
  assert.equal(JSON.parse(out).pollTicks, 0)
})
