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

// Marks the errors thrown by the stubs of MQTT.js's internal modules that mqtt-native lacks
// (scripts/upstream-tests.js writes them); the same text lets the comparison put such a failure
// under "not applicable: MQTT.js internals".
const internalsMarker = 'MQTT.js internals:'

// The test now running in this process, as { fail(err) } (node:test runs the tests of a file one
// after another, so one slot suffices), and null between tests.
let current = null

// Each test gets a default timeout (so that a test waiting for an event that never comes fails
// alone; Node 20's --test-timeout would also apply to each file as a whole) and is tracked in
// `current`, so that a stub error thrown outside the test's own call stack can fail that test.
const testTimeout = Number(process.env.UPSTREAM_TEST_TIMEOUT)
const nodeTest = require('node:test')
const tracked = (original) => {
  const wrapped = function (...args) {
    const fnAt = args.findIndex((a) => typeof a === 'function')
    if (fnAt !== -1) args[fnAt] = trackRun(args[fnAt])
    if (testTimeout > 0) {
      const optionsAt = args.findIndex((a) => a !== null && typeof a === 'object')
      if (optionsAt === -1) args.splice(fnAt === -1 ? args.length : fnAt, 0, { timeout: testTimeout })
      else if (args[optionsAt].timeout === undefined) args[optionsAt] = { ...args[optionsAt], timeout: testTimeout }
    }
    return original.apply(this, args)
  }
  // it.skip, it.todo, it.only
  return Object.assign(wrapped, original)
}
nodeTest.it = tracked(nodeTest.it)
nodeTest.test = tracked(nodeTest.test)
// `it.notApplicable(reason, name, [options], fn)`: what scripts/upstream-tests.js writes in place of
// `it(` for a test that uses a module mqtt-native lacks; it is reported as skipped, with the reason.
nodeTest.it.notApplicable = (reason, name, ...rest) => nodeTest.it(name, { skip: reason }, rest.find((a) => typeof a === 'function'))

// Wraps a test function keeping its arity: node:test passes `done` only to functions declaring two
// parameters.
function trackRun (fn) {
  if (fn.length >= 2) {
    return function (t, done) {
      const run = {}
      let settled = false
      const finish = (err) => {
        if (settled) return
        settled = true
        if (current === run) current = null
        done(err)
      }
      run.fail = finish
      current = run
      try {
        return fn.call(this, t, finish)
      } catch (err) {
        settled = true
        if (current === run) current = null
        throw err
      }
    }
  }
  return function (t) {
    const run = { fail: null }
    const stop = () => { if (current === run) current = null }
    current = run
    let result
    try {
      result = fn.call(this, t)
    } catch (err) {
      stop()
      throw err
    }
    if (!result || typeof result.then !== 'function') {
      stop()
      return result
    }
    return new Promise((resolve, reject) => {
      run.fail = reject
      result.then(resolve, reject)
    }).finally(stop)
  }
}

// A stub error thrown outside the test's call stack (in a client's event listener, say) would be
// uncaught; node:test attributes such an error to the file rather than the test when it cannot
// tell which test caused it, and upstream's `after` hooks then end the file's process
// (process.exit(0)) before its remaining tests run. This callback fails the running test instead,
// so that only it fails. Any other uncaught error goes to node:test's own handler, as it would
// without this callback.
process.setUncaughtExceptionCaptureCallback((err) => {
  if (String(err?.message).startsWith(internalsMarker)) {
    const run = current
    current = null
    if (run?.fail) run.fail(err)
    else process.stderr.write(`upstream-tests: ignored, no test running to fail: ${err.message}\n`)
    return
  }
  if (process.listenerCount('uncaughtException') > 0) {
    process.emit('uncaughtException', err, 'uncaughtException')
  } else {
    process.stderr.write(`${err?.stack ?? err}\n`)
    process.exit(1)
  }
})
