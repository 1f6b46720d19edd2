'use strict'
// SOCKS for the Node-stream path (lib/stream.js): a `mqtts://` connection whose TLS options need
// Node's TLS and whose `socksProxy` says to go through a proxy. The native path does the same
// handshake in Rust (src/transport/socks.rs); this one hands Node's `tls.connect` a Duplex that
// carries nothing until the proxy has connected it (RFC 1928, RFC 1929, SOCKS4 and 4a).

const net = require('net')
const dns = require('dns')
const { Duplex } = require('stream')
const { codedError } = require('./errors')

function socksError (code, message) {
  return codedError(message, code)
}

/** SOCKS5 reply codes (RFC 1928 §6) as the native path names them. */
const SOCKS5_REPLIES = {
  1: ['ERR_SOCKS_GENERAL_FAILURE', 'general SOCKS server failure'],
  2: ['ERR_SOCKS_NOT_ALLOWED', 'connection not allowed by ruleset'],
  3: ['ERR_SOCKS_NETWORK_UNREACHABLE', 'network unreachable'],
  4: ['ERR_SOCKS_HOST_UNREACHABLE', 'host unreachable'],
  5: ['ERR_SOCKS_CONNECTION_REFUSED', 'connection refused'],
  6: ['ERR_SOCKS_TTL_EXPIRED', 'TTL expired'],
  7: ['ERR_SOCKS_COMMAND_NOT_SUPPORTED', 'command not supported'],
  8: ['ERR_SOCKS_ADDRESS_TYPE_NOT_SUPPORTED', 'address type not supported']
}

/** The address part of a SOCKS5 request: an IP literal, or the name for the proxy to resolve. */
function socks5Address (host) {
  const family = net.isIP(host)
  if (family === 4) return Buffer.from([1, ...host.split('.').map(Number)])
  if (family === 6) {
    const bytes = []
    const [head, tail] = host.split('::')
    const groups = (s) => (s ? s.split(':') : [])
    const h = groups(head)
    const t = tail === undefined ? [] : groups(tail)
    const all = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t]
    for (const g of all) {
      const v = parseInt(g, 16)
      bytes.push(v >> 8, v & 0xff)
    }
    return Buffer.from([4, ...bytes])
  }
  const name = Buffer.from(host)
  if (name.length > 255) throw socksError('ERR_SOCKS_INVALID_OPTIONS', `The host name ${host} is too long for SOCKS`)
  return Buffer.concat([Buffer.from([3, name.length]), name])
}

function portBytes (port) {
  return Buffer.from([port >> 8, port & 0xff])
}

/**
 * A Duplex to `host:port` through the proxy `socks` (lib/options.js `parseSocksProxy`): writes
 * wait until the proxy has connected; a refusal, a protocol error or `socks.timeout` destroys
 * it with an error whose `code` is the native path's.
 */
function socksStream (socks, host, port) {
  const socket = net.connect(socks.port, socks.host)
  socket.setNoDelay(true)
  let ready = false
  const pending = []
  const stream = new Duplex({
    read () {
      if (ready) socket.resume()
    },
    write (chunk, encoding, callback) {
      if (ready) socket.write(chunk, callback)
      else pending.push([chunk, callback])
    },
    final (callback) {
      socket.end()
      callback()
    },
    destroy (err, callback) {
      socket.destroy()
      callback(err)
    }
  })
  const fail = (err) => stream.destroy(err)
  const timer = socks.timeout ? setTimeout(() => fail(socksError('ETIMEDOUT', `SOCKS proxy ${socks.url}: no connection within socksTimeout (${socks.timeout} ms)`)), socks.timeout) : null
  socket.on('error', fail)
  socket.on('close', () => stream.destroy())
  socket.on('end', () => stream.push(null))

  // The handshake reads the proxy's answers as a byte queue.
  let buffered = Buffer.alloc(0)
  let want = null
  const onData = (chunk) => {
    buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk
    while (want && buffered.length >= want.n) {
      const { n, then } = want
      want = null
      const bytes = buffered.subarray(0, n)
      buffered = buffered.subarray(n)
      try {
        then(bytes)
      } catch (err) {
        fail(err)
        return
      }
    }
  }
  const take = (n, then) => {
    want = { n, then }
    onData(Buffer.alloc(0))
  }
  socket.on('data', onData)

  const connected = () => {
    if (timer) clearTimeout(timer)
    socket.off('data', onData)
    ready = true
    if (buffered.length) stream.push(buffered)
    socket.on('data', (chunk) => {
      if (!stream.push(chunk)) socket.pause()
    })
    for (const [chunk, callback] of pending.splice(0)) socket.write(chunk, callback)
  }
  const protocolError = (what) => socksError('ERR_SOCKS_PROTOCOL', `SOCKS proxy ${socks.url}: ${what}`)

  const socks5 = (address) => {
    const methods = socks.username ? [0, 2] : [0]
    socket.write(Buffer.from([5, methods.length, ...methods]))
    take(2, ([version, method]) => {
      if (version !== 5) throw protocolError('not a SOCKS5 answer')
      if (method === 0xff) throw socksError('ERR_SOCKS_AUTH_REQUIRED', `SOCKS proxy ${socks.url} accepts none of our authentication methods${socks.username ? '' : ': it wants a user name and password (socks5://user:password@host:port)'}`)
      if (method === 2) {
        const user = Buffer.from(socks.username || '')
        const pass = Buffer.from(socks.password || '')
        socket.write(Buffer.concat([Buffer.from([1, user.length]), user, Buffer.from([pass.length]), pass]))
        take(2, ([, status]) => {
          if (status !== 0) throw socksError('ERR_SOCKS_AUTH_FAILED', `SOCKS proxy ${socks.url} refused the user name and password`)
          request5(address)
        })
      } else if (method === 0) {
        request5(address)
      } else {
        throw protocolError(`it chose authentication method ${method}, which was not offered`)
      }
    })
  }
  const request5 = (address) => {
    socket.write(Buffer.concat([Buffer.from([5, 1, 0]), address, portBytes(port)]))
    take(4, ([version, reply, , type]) => {
      if (version !== 5) throw protocolError('not a SOCKS5 reply')
      if (reply !== 0) {
        const [code, text] = SOCKS5_REPLIES[reply] || ['ERR_SOCKS_GENERAL_FAILURE', `reply ${reply}`]
        throw socksError(code, `SOCKS proxy ${socks.url} could not connect to ${host}:${port}: ${text}`)
      }
      const rest = (n) => take(n + 2, connected)
      if (type === 1) rest(4)
      else if (type === 4) rest(16)
      else if (type === 3) take(1, ([len]) => rest(len))
      else throw protocolError(`unknown address type ${type}`)
    })
  }
  const socks4 = (ip) => {
    const user = Buffer.from(socks.username || '')
    const parts = [Buffer.from([4, 1]), portBytes(port)]
    if (ip) parts.push(Buffer.from(ip.split('.').map(Number)), user, Buffer.from([0]))
    else parts.push(Buffer.from([0, 0, 0, 1]), user, Buffer.from([0]), Buffer.from(host), Buffer.from([0]))
    socket.write(Buffer.concat(parts))
    take(8, ([, reply]) => {
      if (reply !== 0x5a) throw socksError('ERR_SOCKS_REJECTED', `SOCKS proxy ${socks.url} refused to connect to ${host}:${port} (reply ${reply})`)
      connected()
    })
  }

  const start = (resolvedHost) => {
    try {
      if (socks.version === 5) socks5(socks5Address(resolvedHost))
      else socks4(net.isIPv4(resolvedHost) ? resolvedHost : null)
    } catch (err) {
      fail(err)
    }
  }
  socket.once('connect', () => {
    // socks5:// and socks4:// resolve the broker's name here; socks5h:// and socks4a:// let the
    // proxy do it (MQTT.js's rule).
    if (socks.remoteDns || net.isIP(host)) return start(host)
    dns.lookup(host, { all: true }, (err, addresses) => {
      if (!err && !addresses.length) err = socksError('ENOTFOUND', `getaddrinfo ENOTFOUND ${host}`)
      if (err) return fail(err)
      // IPv4 first (SOCKS4 has nothing else), as most brokers listen there.
      const chosen = addresses.find((a) => a.family === 4) || addresses[0]
      start(chosen.address)
    })
  })
  return stream
}

module.exports = { socksStream }
