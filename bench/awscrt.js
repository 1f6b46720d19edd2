'use strict'
// `node bench/awscrt.js <params json>`: the bench's pubsub case with AWS's native client for Node
// (`aws-crt`, its MQTT 5 client), a reference beside mqtt-native and MQTT.js. run.js installs
// aws-crt into bench/.build/aws-crt on demand (NODE_PATH points there) and runs this file under
// the same perf FIFOs as bench/worker.js. Prints `RESULT {json}` with the worker's fields.

const { snapshot, throughput } = require('./measure')

const params = JSON.parse(process.argv[2])
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function main () {
  const { mqtt5 } = require('aws-crt')
  const { url, qos, size, warmMs, measureMs } = params
  const u = new URL(url)
  const topic = `bench/${process.pid}/aws-crt`
  const open = (clientId) => new Promise((resolve, reject) => {
    const client = new mqtt5.Mqtt5Client({ hostName: u.hostname, port: Number(u.port), connectProperties: { clientId, keepAliveIntervalSeconds: 60 } })
    client.once('connectionSuccess', () => resolve(client))
    client.once('connectionFailure', (e) => reject(e.error || new Error('connection failure')))
    client.start()
  })
  const sub = await open(`aws-sub-${process.pid}`)
  const pub = await open(`aws-pub-${process.pid}`)
  await sub.subscribe({ subscriptions: [{ topicFilter: topic, qos }] })
  const win = params.window || 2000
  const payload = Buffer.alloc(size, 0x61)
  let sent = 0
  let received = 0
  let holding = false
  const topUp = () => {
    if (holding) return
    while (sent - received < win) {
      sent++
      // The promise settles on PUBACK (QoS 1) or on write (QoS 0); errors are counted as lost.
      pub.publish({ topicName: topic, qos, payload }).catch(() => {})
    }
  }
  sub.on('messageReceived', () => {
    received++
    if (sent - received <= win / 2) topUp()
  })
  topUp()
  if (params.pauseMs) {
    await sleep(warmMs)
    holding = true
    while (received < sent) await sleep(2)
    await sleep(params.pauseMs)
    holding = false
    topUp()
  }
  await sleep(warmMs)
  const c0 = received
  const a = snapshot(params.peerPid)
  await sleep(measureMs)
  const c1 = received
  const b = snapshot(params.peerPid)
  const out = { lib: 'aws-crt', ...throughput(a, b, c1 - c0) }
  process.stdout.write('RESULT ' + JSON.stringify(out) + '\n', () => process.exit(0))
}

main().catch((err) => {
  process.stdout.write('RESULT ' + JSON.stringify({ lib: 'aws-crt', error: String(err && err.stack ? err.stack : err) }) + '\n', () => process.exit(1))
})
