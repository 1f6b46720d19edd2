'use strict'
// MQTT.js's `connect(url, opts)` option handling (research §2), plus the checks MQTT.js lacks.
const url = require('url')

/** Protocols this build can open; the others MQTT.js knows are refused with a clear error. */
const SUPPORTED = new Set(['mqtt', 'tcp'])
/** Every protocol MQTT.js registers in Node. */
const KNOWN = new Set(['mqtt', 'tcp', 'mqtts', 'ssl', 'tls', 'ws', 'wss'])
const DEFAULT_PORTS = { mqtt: 1883, tcp: 1883, mqtts: 8883, ssl: 8883, tls: 8883, ws: 80, wss: 443 }

function urlError (message, code) {
  const err = new Error(message)
  err.code = code
  return err
}

/**
 * A string such as `localhost:1883` parses with `localhost:` as its scheme; MQTT.js then dials a
 * host named `1883`. Refuse it and say what to write instead.
 */
function checkScheme (brokerUrl, parsed) {
  const scheme = parsed.protocol ? parsed.protocol.replace(/:$/, '') : null
  const suggestion = (hostPort) =>
    `Write "mqtt://${hostPort}" for MQTT over TCP, or "ws://${hostPort}/mqtt" for MQTT over WebSocket.`
  if (!scheme) {
    throw urlError(`Missing protocol in broker URL "${brokerUrl}". ${suggestion(brokerUrl.replace(/^\/+/, ''))}`, 'ERR_MQTT_URL_NO_SCHEME')
  }
  const base = scheme.replace('+unix', '')
  if (!KNOWN.has(base) && /^\d+$/.test(parsed.hostname || '') && !brokerUrl.includes('//')) {
    throw urlError(`Missing protocol in broker URL "${brokerUrl}": "${scheme}" was read as the scheme. ${suggestion(brokerUrl)}`, 'ERR_MQTT_URL_NO_SCHEME')
  }
  if (!KNOWN.has(base) && !['wx', 'wxs', 'ali', 'alis'].includes(base)) {
    throw urlError(`Unknown protocol "${scheme}" in broker URL "${brokerUrl}". Use mqtt://, mqtts://, ws:// or wss://.`, 'ERR_MQTT_URL_SCHEME')
  }
  if (parsed.port != null && parsed.port !== '') {
    const port = Number(parsed.port)
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw urlError(`Port ${parsed.port} in broker URL "${brokerUrl}" is out of range (1 to 65535).`, 'ERR_MQTT_URL_PORT')
    }
  }
}

function parseAuthOptions (opts) {
  if (opts.auth) {
    const matches = opts.auth.match(/^(.+):(.+)$/)
    if (matches) {
      opts.username = matches[1]
      opts.password = matches[2]
    } else {
      opts.username = opts.auth
    }
  }
}

/**
 * Normalises `connect()`'s arguments exactly as MQTT.js does and returns the options object
 * (the caller's own object when no URL is given: MQTT.js mutates it).
 */
function normalize (brokerUrl, opts) {
  if (typeof brokerUrl === 'object' && brokerUrl !== null && !opts) {
    opts = brokerUrl
    brokerUrl = ''
  }
  opts = opts || {}
  if (brokerUrl && typeof brokerUrl === 'string') {
    const parsed = url.parse(brokerUrl, true)
    if (opts.protocol === undefined) checkScheme(brokerUrl, parsed)
    const fromUrl = {}
    if (parsed.port != null) fromUrl.port = Number(parsed.port)
    fromUrl.host = parsed.hostname
    fromUrl.query = parsed.query
    fromUrl.auth = parsed.auth
    fromUrl.protocol = parsed.protocol
    fromUrl.path = parsed.path
    opts = { ...fromUrl, ...opts }
    if (!opts.protocol) throw new Error('Missing protocol')
    opts.protocol = opts.protocol.replace(/:$/, '')
  }
  opts.unixSocket = opts.unixSocket || (opts.protocol ? opts.protocol.includes('+unix') : false)
  if (opts.unixSocket) {
    opts.protocol = opts.protocol.replace('+unix', '')
  } else if (!(opts.protocol && (opts.protocol.startsWith('ws') || opts.protocol.startsWith('wx')))) {
    delete opts.path
  }
  parseAuthOptions(opts)
  if (opts.query && typeof opts.query.clientId === 'string') opts.clientId = opts.query.clientId
  if (opts.unixSocket) {
    opts.socksProxy = undefined
  } else if (opts.socksProxy === undefined) {
    opts.socksProxy = process.env.MQTTJS_SOCKS_PROXY
  }
  if (opts.cert && opts.key) {
    if (!opts.protocol) throw new Error('Missing secure protocol key')
    if (!['mqtts', 'wss', 'wxs', 'alis'].includes(opts.protocol)) {
      const upgrade = { mqtt: 'mqtts', ws: 'wss', wx: 'wxs', ali: 'alis' }[opts.protocol]
      if (!upgrade) throw new Error(`Unknown protocol for secure connection: "${opts.protocol}"!`)
      opts.protocol = upgrade
    }
  }
  if (!KNOWN.has(opts.protocol)) {
    // MQTT.js falls back to the first registered protocol (secure ones for mqtts/wss).
    opts.protocol = ['mqtts', 'wss'].includes(opts.protocol) ? 'mqtts' : 'mqtt'
  }
  if (opts.clean === false && !opts.clientId) throw new Error('Missing clientId for unclean clients')
  if (opts.protocol) opts.defaultProtocol = opts.protocol
  return opts
}

/** Refuses options this build cannot honour yet, rather than ignoring them. */
function checkSupported (opts) {
  const protocols = opts.servers ? opts.servers.map((s) => s.protocol || opts.protocol) : [opts.protocol]
  for (const p of protocols) {
    if (!SUPPORTED.has(p)) {
      throw urlError(`The ${p}:// transport is not supported by this version of mqtt-native yet; use mqtt:// (see COMPATIBILITY.md).`, 'ERR_MQTT_UNSUPPORTED')
    }
  }
  const unsupported = ['socksProxy', 'incomingStore', 'outgoingStore', 'customHandleAcks', 'authPacket',
    'autoUseTopicAlias', 'autoAssignTopicAlias', 'forceNativeWebSocket', 'createWebsocket', 'transformWsUrl']
  for (const key of unsupported) {
    if (opts[key] !== undefined && opts[key] !== null && opts[key] !== false) {
      throw urlError(`The option "${key}" is not supported by this version of mqtt-native yet (see COMPATIBILITY.md).`, 'ERR_MQTT_UNSUPPORTED')
    }
  }
}

/** Where to connect for this attempt: MQTT.js's `servers` rotation, hostname over host. */
function resolveEndpoint (client) {
  const opts = client.options
  if (opts.servers && opts.servers.length) {
    if (!client._reconnectCount || client._reconnectCount === opts.servers.length) client._reconnectCount = 0
    const server = opts.servers[client._reconnectCount]
    opts.host = server.host
    opts.port = server.port
    opts.protocol = server.protocol ? server.protocol : opts.defaultProtocol
    opts.hostname = opts.host
    client._reconnectCount++
  }
  const protocol = opts.protocol
  if (opts.port === undefined || opts.port === null || opts.port === '') opts.port = DEFAULT_PORTS[protocol] || 1883
  const host = opts.hostname || opts.host || 'localhost'
  if (!opts.unixSocket) opts.hostname = host
  const port = Number(opts.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw urlError(`Port ${opts.port} is out of range (1 to 65535).`, 'ERR_MQTT_URL_PORT')
  }
  const endpoint = { protocol, host, port }
  if (opts.unixSocket) endpoint.unixPath = opts.path
  return endpoint
}

module.exports = { normalize, checkSupported, resolveEndpoint, DEFAULT_PORTS }
