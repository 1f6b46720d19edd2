'use strict'
// TLS with a private certificate authority: connect with mqtts:// to a broker whose certificate
// was issued by your own CA, publish one message, receive it back, end. Optionally
// authenticate with a client certificate (mutual TLS).
//
//   node examples/tls-private-ca.js --url mqtts://broker.lan:8883 --ca ca.crt
//   node examples/tls-private-ca.js --url mqtts://broker.lan:8883 --ca ca.crt \
//     --cert client.crt --key client.key                       # mutual TLS
//
// Each flag can also be given in the environment: MQTT_URL, MQTT_CA, MQTT_CERT, MQTT_KEY.
// Defaults: --url mqtts://localhost:8883 --ca ca.crt.
//
// On the broker side (mosquitto.conf):
//
//   listener 8883
//   certfile /etc/mosquitto/certs/server.crt    # issued by your CA for the name in the URL
//   keyfile  /etc/mosquitto/certs/server.key
//   # for mutual TLS, also:
//   cafile   /etc/mosquitto/certs/ca.crt        # the CA that issued the client certificates
//   require_certificate true
//
// The server certificate must name the host of the URL in its subjectAltName (DNS:broker.lan,
// or IP:192.0.2.7 when you connect by address); otherwise the connection fails with
// ERR_TLS_CERT_ALTNAME_INVALID, listing the names it does carry.

const fs = require('node:fs')
const { parseArgs } = require('node:util')
const mqtt = require('mqtt-native') // the same code works with require('mqtt')

const { values: flags } = parseArgs({
  options: {
    url: { type: 'string' },
    ca: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    topic: { type: 'string' }
  }
})
const url = flags.url || process.env.MQTT_URL || 'mqtts://localhost:8883'
const caFile = flags.ca || process.env.MQTT_CA || 'ca.crt'
const certFile = flags.cert || process.env.MQTT_CERT
const keyFile = flags.key || process.env.MQTT_KEY
const topic = flags.topic || 'examples/tls'

async function main () {
  if (Boolean(certFile) !== Boolean(keyFile)) {
    throw new Error('mutual TLS needs both --cert and --key')
  }

  const options = {
    // The CAs to trust. Given `ca`, only these are trusted, not the public ones: a broker with
    // a certificate from your private CA is accepted, one from anywhere else is not.
    ca: fs.readFileSync(caFile),
    // A one-shot program: report a failure instead of retrying every second.
    reconnectPeriod: 0,
    connectTimeout: 10000
  }
  if (certFile) {
    // The client certificate (PEM, may include intermediates) and its private key (PEM).
    options.cert = fs.readFileSync(certFile)
    options.key = fs.readFileSync(keyFile)
  }

  const client = await mqtt.connectAsync(url, options)
  console.log(`connected to ${url} (server certificate verified against ${caFile}` +
    `${certFile ? `; client certificate ${certFile}` : ''})`)

  try {
    const received = new Promise((resolve) => {
      client.once('message', (topic, payload) => resolve({ topic, payload }))
    })
    await client.subscribeAsync(topic, { qos: 1 })
    await client.publishAsync(topic, 'hello over TLS', { qos: 1 })
    const message = await received
    console.log(`received on ${message.topic}: ${message.payload.toString()}`)
  } finally {
    await client.endAsync()
  }
  console.log('done')
}

main().catch((err) => {
  // Connection errors carry a stable `code` (DEPTH_ZERO_SELF_SIGNED_CERT,
  // ERR_TLS_CERT_ALTNAME_INVALID, ERR_MQTT_PLAIN_PORT, ...) and a message naming the fix.
  console.error(`error: ${err.message}${err.code ? ` (${err.code})` : ''}`)
  process.exitCode = 1
})
