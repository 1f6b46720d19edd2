'use strict'
// The package as users get it. `npm run package` (scripts/package.js) writes the main tarball
// (JavaScript only, with the platform packages as optionalDependencies) and this machine's
// platform tarball (with the prebuilt addon); both are installed into an empty project, offline
// and with no Rust on PATH, and used there by their own name and as `mqtt` (the drop-in route,
// `npm install mqtt@npm:mqtt-native`, tested here with file: tarballs). Installing the main
// tarball without the platform package must give the loader's clear error.
//
// Needs the native addon built first (`npm run build:debug` or `npm run build`): the platform
// tarball carries the `.node` file found at the package root.

const test = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { startMosquitto, requireBinary } = require('./helpers/mosquitto')
const { hostSuffix, suffixOfTriple } = require('../lib/platform')

const root = path.join(__dirname, '..')
const pkg = require('../package.json')
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const suffix = hostSuffix()
const platformPackage = `mqtt-native-${suffix}`

/** PATH without the directories that hold cargo or rustc: a machine without Rust. */
const rustlessPath = (process.env.PATH || '').split(path.delimiter)
  .filter((dir) => dir && !['cargo', 'rustc', 'rustup'].some((bin) => fs.existsSync(path.join(dir, bin))))
  .join(path.delimiter)
const rustlessEnv = { ...process.env, PATH: rustlessPath }
for (const key of Object.keys(rustlessEnv)) {
  if (/^(CARGO|RUSTUP|RUSTC)/.test(key)) delete rustlessEnv[key]
}

function sh (cmd, args, opts = {}) {
  const result = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120000, ...opts })
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

let dependenciesCached = false
/**
 * `npm install` offline, with no Rust on PATH, and scripts allowed (there must be none to run).
 * The package's runtime dependencies (ws) come from npm's cache, put there once beforehand.
 */
function install (app, specs) {
  if (!dependenciesCached) {
    for (const [name, version] of Object.entries(pkg.dependencies || {})) {
      sh(npm, ['cache', 'add', '--no-audit', '--loglevel=error', `${name}@${version}`], { cwd: app })
    }
    dependenciesCached = true
  }
  return sh(npm, ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error', ...specs], { cwd: app, env: rustlessEnv })
}

/** Runs node in the project, with no Rust on PATH. */
function node (app, args) {
  return sh(process.execPath, args, { cwd: app, env: rustlessEnv })
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

function addonBuilt () {
  return fs.existsSync(path.join(root, `mqtt-native.${suffix}.node`))
}

/** Lists a tarball's files (paths inside `package/`). */
function tarList (file) {
  return sh('tar', ['tzf', file]).split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''))
}

/** Reads package/package.json from a tarball. */
function tarManifest (file) {
  return JSON.parse(sh('tar', ['xzOf', file, 'package/package.json']))
}

let packaged = null
/** Runs `npm run package --no-build` once, into a temporary directory. */
function packageOnce () {
  if (packaged) return packaged
  assert.ok(addonBuilt(), 'build the addon first: npm run build:debug')
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-native-dist-'))
  process.on('exit', () => fs.rmSync(out, { recursive: true, force: true }))
  sh(process.execPath, [path.join(root, 'scripts', 'package.js'), '--no-build', '--out', out], { cwd: root })
  const files = fs.readdirSync(out).sort()
  const main = files.find((f) => f === `mqtt-native-${pkg.version}.tgz`)
  const platform = files.find((f) => f === `${platformPackage}-${pkg.version}.tgz`)
  assert.deepEqual(files, [main, platform].sort(), `npm run package wrote ${files.join(', ')}`)
  packaged = { main: path.join(out, main), platform: path.join(out, platform) }
  return packaged
}

test('the checkout has one runtime dependency (ws, for the Node-stream path) and no optionalDependencies, so a fresh clone installs from the registry as it is', () => {
  assert.deepEqual(Object.keys(pkg.dependencies), ['ws'])
  assert.equal(pkg.peerDependencies, undefined)
  // The platform packages are added to the published package.json only (scripts/package.js).
  assert.equal(pkg.optionalDependencies, undefined)
})

test('each target in package.json has a platform package under npm/ with its name, version, os, cpu and addon file', () => {
  const dirs = fs.readdirSync(path.join(root, 'npm')).sort()
  const suffixes = pkg.napi.targets.map(suffixOfTriple)
  assert.deepEqual(dirs, [...suffixes].sort())
  for (const s of suffixes) {
    const m = JSON.parse(fs.readFileSync(path.join(root, 'npm', s, 'package.json'), 'utf8'))
    assert.equal(m.name, `mqtt-native-${s}`)
    assert.equal(m.version, pkg.version, `npm/${s} has another version than package.json (run npx napi version)`)
    assert.equal(m.main, `mqtt-native.${s}.node`)
    assert.deepEqual(m.files, [m.main])
    const [platform, arch, abi] = s.split('-')
    assert.deepEqual(m.os, [platform])
    assert.deepEqual(m.cpu, [arch])
    if (platform === 'linux') assert.deepEqual(m.libc, [abi === 'musl' ? 'musl' : 'glibc'])
  }
})

test('platform names follow napi-rs for every target triple and for this machine', () => {
  assert.equal(suffixOfTriple('x86_64-unknown-linux-gnu'), 'linux-x64-gnu')
  assert.equal(suffixOfTriple('aarch64-unknown-linux-gnu'), 'linux-arm64-gnu')
  assert.equal(suffixOfTriple('x86_64-unknown-linux-musl'), 'linux-x64-musl')
  assert.equal(suffixOfTriple('x86_64-apple-darwin'), 'darwin-x64')
  assert.equal(suffixOfTriple('aarch64-apple-darwin'), 'darwin-arm64')
  assert.equal(suffixOfTriple('x86_64-pc-windows-msvc'), 'win32-x64-msvc')
  assert.throws(() => suffixOfTriple('pdp11-dec-unix'), /unknown target triple "pdp11-dec-unix"/)
  if (process.platform === 'linux' && process.arch === 'x64') assert.match(suffix, /^linux-x64-(gnu|musl)$/)
})

test('npm run package refuses an unknown target or argument with a clear message', () => {
  for (const [args, message] of [[['--target', 'pdp11-dec-unix'], /--target pdp11-dec-unix is not one of package\.json's napi\.targets: x86_64-unknown-linux-gnu/],
    [['--target', 'riscv64gc-unknown-linux-gnu'], /not one of package\.json's napi\.targets/],
    [['--frobnicate'], /unknown argument "--frobnicate"/], [['--out'], /--out needs a value/]]) {
    const result = spawnSync(process.execPath, [path.join(root, 'scripts', 'package.js'), '--no-build', ...args], { cwd: root, encoding: 'utf8' })
    assert.equal(result.status, 1, result.stderr)
    assert.match(result.stderr, message)
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'a stack trace instead of a message')
  }
})

test('npm publish from the checkout is refused (the tarballs in dist/ are what gets published)', () => {
  const result = spawnSync(process.execPath, [path.join(root, 'scripts', 'package.js'), '--refuse-publish'], { cwd: root, encoding: 'utf8' })
  assert.equal(result.status, 1)
  assert.match(result.stderr, /publish the tarballs that `npm run package` writes to dist\//)
  assert.equal(pkg.scripts.prepublishOnly, 'node scripts/package.js --refuse-publish')
})

test('npm run package writes a main tarball with no addon and no install scripts, and the platform tarball with the addon', { timeout: 180000 }, () => {
  const { main, platform } = packageOnce()
  const mainFiles = tarList(main)
  for (const f of ['package.json', 'index.js', 'index.mjs', 'index.d.ts', 'lib/native.js', 'lib/platform.js', 'lib/client.js',
    'lib/cli/main.js', 'bin/mqtt.js', 'bin/pub.js', 'bin/sub.js', 'README.md', 'COMPATIBILITY.md']) {
    assert.ok(mainFiles.includes(f), `${f} is missing from the main tarball`)
  }
  for (const f of mainFiles) {
    assert.doesNotMatch(f, /\.node$/, 'the main tarball must not hold an addon')
    assert.doesNotMatch(f, /^(src|__test__|target|fuzz|npm|scripts|examples|bench|dist)\/|^native\.(js|d\.ts)$|^Cargo/, `${f} should not be published`)
  }
  const manifest = tarManifest(main)
  assert.equal(manifest.scripts, undefined, 'the published package.json must have no scripts (no prepare, no install)')
  assert.equal(manifest.devDependencies, undefined)
  assert.deepEqual(manifest.optionalDependencies,
    Object.fromEntries(pkg.napi.targets.map((t) => [`mqtt-native-${suffixOfTriple(t)}`, pkg.version])))
  assert.deepEqual(manifest.napi, pkg.napi)

  assert.deepEqual(tarList(platform).sort(), ['README.md', `mqtt-native.${suffix}.node`, 'package.json'])
  const platformManifest = tarManifest(platform)
  assert.equal(platformManifest.name, platformPackage)
  assert.equal(platformManifest.version, pkg.version)
  assert.equal(platformManifest.scripts, undefined)
})

test('installed from the tarballs with no Rust on PATH, require, import and the mqtt command work against mosquitto', { timeout: 180000 }, async (t) => {
  if (!requireBinary(t, 'mosquitto')) return
  // The install must not be able to build anything: no cargo in the PATH it runs with.
  const cargo = spawnSync('cargo', ['--version'], { env: rustlessEnv })
  assert.equal(cargo.error && cargo.error.code, 'ENOENT', 'cargo is still reachable from the Rust-less PATH')
  const { main, platform } = packageOnce()
  const broker = await startMosquitto()
  t.after(() => broker.stop())
  const app = emptyProject(t, 'app')
  install(app, [main, platform])
  const modules = path.join(app, 'node_modules')
  assert.ok(fs.existsSync(path.join(modules, platformPackage, `mqtt-native.${suffix}.node`)))
  assert.equal(fs.readdirSync(path.join(modules, 'mqtt-native')).some((f) => f.endsWith('.node')), false,
    'an addon next to the loader would be used instead of the platform package')

  fs.writeFileSync(path.join(app, 'app.js'), exchangeScript('mqtt-native', broker.url))
  assert.equal(node(app, ['app.js']), 'pack/test hello from mqtt-native\n')

  fs.writeFileSync(path.join(app, 'app.mjs'), `import mqtt, { connectAsync } from 'mqtt-native'
const client = await connectAsync(${JSON.stringify(broker.url)}, { reconnectPeriod: 0 })
console.log(typeof mqtt.connect, client.connected)
await client.endAsync()
`)
  assert.equal(node(app, ['app.mjs']), 'function true\n')

  const bin = path.join(modules, '.bin')
  assert.match(sh(path.join(bin, 'mqtt'), ['version'], { cwd: app, env: rustlessEnv }), new RegExp(`^mqtt-native ${pkg.version.replace(/\./g, '\\.')}`))
  sh(path.join(bin, 'mqtt_pub'), ['-h', broker.host, '-p', String(broker.port), '-t', 'pack/cli', '-m', 'x'], { cwd: app, env: rustlessEnv })
  // A retained message published with the installed CLI is what the installed subscriber gets.
  sh(path.join(bin, 'mqtt'), ['pub', '-h', broker.host, '-p', String(broker.port), '-t', 'pack/retained', '-m', 'kept', '-r'], { cwd: app, env: rustlessEnv })
  assert.equal(sh(path.join(bin, 'mqtt'), ['sub', '-h', broker.host, '-p', String(broker.port), '-t', 'pack/retained', '-C', '1', '-v'],
    { cwd: app, env: rustlessEnv, timeout: 20000 }), 'pack/retained kept\n')

  // A platform package of another version than the main package is refused by name.
  const platformManifestFile = path.join(modules, platformPackage, 'package.json')
  const platformManifest = JSON.parse(fs.readFileSync(platformManifestFile, 'utf8'))
  fs.writeFileSync(platformManifestFile, JSON.stringify({ ...platformManifest, version: '0.0.1-other' }))
  const mismatch = spawnSync(process.execPath, ['-e', 'require("mqtt-native")'], { cwd: app, env: rustlessEnv, encoding: 'utf8' })
  assert.notEqual(mismatch.status, 0)
  assert.match(mismatch.stderr, new RegExp(`${platformPackage} is version 0\\.0\\.1-other`))
  assert.match(mismatch.stderr, /code: 'ERR_MQTT_NATIVE_VERSION'/)
})

test('installed as `mqtt` with the platform package, unchanged require(\'mqtt\') code runs on mqtt-native (the drop-in route)', { timeout: 180000 }, async (t) => {
  if (!requireBinary(t, 'mosquitto')) return
  const { main, platform } = packageOnce()
  const broker = await startMosquitto()
  t.after(() => broker.stop())
  const app = emptyProject(t, 'dropin')
  install(app, [`mqtt@file:${main}`, platform])
  const installed = JSON.parse(fs.readFileSync(path.join(app, 'node_modules', 'mqtt', 'package.json'), 'utf8'))
  assert.equal(installed.name, 'mqtt-native')

  fs.writeFileSync(path.join(app, 'app.js'), exchangeScript('mqtt', broker.url))
  assert.equal(node(app, ['app.js']), 'pack/test hello from mqtt\n')
  // The same tools too: `npx mqtt` is now ours.
  assert.match(sh(path.join(app, 'node_modules', '.bin', 'mqtt'), ['version'], { cwd: app, env: rustlessEnv }), /^mqtt-native /)
})

test('installed without its platform package, require names the platform, the packages and how to build, and the CLI says so in one line', { timeout: 180000 }, (t) => {
  const { main } = packageOnce()
  const app = emptyProject(t, 'noaddon')
  // Offline, the optional platform packages cannot be fetched: npm skips them, as it does on a
  // platform no package matches.
  install(app, [main])
  assert.equal(fs.existsSync(path.join(app, 'node_modules', platformPackage)), false)

  const result = spawnSync(process.execPath, ['-e', `try { require('mqtt-native') } catch (err) { console.log(JSON.stringify({ code: err.code, message: err.message })) }`],
    { cwd: app, env: rustlessEnv, encoding: 'utf8' })
  assert.equal(result.status, 0, result.stderr)
  const err = JSON.parse(result.stdout)
  assert.equal(err.code, 'ERR_MQTT_NATIVE_MISSING')
  assert.match(err.message, new RegExp(`this platform \\(${suffix}\\)`))
  for (const s of pkg.napi.targets.map(suffixOfTriple)) assert.ok(err.message.includes(`mqtt-native-${s}`), `the message does not list mqtt-native-${s}`)
  assert.match(err.message, new RegExp(`npm install ${platformPackage}@${pkg.version.replace(/\./g, '\\.')}`))
  assert.match(err.message, /build it from source you need Rust \(cargo/)
  assert.doesNotMatch(err.message, /Cannot find module/)

  const esm = spawnSync(process.execPath, ['--input-type=module', '-e', 'import("mqtt-native").catch((err) => { console.log(err.code); process.exit(3) })'],
    { cwd: app, env: rustlessEnv, encoding: 'utf8' })
  assert.equal(esm.status, 3, esm.stderr)
  assert.equal(esm.stdout, 'ERR_MQTT_NATIVE_MISSING\n')

  // NAPI_RS_NATIVE_LIBRARY_PATH names an addon to use instead (here the checkout's build).
  const addon = path.join(root, `mqtt-native.${suffix}.node`)
  const pointed = spawnSync(process.execPath, ['-e', "console.log(typeof require('mqtt-native').connect)"],
    { cwd: app, env: { ...rustlessEnv, NAPI_RS_NATIVE_LIBRARY_PATH: addon }, encoding: 'utf8' })
  assert.equal(pointed.stdout, 'function\n', pointed.stderr)
  const missing = spawnSync(process.execPath, ['-e', "try { require('mqtt-native') } catch (err) { console.log(err.code, err.message) }"],
    { cwd: app, env: { ...rustlessEnv, NAPI_RS_NATIVE_LIBRARY_PATH: path.join(app, 'nothing.node') }, encoding: 'utf8' })
  assert.match(missing.stdout, /^ERR_MQTT_NATIVE_LOAD mqtt-native: cannot load the addon named by NAPI_RS_NATIVE_LIBRARY_PATH \(.*nothing\.node\)/)

  const cli = spawnSync(path.join(app, 'node_modules', '.bin', 'mqtt'), ['pub', '-h', '127.0.0.1', '-p', '1', '-t', 'a', '-m', 'b'],
    { cwd: app, env: rustlessEnv, encoding: 'utf8', timeout: 20000 })
  assert.equal(cli.status, 1)
  assert.equal(cli.stderr.trim().split('\n').length, 1, `more than one line:\n${cli.stderr}`)
  assert.match(cli.stderr, /^mqtt publish: mqtt-native: the native addon for this platform/)
})

test('the release workflow\'s install check passes on the tarballs npm run package wrote', { timeout: 180000 }, () => {
  const { main } = packageOnce()
  const out = sh(process.execPath, [path.join(root, 'scripts', 'smoke-install.js'), path.dirname(main)], { cwd: root, env: rustlessEnv })
  assert.match(out, new RegExp(`mqtt-native ${pkg.version.replace(/\./g, '\\.')} installs and loads its addon from ${platformPackage}-`))
  const wrong = spawnSync(process.execPath, [path.join(root, 'scripts', 'smoke-install.js'), main], { cwd: root, encoding: 'utf8' })
  assert.equal(wrong.status, 1)
  assert.match(wrong.stderr, /^smoke-install: usage:/)
})

test('the release workflow builds every target in package.json with npm run package and publishes with provenance', () => {
  const workflow = fs.readFileSync(path.join(root, '.github', 'workflows', 'release.yml'), 'utf8')
  const targets = [...workflow.matchAll(/^\s+- target: (\S+)/gm)].map((m) => m[1])
  assert.deepEqual([...targets].sort(), [...pkg.napi.targets].sort())
  assert.match(workflow, /npm run package -- --target \$\{\{ matrix\.target \}\}/)
  assert.match(workflow, /npm ci --ignore-scripts/)
  assert.match(workflow, /node scripts\/smoke-install\.js dist/)
  assert.match(workflow, /id-token: write/)
  // Platform packages first, so the main package's optionalDependencies exist when it appears.
  const platformPublish = workflow.indexOf('npm publish "$f" --provenance --access public')
  const mainPublish = workflow.indexOf('npm publish "dist/mqtt-native-$version.tgz" --provenance --access public')
  assert.ok(platformPublish > 0 && mainPublish > platformPublish)
  assert.doesNotMatch(workflow, /NPM_TOKEN|NODE_AUTH_TOKEN/, 'trusted publishing needs no token')
})
