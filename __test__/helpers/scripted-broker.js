'use strict'

// A programmable MQTT server for tests that need exact control of what the client sees: every
// packet the client sends is parsed (mqtt-packet) and kept, and the test decides what to send
// back, packet by packet or as raw bytes. Optional automatic answers cover the boring parts.
//
//   const broker = await startScriptedBroker({ protocolVersion: 5, autoConnack: true })
//   t.after(() => broker.close())
//   const client = connect(broker.url, { protocolVersion: 5 })
//   const conn = await broker.nextConnection()
//   const connect = await conn.nextPacket('connect')
//   conn.send({ cmd: 'publish', topic: 'a', payload: 'x', qos: 0 })
//   const pub = await conn.nextPacket('publish')

const fs = require('node:fs')
const http = require('node:http')
const https = require('node:https')
const net = require('node:net')
const tls = require('node:tls')
const { EventEmitter } = require('node:events')
const mqttPacket = require('mqtt-packet')
const { generate } = require('./packets.js')

const DEFAULT_TIMEOUT_MS = 5000

/**
 * A FIFO of items that can be awaited, optionally filtered: `next(match)` takes the first queued
 * item that matches (leaving the others in place) or waits for one.
 */
class WaitQueue {
  constructor (what) {
    this.what = what
    this.items = []
    this.waiters = []
    this.closedError = null
  }

  push (item) {
    for (let i = 0; i < this.waiters.length; i++) {
      const w = this.waiters[i]
      if (w.match(item)) {
        this.waiters.splice(i, 1)
        clearTimeout(w.timer)
        w.resolve(item)
        return
      }
    }
    this.items.push(item)
  }

  next (match, label, timeoutMs) {
    const i = this.items.findIndex(match)
    if (i !== -1) return Promise.resolve(this.items.splice(i, 1)[0])
    if (this.closedError) return Promise.reject(new Error(`${this.closedError} while waiting for ${label}`))
    return new Promise((resolve, reject) => {
      const waiter = { match, resolve, reject, label, timer: null }
      waiter.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1)
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${label}`))
      }, timeoutMs)
      this.waiters.push(waiter)
    })
  }

  /** Rejects every present and future wait that the queue cannot satisfy. */
  close (reason) {
    this.closedError = reason
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer)
      w.reject(new Error(`${reason} while waiting for ${w.label}`))
    }
  }
}

/**
 * One client connection to the scripted broker.
 *
 * Events: `packet` (packet) for every parsed packet, before automatic answers; `close`;
 * `parseError` (err) when the client sent bytes mqtt-packet cannot parse (also kept in
 * `errors`).
 */
class ScriptedConnection extends EventEmitter {
  constructor (socket, broker) {
    super()
    /** The server-side socket. */
    this.socket = socket
    /** Every packet received, in order. */
    this.packets = []
    /** Parse errors, in order. */
    this.errors = []
    /** Raw bytes received, in order (Buffers). */
    this.received = []
    /** The protocol version used to generate packets: from the CONNECT once it arrived. */
    this.protocolVersion = broker.options.protocolVersion
    /** Whether the socket has closed. */
    this.isClosed = false
    this._broker = broker
    this._queue = new WaitQueue('packet')
    /** Resolves when the socket closes. */
    this.closed = new Promise((resolve) => this.once('close', resolve))

    this._parser = mqttPacket.parser({ protocolVersion: broker.options.protocolVersion })
    this._parser.on('packet', (packet) => this._onPacket(packet))
    this._parser.on('error', (err) => {
      this.errors.push(err)
      this.emit('parseError', err)
    })
    socket.on('data', (chunk) => {
      this.received.push(chunk)
      this._parser.parse(chunk)
    })
    socket.on('error', () => {}) // a reset by the client shows as close
    socket.on('close', () => {
      this.isClosed = true
      this._queue.close('the connection closed')
      this.emit('close')
    })
  }

  _onPacket (packet) {
    if (packet.cmd === 'connect') this.protocolVersion = packet.protocolVersion
    this.packets.push(packet)
    this._queue.push(packet)
    this.emit('packet', packet)
    if (!this.isClosed && !this.socket.destroyed) this._autoAnswer(packet)
  }

  _autoAnswer (packet) {
    const o = this._broker.options
    const v5 = this.protocolVersion === 5
    switch (packet.cmd) {
      case 'connect': {
        if (!o.autoConnack) return
        const custom = typeof o.autoConnack === 'object' ? o.autoConnack : {}
        const ack = { cmd: 'connack', sessionPresent: !!custom.sessionPresent }
        const code = custom.reasonCode ?? custom.returnCode ?? 0
        if (v5) {
          ack.reasonCode = code
          if (custom.properties) ack.properties = custom.properties
        } else {
          ack.returnCode = code
        }
        this.send(ack)
        return
      }
      case 'pingreq':
        if (o.autoPingresp) this.send({ cmd: 'pingresp' })
        return
      case 'publish':
        if (!o.autoPuback) return
        if (packet.qos === 1) this.send({ cmd: 'puback', messageId: packet.messageId, reasonCode: 0 })
        else if (packet.qos === 2) this.send({ cmd: 'pubrec', messageId: packet.messageId, reasonCode: 0 })
        return
      case 'pubrel':
        if (o.autoPuback) this.send({ cmd: 'pubcomp', messageId: packet.messageId, reasonCode: 0 })
        return
      case 'pubrec':
        if (o.autoPuback) this.send({ cmd: 'pubrel', messageId: packet.messageId, reasonCode: 0 })
        return
      case 'subscribe':
        if (o.autoPuback) {
          this.send({ cmd: 'suback', messageId: packet.messageId, granted: packet.subscriptions.map((s) => s.qos) })
        }
        return
      case 'unsubscribe':
        if (o.autoPuback) {
          const ack = { cmd: 'unsuback', messageId: packet.messageId }
          if (v5) ack.granted = packet.unsubscriptions.map(() => 0)
          this.send(ack)
        }
    }
  }

  /**
   * The next received packet not yet taken by nextPacket(), optionally the next one whose `cmd`
   * is `cmd` (or which satisfies `cmd` when it is a function); packets skipped over stay
   * available. Rejects after `timeoutMs` (default 5 s) or when the connection closes.
   * @param {string | ((packet: object) => boolean)} [cmd]
   * @param {number} [timeoutMs]
   * @returns {Promise<object>}
   */
  nextPacket (cmd, timeoutMs = DEFAULT_TIMEOUT_MS) {
    const match = typeof cmd === 'function' ? cmd : cmd ? (p) => p.cmd === cmd : () => true
    const label = typeof cmd === 'string' ? `a ${cmd.toUpperCase()} packet` : 'a packet'
    return this._queue.next(match, label, timeoutMs)
  }

  /**
   * Sends a packet given in mqtt-packet's generate() shape, generated for the connection's
   * protocol version (or `protocolVersion`). Throws when mqtt-packet refuses it.
   * @param {object} packet
   * @param {number} [protocolVersion]
   */
  send (packet, protocolVersion = this.protocolVersion) {
    const bytes = generate(packet, protocolVersion)
    this.socket.write(bytes)
    return bytes
  }

  /** Writes raw bytes. */
  sendRaw (bytes) {
    this.socket.write(bytes)
  }

  /** Half-closes (FIN) after pending writes. */
  end () {
    this.socket.end()
  }

  /** Closes the connection at once. */
  destroy () {
    this.socket.destroy()
  }
}

/**
 * Starts a scripted MQTT broker on a free 127.0.0.1 port.
 *
 * @param {object} [options]
 * @param {3|4|5} [options.protocolVersion] until a CONNECT says otherwise (default 4)
 * @param {boolean | { returnCode?: number, reasonCode?: number, sessionPresent?: boolean,
 *   properties?: object }} [options.autoConnack] answer CONNECT with CONNACK
 * @param {boolean} [options.autoPingresp] answer PINGREQ with PINGRESP
 * @param {boolean} [options.autoPuback] answer PUBLISH QoS 1 with PUBACK, QoS 2 with PUBREC,
 *   PUBREL with PUBCOMP, PUBREC with PUBREL, SUBSCRIBE with a SUBACK granting the requested QoS,
 *   UNSUBSCRIBE with UNSUBACK
 * @param {string} [options.host]
 * @param {number} [options.port] listen on this port (say, a stopped broker's, to restart it); default a free one
 * @param {'tcp'|'tls'|'ws'|'wss'} [options.transport] default 'tcp'; secure ones use the test CA's
 *   certificate for localhost and 127.0.0.1, and `broker.clientOptions` holds the `ca` to trust
 * @param {string} [options.serverCert] the name of another certificate of makeCerts() to present
 * The options object is kept as `broker.options`; changing it changes later answers.
 */
async function startScriptedBroker (options = {}) {
  const opts = { protocolVersion: 4, autoConnack: false, autoPingresp: false, autoPuback: false, ...options }
  const host = opts.host || '127.0.0.1'
  const connections = []
  const sockets = new Set()
  const queue = new WaitQueue('connection')
  const listeners = []

  const broker = {
    options: opts,
    host,
    port: 0,
    url: '',
    /** Every connection accepted so far, in order. */
    connections,
    /** Calls `fn(conn)` for every new connection, before any of its data is read. */
    onConnection (fn) {
      listeners.push(fn)
    },
    /**
     * The next connection not yet returned by nextConnection(); rejects after `timeoutMs`.
     * @param {number} [timeoutMs]
     * @returns {Promise<ScriptedConnection>}
     */
    nextConnection (timeoutMs = DEFAULT_TIMEOUT_MS) {
      return queue.next(() => true, 'a connection', timeoutMs)
    },
    /** Stops listening and destroys every connection. */
    close: null
  }

  const accept = (socket) => {
    if (typeof socket.setNoDelay === 'function') socket.setNoDelay(true)
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    const conn = new ScriptedConnection(socket, broker)
    connections.push(conn)
    for (const fn of listeners) fn(conn)
    queue.push(conn)
  }

  // The transport: plain TCP by default; TLS, WebSocket (path /mqtt, subprotocol mqtt) and
  // WebSocket over TLS with a certificate from the test CA (clients need `broker.clientOptions`).
  const transport = opts.transport || 'tcp'
  const secure = transport === 'tls' || transport === 'wss'
  let tlsOptions = null
  if (secure) {
    const { makeCerts } = require('./certs')
    const certs = makeCerts()
    // `serverCert` (an entry of makeCerts(), e.g. 'cnOnly') replaces the default certificate.
    const cert = opts.serverCert ? certs[opts.serverCert] : certs.server
    tlsOptions = { cert: fs.readFileSync(cert.certFile), key: fs.readFileSync(cert.keyFile) }
    broker.clientOptions = { ca: certs.ca }
  } else {
    broker.clientOptions = {}
  }
  let server
  if (transport === 'tcp') {
    server = net.createServer(accept)
  } else if (transport === 'tls') {
    server = tls.createServer(tlsOptions, accept)
  } else if (transport === 'ws' || transport === 'wss') {
    const { WebSocketServer, createWebSocketStream } = require('ws')
    server = transport === 'wss' ? https.createServer(tlsOptions) : http.createServer()
    const wss = new WebSocketServer({ server, path: '/mqtt', handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : false) })
    wss.on('connection', (ws) => {
      const stream = createWebSocketStream(ws)
      stream.on('error', () => {})
      accept(stream)
    })
    server.on('connection', (socket) => {
      sockets.add(socket)
      socket.once('close', () => sockets.delete(socket))
    })
  } else {
    throw new Error(`unknown scripted broker transport ${transport}`)
  }

  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port || 0, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  broker.port = server.address().port
  const scheme = { tcp: 'mqtt', tls: 'mqtts', ws: 'ws', wss: 'wss' }[transport]
  broker.url = `${scheme}://${host}:${broker.port}${transport.startsWith('ws') ? '/mqtt' : ''}`

  let closing = null
  broker.close = () => {
    if (!closing) {
      closing = new Promise((resolve) => {
        queue.close('the broker closed')
        server.close(() => resolve())
        for (const s of sockets) s.destroy()
      })
    }
    return closing
  }
  return broker
}

/**
 * Ends a scenario's clients at once, then closes its broker (the common teardown of the
 * differential scenarios).
 */
async function endAllAndClose (clients, broker) {
  for (const c of clients) {
    try {
      c.end(true)
    } catch {
      // MQTT.js cannot end a client that never had a stream (manualConnect).
    }
  }
  await broker.close()
}

module.exports = { startScriptedBroker, ScriptedConnection, endAllAndClose }
