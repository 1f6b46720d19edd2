'use strict'
// The in-memory in-flight store with MQTT.js's interface (research §7.1).
const { Readable } = require('stream')
const { codedError } = require('./errors')

class Store {
  constructor (options) {
    this.options = { clean: true, ...options }
    this._inflights = new Map()
  }

  put (packet, cb) {
    this._inflights.set(packet.messageId, packet)
    if (cb) cb()
    return this
  }

  createStream () {
    const values = [...this._inflights.values()]
    return Readable.from(values, { objectMode: true })
  }

  del (packet, cb) {
    const stored = this._inflights.get(packet.messageId)
    if (stored) {
      this._inflights.delete(packet.messageId)
      cb(null, stored)
    } else if (cb) {
      cb(codedError('missing packet', 'ERR_MQTT_PACKET_NOT_FOUND'))
    }
    return this
  }

  get (packet, cb) {
    const stored = this._inflights.get(packet.messageId)
    if (stored) cb(null, stored)
    else if (cb) cb(codedError('missing packet', 'ERR_MQTT_PACKET_NOT_FOUND'))
    return this
  }

  close (cb) {
    if (this.options.clean) this._inflights = new Map()
    if (cb) cb()
  }
}

module.exports = { Store }
