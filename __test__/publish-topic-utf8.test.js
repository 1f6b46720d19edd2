'use strict'
// publish() reads its topic through N-API into a reused per-thread buffer (src/binding/args.rs).
// V8 never writes half a character, so a topic whose multi-byte character meets the buffer's
// end comes back short; it must be read again, never sent cut.

const test = require('node:test')
const assert = require('node:assert/strict')
const { once } = require('node:events')
const { Worker } = require('node:worker_threads')
const { startScriptedBroker } = require('./helpers/scripted-broker')

// Each tail runs in a worker of its own, so that it meets the buffer at its first size (256
// bytes).
const worker = `
  const { workerData, parentPort } = require('node:worker_threads')
  const mqtt = require(${JSON.stringify(require.resolve('..'))})
  const client = mqtt.connect(workerData.url, { reconnectPeriod: 0 })
  client.on('connect', () => {
    for (const topic of workerData.topics) client.publish(topic, 'x')
    parentPort.postMessage('sent')
  })
  parentPort.once('message', () => client.end(true))
`

test('topics of every length around the read buffer, ending in 2-, 3- and 4-byte characters, reach the broker whole', async (t) => {
  const broker = await startScriptedBroker({ autoConnack: true })
  t.after(() => broker.close())
  for (const tail of ['é', '€', '😀']) {
    // First a topic whose last character straddles the end of the fresh 256-byte buffer (at
    // most 255 bytes and a NUL), then lengths around it and beyond.
    const topics = ['a'.repeat(254) + tail]
    for (let n = 240; n <= 300; n++) topics.push('b'.repeat(n) + tail + tail)
    const w = new Worker(worker, { eval: true, workerData: { url: broker.url, topics } })
    t.after(() => w.terminate())
    const conn = await broker.nextConnection()
    for (const topic of topics) {
      const packet = await conn.nextPacket('publish')
      assert.equal(packet.topic, topic, `a topic of ${Buffer.byteLength(topic)} bytes ending in ${tail}`)
    }
    w.postMessage('end')
    await once(w, 'exit')
  }
})
