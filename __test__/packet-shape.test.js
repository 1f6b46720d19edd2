'use strict'

// lib/packet.js against mqtt-packet 9.0.2 itself: for hand-written packets of every type and
// protocol version, the codec's neutral shape converted by toMqttPacket must equal (keys and
// key order included) what mqtt-packet's parser makes of the bytes mqtt-packet generates, and
// fromMqttPacket must turn both the generate() input and the parsed object into that neutral.

const { test, describe } = require('node:test')
const assert = require('node:assert/strict')
const mqttPacket = require('mqtt-packet')

const { toMqttPacket, fromMqttPacket } = require('../lib/packet.js')
const { generate, parseOne, remainingLength, assertSamePacket } = require('./helpers/packets.js')

const buf = (s) => Buffer.from(s)

// Each fixture: mqtt-packet generate() input and the neutral shape the codec uses for it.
// Neutral properties are listed in ascending property-id order, as the codec serialises them.
const fixtures = {
  3: [
    {
      name: 'CONNECT with MQIsdp, a will, a username and a password',
      input: { cmd: 'connect', protocolId: 'MQIsdp', protocolVersion: 3, clean: true, keepalive: 30, clientId: 'c1', will: { topic: 'w/t', payload: buf('bye'), qos: 1, retain: true }, username: 'u', password: buf('p') },
      neutral: { cmd: 'connect', protocolId: 'MQIsdp', protocolVersion: 3, clean: true, keepalive: 30, clientId: 'c1', will: { topic: 'w/t', payload: buf('bye'), qos: 1, retain: true }, username: 'u', password: buf('p') }
    },
    {
      name: 'CONNACK with a refusal return code',
      input: { cmd: 'connack', sessionPresent: false, returnCode: 5 },
      neutral: { cmd: 'connack', sessionPresent: false, reasonCode: 5 }
    },
    {
      name: 'PUBLISH at QoS 0 without a message id',
      input: { cmd: 'publish', topic: 'a/b', payload: buf('x'), qos: 0, retain: true, dup: false },
      neutral: { cmd: 'publish', dup: false, qos: 0, retain: true, topic: 'a/b', messageId: 0, payload: buf('x') }
    },
    {
      name: 'PUBACK',
      input: { cmd: 'puback', messageId: 7 },
      neutral: { cmd: 'puback', messageId: 7, reasonCode: 0 }
    },
    {
      name: 'SUBSCRIBE with two filters',
      input: { cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'a/+', qos: 1 }, { topic: '#', qos: 2 }] },
      neutral: { cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'a/+', qos: 1, nl: false, rap: false, rh: 0 }, { topic: '#', qos: 2, nl: false, rap: false, rh: 0 }] }
    },
    {
      name: 'SUBACK with a failure code',
      input: { cmd: 'suback', messageId: 3, granted: [1, 128] },
      neutral: { cmd: 'suback', messageId: 3, granted: [1, 128] }
    },
    {
      name: 'UNSUBACK',
      input: { cmd: 'unsuback', messageId: 4 },
      neutral: { cmd: 'unsuback', messageId: 4 }
    },
    {
      name: 'DISCONNECT',
      input: { cmd: 'disconnect' },
      neutral: { cmd: 'disconnect', reasonCode: 0 }
    }
  ],
  4: [
    {
      name: 'CONNECT with only a client id',
      input: { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: false, keepalive: 0, clientId: 'only-id' },
      neutral: { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: false, keepalive: 0, clientId: 'only-id' }
    },
    {
      name: 'CONNECT with an empty client id and a username without a password',
      input: { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, clientId: '', username: 'ü' },
      neutral: { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, clientId: '', username: 'ü' }
    },
    {
      name: 'CONNECT with a QoS 2 will with an empty payload',
      input: { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 10, clientId: 'w', will: { topic: 'x', payload: Buffer.alloc(0), qos: 2, retain: false } },
      neutral: { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 10, clientId: 'w', will: { topic: 'x', payload: Buffer.alloc(0), qos: 2, retain: false } }
    },
    {
      name: 'CONNACK with session present',
      input: { cmd: 'connack', sessionPresent: true, returnCode: 0 },
      neutral: { cmd: 'connack', sessionPresent: true, reasonCode: 0 }
    },
    {
      name: 'PUBLISH at QoS 1 with dup and an empty payload',
      input: { cmd: 'publish', topic: 'ça/日本', payload: Buffer.alloc(0), qos: 1, retain: false, dup: true, messageId: 65535 },
      neutral: { cmd: 'publish', dup: true, qos: 1, retain: false, topic: 'ça/日本', messageId: 65535, payload: Buffer.alloc(0) }
    },
    {
      name: 'PUBLISH at QoS 2 with retain',
      input: { cmd: 'publish', topic: 't', payload: buf('hello'), qos: 2, retain: true, dup: false, messageId: 1 },
      neutral: { cmd: 'publish', dup: false, qos: 2, retain: true, topic: 't', messageId: 1, payload: buf('hello') }
    },
    { name: 'PUBACK', input: { cmd: 'puback', messageId: 1 }, neutral: { cmd: 'puback', messageId: 1, reasonCode: 0 } },
    { name: 'PUBREC', input: { cmd: 'pubrec', messageId: 2 }, neutral: { cmd: 'pubrec', messageId: 2, reasonCode: 0 } },
    { name: 'PUBREL', input: { cmd: 'pubrel', messageId: 3 }, neutral: { cmd: 'pubrel', messageId: 3, reasonCode: 0 } },
    { name: 'PUBCOMP', input: { cmd: 'pubcomp', messageId: 4 }, neutral: { cmd: 'pubcomp', messageId: 4, reasonCode: 0 } },
    {
      name: 'SUBSCRIBE with one filter',
      input: { cmd: 'subscribe', messageId: 9, subscriptions: [{ topic: 'a/#', qos: 0 }] },
      neutral: { cmd: 'subscribe', messageId: 9, subscriptions: [{ topic: 'a/#', qos: 0, nl: false, rap: false, rh: 0 }] }
    },
    { name: 'SUBACK', input: { cmd: 'suback', messageId: 9, granted: [0, 1, 2] }, neutral: { cmd: 'suback', messageId: 9, granted: [0, 1, 2] } },
    {
      name: 'UNSUBSCRIBE with two filters',
      input: { cmd: 'unsubscribe', messageId: 10, unsubscriptions: ['a/#', 'b'] },
      neutral: { cmd: 'unsubscribe', messageId: 10, unsubscriptions: ['a/#', 'b'] }
    },
    { name: 'UNSUBACK', input: { cmd: 'unsuback', messageId: 10 }, neutral: { cmd: 'unsuback', messageId: 10 } },
    { name: 'PINGREQ', input: { cmd: 'pingreq' }, neutral: { cmd: 'pingreq' } },
    { name: 'PINGRESP', input: { cmd: 'pingresp' }, neutral: { cmd: 'pingresp' } },
    { name: 'DISCONNECT', input: { cmd: 'disconnect' }, neutral: { cmd: 'disconnect', reasonCode: 0 } }
  ],
  5: [
    {
      name: 'CONNECT with every CONNECT property and a will with every will property',
      input: {
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 5,
        clean: true,
        keepalive: 15,
        clientId: 'c5',
        properties: { sessionExpiryInterval: 3600, authenticationMethod: 'SCRAM', authenticationData: buf('ad'), requestProblemInformation: false, requestResponseInformation: true, receiveMaximum: 20, topicAliasMaximum: 10, userProperties: { a: '1', b: ['2', '3'] }, maximumPacketSize: 4096 },
        will: { topic: 'w', payload: buf('gone'), qos: 1, retain: true, properties: { payloadFormatIndicator: true, messageExpiryInterval: 60, contentType: 'text/plain', responseTopic: 'r', correlationData: buf('cd'), willDelayInterval: 5, userProperties: { k: 'v' } } },
        username: 'user',
        password: buf('secret')
      },
      neutral: {
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 5,
        clean: true,
        keepalive: 15,
        clientId: 'c5',
        will: { topic: 'w', payload: buf('gone'), qos: 1, retain: true, properties: { payloadFormatIndicator: true, messageExpiryInterval: 60, contentType: 'text/plain', responseTopic: 'r', correlationData: buf('cd'), willDelayInterval: 5, userProperties: [['k', 'v']] } },
        username: 'user',
        password: buf('secret'),
        properties: { sessionExpiryInterval: 3600, authenticationMethod: 'SCRAM', authenticationData: buf('ad'), requestProblemInformation: false, requestResponseInformation: true, receiveMaximum: 20, topicAliasMaximum: 10, userProperties: [['a', '1'], ['b', '2'], ['b', '3']], maximumPacketSize: 4096 }
      }
    },
    {
      name: 'CONNECT without properties',
      input: { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: false, keepalive: 0, clientId: 'x' },
      neutral: { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: false, keepalive: 0, clientId: 'x' }
    },
    {
      name: 'CONNACK with every CONNACK property',
      input: {
        cmd: 'connack',
        sessionPresent: true,
        reasonCode: 0,
        properties: { sessionExpiryInterval: 10, assignedClientIdentifier: 'auto-1', serverKeepAlive: 20, authenticationMethod: 'm', authenticationData: buf('d'), responseInformation: 'ri', serverReference: 'other', reasonString: 'ok', receiveMaximum: 5, topicAliasMaximum: 7, maximumQoS: 1, retainAvailable: false, userProperties: { x: 'y' }, maximumPacketSize: 100000, wildcardSubscriptionAvailable: true, subscriptionIdentifiersAvailable: false, sharedSubscriptionAvailable: true }
      },
      neutral: {
        cmd: 'connack',
        sessionPresent: true,
        reasonCode: 0,
        properties: { sessionExpiryInterval: 10, assignedClientIdentifier: 'auto-1', serverKeepAlive: 20, authenticationMethod: 'm', authenticationData: buf('d'), responseInformation: 'ri', serverReference: 'other', reasonString: 'ok', receiveMaximum: 5, topicAliasMaximum: 7, maximumQoS: 1, retainAvailable: false, userProperties: [['x', 'y']], maximumPacketSize: 100000, wildcardSubscriptionAvailable: true, subscriptionIdentifiersAvailable: false, sharedSubscriptionAvailable: true }
      }
    },
    {
      name: 'CONNACK refusing with a reason code and no properties',
      input: { cmd: 'connack', sessionPresent: false, reasonCode: 135 },
      neutral: { cmd: 'connack', sessionPresent: false, reasonCode: 135 }
    },
    {
      name: 'PUBLISH at QoS 0 with every PUBLISH property and repeated subscription identifiers',
      input: {
        cmd: 'publish',
        topic: 'p/q',
        payload: buf('data'),
        qos: 0,
        retain: false,
        dup: false,
        properties: { payloadFormatIndicator: true, messageExpiryInterval: 30, contentType: 'application/json', responseTopic: 'resp', correlationData: buf([1, 2, 3]), subscriptionIdentifier: [1, 268435455], topicAlias: 3, userProperties: { a: ['1', '2'], b: '3' } }
      },
      neutral: {
        cmd: 'publish',
        dup: false,
        qos: 0,
        retain: false,
        topic: 'p/q',
        messageId: 0,
        payload: buf('data'),
        properties: { payloadFormatIndicator: true, messageExpiryInterval: 30, contentType: 'application/json', responseTopic: 'resp', correlationData: buf([1, 2, 3]), subscriptionIdentifiers: [1, 268435455], topicAlias: 3, userProperties: [['a', '1'], ['a', '2'], ['b', '3']] }
      }
    },
    {
      name: 'PUBLISH at QoS 1 with an empty topic standing for a topic alias and one subscription identifier',
      input: { cmd: 'publish', topic: '', payload: buf('z'), qos: 1, retain: true, dup: true, messageId: 42, properties: { subscriptionIdentifier: 5, topicAlias: 1 } },
      neutral: { cmd: 'publish', dup: true, qos: 1, retain: true, topic: '', messageId: 42, payload: buf('z'), properties: { subscriptionIdentifiers: [5], topicAlias: 1 } }
    },
    {
      name: 'PUBLISH at QoS 2 without properties',
      input: { cmd: 'publish', topic: 'q2', payload: buf('two'), qos: 2, retain: false, dup: false, messageId: 2 },
      neutral: { cmd: 'publish', dup: false, qos: 2, retain: false, topic: 'q2', messageId: 2, payload: buf('two') }
    },
    {
      name: 'PUBACK with success and no properties (two bytes on the wire)',
      input: { cmd: 'puback', messageId: 5, reasonCode: 0 },
      neutral: { cmd: 'puback', messageId: 5, reasonCode: 0 }
    },
    {
      name: 'PUBACK with a reason code and properties',
      input: { cmd: 'puback', messageId: 5, reasonCode: 16, properties: { reasonString: 'no subscribers', userProperties: { k: 'v' } } },
      neutral: { cmd: 'puback', messageId: 5, reasonCode: 16, properties: { reasonString: 'no subscribers', userProperties: [['k', 'v']] } }
    },
    {
      name: 'PUBREC with a failure reason code',
      input: { cmd: 'pubrec', messageId: 6, reasonCode: 128 },
      neutral: { cmd: 'pubrec', messageId: 6, reasonCode: 128 }
    },
    {
      name: 'PUBREL with a reason string',
      input: { cmd: 'pubrel', messageId: 7, reasonCode: 146, properties: { reasonString: 'unknown id' } },
      neutral: { cmd: 'pubrel', messageId: 7, reasonCode: 146, properties: { reasonString: 'unknown id' } }
    },
    {
      name: 'PUBCOMP',
      input: { cmd: 'pubcomp', messageId: 8, reasonCode: 0 },
      neutral: { cmd: 'pubcomp', messageId: 8, reasonCode: 0 }
    },
    {
      name: 'SUBSCRIBE with subscription options, a subscription identifier and user properties',
      input: { cmd: 'subscribe', messageId: 11, properties: { subscriptionIdentifier: 1234, userProperties: { s: 't' } }, subscriptions: [{ topic: 'a', qos: 2, nl: true, rap: false, rh: 2 }, { topic: '$share/g/b', qos: 0, nl: false, rap: true, rh: 1 }] },
      neutral: { cmd: 'subscribe', messageId: 11, subscriptions: [{ topic: 'a', qos: 2, nl: true, rap: false, rh: 2 }, { topic: '$share/g/b', qos: 0, nl: false, rap: true, rh: 1 }], properties: { subscriptionIdentifiers: [1234], userProperties: [['s', 't']] } }
    },
    {
      name: 'SUBACK with reason codes and a reason string',
      input: { cmd: 'suback', messageId: 11, granted: [2, 0x87], properties: { reasonString: 'not allowed' } },
      neutral: { cmd: 'suback', messageId: 11, granted: [2, 0x87], properties: { reasonString: 'not allowed' } }
    },
    {
      name: 'UNSUBSCRIBE with user properties',
      input: { cmd: 'unsubscribe', messageId: 12, unsubscriptions: ['a', 'b/#'], properties: { userProperties: { u: 'v' } } },
      neutral: { cmd: 'unsubscribe', messageId: 12, unsubscriptions: ['a', 'b/#'], properties: { userProperties: [['u', 'v']] } }
    },
    {
      name: 'UNSUBACK with reason codes',
      input: { cmd: 'unsuback', messageId: 12, granted: [0, 17] },
      neutral: { cmd: 'unsuback', messageId: 12, granted: [0, 17] }
    },
    {
      name: 'UNSUBACK with a reason string',
      input: { cmd: 'unsuback', messageId: 13, granted: [0], properties: { reasonString: 'fine' } },
      neutral: { cmd: 'unsuback', messageId: 13, granted: [0], properties: { reasonString: 'fine' } }
    },
    { name: 'PINGREQ', input: { cmd: 'pingreq' }, neutral: { cmd: 'pingreq' } },
    { name: 'PINGRESP', input: { cmd: 'pingresp' }, neutral: { cmd: 'pingresp' } },
    {
      name: 'DISCONNECT with success',
      input: { cmd: 'disconnect', reasonCode: 0 },
      neutral: { cmd: 'disconnect', reasonCode: 0 }
    },
    {
      name: 'DISCONNECT with every DISCONNECT property',
      input: { cmd: 'disconnect', reasonCode: 139, properties: { sessionExpiryInterval: 0, serverReference: 'elsewhere', reasonString: 'shutting down', userProperties: { why: 'maintenance' } } },
      neutral: { cmd: 'disconnect', reasonCode: 139, properties: { sessionExpiryInterval: 0, serverReference: 'elsewhere', reasonString: 'shutting down', userProperties: [['why', 'maintenance']] } }
    },
    {
      name: 'AUTH with every AUTH property',
      input: { cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'SCRAM-SHA-1', authenticationData: buf('challenge'), reasonString: 'continue', userProperties: { a: 'b' } } },
      neutral: { cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'SCRAM-SHA-1', authenticationData: buf('challenge'), reasonString: 'continue', userProperties: [['a', 'b']] } }
    },
    {
      name: 'AUTH with success and no properties',
      input: { cmd: 'auth', reasonCode: 0 },
      neutral: { cmd: 'auth', reasonCode: 0 }
    }
  ]
}

for (const version of [3, 4, 5]) {
  describe(`MQTT protocol version ${version}`, () => {
    for (const f of fixtures[version]) {
      test(`${f.name}: toMqttPacket matches mqtt-packet's parser, key order included`, () => {
        const bytes = generate(f.input, version)
        assert.deepEqual(bytes, mqttPacket.generate(f.input, { protocolVersion: version }))
        const parsed = parseOne(bytes, version)
        const ours = toMqttPacket(f.neutral, version, remainingLength(bytes))
        assertSamePacket(ours, parsed)
        assert.equal(Object.getPrototypeOf(ours), Object.prototype)
      })

      test(`${f.name}: fromMqttPacket turns the generate() input and the parsed packet into the neutral shape`, () => {
        const bytes = generate(f.input, version)
        const parsed = parseOne(bytes, version)
        assert.deepStrictEqual(fromMqttPacket(f.input, version), f.neutral)
        assert.deepStrictEqual(fromMqttPacket(parsed, version), f.neutral)
      })

      test(`${f.name}: toMqttPacket then fromMqttPacket gives back the neutral shape`, () => {
        assert.deepStrictEqual(fromMqttPacket(toMqttPacket(f.neutral, version, 0), version), f.neutral)
      })
    }
  })
}

describe('toMqttPacket details', () => {
  test('A QoS 0 PUBLISH has no messageId key at all', () => {
    const p = toMqttPacket({ cmd: 'publish', dup: false, qos: 0, retain: false, topic: 't', messageId: 0, payload: buf('') }, 4, 3)
    assert.equal(Object.hasOwn(p, 'messageId'), false)
    assert.deepEqual(Object.keys(p), ['cmd', 'retain', 'qos', 'dup', 'length', 'topic', 'payload'])
  })

  test('PUBREL, SUBSCRIBE and UNSUBSCRIBE report QoS 1 from their fixed header flags', () => {
    assert.equal(toMqttPacket({ cmd: 'pubrel', messageId: 1, reasonCode: 0 }, 4, 2).qos, 1)
    assert.equal(toMqttPacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a', qos: 0, nl: false, rap: false, rh: 0 }] }, 4, 6).qos, 1)
    assert.equal(toMqttPacket({ cmd: 'unsubscribe', messageId: 1, unsubscriptions: ['a'] }, 4, 5).qos, 1)
    assert.equal(toMqttPacket({ cmd: 'puback', messageId: 1, reasonCode: 0 }, 4, 2).qos, 0)
  })

  test('User properties become a null-prototype object, with repeated keys collected in wire order', () => {
    const p = toMqttPacket({ cmd: 'disconnect', reasonCode: 0, properties: { userProperties: [['a', '1'], ['b', '2'], ['a', '3'], ['a', '4']] } }, 5, 30)
    assert.equal(Object.getPrototypeOf(p.properties.userProperties), null)
    assert.deepEqual({ ...p.properties.userProperties }, { a: ['1', '3', '4'], b: '2' })
  })

  test('A user property whose key is __proto__ stays an ordinary own key', () => {
    const p = toMqttPacket({ cmd: 'auth', reasonCode: 0, properties: { userProperties: [['__proto__', 'x'], ['constructor', 'y']] } }, 5, 30)
    assert.deepEqual(Object.keys(p.properties.userProperties), ['__proto__', 'constructor'])
    assert.equal(p.properties.userProperties.__proto__, 'x') // eslint-disable-line no-proto
  })

  test('A repeated user property key keeps an empty first value, where mqtt-packet loses it', () => {
    // mqtt-packet's parser tests the stored value for truthiness, so `k=""` followed by `k="v"`
    // parses as {k: 'v'}; we keep both values (a documented deviation).
    const bytes = generate({ cmd: 'auth', reasonCode: 0, properties: { userProperties: { k: ['', 'v'] } } }, 5)
    assert.deepEqual({ ...parseOne(bytes, 5).properties.userProperties }, { k: 'v' })
    const ours = toMqttPacket({ cmd: 'auth', reasonCode: 0, properties: { userProperties: [['k', ''], ['k', 'v']] } }, 5, remainingLength(bytes))
    assert.deepEqual({ ...ours.properties.userProperties }, { k: ['', 'v'] })
  })

  test('An empty properties table is left out', () => {
    const p = toMqttPacket({ cmd: 'puback', messageId: 1, reasonCode: 0, properties: {} }, 5, 2)
    assert.equal(Object.hasOwn(p, 'properties'), false)
  })

  test('Properties are ignored for protocol versions 3 and 4', () => {
    const p = toMqttPacket({ cmd: 'publish', dup: false, qos: 0, retain: false, topic: 't', messageId: 0, payload: buf(''), properties: { topicAlias: 1 } }, 4, 3)
    assert.equal(Object.hasOwn(p, 'properties'), false)
  })

  test('An unknown cmd is a TypeError', () => {
    assert.throws(() => toMqttPacket({ cmd: 'bogus' }, 4, 0), TypeError)
    assert.throws(() => toMqttPacket(null, 4, 0), TypeError)
  })
})

describe('fromMqttPacket details', () => {
  test('String payloads, passwords, will payloads and binary properties become Buffers', () => {
    const n = fromMqttPacket({ cmd: 'publish', topic: 't', payload: 'héllo', properties: { correlationData: 'cd' } }, 5)
    assert.deepStrictEqual(n.payload, Buffer.from('héllo'))
    assert.deepStrictEqual(n.properties.correlationData, Buffer.from('cd'))
    const c = fromMqttPacket({ cmd: 'connect', clientId: 'x', username: 'u', password: 'pw', will: { topic: 'w', payload: 'bye' } }, 4)
    assert.deepStrictEqual(c.password, Buffer.from('pw'))
    assert.deepStrictEqual(c.will.payload, Buffer.from('bye'))
  })

  test('A Uint8Array payload becomes a Buffer over the same bytes', () => {
    const n = fromMqttPacket({ cmd: 'publish', topic: 't', payload: new Uint8Array([1, 2, 3]) }, 4)
    assert.ok(Buffer.isBuffer(n.payload))
    assert.deepEqual([...n.payload], [1, 2, 3])
  })

  test('Missing booleans, QoS and payload take mqtt-packet defaults', () => {
    assert.deepStrictEqual(fromMqttPacket({ cmd: 'publish', topic: 't' }, 4),
      { cmd: 'publish', dup: false, qos: 0, retain: false, topic: 't', messageId: 0, payload: Buffer.alloc(0) })
    assert.deepStrictEqual(fromMqttPacket({ cmd: 'connect' }, 4),
      { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId: '' })
    assert.deepStrictEqual(fromMqttPacket({ cmd: 'connack' }, 4), { cmd: 'connack', sessionPresent: false, reasonCode: 0 })
  })

  test('CONNACK takes returnCode for versions 3 and 4 and reasonCode for 5, falling back to the other', () => {
    assert.equal(fromMqttPacket({ cmd: 'connack', returnCode: 4 }, 4).reasonCode, 4)
    assert.equal(fromMqttPacket({ cmd: 'connack', reasonCode: 4 }, 4).reasonCode, 4)
    assert.equal(fromMqttPacket({ cmd: 'connack', reasonCode: 135, returnCode: 5 }, 5).reasonCode, 135)
    assert.equal(fromMqttPacket({ cmd: 'connack', returnCode: 5 }, 5).reasonCode, 5)
  })

  test('User property values are stringified, arrays expanded in order', () => {
    const n = fromMqttPacket({ cmd: 'disconnect', reasonCode: 0, properties: { userProperties: { n: 1, list: ['a', 2], b: true } } }, 5)
    assert.deepStrictEqual(n.properties.userProperties, [['n', '1'], ['list', 'a'], ['list', '2'], ['b', 'true']])
  })

  test('A single subscriptionIdentifier and an array of them both become subscriptionIdentifiers', () => {
    assert.deepStrictEqual(fromMqttPacket({ cmd: 'publish', topic: 't', properties: { subscriptionIdentifier: 3 } }, 5).properties, { subscriptionIdentifiers: [3] })
    assert.deepStrictEqual(fromMqttPacket({ cmd: 'publish', topic: 't', properties: { subscriptionIdentifier: [3, 4] } }, 5).properties, { subscriptionIdentifiers: [3, 4] })
  })

  test('Properties, nl, rap and rh are dropped for versions 3 and 4', () => {
    const n = fromMqttPacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a', qos: 1, nl: true, rap: true, rh: 2 }], properties: { subscriptionIdentifier: 1 } }, 4)
    assert.deepStrictEqual(n, { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a', qos: 1, nl: false, rap: false, rh: 0 }] })
  })

  test('Undefined and null property values and empty user property objects are skipped', () => {
    const n = fromMqttPacket({ cmd: 'puback', messageId: 1, properties: { reasonString: undefined, userProperties: {} } }, 5)
    assert.deepStrictEqual(n, { cmd: 'puback', messageId: 1, reasonCode: 0 })
  })

  test('Obviously wrong input is a TypeError naming the field', () => {
    assert.throws(() => fromMqttPacket(null, 4), TypeError)
    assert.throws(() => fromMqttPacket({ cmd: 'nope' }, 4), /unknown packet type/)
    assert.throws(() => fromMqttPacket({ cmd: 'publish', topic: 5 }, 4), /publish\.topic/)
    assert.throws(() => fromMqttPacket({ cmd: 'publish', topic: 't', qos: 1 }, 4), /publish\.messageId/)
    assert.throws(() => fromMqttPacket({ cmd: 'publish', topic: 't', qos: 3, messageId: 1 }, 4), /publish\.qos/)
    assert.throws(() => fromMqttPacket({ cmd: 'publish', topic: 't', payload: 42 }, 4), /publish\.payload/)
    assert.throws(() => fromMqttPacket({ cmd: 'puback', messageId: 0 }, 4), /puback\.messageId/)
    assert.throws(() => fromMqttPacket({ cmd: 'subscribe', messageId: 1, subscriptions: [] }, 4), /subscriptions/)
    assert.throws(() => fromMqttPacket({ cmd: 'unsubscribe', messageId: 1 }, 4), /unsubscriptions/)
    assert.throws(() => fromMqttPacket({ cmd: 'suback', messageId: 1, granted: [300] }, 4), /suback\.granted/)
    assert.throws(() => fromMqttPacket({ cmd: 'publish', topic: 't', properties: { bogus: 1 } }, 5), /unknown MQTT 5 property/)
    assert.throws(() => fromMqttPacket({ cmd: 'publish', topic: 't', properties: { topicAlias: [1, 2] } }, 5), /must not be an array/)
    assert.throws(() => fromMqttPacket({ cmd: 'connect', protocolVersion: 6 }, 4), /protocolVersion/)
  })
})
