'use strict'
// `client.keepaliveManager`: MQTT.js 5.16's keepalive schedule, on JavaScript timers (research
// §7.6). It runs here rather than in the native session so that fake clocks (sinon, jest,
// node:test's mock.timers) drive it as they drive MQTT.js's: a test that ticks a fake clock past
// the keepalive sees the PINGREQ and the timeout at the same instants with either library.
//
// The session's own countdown is stopped for the connection this manager serves; the session
// still writes the PINGREQ (`client.sendPing()`) and, when this manager gives up, reports the
// 'Keepalive timeout' error and closes as it always has (`client.onKeepaliveTimeout()`).
// MQTT 5 §3.1.2.10: the client pings within the keep alive interval, and a server that has
// heard nothing for one and a half intervals drops the client; the client gives up after as long.

const native = require('./native')
const { codedError } = require('./errors')

/** The global interval timers, looked up on each call so that fakes installed later apply. */
const globalTimers = {
  set: (fn, ms) => setInterval(fn, ms),
  clear: (id) => clearInterval(id)
}

/** MQTT.js's `timerVariant`: a `{ set, clear }` pair is used as given; names mean the globals. */
function pickTimers (variant) {
  if (variant && typeof variant === 'object' && 'set' in variant && 'clear' in variant) return variant
  // 'worker' means worker-timers in a browser; Node has no throttled tabs to escape.
  return globalTimers
}

class KeepaliveManager {
  /**
   * @param {import('./client').MqttClient} client a client that just received CONNACK
   * @param {unknown} [variant] `options.timerVariant`
   */
  constructor (client, variant) {
    this.client = client
    this.timer = pickTimers(variant)
    this.destroyed = false
    this.timerId = null
    this.counter = 0
    // One bound tick for every reschedule (a batch with acks reschedules once).
    this._onTick = () => this._tick()
    this._rescheduledAt = -1
    this._keepalive = 0
    this._intervalEvery = 0
    this._keepaliveTimeoutTimestamp = 0
    // From here on the schedule is ours; the session only answers for it.
    native.clientStopKeepalive(client._handle)
    this.setKeepalive(client.keepalive)
  }

  /** The keepalive interval in milliseconds (the broker's Server Keep Alive wins). */
  get keepalive () { return this._keepalive }

  /** How often the timer ticks: half the interval, so a PINGREQ is due on the second tick. */
  get intervalEvery () { return this._intervalEvery }

  /** When the broker is given up on unless something restarts the countdown (ms since epoch). */
  get keepaliveTimeoutTimestamp () { return this._keepaliveTimeoutTimestamp }

  /** Sets the interval, in seconds, and restarts the countdown. */
  setKeepalive (seconds) {
    const ms = seconds * 1000
    if (isNaN(ms) || ms <= 0 || ms > 2147483647) {
      throw codedError(`Keepalive value must be an integer between 0 and 2147483647. Provided value is ${ms}`, 'ERR_MQTT_INVALID_OPTION')
    }
    this._keepalive = ms
    this._rescheduledAt = -1 // a new interval: always restart the timer
    this.reschedule()
  }

  /** Restarts the countdown to the next PINGREQ, as a received ack or PINGRESP does. */
  reschedule () {
    if (this.destroyed) return
    const now = Date.now()
    // Restarted again within the same millisecond (a batch of acks): the timer already runs
    // from now, so resetting it would change nothing.
    if (this.timerId && this.counter === 0 && now === this._rescheduledAt) return
    this._rescheduledAt = now
    this.clear()
    this.counter = 0
    this._keepaliveTimeoutTimestamp = now + Math.ceil(this._keepalive * 1.5)
    this._intervalEvery = Math.ceil(this._keepalive / 2)
    this.timerId = this.timer.set(this._onTick, this._intervalEvery)
  }

  /** Half an interval passed without a restart: ping on the second tick, give up on the third. */
  _tick () {
    if (this.destroyed) return
    this.counter += 1
    if (this.counter === 2) this.client.sendPing()
    else if (this.counter > 2) this.client.onKeepaliveTimeout()
  }

  /** Stops the timer (the manager can be rescheduled again). */
  clear () {
    if (this.timerId) {
      this.timer.clear(this.timerId)
      this.timerId = null
    }
  }

  /** Stops for good: this connection is over. */
  destroy () {
    this.clear()
    this.destroyed = true
  }
}

module.exports = { KeepaliveManager }
