'use strict'

// Helpers for tests that compare packets with mqtt-packet (a devDependency): generate bytes,
// parse exactly one packet, and compare packet objects including the order of their keys.

const assert = require('node:assert/strict')
const mqttPacket = require('mqtt-packet')

/**
 * Bytes for `obj` as mqtt-packet generates them for `protocolVersion`.
 * Throws when mqtt-packet refuses the packet.
 * @param {object} obj
 * @param {number} protocolVersion
 * @returns {Buffer}
 */
function generate (obj, protocolVersion) {
  // mqtt-packet's generate() reports refusals through an event on its internal stream that
  // nobody listens to, and then returns whatever it wrote; writeToStream lets us see the error.
  const chunks = []
  let error = null
  const stream = {
    write (chunk) { chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk); return true },
    destroy (err) { error = err || new Error('mqtt-packet destroyed the stream') }
  }
  mqttPacket.writeToStream(obj, stream, { protocolVersion })
  if (error) throw error
  return Buffer.concat(chunks)
}

/**
 * Parses `bytes` with mqtt-packet as exactly one packet; throws when the bytes hold an error,
 * no whole packet, more than one packet, or trailing bytes.
 * @param {Buffer} bytes
 * @param {number} protocolVersion
 * @returns {object}
 */
function parseOne (bytes, protocolVersion) {
  const parser = mqttPacket.parser({ protocolVersion })
  const packets = []
  let error = null
  parser.on('packet', (p) => packets.push(p))
  parser.on('error', (e) => { error = error || e })
  const left = parser.parse(bytes)
  if (error) throw error
  if (packets.length !== 1) throw new Error(`expected one packet, mqtt-packet parsed ${packets.length}`)
  if (left !== 0) throw new Error(`${left} bytes left after the packet`)
  return packets[0]
}

/**
 * The remaining length field of the packet in `bytes` (read from the fixed header).
 * @param {Buffer} bytes
 */
function remainingLength (bytes) {
  let value = 0
  let mul = 1
  for (let i = 1; i < 5 && i < bytes.length; i++) {
    value += (bytes[i] & 0x7f) * mul
    if ((bytes[i] & 0x80) === 0) return value
    mul *= 128
  }
  throw new Error('bad remaining length')
}

/**
 * Copies `value` into plain data for comparison, turning instances of mqtt-packet's Packet
 * class into plain objects (we produce plain objects with the same own keys).
 * @param {unknown} value
 */
function plain (value) {
  if (Buffer.isBuffer(value) || value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) return value.map(plain)
  const proto = Object.getPrototypeOf(value)
  const out = proto === null ? Object.create(null) : {}
  for (const key of Object.keys(value)) out[key] = plain(value[key])
  return out
}

/**
 * Asserts that `actual` and `expected` are deep-strict-equal after `plain()`, and that every
 * object in them has the same own keys in the same order.
 * @param {unknown} actual
 * @param {unknown} expected
 * @param {string} [message]
 */
function assertSamePacket (actual, expected, message) {
  assert.deepStrictEqual(plain(actual), plain(expected), message)
  assertKeyOrder(actual, expected, '$', message)
}

function assertKeyOrder (a, b, path, message) {
  if (Buffer.isBuffer(a) || a === null || typeof a !== 'object') return
  if (Array.isArray(a)) {
    for (let i = 0; i < a.length; i++) assertKeyOrder(a[i], b[i], `${path}[${i}]`, message)
    return
  }
  assert.deepStrictEqual(Object.keys(a), Object.keys(b),
    `${message ? message + ': ' : ''}key order differs at ${path}`)
  for (const key of Object.keys(a)) assertKeyOrder(a[key], b[key], `${path}.${key}`, message)
}

/** A short printable description of a packet for failure messages. */
function describe (obj) {
  return JSON.stringify(obj, (k, v) => {
    if (v && v.type === 'Buffer' && Array.isArray(v.data)) return `<Buffer ${v.data.length}B>`
    return v
  })
}

module.exports = { generate, parseOne, remainingLength, plain, assertSamePacket, describe }
