'use strict'

// Certificates for TLS tests, made with the `openssl` command line into a temporary directory
// (removed at exit). Generated once per process and cached.
//
//   const { makeCerts, requireOpenssl } = require('./helpers/certs.js')
//   const certs = makeCerts()
//   certs.ca           // PEM of the test CA
//   certs.server       // { cert, key, certFile, keyFile }: issued by the CA for localhost,
//                      //   127.0.0.1 and ::1
//   certs.selfSigned   // { cert, key, certFile, keyFile }: self-signed (CA:TRUE, as
//                      //   `openssl req -x509` makes it) for localhost and 127.0.0.1
//   certs.otherName    // issued by the CA for broker.example only (name mismatch tests)
//   certs.cnOnly       // issued by the CA with CN=localhost and no subjectAltName at all
//   certs.cnAndOtherSan // CN=localhost, but a subjectAltName for broker.example only
//   certs.client       // { cert, key }: client certificate issued by the CA (PKCS#8 EC key)
//   certs.clientRsa    // { cert, key }: client certificate with a PKCS#1 RSA key
//   certs.clientSec1Key // the client key in SEC1 form ("EC PRIVATE KEY")
//   certs.otherCa      // PEM of an unrelated CA
//   certs.caFile, certs.dir

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { findBinary } = require('./mosquitto.js')

let cached = null
const dirs = []
process.on('exit', () => {
  for (const dir of dirs) {
    try { fs.rmSync(dir, { recursive: true, force: true }) } catch {}
  }
})

/** Like requireBinary(t, 'openssl'). */
function requireOpenssl (t) {
  if (findBinary('openssl') !== null) return true
  if (process.env.CI === 'true') throw new Error('openssl not installed (required under CI=true)')
  t.skip('openssl not installed')
  return false
}

function makeCerts () {
  if (cached) return cached
  const openssl = findBinary('openssl')
  if (!openssl) throw new Error('openssl not installed')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-native-certs-'))
  dirs.push(dir)
  const file = (name) => path.join(dir, name)
  const run = (...args) => execFileSync(openssl, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
  const ecKey = (name) => run('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file(name))
  const ext = (name, lines) => fs.writeFileSync(file(name), lines.join('\n') + '\n')

  // Two CAs: ours and an unrelated one.
  for (const ca of ['ca', 'other-ca']) {
    ecKey(`${ca}.key`)
    run('req', '-x509', '-new', '-key', file(`${ca}.key`), '-sha256', '-days', '30',
      '-subj', `/CN=mqtt-native test ${ca}`, '-out', file(`${ca}.crt`))
  }

  const issue = (name, subject, extLines, keyFile) => {
    if (!keyFile) {
      ecKey(`${name}.key`)
      keyFile = `${name}.key`
    }
    run('req', '-new', '-key', file(keyFile), '-subj', subject, '-out', file(`${name}.csr`))
    ext(`${name}.ext`, extLines)
    run('x509', '-req', '-in', file(`${name}.csr`), '-CA', file('ca.crt'), '-CAkey', file('ca.key'),
      '-CAcreateserial', '-days', '30', '-sha256', '-extfile', file(`${name}.ext`), '-out', file(`${name}.crt`))
    return {
      cert: fs.readFileSync(file(`${name}.crt`), 'utf8'),
      key: fs.readFileSync(file(keyFile), 'utf8'),
      certFile: file(`${name}.crt`),
      keyFile: file(keyFile)
    }
  }

  const serverExt = (names) => [
    'basicConstraints=CA:FALSE',
    'keyUsage=digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    `subjectAltName=${names}`
  ]
  const server = issue('server', '/CN=localhost', serverExt('DNS:localhost,IP:127.0.0.1,IP:::1'))
  const otherName = issue('other-name', '/CN=broker.example', serverExt('DNS:broker.example,DNS:*.broker.example'))
  // The host name in the subject CN only, as older brokers' certificates have it.
  const cnOnly = issue('cn-only', '/CN=localhost', serverExt('').filter((line) => !line.startsWith('subjectAltName')))
  const cnAndOtherSan = issue('cn-and-other-san', '/CN=localhost', serverExt('DNS:broker.example'))
  const clientExt = ['basicConstraints=CA:FALSE', 'keyUsage=digitalSignature', 'extendedKeyUsage=clientAuth']
  const client = issue('client', '/CN=mqtt-native test client', clientExt)
  run('genrsa', '-traditional', '-out', file('client-rsa.key'), '2048')
  const clientRsa = issue('client-rsa', '/CN=mqtt-native test rsa client', clientExt, 'client-rsa.key')
  run('ec', '-in', file('client.key'), '-out', file('client-sec1.key'))

  // Self-signed, as the tutorials make it: `openssl req -x509` (CA:TRUE) with the names added.
  ecKey('self.key')
  run('req', '-x509', '-new', '-key', file('self.key'), '-sha256', '-days', '30', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-out', file('self.crt'))

  // The client key encrypted with a passphrase (PKCS#8, PBES2 with AES-256-CBC).
  run('pkcs8', '-topk8', '-in', file('client.key'), '-v2', 'aes-256-cbc', '-passout', 'pass:s3cret', '-out', file('client-enc.key'))

  cached = {
    dir,
    ca: fs.readFileSync(file('ca.crt'), 'utf8'),
    caFile: file('ca.crt'),
    otherCa: fs.readFileSync(file('other-ca.crt'), 'utf8'),
    server,
    otherName,
    cnOnly,
    cnAndOtherSan,
    client,
    clientRsa,
    clientSec1Key: fs.readFileSync(file('client-sec1.key'), 'utf8'),
    clientEncryptedKey: fs.readFileSync(file('client-enc.key'), 'utf8'),
    selfSigned: {
      cert: fs.readFileSync(file('self.crt'), 'utf8'),
      key: fs.readFileSync(file('self.key'), 'utf8'),
      certFile: file('self.crt'),
      keyFile: file('self.key')
    }
  }
  return cached
}

/**
 * mosquitto configuration lines for a TLS listener on `port` (127.0.0.1) with `cert` (an entry
 * of makeCerts()); `requireClientCert` adds `require_certificate true` with the test CA;
 * `websockets` makes it a wss listener.
 */
function mosquittoTlsListener (port, cert, { requireClientCert = false, websockets = false } = {}) {
  const certs = makeCerts()
  return [
    `listener ${port} 127.0.0.1`,
    websockets ? 'protocol websockets' : null,
    `certfile ${cert.certFile}`,
    `keyfile ${cert.keyFile}`,
    requireClientCert ? `cafile ${certs.caFile}` : null,
    requireClientCert ? 'require_certificate true' : null
  ].filter(Boolean)
}

module.exports = { makeCerts, requireOpenssl, mosquittoTlsListener }
