'use strict'
// mqtt-native drives its connections on Node.js's own libuv event loop (src/driver). Bun and Deno
// load N-API addons but have no libuv loop behind them (Bun's uv_poll_init_socket is a stub that
// aborts), so they are refused here, at load, with an error that says so, before any libuv call.

const { codedError } = require('./errors')

/** The name of the JavaScript runtime if it is one without libuv, else null. */
function runtimeWithoutLibuv (proc = process, global = globalThis) {
  if (proc && proc.versions && proc.versions.bun) return `Bun ${proc.versions.bun}`
  if (typeof global.Deno !== 'undefined' || (proc && proc.versions && proc.versions.deno)) {
    const version = (global.Deno && global.Deno.version && global.Deno.version.deno) || (proc.versions && proc.versions.deno) || ''
    return `Deno${version ? ' ' + version : ''}`
  }
  return null
}

/** Throws `ERR_MQTT_NATIVE_RUNTIME` on a runtime mqtt-native cannot run on. */
function assertSupportedRuntime (proc, global) {
  const name = runtimeWithoutLibuv(proc, global)
  if (!name) return
  throw codedError(`mqtt-native runs on Node.js (and Electron) only: it drives its sockets on Node's libuv event loop, which ${name} does not have. Use the \`mqtt\` package (MQTT.js) on ${name.split(' ')[0]}.`, 'ERR_MQTT_NATIVE_RUNTIME')
}

module.exports = { runtimeWithoutLibuv, assertSupportedRuntime }
