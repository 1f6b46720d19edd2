'use strict'
// `npm run test:install`: the published packages install and run with npm, pnpm and Yarn classic.
//
// `npm run package` (scripts/package.js, as pack.test.js runs it) writes the main tarball and this
// machine's platform tarball; the other platforms' packages are packed from npm/<platform>/ (their
// package.json, without an addon: a manager that picked one of them would be caught). A registry
// on 127.0.0.1 (helpers/local-registry.js) serves the seven packages (and the runtime
// dependencies, packed from node_modules) with their `os`, `cpu` and
// `libc` fields, so each manager chooses among the optionalDependencies as it does from
// npmjs.com. pnpm 9 and Yarn 1 are installed from the npm registry by this test (the one place it
// goes beyond loopback). Each manager installs `mqtt-native` into a fresh project with an empty
// cache, and the project then requires it, imports it as an ES module, sends a message through
// mosquitto and runs the `mqtt` command.
//
// Needs the native addon built first (`npm run build:debug` or `npm run build`).

const test = require('node:test')
const assert = require('node:assert/strict')
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { startMosquitto, requireBinary } = require('../helpers/mosquitto')
const { startLocalRegistry } = require('../helpers/local-registry')
const { hostSuffix, suffixOfTriple } = require('../../lib/platform')

const root = path.join(__dirname, '..', '..')
const pkg = require('../../package.json')
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const suffix = hostSuffix()
const suffixes = pkg.napi.targets.map(suffixOfTriple)
const TIMEOUT = { timeout: 300000 }

/** PATH without cargo or rustc: the installs must not be able to build anything. */
const rustlessPath = (process.env.PATH || '').split(path.delimiter)
  .filter((dir) => dir && !['cargo', 'rustc', 'rustup'].some((bin) => fs.existsSync(path.join(dir, bin))))
  .join(path.delimiter)

function sh (cmd, args, opts = {}) {
  const result = spawnSync(cmd, args, { encoding: 'utf8', timeout: 180000, ...opts })
  assert.equal(result.error, undefined, `${cmd} ${args.join(' ')}: ${result.error}`)
  assert.equal(result.status, 0, `${cmd} ${args.join(' ')} exited ${result.status}:\n${result.stdout}\n${result.stderr}`)
  return result.stdout
}

/**
 * Runs a package manager without blocking this process, which serves the registry it talks to;
 * kills it after `timeout` ms.
 */
function run (cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts })
    let output = ''
    child.stdout.on('data', (chunk) => { output += chunk })
    child.stderr.on('data', (chunk) => { output += chunk })
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeout || 180000)
    child.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      if (code === 0) resolve(output)
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code ?? signal}:\n${output}`))
    })
  })
}

function tempDir (name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `mqtt-native-${name}-`))
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** The environment of one install: its own HOME (so every cache starts empty), no Rust. */
function isolatedEnv (home) {
  const env = { ...process.env, PATH: rustlessPath, HOME: home, npm_config_update_notifier: 'false' }
  for (const key of Object.keys(env)) {
    if (/^(CARGO|RUSTUP|RUSTC|XDG_|npm_config_(registry|cache|prefix|store))/i.test(key) && key !== 'npm_config_update_notifier') delete env[key]
  }
  return env
}

let prepared = null
// The registry serves every test of the file; it stops when they are done.
test.after(() => prepared && prepared.registry.close())
/**
 * Once per run: the tarballs, the local registry serving them, and pnpm and Yarn installed from
 * the npm registry. Cleaned up when the process exits.
 */
async function prepare () {
  if (prepared) return prepared
  assert.ok(fs.existsSync(path.join(root, `mqtt-native.${suffix}.node`)), 'build the addon first: npm run build:debug')
  const out = tempDir('dist')
  sh(process.execPath, [path.join(root, 'scripts', 'package.js'), '--no-build', '--out', out], { cwd: root })
  for (const s of suffixes) {
    if (s === suffix) continue
    sh(npm, ['pack', '--ignore-scripts', '--pack-destination', out], { cwd: path.join(root, 'npm', s) })
  }
  // The runtime dependencies (`ws`, for the Node-stream path), packed from node_modules, so that
  // the registry serves everything an install needs and nothing comes from elsewhere.
  const deps = Object.keys(pkg.dependencies || {})
  for (const dep of deps) {
    sh(npm, ['pack', '--ignore-scripts', '--pack-destination', out, path.join(root, 'node_modules', dep)], { cwd: root })
  }
  const tarballs = fs.readdirSync(out).filter((f) => f.endsWith('.tgz')).map((f) => path.join(out, f))
  assert.equal(tarballs.length, suffixes.length + 1 + deps.length, `packed ${tarballs.join(', ')}`)
  const registry = await startLocalRegistry(tarballs)
  const tools = tempDir('managers')
  sh(npm, ['install', '--prefix', tools, '--no-audit', '--no-fund', '--loglevel=error', 'pnpm@9', 'yarn@1'], { cwd: tools })
  const bin = (name) => path.join(tools, 'node_modules', '.bin', name)
  prepared = { registry, pnpm: bin('pnpm'), yarn: bin('yarn') }
  return prepared
}

/** The code of an MQTT.js user: subscribe, publish, print the message, end. */
function exchangeScript (url) {
  return `
const mqtt = require('mqtt-native')
const client = mqtt.connect(${JSON.stringify(url)}, { reconnectPeriod: 0 })
const timer = setTimeout(() => { console.error('timed out'); process.exit(2) }, 10000)
client.on('error', (err) => { console.error(err.message); process.exit(1) })
client.on('connect', () => {
  client.subscribe('install/test', { qos: 1 }, (err) => {
    if (err) throw err
    client.publish('install/test', 'hello through ' + process.argv[2], { qos: 1 })
  })
})
client.on('message', (topic, payload) => {
  console.log(topic + ' ' + payload.toString())
  clearTimeout(timer)
  client.end()
})
`
}

/** Where each manager puts the packages it installed, as names. */
const installedPlatforms = {
  npm: (app) => suffixes.filter((s) => fs.existsSync(path.join(app, 'node_modules', `mqtt-native-${s}`))),
  yarn: (app) => suffixes.filter((s) => fs.existsSync(path.join(app, 'node_modules', `mqtt-native-${s}`))),
  // pnpm keeps every package in node_modules/.pnpm/<name>@<version>.
  pnpm: (app) => {
    const store = fs.readdirSync(path.join(app, 'node_modules', '.pnpm'))
    return suffixes.filter((s) => store.some((d) => d.startsWith(`mqtt-native-${s}@`)))
  }
}

const MANAGERS = {
  npm: ({ registry }, app, cache) => [npm, ['install', '--registry', registry.url, '--cache', cache, '--no-audit', '--no-fund', '--loglevel=error']],
  pnpm: ({ registry, pnpm }, app, cache) => [pnpm, ['install', '--registry', registry.url, '--store-dir', path.join(cache, 'store'), '--cache-dir', path.join(cache, 'cache'), '--reporter=append-only']],
  yarn: ({ registry, yarn }, app, cache) => [yarn, ['install', '--registry', registry.url, '--cache-folder', cache, '--non-interactive', '--no-progress', '--network-timeout', '60000']]
}

/**
 * What each manager may install besides this machine's package: nothing, except that Yarn classic
 * does not read `libc` and installs the other libc's package of the same os and cpu too (it holds
 * no addon for this machine, and the loader, which detects the libc itself, never loads it).
 */
function expectedPlatforms (manager) {
  const [platform, arch, abi] = suffix.split('-')
  const expected = [suffix]
  if (manager === 'yarn' && platform === 'linux') {
    const other = `linux-${arch}-${abi === 'musl' ? 'gnu' : 'musl'}`
    if (suffixes.includes(other)) expected.push(other)
  }
  return expected.sort()
}

for (const manager of Object.keys(MANAGERS)) {
  test(`installed with ${manager}, the right platform package is chosen and require, import, a message through mosquitto and the mqtt command work`, TIMEOUT, async (t) => {
    if (!requireBinary(t, 'mosquitto')) return
    const ready = await prepare()
    const broker = await startMosquitto()
    t.after(() => broker.stop())
    const app = tempDir(`${manager}-app`)
    const home = tempDir(`${manager}-home`)
    const env = isolatedEnv(home)
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({
      name: `${manager}-app`, version: '1.0.0', private: true, dependencies: { 'mqtt-native': pkg.version }
    }, null, 2))
    const [cmd, args] = MANAGERS[manager](ready, app, path.join(home, 'cache'))
    const before = ready.registry.requests.length
    await run(cmd, args, { cwd: app, env })
    assert.ok(ready.registry.requests.slice(before).includes('/mqtt-native'), `${manager} did not ask the local registry`)

    assert.deepEqual(installedPlatforms[manager](app).sort(), expectedPlatforms(manager))
    const loaded = sh(process.execPath, ['-e', "console.log(require.resolve(require('mqtt-native/package.json').name))"], { cwd: app, env })
    assert.match(loaded, /node_modules/)

    fs.writeFileSync(path.join(app, 'app.js'), exchangeScript(broker.url))
    assert.equal(sh(process.execPath, ['app.js', manager], { cwd: app, env }), `install/test hello through ${manager}\n`)

    fs.writeFileSync(path.join(app, 'app.mjs'), `import mqtt, { connectAsync } from 'mqtt-native'
const client = await connectAsync(${JSON.stringify(broker.url)}, { reconnectPeriod: 0 })
console.log(typeof mqtt.connect, client.connected, typeof client.getStatistics().messagesSent[0])
await client.endAsync()
`)
    assert.equal(sh(process.execPath, ['app.mjs'], { cwd: app, env }), 'function true number\n')

    const bin = path.join(app, 'node_modules', '.bin', 'mqtt')
    assert.match(sh(bin, ['version'], { cwd: app, env }), new RegExp(`^mqtt-native ${pkg.version.replace(/\./g, '\\.')}`))
    sh(bin, ['pub', '-h', broker.host, '-p', String(broker.port), '-t', 'install/retained', '-m', manager, '-r'], { cwd: app, env })
    assert.equal(sh(bin, ['sub', '-h', broker.host, '-p', String(broker.port), '-t', 'install/retained', '-C', '1', '-v'], { cwd: app, env, timeout: 20000 }),
      `install/retained ${manager}\n`)
  })
}
