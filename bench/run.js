'use strict'
// `npm run bench`: mqtt-native against MQTT.js (`mqtt`, devDependency), side by side, in one run,
// against the same broker (DESIGN.md §6, issue 5).
//
//   node bench/run.js [--runs N] [--no-build] [--smoke] [--only REGEX] [--flood [SECONDS]]
//                     [--json FILE] [--order native-first|alternate]
//
// Builds the release addon into bench/.build/mqtt-native.node (cargo build --release; skip with
// --no-build), starts mosquitto on loopback and a minimal scripted peer (bench/peer.js) in a
// process of its own, then runs every case N times per library (default 3), each run a fresh
// process (bench/worker.js), alternating which library goes first. Prints one JSON line per run
// as it finishes, then JSON summary lines and a table of medians and ratios (mqtt-native / MQTT.js).
//
// --smoke: tiny sizes and one run, with whatever addon the package loads by default (the debug
// build in a working copy) unless --addon PATH or a fresh build says otherwise. Used by
// __test__/bench-smoke.test.js; its figures mean nothing.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn, spawnSync, execFileSync } = require('node:child_process')

const ROOT = path.join(__dirname, '..')
const BUILD_DIR = path.join(__dirname, '.build')
const RELEASE_ADDON = path.join(BUILD_DIR, 'mqtt-native.node')
const LIBS = ['mqtt-native', 'mqtt']
const LIB_LABEL = { mqtt: 'MQTT.js', 'mqtt-native': 'mqtt-native' }
const round = (x, digits) => Math.round(x * 10 ** digits) / 10 ** digits

// ---------------------------------------------------------------------------------------------
// Arguments

function parseArgs (argv) {
  const args = { runs: 3, build: true, smoke: false, only: null, flood: 0, json: null, addon: null, order: 'alternate', timeoutS: 90 }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`)
      return argv[++i]
    }
    if (a === '--runs') args.runs = Math.max(1, Number(next()))
    else if (a === '--no-build') args.build = false
    else if (a === '--smoke') args.smoke = true
    else if (a === '--only') args.only = new RegExp(next())
    else if (a === '--flood') args.flood = /^\d+$/.test(argv[i + 1] || '') ? Number(argv[++i]) : 60
    else if (a === '--json') args.json = next()
    else if (a === '--addon') args.addon = path.resolve(next())
    else if (a === '--order') args.order = next()
    else if (a === '--timeout') args.timeoutS = Number(next())
    else if (a === '--help' || a === '-h') {
      process.stdout.write(fs.readFileSync(__filename, 'utf8').split('\n').slice(1, 17).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n')
      process.exit(0)
    } else throw new Error(`unknown argument ${a} (see --help)`)
  }
  if (args.smoke && !argv.includes('--runs')) args.runs = 1
  if (args.smoke && !argv.includes('--timeout')) args.timeoutS = 30
  return args
}

// ---------------------------------------------------------------------------------------------
// The release addon

/** Builds the release cdylib and copies it to bench/.build/mqtt-native.node. */
function buildRelease () {
  const targetDir = process.env.CARGO_TARGET_DIR || path.join(ROOT, 'target')
  log(`building the release addon (cargo build --release, target dir ${targetDir})`)
  for (let attempt = 1; ; attempt++) {
    const r = spawnSync('cargo', ['build', '--release', '--lib'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, CARGO_TARGET_DIR: targetDir } })
    if (r.status === 0) break
    if (attempt >= 3) throw new Error(`cargo build --release failed (${r.error ? r.error.message : `exit ${r.status}`})`)
    log(`cargo build failed; retrying in 60 s (attempt ${attempt + 1} of 3)`)
    spawnSync('sleep', ['60'])
  }
  const lib = { linux: 'libmqtt_native.so', darwin: 'libmqtt_native.dylib', win32: 'mqtt_native.dll' }[process.platform] || 'libmqtt_native.so'
  fs.mkdirSync(BUILD_DIR, { recursive: true })
  // Copy to a temporary name and rename, so that a process loading the old file is not disturbed.
  const tmp = RELEASE_ADDON + '.tmp'
  fs.copyFileSync(path.join(targetDir, 'release', lib), tmp)
  fs.renameSync(tmp, RELEASE_ADDON)
  return RELEASE_ADDON
}

// ---------------------------------------------------------------------------------------------
// Processes

function log (msg) {
  process.stderr.write(`[bench] ${msg}\n`)
}

/** Starts bench/peer.js serve; resolves with { port, stop }. */
function startPeer () {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'peer.js'), 'serve'], { stdio: ['pipe', 'pipe', 'inherit'] })
    let out = ''
    const onData = (chunk) => {
      out += chunk
      const nl = out.indexOf('\n')
      if (nl === -1) return
      child.stdout.off('data', onData)
      const { port } = JSON.parse(out.slice(0, nl))
      resolve({ port, url: `mqtt://127.0.0.1:${port}`, pid: child.pid, stop: () => { child.stdin.end(); child.kill() } })
    }
    child.stdout.on('data', onData)
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`peer exited early (${code})`)))
  })
}

/** A wrapper that raises mosquitto's file-descriptor limit, when ours is too low for 1,000 clients. */
function mosquittoWrapper (findBinary) {
  let soft = Infinity
  try {
    const m = fs.readFileSync('/proc/self/limits', 'utf8').match(/Max open files\s+(\d+|unlimited)/)
    if (m && m[1] !== 'unlimited') soft = Number(m[1])
  } catch {}
  if (soft >= 4096) return null
  const bin = findBinary('mosquitto')
  if (!bin) return null
  fs.mkdirSync(BUILD_DIR, { recursive: true })
  const wrapper = path.join(BUILD_DIR, 'mosquitto-nofile.sh')
  fs.writeFileSync(wrapper, `#!/bin/sh\nulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null\nexec ${JSON.stringify(bin)} "$@"\n`, { mode: 0o755 })
  return wrapper
}

/** Pins every thread of `pid` to `cpu`; returns a function that gives it all CPUs back. */
function pinProcess (pid, cpu) {
  const all = `0-${os.cpus().length - 1}`
  const r = spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' })
  if (r.status !== 0) log(`taskset could not pin the broker (pid ${pid}); the pinned cases run with it unpinned`)
  return () => { spawnSync('taskset', ['-a', '-p', '-c', all, String(pid)], { stdio: 'ignore' }) }
}

/**
 * Whether `perf stat` can count this machine's system calls with its counters switched on and
 * off by the worker (`--control`, perf 5.10 and later; tracepoints need root or a permissive
 * perf_event_paranoid). Without it the system-call columns stay empty.
 */
function perfUsable () {
  if (process.platform !== 'linux') return false
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-native-bench-perf-'))
  try {
    const fifo = path.join(dir, 'probe')
    if (spawnSync('mkfifo', [fifo], { stdio: 'ignore' }).status !== 0) return false
    const r = spawnSync('perf', ['stat', '-D', '-1', '--control', `fifo:${fifo}`, '-e', 'raw_syscalls:sys_enter', '-x,', '--', 'true'], { stdio: 'ignore', timeout: 10000 })
    return r.status === 0
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** The system calls `perf stat -x,` wrote to `file`, or null. */
function perfSyscalls (file) {
  try {
    const line = fs.readFileSync(file, 'utf8').split('\n').find((l) => l.includes('raw_syscalls:sys_enter'))
    const n = line ? Number(line.split(',')[0]) : NaN
    return Number.isFinite(n) ? n : null
  } catch {
    return null
  }
}

/** Runs one worker; resolves with its RESULT object (or { error }). */
function runWorker (lib, caseName, params, { env, timeoutS, nodeArgs = [], pinCpu, perf = false, command = null }) {
  return new Promise((resolve) => {
    let cmd = command || [process.execPath, ...nodeArgs, path.join(__dirname, 'worker.js'), lib, caseName, JSON.stringify(params)]
    // Under `perf stat`, the worker switches the counting on and off around its measured
    // window through two FIFOs (bench/measure.js).
    let perfDir = null
    if (perf) {
      perfDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-native-bench-perf-'))
      const ctl = path.join(perfDir, 'ctl')
      const ack = path.join(perfDir, 'ack')
      spawnSync('mkfifo', [ctl, ack])
      cmd = ['perf', 'stat', '-D', '-1', '--control', `fifo:${ctl},${ack}`, '-e', 'raw_syscalls:sys_enter', '-x,', '-o', path.join(perfDir, 'out'), '--', ...cmd]
      env = { ...env, BENCH_PERF_CTL: ctl, BENCH_PERF_ACK: ack }
    }
    if (pinCpu !== undefined) cmd = ['taskset', '-c', String(pinCpu), ...cmd]
    // Raise the soft file-descriptor limit for the 1,000-connection case where the shell allows.
    const child = process.platform === 'win32'
      ? spawn(cmd[0], cmd.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('/bin/sh', ['-c', 'ulimit -n 8192 2>/dev/null; exec "$0" "$@"', ...cmd], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    const finish = (result) => {
      if (perfDir) {
        const calls = perfSyscalls(path.join(perfDir, 'out'))
        fs.rmSync(perfDir, { recursive: true, force: true })
        if (calls !== null && !result.error) {
          if (result.messages) result.syscallsPerMsg = round(calls / result.messages, 3)
          if (result.tripsMeasured) result.syscallsPerRoundTrip = round(calls / result.tripsMeasured, 2)
        }
      }
      resolve(result)
    }
    let out = ''
    let err = ''
    child.stdout.on('data', (c) => { out += c })
    child.stderr.on('data', (c) => { err += c; if (err.length > 20000) err = err.slice(-10000) })
    // The worker may run under perf or taskset: kill its whole process group, or an orphaned
    // worker would keep the pipes (and this run) open.
    const kill = () => {
      try { process.kill(-child.pid, 'SIGKILL') } catch { try { child.kill('SIGKILL') } catch {} }
    }
    const timer = setTimeout(kill, timeoutS * 1000)
    process.once('exit', kill)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      process.removeListener('exit', kill)
      const line = out.split('\n').find((l) => l.startsWith('RESULT '))
      if (line) {
        try {
          const result = JSON.parse(line.slice(7))
          if (result.error && err) result.stderr = err.slice(-2000)
          finish(result)
          return
        } catch {}
      }
      finish({ lib, case: caseName, error: signal === 'SIGKILL' ? `timed out after ${timeoutS} s` : `worker exited (${code ?? signal}) without a result`, stderr: err.slice(-2000) })
    })
  })
}

/**
 * Builds the rumqttc reference client (bench/rumqttc, a Rust program with no JavaScript) and
 * returns its path, or null with a logged reason (no cargo, no registry access).
 */
function buildRumqttc () {
  const targetDir = path.join(BUILD_DIR, 'rumqttc-target')
  log('building the rumqttc reference client (bench/rumqttc)')
  const r = spawnSync('cargo', ['build', '--release', '--quiet', '--manifest-path', path.join(__dirname, 'rumqttc', 'Cargo.toml')], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, CARGO_TARGET_DIR: targetDir } })
  if (r.status !== 0) {
    log(`rumqttc reference: not built (${r.error ? r.error.message : `cargo exit ${r.status}`}); its table stays empty`)
    return null
  }
  return path.join(targetDir, 'release', process.platform === 'win32' ? 'bench-rumqttc.exe' : 'bench-rumqttc')
}

/** The aws-crt version the reference runs (installed on demand; not a devDependency). */
const AWS_CRT = '1.33.2'

/**
 * Installs aws-crt (AWS's native MQTT client for Node) into bench/.build/aws-crt from the npm
 * registry and returns the node_modules directory for NODE_PATH, or null with a logged reason.
 */
function installAwsCrt () {
  const prefix = path.join(BUILD_DIR, 'aws-crt')
  const modules = path.join(prefix, 'node_modules')
  try {
    if (require(path.join(modules, 'aws-crt', 'package.json')).version === AWS_CRT) return modules
  } catch {}
  log(`installing aws-crt ${AWS_CRT} for the reference table (npm, into ${prefix})`)
  fs.mkdirSync(prefix, { recursive: true })
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
  const r = spawnSync(npm, ['install', '--prefix', prefix, '--no-save', '--no-audit', '--no-fund', '--loglevel=error', `aws-crt@${AWS_CRT}`], { stdio: ['ignore', 'inherit', 'inherit'] })
  if (r.status !== 0) {
    log(`aws-crt reference: not installed (${r.error ? r.error.message : `npm exit ${r.status}`}); its table stays empty`)
    return null
  }
  return modules
}

/** The rumqttc reference's command line for a pubsub case's parameters. */
function rumqttcCommand (bin, p) {
  const u = new URL(p.url)
  return [bin, 'pubsub', u.hostname, u.port, String(p.qos), String(p.size), String(p.window), String(p.warmMs), String(p.measureMs), String(p.pauseMs || 0), String(p.peerPid || 0)]
}

// ---------------------------------------------------------------------------------------------
// Cases

const THROUGHPUT = [
  { key: 'msgPerSec', label: 'msg/s', better: 'higher' },
  { key: 'cpuUsPerMsg', label: 'process CPU µs/msg', better: 'lower' },
  { key: 'mainCpuUsPerMsg', label: 'main-thread CPU µs/msg', better: 'lower' },
  { key: 'ctxSwitchesPerMsg', label: 'context switches/msg', better: 'lower' },
  { key: 'syscallsPerMsg', label: 'system calls/msg', better: 'lower' },
  { key: 'peerCpuPercent', label: 'broker/peer CPU %', better: 'none' }
]

/** Every case of the run, in order. `needs`: what must be up ('mosquitto', 'ws', 'peer'). */
function buildCases (s) {
  const cases = []
  const small = s.smoke
  const win = small ? { warmMs: 50, measureMs: 200 } : { warmMs: 300, measureMs: 1000 }
  // Every tcp case runs against mosquitto as it ships (Nagle on: `set_tcp_nodelay false`) and
  // as latency-minded deployments run it (`set_tcp_nodelay true`); the two make the broker send
  // very differently sized segments (src/driver/ack_pacing.rs). Each run first sends a burst,
  // waits until it is delivered and pauses (`pauseMs`), then measures: the figure is that of a
  // warmed, long-lived process.
  const settings = [
    { suffix: '-nagle', label: ', Nagle on', url: (env) => env.nagleUrl, port: (env) => env.naglePort, pid: (env) => env.nagleBrokerPid(), needs: 'nagle' },
    { suffix: '', label: ', nodelay', url: (env) => env.url, port: (env) => env.port, pid: (env) => env.brokerPid(), needs: 'mosquitto' }
  ]
  for (const transport of ['tcp', 'ws']) {
    for (const setting of transport === 'tcp' ? settings : [settings[1]]) {
      for (const size of [64, transport === 'ws' ? 4000 : 4096]) {
        for (const qos of [0, 1, 2]) {
          const nagle = setting.suffix === '-nagle'
          cases.push({
            id: `pubsub-${transport}-qos${qos}-${size}B${setting.suffix}`,
            group: '1. publish → mosquitto → subscriber (same process)',
            label: `${transport} QoS ${qos} ${size} B${transport === 'tcp' ? setting.label : ''}`,
            worker: 'pubsub',
            needs: transport === 'ws' ? ['mosquitto', 'ws'] : [setting.needs],
            params: (env) => ({ url: transport === 'ws' ? env.wsUrl : setting.url(env), qos, size, inflight: qos === 2 ? 20 : 0, window: 2000, peerPid: transport === 'ws' ? env.brokerPid() : setting.pid(env), pauseMs: small ? 50 : 100, ...win }),
            metrics: THROUGHPUT,
            // QoS 2 has no reference: rumqttc and aws-crt burst past mosquitto's receive maximum
            // of 20, which strands QoS 2 messages (see Notes on fairness) and stalls the run.
            reference: transport === 'tcp' && size === 64 && qos < 2,
            targets: transport === 'ws'
              ? { msgPerSec: ['>=', 1.5], cpuUsPerMsg: ['<=', 0.3] }
              : nagle
                ? { msgPerSec: ['>=', 1.0], cpuUsPerMsg: ['<=', qos === 0 ? 0.3 : 0.5] }
                : { msgPerSec: ['>=', qos === 1 && size === 64 ? 1.2 : 1.0], cpuUsPerMsg: ['<=', 0.5], syscallsPerMsg: ['<=', 1.0] }
          })
        }
      }
    }
  }
  // The Node-stream path (README): the same publish over a `net` socket the application hands
  // in with `new MqttClient(streamBuilder, options)`, which both libraries take; mqtt-native
  // then runs its session over the Node stream instead of its own socket.
  for (const qos of [0, 1]) {
    cases.push({
      id: `pubsub-stream-tcp-qos${qos}-64B`,
      group: '1. publish → mosquitto → subscriber (same process)',
      label: `tcp QoS ${qos} 64 B, Node-stream path (streamBuilder)`,
      worker: 'pubsub',
      needs: ['mosquitto'],
      params: (env) => ({ url: env.url, qos, size: 64, inflight: 0, window: 2000, streamBuilder: true, peerPid: env.brokerPid(), pauseMs: small ? 50 : 100, ...win }),
      metrics: THROUGHPUT,
      targets: { msgPerSec: ['>=', 1.0], cpuUsPerMsg: ['<=', 1.0] }
    })
  }
  // A closed loop: at most 10 messages between publish and delivery, each delivery publishing
  // the next (request and response with a bounded number in flight). Traffic that waits for
  // the subscriber's reads must not be read lazily (src/driver/polling.rs, ReadSchedule).
  cases.push({
    id: 'pubsub-tcp-qos0-64B-window10',
    group: '1. publish → mosquitto → subscriber (same process)',
    label: 'tcp QoS 0 64 B, nodelay, 10 in flight',
    worker: 'pubsub',
    needs: ['mosquitto'],
    params: (env) => ({ url: env.url, qos: 0, size: 64, inflight: 0, window: 10, peerPid: env.brokerPid(), pauseMs: small ? 50 : 100, ...win }),
    metrics: THROUGHPUT,
    targets: { msgPerSec: ['>=', 1.0] }
  })
  // Built-in persistence (`persistence: { dir }`): the same QoS 1 publish with every message
  // logged and synced in groups; compare with pubsub-tcp-qos1-64B for its cost.
  cases.push({
    id: 'pubsub-tcp-qos1-64B-persist',
    group: '1. publish → mosquitto → subscriber (same process)',
    label: 'tcp QoS 1 64 B, mqtt-native with persistence',
    worker: 'pubsub',
    needs: ['mosquitto'],
    params: (env) => ({ url: env.url, qos: 1, size: 64, inflight: 0, window: 2000, persist: true, peerPid: env.brokerPid(), ...win }),
    metrics: THROUGHPUT,
    targets: {}
  })
  // diagnostics_channel tracing (lib/tracing.js) with a subscriber on every channel, as an APM
  // instrumentation attaches one; compare with pubsub-tcp-qos1-64B for its cost.
  cases.push({
    id: 'pubsub-tcp-qos1-64B-traced',
    group: '1. publish → mosquitto → subscriber (same process)',
    label: 'tcp QoS 1 64 B, mqtt-native with a tracing subscriber',
    worker: 'pubsub',
    needs: ['mosquitto'],
    params: (env) => ({ url: env.url, qos: 1, size: 64, inflight: 0, window: 2000, trace: true, peerPid: env.brokerPid(), pauseMs: small ? 50 : 100, ...win }),
    metrics: THROUGHPUT,
    targets: {}
  })
  for (const setting of settings) {
    const nagle = setting.suffix === '-nagle'
    cases.push({
      id: `flood-tcp-qos0-64B${setting.suffix}`,
      group: '2. receive a flood published by another process through mosquitto',
      label: `tcp QoS 0 64 B${setting.label}`,
      worker: 'flood',
      needs: [setting.needs],
      params: (env) => ({ url: setting.url(env), port: setting.port(env), size: 64, peerPid: setting.pid(env), pauseMs: small ? 50 : 100, ...win }),
      metrics: THROUGHPUT,
      targets: nagle
        ? { msgPerSec: ['>=', 1.0], cpuUsPerMsg: ['<=', 0.25] }
        : { msgPerSec: ['>=', 1.0], cpuUsPerMsg: ['<=', 0.5], syscallsPerMsg: ['<=', 1.0] }
    })
  }
  for (const qos of [0, 1]) {
    cases.push({
      id: `peer-publish-qos${qos}-64B`,
      group: '3. broker-free, minimal peer in another process',
      label: `publish QoS ${qos} 64 B`,
      worker: 'peerPublish',
      needs: ['peer'],
      params: (env) => ({ url: env.peerUrl, qos, size: 64, n: small ? 400 : qos === 0 ? 400000 : 150000, peerPid: env.peerPid }),
      metrics: THROUGHPUT,
      targets: { msgPerSec: ['>=', qos === 0 ? 5 : 4] }
    })
  }
  cases.push({
    id: 'peer-publish-qos1-64B-persist',
    group: '3. broker-free, minimal peer in another process',
    label: 'publish QoS 1 64 B, mqtt-native with persistence',
    worker: 'peerPublish',
    needs: ['peer'],
    params: (env) => ({ url: env.peerUrl, qos: 1, size: 64, n: small ? 400 : 150000, persist: true, peerPid: env.peerPid }),
    metrics: THROUGHPUT,
    targets: {}
  })
  cases.push({
    id: 'peer-receive-qos0-64B',
    group: '3. broker-free, minimal peer in another process',
    label: 'receive QoS 0 64 B',
    worker: 'peerReceive',
    needs: ['peer'],
    params: (env) => ({ url: env.peerUrl, size: 64, peerPid: env.peerPid, ...win }),
    metrics: THROUGHPUT,
    targets: { msgPerSec: ['>=', 6] }
  })
  // Unpinned, a round trip between processes on different vCPUs pays the machine's wake-up
  // latency whatever the client does; pinned to one CPU (the client, and mosquitto for the
  // case), what is left is the client's own share.
  for (const pinned of [false, true]) {
    for (const qos of [0, 1]) {
      cases.push({
        id: `rtt-tcp-qos${qos}-64B${pinned ? '-pinned' : ''}`,
        group: pinned
          ? '4b. the same, with mosquitto and the client pinned to CPU 0 (taskset -c 0)'
          : '4. sequential round trips through mosquitto (publish to self, await the message)',
        label: `tcp QoS ${qos} 64 B${pinned ? ' pinned' : ''}`,
        worker: 'rtt',
        needs: pinned ? ['mosquitto', 'taskset'] : ['mosquitto'],
        pinCpu: pinned ? 0 : undefined,
        params: (env) => ({ url: env.url, qos, size: 64, n: small ? 100 : 2000, warm: small ? 10 : 200, maxMs: small ? 2000 : 4000 }),
        metrics: [
          { key: 'p50Us', label: 'p50 µs', better: 'lower' },
          { key: 'p99Us', label: 'p99 µs', better: 'lower' },
          { key: 'cpuUsPerRoundTrip', label: 'process CPU µs/round trip', better: 'lower' },
          { key: 'mainCpuUsPerRoundTrip', label: 'main-thread CPU µs/round trip', better: 'lower' },
          { key: 'ctxSwitchesPerRoundTrip', label: 'context switches/round trip', better: 'lower' },
          { key: 'syscallsPerRoundTrip', label: 'system calls/round trip', better: 'lower' }
        ],
        targets: pinned ? { p50Us: ['<=', 0.65], p99Us: ['<=', 0.35] } : { p50Us: ['<=', 0.9] }
      })
    }
  }
  cases.push({
    id: 'conns-tcp-1000',
    group: '5. many connections + subscribe in one process (mosquitto)',
    label: `${small ? 20 : 1000} connections`,
    worker: 'conns',
    needs: ['mosquitto'],
    nodeArgs: ['--expose-gc'],
    params: (env) => ({ url: env.url, n: small ? 20 : 1000 }),
    metrics: [
      { key: 'openMs', label: 'time to open all, ms', better: 'lower' },
      { key: 'rssKbPerClient', label: 'RSS KB/client', better: 'lower' },
      { key: 'heapKbPerClient', label: 'JS heap KB/client', better: 'lower' },
      { key: 'externalKbPerClient', label: 'external KB/client', better: 'lower' }
    ],
    targets: { openMs: ['<=', 0.5], rssKbPerClient: ['<=', 0.4] }
  })
  cases.push({
    id: 'coldstart-tcp',
    group: '6. cold start (fresh process, mosquitto)',
    label: 'require + first connect',
    worker: 'coldstart',
    needs: ['mosquitto'],
    params: (env) => ({ url: env.url }),
    metrics: [
      { key: 'requireMs', label: 'require ms', better: 'lower' },
      { key: 'connectMs', label: 'connect() → connect ms', better: 'lower' },
      { key: 'totalMs', label: 'require + connect ms', better: 'lower' }
    ],
    targets: { totalMs: ['<=', 0.25] }
  })
  if (s.flood > 0) {
    cases.push({
      id: `flood-rss-${s.flood}s`,
      group: '8. RSS under a long broker-free flood (QoS 0 64 B)',
      label: `${s.flood} s flood`,
      worker: 'floodRss',
      needs: ['peer'],
      runs: 1,
      params: (env) => ({ url: env.peerUrl, size: 64, seconds: s.flood }),
      metrics: [
        { key: 'rssMbAtWarmup', label: 'RSS MB after warm-up', better: 'lower' },
        { key: 'rssMbAtEnd', label: 'RSS MB at end', better: 'lower' },
        { key: 'rssGrowthMbAfterWarmup', label: 'RSS growth MB after warm-up', better: 'lower' },
        { key: 'messages', label: 'messages received', better: 'higher' }
      ],
      targets: {}
    })
  }
  return cases
}

// ---------------------------------------------------------------------------------------------
// Statistics and output

function median (xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return null
  const m = v.length >> 1
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2
}

function fmt (x) {
  if (x === null || x === undefined) return '–'
  const a = Math.abs(x)
  if (a >= 100000) return Math.round(x).toLocaleString('en-US')
  if (a >= 100) return String(Math.round(x))
  if (a >= 10) return x.toFixed(1)
  if (a >= 1) return x.toFixed(2)
  return x.toFixed(3)
}

function fmtRatio (r) {
  return r === null ? '–' : r >= 10 ? `${r.toFixed(1)}×` : `${r.toFixed(2)}×`
}

/** Medians and ratios of one case. */
function summarize (c, results) {
  const rows = []
  for (const m of c.metrics) {
    const med = {}
    for (const lib of LIBS) med[lib] = median(results.filter((r) => r.lib === lib && !r.error).map((r) => r[m.key]))
    const ratio = med['mqtt-native'] !== null && med.mqtt ? med['mqtt-native'] / med.mqtt : null
    const target = c.targets[m.key]
    let met = null
    if (target && ratio !== null) met = target[0] === '>=' ? ratio >= target[1] : ratio <= target[1]
    rows.push({ metric: m.key, label: m.label, better: m.better, mqtt: med.mqtt, native: med['mqtt-native'], ratio, target: target ? `${target[0]} ${target[1]}` : null, met })
  }
  return rows
}

function printTables (cases, summaries, unavailable, out) {
  const lines = []
  const push = (l) => lines.push(l)
  push('')
  push('Medians of the runs; ratio = mqtt-native / MQTT.js (for msg/s higher is better, for everything else lower is better).')
  let group = null
  for (const c of cases) {
    if (c.group !== group) {
      group = c.group
      push('')
      push(`### ${group}`)
      push('')
      if (c.metrics === THROUGHPUT) {
        const heads = THROUGHPUT.map((m) => m.better === 'none' ? [`${m.label} (MQTT.js, mqtt-native)`] : [`MQTT.js ${m.label}`, `mqtt-native ${m.label}`, 'ratio']).flat()
        push(`| case | ${heads.join(' | ')} |`)
        push(`| --- | ${heads.map(() => '---:').join(' | ')} |`)
      } else {
        push('| case | metric | MQTT.js | mqtt-native | ratio |')
        push('| --- | --- | ---: | ---: | ---: |')
      }
    }
    if (unavailable[c.id]) {
      push(c.metrics === THROUGHPUT
        ? `| ${c.label} | not available: ${unavailable[c.id]} |${' |'.repeat(THROUGHPUT.length * 3 - 3)}`
        : `| ${c.label} | not available: ${unavailable[c.id]} | | | |`)
      continue
    }
    const rows = summaries[c.id]
    if (c.metrics === THROUGHPUT) {
      const cells = rows.map((r) => r.better === 'none'
        ? `${fmt(r.mqtt)}, ${fmt(r.native)}`
        : `${fmt(r.mqtt)} | ${fmt(r.native)} | ${fmtRatio(r.ratio)}${r.met === false ? ' ✗' : r.met ? ' ✓' : ''}`)
      push(`| ${c.label} | ${cells.join(' | ')} |`)
    } else {
      for (const r of rows) push(`| ${c.label} | ${r.label} | ${fmt(r.mqtt)} | ${fmt(r.native)} | ${fmtRatio(r.ratio)}${r.met === false ? ' ✗' : r.met ? ' ✓' : ''} |`)
    }
  }
  push('')
  push('### Targets (issues 5, 9 and 16)')
  push('')
  push('| case | metric | target | ratio | |')
  push('| --- | --- | --- | ---: | --- |')
  for (const c of cases) {
    if (unavailable[c.id]) {
      for (const [key, t] of Object.entries(c.targets)) {
        const m = c.metrics.find((x) => x.key === key)
        push(`| ${c.group.split(' ')[0]} ${c.label} | ${m.label} | ${t[0]} ${t[1]} | – | not measured |`)
      }
      continue
    }
    for (const r of summaries[c.id]) {
      if (!r.target) continue
      push(`| ${c.group.split(' ')[0]} ${c.label} | ${r.label} | ${r.target} | ${fmtRatio(r.ratio)} | ${r.met === null ? 'not measured' : r.met ? 'met' : 'missed'} |`)
    }
  }
  out(lines.join('\n') + '\n')
}

/**
 * The reference clients beside mqtt-native: medians of their runs, and mqtt-native's CPU per
 * message over theirs (below 1: mqtt-native does the same work for less).
 */
function referenceTable (cases, summaries, references) {
  const titles = {
    rumqttc: 'rumqttc 0.25 (Rust, no JavaScript; bench/rumqttc)',
    'aws-crt': `aws-crt ${AWS_CRT} (AWS's native client for Node, its MQTT 5 client; bench/awscrt.js)`
  }
  const lines = []
  for (const name of Object.keys(titles)) {
    const rows = cases.filter((c) => references[c.id] && (references[c.id][name] || []).some((r) => !r.error))
    if (rows.length === 0) continue
    lines.push('', `### Reference: ${titles[name]}, the same pub/sub pattern`, '',
      `| case | ${name} msg/s | ${name} CPU µs/msg | ${name} system calls/msg | ${name} context switches/msg | mqtt-native CPU µs/msg | mqtt-native / ${name} CPU | MQTT.js / ${name} CPU |`,
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
    for (const c of rows) {
      const ok = references[c.id][name].filter((r) => !r.error)
      const m = (k) => median(ok.map((r) => r[k]))
      const cpu = m('cpuUsPerMsg')
      const row = summaries[c.id].find((r) => r.metric === 'cpuUsPerMsg') || {}
      const ratio = (x) => (x && cpu ? fmtRatio(x / cpu) : '–')
      lines.push(`| ${c.label} | ${fmt(m('msgPerSec'))} | ${fmt(cpu)} | ${fmt(m('syscallsPerMsg'))} | ${fmt(m('ctxSwitchesPerMsg'))} | ${fmt(row.native)} | ${ratio(row.native)} | ${ratio(row.mqtt)} |`)
    }
  }
  return lines.length ? lines.join('\n') + '\n' : ''
}

function machine () {
  const cpu = (os.cpus()[0] || {}).model || 'unknown'
  let mosquitto = null
  try {
    const { findBinary } = require('../__test__/helpers/mosquitto.js')
    const bin = findBinary('mosquitto')
    if (bin) {
      const r = spawnSync(bin, ['-h'], { encoding: 'utf8' })
      const m = (r.stdout + r.stderr).match(/mosquitto version (\S+)/)
      mosquitto = m ? m[1] : 'unknown'
    }
  } catch {}
  let rustc = null
  try { rustc = execFileSync('rustc', ['--version'], { encoding: 'utf8' }).trim() } catch {}
  return {
    nproc: os.availableParallelism ? os.availableParallelism() : os.cpus().length,
    cpu,
    memGb: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    node: process.version,
    mqttjs: require('mqtt/package.json').version,
    mosquitto,
    rustc
  }
}

// ---------------------------------------------------------------------------------------------
// Main

async function main () {
  const args = parseArgs(process.argv.slice(2))
  const started = Date.now()
  const emit = (obj) => {
    const line = JSON.stringify(obj)
    process.stdout.write(line + '\n')
    if (args.json) fs.appendFileSync(args.json, line + '\n')
  }
  if (args.json) fs.writeFileSync(args.json, '')

  // Which addon the mqtt-native workers load.
  let addon = args.addon
  if (!addon && args.build) addon = buildRelease()
  if (!addon && !args.smoke && fs.existsSync(RELEASE_ADDON)) addon = RELEASE_ADDON
  if (!addon && !args.smoke) log('warning: no release addon (bench/.build/mqtt-native.node); measuring whatever the package loads by default')
  const env = { ...process.env }
  if (addon) env.NAPI_RS_NATIVE_LIBRARY_PATH = addon
  else delete env.NAPI_RS_NATIVE_LIBRARY_PATH

  const usePerf = perfUsable()
  if (!usePerf) log('perf stat cannot count system calls here (not installed, too old, or not permitted): the system-call columns stay empty')
  const info = { ...machine(), addon: addon || 'default loader', runs: args.runs, smoke: args.smoke, perf: usePerf }
  emit({ type: 'machine', ...info })
  log(`${info.nproc} CPUs (${info.cpu}), Node ${info.node}, MQTT.js ${info.mqttjs}, mosquitto ${info.mosquitto || 'not installed'}; addon: ${info.addon}`)

  // Services.
  const services = { env: {} }
  const unavailableNeeds = {}
  const { startMosquitto, findBinary } = require('../__test__/helpers/mosquitto.js')
  if (process.platform !== 'linux' || !findBinary('taskset')) unavailableNeeds.taskset = 'taskset (util-linux) is not available to pin processes'
  let broker = null
  let nagleBroker = null
  if (findBinary('mosquitto')) {
    const wrapper = mosquittoWrapper(findBinary)
    if (wrapper) process.env.MOSQUITTO_BIN = wrapper
    try {
      // No limit on queued messages: the runs bound what is in flight themselves, and a dropped
      // message would stall a run that waits for deliveries.
      broker = await startMosquitto({ websockets: true, extraConfig: ['max_connections -1', 'max_queued_messages 0'] })
      Object.assign(services.env, { url: broker.url, port: broker.port, wsUrl: broker.wsUrl, brokerPid: broker.pid })
      nagleBroker = await startMosquitto({ nagle: true, extraConfig: ['max_connections -1', 'max_queued_messages 0'] })
      Object.assign(services.env, { nagleUrl: nagleBroker.url, naglePort: nagleBroker.port, nagleBrokerPid: nagleBroker.pid })
    } catch (err) {
      unavailableNeeds.mosquitto = `mosquitto did not start: ${err.message.split('\n')[0]}`
      unavailableNeeds.ws = unavailableNeeds.mosquitto
      unavailableNeeds.nagle = unavailableNeeds.mosquitto
    }
  } else {
    unavailableNeeds.mosquitto = 'mosquitto not installed'
    unavailableNeeds.ws = 'mosquitto not installed'
    unavailableNeeds.nagle = 'mosquitto not installed'
  }
  const peer = await startPeer()
  services.env.peerUrl = peer.url
  services.env.peerPid = peer.pid

  const cases = buildCases(args).filter((c) => !args.only || args.only.test(c.id))
  // The reference clients, for the cases that have a reference column.
  const wantsReferences = !args.smoke && cases.some((c) => c.reference)
  const rumqttc = wantsReferences && process.platform !== 'win32' ? buildRumqttc() : null
  const awsCrtModules = wantsReferences ? installAwsCrt() : null
  const referenceClients = []
  if (rumqttc) referenceClients.push({ name: 'rumqttc', command: (p) => rumqttcCommand(rumqttc, p), env })
  if (awsCrtModules) {
    // aws-crt warns on stderr about Node versions it will drop; the figures are unaffected.
    referenceClients.push({ name: 'aws-crt', command: (p) => [process.execPath, path.join(__dirname, 'awscrt.js'), JSON.stringify(p)], env: { ...env, NODE_PATH: awsCrtModules } })
  }
  // WebSocket: run the ws cases only when both libraries can connect over ws:// (detect by trying).
  if (!unavailableNeeds.ws && cases.some((c) => c.needs.includes('ws'))) {
    for (const lib of LIBS) {
      const r = await runWorker(lib, 'probe', { url: services.env.wsUrl, timeoutMs: 5000 }, { env, timeoutS: 20 })
      if (r.error) {
        unavailableNeeds.ws = `${LIB_LABEL[lib]} cannot connect over ws:// (${r.error.split('\n')[0].slice(0, 160)})`
        break
      }
    }
  }
  if (unavailableNeeds.ws) log(`ws cases: not available: ${unavailableNeeds.ws}`)

  const unavailable = {}
  const summaries = {}
  /** The reference clients' runs, per case id. */
  const references = {}
  const allResults = []
  for (const c of cases) {
    const missing = c.needs.find((n) => unavailableNeeds[n])
    if (missing) {
      unavailable[c.id] = unavailableNeeds[missing]
      emit({ type: 'unavailable', case: c.id, reason: unavailable[c.id] })
      continue
    }
    const params = c.params(services.env)
    // A pinned case pins the broker too, for the duration of the case.
    const unpin = c.pinCpu !== undefined ? pinProcess(services.env.brokerPid(), c.pinCpu) : () => {}
    const results = []
    const runs = c.runs || args.runs
    for (let run = 0; run < runs; run++) {
      const order = args.order === 'native-first' || run % 2 === 0 ? LIBS : [...LIBS].reverse()
      for (const lib of order) {
        const r = await runWorker(lib, c.worker, params, { env, timeoutS: args.timeoutS + (c.worker === 'floodRss' ? args.flood : 0), nodeArgs: c.nodeArgs, pinCpu: c.pinCpu, perf: usePerf })
        r.case = c.id
        r.run = run + 1
        results.push(r)
        allResults.push(r)
        const { samples, ...rest } = r
        emit({ type: 'run', ...rest, ...(samples ? { samples } : {}) })
        if (r.error) log(`${c.id} ${lib} run ${run + 1}: ERROR ${r.error.split('\n')[0]}`)
        else log(`${c.id} ${lib} run ${run + 1}: ${c.metrics.map((m) => `${m.key}=${fmt(r[m.key])}`).join(' ')}`)
      }
    }
    for (const ref of c.reference ? referenceClients : []) {
      const refs = []
      for (let run = 0; run < runs; run++) {
        const r = await runWorker(ref.name, c.worker, params, { env: ref.env, timeoutS: args.timeoutS, perf: usePerf, command: ref.command(params) })
        r.case = c.id
        r.run = run + 1
        refs.push(r)
        allResults.push(r)
        emit({ type: 'run', ...r })
        if (r.error) log(`${c.id} ${ref.name} run ${run + 1}: ERROR ${r.error.split('\n')[0]}`)
        else log(`${c.id} ${ref.name} run ${run + 1}: msgPerSec=${fmt(r.msgPerSec)} cpuUsPerMsg=${fmt(r.cpuUsPerMsg)}`)
      }
      references[c.id] = { ...references[c.id], [ref.name]: refs }
    }
    unpin()
    summaries[c.id] = summarize(c, results)
    for (const row of summaries[c.id]) emit({ type: 'summary', case: c.id, ...row })
  }

  peer.stop()
  if (broker) await broker.stop()
  if (nagleBroker) await nagleBroker.stop()

  const seconds = Math.round((Date.now() - started) / 1000)
  let table = ''
  printTables(cases, summaries, unavailable, (s) => { table += s })
  table += referenceTable(cases, summaries, references)
  process.stdout.write(table)
  process.stdout.write(`\n${info.nproc} × ${info.cpu}, Node ${info.node}, MQTT.js ${info.mqttjs}, mosquitto ${info.mosquitto}; ${args.runs} run(s) per case; ${seconds} s in all.\n`)
  if (!args.smoke && !args.only) {
    fs.mkdirSync(BUILD_DIR, { recursive: true })
    fs.writeFileSync(path.join(BUILD_DIR, 'last-run.json'), JSON.stringify({ machine: info, seconds, cases: cases.map((c) => ({ id: c.id, group: c.group, label: c.label, unavailable: unavailable[c.id], summary: summaries[c.id] })), results: allResults }, null, 2))
    fs.writeFileSync(path.join(BUILD_DIR, 'last-table.md'), table)
  }
  const failed = allResults.filter((r) => r.error)
  if (failed.length) {
    log(`${failed.length} run(s) failed`)
    process.exitCode = 1
  }
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`)
  process.exit(1)
})
