'use strict'
// `npm run test:cluster`: a three-node RabbitMQ cluster and 1,000 clients (too heavy for
// `npm test`; cluster-rabbitmq.test.js keeps the publisher/subscriber takeover there).
//
// Phase 1, MQTT.js's defaults: every client starts on the first of `servers`; when that node
// is killed, all of them come back one reconnectPeriod later, onto the next node.
// Phase 2, the fleet options (serverSelection 'shuffle', reconnectJitter): the clients start
// spread over the nodes, and those of the killed node come back spread over the survivors and
// over the jitter window.

const test = require('node:test')
const assert = require('node:assert/strict')
const { startRabbitCluster, rabbitAvailable } = require('../helpers/rabbitmq')
const { fleet, histogram } = require('../helpers/cluster-scenarios')

const COUNT = Number(process.env.CLUSTER_CLIENTS || 1000)
const JITTER = 5000
const PERIOD = 1000

function report (t, label, r) {
  const times = r.back.map((b) => b.ms).sort((a, b) => a - b)
  const waits = r.back.map((b) => b.waitMs).sort((a, b) => a - b)
  const perNode = [0, 1, 2].map((k) => r.back.filter((b) => b.node === k).length)
  const lines = [
    `${label}: ${COUNT} clients connected in ${r.connectAllMs} ms, per node ${r.startPerNode.join('/')}`,
    `${label}: ${r.moved} clients were on the killed node; they reconnected to nodes ${perNode.join('/')}`,
    `${label}: reconnected after ${times[0]}..${times.at(-1)} ms (median ${times[Math.floor(times.length / 2)]}), attempts per client max ${Math.max(...r.attempts)}`,
    `${label}: per 500 ms after the kill: ${histogram(times, 500).map(([from, k]) => `${from}:${k}`).join(' ')}`,
    `${label}: from attempt to CONNACK: median ${waits[Math.floor(waits.length / 2)]} ms, 90th percentile ${waits[Math.floor(waits.length * 0.9)]} ms, max ${waits.at(-1)} ms`
  ]
  for (const line of lines) {
    t.diagnostic(line)
    console.log(line)
  }
  return { times, perNode, medianWait: waits[Math.floor(waits.length / 2)] }
}

test(`${COUNT} clients on a three-node RabbitMQ cluster: MQTT.js's defaults pile onto one node, the fleet options spread out`, { timeout: 15 * 60 * 1000 }, async (t) => {
  if (!rabbitAvailable()) {
    if (process.env.CI === 'true') throw new Error('rabbitmq-server not installed (required under CI=true)')
    t.skip('rabbitmq-server not installed')
    return
  }
  const started = Date.now()
  const cluster = await startRabbitCluster({ nodes: 3 })
  t.after(() => cluster.stop())
  console.log(`cluster up in ${Date.now() - started} ms`)

  const plain = await fleet(cluster, { count: COUNT, victim: 0, options: { reconnectPeriod: PERIOD } })
  const a = report(t, 'defaults', plain)
  assert.deepEqual(plain.startPerNode, [COUNT, 0, 0], 'MQTT.js order: every client starts on the first server')
  assert.equal(plain.moved, COUNT)
  assert.ok(a.perNode[1] >= 0.9 * COUNT, `defaults: most clients move to the next node, got ${a.perNode}`)

  await cluster.start(0)
  await cluster.waitForCluster()

  const spread = await fleet(cluster, { count: COUNT, victim: 0, options: { reconnectPeriod: PERIOD, serverSelection: 'shuffle', reconnectJitter: JITTER } })
  const b = report(t, 'fleet options', spread)
  for (const k of spread.startPerNode) assert.ok(k > COUNT / 5, `shuffle: clients start spread over the nodes, got ${spread.startPerNode}`)
  assert.equal(b.perNode[0], 0)
  assert.ok(b.perNode[1] > spread.moved / 4 && b.perNode[2] > spread.moved / 4, `shuffle: the moved clients spread over both survivors, got ${b.perNode}`)
  // Spread over the jitter window: the busiest 500 ms holds a small share, not all of them.
  const busiest = Math.max(...histogram(b.times, 500).map(([, k]) => k))
  assert.ok(busiest < spread.moved / 4, `reconnectJitter: at most a quarter in any 500 ms, got ${busiest} of ${spread.moved}`)
  assert.ok(b.times.at(-1) - b.times[0] > JITTER / 2, `reconnectJitter: reconnects over ${b.times.at(-1) - b.times[0]} ms`)
  assert.ok(b.times.at(-1) < PERIOD + JITTER + 15000, `every moved client is back within ${PERIOD + JITTER + 15000} ms`)
  // And the survivors are not swamped: a client waits less for its CONNACK than in the burst.
  assert.ok(b.medianWait < a.medianWait, `median wait for CONNACK: ${b.medianWait} ms spread, ${a.medianWait} ms in the burst`)
  console.log(`test:cluster took ${Date.now() - started} ms`)
})
