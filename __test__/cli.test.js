'use strict'
// The command line (`mqtt`, `mqtt_pub`, `mqtt_sub`), run as child processes against mosquitto.

const test = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { startMosquitto, requireBinary } = require('./helpers/mosquitto')
const { freePort } = require('./helpers/ports')
const { startScriptedBroker } = require('./helpers/scripted-broker')

const root = path.join(__dirname, '..')
const BIN = {
  mqtt: path.join(root, 'bin', 'mqtt.js'),
  mqtt_pub: path.join(root, 'bin', 'pub.js'),
  mqtt_sub: path.join(root, 'bin', 'sub.js')
}
const { version } = require('../package.json')
const TEST_TIMEOUT = 30000

let ids = 0
/** A client id unique to this run, so that the broker's log can be searched for it. */
function uniqueId (label) {
  return `cli-${label}-${process.pid}-${++ids}`
}

/**
 * Starts a CLI as a child process. The child is killed when the test ends, and after
 * `timeoutMs` in any case. `done` resolves with its exit code, signal and output. `stdin` is
 * written and closed, or left open with 'open'.
 */
function cli (t, args, { bin = 'mqtt', stdin = null, timeoutMs = 15000 } = {}) {
  const child = spawn(process.execPath, [BIN[bin], ...args], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => { stdout += d })
  child.stderr.on('data', (d) => { stderr += d })
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const done = new Promise((resolve) => {
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })
  if (stdin === null) child.stdin.end()
  else if (stdin === 'open') { /* the test writes to child.stdin */ } else if (typeof stdin === 'string' || Buffer.isBuffer(stdin)) child.stdin.end(stdin)
  t.after(() => {
    clearTimeout(timer)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  return { child, done, output: () => stdout }
}

/** Runs a CLI to completion. */
function run (t, args, opts) {
  return cli(t, args, opts).done
}

/** Polls `check` every 20 ms until it returns true; fails after `timeoutMs`. */
async function waitFor (check, what, timeoutMs = 8000) {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

// One mosquitto for the whole file, with full logging so that tests can see what reached it.
let sharedBroker = null
async function broker (t) {
  if (!requireBinary(t, 'mosquitto')) return null
  if (!sharedBroker) sharedBroker = startMosquitto({ verbose: true })
  return sharedBroker
}
test.after(async () => {
  if (sharedBroker) await (await sharedBroker).stop()
})

/** Mosquitto's log lines about one client id. */
function logOf (b, clientId) {
  return b.logs().split('\n').filter((line) => line.includes(clientId)).join('\n')
}

/** Starts `mqtt sub` and waits until the broker has its SUBSCRIBE. */
async function subscriber (t, b, args, opts = {}) {
  const id = uniqueId('sub')
  const proc = cli(t, ['-h', b.host, '-p', String(b.port), '-i', id, ...args], { bin: 'mqtt_sub', ...opts })
  await waitFor(() => logOf(b, id).includes('Received SUBSCRIBE') || proc.child.exitCode !== null, `the SUBSCRIBE of ${id}`)
  return { ...proc, id }
}

function oneLine (text) {
  return text.trim().split('\n').length === 1
}

// ---------------------------------------------------------------------------------------------
// Commands, help and usage errors (no broker)

test('mqtt version prints mqtt-native and its version, also as "mqtt v" and "mqtt --version"', { timeout: TEST_TIMEOUT }, async (t) => {
  for (const word of ['version', 'v', 'ver', '--version']) {
    const r = await run(t, [word])
    assert.equal(r.code, 0, `${word}: ${r.stderr}`)
    assert.match(r.stdout, new RegExp(`^mqtt-native ${version.replace(/\./g, '\\.')}\\b.*\\n$`))
    assert.match(r.stdout, /MQTT\.js-compatible 5\.16/)
  }
})

test('mqtt help lists the commands; a unique beginning of a command runs it', { timeout: TEST_TIMEOUT }, async (t) => {
  for (const args of [['help'], ['he'], ['--help']]) {
    const r = await run(t, args)
    assert.equal(r.code, 0)
    for (const word of ['publish', 'subscribe', 'version', 'help']) assert.match(r.stdout, new RegExp(word))
  }
  const pub = await run(t, ['help', 'pub'])
  assert.equal(pub.code, 0)
  assert.match(pub.stdout, /^Usage: mqtt publish/)
  const sub = await run(t, ['help', 's'])
  assert.match(sub.stdout, /^Usage: mqtt subscribe/)
})

test('every flag MQTT.js\'s help texts list is in ours', { timeout: TEST_TIMEOUT }, async (t) => {
  const theirs = path.join(root, 'node_modules', 'mqtt', 'help')
  for (const [file, command] of [['publish.txt', 'publish'], ['subscribe.txt', 'subscribe']]) {
    const text = fs.readFileSync(path.join(theirs, file), 'utf8')
    const flags = new Set(text.match(/(?<![\w-])--?[A-Za-z][\w-]*/g))
    const ours = await run(t, ['help', command])
    for (const flag of flags) {
      assert.ok(new RegExp(`(?<![\\w-])${flag}(?![\\w-])`).test(ours.stdout), `${command}: ${flag} is missing from our help`)
    }
    for (const direct of [[command, '--help'], [command, '-H']]) {
      const r = await run(t, direct)
      assert.equal(r.code, 0, `${direct.join(' ')}: ${r.stderr}`)
      assert.equal(r.stdout, ours.stdout)
    }
  }
  const sub = await run(t, ['-H'], { bin: 'mqtt_sub' })
  assert.match(sub.stdout, /^Usage: mqtt subscribe/)
})

test('an unknown command, or none, exits with 1 and says so in one line', { timeout: TEST_TIMEOUT }, async (t) => {
  const r = await run(t, ['foo'])
  assert.equal(r.code, 1)
  assert.equal(r.stdout, '')
  assert.ok(oneLine(r.stderr), r.stderr)
  assert.match(r.stderr, /no such command "foo"/)
  const none = await run(t, [])
  assert.equal(none.code, 1)
  assert.match(none.stderr, /Usage: mqtt <command>/)
})

test('a missing topic is a usage error with exit code 1, for pub and sub', { timeout: TEST_TIMEOUT }, async (t) => {
  for (const [bin, args] of [['mqtt', ['pub', '-m', 'x']], ['mqtt', ['sub']], ['mqtt_pub', []], ['mqtt_sub', ['-q', '1']]]) {
    const r = await run(t, args, { bin })
    assert.equal(r.code, 1, `${bin} ${args.join(' ')}`)
    assert.ok(oneLine(r.stderr), r.stderr)
    assert.match(r.stderr, /missing topic/)
    assert.doesNotMatch(r.stderr, /\n\s+at /)
  }
})

test('bad flag values and unknown flags are usage errors with exit code 1', { timeout: TEST_TIMEOUT }, async (t) => {
  const cases = [
    [['pub', '-t', 'a', '-p', 'abc'], /--port must be a whole number from 1 to 65535, not "abc"/],
    [['pub', '-t', 'a', '-p', '70000'], /--port must be/],
    [['pub', '-t', 'a', '-q', '3'], /--qos must be a whole number from 0 to 2/],
    [['sub', '-t', 'a', '-k', 'x'], /--keepalive must be/],
    [['sub', '-t', 'a', '-C', '0'], /--count must be/],
    [['pub', '-t', 'a', '--bogus', '1'], /unknown option --bogus/],
    [['pub', '-t', 'a', '-Z'], /unknown option -Z/],
    [['pub', '-t', 'a', '--protocol', 'htp'], /unknown protocol "htp"/],
    [['pub', '-t', 'a', '--will-qos', '1'], /--will-qos needs --will-topic/],
    [['pub', '-t', 'a', '--reconnectPeriod', 'soon'], /--reconnectPeriod must be a whole number/],
    [['pub', '-t', 'a', '--ca', '/nonexistent/ca.pem'], /cannot read the --ca file "\/nonexistent\/ca.pem": ENOENT/],
    [['pub', '-t', 'a', '-m'], /-m needs a value/],
    [['pub', '-M', '-t', 'a'], /--multiline reads stdin/]
  ]
  for (const [args, expected] of cases) {
    const r = await run(t, args)
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`)
    assert.ok(oneLine(r.stderr), r.stderr)
    assert.match(r.stderr, expected)
  }
})

test('a refused connection exits with 1 and one line naming the reason', { timeout: TEST_TIMEOUT }, async (t) => {
  const port = await freePort()
  for (const args of [['pub', '-t', 'a', '-m', 'b'], ['sub', '-t', 'a']]) {
    const started = Date.now()
    const r = await run(t, [...args, '-h', '127.0.0.1', '-p', String(port)])
    assert.equal(r.code, 1, r.stderr)
    assert.ok(oneLine(r.stderr), r.stderr)
    assert.match(r.stderr, /^mqtt (publish|subscribe): connect ECONNREFUSED 127\.0\.0\.1:\d+\n$/)
    assert.ok(Date.now() - started < 5000)
  }
})

test('an option the client refuses is reported in one line, not as a stack trace', { timeout: TEST_TIMEOUT }, async (t) => {
  const r = await run(t, ['sub', '-t', 'a', '--no-clean', '-h', '127.0.0.1', '-p', '1'])
  assert.equal(r.code, 1)
  assert.ok(oneLine(r.stderr), r.stderr)
  assert.match(r.stderr, /Missing clientId for unclean clients/)
})

// ---------------------------------------------------------------------------------------------
// Against mosquitto

test('pub then sub: a retained message reaches a later subscriber, which exits after -C 1', { timeout: TEST_TIMEOUT }, async (t) => {
  const b = await broker(t)
  if (!b) return
  const topic = `cli/retained/${process.pid}`
  const pub = await run(t, ['pub', '-h', b.host, '-p', String(b.port), '-t', topic, '-m', 'kept', '-r', '-q', '1'])
  assert.equal(pub.code, 0, pub.stderr)
  assert.equal(pub.stdout + pub.stderr, '')
  const sub = await run(t, ['sub', '-h', b.host, '-p', String(b.port), '-t', topic, '-C', '1', '-v'])
  assert.equal(sub.code, 0, sub.stderr)
  assert.equal(sub.stdout, `${topic} kept\n`)
  // Clean up: an empty retained message removes it.
  assert.equal((await run(t, ['pub', '-h', b.host, '-p', String(b.port), '-t', topic, '-r'])).code, 0)
})

test('sub prints each message on its own line and exits 0 after --count messages at QoS 0, 1 and 2', { timeout: TEST_TIMEOUT }, async (t) => {
  const b = await broker(t)
  if (!b) return
  const topic = `cli/qos/${process.pid}`
  const sub = await subscriber(t, b, ['-t', topic, '-q', '2', '--count', '3'])
  for (const qos of [0, 1, 2]) {
    const r = await run(t, ['pub', '-h', b.host, '-p', String(b.port), '-t', topic, '-m', `at qos ${qos}`, '-q', String(qos)])
    assert.equal(r.code, 0, r.stderr)
  }
  const done = await sub.done
  assert.equal(done.code, 0, done.stderr)
  assert.equal(done.stdout, 'at qos 0\nat qos 1\nat qos 2\n')
  assert.match(logOf(b, sub.id), new RegExp(`Received SUBSCRIBE from ${sub.id}\\n.*${sub.id} 2 ${topic}\\n`))
})

test('mqtt_pub takes topic and message as arguments; mqtt_sub takes several topics', { timeout: TEST_TIMEOUT }, async (t) => {
  const b = await broker(t)
  if (!b) return
  const base = `cli/args/${process.pid}`
  const sub = await subscriber(t, b, [`${base}/a`, '-t', `${base}/b`, '-C', '2', '-v'])
  for (const leaf of ['a', 'b']) {
    const r = await run(t, ['-h', b.host, '-p', String(b.port), `${base}/${leaf}`, `to ${leaf}`], { bin: 'mqtt_pub' })
    assert.equal(r.code, 0, r.stderr)
  }
  const done = await sub.done
  assert.equal(done.code, 0, done.stderr)
  assert.equal(done.stdout, `${base}/a to a\n${base}/b to b\n`)
})

test('pub -s publishes the whole of stdin as one message', { timeout: TEST_TIMEOUT }, async (t) => {
  const b = await broker(t)
  if (!b) return
  const topic = `cli/stdin/${process.pid}`
  const sub = await subscriber(t, b, ['-t', topic, '-C', '1'])
  const r = await run(t, ['pub', '-h', b.host, '-p', String(b.port), '-t', topic, '-s'], { stdin: 'first line\nsecond line\n' })
  assert.equal(r.code, 0, r.stderr)
  const done = await sub.done
  assert.equal(done.code, 0, done.stderr)
  assert.equal(done.stdout, 'first line\nsecond line\n\n')
})

test('pub -s -M publishes each line of stdin as its own message, in order, at QoS 1', { timeout: TEST_TIMEOUT }, async (t) => {
  const b = await broker(t)
  if (!b) return
  const topic = `cli/multiline/${process.pid}`
  const lines = Array.from({ length: 50 }, (_, i) => `line ${i}`)
  const sub = await subscriber(t, b, ['-t', topic, '-q', '1', '-C', String(lines.length)])
  const r = await run(t, ['pub', '-h', b.host, '-p', String(b.port), '-t', topic, '-s', '-M', '-q', '1'], { stdin: lines.join('\r\n') + '\r\n' })
  assert.equal(r.code, 0, r.stderr)
  const done = await sub.done
  assert.equal(done.code, 0, done.stderr)
  assert.equal(done.stdout, lines.map((l) => l + '\n').join(''))
})

test('pub -s -M streams: lines are published as they arrive, before stdin ends', { timeout: TEST_TIMEOUT }, async (t) => {
  const b = await broker(t)
  if (!b) return
  const topic = `cli/stream/${process.pid}`
  const sub = await subscriber(t, b, ['-t', topic])
  const pub = cli(t, ['pub', '-h', b.host, '-p', String(b.port), '-t', topic, '-s', '-M'], { stdin: 'open' })
  pub.child.stdin.write('one\n')
  await waitFor(() => sub.output() === 'one\n', 'the first line to arrive')
  pub.child.stdin.end('two\n')
  assert.equal((await pub.done).code, 0)
  await waitFor(() => sub.output() === 'one\ntwo\n', 'the second line to arrive')
  sub.child.kill('SIGINT')
  assert.equal((await sub.done).code, 0)
})

test('SIGINT and SIGTERM end mqtt sub cleanly with exit code 0 and a DISCONNECT', { timeout: TEST_TIMEOUT }, async (t) => {
  const b = await broker(t)
  if (!b) return
  for (const signal of ['SIGINT', 'SIGTERM']) {
    const sub = await subscriber(t, b, ['-t', `cli/signal/${process.pid}`])
    sub.child.kill(signal)
    const done = await sub.done
    assert.equal(done.code, 0, `${signal}: ${done.stderr}`)
    assert.equal(done.stderr, '')
    await waitFor(() => /Received DISCONNECT/.test(logOf(b, sub.id)), `the DISCONNECT after ${signal}`)
  }
})

test('client id, keepalive, clean and pass-through client options reach the CONNECT', { timeout: TEST_TIMEOUT }, async (t) => {
  const b = await broker(t)
  if (!b) return
  const forms = [['--client-id'], ['-i'], ['--id'], ['--clientId']]
  for (const [flag] of forms) {
    const id = uniqueId('id')
    const r = await run(t, ['pub', '-h', b.host, '-p', String(b.port), '-t', 'cli/id', flag, id])
    assert.equal(r.code, 0, r.stderr)
    assert.match(logOf(b, id), /New client connected .* as cli-id-\S+ \(p2, c1, k60\)/, flag)
  }
  const sub = await subscriber(t, b, ['-t', 'cli/v5', '-k', '7', '--no-clean', '--protocolVersion', '5',
    '--properties.sessionExpiryInterval', '30', '--reconnect-period', '0'])
  assert.match(logOf(b, sub.id), /New client connected .* \(p5, c0, k7\)/)
  sub.child.kill('SIGINT')
  assert.equal((await sub.done).code, 0)
})

test('-C with a protocol name is --protocol in mqtt sub, as in MQTT.js', { timeout: TEST_TIMEOUT }, async (t) => {
  const b = await broker(t)
  if (!b) return
  const sub = await subscriber(t, b, ['-t', 'cli/compat', '-C', 'mqtt'])
  assert.equal(sub.child.exitCode, null, sub.output())
  sub.child.kill('SIGINT')
  assert.equal((await sub.done).code, 0)
})

test('--will-payload (advertised by MQTT.js, ignored there) and --will-message set the will', { timeout: TEST_TIMEOUT }, async (t) => {
  const b = await broker(t)
  if (!b) return
  for (const flag of ['--will-payload', '--will-message']) {
    const willTopic = `cli/will/${process.pid}/${flag}`
    const watcher = await subscriber(t, b, ['-t', willTopic, '-C', '1', '-v', '-q', '1'])
    const doomed = await subscriber(t, b, ['-t', 'cli/will/idle', '--will-topic', willTopic, flag, 'gone', '--will-qos', '1'])
    doomed.child.kill('SIGKILL') // no DISCONNECT, so the broker publishes the will
    const done = await watcher.done
    assert.equal(done.code, 0, done.stderr)
    assert.equal(done.stdout, `${willTopic} gone\n`)
  }
})

test('an invalid topic filter exits with 1 and one line', { timeout: TEST_TIMEOUT }, async (t) => {
  const b = await broker(t)
  if (!b) return
  // A wildcard inside a level is refused by the client itself, before anything is sent.
  const r = await run(t, ['sub', '-h', b.host, '-p', String(b.port), '-t', 'a/b#'])
  assert.equal(r.code, 1)
  assert.ok(oneLine(r.stderr), r.stderr)
  assert.match(r.stderr, /Invalid topic a\/b#/)
})

test('a subscription the broker refuses exits with 1 and one line', { timeout: TEST_TIMEOUT }, async (t) => {
  // mosquitto grants every subscription (its ACLs act on delivery), so a scripted broker refuses.
  for (const protocolVersion of [4, 5]) {
    const b = await startScriptedBroker({ protocolVersion, autoConnack: true, autoPingresp: true })
    t.after(() => b.close())
    const sub = cli(t, ['sub', '-h', '127.0.0.1', '-p', String(b.port), '-t', 'closed/topic', '--protocolVersion', String(protocolVersion)])
    const conn = await b.nextConnection()
    const request = await conn.nextPacket('subscribe')
    conn.send({ cmd: 'suback', messageId: request.messageId, granted: [protocolVersion === 5 ? 0x87 : 0x80] })
    const r = await sub.done
    assert.equal(r.code, 1, `v${protocolVersion}: ${r.stdout} ${r.stderr}`)
    assert.ok(oneLine(r.stderr), r.stderr)
    assert.match(r.stderr, /^mqtt subscribe: Subscribe error: (Unspecified error|Not authorized)\n$/)
  }
})

// ---------------------------------------------------------------------------------------------
// TLS and WebSocket (skipped when this build lacks the transport, or openssl is missing)

/** Whether this build opens `protocol` (the client refuses unsupported transports at once). */
function transportSupported (protocol) {
  try {
    require('..').connect({ protocol, host: '127.0.0.1', port: 1, manualConnect: true })
    return true
  } catch (err) {
    if (err.code === 'ERR_MQTT_UNSUPPORTED') return false
    throw err
  }
}

/** A CA, a server certificate for 127.0.0.1/localhost and a client certificate, made by openssl. */
function makeCertificates (dir) {
  const { execFileSync } = require('node:child_process')
  const ssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  ssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=mqtt-native test CA')
  // Extensions make X.509 v3 certificates (rustls refuses v1).
  fs.writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n')
  fs.writeFileSync(path.join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n')
  for (const [name, subject] of [['server', '/CN=localhost'], ['client', '/CN=cli-client']]) {
    ssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject)
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`)
  }
  return Object.fromEntries(['ca', 'server', 'client'].map((n) => [n, { cert: path.join(dir, `${n}.pem`), key: path.join(dir, `${n}.key`) }]))
}

let tlsBroker = null
async function startTlsBroker (t) {
  if (!requireBinary(t, 'mosquitto') || !requireBinary(t, 'openssl')) return null
  if (!transportSupported('mqtts')) {
    t.skip('this build has no mqtts transport yet')
    return null
  }
  if (tlsBroker) return tlsBroker
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'mqtt-native-cli-tls-'))
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }))
  const files = makeCertificates(dir)
  const tlsPort = await freePort()
  const mutualPort = await freePort()
  const listener = (port, extra) => [`listener ${port} 127.0.0.1`, `cafile ${files.ca.cert}`,
    `certfile ${files.server.cert}`, `keyfile ${files.server.key}`, ...extra]
  const b = await startMosquitto({
    extraConfig: [...listener(tlsPort, []), ...listener(mutualPort, ['require_certificate true'])]
  })
  tlsBroker = { b, files, tlsPort, mutualPort }
  return tlsBroker
}
test.after(async () => {
  if (tlsBroker) await tlsBroker.b.stop()
})

test('over TLS: --ca alone selects mqtts; pub -l mqtts --cafile reaches sub', { timeout: TEST_TIMEOUT }, async (t) => {
  const tls = await startTlsBroker(t)
  if (!tls) return
  const { files, tlsPort } = tls
  const common = ['-h', '127.0.0.1', '-p', String(tlsPort)]
  const topic = `cli/tls/${process.pid}`
  const sub = cli(t, ['sub', ...common, '--ca', files.ca.cert, '-t', topic, '-C', '1', '-v', '-q', '1'])
  // A retained message reaches the subscriber whenever its SUBSCRIBE lands.
  const r = await run(t, ['pub', ...common, '-l', 'mqtts', '--cafile', files.ca.cert, '-t', topic, '-m', 'over tls', '-r', '-q', '1'])
  assert.equal(r.code, 0, r.stderr)
  const done = await sub.done
  assert.equal(done.code, 0, done.stderr)
  assert.equal(done.stdout, `${topic} over tls\n`)
  assert.equal((await run(t, ['pub', ...common, '--ca', files.ca.cert, '-t', topic, '-r'])).code, 0)
})

test('over TLS: an untrusted broker certificate is one line and exit 1; --insecure connects anyway', { timeout: TEST_TIMEOUT }, async (t) => {
  const tls = await startTlsBroker(t)
  if (!tls) return
  const common = ['-h', '127.0.0.1', '-p', String(tls.tlsPort), '-l', 'mqtts', '-t', 'cli/tls/x', '-m', 'x']
  const refused = await run(t, ['pub', ...common])
  assert.equal(refused.code, 1)
  assert.ok(oneLine(refused.stderr), refused.stderr)
  assert.match(refused.stderr, /^mqtt publish: .*certificate/i)
  const insecure = await run(t, ['pub', ...common, '--insecure'])
  assert.equal(insecure.code, 0, insecure.stderr)
})

test('over TLS: --key and --cert present a client certificate to a broker that requires one', { timeout: TEST_TIMEOUT }, async (t) => {
  const tls = await startTlsBroker(t)
  if (!tls) return
  const { files, mutualPort } = tls
  const common = ['-h', '127.0.0.1', '-p', String(mutualPort), '--ca', files.ca.cert, '-t', 'cli/tls/mutual', '-m', 'x']
  const withCert = await run(t, ['pub', ...common, '--key', files.client.key, '--cert', files.client.cert])
  assert.equal(withCert.code, 0, withCert.stderr)
  const without = await run(t, ['pub', ...common])
  assert.equal(without.code, 1, 'a broker requiring a client certificate must refuse one without')
  assert.ok(oneLine(without.stderr), without.stderr)
})

test('over WebSocket: -l ws with --path reaches mosquitto\'s websockets listener', { timeout: TEST_TIMEOUT }, async (t) => {
  if (!requireBinary(t, 'mosquitto')) return
  if (!transportSupported('ws')) return t.skip('this build has no ws transport yet')
  const b = await startMosquitto({ websockets: true })
  t.after(() => b.stop())
  const common = ['-l', 'ws', '-h', '127.0.0.1', '-p', String(b.wsPort), '--path', '/mqtt']
  const topic = `cli/ws/${process.pid}`
  const sub = cli(t, ['sub', ...common, '-t', topic, '-C', '1', '-v', '-q', '1'])
  const r = await run(t, ['pub', ...common, '-t', topic, '-m', 'over ws', '-r', '-q', '1'])
  assert.equal(r.code, 0, r.stderr)
  const done = await sub.done
  assert.equal(done.code, 0, done.stderr)
  assert.equal(done.stdout, `${topic} over ws\n`)
  // A plain MQTT port spoken to as WebSocket: one line, exit 1.
  const wrong = await run(t, ['pub', '-l', 'ws', '-h', '127.0.0.1', '-p', String(b.port), '-t', topic, '-m', 'x'])
  assert.equal(wrong.code, 1)
  assert.ok(oneLine(wrong.stderr), wrong.stderr)
})
