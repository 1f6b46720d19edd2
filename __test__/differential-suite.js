'use strict'
// Differential tests: the same scenario against MQTT.js 5.16 (the oracle) and mqtt-native, with a
// scripted broker each (over the transport the calling test file chooses), comparing the event traces: events in order, with the client's flags
// [connected reconnecting disconnecting disconnected] sampled inside each listener (research §6).
// Where mqtt-native deliberately differs, the scenario says so and the expectation is adjusted in
// one visible place.

const nodeTest = require('node:test')
const assert = require('node:assert/strict')
const mqttjs = require('mqtt')
const native = require('..')
const { startScriptedBroker, endAllAndClose } = require('./helpers/scripted-broker')
const { freePort } = require('./helpers/ports')

const LIBS = [['MQTT.js', mqttjs], ['mqtt-native', native]]
/** The transport of the scripted broker for this run of the suite. */
let TRANSPORT = 'tcp'
/** Registers a test, naming the transport unless it is plain TCP. */
function test (name, fn) {
  return nodeTest(TRANSPORT === 'tcp' ? name : `${name} (over ${TRANSPORT})`, fn)
}
const EVENTS = ['connect', 'reconnect', 'close', 'offline', 'disconnect', 'error', 'end', 'message', 'outgoingEmpty']

function flags (c) {
  const f = (v) => (v === undefined ? '-' : v ? '1' : '0')
  return `[${f(c.connected)}${f(c.reconnecting)}${f(c.disconnecting)}${f(c.disconnected)}]`
}

/** Records every event of `client` into `trace` as compact strings. */
function record (client, trace, { packets = false } = {}) {
  for (const event of EVENTS) {
    client.on(event, (...args) => {
      let detail = ''
      if (event === 'error') detail = ` ${showError(args[0])}`
      if (event === 'message') detail = ` ${args[0]} ${args[1]}`
      if (event === 'disconnect') detail = ` rc=${args[0].reasonCode}`
      if (event === 'connect') detail = ` rc=${args[0].returnCode ?? args[0].reasonCode}`
      trace.push(`${event}${detail} ${flags(client)}`)
    })
  }
  if (packets) {
    client.on('packetsend', (p) => trace.push(`>${p.cmd}`))
    client.on('packetreceive', (p) => trace.push(`<${p.cmd}`))
  }
}

/**
 * Errors a scenario makes itself and hands to the client (a store that fails): they must reach
 * the application unchanged, the same object, so they are shown as `(supplied)`, without a code.
 */
const SUPPLIED = new WeakSet()
function suppliedError (message) {
  const err = new Error(message)
  SUPPLIED.add(err)
  return err
}

/** An error as traces show it: its message and ` code=<code>`, `code=none` when it has none. */
function showError (err) {
  if (SUPPLIED.has(err)) return `${err.message} (supplied)`
  return `${err.message} code=${err.code === undefined ? 'none' : err.code}`
}

const TRACED_CODE = /code=([A-Za-z0-9_]+)/g
const OUR_CODE = /^ERR_MQTT_[A-Z0-9_]+$/

/**
 * Asserts that mqtt-native's trace is MQTT.js's, exactly but for one rule (issue #18): where
 * MQTT.js's error has no code (`code=none`), ours has a string `ERR_MQTT_…` code in its place, an
 * additive difference. Ours must have it: an error of ours shown with `code=none` fails, even
 * where MQTT.js's matches it. Numeric reason codes and socket codes compare exactly.
 */
function assertSameTrace (ours, theirs) {
  const additive = ours.map((entry, i) => {
    if (typeof entry !== 'string' || typeof theirs[i] !== 'string') return entry
    const theirCodes = [...theirs[i].matchAll(TRACED_CODE)].map((m) => m[1])
    let k = 0
    return entry.replace(TRACED_CODE, (shown, code) =>
      theirCodes[k++] === 'none' && OUR_CODE.test(code) ? 'code=none' : shown)
  })
  assert.deepEqual(additive, theirs)
  assert.deepEqual(ours.filter((entry) => typeof entry === 'string' && entry.includes('code=none')), [],
    'every error mqtt-native makes has a string code')
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Waits until `predicate()` holds, polling; gives up after `ms`. */
async function until (predicate, ms = 4000) {
  const start = Date.now()
  while (!predicate()) {
    if (Date.now() - start > ms) return false
    await sleep(5)
  }
  return true
}

/**
 * Runs `scenario(lib, ctx)` once per library and returns the traces. `ctx` gives a fresh scripted
 * broker (`ctx.broker`), the trace and a `client()` factory that records events.
 */
async function both (t, brokerOptions, scenario) {
  const traces = {}
  for (const [name, lib] of LIBS) {
    const broker = await startScriptedBroker({ transport: TRANSPORT, autoConnack: true, autoPingresp: true, autoPuback: true, ...brokerOptions })
    const trace = []
    const clients = []
    const ctx = {
      broker,
      trace,
      client (url, opts, recordOpts) {
        const c = lib.connect(url, { ...broker.clientOptions, ...opts })
        clients.push(c)
        record(c, trace, recordOpts)
        return c
      }
    }
    try {
      await scenario(lib, ctx)
      // What happens while the test tears down is not part of the scenario.
      traces[name] = trace.slice()
    } finally {
      await endAllAndClose(clients, broker)
    }
  }
  return traces
}

/** Registers every differential test, against a scripted broker over `transport`. */
function defineDifferentialSuite (transport) {
  TRANSPORT = transport
  test('first connect and then end(): connect, then close, end and the callback', async (t) => {
    const traces = await both(t, {}, async (lib, { broker, trace, client }) => {
      const c = client(broker.url, { reconnectPeriod: 1000 })
      await until(() => trace.length === 1)
      await new Promise((resolve) => c.end(() => { trace.push(`callback ${flags(c)}`); resolve() }))
    })
    assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
  })

  test('end(true): close, end, then the callback, with no DISCONNECT', async (t) => {
    const traces = await both(t, {}, async (lib, { broker, trace, client }) => {
      const c = client(broker.url, { reconnectPeriod: 1000 })
      await until(() => trace.length === 1)
      await new Promise((resolve) => c.end(true, () => { trace.push(`callback ${flags(c)}`); resolve() }))
      const conn = broker.connections[0]
      trace.push(conn.packets.map((p) => p.cmd).join(','))
    })
    assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
  })

  for (const version of [4, 5]) {
    test(`a refused CONNACK with the broker closing gives error then close, and no retry (protocol ${version})`, async (t) => {
      const traces = await both(t, { protocolVersion: version, autoConnack: false }, async (lib, { broker, trace, client }) => {
        broker.onConnection((conn) => {
          conn.nextPacket('connect').then(() => {
            conn.send(version === 5 ? { cmd: 'connack', reasonCode: 135 } : { cmd: 'connack', returnCode: 5 })
            setTimeout(() => conn.end(), 20)
          }, () => {})
        })
        client(broker.url, { protocolVersion: version, reconnectPeriod: 50 })
        await until(() => trace.some((e) => e.startsWith('close')))
        await sleep(200)
      })
      assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
    })
  }

  test('a broker closing an established connection: offline before close, then reconnect and connect', async (t) => {
    const traces = await both(t, {}, async (lib, { broker, trace, client }) => {
      client(broker.url, { reconnectPeriod: 50 })
      const first = await broker.nextConnection()
      await until(() => trace.length === 1)
      first.destroy()
      await until(() => trace.filter((e) => e.startsWith('connect')).length === 2)
    })
    assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
  })

  test('an unreachable broker: error, offline once, close, then reconnect attempts', async (t) => {
    const port = await freePort()
    const traces = await both(t, {}, async (lib, { trace, client }) => {
      client(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 100 })
      await until(() => trace.filter((e) => e.startsWith('close')).length === 3)
      trace.splice(8)
    })
    // Node's own message names the address; ours too. Compare without the port number.
    const strip = (trace) => trace.map((e) => e.replace(/:\d+ /, ' '))
    assertSameTrace(strip(traces['mqtt-native']), strip(traces['MQTT.js']))
  })

  test('reconnectPeriod 0 and an unreachable broker: error and close, nothing more', async (t) => {
    const port = await freePort()
    const traces = await both(t, {}, async (lib, { trace, client }) => {
      client(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 })
      await until(() => trace.some((e) => e.startsWith('close')))
      await sleep(150)
    })
    const strip = (trace) => trace.map((e) => e.replace(/:\d+ /, ' '))
    assertSameTrace(strip(traces['mqtt-native']), strip(traces['MQTT.js']))
  })

  test('a broker that never answers PINGREQ: offline, Keepalive timeout, close, reconnect', async (t) => {
    const traces = await both(t, { autoPingresp: false }, async (lib, { broker, trace, client }) => {
      client(broker.url, { keepalive: 1, reconnectPeriod: 100 })
      await until(() => trace.some((e) => e.startsWith('reconnect')), 5000)
      trace.splice(trace.findIndex((e) => e.startsWith('reconnect')) + 1)
    })
    assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
  })

  test('keepalive runs on the timerVariant timers: PINGREQ on the second half-interval tick, Keepalive timeout on the third', async (t) => {
    const traces = await both(t, { autoPingresp: false }, async (lib, { broker, trace, client }) => {
      // A hand-driven timer: keepalive 60 s never fires by itself during the test.
      const timers = new Map()
      let nextId = 1
      const timerVariant = {
        set: (fn, ms) => { timers.set(nextId, { fn, ms }); return nextId++ },
        clear: (id) => { timers.delete(id) }
      }
      const tick = () => { for (const { fn } of [...timers.values()]) fn() }
      const c = client(broker.url, { keepalive: 60, reconnectPeriod: 0, timerVariant }, { packets: true })
      await until(() => trace.some((e) => e.startsWith('connect')))
      trace.push(`timers ${[...timers.values()].map((x) => x.ms).join(',')} timeout in ${c.keepaliveManager.keepaliveTimeoutTimestamp - Date.now() > 89000}`)
      tick()
      await sleep(50)
      trace.push(`after one tick: ${broker.connections[0].packets.filter((p) => p.cmd === 'pingreq').length} pingreq`)
      tick()
      await until(() => trace.includes('>pingreq'))
      tick()
      await until(() => trace.some((e) => e.startsWith('close')))
      trace.push(`timers left ${timers.size}`)
    })
    assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
  })

  test('keepalive follows a fake setInterval installed after the library loaded (node:test mock timers)', async (t) => {
    const traces = await both(t, { autoPingresp: false }, async (lib, { broker, trace, client }) => {
      t.mock.timers.enable({ apis: ['setInterval'] })
      try {
        client(broker.url, { keepalive: 60, reconnectPeriod: 0 }, { packets: true })
        await until(() => trace.some((e) => e.startsWith('connect')))
        // One keepalive interval: the PINGREQ; half an interval more without PINGRESP: the timeout.
        t.mock.timers.tick(60000)
        await until(() => trace.includes('>pingreq'))
        t.mock.timers.tick(30000)
        await until(() => trace.some((e) => e.startsWith('close')))
      } finally {
        t.mock.timers.reset()
      }
    })
    assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
  })

  test('a CONNACK that never comes: offline, connack timeout, close, reconnect', async (t) => {
    const traces = await both(t, { autoConnack: false }, async (lib, { broker, trace, client }) => {
      client(broker.url, { connectTimeout: 200, reconnectPeriod: 100 })
      await until(() => trace.some((e) => e.startsWith('reconnect')))
      trace.splice(trace.findIndex((e) => e.startsWith('reconnect')) + 1)
    })
    assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
  })

  test('an MQTT 5 DISCONNECT from the broker, then a close: disconnect, offline, close, reconnect', async (t) => {
    const traces = await both(t, { protocolVersion: 5 }, async (lib, { broker, trace, client }) => {
      client(broker.url, { protocolVersion: 5, reconnectPeriod: 100 })
      const conn = await broker.nextConnection()
      await until(() => trace.length === 1)
      conn.send({ cmd: 'disconnect', reasonCode: 139, properties: { reasonString: 'bye' } })
      setTimeout(() => conn.end(), 20)
      await until(() => trace.some((e) => e.startsWith('reconnect')))
      trace.splice(trace.findIndex((e) => e.startsWith('reconnect')) + 1)
    })
    assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
  })

  test('end() with a QoS 1 publish in flight waits for the PUBACK, then disconnects', async (t) => {
    const traces = await both(t, { autoPuback: false }, async (lib, { broker, trace, client }) => {
      const c = client(broker.url, { reconnectPeriod: 1000 })
      const conn = await broker.nextConnection()
      await until(() => trace.length === 1)
      c.publish('t', 'x', { qos: 1 }, (err) => trace.push(`publish callback ${err ? showError(err) : 'ok'}`))
      const publish = await conn.nextPacket('publish')
      const ended = new Promise((resolve) => c.end(() => { trace.push('end callback'); resolve() }))
      await sleep(30)
      trace.push('broker acks')
      conn.send({ cmd: 'puback', messageId: publish.messageId })
      await ended
      trace.push(conn.packets.map((p) => p.cmd).join(','))
    })
    assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
  })

  for (const version of [4, 5]) {
    test(`inbound QoS 0, 1 and 2 give the same packets and messages in the same order (protocol ${version})`, async (t) => {
      const traces = await both(t, { protocolVersion: version }, async (lib, { broker, trace, client }) => {
        client(broker.url, { protocolVersion: version, reconnectPeriod: 1000 }, { packets: true })
        const conn = await broker.nextConnection()
        await until(() => trace.some((e) => e.startsWith('connect')))
        conn.send({ cmd: 'publish', topic: 'q/0', payload: 'a', qos: 0 })
        conn.send({ cmd: 'publish', topic: 'q/1', payload: 'b', qos: 1, messageId: 5 })
        conn.send({ cmd: 'publish', topic: 'q/2', payload: 'c', qos: 2, messageId: 6 })
        await conn.nextPacket('pubrec')
        conn.send({ cmd: 'pubrel', messageId: 6 })
        await conn.nextPacket('pubcomp')
        await until(() => trace.filter((e) => e.startsWith('message')).length === 3)
        await sleep(20)
      })
      assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
    })
  }

  test('a failed subscription gives the same callback arguments', async (t) => {
    const results = {}
    await both(t, { autoPuback: false }, async (lib, { broker, client }) => {
      const c = client(broker.url, { reconnectPeriod: 1000 })
      const conn = await broker.nextConnection()
      await new Promise((resolve) => c.once('connect', resolve))
      const done = new Promise((resolve) => c.subscribe({ ok: { qos: 1 }, bad: { qos: 1 } }, (err, granted, suback) => resolve({ err, granted, suback })))
      const sub = await conn.nextPacket('subscribe')
      conn.send({ cmd: 'suback', messageId: sub.messageId, granted: [1, 128] })
      const { err, granted, suback } = await done
      results[lib === mqttjs ? 'MQTT.js' : 'mqtt-native'] = {
        message: err.message,
        name: err.constructor.name,
        packetGranted: err.packet && err.packet.granted,
        granted,
        subackGranted: suback && suback.granted
      }
    })
    assert.deepEqual(results['mqtt-native'], results['MQTT.js'])
  })

  test('publishes and subscribes made before the connection are sent after CONNECT, in order', async (t) => {
    const traces = await both(t, {}, async (lib, { broker, trace, client }) => {
      const c = client(broker.url, { reconnectPeriod: 1000, manualConnect: true })
      c.publish('a', '0', { qos: 0 }, () => trace.push('q0 callback'))
      c.subscribe('s', { qos: 1 }, (err) => trace.push(`subscribe callback ${err ? showError(err) : 'ok'}`))
      c.publish('b', '1', { qos: 1 }, () => trace.push('q1 callback'))
      c.connect()
      const conn = await broker.nextConnection()
      await until(() => trace.filter((e) => e.includes('callback')).length === 3)
      trace.push(conn.packets.map((p) => p.cmd + (p.topic ? ':' + p.topic : '')).join(','))
    })
    assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
  })

  test('destroying client.stream behaves as a dropped connection: offline, close, reconnect, connect', async (t) => {
    const traces = await both(t, {}, async (lib, { broker, trace, client }) => {
      const c = client(broker.url, { reconnectPeriod: 50 })
      await until(() => trace.length === 1)
      c.stream.destroy()
      await until(() => trace.filter((e) => e.startsWith('connect')).length === 2)
    })
    assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
  })

  test('reconnect() while connected: reconnect, close, end, connect', async (t) => {
    const traces = await both(t, {}, async (lib, { broker, trace, client }) => {
      const c = client(broker.url, { reconnectPeriod: 1000 })
      await until(() => trace.length === 1)
      c.reconnect()
      await until(() => trace.filter((e) => e.startsWith('connect')).length === 2)
    })
    assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
  })

  test('reconnect() after end(): reconnect, then connect on the same client', async (t) => {
    const traces = await both(t, {}, async (lib, { broker, trace, client }) => {
      const c = client(broker.url, { reconnectPeriod: 1000 })
      await until(() => trace.length === 1)
      await new Promise((resolve) => c.end(resolve))
      c.reconnect()
      await until(() => trace.filter((e) => e.startsWith('connect')).length === 2)
    })
    assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
  })

  test('a handleMessage that calls back later holds the PUBACK and the next message until it does', async (t) => {
    const traces = await both(t, {}, async (lib, { broker, trace, client }) => {
      const c = client(broker.url, { reconnectPeriod: 1000 }, { packets: true })
      const pending = []
      c.handleMessage = (packet, done) => {
        trace.push(`handleMessage ${packet.topic}`)
        pending.push(done)
      }
      const conn = await broker.nextConnection()
      await until(() => trace.some((e) => e.startsWith('connect')))
      conn.send({ cmd: 'publish', topic: 'h/1', payload: 'a', qos: 1, messageId: 1 })
      conn.send({ cmd: 'publish', topic: 'h/2', payload: 'b', qos: 1, messageId: 2 })
      await until(() => pending.length === 1)
      await sleep(50)
      trace.push(`acks before done: ${conn.packets.filter((p) => p.cmd === 'puback').length}`)
      pending.shift()()
      await until(() => pending.length === 1)
      await conn.nextPacket('puback')
      pending.shift()()
      await conn.nextPacket('puback')
    })
    assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
  })

  test('MQTT 5 customHandleAcks chooses the PUBACK reason code and a failure suppresses the message', async (t) => {
    const traces = await both(t, { protocolVersion: 5 }, async (lib, { broker, trace, client }) => {
      client(broker.url, {
        protocolVersion: 5,
        reconnectPeriod: 1000,
        customHandleAcks: (topic, payload, packet, done) => done(topic === 'bad' ? 135 : 0)
      })
      const conn = await broker.nextConnection()
      await until(() => trace.some((e) => e.startsWith('connect')))
      conn.send({ cmd: 'publish', topic: 'bad', payload: 'x', qos: 1, messageId: 3 })
      conn.send({ cmd: 'publish', topic: 'good', payload: 'y', qos: 1, messageId: 4 })
      const acks = [await conn.nextPacket('puback'), await conn.nextPacket('puback')]
      trace.push(acks.map((a) => `${a.messageId}:${a.reasonCode}`).join(','))
      await sleep(20)
    })
    assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
  })

  test('MQTT 5 outgoing topic aliases: explicit, automatic and refused ones look the same on the wire', async (t) => {
    const results = {}
    await both(t, { protocolVersion: 5, autoConnack: { reasonCode: 0, properties: { topicAliasMaximum: 2 } } }, async (lib, { broker, client }) => {
      const c = client(broker.url, { protocolVersion: 5, reconnectPeriod: 1000, autoAssignTopicAlias: true })
      const conn = await broker.nextConnection()
      await new Promise((resolve) => c.once('connect', resolve))
      const errors = []
      const pub = (topic, opts) => new Promise((resolve) => c.publish(topic, 'x', opts, (err) => { if (err) errors.push(showError(err)); resolve() }))
      await pub('alias/a', { qos: 0 })
      await pub('alias/a', { qos: 0 })
      await pub('alias/b', { qos: 0 })
      await pub('alias/c', { qos: 0 })
      await pub('alias/c', { qos: 0 })
      await pub('alias/x', { qos: 0, properties: { topicAlias: 9 } })
      await pub('', { qos: 0, properties: { topicAlias: 2 } })
      await sleep(50)
      results[lib === mqttjs ? 'MQTT.js' : 'mqtt-native'] = {
        wire: conn.packets.filter((p) => p.cmd === 'publish').map((p) => `${p.topic}|${p.properties && p.properties.topicAlias}`),
        errors
      }
    })
    assert.deepEqual(results['mqtt-native'].wire, results['MQTT.js'].wire)
    assertSameTrace(results['mqtt-native'].errors, results['MQTT.js'].errors)
  })

  test('MQTT 5 enhanced authentication: authPacket, a challenge answered by handleAuth, then CONNACK', async (t) => {
    const traces = await both(t, { protocolVersion: 5, autoConnack: false }, async (lib, { broker, trace, client }) => {
      const c = client(broker.url, {
        protocolVersion: 5,
        reconnectPeriod: 1000,
        properties: { authenticationMethod: 'DEMO', authenticationData: Buffer.from('hello') },
        authPacket: { properties: { authenticationMethod: 'DEMO', authenticationData: Buffer.from('first') } }
      })
      c.handleAuth = (packet, done) => {
        trace.push(`handleAuth rc=${packet.reasonCode} ${packet.properties.authenticationData}`)
        done(null, { cmd: 'auth', reasonCode: 24, properties: { authenticationMethod: 'DEMO', authenticationData: Buffer.from('answer') } })
      }
      const conn = await broker.nextConnection()
      const connect = await conn.nextPacket('connect')
      const first = await conn.nextPacket('auth')
      trace.push(`broker got ${connect.properties.authenticationMethod} ${first.reasonCode} ${first.properties.authenticationData}`)
      conn.send({ cmd: 'auth', reasonCode: 24, properties: { authenticationMethod: 'DEMO', authenticationData: Buffer.from('challenge') } })
      const answer = await conn.nextPacket('auth')
      trace.push(`broker got ${answer.reasonCode} ${answer.properties.authenticationData}`)
      conn.send({ cmd: 'connack', reasonCode: 0, properties: { authenticationMethod: 'DEMO' } })
      await until(() => trace.some((e) => e.startsWith('connect')))
    })
    assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
  })

  test('MQTT 5 AUTH with another method than CONNECT\'s is a protocol error that closes the connection', async (t) => {
    const traces = await both(t, { protocolVersion: 5, autoConnack: false }, async (lib, { broker, trace, client }) => {
      client(broker.url, { protocolVersion: 5, reconnectPeriod: 0, properties: { authenticationMethod: 'DEMO' } })
      const conn = await broker.nextConnection()
      await conn.nextPacket('connect')
      conn.send({ cmd: 'auth', reasonCode: 24, properties: { authenticationMethod: 'OTHER' } })
      await until(() => trace.some((e) => e.startsWith('close')))
    })
    assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
  })

  test('an outgoing store given by the application carries unacknowledged messages to the next client', async (t) => {
    const traces = await both(t, { autoPuback: false }, async (lib, { broker, trace, client }) => {
      const store = new lib.Store({ clean: false })
      const first = client(broker.url, { reconnectPeriod: 0, clientId: 'store-a', clean: false, outgoingStore: store })
      const conn1 = await broker.nextConnection()
      await until(() => trace.some((e) => e.startsWith('connect')))
      first.publish('s/1', 'one', { qos: 1 })
      first.publish('s/2', 'two', { qos: 2 })
      const p1 = await conn1.nextPacket('publish')
      const p2 = await conn1.nextPacket('publish')
      conn1.send({ cmd: 'pubrec', messageId: p2.messageId })
      await conn1.nextPacket('pubrel')
      await sleep(20)
      await new Promise((resolve) => first.end(true, resolve))
      trace.push('second client')
      client(broker.url, { reconnectPeriod: 0, clientId: 'store-a', clean: false, outgoingStore: store })
      const conn2 = await broker.nextConnection()
      await conn2.nextPacket('connect')
      // MQTT.js resends one stored packet per round trip: answer each before the next.
      const resent = await conn2.nextPacket('publish')
      conn2.send({ cmd: 'puback', messageId: resent.messageId })
      const rel = await conn2.nextPacket('pubrel')
      trace.push(`resent ${resent.topic} same id ${resent.messageId === p1.messageId}, pubrel same id ${rel.messageId === p2.messageId}`)
      conn2.send({ cmd: 'pubcomp', messageId: rel.messageId })
      await until(() => trace.filter((e) => e.startsWith('connect')).length === 2)
      await sleep(20)
      trace.push(`store holds ${[...store._inflights.keys()].length}`)
    })
    assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
  })

  test('an incoming store given by the application lets the next client deliver a QoS 2 message released by PUBREL', async (t) => {
    const traces = await both(t, { autoPuback: false }, async (lib, { broker, trace, client }) => {
      const store = new lib.Store({ clean: false })
      const first = client(broker.url, { reconnectPeriod: 0, clientId: 'store-b', clean: false, incomingStore: store })
      const conn1 = await broker.nextConnection()
      await until(() => trace.some((e) => e.startsWith('connect')))
      conn1.send({ cmd: 'publish', topic: 'in/q2', payload: 'kept', qos: 2, messageId: 77 })
      await conn1.nextPacket('pubrec')
      await new Promise((resolve) => first.end(true, resolve))
      trace.push('second client')
      client(broker.url, { reconnectPeriod: 0, clientId: 'store-b', clean: false, incomingStore: store })
      const conn2 = await broker.nextConnection()
      await until(() => trace.filter((e) => e.startsWith('connect')).length === 2)
      conn2.send({ cmd: 'pubrel', messageId: 77 })
      const comp = await conn2.nextPacket('pubcomp')
      trace.push(`pubcomp ${comp.messageId}`)
      await sleep(20)
    })
    assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
  })

  test('queueQoSZero false: a QoS 0 publish while offline fails with "No connection to broker"', async (t) => {
    const traces = await both(t, {}, async (lib, { broker, trace, client }) => {
      const c = client(broker.url, { reconnectPeriod: 1000, manualConnect: true, queueQoSZero: false })
      c.publish('q', 'x', { qos: 0 }, (err) => trace.push(`callback ${err && showError(err)}`))
      trace.push(`queue ${c.queue.length}`)
    })
    assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
  })

  test('subscribeBatchSize splits one subscribe into packets of at most N topics and calls back once', async (t) => {
    const traces = await both(t, {}, async (lib, { broker, trace, client }) => {
      const c = client(broker.url, { reconnectPeriod: 1000, subscribeBatchSize: 2 })
      const conn = await broker.nextConnection()
      await until(() => trace.some((e) => e.startsWith('connect')))
      await new Promise((resolve) => c.subscribe(['a', 'b', 'c', 'd', 'e'], { qos: 1 }, (err, granted, suback) => {
        trace.push(`callback ${err} ${granted.map((g) => g.topic + g.qos).join(',')} ${suback.granted.length}`)
        resolve()
      }))
      trace.push(conn.packets.filter((p) => p.cmd === 'subscribe').map((p) => p.subscriptions.map((s) => s.topic).join('+')).join(' '))
    })
    assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
  })

  for (const version of [4, 5]) {
    test(`after a reconnect without a session, subscriptions are replayed as MQTT.js replays them (protocol ${version})`, async (t) => {
      const traces = await both(t, { protocolVersion: version }, async (lib, { broker, trace, client }) => {
        const c = client(broker.url, { protocolVersion: version, reconnectPeriod: 50 })
        const first = await broker.nextConnection()
        await until(() => trace.some((e) => e.startsWith('connect')))
        await new Promise((resolve) => c.subscribe({ x: { qos: 1 }, y: { qos: 0 } }, resolve))
        first.destroy()
        const second = await broker.nextConnection()
        await until(() => trace.filter((e) => e.startsWith('connect')).length === 2)
        await sleep(50)
        trace.push(second.packets.filter((p) => p.cmd === 'subscribe').map((p) => p.subscriptions.map((s) => `${s.topic}:${s.qos}`).join('+')).join(' '))
      })
      assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
    })
  }

  test('a subscribe made before a failed first connection calls back with "Connection closed"', async (t) => {
    const port = await freePort()
    const traces = await both(t, {}, async (lib, { trace, client }) => {
      const c = client(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 })
      c.subscribe('t', (err) => trace.push(`subscribe callback ${err && showError(err)}`))
      await until(() => trace.some((e) => e.startsWith('close')))
      await sleep(20)
    })
    const strip = (trace) => trace.map((e) => e.replace(/:\d+ /, ' '))
    assertSameTrace(strip(traces['mqtt-native']), strip(traces['MQTT.js']))
  })

  test('getLastMessageId returns the id of the last publish, and subscribe and unsubscribe take the next ones', async (t) => {
    const results = {}
    await both(t, {}, async (lib, { broker, client }) => {
      const c = client(broker.url, { reconnectPeriod: 1000 })
      const conn = await broker.nextConnection()
      await new Promise((resolve) => c.once('connect', resolve))
      c.publish('a', 'x', { qos: 1 })
      const last = c.getLastMessageId()
      c.subscribe('s')
      c.unsubscribe('s')
      const pub = await conn.nextPacket('publish')
      const sub = await conn.nextPacket('subscribe')
      const unsub = await conn.nextPacket('unsubscribe')
      results[lib === mqttjs ? 'MQTT.js' : 'mqtt-native'] = [pub.messageId === last, sub.messageId - last, unsub.messageId - last]
    })
    assert.deepEqual(results['mqtt-native'], results['MQTT.js'])
  })

  test('reconnectOnConnackError: a refused CONNACK is retried', async (t) => {
    const traces = await both(t, { autoConnack: { returnCode: 3 } }, async (lib, { broker, trace, client }) => {
      broker.onConnection((conn) => conn.nextPacket('connect').then(() => setTimeout(() => conn.end(), 10), () => {}))
      client(broker.url, { reconnectPeriod: 50, reconnectOnConnackError: true })
      await until(() => trace.filter((e) => e.startsWith('reconnect')).length === 2)
      trace.splice(trace.findIndex((e, i) => e.startsWith('reconnect') && i > 3) + 1)
    })
    assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
  })

  test('connectAsync with allowRetries false rejects when the first attempt fails', async (t) => {
    const port = await freePort()
    const results = {}
    for (const [name, lib] of LIBS) {
      const err = await lib.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 100 }, false).then(() => null, (e) => e)
      results[name] = err && err.code
    }
    assert.deepEqual(results['mqtt-native'], results['MQTT.js'])
  })

  test('end() with an MQTT 5 reason code and properties sends them in DISCONNECT; endAsync resolves after end', async (t) => {
    const traces = await both(t, { protocolVersion: 5 }, async (lib, { broker, trace, client }) => {
      const c = client(broker.url, { protocolVersion: 5, reconnectPeriod: 1000 })
      const conn = await broker.nextConnection()
      await until(() => trace.length === 1)
      await c.endAsync(false, { reasonCode: 4, properties: { reasonString: 'bye', sessionExpiryInterval: 5 } })
      trace.push('endAsync resolved')
      const d = await conn.nextPacket('disconnect')
      trace.push(`disconnect rc=${d.reasonCode} ${d.properties.reasonString} ${d.properties.sessionExpiryInterval}`)
    })
    assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
  })

  // -----------------------------------------------------------------------------------------------
  // Issue #10: what MQTT.js code still noticed. Scenarios whose transport does not matter run over
  // tcp only.
  const anyTransport = TRANSPORT === 'tcp' ? test : () => {}

  test('packets the client writes on its own (PUBREL, PINGREQ) reach packetsend in the order written, between the packets around them', async (t) => {
    const traces = await both(t, { autoPuback: false, autoPingresp: false }, async (lib, { broker, trace, client }) => {
      broker.onConnection((conn) => conn.on('packet', (p) => {
        if (p.cmd === 'publish' && p.qos === 2) conn.send({ cmd: 'pubrec', messageId: p.messageId })
        if (p.cmd === 'pubrel') setTimeout(() => conn.send({ cmd: 'pubcomp', messageId: p.messageId }), 20)
        if (p.cmd === 'pingreq') conn.send({ cmd: 'pingresp' })
      }))
      const c = client(broker.url, { keepalive: 1, reconnectPeriod: 0 }, { packets: true })
      await until(() => trace.some((e) => e.startsWith('connect')))
      await new Promise((resolve) => c.publish('t', 'x', { qos: 2 }, () => { trace.push('publish callback'); resolve() }))
      // One keepalive period later the client pings by itself.
      await until(() => trace.includes('<pingresp'), 3000)
    })
    assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
    // And the scenario did exercise what it is about.
    const packets = traces['mqtt-native'].filter((e) => e.startsWith('>') || e.startsWith('<'))
    const at = (e) => packets.indexOf(e)
    assert.ok(at('<pubrec') < at('>pubrel') && at('>pubrel') < at('<pubcomp'), packets.join(' '))
    assert.ok(at('>pingreq') !== -1 && at('>pingreq') < at('<pingresp'), packets.join(' '))
  })

  for (const version of [4, 5]) {
    anyTransport(`every callback gets MQTT.js's arguments, null where it passes null and undefined where it passes undefined (protocol ${version})`, async (t) => {
      const traces = await both(t, { protocolVersion: version, autoConnack: false, autoPuback: false }, async (lib, { broker, trace, client }) => {
        broker.onConnection((conn) => conn.on('packet', (p) => {
          if (p.cmd === 'publish' && p.qos === 1) conn.send({ cmd: 'puback', messageId: p.messageId, ...(version === 5 && p.topic === 'bad' ? { reasonCode: 135 } : {}) })
          if (p.cmd === 'publish' && p.qos === 2) conn.send({ cmd: 'pubrec', messageId: p.messageId })
          if (p.cmd === 'pubrel') conn.send({ cmd: 'pubcomp', messageId: p.messageId })
          if (p.cmd === 'subscribe') conn.send({ cmd: 'suback', messageId: p.messageId, granted: p.subscriptions.map((sub) => (sub.topic === 'refused' ? 128 : sub.qos)) })
          if (p.cmd === 'unsubscribe') conn.send({ cmd: 'unsuback', messageId: p.messageId, ...(version === 5 ? { granted: [0] } : {}) })
        }))
        const c = client(broker.url, { protocolVersion: version, reconnectPeriod: 0 })
        const call = (label, fn) => new Promise((resolve) => fn((...a) => { trace.push(`${label}: ${callbackArgs(a)}`); resolve() }))
        // Offline first: queued and stored, called back once connected.
        const offline = [call('offline qos0', (k) => c.publish('t', 'x', { qos: 0 }, k)), call('offline qos1', (k) => c.publish('t', 'x', { qos: 1 }, k)), call('offline subscribe', (k) => c.subscribe('t', k))]
        const conn = await broker.nextConnection()
        await conn.nextPacket('connect')
        conn.send(version === 5 ? { cmd: 'connack', reasonCode: 0 } : { cmd: 'connack', returnCode: 0 })
        await Promise.all(offline)
        await call('qos0', (k) => c.publish('t', 'x', { qos: 0 }, k))
        await call('qos1', (k) => c.publish('t', 'x', { qos: 1 }, k))
        await call('qos2', (k) => c.publish('t', 'x', { qos: 2 }, k))
        if (version === 5) await call('qos1 refused', (k) => c.publish('bad', 'x', { qos: 1 }, k))
        await call('subscribe', (k) => c.subscribe('t', k))
        await call('subscribe refused', (k) => c.subscribe('refused', k))
        await call('unsubscribe', (k) => c.unsubscribe('t', k))
        await call('invalid topic', (k) => c.subscribe('a/#/b', k))
        trace.push(`publishAsync qos1 ${callbackArgs([await c.publishAsync('t', 'x', { qos: 1 })])}`)
        trace.push(`publishAsync qos0 ${callbackArgs([await c.publishAsync('t', 'x', { qos: 0 })])}`)
        trace.push(`unsubscribeAsync ${callbackArgs([await c.unsubscribeAsync('t')])}`)
        await call('end', (k) => c.end(k))
        await call('end again', (k) => c.end(k))
        trace.push(`endAsync ${callbackArgs([await c.endAsync()])}`)
      })
      assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
    })
  }

  anyTransport('a store whose close() fails passes the error to end()\'s callback and endAsync, not to \'end\' listeners', async (t) => {
    const traces = await both(t, {}, async (lib, { broker, trace, client }) => {
      const failing = (name) => {
        const store = new lib.Store()
        store.close = (cb) => cb(suppliedError(`${name} close failed`))
        return store
      }
      const c = client(broker.url, { reconnectPeriod: 0, incomingStore: failing('incoming'), outgoingStore: failing('outgoing') })
      c.on('end', (...a) => trace.push(`end listener: ${callbackArgs(a)}`))
      await until(() => trace.some((e) => e.startsWith('connect')))
      await new Promise((resolve) => c.end((...a) => { trace.push(`end callback: ${callbackArgs(a)}`); resolve() }))
      const d = client(broker.url, { reconnectPeriod: 0, outgoingStore: failing('outgoing') })
      await until(() => trace.filter((e) => e.startsWith('connect')).length === 2)
      const err = await d.endAsync().then(() => null, (e) => e)
      trace.push(`endAsync rejected: ${err && showError(err)}`)
    })
    assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
  })

  anyTransport('publish() with a null or undefined message sends an empty payload, as MQTT.js', async (t) => {
    const traces = await both(t, {}, async (lib, { broker, trace, client }) => {
      const c = client(broker.url, { reconnectPeriod: 0 })
      const conn = await broker.nextConnection()
      await until(() => trace.some((e) => e.startsWith('connect')))
      await new Promise((resolve) => c.publish('n/0', null, (...a) => { trace.push(`qos0 null: ${callbackArgs(a)}`); resolve() }))
      await new Promise((resolve) => c.publish('n/1', undefined, { qos: 1 }, (...a) => { trace.push(`qos1 undefined: ${callbackArgs(a)}`); resolve() }))
      const p0 = await conn.nextPacket('publish')
      const p1 = await conn.nextPacket('publish')
      trace.push(`${p0.topic} ${p0.payload.length} ${p1.topic} ${p1.payload.length}`)
    })
    assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
  })

  anyTransport('publish() with a wildcard topic, an invalid QoS or a payload of another type fails clearly where MQTT.js does not (COMPATIBILITY.md)', async (t) => {
    const broker = await startScriptedBroker({ transport: TRANSPORT, autoConnack: true, autoPuback: true })
    t.after(() => broker.close())
    const c = native.connect(broker.url, { ...broker.clientOptions, reconnectPeriod: 0 })
    t.after(() => c.end(true))
    const conn = await broker.nextConnection()
    await new Promise((resolve) => c.once('connect', resolve))
    // MQTT.js sends these to the broker, which must close the connection (MQTT 5 §3.3.2.1).
    for (const topic of ['a/#', 'a/+']) {
      const err = await new Promise((resolve) => c.publish(topic, 'x', { qos: 1 }, resolve))
      assert.match(err.message, /must not contain wildcards/)
    }
    // MQTT.js throws "Cannot read properties of undefined" for 3 and sends a string QoS as QoS 0.
    assert.throws(() => c.publish('a', 'x', { qos: 3 }), { name: 'TypeError', message: /Invalid QoS 3: use the number 0, 1 or 2/ })
    assert.throws(() => c.publish('a', 'x', { qos: '1' }), { name: 'TypeError', message: /Invalid QoS '1' \(a string\)/ })
    // MQTT.js throws Buffer.from's message ("The "string" argument must be of type string …").
    for (const message of [5, { x: 1 }, true]) {
      assert.throws(() => c.publish('a', message), { name: 'TypeError', message: /"message" argument must be a string, a Buffer or a Uint8Array; received/ })
    }
    assert.throws(() => c.publish(7, 'x'), { name: 'TypeError', message: /topic must be a string/ })
    // Nothing of the above reached the broker, and the connection is still usable.
    await new Promise((resolve) => c.publish('ok', 'fine', { qos: 1 }, resolve))
    assert.deepEqual(conn.packets.filter((p) => p.cmd === 'publish').map((p) => p.topic), ['ok'])
    assert.equal(c.connected, true)
  })

  anyTransport('client.keepaliveManager is null until CONNACK, MQTT.js\'s object while connected, and null after the close and after end()', async (t) => {
    const traces = await both(t, {}, async (lib, { broker, trace, client }) => {
      const shape = (m) => (m === null ? 'null' : m === undefined ? 'undefined' : `keepalive=${m.keepalive} intervalEvery=${m.intervalEvery} destroy=${typeof m.destroy} reschedule=${typeof m.reschedule}`)
      const c = client(broker.url, { reconnectPeriod: 50, keepalive: 7 })
      trace.push(`before: ${shape(c.keepaliveManager)}`)
      c.on('connect', () => trace.push(`in connect: ${shape(c.keepaliveManager)}`))
      c.on('close', () => trace.push(`in close: ${shape(c.keepaliveManager)}`))
      const first = await broker.nextConnection()
      await until(() => trace.some((e) => e.startsWith('connect')))
      first.destroy()
      await until(() => trace.filter((e) => e.startsWith('connect')).length === 2)
      await new Promise((resolve) => c.end(resolve))
      trace.push(`after end: ${shape(c.keepaliveManager)}`)
      const zero = client(broker.url, { reconnectPeriod: 0, keepalive: 0 })
      await new Promise((resolve) => zero.once('connect', resolve))
      trace.push(`keepalive 0: ${shape(zero.keepaliveManager)}`)
    })
    assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
  })

  anyTransport('sendPing() sends a PINGREQ now; reschedulePing() and keepaliveManager.destroy() hold the next one back', async (t) => {
    const traces = await both(t, {}, async (lib, { broker, trace, client }) => {
      const pings = (conn) => conn.packets.filter((p) => p.cmd === 'pingreq').length
      const c = client(broker.url, { reconnectPeriod: 0, keepalive: 1 })
      const conn = await broker.nextConnection()
      await until(() => trace.some((e) => e.startsWith('connect')))
      c.sendPing()
      await sleep(150)
      trace.push(`after sendPing: ${pings(conn)}`)
      // Keepalive 1 s: rescheduled every 300 ms, no PINGREQ is due for 1.2 s.
      for (let i = 0; i < 4; i++) {
        await sleep(300)
        c.reschedulePing()
      }
      trace.push(`after rescheduling: ${pings(conn)}`)
      c.keepaliveManager.destroy()
      await sleep(1700)
      trace.push(`after destroy: ${pings(conn)} connected ${c.connected}`)
    })
    assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
  })

  for (const reconnectOnConnackError of [false, true]) {
    anyTransport(`a 3.1.1 CONNACK carrying MQTT 5 refusal 135 is reported with the broker's code${reconnectOnConnackError ? ', then retried with reconnectOnConnackError' : ''}`, async (t) => {
      const traces = await both(t, { autoConnack: { returnCode: 135 } }, async (lib, { broker, trace, client }) => {
        broker.onConnection((conn) => conn.nextPacket('connect').then(() => setTimeout(() => conn.end(), 20), () => {}))
        client(broker.url, { reconnectPeriod: 50, reconnectOnConnackError })
        if (reconnectOnConnackError) {
          await until(() => trace.filter((e) => e.startsWith('reconnect')).length === 1)
          trace.splice(trace.findIndex((e) => e.startsWith('reconnect')) + 1)
        } else {
          await until(() => trace.some((e) => e.startsWith('close')))
          await sleep(150)
        }
      })
      assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
    })
  }

  anyTransport('a QoS 2 publish answered with PUBACK (a broker without QoS 2, such as RabbitMQ before 3.12) completes as in MQTT.js, and the connection stays up', async (t) => {
    const traces = await both(t, { autoPuback: false }, async (lib, { broker, trace, client }) => {
      const c = client(broker.url, { reconnectPeriod: 60000 })
      const conn = await broker.nextConnection()
      await until(() => trace.length === 1)
      c.publish('q2', 'x', { qos: 2 }, (err, packet) => trace.push(`publish callback ${err ? showError(err) : `ok ${packet && packet.cmd}`}`))
      const pub = await conn.nextPacket('publish')
      conn.send({ cmd: 'puback', messageId: pub.messageId })
      await until(() => trace.some((e) => e.startsWith('publish callback')))
      await sleep(100)
      trace.push(`outgoing ${Object.keys(c.outgoing).length}, connected ${c.connected}`)
      // Nothing more is sent for that message: no PUBREL, no resend.
      trace.push(conn.packets.map((p) => p.cmd).join(','))
    })
    assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
    assert.ok(traces['mqtt-native'].includes('publish callback ok publish'), traces['mqtt-native'].join('\n'))
  })

  for (const version of [3, 4, 5]) {
    for (const storeKind of ['default', 'given']) {
      anyTransport(`an inbound QoS 2 message is in the ${storeKind} incoming store from PUBLISH until PUBREL and gone after PUBCOMP (protocol ${version})`, async (t) => {
        const traces = await both(t, { protocolVersion: version, autoPuback: false }, async (lib, { broker, trace, client }) => {
          const opts = { protocolVersion: version, reconnectPeriod: 0 }
          if (version === 3) opts.protocolId = 'MQIsdp'
          if (storeKind === 'given') opts.incomingStore = new lib.Store()
          const c = client(broker.url, opts, { packets: true })
          const held = () => [...c.incomingStore._inflights.keys()].join(',') || 'empty'
          c.on('packetreceive', (p) => { if (p.cmd === 'publish' || p.cmd === 'pubrel') trace.push(`store at <${p.cmd}: ${held()}`) })
          c.on('message', () => trace.push(`store at message: ${held()}`))
          const conn = await broker.nextConnection()
          await until(() => trace.some((e) => e.startsWith('connect')))
          conn.send({ cmd: 'publish', topic: 'in/2', payload: 'two', qos: 2, messageId: 21 })
          await conn.nextPacket('pubrec')
          await sleep(20)
          trace.push(`store after PUBREC: ${held()}`)
          conn.send({ cmd: 'pubrel', messageId: 21 })
          await conn.nextPacket('pubcomp')
          await sleep(50)
          trace.push(`store after PUBCOMP: ${held()}`)
          const counts = {}
          for (const p of conn.packets) counts[p.cmd] = (counts[p.cmd] || 0) + 1
          trace.push(`broker received ${JSON.stringify(counts)}`)
        })
        assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
      })
    }
  }

  anyTransport('MQTT 5 inbound topic aliases: the message carries the full topic, and the packet object is MQTT.js\'s', async (t) => {
    const traces = await both(t, { protocolVersion: 5 }, async (lib, { broker, trace, client }) => {
      const c = client(broker.url, { protocolVersion: 5, reconnectPeriod: 0, properties: { topicAliasMaximum: 5 } })
      c.on('message', (topic, payload, packet) => {
        trace.push(`topic=${topic} packet.topic=${JSON.stringify(packet.topic)} properties=${JSON.stringify(packet.properties)} keys=${Object.keys(packet).join(',')}`)
      })
      const conn = await broker.nextConnection()
      await until(() => trace.some((e) => e.startsWith('connect')))
      conn.send({ cmd: 'publish', topic: 'a/b', payload: 'one', qos: 0, properties: { topicAlias: 1 } })
      conn.send({ cmd: 'publish', topic: '', payload: 'two', qos: 1, messageId: 5, properties: { topicAlias: 1 } })
      await until(() => trace.filter((e) => e.startsWith('message')).length === 2)
      await sleep(20)
    })
    assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
  })

  for (const [name, properties, topic] of [['an unregistered', { topicAlias: 3 }, ''], ['an out-of-range', { topicAlias: 9 }, 'x/y']]) {
    anyTransport(`MQTT 5 inbound topic aliases: ${name} alias gives MQTT.js's error text first`, async (t) => {
      const traces = await both(t, { protocolVersion: 5 }, async (lib, { broker, trace, client }) => {
        const c = client(broker.url, { protocolVersion: 5, reconnectPeriod: 0, properties: { topicAliasMaximum: 5 } })
        const conn = await broker.nextConnection()
        await until(() => trace.some((e) => e.startsWith('connect')))
        const errors = []
        c.on('error', (err) => errors.push(err))
        conn.send({ cmd: 'publish', topic, payload: 'one', qos: 0, properties })
        await until(() => errors.length > 0)
        await until(() => trace.some((e) => e.startsWith('close')))
        // Ours may say more after MQTT.js's text: compare the start and the code.
        trace.push(`code ${errors[0].code}`)
        trace.push(errors[0].message)
      })
      const ours = traces['mqtt-native']
      const theirs = traces['MQTT.js']
      const strip = (trace) => trace.filter((e) => !e.startsWith('error '))
      const message = (trace) => trace.at(-1)
      assert.deepEqual(strip(ours).slice(0, -1), strip(theirs).slice(0, -1))
      assert.ok(message(ours).startsWith(message(theirs)), `"${message(ours)}" should start with "${message(theirs)}"`)
    })
  }

  anyTransport('MQTT 5: a publish queued offline with a topicAlias is sent with the topic and without the alias', async (t) => {
    const traces = await both(t, { protocolVersion: 5, autoConnack: { reasonCode: 0, properties: { topicAliasMaximum: 10 } } }, async (lib, { broker, trace, client }) => {
      const c = client(broker.url, { protocolVersion: 5, reconnectPeriod: 50 })
      const first = await broker.nextConnection()
      await until(() => trace.some((e) => e.startsWith('connect')))
      c.publish('alias/topic', 'registers', { qos: 0, properties: { topicAlias: 2 } })
      await first.nextPacket('publish')
      first.destroy()
      await until(() => !c.connected)
      c.publish('alias/topic', 'queued', { qos: 0, properties: { topicAlias: 2 } }, (err) => trace.push(`callback ${err && showError(err)}`))
      const second = await broker.nextConnection()
      const pub = await second.nextPacket('publish')
      trace.push(`sent topic=${pub.topic} properties=${JSON.stringify(pub.properties)}`)
    })
    assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
  })

  anyTransport('MQTT 5: an alias given with its topic while offline lets later offline alias-only publishes get that topic back', async (t) => {
    const traces = await both(t, { protocolVersion: 5, autoConnack: { reasonCode: 0, properties: { topicAliasMaximum: 3 } } }, async (lib, { broker, trace, client }) => {
      const outgoingStore = new lib.Store({ clean: false })
      const c = client(broker.url, { protocolVersion: 5, reconnectPeriod: 50, clientId: 'alias-offline', clean: false, outgoingStore })
      const first = await broker.nextConnection()
      await until(() => trace.some((e) => e.startsWith('connect')))
      first.destroy()
      await until(() => !c.connected)
      // Alias 1 was never used on the connection that ended: only these offline publishes give it.
      c.publish('alias/offline', 'registers', { qos: 0, properties: { topicAlias: 1 } }, (err) => trace.push(`callback 1 ${err && err.message}`))
      c.publish('', 'alias only', { qos: 0, properties: { topicAlias: 1 } }, (err) => trace.push(`callback 2 ${err && err.message}`))
      c.publish('', 'alias only, QoS 1', { qos: 1, properties: { topicAlias: 1 } }, (err) => trace.push(`callback 3 ${err && err.message}`))
      const second = await broker.nextConnection()
      await until(() => trace.filter((e) => e.startsWith('callback')).length === 3)
      await sleep(30)
      trace.push(`wire: ${second.packets.filter((p) => p.cmd === 'publish').map((p) => `${p.topic}|${p.qos}|${p.properties && p.properties.topicAlias}`).join(' ')}`)
    })
    assert.deepEqual(traces['mqtt-native'], traces['MQTT.js'])
  })

  for (const async of [false, true]) {
    anyTransport(`publishes made offline do not overtake what ${async ? 'a level-style (asynchronous)' : 'a persistent'} outgoing store kept from an earlier run`, async (t) => {
      const traces = await both(t, { autoPuback: false }, async (lib, { broker, trace, client }) => {
        const store = async ? asyncStore(new lib.Store({ clean: false })) : new lib.Store({ clean: false })
        const first = client(broker.url, { reconnectPeriod: 0, clientId: 'order-a', clean: false, outgoingStore: store })
        const conn1 = await broker.nextConnection()
        await until(() => trace.some((e) => e.startsWith('connect')))
        first.publish('stored/1', 'a', { qos: 1 })
        first.publish('stored/2', 'b', { qos: 2 })
        await conn1.nextPacket('publish')
        await conn1.nextPacket('publish')
        await new Promise((resolve) => first.end(true, resolve))
        trace.push('second client')
        // MQTT.js resends one stored message per round trip: answer every publish and PUBREL.
        broker.onConnection((conn) => conn.on('packet', (p) => {
          if (p.cmd === 'publish' && p.qos === 1) conn.send({ cmd: 'puback', messageId: p.messageId })
          if (p.cmd === 'publish' && p.qos === 2) conn.send({ cmd: 'pubrec', messageId: p.messageId })
          if (p.cmd === 'pubrel') conn.send({ cmd: 'pubcomp', messageId: p.messageId })
        }))
        const second = client(broker.url, { reconnectPeriod: 0, clientId: 'order-a', clean: false, outgoingStore: store })
        second.publish('new/1', 'c', { qos: 1 }, (err) => trace.push(`new/1 callback ${err}`))
        second.publish('new/2', 'd', { qos: 0 }, (err) => trace.push(`new/2 callback ${err}`))
        second.publish('new/3', 'e', { qos: 2 }, (err) => trace.push(`new/3 callback ${err}`))
        const conn2 = await broker.nextConnection()
        await until(() => trace.filter((e) => e.startsWith('connect')).length === 2)
        await until(() => trace.filter((e) => / callback /.test(e)).length === 3)
        await sleep(30)
        trace.push(`wire: ${conn2.packets.filter((p) => p.cmd === 'publish').map((p) => p.topic).join(' ')}`)
      })
      // Resends carry DUP in mqtt-native (COMPATIBILITY.md); the order and events are the same.
      assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
    })
  }

  anyTransport('publishes made while a level-style store is being resent wait until it is done', async (t) => {
    const traces = await both(t, { autoPuback: false }, async (lib, { broker, trace, client }) => {
      const store = asyncStore(new lib.Store({ clean: false }))
      const first = client(broker.url, { reconnectPeriod: 0, clientId: 'during-replay', clean: false, outgoingStore: store })
      const conn1 = await broker.nextConnection()
      await until(() => trace.some((e) => e.startsWith('connect')))
      for (let i = 1; i <= 3; i++) first.publish(`stored/${i}`, 'a', { qos: 1 })
      for (let i = 1; i <= 3; i++) await conn1.nextPacket('publish')
      await new Promise((resolve) => first.end(true, resolve))
      broker.onConnection((conn) => conn.on('packet', (p) => {
        // Slow acks, so that the resend takes a while.
        if (p.cmd === 'publish' && p.qos === 1) setTimeout(() => conn.send({ cmd: 'puback', messageId: p.messageId }), 15)
      }))
      const second = client(broker.url, { reconnectPeriod: 0, clientId: 'during-replay', clean: false, outgoingStore: store })
      second.on('packetreceive', (p) => {
        if (p.cmd !== 'connack') return
        setTimeout(() => second.publish('during/1', 'b', { qos: 1 }, (err) => trace.push(`during/1 callback ${err}`)), 5)
        setTimeout(() => second.publish('during/2', 'c', { qos: 0 }, (err) => trace.push(`during/2 callback ${err}`)), 10)
      })
      const conn2 = await broker.nextConnection()
      await until(() => trace.filter((e) => / callback /.test(e)).length === 2)
      await sleep(50)
      trace.push(`wire: ${conn2.packets.filter((p) => p.cmd === 'publish').map((p) => p.topic).join(' ')}`)
    })
    assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
  })

  anyTransport('end() while online waits for SUBSCRIBE and UNSUBSCRIBE acks, also for ones queued offline, before DISCONNECT', async (t) => {
    const traces = await both(t, { autoPuback: false }, async (lib, { broker, trace, client }) => {
      broker.onConnection((conn) => conn.on('packet', (p) => {
        // Slow acks: end() must wait for them.
        if (p.cmd === 'subscribe') setTimeout(() => conn.send({ cmd: 'suback', messageId: p.messageId, granted: [0] }), 60)
        if (p.cmd === 'unsubscribe') setTimeout(() => conn.send({ cmd: 'unsuback', messageId: p.messageId }), 120)
        if (p.cmd === 'publish' && p.qos === 1) setTimeout(() => conn.send({ cmd: 'puback', messageId: p.messageId }), 60)
      }))
      const c = client(broker.url, { reconnectPeriod: 0 })
      c.subscribe('offline/sub', (err) => trace.push(`subscribe callback ${err}`))
      c.publish('offline/pub', 'x', { qos: 1 }, (err) => trace.push(`publish callback ${err}`))
      const conn = await broker.nextConnection()
      await new Promise((resolve) => c.once('connect', resolve))
      c.unsubscribe('online/unsub', (err) => trace.push(`unsubscribe callback ${err}`))
      await new Promise((resolve) => c.end(() => { trace.push('end callback'); resolve() }))
      await conn.closed
      trace.push(`broker received: ${conn.packets.map((p) => p.cmd).join(' ')}`)
    })
    assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
  })

  anyTransport('packetsend reports a publish made offline when it is written after CONNACK, not at publish()', async (t) => {
    const traces = await both(t, { autoConnack: false }, async (lib, { broker, trace, client }) => {
      const c = client(broker.url, { reconnectPeriod: 0 }, { packets: true })
      c.publish('q/1', 'x', { qos: 1 })
      c.publish('q/0', 'y', { qos: 0 })
      c.subscribe('s')
      trace.push('published offline')
      const conn = await broker.nextConnection()
      await conn.nextPacket('connect')
      await sleep(30)
      trace.push('sending CONNACK')
      conn.send({ cmd: 'connack', returnCode: 0 })
      await until(() => trace.some((e) => e.startsWith('connect')))
      await sleep(50)
    })
    assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
  })

  for (const withStore of [false, true]) {
    anyTransport(`a connection that drops again and again with QoS 1/2 in flight: each message once per connection, each callback once (${withStore ? 'stores given' : 'default stores'})`, async (t) => {
      const traces = await both(t, { autoPuback: false }, async (lib, { broker, trace, client }) => {
        const opts = { reconnectPeriod: 30, clientId: 'drops', clean: !withStore }
        if (withStore) Object.assign(opts, { outgoingStore: new lib.Store({ clean: false }), incomingStore: new lib.Store({ clean: false }) })
        const c = client(broker.url, opts)
        const calls = {}
        let conn = await broker.nextConnection()
        await until(() => trace.some((e) => e.startsWith('connect')))
        for (let i = 0; i < 4; i++) c.publish(`m${i}`, 'x', { qos: 1 + (i % 2) }, () => { calls[`m${i}`] = (calls[`m${i}`] || 0) + 1 })
        const seen = (cn) => cn.packets.filter((p) => p.cmd === 'publish' || p.cmd === 'pubrel').map((p) => (p.cmd === 'pubrel' ? `rel:${p.messageId}` : p.topic))
        const answer = (cn, p) => {
          if (p.cmd === 'publish' && p.qos === 1) cn.send({ cmd: 'puback', messageId: p.messageId })
          if (p.cmd === 'publish' && p.qos === 2) cn.send({ cmd: 'pubrec', messageId: p.messageId })
          if (p.cmd === 'pubrel') cn.send({ cmd: 'pubcomp', messageId: p.messageId })
        }
        for (let round = 0; round < 3; round++) {
          await sleep(80)
          // Only PUBRECs: the QoS 2 exchanges move on to PUBREL, nothing completes.
          for (const p of conn.packets) if (p.cmd === 'publish' && p.qos === 2) conn.send({ cmd: 'pubrec', messageId: p.messageId })
          await sleep(30)
          const names = seen(conn)
          trace.push(`round ${round}: repeated on this connection: ${names.filter((n, i) => names.indexOf(n) !== i).join(',') || 'none'}`)
          conn.destroy()
          conn = await broker.nextConnection()
        }
        const last = conn
        for (const p of last.packets) answer(last, p)
        last.on('packet', (p) => answer(last, p))
        await until(() => Object.keys(calls).length === 4, 3000)
        await sleep(300)
        const names = seen(last)
        trace.push(`last: repeated on this connection: ${names.filter((n, i) => names.indexOf(n) !== i).join(',') || 'none'}`)
        trace.push(`callbacks ${JSON.stringify(calls)}`)
        // What happens between the drops (offline, reconnect, connect) is compared too, except
        // for how many connects each round saw (MQTT.js resends one message per round trip).
        // Deliberate difference: a broker that closes accepted connections again and again
        // within seconds is what a session takeover looks like before MQTT 5, and mqtt-native
        // says so (ERR_MQTT_SESSION_TAKEN_OVER, COMPATIBILITY.md); MQTT.js is silent.
        trace.splice(0, trace.length, ...trace.filter((e) => !/^(connect|reconnect|close|offline)/.test(e) && !/code=ERR_MQTT_SESSION_TAKEN_OVER/.test(e)))
      })
      assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
    })
  }

  anyTransport('reconnect() with the same stores resends a stored QoS 1 message once and calls back once', async (t) => {
    const traces = await both(t, { autoPuback: false }, async (lib, { broker, trace, client }) => {
      const outgoingStore = new lib.Store({ clean: false })
      const incomingStore = new lib.Store({ clean: false })
      const c = client(broker.url, { reconnectPeriod: 1000, clientId: 'same-stores', clean: false, outgoingStore, incomingStore })
      const conn1 = await broker.nextConnection()
      await until(() => trace.some((e) => e.startsWith('connect')))
      c.publish('m', 'x', { qos: 1 }, (err) => trace.push(`callback ${err}`))
      await conn1.nextPacket('publish')
      await new Promise((resolve) => c.end(true, resolve))
      c.reconnect({ outgoingStore, incomingStore })
      const conn2 = await broker.nextConnection()
      conn2.on('packet', (p) => { if (p.cmd === 'publish') conn2.send({ cmd: 'puback', messageId: p.messageId }) })
      await until(() => trace.some((e) => e.startsWith('callback')))
      await sleep(200)
      trace.push(`resent ${conn2.packets.filter((p) => p.cmd === 'publish').length} time(s); store holds ${outgoingStore._inflights.size}`)
    })
    assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
  })

  anyTransport('MQTT 5 packet.properties list their keys in the order they came on the wire, as MQTT.js', async (t) => {
    const connackProperties = { topicAliasMaximum: 10, receiveMaximum: 50, userProperties: { b: '2', a: '1' }, assignedClientIdentifier: 'assigned', serverKeepAlive: 60 }
    const traces = await both(t, { protocolVersion: 5, autoConnack: { reasonCode: 0, properties: connackProperties }, autoPuback: false }, async (lib, { broker, trace, client }) => {
      const c = client(broker.url, { protocolVersion: 5, reconnectPeriod: 0 }, { packets: false })
      const show = (p) => `${p.cmd} ${JSON.stringify(p.properties)}`
      c.on('packetreceive', (p) => trace.push(`<${show(p)}`))
      c.on('message', (topic, payload, p) => trace.push(`message ${show(p)}`))
      const conn = await broker.nextConnection()
      await until(() => trace.some((e) => e.startsWith('connect')))
      trace.push(`connack ${JSON.stringify(c.serverProperties)}`)
      conn.send({ cmd: 'publish', topic: 'p', payload: 'x', qos: 1, messageId: 3, properties: { userProperties: { z: '1' }, contentType: 'text/plain', payloadFormatIndicator: true, messageExpiryInterval: 30, subscriptionIdentifier: 4 } })
      await conn.nextPacket('puback')
      c.publish('q', 'y', { qos: 1 }, (err, packet) => trace.push(`publish callback ${err}`))
      const pub = await conn.nextPacket('publish')
      conn.send({ cmd: 'puback', messageId: pub.messageId, reasonCode: 16, properties: { userProperties: { u: 'v' }, reasonString: 'no subscribers' } })
      await until(() => trace.some((e) => e.startsWith('publish callback')))
    })
    assertSameTrace(traces['mqtt-native'], traces['MQTT.js'])
  })
}

/**
 * Wraps a Store so that every operation calls back later and its stream is read asynchronously,
 * as a level-style persistent store does.
 */
function asyncStore (inner) {
  const { Readable } = require('node:stream')
  return {
    put: (packet, cb) => setImmediate(() => inner.put(packet, cb)),
    del: (packet, cb) => setImmediate(() => inner.del(packet, cb)),
    get: (packet, cb) => setImmediate(() => inner.get(packet, cb)),
    close: (cb) => setImmediate(() => inner.close(cb)),
    createStream: () => {
      const items = [...inner._inflights.values()]
      return new Readable({
        objectMode: true,
        read () { setTimeout(() => this.push(items.length ? items.shift() : null), 2) }
      })
    },
    get _inflights () { return inner._inflights }
  }
}

/** Callback arguments as a comparable string: their count, and null/undefined/Error/object. */
function callbackArgs (args) {
  const show = (v) => {
    if (v === undefined) return 'undefined'
    if (v === null) return 'null'
    // ErrorWithSubackPacket carries a code only in mqtt-native (a deliberate difference).
    if (v instanceof Error) return `Error(${v.packet ? `${v.message} (suback)` : showError(v)})`
    if (Array.isArray(v)) return `[${v.map((g) => `${g.topic}:${g.qos}`).join(',')}]`
    if (typeof v === 'object') return `{${v.cmd}${v.messageId !== undefined ? ' id' : ''}}`
    return String(v)
  }
  return `${args.length} (${args.map(show).join(', ')})`
}

module.exports = { defineDifferentialSuite }
