'use strict'
// A tiny run of the benchmark (bench/run.js --smoke) so that it cannot rot: every case must give
// well-formed figures for both libraries. Timings are never asserted.

const test = require('node:test')
const assert = require('node:assert')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { mosquittoAvailable } = require('./helpers/mosquitto.js')

const ROOT = path.join(__dirname, '..')
const LIBS = ['mqtt-native', 'mqtt']

function runBench (args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bench', 'run.js'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c) => { stdout += c })
    child.stderr.on('data', (c) => { stderr += c })
    const timer = setTimeout(() => child.kill('SIGKILL'), 100000)
    child.once('error', reject)
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })
}

test('the benchmark smoke run gives well-formed results for both libraries in every case', { timeout: 110000 }, async (t) => {
  const withBroker = mosquittoAvailable()
  if (!withBroker) {
    if (process.env.CI === 'true') throw new Error('mosquitto not installed (required under CI=true)')
    t.diagnostic('mosquitto not installed: only the broker-free cases run')
  }
  const { code, signal, stdout, stderr } = await runBench(['--smoke', '--no-build'])
  assert.strictEqual(signal, null, `bench/run.js was killed (${signal}):\n${stderr.slice(-3000)}`)
  assert.strictEqual(code, 0, `bench/run.js exited with ${code}:\n${stderr.slice(-3000)}`)

  const lines = stdout.split('\n').filter((l) => l.startsWith('{'))
  const records = lines.map((l) => JSON.parse(l))
  const machine = records.find((r) => r.type === 'machine')
  assert.ok(machine && machine.node && machine.nproc > 0, 'a machine record')
  const runs = records.filter((r) => r.type === 'run')
  const unavailable = new Set(records.filter((r) => r.type === 'unavailable').map((r) => r.case))
  const summaries = records.filter((r) => r.type === 'summary')

  const expected = [
    ['peer-publish-qos0-64B', ['msgPerSec', 'cpuUsPerMsg']],
    ['peer-publish-qos1-64B', ['msgPerSec', 'cpuUsPerMsg']],
    ['peer-publish-qos1-64B-persist', ['msgPerSec', 'cpuUsPerMsg']],
    ['peer-receive-qos0-64B', ['msgPerSec', 'cpuUsPerMsg']]
  ]
  if (withBroker) {
    for (const qos of [0, 1, 2]) {
      for (const size of [64, 4096]) expected.push([`pubsub-tcp-qos${qos}-${size}B`, ['msgPerSec', 'cpuUsPerMsg']])
    }
    expected.push(
      ['pubsub-tcp-qos1-64B-persist', ['msgPerSec', 'cpuUsPerMsg']],
      ['flood-tcp-qos0-64B', ['msgPerSec', 'cpuUsPerMsg']],
      ['rtt-tcp-qos0-64B', ['p50Us', 'p99Us']],
      ['rtt-tcp-qos1-64B', ['p50Us', 'p99Us']],
      ['conns-tcp-1000', ['openMs', 'rssKbPerClient', 'heapKbPerClient']],
      ['coldstart-tcp', ['requireMs', 'connectMs', 'totalMs']]
    )
  }
  for (const qos of [0, 1, 2]) {
    for (const size of [64, 4000]) {
      const id = `pubsub-ws-qos${qos}-${size}B`
      if (!unavailable.has(id)) expected.push([id, ['msgPerSec', 'cpuUsPerMsg']])
    }
  }

  for (const [id, keys] of expected) {
    for (const lib of LIBS) {
      const run = runs.find((r) => r.case === id && r.lib === lib)
      assert.ok(run, `a run of ${id} for ${lib}`)
      assert.strictEqual(run.error, undefined, `${id} ${lib}: ${run.error}\n${run.stderr || ''}`)
      for (const key of keys) {
        assert.ok(typeof run[key] === 'number' && Number.isFinite(run[key]) && run[key] >= 0, `${id} ${lib}: ${key} is a number (${run[key]})`)
      }
    }
    for (const key of keys) {
      const s = summaries.find((r) => r.case === id && r.metric === key)
      assert.ok(s, `a summary of ${id} ${key}`)
      assert.ok(typeof s.ratio === 'number' && Number.isFinite(s.ratio), `${id} ${key}: a ratio (${s.ratio})`)
    }
  }
  assert.match(stdout, /\| case \| MQTT\.js msg\/s \| mqtt-native msg\/s \| ratio \|/)
  assert.match(stdout, /### Targets \(issues 5, 9 and 16\)/)
})
