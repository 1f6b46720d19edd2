'use strict'
// `client.getStatistics()`: what a client has done and holds, as one plain object, cheap enough to
// read every second on thousands of clients.
//
// Where each figure is kept: the session (Rust) counts messages and payload bytes and measures its
// own tables (in flight, waiting for the window, inbound QoS 2), read with one N-API call into a
// Float64Array this client keeps (src/binding/stats.rs); this file counts what the shim decides
// (connection attempts, reconnects, takeovers, the last error) and samples the round-trip time of
// one request at a time, as TCP times one segment per round trip. Each hook in lib/client.js is
// one line: a few integer additions, never an allocation on the message path.

const native = require('./native')

const LEN = native.STATISTICS_LEN

/** Index of each figure in the array `clientStatistics` writes (src/session/stats.rs). */
const AT = Object.freeze({
  SENT: 0,
  SENT_BYTES: 3,
  RECEIVED: 6,
  RECEIVED_BYTES: 9,
  RESENT: 12,
  INFLIGHT: 13,
  INFLIGHT_BYTES: 14,
  RECEIVE_MAXIMUM: 15,
  WAITING: 16,
  WAITING_BYTES: 17,
  INCOMING_QOS2: 18,
  CONNECTED: 19
})

/** The figures of one client that the shim keeps (see `snapshot` for what they mean). */
class Recorder {
  constructor (client) {
    this.client = client
    /** The numbers the addon writes; one array per client, reused by every call. */
    this.values = new Float64Array(LEN)
    /** When the connection state last changed (Date.now()). */
    this.since = Date.now()
    this.attempts = 0
    this.connects = 0
    this.reconnects = 0
    this.takeovers = 0
    this.lastErrorCode = null
    /** The request being timed (its message id), 0 when none. */
    this.probeId = 0
    this.probeStart = 0
    this.rttLast = null
    this.rttSum = 0
    this.rttSamples = 0
  }

  /** A connection attempt starts (`connect()`). */
  onAttempt () {
    this.attempts++
    this.since = Date.now()
    this.probeId = 0
  }

  /** CONNACK accepted the connection. */
  onConnected () {
    this.connects++
    this.since = Date.now()
  }

  /** The connection closed, or `end()` began. */
  onTransition () {
    this.since = Date.now()
    this.probeId = 0
  }

  onError (err) {
    this.lastErrorCode = err && err.code !== undefined ? err.code : null
  }

  /** A request that the broker acknowledges was written: time it unless one is being timed. */
  probe (messageId) {
    if (this.probeId === 0 && messageId) {
      this.probeId = messageId
      this.probeStart = performance.now()
    }
  }

  /** The first ack of `messageId` arrived (PUBACK, PUBREC, SUBACK or UNSUBACK). */
  onAck (messageId) {
    if (messageId !== this.probeId) return
    this.probeId = 0
    const rtt = performance.now() - this.probeStart
    this.rttLast = rtt
    this.rttSum += rtt
    this.rttSamples++
  }

  /** The figures now, as the plain object `getStatistics()` returns. */
  snapshot () {
    const client = this.client
    const v = this.values
    native.clientStatistics(client._handle, v)
    const now = Date.now()
    const connected = client.connected
    const waiting = { count: v[AT.WAITING], bytes: v[AT.WAITING_BYTES] }
    // The offline queue: QoS 0 publishes queued while offline (`client.queue`), QoS 1/2 publishes
    // made offline that the shim hands over after CONNACK, and, while there is no connection,
    // the QoS 1/2 publishes the session holds for the next one.
    const offline = { count: 0, bytes: 0 }
    for (const entry of client.queue) {
      if (entry.packet && entry.packet.cmd === 'publish') {
        offline.count++
        offline.bytes += payloadBytes(entry.packet.payload)
      }
    }
    for (const id of client._unsent.keys()) {
      const entry = client.outgoing[id]
      offline.count++
      if (entry && entry.packet) offline.bytes += payloadBytes(entry.packet.payload)
    }
    let window = waiting
    if (!connected) {
      offline.count += waiting.count
      offline.bytes += waiting.bytes
      window = { count: 0, bytes: 0 }
    }
    const persist = client._persist
    return {
      state: stateOf(client),
      stateSince: this.since,
      stateMs: now - this.since,
      attempts: this.attempts,
      connects: this.connects,
      reconnects: this.reconnects,
      takeovers: this.takeovers,
      lastErrorCode: this.lastErrorCode,
      messagesSent: [v[AT.SENT], v[AT.SENT + 1], v[AT.SENT + 2]],
      bytesSent: [v[AT.SENT_BYTES], v[AT.SENT_BYTES + 1], v[AT.SENT_BYTES + 2]],
      messagesReceived: [v[AT.RECEIVED], v[AT.RECEIVED + 1], v[AT.RECEIVED + 2]],
      bytesReceived: [v[AT.RECEIVED_BYTES], v[AT.RECEIVED_BYTES + 1], v[AT.RECEIVED_BYTES + 2]],
      resent: v[AT.RESENT],
      inflight: { count: v[AT.INFLIGHT], bytes: v[AT.INFLIGHT_BYTES], max: v[AT.RECEIVE_MAXIMUM] },
      waiting: window,
      offline,
      incomingQos2: v[AT.INCOMING_QOS2],
      rtt: {
        lastMs: this.rttLast,
        meanMs: this.rttSamples ? this.rttSum / this.rttSamples : null,
        samples: this.rttSamples
      },
      persistence: persist && persist.handle ? { backlog: native.clientPersistBacklog(persist.handle) } : null
    }
  }
}

/** The connection state, from the flags MQTT.js exposes. */
function stateOf (client) {
  if (client.connected) return client.disconnecting ? 'disconnecting' : 'connected'
  if (client.disconnected) return 'closed'
  if (client.disconnecting) return 'disconnecting'
  if (client._connectionOpen) return 'connecting'
  if (client.reconnectTimer || client.reconnecting) return 'reconnecting'
  return 'closed'
}

function payloadBytes (payload) {
  if (payload === null || payload === undefined) return 0
  if (typeof payload === 'string') return Buffer.byteLength(payload)
  return payload.byteLength || 0
}

module.exports = { Recorder, stateOf }
