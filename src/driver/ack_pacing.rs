//! When to ask the kernel to delay a connection's TCP acknowledgements.
//!
//! Design: the cost of a message received through a broker is decided by how many messages
//! arrive per wake-up, and with a broker that leaves Nagle's algorithm on (mosquitto's default,
//! `set_tcp_nodelay false`) that is decided by *our* acknowledgements: the broker's kernel holds
//! its small writes while an earlier segment is unacknowledged (RFC 896), so the later our ACK,
//! the more messages travel in the next segment.
//!
//! Linux acknowledges in one of two modes. A connection that sent data shortly after receiving
//! (a client that sent SUBSCRIBE after CONNACK) is in "pingpong" (interactive) mode: it delays
//! its ACKs, hoping to piggyback them. Otherwise a read that empties the receive queue of a
//! small segment acknowledges at once (`tcp_cleanup_rbuf`). The kernel leaves pingpong mode
//! when its delayed-ACK timer fires, which happens in any pause of 40 ms or more, and a
//! subscriber that only receives never enters it again. From then on a reader fast enough to
//! empty the queue after each segment acknowledges each one, the broker sends each message in a
//! segment of its own, and every message costs a wake-up, a read and, for a client that
//! answers (acks, or publishes from its `message` handler), a write: measured through
//! mosquitto, 1.5 µs of CPU per message in a fresh connection against 7.5 µs after its first
//! burst and pause (`shared/repro/warm-burst.mjs`).
//!
//! So while a connection is *saturated* (data keeps arriving faster than one read every
//! [`STREAM_GAP`], for [`STREAM_READS`] reads in a row) the driver puts the socket back into
//! pingpong mode (`TCP_QUICKACK` off), restoring the batching a fresh connection has. Sparse
//! traffic never qualifies, so a lone message or a request/response exchange keeps the kernel's
//! immediate acknowledgements. The option is set again every [`REASSERT_EVERY`] saturated reads,
//! since the kernel drops the mode by itself after a pause.

use std::time::{Duration, Instant};

/// Two data reads at most this far apart belong to one stream.
pub const STREAM_GAP: Duration = Duration::from_micros(100);
/// This many data reads in a row, each within [`STREAM_GAP`] of the previous, make a stream.
pub const STREAM_READS: u32 = 16;
/// While a stream lasts, the option is set again after this many reads.
pub const REASSERT_EVERY: u32 = 256;

/// Per-connection record of recent reads; says when to delay acknowledgements.
#[derive(Debug, Default)]
pub struct AckPacing {
    last_read: Option<Instant>,
    /// Data reads in the current stream.
    streak: u32,
}

impl AckPacing {
    /// Whether the recent reads form a stream (the connection is saturated).
    pub fn is_streaming(&self) -> bool {
        self.streak >= STREAM_READS
    }

    /// Records a read that returned data at `now`; returns whether the socket should be put
    /// (back) into delayed-acknowledgement mode now.
    pub fn on_data_read(&mut self, now: Instant) -> bool {
        let close = self
            .last_read
            .is_some_and(|last| now.saturating_duration_since(last) <= STREAM_GAP);
        self.last_read = Some(now);
        if !close {
            self.streak = 0;
            return false;
        }
        self.streak = self.streak.saturating_add(1);
        self.streak == STREAM_READS
            || (self.streak > STREAM_READS
                && (self.streak - STREAM_READS).is_multiple_of(REASSERT_EVERY))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reads(pacing: &mut AckPacing, start: Instant, gap: Duration, n: u32) -> Vec<u32> {
        (1..=n)
            .filter(|&i| pacing.on_data_read(start + gap * i))
            .collect()
    }

    #[test]
    fn sparse_reads_never_delay_acknowledgements() {
        let mut pacing = AckPacing::default();
        let fired = reads(&mut pacing, Instant::now(), STREAM_GAP * 2, 10_000);
        assert!(fired.is_empty(), "fired at {fired:?}");
    }

    #[test]
    fn a_stream_delays_acknowledgements_once_it_is_long_enough_then_every_few_hundred_reads() {
        let mut pacing = AckPacing::default();
        let fired = reads(
            &mut pacing,
            Instant::now(),
            Duration::from_micros(10),
            1_000,
        );
        // The first read starts the stream; the next STREAM_READS make it one.
        let first = STREAM_READS + 1;
        assert_eq!(
            fired,
            vec![
                first,
                first + REASSERT_EVERY,
                first + 2 * REASSERT_EVERY,
                first + 3 * REASSERT_EVERY
            ]
        );
    }

    #[test]
    fn a_pause_ends_the_stream_and_the_next_one_must_build_up_again() {
        let mut pacing = AckPacing::default();
        let start = Instant::now();
        assert_eq!(
            reads(&mut pacing, start, Duration::from_micros(10), 20).len(),
            1
        );
        let later = start + Duration::from_millis(50);
        let fired = reads(&mut pacing, later, Duration::from_micros(10), 20);
        assert_eq!(fired, vec![STREAM_READS + 1]);
    }
}
