'use strict'
// MQTT.js's `connect(url, opts)` option handling (research §2), plus the checks MQTT.js lacks.
const url = require('url')
const { codedError } = require('./errors')

/** Every protocol MQTT.js registers in Node (all of them are supported). */
const KNOWN = new Set(['mqtt', 'tcp', 'mqtts', 'ssl', 'tls', 'ws', 'wss'])
const DEFAULT_PORTS = { mqtt: 1883, tcp: 1883, mqtts: 8883, ssl: 8883, tls: 8883, ws: 80, wss: 443 }
/**
 * MQTT.js's mini-program schemes (WeChat `wx`/`wxs`, Alipay `ali`/`alis`) are WebSocket
 * transports of those platforms' own; in Node they have none. mqtt-native takes them as the
 * WebSocket they are (COMPATIBILITY.md) rather than MQTT.js's fallback to plain TCP.
 */
const MINI_PROGRAM = { wx: 'ws', wxs: 'wss', ali: 'ws', alis: 'wss' }

/**
 * A string such as `localhost:1883` parses with `localhost:` as its scheme; MQTT.js then dials a
 * host named `1883`. Refuse it and say what to write instead.
 */
function checkScheme (brokerUrl, parsed) {
  const scheme = parsed.protocol ? parsed.protocol.replace(/:$/, '') : null
  const suggestion = (hostPort) =>
    `Write "mqtt://${hostPort}" for MQTT over TCP, or "ws://${hostPort}/mqtt" for MQTT over WebSocket.`
  if (!scheme) {
    // MQTT.js's exact message (code may match it); what to write instead is in `hint`.
    const err = codedError('Missing protocol', 'ERR_MQTT_URL_NO_SCHEME')
    err.hint = `The broker URL "${brokerUrl}" has no scheme. ${suggestion(brokerUrl.replace(/^\/+/, ''))}`
    throw err
  }
  const base = scheme.replace('+unix', '')
  if (!KNOWN.has(base) && /^\d+$/.test(parsed.hostname || '') && !brokerUrl.includes('//')) {
    throw codedError(`Missing protocol in broker URL "${brokerUrl}": "${scheme}" was read as the scheme. ${suggestion(brokerUrl)}`, 'ERR_MQTT_URL_NO_SCHEME')
  }
  if (!KNOWN.has(base) && !MINI_PROGRAM[base]) {
    throw codedError(`Unknown protocol "${scheme}" in broker URL "${brokerUrl}". Use mqtt://, mqtts://, ws:// or wss://.`, 'ERR_MQTT_URL_SCHEME')
  }
  if (parsed.port != null && parsed.port !== '') {
    const port = Number(parsed.port)
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw codedError(`Port ${parsed.port} in broker URL "${brokerUrl}" is out of range (1 to 65535).`, 'ERR_MQTT_URL_PORT')
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
    if (!opts.protocol) throw codedError('Missing protocol', 'ERR_MQTT_URL_NO_SCHEME')
    opts.protocol = opts.protocol.replace(/:$/, '')
  }
  // Before the path is dropped for non-WebSocket schemes, so that ali:// keeps it as ws:// does.
  if (MINI_PROGRAM[opts.protocol]) opts.protocol = MINI_PROGRAM[opts.protocol]
  // MQTT.js: `opts.unixSocket || opts.protocol?.includes('+unix')` (undefined without a protocol).
  opts.unixSocket = opts.unixSocket || (opts.protocol == null ? undefined : String(opts.protocol).includes('+unix'))
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
    if (!opts.protocol) throw codedError('Missing secure protocol key', 'ERR_MQTT_URL_NO_SCHEME')
    if (!['mqtts', 'wss', 'wxs', 'alis'].includes(opts.protocol)) {
      const upgrade = { mqtt: 'mqtts', ws: 'wss', wx: 'wxs', ali: 'alis' }[opts.protocol]
      if (!upgrade) throw codedError(`Unknown protocol for secure connection: "${opts.protocol}"!`, 'ERR_MQTT_URL_SCHEME')
      opts.protocol = upgrade
    }
  }
  if (!KNOWN.has(opts.protocol)) {
    // MQTT.js falls back to the first registered protocol (secure ones for mqtts/wss).
    opts.protocol = ['mqtts', 'wss'].includes(opts.protocol) ? 'mqtts' : 'mqtt'
  }
  if (opts.clean === false && !opts.clientId) throw codedError('Missing clientId for unclean clients', 'ERR_MQTT_INVALID_OPTION')
  if (opts.protocol) opts.defaultProtocol = opts.protocol
  return opts
}

const SECURE = new Set(['mqtts', 'ssl', 'tls', 'wss'])
const WS = new Set(['ws', 'wss'])

/** `wss` copies these from the top-level options into `wsOptions`, as MQTT.js does in Node. */
const WSS_COPIED = ['rejectUnauthorized', 'ca', 'cert', 'key', 'pfx', 'passphrase']

function unsupported (message) {
  return codedError(`${message} (see COMPATIBILITY.md).`, 'ERR_MQTT_UNSUPPORTED')
}

const SOCKS_SCHEMES = {
  'socks5:': { version: 5, remoteDns: false },
  'socks5h:': { version: 5, remoteDns: true },
  'socks4:': { version: 4, remoteDns: false },
  'socks4a:': { version: 4, remoteDns: true }
}

function socksError (message) {
  return codedError(message, 'ERR_MQTT_SOCKS_URL')
}

/**
 * The endpoint's `socks` part from `socksProxy` (or MQTTJS_SOCKS_PROXY, which normalize()
 * copied there) and `socksTimeout`; null without a proxy. MQTT.js's URL rules: one of the four
 * schemes, an explicit port, no path, query or fragment. Unlike MQTT.js, `user:password@`
 * (SOCKS5) and `userid@` (SOCKS4) are used rather than dropped.
 */
function parseSocksProxy (value, timeout) {
  if (value === undefined || value === null || value === '' || value === false) return null
  if (typeof value !== 'string') {
    throw socksError(`The option "socksProxy" must be a URL string such as "socks5h://127.0.0.1:1080"; received ${typeof value}`)
  }
  const schemes = 'socks5://, socks5h://, socks4:// or socks4a://'
  let parsed
  try {
    parsed = new URL(value)
  } catch {
    throw socksError(`Invalid SOCKS proxy URL "${value}" (socksProxy or MQTTJS_SOCKS_PROXY): write it as socks5h://host:port (or ${schemes}).`)
  }
  const scheme = SOCKS_SCHEMES[parsed.protocol]
  if (!scheme) {
    throw socksError(`Unsupported SOCKS proxy scheme "${parsed.protocol.replace(/:$/, '')}" in "${value}" (socksProxy or MQTTJS_SOCKS_PROXY): use ${schemes}. HTTP proxies are not supported, by MQTT.js either.`)
  }
  const shown = `${parsed.protocol}//${parsed.host}`
  if ((parsed.pathname && parsed.pathname !== '/') || parsed.search || parsed.hash) {
    throw socksError(`The SOCKS proxy URL "${shown}${parsed.pathname}${parsed.search}${parsed.hash}" must not have a path, query or fragment: write ${shown}.`)
  }
  if (!parsed.hostname) throw socksError(`The SOCKS proxy URL "${value}" has no host: write ${parsed.protocol}//host:port.`)
  if (!parsed.port) {
    throw socksError(`The SOCKS proxy URL "${shown}" has no port: write ${shown}:1080 (or the port the proxy listens on).`)
  }
  const socks = {
    url: shown,
    version: scheme.version,
    remoteDns: scheme.remoteDns,
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: Number(parsed.port)
  }
  const username = decodeURIComponent(parsed.username)
  const password = decodeURIComponent(parsed.password)
  if (scheme.version === 4) {
    if (password) throw socksError(`SOCKS4 has no password: write ${parsed.protocol}//userid@${parsed.host} (a user id only), or use socks5:// for a user name and password.`)
    if (username) {
      if (Buffer.byteLength(username) > 255) throw socksError('The SOCKS4 user id is longer than 255 bytes.')
      socks.username = username
    }
  } else if (username || password) {
    if (!username || !password) {
      throw socksError(`SOCKS5 authentication needs both a user name and a password: write ${parsed.protocol}//user:password@${parsed.host}.`)
    }
    if (Buffer.byteLength(username) > 255 || Buffer.byteLength(password) > 255) {
      throw socksError('The SOCKS5 user name and password must each be at most 255 bytes.')
    }
    socks.username = username
    socks.password = password
  }
  if (timeout !== undefined && timeout !== null && timeout !== 0) {
    if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout < 0) {
      throw codedError(`The option "socksTimeout" must be a positive number of milliseconds; received ${String(timeout)}`, 'ERR_MQTT_SOCKS_OPTIONS')
    }
    socks.timeout = Math.ceil(timeout)
  }
  return socks
}

/** Refuses what cannot exist in Node (mini-program schemes) and malformed options, at once. */
function checkSupported (opts) {
  const protocols = opts.servers ? opts.servers.map((s) => s.protocol || opts.protocol) : [opts.protocol]
  for (const p of protocols) {
    if (MINI_PROGRAM[p]) {
      throw unsupported(`The ${p}:// scheme of mini-programs has no transport of its own in Node: write ${MINI_PROGRAM[p]}:// in servers[].protocol`)
    }
    if (!KNOWN.has(p)) {
      throw unsupported(`The ${p}:// transport is not supported by mqtt-native; use mqtt://, mqtts://, ws:// or wss://`)
    }
  }
  if (protocols.some((p) => !WS.has(p)) && !opts.unixSocket) {
    // Throws at once on a bad URL (MQTT.js fails every connection attempt instead).
    parseSocksProxy(opts.socksProxy, opts.socksTimeout)
  }
  if (opts.createWebsocket !== undefined && opts.createWebsocket !== null && typeof opts.createWebsocket !== 'function') {
    throw codedError('The option "createWebsocket" must be a function (url, protocols, options) => WebSocket', 'ERR_MQTT_INVALID_OPTION', TypeError)
  }
  if (opts.transformWsUrl !== undefined && opts.transformWsUrl !== null && typeof opts.transformWsUrl !== 'function') {
    throw codedError('The option "transformWsUrl" must be a function (url, options, client) => string', 'ERR_MQTT_INVALID_OPTION', TypeError)
  }
  // Options only Node's networking can honour (OpenSSL-only TLS options, ws agents, …) are not
  // refused: they select the Node-stream path (lib/stream.js).
}

/** PEM text(s) from a string, Buffer, Uint8Array, `{ pem, passphrase }` or an array of them. */
function pemList (value, name, out = [], passphrases = []) {
  if (value === undefined || value === null) return out
  if (Array.isArray(value)) {
    for (const v of value) pemList(v, name, out, passphrases)
  } else if (typeof value === 'string') {
    out.push(value)
  } else if (value instanceof Uint8Array) {
    out.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8'))
  } else if (typeof value === 'object' && value.pem !== undefined) {
    pemList(value.pem, name, out, passphrases)
    if (typeof value.passphrase === 'string') passphrases.push(value.passphrase)
  } else {
    throw codedError(`The TLS option "${name}" must be a string, a Buffer or an array of them (PEM); received ${typeof value}`, 'ERR_MQTT_TLS_OPTIONS', TypeError)
  }
  return out
}

/** ALPN protocol names from an array of strings/Buffers or a Buffer in wire format. */
function alpnList (value) {
  if (value === undefined || value === null) return undefined
  if (Array.isArray(value)) {
    return value.map((v) => (typeof v === 'string' ? v : Buffer.from(v).toString('latin1')))
  }
  if (value instanceof Uint8Array) {
    const names = []
    for (let i = 0; i < value.length;) {
      const len = value[i]
      names.push(Buffer.from(value.subarray(i + 1, i + 1 + len)).toString('latin1'))
      i += 1 + len
    }
    return names
  }
  throw codedError('The TLS option "ALPNProtocols" must be an array of strings or Buffers, or a Buffer', 'ERR_MQTT_TLS_OPTIONS', TypeError)
}

/** The TLS part of an endpoint, from Node's `tls.connect` options. */
function tlsOptions (source) {
  const passphrases = []
  const tls = { rejectUnauthorized: source.rejectUnauthorized !== false }
  const ca = pemList(source.ca, 'ca')
  const cert = pemList(source.cert, 'cert')
  const key = pemList(source.key, 'key', [], passphrases)
  if (ca.length) tls.ca = ca
  if (cert.length) tls.cert = cert
  if (key.length) tls.key = key
  const passphrase = typeof source.passphrase === 'string' ? source.passphrase : passphrases[0]
  if (passphrase !== undefined) tls.passphrase = passphrase
  if (typeof source.servername === 'string' && source.servername) tls.servername = source.servername
  const alpn = alpnList(source.ALPNProtocols)
  if (alpn) tls.ALPNProtocols = alpn
  if (typeof source.minVersion === 'string') tls.minVersion = source.minVersion
  if (typeof source.maxVersion === 'string') tls.maxVersion = source.maxVersion
  return tls
}

/** `wsOptions.headers` (and `origin`) as a list of `{ name, value }`. */
function wsHeaders (wsOptions) {
  const headers = []
  const given = wsOptions.headers || {}
  for (const name of Object.keys(given)) {
    const value = given[name]
    if (value === undefined || value === null) continue
    headers.push({ name, value: Array.isArray(value) ? value.join(', ') : String(value) })
  }
  if (typeof wsOptions.origin === 'string') headers.push({ name: 'Origin', value: wsOptions.origin })
  return headers
}

/**
 * Codes of failures that retrying cannot heal: certificate verification, a refused WebSocket
 * upgrade (HTTP 3xx/4xx), a URL that reaches the wrong kind of port, options that cannot be used.
 */
const UNHEALABLE_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_MQTT_TLS_CERTIFICATE',
  'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED',
  'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL', 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
  'ERR_MQTT_TLS_OPTIONS', 'ERR_MQTT_WS_UPGRADE_REFUSED', 'ERR_MQTT_WS_SUBPROTOCOL', 'ERR_MQTT_WS_URL',
  'ERR_MQTT_HTTP_PORT', 'ERR_MQTT_TLS_PORT', 'ERR_MQTT_PLAIN_PORT', 'ERR_MQTT_NOT_WEBSOCKET',
  'ERR_MQTT_UNSUPPORTED', 'ERR_UNSUPPORTED',
  'ERR_MQTT_SOCKS_URL', 'ERR_MQTT_SOCKS_OPTIONS', 'ERR_SOCKS_INVALID_OPTIONS', 'ERR_SOCKS_AUTH_FAILED',
  'ERR_SOCKS_AUTH_REQUIRED', 'ERR_SOCKS_PROTOCOL', 'ERR_SOCKS_NOT_ALLOWED', 'ERR_SOCKS_COMMAND_NOT_SUPPORTED'
])

/** Whether retrying the connection can fix the failure `err` (by its `code`). */
function isRetryable (err) {
  return !(err && typeof err.code === 'string' && UNHEALABLE_CODES.has(err.code))
}

/**
 * Where to connect for this attempt: the server `client._servers` chooses (MQTT.js's `servers`
 * rotation, or a redirection's target: lib/servers.js), else the options' hostname over host.
 */
function resolveEndpoint (client) {
  const opts = client.options
  const chosen = client._servers.next()
  // A redirection's target is used for this attempt without being written into the options.
  const redirect = chosen && client._servers.redirected ? chosen : null
  const protocol = opts.protocol
  if (opts.port === undefined || opts.port === null || opts.port === '') opts.port = DEFAULT_PORTS[protocol] || 1883
  const host = redirect ? redirect.host : opts.hostname || opts.host || 'localhost'
  if (!opts.unixSocket && !redirect) opts.hostname = host
  const port = redirect ? redirect.port : Number(opts.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw codedError(`Port ${opts.port} is out of range (1 to 65535).`, 'ERR_MQTT_URL_PORT')
  }
  const endpoint = { protocol, host, port }
  if (opts.unixSocket && !SECURE.has(protocol) && !WS.has(protocol)) endpoint.unixPath = opts.path
  if (WS.has(protocol)) {
    // MQTT.js's ws builder: defaults written into the options, then the URL
    // `protocol://hostname:port/path`, passed through transformWsUrl on every attempt.
    if (!opts.path) opts.path = '/'
    if (!opts.wsOptions) opts.wsOptions = {}
    const wsOptions = opts.wsOptions
    if (protocol === 'wss') {
      for (const key of WSS_COPIED) {
        if (Object.prototype.hasOwnProperty.call(opts, key) && !Object.prototype.hasOwnProperty.call(wsOptions, key)) {
          wsOptions[key] = opts[key]
        }
      }
    }
    // An IPv6 literal needs brackets in a URL (RFC 3986 §3.2.2); MQTT.js forgets them.
    const urlHost = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
    let wsUrl = `${protocol}://${urlHost}:${port}${opts.path}`
    if (typeof opts.transformWsUrl === 'function') {
      wsUrl = opts.transformWsUrl(wsUrl, opts, client)
      if (typeof wsUrl !== 'string') {
        throw codedError(`transformWsUrl must return a string URL; it returned ${wsUrl === null ? 'null' : typeof wsUrl}`, 'ERR_MQTT_INVALID_OPTION', TypeError)
      }
    }
    endpoint.ws = {
      url: wsUrl,
      subprotocol: opts.protocolId === 'MQIsdp' && opts.protocolVersion === 3 ? 'mqttv3.1' : 'mqtt',
      headers: wsHeaders(wsOptions)
    }
    if (/^wss:/i.test(wsUrl)) endpoint.tls = tlsOptions(wsOptions)
  } else if (SECURE.has(protocol)) {
    // MQTT.js's tls builder normalises rejectUnauthorized in the options.
    opts.rejectUnauthorized = opts.rejectUnauthorized !== false
    endpoint.tls = tlsOptions(opts)
  }
  // MQTT.js's tcp and tls builders go through socksProxy; its ws builder and unix sockets do not.
  if (!WS.has(protocol) && !endpoint.unixPath) {
    const socks = parseSocksProxy(opts.socksProxy, opts.socksTimeout)
    if (socks) endpoint.socks = socks
  }
  return endpoint
}

module.exports = { normalize, checkSupported, resolveEndpoint, parseSocksProxy, isRetryable, UNHEALABLE_CODES, DEFAULT_PORTS }
