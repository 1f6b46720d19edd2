'use strict'
// INTEROP.md's broker × scenario table is the one generated from the broker profiles that the
// interop matrix asserts (__test__/interop/brokers.js), so the page cannot drift from the tests.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const { table, rewritten, file } = require('../scripts/interop-table')
const { BROKERS, SCENARIOS, NOT_HERE } = require('./interop/brokers')

test('INTEROP.md holds the table generated from the broker profiles (run node scripts/interop-table.js --write)', () => {
  const text = fs.readFileSync(file, 'utf8')
  assert.equal(rewritten(text), text)
})

test('the table has a row per broker in the matrix and per broker left out, and a column per scenario', () => {
  const lines = table().split('\n')
  assert.equal(lines.length, 2 + BROKERS.length + NOT_HERE.length)
  for (const line of lines) assert.equal(line.split(/(?<!\\)\|/).length - 2, 2 + SCENARIOS.length, line)
  for (const b of BROKERS) assert.ok(lines.some((l) => l.startsWith(`| ${b.title} |`)), b.title)
  for (const n of NOT_HERE) assert.match(table(), new RegExp(`not in the matrix: ${n.why.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`))
})

test('every note of a broker names a scenario of the matrix (or its versions or WebSocket)', () => {
  const keys = new Set(['versions', ...SCENARIOS.map((s) => s.key)])
  for (const b of BROKERS) {
    for (const key of Object.keys(b.notes)) assert.ok(keys.has(key), `${b.id} has a note on unknown scenario ${key}`)
    for (const v of b.wsVersions) assert.ok(b.versions.includes(v), `${b.id} serves ${v} over ws but not over tcp`)
  }
})

test('a broker without its note gets a ✓, and one with a note gets the note in words', () => {
  const cells = (line) => line.slice(2, -2).split(' | ')
  const rows = table().split('\n').map(cells)
  const column = (key) => 2 + SCENARIOS.findIndex((s) => s.key === key)
  const rabbit = rows.find((r) => r[0].startsWith('RabbitMQ'))
  assert.match(rabbit[column('qos')], /a QoS 2 subscription is granted QoS 1/)
  assert.equal(rabbit[column('burst')], '✓')
  const mosquitto = rows.find((r) => r[0].startsWith('mosquitto'))
  for (const { key } of SCENARIOS) {
    if (key === 'ws') assert.equal(mosquitto[column(key)], '✓ (`/`)')
    else assert.equal(mosquitto[column(key)], '✓', key)
  }
})
