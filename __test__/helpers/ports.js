'use strict'

// Free loopback ports for tests.

const net = require('node:net')

/**
 * A TCP port on 127.0.0.1 that was free a moment ago: listen on port 0, read the port the
 * kernel chose, close. (Another process may take it before you do; prefer listening on 0 when
 * the server is yours.)
 * @param {string} [host]
 * @returns {Promise<number>}
 */
function freePort (host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.once('error', reject)
    server.listen({ port: 0, host, exclusive: true }, () => {
      const { port } = server.address()
      server.close((err) => (err ? reject(err) : resolve(port)))
    })
  })
}

/**
 * Resolves once a TCP connection to host:port succeeds, retrying every 25 ms; rejects after
 * `timeoutMs`, or as soon as `shouldStop()` returns an Error.
 * @param {number} port
 * @param {{ host?: string, timeoutMs?: number, shouldStop?: () => Error | null }} [opts]
 */
async function waitForPort (port, { host = '127.0.0.1', timeoutMs = 5000, shouldStop } = {}) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const stop = shouldStop && shouldStop()
    if (stop) throw stop
    const ok = await new Promise((resolve) => {
      const socket = net.connect({ port, host })
      const done = (result) => { socket.destroy(); resolve(result) }
      socket.setTimeout(500, () => done(false))
      socket.once('connect', () => done(true))
      socket.once('error', () => done(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`nothing accepted connections on ${host}:${port} within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

module.exports = { freePort, waitForPort }
