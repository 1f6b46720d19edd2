#!/usr/bin/env node
'use strict'
// Installs the tarballs of `npm run package` into an empty project, as a user would (offline,
// no scripts needed), and checks that the package loads its addon through require and import
// and that the `mqtt` command runs. The release workflow runs it on every target it can run
// (.github/workflows/release.yml); __test__/pack.test.js runs it here.
//
// Usage: node scripts/smoke-install.js <main.tgz> <platform.tgz>
//        node scripts/smoke-install.js <dir>   (dist/: the main tarball of package.json's version
//                                              and the one platform tarball beside it)

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'

function fail (message) {
  console.error(`smoke-install: ${message}`)
  process.exit(1)
}

function run (cmd, args, cwd) {
  const result = spawnSync(cmd, args, { cwd, encoding: 'utf8', shell: process.platform === 'win32', timeout: 120000 })
  if (result.error) fail(`${cmd} ${args.join(' ')}: ${result.error.message}`)
  if (result.status !== 0) fail(`${cmd} ${args.join(' ')} exited ${result.status}:\n${result.stdout}\n${result.stderr}`)
  return result.stdout
}

function fromDir (dir) {
  const { version } = require('../package.json')
  const main = `mqtt-native-${version}.tgz`
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.tgz'))
  const platform = files.filter((f) => f !== main)
  if (!files.includes(main) || platform.length !== 1) fail(`${dir} should hold ${main} and one platform tarball; it holds ${files.join(', ') || 'none'}`)
  return [path.join(dir, main), path.join(dir, platform[0])]
}

const args = process.argv.slice(2)
const tarballs = args.length === 1 && fs.existsSync(args[0]) && fs.statSync(args[0]).isDirectory()
  ? fromDir(path.resolve(args[0]))
  : args.map((f) => path.resolve(f))
if (tarballs.length !== 2) fail('usage: node scripts/smoke-install.js <main.tgz> <platform.tgz> | <dir>')
for (const f of tarballs) if (!fs.existsSync(f)) fail(`no such file: ${f}`)

const app = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-native-smoke-'))
try {
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'smoke', version: '1.0.0', private: true }))
  run(npm, ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error', ...tarballs], app)
  const { version } = JSON.parse(fs.readFileSync(path.join(app, 'node_modules', 'mqtt-native', 'package.json'), 'utf8'))
  const cjs = run(process.execPath, ['-e', `const m = require('mqtt-native')
    const c = m.connect('mqtt://127.0.0.1:1', { manualConnect: true })
    console.log(typeof m.connect, m.NATIVE_VERSION, c.connected)`], app)
  if (cjs.trim() !== `function ${version} false`) fail(`require('mqtt-native') printed ${JSON.stringify(cjs)}`)
  const esm = run(process.execPath, ['--input-type=module', '-e', "import { connect } from 'mqtt-native'; console.log(typeof connect)"], app)
  if (esm.trim() !== 'function') fail(`import printed ${JSON.stringify(esm)}`)
  const bin = path.join(app, 'node_modules', '.bin', process.platform === 'win32' ? 'mqtt.cmd' : 'mqtt')
  const out = run(bin, ['version'], app)
  if (!out.startsWith(`mqtt-native ${version}`)) fail(`mqtt version printed ${JSON.stringify(out)}`)
  console.log(`smoke-install: mqtt-native ${version} installs and loads its addon from ${path.basename(tarballs[1])}`)
} finally {
  fs.rmSync(app, { recursive: true, force: true })
}
