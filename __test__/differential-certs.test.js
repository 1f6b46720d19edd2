'use strict'
// Server certificates whose host name is only in the subject Common Name: Node (and so
// OpenSSL-based MQTT.js) accepts the CN when the certificate has no DNS subjectAltName; the
// same decisions are expected from mqtt-native's verifier.

const test = require('node:test')
const assert = require('node:assert/strict')
const mqttjs = require('mqtt')
const mqtt = require('..')
const { startScriptedBroker } = require('./helpers/scripted-broker')
const { requireOpenssl } = require('./helpers/certs')

/** 'connect', or the code of the first error, for `lib` dialling `url`. */
function firstOutcome (lib, url, opts) {
  return new Promise((resolve) => {
    const c = lib.connect(url, { reconnectPeriod: 0, connectTimeout: 3000, ...opts })
    const done = (result) => {
      c.end(true)
      resolve(result)
    }
    c.once('connect', () => done('connect'))
    c.once('error', (err) => done(`error ${err.code}`))
    c.once('close', () => setTimeout(() => done('close'), 50))
  })
}

const CASES = [
  ['a certificate with only CN=localhost is accepted for localhost', 'cnOnly', 'localhost', 'connect'],
  ['a certificate with only CN=localhost is refused for 127.0.0.1 (an IP is never matched to the CN)', 'cnOnly', '127.0.0.1', 'error ERR_TLS_CERT_ALTNAME_INVALID'],
  ['CN=localhost is ignored when the certificate has a DNS subjectAltName for another name', 'cnAndOtherSan', 'localhost', 'error ERR_TLS_CERT_ALTNAME_INVALID']
]

for (const [name, cert, host, expected] of CASES) {
  for (const transport of ['tls', 'wss']) {
    test(`${name}, by MQTT.js and mqtt-native alike (over ${transport})`, async (t) => {
      if (!requireOpenssl(t)) return
      const broker = await startScriptedBroker({ transport, serverCert: cert, autoConnack: true })
      t.after(() => broker.close())
      const url = broker.url.replace('127.0.0.1', host.includes(':') ? `[${host}]` : host)
      const oracle = await firstOutcome(mqttjs, url, broker.clientOptions)
      const ours = await firstOutcome(mqtt, url, broker.clientOptions)
      assert.equal(oracle, expected)
      assert.equal(ours, oracle)
    })
  }
}
