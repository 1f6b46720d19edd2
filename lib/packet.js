'use strict'

// Packet objects at the boundary between the Rust codec and MQTT.js users.
//
// The codec hands packets to JavaScript in a "neutral" shape (the serde form of `src/codec`'s
// `Packet`: camelCase fields, tagged by `cmd`, byte strings as Buffers, absent options, empty
// lists and empty property tables omitted). MQTT.js users see and write packets in the shape of
// mqtt-packet 9.0.2. This module converts between the two:
//
// - `toMqttPacket(neutral, protocolVersion, length)` builds exactly what mqtt-packet's parser
//   builds for the same bytes: the same own keys in the same order (`cmd, retain, qos, dup,
//   length, topic, payload` first, then the fields of the packet type in the order the parser
//   assigns them), `topic`/`payload` null except on PUBLISH, `returnCode` for a v3.x CONNACK and
//   `reasonCode` for v5, no `messageId` on a QoS 0 PUBLISH, `properties` only when non-empty,
//   `userProperties` as a null-prototype `{key: value | value[]}`, `subscriptionIdentifier` a
//   number or, when repeated, an array. Property keys come out in the order the sender wrote
//   them, as the parser lists them: ascending property-id order, unless the codec reports
//   another order (`wireOrder`, the identifiers in order of first appearance).
// - `fromMqttPacket(obj, protocolVersion)` accepts what mqtt-packet's `generate()` accepts
//   (strings where Buffers are expected, missing booleans, `returnCode` or `reasonCode`, user
//   property values as arrays) and returns the neutral shape; it throws a TypeError for input
//   that is plainly wrong. Range and per-packet-type checks are left to the codec.
//
// One deliberate difference: mqtt-packet's parser loses a user property value when a repeated
// key's first value is the empty string (it tests the stored value for truthiness); here every
// value is kept, so `[['k', ''], ['k', 'v']]` becomes `{k: ['', 'v']}`, not `{k: 'v'}`.

/** @typedef {Record<string, any>} Obj */

const { codedError } = require('./errors')

// Header-derived base fields of each packet type as mqtt-packet's parser sets them from the
// fixed header: PUBREL, SUBSCRIBE and UNSUBSCRIBE have flags 0b0010, which it reads as QoS 1.
const FIXED_QOS_1 = new Set(['pubrel', 'subscribe', 'unsubscribe'])

/** A packet object (from the application or fromMqttPacket's caller) that cannot be encoded. */
function invalidPacket (message) {
  return codedError(message, 'ERR_MQTT_INVALID_PACKET', TypeError)
}

/**
 * Converts the neutral properties table into mqtt-packet's form, or returns undefined when
 * there is nothing to show.
 * @param {Obj | undefined} props
 * @returns {Obj | undefined}
 */
function propertiesToMqtt (props) {
  if (props == null) return undefined
  let out
  for (const key of propertyKeys(props)) {
    const value = props[key]
    if (value === undefined || value === null) continue
    if (key === 'userProperties') {
      if (value.length === 0) continue
      if (out === undefined) out = {}
      out.userProperties = userPropertiesToMqtt(value)
    } else if (key === 'subscriptionIdentifiers') {
      if (value.length === 0) continue
      if (out === undefined) out = {}
      out.subscriptionIdentifier = value.length === 1 ? value[0] : value.slice()
    } else {
      if (out === undefined) out = {}
      out[key] = value
    }
  }
  return out
}

/**
 * The neutral property keys of `props` in the order to list them. The codec serialises them in
 * ascending identifier order, one key per identifier present; `wireOrder` (only when the
 * packet listed them otherwise) gives the identifiers in wire order, so the key of the n-th
 * smallest identifier is the n-th key.
 * @param {Obj} props
 * @returns {string[]}
 */
function propertyKeys (props) {
  const keys = Object.keys(props)
  const order = props.wireOrder
  if (order === undefined) return keys
  keys.splice(keys.indexOf('wireOrder'), 1)
  const ascending = [...order].sort((a, b) => a - b)
  if (ascending.length !== keys.length) return keys
  return Array.from(order, (id) => keys[ascending.indexOf(id)])
}

/**
 * `[[k, v], ...]` in wire order → `{k: v}` with repeated keys collected into arrays.
 * @param {Array<[string, string]>} pairs
 */
function userPropertiesToMqtt (pairs) {
  const out = Object.create(null)
  for (let i = 0; i < pairs.length; i++) {
    const name = pairs[i][0]
    const value = pairs[i][1]
    if (!(name in out)) {
      out[name] = value
    } else if (Array.isArray(out[name])) {
      out[name].push(value)
    } else {
      out[name] = [out[name], value]
    }
  }
  return out
}

/**
 * Builds the object mqtt-packet 9.0.2's parser would emit for the packet `neutral` decoded
 * with `protocolVersion` (3, 4 or 5), whose remaining length was `length`.
 * @param {Obj} neutral
 * @param {number} protocolVersion
 * @param {number} [length]
 * @returns {Obj}
 */
function toMqttPacket (neutral, protocolVersion, length) {
  if (neutral === null || typeof neutral !== 'object') {
    throw invalidPacket('toMqttPacket: expected a packet object')
  }
  const cmd = neutral.cmd
  const v5 = protocolVersion === 5
  if (length === undefined) length = -1

  if (cmd === 'publish') {
    /** @type {Obj} */
    const p = {
      cmd,
      retain: !!neutral.retain,
      qos: neutral.qos | 0,
      dup: !!neutral.dup,
      length,
      topic: neutral.topic,
      payload: neutral.payload
    }
    if (p.qos > 0) p.messageId = neutral.messageId
    if (v5) {
      const props = propertiesToMqtt(neutral.properties)
      if (props !== undefined) p.properties = props
    }
    return p
  }

  /** @type {Obj} */
  const p = {
    cmd,
    retain: false,
    qos: FIXED_QOS_1.has(cmd) ? 1 : 0,
    dup: false,
    length,
    topic: null,
    payload: null
  }

  switch (cmd) {
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
      p.messageId = neutral.messageId
      if (v5) {
        p.reasonCode = neutral.reasonCode | 0
        addProperties(p, neutral.properties)
      }
      return p

    case 'connack':
      p.sessionPresent = !!neutral.sessionPresent
      if (v5) {
        p.reasonCode = neutral.reasonCode | 0
        addProperties(p, neutral.properties)
      } else {
        p.returnCode = neutral.reasonCode | 0
      }
      return p

    case 'subscribe': {
      const subs = neutral.subscriptions || []
      const out = new Array(subs.length)
      for (let i = 0; i < subs.length; i++) {
        const s = subs[i]
        out[i] = v5
          ? { topic: s.topic, qos: s.qos | 0, nl: !!s.nl, rap: !!s.rap, rh: s.rh | 0 }
          : { topic: s.topic, qos: s.qos | 0 }
      }
      p.subscriptions = out
      p.messageId = neutral.messageId
      if (v5) addProperties(p, neutral.properties)
      return p
    }

    case 'suback':
      p.granted = neutral.granted ? neutral.granted.slice() : []
      p.messageId = neutral.messageId
      if (v5) addProperties(p, neutral.properties)
      return p

    case 'unsubscribe':
      p.unsubscriptions = neutral.unsubscriptions ? neutral.unsubscriptions.slice() : []
      p.messageId = neutral.messageId
      if (v5) addProperties(p, neutral.properties)
      return p

    case 'unsuback':
      p.messageId = neutral.messageId
      if (v5) {
        addProperties(p, neutral.properties)
        p.granted = neutral.granted ? neutral.granted.slice() : []
      }
      return p

    case 'pingreq':
    case 'pingresp':
      return p

    case 'disconnect':
      if (v5) {
        p.reasonCode = neutral.reasonCode | 0
        addProperties(p, neutral.properties)
      }
      return p

    case 'auth':
      p.reasonCode = neutral.reasonCode | 0
      addProperties(p, neutral.properties)
      return p

    case 'connect':
      return connectToMqtt(p, neutral)

    default:
      throw invalidPacket(`toMqttPacket: unknown packet type ${JSON.stringify(cmd)}`)
  }
}

/** @param {Obj} p @param {Obj | undefined} props */
function addProperties (p, props) {
  const out = propertiesToMqtt(props)
  if (out !== undefined) p.properties = out
}

/** @param {Obj} p @param {Obj} n */
function connectToMqtt (p, n) {
  // CONNECT is parsed with its own protocol level, whatever the connection's setting.
  const v5 = n.protocolVersion === 5
  p.protocolId = n.protocolId
  p.protocolVersion = n.protocolVersion
  if (n.will) {
    const w = n.will
    /** @type {Obj} */
    const will = { retain: !!w.retain, qos: w.qos | 0 }
    if (v5) {
      const props = propertiesToMqtt(w.properties)
      if (props !== undefined) will.properties = props
    }
    will.topic = w.topic
    will.payload = w.payload
    p.will = will
  }
  p.clean = !!n.clean
  p.keepalive = n.keepalive | 0
  if (v5) addProperties(p, n.properties)
  p.clientId = n.clientId
  if (n.username !== undefined && n.username !== null) p.username = n.username
  if (n.password !== undefined && n.password !== null) p.password = n.password
  return p
}

// ---------------------------------------------------------------------------------------------
// mqtt-packet shape → neutral

const PROPERTY_KINDS = {
  payloadFormatIndicator: 'bool',
  messageExpiryInterval: 'int',
  contentType: 'string',
  responseTopic: 'string',
  correlationData: 'binary',
  subscriptionIdentifier: 'subids',
  subscriptionIdentifiers: 'subids',
  sessionExpiryInterval: 'int',
  assignedClientIdentifier: 'string',
  serverKeepAlive: 'int',
  authenticationMethod: 'string',
  authenticationData: 'binary',
  requestProblemInformation: 'bool',
  willDelayInterval: 'int',
  requestResponseInformation: 'bool',
  responseInformation: 'string',
  serverReference: 'string',
  reasonString: 'string',
  receiveMaximum: 'int',
  topicAliasMaximum: 'int',
  topicAlias: 'int',
  maximumQoS: 'int',
  retainAvailable: 'bool',
  userProperties: 'user',
  maximumPacketSize: 'int',
  wildcardSubscriptionAvailable: 'bool',
  subscriptionIdentifiersAvailable: 'bool',
  sharedSubscriptionAvailable: 'bool'
}

/**
 * @param {unknown} value
 * @param {string} what
 * @returns {Buffer}
 */
function toBuffer (value, what) {
  if (Buffer.isBuffer(value)) return value
  if (typeof value === 'string') return Buffer.from(value, 'utf8')
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  if (value === undefined || value === null) return Buffer.alloc(0)
  throw invalidPacket(`${what} must be a Buffer or a string`)
}

/**
 * @param {unknown} value
 * @param {string} what
 * @returns {string}
 */
function toStr (value, what) {
  if (typeof value === 'string') return value
  if (Buffer.isBuffer(value)) return value.toString('utf8')
  throw invalidPacket(`${what} must be a string`)
}

/**
 * @param {unknown} value
 * @param {string} what
 * @param {number} [dflt]
 * @returns {number}
 */
function toInt (value, what, dflt) {
  if ((value === undefined || value === null) && dflt !== undefined) return dflt
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw invalidPacket(`${what} must be a non-negative integer, got ${String(value)}`)
  }
  return value
}

/** @param {unknown} value @param {string} what */
function toQos (value, what) {
  const q = toInt(value, what, 0)
  if (q > 2) throw invalidPacket(`${what} must be 0, 1 or 2, got ${q}`)
  return q
}

/** @param {unknown} value @param {string} what */
function toMessageId (value, what) {
  const id = toInt(value, what)
  if (id < 1 || id > 0xffff) throw invalidPacket(`${what} must be 1..65535, got ${id}`)
  return id
}

/**
 * mqtt-packet properties → neutral properties, or undefined when empty.
 * @param {unknown} props
 * @param {string} where
 * @returns {Obj | undefined}
 */
function propertiesFromMqtt (props, where) {
  if (props === undefined || props === null) return undefined
  if (typeof props !== 'object' || Array.isArray(props)) {
    throw invalidPacket(`${where}.properties must be an object`)
  }
  let out
  for (const key in props) {
    const value = props[key]
    if (value === undefined || value === null) continue
    const kind = PROPERTY_KINDS[key]
    const what = `${where}.properties.${key}`
    if (kind === undefined) throw invalidPacket(`unknown MQTT 5 property ${what}`)
    if (Array.isArray(value) && kind !== 'subids') {
      throw invalidPacket(`${what} must not be an array`)
    }
    if (kind === 'subids' && Array.isArray(value) && value.length === 0) continue
    if (out === undefined) out = {}
    switch (kind) {
      case 'bool':
        out[key] = !!value
        break
      case 'int':
        out[key] = toInt(value, what)
        break
      case 'string':
        out[key] = toStr(value, what)
        break
      case 'binary':
        out[key] = toBuffer(value, what)
        break
      case 'subids': {
        const ids = Array.isArray(value) ? value : [value]
        const list = out.subscriptionIdentifiers || (out.subscriptionIdentifiers = [])
        for (let i = 0; i < ids.length; i++) list.push(toInt(ids[i], what))
        break
      }
      case 'user': {
        if (typeof value !== 'object') throw invalidPacket(`${what} must be an object`)
        const pairs = []
        for (const name of Object.getOwnPropertyNames(value)) {
          const v = value[name]
          if (Array.isArray(v)) {
            for (let i = 0; i < v.length; i++) pairs.push([name, String(v[i])])
          } else {
            pairs.push([name, String(v)])
          }
        }
        if (pairs.length) out.userProperties = pairs
        break
      }
    }
  }
  // A userProperties object without keys leaves nothing to send.
  if (out !== undefined && Object.keys(out).length === 0) return undefined
  return out
}

/** @param {Obj} target @param {unknown} props @param {string} where */
function setProperties (target, props, where) {
  const p = propertiesFromMqtt(props, where)
  if (p !== undefined) target.properties = p
}

/**
 * Converts a packet as MQTT.js users write it (mqtt-packet `generate()` input) into the codec's
 * neutral shape for `protocolVersion` (3, 4 or 5).
 * @param {Obj} obj
 * @param {number} protocolVersion
 * @returns {Obj}
 */
function fromMqttPacket (obj, protocolVersion) {
  if (obj === null || typeof obj !== 'object') {
    throw invalidPacket('fromMqttPacket: expected a packet object')
  }
  const cmd = obj.cmd
  const v5 = protocolVersion === 5
  switch (cmd) {
    case 'publish': {
      const qos = toQos(obj.qos, 'publish.qos')
      /** @type {Obj} */
      const n = {
        cmd,
        dup: !!obj.dup,
        qos,
        retain: !!obj.retain,
        topic: toStr(obj.topic, 'publish.topic'),
        messageId: qos > 0 ? toMessageId(obj.messageId, 'publish.messageId') : 0,
        payload: toBuffer(obj.payload, 'publish.payload')
      }
      if (v5) setProperties(n, obj.properties, cmd)
      return n
    }

    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp': {
      /** @type {Obj} */
      const n = {
        cmd,
        messageId: toMessageId(obj.messageId, `${cmd}.messageId`),
        reasonCode: v5 ? toInt(obj.reasonCode, `${cmd}.reasonCode`, 0) : 0
      }
      if (v5) setProperties(n, obj.properties, cmd)
      return n
    }

    case 'connack': {
      const rc = v5
        ? (obj.reasonCode ?? obj.returnCode)
        : (obj.returnCode ?? obj.reasonCode)
      /** @type {Obj} */
      const n = {
        cmd,
        sessionPresent: !!obj.sessionPresent,
        reasonCode: toInt(rc, v5 ? 'connack.reasonCode' : 'connack.returnCode', 0)
      }
      if (v5) setProperties(n, obj.properties, cmd)
      return n
    }

    case 'subscribe': {
      const subs = obj.subscriptions
      if (!Array.isArray(subs) || subs.length === 0) {
        throw invalidPacket('subscribe.subscriptions must be a non-empty array')
      }
      const out = new Array(subs.length)
      for (let i = 0; i < subs.length; i++) {
        const s = subs[i]
        if (s === null || typeof s !== 'object') {
          throw invalidPacket(`subscribe.subscriptions[${i}] must be an object`)
        }
        out[i] = {
          topic: toStr(s.topic, `subscribe.subscriptions[${i}].topic`),
          qos: toQos(s.qos, `subscribe.subscriptions[${i}].qos`),
          nl: v5 ? !!s.nl : false,
          rap: v5 ? !!s.rap : false,
          rh: v5 ? toInt(s.rh, `subscribe.subscriptions[${i}].rh`, 0) : 0
        }
      }
      /** @type {Obj} */
      const n = { cmd, messageId: toMessageId(obj.messageId, 'subscribe.messageId'), subscriptions: out }
      if (v5) setProperties(n, obj.properties, cmd)
      return n
    }

    case 'suback': {
      /** @type {Obj} */
      const n = {
        cmd,
        messageId: toMessageId(obj.messageId, 'suback.messageId'),
        granted: codes(obj.granted, 'suback.granted')
      }
      if (v5) setProperties(n, obj.properties, cmd)
      return n
    }

    case 'unsubscribe': {
      const list = obj.unsubscriptions
      if (!Array.isArray(list) || list.length === 0) {
        throw invalidPacket('unsubscribe.unsubscriptions must be a non-empty array')
      }
      /** @type {Obj} */
      const n = {
        cmd,
        messageId: toMessageId(obj.messageId, 'unsubscribe.messageId'),
        unsubscriptions: list.map((t, i) => toStr(t, `unsubscribe.unsubscriptions[${i}]`))
      }
      if (v5) setProperties(n, obj.properties, cmd)
      return n
    }

    case 'unsuback': {
      /** @type {Obj} */
      const n = { cmd, messageId: toMessageId(obj.messageId, 'unsuback.messageId') }
      if (v5) {
        if (obj.granted != null) {
          const g = codes(obj.granted, 'unsuback.granted')
          if (g.length) n.granted = g
        }
        setProperties(n, obj.properties, cmd)
      }
      return n
    }

    case 'pingreq':
    case 'pingresp':
      return { cmd }

    case 'disconnect':
    case 'auth': {
      /** @type {Obj} */
      const n = { cmd, reasonCode: v5 ? toInt(obj.reasonCode, `${cmd}.reasonCode`, 0) : 0 }
      if (v5) setProperties(n, obj.properties, cmd)
      return n
    }

    case 'connect':
      return connectFromMqtt(obj, protocolVersion)

    default:
      throw invalidPacket(`fromMqttPacket: unknown packet type ${JSON.stringify(cmd)}`)
  }
}

/** @param {unknown} list @param {string} what @returns {number[]} */
function codes (list, what) {
  if (!Array.isArray(list)) throw invalidPacket(`${what} must be an array of numbers`)
  const out = new Array(list.length)
  for (let i = 0; i < list.length; i++) {
    const c = list[i]
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 0 || c > 255) {
      throw invalidPacket(`${what}[${i}] must be a byte, got ${String(c)}`)
    }
    out[i] = c
  }
  return out
}

/** @param {Obj} obj @param {number} protocolVersion */
function connectFromMqtt (obj, protocolVersion) {
  const version = obj.protocolVersion ?? protocolVersion ?? 4
  if (version !== 3 && version !== 4 && version !== 5) {
    throw invalidPacket(`connect.protocolVersion must be 3, 4 or 5, got ${String(version)}`)
  }
  const v5 = version === 5
  /** @type {Obj} */
  const n = {
    cmd: 'connect',
    protocolId: obj.protocolId == null ? (version === 3 ? 'MQIsdp' : 'MQTT') : toStr(obj.protocolId, 'connect.protocolId'),
    protocolVersion: version,
    clean: obj.clean === undefined ? true : !!obj.clean,
    keepalive: toInt(obj.keepalive, 'connect.keepalive', 0),
    clientId: obj.clientId == null ? '' : toStr(obj.clientId, 'connect.clientId')
  }
  const w = obj.will
  if (w) {
    if (typeof w !== 'object') throw invalidPacket('connect.will must be an object')
    /** @type {Obj} */
    const will = {
      topic: toStr(w.topic, 'connect.will.topic'),
      payload: toBuffer(w.payload, 'connect.will.payload'),
      qos: toQos(w.qos, 'connect.will.qos'),
      retain: !!w.retain
    }
    if (v5) setProperties(will, w.properties, 'connect.will')
    n.will = will
  }
  if (obj.username != null) n.username = toStr(obj.username, 'connect.username')
  if (obj.password != null) n.password = toBuffer(obj.password, 'connect.password')
  if (v5) setProperties(n, obj.properties, 'connect')
  return n
}

module.exports = { toMqttPacket, fromMqttPacket }
