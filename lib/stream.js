'use strict'
// The Node-stream path (DESIGN.md §2, "two wires, one session"): when the options ask for what
// only Node's networking can do (an agent or another connection-making `ws` option, TLS options
// only OpenSSL has, a PEM key in OpenSSL's legacy encrypted format), or the application hands
// its own stream (`new MqttClient(streamBuilder, options)`, `createWebsocket`), the connection
// runs over a Node `Duplex` made as MQTT.js makes it: `tls.connect`, or the `ws` package's
// WebSocket. The session, its events and its guarantees are the native path's
// (src/driver/stream.rs): only the bytes' way differs.

const tls = require('tls')
const net = require('net')
const { Duplex } = require('stream')
const native = require('./native')
const { socksStream } = require('./socks')
const { codedError } = require('./errors')

const OP = native.streamOps()

/** `tls.connect` options only OpenSSL has: rustls cannot honour them, Node's TLS can. */
const OPENSSL_TLS = ['pfx', 'checkServerIdentity', 'secureContext', 'ciphers', 'ecdhCurve',
  'secureProtocol', 'crl', 'sigalgs', 'session', 'pskCallback', 'privateKeyEngine',
  'privateKeyIdentifier', 'clientCertEngine', 'secureOptions', 'dhparam']
/** `ws` client options that change how the connection is made (Node's `http`/`https` do it). */
const WS_CONNECTION = ['agent', 'createConnection', 'followRedirects', 'maxRedirects', 'socketPath',
  'lookup', 'localAddress', 'localPort', 'family', 'hints', 'finishRequest', 'generateMask', 'protocolVersion']

const SECURE = new Set(['mqtts', 'ssl', 'tls'])

function isSet (value) {
  return value !== undefined && value !== null && value !== false
}

/** Whether `key` (string, Buffer, `{ pem }` or an array of them) holds a legacy-encrypted PEM key. */
function hasLegacyEncryptedKey (key) {
  if (key === undefined || key === null) return false
  if (Array.isArray(key)) return key.some(hasLegacyEncryptedKey)
  if (typeof key === 'object' && !(key instanceof Uint8Array) && key.pem !== undefined) return hasLegacyEncryptedKey(key.pem)
  const text = typeof key === 'string' ? key : key instanceof Uint8Array ? Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1') : ''
  return text.includes('Proc-Type: 4,ENCRYPTED')
}

/** The first option of `source` that only Node's TLS can honour, or null. */
function opensslOption (source, prefix) {
  for (const key of OPENSSL_TLS) {
    if (isSet(source[key])) return prefix + key
  }
  if (hasLegacyEncryptedKey(source.key)) return `${prefix}key (legacy encrypted PEM)`
  return null
}

/**
 * `tls.connect` options of the socket itself that MQTT.js's mqtts:// honours (it hands all its
 * options to `tls.connect`) and the native transport does not: the local end to bind. (`lookup`,
 * `family` and `hints` are honoured natively, through lib/dial.js.)
 */
const TLS_SOCKET = ['localAddress', 'localPort']

function socketOption (source) {
  for (const key of TLS_SOCKET) {
    if (isSet(source[key])) return key
  }
  return null
}

/**
 * Why this connection must take the stream path (the option that asks for it), or null when
 * the native transports serve. `endpoint` is what `resolveEndpoint` made of the options (the
 * `wss` TLS options are copied into `wsOptions` by then, as MQTT.js does).
 */
function streamPathReason (opts, endpoint) {
  const protocol = endpoint.protocol
  if (SECURE.has(protocol)) return opensslOption(opts, '') || socketOption(opts)
  if (endpoint.ws) {
    if (typeof opts.createWebsocket === 'function') return 'createWebsocket'
    if (isSet(opts.forceNativeWebSocket)) return 'forceNativeWebSocket'
    const wsOptions = opts.wsOptions || {}
    for (const key of WS_CONNECTION) {
      if (isSet(wsOptions[key])) return `wsOptions.${key}`
    }
    if (/^wss:/i.test(endpoint.ws.url)) return opensslOption(wsOptions, 'wsOptions.')
  }
  return null
}

/** A Node error as `streamClosed` takes it. */
function errorInfo (err) {
  if (!err || typeof err !== 'object') return { code: 'ERR_MQTT_STREAM', message: String(err) }
  const info = { message: String(err.message || err) }
  if (typeof err.code === 'string') info.code = err.code
  if (typeof err.syscall === 'string') info.syscall = err.syscall
  if (typeof err.address === 'string') info.address = err.address
  if (Number.isInteger(err.port) && err.port >= 0 && err.port <= 65535) info.port = err.port
  return info
}

let WebSocket = null
function ws () {
  if (!WebSocket) WebSocket = require('ws')
  return WebSocket
}

/** MQTT.js's tls builder: `tls.connect` with the client's options, and a name to check. */
function tlsStream (opts, endpoint) {
  const options = { ...opts, host: endpoint.host, port: endpoint.port }
  delete options.path
  if (net.isIP(options.host) === 0 && !options.servername) options.servername = options.host
  options.rejectUnauthorized = options.rejectUnauthorized !== false
  // Through `socksProxy` (MQTT.js's tls builder goes through it too): TLS over the tunnel.
  if (endpoint.socks) options.socket = socksStream(endpoint.socks, endpoint.host, endpoint.port)
  const socket = tls.connect(options)
  if (!endpoint.socks) socket.setNoDelay(true)
  socket.on('secureConnect', () => {
    if (options.rejectUnauthorized && !socket.authorized) {
      const err = codedError(`TLS not authorized: ${socket.authorizationError || 'the server certificate was not verified'}`,
        typeof socket.authorizationError === 'string' ? socket.authorizationError : 'ERR_TLS_NOT_AUTHORIZED')
      socket.destroy(err)
    }
  })
  return socket
}

/**
 * A Duplex over a WHATWG WebSocket (Node's global `WebSocket`, for `forceNativeWebSocket`, as
 * MQTT.js's browser builder uses it).
 */
function whatwgStream (url, subprotocol) {
  const socket = new globalThis.WebSocket(url, [subprotocol])
  socket.binaryType = 'arraybuffer'
  const pending = []
  const stream = new Duplex({
    write (chunk, encoding, callback) {
      if (socket.readyState === 1) {
        socket.send(chunk)
        callback()
      } else {
        pending.push([chunk, callback])
      }
    },
    read () {},
    final (callback) {
      socket.close()
      callback()
    },
    destroy (err, callback) {
      if (socket.readyState <= 1) socket.close()
      callback(err)
    }
  })
  socket.addEventListener('open', () => {
    for (const [chunk, callback] of pending.splice(0)) {
      socket.send(chunk)
      callback()
    }
  })
  socket.addEventListener('message', (event) => {
    const data = event.data
    stream.push(typeof data === 'string' ? Buffer.from(data) : Buffer.from(data))
  })
  socket.addEventListener('error', (event) => {
    const err = codedError(`WebSocket error: ${(event && event.message) || 'the connection failed'}`, 'ERR_MQTT_WS')
    stream.destroy(err)
  })
  socket.addEventListener('close', () => {
    stream.push(null)
    stream.destroy()
  })
  return stream
}

/** MQTT.js's ws builder: the `ws` package (or `createWebsocket`), wrapped as a stream. */
function wsStream (opts, endpoint) {
  const { url, subprotocol } = endpoint.ws
  if (isSet(opts.forceNativeWebSocket) && typeof opts.createWebsocket !== 'function') {
    if (typeof globalThis.WebSocket !== 'function') {
      const err = codedError('forceNativeWebSocket needs the global WebSocket of Node.js 22 or later', 'ERR_MQTT_UNSUPPORTED')
      throw err
    }
    return whatwgStream(url, subprotocol)
  }
  const socket = typeof opts.createWebsocket === 'function'
    ? opts.createWebsocket(url, [subprotocol], opts)
    : new (ws())(url, [subprotocol], opts.wsOptions)
  const stream = ws().createWebSocketStream(socket, opts.wsOptions)
  stream.url = url
  socket.on('close', () => stream.destroy())
  return stream
}

/**
 * Holds and releases the reads of the socket under `stream`, for the driver's polling mode
 * (src/driver/polling.rs, src/driver/stream.rs). Only a `net` or `tls` socket has a handle
 * that can stop reading; any other stream keeps reading, and its chunks wait for the driver's
 * next tick.
 * - `hold()`, for lazy reads (`ReadSchedule`): while a saturated connection receives only QoS 0
 *   publishes, the driver decodes it once a millisecond, and after the first chunk of each such
 *   interval (`streamFeed` returns true) the socket stops reading until the driver releases it,
 *   so that what the broker sends meanwhile waits in the kernel and comes in one read.
 * - `take()`: while a plain `net` socket is in polling mode, the driver reads its descriptor
 *   itself, once a tick, as it reads its own sockets; Node's handle stops reading and leaves
 *   epoll, so that each segment the broker sends no longer wakes the loop for a read of its
 *   own. Only where nothing else reads the stream: no other 'data' or 'readable' listener,
 *   flowing, nothing buffered.
 * - `release()` gives the reads back to Node (the driver hands an end of stream back the same
 *   way: Node then reads it and ends the stream as usual).
 *
 * Node's own `reading` flag is left as it is: while it says the socket reads, Node does not
 * start reading again behind our back, and when Node has stopped reading itself
 * (back-pressure from a paused stream), a release does not override it.
 */
function socketReads (stream) {
  let held = false
  const handle = () => {
    const h = stream._handle
    return h && typeof h.readStop === 'function' && typeof h.readStart === 'function' ? h : null
  }
  const hold = () => {
    const h = handle()
    if (held || !h || !h.reading || stream.destroyed) return
    held = true
    h.readStop()
  }
  const readByUsAlone = () => stream instanceof net.Socket && !stream.encrypted && !stream.connecting &&
    stream.readableFlowing === true && stream.readableLength === 0 &&
    stream.listenerCount('data') === 1 && stream.listenerCount('readable') === 0
  return {
    hold,
    take () {
      const h = handle()
      const fd = h && h.fd
      if (held || !Number.isInteger(fd) || fd < 0 || !readByUsAlone()) return -1
      hold()
      return held ? fd : -1
    },
    release () {
      if (!held) return
      held = false
      const h = handle()
      if (h && h.reading && !stream.destroyed) h.readStart()
    }
  }
}

/** The Duplex for this attempt, as MQTT.js builds it. */
function openStream (client, endpoint) {
  const opts = client.options
  if (client._streamBuilder) return client._streamBuilder(client)
  if (endpoint.ws) return wsStream(opts, endpoint)
  // The only other reason to be here: TLS options only Node's TLS has (streamPathReason).
  return tlsStream(opts, endpoint)
}

/**
 * Runs one connection attempt of `client` over a Node stream: builds the stream, starts the
 * native session on it (CONNECT is written at once; Node's streams keep it until connected)
 * and passes the stream's data and events to the driver. A stream that cannot be built is one
 * failed attempt, reported and retried like any other.
 */
function connectStream (client, endpoint, connect, auth, onBatch) {
  let stream
  try {
    stream = openStream(client, endpoint)
    if (!stream || typeof stream.write !== 'function' || typeof stream.on !== 'function') {
      throw codedError('The streamBuilder must return a Duplex stream', 'ERR_MQTT_INVALID_OPTION', TypeError)
    }
  } catch (err) {
    // MQTT.js builds the first stream inside its constructor, so the application's builder
    // throwing there reaches the code that made the client. Later, MQTT.js would throw from a
    // timer and take the process down; here it is one failed attempt, reported and retried.
    if (client._constructing && client._streamBuilder) throw err
    // A stream that takes nothing and fails at once: the attempt goes the usual way.
    stream = new Duplex({ read () {}, write (chunk, encoding, callback) { callback() } })
    process.nextTick(() => stream.destroy(err))
  }
  const handle = client._handle
  // MQTT.js writes each packet corked until the next tick (mqtt-packet's writeToStream), so the
  // stream sees the bytes of a tick, CONNECT's included, only after the code that made them has
  // returned: an application may attach its handlers to the stream after `new MqttClient()`.
  let corked = false
  const uncork = () => {
    corked = false
    stream.uncork()
  }
  const reads = socketReads(stream)
  const port = (op, bytes) => {
    switch (op) {
      case OP.WRITE:
        if (stream.destroyed || stream.writableEnded) return true
        if (!corked && typeof stream.cork === 'function') {
          corked = true
          stream.cork()
          process.nextTick(uncork)
        }
        return stream.write(bytes)
      case OP.PAUSE: stream.pause(); break
      case OP.RESUME: stream.resume(); break
      case OP.RELEASE_READS: reads.release(); break
      case OP.TAKE_READS: return reads.take()
      case OP.END:
        if (!stream.destroyed && !stream.writableEnded) stream.end()
        break
      case OP.DESTROY: stream.destroy(); break
    }
    return true
  }
  // The application's stream takes no diagnosis: nothing says where it leads.
  const diagnose = !client._streamBuilder
  const id = native.clientConnectStream(handle, endpoint, diagnose, connect, auth, onBatch, port)
  let done = false
  const finish = (err) => {
    if (done) return
    done = true
    native.streamClosed(handle, id, err ? errorInfo(err) : null)
  }
  stream.on('data', (chunk) => {
    if (native.streamFeed(handle, id, chunk instanceof Uint8Array ? chunk : Buffer.from(chunk))) reads.hold()
  })
  stream.on('drain', () => native.streamDrain(handle, id))
  // The driver reads a saturated socket itself only while nothing else does (socketReads): a
  // reader that comes later, or a pause, gets the reads back at once.
  const otherReader = (event) => {
    if (event === 'data' || event === 'readable') native.streamReturnReads(handle, id)
  }
  stream.on('newListener', otherReader)
  stream.on('pause', () => native.streamReturnReads(handle, id))
  stream.on('error', finish)
  stream.on('end', () => finish(null))
  stream.on('close', () => finish(null))
  return stream
}

module.exports = { streamPathReason, connectStream, OPENSSL_TLS, WS_CONNECTION }
