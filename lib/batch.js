'use strict'
// Reads the event batches of the native side (src/binding/batch.rs, DESIGN.md §2): one Buffer of
// topics and payloads, one Uint32Array of fixed-width records, one array of objects.
//
// The record layout is not written here: it is read from the addon when this module loads
// (`batchLayout()`), so the Rust writer and this reader share one definition and cannot drift.

const native = require('./native')
const { codedError } = require('./errors')

function readLayout (raw) {
  const entries = (pairs, what) => {
    if (!Array.isArray(pairs)) throw codedError(`mqtt-native: the addon's batch layout has no ${what}; rebuild the addon`, 'ERR_MQTT_NATIVE_VERSION')
    return Object.freeze(Object.fromEntries(pairs))
  }
  const layout = {
    WIDTH: raw.width,
    NO_EXTRA: raw.noExtra,
    FIELD: entries(raw.fields, 'fields'),
    KIND: entries(raw.kinds, 'kinds'),
    ACK: entries(raw.ackCodes, 'ack codes'),
    FLAG: entries(raw.messageFlags, 'message flags'),
    APP_ACK: entries(raw.appAcks, 'app acks')
  }
  if (!(layout.WIDTH > 0)) throw codedError('mqtt-native: the addon\'s batch layout has no record width; rebuild the addon', 'ERR_MQTT_NATIVE_VERSION')
  return Object.freeze(layout)
}

const LAYOUT = readLayout(native.batchLayout())
const { WIDTH, NO_EXTRA, FIELD, FLAG } = LAYOUT
const F_KIND = FIELD.kind
const F_A = FIELD.a
const F_B = FIELD.b
const F_C = FIELD.c
const F_TOPIC = FIELD.topicOffset
const F_TOPIC_LEN = FIELD.topicLength
const F_PAYLOAD = FIELD.payloadOffset
const F_PAYLOAD_LEN = FIELD.payloadLength
const F_EXTRA = FIELD.extra

/** The command name of each ack code of an ACK record (`ACK.PUBACK` → `'puback'`, …). */
const ACK_CMDS = []
for (const [name, code] of Object.entries(LAYOUT.ACK)) {
  if (name !== 'PUBREC_RECEIVED') ACK_CMDS[code] = name.toLowerCase()
}
/** The command name of each app-ack code (the ack the application owes for a message). */
const APP_ACK_CMDS = []
for (const [name, code] of Object.entries(LAYOUT.APP_ACK)) {
  if (name !== 'NONE') APP_ACK_CMDS[code] = name.toLowerCase()
}

/** Record fields, by meaning. `r` is the index of the record's first field. */
const record = {
  kind: (rec, r) => rec[r + F_KIND],
  /** The record's object (packet, properties or error info), or undefined. */
  extra: (rec, extras, r) => (rec[r + F_EXTRA] === NO_EXTRA ? undefined : extras[rec[r + F_EXTRA]]),
  /** The remaining length of the packet the record reports (mqtt-packet's `length`). */
  length: (rec, r) => rec[r + F_C],
  /** The message id of a MESSAGE, ACK or RELEASED record. */
  messageId: (rec, r) => rec[r + F_B],
  /** ACK records: which ack (`ACK.*`) and its reason code. */
  ackCode: (rec, r) => rec[r + F_A],
  reasonCode: (rec, r) => rec[r + F_TOPIC],
  /** MESSAGE records. */
  qos: (rec, r) => rec[r + F_A] & FLAG.QOS_MASK,
  retain: (rec, r) => (rec[r + F_A] & FLAG.RETAIN) !== 0,
  dup: (rec, r) => (rec[r + F_A] & FLAG.DUP) !== 0,
  /** The ack the application owes (`APP_ACK.*`). */
  owed: (rec, r) => (rec[r + F_A] >> FLAG.ACK_SHIFT) & 3,
  /** Whether the session already sent that ack. */
  acked: (rec, r) => (rec[r + F_A] & FLAG.ACKED) !== 0,
  /** Whether the topic came from a Topic Alias (the PUBLISH had an empty topic on the wire). */
  topicFromAlias: (rec, r) => (rec[r + F_A] & FLAG.TOPIC_FROM_ALIAS) !== 0,
  topic: (blob, rec, r) => blob.toString('utf8', rec[r + F_TOPIC], rec[r + F_TOPIC] + rec[r + F_TOPIC_LEN]),
  /** Where the topic starts in the blob (records on the same topic share it). */
  topicOffset: (rec, r) => rec[r + F_TOPIC],
  payload: (blob, rec, r) => blob.subarray(rec[r + F_PAYLOAD], rec[r + F_PAYLOAD] + rec[r + F_PAYLOAD_LEN])
}

/**
 * Queues batches and dispatches their records in order, one call of `dispatch(blob, records,
 * extras, r)` per record. Dispatching stops while the reader is blocked (a `handleMessage` that
 * has not called back) and resumes on `unblock()`. `drained()` runs after each dispatching run
 * (the client sends the acks gathered meanwhile).
 *
 * A throwing dispatch must not drop the rest of a batch: the exception is rethrown on the next
 * tick (as the socket 'data' handler of MQTT.js would have thrown it).
 */
class BatchReader {
  constructor (dispatch, drained) {
    this._dispatch = dispatch
    this._drained = drained
    this._inbox = []
    /** Whether dispatching waits (for a `handleMessage` callback). */
    this.blocked = false
    /** Whether records are being dispatched right now. */
    this.draining = false
  }

  /** A batch from the native side. */
  push (blob, records, extras) {
    this._inbox.push({ blob, records, extras, next: 0 })
    if (!this.blocked) this.drain()
  }

  block () {
    this.blocked = true
  }

  unblock () {
    this.blocked = false
    this.drain()
  }

  drain () {
    if (this.draining) return
    this.draining = true
    try {
      this._drainInbox()
    } finally {
      this.draining = false
    }
    this._drained()
  }

  _drainInbox () {
    while (this._inbox.length && !this.blocked) {
      const batch = this._inbox[0]
      const { blob, records, extras } = batch
      while (batch.next < records.length && !this.blocked) {
        const r = batch.next
        batch.next += WIDTH
        try {
          this._dispatch(blob, records, extras, r)
        } catch (err) {
          process.nextTick(() => { throw err })
        }
      }
      if (batch.next >= records.length) this._inbox.shift()
    }
  }
}

module.exports = { LAYOUT, KIND: LAYOUT.KIND, ACK: LAYOUT.ACK, APP_ACK: LAYOUT.APP_ACK, ACK_CMDS, APP_ACK_CMDS, record, BatchReader }
