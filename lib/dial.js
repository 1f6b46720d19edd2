'use strict'
// Name resolution before a native connection is dialed (issue 17, issue 18 item 3).
//
// MQTT.js dials after the JavaScript turn that called connect(): Node's `net`/`tls` look the
// host up with `dns.lookup` (libuv's pool of 4 threads, `/etc/hosts`, a `lookup` option for
// TLS) or, for an IP address, connect on `process.nextTick`. The native transports do the same
// by asking for the names here and passing the addresses to the driver, which then resolves
// nothing itself: a program that starts its broker after connect() in the same turn reaches it
// on the first attempt, and hundreds of lookups of names that never resolve cost no thread.

const dns = require('dns')
const net = require('net')
const { codedError } = require('./errors')

const SECURE = new Set(['mqtts', 'ssl', 'tls'])

/** The host name of a ws/wss URL (without IPv6 brackets), or null if it has none. */
function wsHost (wsUrl) {
  try {
    const host = new URL(wsUrl).hostname
    return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
  } catch {
    return null // the driver reports the bad URL
  }
}

/**
 * The names the native transport would look up for `endpoint`, each with the lookup to use:
 * `[{ host, target }]`, `target` true for the broker's own name behind a SOCKS proxy that does
 * not resolve it (the error then says how to let the proxy resolve it).
 */
function namesOf (endpoint) {
  if (endpoint.unixPath) return []
  const names = []
  if (endpoint.ws) {
    names.push({ host: wsHost(endpoint.ws.url), target: false })
  } else if (endpoint.socks) {
    names.push({ host: endpoint.socks.host, target: false })
    // socks5h:// and socks4a:// send the name to the proxy, which resolves it.
    if (!endpoint.socks.remoteDns) names.push({ host: endpoint.host, target: true })
  } else {
    names.push({ host: endpoint.host, target: false })
  }
  const seen = new Set()
  return names.filter(({ host }) => {
    if (!host || net.isIP(host) !== 0 || seen.has(host)) return false
    seen.add(host)
    return true
  })
}

/**
 * The lookup function and its options for a connection of `protocol`: MQTT.js hands all its
 * options to `tls.connect`, which honours `lookup` and `family`; its `net` connection for
 * mqtt:// takes only host and port.
 */
function lookupFor (protocol, opts) {
  const options = { all: true }
  if (SECURE.has(protocol)) {
    if (opts.family === 4 || opts.family === 6) options.family = opts.family
    if (typeof opts.hints === 'number') options.hints = opts.hints
    if (typeof opts.lookup === 'function') return [opts.lookup, options]
  }
  return [dns.lookup, options]
}

/** What the driver gets for a failed lookup: Node's error, as `net` would emit it. */
function failureOf (err, name, endpoint) {
  const failure = {
    code: typeof err.code === 'string' ? err.code : 'ENOTFOUND',
    message: err.message || `getaddrinfo ENOTFOUND ${name.host}`,
    syscall: typeof err.syscall === 'string' ? err.syscall : 'getaddrinfo',
    address: name.host
  }
  if (name.target) {
    const socks = endpoint.socks
    const scheme = socks.version === 4 ? 'SOCKS4' : 'SOCKS5'
    const remote = socks.version === 4 ? 'socks4a' : 'socks5h'
    failure.message = `getaddrinfo ${failure.code} ${name.host}: with ${socks.url} (${scheme}) the broker's host name is resolved on ` +
      `this machine, and it does not resolve here. To let the proxy resolve it, use a ${remote}:// proxy URL.`
  }
  return failure
}

/**
 * Resolves what `endpoint` needs, after the current turn, and calls `done(failure, resolved)`:
 * `resolved` `[{ host, addresses }]` for `clientDial`, or `failure` (`{ code, message, syscall,
 * address }`) for the first name that did not resolve. Never calls back synchronously.
 */
function resolve (endpoint, opts, done) {
  const names = namesOf(endpoint)
  if (names.length === 0) {
    process.nextTick(done, null, [])
    return
  }
  const [lookup, lookupOptions] = lookupFor(endpoint.protocol, opts)
  const resolved = new Array(names.length)
  let pending = names.length
  let finished = false
  let sync = true
  const finish = (failure) => {
    if (finished) return
    finished = true
    // A `lookup` option may answer synchronously; the dial still waits for the turn to end.
    if (sync) process.nextTick(done, failure, failure ? null : resolved)
    else done(failure, failure ? null : resolved)
  }
  names.forEach((name, i) => {
    const answer = (err, address, family) => {
      if (finished) return
      if (err) return finish(failureOf(err, name, endpoint))
      // `all: true` gives [{ address, family }]; a custom lookup may answer the one-address way.
      const list = Array.isArray(address) ? address.map((a) => (typeof a === 'string' ? a : a && a.address)) : [address]
      const addresses = list.filter((a) => typeof a === 'string' && net.isIP(a) !== 0)
      if (addresses.length === 0) {
        const e = codedError(`getaddrinfo ENOTFOUND ${name.host}`, 'ENOTFOUND')
        return finish(failureOf(e, name, endpoint))
      }
      resolved[i] = { host: name.host, addresses }
      if (--pending === 0) finish(null)
    }
    try {
      lookup(name.host, { ...lookupOptions }, answer)
    } catch (err) {
      // Node's dns.lookup throws on an invalid name; net reports it as a failed attempt.
      answer(err)
    }
  })
  sync = false
}

module.exports = { resolve, namesOf }
