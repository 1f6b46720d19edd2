'use strict'
// Error classes and reason-code texts, identical to MQTT.js 5.16's (research §7.5).

/** MQTT 3.1.1 return codes and MQTT 5 reason codes, with MQTT.js's texts. */
const ReasonCodes = {
  0: '',
  1: 'Unacceptable protocol version',
  2: 'Identifier rejected',
  3: 'Server unavailable',
  4: 'Bad username or password',
  5: 'Not authorized',
  16: 'No matching subscribers',
  17: 'No subscription existed',
  128: 'Unspecified error',
  129: 'Malformed Packet',
  130: 'Protocol Error',
  131: 'Implementation specific error',
  132: 'Unsupported Protocol Version',
  133: 'Client Identifier not valid',
  134: 'Bad User Name or Password',
  135: 'Not authorized',
  136: 'Server unavailable',
  137: 'Server busy',
  138: 'Banned',
  139: 'Server shutting down',
  140: 'Bad authentication method',
  141: 'Keep Alive timeout',
  142: 'Session taken over',
  143: 'Topic Filter invalid',
  144: 'Topic Name invalid',
  145: 'Packet identifier in use',
  146: 'Packet Identifier not found',
  147: 'Receive Maximum exceeded',
  148: 'Topic Alias invalid',
  149: 'Packet too large',
  150: 'Message rate too high',
  151: 'Quota exceeded',
  152: 'Administrative action',
  153: 'Payload format invalid',
  154: 'Retain not supported',
  155: 'QoS not supported',
  156: 'Use another server',
  157: 'Server moved',
  158: 'Shared Subscriptions not supported',
  159: 'Connection rate exceeded',
  160: 'Maximum connect time',
  161: 'Subscription Identifiers not supported',
  162: 'Wildcard Subscriptions not supported'
}

/** An error with a numeric MQTT reason code in `code`. */
class ErrorWithReasonCode extends Error {
  constructor (message, code) {
    super(message)
    this.code = code
    Object.setPrototypeOf(this, ErrorWithReasonCode.prototype)
    Object.getPrototypeOf(this).name = 'ErrorWithReasonCode'
  }
}

/** A failed subscribe, carrying the SUBACK in `packet`. */
class ErrorWithSubackPacket extends Error {
  constructor (message, packet) {
    super(message)
    this.packet = packet
    Object.setPrototypeOf(this, ErrorWithSubackPacket.prototype)
    Object.getPrototypeOf(this).name = 'ErrorWithSubackPacket'
  }
}

/**
 * Every string `code` an error made by mqtt-native can carry, with the condition it names: the one
 * place they are defined (README's error table lists the same). MQTT.js leaves `code` undefined
 * on most of its errors ('Connection closed', 'Invalid topic …'); ours carry one of these as well,
 * with MQTT.js's message, name and class unchanged (issue #18, COMPATIBILITY.md). Where MQTT.js sets
 * a numeric reason code (ErrorWithReasonCode, CONNACK refusals, failed SUBACKs) that stays.
 * Transport codes made in Rust (ERR_MQTT_TLS_PORT, …) are listed here too so that one table
 * describes them all.
 */
const ErrorCodes = Object.freeze({
  // Errors MQTT.js raises without a code.
  ERR_MQTT_CONNECTION_CLOSED: 'the connection closed (or the client was ended) while a publish, subscribe or unsubscribe waited for its acknowledgement',
  ERR_MQTT_CLIENT_DISCONNECTING: 'publish, subscribe or unsubscribe called after end()',
  ERR_MQTT_NOT_CONNECTED: 'no connection to the broker, and the call cannot wait for one (queueQoSZero: false, or an operation that needs the connection)',
  ERR_MQTT_INVALID_TOPIC: 'a topic or topic filter that MQTT does not allow (empty, a wildcard in the wrong place, a malformed $share)',
  ERR_MQTT_MESSAGE_REMOVED: 'removeOutgoingMessage() removed the publish before its acknowledgement',
  ERR_MQTT_CONNACK_TIMEOUT: 'no CONNACK within connectTimeout',
  ERR_MQTT_KEEPALIVE_TIMEOUT: 'no PINGRESP (or other packet) from the broker within the keepalive interval',
  ERR_MQTT_TOPIC_ALIAS: 'a Topic Alias that was never registered, or one above the broker\'s topicAliasMaximum',
  ERR_MQTT_NO_AUTH_METHOD: 'MQTT 5 authenticationData without authenticationMethod',
  ERR_MQTT_WRONG_REASON_CODE: 'customHandleAcks answered with a reason code that the acknowledgement cannot carry',
  ERR_MQTT_CONNECT_FAILED: 'connectAsync(…, false): the first connection attempt closed without connecting',
  ERR_MQTT_PACKET_NOT_FOUND: 'the built-in Store has no packet with that messageId',
  ERR_MQTT_URL_NO_SCHEME: 'the broker URL or options name no protocol (mqtt://, mqtts://, ws://, wss://)',
  ERR_MQTT_URL_SCHEME: 'an unknown protocol, or one that cannot carry cert/key',
  ERR_MQTT_INVALID_OPTION: 'an option of the wrong type or out of range (protocolVersion, keepalive, clean: false without clientId, …)',
  ERR_MQTT_INVALID_ARGUMENT: 'an argument of the wrong type (QoS, topic, message, subscription options)',
  ERR_MQTT_INVALID_PACKET: 'a packet object that cannot be encoded (wrong field type, unknown property)',
  // Conditions mqtt-native adds.
  ERR_MQTT_URL_PORT: 'a port out of 1–65535',
  ERR_MQTT_UNSUPPORTED: 'an option or scheme mqtt-native refuses rather than ignores (COMPATIBILITY.md)',
  ERR_MQTT_SOCKS_URL: 'a socksProxy URL that cannot work',
  ERR_MQTT_SOCKS_OPTIONS: 'socksTimeout out of range',
  ERR_MQTT_QUEUE_FULL: 'the offline queue is at queueLimit',
  ERR_MQTT_PERSISTENCE: 'persistence: { dir } cannot open, lock or write its log',
  ERR_MQTT_SESSION_TAKEN_OVER: 'another client with the same clientId took the session',
  ERR_MQTT_INVALID: 'the native session refused a call (a value it cannot encode or send)',
  ERR_MQTT_PROTOCOL_ERROR: 'the broker broke the protocol (reported without a reason code)',
  ERR_MQTT_TIMEOUT: 'a timeout of the native session other than the two above',
  ERR_MQTT_INTERNAL: 'a failure inside the native driver; the connection was closed',
  ERR_MQTT_NATIVE_DELIVERY: 'received events could not be handed to JavaScript; the connection was closed',
  ERR_MQTT_STREAM: 'a stream (streamBuilder, WebSocket) failed with an error that has no code of its own',
  ERR_MQTT_WS: 'the WebSocket failed',
  ERR_MQTT_WS_URL: 'a WebSocket URL that cannot be dialled',
  ERR_MQTT_WS_UPGRADE_REFUSED: 'the WebSocket upgrade was refused (HTTP 3xx/4xx)',
  ERR_MQTT_WS_UPGRADE_FAILED: 'the WebSocket upgrade failed (HTTP 5xx)',
  ERR_MQTT_WS_SUBPROTOCOL: 'the WebSocket server does not speak MQTT',
  ERR_MQTT_HTTP_PORT: 'mqtt:// to an HTTP/WebSocket port',
  ERR_MQTT_TLS_PORT: 'mqtt:// or ws:// to a TLS port',
  ERR_MQTT_PLAIN_PORT: 'mqtts:// or wss:// to a plain port',
  ERR_MQTT_NOT_WEBSOCKET: 'ws:// to an MQTT (TCP) port',
  ERR_MQTT_TLS_OPTIONS: 'unusable ca, cert or key',
  ERR_MQTT_TLS_CERTIFICATE: 'the server certificate was not accepted',
  ERR_MQTT_TLS_HANDSHAKE: 'the TLS handshake failed',
  ERR_MQTT_TLS_ALERT: 'the TLS peer sent an alert',
  ERR_MQTT_NATIVE_RUNTIME: 'a runtime without Node\'s libuv event loop (Deno, Bun)',
  ERR_MQTT_NATIVE_MISSING: 'no addon for this platform is installed',
  ERR_MQTT_NATIVE_LOAD: 'the addon is there but does not load',
  ERR_MQTT_NATIVE_VERSION: 'the addon does not match this version of the JavaScript',
  ERR_MQTT_NATIVE_PLATFORM: 'a target platform mqtt-native is not built for'
})

/**
 * An error of ours: `new Type(message)` with its string `code`. Every error lib/ creates is made
 * here (errors.test.js checks it), so that none reaches the application without a code.
 */
function codedError (message, code, Type = Error) {
  const err = new Type(message)
  err.code = code
  return err
}

/**
 * Native session errors whose messages are MQTT.js's exact texts, by the condition they name.
 * The texts cannot change (the differential tests compare them with MQTT.js's), so they identify
 * the condition as well as a field would.
 */
const NATIVE_MESSAGE_CODES = {
  'connack timeout': 'ERR_MQTT_CONNACK_TIMEOUT',
  'Keepalive timeout': 'ERR_MQTT_KEEPALIVE_TIMEOUT',
  'Unregistered Topic Alias': 'ERR_MQTT_TOPIC_ALIAS',
  'Sending Topic Alias out of range': 'ERR_MQTT_TOPIC_ALIAS'
}

/** `ERR_MQTT_…` for a native session error `{ code, message }` (code `TIMEOUT`, `INVALID`, …). */
function nativeCode (code, message) {
  return NATIVE_MESSAGE_CODES[message] || `ERR_MQTT_${code}`
}

/**
 * Builds the Error object for an error record from the native side.
 * Transport errors look like Node's socket errors (`code`, `errno`, `syscall`, `address`, `port`);
 * protocol errors carry their MQTT reason code; the rest their `ERR_MQTT_…` code.
 */
function fromNative (info) {
  if (info.source === 'transport') {
    // Always a string: the socket's (ECONNREFUSED, …), the stream's, or ERR_MQTT_STREAM.
    const err = codedError(info.message, info.code)
    if (info.syscall) err.syscall = info.syscall
    if (info.address !== undefined) err.address = info.address
    if (info.port !== undefined) err.port = info.port
    return err
  }
  if (info.code === 'PROTOCOL_ERROR' && info.reasonCode !== undefined) {
    return new ErrorWithReasonCode(info.message, info.reasonCode)
  }
  return codedError(info.message, nativeCode(info.code, info.message))
}

/**
 * Errors thrown synchronously by the native functions have messages `CODE|text`.
 * Returns `{ code, message }`.
 */
function splitNativeError (err) {
  const text = String(err && err.message)
  const bar = text.indexOf('|')
  if (bar < 0) return { code: 'INVALID', message: text }
  return { code: text.slice(0, bar), message: text.slice(bar + 1) }
}

/**
 * The Error for one thrown synchronously by a native function (`CODE|text`): its text, and
 * `code` `ERR_MQTT_<CODE>` (`ERR_MQTT_INVALID`, `ERR_MQTT_NOT_CONNECTED`, …).
 */
function nativeError (thrown) {
  const { code, message } = splitNativeError(thrown)
  return codedError(message, nativeCode(code, message))
}

module.exports = { ReasonCodes, ErrorWithReasonCode, ErrorWithSubackPacket, ErrorCodes, fromNative, splitNativeError, nativeError, nativeCode, codedError }
