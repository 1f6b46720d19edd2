'use strict'
// One loop of QoS 1/2 publishes, more than there are packet identifiers, against a broker: every
// callback must report success and a subscriber must receive every message once, in order.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const mqtt = require('../..')

function connected (client) {
  return new Promise((resolve, reject) => {
    client.once('connect', resolve)
    client.once('error', reject)
  })
}

/**
 * @param {string} url broker
 * @param {{ count: number, qos: 1 | 2, persistence?: boolean, timeoutMs?: number }} opts
 * @returns {Promise<{ acked: number, failed: number, errorsWithoutCode: number, received: number, outOfOrder: number, duplicates: number, stored: number }>}
 */
async function burst (url, opts) {
  const tag = `burst-${process.pid}-${opts.qos}-${opts.persistence ? 'p' : 'm'}`
  const topic = `${tag}/t`
  const dir = opts.persistence ? fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-native-burst-')) : null
  const sub = mqtt.connect(url, { clientId: `${tag}-sub`, reconnectPeriod: 0 })
  const pubOptions = { clientId: `${tag}-pub`, reconnectPeriod: 0 }
  if (dir) Object.assign(pubOptions, { clean: false, persistence: { dir } })
  const pub = mqtt.connect(url, pubOptions)
  try {
    await Promise.all([connected(sub), connected(pub)])
    await sub.subscribeAsync(topic, { qos: 2 })
    const result = { acked: 0, failed: 0, errorsWithoutCode: 0, received: 0, outOfOrder: 0, duplicates: 0, stored: 0 }
    const seen = new Uint8Array(opts.count)
    let last = -1
    let allReceived
    const receivedAll = new Promise((resolve) => { allReceived = resolve })
    sub.on('message', (t, payload) => {
      const i = Number(payload.toString())
      if (seen[i]) result.duplicates++
      seen[i] = 1
      if (i < last) result.outOfOrder++
      last = i
      result.received++
      if (result.received === opts.count) allReceived()
    })
    let allDone
    const done = new Promise((resolve) => { allDone = resolve })
    let finished = 0
    const publishOptions = { qos: opts.qos }
    if (dir) publishOptions.cbStorePut = () => { result.stored++ }
    for (let i = 0; i < opts.count; i++) {
      pub.publish(topic, String(i), publishOptions, (err) => {
        if (err) {
          result.failed++
          if (!err.code) result.errorsWithoutCode++
        } else {
          result.acked++
        }
        if (++finished === opts.count) allDone()
      })
    }
    const timeoutMs = opts.timeoutMs || 120000
    let timer
    const timedOut = new Promise((resolve) => { timer = setTimeout(resolve, timeoutMs) })
    await Promise.race([Promise.all([done, receivedAll]), timedOut])
    clearTimeout(timer)
    return result
  } finally {
    await Promise.all([pub.endAsync(), sub.endAsync()])
    if (dir) fs.rmSync(dir, { recursive: true, force: true })
  }
}

module.exports = { burst }
