'use strict'
// A publisher with built-in persistence, run as a child process by the kill tests
// (__test__/reliability-kill.test.js). It prints one line per event on stdout (synchronous for
// pipes, so a line that was printed was seen even if the process is killed right after):
//
//   R <outgoing> <incoming>   persistence restored this much from an earlier run
//   D <label>                 the message's record is durable (its cbStorePut fired)
//   A <label>                 the broker acknowledged it (its callback fired)
//   C                         'connect' (restored messages are acknowledged by then)
//   E                         every message is acknowledged and the client has ended
//
// argv: url, dir, clientId, run, count, protocolVersion
// Labels are "<run>:<i>:<qos>": messages alternate between QoS 1 and QoS 2.

const mqtt = require('../..')

const [url, dir, clientId, run, countText, versionText] = process.argv.slice(2)
const count = Number(countText)
const line = (text) => process.stdout.write(text + '\n')

const client = mqtt.connect(url, {
  clientId,
  clean: false,
  protocolVersion: Number(versionText),
  reconnectPeriod: 100,
  connectTimeout: 5000,
  persistence: { dir },
  // MQTT 5: the broker keeps the session (and its half-done QoS 2 exchanges) after a kill.
  ...(Number(versionText) === 5 ? { properties: { sessionExpiryInterval: 3600 } } : {})
})
line(`R ${client._persist.restored.outgoing} ${client._persist.restored.incoming}`)
client.on('error', (err) => process.stderr.write(`error ${err.code} ${err.message}\n`))

let acked = 0
let connected = false
function maybeEnd () {
  if (acked === count && connected) client.end(() => { line('E'); process.exit(0) })
}
client.on('connect', () => {
  line('C')
  connected = true
  maybeEnd()
})

// A burst, a few messages per turn of the event loop, so that a kill lands in the middle of it.
let i = 0
function burst () {
  for (let n = 0; n < 5 && i < count; n++, i++) {
    const qos = i % 2 === 0 ? 1 : 2
    const label = `${run}:${i}:${qos}`
    client.publish('kill/test', label, {
      qos,
      cbStorePut: () => line(`D ${label}`)
    }, (err) => {
      if (err) {
        process.stderr.write(`publish ${label} failed: ${err.message}\n`)
        return
      }
      line(`A ${label}`)
      acked++
      maybeEnd()
    })
  }
  if (i < count) setImmediate(burst)
}
burst()
