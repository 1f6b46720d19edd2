'use strict'

// The test helpers themselves work: brokers start, serve an MQTT.js client, stop and restart.

const { test, describe } = require('node:test')
const assert = require('node:assert/strict')
const net = require('node:net')
const mqtt = require('mqtt')

const { freePort } = require('./helpers/ports.js')
const { startMosquitto, requireBinary } = require('./helpers/mosquitto.js')
const { startAedes } = require('./helpers/aedes.js')
const { startScriptedBroker } = require('./helpers/scripted-broker.js')

const TIMEOUT = 20000

/** Connects an MQTT.js client and resolves once it is connected. */
async function connectClient (url, opts = {}) {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts })
  await new Promise((resolve, reject) => {
    client.once('connect', resolve)
    client.once('error', reject)
    client.once('close', () => reject(new Error(`could not connect to ${url}`)))
  })
  return client
}

/** Subscribes, publishes and resolves with the payload received back, as a string. */
async function roundTrip (client, topic, text, qos = 1) {
  await client.subscribeAsync(topic, { qos })
  const got = new Promise((resolve) => client.once('message', (t, payload) => resolve(payload.toString())))
  await client.publishAsync(topic, text, { qos })
  return got
}

function withTimeout (promise, ms, what) {
  let timer
  return Promise.race([
    promise,
    new Promise((resolve, reject) => { timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms) })
  ]).finally(() => clearTimeout(timer))
}

describe('ports', () => {
  test('freePort returns a loopback port that can be listened on', async () => {
    const port = await freePort()
    assert.ok(Number.isInteger(port) && port > 0 && port < 65536)
    const server = net.createServer()
    await new Promise((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve))
    await new Promise((resolve) => server.close(resolve))
  })
})

describe('mosquitto', () => {
  test('A started mosquitto relays a message between MQTT.js clients over TCP and WebSocket', { timeout: TIMEOUT }, async (t) => {
    if (!requireBinary(t, 'mosquitto')) return
    const broker = await startMosquitto({ websockets: true })
    t.after(() => broker.stop())
    assert.equal(broker.url, `mqtt://127.0.0.1:${broker.port}`)

    const tcp = await connectClient(broker.url)
    t.after(() => tcp.end(true))
    assert.equal(await roundTrip(tcp, 'helpers/mosquitto/tcp', 'over tcp'), 'over tcp')

    const ws = await connectClient(broker.wsUrl, { protocolVersion: 5 })
    t.after(() => ws.end(true))
    assert.equal(await roundTrip(ws, 'helpers/mosquitto/ws', 'over ws'), 'over ws')
  })

  test('stop() ends the process and restart() brings it back on the same port with its persisted data', { timeout: TIMEOUT }, async (t) => {
    if (!requireBinary(t, 'mosquitto')) return
    const broker = await startMosquitto({ persistence: true })
    t.after(() => broker.stop())
    const port = broker.port

    const first = await connectClient(broker.url)
    await first.publishAsync('helpers/retained', 'kept', { qos: 1, retain: true })
    await first.endAsync()

    const pid = broker.pid()
    await broker.stop()
    assert.equal(broker.pid(), undefined)
    assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' })
    await assert.rejects(connectClient(broker.url))

    await broker.restart()
    assert.equal(broker.port, port)
    const second = await connectClient(broker.url)
    t.after(() => second.end(true))
    const retained = new Promise((resolve) => second.once('message', (topic, payload, packet) => resolve({ text: payload.toString(), retain: packet.retain })))
    await second.subscribeAsync('helpers/retained', { qos: 1 })
    assert.deepEqual(await withTimeout(retained, 5000, 'the retained message'), { text: 'kept', retain: true })
  })

  test('extraConfig lines reach the configuration file', { timeout: TIMEOUT }, async (t) => {
    if (!requireBinary(t, 'mosquitto')) return
    const broker = await startMosquitto({ extraConfig: ['max_keepalive 30'] })
    t.after(() => broker.stop())
    const client = mqtt.connect(broker.url, { protocolVersion: 5, keepalive: 600, reconnectPeriod: 0 })
    t.after(() => client.end(true))
    // mosquitto tells an MQTT 5 client about a lowered keepalive in CONNACK.
    const connack = await withTimeout(new Promise((resolve) => client.once('connect', resolve)), 5000, 'CONNACK')
    assert.equal(connack.properties.serverKeepAlive, 30)
  })
})

describe('aedes', () => {
  test('An in-process aedes relays messages over TCP and WebSocket and stops cleanly', { timeout: TIMEOUT }, async (t) => {
    const broker = await startAedes({ websockets: true })
    t.after(() => broker.stop())
    assert.match(broker.wsUrl, /^ws:\/\/127\.0\.0\.1:\d+\/mqtt$/)

    const tcp = await connectClient(broker.url)
    t.after(() => tcp.end(true))
    assert.equal(await roundTrip(tcp, 'helpers/aedes/tcp', 'over tcp'), 'over tcp')

    const ws = await connectClient(broker.wsUrl)
    t.after(() => ws.end(true))
    assert.equal(await roundTrip(ws, 'helpers/aedes/ws', 'over ws'), 'over ws')

    const closed = new Promise((resolve) => tcp.once('close', resolve))
    await broker.stop()
    await withTimeout(closed, 5000, 'the client noticing the stop')
    await assert.rejects(connectClient(broker.url))
  })
})

describe('scripted broker', () => {
  test('It answers CONNECT, PUBLISH, SUBSCRIBE and PINGREQ automatically and records every packet', { timeout: TIMEOUT }, async (t) => {
    const broker = await startScriptedBroker({ protocolVersion: 5, autoConnack: { reasonCode: 0, sessionPresent: false, properties: { topicAliasMaximum: 5 } }, autoPuback: true, autoPingresp: true })
    t.after(() => broker.close())
    const client = await connectClient(broker.url, { protocolVersion: 5, clientId: 'scripted-1' })
    t.after(() => client.end(true))

    const conn = await broker.nextConnection()
    const connect = await conn.nextPacket('connect')
    assert.equal(connect.clientId, 'scripted-1')
    assert.equal(connect.protocolVersion, 5)

    await client.publishAsync('s/t', 'q1', { qos: 1 }) // resolves only once PUBACK arrived
    await client.publishAsync('s/t', 'q2', { qos: 2 })
    const [publish1, publish2] = [await conn.nextPacket('publish'), await conn.nextPacket('publish')]
    assert.deepEqual([publish1.payload.toString(), publish1.qos, publish2.payload.toString(), publish2.qos], ['q1', 1, 'q2', 2])
    await conn.nextPacket('pubrel')

    const granted = await client.subscribeAsync({ 'a/+': { qos: 2 }, b: { qos: 0 } })
    assert.deepEqual(granted.map((g) => g.qos), [2, 0])

    const message = new Promise((resolve) => client.once('message', (topic, payload) => resolve([topic, payload.toString()])))
    conn.send({ cmd: 'publish', topic: 'a/x', payload: 'from the broker', qos: 0 })
    assert.deepEqual(await withTimeout(message, 5000, 'the message'), ['a/x', 'from the broker'])

    client._sendPacket({ cmd: 'pingreq' })
    await conn.nextPacket('pingreq')
    assert.deepEqual(conn.packets.map((p) => p.cmd), ['connect', 'publish', 'publish', 'pubrel', 'subscribe', 'pingreq'])
  })

  test('nextPacket rejects after its timeout, and when the connection closes', { timeout: TIMEOUT }, async (t) => {
    const broker = await startScriptedBroker({ autoConnack: true })
    t.after(() => broker.close())
    const client = await connectClient(broker.url, { clientId: 'scripted-2' })
    t.after(() => client.end(true))
    const conn = await broker.nextConnection()
    await conn.nextPacket('connect')
    await assert.rejects(conn.nextPacket('subscribe', 100), /timed out after 100 ms waiting for a SUBSCRIBE packet/)

    const waiting = conn.nextPacket('publish')
    client.end(true)
    await assert.rejects(waiting, /the connection closed while waiting for a PUBLISH packet/)
    await conn.closed
  })

  test('Without autoConnack the test decides: a refusal reaches MQTT.js as an error', { timeout: TIMEOUT }, async (t) => {
    const broker = await startScriptedBroker({ protocolVersion: 4 })
    t.after(() => broker.close())
    broker.onConnection((conn) => {
      conn.once('packet', () => conn.send({ cmd: 'connack', sessionPresent: false, returnCode: 5 }))
    })
    const client = mqtt.connect(broker.url, { reconnectPeriod: 0 })
    t.after(() => client.end(true))
    const err = await withTimeout(new Promise((resolve) => client.once('error', resolve)), 5000, 'the refusal')
    assert.equal(err.code, 5)
    assert.equal(broker.connections.length, 1)
  })

  test('sendRaw writes bytes as they are, and close() destroys every connection', { timeout: TIMEOUT }, async (t) => {
    const broker = await startScriptedBroker({})
    const client = mqtt.connect(broker.url, { reconnectPeriod: 0 })
    t.after(() => client.end(true))
    const conn = await broker.nextConnection()
    await conn.nextPacket('connect')
    const connected = new Promise((resolve) => client.once('connect', resolve))
    conn.sendRaw(Buffer.from([0x20, 0x02, 0x00, 0x00]))
    await withTimeout(connected, 5000, 'the CONNACK')
    const clientClosed = new Promise((resolve) => client.once('close', resolve))
    await broker.close()
    await withTimeout(clientClosed, 5000, 'the client noticing the close')
    assert.equal(conn.isClosed, true)
    await assert.rejects(broker.nextConnection(50), /the broker closed/)
  })
})
