'use strict'

// Starts and stops mosquitto (the Debian package's binary) on loopback ports for tests.
//
//   const { startMosquitto, requireBinary } = require('./helpers/mosquitto.js')
//   test('...', async (t) => {
//     if (!requireBinary(t, 'mosquitto')) return
//     const broker = await startMosquitto({ websockets: true })
//     t.after(() => broker.stop())
//     ...broker.url, broker.port, broker.wsUrl, broker.wsPort
//   })

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { freePort, waitForPort } = require('./ports.js')
const { track } = require('./child.js')

/** Every mosquitto process started here and not yet exited. */
const running = new Set()
/** Temporary directories created here (removed at exit). */
const tempDirs = new Set()

process.on('exit', () => {
  for (const child of running) {
    try { child.kill('SIGKILL') } catch {}
  }
  for (const dir of tempDirs) {
    try { fs.rmSync(dir, { recursive: true, force: true }) } catch {}
  }
})

/**
 * Where a binary is: `$MOSQUITTO_BIN` for mosquitto, else the first hit in PATH and the sbin
 * directories (often not in a non-root PATH). Null when not found.
 * @param {string} [name]
 * @returns {string | null}
 */
function findBinary (name = 'mosquitto') {
  if (name === 'mosquitto' && process.env.MOSQUITTO_BIN) {
    return isExecutable(process.env.MOSQUITTO_BIN) ? process.env.MOSQUITTO_BIN : null
  }
  const dirs = (process.env.PATH || '').split(path.delimiter).filter(Boolean)
  for (const extra of ['/usr/sbin', '/usr/local/sbin', '/sbin', '/opt/homebrew/sbin']) {
    if (!dirs.includes(extra)) dirs.push(extra)
  }
  for (const dir of dirs) {
    const candidate = path.join(dir, name)
    if (isExecutable(candidate)) return candidate
  }
  return null
}

function isExecutable (file) {
  try {
    fs.accessSync(file, fs.constants.X_OK)
    return fs.statSync(file).isFile()
  } catch {
    return false
  }
}

/** Whether mosquitto can be started. */
function mosquittoAvailable () {
  return findBinary('mosquitto') !== null
}

/**
 * For a node:test test that needs an external binary: returns true when `name` is installed;
 * otherwise skips the test with a visible message, or, under `CI=true`, throws so that the
 * test fails.
 * @param {import('node:test').TestContext} t
 * @param {string} [name]
 */
function requireBinary (t, name = 'mosquitto') {
  if (findBinary(name) !== null) return true
  const message = `${name} not installed`
  if (process.env.CI === 'true') throw new Error(`${message} (required under CI=true)`)
  t.skip(message)
  return false
}

/**
 * Starts mosquitto with a fresh configuration on free 127.0.0.1 ports and waits (at most
 * `startTimeoutMs`, default 5 s) until it accepts connections.
 *
 * @param {object} [opts]
 * @param {boolean} [opts.persistence] keep a persistence database (in a temporary directory
 *   unless `persistenceDir` is given); it is written when mosquitto stops and read by restart()
 * @param {string} [opts.persistenceDir] directory for the persistence database (implies
 *   persistence)
 * @param {boolean} [opts.websockets] add a `protocol websockets` listener; its port is `wsPort`
 * @param {string | string[]} [opts.extraConfig] more configuration lines, appended verbatim
 * @param {boolean} [opts.verbose] log everything (see `logs()`)
 * @param {boolean} [opts.nagle] leave Nagle on for the MQTT listener (mosquitto's default)
 * @param {number} [opts.startTimeoutMs]
 * @returns {Promise<{ port: number, host: string, url: string, wsPort?: number, wsUrl?: string,
 *   configFile: string, dir: string, pid: () => number | undefined, logs: () => string,
 *   stop: () => Promise<void>, restart: () => Promise<void> }>}
 */
async function startMosquitto (opts = {}) {
  const bin = findBinary('mosquitto')
  if (!bin) throw new Error('mosquitto not installed (set MOSQUITTO_BIN or install the mosquitto package)')

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-native-mosquitto-'))
  tempDirs.add(dir)
  const host = '127.0.0.1'
  const port = await freePort(host)
  const wsPort = opts.websockets ? await freePort(host) : undefined
  const persistenceDir = opts.persistenceDir || (opts.persistence ? path.join(dir, 'db') : null)
  if (persistenceDir) fs.mkdirSync(persistenceDir, { recursive: true })

  const lines = [
    `# written by __test__/helpers/mosquitto.js for pid ${process.pid}`,
    // Run as whoever we are: as root, mosquitto would otherwise switch to the `mosquitto`
    // user, which cannot use our temporary directory.
    process.getuid && process.getuid() === 0 ? 'user root' : null,
    'allow_anonymous true',
    'log_dest stderr',
    opts.verbose ? 'log_type all' : 'log_type error\nlog_type warning\nlog_type notice',
    persistenceDir
      ? `persistence true\npersistence_location ${persistenceDir.endsWith('/') ? persistenceDir : persistenceDir + '/'}\nautosave_interval 0`
      : 'persistence false',
    `listener ${port} ${host}`,
    // `nagle: true` keeps mosquitto's own default (set_tcp_nodelay false), as most deployments run it.
    opts.nagle ? null : 'set_tcp_nodelay true',
    wsPort ? `listener ${wsPort} ${host}\nprotocol websockets\nset_tcp_nodelay true` : null,
    ...(Array.isArray(opts.extraConfig) ? opts.extraConfig : opts.extraConfig ? [opts.extraConfig] : [])
  ].filter((l) => l !== null)
  const configFile = path.join(dir, 'mosquitto.conf')
  fs.writeFileSync(configFile, lines.join('\n') + '\n')

  let child = null
  let exited = null // a Promise resolved when the current child exits
  let log = ''
  const startTimeoutMs = opts.startTimeoutMs || 5000

  async function start () {
    log += `--- starting ${bin} -c ${configFile}\n`
    // A process group of its own, killed by id when this process ends however it ends.
    const proc = spawn(bin, ['-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    child = proc
    running.add(proc)
    track(proc)
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
      if (log.length > 200000) log = log.slice(-100000)
    }
    proc.stdout.on('data', append)
    proc.stderr.on('data', append)
    let spawnError = null
    proc.once('error', (err) => { spawnError = err })
    try {
      const waits = [waitForPort(port, {
        host,
        timeoutMs: startTimeoutMs,
        shouldStop: () => spawnError || (exitInfo && new Error(`mosquitto exited (${exitInfo.code ?? exitInfo.signal}) while starting:\n${log}`))
      })]
      if (wsPort) waits.push(waitForPort(wsPort, { host, timeoutMs: startTimeoutMs }))
      await Promise.all(waits)
    } catch (err) {
      await stopChild()
      throw new Error(`${err.message}\nmosquitto log:\n${log}`)
    }
  }

  async function stopChild () {
    const proc = child
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return
    const done = exited
    proc.kill('SIGTERM') // mosquitto saves its persistence database on SIGTERM
    const timer = setTimeout(() => { try { proc.kill('SIGKILL') } catch {} }, 3000)
    await done
    clearTimeout(timer)
  }

  await start()

  return {
    port,
    host,
    url: `mqtt://${host}:${port}`,
    wsPort,
    wsUrl: wsPort ? `ws://${host}:${wsPort}` : undefined,
    configFile,
    dir,
    persistenceDir,
    /** The process id of the running mosquitto, if any. */
    pid: () => (child && child.exitCode === null && child.signalCode === null ? child.pid : undefined),
    /** Everything mosquitto wrote to stdout and stderr so far. */
    logs: () => log,
    /** Stops mosquitto (SIGTERM, then SIGKILL after 3 s) and waits until it has exited. */
    stop: stopChild,
    /** Stops and starts again on the same ports with the same persistence directory. */
    restart: async () => {
      await stopChild()
      await start()
    }
  }
}

module.exports = { startMosquitto, mosquittoAvailable, requireBinary, findBinary }
