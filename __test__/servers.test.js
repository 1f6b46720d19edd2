'use strict'
// Clients of a cluster: MQTT 5 server redirection (§4.11), `serverSelection: 'shuffle'` and
// `reconnectJitter`, against scripted brokers that stand for the nodes.

const test = require('node:test')
const assert = require('node:assert/strict')
const mqtt = require('..')
const { waitFor } = require('./helpers/wait')
const { startScriptedBroker } = require('./helpers/scripted-broker')
const { freePort } = require('./helpers/ports')
const { parseServerReference } = require('../lib/servers')

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function node (t, options) {
  const broker = await startScriptedBroker({ protocolVersion: 5, autoConnack: true, autoPingresp: true, autoPuback: true, ...options })
  t.after(() => broker.close())
  return broker
}

function client (t, url, opts) {
  const c = mqtt.connect(url, { protocolVersion: 5, reconnectPeriod: 1000, ...opts })
  t.after(() => c.end(true))
  return c
}

/** Records the client's events, errors as `error <code>`. */
function record (c) {
  const events = []
  for (const e of ['connect', 'error', 'offline', 'close', 'reconnect', 'disconnect']) {
    c.on(e, (arg) => events.push(e === 'error' ? `error ${arg.code}` : e))
  }
  return events
}


/** Answers the next CONNECT on `broker` itself (the broker must have autoConnack off). */
async function refuseNext (broker, reasonCode, serverReference) {
  const conn = await broker.nextConnection()
  await conn.nextPacket('connect')
  conn.send({ cmd: 'connack', sessionPresent: false, reasonCode, properties: serverReference === undefined ? undefined : { serverReference } })
  conn.end()
  return conn
}

test('a CONNACK 0x9C with a Server Reference sends the next attempt to that server at once, and only that attempt', async (t) => {
  const a = await node(t, { autoConnack: false })
  const b = await node(t)
  const c = client(t, a.url)
  const events = record(c)
  const errors = []
  c.on('error', (err) => errors.push(err))
  const refused = refuseNext(a, 0x9c, `127.0.0.1:${b.port}`)
  const started = Date.now()
  await waitFor(c, 'connect')
  await refused
  // The redirected attempt does not wait reconnectPeriod (1 s).
  assert.ok(Date.now() - started < 900, `connected after ${Date.now() - started} ms`)
  assert.equal(b.connections.length, 1)
  assert.deepEqual(events, ['error 156', 'offline', 'close', 'reconnect', 'connect'])
  assert.equal(errors[0].serverReference, `127.0.0.1:${b.port}`)
  assert.match(errors[0].message, /^Connection refused: Use another server \(Server Reference "127\.0\.0\.1:\d+": the next attempt goes to 127\.0\.0\.1:\d+, for the next connection only\)$/)
  // The options keep the configured server.
  assert.equal(c.options.port, a.port)
  // When B drops the connection, the client goes back to A.
  a.options.autoConnack = true
  b.connections[0].destroy()
  const back = await a.nextConnection(3000)
  await back.nextPacket('connect')
  await waitFor(c, 'connect')
  assert.equal(b.connections.length, 1)
})

test('a CONNACK 0x9D (Server moved) makes the referenced server replace the configured one once it answers', async (t) => {
  const a = await node(t, { autoConnack: false })
  const b = await node(t)
  const c = client(t, a.url, { reconnectPeriod: 100 })
  c.on('error', () => {})
  refuseNext(a, 0x9d, `localhost:${b.port}`)
  await waitFor(c, 'connect')
  assert.equal(b.connections.length, 1)
  a.options.autoConnack = true
  b.connections[0].destroy()
  await waitFor(c, 'connect')
  assert.equal(b.connections.length, 2)
  b.connections[1].destroy()
  await waitFor(c, 'connect')
  assert.equal(b.connections.length, 3)
  assert.equal(a.connections.length, 1, 'A was never contacted again')
})

test('a moved entry of `servers` is replaced in the rotation, the other entries stay', async (t) => {
  const a = await node(t, { autoConnack: false })
  const b = await node(t)
  const other = await node(t)
  const c = mqtt.connect({
    protocolVersion: 5,
    reconnectPeriod: 50,
    servers: [{ host: '127.0.0.1', port: a.port }, { host: '127.0.0.1', port: other.port }]
  })
  t.after(() => c.end(true))
  c.on('error', () => {})
  refuseNext(a, 0x9d, `127.0.0.1:${b.port}`)
  await waitFor(c, 'connect')
  assert.equal(b.connections.length, 1)
  // The rotation continues after the moved entry (other), then the replacement (B), then other.
  const seen = []
  for (let i = 0; i < 3; i++) {
    const last = [b, other].flatMap((n) => n.connections).find((conn) => !conn.isClosed)
    last.destroy()
    await waitFor(c, 'connect')
    seen.push(b.connections.some((conn) => !conn.isClosed) ? 'B' : 'other')
  }
  assert.deepEqual(seen, ['other', 'B', 'other'])
  assert.equal(a.connections.length, 1)
  assert.deepEqual(c.options.servers.map((s) => s.port), [a.port, other.port], 'the application\'s `servers` is not modified')
})

test('a DISCONNECT 0x9C with a Server Reference reports the redirection and reconnects to the referenced server', async (t) => {
  const a = await node(t)
  const b = await node(t)
  const c = client(t, a.url, { reconnectPeriod: 5000 })
  await waitFor(c, 'connect')
  const events = record(c)
  const errors = []
  c.on('error', (err) => errors.push(err))
  const disconnects = []
  c.on('disconnect', (packet) => disconnects.push(packet))
  const conn = a.connections[0]
  conn.send({ cmd: 'disconnect', reasonCode: 0x9c, properties: { serverReference: `127.0.0.1:${b.port}` } })
  conn.end()
  await waitFor(c, 'connect')
  assert.deepEqual(events, ['disconnect', 'error 156', 'offline', 'close', 'reconnect', 'connect'])
  assert.equal(disconnects[0].properties.serverReference, `127.0.0.1:${b.port}`)
  assert.equal(errors[0].serverReference, `127.0.0.1:${b.port}`)
  assert.match(errors[0].message, /^Disconnected by the broker: Use another server \(Server Reference/)
  assert.equal(b.connections.length, 1)
})

for (const transport of ['tls', 'ws']) {
  test(`a redirection keeps the transport and its options (${transport}: ${transport === 'tls' ? 'TLS with the same ca' : 'the same path'})`, async (t) => {
    const a = await node(t, { transport, autoConnack: false })
    const b = await node(t, { transport })
    const c = client(t, a.url, { ...a.clientOptions, reconnectPeriod: 50 })
    const errors = []
    c.on('error', (err) => errors.push(err))
    await refuseNext(a, 0x9c, `localhost:${b.port}`)
    await waitFor(c, 'connect')
    assert.equal(b.connections.length, 1)
    assert.deepEqual(errors.map((e) => e.code), [156])
    if (transport === 'ws') assert.equal(c.stream.url, `ws://localhost:${b.port}/mqtt`)
  })
}

test('without an error listener a DISCONNECT redirection is followed without an error event', async (t) => {
  const a = await node(t)
  const b = await node(t)
  const c = client(t, a.url)
  await waitFor(c, 'connect')
  const conn = a.connections[0]
  conn.send({ cmd: 'disconnect', reasonCode: 0x9d, properties: { serverReference: `127.0.0.1:${b.port}` } })
  conn.end()
  await waitFor(c, 'connect')
  assert.equal(b.connections.length, 1)
})

test('when the referenced servers do not answer, the client goes back to its configured server', async (t) => {
  const a = await node(t, { autoConnack: false })
  const dead1 = await freePort()
  const dead2 = await freePort()
  const c = client(t, a.url, { reconnectPeriod: 50 })
  const events = record(c)
  await refuseNext(a, 0x9c, `127.0.0.1:${dead1}   127.0.0.1:${dead2}`)
  a.options.autoConnack = true
  const second = await a.nextConnection(3000)
  await second.nextPacket('connect')
  await waitFor(c, 'connect')
  assert.deepEqual(events.filter((e) => e.startsWith('error')), ['error 156', 'error ECONNREFUSED', 'error ECONNREFUSED'])
})

test('a space-separated Server Reference is tried in order, IPv6 and scheme forms included', async (t) => {
  const a = await node(t, { autoConnack: false })
  const b = await node(t)
  const dead = await freePort()
  const c = client(t, a.url, { reconnectPeriod: 50 })
  c.on('error', () => {})
  refuseNext(a, 0x9c, `[::1]:${dead} mqtt://127.0.0.1:${b.port}`)
  await waitFor(c, 'connect')
  assert.equal(b.connections.length, 1)
  assert.equal(a.connections.length, 1)
})

test('with serverRedirection false a CONNACK 0x9C is a refusal, as in MQTT.js: no further attempt', async (t) => {
  const a = await node(t, { autoConnack: false })
  const b = await node(t)
  const c = client(t, a.url, { reconnectPeriod: 50, serverRedirection: false })
  const events = record(c)
  const errors = []
  c.on('error', (err) => errors.push(err))
  await refuseNext(a, 0x9c, `127.0.0.1:${b.port}`)
  await sleep(400)
  assert.deepEqual(events, ['error 156', 'close'])
  assert.equal(b.connections.length, 0)
  assert.equal(a.connections.length, 1)
  assert.match(errors[0].message, /not followed: serverRedirection is false/)
})

test('MQTT.js ignores the Server Reference and stops at the refusal (the reference behaviour we change)', async (t) => {
  const mqttjs = require('mqtt')
  const a = await node(t, { autoConnack: false })
  const b = await node(t)
  const c = mqttjs.connect(a.url, { protocolVersion: 5, reconnectPeriod: 50 })
  t.after(() => c.end(true))
  const events = record(c)
  await refuseNext(a, 0x9c, `127.0.0.1:${b.port}`)
  await sleep(400)
  assert.deepEqual(events.filter((e) => e !== 'offline'), ['error 156', 'close'])
  assert.equal(b.connections.length, 0)
})

test('a CONNACK 0x9C without a Server Reference moves a client with several servers to the next one', async (t) => {
  const a = await node(t, { autoConnack: false })
  const b = await node(t)
  const c = mqtt.connect({ protocolVersion: 5, reconnectPeriod: 50, servers: [{ host: '127.0.0.1', port: a.port }, { host: '127.0.0.1', port: b.port }] })
  t.after(() => c.end(true))
  const errors = []
  c.on('error', (err) => errors.push(err))
  await refuseNext(a, 0x9c)
  await waitFor(c, 'connect')
  assert.equal(b.connections.length, 1)
  assert.match(errors[0].message, /no Server Reference: the next attempt goes to the next of `servers`/)
})

test('an unusable Server Reference is reported and not followed', async (t) => {
  const a = await node(t, { autoConnack: false })
  const c = client(t, a.url, { reconnectPeriod: 50 })
  const errors = []
  c.on('error', (err) => errors.push(err))
  await refuseNext(a, 0x9c, 'wss://elsewhere:443 host:99999')
  await sleep(300)
  assert.equal(errors.length, 1)
  assert.match(errors[0].message, /not followed: no usable server; ignored wss:\/\/elsewhere:443 \(a different transport than mqtt:\/\/\), host:99999 \(port out of range\)/)
  assert.equal(a.connections.length, 1)
})

test('two servers redirecting to each other do not make a tight loop', async (t) => {
  const a = await node(t, { autoConnack: false })
  const b = await node(t, { autoConnack: false })
  for (const [from, to] of [[a, b], [b, a]]) {
    from.onConnection((conn) => conn.nextPacket('connect').then(() => {
      conn.send({ cmd: 'connack', sessionPresent: false, reasonCode: 0x9c, properties: { serverReference: `127.0.0.1:${to.port}` } })
      conn.end()
    }, () => {}))
  }
  const c = client(t, a.url, { reconnectPeriod: 200 })
  c.on('error', () => {})
  await sleep(1000)
  const attempts = a.connections.length + b.connections.length
  // Every other attempt waits reconnectPeriod: about 2 per 200 ms, not hundreds.
  assert.ok(attempts >= 3 && attempts <= 14, `${attempts} attempts in 1 s`)
})

test('the Server Reference forms of MQTT 5 §4.11 are parsed, with the current port when none is given', () => {
  const current = { protocol: 'mqtts', port: 8883 }
  assert.deepEqual(parseServerReference('myserver.xyz.org', current).servers, [{ host: 'myserver.xyz.org', port: 8883 }])
  assert.deepEqual(parseServerReference('myserver.xyz.org:8884', current).servers, [{ host: 'myserver.xyz.org', port: 8884 }])
  assert.deepEqual(parseServerReference('10.10.151.22:8883 [fe80::9610:3eff:fe1c]:1883', current).servers,
    [{ host: '10.10.151.22', port: 8883 }, { host: 'fe80::9610:3eff:fe1c', port: 1883 }])
  assert.deepEqual(parseServerReference('[::1] fe80::1', current).servers, [{ host: '::1', port: 8883 }, { host: 'fe80::1', port: 8883 }])
  assert.deepEqual(parseServerReference('ssl://b:9000/ignored', current).servers, [{ host: 'b', port: 9000 }])
  const downgrade = parseServerReference('mqtt://b:1883', current)
  assert.deepEqual(downgrade.servers, [])
  assert.deepEqual(downgrade.rejected, ['mqtt://b:1883 (a different transport than mqtts://)'])
  assert.deepEqual(parseServerReference(':1883 b:x', current).rejected, [':1883 (no host)', 'b:x (port out of range)'])
})

test('the cluster options are validated with a clear error', () => {
  const bad = [
    [{ serverSelection: 'random' }, /"serverSelection" must be 'ordered' .* or 'shuffle'/],
    [{ reconnectJitter: -1 }, /"reconnectJitter" must be a number of milliseconds, 0 or more/],
    [{ reconnectJitter: '500' }, /"reconnectJitter" must be a number .*received "500"/],
    [{ serverRedirection: 'yes' }, /"serverRedirection" must be true .* or false/]
  ]
  for (const [opts, message] of bad) {
    assert.throws(() => mqtt.connect('mqtt://127.0.0.1:1', { manualConnect: true, ...opts }), (err) => {
      assert.equal(err.code, 'ERR_MQTT_INVALID_OPTION')
      assert.match(err.message, message)
      return true
    })
  }
  for (const opts of [{ serverSelection: 'ordered' }, { serverSelection: 'shuffle' }, { reconnectJitter: 0 }, { reconnectJitter: 2500 }, { serverRedirection: false }]) {
    mqtt.connect('mqtt://127.0.0.1:1', { manualConnect: true, ...opts })
  }
})

test('with serverSelection shuffle, a fleet spreads over `servers`; by default every client starts on the first', async (t) => {
  const nodes = [await node(t), await node(t), await node(t)]
  const servers = nodes.map((n) => ({ host: '127.0.0.1', port: n.port }))
  const run = async (serverSelection) => {
    const before = nodes.map((n) => n.connections.length)
    const clients = []
    for (let i = 0; i < 30; i++) {
      const c = mqtt.connect({ protocolVersion: 5, servers, serverSelection, reconnectPeriod: 0 })
      clients.push(c)
    }
    await Promise.all(clients.map((c) => waitFor(c, 'connect')))
    await Promise.all(clients.map((c) => c.endAsync(true)))
    return nodes.map((n, i) => n.connections.length - before[i])
  }
  assert.deepEqual(await run(undefined), [30, 0, 0])
  const spread = await run('shuffle')
  // Each node gets about a third; a node with none would happen once in 70,000 runs.
  assert.ok(spread.every((n) => n > 0), `per node: ${spread}`)
})

test('with serverSelection shuffle a client tries every entry once before trying one again', async (t) => {
  const live = await node(t)
  const dead = [await freePort(), await freePort(), await freePort()]
  const servers = [...dead, live.port].map((port) => ({ host: '127.0.0.1', port }))
  for (let i = 0; i < 8; i++) {
    const c = mqtt.connect({ protocolVersion: 5, servers, serverSelection: 'shuffle', reconnectPeriod: 10 })
    let refused = 0
    c.on('error', () => refused++)
    await waitFor(c, 'connect')
    await c.endAsync(true)
    assert.ok(refused <= 3, `${refused} refused attempts before the live server`)
  }
})

test('reconnectJitter spreads the first reconnect attempts of clients that lost their server together', async (t) => {
  const broker = await node(t)
  const arrivals = async (opts) => {
    const clients = []
    for (let i = 0; i < 20; i++) clients.push(mqtt.connect(broker.url, { protocolVersion: 5, reconnectPeriod: 100, ...opts }))
    await Promise.all(clients.map((c) => waitFor(c, 'connect')))
    const open = broker.connections.filter((conn) => !conn.isClosed)
    const times = []
    const seen = broker.connections.length
    broker.onConnection(() => { if (broker.connections.length > seen) times.push(Date.now()) })
    const dropped = Date.now()
    for (const conn of open) conn.destroy()
    await Promise.all(clients.map((c) => waitFor(c, 'connect', 5000)))
    await Promise.all(clients.map((c) => c.endAsync(true)))
    return times.map((time) => time - dropped).sort((x, y) => x - y)
  }
  const plain = await arrivals({})
  const jittered = await arrivals({ reconnectJitter: 1500 })
  assert.equal(plain.length, 20)
  assert.equal(jittered.length, 20)
  // Without jitter all come back after reconnectPeriod, within a few tens of ms of each other.
  assert.ok(plain.at(-1) - plain[0] < 300, `plain: ${plain}`)
  // With it, over (most of) the 1.5 s window after reconnectPeriod.
  assert.ok(jittered[0] >= 90, `jittered: ${jittered}`)
  assert.ok(jittered.at(-1) - jittered[0] > 600, `jittered: ${jittered}`)
  assert.ok(jittered.at(-1) < 100 + 1500 + 400, `jittered: ${jittered}`)
})

test('reconnectJitter adds 0 to reconnectJitter ms to the first attempt only, with or without backoff', () => {
  const c = mqtt.connect('mqtt://127.0.0.1:1', { manualConnect: true, reconnectPeriod: 100, reconnectJitter: 1000 })
  const first = new Set()
  for (let i = 0; i < 200; i++) {
    c._failedAttempts = 0
    const d = c._reconnectDelay()
    assert.ok(d >= 100 && d <= 1100, `delay ${d}`)
    first.add(Math.min(3, Math.floor((d - 100) / 250)))
    c._failedAttempts = 1
    assert.equal(c._reconnectDelay(), 100)
  }
  assert.deepEqual([...first].sort(), [0, 1, 2, 3], 'the whole window is used')
  const b = mqtt.connect('mqtt://127.0.0.1:1', { manualConnect: true, reconnectPeriod: 100, reconnectJitter: 50, reconnectBackoff: { factor: 2, jitter: 0 } })
  b._failedAttempts = 2
  assert.equal(b._reconnectDelay(), 400)
  b._failedAttempts = 0
  const d = b._reconnectDelay()
  assert.ok(d >= 100 && d <= 150, `delay ${d}`)
})

test('against three mosquitto brokers, the clients of a stopped one come back spread over the other two and over the jitter window', async (t) => {
  const { startMosquitto, requireBinary } = require('./helpers/mosquitto')
  if (!requireBinary(t, 'mosquitto')) return
  const brokers = []
  for (let i = 0; i < 3; i++) {
    const b = await startMosquitto()
    t.after(() => b.stop())
    brokers.push(b)
  }
  const servers = brokers.map((b) => ({ host: '127.0.0.1', port: b.port }))
  const clients = []
  t.after(() => Promise.all(clients.map((c) => c.endAsync(true))))
  for (let i = 0; i < 60; i++) {
    const c = mqtt.connect({ servers, serverSelection: 'shuffle', reconnectJitter: 1500, reconnectPeriod: 100, keepalive: 0 })
    c.on('error', () => {})
    clients.push(c)
  }
  await Promise.all(clients.map((c) => waitFor(c, 'connect')))
  const on = (c) => servers.findIndex((s) => s.port === Number(c.options.port))
  const start = clients.map(on)
  assert.ok([0, 1, 2].every((k) => start.filter((s) => s === k).length > 0), `start per broker: ${start}`)
  const moved = clients.filter((c, i) => start[i] === 0)
  const back = moved.map((c) => waitFor(c, 'connect', 5000).then(() => ({ ms: Date.now() - stopped, node: on(c) })))
  const stopped = Date.now()
  await brokers[0].stop()
  const results = await Promise.all(back)
  const perNode = [0, 1, 2].map((k) => results.filter((r) => r.node === k).length)
  const times = results.map((r) => r.ms).sort((x, y) => x - y)
  assert.equal(perNode[0], 0)
  if (moved.length >= 8) assert.ok(perNode[1] > 0 && perNode[2] > 0, `moved to ${perNode}`)
  assert.ok(times.at(-1) - times[0] > 400, `came back within ${times[0]}..${times.at(-1)} ms`)
  assert.ok(times.at(-1) < 100 + 1500 + 1500, `came back within ${times[0]}..${times.at(-1)} ms`)
})
