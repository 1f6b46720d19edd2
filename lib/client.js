'use strict'
// MqttClient: MQTT.js's public API over the native session (DESIGN.md §1, research §3–§7).
//
// The protocol runs in Rust; this class keeps what MQTT.js exposes and orders: options and
// flags, callbacks (`outgoing`, keyed by message id as in MQTT.js), the offline queue, the
// resubscribe map, the reconnect timer, and the events, built from the native event batches.

const { EventEmitter } = require('events')
const native = require('./native')
const { normalize, checkSupported, resolveEndpoint, isRetryable } = require('./options')
const { ReasonCodes, ErrorWithReasonCode, ErrorWithSubackPacket, fromNative, splitNativeError, nativeError, nativeCode, codedError } = require('./errors')
const { validateTopics, sharedSubscriptionError } = require('./topic')
const { ServerList, checkClusterOptions, USE_ANOTHER_SERVER, SERVER_MOVED } = require('./servers')
const { DefaultMessageIdProvider } = require('./message-id')
const { Store } = require('./store')
const { toMqttPacket, fromMqttPacket } = require('./packet')
const { KIND, ACK, APP_ACK, ACK_CMDS, APP_ACK_CMDS, record, BatchReader } = require('./batch')
const { createLogger } = require('./log')
const { KeepaliveManager } = require('./keepalive')
const reliability = require('./reliability')
const { streamPathReason, connectStream } = require('./stream')
const statistics = require('./statistics')
const tracing = require('./tracing')
const dial = require('./dial')
const { version: NATIVE_VERSION } = require('../package.json')
/** The MQTT.js version whose API this package implements (MQTT.js's `MQTTJS_VERSION`). */
const VERSION = '5.16.0'

const DEFAULTS = {
  keepalive: 60,
  reschedulePings: true,
  protocolId: 'MQTT',
  protocolVersion: 4,
  reconnectPeriod: 1000,
  connectTimeout: 30 * 1000,
  clean: true,
  resubscribe: true,
  subscribeBatchSize: null,
  writeCache: true,
  timerVariant: 'auto'
}

// What a message record says the application owes (src/session/event.rs `AppAck`).
const { NONE: ACK_NONE, PUBACK: ACK_PUBACK, PUBREC: ACK_PUBREC, PUBCOMP: ACK_PUBCOMP } = APP_ACK
// Reason codes customHandleAcks may choose (MQTT.js handlers/publish.ts).
const VALID_ACK_CODES = [0, 16, 128, 131, 135, 144, 145, 151, 153]

function noop () {}
const NO_OPTIONS = Object.freeze({})

/**
 * Writes leave in call order across all the clients of this thread, as MQTT.js's corked
 * sockets uncork in order: publishes of one tick are coalesced per client and flushed after
 * the tick, in the order the clients first published; any other write (subscribe,
 * unsubscribe, acks, AUTH, PINGREQ) first flushes every client's pending publishes, so that a
 * subscribe made after another client's publish never overtakes it.
 */
const unflushed = []
let publishFlushQueued = false

function schedulePublishFlush (client) {
  unflushed.push(client)
  if (!publishFlushQueued) {
    publishFlushQueued = true
    process.nextTick(onPublishTick)
  }
}

function onPublishTick () {
  publishFlushQueued = false
  flushPublishes()
}

/** Flushes every client's publishes of this tick, oldest first. */
function flushPublishes () {
  if (unflushed.length === 0) return
  // A flush never calls JavaScript (the driver defers events to the next loop turn).
  for (let i = 0; i < unflushed.length; i++) unflushed[i]._flushWrites()
  unflushed.length = 0
}

function defaultId () {
  return 'mqttjs_' + Math.random().toString(16).substr(2, 8)
}

/**
 * Stands where MQTT.js has its socket (`client.stream`): tests and applications call `end()` and
 * `destroy()` on it to drop the connection, which then behaves as a dropped connection
 * (reconnect and all). It emits 'close' when the connection is gone.
 */
class NativeStream extends EventEmitter {
  constructor (client) {
    super()
    this._client = client
    this.destroyed = false
  }

  /** Closes the connection after what is queued has been written (no DISCONNECT). */
  end () {
    if (!this.destroyed) native.clientEnd(this._client._handle, false, null)
    return this
  }

  /** Drops the connection at once. */
  destroy () {
    if (!this.destroyed) native.clientEnd(this._client._handle, true, null)
    return this
  }
}

class MqttClient extends EventEmitter {
  /**
   * `new MqttClient(options)` (options normalised by `connect()`), or MQTT.js's
   * `new MqttClient(streamBuilder, options)`.
   * @param {object | ((client: MqttClient) => import('stream').Duplex)} streamBuilder
   * @param {object} [options]
   */
  constructor (streamBuilder, options) {
    super()
    if (typeof streamBuilder === 'function') {
      // MQTT.js's (streamBuilder, options): every connection runs over the stream the builder
      // returns (the Node-stream path, lib/stream.js).
      this._streamBuilder = streamBuilder
    } else {
      // mqtt-native's own (options), as connect() calls it.
      options = streamBuilder
      this._streamBuilder = null
    }
    this.options = options || {}
    for (const key of Object.keys(DEFAULTS)) {
      if (typeof this.options[key] === 'undefined') this.options[key] = DEFAULTS[key]
    }
    reliability.checkReliabilityOptions(this.options)
    this.options.clientId = typeof this.options.clientId === 'string' ? this.options.clientId : defaultId()
    if (!this._streamBuilder) checkSupported(this.options)
    checkClusterOptions(this.options)
    checkKeepalive(this.options.keepalive)
    checkMaxInflight(this.options.maxInflight)
    const version = this.options.protocolVersion
    if (![3, 4, 5].includes(version)) throw codedError(`Unsupported protocolVersion ${version}: use 3, 4 or 5`, 'ERR_MQTT_INVALID_OPTION')
    this.log = this.options.log || createLogger('mqttjs:client')
    this.noop = noop
    this.messageIdProvider = this.options.messageIdProvider || new DefaultMessageIdProvider()
    // In-flight messages live in the native session; a store given by the application also
    // receives them (put on send, replaced by PUBREL, deleted on ack) and is replayed on every
    // CONNACK, so that a persistent store carries them across process restarts (research §7.1).
    this.outgoingStore = this.options.outgoingStore || new Store()
    this.incomingStore = this.options.incomingStore || new Store()
    this.queueQoSZero = this.options.queueQoSZero === undefined ? true : this.options.queueQoSZero
    this._resubscribeTopics = {}
    this.messageIdToTopic = {}
    /** MQTT.js's keepalive manager: set from CONNACK to the close, null otherwise. */
    this.keepaliveManager = null
    this.reconnectTimer = null
    this.reconnecting = false
    this.connected = false
    this.disconnecting = false
    this.disconnected = undefined
    this.queue = []
    this.outgoing = {}
    this._firstConnection = true
    /** The session holds QoS 1/2 sends until this client has subscribed again (`_onConnack`). */
    this._resendHeld = false
    /** This connection's resubscription went ahead of the resent publishes. */
    this._resubscribedEarly = false
    this._reconnectCount = 0
    /** Which server each attempt goes to: `servers`, `serverSelection`, redirection (lib/servers.js). */
    this._servers = new ServerList(this)
    this._connackRefused = false
    this._serverProperties = undefined
    this._connack = null
    this._endWaiters = []
    /** An end() waiting for 'outgoingEmpty': runs it at once if the connection is lost first. */
    this._endPending = null
    this._pendingReconnect = null
    this._connectionOpen = false
    /** Set by end(true) until the close: what is left of the batch in progress is abandoned. */
    this._abandoned = false
    /** Counts connection attempts, so that a lookup answering late dials only its own. */
    this._dialAttempt = 0
    /**
     * While in-flight messages are resent after CONNACK: their ids, the CONNACK, and whether an
     * application store is still being read.
     */
    this._replay = null
    /** Calls made during the replay, run when it ends (MQTT.js `_storeProcessingQueue`). */
    this._deferred = []
    /**
     * QoS 1/2 publishes made offline, in the outgoing store but not yet given to the session:
     * message id → send function, in publish order. Sent on CONNACK, after the store's older
     * messages (MQTT.js keeps them in its store and replays the store in order).
     */
    this._unsent = new Map()
    /**
     * Topic Aliases given with their topic by publishes made offline: alias → topic. MQTT.js adds
     * them to the last connection's aliases, so a later offline alias-only publish gets its topic
     * back; both are forgotten at the next CONNACK.
     */
    this._offlineAliases = new Map()
    /** QoS 1/2 publishes waiting for the flow-control window: message id → packet for packetsend. */
    this._writeLater = new Map()
    /**
     * Whether QoS 1/2 publishes take their packet identifier when the session first sends them
     * (MQTT 5 §2.2.1), so that publishes waiting for the flow-control window or a connection hold
     * none. Not with an application's `messageIdProvider` or `outgoingStore`, which see the id at
     * call time, as in MQTT.js.
     */
    this._sessionIds = !this.options.messageIdProvider && !this.options.outgoingStore
    /** Publishes handed to the session without an identifier, oldest first (numbered in this order). */
    this._unnumbered = []
    /** The last identifier taken in session-numbering mode (for getLastMessageId). */
    this._lastId = null
    /** Reconnect attempts since the last successful CONNACK (for `reconnectBackoff`). */
    this._failedAttempts = 0
    /** The last error, to decide whether retrying can help (`reconnectOnUnhealableError`). */
    this._lastError = null
    /** Calls waiting for a free message id (UniqueMessageIdProvider), oldest first. */
    this._idWaiters = []
    /** Acks owed to the broker, as kind, messageId, reasonCode triples. */
    this._acks = []
    /** Dispatches the native event batches, in order, pausing for `handleMessage`. */
    /** The last message topic's string, its blob and offset (see `_topicOf`); dropped after each run. */
    this._topicBlob = null
    this._topicAt = -1
    this._topic = ''
    this._reader = new BatchReader((blob, records, extras, r) => this._dispatch(blob, records, extras, r), () => {
      this._topicBlob = null // an idle client keeps no batch alive
      this._flushAcks()
    })
    // `handleMessage` may be replaced on the instance at any time (MQTT.js reads it per message);
    // a replacement switches acks to wait for it.
    let handleMessage = this.handleMessage
    Object.defineProperty(this, 'handleMessage', {
      configurable: true,
      enumerable: false,
      get: () => handleMessage,
      set: (fn) => {
        handleMessage = fn
        this._updateAppAcks()
      }
    })
    this._appAcks = this._wantsAppAcks()
    const connectTimeout = clampInt(this.options.connectTimeout, 1, 0xffffffff)
    // connectTimeout runs on a JavaScript timer, as MQTT.js's `connackTimer` does, so that fake
    // clocks drive it; one too long for Node's timers (2^31 ms) stays native.
    this._connectTimeoutMs = connectTimeout <= 0x7fffffff ? connectTimeout : 0
    this.connackTimer = null
    const maxInflight = this.options.maxInflight
    this._handle = native.createClient({
      protocolVersion: version,
      connectTimeout,
      externalConnectTimer: this._connectTimeoutMs > 0,
      reschedulePings: this.options.reschedulePings !== false,
      // Before MQTT 5 (or without the broker's Receive Maximum) at most 100 QoS 1/2 publishes are
      // in flight, and none is sent while 20 QoS 2 exchanges are open (mosquitto 2.0 drops a
      // publish beyond that quota and cannot say so before MQTT 5); a maxInflight given bounds
      // both alike.
      ...(this.options.maxInflight == null ? {} : { maxInflight, maxInflightQos2: maxInflight }),
      appAcks: this._appAcks,
      // Every outgoing store (the default one too) holds the PUBREL from PUBREC on, as in MQTT.js.
      reportPubrec: true,
      autoUseTopicAlias: version === 5 && !!this.options.autoUseTopicAlias,
      autoAssignTopicAlias: version === 5 && !!this.options.autoAssignTopicAlias,
      // The keepalive timers run in lib/keepalive.js; the session reports what restarts them.
      reportKeepalive: true
    })
    reliability.applyReliabilityOptions(this)
    this._takeover = new reliability.TakeoverWatch(this)
    this._statistics = new statistics.Recorder(this)
    this._onBatch = this._onBatch.bind(this)
    // Publishes of one tick leave in one write: the session queues them and the connection is
    // woken once, after the tick (MQTT.js corks its socket the same way).
    this._flushScheduled = false
    this._flushWrites = () => {
      this._flushScheduled = false
      native.clientFlush(this._handle)
    }
    this._packetListeners = 0
    this.on('newListener', (event) => {
      if (event === 'packetsend' || event === 'packetreceive') this._setPacketEvents(1)
    })
    this.on('removeListener', (event) => {
      if (event === 'packetsend' || event === 'packetreceive') this._setPacketEvents(-1)
    })
    if (!this.options.manualConnect) {
      // An application's streamBuilder that throws here throws from the constructor, as in
      // MQTT.js (lib/stream.js); on later attempts it is one failed attempt.
      this._constructing = true
      try {
        this.connect()
      } finally {
        this._constructing = false
      }
    }
  }

  static defaultId () { return defaultId() }

  /** The CONNACK properties of the current connection (MQTT 5). */
  get serverProperties () { return this._serverProperties }

  /** The effective keepalive in seconds: the broker's Server Keep Alive while connected. */
  get keepalive () {
    const server = this.connected && this._serverProperties && this._serverProperties.serverKeepAlive
    return server && this.options.keepalive ? server : this.options.keepalive
  }

  _setPacketEvents (delta) {
    const before = this._packetListeners > 0
    this._packetListeners += delta
    const after = this._packetListeners > 0
    if (before !== after) {
      native.clientSetPacketEvents(this._handle, after)
      this._updateAppAcks()
    }
  }

  _wantsPacketSend () {
    return this._packetListeners > 0 && this.listenerCount('packetsend') > 0
  }

  /** Opens a connection (MQTT.js `connect()`): builds CONNECT and hands it to the native driver. */
  connect () {
    reliability.reopenPersistence(this)
    if (this.disconnected && !this.reconnecting) {
      this.outgoingStore = this.options.outgoingStore || new Store()
      this.incomingStore = this.options.incomingStore || new Store()
      this.disconnecting = false
      this.disconnected = false
    }
    const opts = this.options
    let endpoint
    try {
      endpoint = this._streamBuilder ? streamBuilderEndpoint(opts) : resolveEndpoint(this)
    } catch (err) {
      // A bad option (say, transformWsUrl throwing) fails the first connect() at once; on a
      // reconnect it is one failed attempt, reported like any other.
      if (!this.reconnecting) throw err
      this.emit('error', err)
      this._setupReconnect()
      return this
    }
    const connectPacket = {
      cmd: 'connect',
      protocolId: opts.protocolId,
      protocolVersion: opts.protocolVersion,
      clean: opts.clean,
      clientId: opts.clientId,
      keepalive: opts.keepalive,
      username: opts.username,
      password: opts.password,
      properties: opts.properties
    }
    if (opts.will) connectPacket.will = { ...opts.will, payload: opts.will.payload }
    if (opts.protocolVersion === 5 && opts.properties && opts.properties.authenticationData && !opts.properties.authenticationMethod) {
      this.end(() => this.emit('error', codedError('Packet has no Authentication Method', 'ERR_MQTT_NO_AUTH_METHOD')))
      return this
    }
    let neutral
    try {
      neutral = fromMqttPacket(connectPacket, opts.protocolVersion)
    } catch (err) {
      throw codedError(`Invalid connect options: ${err.message}`, 'ERR_MQTT_INVALID_OPTION', TypeError)
    }
    this._connackRefused = false
    this._serverProperties = undefined
    this._connectionOpen = true
    this._statistics.onAttempt()
    this._abandoned = false
    this.log('connect :: %s://%s:%s as %s (protocol %d, clean %s, keepalive %d)', endpoint.protocol, endpoint.host, endpoint.port,
      opts.clientId, opts.protocolVersion, opts.clean, opts.keepalive)
    this.stream = new NativeStream(this)
    if (endpoint.ws && endpoint.ws.url) this.stream.url = endpoint.ws.url
    // MQTT 5 enhanced authentication: an AUTH packet right after CONNECT (research §3.1).
    this._authenticationMethod = opts.protocolVersion === 5 && opts.properties ? opts.properties.authenticationMethod : undefined
    let authPacket = null
    if (this._authenticationMethod && opts.authPacket && typeof opts.authPacket === 'object') {
      authPacket = { cmd: 'auth', reasonCode: 0, ...opts.authPacket }
    }
    const authNeutral = authPacket && fromMqttPacket(authPacket, 5)
    // What only Node's networking can do runs over a Node stream; everything else natively.
    const streamPath = this._streamBuilder ? 'streamBuilder' : streamPathReason(opts, endpoint)
    if (streamPath) {
      this.log('connect :: Node-stream path (%s)', streamPath)
      connectStream(this, endpoint, neutral, authNeutral, this._onBatch)
    } else {
      this.log('connect :: native path')
      native.clientConnect(this._handle, endpoint, neutral, authNeutral, this._onBatch)
      this._dial(endpoint)
    }
    // A client that will subscribe again after this CONNACK does so before its publishes are
    // resent (`_onConnack`); the session holds them until then. (CONNACK comes in a later
    // turn on either path, so holding after the attempt has started is in time.)
    const holdResend = !this._firstConnection && !!this.options.resubscribe && Object.keys(this._resubscribeTopics).length > 0
    if (holdResend || this._resendHeld) native.clientHoldResend(this._handle, holdResend)
    this._resendHeld = holdResend
    if (this._connectTimeoutMs) {
      clearTimeout(this.connackTimer)
      this.connackTimer = setTimeout(() => this._onConnackTimeout(), this._connectTimeoutMs)
    }
    if (this._wantsPacketSend()) {
      this.emit('packetsend', connectPacket)
      if (authPacket) this.emit('packetsend', authPacket)
    }
    return this
  }

  /**
   * `connectTimeout` ran out (MQTT.js `_onConnackTimeout()`): the attempt fails as the native
   * deadline would fail it, with `ETIMEDOUT` while the transport is still opening, else with
   * 'connack timeout'; the error and the close come from the session on the next loop turn.
   */
  _onConnackTimeout () {
    this.log('!!connectTimeout hit!! closing the attempt')
    native.clientConnectTimeout(this._handle)
  }

  /**
   * Dials the attempt just started, after this turn, as MQTT.js does: once Node's resolver has
   * resolved its host names (lib/dial.js), or on the next tick for an address. An attempt
   * ended or replaced meanwhile is not dialed.
   */
  _dial (endpoint) {
    const attempt = ++this._dialAttempt
    dial.resolve(endpoint, this.options, (failure, resolved) => {
      if (attempt !== this._dialAttempt) return
      this.log('connect :: %s', failure ? `lookup failed: ${failure.message}` : 'dialing')
      try {
        native.clientDial(this._handle, resolved, failure)
      } catch (err) {
        // Not expected (the shim built both arguments); the attempt then ends at connectTimeout.
        this.log('connect :: dial failed: %s', err.message)
      }
    })
  }

  // ---------------------------------------------------------------------------------------------
  // Publishing

  publish (topic, message, opts, callback) {
    if (tracing.tracesPublish(opts, callback)) return tracing.tracePublish(this, topic, message, opts, callback)
    if (typeof opts === 'function') {
      callback = opts
      opts = null
    }
    if (this._replay) {
      this._deferred.push(() => this.publish(topic, message, opts, callback))
      return this
    }
    // MQTT.js merges opts over { qos: 0, retain: false, dup: false }; read them the same way
    // without building the merged object on every publish.
    const o = opts || NO_OPTIONS
    const qos = o.qos === undefined ? 0 : o.qos
    const retain = o.retain === undefined ? false : o.retain
    const dup = o.dup === undefined ? false : o.dup
    const { properties, cbStorePut } = o
    if (this._checkDisconnecting(callback)) return this
    if (qos !== 0 && qos !== 1 && qos !== 2) {
      throw codedError(`Invalid QoS ${typeof qos === 'string' ? `'${qos}' (a string)` : String(qos)}: use the number 0, 1 or 2`, 'ERR_MQTT_INVALID_ARGUMENT', TypeError)
    }
    if (typeof topic !== 'string') throw codedError('The topic must be a string', 'ERR_MQTT_INVALID_ARGUMENT', TypeError)
    const payload = toPayload(message)
    let messageId = 0
    if (qos > 0 && !this._sessionIds) {
      messageId = this._nextId()
      if (messageId === null) {
        // Every id is in flight (UniqueMessageIdProvider): wait for one, as MQTT.js does.
        this._idWaiters.push(() => this.publish(topic, message, opts, callback))
        return this
      }
    } else if (qos > 0 && !this.connected && !this._persist) {
      // Offline, MQTT.js numbers a QoS 1/2 publish at publish(): it is in `outgoing` and the
      // store under that id, and getLastMessageId() names it (removeOutgoingMessage works on
      // it). So do we while an id is free; beyond 65,535 outstanding, the rest are numbered
      // when first sent, where MQTT.js would overwrite ids still in use. (A persisted record
      // with an id means "sent before", resent with DUP after a crash: with `persistence` an
      // offline publish is numbered when first sent.)
      messageId = this._nextId() ?? 0
    }
    const flags = qos | (retain ? 4 : 0) | (dup ? 8 : 0)
    const v5 = this.options.protocolVersion === 5
    if (qos === 0 && this.connected && !(v5 && properties) && !this._wantsPacketSend()) {
      // The common case: no packet object is needed (nobody listens to packetsend, nothing is
      // queued or stored), so none is built.
      if (this._sendPublish(topic, payload, flags, 0, null, null, callback, message) && callback) callback()
      return this
    }
    const packet = { cmd: 'publish', topic, payload: message, qos, retain, messageId, dup }
    if (v5) packet.properties = properties
    const nativeProps = v5 && properties ? fromMqttPacket({ cmd: 'publish', topic, payload, properties }, 5).properties : null
    if (qos !== 0 && messageId === 0) {
      this._publishUnnumbered(packet, payload, flags, nativeProps, cbStorePut, callback)
      return this
    }
    if (qos === 0) {
      if (!this.connected) {
        this._queueOrFail(packet, callback, payload, flags, nativeProps)
        return this
      }
      if (!this._sendPublish(topic, payload, flags, 0, nativeProps, packet, callback)) return this
      if (callback) callback()
      return this
    }
    // `store`: where the message was put (reconnect() may replace this.outgoingStore).
    const entry = { volatile: false, cmd: 'publish', cb: callback || noop, store: this.outgoingStore, packet }
    this.outgoing[messageId] = entry
    // MQTT.js sends a QoS 1/2 publish once the store has it; offline, the store keeps it and it
    // is sent on CONNACK in the store's order, after what an earlier run left there.
    this.outgoingStore.put(packet, (err) => {
      if (err) {
        const known = this.outgoing[messageId] === entry
        this._dropOutgoing(messageId)
        if (known) entry.cb(err)
        return
      }
      if (cbStorePut && !this._persist) cbStorePut()
      if (this.outgoing[messageId] !== entry) return // removed meanwhile
      if (this.connected || this._persist) {
        // With built-in persistence the session takes the publish at once, offline too: its
        // record is what makes it survive a crash, and what an earlier run left was restored
        // into the session ahead of it.
        if (!this._sendPublish(topic, payload, flags, messageId, nativeProps, packet, null)) this._dropOutgoing(messageId)
        else if (cbStorePut && this._persist) this._persist.whenDurable(cbStorePut)
        return
      }
      // The alias belonged to the old connection: sent with its topic (MQTT.js does the same).
      const restored = withoutTopicAlias(packet, nativeProps, this)
      if (restored instanceof Error) {
        this._dropOutgoing(messageId)
        return entry.cb(restored)
      }
      const [sent, sentProps] = restored
      this._unsent.set(messageId, () => {
        if (!this._sendPublish(sent.topic, payload, flags, messageId, sentProps, sent, null)) this._dropOutgoing(messageId)
      })
    })
    return this
  }

  /**
   * Hands a QoS 1/2 publish to the session without a packet identifier: the session takes one
   * when it first sends the publish (MQTT 5 §2.2.1, MQTT 3.1.1 §2.3.1), at once when the window
   * has room, else later, announced by a NUMBERED record. Offline, the session keeps it and
   * sends it after CONNACK, after what was in flight.
   */
  _publishUnnumbered (packet, payload, flags, nativeProps, cbStorePut, callback) {
    let props = nativeProps
    let sent = packet
    // Offline, any alias belongs to the old connection: sent with its topic (as MQTT.js does),
    // an alias-only publish with the topic the alias stood for.
    if (!this.connected) {
      const restored = withoutTopicAlias(packet, nativeProps, this)
      if (restored instanceof Error) {
        if (callback) callback(restored)
        return
      }
      ;[sent, props] = restored
    }
    const entry = { volatile: false, cmd: 'publish', cb: callback || noop, store: this.outgoingStore, packet: sent }
    let id
    try {
      id = native.clientPublish(this._handle, sent.topic, payload, flags, 0, props)
    } catch (e) {
      const err = nativeError(e)
      if (callback) callback(err)
      else this.emit('error', err)
      return
    }
    if (!this._flushScheduled) {
      this._flushScheduled = true
      process.nextTick(this._flushWrites)
    }
    if (cbStorePut) {
      if (this._persist) this._persist.whenDurable(cbStorePut)
      else cbStorePut()
    }
    if (tracing.publishChannel.hasSubscribers) tracing.onPublish(this, sent.topic, payload, flags, id)
    if (id) this._numbered(entry, id, true)
    else this._unnumbered.push(entry)
  }

  /** A publish handed over without an identifier has one: it is tracked (and stored) under it. */
  _numbered (entry, id, written) {
    this._lastId = id
    this.outgoing[id] = entry
    // Written now (or, from a NUMBERED record, in the loop turn that delivered it).
    this._statistics.probe(id)
    if (entry.replaying) {
      // Sent after CONNACK: 'connect' waits for its ack.
      entry.replaying = false
      const replay = this._replay
      if (replay && replay.unnumbered) {
        replay.unnumbered--
        replay.ids.add(id)
      }
    }
    if (entry.restored) return
    entry.packet.messageId = id
    entry.store.put(entry.packet, noop)
    if (this._wantsPacketSend()) {
      if (written) this.emit('packetsend', entry.packet)
      else this._writeLater.set(id, entry.packet)
    }
  }

  _onNumbered (id) {
    const entry = this._unnumbered.shift()
    if (entry) this._numbered(entry, id, false)
  }

  /** Sends the QoS 1/2 publishes made offline that are still waiting, oldest first. */
  _sendUnsent () {
    const unsent = this._unsent
    this._unsent = new Map()
    for (const send of unsent.values()) send()
  }

  /**
   * Hands one publish to the native session; reports a synchronous failure to `callback`.
   * `packet` may be null for a QoS 0 publish nobody observes; `message` is then the original
   * message, for the packet built if it must be queued after all.
   */
  _sendPublish (topic, payload, flags, messageId, properties, packet, callback, message) {
    let written
    try {
      written = native.clientPublish(this._handle, topic, payload, flags, messageId, properties)
      if (!this._flushScheduled) {
        this._flushScheduled = true
        schedulePublishFlush(this)
      }
    } catch (e) {
      const { code, message } = splitNativeError(e)
      if (code === 'NOT_CONNECTED' && (flags & 3) === 0) {
        // The connection dropped under us; MQTT.js would have queued this publish.
        if (!packet) packet = { cmd: 'publish', topic, payload: message, qos: 0, retain: (flags & 4) !== 0, messageId: 0, dup: (flags & 8) !== 0 }
        this._queueOrFail(packet, callback, payload, flags, properties)
        return false
      }
      const err = codedError(message, nativeCode(code, message))
      const cb = callback || (messageId && this.outgoing[messageId] && this.outgoing[messageId].cb)
      this._callbackOrError(cb, err)
      return false
    }
    if (messageId && written !== false) this._statistics.probe(messageId)
    if (tracing.publishChannel.hasSubscribers) tracing.onPublish(this, topic, payload, flags, messageId)
    if (packet && this._wantsPacketSend()) {
      // Beyond the flow-control window the session writes it later, and reports it then.
      if (written === 0) this._writeLater.set(messageId, packet)
      else this.emit('packetsend', packet)
    }
    return true
  }

  _queueOrFail (packet, callback, payload, flags, properties) {
    if (!this.queueQoSZero) {
      if (callback) callback(codedError('No connection to broker', 'ERR_MQTT_NOT_CONNECTED'))
      return
    }
    if (this._queueFull(callback)) return
    const restored = withoutTopicAlias(packet, properties, this)
    if (restored instanceof Error) {
      if (callback) callback(restored)
      return
    }
    ;[packet, properties] = restored
    this.queue.push({ packet, cb: callback, send: () => this._sendPublish(packet.topic, payload, flags, 0, properties, packet, callback) })
  }

  /**
   * Our opt-in `queueLimit`: the offline queue holds at most that many entries; a call that
   * would add one more fails with ERR_MQTT_QUEUE_FULL (to its callback, or as an 'error'),
   * so nothing is dropped without a word. Unbounded by default, as in MQTT.js.
   */
  _queueFull (callback) {
    const limit = this.options.queueLimit
    if (limit === undefined || limit === null || this.queue.length < limit) return false
    const err = codedError(`The offline queue is full (queueLimit ${limit}): the message was not queued`, 'ERR_MQTT_QUEUE_FULL')
    this._callbackOrError(callback, err)
    return true
  }

  publishAsync (topic, message, opts) {
    return new Promise((resolve, reject) => {
      this.publish(topic, message, opts, (err, packet) => (err ? reject(err) : resolve(packet)))
    })
  }

  _nextId () {
    if (this._sessionIds) {
      // Subscribes and unsubscribes take ids from the session's counter, which knows the ids
      // its publishes hold.
      const id = native.clientNextMessageId(this._handle)
      if (id !== null && id !== undefined) this._lastId = id
      return id ?? null
    }
    return this.messageIdProvider.allocate()
  }

  /** Frees a message id and lets one call that waited for an id run. */
  _releaseId (messageId) {
    this.messageIdProvider.deallocate(messageId)
    const waiter = this._idWaiters.shift()
    if (waiter) waiter()
  }

  getLastMessageId () {
    if (this._sessionIds) return this._lastId
    return this.messageIdProvider.getLastAllocated()
  }

  /**
   * mqtt-native: what this client has done and holds, as a plain object (lib/statistics.js,
   * README "Watching it in production"): one N-API call and a few numbers.
   */
  getStatistics () {
    return this._statistics.snapshot()
  }

  _dropOutgoing (messageId) {
    if (messageId === this._statistics.probeId) this._statistics.probeId = 0 // no ack will come to time
    delete this.outgoing[messageId]
    this._unsent.delete(messageId)
    this._writeLater.delete(messageId)
    this.outgoingStore.del({ messageId }, noop)
    this._releaseId(messageId)
    this._replayed(messageId)
  }

  removeOutgoingMessage (messageId) {
    const entry = this.outgoing[messageId]
    if (entry) {
      native.clientRemoveOutgoing(this._handle, messageId)
      this._dropOutgoing(messageId)
      entry.cb(codedError('Message removed', 'ERR_MQTT_MESSAGE_REMOVED'))
    }
    return this
  }

  // ---------------------------------------------------------------------------------------------
  // Subscribing

  subscribe (topicObject, opts, callback) {
    if (tracing.tracesSubscribe(opts, callback)) return tracing.traceSubscribe(this, topicObject, opts, callback)
    if (this._replay) {
      this._deferred.push(() => this.subscribe(topicObject, opts, callback))
      return this
    }
    const version = this.options.protocolVersion
    if (typeof opts === 'function') {
      callback = opts
      opts = null
    }
    callback = callback || noop
    let resubscribe = false
    let topicsList = []
    if (typeof topicObject === 'string') {
      topicObject = [topicObject]
      topicsList = topicObject
    } else if (Array.isArray(topicObject)) {
      topicsList = topicObject
    } else if (typeof topicObject === 'object' && topicObject !== null) {
      resubscribe = topicObject.resubscribe
      delete topicObject.resubscribe
      topicsList = Object.keys(topicObject)
    }
    const invalid = validateTopics(topicsList)
    if (invalid !== null) {
      setImmediate(callback, codedError(`Invalid topic ${invalid}`, 'ERR_MQTT_INVALID_TOPIC'))
      return this
    }
    const sharedError = sharedSubscriptionError(topicsList,
      (topic) => (Array.isArray(topicObject) ? opts : topicObject[topic]) || opts, version, this._serverProperties)
    if (sharedError) {
      setImmediate(callback, sharedError)
      return this
    }
    if (this._checkDisconnecting(callback)) return this
    const defaults = version === 5 ? { qos: 0, nl: false, rap: false, rh: 0 } : { qos: 0 }
    opts = { ...defaults, ...opts }
    const { properties } = opts
    const subs = []
    const parseSub = (topic, subOptions) => {
      subOptions = subOptions || opts
      if (typeof subOptions !== 'object' || subOptions === null) {
        throw codedError(`Subscription options for "${topic}" must be an object such as { qos: 1 }`, 'ERR_MQTT_INVALID_ARGUMENT', TypeError)
      }
      if (!Object.prototype.hasOwnProperty.call(this._resubscribeTopics, topic) ||
        this._resubscribeTopics[topic].qos < subOptions.qos || resubscribe) {
        const current = { topic, qos: subOptions.qos }
        if (version === 5) {
          current.nl = subOptions.nl
          current.rap = subOptions.rap
          current.rh = subOptions.rh
          current.properties = properties
        }
        subs.push(current)
      }
    }
    if (Array.isArray(topicObject)) topicObject.forEach((t) => parseSub(t))
    else Object.keys(topicObject).forEach((t) => parseSub(t, topicObject[t]))
    if (!subs.length) {
      callback(null, [])
      return this
    }
    const batchSize = this.options.subscribeBatchSize ?? subs.length
    const chunks = []
    for (let i = 0; i < subs.length; i += batchSize) chunks.push(subs.slice(i, i + batchSize))
    const ids = []
    for (let i = 0; i < chunks.length; i++) {
      const messageId = this._nextId()
      if (messageId === null) {
        // Not enough free ids for every packet: give back what we took and wait.
        for (const id of ids) this.messageIdProvider.deallocate(id)
        this._idWaiters.push(() => this.subscribe(topicObject, opts, callback))
        return this
      }
      ids.push(messageId)
    }
    const promises = chunks.map((chunk, i) => this._subscribeChunk(chunk, ids[i], properties))
    Promise.all(promises)
      .then((packets) => callback(null, subs, packets.at(-1)))
      .catch((err) => callback(err, subs, err.packet))
    return this
  }

  _subscribeChunk (chunk, messageId, properties) {
    const version = this.options.protocolVersion
    const packet = { cmd: 'subscribe', subscriptions: chunk, messageId }
    if (properties) packet.properties = properties
    if (this.options.resubscribe) {
      const topics = []
      for (const sub of chunk) {
        if (this.options.reconnectPeriod > 0) {
          const remembered = { qos: sub.qos }
          if (version === 5) {
            remembered.nl = sub.nl || false
            remembered.rap = sub.rap || false
            remembered.rh = sub.rh || 0
            remembered.properties = sub.properties
          }
          this._resubscribeTopics[sub.topic] = remembered
          topics.push(sub.topic)
        }
      }
      this.messageIdToTopic[messageId] = topics
    }
    return new Promise((resolve, reject) => {
      this.outgoing[messageId] = {
        volatile: true,
        cmd: 'subscribe',
        cb: (err, suback) => {
          if (err) {
            // MQTT.js loses the reason code here; keep it (COMPATIBILITY.md).
            const wrapped = new ErrorWithSubackPacket(err.message, suback)
            if (err.code !== undefined) wrapped.code = err.code
            reject(wrapped)
            return
          }
          const { granted } = suback
          if (granted.length !== chunk.length) {
            reject(new ErrorWithSubackPacket(`Protocol error: suback granted ${granted.length} reason code(s) for ${chunk.length} subscription(s)`, suback))
            native.clientEnd(this._handle, true, null)
            return
          }
          for (let i = 0; i < granted.length; i++) chunk[i].qos = granted[i]
          resolve(suback)
        }
      }
      this._sendOrQueue(packet)
    })
  }

  subscribeAsync (topicObject, opts) {
    return new Promise((resolve, reject) => {
      this.subscribe(topicObject, opts, (err, granted) => (err ? reject(err) : resolve(granted)))
    })
  }

  unsubscribe (topic, opts, callback) {
    if (this._replay) {
      this._deferred.push(() => this.unsubscribe(topic, opts, callback))
      return this
    }
    if (typeof topic === 'string') topic = [topic]
    if (typeof opts === 'function') {
      callback = opts
      opts = null
    }
    callback = callback || noop
    const invalid = validateTopics(topic)
    if (invalid !== null) {
      setImmediate(callback, codedError(`Invalid topic ${invalid}`, 'ERR_MQTT_INVALID_TOPIC'))
      return this
    }
    const sharedError = sharedSubscriptionError(topic, null)
    if (sharedError) {
      setImmediate(callback, sharedError)
      return this
    }
    if (this._checkDisconnecting(callback)) return this
    const messageId = this._nextId()
    if (messageId === null) {
      this._idWaiters.push(() => this.unsubscribe(topic, opts, callback))
      return this
    }
    const packet = { cmd: 'unsubscribe', messageId, unsubscriptions: [] }
    if (typeof topic === 'string') packet.unsubscriptions = [topic]
    else if (Array.isArray(topic)) packet.unsubscriptions = topic
    if (this.options.resubscribe) {
      for (const t of packet.unsubscriptions) delete this._resubscribeTopics[t]
    }
    if (opts && typeof opts === 'object' && opts.properties) packet.properties = opts.properties
    this.outgoing[messageId] = { volatile: true, cmd: 'unsubscribe', cb: callback }
    this._sendOrQueue(packet)
    return this
  }

  unsubscribeAsync (topic, opts) {
    return new Promise((resolve, reject) => {
      this.unsubscribe(topic, opts, (err, packet) => (err ? reject(err) : resolve(packet)))
    })
  }

  /** Sends a SUBSCRIBE/UNSUBSCRIBE now, or queues it for the next connection (MQTT.js §7.1). */
  _sendOrQueue (packet) {
    if (!this.connected) {
      const entry = this.outgoing[packet.messageId]
      if (this._queueFull(entry && entry.cb)) {
        delete this.outgoing[packet.messageId]
        this._releaseId(packet.messageId)
        return
      }
      this.queue.push({ packet, send: () => this._sendRequest(packet) })
      return
    }
    this._sendRequest(packet)
  }

  _sendRequest (packet) {
    const fn = packet.cmd === 'subscribe' ? native.clientSubscribe : native.clientUnsubscribe
    flushPublishes()
    try {
      fn(this._handle, fromMqttPacket(packet, this.options.protocolVersion))
    } catch (e) {
      const { code, message } = splitNativeError(e)
      if (code === 'NOT_CONNECTED') {
        this.queue.push({ packet, send: () => this._sendRequest(packet) })
        return
      }
      const entry = this.outgoing[packet.messageId]
      delete this.outgoing[packet.messageId]
      this._releaseId(packet.messageId)
      if (entry) entry.cb(codedError(message, nativeCode(code, message)))
      return
    }
    this._statistics.probe(packet.messageId)
    if (this._wantsPacketSend()) this.emit('packetsend', packet)
  }

  // ---------------------------------------------------------------------------------------------
  // Ending

  end (force, opts, cb) {
    if (force == null || typeof force !== 'boolean') {
      cb = cb || opts
      opts = force
      force = false
    }
    if (typeof opts !== 'object') {
      cb = cb || opts
      opts = null
    }
    cb = cb || noop
    if (this.disconnecting) {
      cb()
      return this
    }
    this._clearReconnect()
    this.disconnecting = true
    this._statistics.onTransition()
    const finish = () => this._closeConnection(force, opts, cb)
    if (!force && this.connected && (Object.keys(this.outgoing).length > 0 || this._unnumbered.length > 0)) {
      // Let in-flight publishes, subscribes and unsubscribes complete first (MQTT.js waits for
      // 'outgoingEmpty'); offline, end() completes at once (COMPATIBILITY.md).
      const onEmpty = () => {
        this._endPending = null
        setTimeout(finish, 10)
      }
      // If the connection is lost first, end() goes ahead offline (see _onClose).
      this._endPending = () => {
        this.removeListener('outgoingEmpty', onEmpty)
        finish()
      }
      this.once('outgoingEmpty', onEmpty)
    } else {
      finish()
    }
    return this
  }

  endAsync (force, opts) {
    return new Promise((resolve, reject) => {
      this.end(force, opts, (err) => (err ? reject(err) : resolve()))
    })
  }

  _closeConnection (force, opts, cb) {
    this._endWaiters.push(cb)
    clearTimeout(this.connackTimer)
    // MQTT.js's _cleanUp drops the keepalive manager as soon as end() goes ahead.
    this._destroyKeepaliveManager()
    let disconnect = null
    if (!force && this.connected) {
      disconnect = { cmd: 'disconnect', ...opts }
      if (this._wantsPacketSend()) this.emit('packetsend', disconnect)
      disconnect = fromMqttPacket(disconnect, this.options.protocolVersion)
    }
    if (force && this.options.reconnectPeriod === 0 && this.options.clean) this._flush()
    const open = native.clientEnd(this._handle, !!force, disconnect)
    // The rest of the batch being delivered, if any, is abandoned (see _dispatchAbandoned).
    if (force && open) this._abandoned = true
    if (!open || !this._connectionOpen) {
      process.nextTick(() => this._finishEnd())
    }
  }

  _finishEnd () {
    if (!this._endWaiters.length) return
    this.disconnected = true
    if (this._persist) this._persist = this._persist.close()
    const waiters = this._endWaiters
    this._endWaiters = []
    // As MQTT.js: close the incoming store, then the outgoing one, then 'end' (without
    // arguments) and the callbacks with the first store error, or what the stores passed.
    closeStore(this.incomingStore, (e1) => {
      closeStore(this.outgoingStore, (e2) => {
        this.emit('end')
        const err = e1 || e2
        for (const cb of waiters) cb(err)
      })
    })
    if (this.options.reconnectPeriod === 0 || this.options.manualConnect) this.disconnecting = false
    if (this._pendingReconnect) {
      const run = this._pendingReconnect
      this._pendingReconnect = null
      run()
    }
  }

  reconnect (opts) {
    const run = () => {
      // MQTT.js writes the stores given (or none) into the options.
      this.options.outgoingStore = opts ? opts.outgoingStore : null
      this.options.incomingStore = opts ? opts.incomingStore : null
      this._updateAppAcks()
      this.outgoingStore = (opts && opts.outgoingStore) || new Store()
      this.incomingStore = (opts && opts.incomingStore) || new Store()
      this.disconnecting = false
      this.disconnected = false
      this._reconnect()
    }
    if (this.disconnecting && !this.disconnected) this._pendingReconnect = run
    else run()
    return this
  }

  _reconnect () {
    this.log('reconnect :: attempt %d', this._reconnectCount)
    this._statistics.reconnects++
    this.emit('reconnect')
    if (this.connected) {
      this.end(() => this.connect())
    } else {
      this.connect()
    }
  }

  _checkDisconnecting (callback) {
    if (this.disconnecting) this._callbackOrError(callback, codedError('client disconnecting', 'ERR_MQTT_CLIENT_DISCONNECTING'))
    return this.disconnecting
  }

  /**
   * Hands `err` to the application's callback, or emits it as 'error' when there is none. A
   * traced call's stand-in callback (lib/tracing.js) hears it either way and calls nothing.
   */
  _callbackOrError (callback, err) {
    if (callback) callback(err)
    if (!callback || callback === noop || tracing.isSilent(callback)) this.emit('error', err)
  }

  _clearReconnect () {
    if (this.reconnectTimer) {
      clearTimeout(this.reconnectTimer)
      this.reconnectTimer = null
    }
  }

  _setupReconnect () {
    if (!this.disconnecting && !this.reconnectTimer && this.options.reconnectPeriod > 0) {
      if (!this.reconnecting) {
        this.emit('offline')
        this.reconnecting = true
      }
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = null
        if (!this.connected && !this.disconnecting) this._reconnect()
      }, this._reconnectDelay())
      this._failedAttempts++
    }
  }

  /**
   * The wait before the next attempt: MQTT.js's fixed `reconnectPeriod`, or with our opt-in
   * `reconnectBackoff` an exponential delay with jitter, capped, reset by a successful CONNACK.
   */
  _reconnectDelay () {
    const period = this.options.reconnectPeriod
    const backoff = this.options.reconnectBackoff
    let delay
    if (this._servers.redirectNow()) {
      delay = 0
    } else if (!backoff) {
      delay = period
    } else {
      const { initialDelay = period, maxDelay = 30000, factor = 2, jitter = 0.5 } = backoff === true ? {} : backoff
      delay = Math.min(maxDelay, initialDelay * Math.pow(factor, this._failedAttempts))
      delay = Math.max(0, Math.round(delay * (1 - jitter * Math.random())))
    }
    // Our opt-in `reconnectJitter`: the first attempt after a lost connection waits a random
    // extra 0 to reconnectJitter ms, so that the clients of a failed node do not all come back
    // at the same instant. Later attempts keep the offset, one period apart.
    const spread = this.options.reconnectJitter
    if (spread > 0 && this._failedAttempts === 0) delay += Math.round(Math.random() * spread)
    return delay
  }

  /**
   * MQTT 5 server redirection (§4.11): a CONNACK or DISCONNECT with reason 0x9C (Use another
   * server) or 0x9D (Server moved). With a Server Reference (§3.2.2.3.16, §3.14.2.2.5) the next
   * attempts go to the referenced servers, then back to the configured ones if none answers;
   * without one, a client with several `servers` moves on to the next. Returns null when
   * `packet` is no redirection, else `{ follow, reference, text }`, `text` being what the
   * error message adds.
   */
  _redirect (packet) {
    const opts = this.options
    const rc = packet.reasonCode
    if (opts.protocolVersion !== 5 || (rc !== USE_ANOTHER_SERVER && rc !== SERVER_MOVED)) return null
    const reference = packet.properties ? packet.properties.serverReference : undefined
    const off = opts.serverRedirection === false ? 'serverRedirection is false'
      : !(opts.reconnectPeriod > 0) ? 'reconnectPeriod is 0'
        : opts.unixSocket ? 'the client uses a unix socket' : null
    if (reference === undefined) {
      const rotation = this._servers.rotation
      const follow = !off && !!rotation && rotation.length > 1
      return { follow, reference, text: follow ? ' (no Server Reference: the next attempt goes to the next of `servers`)' : '' }
    }
    if (off) {
      this.log('redirect :: not following server reference %s: %s', reference, off)
      return { follow: false, reference, text: ` (Server Reference "${reference}" not followed: ${off})` }
    }
    const current = this._servers.current
    const port = current ? current.port : Number(opts.port)
    const { servers, rejected } = this._servers.redirect(rc, reference, opts.protocol, port)
    const skipped = rejected.length ? `; ignored ${rejected.join(', ')}` : ''
    if (servers.length === 0) {
      this.log('redirect :: unusable server reference %s', reference)
      return { follow: false, reference, text: ` (Server Reference "${reference}" not followed: no usable server${skipped})` }
    }
    const targets = servers.map((s) => (s.host.includes(':') ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`)).join(', ')
    this.log('redirect :: reason %d, server reference %s: next attempt to %s', rc, reference, targets)
    const kind = rc === SERVER_MOVED ? 'moved: it replaces this server once it answers' : 'for the next connection only'
    return { follow: true, reference, text: ` (Server Reference "${reference}": the next attempt goes to ${targets}, ${kind}${skipped})` }
  }

  /**
   * A DISCONNECT from the broker: the 'disconnect' event, as in MQTT.js, and for a redirection
   * an 'error' naming the reference (only when the application listens to 'error': MQTT.js
   * emits none here, and an unheard 'error' would throw).
   */
  _onDisconnect (packet) {
    this.emit('disconnect', packet)
    const redirect = this._redirect(packet)
    if (redirect && this.listenerCount('error') > 0) {
      const rc = packet.reasonCode
      const err = new ErrorWithReasonCode(`Disconnected by the broker: ${ReasonCodes[rc]}${redirect.text}`, rc)
      if (redirect.reference !== undefined) err.serverReference = redirect.reference
      this.emit('error', err)
    }
  }

  /**
   * Whether the last failure is one that retrying cannot heal (a certificate, a wrong port or
   * scheme, HTTP 4xx on the WebSocket upgrade) and the application asked not to retry those.
   */
  _stopRetrying () {
    return this.options.reconnectOnUnhealableError === false && this._lastError && this._lastError.retryable === false
  }

  /** Fails every pending callback with 'Connection closed' (MQTT.js `_flush`). */
  _flush () {
    const outgoing = this.outgoing
    this.outgoing = {}
    const unnumbered = this._unnumbered
    this._unnumbered = []
    this._unsent = new Map()
    this._writeLater.clear()
    native.clientClearOutgoing(this._handle)
    for (const id of Object.keys(outgoing)) {
      this.outgoingStore.del({ messageId: Number(id) }, noop)
      outgoing[id].cb(codedError('Connection closed', 'ERR_MQTT_CONNECTION_CLOSED'))
    }
    for (const entry of unnumbered) entry.cb(codedError('Connection closed', 'ERR_MQTT_CONNECTION_CLOSED'))
  }

  /** Fails pending subscribe/unsubscribe callbacks on close (MQTT.js `_flushVolatile`). */
  _flushVolatile () {
    for (const id of Object.keys(this.outgoing)) {
      const entry = this.outgoing[id]
      if (entry.volatile) {
        delete this.outgoing[id]
        entry.cb(codedError('Connection closed', 'ERR_MQTT_CONNECTION_CLOSED'))
      }
    }
  }

  handleMessage (packet, callback) {
    callback()
  }

  // ---------------------------------------------------------------------------------------------
  // Keepalive (MQTT.js's timers in lib/keepalive.js; the session writes PINGREQ and closes)

  _destroyKeepaliveManager () {
    if (this.keepaliveManager) {
      this.keepaliveManager.destroy()
      this.keepaliveManager = null
    }
  }

  /**
   * Sends a PINGREQ now (MQTT.js `sendPing()`). The session writes it, and reports it to
   * `packetsend` as it reports its own PINGREQs.
   */
  sendPing () {
    try {
      flushPublishes()
      native.clientSendPing(this._handle)
    } catch (e) {
      // MQTT.js writes to a closed stream without a word; there is nothing to ping.
      this.log('sendPing :: %s', splitNativeError(e).message)
    }
  }

  /** Restarts the keepalive countdown, with `reschedulePings` or when forced (MQTT.js). */
  reschedulePing (force = false) {
    if (this.keepaliveManager && this.keepalive && (force || this.options.reschedulePings)) {
      this._reschedulePing()
    }
  }

  /** Received packets restarted the keepalive countdown: a PINGRESP (`pingresp`), `acks` acks. */
  _onKeepaliveRestarts (pingresp, acks) {
    for (let i = 0; i < acks; i++) this.reschedulePing(false)
    if (pingresp) this.reschedulePing(true)
  }

  /** The restart itself (MQTT.js's name; tests spy on it). */
  _reschedulePing () {
    this.keepaliveManager.reschedule()
  }

  /**
   * The broker stayed silent for one and a half keepalive intervals (MQTT.js
   * `onKeepaliveTimeout()`). The session reports 'Keepalive timeout' and closes on the next
   * loop turn, as its own countdown did, so the error, statistics and reconnect are unchanged.
   */
  onKeepaliveTimeout () {
    this.log('onKeepaliveTimeout :: giving up on the broker')
    native.clientKeepaliveTimeout(this._handle)
  }

  // ---------------------------------------------------------------------------------------------
  // Events from the native driver

  _onBatch (blob, records, extras) {
    this._reader.push(blob, records, extras)
  }

  /**
   * The application is done with a message: reports the ack to `packetsend` listeners (in
   * MQTT.js's order, right after the message) and, unless the session sent it already, queues
   * it; queued acks go out together at the end of the batch.
   */
  _ack (kind, messageId, reasonCode, acked) {
    if (this._wantsPacketSend()) {
      const packet = { cmd: APP_ACK_CMDS[kind], messageId }
      if (kind === ACK_PUBACK || reasonCode) packet.reasonCode = reasonCode
      this.emit('packetsend', packet)
    }
    if (acked) return
    this._acks.push(kind, messageId, reasonCode)
    if (!this._reader.draining) this._flushAcks()
  }

  /**
   * Whether acks wait for the application: `customHandleAcks`, a `handleMessage` or an incoming
   * store of its own, or `packetsend`/`packetreceive` listeners (which must see the PUBLISH
   * before its PUBACK/PUBREC is written, as in MQTT.js).
   */
  _wantsAppAcks () {
    return this.handleMessage !== MqttClient.prototype.handleMessage || !!this.options.incomingStore || this._packetListeners > 0 ||
      (this.options.protocolVersion === 5 && typeof this.options.customHandleAcks === 'function')
  }

  _updateAppAcks () {
    const on = this._wantsAppAcks()
    if (on !== this._appAcks) {
      this._appAcks = on
      native.clientSetAppAcks(this._handle, on)
    }
  }

  _flushAcks () {
    if (this._acks.length === 0) return
    const acks = Uint32Array.from(this._acks)
    this._acks.length = 0
    flushPublishes()
    native.clientAck(this._handle, acks)
  }

  /**
   * Runs `handleMessage(packet, done)`; `then(err)` follows when it calls back. Dispatching waits
   * meanwhile (see `BatchReader`).
   */
  _handleMessage (packet, then) {
    let sync = true
    let finished = false
    this.handleMessage(packet, (err) => {
      if (finished) return
      finished = true
      then(err)
      if (!sync) {
        native.clientSetReading(this._handle, true)
        this._reader.unblock()
      }
    })
    sync = false
    if (!finished) {
      this._reader.block()
      native.clientSetReading(this._handle, false)
    }
  }

  _dispatch (blob, rec, extras, r) {
    const extra = record.extra(rec, extras, r)
    const kind = record.kind(rec, r)
    if (this._abandoned && kind !== KIND.CLOSE && kind !== KIND.ERROR) return this._dispatchAbandoned(blob, rec, extra, r, kind)
    switch (kind) {
      case KIND.MESSAGE: return this._onMessage(blob, rec, r, extra)
      case KIND.CONNACK: return this._onConnack(this._packet(extra, record.length(rec, r)))
      case KIND.ACK: return this._onAck(rec, r, extra)
      case KIND.PACKET_RECEIVE: return this.emit('packetreceive', this._packet(extra, record.length(rec, r)))
      case KIND.PACKET_SEND: {
        // Packets the client writes itself (CONNECT, PUBLISH, SUBSCRIBE, …) are reported by the
        // shim synchronously, as MQTT.js does; the driver reports the ones it writes on its own.
        const cmd = extra.cmd
        if (cmd === 'publish' && this._writeLater.size && this._writeLater.has(extra.messageId)) {
          // A publish that waited for the flow-control window: the application's packet object.
          const packet = this._writeLater.get(extra.messageId)
          this._writeLater.delete(extra.messageId)
          if (!extra.dup) return this.emit('packetsend', packet)
        }
        if (cmd === 'puback' || cmd === 'pubrec' || cmd === 'pubrel' || cmd === 'pubcomp' || cmd === 'pingreq' || cmd === 'auth' ||
          (cmd === 'publish' && extra.dup)) {
          return this.emit('packetsend', this._packet(extra, record.length(rec, r)))
        }
        return
      }
      case KIND.DISCONNECT: {
        const packet = this._packet(extra, record.length(rec, r))
        this._onDisconnect(packet)
        return this._takeover.onDisconnect(packet)
      }
      case KIND.AUTH: return this._onAuth(this._packet(extra, record.length(rec, r)))
      case KIND.ERROR: return this._onError(extra)
      case KIND.CLOSE: return this._onClose()
      case KIND.RELEASED: return this._onReleased(record.messageId(rec, r))
      case KIND.NUMBERED: return this._onNumbered(record.messageId(rec, r))
      // One per batch at most: `a` is set when a PINGRESP was among the restarts, `b` counts
      // the acks. MQTT.js reschedules once per packet; so do we (the manager makes repeats
      // within one millisecond cheap).
      case KIND.KEEPALIVE: return this._onKeepaliveRestarts(record.ackCode(rec, r) !== 0, record.messageId(rec, r))
    }
  }

  /**
   * What is left of a batch after `end(true)`: MQTT.js destroys its socket and its resends
   * stop there (it resends one stored publish at a time), so callbacks that only our
   * all-at-once resend could have earned are not called; the acks still complete the messages
   * (the broker has them: they are not resent). Messages are delivered (their acks may have
   * been sent, and MQTT.js delivers what it had parsed); nothing else is.
   */
  _dispatchAbandoned (blob, rec, extra, r, kind) {
    if (kind === KIND.MESSAGE) return this._onMessage(blob, rec, r, extra)
    if (kind !== KIND.ACK) return
    const entry = this.outgoing[record.messageId(rec, r)]
    if (!entry) return
    // A subscribe or unsubscribe stays pending: the close fails it with 'Connection closed',
    // as MQTT.js's _flushVolatile does.
    if (entry.volatile) return
    // A completion (PUBACK, PUBCOMP, a refusing PUBREC) does not call back; a PUBREC that
    // moves a QoS 2 exchange on keeps its callback for the PUBCOMP of a later connection.
    if (record.ackCode(rec, r) !== ACK.PUBREC_RECEIVED) entry.cb = noop
    this._onAck(rec, r, extra)
  }

  _packet (neutral, length) {
    return toMqttPacket(neutral, this.options.protocolVersion, length)
  }

  /**
   * The message's topic. The native side writes a topic once per batch run and points the
   * following messages on it at the same bytes, so the string made for it serves them all.
   */
  _topicOf (blob, rec, r) {
    const at = record.topicOffset(rec, r)
    if (blob === this._topicBlob && at === this._topicAt) return this._topic
    this._topicBlob = blob
    this._topicAt = at
    this._topic = record.topic(blob, rec, r)
    return this._topic
  }

  _onMessage (blob, rec, r, properties) {
    const qos = record.qos(rec, r)
    const owed = record.owed(rec, r)
    const acked = record.acked(rec, r)
    const topic = this._topicOf(blob, rec, r)
    const payload = record.payload(blob, rec, r)
    const packet = {
      cmd: 'publish',
      retain: record.retain(rec, r),
      qos,
      dup: record.dup(rec, r),
      length: record.length(rec, r),
      // As MQTT.js: the packet keeps the wire's empty topic; the event gets the full one.
      topic: record.topicFromAlias(rec, r) ? '' : topic,
      payload
    }
    const messageId = record.messageId(rec, r)
    if (qos > 0) {
      packet.messageId = messageId
      if (messageId === 0) this._warnPacketIdZero()
    }
    if (properties) packet.properties = toMqttPacket({ cmd: 'publish', topic, payload, qos, messageId: 0, properties }, 5, 0).properties
    if (owed !== ACK_PUBREC && tracing.messageChannel.hasSubscribers) tracing.onMessage(this, topic, payload, packet)
    switch (owed) {
      case ACK_NONE: // QoS 0 (research §5.1)
        this.emit('message', topic, payload, packet)
        this._handleMessage(packet, noop)
        return
      case ACK_PUBACK: // QoS 1: 'message', handleMessage, then PUBACK
        this._customAck(topic, payload, packet, 'puback', (code) => {
          if (!code) this.emit('message', topic, payload, packet)
          this._handleMessage(packet, (err) => {
            if (!err) this._ack(ACK_PUBACK, messageId, code, acked)
          })
        })
        return
      case ACK_PUBREC: // QoS 2 PUBLISH: into the incoming store, PUBREC, the message on PUBREL
        this._customAck(topic, payload, packet, 'pubrec', (code) => {
          if (code) return this._ack(ACK_PUBREC, messageId, code, acked)
          this.incomingStore.put(packet, () => this._ack(ACK_PUBREC, messageId, code, acked))
        })
        return
      case ACK_PUBCOMP: // QoS 2 released by PUBREL: 'message', handleMessage, then PUBCOMP
        this._release(packet, acked)
    }
  }

  /** Delivers a QoS 2 message released by PUBREL, then completes it with PUBCOMP. */
  _release (packet, acked) {
    this.emit('message', packet.topic, packet.payload, packet)
    this._handleMessage(packet, (err) => {
      if (err) return
      this.incomingStore.del({ messageId: packet.messageId }, noop)
      this._ack(ACK_PUBCOMP, packet.messageId, 0, acked)
    })
  }

  /** PUBREL for a message the session does not hold: it may be in the application's store. */
  _onReleased (messageId) {
    this.incomingStore.get({ messageId }, (err, stored) => {
      if (err || !stored) return this._ack(ACK_PUBCOMP, messageId, 0, false)
      this._release(stored, false)
    })
  }

  /**
   * MQTT 5 `customHandleAcks(topic, payload, packet, done(errOrCode, code))` chooses the reason
   * code of PUBACK/PUBREC; without it (or before MQTT 5) the code is 0.
   */
  _customAck (topic, payload, packet, ackName, then) {
    const handler = this.options.customHandleAcks
    if (this.options.protocolVersion !== 5 || typeof handler !== 'function') return then(0)
    handler(topic, payload, packet, (error, code) => {
      if (!(error instanceof Error)) {
        code = error
        error = null
      }
      if (error) {
        this.emit('error', error)
        return
      }
      if (!VALID_ACK_CODES.includes(code)) {
        this.emit('error', codedError(`Wrong reason code for ${ackName}`, 'ERR_MQTT_WRONG_REASON_CODE'))
        return
      }
      then(code)
    })
  }

  _onConnack (packet) {
    clearTimeout(this.connackTimer)
    this._connack = packet
    this._offlineAliases.clear()
    if (tracing.connectChannel.hasSubscribers) tracing.onConnect(this, packet)
    if (this.options.protocolVersion === 5) this._serverProperties = packet.properties || {}
    const rc = this.options.protocolVersion === 5 ? packet.reasonCode : packet.returnCode
    this.log('connack :: return code %d, session present %s', rc, packet.sessionPresent)
    if (rc !== 0) {
      // MQTT.js 5.16: a refused CONNACK closes the connection and is not retried unless
      // reconnectOnConnackError is set; a redirection (MQTT 5 §4.11) is followed.
      const redirect = this._redirect(packet)
      this._connackRefused = !this.options.reconnectOnConnackError && !(redirect && redirect.follow)
      const err = new ErrorWithReasonCode(`Connection refused: ${ReasonCodes[rc]}${redirect ? redirect.text : ''}`, rc)
      if (redirect && redirect.reference !== undefined) err.serverReference = redirect.reference
      this._statistics.onError(err)
      this.emit('error', err)
      return
    }
    this._servers.connected()
    this.connected = true
    this._statistics.onConnected()
    if (!this.keepaliveManager && this.keepalive) this.keepaliveManager = new KeepaliveManager(this, this.options.timerVariant)
    this.reconnecting = false
    this._failedAttempts = 0
    this._lastError = null
    this._takeover.onConnack()
    this._clearReconnect()
    this.messageIdProvider.clear()
    if (this._resendHeld) {
      // Subscriptions first, then the resent publishes: a broker that kept no session routes a
      // publish only to the subscriptions that exist when it arrives, so a client subscribed to
      // its own topic would lose them (MQTT.js 5.16 resends first; COMPATIBILITY.md).
      this._resendHeld = false
      this._resubscribedEarly = this._resubscribe(packet)
      native.clientHoldResend(this._handle, false)
    }
    // The session resends what was in flight as soon as CONNACK arrives. Like MQTT.js, 'connect'
    // (and the offline queue behind it) waits until those messages are acknowledged; calls made
    // meanwhile are deferred until then.
    const replaying = Object.keys(this.outgoing).filter((id) => !this.outgoing[id].volatile).map(Number)
    if (this.options.outgoingStore) {
      // `known`: what this client had in flight at CONNACK; the session resends those itself,
      // so the store's copies are skipped even if their acks arrive before the store lists them.
      this._replay = { ids: new Set(replaying), connack: packet, streaming: true, known: new Set(replaying) }
      this._replayStore(this._replay)
      return
    }
    // The session has resent what was in flight; the publishes made offline follow.
    this._sendUnsent()
    // Publishes that were never sent (made offline, or left by an earlier run) go out now,
    // numbered as they go; like the store MQTT.js replays, 'connect' waits for them too.
    const unnumbered = this._unnumbered.length
    for (const entry of this._unnumbered) entry.replaying = true
    if (replaying.length || unnumbered) {
      this._replay = { ids: new Set(replaying), connack: packet, streaming: false, unnumbered }
      return
    }
    this._finishConnect(packet)
  }

  /** One of the messages resent after CONNACK is acknowledged (or removed). */
  _replayed (messageId) {
    const replay = this._replay
    if (replay && replay.ids.delete(messageId) && replay.ids.size === 0 && !replay.streaming && !replay.unnumbered && !this._abandoned) {
      this._finishConnect(replay.connack)
    }
  }

  /**
   * Hands the session what the application's outgoing store holds and the session does not
   * (messages stored by an earlier run), in the store's order.
   */
  _replayStore (replay) {
    let stream
    const finish = () => {
      if (!replay.streaming) return
      replay.streaming = false
      // Offline publishes the store did not list (it may not list what it just took).
      if (this._replay === replay) this._sendUnsent()
      if (this._replay === replay && replay.ids.size === 0) this._finishConnect(replay.connack)
    }
    try {
      stream = this.outgoingStore.createStream()
    } catch (err) {
      this.emit('error', err)
      return finish()
    }
    stream.on('data', (packet) => {
      if (this._replay !== replay || !packet || !packet.messageId) return
      const id = packet.messageId
      const unsent = this._unsent.get(id)
      if (unsent) {
        // Published offline by this client: its turn in the store's order.
        this._unsent.delete(id)
        unsent()
        return
      }
      if (replay.known.has(id) || this.outgoing[id]) return // the session holds it and has resent it
      this.messageIdProvider.register(id)
      this.outgoing[id] = { volatile: false, cmd: packet.cmd, cb: noop, store: this.outgoingStore, packet }
      replay.ids.add(id)
      if (packet.cmd === 'pubrel') {
        native.clientRestorePubrel(this._handle, id)
        return
      }
      const version = this.options.protocolVersion
      const payload = toPayload(packet.payload)
      const props = version === 5 && packet.properties ? fromMqttPacket({ cmd: 'publish', topic: packet.topic, payload, properties: packet.properties }, 5).properties : null
      const flags = (packet.qos & 3) | (packet.retain ? 4 : 0) | (packet.dup ? 8 : 0)
      if (!this._sendPublish(packet.topic, payload, flags, id, props, packet, null)) this._dropOutgoing(id)
    })
    stream.on('error', (err) => {
      this.emit('error', err)
      finish()
    })
    stream.on('end', finish)
    stream.on('close', finish)
  }

  /** Replay is over (or there was none): deferred calls, then the queue, resubscribe, 'connect'. */
  _finishConnect (packet) {
    this._replay = null
    const deferred = this._deferred
    this._deferred = []
    for (const run of deferred) run()
    // The queue first (QoS 0 publishes, subscribes, unsubscribes made offline), in order.
    const queue = this.queue
    this.queue = []
    for (const entry of queue) {
      // MQTT.js calls a queued QoS 0 publish back from the write, with one undefined argument.
      if (entry.send() !== false && entry.packet.cmd === 'publish' && entry.cb) entry.cb(undefined)
    }
    if (!this._resubscribedEarly) this._resubscribe(packet)
    this._resubscribedEarly = false
    this._firstConnection = false
    this.emit('connect', packet)
  }

  /** Subscribes again after a CONNACK without a kept session; returns whether it did. */
  _resubscribe (connack) {
    const topics = Object.keys(this._resubscribeTopics)
    if (this._firstConnection || topics.length === 0) return false
    if (!(this.options.clean || (this.options.protocolVersion >= 4 && !connack.sessionPresent))) return false
    if (!this.options.resubscribe) {
      this._resubscribeTopics = {}
      return false
    }
    if (this.options.protocolVersion === 5) {
      for (const topic of topics) {
        const remembered = this._resubscribeTopics[topic]
        const map = { [topic]: { qos: remembered.qos, nl: remembered.nl, rap: remembered.rap, rh: remembered.rh } }
        map.resubscribe = true
        this.subscribe(map, { properties: remembered.properties })
      }
    } else {
      const map = { resubscribe: true }
      for (const topic of topics) map[topic] = { qos: this._resubscribeTopics[topic].qos }
      this.subscribe(map)
    }
    return true
  }

  /**
   * A QoS 1/2 message numbered 0 breaks MQTT 3.1.1 §2.3.1 and MQTT 5 §2.2.1, but arrives intact:
   * like MQTT.js, deliver it and answer under 0 (closing would lose it, and a broker that sends
   * it again would close every connection); unlike MQTT.js, say once per client that the broker
   * is at fault.
   */
  _warnPacketIdZero () {
    if (this._packetIdZeroWarned) return
    this._packetIdZeroWarned = true
    process.emitWarning(`mqtt-native: the broker sent a QoS 1/2 message with packet identifier 0 (client ${this.options.clientId}), which MQTT 3.1.1 §2.3.1 and MQTT 5 §2.2.1 forbid; it is delivered and acknowledged under 0, as MQTT.js does.`,
      { type: 'MqttWarning', code: 'MQTT_NATIVE_PACKET_ID_ZERO' })
  }

  /**
   * A QoS 2 publish answered with PUBACK: the broker took it as QoS 1 (RabbitMQ's MQTT plugin
   * does, by design). It completes, as in MQTT.js (resending could only deliver it again), but
   * exactly-once is gone, so say so, once per client, as a process warning rather than an
   * 'error' that applications would take for a broken connection.
   */
  _warnQos2Downgraded () {
    if (this._qos2DowngradeWarned) return
    this._qos2DowngradeWarned = true
    process.emitWarning(`mqtt-native: the broker answered a QoS 2 publish with PUBACK (client ${this.options.clientId}): it handles QoS 2 as QoS 1, so messages published with QoS 2 arrive at least once, not exactly once. RabbitMQ's MQTT plugin does this by design.`,
      { type: 'MqttWarning', code: 'MQTT_NATIVE_QOS2_DOWNGRADED' })
  }

  _onAck (rec, r, extra) {
    const kind = record.ackCode(rec, r)
    const messageId = record.messageId(rec, r)
    const reasonCode = record.reasonCode(rec, r)
    if (messageId === this._statistics.probeId) this._statistics.onAck(messageId)
    const entry = this.outgoing[messageId]
    if (!entry) return
    const ackPacket = () => extra
      ? this._packet(extra, record.length(rec, r))
      : { cmd: ACK_CMDS[kind], retain: false, qos: 0, dup: false, length: record.length(rec, r), topic: null, payload: null, messageId, ...(this.options.protocolVersion === 5 ? { reasonCode } : {}) }
    switch (kind) {
      case ACK.PUBACK:
      case ACK.PUBREC: // with a failure code
      case ACK.PUBCOMP: {
        let err
        if (reasonCode && reasonCode !== 16) {
          err = new ErrorWithReasonCode(`Publish error: ${ReasonCodes[reasonCode]}`, reasonCode)
        }
        const failed = err ? ackPacket() : undefined
        if (kind === ACK.PUBACK && entry.packet && entry.packet.qos === 2) this._warnQos2Downgraded()
        delete this.outgoing[messageId]
        if (this._writeLater.size) this._writeLater.delete(messageId)
        const store = entry.store || this.outgoingStore
        store.del({ messageId }, (storeErr, stored) => {
          // MQTT.js hands the callback what the store's del() gave (null and the stored packet
          // from its Store); after PUBCOMP that is the PUBREL the store held since PUBREC.
          if (storeErr && store !== this.outgoingStore) {
            // The store was replaced (and closed) by reconnect() after the message was put in
            // it; the session resent the message and the broker has it: a success.
            storeErr = null
            stored = kind === ACK.PUBCOMP ? undefined : entry.packet
          }
          if (err) entry.cb(err, failed)
          else if (kind === ACK.PUBCOMP && !storeErr && !(stored && stored.cmd === 'pubrel')) entry.cb(storeErr, { cmd: 'pubrel', qos: 2, messageId })
          else entry.cb(storeErr, stored)
          this._releaseId(messageId)
        })
        this._replayed(messageId)
        break
      }
      case ACK.SUBACK: {
        delete this.outgoing[messageId]
        this._releaseId(messageId)
        const packet = ackPacket()
        let err = null
        for (const code of packet.granted) {
          if ((code & 0x80) !== 0) {
            // MQTT.js's numeric SUBACK reason code.
            err = codedError(`Subscribe error: ${ReasonCodes[code]}`, code)
            const topics = this.messageIdToTopic[messageId]
            if (topics) for (const t of topics) delete this._resubscribeTopics[t]
          }
        }
        delete this.messageIdToTopic[messageId]
        entry.cb(err, packet)
        break
      }
      case ACK.PUBREC_RECEIVED: { // the store keeps the PUBREL from now on (MQTT.js handlers/ack.ts)
        ;(entry.store || this.outgoingStore).put({ cmd: 'pubrel', qos: 2, messageId }, noop)
        return
      }
      case ACK.UNSUBACK: {
        delete this.outgoing[messageId]
        this._releaseId(messageId)
        entry.cb(null, ackPacket())
        break
      }
    }
    if (this.disconnecting && Object.keys(this.outgoing).length === 0 && this._unnumbered.length === 0) this.emit('outgoingEmpty')
  }

  /** An inbound AUTH (MQTT 5 enhanced authentication), checked as MQTT.js 5.16 checks it. */
  _onAuth (packet) {
    const rc = packet.reasonCode
    const method = this._authenticationMethod
    const reject = (err) => {
      this.log('handleAuth :: %s', err.message)
      native.clientEnd(this._handle, true, null)
      this.emit('error', err)
    }
    if (!method) {
      return reject(new ErrorWithReasonCode('Protocol error: Auth packet received but enhanced authentication was not requested', 130))
    }
    if (!packet.properties || packet.properties.authenticationMethod !== method) {
      return reject(new ErrorWithReasonCode(`Protocol error: Auth packet Authentication Method does not match the "${method}" sent in CONNECT`, 130))
    }
    this.handleAuth(packet, (err, reply) => {
      if (err) return reject(err)
      if (rc === 0) {
        this.log('handleAuth :: authentication exchange completed successfully')
        return
      }
      if (rc === 24) {
        if (!reply) return reject(new ErrorWithReasonCode('Protocol error: No auth packet to continue the authentication exchange', 130))
        this.reconnecting = false
        try {
          flushPublishes()
          native.clientAuth(this._handle, fromMqttPacket({ cmd: 'auth', ...reply }, 5))
        } catch (e) {
          return this.emit('error', nativeError(e))
        }
        if (this._wantsPacketSend()) this.emit('packetsend', reply)
        return
      }
      reject(new ErrorWithReasonCode(`Protocol error: Auth packet reason code ${rc} is not one a broker may send`, 130))
    })
  }

  handleAuth (packet, callback) {
    callback()
  }

  _onError (info) {
    const err = fromNative(info)
    if (info.source === 'transport') err.retryable = isRetryable(err)
    this._lastError = err
    this._statistics.onError(err)
    this._takeover.onError()
    this.log('error :: %s (%s)', err.message, err.code)
    if (info.code === 'TIMEOUT') {
      // MQTT.js 5.16 cleans up (emitting 'offline') before reporting a keepalive or CONNACK
      // timeout; `connected` stays true until the close.
      this._setupReconnectFlags()
    }
    this.emit('error', err)
  }

  /** Emits 'offline' early, as MQTT.js's cleanup does before a timeout error. */
  _setupReconnectFlags () {
    if (!this.disconnecting && this.options.reconnectPeriod > 0 && !this.reconnecting) {
      this.emit('offline')
      this.reconnecting = true
    }
  }

  _onClose () {
    clearTimeout(this.connackTimer)
    this._abandoned = false
    this.log('close :: connection closed (disconnecting %s)', this.disconnecting)
    if (tracing.closeChannel.hasSubscribers) tracing.onClose(this)
    this._statistics.onTransition()
    this._connectionOpen = false
    this.connected = false
    this._destroyKeepaliveManager()
    this._takeover.onClose()
    if (this.stream) {
      this.stream.destroyed = true
      this.stream.emit('close')
    }
    // Deferred calls wait for the next connection's replay to end.
    this._replay = null
    this._flushVolatile()
    if (this.disconnecting) {
      if (this._endPending) {
        const run = this._endPending
        this._endPending = null
        run()
      }
      this.emit('close')
      this._finishEnd()
      return
    }
    if (this._connackRefused || this._stopRetrying()) {
      this.reconnecting = false
      this.emit('close')
      return
    }
    if (this.options.reconnectPeriod > 0) {
      this._setupReconnect()
    } else if (this.options.clean) {
      this._flush()
    }
    this.emit('close')
  }
}

/**
 * Closes an application store; `then(err)` runs once, with what the store's close() passed, or
 * with the exception it threw (a store that fails must not break end()).
 */
function closeStore (store, then) {
  let called = false
  const done = (err) => {
    if (called) return
    called = true
    then(err)
  }
  try {
    if (store && typeof store.close === 'function') store.close(done)
    else done()
  } catch (err) {
    done(err)
  }
}

const EMPTY = Buffer.alloc(0)

/**
 * A publish made offline goes out on another connection, where its Topic Alias means nothing:
 * MQTT.js sends it with its topic and without the alias, an alias-only publish (empty topic)
 * getting its topic back from the last connection's aliases or an earlier offline publish's
 * (`Unregistered Topic Alias` if neither has it). Returns the packet (for packetsend) and the
 * native properties without the alias, copies only when there was one, or that Error.
 */
function withoutTopicAlias (packet, properties, client) {
  if (!properties || properties.topicAlias === undefined) return [packet, properties]
  let topic = packet.topic
  if (topic) {
    client._offlineAliases.set(properties.topicAlias, topic)
  } else {
    topic = client._offlineAliases.get(properties.topicAlias) ?? native.clientTopicOfAlias(client._handle, properties.topicAlias)
    if (typeof topic !== 'string') return codedError('Unregistered Topic Alias', 'ERR_MQTT_TOPIC_ALIAS')
  }
  const rest = { ...properties }
  delete rest.topicAlias
  const shown = { ...packet, topic }
  if (packet.properties) {
    shown.properties = { ...packet.properties }
    delete shown.properties.topicAlias
  }
  return [shown, Object.keys(rest).length ? rest : null]
}

function toPayload (message) {
  if (Buffer.isBuffer(message)) return message
  if (typeof message === 'string') return Buffer.from(message)
  if (message instanceof Uint8Array) return message
  // mqtt-packet writes `payload || empty`: MQTT.js publishes null and undefined as empty.
  if (message === null || message === undefined) return EMPTY
  throw codedError(`The "message" argument must be a string, a Buffer or a Uint8Array; received ${typeof message}`, 'ERR_MQTT_INVALID_ARGUMENT', TypeError)
}

/** Where an application's own stream leads, as far as the options say (for messages only). */
function streamBuilderEndpoint (opts) {
  const port = Number(opts.port)
  return {
    protocol: 'mqtt',
    host: String(opts.hostname || opts.host || 'localhost'),
    port: Number.isInteger(port) && port >= 0 && port <= 65535 ? port : 1883
  }
}

function clampInt (value, min, max) {
  const n = Math.floor(Number(value))
  if (!Number.isFinite(n)) return min
  return Math.min(max, Math.max(min, n))
}

/** Our `maxInflight` (README): absent, or a whole number from 1 to 65535. */
function checkMaxInflight (maxInflight) {
  if (maxInflight === undefined || maxInflight === null) return
  if (typeof maxInflight !== 'number' || !Number.isInteger(maxInflight) || maxInflight < 1 || maxInflight > 65535) {
    throw codedError(`maxInflight must be a whole number from 1 to 65535; received ${typeof maxInflight === 'string' ? `'${maxInflight}'` : maxInflight}`, 'ERR_MQTT_INVALID_OPTION', RangeError)
  }
}

function checkKeepalive (keepalive) {
  if (typeof keepalive !== 'number' || !Number.isInteger(keepalive) || keepalive < 0 || keepalive > 65535) {
    throw codedError(`keepalive must be a whole number of seconds from 0 to 65535; received ${keepalive}`, 'ERR_MQTT_INVALID_OPTION', RangeError)
  }
}

MqttClient.VERSION = VERSION

module.exports = { MqttClient, normalize, VERSION, NATIVE_VERSION }
