'use strict'
require('./runtime').assertSupportedRuntime()
// Finds and loads the native addon, in this order:
//
//   1. `NAPI_RS_NATIVE_LIBRARY_PATH`, when set (as napi-rs's generated loader: point it at any
//      build of the addon);
//   2. a locally built addon, `mqtt-native.<platform>.node` at the package root: a development
//      checkout after `npm install` / `npm run build`, or a git install that built from source;
//   3. the platform package `mqtt-native-<platform>`, which npm installs from the main package's
//      optionalDependencies (only the one whose os/cpu/libc match);
//
// and otherwise throws an Error with code ERR_MQTT_NATIVE_MISSING that names the platform, the
// platform packages that exist and how to build from source.

const fs = require('node:fs')
const path = require('node:path')
const { hostSuffix, suffixOfTriple } = require('./platform')
const { codedError } = require('./errors')
const pkg = require('../package.json')

const root = path.join(__dirname, '..')
const binaryName = (pkg.napi && pkg.napi.binaryName) || 'mqtt-native'
// The published name, also when installed under an alias (`mqtt@npm:mqtt-native`): npm keeps
// the package's own package.json, so this is `mqtt-native` there too.
const packagePrefix = (pkg.napi && pkg.napi.packageName) || pkg.name

function nativeError (code, message, cause) {
  const err = codedError(message, code)
  if (cause) err.cause = cause
  return err
}

function publishedSuffixes () {
  const targets = (pkg.napi && pkg.napi.targets) || []
  return targets.map((t) => {
    try { return suffixOfTriple(t) } catch { return null }
  }).filter(Boolean)
}

function buildHint () {
  return 'To build it from source you need Rust (cargo, https://rustup.rs) and a checkout of mqtt-native: ' +
    '`npm install` there builds the addon (`npm run build` rebuilds it), and `npm install /path/to/checkout` ' +
    '(or a git URL) installs that build into your project.'
}

function load () {
  const explicit = process.env.NAPI_RS_NATIVE_LIBRARY_PATH
  if (explicit) {
    try {
      return require(path.resolve(explicit))
    } catch (err) {
      throw nativeError('ERR_MQTT_NATIVE_LOAD', `mqtt-native: cannot load the addon named by NAPI_RS_NATIVE_LIBRARY_PATH (${explicit}): ${err.message}`, err)
    }
  }

  const suffix = hostSuffix()
  const local = path.join(root, `${binaryName}.${suffix}.node`)
  if (fs.existsSync(local)) {
    try {
      return require(local)
    } catch (err) {
      throw nativeError('ERR_MQTT_NATIVE_LOAD', `mqtt-native: cannot load the locally built addon ${local}: ${err.message}. ` +
        'Rebuild it with `npm run build`, or delete it to use the prebuilt platform package.', err)
    }
  }

  const platformPackage = `${packagePrefix}-${suffix}`
  let addon
  try {
    addon = require(platformPackage)
  } catch (err) {
    const notInstalled = err && err.code === 'MODULE_NOT_FOUND' && err.message.includes(`'${platformPackage}'`)
    if (!notInstalled) {
      throw nativeError('ERR_MQTT_NATIVE_LOAD', `mqtt-native: the platform package ${platformPackage} is installed but its addon does not load: ${err.message}`, err)
    }
    const known = publishedSuffixes()
    const list = known.map((s) => `${packagePrefix}-${s}`).join(', ')
    const message = known.includes(suffix)
      ? `mqtt-native: the native addon for this platform (${suffix}) is not installed. It comes in the package ` +
        `${platformPackage}, an optional dependency of ${pkg.name} that npm installs only on a matching platform; ` +
        'it is missing when optional dependencies were omitted (--omit=optional, --no-optional) or the lockfile was ' +
        `made on another platform. Install it with \`npm install ${platformPackage}@${pkg.version}\`. ` +
        `Prebuilt packages exist for: ${list}. ${buildHint()}`
      : `mqtt-native: there is no prebuilt native addon for this platform (${suffix}). Prebuilt packages exist for: ` +
        `${list}. ${buildHint()}`
    // No `cause`: the MODULE_NOT_FOUND from require() says less than the message, in more lines.
    throw nativeError('ERR_MQTT_NATIVE_MISSING', message)
  }

  let installed = null
  try {
    installed = require(`${platformPackage}/package.json`).version
  } catch {}
  if (installed !== pkg.version) {
    throw nativeError('ERR_MQTT_NATIVE_VERSION', `mqtt-native: ${pkg.name} is version ${pkg.version} but ${platformPackage} is ` +
      `version ${installed}; they are released together and must match. Run \`npm install ${platformPackage}@${pkg.version}\`.`)
  }
  return addon
}

module.exports = load()
