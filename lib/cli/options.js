'use strict'
// Flags shared by `mqtt pub` and `mqtt sub`, and their translation into connect() options.
//
// MQTT.js hands its whole parsed-argument object to connect(), so any long flag named like a
// client option works (`--protocolVersion 5`, `--reconnectPeriod 0`). We keep that, but only for
// the client options listed in PASS_THROUGH, converted to the type the option needs; any other
// flag is a usage error rather than something silently ignored.

const fs = require('node:fs')
const { UsageError } = require('./args')

/** Client options a long flag may set directly, with their type. Dotted names nest. */
const PASS_THROUGH = {
  keepalive: 'int',
  reschedulePings: 'boolean',
  protocolId: 'string',
  protocolVersion: 'int',
  clean: 'boolean',
  reconnectPeriod: 'int',
  reconnectOnConnackError: 'boolean',
  connectTimeout: 'int',
  queueQoSZero: 'boolean',
  resubscribe: 'boolean',
  subscribeBatchSize: 'int',
  path: 'string',
  servername: 'string',
  rejectUnauthorized: 'boolean',
  unixSocket: 'boolean',
  maxInflight: 'int',
  reconnectBackoff: 'boolean',
  reconnectOnUnhealableError: 'boolean',
  'properties.sessionExpiryInterval': 'int',
  'properties.receiveMaximum': 'int',
  'properties.maximumPacketSize': 'int',
  'properties.topicAliasMaximum': 'int',
  'properties.requestResponseInformation': 'boolean',
  'properties.requestProblemInformation': 'boolean'
}

const PROTOCOLS = ['mqtt', 'mqtts', 'tcp', 'tls', 'ssl', 'ws', 'wss']

/** The parser's fallback: pass-through client options, stored under `pass:<name>`. */
function passThrough (name) {
  const type = PASS_THROUGH[name]
  if (!type) return null
  return { key: `pass:${name}`, type: type === 'boolean' ? 'boolean' : 'string' }
}

/** Flags every command that connects understands. */
function connectionFlags () {
  return {
    hostname: { type: 'string', aliases: ['h', 'host'] },
    port: { type: 'string', aliases: ['p'] },
    protocol: { type: 'string', aliases: ['l'] },
    clientId: { type: 'string', aliases: ['i', 'id', 'client-id'] },
    username: { type: 'string', aliases: ['u'] },
    password: { type: 'string', aliases: ['P'] },
    qos: { type: 'string', aliases: ['q'] },
    key: { type: 'string' },
    cert: { type: 'string' },
    ca: { type: 'string', aliases: ['cafile'] },
    insecure: { type: 'boolean' },
    'will-topic': { type: 'string' },
    'will-message': { type: 'string', aliases: ['will-payload'] },
    'will-qos': { type: 'string' },
    'will-retain': { type: 'boolean' },
    help: { type: 'boolean', aliases: ['H'] }
  }
}

/** A whole number within [min, max], or a UsageError naming the flag. */
function wholeNumber (flag, text, min, max) {
  const value = typeof text === 'number' ? text : (/^\d+$/.test(String(text).trim()) ? Number(text) : NaN)
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`${flag} must be a whole number from ${min} to ${max}, not "${text}"`)
  }
  return value
}

function qosValue (flag, text) {
  if (text === undefined) return 0
  return wholeNumber(flag, text, 0, 2)
}

function readFile (flag, file) {
  try {
    return fs.readFileSync(file)
  } catch (err) {
    throw new UsageError(`cannot read the ${flag} file "${file}": ${err.code || err.message}`)
  }
}

/**
 * Builds the options object for connect() from parsed flags.
 * @param {Record<string, any>} values parsed flags
 * @returns {Record<string, any>}
 */
function connectOptions (values) {
  const opts = {}
  for (const [key, value] of Object.entries(values)) {
    if (!key.startsWith('pass:')) continue
    const name = key.slice(5)
    const converted = PASS_THROUGH[name] === 'int' ? wholeNumber(`--${name}`, value, 0, 0xffffffff) : value
    const path = name.split('.')
    let target = opts
    for (const part of path.slice(0, -1)) target = target[part] = target[part] || {}
    target[path[path.length - 1]] = converted
  }

  const host = values.hostname !== undefined ? values.hostname : 'localhost'
  if (host === '') throw new UsageError('--hostname must not be empty')
  opts.host = host
  opts.hostname = host
  if (values.port !== undefined) opts.port = wholeNumber('--port', values.port, 1, 65535)
  if (values.protocol !== undefined) {
    const base = values.protocol.replace(/\+unix$/, '')
    if (!PROTOCOLS.includes(base)) {
      throw new UsageError(`unknown protocol "${values.protocol}": use mqtt, mqtts, ws or wss`)
    }
    opts.protocol = values.protocol
  }
  if (values.clientId !== undefined) opts.clientId = values.clientId
  if (values.username !== undefined) opts.username = values.username
  if (values.password !== undefined) opts.password = values.password
  if (opts.keepalive !== undefined) opts.keepalive = wholeNumber('--keepalive', opts.keepalive, 0, 65535)

  // TLS files. MQTT.js switches to mqtts only for key + cert; a CA file alone means TLS as well
  // (as with mosquitto_pub --cafile), so any of them selects mqtts when no protocol is given.
  if (values.key !== undefined) opts.key = readFile('--key', values.key)
  if (values.cert !== undefined) opts.cert = readFile('--cert', values.cert)
  if (values.ca !== undefined) opts.ca = readFile('--ca', values.ca)
  if ((opts.key || opts.cert || opts.ca) && opts.protocol === undefined) opts.protocol = 'mqtts'
  if (values.insecure) opts.rejectUnauthorized = false

  const willTopic = values['will-topic']
  if (willTopic !== undefined) {
    if (willTopic === '') throw new UsageError('--will-topic must not be empty')
    opts.will = {
      topic: willTopic,
      // MQTT.js's help advertises --will-payload but reads only --will-message; both work here.
      payload: values['will-message'] !== undefined ? values['will-message'] : '',
      qos: qosValue('--will-qos', values['will-qos']),
      retain: !!values['will-retain']
    }
  } else {
    for (const flag of ['will-message', 'will-qos', 'will-retain']) {
      if (values[flag] !== undefined) throw new UsageError(`--${flag} needs --will-topic`)
    }
  }
  return opts
}

module.exports = { connectionFlags, connectOptions, passThrough, wholeNumber, qosValue, PASS_THROUGH, PROTOCOLS }
