'use strict'

// Seeded generation of random, valid MQTT packets in mqtt-packet's generate() input shape, for
// differential tests. Every packet is valid for its protocol version as the specification
// states it (a client or a server may send it), and acceptable to mqtt-packet 9.0.2's generator.
// MQTT 5 properties are inserted in ascending property-id order, so that mqtt-packet writes
// them in the order the codec (which keeps one table, not the wire order) writes them.

/**
 * A small, fast, seedable PRNG (sfc32 seeded through splitmix32).
 * @param {number} seed a 32-bit unsigned integer
 */
function createRandom (seed) {
  let s = seed >>> 0
  const split = () => {
    s = (s + 0x9e3779b9) >>> 0
    let z = s
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    return (z ^ (z >>> 16)) >>> 0
  }
  let a = split()
  let b = split()
  let c = split()
  let d = split()
  /** A float in [0, 1). */
  const next = () => {
    const t = (((a + b) >>> 0) + d) >>> 0
    d = (d + 1) >>> 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) >>> 0
    c = (c << 21) | (c >>> 11)
    c = (c + t) >>> 0
    return t / 4294967296
  }
  for (let i = 0; i < 12; i++) next()
  const r = {
    next,
    /** An integer in [lo, hi]. */
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    /** true with probability p. */
    chance: (p = 0.5) => next() < p,
    /** One element of a list. */
    pick: (list) => list[Math.floor(next() * list.length)],
    /** An integer in [lo, hi], often one of the edges. */
    edgy: (lo, hi) => {
      const x = next()
      if (x < 0.1) return lo
      if (x < 0.2) return hi
      if (x < 0.3) return Math.min(hi, lo + 1)
      if (x < 0.6 && hi - lo > 300) return lo + Math.floor(next() * 300)
      return lo + Math.floor(next() * (hi - lo + 1))
    },
    /** `n` random bytes. */
    bytes: (n) => {
      const out = Buffer.allocUnsafe(n)
      for (let i = 0; i < n; i++) out[i] = Math.floor(next() * 256)
      return out
    }
  }
  return r
}

// Characters for strings: ASCII, 2-, 3- and 4-byte UTF-8. No U+0000, no control characters,
// no non-characters (the specification forbids or discourages them).
const CHARS = [
  ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_. ~$!',
  'é', 'ü', 'ß', 'Ж', 'λ', 'ع', '日', '本', '語', '€', '✓', '한', '🙂', '🚀', '𝄞'
]

/** A random UTF-8 string of 0..max characters. */
function str (r, max, min = 0) {
  const n = r.int(min, max)
  let s = ''
  for (let i = 0; i < n; i++) s += r.pick(CHARS)
  return s
}

/** An MQTT 3.1 client identifier: 1 to 23 ASCII letters and digits. */
function asciiId (r) {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
  let s = ''
  const n = r.int(1, 23)
  for (let i = 0; i < n; i++) s += alphabet[r.int(0, alphabet.length - 1)]
  return s
}

/** A string that contains no `/`, `+` or `#` and is not empty. */
function level (r) {
  let s = ''
  const n = r.int(1, 8)
  for (let i = 0; i < n; i++) s += r.pick(CHARS)
  return s
}

/** A valid topic name: one or more levels, no wildcards, may have empty levels. */
function topicName (r) {
  const n = r.int(1, 5)
  const parts = []
  for (let i = 0; i < n; i++) parts.push(r.chance(0.08) ? '' : level(r))
  const t = parts.join('/')
  return t === '' ? 'a' : t
}

/** A valid topic filter, with `+` levels and a trailing `#` now and then. */
function topicFilter (r) {
  const n = r.int(1, 5)
  const parts = []
  for (let i = 0; i < n; i++) parts.push(r.chance(0.2) ? '+' : level(r))
  if (r.chance(0.2)) parts.push('#')
  return parts.join('/')
}

/** Payload: mostly small, sometimes a few KiB, rarely over 16 KiB (3-byte remaining length). */
function payload (r) {
  const x = r.next()
  if (x < 0.1) return Buffer.alloc(0)
  if (x < 0.7) return r.bytes(r.int(1, 127))
  if (x < 0.97) return r.bytes(r.int(128, 4096))
  return r.bytes(r.int(16384, 20000))
}

/** Valid UTF-8 text as a Buffer (for payloads marked as UTF-8). */
function textPayload (r) {
  return Buffer.from(str(r, r.chance(0.9) ? 40 : 800))
}

/** User properties as mqtt-packet takes them: `{key: value | value[]}` (null prototype). */
function userProperties (r) {
  const keys = ['k', 'key', 'ü', '日本', '', 'x-trace', '__proto__']
  const out = Object.create(null)
  const n = r.int(1, 5)
  for (let i = 0; i < n; i++) {
    const k = r.chance(0.7) ? r.pick(keys) : str(r, 10)
    const v = str(r, 12)
    if (!(k in out)) out[k] = v
    else if (Array.isArray(out[k])) out[k].push(v)
    else out[k] = [out[k], v]
  }
  // mqtt-packet's parser drops the first value of a repeated key when that value is the empty
  // string (it tests it for truthiness), so a repeated key never starts with '' here; that
  // parser bug is covered in packet-shape.test.js.
  for (const k of Object.keys(out)) {
    if (Array.isArray(out[k]) && out[k][0] === '') out[k][0] = 'v'
  }
  return out
}

const U16 = 0xffff
const U32 = 0xffffffff
const VARINT_MAX = 268435455

// Every property in ascending property-id order with a generator of valid values.
const PROPERTIES = [
  ['payloadFormatIndicator', (r) => r.chance()], // 0x01
  ['messageExpiryInterval', (r) => r.edgy(0, U32)], // 0x02
  ['contentType', (r) => str(r, 20)], // 0x03
  ['responseTopic', (r) => topicName(r)], // 0x08
  ['correlationData', (r) => r.bytes(r.int(0, 40))], // 0x09
  ['subscriptionIdentifier', (r) => r.edgy(1, VARINT_MAX)], // 0x0B
  ['sessionExpiryInterval', (r) => r.edgy(0, U32)], // 0x11
  ['assignedClientIdentifier', (r) => str(r, 23, 1)], // 0x12
  ['serverKeepAlive', (r) => r.edgy(0, U16)], // 0x13
  ['authenticationMethod', (r) => str(r, 16, 1)], // 0x15
  ['authenticationData', (r) => r.bytes(r.int(0, 64))], // 0x16
  ['requestProblemInformation', (r) => r.chance()], // 0x17
  ['willDelayInterval', (r) => r.edgy(0, U32)], // 0x18
  ['requestResponseInformation', (r) => r.chance()], // 0x19
  ['responseInformation', (r) => str(r, 20)], // 0x1A
  ['serverReference', (r) => str(r, 20)], // 0x1C
  ['reasonString', (r) => str(r, 30)], // 0x1F
  ['receiveMaximum', (r) => r.edgy(1, U16)], // 0x21
  ['topicAliasMaximum', (r) => r.edgy(0, U16)], // 0x22
  ['topicAlias', (r) => r.edgy(1, U16)], // 0x23
  ['maximumQoS', (r) => r.int(0, 1)], // 0x24
  ['retainAvailable', (r) => r.chance()], // 0x25
  ['userProperties', userProperties], // 0x26
  ['maximumPacketSize', (r) => r.edgy(1, U32)], // 0x27
  ['wildcardSubscriptionAvailable', (r) => r.chance()], // 0x28
  ['subscriptionIdentifiersAvailable', (r) => r.chance()], // 0x29
  ['sharedSubscriptionAvailable', (r) => r.chance()] // 0x2A
]

// Which properties each packet may carry (MQTT 5 §2.2.2.2, table 2-4).
const ACK_PROPS = ['reasonString', 'userProperties']
const ALLOWED = {
  connect: ['sessionExpiryInterval', 'authenticationMethod', 'authenticationData', 'requestProblemInformation', 'requestResponseInformation', 'receiveMaximum', 'topicAliasMaximum', 'userProperties', 'maximumPacketSize'],
  will: ['payloadFormatIndicator', 'messageExpiryInterval', 'contentType', 'responseTopic', 'correlationData', 'willDelayInterval', 'userProperties'],
  connack: ['sessionExpiryInterval', 'assignedClientIdentifier', 'serverKeepAlive', 'authenticationMethod', 'authenticationData', 'responseInformation', 'serverReference', 'reasonString', 'receiveMaximum', 'topicAliasMaximum', 'maximumQoS', 'retainAvailable', 'userProperties', 'maximumPacketSize', 'wildcardSubscriptionAvailable', 'subscriptionIdentifiersAvailable', 'sharedSubscriptionAvailable'],
  publish: ['payloadFormatIndicator', 'messageExpiryInterval', 'contentType', 'responseTopic', 'correlationData', 'subscriptionIdentifier', 'topicAlias', 'userProperties'],
  puback: ACK_PROPS,
  pubrec: ACK_PROPS,
  pubrel: ACK_PROPS,
  pubcomp: ACK_PROPS,
  subscribe: ['subscriptionIdentifier', 'userProperties'],
  suback: ACK_PROPS,
  unsubscribe: ['userProperties'],
  unsuback: ACK_PROPS,
  disconnect: ['sessionExpiryInterval', 'serverReference', 'reasonString', 'userProperties'],
  auth: ['authenticationMethod', 'authenticationData', 'reasonString', 'userProperties']
}

/**
 * A random subset of the properties `kind` may carry, keys in ascending id order; undefined
 * for none. Authentication Data only comes with an Authentication Method (MQTT 5 §3.1.2.11.10).
 */
function properties (r, kind) {
  const allowed = ALLOWED[kind]
  const density = r.pick([0, 0.15, 0.4, 0.8])
  if (density === 0) return undefined
  const out = {}
  let any = false
  for (const [name, gen] of PROPERTIES) {
    if (!allowed.includes(name) || !r.chance(density)) continue
    if (name === 'authenticationData' && out.authenticationMethod === undefined) continue
    out[name] = gen(r)
    any = true
  }
  return any ? out : undefined
}

// Reason codes each packet may carry (MQTT 5 §3.x.2.1).
const REASONS = {
  connack: [0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x90, 0x95, 0x97, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9f],
  puback: [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99],
  pubrel: [0x00, 0x92],
  suback: [0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2],
  unsuback: [0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91],
  disconnect: [0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x8f, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2],
  auth: [0x00, 0x18, 0x19]
}
REASONS.pubrec = REASONS.puback
REASONS.pubcomp = REASONS.pubrel

/** Packet types valid in each protocol version. */
const TYPES = {
  3: ['connect', 'connack', 'publish', 'puback', 'pubrec', 'pubrel', 'pubcomp', 'subscribe', 'suback', 'unsubscribe', 'unsuback', 'pingreq', 'pingresp', 'disconnect'],
  4: ['connect', 'connack', 'publish', 'puback', 'pubrec', 'pubrel', 'pubcomp', 'subscribe', 'suback', 'unsubscribe', 'unsuback', 'pingreq', 'pingresp', 'disconnect'],
  5: ['connect', 'connack', 'publish', 'puback', 'pubrec', 'pubrel', 'pubcomp', 'subscribe', 'suback', 'unsubscribe', 'unsuback', 'pingreq', 'pingresp', 'disconnect', 'auth']
}

const messageId = (r) => r.edgy(1, U16)
const reason = (r, cmd) => (r.chance(0.5) ? 0 : r.pick(REASONS[cmd]))

/**
 * One random valid packet of type `cmd` for `version`, as mqtt-packet's generate() input.
 * @param {ReturnType<typeof createRandom>} r
 * @param {string} cmd
 * @param {3|4|5} version
 */
function randomPacket (r, cmd, version) {
  const v5 = version === 5
  switch (cmd) {
    case 'connect': {
      const clean = r.chance()
      const p = {
        cmd,
        protocolId: version === 3 ? 'MQIsdp' : 'MQTT',
        protocolVersion: version,
        clean,
        keepalive: r.edgy(0, U16),
        // MQTT 3.1 requires 1 to 23 characters; an empty id needs clean session (and mqtt-packet
        // refuses it otherwise even for MQTT 5).
        clientId: version === 3 ? asciiId(r) : str(r, clean && r.chance(0.2) ? 0 : 23, clean ? 0 : 1)
      }
      if (v5) {
        const props = properties(r, 'connect')
        if (props) p.properties = props
      }
      if (r.chance(0.4)) {
        const will = { topic: topicName(r), payload: payload(r), qos: r.int(0, 2), retain: r.chance() }
        if (v5) {
          const props = properties(r, 'will')
          if (props) {
            will.properties = props
            if (props.payloadFormatIndicator) will.payload = textPayload(r)
          }
        }
        p.will = will
      }
      // A password needs a user name in 3.1 and 3.1.1 and in mqtt-packet.
      if (r.chance(0.5)) {
        p.username = str(r, 20)
        if (r.chance(0.6)) p.password = r.bytes(r.int(0, 40))
      }
      return p
    }

    case 'connack': {
      let code = 0
      if (r.chance(0.3)) code = v5 ? r.pick(REASONS.connack) : r.int(1, 5)
      // Session Present must be 0 with a refusal (MQTT 5 §3.2.2.1.1) and does not exist in 3.1.
      const p = { cmd, sessionPresent: version !== 3 && code === 0 && r.chance() }
      if (v5) {
        p.reasonCode = code
        const props = properties(r, 'connack')
        if (props) p.properties = props
      } else {
        p.returnCode = code
      }
      return p
    }

    case 'publish': {
      const qos = r.int(0, 2)
      const p = { cmd, topic: topicName(r), payload: payload(r), qos, retain: r.chance(), dup: qos > 0 && r.chance(0.3) }
      if (qos > 0) p.messageId = messageId(r)
      if (v5) {
        const props = properties(r, 'publish')
        if (props) {
          // A PUBLISH may carry several Subscription Identifiers (MQTT 5 §3.3.2.3.8).
          if (props.subscriptionIdentifier !== undefined && r.chance(0.3)) {
            const n = r.int(2, 4)
            props.subscriptionIdentifier = [props.subscriptionIdentifier]
            for (let i = 1; i < n; i++) props.subscriptionIdentifier.push(r.edgy(1, VARINT_MAX))
          }
          // With a Topic Alias the topic name may be empty (MQTT 5 §3.3.2.3.4).
          if (props.topicAlias !== undefined && r.chance(0.5)) p.topic = ''
          if (props.payloadFormatIndicator) p.payload = textPayload(r)
          p.properties = props
        }
      }
      return p
    }

    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp': {
      const p = { cmd, messageId: messageId(r) }
      if (v5) {
        p.reasonCode = reason(r, cmd)
        const props = properties(r, cmd)
        if (props) p.properties = props
      }
      return p
    }

    case 'subscribe': {
      const n = r.chance(0.7) ? 1 : r.int(2, 6)
      const subscriptions = []
      for (let i = 0; i < n; i++) {
        const shared = v5 && r.chance(0.1)
        const s = { topic: shared ? `$share/${level(r)}/${topicFilter(r)}` : topicFilter(r), qos: r.int(0, 2) }
        if (v5) {
          // No Local on a shared subscription is a Protocol Error (MQTT 5 §3.8.3.1).
          s.nl = !shared && r.chance()
          s.rap = r.chance()
          s.rh = r.int(0, 2)
        }
        subscriptions.push(s)
      }
      const p = { cmd, messageId: messageId(r), subscriptions }
      if (v5) {
        const props = properties(r, 'subscribe')
        if (props) p.properties = props
      }
      return p
    }

    case 'suback': {
      const n = r.chance(0.7) ? 1 : r.int(2, 6)
      const granted = []
      for (let i = 0; i < n; i++) granted.push(v5 ? r.pick(REASONS.suback) : r.pick([0, 1, 2, 0x80]))
      const p = { cmd, messageId: messageId(r), granted }
      if (v5) {
        const props = properties(r, 'suback')
        if (props) p.properties = props
      }
      return p
    }

    case 'unsubscribe': {
      const n = r.chance(0.7) ? 1 : r.int(2, 6)
      const unsubscriptions = []
      for (let i = 0; i < n; i++) unsubscriptions.push(topicFilter(r))
      const p = { cmd, messageId: messageId(r), unsubscriptions }
      if (v5) {
        const props = properties(r, 'unsubscribe')
        if (props) p.properties = props
      }
      return p
    }

    case 'unsuback': {
      const p = { cmd, messageId: messageId(r) }
      if (v5) {
        const n = r.chance(0.7) ? 1 : r.int(2, 6)
        p.granted = []
        for (let i = 0; i < n; i++) p.granted.push(r.pick(REASONS.unsuback))
        const props = properties(r, 'unsuback')
        if (props) p.properties = props
      }
      return p
    }

    case 'pingreq':
    case 'pingresp':
      return { cmd }

    case 'disconnect':
    case 'auth': {
      const p = { cmd }
      if (v5) {
        p.reasonCode = reason(r, cmd)
        const props = properties(r, cmd)
        if (props) p.properties = props
      }
      return p
    }

    default:
      throw new Error(`unknown packet type ${cmd}`)
  }
}

module.exports = { createRandom, randomPacket, TYPES, PROPERTIES, ALLOWED, REASONS }
