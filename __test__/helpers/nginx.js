'use strict'

// Starts nginx (the Debian package's binary) as a TLS-terminating WebSocket reverse proxy on a
// loopback port, running the server block of examples/nginx-mqtt-wss.conf with the test's
// ports and certificates substituted.
//
//   const { startNginx } = require('./helpers/nginx.js')
//   if (!requireBinary(t, 'nginx')) return
//   const proxy = await startNginx({ upstreamPort: broker.wsPort, cert: certs.server })
//   t.after(() => proxy.stop())
//   proxy.port, proxy.url ('wss://localhost:PORT/mqtt')

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { track } = require('./child.js')
const { freePort, waitForPort } = require('./ports.js')
const { findBinary } = require('./mosquitto.js')

const EXAMPLE = path.join(__dirname, '..', '..', 'examples', 'nginx-mqtt-wss.conf')

const running = new Set()
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
 * The example's server block with the listen port, certificate paths and upstream port
 * replaced. Throws if the example no longer has the lines this relies on.
 */
function serverBlock ({ port, upstreamPort, certFile, keyFile }) {
  let text = fs.readFileSync(EXAMPLE, 'utf8')
  const replace = (pattern, replacement) => {
    if (!pattern.test(text)) throw new Error(`examples/nginx-mqtt-wss.conf: no line matches ${pattern}`)
    text = text.replace(pattern, replacement)
  }
  replace(/^(\s*)listen\s+443\s+ssl;/m, `$1listen 127.0.0.1:${port} ssl;`)
  replace(/^(\s*)ssl_certificate\s+\S+;/m, `$1ssl_certificate ${certFile};`)
  replace(/^(\s*)ssl_certificate_key\s+\S+;/m, `$1ssl_certificate_key ${keyFile};`)
  replace(/proxy_pass http:\/\/127\.0\.0\.1:8080;/, `proxy_pass http://127.0.0.1:${upstreamPort};`)
  return text
}

/**
 * Starts nginx in the foreground with a temporary prefix.
 * @param {{ upstreamPort: number, cert: { certFile: string, keyFile: string },
 *   startTimeoutMs?: number }} opts
 * @returns {Promise<{ port: number, url: string, dir: string, logs: () => string,
 *   stop: () => Promise<void> }>}
 */
async function startNginx (opts) {
  const bin = findBinary('nginx')
  if (!bin) throw new Error('nginx not installed (apt-get install nginx)')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-native-nginx-'))
  tempDirs.add(dir)
  const port = await freePort()
  const errorLog = path.join(dir, 'error.log')
  const asRoot = process.getuid && process.getuid() === 0
  const conf = [
    `# written by __test__/helpers/nginx.js for pid ${process.pid}`,
    'daemon off;',
    'master_process on;',
    'worker_processes 1;',
    // As root, workers would switch to `nobody`, which may not read our temporary directory.
    asRoot ? 'user root;' : null,
    `pid ${path.join(dir, 'nginx.pid')};`,
    `error_log ${errorLog} info;`,
    'events { worker_connections 64; }',
    'http {',
    `  access_log ${path.join(dir, 'access.log')};`,
    `  client_body_temp_path ${path.join(dir, 'client_body')};`,
    `  proxy_temp_path ${path.join(dir, 'proxy')};`,
    `  fastcgi_temp_path ${path.join(dir, 'fastcgi')};`,
    `  uwsgi_temp_path ${path.join(dir, 'uwsgi')};`,
    `  scgi_temp_path ${path.join(dir, 'scgi')};`,
    serverBlock({ port, upstreamPort: opts.upstreamPort, certFile: opts.cert.certFile, keyFile: opts.cert.keyFile }),
    '}'
  ].filter((l) => l !== null).join('\n') + '\n'
  const confFile = path.join(dir, 'nginx.conf')
  fs.writeFileSync(confFile, conf)

  let log = ''
  // A process group of its own (master and workers), killed by id when this process ends.
  const proc = spawn(bin, ['-p', dir, '-e', errorLog, '-c', confFile], { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  running.add(proc)
  track(proc)
  let exitInfo = null
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => {
    running.delete(proc)
    exitInfo = { code, signal }
    resolve()
  }))
  const append = (chunk) => { log += chunk.toString() }
  proc.stdout.on('data', append)
  proc.stderr.on('data', append)
  let spawnError = null
  proc.once('error', (err) => { spawnError = err })
  const logs = () => {
    let fileLog = ''
    try { fileLog = fs.readFileSync(errorLog, 'utf8') } catch {}
    return log + fileLog
  }

  async function stop () {
    if (proc.exitCode !== null || proc.signalCode !== null) return
    proc.kill('SIGQUIT') // graceful: workers finish, master exits
    const timer = setTimeout(() => { try { proc.kill('SIGKILL') } catch {} }, 3000)
    await exited
    clearTimeout(timer)
  }

  try {
    await waitForPort(port, {
      timeoutMs: opts.startTimeoutMs || 5000,
      shouldStop: () => spawnError || (exitInfo && new Error(`nginx exited (${exitInfo.code ?? exitInfo.signal}) while starting:\n${logs()}`))
    })
  } catch (err) {
    await stop()
    throw new Error(`${err.message}\nnginx log:\n${logs()}\nconfiguration:\n${conf}`)
  }
  return { port, url: `wss://localhost:${port}/mqtt`, dir, confFile, logs, stop }
}

module.exports = { startNginx, serverBlock }
