'use strict'
// Child process of __test__/dns-threads.test.js (issue 18 item 3): opens `count` clients to host
// names that never resolve, reports the process's thread count while the lookups are pending
// and after end(), as one JSON line, then exits at once (abandoned lookups must not hold it).

const fs = require('node:fs')
const dns = require('node:dns')
const mqtt = require('../..')

const count = Number(process.argv[2] || 600)

function threads () {
  const status = fs.readFileSync('/proc/self/status', 'utf8')
  return Number(/^Threads:\s+(\d+)/m.exec(status)[1])
}

function sample (times, every) {
  return new Promise((resolve) => {
    let max = threads()
    let n = 0
    const timer = setInterval(() => {
      max = Math.max(max, threads())
      if (++n >= times) {
        clearInterval(timer)
        resolve(max)
      }
    }, every)
  })
}

async function main () {
  // Warm up what every process has once it has connected: libuv's pool, the addon's runtime.
  await new Promise((resolve) => dns.lookup('localhost', () => resolve()))
  await new Promise((resolve) => {
    const c = mqtt.connect('mqtt://127.0.0.1:1', { reconnectPeriod: 0 })
    c.on('error', () => {})
    c.once('close', () => c.end(true, resolve))
  })
  await sample(5, 20)
  const baseline = threads()
  const clients = []
  let errors = 0
  for (let i = 0; i < count; i++) {
    const c = mqtt.connect(`mqtt://host-${i}.mqtt-native-test.invalid:1883`, { reconnectPeriod: 0, connectTimeout: 60000 })
    c.on('error', () => { errors++ })
    clients.push(c)
  }
  const during = await sample(20, 25)
  await Promise.all(clients.map((c) => new Promise((resolve) => c.end(true, resolve))))
  // Back to the baseline: polled for at most one second.
  let after = threads()
  for (let waited = 0; after > baseline && waited < 1000; waited += 20) {
    await new Promise((resolve) => setTimeout(resolve, 20))
    after = threads()
  }
  process.stdout.write(JSON.stringify({ baseline, during, after, errors }) + '\n')
  process.exit(0)
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack) + '\n')
  process.exit(1)
})
