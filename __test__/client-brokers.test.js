'use strict'
// The first client against real brokers: mosquitto for MQTT 3.1, 3.1.1 and 5, aedes for 3.1.1.

const test = require('node:test')
const assert = require('node:assert/strict')
const { once } = require('node:events')
const mqtt = require('..')
const { startMosquitto, requireBinary } = require('./helpers/mosquitto')
const { startAedes } = require('./helpers/aedes')
const { makeCerts, requireOpenssl, mosquittoTlsListener } = require('./helpers/certs')
const { freePort } = require('./helpers/ports')

const VERSIONS = [
  { name: 'MQTT 3.1', opts: { protocolId: 'MQIsdp', protocolVersion: 3 } },
  { name: 'MQTT 3.1.1', opts: { protocolVersion: 4 } },
  { name: 'MQTT 5', opts: { protocolVersion: 5 } }
]

/** Connects and waits for 'connect'; the client is ended after the test. */
async function connected (t, url, opts) {
  const client = mqtt.connect(url, { reconnectPeriod: 0, ...opts })
  t.after(() => new Promise((resolve) => client.end(true, resolve)))
  const [connack] = await once(client, 'connect')
  return { client, connack }
}

function collect (client, count) {
  const messages = []
  return new Promise((resolve) => {
    client.on('message', (topic, payload, packet) => {
      messages.push({ topic, payload, packet })
      if (messages.length === count) resolve(messages)
    })
  })
}

function subscribe (client, topic, opts) {
  return new Promise((resolve, reject) => {
    client.subscribe(topic, opts, (err, granted, suback) => (err ? reject(err) : resolve({ granted, suback })))
  })
}

function publish (client, topic, payload, opts) {
  return new Promise((resolve, reject) => {
    client.publish(topic, payload, opts, (err, packet) => (err ? reject(err) : resolve(packet)))
  })
}

let mosquittoPromise = null
/**
 * One mosquitto for this file with a listener per transport: tcp, ws, tls and wss (the last two
 * with a certificate from the test CA).
 */
function mosquitto () {
  if (!mosquittoPromise) {
    mosquittoPromise = (async () => {
      const certs = makeCerts()
      const tls = await freePort()
      const wss = await freePort()
      const broker = await startMosquitto({
        websockets: true,
        extraConfig: [...mosquittoTlsListener(tls, certs.server), ...mosquittoTlsListener(wss, certs.server, { websockets: true })]
      })
      return {
        broker,
        transports: {
          tcp: { url: broker.url, opts: {} },
          ws: { url: `ws://127.0.0.1:${broker.wsPort}/mqtt`, opts: {} },
          tls: { url: `mqtts://127.0.0.1:${tls}`, opts: { ca: certs.ca } },
          wss: { url: `wss://127.0.0.1:${wss}/mqtt`, opts: { ca: certs.ca } }
        }
      }
    })()
  }
  return mosquittoPromise
}

test.after(async () => {
  if (mosquittoPromise) await (await mosquittoPromise).broker.stop()
})

for (const transport of ['tcp', 'tls', 'ws', 'wss']) for (const { name, opts: versionOpts } of VERSIONS) {
  test(`against mosquitto over ${transport} with ${name}`, async (t) => {
    if (!requireBinary(t, 'mosquitto') || !requireOpenssl(t)) return
    const { transports } = await mosquitto()
    const broker = { url: transports[transport].url }
    const opts = { ...transports[transport].opts, ...versionOpts }

    await t.test('connect reports a CONNACK packet shaped as MQTT.js reports it', async (t) => {
      const { client, connack } = await connected(t, broker.url, opts)
      assert.equal(connack.cmd, 'connack')
      assert.equal(connack.sessionPresent, false)
      if (opts.protocolVersion === 5) assert.equal(connack.reasonCode, 0)
      else assert.equal(connack.returnCode, 0)
      assert.equal(client.connected, true)
      assert.match(client.options.clientId, /^mqttjs_[0-9a-f]{1,8}$/)
    })

    await t.test('messages of QoS 0, 1 and 2 come back through a subscription with their packets', async (t) => {
      const { client } = await connected(t, broker.url, opts)
      const { granted } = await subscribe(client, 'suite/+', { qos: 2 })
      assert.deepEqual(granted.map((g) => [g.topic, g.qos]), [['suite/+', 2]])
      const received = collect(client, 3)
      const q0 = await publish(client, 'suite/q0', 'zero', { qos: 0 })
      const q1 = await publish(client, 'suite/q1', Buffer.from('one'), { qos: 1 })
      const q2 = await publish(client, 'suite/q2', 'two', { qos: 2 })
      assert.equal(q0, undefined)
      assert.equal(q1.cmd, 'publish')
      assert.equal(q1.qos, 1)
      assert.equal(q2.cmd, 'pubrel')
      const messages = await received
      const byTopic = Object.fromEntries(messages.map((m) => [m.topic, m]))
      for (const [topic, text, qos] of [['suite/q0', 'zero', 0], ['suite/q1', 'one', 1], ['suite/q2', 'two', 2]]) {
        const m = byTopic[topic]
        assert.ok(Buffer.isBuffer(m.payload))
        assert.equal(m.payload.toString(), text)
        assert.equal(m.packet.cmd, 'publish')
        assert.equal(m.packet.qos, qos)
        assert.equal(m.packet.topic, topic)
        assert.equal('messageId' in m.packet, qos > 0)
      }
    })

    await t.test('unsubscribe stops delivery and calls back with the UNSUBACK', async (t) => {
      const { client } = await connected(t, broker.url, opts)
      await subscribe(client, 'unsub/x', { qos: 1 })
      const unsuback = await new Promise((resolve, reject) => client.unsubscribe('unsub/x', (err, p) => (err ? reject(err) : resolve(p))))
      assert.equal(unsuback.cmd, 'unsuback')
      let got = 0
      client.on('message', () => got++)
      await publish(client, 'unsub/x', 'nobody listens', { qos: 1 })
      await subscribe(client, 'unsub/sync', { qos: 1 })
      const sync = collect(client, 1)
      await publish(client, 'unsub/sync', 'marker', { qos: 1 })
      await sync
      assert.equal(got, 1)
    })

    await t.test('a burst of a thousand messages arrives complete and in order', async (t) => {
      const { client } = await connected(t, broker.url, opts)
      await subscribe(client, 'burst', { qos: 1 })
      const received = collect(client, 1000)
      for (let i = 0; i < 1000; i++) client.publish('burst', String(i), { qos: 1 })
      const messages = await received
      assert.deepEqual(messages.map((m) => Number(m.payload.toString())), Array.from({ length: 1000 }, (_, i) => i))
    })

    await t.test('the will is published when the connection drops without DISCONNECT', async (t) => {
      const { client: watcher } = await connected(t, broker.url, opts)
      await subscribe(watcher, 'will/topic', { qos: 1 })
      const got = collect(watcher, 1)
      const dying = mqtt.connect(broker.url, { ...opts, reconnectPeriod: 0, will: { topic: 'will/topic', payload: Buffer.from('gone'), qos: 1, retain: false } })
      await once(dying, 'connect')
      dying.end(true)
      const [m] = await got
      assert.equal(m.payload.toString(), 'gone')
    })

    await t.test('end() sends DISCONNECT, then emits close, then end, then calls back', async (t) => {
      const client = mqtt.connect(broker.url, { ...opts, reconnectPeriod: 0 })
      await once(client, 'connect')
      const order = []
      client.on('packetsend', (p) => order.push('>' + p.cmd))
      client.on('close', () => order.push('close'))
      client.on('end', () => order.push('end'))
      await new Promise((resolve) => client.end(() => { order.push('callback'); resolve() }))
      assert.deepEqual(order, ['>disconnect', 'close', 'end', 'callback'])
      assert.equal(client.connected, false)
      assert.equal(client.disconnected, true)
    })
  })
}

test('MQTT 5 properties travel both ways through mosquitto', async (t) => {
  if (!requireBinary(t, 'mosquitto')) return
  const broker = await startMosquitto()
  t.after(() => broker.stop())
  const { client, connack } = await connected(t, broker.url, { protocolVersion: 5 })
  assert.equal(typeof connack.properties, 'object')
  assert.deepEqual(client.serverProperties, connack.properties)
  await subscribe(client, 'props/t', { qos: 1 })
  const got = collect(client, 1)
  await publish(client, 'props/t', 'p', {
    qos: 1,
    properties: { contentType: 'text/plain', userProperties: { a: '1', b: ['x', 'y'] }, correlationData: Buffer.from([1, 2]) }
  })
  const [m] = await got
  assert.equal(m.packet.properties.contentType, 'text/plain')
  // mqtt-packet builds userProperties on a null prototype; compare the contents.
  assert.deepEqual({ ...m.packet.properties.userProperties }, { a: '1', b: ['x', 'y'] })
  assert.deepEqual(m.packet.properties.correlationData, Buffer.from([1, 2]))
})

test('against aedes over MQTT 3.1.1: subscribe, publish, receive and end', async (t) => {
  const broker = await startAedes()
  t.after(() => broker.stop())
  const { client } = await connected(t, broker.url, { protocolVersion: 4 })
  await subscribe(client, 'testtopic', { qos: 1 })
  const got = collect(client, 2)
  await publish(client, 'testtopic', 'hello', { qos: 1 })
  await publish(client, 'testtopic', 'world', { qos: 2 })
  const messages = await got
  assert.deepEqual(messages.map((m) => m.payload.toString()).sort(), ['hello', 'world'])
})

test('credentials refused by aedes give ErrorWithReasonCode 5 and a close without retry', async (t) => {
  const broker = await startAedes({ aedes: { authenticate: (client, username, password, done) => done(null, username === 'good') } })
  t.after(() => broker.stop())
  const client = mqtt.connect(broker.url, { username: 'bad', password: 'nope', reconnectPeriod: 100 })
  t.after(() => client.end(true))
  const events = []
  client.on('offline', () => events.push('offline'))
  client.on('reconnect', () => events.push('reconnect'))
  // The close may arrive in the same event batch as the error: listen for both up front.
  const closed = new Promise((resolve) => client.once('close', resolve))
  const [err] = await once(client, 'error')
  assert.ok(err instanceof mqtt.ErrorWithReasonCode)
  assert.equal(err.code, 5)
  assert.equal(err.message, 'Connection refused: Not authorized')
  await closed
  await new Promise((resolve) => setTimeout(resolve, 300))
  assert.deepEqual(events, [])
})

test('credentials accepted by aedes connect', async (t) => {
  const broker = await startAedes({
    aedes: { authenticate: (client, username, password, done) => done(null, username === 'good' && String(password) === 'secret') }
  })
  t.after(() => broker.stop())
  const { client } = await connected(t, broker.url, { username: 'good', password: 'secret' })
  assert.equal(client.connected, true)
})
