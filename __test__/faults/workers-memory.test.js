'use strict'
// `npm run test:faults`: workers terminated while their clients receive leave nothing behind.
// Node does not run the finalizers of external buffers still alive when a worker's environment
// is torn down, so a batch handed to JavaScript without a copy leaked whenever its worker was
// terminated before collecting it (30-50 KB per worker, without end). In a worker every batch
// is now copied (src/binding/batch.rs, JsSink). RSS is sampled in a child process that churns
// the workers; the bound is loose (the first 500 workers warm the allocator up), and the leak
// was twice it.

const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { startMosquitto, requireBinary } = require('../helpers/mosquitto')
const { runNode } = require('../helpers/child')

const WORKERS = 2500
const WARM = 500
const BOUND_MB = 40

const CHURN = `
const { runOne } = require(${JSON.stringify(path.join(__dirname, '..', 'helpers', 'worker-churn.js'))})
const url = process.argv[1]
const rssMb = () => Math.round(process.memoryUsage().rss / 2 ** 20)
;(async () => {
  let next = 0
  let warm = null
  const lane = async () => {
    while (next < ${WORKERS}) {
      const index = next++
      await runOne(url, index)
      if (index === ${WARM}) warm = rssMb()
    }
  }
  await Promise.all([lane(), lane(), lane()])
  process.stdout.write(JSON.stringify({ warm, last: rssMb() }))
})()
`

test(`${WORKERS} workers terminated while their clients receive a flood: RSS grows less than ${BOUND_MB} MB after the first ${WARM}`, { timeout: 400000 }, async (t) => {
  if (!requireBinary(t, 'mosquitto')) return
  const broker = await startMosquitto()
  t.after(() => broker.stop())
  const result = await runNode(['-e', CHURN, broker.url], { timeoutMs: 360000 })
  assert.equal(result.timedOut, false, `the churn did not finish within 360 s; it printed: ${result.stdout}\n${result.stderr.slice(-2000)}`)
  assert.equal(result.code, 0, result.stderr.slice(-2000))
  const { warm, last } = JSON.parse(result.stdout)
  assert.ok(last - warm < BOUND_MB, `RSS went from ${warm} MB after ${WARM} workers to ${last} MB after ${WORKERS}`)
})
