'use strict'
// Tracing through diagnostics_channel (lib/tracing.js): a subscriber on each channel sees the
// events of a subscribe/publish/message exchange in order, with the client, topic, QoS, message
// id and reason code, over tcp and ws; without subscribers no channel message is built.

const test = require('node:test')
const assert = require('node:assert/strict')
const dc = require('node:diagnostics_channel')
const { once } = require('node:events')
const mqtt = require('..')
const tracing = require('../lib/tracing')
const { startScriptedBroker } = require('./helpers/scripted-broker')

const NAMED = ['connect', 'publish', 'message', 'close']
const PHASES = ['start', 'end', 'asyncStart', 'asyncEnd', 'error']
const hasTracingChannel = typeof dc.tracingChannel === 'function'

/** Subscribes to every channel; returns the events seen, as [name, message], and an unsubscribe. */
function record (t) {
  const seen = []
  const subscriptions = []
  for (const name of NAMED) {
    const channel = `mqtt-native:${name}`
    const fn = (message) => seen.push([name, message])
    dc.subscribe(channel, fn)
    subscriptions.push(() => dc.unsubscribe(channel, fn))
  }
  if (hasTracingChannel) {
    for (const op of ['publish', 'subscribe']) {
      const handlers = {}
      for (const phase of PHASES) handlers[phase] = (ctx) => seen.push([`${op}:${phase}`, ctx])
      const tc = dc.tracingChannel(`mqtt-native:${op}`)
      tc.subscribe(handlers)
      subscriptions.push(() => tc.unsubscribe(handlers))
    }
  }
  const stop = () => { for (const off of subscriptions.splice(0)) off() }
  t.after(stop)
  return { seen, stop }
}

for (const transport of ['tcp', 'ws']) {
  test(`a subscriber on each channel sees a subscribe, a publish, a refused publish and a message in order, with their fields (${transport})`, async (t) => {
    const broker = await startScriptedBroker({ protocolVersion: 5, transport, autoConnack: true })
    t.after(() => broker.close())
    const { seen, stop } = record(t)
    const client = mqtt.connect(broker.url, { protocolVersion: 5, reconnectPeriod: 0, clientId: `trace-${transport}` })
    t.after(() => client.end(true))
    const conn = await broker.nextConnection()
    await once(client, 'connect')

    const granted = client.subscribeAsync('trace/#', { qos: 1 })
    const sub = await conn.nextPacket('subscribe')
    conn.send({ cmd: 'suback', messageId: sub.messageId, granted: [1] })
    await granted

    const published = client.publishAsync('trace/a', 'hello', { qos: 1 })
    const pub = await conn.nextPacket('publish')
    conn.send({ cmd: 'puback', messageId: pub.messageId, reasonCode: 0 })
    await published

    const refused = client.publishAsync('trace/denied', 'no', { qos: 1 })
    const denied = await conn.nextPacket('publish')
    conn.send({ cmd: 'puback', messageId: denied.messageId, reasonCode: 0x87 })
    await assert.rejects(refused, (err) => err.code === 0x87)

    const message = once(client, 'message')
    conn.send({ cmd: 'publish', topic: 'trace/in', payload: 'inbound', qos: 1, messageId: 42 })
    await message
    await conn.nextPacket('puback')
    await client.endAsync()
    stop()

    const names = seen.map(([name]) => name)
    const expected = ['connect']
    if (hasTracingChannel) expected.push('subscribe:start', 'subscribe:end', 'subscribe:asyncStart', 'subscribe:asyncEnd', 'publish:start')
    expected.push('publish')
    if (hasTracingChannel) expected.push('publish:end', 'publish:asyncStart', 'publish:asyncEnd', 'publish:start')
    expected.push('publish')
    if (hasTracingChannel) expected.push('publish:end', 'publish:error', 'publish:asyncStart', 'publish:asyncEnd')
    expected.push('message', 'close')
    assert.deepEqual(names, expected)

    for (const [, m] of seen) {
      assert.equal(m.client, client)
      assert.equal(m.clientId, `trace-${transport}`)
    }
    const by = (name, i = 0) => seen.filter(([n]) => n === name)[i][1]
    assert.equal(by('connect').reasonCode, 0)
    assert.equal(by('connect').sessionPresent, false)
    assert.equal(by('connect').protocolVersion, 5)

    const plainPublish = by('publish')
    assert.equal(plainPublish.topic, 'trace/a')
    assert.equal(plainPublish.qos, 1)
    assert.equal(plainPublish.messageId, pub.messageId)
    assert.equal(plainPublish.payload.toString(), 'hello')

    const msg = by('message')
    assert.equal(msg.topic, 'trace/in')
    assert.equal(msg.qos, 1)
    assert.equal(msg.messageId, 42)
    assert.equal(msg.payload.toString(), 'inbound')

    const close = by('close')
    assert.equal(close.wasConnected, true)
    assert.equal(close.ending, true)

    if (hasTracingChannel) {
      const subCtx = by('subscribe:asyncEnd')
      assert.equal(subCtx, by('subscribe:start'), 'one context object through the whole trace')
      assert.equal(subCtx.topic, 'trace/#')
      assert.equal(subCtx.qos, 1)
      assert.equal(subCtx.messageId, sub.messageId)
      assert.equal(subCtx.reasonCode, 1)
      assert.deepEqual(subCtx.reasonCodes, [1])

      const ok = by('publish:asyncEnd')
      assert.equal(ok, by('publish:start'))
      assert.equal(ok.topic, 'trace/a')
      assert.equal(ok.qos, 1)
      assert.equal(ok.messageId, pub.messageId)
      assert.equal(ok.reasonCode, 0)
      assert.equal(ok.error, undefined)

      const failed = by('publish:error')
      assert.equal(failed, by('publish:asyncEnd', 1))
      assert.equal(failed.topic, 'trace/denied')
      assert.equal(failed.messageId, denied.messageId)
      assert.equal(failed.reasonCode, 0x87)
      assert.equal(failed.error.code, 0x87)
    }
  })
}

test('a traced publish without a callback still reports its failure as an error event, as an untraced one does', async (t) => {
  const broker = await startScriptedBroker({ autoConnack: true })
  t.after(() => broker.close())
  const client = mqtt.connect(broker.url)
  await once(client, 'connect')
  await client.endAsync()
  const errors = []
  client.on('error', (err) => errors.push(err.message))
  client.publish('late', 'x', { qos: 1 })
  const { seen } = record(t)
  client.publish('late', 'x', { qos: 1 })
  assert.deepEqual(errors, ['client disconnecting', 'client disconnecting'])
  if (hasTracingChannel) {
    const traced = seen.filter(([n]) => n.startsWith('publish:')).map(([n]) => n)
    assert.deepEqual(traced, ['publish:start', 'publish:error', 'publish:asyncStart', 'publish:asyncEnd', 'publish:end'])
  }
})

test('a traced publish that throws (an invalid QoS) reports start, error and end, and throws as before', { skip: !hasTracingChannel && 'no TracingChannel in this Node' }, (t) => {
  const client = mqtt.connect('mqtt://127.0.0.1:1', { manualConnect: true })
  const { seen } = record(t)
  assert.throws(() => client.publish('t', 'x', { qos: 3 }), /Invalid QoS 3/)
  assert.deepEqual(seen.map(([n]) => n), ['publish:start', 'publish:error', 'publish:end'])
  assert.match(seen[1][1].error.message, /Invalid QoS 3/)
  assert.equal(seen[1][1].qos, 3)
})

test('without subscribers no channel message is built, and with one the builders run (counted by spies)', async (t) => {
  const builders = ['onConnect', 'onPublish', 'onMessage', 'onClose', 'tracePublish', 'traceSubscribe']
  const calls = Object.fromEntries(builders.map((b) => [b, 0]))
  for (const name of builders) {
    const original = tracing[name]
    tracing[name] = function (...args) {
      calls[name]++
      return original.apply(this, args)
    }
    t.after(() => { tracing[name] = original })
  }
  const exchange = async () => {
    const broker = await startScriptedBroker({ autoConnack: true, autoPuback: true })
    try {
      const client = mqtt.connect(broker.url, { reconnectPeriod: 0 })
      const conn = await broker.nextConnection()
      await once(client, 'connect')
      await client.subscribeAsync('spy/#', { qos: 1 })
      for (let i = 0; i < 10; i++) await client.publishAsync('spy/t', 'x', { qos: i % 3 })
      const message = once(client, 'message')
      conn.send({ cmd: 'publish', topic: 'spy/in', payload: 'y', qos: 0 })
      await message
      await client.endAsync()
    } finally {
      await broker.close()
    }
  }
  for (const name of NAMED) assert.equal(dc.hasSubscribers(`mqtt-native:${name}`), false)
  await exchange()
  assert.deepEqual(calls, Object.fromEntries(builders.map((b) => [b, 0])), 'nothing built without subscribers')

  const { stop } = record(t)
  await exchange()
  stop()
  assert.equal(calls.onConnect, 1)
  assert.equal(calls.onPublish, 10)
  assert.equal(calls.onMessage, 1)
  assert.equal(calls.onClose, 1)
  if (hasTracingChannel) {
    assert.equal(calls.tracePublish, 10)
    assert.equal(calls.traceSubscribe, 1)
  }
})
