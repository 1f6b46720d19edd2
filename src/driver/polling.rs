//! Polling mode for saturated connections: read on a short periodic tick instead of on every
//! readiness event (Linux only).
//!
//! Design: what Linux's NAPI does for network cards. A connection whose data keeps arriving in
//! small pieces (a broker that sends each message in a segment of its own: `set_tcp_nodelay`,
//! or a stream of 4-byte PUBACKs) wakes the loop once per piece, and each wake-up costs an
//! `epoll_wait`, a read, and for a client that answers, a write: several system calls per
//! message, whatever the per-message work. While such a connection is saturated (see
//! [`super::ack_pacing`]), the driver stops watching it for readability and reads it on a tick
//! of [`TICK`] instead, together with every other connection of the thread in the same state:
//! one wake-up for all of them, and every read and write carries what arrived in the meantime.
//! A tick that finds fewer than [`MIN_PACKETS_PER_TICK`] packets on a connection ends its
//! polling (the traffic no longer needs it), and readiness events take over again. Traffic that
//! comes in rounds (a closed loop, which would wait for each tick) shows itself by leaving
//! polling mode as soon as it entered it, and is kept off the tick for ever longer
//! ([`PollingGate`]). The added latency is at most one tick, and only while a connection is
//! saturated. A connection that receives only QoS 0 publishes is read on every tenth tick or so
//! ([`ReadSchedule`]).
//!
//! The tick is one `timerfd` per thread, watched by a libuv poll handle: libuv's own timers
//! count in milliseconds. Elsewhere than Linux there is no polling mode.

use std::cell::{Cell, RefCell};
use std::ffi::c_int;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use super::uv;

/// The tick of a thread with connections in polling mode, unless `MQTT_NATIVE_POLL_US` says
/// otherwise. Measured through mosquitto with `set_tcp_nodelay true` (BENCHMARKS.md), CPU per
/// message fell from 8.9-9.9 µs without polling to 5.9-8.4 with a 50 µs tick, 5.1-6.6 with
/// 100 µs and 4.3-4.9 with 200 µs (QoS 1: 18.5 to about 15, 13.6 and 11), throughput unchanged.
pub const TICK: Duration = Duration::from_micros(100);

/// The tick in use: `MQTT_NATIVE_POLL_US` (microseconds, at most 10,000; 0 turns polling mode
/// off, for an application that wants every message at once whatever it costs), else [`TICK`].
pub fn tick() -> Duration {
    static CONFIGURED: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *CONFIGURED.get_or_init(|| {
        std::env::var("MQTT_NATIVE_POLL_US")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|us| Duration::from_micros(us.min(10_000)))
            .unwrap_or(TICK)
    })
}
/// A tick that decodes fewer packets than this on a connection ends its polling mode.
pub const MIN_PACKETS_PER_TICK: u64 = 2;

/// How long a polled connection may go unread while what it receives waits for nobody
/// ([`ReadSchedule`]). Measured through mosquitto with `set_tcp_nodelay true`, a QoS 0 flood
/// (BENCHMARKS.md): reading every 100 µs, 300 µs, 500 µs, 700 µs and 1 ms gave about 110 k,
/// 131 k, 142 k, 152 k and 152 k messages per second at 4.3, 2.8, 2.3, 1.7 and 1.4 µs of CPU
/// per message; longer changed nothing.
pub const LAZY_READ: Duration = Duration::from_millis(1);

/// A lazy read must find at least this share (in percent) of the packets per millisecond that
/// the reads on every tick found, or the connection's traffic is taken to wait for us.
const SUSTAINED_PERCENT: u64 = 50;

/// Lazy reads start only on a connection whose reads on every tick found at least this many
/// packets per millisecond (40 k a second): slower traffic gains little from them.
const LAZY_MIN_PACKETS_PER_MS: u64 = 40;

/// Lazy reads are held to [`SUSTAINED_PERCENT`] over windows of this length.
const LAZY_PROBE: Duration = Duration::from_millis(3);

/// After lazy reads found the traffic waiting for us, none for this long at first; each time
/// again twice as long, up to [`LAZY_BLOCKED_MAX`], until lazy reads keep the rate.
const LAZY_BLOCKED: Duration = Duration::from_millis(100);
/// The longest block on lazy reads.
const LAZY_BLOCKED_MAX: Duration = Duration::from_secs(10);

/// When a polled connection reads next: on every tick, or only every [`LAZY_READ`] while all
/// it receives are QoS 0 publishes that keep coming whether we read or not.
///
/// Design: the cost of a flood through a broker is mostly the broker's and the kernel's, per
/// TCP segment: each read of ours acknowledges what arrived, which lets the broker's kernel
/// send its next small write as a segment of its own. Left unread for a millisecond, the
/// data waits in our receive queue, the broker's unacknowledged segments reach its congestion
/// window, and its later writes travel together: a tenth of the segments, and the broker
/// forwards more messages per second for less CPU on both sides.
///
/// That is only harmless where nobody waits for the read:
/// - a QoS 1/2 publish holds a place in the broker's window until we acknowledge it, and an
///   acknowledgement for us frees a place in ours: any such packet in a read, or a publish of
///   ours in flight, keeps the connection read on every tick;
/// - an application that answers each message (request and response, a bounded number in
///   flight) sends no more than it got: reading once a millisecond would cap it at that
///   number per millisecond (measured: 10 in flight to itself went from 44 k to 8.6 k
///   messages per second). Such traffic shows itself: over [`LAZY_PROBE`], lazy reads find
///   fewer packets per millisecond than the reads on every tick found over the millisecond
///   before ([`SUSTAINED_PERCENT`]). Then the connection is read on every tick again and tries
///   no lazy read for [`LAZY_BLOCKED`], twice as long after each new failure (up to
///   [`LAZY_BLOCKED_MAX`]): a probe of a few milliseconds, ever rarer. A flood that merely
///   paused is blocked too, for [`LAZY_BLOCKED`] once. Traffic below
///   [`LAZY_MIN_PACKETS_PER_MS`] never tries.
#[derive(Debug, Default)]
pub struct ReadSchedule {
    /// The tick ([`ticks`]) of the next read; a past one reads on every tick.
    next: Cell<u64>,
    /// Whether the current interval is a lazy one.
    lazy: Cell<bool>,
    /// When the last read was.
    last_read: Cell<Option<Instant>>,
    /// Packets per millisecond over the last [`LAZY_READ`] of reads on every tick (0 until
    /// one has been measured): the rate a lazy read is held to.
    eager_rate: Cell<u64>,
    /// The measurement under way: since when, the packets and the reads so far.
    measuring: Cell<Option<(Instant, u64, u32)>>,
    /// No lazy read before this.
    blocked_until: Cell<Option<Instant>>,
    /// How long the next block lasts (0 until the first: [`LAZY_BLOCKED`]).
    block: Cell<Duration>,
}

/// Whether `rate` is below [`SUSTAINED_PERCENT`] of `reference`.
fn below_sustained(rate: u64, reference: u64) -> bool {
    rate.saturating_mul(100) < reference.saturating_mul(SUSTAINED_PERCENT)
}

/// Packets per millisecond.
fn per_ms(packets: u64, over: Duration) -> u64 {
    let micros = u64::try_from(over.as_micros()).unwrap_or(u64::MAX).max(1);
    packets.saturating_mul(1000) / micros
}

impl ReadSchedule {
    /// Ticks to wait before the next read, 0 when this tick reads.
    pub fn ticks_left(&self) -> u64 {
        self.next.get().saturating_sub(ticks())
    }

    /// Schedules the next read after one at `now` that decoded `packets` packets,
    /// `qos0_publishes` of them QoS 0 publishes, on a connection with `outgoing` QoS 1/2
    /// publishes of its own in flight or waiting. Returns whether the next read waits for
    /// [`LAZY_READ`].
    pub fn after_read(
        &self,
        now: Instant,
        packets: u64,
        qos0_publishes: u64,
        outgoing: usize,
    ) -> bool {
        let last = self.last_read.replace(Some(now));
        // Rates are measured over windows of several reads: a single read may catch a burst
        // or a gap, and one that comes late (the loop was busy) finds only what the broker's
        // congestion window let through before our acknowledgement.
        let (since, counted, reads) = self.measuring.get().unwrap_or_else(|| {
            let start = last.unwrap_or_else(|| now.checked_sub(tick()).unwrap_or(now));
            (start, 0, 0)
        });
        let (counted, reads) = (counted + packets, reads + 1);
        let span = now.saturating_duration_since(since);
        let complete = if self.lazy.get() {
            span >= LAZY_PROBE && reads >= 3
        } else {
            span >= LAZY_READ
        };
        if !complete {
            self.measuring.set(Some((since, counted, reads)));
        } else {
            self.measuring.set(None);
            let rate = per_ms(counted, span);
            if !self.lazy.get() {
                self.eager_rate.set(rate);
            } else if below_sustained(rate, self.eager_rate.get()) {
                // The traffic waited for these reads, or slowed down by itself: reads on
                // every tick for a while, twice as long as the last time.
                let block = self.block.get().max(LAZY_BLOCKED);
                self.blocked_until.set(Some(now + block));
                self.block.set((block * 2).min(LAZY_BLOCKED_MAX));
                self.eager_rate.set(0);
            } else {
                self.block.set(LAZY_BLOCKED);
            }
        }
        let lazy = self.blocked_until.get().is_none_or(|until| now >= until)
            && packets >= MIN_PACKETS_PER_TICK
            && qos0_publishes == packets
            && outgoing == 0
            && self.eager_rate.get() >= LAZY_MIN_PACKETS_PER_MS;
        if lazy != self.lazy.get() {
            // A new mode, a new window, from this read on.
            self.measuring.set(None);
        }
        self.lazy.set(lazy);
        self.next
            .set(ticks() + if lazy { ticks_in(LAZY_READ) } else { 0 });
        lazy
    }

    /// Back to a read on every tick (polling mode ended): the rate is measured anew; a block
    /// on lazy reads stays.
    pub fn reset(&self) {
        self.next.set(0);
        self.lazy.set(false);
        self.last_read.set(None);
        self.eager_rate.set(0);
        self.measuring.set(None);
    }
}

/// A polling mode shorter than this is a stumble. A closed loop of 10 messages in flight
/// through mosquitto entered polling mode and left it after two ticks (0.31-0.37 ms), again and
/// again; QoS 1 and 2 floods stayed in it for 1.5 ms or more, bar a rare single stumble of
/// 0.35-0.41 ms (logged, session 8).
const STUMBLE: Duration = Duration::from_micros(500);

/// Stumbles in a row that keep a connection off the tick.
const STUMBLES_IN_A_ROW: u32 = 2;

/// A polling mode at least this long shows a stream: the next block starts short again.
const SUSTAINED_POLLING: Duration = Duration::from_millis(10);

/// Whether a saturated connection may read on the tick ([`enlist`]): not traffic that comes in
/// rounds, which the tick would slow.
///
/// Design: polling mode holds each read up to a tick. A flood keeps coming meanwhile, and the
/// tick only gathers it; but a closed loop (an application that answers each message, a few in
/// flight) sends no more than it got, so each round waits for the tick: 10 messages in flight
/// through mosquitto went from 75-92 k to 49-58 k messages per second in polling mode, at more
/// CPU time per message, not less (BENCHMARKS.md). Both look alike to the saturation test
/// (reads less than a tick apart). What tells them apart is how long polling mode lasts: a
/// loop's round is over before the second tick, which finds fewer than
/// [`MIN_PACKETS_PER_TICK`] packets and ends polling mode, and the next round's reads start it
/// again. [`STUMBLES_IN_A_ROW`] polling modes shorter than [`STUMBLE`] keep the connection on
/// readiness events for [`LAZY_BLOCKED`], twice as long after each new row (up to
/// [`LAZY_BLOCKED_MAX`]); a polling mode of [`SUSTAINED_POLLING`] or more ends a row and makes
/// the next block short again.
///
/// Tried and dropped (BENCHMARKS.md, sessions 6-8): comparing 10 ms of polling mode with 10 ms
/// of readiness events, by rate and by the thread's CPU time per packet. The loop never stayed
/// in polling mode long enough to be compared, and the comparisons' readiness windows cost the
/// floods a little CPU time.
#[derive(Debug, Default)]
pub struct PollingGate {
    /// When the current polling mode started.
    entered: Cell<Option<Instant>>,
    /// Stumbles in a row so far ([`STUMBLE`]).
    stumbles: Cell<u32>,
    /// No polling mode before this.
    blocked_until: Cell<Option<Instant>>,
    /// How long the next block lasts (0 until the first: [`LAZY_BLOCKED`]).
    block: Cell<Duration>,
}

impl PollingGate {
    /// Whether polling mode may start now; if so, it is taken to start.
    pub fn may_poll(&self) -> bool {
        self.may_poll_at(Instant::now())
    }

    /// A tick in polling mode that decoded `packets`: whether polling mode goes on (not when
    /// the tick found fewer than [`MIN_PACKETS_PER_TICK`]: the traffic no longer needs it).
    pub fn keep_polling(&self, packets: u64) -> bool {
        if packets >= MIN_PACKETS_PER_TICK {
            return true;
        }
        self.on_polling_ended_at(Instant::now());
        false
    }

    fn may_poll_at(&self, now: Instant) -> bool {
        if self.blocked_until.get().is_some_and(|until| now < until) {
            return false;
        }
        self.entered.set(Some(now));
        true
    }

    fn on_polling_ended_at(&self, now: Instant) {
        let Some(since) = self.entered.take() else {
            return;
        };
        let lasted = now.saturating_duration_since(since);
        if lasted >= STUMBLE {
            self.stumbles.set(0);
            if lasted >= SUSTAINED_POLLING {
                self.block.set(Duration::ZERO);
            }
            return;
        }
        self.stumbles.set(self.stumbles.get() + 1);
        if self.stumbles.get() >= STUMBLES_IN_A_ROW {
            self.stumbles.set(0);
            let block = self.block.get().max(LAZY_BLOCKED);
            self.blocked_until.set(Some(now + block));
            self.block.set((block * 2).min(LAZY_BLOCKED_MAX));
        }
    }
}

/// `duration` in ticks of [`tick`] (at least one).
fn ticks_in(duration: Duration) -> u64 {
    let tick = tick().as_micros().max(1);
    u64::try_from(duration.as_micros() / tick)
        .unwrap_or(u64::MAX)
        .max(1)
}

/// A connection the tick can read: a native socket ([`super::Conn`]) or a Node stream
/// ([`super::stream::StreamConn`]).
pub trait Polled {
    /// One tick: reads (or decodes what was fed) and delivers what arrived since the last one.
    /// Returns whether the connection stays in polling mode.
    fn on_tick(&self) -> bool;
}

/// The thread's tick: its timer and the connections it reads.
struct Ticker {
    /// The timerfd (its own descriptor, closed in [`shutdown`]).
    fd: c_int,
    /// The libuv poll handle watching `fd`.
    handle: *mut uv::Handle,
    /// Whether the timer runs (and the handle watches it).
    armed: bool,
    /// The connections in polling mode.
    conns: Vec<Weak<dyn Polled>>,
}

thread_local! {
    static TICKER: RefCell<Option<Ticker>> = const { RefCell::new(None) };
    /// Ticks so far on this thread (for `driverCounts()`).
    static TICKS: Cell<u64> = const { Cell::new(0) };
}

/// How many ticks this thread has run.
pub fn ticks() -> u64 {
    TICKS.with(Cell::get)
}

/// Puts `conn` on the tick of the calling thread, whose running loop is `uv_loop`. Returns
/// false (and changes nothing) where there is no polling mode, or when the tick cannot be made;
/// the connection then stays on readiness events.
pub fn enlist<C: Polled + 'static>(
    conn: &Rc<C>,
    uv: &'static uv::Uv,
    uv_loop: *mut uv::Loop,
) -> bool {
    if tick().is_zero() {
        return false;
    }
    #[cfg(target_os = "linux")]
    {
        TICKER.with(|t| {
            let mut t = t.borrow_mut();
            if t.is_none() {
                *t = linux::new_ticker(uv, uv_loop);
            }
            let Some(ticker) = t.as_mut() else {
                return false;
            };
            if !ticker.armed && !linux::arm(ticker, true) {
                return false;
            }
            ticker.conns.push(Rc::downgrade(conn) as Weak<dyn Polled>);
            true
        })
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (conn, uv, uv_loop);
        false
    }
}

/// Closes the thread's tick (its environment is going away).
pub fn shutdown() {
    #[cfg(target_os = "linux")]
    if let Some(ticker) = TICKER.with(|t| t.borrow_mut().take()) {
        linux::close(ticker);
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::ffi::c_int;
    use std::panic::{catch_unwind, AssertUnwindSafe};

    use super::{tick, Ticker, TICKER, TICKS};
    use crate::driver::uv;

    pub(super) fn new_ticker(uv: &'static uv::Uv, uv_loop: *mut uv::Loop) -> Option<Ticker> {
        // SAFETY: timerfd_create has no memory preconditions; the descriptor is ours.
        let fd = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if fd < 0 {
            return None;
        }
        // SAFETY: `uv_loop` is the calling thread's running loop (the caller's promise); the
        // handle carries no data (the tick finds its state in TICKER).
        match unsafe { uv.new_poll(uv_loop, fd, std::ptr::null_mut()) } {
            Ok(handle) => Some(Ticker {
                fd,
                handle,
                armed: false,
                conns: Vec::new(),
            }),
            Err(_) => {
                // SAFETY: our descriptor, not given to libuv.
                unsafe { libc::close(fd) };
                None
            }
        }
    }

    /// Starts (a periodic [`tick`]) or stops the timer and the watching of it.
    pub(super) fn arm(ticker: &mut Ticker, on: bool) -> bool {
        let Ok(uv) = uv::get() else { return false };
        let nanos = if on {
            libc::c_long::try_from(tick().as_nanos()).unwrap_or(libc::c_long::MAX)
        } else {
            0
        };
        let period = libc::timespec {
            tv_sec: 0,
            tv_nsec: nanos,
        };
        let spec = libc::itimerspec {
            it_interval: period,
            it_value: period,
        };
        // SAFETY: our timerfd and a valid itimerspec.
        if unsafe { libc::timerfd_settime(ticker.fd, 0, &spec, std::ptr::null_mut()) } != 0 {
            return false;
        }
        // SAFETY: the ticker's live poll handle, on this thread's loop.
        unsafe {
            if on {
                uv.poll_start(ticker.handle, uv::READABLE, on_tick);
            } else {
                uv.poll_stop(ticker.handle);
            }
        }
        ticker.armed = on;
        true
    }

    pub(super) fn close(ticker: Ticker) {
        if let Ok(uv) = uv::get() {
            // SAFETY: the ticker's live handle, closed once (the ticker is gone from TICKER).
            unsafe {
                uv.poll_stop(ticker.handle);
                uv.close(ticker.handle, uv::HandleType::Poll, on_closed);
            }
        }
        // SAFETY: our descriptor; libuv no longer watches it (stopped above).
        unsafe { libc::close(ticker.fd) };
    }

    unsafe extern "C" fn on_closed(_: *mut uv::Handle) {}

    unsafe extern "C" fn on_tick(_: *mut uv::Handle, _status: c_int, _events: c_int) {
        let _ = catch_unwind(AssertUnwindSafe(run_tick));
    }

    /// One tick: every connection in polling mode reads and delivers what arrived; those that
    /// leave polling mode leave the list, and the timer stops with the last one.
    fn run_tick() {
        let Some(conns) = TICKER.with(|t| {
            let mut t = t.borrow_mut();
            let ticker = t.as_mut()?;
            let mut expirations = [0u8; 8];
            // SAFETY: reading the 8-byte expiration count clears the timerfd's readiness.
            let _ = unsafe { libc::read(ticker.fd, expirations.as_mut_ptr().cast(), 8) };
            Some(std::mem::take(&mut ticker.conns))
        }) else {
            return;
        };
        TICKS.with(|n| n.set(n.get() + 1));
        let mut keep = Vec::with_capacity(conns.len());
        for weak in conns {
            // JavaScript runs inside `on_tick`; it may end this or any other connection.
            if let Some(conn) = weak.upgrade() {
                if conn.on_tick() {
                    keep.push(weak);
                }
            }
        }
        TICKER.with(|t| {
            let mut t = t.borrow_mut();
            let Some(ticker) = t.as_mut() else { return };
            ticker.conns.extend(keep);
            if ticker.conns.is_empty() && ticker.armed {
                arm(ticker, false);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Moves this thread's tick count on, as `n` ticks would.
    fn advance(n: u64) {
        TICKS.with(|t| t.set(t.get() + n));
    }

    const US: fn(u64) -> Duration = Duration::from_micros;

    /// A schedule after a millisecond of reads on every 100 µs tick, each finding `per_tick`
    /// QoS 0 publishes; the last at `t0`.
    fn measured(per_tick: u64, t0: Instant) -> ReadSchedule {
        let schedule = ReadSchedule::default();
        for i in (0..=10).rev() {
            schedule.after_read(t0 - US(100 * i), per_tick, per_tick, 0);
        }
        schedule
    }

    #[test]
    fn a_fast_flood_of_qos0_publishes_is_read_once_a_lazy_interval() {
        let t0 = Instant::now();
        let schedule = measured(10, t0); // 100 a millisecond
        assert!(schedule.lazy.get());
        assert_eq!(schedule.ticks_left(), ticks_in(LAZY_READ));
        advance(ticks_in(LAZY_READ) - 1);
        assert_eq!(schedule.ticks_left(), 1);
        advance(1);
        assert_eq!(schedule.ticks_left(), 0);
        // The flood kept coming: 100 in the millisecond. Still lazy.
        assert!(schedule.after_read(t0 + LAZY_READ, 100, 100, 0));
    }

    #[test]
    fn no_lazy_read_before_a_millisecond_of_reads_on_every_tick_has_measured_the_rate() {
        let t0 = Instant::now();
        let schedule = ReadSchedule::default();
        for i in 0..5 {
            assert!(!schedule.after_read(t0 + US(100 * i), 50, 50, 0));
        }
    }

    #[test]
    fn any_packet_someone_waits_for_keeps_reads_on_every_tick() {
        let t0 = Instant::now();
        let schedule = measured(10, t0);
        // A QoS 1 publish or an ack among them: the broker's window or ours waits on the read.
        assert!(!schedule.after_read(t0 + LAZY_READ, 100, 99, 0));
        assert_eq!(schedule.ticks_left(), 0);
        // A publish of our own in flight: its ack must not wait.
        assert!(!schedule.after_read(t0 + LAZY_READ + US(100), 10, 10, 1));
        assert_eq!(schedule.ticks_left(), 0);
        // Too little to be a flood.
        assert!(!schedule.after_read(t0 + LAZY_READ + US(200), 1, 1, 0));
    }

    #[test]
    fn traffic_slower_than_40_a_millisecond_is_never_read_lazily() {
        let t0 = Instant::now();
        let schedule = measured(3, t0); // 30 a millisecond
        assert!(!schedule.lazy.get());
        assert_eq!(schedule.ticks_left(), 0);
    }

    /// Lazy reads from `t`, each a millisecond after the last and finding `packets`, until one
    /// returns false; returns when that was.
    fn lazy_until_eager(schedule: &ReadSchedule, mut t: Instant, packets: u64) -> Instant {
        for _ in 0..10 {
            t += LAZY_READ;
            if !schedule.after_read(t, packets, packets, 0) {
                return t;
            }
        }
        panic!("still lazy after 10 ms");
    }

    /// Reads on every 100 µs tick from `t` for a millisecond, each finding `packets`; returns
    /// whether any of them went lazy, and when the last was.
    fn a_millisecond_of_ticks(
        schedule: &ReadSchedule,
        mut t: Instant,
        packets: u64,
    ) -> (bool, Instant) {
        let mut lazy = false;
        for _ in 0..10 {
            t += US(100);
            lazy |= schedule.after_read(t, packets, packets, 0);
        }
        (lazy, t)
    }

    #[test]
    fn traffic_that_waits_for_our_reads_goes_back_to_every_tick_for_ever_longer() {
        let t0 = Instant::now();
        let schedule = measured(5, t0); // 50 a millisecond, as 10 in flight to itself
        assert!(schedule.lazy.get());
        // Lazy milliseconds find only the 10 in flight: they waited for us.
        let t1 = lazy_until_eager(&schedule, t0, 10);
        assert!(t1 - t0 >= LAZY_PROBE);
        assert_eq!(schedule.ticks_left(), 0);
        // Fast again on every tick, but no lazy read until the block ends, not even after
        // polling mode ended and began again.
        let (lazy, t2) = a_millisecond_of_ticks(&schedule, t1, 5);
        assert!(!lazy);
        schedule.reset();
        let (lazy, _) = a_millisecond_of_ticks(&schedule, t2, 5);
        assert!(!lazy);
        // After the block, a new millisecond measured on every tick allows a new probe; when
        // it fails too, the next block is twice as long.
        schedule.reset();
        let t3 = t1 + LAZY_BLOCKED;
        let (lazy, t4) = a_millisecond_of_ticks(&schedule, t3, 5);
        assert!(lazy);
        let t5 = lazy_until_eager(&schedule, t4, 10);
        schedule.reset();
        let (lazy, _) = a_millisecond_of_ticks(&schedule, t5 + LAZY_BLOCKED, 5);
        assert!(!lazy);
        schedule.reset();
        let (lazy, _) = a_millisecond_of_ticks(&schedule, t5 + 2 * LAZY_BLOCKED, 5);
        assert!(lazy);
    }

    #[test]
    fn lazy_reads_that_keep_the_rate_stay_lazy_and_end_the_backoff() {
        let t0 = Instant::now();
        let schedule = measured(10, t0);
        let mut t = t0;
        for _ in 0..20 {
            t += LAZY_READ;
            assert!(schedule.after_read(t, 100, 100, 0));
        }
        assert_eq!(schedule.block.get(), LAZY_BLOCKED);
    }

    #[test]
    fn reset_reads_on_the_next_tick_again_and_measures_the_rate_anew() {
        let t0 = Instant::now();
        let schedule = measured(10, t0);
        assert!(schedule.ticks_left() > 0);
        schedule.reset();
        assert_eq!(schedule.ticks_left(), 0);
        assert!(!schedule.after_read(t0 + US(100), 10, 10, 0));
    }

    /// Polling mode entered at `from` and ended by a thin tick after `lasted`.
    fn episode(gate: &PollingGate, from: Instant, lasted: Duration) -> bool {
        if !gate.may_poll_at(from) {
            return false;
        }
        gate.on_polling_ended_at(from + lasted);
        true
    }

    #[test]
    fn polling_mode_that_stumbles_twice_in_a_row_is_kept_off_the_tick_for_ever_longer() {
        let (t0, gate) = (Instant::now(), PollingGate::default());
        // A closed loop: two ticks of polling mode, a round on readiness events, again.
        assert!(episode(&gate, t0, US(300)));
        assert!(episode(&gate, t0 + US(700), US(300)));
        let t = t0 + US(1000);
        assert!(!gate.may_poll_at(t + LAZY_BLOCKED - US(1)));
        assert!(episode(&gate, t + LAZY_BLOCKED, US(300)));
        assert!(episode(&gate, t + LAZY_BLOCKED + US(700), US(300)));
        let t = t + LAZY_BLOCKED + US(1000);
        assert!(!gate.may_poll_at(t + 2 * LAZY_BLOCKED - US(1)));
        assert!(gate.may_poll_at(t + 2 * LAZY_BLOCKED));
    }

    #[test]
    fn a_single_stumble_between_longer_polling_modes_blocks_nothing() {
        let (mut t, gate) = (Instant::now(), PollingGate::default());
        for _ in 0..5 {
            assert!(episode(&gate, t, US(300)));
            assert!(episode(&gate, t + US(400), Duration::from_micros(1500)));
            t += Duration::from_millis(3);
        }
        assert!(gate.may_poll_at(t));
    }

    #[test]
    fn a_sustained_polling_mode_makes_the_next_block_short_again() {
        let (t0, gate) = (Instant::now(), PollingGate::default());
        let mut t = t0;
        // Three rows of stumbles: the next block would be eight times the first.
        for _ in 0..3 {
            while !gate.may_poll_at(t) {
                t += US(100);
            }
            episode(&gate, t, US(300));
            episode(&gate, t + US(700), US(300));
            t += US(1000);
        }
        while !gate.may_poll_at(t) {
            t += US(100);
        }
        // A flood now: polling mode for 20 ms.
        gate.on_polling_ended_at(t + SUSTAINED_POLLING * 2);
        let t = t + SUSTAINED_POLLING * 2;
        episode(&gate, t, US(300));
        episode(&gate, t + US(700), US(300));
        let t = t + US(1000);
        assert!(!gate.may_poll_at(t + LAZY_BLOCKED - US(1)));
        assert!(gate.may_poll_at(t + LAZY_BLOCKED));
    }

    #[test]
    fn a_flood_that_stops_blocks_nothing() {
        let (t0, gate) = (Instant::now(), PollingGate::default());
        assert!(episode(&gate, t0, Duration::from_millis(50)));
        assert!(episode(
            &gate,
            t0 + Duration::from_millis(60),
            Duration::from_millis(50)
        ));
        assert!(gate.may_poll_at(t0 + Duration::from_millis(120)));
    }

    #[test]
    fn a_tick_with_enough_packets_keeps_polling_mode() {
        let gate = PollingGate::default();
        assert!(gate.may_poll());
        assert!(gate.keep_polling(MIN_PACKETS_PER_TICK));
        assert!(!gate.keep_polling(MIN_PACKETS_PER_TICK - 1));
    }
}
