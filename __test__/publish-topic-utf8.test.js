'use strict'
// publish() reads its topic through N-API into a reused buffer (src/binding/args.rs). V8 never
// writes half a character, so a topic whose multi-byte character meets the buffer's end comes
// back short; it must be read again, never sent cut.

const test = require('node:test')
const assert = require('node:assert/strict')
const { once } = require('node:events')
const mqtt = require('..')
const { startScriptedBroker } = require('./helpers/scripted-broker')

test('topics of every length around the read buffer, ending in 2-, 3- and 4-byte characters, reach the broker whole', async (t) => {
  const broker = await startScriptedBroker({ autoConnack: true })
  t.after(() => broker.close())
  const client = mqtt.connect(broker.url, { reconnectPeriod: 0 })
  t.after(() => client.end(true))
  const conn = await broker.nextConnection()
  await once(client, 'connect')
  const topics = []
  for (const tail of ['é', '€', '😀']) {
    // Around the first buffer (256 bytes) and around where it has grown to after that.
    for (const n of [250, 251, 252, 253, 254, 255, 256, 257, 600, 601, 602, 603, 604, 605]) {
      topics.push('a'.repeat(n) + tail)
    }
  }
  for (const topic of topics) client.publish(topic, 'x')
  for (const topic of topics) {
    const packet = await conn.nextPacket('publish')
    assert.equal(packet.topic, topic, `a topic of ${Buffer.byteLength(topic)} bytes`)
  }
})
