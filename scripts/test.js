'use strict'
// `npm test`: the Rust tests and lints, then every JavaScript test under __test__/, one file at a
// time (they start brokers on loopback ports). Stops at the first failing step.
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const testDir = path.join(root, '__test__')
const files = fs.readdirSync(testDir).filter((f) => f.endsWith('.test.js')).sort().map((f) => path.join('__test__', f))

const steps = [
  ['cargo', ['fmt', '--check']],
  ['cargo', ['clippy', '--all-targets', '--', '-D', 'warnings']],
  ['cargo', ['test']],
  [process.execPath, ['--test', '--test-concurrency=1', '--test-timeout=120000', ...files]]
]

for (const [cmd, args] of steps) {
  console.log(`\n$ ${path.basename(cmd)} ${args.join(' ')}`)
  const result = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' })
  if (result.status !== 0) {
    console.error(`\nnpm test: \`${path.basename(cmd)} ${args.join(' ')}\` failed (${result.error ? result.error.message : `exit ${result.status}`})`)
    process.exit(1)
  }
}
