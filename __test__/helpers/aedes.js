'use strict'

// An in-process aedes 1.x broker (MQTT 3.1 and 3.1.1 only) on loopback, optionally with a
// WebSocket listener on /mqtt. Used by tests and by examples/demo.js, so this file depends on
// nothing but Node.js, `aedes` and `ws` (no other test helper, no node:test).
//
//   const { startAedes } = require('./__test__/helpers/aedes.js')
//   const broker = await startAedes({ websockets: true })
//   // broker.url = 'mqtt://127.0.0.1:PORT', broker.wsUrl = 'ws://127.0.0.1:WSPORT/mqtt'
//   await broker.stop()

const net = require('node:net')
const http = require('node:http')

/** Brokers started here and not yet stopped (stopped, best effort, at process exit). */
const running = new Set()
process.on('exit', () => {
  for (const b of running) {
    for (const s of b.sockets) s.destroy()
  }
})

/**
 * Starts an aedes broker.
 *
 * @param {object} [opts]
 * @param {string} [opts.host] interface to listen on (default 127.0.0.1)
 * @param {number} [opts.port] TCP port (default 0: a free one)
 * @param {boolean} [opts.websockets] also listen for MQTT over WebSocket on path `/mqtt`
 * @param {number} [opts.wsPort] WebSocket port (default 0: a free one)
 * @param {object} [opts.aedes] options for aedes itself (authenticate, persistence, ...)
 * @returns {Promise<{ port: number, host: string, url: string, wsPort?: number, wsUrl?: string,
 *   broker: object, stop: () => Promise<void> }>}
 */
async function startAedes (opts = {}) {
  const host = opts.host || '127.0.0.1'
  // aedes 1.x is an ES module; import() works from CommonJS on every Node.js we support.
  const { Aedes } = await import('aedes')
  const broker = await Aedes.createBroker(opts.aedes || {})

  const sockets = new Set()
  const track = (socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  }

  const server = net.createServer((socket) => {
    track(socket)
    broker.handle(socket)
  })
  await listen(server, opts.port || 0, host)
  const port = server.address().port

  let httpServer = null
  let wss = null
  let wsPort
  if (opts.websockets) {
    const { WebSocketServer, createWebSocketStream } = require('ws')
    httpServer = http.createServer((req, res) => {
      res.writeHead(404, { 'content-type': 'text/plain' })
      res.end('MQTT over WebSocket is served on /mqtt\n')
    })
    httpServer.on('connection', track)
    wss = new WebSocketServer({ server: httpServer, path: '/mqtt' })
    wss.on('connection', (websocket, req) => {
      const stream = createWebSocketStream(websocket)
      // A client that goes away mid-frame makes the duplex emit an error; aedes also sees the
      // close, so the error itself carries nothing more.
      stream.on('error', () => {})
      broker.handle(stream, req)
    })
    await listen(httpServer, opts.wsPort || 0, host)
    wsPort = httpServer.address().port
  }

  const entry = { sockets }
  running.add(entry)
  let stopping = null

  return {
    port,
    host,
    url: `mqtt://${host}:${port}`,
    wsPort,
    wsUrl: wsPort ? `ws://${host}:${wsPort}/mqtt` : undefined,
    broker,
    /** Closes the broker and both listeners and destroys every connection. */
    stop () {
      if (!stopping) {
        stopping = (async () => {
          await new Promise((resolve) => broker.close(() => resolve()))
          if (wss) {
            for (const client of wss.clients) client.terminate()
            await new Promise((resolve) => wss.close(() => resolve()))
          }
          for (const s of sockets) s.destroy()
          await Promise.all([close(server), httpServer ? close(httpServer) : null])
          running.delete(entry)
        })()
      }
      return stopping
    }
  }
}

function listen (server, port, host) {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
}

function close (server) {
  return new Promise((resolve) => server.close(() => resolve()))
}

module.exports = { startAedes }
