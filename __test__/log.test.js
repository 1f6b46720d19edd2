'use strict'
// Logging: the `log` option and DEBUG=mqttjs*, never with credentials.

const test = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const path = require('node:path')
const { once } = require('node:events')
const mqtt = require('..')
const { startScriptedBroker } = require('./helpers/scripted-broker')

test('the log option receives the client\'s log lines', async (t) => {
  const broker = await startScriptedBroker({ autoConnack: true })
  t.after(() => broker.close())
  const lines = []
  const c = mqtt.connect(broker.url, { reconnectPeriod: 0, log: (...args) => lines.push(args.join(' ')) })
  t.after(() => c.end(true))
  await once(c, 'connect')
  assert.ok(lines.some((l) => l.startsWith('connect ::')), lines.join('\n'))
  assert.ok(lines.some((l) => l.startsWith('connack ::')), lines.join('\n'))
})

test('DEBUG=mqttjs* logs to stderr and never shows the password', async (t) => {
  const broker = await startScriptedBroker({ autoConnack: true })
  t.after(() => broker.close())
  const script = `
    const c = require(${JSON.stringify(path.join(__dirname, '..'))}).connect(${JSON.stringify(broker.url)}, { username: 'alice', password: 'hunter2-secret', reconnectPeriod: 0 })
    c.on('connect', () => c.end())
  `
  const result = await new Promise((resolve) => {
    const child = require('node:child_process').spawn(process.execPath, ['-e', script], { env: { ...process.env, DEBUG: 'mqttjs*' } })
    let stderr = ''
    child.stderr.on('data', (d) => { stderr += d })
    const timer = setTimeout(() => child.kill('SIGKILL'), 10000)
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stderr }) })
  })
  assert.equal(result.code, 0)
  assert.match(result.stderr, /mqttjs:client connect ::/)
  assert.doesNotMatch(result.stderr, /hunter2-secret/)
})

test('without DEBUG nothing is logged', () => {
  const env = { ...process.env }
  delete env.DEBUG
  const result = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(path.join(__dirname, '..'))}).connect('mqtt://127.0.0.1:1', { reconnectPeriod: 0 })`], { env, encoding: 'utf8', timeout: 10000 })
  assert.equal(result.stderr, '')
})
