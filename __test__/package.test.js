'use strict'
// The package's entry points: CommonJS, ESM and the exports MQTT.js users reach for.

const test = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const path = require('node:path')
const mqtt = require('..')
const mqttjs = require('mqtt')

test('require exposes the runtime exports of MQTT.js that mqtt-native implements', () => {
  for (const key of ['connect', 'connectAsync', 'MqttClient', 'Client', 'Store', 'DefaultMessageIdProvider',
    'UniqueMessageIdProvider', 'ErrorWithReasonCode', 'ErrorWithSubackPacket', 'ReasonCodes', 'validateTopic',
    'validateTopics', 'MQTTJS_VERSION', 'applyMixin', 'nextTick', 'default']) {
    assert.ok(key in mqtt, `missing export ${key}`)
    assert.equal(typeof mqtt[key], typeof mqttjs[key], `export ${key} has another type than MQTT.js's`)
  }
  assert.equal(mqtt.default, mqtt)
  assert.deepEqual(mqtt.ReasonCodes, mqttjs.ReasonCodes)
})

test('import works with the default export and with named exports', () => {
  const entry = path.join(__dirname, '..', 'index.mjs')
  const script = `import mqtt, { connect, ErrorWithReasonCode } from ${JSON.stringify(entry)}
    if (typeof mqtt.connect !== 'function' || connect !== mqtt.connect || typeof ErrorWithReasonCode !== 'function') process.exit(1)`
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })
  assert.equal(result.status, 0, result.stderr)
})

test('ErrorWithReasonCode carries a numeric code and is an Error', () => {
  const err = new mqtt.ErrorWithReasonCode('Connection refused: Not authorized', 5)
  assert.ok(err instanceof Error)
  assert.equal(err.code, 5)
  assert.equal(err.name, 'ErrorWithReasonCode')
})

test('validateTopic agrees with MQTT.js on wildcard placement', () => {
  for (const topic of ['a/b', 'a/+/b', '#', 'a/#', '+', 'a/#/b', 'a+', 'a/b#', '+/+', '']) {
    assert.equal(mqtt.validateTopic(topic), mqttjs.validateTopic(topic), topic)
  }
})

test('client.options is filled with MQTT.js defaults', () => {
  const ours = mqtt.connect('mqtt://127.0.0.1:1', { manualConnect: true })
  const theirs = mqttjs.connect('mqtt://127.0.0.1:1', { manualConnect: true })
  const pick = (o) => Object.fromEntries(['keepalive', 'reschedulePings', 'protocolId', 'protocolVersion', 'reconnectPeriod',
    'connectTimeout', 'clean', 'resubscribe', 'subscribeBatchSize', 'writeCache', 'timerVariant', 'protocol', 'host',
    'unixSocket', 'defaultProtocol', 'manualConnect'].map((k) => [k, o[k]]))
  assert.deepEqual(pick(ours.options), pick(theirs.options))
  assert.equal(ours.disconnected, theirs.disconnected)
  // Neither client was connected (manualConnect); MQTT.js cannot end a client without a stream.
})
