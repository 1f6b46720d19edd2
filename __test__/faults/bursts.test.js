'use strict'
// Issue 18, item 5 (`npm run test:faults`): 100,000 QoS 1 and 100,000 QoS 2 publishes made in
// one loop against mosquitto, with and without persistence, are all acknowledged and delivered
// once, in order. Packet identifiers are taken when a publish is first sent (MQTT 5 §2.2.1), so
// the publishes waiting behind the flow-control window hold none.

const test = require('node:test')
const assert = require('node:assert/strict')
const { startMosquitto, requireBinary } = require('../helpers/mosquitto')
const { burst } = require('../helpers/burst')

const COUNT = 100000

for (const persistence of [false, true]) {
  for (const qos of [1, 2]) {
    test(`${COUNT} QoS ${qos} publishes made in one loop${persistence ? ' with persistence' : ''} are all acknowledged and delivered in order`, { timeout: 300000 }, async (t) => {
      if (!requireBinary(t, 'mosquitto')) return
      const broker = await startMosquitto({ extraConfig: ['max_queued_messages 0', 'max_queued_bytes 0'] })
      t.after(() => broker.stop())
      const result = await burst(broker.url, { count: COUNT, qos, persistence, timeoutMs: 240000 })
      assert.deepEqual(result, {
        acked: COUNT,
        failed: 0,
        errorsWithoutCode: 0,
        received: COUNT,
        outOfOrder: 0,
        duplicates: 0,
        stored: persistence ? COUNT : 0
      })
    })
  }
}
