'use strict'
// Where each connection attempt goes, for clients of a cluster: MQTT.js's `servers` rotation,
// our opt-in `serverSelection: 'shuffle'` and `reconnectJitter`, and MQTT 5 server redirection
// (§4.11: a CONNACK or DISCONNECT with reason 0x9C Use another server or 0x9D Server moved, and
// a Server Reference property, §3.2.2.3.16 and §3.14.2.2.5).

const { codedError } = require('./errors')

/** MQTT 5 reason codes that redirect the client (§4.11). */
const USE_ANOTHER_SERVER = 0x9c
const SERVER_MOVED = 0x9d

const SELECTIONS = ['ordered', 'shuffle']

/** Schemes that are the same transport, so that a reference may name one (`mqtt://h:1883`). */
const FAMILY = { mqtt: 'mqtt', tcp: 'mqtt', mqtts: 'mqtts', ssl: 'mqtts', tls: 'mqtts', ws: 'ws', wss: 'wss' }

function optionError (message) {
  return codedError(message, 'ERR_MQTT_INVALID_OPTION', TypeError)
}

/**
 * Checks the cluster options (`serverSelection`, `reconnectJitter`, `serverRedirection`) and
 * throws a TypeError with code ERR_MQTT_INVALID_OPTION naming the accepted values.
 */
function checkClusterOptions (opts) {
  const { serverSelection, reconnectJitter, serverRedirection } = opts
  if (serverSelection !== undefined && !SELECTIONS.includes(serverSelection)) {
    throw optionError(`The option "serverSelection" must be 'ordered' (the default: the first entry of \`servers\` first, then in turn) or 'shuffle' (each client walks \`servers\` in its own random order); received ${JSON.stringify(serverSelection)}`)
  }
  if (reconnectJitter !== undefined && (typeof reconnectJitter !== 'number' || !Number.isFinite(reconnectJitter) || reconnectJitter < 0)) {
    throw optionError(`The option "reconnectJitter" must be a number of milliseconds, 0 or more (the window over which the first reconnect attempt after a lost connection is spread); received ${typeof reconnectJitter === 'number' ? reconnectJitter : JSON.stringify(reconnectJitter)}`)
  }
  if (serverRedirection !== undefined && typeof serverRedirection !== 'boolean') {
    throw optionError(`The option "serverRedirection" must be true (the default: follow MQTT 5 server redirection) or false; received ${JSON.stringify(serverRedirection)}`)
  }
}

/** A copy of `list` in random order (Fisher-Yates). */
function shuffled (list) {
  const out = list.slice()
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    const t = out[i]
    out[i] = out[j]
    out[j] = t
  }
  return out
}

/**
 * Parses a Server Reference (MQTT 5 §4.11: its format is not specified; the spec's examples are
 * `myserver.xyz.org`, `myserver.xyz.org:8883` and a space-separated list such as
 * `10.10.151.22:8883 [fe80::9610:3eff:fe1c]:1883`). Each entry is `host`, `host:port`,
 * `[ipv6]`, `[ipv6]:port`, a bare IPv6 address, or one of these after `scheme://` when the scheme
 * is the current transport's (a reference never changes the transport: it cannot turn TLS off).
 * A missing port is the current one. Returns `{ servers, rejected }`: the usable entries, and the
 * ones that were not, with the reason.
 * @param {string} reference
 * @param {{ protocol: string, port: number }} current
 */
function parseServerReference (reference, current) {
  const servers = []
  const rejected = []
  const words = typeof reference === 'string' ? reference.split(/\s+/).filter(Boolean) : []
  for (const word of words) {
    let rest = word
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(rest)
    if (scheme) {
      const name = scheme[1].toLowerCase()
      if (FAMILY[name] === undefined || FAMILY[name] !== FAMILY[current.protocol]) {
        rejected.push(`${word} (a different transport than ${current.protocol}://)`)
        continue
      }
      rest = rest.slice(scheme[0].length).replace(/\/.*$/, '')
    }
    let host
    let port = current.port
    let portText = null
    const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(rest)
    if (bracketed) {
      host = bracketed[1]
      portText = bracketed[2] === undefined ? null : bracketed[2]
    } else if ((rest.match(/:/g) || []).length > 1) {
      host = rest // a bare IPv6 address
    } else {
      const colon = rest.indexOf(':')
      host = colon === -1 ? rest : rest.slice(0, colon)
      portText = colon === -1 ? null : rest.slice(colon + 1)
    }
    if (portText !== null) {
      port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN
    }
    if (!host || /[/@?#\s]/.test(host)) {
      rejected.push(`${word} (no host)`)
      continue
    }
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      rejected.push(`${word} (port out of range)`)
      continue
    }
    servers.push({ host, port })
  }
  return { servers, rejected }
}

/**
 * The servers a client connects to, one per attempt.
 *
 * Without `servers` and without a redirection, the options' own host and port are used on every
 * attempt (`next()` returns null). With `servers`, MQTT.js's rotation: each attempt takes the
 * entry at `client._reconnectCount` (a public field in MQTT.js) and writes its host, port and
 * protocol into the options; `serverSelection: 'shuffle'` walks a random permutation instead.
 *
 * A redirection puts the referenced servers on a detour taken by the next attempts, before the
 * rotation resumes; the detour ends at the first successful CONNACK or when every referenced
 * server has failed. After 0x9D Server moved, the server that answered replaces, in the rotation,
 * the entry that moved.
 */
class ServerList {
  constructor (client) {
    this.client = client
    /** `options.servers` as last seen, to notice an application replacing it. */
    this.source = undefined
    /** The entries in attempt order, or null to use the options' host. */
    this.rotation = null
    /** Whether `rotation` is our own copy (shuffled, or changed by a move). */
    this.owned = false
    /** Referenced servers still to try, and what they stand for. */
    this.detour = []
    this.pending = null
    /** Index in the rotation of the entry used by the last attempt through it, or -1. */
    this.lastIndex = -1
    /** The server of the current (or last) attempt, and whether a redirection chose it. */
    this.current = null
    this.redirected = false
  }

  _rotation () {
    const servers = this.client.options.servers
    if (servers !== this.source) {
      this.source = servers
      this.lastIndex = -1
      if (servers && servers.length) {
        const shuffle = this.client.options.serverSelection === 'shuffle'
        this.rotation = shuffle ? shuffled(servers) : servers
        this.owned = shuffle
      } else if (!this.owned) {
        this.rotation = null
      }
    }
    return this.rotation
  }

  /**
   * The server for the next attempt, `{ host, port, protocol? }`, or null for the options' own
   * host and port. Entries of the rotation are written into the options, as MQTT.js does;
   * a redirection's are not (the options keep the configured server).
   */
  next () {
    const client = this.client
    const opts = client.options
    const rotation = this._rotation()
    if (this.detour.length) {
      const server = this.detour.shift()
      this.redirected = true
      this.current = { host: server.host, port: server.port, protocol: server.protocol || opts.protocol }
      return this.current
    }
    if (this.pending) this.pending = null
    this.redirected = false
    if (!rotation) {
      this.current = null
      return null
    }
    if (!client._reconnectCount || client._reconnectCount >= rotation.length) client._reconnectCount = 0
    const index = client._reconnectCount
    const server = rotation[index]
    opts.host = server.host
    opts.port = server.port
    opts.protocol = server.protocol ? server.protocol : opts.defaultProtocol
    opts.hostname = opts.host
    client._reconnectCount++
    this.lastIndex = index
    this.current = { host: server.host, port: server.port, protocol: opts.protocol }
    return this.current
  }

  /**
   * A CONNACK accepted the connection: a detour ends here; after 0x9D the server that answered
   * takes the moved entry's place for later attempts.
   */
  connected () {
    const pending = this.pending
    this.pending = null
    this.detour = []
    if (!pending || !pending.moved || !this.redirected) return
    const server = { host: this.current.host, port: this.current.port }
    if (this.current.protocol) server.protocol = this.current.protocol
    const rotation = this._rotation()
    if (!rotation) {
      this.rotation = [server]
      this.owned = true
      this.client._reconnectCount = 1
      return
    }
    if (pending.index < 0 || pending.index >= rotation.length) return
    if (!this.owned) {
      this.rotation = rotation.slice()
      this.owned = true
    }
    this.rotation[pending.index] = server
  }

  /**
   * A redirection (reason 0x9C or 0x9D with Server Reference `reference`) from the server of the
   * current connection. Returns `{ servers, rejected }` (see parseServerReference); when
   * `servers` is empty nothing changes.
   */
  redirect (reasonCode, reference, protocol, port) {
    const parsed = parseServerReference(reference, { protocol, port })
    if (parsed.servers.length === 0) return parsed
    // A redirection received on a redirected connection replaces the detour (a chain of moves),
    // but the entry that moved stays the one the chain started from.
    const index = this.pending && this.redirected ? this.pending.index : this.lastIndex
    this.detour = parsed.servers.map((s) => ({ ...s, protocol }))
    this.pending = { moved: reasonCode === SERVER_MOVED, index }
    return parsed
  }

  /**
   * Whether the next attempt follows a redirection at once, without the reconnect delay: it does
   * unless the current connection was itself reached through one, so that two servers pointing
   * at each other cannot make a tight loop.
   */
  redirectNow () {
    return this.detour.length > 0 && !this.redirected
  }
}

module.exports = {
  ServerList,
  checkClusterOptions,
  parseServerReference,
  USE_ANOTHER_SERVER,
  SERVER_MOVED
}
