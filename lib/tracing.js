'use strict'
// Tracing through `diagnostics_channel`, Node's convention for libraries that APM and
// OpenTelemetry instrumentations subscribe to (undici, `net` and `http` publish there too).
//
// Named channels (any Node version):
//   mqtt-native:connect   every CONNACK: { client, clientId, protocolVersion, reasonCode, sessionPresent, packet }
//   mqtt-native:publish   a PUBLISH handed to the session: { client, clientId, topic, qos, retain, messageId, payload }
//   mqtt-native:message   a message delivered: { client, clientId, topic, qos, retain, dup, messageId, payload, packet }
//   mqtt-native:close     the connection closed: { client, clientId, wasConnected, ending, error }
// Tracing channels (Node ≥ 18.19 / 19.9, where `diagnostics_channel.tracingChannel` exists):
//   tracing:mqtt-native:publish:{start,end,asyncStart,asyncEnd,error}
//       context { client, clientId, topic, qos, retain, messageId, reasonCode, result, error }
//   tracing:mqtt-native:subscribe:{start,end,asyncStart,asyncEnd,error}
//       context { client, clientId, topic, qos, messageId, reasonCodes, reasonCode, result, error }
//   `start`/`end` around the call, `asyncStart`/`asyncEnd` around the callback once the broker
//   acknowledged (or the call failed), `error` before them on failure: the order of Node's own
//   `tracingChannel.traceCallback`.
//
// Nothing is built unless a channel has subscribers: lib/client.js checks `hasSubscribers` (a
// getter) before calling the builders here, so the cost without subscribers is that check.

const dc = require('node:diagnostics_channel')

const connectChannel = dc.channel('mqtt-native:connect')
const publishChannel = dc.channel('mqtt-native:publish')
const messageChannel = dc.channel('mqtt-native:message')
const closeChannel = dc.channel('mqtt-native:close')
/** Null where Node has no TracingChannel (before 18.19 and 19.9). */
const publishTrace = typeof dc.tracingChannel === 'function' ? dc.tracingChannel('mqtt-native:publish') : null
const subscribeTrace = typeof dc.tracingChannel === 'function' ? dc.tracingChannel('mqtt-native:subscribe') : null

/** Marks the callbacks made here, so that a call re-run later (deferred, waiting for an id) is not traced twice. */
const TRACED = Symbol('mqtt-native traced callback')
/** Marks a traced callback that stands for no callback of the application's. */
const SILENT = Symbol('mqtt-native no application callback')

/** Whether any of a tracing channel's five channels has a subscriber. */
function active (tc) {
  return tc !== null && (tc.start.hasSubscribers || tc.end.hasSubscribers || tc.asyncStart.hasSubscribers ||
    tc.asyncEnd.hasSubscribers || tc.error.hasSubscribers)
}

function isTraced (opts, callback) {
  const cb = typeof opts === 'function' ? opts : callback
  return typeof cb === 'function' && cb[TRACED] === true
}

/** Whether a `publish()` call should be traced: someone listens and it is not a re-run. */
function tracesPublish (opts, callback) {
  return active(publishTrace) && !isTraced(opts, callback)
}

function tracesSubscribe (opts, callback) {
  return active(subscribeTrace) && !isTraced(opts, callback)
}

/** Whether `cb` is a callback of the application's (not absent, not a no-op, not a stand-in). */
function isSilent (cb) {
  return typeof cb === 'function' && cb[SILENT] === true
}

/**
 * A callback that reports the completion of a traced call and then calls the application's
 * `callback` (if any): `error` on failure, then `asyncStart`, the callback, `asyncEnd`.
 * `settle(ctx, err, args)` fills the context from the callback's arguments first.
 */
function tracedCallback (tc, ctx, callback, settle) {
  const traced = function (err) {
    settle(ctx, err, arguments)
    if (err) {
      ctx.error = err
      tc.error.publish(ctx)
    }
    return tc.asyncStart.runStores(ctx, () => {
      try {
        if (callback) return callback.apply(this, arguments)
      } finally {
        tc.asyncEnd.publish(ctx)
      }
    })
  }
  traced[TRACED] = true
  if (!callback) traced[SILENT] = true
  return traced
}

/** Runs `call(callback)` between `start` and `end`, reporting a synchronous throw on `error`. */
function traceCall (tc, ctx, call, callback) {
  return tc.start.runStores(ctx, () => {
    try {
      return call(callback)
    } catch (err) {
      ctx.error = err
      tc.error.publish(ctx)
      throw err
    } finally {
      tc.end.publish(ctx)
    }
  })
}

function settlePublish (ctx, err, args) {
  const packet = args[1]
  if (packet && typeof packet === 'object') {
    if (packet.messageId) ctx.messageId = packet.messageId
    if (packet.reasonCode !== undefined && (err || packet.cmd !== 'publish')) ctx.reasonCode = packet.reasonCode
  }
  if (err && typeof err.code === 'number') ctx.reasonCode = err.code
  else if (!err && ctx.reasonCode === undefined && ctx.qos > 0) ctx.reasonCode = 0
  ctx.result = packet
}

/** `client.publish(topic, message, opts, callback)`, traced. */
function tracePublish (client, topic, message, opts, callback) {
  if (typeof opts === 'function') {
    callback = opts
    opts = null
  }
  const o = opts || {}
  const ctx = {
    client,
    clientId: client.options.clientId,
    topic,
    qos: o.qos === undefined ? 0 : o.qos,
    retain: !!o.retain,
    messageId: undefined,
    reasonCode: undefined
  }
  const traced = tracedCallback(publishTrace, ctx, callback, settlePublish)
  return traceCall(publishTrace, ctx, (cb) => {
    const result = client.publish(topic, message, opts, cb)
    if (ctx.qos > 0 && ctx.messageId === undefined) {
      // The id this call took, if it took one now (it may wait for one, or for the replay).
      const id = client.getLastMessageId()
      const entry = id ? client.outgoing[id] : undefined
      if (entry && entry.cb === cb) ctx.messageId = id
    }
    return result
  }, traced)
}

function settleSubscribe (ctx, err, args) {
  const packet = args[2]
  if (packet && typeof packet === 'object') {
    if (packet.messageId) ctx.messageId = packet.messageId
    if (Array.isArray(packet.granted)) {
      ctx.reasonCodes = packet.granted
      ctx.reasonCode = packet.granted[0]
    }
  }
  if (err && typeof err.code === 'number' && ctx.reasonCode === undefined) ctx.reasonCode = err.code
  ctx.result = args[1]
}

/** `client.subscribe(topicObject, opts, callback)`, traced. */
function traceSubscribe (client, topicObject, opts, callback) {
  if (typeof opts === 'function') {
    callback = opts
    opts = null
  }
  let topic = topicObject
  let qos = opts && opts.qos !== undefined ? opts.qos : 0
  if (topicObject && typeof topicObject === 'object' && !Array.isArray(topicObject)) {
    topic = Object.keys(topicObject).filter((k) => k !== 'resubscribe')
    if (topic.length === 1 && topicObject[topic[0]] && topicObject[topic[0]].qos !== undefined) qos = topicObject[topic[0]].qos
  }
  const ctx = {
    client,
    clientId: client.options.clientId,
    topic,
    qos,
    messageId: undefined,
    reasonCodes: undefined,
    reasonCode: undefined
  }
  const traced = tracedCallback(subscribeTrace, ctx, callback, settleSubscribe)
  return traceCall(subscribeTrace, ctx, (cb) => client.subscribe(topicObject, opts, cb), traced)
}

// Builders of the named channels' messages: called only when the channel has subscribers.

function onConnect (client, packet) {
  connectChannel.publish({
    client,
    clientId: client.options.clientId,
    protocolVersion: client.options.protocolVersion,
    reasonCode: client.options.protocolVersion === 5 ? packet.reasonCode : packet.returnCode,
    sessionPresent: !!packet.sessionPresent,
    packet
  })
}

function onPublish (client, topic, payload, flags, messageId) {
  publishChannel.publish({
    client,
    clientId: client.options.clientId,
    topic,
    qos: flags & 3,
    retain: (flags & 4) !== 0,
    messageId: messageId || undefined,
    payload
  })
}

function onMessage (client, topic, payload, packet) {
  messageChannel.publish({
    client,
    clientId: client.options.clientId,
    topic,
    qos: packet.qos,
    retain: packet.retain,
    dup: packet.dup,
    messageId: packet.messageId,
    payload,
    packet
  })
}

function onClose (client) {
  closeChannel.publish({
    client,
    clientId: client.options.clientId,
    wasConnected: client.connected,
    ending: !!client.disconnecting,
    error: client._lastError || null
  })
}

module.exports = {
  connectChannel,
  publishChannel,
  messageChannel,
  closeChannel,
  publishTrace,
  subscribeTrace,
  TRACED,
  SILENT,
  active,
  isSilent,
  tracesPublish,
  tracesSubscribe,
  tracePublish,
  traceSubscribe,
  onConnect,
  onPublish,
  onMessage,
  onClose
}
