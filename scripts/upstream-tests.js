'use strict'
// Runs MQTT.js's own test suite (test/node/*.ts of a given MQTT.js tag) against MQTT.js itself
// (the `mqtt` devDependency: the oracle) and against this package, and compares the results test
// by test. The MQTT.js checkout is an input (CI has no network but the package registries), and
// nothing of it is committed: the tests are copied into the ignored work dir `.upstream/` and
// their imports rewritten there, once per target.
//
//   node scripts/upstream-tests.js --source <MQTT.js git dir or checkout> [--ref v5.14.1]
//        [--target mqtt|native|both] [--grep <test name pattern>] [--files a.ts,b.ts]
//        [--concurrency 2] [--test-timeout 15000] [--run-timeout 1800000]
//
// With one target, the comparison uses the other target's last results in the work dir, when
// they were made from the same tests.
//
// It prints N, the tests MQTT.js passes; K, those of them that are not applicable to mqtt-native
// because they need MQTT.js's internals (its internal modules or private members; listed); and
// M, how many of the other N - K mqtt-native passes, with the list of the rest.
const { spawn, spawnSync } = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const workDir = path.join(root, '.upstream')
const targets = ['mqtt', 'native']

// ---------------------------------------------------------------------------------------------
// Import rewriting. The upstream tests import MQTT.js's TypeScript sources (`../../src`, and a few
// internal modules under `src/lib/`, some written as bare `src/...`, which upstream's tsconfig
// baseUrl allows). Each rule maps a module specifier to what the target offers. Rules are tried
// in order; the first match wins. `lib` is the part after `src/lib/` when there is one.
// ---------------------------------------------------------------------------------------------
const rewriteRules = {
  mqtt: [
    {
      // The package entry: MQTT.js's compiled build is what `require('mqtt')` gives applications.
      match: /^(\.\.\/\.\.\/|\.\/)?src$/,
      to: (ctx) => ctx.mqttBuild
    },
    {
      // Internal modules: the same module in the compiled build (build/lib mirrors src/lib).
      match: /^(\.\.\/\.\.\/)?src\/lib\/(.+)$/,
      to: (ctx, m) => path.join(ctx.mqttBuild, 'lib', m[2])
    }
  ],
  native: [
    {
      // The package entry: the project root, as `require('mqtt-native')` resolves it.
      match: /^(\.\.\/\.\.\/|\.\/)?src$/,
      to: (ctx) => root
    },
    {
      // Internal modules that mqtt-native has under the same meaning, re-exported from its entry:
      // a small adapter module gives them the shape the tests import (see nativeAdapters).
      match: /^(\.\.\/\.\.\/)?src\/lib\/(store|shared|client|default-message-id-provider|unique-message-id-provider)$/,
      to: (ctx, m) => ctx.adapter(m[2])
    },
    {
      // Any other internal module (handlers/*, KeepaliveManager, connect/socks, …) has no
      // counterpart. The tests that use it are not run (see markTestsUsing); the module is a stub
      // whose exports throw when used anyway, with a message starting with the internals marker,
      // so that a use the marking misses fails only its test (see upstream-register.js).
      missing: true,
      match: /^(\.\.\/\.\.\/)?src\/lib\/(.+)$/,
      to: (ctx, m) => ctx.missing(m[2])
    }
  ]
}

// What each adapted internal module of MQTT.js exports, taken from mqtt-native's entry.
const nativeAdapters = {
  store: 'module.exports = { __esModule: true, default: entry.Store, Store: entry.Store }',
  shared: 'module.exports = { __esModule: true, ErrorWithReasonCode: entry.ErrorWithReasonCode, ErrorWithSubackPacket: entry.ErrorWithSubackPacket, applyMixin: entry.applyMixin, nextTick: entry.nextTick, MQTTJS_VERSION: entry.MQTTJS_VERSION }',
  client: 'module.exports = { __esModule: true, default: entry.MqttClient, MqttClient: entry.MqttClient }',
  'default-message-id-provider': 'module.exports = { __esModule: true, default: entry.DefaultMessageIdProvider }',
  'unique-message-id-provider': 'module.exports = { __esModule: true, default: entry.UniqueMessageIdProvider }'
}

// Tests that MQTT.js passes and mqtt-native fails for want of MQTT.js's private internals are
// "not applicable: MQTT.js internals", listed apart and not counted against mqtt-native. A failure
// is one when its error starts with this marker (the stubs above; see upstream-register.js) or
// names one of these private members, which an application cannot reach either.
const internalsMarker = 'MQTT.js internals:'
const privateInternals = [
  // MqttClient's private keepalive hook, spied on by the keepalive tests; mqtt-native's keepalive
  // runs in the native session (COMPATIBILITY.md).
  '_reschedulePing'
]
const needsInternals = (error) => typeof error === 'string' &&
  (error.includes(internalsMarker) || privateInternals.some((name) => new RegExp(`\\b${name}\\b`).test(error)))

// Packages the harness needs besides the tests' own imports: the TypeScript loader upstream uses.
const runnerPackages = ['esbuild', 'esbuild-register']

function parseArgs (argv) {
  const args = { ref: 'v5.14.1', target: 'both', concurrency: 2, testTimeout: 15000, runTimeout: 30 * 60000 }
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i]
    const value = () => {
      if (i + 1 >= argv.length) usage(`${name} needs a value`)
      return argv[++i]
    }
    if (name === '--source') args.source = path.resolve(value())
    else if (name === '--ref') args.ref = value()
    else if (name === '--target') args.target = value()
    else if (name === '--grep') args.grep = value()
    else if (name === '--files') args.files = value().split(',')
    else if (name === '--concurrency') args.concurrency = Number(value())
    else if (name === '--test-timeout') args.testTimeout = Number(value())
    else if (name === '--run-timeout') args.runTimeout = Number(value())
    else if (name === '--help' || name === '-h') usage()
    else usage(`unknown argument ${name}`)
  }
  if (!args.source) usage('--source is required')
  if (![...targets, 'both'].includes(args.target)) usage(`--target must be mqtt, native or both, not ${args.target}`)
  return args
}

function usage (problem) {
  if (problem) console.error(`upstream-tests: ${problem}`)
  console.error('usage: node scripts/upstream-tests.js --source <MQTT.js git dir or checkout> [--ref v5.14.1] [--target mqtt|native|both] [--grep pattern] [--files a.ts,b.ts] [--concurrency 2] [--test-timeout ms] [--run-timeout ms]')
  process.exit(problem ? 2 : 0)
}

function run (cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, ...options })
  if (result.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed: ${result.error ? result.error.message : (result.stderr || '').trim()}`)
  }
  return result.stdout
}

// Puts the tag's test/, package.json and package-lock.json into `<workDir>/source/<ref>`. The
// source is a git directory (bare or not) or a checkout; a checkout without git is used as it is.
function extractSource (args) {
  const gitDir = findGitDir(args.source)
  const label = gitDir ? args.ref : 'worktree'
  const dest = path.join(workDir, 'source', label.replace(/[^\w.-]/g, '_'))
  fs.rmSync(dest, { recursive: true, force: true })
  fs.mkdirSync(dest, { recursive: true })
  let commit = null
  if (gitDir) {
    commit = run('git', ['--git-dir', gitDir, 'rev-parse', `${args.ref}^{commit}`]).trim()
    const wanted = ['test', 'package.json', 'package-lock.json']
    const present = run('git', ['--git-dir', gitDir, 'ls-tree', '--name-only', commit]).split('\n')
    const archive = spawnSync('git', ['--git-dir', gitDir, 'archive', commit, ...wanted.filter((p) => present.includes(p))], { maxBuffer: 512 * 1024 * 1024 })
    if (archive.status !== 0) throw new Error(`git archive ${args.ref} failed: ${archive.stderr}`)
    run('tar', ['-x', '-C', dest], { input: archive.stdout, encoding: 'buffer' })
  } else {
    for (const p of ['test', 'package.json', 'package-lock.json']) {
      if (fs.existsSync(path.join(args.source, p))) fs.cpSync(path.join(args.source, p), path.join(dest, p), { recursive: true })
    }
  }
  if (!fs.existsSync(path.join(dest, 'test', 'node'))) throw new Error(`${args.source} (${label}) has no test/node directory`)
  return { dir: dest, label, commit }
}

function findGitDir (source) {
  for (const candidate of [source, path.join(source, '.git')]) {
    const result = spawnSync('git', ['--git-dir', candidate, 'rev-parse', '--git-dir'], { encoding: 'utf8' })
    if (result.status === 0) return candidate
  }
  return null
}

function listTestFiles (testDir) {
  return fs.readdirSync(testDir).filter((f) => f.endsWith('.ts')).sort()
}

function allTsFiles (dir) {
  return fs.readdirSync(dir, { recursive: true }).filter((f) => f.endsWith('.ts')).map((f) => path.join(dir, f))
}

// import … from 'x', import 'x', export … from 'x', require('x'), import('x')
const specifierPattern = /(\bfrom\s*|\bimport\s*|\brequire\(\s*|\bimport\(\s*)(['"])([^'"\n]+)\2/g

// The packages the tests import, with the version the tag's lock file pins (else the range in its
// package.json), plus the TypeScript loader.
function neededPackages (sourceDir) {
  const pkg = JSON.parse(fs.readFileSync(path.join(sourceDir, 'package.json'), 'utf8'))
  const lockPath = path.join(sourceDir, 'package-lock.json')
  const lock = fs.existsSync(lockPath) ? JSON.parse(fs.readFileSync(lockPath, 'utf8')).packages ?? {} : {}
  const builtins = new Set(require('node:module').builtinModules)
  const names = new Set(runnerPackages)
  for (const file of allTsFiles(path.join(sourceDir, 'test', 'node'))) {
    for (const m of fs.readFileSync(file, 'utf8').matchAll(specifierPattern)) {
      const spec = m[3]
      if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:') || /^src(\/|$)/.test(spec)) continue
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]
      if (!builtins.has(name)) names.add(name)
    }
  }
  const specs = {}
  for (const name of [...names].sort()) {
    const version = lock[`node_modules/${name}`]?.version ?? pkg.devDependencies?.[name] ?? pkg.dependencies?.[name]
    if (!version) throw new Error(`the tests import ${name}, which ${sourceDir}/package.json does not list`)
    specs[name] = version
  }
  return specs
}

// Installs the packages into `<workDir>/node_modules`, from which the copied tests resolve them,
// once per set of versions. `<workDir>/package.json` is the harness's own; ours is untouched.
function installPackages (specs) {
  const stampPath = path.join(workDir, 'installed.json')
  const wanted = JSON.stringify(specs)
  if (fs.existsSync(stampPath) && fs.readFileSync(stampPath, 'utf8') === wanted) return
  fs.writeFileSync(path.join(workDir, 'package.json'), JSON.stringify({ name: 'mqtt-native-upstream-tests', private: true, dependencies: specs }, null, 2))
  console.log(`installing into ${path.relative(root, workDir)}/node_modules: ${Object.entries(specs).map(([n, v]) => `${n}@${v}`).join(' ')}`)
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
  const result = spawnSync(npm, ['install', '--prefix', workDir, '--no-audit', '--no-fund', '--loglevel=error'], { cwd: workDir, stdio: 'inherit' })
  if (result.status !== 0) throw new Error('npm install of the upstream tests\' packages failed')
  fs.writeFileSync(stampPath, wanted)
}

// Copies the tests for one target and rewrites their imports with the target's rules.
function prepareTarget (target, source) {
  const targetDir = path.join(workDir, 'targets', target)
  fs.rmSync(targetDir, { recursive: true, force: true })
  fs.mkdirSync(targetDir, { recursive: true })
  fs.cpSync(path.join(source.dir, 'test'), path.join(targetDir, 'test'), { recursive: true })
  const adaptersDir = path.join(targetDir, 'adapters')
  fs.mkdirSync(adaptersDir)
  const ctx = {
    mqttBuild: path.join(path.dirname(require.resolve('mqtt/package.json', { paths: [root] })), 'build'),
    adapter (name) {
      const file = path.join(adaptersDir, `${name}.js`)
      fs.writeFileSync(file, `'use strict'\n// MQTT.js's src/lib/${name}, from mqtt-native's entry.\nconst entry = require(${JSON.stringify(root)})\n${nativeAdapters[name]}\n`)
      return file
    },
    missing (name) {
      const file = path.join(adaptersDir, `missing-${name.replace(/\//g, '-')}.js`)
      const message = `${internalsMarker} mqtt-native has no counterpart of MQTT.js's internal module src/lib/${name} (upstream-tests harness)`
      fs.writeFileSync(file, `'use strict'\n// MQTT.js's src/lib/${name}: not provided by mqtt-native; using it fails the test.\nfunction missing () { throw new Error(${JSON.stringify(message)}) }\nmodule.exports = new Proxy({ __esModule: true, default: missing }, { get: (o, k) => (k in o || typeof k === 'symbol') ? o[k] : missing })\n`)
      return file
    }
  }
  const rewrites = {}
  const notApplicable = []
  for (const file of allTsFiles(path.join(targetDir, 'test', 'node'))) {
    const text = fs.readFileSync(file, 'utf8')
    const missing = new Map() // local name bound to a missing module -> that module
    let rewritten = text.replace(specifierPattern, (whole, lead, quote, spec) => {
      for (const rule of rewriteRules[target]) {
        const m = spec.match(rule.match)
        if (!m) continue
        const to = rule.to(ctx, m)
        rewrites[spec] = path.relative(root, to) || '.'
        if (rule.missing) for (const name of importedNames(text, spec)) missing.set(name, `src/lib/${m[2]}`)
        return `${lead}${quote}${to}${quote}`
      }
      return whole
    })
    if (missing.size) {
      rewritten = markTestsUsing(rewritten, missing, (line) => notApplicable.push(`${path.basename(file)}:${line}`))
    }
    if (rewritten !== text) fs.writeFileSync(file, rewritten)
  }
  return { targetDir, rewrites, notApplicable }
}

// The local names an import of `spec` binds: `import a from`, `import { b, c as d } from`,
// `import * as e from`.
function importedNames (text, spec) {
  const names = []
  const quoted = spec.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
  for (const m of text.matchAll(new RegExp(`import\\s+(?!type\\b)([^;'"]*?)\\s+from\\s*['"]${quoted}['"]`, 'g'))) {
    const clause = m[1].replace(/\{([^}]*)\}/, (_, list) => {
      for (const item of list.split(',')) {
        const name = item.trim().replace(/^type\s+/, '').split(/\s+as\s+/).pop()
        if (name && !item.trim().startsWith('type ')) names.push(name)
      }
      return ''
    })
    for (const part of clause.split(',')) {
      const name = part.trim().replace(/^\*\s+as\s+/, '')
      if (/^[\w$]+$/.test(name)) names.push(name)
    }
  }
  return names
}

// Rewrites each `it(` whose code uses one of `missing`'s names, directly or through a function of
// the file that does, into `it.notApplicable('<reason>', ` (upstream-register.js): such a test is
// reported as skipped with the reason and never runs. Running it would only fail it at the first
// call into the stub, part-way through its exchange with the test server; its client is then torn
// down mid-exchange, which has reset the test server's connection (an error upstream's plain-TCP
// test server does not listen for) and ended the file's process. Upstream's sources are formatted
// by prettier, so a call or function ends at the first later line of the same indentation that
// starts with `}` or `)`.
function markTestsUsing (text, missing, onMarked) {
  const lines = text.split('\n')
  const indentOf = (line) => line.match(/^\s*/)[0].length
  const blockEnd = (from) => {
    const indent = indentOf(lines[from])
    if (/\)\s*;?\s*$/.test(lines[from]) && !/[({[,]\s*$/.test(lines[from])) return from // a one-line call
    for (let i = from + 1; i < lines.length; i++) {
      if (lines[i].trim() && indentOf(lines[i]) <= indent && /^\s*[)}]/.test(lines[i])) return i
    }
    return lines.length - 1
  }
  // A use is a call (`handlePubrel(`, `new KeepaliveManager(`), so that prose such as a test
  // named 'should handle …' is not taken for `handle(`.
  const uses = (from, to) => {
    const body = lines.slice(from, to + 1).join('\n')
    return [...missing.keys()].find((name) => new RegExp(`(?<![\\w$.'"\`])${name.replace(/\$/g, '\\$')}\\s*\\(`).test(body))
  }
  // Functions that use a missing name make their own name a missing name too, until none is added.
  for (let added = true; added;) {
    added = false
    lines.forEach((line, i) => {
      const fn = line.match(/^\s*(?:async\s+)?function\s+([\w$]+)\s*\(/)
      // A declaration, not a named function passed as an argument (`it('…',\n function _test(`).
      const argument = /[,(]\s*$/.test(lines.slice(0, i).findLast((l) => l.trim()) ?? '')
      if (!fn || argument || missing.has(fn[1])) return
      const used = uses(i + 1, blockEnd(i))
      if (used) {
        missing.set(fn[1], missing.get(used))
        added = true
      }
    })
  }
  lines.forEach((line, i) => {
    if (!/^\s*it\(/.test(line)) return
    const used = uses(i, blockEnd(i))
    if (!used) return
    const reason = `${internalsMarker} uses MQTT.js's internal module ${missing.get(used)}, which mqtt-native has no counterpart of`
    lines[i] = line.replace(/\bit\(/, `it.notApplicable(${JSON.stringify(reason)}, `)
    onMarked(i + 1)
  })
  return lines.join('\n')
}

// Runs node --test on the target's copy in its own process group, which is killed when the run
// ends or times out, so that no broker or forked helper outlives it (the tests listen on fixed
// ports, and the next target needs them).
function runTarget (target, prepared, register, args) {
  const testDir = path.join(prepared.targetDir, 'test', 'node')
  let files = listTestFiles(testDir)
  if (args.files) files = files.filter((f) => args.files.includes(f))
  const resultsFile = path.join(workDir, `results-${target}.jsonl`)
  const logFile = path.join(workDir, `${target}.log`)
  const nodeArgs = [
    '--require', register,
    '--test',
    `--test-concurrency=${args.concurrency}`,
    `--test-reporter=${path.join(__dirname, 'upstream-reporter.mjs')}`, `--test-reporter-destination=${resultsFile}`,
    '--test-reporter=spec', `--test-reporter-destination=${logFile}`,
    ...(args.grep ? [`--test-name-pattern=${args.grep}`] : []),
    ...files.map((f) => path.join('test', 'node', f))
  ]
  console.log(`\n[${target}] node --test on ${files.length} files (log: ${path.relative(root, logFile)})`)
  const started = Date.now()
  return new Promise((resolve) => {
    const child = spawn(process.execPath, nodeArgs, {
      cwd: prepared.targetDir,
      detached: true, // its own process group
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, NODE_OPTIONS: '', FORCE_COLOR: '0', UPSTREAM_TEST_TIMEOUT: String(args.testTimeout), UPSTREAM_WORK_DIR: workDir }
    })
    const killGroup = (signal) => { try { process.kill(-child.pid, signal) } catch {} }
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      console.error(`[${target}] run timed out after ${args.runTimeout} ms: killing its process group`)
      killGroup('SIGTERM')
      setTimeout(() => killGroup('SIGKILL'), 5000).unref()
    }, args.runTimeout)
    const onSignal = () => { killGroup('SIGKILL'); process.exit(130) }
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      // Whatever the tests left running (a forked server, a stuck broker) goes with the group.
      killGroup('SIGKILL')
      resolve({ exitCode: code, signal, timedOut, durationMs: Date.now() - started, resultsFile, logFile, files })
    })
  })
}

// Reads the reporter's lines into { key: result } for leaf tests (suites are containers, not
// tests). The key is the test file and the names of its suites and test, joined by ' > '.
function collectResults (target, prepared, runInfo) {
  const testDir = path.join(prepared.targetDir, 'test', 'node')
  const lines = fs.existsSync(runInfo.resultsFile) ? fs.readFileSync(runInfo.resultsFile, 'utf8').split('\n').filter(Boolean) : []
  const entries = lines.map((l) => JSON.parse(l))
  const keyOf = (e) => {
    // Node 20 reports each file as a top-level test named by its path; normalise it away and
    // key by the file name instead, so both targets' copies give the same keys.
    const parts = e.path.map((p) => (path.isAbsolute(p) || p.startsWith('test/') ? path.relative(testDir, path.resolve(prepared.targetDir, p)) : p))
    const file = e.file ? path.relative(testDir, e.file) : null
    if (file && parts[0] !== file) parts.unshift(file)
    return parts.join(' > ')
  }
  const keyed = entries.map((e) => ({ ...e, key: keyOf(e) }))
  const parents = new Set()
  for (const e of keyed) {
    const segments = e.key.split(' > ')
    for (let i = 1; i < segments.length; i++) parents.add(segments.slice(0, i).join(' > '))
  }
  const results = {}
  for (const e of keyed) {
    if (e.kind === 'suite' || parents.has(e.key)) continue
    const status = e.skip ? 'skip' : e.todo ? 'todo' : e.passed ? 'pass' : 'fail'
    results[e.key] = { status, durationMs: e.durationMs, error: e.error ?? e.skipReason ?? null, failureType: e.failureType }
  }
  return results
}

function countOf (results) {
  const counts = { pass: 0, fail: 0, skip: 0, todo: 0 }
  for (const r of Object.values(results)) counts[r.status]++
  return counts
}

function printList (title, keys, results) {
  console.log(`\n${title}: ${keys.length}`)
  for (const key of keys) {
    const error = results?.[key]?.error
    console.log(`  - ${key}${error ? `\n      ${error.split('\n')[0].slice(0, 200)}` : ''}`)
  }
}

function countBy (items, keyOf) {
  const counts = {}
  for (const item of items) counts[keyOf(item)] = (counts[keyOf(item)] ?? 0) + 1
  return counts
}

function compare (mqttRun, nativeRun) {
  // Skipped and todo tests are left out, except the ones the harness skips for needing MQTT.js's
  // internals (their reason is the `error`), which count as not applicable.
  const skipped = (result) => ['skip', 'todo'].includes(result?.status) && !needsInternals(result.error)
  const excluded = (key) => skipped(mqttRun.results[key]) || skipped(nativeRun.results[key])
  const keys = [...new Set([...Object.keys(mqttRun.results), ...Object.keys(nativeRun.results)])].filter((k) => !excluded(k)).sort()
  // A test missing from a run did not pass there: its file's process ended before reaching it
  // (upstream's suites call process.exit(0) in their `after` hook, which runs early when an
  // exception is attributed to the suite rather than to a test) or the run was killed.
  for (const run of [mqttRun, nativeRun]) {
    for (const key of keys) {
      if (!run.results[key]) run.results[key] = { status: 'not-run', error: `not reported: its file's process ended before this test (see ${run.target}.log)` }
    }
  }
  const passed = (run, key) => run.results[key]?.status === 'pass'
  const sets = { bothPass: [], bothFail: [], mqttOnly: [], internals: [], nativeOnly: [] }
  for (const key of keys) {
    const m = passed(mqttRun, key)
    const n = passed(nativeRun, key)
    const set = m && n ? 'bothPass' : !m && !n ? 'bothFail' : !m ? 'nativeOnly' : needsInternals(nativeRun.results[key].error) ? 'internals' : 'mqttOnly'
    sets[set].push(key)
  }
  return { total: keys.length, sets }
}

async function main () {
  const args = parseArgs(process.argv.slice(2))
  fs.mkdirSync(workDir, { recursive: true })
  const source = extractSource(args)
  // The tests' identity: two result files are comparable when made from the same tests.
  const testsHash = crypto.createHash('sha256')
  for (const f of allTsFiles(path.join(source.dir, 'test', 'node')).sort()) testsHash.update(f).update(fs.readFileSync(f))
  const testsId = testsHash.digest('hex').slice(0, 16)
  installPackages(neededPackages(source.dir))
  const register = path.join(__dirname, 'upstream-register.js')
  const versions = {
    mqtt: require(require.resolve('mqtt/package.json', { paths: [root] })).version,
    native: require(path.join(root, 'package.json')).version
  }

  const runs = {}
  for (const target of args.target === 'both' ? targets : [args.target]) {
    const prepared = prepareTarget(target, source)
    if (prepared.notApplicable.length) console.log(`[${target}] ${prepared.notApplicable.length} tests use MQTT.js internal modules and will not run: ${prepared.notApplicable.join(', ')}`)
    const runInfo = await runTarget(target, prepared, register, args)
    const results = collectResults(target, prepared, runInfo)
    const counts = countOf(results)
    runs[target] = {
      target,
      version: versions[target],
      testsId,
      ref: source.label,
      commit: source.commit,
      grep: args.grep ?? null,
      files: runInfo.files,
      rewrites: prepared.rewrites,
      exitCode: runInfo.exitCode,
      signal: runInfo.signal,
      timedOut: runInfo.timedOut,
      durationMs: runInfo.durationMs,
      counts,
      results
    }
    fs.writeFileSync(path.join(workDir, `results-${target}.json`), JSON.stringify(runs[target], null, 2))
    console.log(`[${target}] ${target === 'mqtt' ? 'MQTT.js' : 'mqtt-native'} ${versions[target]}: ${counts.pass} passed, ${counts.fail} failed, ${counts.skip} skipped, ${counts.todo} todo, in ${(runInfo.durationMs / 1000).toFixed(0)} s${runInfo.timedOut ? ' (TIMED OUT)' : ''}`)
  }

  // The other target's last run, when it ran the same tests with the same selection.
  for (const target of targets) {
    if (runs[target]) continue
    const file = path.join(workDir, `results-${target}.json`)
    if (!fs.existsSync(file)) continue
    const previous = JSON.parse(fs.readFileSync(file, 'utf8'))
    const sameSelection = previous.testsId === testsId && previous.grep === (args.grep ?? null) && JSON.stringify(previous.files) === JSON.stringify(runs[args.target].files)
    if (sameSelection) {
      runs[target] = previous
      console.log(`[${target}] using the previous run's results (${path.relative(root, file)})`)
    }
  }
  if (!runs.mqtt || !runs.native) return

  const { total, sets } = compare(runs.mqtt, runs.native)
  console.log(`\n${source.label}${source.commit ? ` (${source.commit.slice(0, 12)})` : ''}: ${total} tests (skipped and todo excluded)`)
  const mqttPasses = sets.bothPass.length + sets.mqttOnly.length + sets.internals.length
  const applicable = mqttPasses - sets.internals.length
  console.log(`  MQTT.js ${versions.mqtt} passes ${mqttPasses}; of those, not applicable (MQTT.js internals) ${sets.internals.length}`)
  console.log(`  mqtt-native ${versions.native} passes ${sets.bothPass.length} of the ${applicable} applicable (and ${sets.nativeOnly.length} that MQTT.js fails)`)
  console.log(`  both pass ${sets.bothPass.length}, both fail ${sets.bothFail.length}, MQTT.js only ${sets.mqttOnly.length}, not applicable ${sets.internals.length}, mqtt-native only ${sets.nativeOnly.length}`)
  printList('both fail', sets.bothFail, runs.native.results)
  printList('not applicable: MQTT.js internals (MQTT.js passes; mqtt-native has no such module or private member)', sets.internals, runs.native.results)
  const notRun = sets.mqttOnly.filter((k) => runs.native.results[k].status === 'not-run')
  printList('MQTT.js passes, mqtt-native fails', sets.mqttOnly.filter((k) => !notRun.includes(k)), runs.native.results)
  console.log(`\nMQTT.js passes, mqtt-native did not run (its file ended early; counted as failures): ${notRun.length}`)
  for (const [file, n] of Object.entries(countBy(notRun, (k) => k.split(' > ')[0]))) console.log(`  - ${file}: ${n}`)
  printList('mqtt-native passes, MQTT.js fails', sets.nativeOnly, runs.mqtt.results)
  const report = {
    ref: source.label,
    commit: source.commit,
    testsId,
    node: process.version,
    total,
    passes: { mqtt: mqttPasses, notApplicable: sets.internals.length, native: sets.bothPass.length, nativeOnly: sets.nativeOnly.length },
    sets,
    failures: Object.fromEntries(sets.mqttOnly.map((k) => [k, runs.native.results[k] ?? { status: 'missing' }])),
    runs: Object.fromEntries(targets.map((t) => [t, { version: runs[t].version, durationMs: runs[t].durationMs, exitCode: runs[t].exitCode, timedOut: runs[t].timedOut, counts: runs[t].counts, rewrites: runs[t].rewrites }]))
  }
  const reportFile = path.join(workDir, 'report.json')
  fs.writeFileSync(reportFile, JSON.stringify(report, null, 2))
  console.log(`\nreport: ${path.relative(root, reportFile)}`)
}

main().catch((err) => {
  console.error(`upstream-tests: ${err.stack || err.message}`)
  process.exit(1)
})
