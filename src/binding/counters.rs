//! Counts of the driver's system calls and wake-ups on the calling thread, for tests that assert
//! batching by count (never by time) and for diagnosing a slow connection.

use napi_derive::napi;

use crate::driver;
use crate::transport::wire;

/// What [`driver_counts`] returns; totals since the thread loaded the addon.
#[napi(object)]
pub struct DriverCounts {
    /// Socket reads (`recv` calls), all connections of this thread.
    pub socket_reads: f64,
    /// Socket writes (`send` calls), all connections of this thread.
    pub socket_writes: f64,
    /// Readiness callbacks from libuv (wake-ups for a readable or writable socket).
    pub poll_events: f64,
    /// Ticks of polling mode (reads of saturated connections, `driver::polling`).
    pub poll_ticks: f64,
}

/// The calling thread's counts so far.
#[napi(catch_unwind)]
pub fn driver_counts() -> DriverCounts {
    let calls = wire::socket_calls();
    DriverCounts {
        socket_reads: calls.reads as f64,
        socket_writes: calls.writes as f64,
        poll_events: driver::poll_events() as f64,
        poll_ticks: driver::polling::ticks() as f64,
    }
}
