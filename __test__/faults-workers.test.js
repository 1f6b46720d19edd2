'use strict'
// Issue 18, item 1: a failed delivery to JavaScript never spins. Workers terminated while their
// client receives (and some throwing from `message` as they end) all exit, and so does the
// process. The churn runs in a child process with a time bound, so that a hang fails the test
// instead of stalling the run.

const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { startMosquitto, requireBinary } = require('./helpers/mosquitto')
const { runNode } = require('./helpers/child')

const churn = path.join(__dirname, 'helpers', 'worker-churn.js')

test('200 workers terminated while their clients receive all exit, and then the process exits', { timeout: 180000 }, async (t) => {
  if (!requireBinary(t, 'mosquitto')) return
  const broker = await startMosquitto()
  t.after(() => broker.stop())
  const result = await runNode([churn, broker.url, '200', '8'], { timeoutMs: 150000 })
  assert.equal(result.timedOut, false, `the churn did not finish within 150 s (a worker or the process hung); it printed: ${result.stdout}\n${result.stderr.slice(-2000)}`)
  assert.equal(result.stdout.trim(), 'done 200 exited', result.stderr.slice(-2000))
  assert.equal(result.code, 0, result.stderr.slice(-2000))
})
