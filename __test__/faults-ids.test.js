'use strict'
// Issue 18, item 5, in `npm test`: more QoS 1 publishes in one loop than there are packet
// identifiers (65,535) are all acknowledged and delivered. The 100,000-message bursts, QoS 2 and
// persistence are in `npm run test:faults`.

const test = require('node:test')
const assert = require('node:assert/strict')
const { startMosquitto, requireBinary } = require('./helpers/mosquitto')
const { burst } = require('./helpers/burst')

test('70,000 QoS 1 publishes made in one loop are all acknowledged and delivered in order', { timeout: 180000 }, async (t) => {
  if (!requireBinary(t, 'mosquitto')) return
  const broker = await startMosquitto({ extraConfig: ['max_queued_messages 0', 'max_queued_bytes 0'] })
  t.after(() => broker.stop())
  const count = 70000
  const result = await burst(broker.url, { count, qos: 1, timeoutMs: 150000 })
  assert.deepEqual(result, { acked: count, failed: 0, errorsWithoutCode: 0, received: count, outOfOrder: 0, duplicates: 0, stored: 0 })
})
