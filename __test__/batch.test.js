'use strict'
// The batch reader (lib/batch.js): the record layout comes from the addon, and the reader
// dispatches records in order, pausing and resuming, without losing records to a throw.

const test = require('node:test')
const assert = require('node:assert/strict')
const native = require('../lib/native')
const { LAYOUT, KIND, ACK_CMDS, APP_ACK_CMDS, record, BatchReader } = require('../lib/batch')

test('the layout is the one the addon exports, with distinct kinds and a field for each position', () => {
  const raw = native.batchLayout()
  assert.equal(LAYOUT.WIDTH, raw.width)
  assert.deepEqual(Object.values(LAYOUT.FIELD).sort((a, b) => a - b), [...Array(LAYOUT.WIDTH).keys()])
  const kinds = Object.values(KIND)
  assert.equal(new Set(kinds).size, kinds.length)
  assert.deepEqual(ACK_CMDS.filter(Boolean), ['puback', 'pubrec', 'pubcomp', 'suback', 'unsuback'])
  assert.deepEqual(APP_ACK_CMDS.filter(Boolean), ['puback', 'pubrec', 'pubcomp'])
})

/** Builds a records array of `n` CLOSE-kind records whose message-id field numbers them. */
function records (n, from = 0) {
  const rec = new Uint32Array(n * LAYOUT.WIDTH)
  for (let i = 0; i < n; i++) {
    rec[i * LAYOUT.WIDTH + LAYOUT.FIELD.kind] = KIND.CLOSE
    rec[i * LAYOUT.WIDTH + LAYOUT.FIELD.b] = from + i
    rec[i * LAYOUT.WIDTH + LAYOUT.FIELD.extra] = LAYOUT.NO_EXTRA
  }
  return rec
}

test('a blocked reader keeps later records and batches, and resumes them in order on unblock', () => {
  const seen = []
  let drained = 0
  const reader = new BatchReader((blob, rec, extras, r) => {
    const id = record.messageId(rec, r)
    seen.push(id)
    if (id === 1) reader.block()
  }, () => drained++)
  reader.push(Buffer.alloc(0), records(3), [])
  assert.deepEqual(seen, [0, 1])
  reader.push(Buffer.alloc(0), records(2, 3), [])
  assert.deepEqual(seen, [0, 1])
  reader.unblock()
  assert.deepEqual(seen, [0, 1, 2, 3, 4])
  assert.ok(drained >= 2)
})

test('a throwing dispatch does not drop the rest of the batch, and the error is rethrown on the next tick', () => {
  const seen = []
  const reader = new BatchReader((blob, rec, extras, r) => {
    const id = record.messageId(rec, r)
    seen.push(id)
    if (id === 0) throw new Error('listener failed')
  }, () => {})
  // Catch what is scheduled for the next tick instead of letting it reach the test runner.
  const scheduled = []
  const nextTick = process.nextTick
  process.nextTick = (fn) => scheduled.push(fn)
  try {
    reader.push(Buffer.alloc(0), records(3), [])
  } finally {
    process.nextTick = nextTick
  }
  assert.deepEqual(seen, [0, 1, 2])
  assert.equal(scheduled.length, 1)
  assert.throws(scheduled[0], /listener failed/)
})

test('message records decode topic, payload and flags from the blob', () => {
  const blob = Buffer.from('a/bhello')
  const rec = new Uint32Array(LAYOUT.WIDTH)
  rec[LAYOUT.FIELD.kind] = KIND.MESSAGE
  rec[LAYOUT.FIELD.a] = 2 | LAYOUT.FLAG.RETAIN | (LAYOUT.APP_ACK.PUBREC << LAYOUT.FLAG.ACK_SHIFT) | LAYOUT.FLAG.ACKED
  rec[LAYOUT.FIELD.b] = 7
  rec[LAYOUT.FIELD.topicOffset] = 0
  rec[LAYOUT.FIELD.topicLength] = 3
  rec[LAYOUT.FIELD.payloadOffset] = 3
  rec[LAYOUT.FIELD.payloadLength] = 5
  rec[LAYOUT.FIELD.extra] = LAYOUT.NO_EXTRA
  assert.equal(record.topic(blob, rec, 0), 'a/b')
  assert.equal(record.payload(blob, rec, 0).toString(), 'hello')
  assert.equal(record.qos(rec, 0), 2)
  assert.equal(record.retain(rec, 0), true)
  assert.equal(record.dup(rec, 0), false)
  assert.equal(record.owed(rec, 0), LAYOUT.APP_ACK.PUBREC)
  assert.equal(record.acked(rec, 0), true)
  assert.equal(record.messageId(rec, 0), 7)
  assert.equal(record.extra(rec, [], 0), undefined)
})

test('messages of one batch on repeated and alternating topics each get their own topic and payload', async (t) => {
  const mqtt = require('..')
  const { once } = require('node:events')
  const { startScriptedBroker } = require('./helpers/scripted-broker')
  const { generate } = require('./helpers/packets')
  const broker = await startScriptedBroker({ autoConnack: true })
  t.after(() => broker.close())
  const client = mqtt.connect(broker.url, { reconnectPeriod: 0 })
  t.after(() => client.end(true))
  const conn = await broker.nextConnection()
  await once(client, 'connect')
  // One write, so that the client reads (and batches) them together; the native side writes a
  // topic once and points the following messages on it at the same bytes.
  const topics = ['a/1', 'a/1', 'b/ü', 'a/1', 'b/ü', 'b/ü', 'a/1x', 'a/1', '']
  const sent = topics.map((topic, i) => ({ topic: topic || 'empty/last', payload: `p${i}` }))
  const got = []
  client.on('message', (topic, payload, packet) => {
    got.push({ topic, payload: payload.toString(), packetTopic: packet.topic })
  })
  conn.sendRaw(Buffer.concat(sent.map(({ topic, payload }) => generate({ cmd: 'publish', topic, payload, qos: 0 }, 4))))
  while (got.length < sent.length) await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(got, sent.map(({ topic, payload }) => ({ topic, payload, packetTopic: topic })))
})
