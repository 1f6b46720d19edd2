'use strict'
// connect()'s argument handling against MQTT.js 5.16 (the oracle), without a broker: which calls
// throw, with what, and what ends up in client.options. Where mqtt-native deliberately differs
// (COMPATIBILITY.md) the test says so.

const test = require('node:test')
const assert = require('node:assert/strict')
const { once } = require('node:events')
const mqttjs = require('mqtt')
const mqtt = require('..')
const { startScriptedBroker } = require('./helpers/scripted-broker')

/** What connect(...args) does with `lib`: the error message, or the options that matter. */
function outcome (lib, args) {
  // manualConnect: nothing is dialled; only the argument handling runs.
  const withManual = args.map((a) => (a && typeof a === 'object' ? { ...a, manualConnect: true } : a))
  if (withManual.length < 2 && typeof withManual[0] !== 'object') withManual[1] = { manualConnect: true }
  try {
    const c = lib.connect(...withManual)
    const o = c.options
    return { protocol: o.protocol, host: o.host, port: o.port, unixSocket: o.unixSocket, path: o.path }
  } catch (err) {
    return { throws: err.message }
  }
}

const SAME = [
  ['options alone, no protocol', [{ host: 'h', port: 1883 }]],
  ['an undefined URL and no options', [undefined]],
  ['an empty URL and options', ['', { host: 'h' }]],
  ['a null URL and options', [null, { host: 'h' }]],
  ['options with an empty protocol', [{ protocol: '' }]],
  ['options with an unknown protocol', [{ host: 'h', protocol: 'bogus' }]],
  ['options with hostname only', [{ hostname: 'x' }]],
  ['options with servers and no protocol', [{ servers: [{ host: 'a', port: 1 }] }]],
  ['a host without a scheme and a port option', ['h', { port: 1 }]],
  ['a URL whose protocol the options override with undefined', ['mqtt://h', { protocol: undefined }]],
  ['a URL and an empty protocol option', ['h', { protocol: '' }]],
  ['a URL and a null protocol option', ['h', { protocol: null }]],
  ['a scheme-less path', ['/mqtt']],
  ['cert and key without a protocol', [{ cert: 'x', key: 'y' }]],
  ['cert and key with mqtt', [{ cert: 'x', key: 'y', protocol: 'mqtt' }]],
  ['a unix socket protocol in the options', [{ protocol: 'mqtt+unix', path: '/tmp/s' }]]
]

for (const [name, args] of SAME) {
  test(`connect() with ${name} behaves as MQTT.js's: the same error, or the same options`, () => {
    const expected = outcome(mqttjs, args)
    const actual = outcome(mqtt, args)
    if (expected.throws) {
      // Our message may go on to say what to write instead; it starts with MQTT.js's.
      assert.ok(actual.throws, `expected a throw "${expected.throws}", got ${JSON.stringify(actual)}`)
      assert.ok(actual.throws.startsWith(expected.throws), `"${actual.throws}" should start with "${expected.throws}"`)
    } else {
      assert.deepEqual(actual, expected)
    }
  })
}

test('connect() with neither a URL nor a protocol anywhere throws "Missing protocol", as MQTT.js', () => {
  for (const lib of [mqttjs, mqtt]) {
    assert.throws(() => lib.connect('localhost', { host: 'localhost', port: 1883 }), /^Error: Missing protocol/)
  }
})

test('a URL without a scheme throws MQTT.js\'s exact "Missing protocol"; the advice is in err.hint', () => {
  for (const url of ['localhost', '//localhost', 'broker.example.com']) {
    const messages = [mqttjs, mqtt].map((lib) => {
      try {
        lib.connect(url, { reconnectPeriod: 0 }).end(true)
        return 'no error'
      } catch (err) {
        return err.message
      }
    })
    assert.deepEqual(messages, ['Missing protocol', 'Missing protocol'], url)
  }
  assert.throws(() => mqtt.connect('localhost'), (err) => err.code === 'ERR_MQTT_URL_NO_SCHEME' &&
    err.hint.includes('mqtt://localhost') && err.hint.includes('ws://localhost/mqtt'))
})

for (const [scheme, mapped] of [['wx', 'ws'], ['ali', 'ws'], ['wxs', 'wss'], ['alis', 'wss']]) {
  test(`${scheme}:// is taken as ${mapped}:// with ${mapped}'s default port and path, never as plain TCP`, () => {
    const c = mqtt.connect(`${scheme}://broker.example`, { manualConnect: true })
    assert.equal(c.options.protocol, mapped)
    assert.equal(outcome(mqtt, [`${scheme}://h/mqtt`]).path, '/mqtt')
    // The endpoint the first attempt would dial.
    const { resolveEndpoint } = require('../lib/options')
    const endpoint = resolveEndpoint(c)
    assert.equal(endpoint.protocol, mapped)
    assert.equal(endpoint.port, mapped === 'ws' ? 80 : 443)
    assert.equal(endpoint.ws.url, `${mapped}://broker.example:${mapped === 'ws' ? 80 : 443}/`)
  })
}

test('wx:// reaches a WebSocket broker, and alis:// one over TLS', async (t) => {
  for (const [scheme, transport] of [['wx', 'ws'], ['alis', 'wss']]) {
    const broker = await startScriptedBroker({ transport, autoConnack: true })
    t.after(() => broker.close())
    const c = mqtt.connect(broker.url.replace(/^wss?:/, `${scheme}:`), { ...broker.clientOptions, reconnectPeriod: 0 })
    t.after(() => c.end(true))
    await once(c, 'connect')
    assert.equal(c.options.protocol, transport)
  }
})

test('a mini-program scheme in servers[] is refused with the scheme to write instead', () => {
  assert.throws(() => mqtt.connect({ servers: [{ host: 'h', port: 80, protocol: 'wxs' }], manualConnect: true }),
    (err) => err.code === 'ERR_MQTT_UNSUPPORTED' && /write wss:\/\//.test(err.message))
})
