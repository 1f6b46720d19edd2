'use strict'
// Our reliability options (beyond MQTT.js): the incoming packet size bound, session takeover
// reports, and the built-in crash-safe persistence. `lib/client.js` calls in here at a few
// points; the work is done here and in Rust (src/session, src/persist).

const native = require('./native')

/** The protocol's largest packet: 1 byte of type, 4 of length, 268,435,455 of body. */
const PROTOCOL_MAX_PACKET = 268435460

/**
 * Checks our options once, in the constructor, so that a mistake throws at once with the
 * option's name rather than surfacing later.
 */
function checkReliabilityOptions (opts) {
  const max = opts.maxIncomingPacketSize
  if (max !== undefined && max !== null) {
    if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > PROTOCOL_MAX_PACKET) {
      throw new RangeError(`maxIncomingPacketSize must be a whole number of bytes from 1 to ${PROTOCOL_MAX_PACKET}; received ${max}`)
    }
  }
}

/** Hands the options checked above to a new native client. */
function applyReliabilityOptions (client) {
  const max = client.options.maxIncomingPacketSize
  if (max !== undefined && max !== null) native.clientSetMaxIncomingPacketSize(client._handle, max)
}

module.exports = { checkReliabilityOptions, applyReliabilityOptions, PROTOCOL_MAX_PACKET }
