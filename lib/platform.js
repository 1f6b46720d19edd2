'use strict'
// Platform names as napi-rs spells them (`linux-x64-gnu`, `darwin-arm64`, `win32-x64-msvc`): the
// suffix of the addon's file name (`mqtt-native.<suffix>.node`) and of the platform package that
// carries the prebuilt addon (`mqtt-native-<suffix>`). Used by the loader (lib/native.js) and by
// `npm run package` (scripts/package.js).

const { codedError } = require('./errors')

const ARCH = { x86_64: 'x64', aarch64: 'arm64', i686: 'ia32', armv7: 'arm', riscv64gc: 'riscv64', s390x: 's390x', powerpc64le: 'ppc64' }

/**
 * The platform suffix of a Rust target triple from `napi.targets`:
 * `x86_64-unknown-linux-gnu` → `linux-x64-gnu`, `aarch64-apple-darwin` → `darwin-arm64`,
 * `x86_64-pc-windows-msvc` → `win32-x64-msvc`.
 * @param {string} triple
 * @returns {string}
 */
function suffixOfTriple (triple) {
  const parts = String(triple).split('-')
  const arch = ARCH[parts[0]]
  if (!arch || parts.length < 3) throw codedError(`mqtt-native: unknown target triple ${JSON.stringify(triple)} (expected e.g. x86_64-unknown-linux-gnu)`, 'ERR_MQTT_NATIVE_PLATFORM')
  const os = parts[2]
  const abi = parts[3]
  if (os === 'darwin') return `darwin-${arch}`
  if (os === 'windows') return `win32-${arch}-${abi || 'msvc'}`
  if (os === 'linux' && abi) return `linux-${arch}-${abi}`
  if (os === 'freebsd') return `freebsd-${arch}`
  throw codedError(`mqtt-native: unsupported target triple ${JSON.stringify(triple)}`, 'ERR_MQTT_NATIVE_PLATFORM')
}

/**
 * Whether this Linux process runs on musl libc rather than glibc: first from /usr/bin/ldd (a
 * script that names its libc; quick to read), else from Node's diagnostic report, which names
 * the glibc version it runs on and has no such field on musl (about 4 ms, so second).
 * @returns {boolean}
 */
function isMusl () {
  if (process.platform !== 'linux') return false
  try {
    return require('node:fs').readFileSync('/usr/bin/ldd', 'utf8').includes('musl')
  } catch {}
  try {
    const report = typeof process.report?.getReport === 'function' ? process.report.getReport() : null
    if (report && report.header) return !report.header.glibcVersionRuntime
  } catch {}
  return false
}

/**
 * The platform suffix of the running Node.js: `linux-x64-gnu`, `linux-x64-musl`,
 * `darwin-arm64`, `win32-x64-msvc`, …
 * @returns {string}
 */
function hostSuffix () {
  const { platform, arch } = process
  if (platform === 'linux') return `linux-${arch}-${isMusl() ? 'musl' : arch === 'arm' ? 'gnueabihf' : 'gnu'}`
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

module.exports = { suffixOfTriple, hostSuffix, isMusl }
