'use strict'
// Issue 18, item 4: a connection gives back the buffers a large packet needed. After a 128 MiB
// message went out and came back, a connected client holds at most the application's two
// buffers (twice the payload) until they are collected, then nothing. (128 MiB: the sizes where
// glibc's malloc maps and unmaps memory directly, so that RSS shows what is really held.)

const test = require('node:test')
const { checkLargePacket } = require('./helpers/large-packet-check')

test('after a 128 MiB message went out and came back, a connected client holds at most twice the payload, and its baseline RSS once collected', { timeout: 180000 }, async (t) => {
  await checkLargePacket(t, 128)
})
