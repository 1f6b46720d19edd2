'use strict'
// Preloaded (`--require`) into every process of the upstream-tests run (scripts/upstream-tests.js).
//
// Compiles the upstream .ts tests with esbuild, as upstream's `-r esbuild-register` does, but for
// .ts files only: esbuild-register's default also compiles every .js outside node_modules, which
// would put mqtt-native's own lib/ through esbuild while MQTT.js (in node_modules) runs as published.
// esbuild is installed in the harness's work dir, not in our node_modules.
const path = require('node:path')
const workDir = process.env.UPSTREAM_WORK_DIR || path.join(__dirname, '..', '.upstream')
require(require.resolve('esbuild-register/dist/node', { paths: [workDir] })).register({ extensions: ['.ts'], target: 'node20' })

// A default timeout for each test, so that a test waiting for an event that never comes fails
// alone. Node 20's --test-timeout would also apply to each test file as a whole, killing every
// test after the first slow file's limit. Tests that set their own timeout keep it.
const testTimeout = Number(process.env.UPSTREAM_TEST_TIMEOUT)
if (testTimeout > 0) {
  const nodeTest = require('node:test')
  const withTimeout = (original) => {
    const wrapped = function (...args) {
      const optionsAt = args.findIndex((a) => a !== null && typeof a === 'object')
      if (optionsAt === -1) {
        const fnAt = args.findIndex((a) => typeof a === 'function')
        args.splice(fnAt === -1 ? args.length : fnAt, 0, { timeout: testTimeout })
      } else if (args[optionsAt].timeout === undefined) {
        args[optionsAt] = { ...args[optionsAt], timeout: testTimeout }
      }
      return original.apply(this, args)
    }
    // it.skip, it.todo, it.only
    return Object.assign(wrapped, original)
  }
  nodeTest.it = withTimeout(nodeTest.it)
  nodeTest.test = withTimeout(nodeTest.test)
}

