'use strict'
// mqtt-native: a drop-in replacement for MQTT.js (`mqtt` 5.16) with a Rust protocol engine.
const { MqttClient, normalize, VERSION, NATIVE_VERSION } = require('./lib/client')
const { ErrorWithReasonCode, ErrorWithSubackPacket, ReasonCodes, codedError } = require('./lib/errors')
const { validateTopic, validateTopics } = require('./lib/topic')
const { DefaultMessageIdProvider, UniqueMessageIdProvider } = require('./lib/message-id')
const { Store } = require('./lib/store')

/**
 * Connects to a broker: `connect(url, opts)` or `connect(opts)`, as MQTT.js.
 * Returns the client at once; the connection is made in the background.
 */
function connect (brokerUrl, opts) {
  const options = normalize(brokerUrl, opts)
  const client = new MqttClient(options)
  // MQTT.js adds a listener so that an 'error' without a user listener does not throw.
  client.on('error', () => {})
  return client
}

/**
 * Connects and resolves with the client on the first 'connect' (or 'end'); rejects on the first
 * 'error' after ending the client, and with `allowRetries === false` also on 'close'.
 */
function connectAsync (brokerUrl, opts, allowRetries = true) {
  return new Promise((resolve, reject) => {
    const client = connect(brokerUrl, opts)
    const promiseResolutionListeners = {
      connect: (connack) => {
        removeListeners()
        resolve(client)
      },
      end: () => {
        removeListeners()
        resolve(client)
      },
      error: (err) => {
        removeListeners()
        client.end()
        reject(err)
      }
    }
    if (allowRetries === false) {
      promiseResolutionListeners.close = () => {
        promiseResolutionListeners.error(codedError("Couldn't connect to server", 'ERR_MQTT_CONNECT_FAILED'))
      }
    }
    function removeListeners () {
      for (const event of Object.keys(promiseResolutionListeners)) {
        client.off(event, promiseResolutionListeners[event])
      }
    }
    for (const event of Object.keys(promiseResolutionListeners)) {
      client.on(event, promiseResolutionListeners[event])
    }
  })
}

/**
 * Copies the methods of `mixin`'s prototype chain onto `target`'s prototype (MQTT.js's helper,
 * exported by it and kept for code that uses it).
 */
function applyMixin (target, mixin, includeConstructor = false) {
  const chain = [mixin]
  for (let base = Object.getPrototypeOf(mixin); base && base.prototype; base = Object.getPrototypeOf(base)) chain.unshift(base)
  for (const ctor of chain) {
    for (const prop of Object.getOwnPropertyNames(ctor.prototype)) {
      if (includeConstructor || prop !== 'constructor') {
        Object.defineProperty(target.prototype, prop, Object.getOwnPropertyDescriptor(ctor.prototype, prop) ?? Object.create(null))
      }
    }
  }
}

const mqtt = {
  connect,
  connectAsync,
  MqttClient,
  Client: MqttClient,
  Store,
  DefaultMessageIdProvider,
  UniqueMessageIdProvider,
  ErrorWithReasonCode,
  ErrorWithSubackPacket,
  ReasonCodes,
  validateTopic,
  validateTopics,
  MQTTJS_VERSION: VERSION,
  applyMixin,
  nextTick: process.nextTick,
  /** mqtt-native's own version. */
  NATIVE_VERSION
}
mqtt.default = mqtt

module.exports = mqtt
