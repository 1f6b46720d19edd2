'use strict'
// Our reliability options (beyond MQTT.js): the incoming packet size bound, session takeover
// reports, and the built-in crash-safe persistence. `lib/client.js` calls in here at a few
// points; the work is done here and in Rust (src/session, src/persist).

const native = require('./native')
const { codedError } = require('./errors')

/** The protocol's largest packet: 1 byte of type, 4 of length, 268,435,455 of body. */
const PROTOCOL_MAX_PACKET = 268435460

/**
 * Checks our options once, in the constructor, so that a mistake throws at once with the
 * option's name rather than surfacing later.
 */
function checkReliabilityOptions (opts) {
  checkPersistenceOptions(opts)
  const max = opts.maxIncomingPacketSize
  if (max !== undefined && max !== null) {
    if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > PROTOCOL_MAX_PACKET) {
      throw codedError(`maxIncomingPacketSize must be a whole number of bytes from 1 to ${PROTOCOL_MAX_PACKET}; received ${max}`, 'ERR_MQTT_INVALID_OPTION', RangeError)
    }
  }
}

/** Hands the options checked above to a new native client. */
function applyReliabilityOptions (client) {
  const max = client.options.maxIncomingPacketSize
  if (max !== undefined && max !== null) native.clientSetMaxIncomingPacketSize(client._handle, max)
  if (client.options.persistence) client._persist = new Persistence(client, client.options.persistence)
}

function persistenceError (message) {
  return codedError(message, 'ERR_MQTT_PERSISTENCE')
}

/**
 * `persistence: { dir }` keeps a `clean: false` session's QoS 1/2 state in `dir`, so it needs
 * a session the broker keeps (`clean: false`) under a clientId the next run will use again.
 */
function checkPersistenceOptions (opts) {
  const p = opts.persistence
  if (p === undefined || p === null || p === false) return
  if (typeof p !== 'object' || typeof p.dir !== 'string' || p.dir === '') {
    throw persistenceError('persistence must be an object such as { dir: \'./mqtt-state\' }: the directory that keeps the session\'s QoS 1/2 messages')
  }
  if (opts.clean !== false) {
    throw persistenceError('persistence needs clean: false: with a clean session the broker forgets the session that the persisted messages belong to')
  }
  if (typeof opts.clientId !== 'string' || opts.clientId === '') {
    throw persistenceError('persistence needs a fixed clientId: the next run finds the persisted messages (and the broker the session) by it')
  }
  if (opts.protocolVersion === 5 && !(opts.properties && opts.properties.sessionExpiryInterval > 0)) {
    throw persistenceError('persistence on MQTT 5 needs properties.sessionExpiryInterval above 0 (for example 3600): with 0 the broker ends the session, and the QoS 2 exchanges the persisted messages belong to, as soon as the connection closes (MQTT 5 §3.1.2.11.2)')
  }
  if (opts.outgoingStore || opts.incomingStore) {
    throw persistenceError('persistence replaces outgoingStore and incomingStore: give one or the other')
  }
}

/**
 * The built-in persistence of one client (src/persist): opens the log, takes back what an earlier
 * run left, and fires `cbStorePut` callbacks once a publish's record is synced to disk.
 */
class Persistence {
  constructor (client, options) {
    this.client = client
    /** Callbacks waiting for durability, as { seq, cb }, oldest first. */
    this.waiting = []
    this.failed = false
    try {
      // The writer thread's callback holds this function strongly; through a WeakRef it does
      // not hold the client, which the garbage collector can then finalize (closing the log)
      // when the application drops it without end().
      const self = new WeakRef(this)
      this.handle = native.clientPersistOpen(client._handle, options.dir, client.options.clientId, (seq) => {
        const persistence = self.deref()
        if (persistence) persistence._onDurable(seq)
      })
    } catch (e) {
      const text = String(e && e.message)
      throw persistenceError(text.slice(text.indexOf('|') + 1))
    }
    const restored = native.clientPersistRestored(this.handle)
    if (restored.warning) process.emitWarning(restored.warning, { code: 'MQTT_NATIVE_PERSISTENCE_DAMAGED' })
    // The session resends these after CONNACK; the shim tracks them as any message in flight, so
    // that 'connect' and the offline queue wait for their acks as in MQTT.js.
    for (let i = 0; i < restored.outgoingIds.length; i++) {
      const id = restored.outgoingIds[i]
      if (id === 0) {
        // Never sent by the earlier run: the session numbers it when it first sends it.
        client._unnumbered.push({ volatile: false, cmd: 'publish', cb: noop, restored: true })
        continue
      }
      if (client.outgoing[id]) continue
      client.messageIdProvider.register(id)
      client.outgoing[id] = { volatile: false, cmd: restored.outgoingPubrel[i] ? 'pubrel' : 'publish', cb: noop }
    }
    const ids = restored.outgoingIds
    const provider = client.messageIdProvider
    if (ids.length && typeof provider.nextId === 'number') {
      // MQTT.js's default provider counts up without tracking ids in use: start it after the
      // last restored id, so that new messages do not take the ids of restored ones.
      provider.nextId = (ids[ids.length - 1] % 65535) + 1
    }
    /** What was taken back from an earlier run: `{ outgoing, incoming }` counts. */
    this.restored = { outgoing: restored.outgoingIds.length, incoming: restored.incoming }
  }

  /** Calls `cb` once the record of the publish just handed to the session is synced to disk. */
  whenDurable (cb) {
    const seq = native.clientPersistPosition(this.handle)
    this.waiting.push({ seq, cb })
    if (this.waiting.length === 1) {
      // The writer thread's call does not keep the process alive; this does, while a callback
      // waits (an application awaiting cbStorePut with nothing else to do must still get it).
      this.keepAlive = setTimeout(noop, 0x7fffffff)
      this._want()
    }
  }

  _want () {
    while (this.waiting.length) {
      const durable = native.clientPersistWant(this.handle, this.waiting[0].seq)
      if (durable < 0) return
      // Already synced: fire on the next tick, never inside publish().
      const ready = this._take(durable)
      process.nextTick(() => { for (const cb of ready) cb() })
    }
  }

  _take (durable) {
    const ready = []
    while (this.waiting.length && this.waiting[0].seq <= durable) ready.push(this.waiting.shift().cb)
    if (!this.waiting.length && this.keepAlive) {
      clearTimeout(this.keepAlive)
      this.keepAlive = null
    }
    return ready
  }

  _onDurable (seq) {
    if (seq < 0) {
      if (this.failed) return
      this.failed = true
      if (this.keepAlive) clearTimeout(this.keepAlive)
      const message = native.clientPersistFailure(this.handle) || 'mqtt-native persistence failed'
      this.client.emit('error', persistenceError(message))
      return
    }
    for (const cb of this._take(seq)) cb()
    this._want()
  }

  /**
   * Closes the log (`end()`): every record is written and synced, so every waiting `cbStorePut`
   * fires, and the directory is free for another client. Returns null (the new `_persist`).
   */
  close () {
    native.clientPersistClose(this.client._handle)
    const ready = this._take(Infinity)
    if (ready.length) process.nextTick(() => { for (const cb of ready) cb() })
    return null
  }
}

/** Opens the log again for a client that was ended and connects again. */
function reopenPersistence (client) {
  if (client.options.persistence && !client._persist) client._persist = new Persistence(client, client.options.persistence)
}

function noop () {}

module.exports = { checkReliabilityOptions, applyReliabilityOptions, reopenPersistence, PROTOCOL_MAX_PACKET }

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
    this.client._statistics.takeovers++
    const clientId = this.client.options.clientId
    const err = codedError(`Session taken over: ${what}. Most likely another client is connected with the same clientId "${clientId}" (a copied configuration, or a second instance of this service), and the two keep knocking each other off. Give every client its own clientId. Reconnecting continues.`, 'ERR_MQTT_SESSION_TAKEN_OVER')
    err.clientId = clientId
    // Never silent, and never a crash of an application that listens to no 'error' (MQTT.js
    // code that ran quietly before): without a listener it is a process warning.
    if (this.client.listenerCount('error') > 0) this.client.emit('error', err)
    else process.emitWarning(err.message, { code: err.code })
  }
}

module.exports.TakeoverWatch = TakeoverWatch
