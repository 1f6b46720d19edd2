'use strict'
// Child processes that cannot outlive the test that started them.
//
//   const { runNode, killGroupOnExit } = require('./helpers/child')
//   const { code, stdout, timedOut } = await runNode(['script.js', 'arg'], { timeoutMs: 60000 })
//
// Each child runs in a process group of its own (`detached`), so that everything it starts goes
// with it: on timeout the whole group is killed with SIGKILL, by its id, and a process 'exit'
// handler kills the groups still running when the test process itself ends (a failed assertion,
// node:test's own timeout).

const { spawn } = require('node:child_process')

/** Process group ids started here and not yet seen to exit. */
const groups = new Set()

process.on('exit', () => {
  for (const pgid of groups) killGroup(pgid)
})

/** Sends `signal` to every process of the group `pgid`; quiet if it is gone. */
function killGroup (pgid, signal = 'SIGKILL') {
  try {
    process.kill(-pgid, signal)
  } catch {}
}

/** Has the group of `child` (started with `detached: true`) killed when this process exits. */
function killGroupOnExit (child) {
  if (!child.pid) return () => {}
  groups.add(child.pid)
  const forget = () => groups.delete(child.pid)
  child.once('exit', forget)
  return forget
}

/**
 * Runs `node ...args` in a process group of its own. Resolves with its exit code or signal and
 * what it wrote; after `timeoutMs` the group is killed and `timedOut` is true.
 * @param {string[]} args arguments after the node binary (node options first)
 * @param {{ timeoutMs?: number, env?: object, cwd?: string }} [opts]
 * @returns {Promise<{ code: number | null, signal: string | null, stdout: string, stderr: string, timedOut: boolean }>}
 */
function runNode (args, opts = {}) {
  const timeoutMs = opts.timeoutMs || 60000
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true
    })
    killGroupOnExit(child)
    let stdout = ''
    let stderr = ''
    let timedOut = false
    child.stdout.on('data', (chunk) => { stdout += chunk })
    child.stderr.on('data', (chunk) => {
      stderr += chunk
      if (stderr.length > 200000) stderr = stderr.slice(-100000)
    })
    const timer = setTimeout(() => {
      timedOut = true
      killGroup(child.pid)
    }, timeoutMs)
    child.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      // Whatever the child left in its group goes too.
      killGroup(child.pid)
      resolve({ code, signal, stdout, stderr, timedOut })
    })
  })
}

module.exports = { runNode, killGroup, killGroupOnExit }
