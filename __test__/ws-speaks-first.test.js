'use strict'
// Issue 17: a WebSocket server whose first MQTT bytes (here its CONNACK) arrive in the same
// segment as its `101 Switching Protocols` answer. Those bytes must not be lost in the upgrade:
// the client connects, over ws and wss, as MQTT.js does.

const test = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const net = require('node:net')
const tls = require('node:tls')
const mqttjs = require('mqtt')
const native = require('..')
const { makeCerts, requireOpenssl } = require('./helpers/certs')

const CONNACK = Buffer.from([0x20, 0x02, 0x00, 0x00])

/** A server that answers the upgrade and sends CONNACK in one write, before reading CONNECT. */
async function startSpeakingFirst (secure) {
  const hosts = []
  const sockets = new Set()
  const onSocket = (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    let head = ''
    const onData = (chunk) => {
      head += chunk.toString('latin1')
      if (!head.includes('\r\n\r\n')) return
      socket.off('data', onData)
      hosts.push(/^host:\s*(\S+)/im.exec(head)[1])
      const key = /sec-websocket-key:\s*(\S+)/i.exec(head)[1]
      const accept = crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64')
      const answer = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n`
      // One write: the frame with CONNACK follows the answer's head in the same segment.
      socket.write(Buffer.concat([Buffer.from(answer, 'latin1'), Buffer.from([0x82, CONNACK.length]), CONNACK]))
    }
    socket.on('data', onData)
  }
  let server
  if (secure) {
    const { server: cert } = makeCerts()
    server = tls.createServer({ cert: cert.cert, key: cert.key }, onSocket)
  } else {
    server = net.createServer(onSocket)
  }
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    hosts,
    port: server.address().port,
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy()
      server.close(() => resolve())
    })
  }
}

for (const scheme of ['ws', 'wss']) {
  for (const [name, lib] of [['MQTT.js', mqttjs], ['mqtt-native', native]]) {
    test(`${name}: a CONNACK in the same segment as the 101 answer connects the client (${scheme})`, async (t) => {
      if (scheme === 'wss' && !requireOpenssl(t)) return
      const server = await startSpeakingFirst(scheme === 'wss')
      const options = { reconnectPeriod: 0, connectTimeout: 5000 }
      if (scheme === 'wss') options.ca = makeCerts().ca
      const client = lib.connect(`${scheme}://localhost:${server.port}/mqtt`, options)
      t.after(async () => {
        await new Promise((resolve) => client.end(true, () => resolve()))
        await server.close()
      })
      const outcome = await new Promise((resolve) => {
        client.once('connect', () => resolve('connect'))
        client.once('error', (err) => resolve(`error ${err.message}`))
        client.once('close', () => resolve('close'))
      })
      assert.equal(outcome, 'connect')
      // The name was resolved before dialing; the upgrade still names the host.
      assert.deepEqual(server.hosts, [`localhost:${server.port}`])
    })
  }
}
