'use strict'
// Message-id providers with MQTT.js's interface (research §7.4).

/** Counts up from a random start, wrapping from 65535 to 1; does not track ids in use. */
class DefaultMessageIdProvider {
  constructor () {
    this.nextId = Math.max(1, Math.floor(Math.random() * 65535))
  }

  allocate () {
    const id = this.nextId++
    if (this.nextId === 65536) this.nextId = 1
    return id
  }

  getLastAllocated () {
    return this.nextId === 1 ? 65535 : this.nextId - 1
  }

  register (messageId) { return true }
  deallocate (messageId) {}
  clear () {}
}

/** Hands out the lowest free id from 1 and frees ids on ack; `null` when all 65535 are in use. */
class UniqueMessageIdProvider {
  constructor () {
    this.used = new Set()
    this.lastId = null
    this.lowestFree = 1
  }

  allocate () {
    let id = this.lowestFree
    while (id <= 65535 && this.used.has(id)) id++
    if (id > 65535) return null
    this.used.add(id)
    this.lowestFree = id + 1
    this.lastId = id
    return id
  }

  getLastAllocated () { return this.lastId }

  register (messageId) {
    if (this.used.has(messageId)) return false
    this.used.add(messageId)
    return true
  }

  deallocate (messageId) {
    if (this.used.delete(messageId) && messageId < this.lowestFree) this.lowestFree = messageId
  }

  clear () {
    this.used.clear()
    this.lowestFree = 1
  }
}

module.exports = { DefaultMessageIdProvider, UniqueMessageIdProvider }
