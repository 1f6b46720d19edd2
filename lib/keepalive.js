'use strict'
// `client.keepaliveManager`: MQTT.js's KeepaliveManager interface over the native keepalive
// (research §7.6). The timer runs in the native session (so `timerVariant` has no effect); this
// object reads and steers it.

const native = require('./native')

class KeepaliveManager {
  /** @param {import('./client').MqttClient} client a connected client */
  constructor (client) {
    this.client = client
    this.destroyed = false
    // MQTT.js keeps milliseconds: the effective keepalive (the broker's Server Keep Alive
    // wins) at the time of CONNACK.
    this._keepalive = client.keepalive * 1000
  }

  /** The keepalive interval in milliseconds. */
  get keepalive () { return this._keepalive }

  /** How often MQTT.js's timer ticks (half the interval); kept for code that reads it. */
  get intervalEvery () { return Math.ceil(this._keepalive / 2) }

  /** Restarts the countdown to the next PINGREQ, as a received ack does. */
  reschedule () {
    if (this.destroyed) return
    native.clientRescheduleKeepalive(this.client._handle)
  }

  /** Stops sending PINGREQ (and giving up on a silent broker) for this connection. */
  destroy () {
    if (this.destroyed) return
    this.destroyed = true
    native.clientStopKeepalive(this.client._handle)
  }

  /** MQTT.js clears its timer here; the native countdown is stopped the same way. */
  clear () {
    this.destroy()
  }
}

module.exports = { KeepaliveManager }
