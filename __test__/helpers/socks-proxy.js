'use strict'

// A minimal SOCKS4, SOCKS4a and SOCKS5 proxy (CONNECT only) on 127.0.0.1, for the tests: it
// records what each client asked for (a host name or an IP address), can require a SOCKS5 user
// name and password or a SOCKS4 user id, and can refuse every request with a given reply code.

const net = require('node:net')

/** Reads a socket as a byte queue: `await reader.take(n)` resolves with the next n bytes. */
function byteReader (socket) {
  let buffered = Buffer.alloc(0)
  let waiting = null
  let ended = false
  const pump = () => {
    if (!waiting) return
    if (buffered.length >= waiting.n) {
      const chunk = buffered.subarray(0, waiting.n)
      buffered = buffered.subarray(waiting.n)
      const { resolve } = waiting
      waiting = null
      resolve(chunk)
    } else if (ended) {
      const { reject } = waiting
      waiting = null
      reject(new Error('client closed during the SOCKS handshake'))
    }
  }
  const onData = (data) => {
    buffered = Buffer.concat([buffered, data])
    pump()
  }
  const onEnd = () => {
    ended = true
    pump()
  }
  socket.on('data', onData)
  socket.on('end', onEnd)
  socket.on('close', onEnd)
  return {
    take (n) {
      return new Promise((resolve, reject) => {
        waiting = { n, resolve, reject }
        pump()
      })
    },
    /** Bytes up to (not including) the next NUL. */
    async untilNul () {
      const bytes = []
      for (;;) {
        const [b] = await this.take(1)
        if (b === 0) return Buffer.from(bytes)
        bytes.push(b)
      }
    },
    /** Stops reading and hands back what was read ahead. */
    detach () {
      socket.off('data', onData)
      socket.off('end', onEnd)
      socket.off('close', onEnd)
      const rest = buffered
      buffered = Buffer.alloc(0)
      return rest
    }
  }
}

/**
 * Starts the proxy.
 * @param {object} [opts]
 * @param {{ username: string, password: string }} [opts.auth] require SOCKS5 username/password
 * @param {string} [opts.userId] require this SOCKS4 user id
 * @param {number} [opts.refuse] answer every request with this reply code (SOCKS5: 1–8, e.g. 5
 *   = connection refused; SOCKS4: 91) instead of connecting
 * @returns {Promise<{ port: number, requests: object[], connections: number, stop: () => Promise<void> }>}
 *   `requests`: `{ version, host, port, type: 'domain' | 'ipv4' | 'ipv6', userId?, username? }`
 */
async function startSocksProxy (opts = {}) {
  const sockets = new Set()
  const requests = []
  const state = { connections: 0 }
  const track = (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
  }

  function relay (client, request, rest, reply) {
    const upstream = net.connect({ host: request.host, port: request.port })
    track(upstream)
    let connected = false
    upstream.once('connect', () => {
      connected = true
      client.write(reply(true))
      if (rest.length) upstream.write(rest)
      client.pipe(upstream)
      upstream.pipe(client)
    })
    upstream.once('error', () => {
      if (connected) client.destroy()
      else client.end(reply(false))
    })
    upstream.on('close', () => { if (connected) client.destroy() })
    client.on('close', () => upstream.destroy())
  }

  async function socks5 (client, reader) {
    const [count] = await reader.take(1)
    const methods = [...(await reader.take(count))]
    let username
    if (opts.auth) {
      if (!methods.includes(2)) return client.end(Buffer.from([5, 0xff]))
      client.write(Buffer.from([5, 2]))
      await reader.take(1) // sub-negotiation version 1
      const user = (await reader.take((await reader.take(1))[0])).toString()
      const pass = (await reader.take((await reader.take(1))[0])).toString()
      const ok = user === opts.auth.username && pass === opts.auth.password
      if (!ok) return client.end(Buffer.from([1, 1]))
      client.write(Buffer.from([1, 0]))
      username = user
    } else {
      if (!methods.includes(0)) return client.end(Buffer.from([5, 0xff]))
      client.write(Buffer.from([5, 0]))
    }
    const [, command, , type] = await reader.take(4)
    let host
    let kind
    if (type === 1) {
      host = [...(await reader.take(4))].join('.')
      kind = 'ipv4'
    } else if (type === 3) {
      host = (await reader.take((await reader.take(1))[0])).toString()
      kind = 'domain'
    } else {
      const b = await reader.take(16)
      host = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2).toString(16)).join(':')
      kind = 'ipv6'
    }
    const port = (await reader.take(2)).readUInt16BE(0)
    const request = { version: 5, host, port, type: kind, username }
    requests.push(request)
    const reply = (code) => Buffer.from([5, code, 0, 1, 0, 0, 0, 0, 0, 0])
    if (command !== 1) return client.end(reply(7))
    if (opts.refuse) return client.end(reply(opts.refuse))
    relay(client, request, reader.detach(), (ok) => reply(ok ? 0 : 5))
  }

  async function socks4 (client, reader) {
    const head = await reader.take(7)
    const command = head[0]
    const port = head.readUInt16BE(1)
    let host = [...head.subarray(3, 7)].join('.')
    const userId = (await reader.untilNul()).toString()
    let kind = 'ipv4'
    if (head[3] === 0 && head[4] === 0 && head[5] === 0 && head[6] !== 0) {
      host = (await reader.untilNul()).toString()
      kind = 'domain'
    }
    const request = { version: 4, host, port, type: kind, userId: userId || undefined }
    requests.push(request)
    const reply = (code) => Buffer.from([0, code, 0, 0, 0, 0, 0, 0])
    if (opts.userId !== undefined && userId !== opts.userId) return client.end(reply(93))
    if (command !== 1) return client.end(reply(91))
    if (opts.refuse) return client.end(reply(opts.refuse))
    relay(client, request, reader.detach(), (ok) => reply(ok ? 90 : 91))
  }

  const server = net.createServer((client) => {
    state.connections++
    track(client)
    const reader = byteReader(client)
    reader.take(1).then(([version]) => {
      if (version === 5) return socks5(client, reader)
      if (version === 4) return socks4(client, reader)
      client.destroy()
    }).catch(() => client.destroy())
  })
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen({ port: 0, host: '127.0.0.1' }, resolve)
  })
  const { port } = server.address()
  return {
    port,
    requests,
    get connections () { return state.connections },
    stop () {
      for (const socket of sockets) socket.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    }
  }
}

module.exports = { startSocksProxy }
