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
 * Builds the Error object for an error record from the native side.
 * Transport errors look like Node's socket errors (`code`, `errno`, `syscall`, `address`, `port`);
 * protocol errors carry their MQTT reason code.
 */
function fromNative (info) {
  if (info.source === 'transport') {
    const err = new Error(info.message)
    err.code = info.code
    if (info.syscall) err.syscall = info.syscall
    if (info.address !== undefined) err.address = info.address
    if (info.port !== undefined) err.port = info.port
    return err
  }
  if (info.code === 'PROTOCOL_ERROR' && info.reasonCode !== undefined) {
    return new ErrorWithReasonCode(info.message, info.reasonCode)
  }
  return new Error(info.message)
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

/** An Error with `code`. */
function codedError (message, code) {
  const err = new Error(message)
  err.code = code
  return err
}

/**
 * The Error for one thrown synchronously by a native function (`CODE|text`): its text, and
 * `code` `ERR_MQTT_<CODE>` (`ERR_MQTT_INVALID`, `ERR_MQTT_NOT_CONNECTED`, …).
 */
function nativeError (thrown) {
  const { code, message } = splitNativeError(thrown)
  return codedError(message, `ERR_MQTT_${code}`)
}

module.exports = { ReasonCodes, ErrorWithReasonCode, ErrorWithSubackPacket, fromNative, splitNativeError, nativeError, codedError }
