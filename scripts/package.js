#!/usr/bin/env node
'use strict'
// `npm run package`: writes the packages that get published into dist/:
//
//   dist/mqtt-native-<version>.tgz              the main package: JavaScript, typings, CLI, and
//                                               optionalDependencies on every platform package
//                                               (exact versions); no .node file, no scripts
//   dist/mqtt-native-<platform>-<version>.tgz   the platform package of the target, holding
//                                               mqtt-native.<platform>.node
//
// Usage: node scripts/package.js [--target <rust triple>] [--no-build | --debug] [--out <dir>]
//
//   --target   one of package.json's napi.targets (default: the one this machine runs)
//   --no-build pack the addon already built (mqtt-native.<platform>.node at the root, or in
//              npm/<platform>/ where `napi artifacts` puts the ones CI downloaded); the default
//              is a release build of the target first
//   --debug    build a debug addon instead (quick; for tests)
//   --out      the directory for the tarballs (default: dist)
//
// The release workflow (.github/workflows/release.yml) runs this once per target.

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { hostSuffix, suffixOfTriple } = require('../lib/platform')

const root = path.join(__dirname, '..')
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'

function fail (message) {
  console.error(`npm run package: ${message}`)
  process.exit(1)
}

function parseArgs (argv) {
  const opts = { target: null, build: 'release', out: path.join(root, 'dist') }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const value = () => {
      if (i + 1 >= argv.length || argv[i + 1].startsWith('--')) fail(`${arg} needs a value`)
      return argv[++i]
    }
    if (arg === '--target') opts.target = value()
    else if (arg === '--out') opts.out = path.resolve(value())
    else if (arg === '--no-build') opts.build = 'none'
    else if (arg === '--debug') opts.build = 'debug'
    else if (arg === '--refuse-publish') opts.refusePublish = true
    else if (arg === '--help' || arg === '-h') opts.help = true
    else fail(`unknown argument ${JSON.stringify(arg)} (see --help)`)
  }
  return opts
}

function run (cmd, args, opts = {}) {
  const result = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', stdio: opts.capture ? 'pipe' : 'inherit', shell: process.platform === 'win32', ...opts })
  if (result.error) fail(`${cmd} ${args.join(' ')}: ${result.error.message}`)
  if (result.status !== 0) fail(`${cmd} ${args.join(' ')} exited ${result.status}${opts.capture ? `:\n${result.stdout}\n${result.stderr}` : ''}`)
  return result.stdout
}

/** `npm pack` of a directory into `out`, without lifecycle scripts; returns npm's report. */
function pack (dir, out) {
  const [info] = JSON.parse(run(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', out], { cwd: dir, capture: true }))
  return { file: path.join(out, info.filename), files: info.files.map((f) => f.path) }
}

function main () {
  const opts = parseArgs(process.argv.slice(2))
  if (opts.help) {
    console.log(fs.readFileSync(__filename, 'utf8').split('\n').filter((l) => l.startsWith('//')).map((l) => l.slice(3)).join('\n'))
    return
  }
  if (opts.refusePublish) {
    fail('publish the tarballs that `npm run package` writes to dist/ (`npm publish dist/<file>.tgz`), not the ' +
      'checkout: the checkout has no optionalDependencies and may hold a locally built .node. See RELEASING in README.md.')
  }

  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
  const napi = manifest.napi || {}
  const binaryName = napi.binaryName || manifest.name
  const prefix = napi.packageName || manifest.name
  const targets = napi.targets || []
  const bySuffix = new Map(targets.map((t) => [suffixOfTriple(t), t]))
  const target = opts.target || bySuffix.get(hostSuffix())
  if (!target) fail(`this machine (${hostSuffix()}) is not one of package.json's napi.targets (${targets.join(', ')}); pass --target`)
  if (!targets.includes(target)) fail(`--target ${target} is not one of package.json's napi.targets: ${targets.join(', ')}`)
  const suffix = suffixOfTriple(target)
  const nodeFile = `${binaryName}.${suffix}.node`

  if (opts.build !== 'none') {
    const napiBin = path.join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'napi.cmd' : 'napi')
    if (!fs.existsSync(napiBin)) fail('the napi CLI is missing: run `npm install` (or `npm ci --ignore-scripts`) first')
    const args = ['build', '--platform', '--target', target, '--js', 'native.js', '--dts', 'native.d.ts']
    if (opts.build === 'release') args.splice(2, 0, '--release')
    console.log(`$ napi ${args.join(' ')}`)
    run(napiBin, args)
  }

  const npmDir = path.join(root, 'npm', suffix)
  const candidates = [path.join(root, nodeFile), path.join(npmDir, nodeFile)]
  const addon = candidates.find((f) => fs.existsSync(f))
  if (!addon) fail(`no ${nodeFile}: build it first (\`npm run build\`, or drop --no-build), looked in ${candidates.join(' and ')}`)

  const platformManifestFile = path.join(npmDir, 'package.json')
  if (!fs.existsSync(platformManifestFile)) fail(`npm/${suffix}/package.json is missing (\`npx napi create-npm-dirs\` writes it)`)
  const platformManifest = JSON.parse(fs.readFileSync(platformManifestFile, 'utf8'))
  if (platformManifest.name !== `${prefix}-${suffix}`) fail(`npm/${suffix}/package.json is named ${platformManifest.name}, expected ${prefix}-${suffix}`)
  if (platformManifest.main !== nodeFile) fail(`npm/${suffix}/package.json has main ${platformManifest.main}, expected ${nodeFile}`)
  if (platformManifest.version !== manifest.version) {
    fail(`npm/${suffix}/package.json is version ${platformManifest.version} but package.json is ${manifest.version}: run \`npx napi version\``)
  }

  fs.mkdirSync(opts.out, { recursive: true })
  const stageRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-native-package-'))
  try {
    // The platform package: its package.json and README from npm/<platform>/, and the addon.
    const platformStage = path.join(stageRoot, suffix)
    fs.mkdirSync(platformStage)
    for (const f of fs.readdirSync(npmDir)) {
      if (!f.endsWith('.node')) fs.copyFileSync(path.join(npmDir, f), path.join(platformStage, f))
    }
    fs.copyFileSync(addon, path.join(platformStage, nodeFile))
    const platformTarball = pack(platformStage, opts.out)
    if (!platformTarball.files.includes(nodeFile)) fail(`${platformTarball.file} does not hold ${nodeFile}`)

    // The main package: what `files` selects, minus the addon and the generated loader, with
    // the platform packages as exact-version optionalDependencies and no scripts (installing it
    // runs nothing).
    const mainStage = path.join(stageRoot, 'main')
    const [listing] = JSON.parse(run(npm, ['pack', '--dry-run', '--ignore-scripts', '--json'], { capture: true }))
    const generated = new Set(['native.js', 'native.d.ts'])
    for (const { path: rel } of listing.files) {
      if (rel.endsWith('.node') || generated.has(rel)) continue
      fs.mkdirSync(path.dirname(path.join(mainStage, rel)), { recursive: true })
      fs.copyFileSync(path.join(root, rel), path.join(mainStage, rel))
    }
    const published = { ...manifest }
    published.files = manifest.files.filter((f) => !f.endsWith('.node') && !generated.has(f))
    published.optionalDependencies = Object.fromEntries(targets.map((t) => [`${prefix}-${suffixOfTriple(t)}`, manifest.version]))
    delete published.scripts
    delete published.devDependencies
    fs.writeFileSync(path.join(mainStage, 'package.json'), JSON.stringify(published, null, 2) + '\n')
    const mainTarball = pack(mainStage, opts.out)
    const stray = mainTarball.files.filter((f) => f.endsWith('.node'))
    if (stray.length) fail(`the main tarball holds ${stray.join(', ')}`)

    const shown = (f) => (path.relative(process.cwd(), f).startsWith('..') ? f : path.relative(process.cwd(), f))
    console.log(`${shown(mainTarball.file)}\n${shown(platformTarball.file)}`)
  } finally {
    fs.rmSync(stageRoot, { recursive: true, force: true })
  }
}

main()
