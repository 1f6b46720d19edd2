'use strict'
// The check of faults-memory.test.js: runs helpers/large-packet.js in a child node with
// --expose-gc and bounds what a connection holds after a large packet.

const assert = require('node:assert/strict')
const path = require('node:path')
const { startMosquitto, requireBinary } = require('./mosquitto')
const { runNode } = require('./child')

const script = path.join(__dirname, 'large-packet.js')
/** Room for the allocator and V8's own growth. */
const SLACK = 16 * 1024 * 1024

async function checkLargePacket (t, mebibytes) {
  if (process.platform !== 'linux') return t.skip('reads /proc/self/statm')
  if (!requireBinary(t, 'mosquitto')) return
  const broker = await startMosquitto()
  t.after(() => broker.stop())
  const result = await runNode(['--expose-gc', script, broker.url, String(mebibytes)], { timeoutMs: 120000 })
  assert.equal(result.timedOut, false, `the child did not finish within 120 s: ${result.stderr.slice(-2000)}`)
  assert.equal(result.code, 0, result.stderr.slice(-2000))
  const seen = JSON.parse(result.stdout.trim().split('\n').pop())
  const mib = (bytes) => `${Math.round(bytes / 1048576)} MiB`
  const report = `baseline ${mib(seen.baseline)}, peak ${mib(seen.peak)}, held ${mib(seen.held)}, after GC ${mib(seen.after)}`
  assert.equal(seen.connected, true)
  // While connected, once the message is through: at most the application's two buffers (the
  // one it published and the one it received), which wait for the garbage collector.
  assert.ok(seen.held - seen.baseline <= 2 * seen.size + SLACK, `more than twice the payload held while connected: ${report}`)
  // Still connected, after a collection: nothing of the packet is left.
  assert.ok(seen.after - seen.baseline <= SLACK, `the connection keeps memory after the packet went through: ${report}`)
}

module.exports = { checkLargePacket }
