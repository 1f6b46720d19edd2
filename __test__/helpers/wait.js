'use strict'
// Waiting for events in tests, with a bound.

/** Resolves with the arguments of the next `event` of `emitter`; rejects after `timeoutMs`. */
function waitFor (emitter, event, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${timeoutMs} ms`)), timeoutMs)
    emitter.once(event, (...args) => {
      clearTimeout(timer)
      resolve(args)
    })
  })
}

module.exports = { waitFor }
