'use strict'
// Issue 18 item 3: host names are resolved by Node's resolver (libuv's pool of 4 threads), not
// by a thread per lookup. 600 clients to names that never resolve keep the thread count bounded
// and leave nothing behind after end(). Measured in a child process, which exits at once
// (abandoned lookups would otherwise keep it alive until they time out).

const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { execFile } = require('node:child_process')

test('600 connects to names that never resolve stay within 16 threads of the baseline and return to it within a second of end()', { skip: process.platform !== 'linux' && 'reads /proc/self/status' }, async () => {
  const script = path.join(__dirname, 'helpers', 'dns-churn.js')
  const stdout = await new Promise((resolve, reject) => {
    // execFile kills the child (SIGTERM) if it outlives the timeout.
    execFile(process.execPath, [script, '600'], { timeout: 60000 }, (err, out, errOut) => {
      if (err) reject(new Error(`${err.message}\n${errOut}`))
      else resolve(out)
    })
  })
  const { baseline, during, after } = JSON.parse(stdout.trim().split('\n').pop())
  assert.ok(during - baseline <= 16, `threads: ${baseline} before, ${during} with 600 lookups pending`)
  assert.ok(after <= baseline, `threads: ${baseline} before, ${after} a second after end()`)
})
