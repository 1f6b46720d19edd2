'use strict'
// Issue #18: an error that the client emits or passes to a callback always has a `code`. Where
// MQTT.js leaves `code` undefined ours carries a string ERR_MQTT_* code, with MQTT.js's message
// and class; MQTT.js's numeric reason codes stay as they are.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const mqttjs = require('mqtt')
const native = require('..')
const { ErrorCodes, codedError } = require('../lib/errors')
const { startScriptedBroker, endAllAndClose } = require('./helpers/scripted-broker')

const root = path.join(__dirname, '..')

/** Every .js file under `dir`, relative to the repository root. */
function sources (dir) {
  return fs.readdirSync(path.join(root, dir), { recursive: true })
    .filter((f) => f.endsWith('.js'))
    .map((f) => path.join(dir, f))
}

/**
 * Where an Error may be constructed directly, and why. Everywhere else in lib/ errors come from
 * codedError(), so none is made without a code.
 */
const ALLOWED = [
  // The helper itself, and the MQTT.js classes that take their (numeric) code as an argument.
  { file: 'lib/errors.js', reason: 'codedError() and the ErrorWithReasonCode / ErrorWithSubackPacket classes' },
  // The command line turns its errors into a message on stderr and an exit status; no
  // application ever receives them.
  { file: 'lib/cli/', reason: 'the CLI prints its errors and exits; they never reach an application' }
]

test('every error lib/ and index.js construct goes through codedError(), except the allow-listed files', () => {
  const bare = /\bnew\s+(?:[A-Z][A-Za-z]*)?Error\s*\(|\bsuper\s*\(\s*message/
  const found = []
  for (const file of ['index.js', ...sources('lib')]) {
    if (ALLOWED.some((a) => file === a.file || (a.file.endsWith('/') && file.startsWith(a.file)))) continue
    fs.readFileSync(path.join(root, file), 'utf8').split('\n').forEach((line, i) => {
      if (bare.test(line) && !/^\s*(\/\/|\*)/.test(line)) found.push(`${file}:${i + 1}: ${line.trim()}`)
    })
  }
  assert.deepEqual(found, [], 'construct errors with codedError(message, code, Type) from lib/errors.js')
})

test('every ERR_MQTT_ code named in lib/, index.js or src/ is defined in ErrorCodes, and README and index.d.ts list them all', () => {
  const named = new Set()
  for (const file of ['index.js', ...sources('lib')]) {
    for (const m of fs.readFileSync(path.join(root, file), 'utf8').matchAll(/ERR_MQTT_[A-Z0-9_]*[A-Z0-9]/g)) named.add(m[0])
  }
  for (const file of fs.readdirSync(path.join(root, 'src'), { recursive: true }).filter((f) => f.endsWith('.rs'))) {
    for (const m of fs.readFileSync(path.join(root, 'src', file), 'utf8').matchAll(/ERR_MQTT_[A-Z0-9_]*[A-Z0-9]/g)) named.add(m[0])
  }
  const undefinedCodes = [...named].filter((code) => !Object.hasOwn(ErrorCodes, code))
  assert.deepEqual(undefinedCodes, [], 'add these to ErrorCodes in lib/errors.js')
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8')
  const undocumented = Object.keys(ErrorCodes).filter((code) => !readme.includes(`| \`${code}\``))
  assert.deepEqual(undocumented, [], 'add these to the error table in README.md')
  const types = fs.readFileSync(path.join(root, 'index.d.ts'), 'utf8')
  const untyped = Object.keys(ErrorCodes).filter((code) => !types.includes(`| '${code}'`))
  assert.deepEqual(untyped, [], 'add these to MqttErrorCode in index.d.ts')
  for (const [code, meaning] of Object.entries(ErrorCodes)) {
    assert.match(code, /^ERR_MQTT_[A-Z0-9_]+$/)
    assert.ok(meaning.length > 0, `${code} says what it means`)
  }
})

test('codedError() keeps the class it is given and sets the code', () => {
  const err = codedError('x', 'ERR_MQTT_INVALID_ARGUMENT', TypeError)
  assert.ok(err instanceof TypeError)
  assert.equal(err.name, 'TypeError')
  assert.equal(err.code, 'ERR_MQTT_INVALID_ARGUMENT')
})

/**
 * Runs `scenario(lib, broker)` for MQTT.js and for mqtt-native, each with a fresh scripted
 * broker, and returns the error each produced. Clients it makes are ended afterwards.
 */
async function bothErrors (brokerOptions, scenario) {
  const out = {}
  for (const [name, lib] of [['MQTT.js', mqttjs], ['mqtt-native', native]]) {
    const broker = await startScriptedBroker({ autoConnack: true, autoPingresp: true, ...brokerOptions })
    const clients = []
    const connect = (opts) => {
      const c = lib.connect(broker.url, { reconnectPeriod: 0, ...opts })
      clients.push(c)
      return c
    }
    try {
      out[name] = await scenario(connect, broker)
    } finally {
      await endAllAndClose(clients, broker)
    }
  }
  return out
}

/** MQTT.js's error has no code; ours has MQTT.js's message and class, and `code`. */
function assertCoded (errors, code) {
  const theirs = errors['MQTT.js']
  const ours = errors['mqtt-native']
  assert.ok(theirs instanceof Error && ours instanceof Error, 'both libraries fail')
  assert.equal(theirs.code, undefined, 'MQTT.js leaves code undefined here')
  assert.equal(ours.message, theirs.message)
  assert.equal(ours.name, theirs.name)
  // The same built-in class (Error, TypeError), or MQTT.js's class of the same name.
  const builtin = [Error, TypeError, RangeError].find((Type) => Object.getPrototypeOf(theirs) === Type.prototype)
  if (builtin) assert.equal(Object.getPrototypeOf(ours), builtin.prototype)
  else assert.equal(ours.constructor.name, theirs.constructor.name)
  assert.equal(ours.code, code)
}

const connected = (c) => new Promise((resolve) => c.once('connect', resolve))

test('publish after end() fails with ERR_MQTT_CLIENT_DISCONNECTING, in the callback and from publishAsync', async () => {
  for (const async of [false, true]) {
    const errors = await bothErrors({}, async (connect) => {
      const c = connect()
      await connected(c)
      // Right after end(): once it has finished, MQTT.js's store is closed and publish throws.
      c.end()
      if (async) return c.publishAsync('t', 'x', { qos: 1 }).then(() => null, (e) => e)
      return new Promise((resolve) => c.publish('t', 'x', { qos: 1 }, resolve))
    })
    assertCoded(errors, 'ERR_MQTT_CLIENT_DISCONNECTING')
  }
})

test('subscribe while end() is waiting fails with ERR_MQTT_CLIENT_DISCONNECTING, in the callback and from subscribeAsync', async () => {
  for (const async of [false, true]) {
    const errors = await bothErrors({ autoPuback: false }, async (connect, broker) => {
      const c = connect()
      await connected(c)
      // A QoS 1 publish that is never acknowledged keeps end() waiting, with disconnecting set.
      c.publish('t', 'x', { qos: 1 }, () => {})
      c.end()
      assert.equal(c.disconnecting, true)
      if (async) return c.subscribeAsync('s').then(() => null, (e) => e)
      return new Promise((resolve) => c.subscribe('s', resolve))
    })
    assertCoded(errors, 'ERR_MQTT_CLIENT_DISCONNECTING')
  }
})

test('an invalid topic filter fails with ERR_MQTT_INVALID_TOPIC, in the callback and from subscribeAsync', async () => {
  for (const async of [false, true]) {
    const errors = await bothErrors({}, async (connect) => {
      const c = connect()
      await connected(c)
      if (async) return c.subscribeAsync('a/#/b').then(() => null, (e) => e)
      return new Promise((resolve) => c.subscribe('a/#/b', resolve))
    })
    assertCoded(errors, 'ERR_MQTT_INVALID_TOPIC')
  }
})

test('a QoS 1 publish in flight when end(true) closes the connection fails with ERR_MQTT_CONNECTION_CLOSED, in the callback and from publishAsync', async () => {
  for (const async of [false, true]) {
    const errors = await bothErrors({ autoPuback: false }, async (connect, broker) => {
      const c = connect()
      const conn = await broker.nextConnection()
      await connected(c)
      const result = async
        ? c.publishAsync('t', 'x', { qos: 1 }).then(() => null, (e) => e)
        : new Promise((resolve) => c.publish('t', 'x', { qos: 1 }, resolve))
      await conn.nextPacket('publish')
      c.end(true)
      return result
    })
    assertCoded(errors, 'ERR_MQTT_CONNECTION_CLOSED')
  }
})

test('a subscribe in flight when the broker closes the connection fails with ERR_MQTT_CONNECTION_CLOSED, in the callback and from subscribeAsync', async () => {
  for (const async of [false, true]) {
    const errors = await bothErrors({}, async (connect, broker) => {
      const c = connect()
      c.on('error', () => {})
      const conn = await broker.nextConnection()
      await connected(c)
      const result = async
        ? c.subscribeAsync('s').then(() => null, (e) => e)
        : new Promise((resolve) => c.subscribe('s', resolve))
      await conn.nextPacket('subscribe')
      conn.destroy()
      return result
    })
    assertCoded(errors, 'ERR_MQTT_CONNECTION_CLOSED')
  }
})

test('a CONNACK that never comes gives ERR_MQTT_CONNACK_TIMEOUT as the error event and from connectAsync', async () => {
  const viaEvent = await bothErrors({ autoConnack: false }, async (connect) => {
    const c = connect({ connectTimeout: 200 })
    return new Promise((resolve) => c.once('error', resolve))
  })
  assertCoded(viaEvent, 'ERR_MQTT_CONNACK_TIMEOUT')
  const out = {}
  for (const [name, lib] of [['MQTT.js', mqttjs], ['mqtt-native', native]]) {
    const broker = await startScriptedBroker({ autoConnack: false })
    try {
      out[name] = await lib.connectAsync(broker.url, { connectTimeout: 200, reconnectPeriod: 0 }).then((c) => { c.end(true); return null }, (e) => e)
    } finally {
      await broker.close()
    }
  }
  assertCoded(out, 'ERR_MQTT_CONNACK_TIMEOUT')
})

test('a broker that never answers PINGREQ gives ERR_MQTT_KEEPALIVE_TIMEOUT as the error event', async () => {
  const errors = await bothErrors({ autoPingresp: false }, async (connect) => {
    const c = connect({ keepalive: 1 })
    return new Promise((resolve) => c.once('error', resolve))
  })
  assertCoded(errors, 'ERR_MQTT_KEEPALIVE_TIMEOUT')
})

test('a QoS 0 publish while offline with queueQoSZero false fails with ERR_MQTT_NOT_CONNECTED', async () => {
  const errors = await bothErrors({}, async (connect) => {
    const c = connect({ manualConnect: true, queueQoSZero: false })
    return new Promise((resolve) => c.publish('t', 'x', { qos: 0 }, resolve))
  })
  assertCoded(errors, 'ERR_MQTT_NOT_CONNECTED')
})

test('removeOutgoingMessage() fails the publish with ERR_MQTT_MESSAGE_REMOVED', async () => {
  const errors = await bothErrors({ autoPuback: false }, async (connect, broker) => {
    const c = connect()
    const conn = await broker.nextConnection()
    await connected(c)
    const result = new Promise((resolve) => c.publish('t', 'x', { qos: 1 }, resolve))
    const publish = await conn.nextPacket('publish')
    c.removeOutgoingMessage(publish.messageId)
    return result
  })
  assertCoded(errors, 'ERR_MQTT_MESSAGE_REMOVED')
})

test('the built-in Store answers a missing packet with ERR_MQTT_PACKET_NOT_FOUND', async () => {
  const errors = {}
  for (const [name, lib] of [['MQTT.js', mqttjs], ['mqtt-native', native]]) {
    errors[name] = await new Promise((resolve) => new lib.Store().get({ messageId: 7 }, resolve))
  }
  assertCoded(errors, 'ERR_MQTT_PACKET_NOT_FOUND')
})

test('a refused CONNACK keeps MQTT.js\'s numeric code', async () => {
  const errors = await bothErrors({ autoConnack: { returnCode: 5 } }, async (connect) => {
    const c = connect()
    return new Promise((resolve) => c.once('error', resolve))
  })
  assert.equal(errors['MQTT.js'].code, 5)
  assert.equal(errors['mqtt-native'].code, 5)
  assert.equal(errors['mqtt-native'].message, errors['MQTT.js'].message)
  assert.ok(errors['mqtt-native'] instanceof native.ErrorWithReasonCode)
})
