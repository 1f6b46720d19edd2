'use strict'
require('./runtime').assertSupportedRuntime()
// Loads the addon through the loader `napi build` generates (native.js at the package root), with
// a message that says how to build it when it is missing.
try {
  module.exports = require('../native.js')
} catch (err) {
  if (err && err.code === 'MODULE_NOT_FOUND' && /native\.js/.test(err.message)) {
    const e = new Error('mqtt-native: the native addon has not been built. Run `npm install` (or `npm run build`) in the package folder; it needs Rust (cargo).')
    e.code = 'ERR_MQTT_NATIVE_MISSING'
    e.cause = err
    throw e
  }
  throw err
}
