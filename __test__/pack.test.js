'use strict'
// The package as users get it: `npm pack`, install the tarball into an empty project (offline:
// the package has no runtime dependencies), and use it there, by its own name and as `mqtt`
// (the drop-in route, `npm install mqtt@npm:mqtt-native`, tested here with a file: tarball).
//
// Needs the native addon built first (`npm run build:debug` or `npm run build`): the tarball
// carries the `.node` file that is in the package folder.

const test = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { startMosquitto, requireBinary } = require('./helpers/mosquitto')

const root = path.join(__dirname, '..')
const pkg = require('../package.json')
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'

function sh (t, cmd, args, opts = {}) {
  const result = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60000, ...opts })
  assert.equal(result.error, undefined, `${cmd} ${args.join(' ')}: ${result.error}`)
  assert.equal(result.status, 0, `${cmd} ${args.join(' ')} exited ${result.status}:\n${result.stdout}\n${result.stderr}`)
  return result.stdout
}

/** An empty npm project in a temporary directory. */
function emptyProject (t, name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `mqtt-native-${name}-`))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }))
  return dir
}

/** The code of an MQTT.js user: subscribe, publish, print the message, end. */
function exchangeScript (moduleName, url) {
  return `
const mqtt = require(${JSON.stringify(moduleName)})
const client = mqtt.connect(${JSON.stringify(url)}, { reconnectPeriod: 0 })
const timer = setTimeout(() => { console.error('timed out'); process.exit(2) }, 10000)
client.on('error', (err) => { console.error(err.message); process.exit(1) })
client.on('connect', () => {
  client.subscribe('pack/test', { qos: 1 }, (err) => {
    if (err) throw err
    client.publish('pack/test', 'hello from ' + ${JSON.stringify(moduleName)}, { qos: 1 })
  })
})
client.on('message', (topic, payload) => {
  console.log(topic + ' ' + payload.toString())
  clearTimeout(timer)
  client.end()
})
`
}

let tarball = null
/** Packs the repository once (without running `prepare`, which would start a release build). */
function packOnce (t) {
  if (tarball) return tarball
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-native-pack-'))
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }))
  const out = sh(t, npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: root })
  const [info] = JSON.parse(out)
  tarball = { file: path.join(dir, info.filename), files: info.files.map((f) => f.path) }
  return tarball
}

function addonBuilt () {
  return fs.readdirSync(root).some((f) => f.endsWith('.node'))
}

test('the package has no runtime dependencies, so it installs offline', () => {
  assert.equal(pkg.dependencies, undefined)
  assert.equal(pkg.peerDependencies, undefined)
  assert.equal(pkg.optionalDependencies === undefined || Object.keys(pkg.optionalDependencies).every((d) => d.startsWith('mqtt-native-')), true)
})

test('npm pack ships the entry points, the CLI, the typings and the addon, and no sources or tests', { timeout: 60000 }, (t) => {
  assert.ok(addonBuilt(), 'build the addon first: npm run build:debug')
  const { files } = packOnce(t)
  for (const f of ['package.json', 'index.js', 'index.mjs', 'index.d.ts', 'native.js', 'lib/client.js', 'lib/cli/main.js',
    'bin/mqtt.js', 'bin/pub.js', 'bin/sub.js', 'README.md']) {
    assert.ok(files.includes(f), `${f} is missing from the tarball`)
  }
  assert.ok(files.some((f) => /^[^/]+\.node$/.test(f)), 'the .node addon is missing from the tarball')
  for (const f of files) {
    assert.doesNotMatch(f, /^(src|__test__|target|fuzz|npm|scripts|examples|bench)\//, `${f} should not be published`)
  }
})

test('the packed tarball installs into an empty project and exchanges a message with mosquitto (require, import, bin)', { timeout: 60000 }, async (t) => {
  if (!requireBinary(t, 'mosquitto')) return
  assert.ok(addonBuilt(), 'build the addon first: npm run build:debug')
  const broker = await startMosquitto()
  t.after(() => broker.stop())
  const { file } = packOnce(t)
  const app = emptyProject(t, 'app')
  sh(t, npm, ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error', file], { cwd: app })
  assert.ok(fs.existsSync(path.join(app, 'node_modules', 'mqtt-native', 'package.json')))

  fs.writeFileSync(path.join(app, 'app.js'), exchangeScript('mqtt-native', broker.url))
  assert.equal(sh(t, process.execPath, ['app.js'], { cwd: app }), 'pack/test hello from mqtt-native\n')

  fs.writeFileSync(path.join(app, 'app.mjs'), `import mqtt, { connectAsync } from 'mqtt-native'
const client = await connectAsync(${JSON.stringify(broker.url)}, { reconnectPeriod: 0 })
console.log(typeof mqtt.connect, client.connected)
await client.endAsync()
`)
  assert.equal(sh(t, process.execPath, ['app.mjs'], { cwd: app }), 'function true\n')

  const version = sh(t, path.join(app, 'node_modules', '.bin', 'mqtt'), ['version'], { cwd: app })
  assert.match(version, new RegExp(`^mqtt-native ${pkg.version.replace(/\./g, '\\.')}`))
  sh(t, path.join(app, 'node_modules', '.bin', 'mqtt_pub'), ['-h', broker.host, '-p', String(broker.port), '-t', 'pack/cli', '-m', 'x'], { cwd: app })
})

test('installed as `mqtt`, unchanged require(\'mqtt\') code runs on mqtt-native (the drop-in route)', { timeout: 60000 }, async (t) => {
  if (!requireBinary(t, 'mosquitto')) return
  assert.ok(addonBuilt(), 'build the addon first: npm run build:debug')
  const broker = await startMosquitto()
  t.after(() => broker.stop())
  const { file } = packOnce(t)
  const app = emptyProject(t, 'dropin')
  sh(t, npm, ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error', `mqtt@file:${file}`], { cwd: app })
  const installed = JSON.parse(fs.readFileSync(path.join(app, 'node_modules', 'mqtt', 'package.json'), 'utf8'))
  assert.equal(installed.name, 'mqtt-native')

  fs.writeFileSync(path.join(app, 'app.js'), exchangeScript('mqtt', broker.url))
  assert.equal(sh(t, process.execPath, ['app.js'], { cwd: app }), 'pack/test hello from mqtt\n')
  // The same tools too: `npx mqtt` is now ours.
  assert.match(sh(t, path.join(app, 'node_modules', '.bin', 'mqtt'), ['version'], { cwd: app }), /^mqtt-native /)
})
