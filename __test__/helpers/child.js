'use strict'
// Child processes that cannot outlive the test that started them.
//
//   const { runNode, killGroupOnExit } = require('./helpers/child')
//   const { code, stdout, timedOut } = await runNode(['script.js', 'arg'], { timeoutMs: 60000 })
//
// Each child runs in a process group of its own (`detached`), so that everything it starts goes
// with it: on timeout the whole group is killed with SIGKILL, by its id. The groups still running
// when the test process ends are killed too: by a process 'exit' handler (a failed assertion,
// node:test's own timeout), by SIGINT/SIGTERM/SIGHUP handlers, and, when the test process is
// killed outright (SIGKILL, as a test runner does to a file that overran), by a watchdog: a small
// process of its own that learns each group id through a pipe and kills every group it was told
// about when that pipe closes, that is when the test process is gone, however it went.
//
// The broker helpers (mosquitto, nginx, RabbitMQ) register their processes the same way with
// `track(child)`.

const { spawn } = require('node:child_process')

/** Process group ids started here and not yet seen to exit. */
const groups = new Set()

process.on('exit', () => {
  for (const pgid of groups) killGroup(pgid)
})

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    for (const pgid of groups) killGroup(pgid)
    // Then end as the signal would have.
    process.kill(process.pid, signal)
  })
}

/** The watchdog's source: kills the groups it was told about once its stdin closes. */
const WATCHDOG = `
const groups = new Set()
let rest = ''
process.stdin.on('data', (chunk) => {
  const lines = (rest + chunk).split('\\n')
  rest = lines.pop()
  for (const line of lines) {
    const pgid = Number(line.slice(1))
    if (line[0] === '+') groups.add(pgid)
    else groups.delete(pgid)
  }
})
process.stdin.on('end', () => {
  for (const pgid of groups) { try { process.kill(-pgid, 'SIGKILL') } catch {} }
  process.exit(0)
})
`

let watchdog = null

/** Tells the watchdog (started on first use) about a group to kill if this process dies. */
function tellWatchdog (line) {
  if (!watchdog) {
    watchdog = spawn(process.execPath, ['-e', WATCHDOG], { stdio: ['pipe', 'ignore', 'ignore'], detached: true })
    watchdog.on('error', () => {})
    watchdog.stdin.on('error', () => {})
    // Neither the watchdog nor its pipe keeps this process alive.
    watchdog.unref()
    watchdog.stdin.unref()
  }
  watchdog.stdin.write(line + '\n')
}

/** Sends `signal` to every process of the group `pgid`; quiet if it is gone. */
function killGroup (pgid, signal = 'SIGKILL') {
  try {
    process.kill(-pgid, signal)
  } catch {}
}

/**
 * Has the group of `child` (started with `detached: true`, so that its pid is its group id)
 * killed when this process ends, however it ends, unless the child has exited by then.
 */
function track (child) {
  const pgid = child.pid
  if (!pgid) return () => {}
  groups.add(pgid)
  tellWatchdog(`+${pgid}`)
  let forgotten = false
  const forget = () => {
    if (forgotten) return
    forgotten = true
    groups.delete(pgid)
    // Once the leader has exited its id may be reused: the watchdog must not kill it later.
    // (Processes it left in the group are killed by whoever saw it exit: see runNode.)
    tellWatchdog(`-${pgid}`)
  }
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
    track(child)
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

module.exports = { runNode, killGroup, track }
