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
//! polling (the traffic no longer needs it), and readiness events take over again. The added
//! latency is at most one tick, and only while a connection is saturated. A connection that
//! receives only QoS 0 publishes is read on every tenth tick or so ([`ReadSchedule`]).
//!
//! The tick is one `timerfd` per thread, watched by a libuv poll handle: libuv's own timers
//! count in milliseconds. Elsewhere than Linux there is no polling mode.

use std::cell::RefCell;
use std::ffi::c_int;
use std::rc::{Rc, Weak};
use std::time::Duration;

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

/// When a polled connection reads next: on every tick, or only every [`LAZY_READ`] while all
/// it receives are QoS 0 publishes and it has none of its own in flight.
///
/// Design: the cost of a flood through a broker is mostly the broker's and the kernel's, per
/// TCP segment: each read of ours acknowledges what arrived, which lets the broker's kernel
/// send its next small write as a segment of its own. Left unread for a millisecond, the
/// data waits in our receive queue, the broker's unacknowledged segments reach its congestion
/// window, and its later writes travel together: a tenth of the segments, and the broker
/// forwards more messages per second for less CPU on both sides. That is only harmless where
/// nobody waits for the read: a QoS 1/2 publish holds a place in the broker's window until we
/// acknowledge it, and an acknowledgement for us frees a place in ours, so any such packet,
/// or a publish of ours in flight, keeps the connection read on every tick.
#[derive(Debug, Default)]
pub struct ReadSchedule {
    /// The tick ([`ticks`]) of the next read; a past one reads on every tick.
    next: std::cell::Cell<u64>,
}

impl ReadSchedule {
    /// Ticks to wait before the next read, 0 when this tick reads.
    pub fn ticks_left(&self) -> u64 {
        self.next.get().saturating_sub(ticks())
    }

    /// Schedules the next read after one that decoded `packets` packets, `qos0_publishes` of
    /// them QoS 0 publishes, on a connection with `outgoing` QoS 1/2 publishes of its own in
    /// flight or waiting. Returns whether the next read waits for [`LAZY_READ`].
    pub fn after_read(&self, packets: u64, qos0_publishes: u64, outgoing: usize) -> bool {
        let lazy = packets >= MIN_PACKETS_PER_TICK && qos0_publishes == packets && outgoing == 0;
        let wait = if lazy { lazy_ticks() } else { 0 };
        self.next.set(ticks() + wait);
        lazy
    }

    /// Back to a read on every tick.
    pub fn reset(&self) {
        self.next.set(0);
    }
}

/// [`LAZY_READ`] in ticks of [`tick`] (at least one).
fn lazy_ticks() -> u64 {
    let tick = tick().as_micros().max(1);
    u64::try_from(LAZY_READ.as_micros() / tick)
        .unwrap_or(1)
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
    static TICKS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many ticks this thread has run.
pub fn ticks() -> u64 {
    TICKS.with(std::cell::Cell::get)
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

    #[test]
    fn a_read_of_only_qos0_publishes_waits_a_lazy_interval_before_the_next() {
        let schedule = ReadSchedule::default();
        assert_eq!(schedule.ticks_left(), 0);
        assert!(schedule.after_read(40, 40, 0));
        assert_eq!(schedule.ticks_left(), lazy_ticks());
        advance(lazy_ticks() - 1);
        assert_eq!(schedule.ticks_left(), 1);
        advance(1);
        assert_eq!(schedule.ticks_left(), 0);
    }

    #[test]
    fn any_packet_someone_waits_for_keeps_reads_on_every_tick() {
        let schedule = ReadSchedule::default();
        // A QoS 1 publish or an ack among them: the broker's window or ours waits on the read.
        assert!(!schedule.after_read(40, 39, 0));
        assert_eq!(schedule.ticks_left(), 0);
        // A publish of our own in flight: its ack must not wait.
        assert!(!schedule.after_read(40, 40, 1));
        assert_eq!(schedule.ticks_left(), 0);
        // Too little to be a flood.
        assert!(!schedule.after_read(1, 1, 0));
        assert_eq!(schedule.ticks_left(), 0);
    }

    #[test]
    fn reset_reads_on_the_next_tick_again() {
        let schedule = ReadSchedule::default();
        assert!(schedule.after_read(10, 10, 0));
        schedule.reset();
        assert_eq!(schedule.ticks_left(), 0);
    }

    #[test]
    fn the_lazy_interval_is_a_millisecond_of_ticks() {
        assert_eq!(
            lazy_ticks(),
            u64::try_from(LAZY_READ.as_micros() / tick().as_micros()).unwrap()
        );
        assert!(lazy_ticks() >= 1);
    }
}
