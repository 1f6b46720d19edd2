'use strict'

// Scenarios run against a RabbitMQ cluster (helpers/rabbitmq.js) by `npm test`
// (cluster-rabbitmq.test.js, the small case) and `npm run test:cluster` (the fleet of 1,000):
// they drive mqtt-native clients, kill a node, and return what happened as figures; the tests
// decide what is acceptable.

const mqtt = require('../..')

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function serversOf (cluster) {
  return cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port }))
}

/** The index of the node a connected client is on (by its port), or -1. */
function nodeOf (cluster, client) {
  return cluster.nodes.findIndex((n) => n.port === Number(client.options.port))
}

function once (emitter, event, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} from ${what} within ${timeoutMs} ms`)), timeoutMs)
    emitter.once(event, (...args) => {
      clearTimeout(timer)
      resolve(args)
    })
  })
}

async function until (condition, what, timeoutMs) {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(20)
  }
}

/**
 * A publisher and two subscribers connect through `servers` (all three nodes, in order, so all
 * three land on node 0); the publisher sends QoS 1 messages `seq/<n>` every `intervalMs`; node 0
 * is killed after `beforeKillMs`; publishing goes on for `afterKillMs` after both subscribers are
 * back, then the scenario waits until every publish is acknowledged and delivery is quiet.
 *
 * - `clean`: a clean session with a QoS 0 subscription (a classic, non-durable queue on the
 *   node it connected to); after the kill it must resubscribe on a survivor.
 * - `durable`: a persistent session (clean = false) with a QoS 1 subscription, which RabbitMQ
 *   keeps in a quorum queue replicated on all nodes (`mqtt.durable_queue_type = quorum`).
 *
 * Returns per message: when it was published and acknowledged (ms since the kill), and which
 * subscriber received it how many times; and the takeover times.
 */
async function takeover (cluster, { intervalMs = 5, beforeKillMs = 1500, afterKillMs = 1500, reconnectPeriod = 500, timeoutMs = 60000 } = {}) {
  const servers = serversOf(cluster)
  const clients = []
  const make = (clientId, opts) => {
    const c = mqtt.connect({ servers, clientId, reconnectPeriod, connectTimeout: 10000, ...opts })
    c.on('error', () => {})
    clients.push(c)
    return c
  }
  const t0 = { kill: 0 }
  const now = () => Date.now() - t0.kill
  try {
    const subs = {
      clean: { options: { clean: true }, qos: 0, got: new Map(), viaKilled: new Set() },
      durable: { options: { clean: false }, qos: 1, got: new Map(), viaKilled: new Set() }
    }
    const events = []
    for (const [name, sub] of Object.entries(subs)) {
      sub.client = make(`takeover-${name}`, sub.options)
      sub.client.on('message', (topic, payload) => {
        const n = Number(payload.toString())
        sub.got.set(n, (sub.got.get(n) || 0) + 1)
        if (!sub.back && nodeOf(cluster, sub.client) === 0) sub.viaKilled.add(n)
      })
      sub.client.on('connect', (connack) => {
        if (!t0.kill) return
        sub.back = { node: nodeOf(cluster, sub.client), connectedMs: now(), sessionPresent: connack.sessionPresent }
        events.push(`${now()} ms: ${name} subscriber connected to node ${sub.back.node} (session present ${connack.sessionPresent})`)
      })
      sub.client.on('packetreceive', (packet) => {
        if (packet.cmd === 'suback' && t0.kill && sub.back && sub.resubscribedMs === undefined) {
          sub.resubscribedMs = now()
          events.push(`${now()} ms: ${name} subscriber resubscribed (granted ${JSON.stringify(packet.granted)})`)
        }
      })
      await once(sub.client, 'connect', timeoutMs, `the ${name} subscriber`)
      await sub.client.subscribeAsync('seq/#', { qos: sub.qos })
    }
    const pub = make('takeover-publisher', {})
    await once(pub, 'connect', timeoutMs, 'the publisher')
    const start = { node: [pub, subs.clean.client, subs.durable.client].map((c) => nodeOf(cluster, c)) }
    const published = [] // n -> { sentMs, ackedMs, error }
    let pubBack = null
    // CONNACK comes before 'connect', which waits for the resent messages' acks (as in MQTT.js).
    pub.on('packetreceive', (packet) => {
      if (packet.cmd === 'connack' && t0.kill && !pubBack) events.push(`${now()} ms: publisher CONNACK from node ${nodeOf(cluster, pub)}; unacknowledged messages resent`)
    })
    pub.on('connect', () => {
      if (t0.kill && !pubBack) {
        pubBack = { node: nodeOf(cluster, pub), connectedMs: now() }
        events.push(`${now()} ms: publisher connected to node ${pubBack.node}`)
      }
    })
    let n = 0
    let stopped = false
    const tick = () => {
      if (stopped) return
      const i = n++
      const record = { sentMs: t0.kill ? now() : -Infinity, ackedMs: null, error: null, connected: pub.connected }
      published[i] = record
      pub.publish(`seq/${i}`, String(i), { qos: 1 }, (err) => {
        record.ackedMs = t0.kill ? now() : -Infinity
        if (err) record.error = err.message
      })
    }
    const timer = setInterval(tick, intervalMs)
    await sleep(beforeKillMs)
    t0.kill = Date.now()
    const sentAtKill = n
    const inFlightAtKill = new Set(published.map((r, i) => (r.ackedMs === null ? i : -1)).filter((i) => i >= 0))
    await cluster.kill(0)
    events.push(`${now()} ms: node 0 killed (SIGKILL); ${sentAtKill} messages published before, ${inFlightAtKill.size} of them unacknowledged`)
    await until(() => pubBack && subs.clean.resubscribedMs !== undefined && subs.durable.back, 'the clients to move to a surviving node', timeoutMs)
    await sleep(afterKillMs)
    stopped = true
    clearInterval(timer)
    const total = n
    await until(() => published.every((r) => r.ackedMs !== null), 'every publish to be acknowledged', timeoutMs)
    // Quiet delivery: nothing new for 1 s.
    let last = -1
    await until(() => {
      const count = [...subs.clean.got.values(), ...subs.durable.got.values()].reduce((a, b) => a + b, 0)
      const quiet = count === last
      last = count
      return quiet
    }, 'delivery to end', timeoutMs).catch(() => {})
    await sleep(1000)
    const summary = {}
    for (const [name, sub] of Object.entries(subs)) {
      const lost = []
      const duplicated = []
      for (let i = 0; i < total; i++) {
        const k = sub.got.get(i) || 0
        if (k === 0) lost.push(i)
        if (k > 1) duplicated.push(i)
      }
      summary[name] = {
        back: sub.back,
        resubscribedMs: sub.resubscribedMs,
        received: sub.got.size,
        lost,
        duplicated,
        viaKilled: sub.viaKilled
      }
    }
    return {
      start,
      total,
      published,
      inFlightAtKill,
      publisher: pubBack,
      subscribers: summary,
      errors: published.filter((r) => r.error).length,
      events
    }
  } finally {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})))
  }
}

/**
 * `count` clients connect through `servers` with `options`; once all are connected, node
 * `victim` is killed. Returns, for the clients that were on it, where and when (ms after the
 * kill, and ms after their successful attempt began) they connected again, and where every
 * client started.
 */
async function fleet (cluster, { count = 1000, victim = 0, options = {}, batch = 50, timeoutMs = 120000 } = {}) {
  const servers = serversOf(cluster)
  const clients = []
  try {
    const t0 = Date.now()
    for (let i = 0; i < count; i += batch) {
      const group = []
      for (let k = i; k < Math.min(count, i + batch); k++) {
        const c = mqtt.connect({ servers, reconnectPeriod: 1000, connectTimeout: 30000, keepalive: 0, clientId: `fleet-${process.pid}-${k}`, ...options })
        c.on('error', () => {})
        clients.push(c)
        group.push(once(c, 'connect', timeoutMs, `client ${k}`))
      }
      await Promise.all(group)
    }
    const connectAllMs = Date.now() - t0
    const startNodes = clients.map((c) => nodeOf(cluster, c))
    const moved = clients.filter((c, i) => startNodes[i] === victim)
    const back = new Array(moved.length).fill(null)
    const attempts = new Array(moved.length).fill(0)
    const killedAt = { t: 0 }
    const attemptAt = new Array(moved.length).fill(0)
    moved.forEach((c, i) => {
      c.on('reconnect', () => {
        attempts[i]++
        attemptAt[i] = Date.now()
      })
      // ms: since the kill; waitMs: since the attempt that succeeded began (what the broker
      // made the client wait).
      c.once('connect', () => { back[i] = { ms: Date.now() - killedAt.t, waitMs: Date.now() - attemptAt[i], node: nodeOf(cluster, c) } })
    })
    killedAt.t = Date.now()
    await cluster.kill(victim)
    await until(() => back.every(Boolean), 'every client of the killed node to connect again', timeoutMs)
    return {
      connectAllMs,
      startPerNode: cluster.nodes.map((_, k) => startNodes.filter((s) => s === k).length),
      moved: moved.length,
      back,
      attempts,
      stillConnected: clients.filter((c) => c.connected).length
    }
  } finally {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})))
  }
}

/** Counts of `values` (ms) per `bucketMs` bucket, as `[from, count]` pairs. */
function histogram (values, bucketMs) {
  const buckets = new Map()
  for (const v of values) {
    const b = Math.floor(v / bucketMs) * bucketMs
    buckets.set(b, (buckets.get(b) || 0) + 1)
  }
  return [...buckets].sort((a, b) => a[0] - b[0])
}

module.exports = { takeover, fleet, histogram, serversOf, nodeOf }
