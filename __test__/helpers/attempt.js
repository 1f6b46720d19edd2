'use strict'
// One connection attempt of mqtt-native, for the transport tests.
const mqtt = require('../..')

/**
 * One connection attempt without reconnects: resolves, once the client has closed, with the
 * errors it emitted, whether it connected, and the client.
 * @param {string} url
 * @param {object} [opts] more client options
 */
function attempt (url, opts = {}) {
  return new Promise((resolve) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts })
    const errors = []
    let connected = false
    client.on('error', (err) => errors.push(err))
    client.on('connect', () => {
      connected = true
      client.end()
    })
    client.on('close', () => resolve({ errors, connected, client }))
  })
}

module.exports = { attempt }
