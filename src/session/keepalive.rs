//! Keepalive deadlines, as MQTT.js computes them (research §7.6).
//!
//! A PINGREQ is due one keepalive interval after the countdown was last restarted, and the
//! broker is given up on half an interval later (MQTT 5 §3.1.2.10 allows the server 1.5 times the
//! interval; MQTT.js waits the same on the client side). The countdown restarts on every PINGRESP
//! and, with `reschedulePings`, on every received ack; not on received PUBLISH nor on anything
//! sent.

use std::time::{Duration, Instant};

/// What a passed deadline asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    None,
    SendPing,
    TimedOut,
}

#[derive(Debug, Clone)]
pub(crate) struct Keepalive {
    interval: Option<Duration>,
    restarted_at: Option<Instant>,
    ping_sent: bool,
    /// Set when the application's own keepalive timer gave up on the broker: the session
    /// times out at this instant whatever its own schedule says.
    expired_at: Option<Instant>,
}

impl Keepalive {
    /// Keepalive of `seconds`; 0 turns it off.
    pub(crate) fn new(seconds: u16) -> Self {
        let interval = (seconds > 0).then(|| Duration::from_secs(u64::from(seconds)));
        Keepalive {
            interval,
            restarted_at: None,
            ping_sent: false,
            expired_at: None,
        }
    }

    pub(crate) fn start(&mut self, now: Instant) {
        self.restarted_at = Some(now);
        self.ping_sent = false;
    }

    /// Gives up on the broker now, as the session's own timeout would (the JavaScript shim runs
    /// MQTT.js's keepalive timers and asks for the timeout through this, so that the error and
    /// the close are the session's usual ones).
    pub(crate) fn expire(&mut self, now: Instant) {
        self.expired_at = Some(now);
    }

    pub(crate) fn on_pingresp(&mut self, now: Instant) {
        // A PINGRESP arriving after the timeout was decided does not undo it.
        if self.restarted_at.is_some() && self.expired_at.is_none() {
            self.start(now);
        }
    }

    pub(crate) fn on_ack(&mut self, now: Instant, reschedule: bool) {
        if reschedule {
            self.on_pingresp(now);
        }
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        if self.expired_at.is_some() {
            return self.expired_at;
        }
        let (interval, at) = (self.interval?, self.restarted_at?);
        Some(if self.ping_sent {
            at + interval + interval / 2
        } else {
            at + interval
        })
    }

    pub(crate) fn on_timeout(&mut self, now: Instant) -> Action {
        let Some(deadline) = self.next_deadline() else {
            return Action::None;
        };
        if now < deadline {
            Action::None
        } else if self.ping_sent || self.expired_at.is_some() {
            Action::TimedOut
        } else {
            self.ping_sent = true;
            Action::SendPing
        }
    }
}
