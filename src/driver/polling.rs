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
//! latency is at most one tick, and only while a connection is saturated.
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
