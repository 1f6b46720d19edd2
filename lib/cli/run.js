'use strict'
// What every command does around its work: one-line error reports, exit codes, and an exit that
// neither cuts output short nor hangs.
//
// Exit codes: 0 done; 1 a usage error or a connection / protocol error.

const { UsageError } = require('./args')

/** How long a finished command waits for the event loop to drain before exiting anyway. */
const EXIT_GRACE_MS = 2000

/**
 * A command's lifetime.
 * @param {string} prog the name to prefix messages with, e.g. `mqtt pub` or `mqtt_sub`
 * @param {string} helpCommand the `mqtt help <command>` that explains it
 */
function createRun (prog, helpCommand) {
  let finished = false
  const run = {
    prog,
    client: null,
    get finished () { return finished },

    /** Ends the command with `code`, ending the client first when there is one. */
    finish (code) {
      if (finished) return
      finished = true
      process.exitCode = code
      // The process normally exits by itself once the client has ended; this is the backstop.
      setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref()
      const client = run.client
      if (client && !client.disconnecting) {
        try {
          client.end(code !== 0)
        } catch {}
      }
    },

    /** Reports a failure in one line on stderr and ends with code 1. */
    fail (err) {
      if (finished) return
      process.stderr.write(`${prog}: ${describe(err)}${err instanceof UsageError ? ` (see "mqtt help ${helpCommand}")` : ''}\n`)
      run.finish(1)
    },

    /**
     * Connects with `options`, reporting a refused option or any client error as the command's
     * failure. Returns the client, or null when `connect()` threw.
     */
    connect (options) {
      try {
        // Inside the try: without the native addon, loading the package throws a clear error
        // (ERR_MQTT_NATIVE_MISSING), reported in one line like any other failure.
        run.client = require('../../index.js').connect(options)
      } catch (err) {
        run.fail(err)
        return null
      }
      run.client.on('error', (err) => run.fail(err))
      return run.client
    },

    /** Ends the client cleanly on SIGINT / SIGTERM and exits with 0. */
    endOnSignals () {
      const onSignal = () => {
        if (finished) process.exit(process.exitCode || 0)
        run.finish(0)
      }
      process.on('SIGINT', onSignal)
      process.on('SIGTERM', onSignal)
    }
  }
  return run
}

/** One line that says what went wrong; never a stack trace. */
function describe (err) {
  if (err == null) return 'unknown error'
  const message = typeof err === 'object' && typeof err.message === 'string' && err.message !== ''
    ? err.message
    : String(err)
  return message.split('\n')[0]
}

module.exports = { createRun, describe }
