'use strict'
// Clocks and meters shared by the benchmark worker: wall time, process CPU, CPU of the Node main
// thread (the event loop our users share with their application) and memory.

const fs = require('node:fs')

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ; 100 on Linux everywhere that matters). */
const CLK_TCK = Number(process.env.BENCH_CLK_TCK) || 100
const STAT_FILE = `/proc/self/task/${process.pid}/stat`
const hasStat = (() => {
  try { fs.readFileSync(STAT_FILE, 'utf8'); return true } catch { return false }
})()

/** CPU time of the main thread (tid = pid) in µs, from utime + stime; null where /proc is missing. */
function mainThreadCpuUs () {
  if (!hasStat) return null
  const text = fs.readFileSync(STAT_FILE, 'utf8')
  // Fields after the command name (which may contain spaces) start at field 3 (state).
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(fields[11]) + Number(fields[12]) // utime (14), stime (15)
  return (ticks * 1e6) / CLK_TCK
}

/** CPU time (all threads) of another process in µs, e.g. the broker; null when unreadable. */
function otherProcessCpuUs (pid) {
  if (!pid) return null
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLK_TCK
  } catch {
    return null
  }
}

/** Context switches (voluntary + involuntary) summed over this process's live threads. */
function contextSwitches () {
  let total = 0
  try {
    for (const tid of fs.readdirSync('/proc/self/task')) {
      try {
        const status = fs.readFileSync(`/proc/self/task/${tid}/status`, 'utf8')
        const v = status.match(/^voluntary_ctxt_switches:\s+(\d+)/m)
        const n = status.match(/^nonvoluntary_ctxt_switches:\s+(\d+)/m)
        total += (v ? Number(v[1]) : 0) + (n ? Number(n[1]) : 0)
      } catch {}
    }
  } catch {
    return null
  }
  return total
}

/** Process CPU (all threads) in µs. */
function processCpuUs () {
  const u = process.cpuUsage()
  return u.user + u.system
}

/**
 * `perf stat`'s control FIFOs, when run.js runs this worker under it (BENCH_PERF_CTL and
 * BENCH_PERF_ACK): perf starts with its counters off and counts the system calls of the window
 * between two snapshots only.
 */
const perf = process.env.BENCH_PERF_CTL
  ? { ctl: fs.openSync(process.env.BENCH_PERF_CTL, 'w'), ack: fs.openSync(process.env.BENCH_PERF_ACK, 'r'), on: false }
  : null

function setPerfCounting (on) {
  if (!perf || perf.on === on) return
  fs.writeSync(perf.ctl, on ? 'enable\n' : 'disable\n')
  fs.readSync(perf.ack, Buffer.alloc(5)) // "ack\n": perf has switched
  perf.on = on
}

/**
 * A point in time with its CPU counters (and those of process `peerPid`: the broker or peer).
 * Snapshots come in pairs around a measured window; under `perf stat` the first of a pair turns
 * its counting on and the second turns it off.
 */
function snapshot (peerPid) {
  const ending = perf !== null && perf.on
  if (ending) setPerfCounting(false)
  const s = { t: process.hrtime.bigint(), cpu: processCpuUs(), main: mainThreadCpuUs(), peer: otherProcessCpuUs(peerPid), cs: contextSwitches() }
  if (!ending) setPerfCounting(true)
  return s
}

/**
 * Throughput figures between two snapshots for `count` messages: messages per second, and CPU
 * (process and main thread) per message in µs.
 */
function throughput (a, b, count) {
  const seconds = Number(b.t - a.t) / 1e9
  return {
    messages: count,
    seconds: round(seconds, 4),
    msgPerSec: round(count / seconds, 0),
    cpuUsPerMsg: round((b.cpu - a.cpu) / count, 3),
    mainCpuUsPerMsg: a.main === null ? null : round((b.main - a.main) / count, 3),
    cpuPercent: round(((b.cpu - a.cpu) / 1e6 / seconds) * 100, 1),
    mainCpuPercent: a.main === null ? null : round(((b.main - a.main) / 1e6 / seconds) * 100, 1),
    ctxSwitchesPerMsg: a.cs === null || b.cs === null ? null : round((b.cs - a.cs) / count, 3),
    peerCpuPercent: a.peer === null || b.peer === null ? null : round(((b.peer - a.peer) / 1e6 / seconds) * 100, 1)
  }
}

function round (x, digits) {
  const f = 10 ** digits
  return Math.round(x * f) / f
}

/** Percentile (0–100) of a sorted array, nearest rank. */
function percentile (sorted, p) {
  if (sorted.length === 0) return null
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]
}

/** Collects garbage thoroughly when run with --expose-gc. */
async function settleGc () {
  if (typeof global.gc !== 'function') return
  for (let i = 0; i < 3; i++) {
    global.gc()
    await new Promise((resolve) => setImmediate(resolve))
  }
}

module.exports = { snapshot, throughput, percentile, round, settleGc, mainThreadCpuUs, processCpuUs, CLK_TCK }
