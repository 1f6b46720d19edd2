'use strict'
// A scripted MQTT 3.1.1 broker, run as a child process, that floods its client: it answers
// CONNECT, then sends QoS 0 publishes on topic `flood`, each in a write (a TCP segment) of its
// own, until the client publishes anything. Then, as its argument says, it sends one last
// publish on topic `count` whose payload says how many it flooded and closes the connection
// (`end`: a FIN, after everything), or resets it at once, in the middle of the flood (`reset`:
// an RST).
//
//   node flood-broker.js end|reset     prints "PORT <n>" once it listens on 127.0.0.1

const net = require('node:net')

const ending = process.argv[2]
if (ending !== 'end' && ending !== 'reset') throw new Error(`flood-broker: end or reset, not ${ending}`)

/** A QoS 0 PUBLISH of `payload` to `topic` (short enough for a one-byte remaining length). */
function publish (topic, payload) {
  const body = Buffer.concat([Buffer.from([0, topic.length]), Buffer.from(topic), payload])
  return Buffer.concat([Buffer.from([0x30, body.length]), body])
}

/** Splits what the client sent into packet types; keeps a partial packet in `state.rest`. */
function packetTypes (state, chunk) {
  let bytes = Buffer.concat([state.rest, chunk])
  const types = []
  for (;;) {
    let length = 0
    let multiplier = 1
    let at = 1
    for (; at < bytes.length && at <= 4; at++) {
      length += (bytes[at] & 0x7f) * multiplier
      multiplier *= 128
      if ((bytes[at] & 0x80) === 0) break
    }
    if (at >= bytes.length || bytes.length < at + 1 + length) break
    types.push(bytes[0] >> 4)
    bytes = bytes.subarray(at + 1 + length)
  }
  state.rest = bytes
  return types
}

const server = net.createServer((socket) => {
  socket.setNoDelay(true)
  socket.on('error', () => {})
  const state = { rest: Buffer.alloc(0) }
  let flooding = false
  let sent = 0
  const flood = () => {
    if (!flooding || socket.destroyed) return
    // A write per packet, while the socket takes them: one segment each.
    for (let i = 0; i < 256 && socket.writableLength < 65536; i++) {
      const payload = Buffer.alloc(8)
      payload.writeUInt32BE(sent++)
      socket.write(publish('flood', payload))
    }
    setImmediate(flood)
  }
  socket.on('data', (chunk) => {
    for (const type of packetTypes(state, chunk)) {
      if (type === 1) {
        socket.write(Buffer.from([0x20, 0x02, 0x00, 0x00]))
        flooding = true
        setImmediate(flood)
      } else if (type === 3 && flooding && ending === 'reset') {
        // In the middle of the flood: the client is still reading it on its polling tick.
        flooding = false
        socket.resetAndDestroy()
      } else if (type === 3 && flooding) {
        flooding = false
        socket.write(publish('count', Buffer.from(String(sent))), () => socket.end())
      }
    }
  })
})
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`PORT ${server.address().port}\n`)
})
