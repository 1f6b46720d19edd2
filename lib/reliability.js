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

/** MQTT 5 reason code 0x8E, Session taken over (MQTT 5 §3.14.2.1). */
const SESSION_TAKEN_OVER = 0x8e
/**
 * A connection the broker closes within this long after CONNACK, with no DISCONNECT and no
 * error, counts as a quick close; two in a row are reported as a likely takeover. The other
 * client reconnects after its own `reconnectPeriod` (1 s by default), so its takeovers land
 * well inside this window.
 */
const QUICK_CLOSE_MS = 10000
/** Quick closes in a row that make a takeover likely enough to report on MQTT 3.1/3.1.1. */
const QUICK_CLOSES = 2

/**
 * Watches connections for session takeover: another client connecting with the same clientId
 * makes the broker drop this one (MQTT 3.1.1 §3.1.4 step 2, MQTT 5 §3.1.4-3). MQTT 5 brokers
 * say so with DISCONNECT 0x8E; MQTT 3.1.1 brokers just close the connection right after CONNACK.
 * Each occurrence gives one `error` with code `ERR_MQTT_SESSION_TAKEN_OVER`; reconnecting goes
 * on as configured, and takeovers in a row count as failed attempts for `reconnectBackoff`.
 */
class TakeoverWatch {
  constructor (client) {
    this.client = client
    /** When the current connection's CONNACK arrived (ms), or null. */
    this.connackAt = null
    /** Whether the current connection reported an error or a DISCONNECT (then it is not silent). */
    this.explained = false
    /** Quick, silent closes in a row. */
    this.quickCloses = 0
    /** Takeovers in a row (reported ones), for the backoff. */
    this.takeovers = 0
    /** Whether the current connection was taken over (MQTT 5 DISCONNECT 0x8E). */
    this.takenOver = false
  }

  onConnack () {
    this.connackAt = Date.now()
    this.explained = false
    this.takenOver = false
  }

  onError () {
    this.explained = true
  }

  onDisconnect (packet) {
    this.explained = true
    if (packet && packet.reasonCode === SESSION_TAKEN_OVER) {
      this.takenOver = true
      this.report('the broker sent DISCONNECT with reason code 0x8E, Session taken over (MQTT 5 §3.14.2.1)')
    }
  }

  /** The connection is gone; call before the reconnect delay is chosen. */
  onClose () {
    const client = this.client
    const connackAt = this.connackAt
    this.connackAt = null
    if (client.disconnecting || connackAt === null) return
    let takenOver = this.takenOver
    this.takenOver = false
    if (!takenOver && !this.explained && Date.now() - connackAt < QUICK_CLOSE_MS) {
      this.quickCloses++
      if (this.quickCloses >= QUICK_CLOSES) {
        takenOver = true
        this.report(`the broker closed the connection without a word within ${QUICK_CLOSE_MS / 1000} s of accepting it, ${this.quickCloses} times in a row`)
      }
    } else if (!takenOver) {
      this.quickCloses = 0
    }
    if (takenOver) {
      this.takeovers++
      // A successful CONNACK resets the backoff; a takeover right after it should not.
      client._failedAttempts = Math.max(client._failedAttempts, this.takeovers)
    } else {
      this.takeovers = 0
    }
  }

  report (what) {
    const clientId = this.client.options.clientId
    const err = new Error(`Session taken over: ${what}. Most likely another client is connected with the same clientId "${clientId}" (a copied configuration, or a second instance of this service), and the two keep knocking each other off. Give every client its own clientId. Reconnecting continues.`)
    err.code = 'ERR_MQTT_SESSION_TAKEN_OVER'
    err.clientId = clientId
    this.client.emit('error', err)
  }
}

module.exports.TakeoverWatch = TakeoverWatch
