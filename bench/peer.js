'use strict'
// Minimal MQTT peers for the benchmark, in plain `net` (no mqtt-packet: the peer must never be the
// bottleneck). Run in a process of its own so that it does not share the client's CPU.
//
//   node bench/peer.js serve
//     A server on 127.0.0.1:<port 0>; prints {"port":N} on stdout. What a connection gets is
//     chosen by its clientId:
//       ack:<warm>:<n>               swallow PUBLISH packets and acknowledge them (PUBACK for
//                                    QoS 1, PUBREC/PUBCOMP for QoS 2); after the warm-th and
//                                    after the n-th PUBLISH, send one PUBLISH on `bench/done`
//                                    (payload: the count)
//       blast:<n>:<size>             after the first SUBACK, write n pre-encoded QoS 0 PUBLISH
//                                    packets (payload <size> bytes, topic `bench/blast`) as fast
//                                    as the socket takes them; n = 0 means until the client leaves
//     Anything else gets a CONNACK and acks, nothing more.
//
//   node bench/peer.js flood <port> <topic> <n> <size>
//     A raw MQTT 3.1.1 client that connects to a broker on 127.0.0.1:<port> and publishes n QoS 0
//     messages of <size> bytes to <topic> as fast as the socket takes them, then disconnects.

const net = require('node:net')

const TYPE_CONNECT = 1
const TYPE_PUBLISH = 3
const TYPE_PUBREL = 6
const TYPE_SUBSCRIBE = 8
const TYPE_UNSUBSCRIBE = 10
const TYPE_PINGREQ = 12
const TYPE_DISCONNECT = 14

/** Remaining-length varint. */
function varint (n) {
  const bytes = []
  do {
    let b = n % 128
    n = Math.floor(n / 128)
    if (n > 0) b |= 0x80
    bytes.push(b)
  } while (n > 0)
  return Buffer.from(bytes)
}

/** One QoS 0 PUBLISH (MQTT 3.1.1 layout; `props` adds an empty property length for MQTT 5). */
function encodePublish (topic, payload, props = false) {
  const t = Buffer.from(topic)
  const len = 2 + t.length + (props ? 1 : 0) + payload.length
  const head = Buffer.concat([Buffer.from([0x30]), varint(len), Buffer.from([t.length >> 8, t.length & 0xff]), t])
  return Buffer.concat([head, props ? Buffer.from([0]) : Buffer.alloc(0), payload])
}

/** `count` copies of `packet` back to back, about `target` bytes in all. */
function repeated (packet, target = 64 * 1024) {
  const count = Math.max(1, Math.floor(target / packet.length))
  const buf = Buffer.allocUnsafe(count * packet.length)
  for (let i = 0; i < count; i++) packet.copy(buf, i * packet.length)
  return { buf, count, size: packet.length }
}

/**
 * Splits a byte stream into MQTT packets and calls `onPacket(type, flags, buf, start, end)` with
 * the body between `start` and `end`. Returns a function to feed chunks with.
 */
function framer (onPacket) {
  let pending = null
  return function feed (chunk) {
    let buf = pending ? Buffer.concat([pending, chunk]) : chunk
    pending = null
    let off = 0
    const n = buf.length
    while (off < n) {
      if (n - off < 2) break
      let len = 0
      let mul = 1
      let i = off + 1
      let complete = false
      for (let k = 0; k < 4 && i < n; k++, i++) {
        const b = buf[i]
        len += (b & 0x7f) * mul
        mul *= 128
        if ((b & 0x80) === 0) { complete = true; i++; break }
      }
      if (!complete || i + len > n) break
      onPacket(buf[off] >> 4, buf[off] & 0x0f, buf, i, i + len)
      off = i + len
    }
    if (off < n) pending = buf.subarray(off)
    buf = null
  }
}

function serve () {
  const server = net.createServer({ noDelay: true }, (socket) => {
    socket.setNoDelay(true)
    let v5 = false
    let mode = 'ack'
    let target = 0
    let warm = -1
    let blastSize = 64
    let received = 0
    let blasting = false
    let out = []
    const feed = framer((type, flags, buf, start, end) => {
      switch (type) {
        case TYPE_CONNECT: {
          const nameLen = buf.readUInt16BE(start)
          let p = start + 2 + nameLen
          v5 = buf[p] === 5
          p += 4 // level, flags, keepalive
          if (v5) {
            let propLen = 0
            let mul = 1
            for (;;) { const b = buf[p++]; propLen += (b & 0x7f) * mul; mul *= 128; if (!(b & 0x80)) break }
            p += propLen
          }
          const idLen = buf.readUInt16BE(p)
          const clientId = buf.toString('utf8', p + 2, p + 2 + idLen)
          const parts = clientId.split(':')
          if (parts[0] === 'ack') { mode = 'ack'; warm = Number(parts[1]) || 0; target = Number(parts[2]) || 0 }
          if (parts[0] === 'blast') { mode = 'blast'; target = Number(parts[1]) || 0; blastSize = Number(parts[2]) || 64 }
          out.push(v5 ? Buffer.from([0x20, 3, 0, 0, 0]) : Buffer.from([0x20, 2, 0, 0]))
          return
        }
        case TYPE_PUBLISH: {
          const qos = (flags >> 1) & 3
          if (qos > 0) {
            const topicLen = buf.readUInt16BE(start)
            const idAt = start + 2 + topicLen
            out.push(Buffer.from([qos === 1 ? 0x40 : 0x50, 2, buf[idAt], buf[idAt + 1]]))
          }
          received++
          if (mode === 'ack' && (received === target || received === warm)) {
            out.push(encodePublish('bench/done', Buffer.from(String(received)), v5))
          }
          return
        }
        case TYPE_PUBREL:
          out.push(Buffer.from([0x70, 2, buf[start], buf[start + 1]]))
          return
        case TYPE_SUBSCRIBE:
        case TYPE_UNSUBSCRIBE: {
          // Count the topic filters to grant each one (QoS 0, or UNSUBACK success).
          let p = start + 2
          if (v5) {
            let propLen = 0
            let mul = 1
            for (;;) { const b = buf[p++]; propLen += (b & 0x7f) * mul; mul *= 128; if (!(b & 0x80)) break }
            p += propLen
          }
          const codes = []
          while (p + 2 <= end) {
            p += 2 + buf.readUInt16BE(p)
            if (type === TYPE_SUBSCRIBE) {
              codes.push(Math.min(buf[p] & 3, 2))
              p++
            } else {
              codes.push(0)
            }
          }
          if (type === TYPE_UNSUBSCRIBE && !v5) {
            out.push(Buffer.from([0xb0, 2, buf[start], buf[start + 1]]))
          } else {
            const body = [buf[start], buf[start + 1], ...(v5 ? [0] : []), ...codes]
            out.push(Buffer.from([type === TYPE_SUBSCRIBE ? 0x90 : 0xb0, body.length, ...body]))
          }
          if (type === TYPE_SUBSCRIBE && mode === 'blast' && !blasting) {
            blasting = true
            setImmediate(blast)
          }
          return
        }
        case TYPE_PINGREQ:
          out.push(Buffer.from([0xd0, 0]))
          return
        case TYPE_DISCONNECT:
          socket.end()
      }
    })

    function blast () {
      const chunk = repeated(encodePublish('bench/blast', Buffer.alloc(blastSize, 0x61), v5))
      let left = target > 0 ? target : Infinity
      const write = () => {
        while (left > 0 && !socket.destroyed) {
          const n = Math.min(left, chunk.count)
          left -= n
          const ok = socket.write(n === chunk.count ? chunk.buf : chunk.buf.subarray(0, n * chunk.size))
          if (!ok) {
            socket.once('drain', write)
            return
          }
        }
      }
      write()
    }

    socket.on('data', (chunk) => {
      feed(chunk)
      if (out.length) {
        socket.write(out.length === 1 ? out[0] : Buffer.concat(out))
        out = []
      }
    })
    socket.on('error', () => {})
  })
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n')
  })
  // The parent closes our stdin when it is done (or dies): leave then.
  process.stdin.on('end', () => process.exit(0))
  process.stdin.on('error', () => process.exit(0))
  process.stdin.resume()
}

function flood (port, topic, n, size) {
  const socket = net.connect({ port, host: '127.0.0.1', noDelay: true })
  const id = Buffer.from('flood-' + process.pid)
  const body = Buffer.concat([
    Buffer.from([0, 4]), Buffer.from('MQTT'), Buffer.from([4, 2, 0, 60]),
    Buffer.from([id.length >> 8, id.length & 0xff]), id
  ])
  socket.write(Buffer.concat([Buffer.from([0x10]), varint(body.length), body]))
  const chunk = repeated(encodePublish(topic, Buffer.alloc(size, 0x61)))
  let started = false
  const feed = framer((type) => {
    if (type !== 2 || started) return
    started = true
    let left = n
    const write = () => {
      while (left > 0) {
        const k = Math.min(left, chunk.count)
        left -= k
        const ok = socket.write(k === chunk.count ? chunk.buf : chunk.buf.subarray(0, k * chunk.size))
        if (!ok) {
          socket.once('drain', write)
          return
        }
      }
      socket.end(Buffer.from([0xe0, 0]))
    }
    write()
  })
  socket.on('data', feed)
  socket.on('error', (err) => {
    process.stderr.write(`flood publisher: ${err.message}\n`)
    process.exit(1)
  })
  socket.on('close', () => process.exit(0))
}

const [mode, ...args] = process.argv.slice(2)
if (mode === 'serve') serve()
else if (mode === 'flood') flood(Number(args[0]), args[1], Number(args[2]), Number(args[3]))
else {
  process.stderr.write('usage: node bench/peer.js serve | flood <port> <topic> <n> <size>\n')
  process.exit(2)
}

