'use strict'
// Debug logging under the namespace MQTT.js users know: DEBUG=mqttjs* (or mqttjs:client, *).
const util = require('util')

/** Whether `namespace` is enabled by the DEBUG environment variable (comma or space separated, `*` wildcards, `-` to exclude). */
function enabled (namespace) {
  const spec = process.env.DEBUG
  if (!spec) return false
  let on = false
  for (const part of spec.split(/[\s,]+/).filter(Boolean)) {
    const exclude = part.startsWith('-')
    const pattern = new RegExp('^' + (exclude ? part.slice(1) : part).replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*') + '$')
    if (pattern.test(namespace)) on = !exclude
  }
  return on
}

/** A logger for `namespace` that writes to stderr when enabled, or a no-op. */
function createLogger (namespace) {
  if (!enabled(namespace)) return function noopLog () {}
  return function log (...args) {
    process.stderr.write(`${new Date().toISOString()} ${namespace} ${util.format(...args)}\n`)
  }
}

module.exports = { createLogger, enabled }
