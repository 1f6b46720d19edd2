'use strict'
// Every program in examples/ runs as a user would run it (a child process, `node examples/…`)
// against a real broker on loopback, and exits 0 having printed what its comments promise.

const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { startMosquitto, requireBinary } = require('./helpers/mosquitto')
const { makeCerts, requireOpenssl, mosquittoTlsListener } = require('./helpers/certs')
const { freePort } = require('./helpers/ports')

const root = path.join(__dirname, '..')
const TIMEOUT = { timeout: 30000 }

/**
 * Starts `node examples/<file> ...args` in the repository (so `require('mqtt-native')`
 * resolves to this package) and kills it when the test ends. `waitFor(re)` resolves with the
 * first stdout line matching `re`; `exited` resolves with { code, signal, stdout, stderr }.
 */
function runExample (t, file, args = [], env = {}) {
  const childEnv = { ...process.env, ...env }
  for (const name of ['DEBUG', 'MQTT_CA', 'MQTT_CERT', 'MQTT_KEY', 'MQTT_CLIENT_ID']) {
    if (!(name in env)) delete childEnv[name]
  }
  if (!('MQTT_URL' in env)) delete childEnv.MQTT_URL
  const child = spawn(process.execPath, [path.join('examples', file), ...args], {
    cwd: root,
    env: childEnv,
    stdio: ['pipe', 'pipe', 'pipe']
  })
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  let stdout = ''
  let stderr = ''
  const watchers = []
  const check = () => {
    for (const w of [...watchers]) {
      const line = stdout.split('\n').find((l) => w.re.test(l))
      if (line !== undefined) {
        watchers.splice(watchers.indexOf(w), 1)
        w.resolve(line)
      }
    }
  }
  child.stdout.on('data', (chunk) => { stdout += chunk; check() })
  child.stderr.on('data', (chunk) => { stderr += chunk })
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      // Let the pipes drain before reporting.
      setImmediate(() => {
        for (const w of watchers.splice(0)) w.reject(new Error(`${file} exited (${code ?? signal}) before printing ${w.re}:\n${stdout}\n${stderr}`))
        resolve({ code, signal, stdout, stderr })
      })
    })
  })
  return {
    child,
    exited,
    waitFor: (re) => new Promise((resolve, reject) => {
      watchers.push({ re, resolve, reject })
      check()
    })
  }
}

/** Waits for the example to end and asserts exit status 0, showing its output otherwise. */
async function succeeds (run) {
  const result = await run.exited
  assert.equal(result.code, 0, `exit ${result.code ?? result.signal}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`)
  return result.stdout
}

test('tls-private-ca.js connects with --ca, publishes and receives one message', TIMEOUT, async (t) => {
  if (!requireBinary(t, 'mosquitto') || !requireOpenssl(t)) return
  const certs = makeCerts()
  const tlsPort = await freePort()
  const broker = await startMosquitto({ extraConfig: mosquittoTlsListener(tlsPort, certs.server) })
  t.after(() => broker.stop())

  const run = runExample(t, 'tls-private-ca.js', ['--url', `mqtts://localhost:${tlsPort}`, '--ca', certs.caFile])
  const out = await succeeds(run)
  assert.match(out, new RegExp(`^connected to mqtts://localhost:${tlsPort} \\(server certificate verified against .*ca\\.crt\\)$`, 'm'))
  assert.match(out, /^received on examples\/tls: hello over TLS$/m)
  assert.match(out, /^done$/m)
})

test('tls-private-ca.js does mutual TLS with --cert and --key, and without them says what the broker wants', TIMEOUT, async (t) => {
  if (!requireBinary(t, 'mosquitto') || !requireOpenssl(t)) return
  const certs = makeCerts()
  const tlsPort = await freePort()
  const broker = await startMosquitto({
    extraConfig: mosquittoTlsListener(tlsPort, certs.server, { requireClientCert: true })
  })
  t.after(() => broker.stop())

  // The flags given in the environment this time.
  const run = runExample(t, 'tls-private-ca.js', [], {
    MQTT_URL: `mqtts://localhost:${tlsPort}`,
    MQTT_CA: certs.caFile,
    MQTT_CERT: certs.client.certFile,
    MQTT_KEY: certs.client.keyFile
  })
  const out = await succeeds(run)
  assert.match(out, /^connected to .*; client certificate .*client\.crt\)$/m)
  assert.match(out, /^received on examples\/tls: hello over TLS$/m)

  const refused = await runExample(t, 'tls-private-ca.js', ['--url', `mqtts://localhost:${tlsPort}`, '--ca', certs.caFile]).exited
  assert.equal(refused.code, 1, refused.stdout + refused.stderr)
  assert.match(refused.stderr, /^error: .*`cert`.*`key`.*\(ERR_SSL_\w+\)$/m)
})

test('tls-private-ca.js with a CA that did not issue the broker certificate exits 1 naming the ca option', TIMEOUT, async (t) => {
  if (!requireBinary(t, 'mosquitto') || !requireOpenssl(t)) return
  const certs = makeCerts()
  const tlsPort = await freePort()
  const broker = await startMosquitto({ extraConfig: mosquittoTlsListener(tlsPort, certs.server) })
  t.after(() => broker.stop())

  const result = await runExample(t, 'tls-private-ca.js',
    ['--url', `mqtts://localhost:${tlsPort}`, '--ca', path.join(certs.dir, 'other-ca.crt')]).exited
  assert.equal(result.code, 1, result.stdout + result.stderr)
  assert.match(result.stderr, /^error: .*`ca` option.*\((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN)\)$/m)
})

test('persistent-session.js delivers what was published while the subscriber was offline and while mosquitto restarted', TIMEOUT, async (t) => {
  if (!requireBinary(t, 'mosquitto')) return
  const broker = await startMosquitto({ persistence: true })
  t.after(() => broker.stop())

  const run = runExample(t, 'persistent-session.js', ['--url', broker.url, '--restart'])
  await run.waitFor(/^3\. stop the broker now/)
  await broker.stop()
  run.child.stdin.write('\n')
  await run.waitFor(/^3\. start the broker again/)
  await broker.restart() // the same port and persistence directory
  run.child.stdin.write('\n')

  const out = await succeeds(run)
  assert.match(out, /^1\. subscriber mqtt-native-example-subscriber subscribed to examples\/session at QoS 1 and went offline$/m)
  assert.match(out, /^4\. subscriber mqtt-native-example-subscriber is back; session present: true$/m)
  for (const text of ['sent while the subscriber was offline (1)', 'sent while the subscriber was offline (2)', 'sent while the broker was down']) {
    assert.match(out, new RegExp(`^ {3}received "${text.replace(/[()]/g, '\\$&')}" \\(QoS 1\\)$`, 'm'))
  }
  assert.match(out, /^all 3 messages delivered$/m)
})

test('persistent-session.js without --restart needs no input and exits 0', TIMEOUT, async (t) => {
  if (!requireBinary(t, 'mosquitto')) return
  const broker = await startMosquitto()
  t.after(() => broker.stop())

  const run = runExample(t, 'persistent-session.js', ['--client-id', 'examples-test-no-restart'], { MQTT_URL: broker.url })
  run.child.stdin.end()
  const out = await succeeds(run)
  assert.match(out, /^4\. subscriber examples-test-no-restart is back; session present: true$/m)
  assert.match(out, /^all 2 messages delivered$/m)
})

test('persistent-session.js says so when the broker forgets sessions on restart', TIMEOUT, async (t) => {
  if (!requireBinary(t, 'mosquitto')) return
  const broker = await startMosquitto({ persistence: false })
  t.after(() => broker.stop())

  const run = runExample(t, 'persistent-session.js', ['--url', broker.url, '--restart'])
  await run.waitFor(/^3\. stop the broker now/)
  await broker.stop()
  run.child.stdin.write('\n')
  await run.waitFor(/^3\. start the broker again/)
  await broker.restart()
  run.child.stdin.write('\n')

  const result = await run.exited
  assert.equal(result.code, 1, result.stdout + result.stderr)
  assert.match(result.stdout, /session present: false$/m)
  assert.match(result.stderr, /^error: the broker did not keep the session.*persistence true/m)
})

test('request-response-v5.js answers two concurrent requests, matched by correlation data', TIMEOUT, async (t) => {
  if (!requireBinary(t, 'mosquitto')) return
  const broker = await startMosquitto()
  t.after(() => broker.stop())

  const out = await succeeds(runExample(t, 'request-response-v5.js', [], { MQTT_URL: broker.url }))
  assert.match(out, /^responder: answering requests on examples\/rpc\/sum$/m)
  assert.match(out, /^requester: sum of 2 \+ 40 = 42 \(correlation [0-9a-f]{16}\)$/m)
  assert.match(out, /^requester: sum of 1 \+ 2 \+ 3 \+ 4 = 10 \(correlation [0-9a-f]{16}\)$/m)
  const ids = [...out.matchAll(/correlation ([0-9a-f]{16})/g)].map((m) => m[1])
  assert.equal(new Set(ids).size, 2)
})

test('demo.js (npm run demo) runs the tutorial flow over WebSocket against its embedded aedes', TIMEOUT, async (t) => {
  const out = await succeeds(runExample(t, 'demo.js'))
  assert.match(out, /^embedded aedes broker listening on ws:\/\/127\.0\.0\.1:\d+\/mqtt$/m)
  assert.match(out, /^subscribed to testtopic$/m)
  assert.match(out, /^received on testtopic: Hello from mqtt-native$/m)
  assert.match(out, /^ended cleanly$/m)
})

test('demo.js --url runs the same flow against mosquitto', TIMEOUT, async (t) => {
  if (!requireBinary(t, 'mosquitto')) return
  const broker = await startMosquitto({ websockets: true })
  t.after(() => broker.stop())

  const out = await succeeds(runExample(t, 'demo.js', ['--url', broker.wsUrl]))
  assert.match(out, /^received on testtopic: Hello from mqtt-native$/m)
  assert.match(out, /^ended cleanly$/m)
})

test('prometheus-metrics.js --once prints one scrape of its client\'s statistics in Prometheus text format', TIMEOUT, async (t) => {
  if (!requireBinary(t, 'mosquitto')) return
  const broker = await startMosquitto()
  t.after(() => broker.stop())

  const out = await succeeds(runExample(t, 'prometheus-metrics.js', ['--once', '--port', '0'], { MQTT_URL: broker.url }))
  assert.match(out, /^# TYPE mqtt_client_messages_sent_total counter$/m)
  assert.match(out, /^mqtt_client_state\{client="mqttjs_[0-9a-f]+",state="connected"\} 1$/m)
  assert.match(out, /^mqtt_client_messages_sent_total\{client="mqttjs_[0-9a-f]+",qos="1"\} 3$/m)
  assert.match(out, /^mqtt_client_messages_received_total\{client="mqttjs_[0-9a-f]+",qos="1"\} 3$/m)
  assert.match(out, /^mqtt_client_received_bytes_total\{client="mqttjs_[0-9a-f]+",qos="1"\} 27$/m)
  assert.match(out, /^mqtt_client_inflight\{client="mqttjs_[0-9a-f]+"\} 0$/m)
  // Every sample line is `name{labels} number`, every series announced by # HELP and # TYPE.
  for (const line of out.trim().split('\n')) {
    assert.match(line, /^(# (HELP|TYPE) mqtt_client_\w+ .+|mqtt_client_\w+\{[^}]*\} -?[0-9.e+-]+)$/, line)
  }
})
