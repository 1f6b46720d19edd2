'use strict'
// The brokers of the interop matrix (`npm run test:interop`), each started as a process of its
// own on free 127.0.0.1 ports with a configuration written here into a temporary directory (never
// a system service), and what each is documented to do where it departs from the specification.
//
// Every broker runs in its own process group, so that the test can freeze it (SIGSTOP), crash it
// (SIGKILL) and start it again on the same ports with the same data directory. `.ci/run` installs
// them; README.md ("Interop with brokers") says how to install them by hand.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { freePort, waitForPort } = require('../helpers/ports')
const { findBinary } = require('../helpers/mosquitto')

/** Where .ci/run installs the brokers that are not Debian packages (overridable). */
const cacheDir = process.env.MQTT_NATIVE_CI_CACHE || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'mqtt-native-ci')

/** Every broker process group started here and not yet gone (killed at exit). */
const running = new Set()
const tempDirs = new Set()
process.on('exit', () => {
  for (const child of running) {
    try { process.kill(-child.pid, 'SIGCONT') } catch {}
    try { process.kill(-child.pid, 'SIGKILL') } catch {}
  }
  for (const dir of tempDirs) {
    try { fs.rmSync(dir, { recursive: true, force: true }) } catch {}
  }
})

function isExecutable (file) {
  try {
    fs.accessSync(file, fs.constants.X_OK)
    return fs.statSync(file).isFile()
  } catch {
    return false
  }
}

/** The first of `candidates` that is an executable file, or a binary found in PATH. */
function locate (name, candidates = []) {
  for (const c of candidates) if (c && isExecutable(c)) return c
  return findBinary(name)
}

/**
 * Runs a broker as a process group and waits until each of `ports` accepts connections.
 * @param {{ name: string, bin: string, args: string[], env?: object, cwd: string, ports: number[],
 *   startTimeoutMs: number, stopSignal?: string, onExit?: () => void }} spec
 */
async function startProcess (spec) {
  let child = null
  let exited = null
  let log = ''

  async function start () {
    log += `--- starting ${spec.bin} ${spec.args.join(' ')}\n`
    const proc = spawn(spec.bin, spec.args, { cwd: spec.cwd, env: { ...process.env, ...spec.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    child = proc
    running.add(proc)
    let exitInfo = null
    exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        running.delete(proc)
        exitInfo = { code, signal }
        resolve()
      })
    })
    const append = (chunk) => {
      log += chunk.toString()
      if (log.length > 400000) log = log.slice(-200000)
    }
    proc.stdout.on('data', append)
    proc.stderr.on('data', append)
    let spawnError = null
    proc.once('error', (err) => { spawnError = err })
    try {
      await Promise.all(spec.ports.map((port) => waitForPort(port, {
        timeoutMs: spec.startTimeoutMs,
        shouldStop: () => spawnError || (exitInfo && new Error(`${spec.name} exited (${exitInfo.code ?? exitInfo.signal}) while starting`))
      })))
    } catch (err) {
      await kill()
      throw new Error(`${spec.name}: ${err.message}\n${spec.name} log:\n${log.slice(-6000)}`)
    }
  }

  function signal (sig) {
    if (!child || child.exitCode !== null || child.signalCode !== null) return false
    try {
      process.kill(-child.pid, sig)
      return true
    } catch {
      return false
    }
  }

  /** SIGKILL to the whole group (a crash), and wait until the leader has exited. */
  async function kill () {
    const done = exited
    // SIGKILL ends a stopped (frozen) process too; no SIGCONT first, which would let it run on.
    if (signal('SIGKILL')) await done
  }

  /** A clean shutdown (SIGTERM), SIGKILL after `graceMs`. */
  async function stop (graceMs = 10000) {
    const done = exited
    signal('SIGCONT')
    if (!signal(spec.stopSignal || 'SIGTERM')) return
    const timer = setTimeout(() => signal('SIGKILL'), graceMs)
    await done
    clearTimeout(timer)
    // Whatever else of the group is left (helpers of the broker).
    signal('SIGKILL')
  }

  await start()
  return {
    logs: () => log,
    pid: () => child && child.pid,
    /** Stops the broker from reading, answering and accepting without closing anything. */
    freeze: () => { signal('SIGSTOP') },
    thaw: () => { signal('SIGCONT') },
    kill,
    stop,
    /** Starts it again (after stop or kill) on the same ports with the same data. */
    start
  }
}

function tempDir (name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `mqtt-native-interop-${name}-`))
  tempDirs.add(dir)
  return dir
}

// ---------------------------------------------------------------------------------------------
// The brokers. Each entry:
//   id, title           name in test names and in the table
//   versions            the MQTT protocol versions it speaks (3 = 3.1 MQIsdp, 4 = 3.1.1, 5)
//   wsVersions          the versions it serves over WebSocket (at `wsPath`), [] for none
//   grantedQos2         the QoS a QoS 2 subscription is granted
//   publishQos2         what a QoS 2 publish gets: 'pubrec' (real QoS 2) or 'puback' (downgraded)
//   deliveredQos        'min': a message arrives at the lower of its QoS and the subscription's
//                       (MQTT 3.1.1 and 5 §3.8.4); 'subscription': always at the subscription's
//   offlineQueue        whether a persistent session gets the messages published while away
//   retainedWildcard    whether a retained message is sent to a wildcard subscription
//   strayRetained       whether it sends a connecting client, at QoS 0, the retained messages
//                       that match any client's subscriptions, its own or not
//   willDelay           (MQTT 5 brokers) whether the will waits for its Will Delay Interval
//   notes               per scenario (keys of SCENARIOS), the broker's departure in words, for
//                       INTEROP.md; a scenario with a note asserts that departure
//   startTimeoutMs      how long it may take to accept connections
//   find()              the binary, or null when not installed
//   install             how to install it (for the skip message)
//   launch(opts)        starts it; resolves to { port, wsPort?, host, url, wsUrl?, ...process }
// ---------------------------------------------------------------------------------------------

const mosquitto = {
  id: 'mosquitto',
  title: 'mosquitto 2.0 (Debian)',
  versions: [3, 4, 5],
  wsVersions: [3, 4, 5],
  wsPath: '',
  grantedQos2: 2,
  publishQos2: 'pubrec',
  deliveredQos: 'min',
  offlineQueue: true,
  retainedWildcard: true,
  strayRetained: false,
  willDelay: true,
  notes: {},
  startTimeoutMs: 10000,
  install: 'apt-get install mosquitto',
  find: () => findBinary('mosquitto'),
  async launch () {
    const dir = tempDir('mosquitto')
    const port = await freePort()
    const wsPort = await freePort()
    fs.writeFileSync(path.join(dir, 'mosquitto.conf'), [
      process.getuid && process.getuid() === 0 ? 'user root' : '',
      'allow_anonymous true',
      'log_dest stderr',
      'log_type error', 'log_type warning', 'log_type notice',
      'persistence false',
      `listener ${port} 127.0.0.1`,
      `listener ${wsPort} 127.0.0.1`,
      'protocol websockets'
    ].join('\n') + '\n')
    const proc = await startProcess({ name: 'mosquitto', bin: this.find(), args: ['-c', path.join(dir, 'mosquitto.conf')], cwd: dir, ports: [port, wsPort], startTimeoutMs: this.startTimeoutMs })
    return { ...proc, host: '127.0.0.1', port, wsPort }
  }
}

const aedes = {
  id: 'aedes',
  title: 'aedes 1.2 (npm)',
  versions: [3, 4],
  wsVersions: [3, 4],
  wsPath: '/mqtt',
  grantedQos2: 2,
  publishQos2: 'pubrec',
  deliveredQos: 'min',
  offlineQueue: true,
  retainedWildcard: true,
  strayRetained: false,
  willDelay: true,
  notes: {
    versions: 'no MQTT 5 (aedes 1.x speaks 3.1 and 3.1.1)'
  },
  startTimeoutMs: 10000,
  install: 'npm install (a devDependency)',
  find: () => {
    try {
      require.resolve('aedes')
      return process.execPath
    } catch {
      return null
    }
  },
  async launch () {
    const dir = tempDir('aedes')
    const port = await freePort()
    const wsPort = await freePort()
    const proc = await startProcess({ name: 'aedes', bin: process.execPath, args: [path.join(__dirname, 'aedes-server.js'), String(port), String(wsPort)], cwd: dir, ports: [port, wsPort], startTimeoutMs: this.startTimeoutMs })
    return { ...proc, host: '127.0.0.1', port, wsPort }
  }
}

const rabbitmq = {
  id: 'rabbitmq',
  title: 'RabbitMQ 3.10 + rabbitmq_mqtt (Debian)',
  versions: [3, 4],
  wsVersions: [3, 4],
  wsPath: '/ws',
  grantedQos2: 1,
  publishQos2: 'puback',
  deliveredQos: 'min',
  offlineQueue: true,
  retainedWildcard: false,
  strayRetained: false,
  willDelay: true,
  notes: {
    versions: 'no MQTT 5 (added in RabbitMQ 3.13; Debian 12 has 3.10)',
    qos: 'no QoS 2, as documented: a QoS 2 subscription is granted QoS 1 and a QoS 2 publish is answered with PUBACK (completes the publish, as in MQTT.js)',
    retained: 'exact topics ✓; retained messages are not sent to wildcard subscriptions (documented)'
  },
  startTimeoutMs: 90000,
  install: 'apt-get install rabbitmq-server (the tests start their own node; stop the system service)',
  find: () => locate('rabbitmq-server', ['/usr/lib/rabbitmq/bin/rabbitmq-server']),
  async launch () {
    const epmdBin = locate('epmd', ['/usr/bin/epmd'])
    if (!epmdBin) throw new Error('epmd (Erlang) not found next to rabbitmq-server')
    const dir = tempDir('rabbitmq')
    const [port, wsPort, epmdPort, distPort] = [await freePort(), await freePort(), await freePort(), await freePort()]
    fs.writeFileSync(path.join(dir, 'rabbitmq.conf'), [
      'listeners.tcp = none',
      `mqtt.listeners.tcp.default = 127.0.0.1:${port}`,
      'mqtt.allow_anonymous = true',
      'web_mqtt.tcp.ip = 127.0.0.1',
      `web_mqtt.tcp.port = ${wsPort}`,
      'loopback_users = none',
      'log.console = true',
      'log.console.level = warning',
      'log.file = false'
    ].join('\n') + '\n')
    fs.writeFileSync(path.join(dir, 'enabled_plugins'), '[rabbitmq_mqtt,rabbitmq_web_mqtt].\n')
    // Our own epmd on a free port (not the machine's 4369), stopped with the broker.
    const epmd = await startProcess({ name: 'epmd', bin: epmdBin, args: ['-port', String(epmdPort), '-address', '127.0.0.1'], cwd: dir, ports: [epmdPort], startTimeoutMs: 10000 })
    const env = {
      HOME: dir, // the Erlang cookie is written there
      ERL_EPMD_PORT: String(epmdPort),
      ERL_EPMD_ADDRESS: '127.0.0.1',
      RABBITMQ_NODENAME: `mqttnative${process.pid}@localhost`,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_DIST_PORT: String(distPort),
      RABBITMQ_CONFIG_FILE: path.join(dir, 'rabbitmq.conf'),
      RABBITMQ_ADVANCED_CONFIG_FILE: path.join(dir, 'advanced.config'),
      RABBITMQ_ENABLED_PLUGINS_FILE: path.join(dir, 'enabled_plugins'),
      RABBITMQ_MNESIA_BASE: path.join(dir, 'mnesia'),
      RABBITMQ_LOG_BASE: path.join(dir, 'log'),
      RABBITMQ_PLUGINS_EXPAND_DIR: path.join(dir, 'plugins-expand')
    }
    let proc
    try {
      proc = await startProcess({ name: 'rabbitmq', bin: this.find(), args: [], env, cwd: dir, ports: [port, wsPort], startTimeoutMs: this.startTimeoutMs, stopSignal: 'SIGTERM' })
    } catch (err) {
      await epmd.stop()
      throw err
    }
    return {
      ...proc,
      host: '127.0.0.1',
      port,
      wsPort,
      async stop () {
        await proc.stop(20000)
        await epmd.stop()
      }
    }
  }
}

const rumqttd = {
  id: 'rumqttd',
  title: 'rumqttd 0.20 (crates.io)',
  versions: [4, 5],
  wsVersions: [4],
  wsPath: '/mqtt',
  grantedQos2: 2,
  publishQos2: 'pubrec',
  deliveredQos: 'subscription',
  offlineQueue: true,
  retainedWildcard: true,
  strayRetained: false,
  willDelay: true,
  notes: {
    versions: 'no MQTT 3.1; its WebSocket listener speaks 3.1.1 only',
    qos: 'delivers every message at the subscription\'s QoS (a QoS 0 or 1 publish arrives as QoS 2), against §3.8.4 of MQTT 3.1.1 and 5; MQTT.js 5.16 sees the same'
  },
  startTimeoutMs: 10000,
  install: 'cargo install rumqttd --version 0.20.0',
  find: () => locate('rumqttd', [process.env.RUMQTTD_BIN, path.join(os.homedir(), '.cargo', 'bin', 'rumqttd')]),
  async launch () {
    const dir = tempDir('rumqttd')
    const [v4, v5, wsPort, consolePort] = [await freePort(), await freePort(), await freePort(), await freePort()]
    // rumqttd's own limits are small by default (20 KiB payloads in its example configuration);
    // these are raised so that the matrix's 1 MiB payload and 1,000-message burst fit.
    const connections = [
      'connection_timeout_ms = 60000',
      'max_payload_size = 2097152',
      'max_inflight_count = 1000',
      'dynamic_filters = true'
    ]
    fs.writeFileSync(path.join(dir, 'rumqttd.toml'), [
      'id = 0',
      '[router]', 'id = 0', 'max_connections = 1000', 'max_outgoing_packet_count = 1000',
      'max_segment_size = 104857600', 'max_segment_count = 10',
      '[v4.1]', 'name = "v4-1"', `listen = "127.0.0.1:${v4}"`, 'next_connection_delay_ms = 1',
      '[v4.1.connections]', ...connections,
      '[v5.1]', 'name = "v5-1"', `listen = "127.0.0.1:${v5}"`, 'next_connection_delay_ms = 1',
      '[v5.1.connections]', ...connections,
      '[ws.1]', 'name = "ws-1"', `listen = "127.0.0.1:${wsPort}"`, 'next_connection_delay_ms = 1',
      '[ws.1.connections]', ...connections, 'max_client_id_len = 256', 'throttle_delay_ms = 0', 'max_inflight_size = 1024',
      '[console]', `listen = "127.0.0.1:${consolePort}"`
    ].join('\n') + '\n')
    const proc = await startProcess({ name: 'rumqttd', bin: this.find(), args: ['-q', '-c', path.join(dir, 'rumqttd.toml')], cwd: dir, ports: [v4, v5, wsPort], startTimeoutMs: this.startTimeoutMs })
    // One listener per protocol version: the matrix asks for the port of a version.
    return { ...proc, host: '127.0.0.1', port: v4, wsPort, portFor: (version) => (version === 5 ? v5 : v4) }
  }
}

const amqtt = {
  id: 'amqtt',
  title: 'amqtt 0.12 (PyPI)',
  versions: [4],
  wsVersions: [4],
  wsPath: '/',
  grantedQos2: 2,
  publishQos2: 'pubrec',
  deliveredQos: 'subscription',
  offlineQueue: false,
  retainedWildcard: true,
  strayRetained: true,
  willDelay: true,
  notes: {
    versions: 'MQTT 3.1.1 only (amqtt is a 3.1.1 broker)',
    qos: 'delivers every message at the subscription\'s QoS (a QoS 0 or 1 publish arrives as QoS 2), against §3.8.4 of MQTT 3.1.1; MQTT.js 5.16 sees the same',
    retained: 'exact topics and `+` ✓; but on every connect it also sends, at QoS 0, each retained message that matches any client\'s subscription, even a client gone, so a client gets messages it did not subscribe to (against §3.3.1.3 of MQTT 3.1.1); MQTT.js 5.16 sees the same',
    session: 'answers a resumed session with Session Present but does not deliver the QoS 1 messages published while the client was away; MQTT.js 5.16 sees the same'
  },
  startTimeoutMs: 30000,
  install: 'python3 -m venv ~/.cache/mqtt-native-ci/amqtt-venv && ~/.cache/mqtt-native-ci/amqtt-venv/bin/pip install amqtt==0.12.1',
  find: () => locate('amqtt', [process.env.AMQTT_BIN, path.join(cacheDir, 'amqtt-venv', 'bin', 'amqtt')]),
  async launch () {
    const dir = tempDir('amqtt')
    const [port, wsPort] = [await freePort(), await freePort()]
    fs.writeFileSync(path.join(dir, 'amqtt.yaml'), [
      '---',
      'listeners:',
      '  default:',
      '    type: tcp',
      `    bind: 127.0.0.1:${port}`,
      '  ws:',
      '    type: ws',
      `    bind: 127.0.0.1:${wsPort}`,
      'plugins:',
      '  amqtt.plugins.authentication.AnonymousAuthPlugin:',
      '    allow_anonymous: true'
    ].join('\n') + '\n')
    const proc = await startProcess({ name: 'amqtt', bin: this.find(), args: ['-c', path.join(dir, 'amqtt.yaml')], cwd: dir, ports: [port, wsPort], startTimeoutMs: this.startTimeoutMs })
    return { ...proc, host: '127.0.0.1', port, wsPort }
  }
}

const BROKERS = [mosquitto, aedes, rabbitmq, rumqttd, amqtt]

/** The columns of the matrix: the scenario keys used in `notes` and in the matrix's tests. */
const SCENARIOS = [
  { key: 'tcp', title: 'connect, tcp' },
  { key: 'ws', title: 'connect, ws' },
  { key: 'qos', title: 'QoS 0/1/2' },
  { key: 'retained', title: 'retained' },
  { key: 'will', title: 'will on abrupt close' },
  { key: 'willDelay', title: 'will delay (MQTT 5)' },
  { key: 'session', title: 'persistent session resumed' },
  { key: 'unsubscribe', title: 'unsubscribe' },
  { key: 'large', title: '1 MiB payload' },
  { key: 'burst', title: '1,000 QoS 1 burst' },
  { key: 'restart', title: 'broker crash, restart, resend' }
]

/**
 * Brokers that are not in the matrix, and why (shown in the table and by the suite).
 */
const NOT_HERE = [
  { name: 'EMQX', why: 'not in Debian, PyPI, npm or crates.io; its packages come from its own download site, which CI cannot reach' },
  { name: 'HiveMQ CE', why: 'a Java distribution from its own download site or Docker Hub; neither is reachable here' },
  { name: 'VerneMQ', why: 'built from source with rebar3 or downloaded from its own site; not in the reachable registries' },
  { name: 'NanoMQ', why: 'not packaged in Debian 12; released as binaries on GitHub and Docker Hub' },
  { name: 'ejabberd (mod_mqtt)', why: 'in Debian 12 (MQTT 3.1.1 and 5), not added to the matrix yet' },
  { name: 'cloud brokers (AWS IoT, Azure Event Grid, HiveMQ Cloud, …)', why: 'need the network and accounts; tests talk to loopback only' }
]

module.exports = { BROKERS, SCENARIOS, NOT_HERE, cacheDir }
