//! What a session has done and holds, for `client.getStatistics()`.
//!
//! The counters are plain integer additions on the message path (a PUBLISH written or received);
//! the gauges (in flight, waiting for the window, inbound QoS 2 awaiting PUBREL) are read from the
//! session's own tables only when asked, so keeping them costs nothing.

use crate::codec::QoS;

/// Running totals since the session was created.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counters {
    /// PUBLISH packets written for the first time, by QoS (index 0, 1, 2).
    pub sent: [u64; 3],
    /// Payload bytes of those packets, by QoS.
    pub sent_bytes: [u64; 3],
    /// PUBLISH packets received from the broker, by QoS (a QoS 2 message the broker sends
    /// again before PUBREL counts each time).
    pub received: [u64; 3],
    /// Payload bytes of those packets, by QoS.
    pub received_bytes: [u64; 3],
    /// QoS 1/2 PUBLISH packets written again (with DUP) on a later connection.
    pub resent: u64,
}

impl Counters {
    /// A PUBLISH of `qos` with `payload` bytes went into the outbox for the first time.
    #[inline]
    pub(crate) fn on_sent(&mut self, qos: QoS, payload: usize) {
        let i = usize::from(u8::from(qos)).min(2);
        self.sent[i] += 1;
        self.sent_bytes[i] += payload as u64;
    }

    /// A PUBLISH of `qos` with `payload` bytes arrived.
    #[inline]
    pub(crate) fn on_received(&mut self, qos: QoS, payload: usize) {
        let i = usize::from(u8::from(qos)).min(2);
        self.received[i] += 1;
        self.received_bytes[i] += payload as u64;
    }
}

/// A count and the payload bytes it holds.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Gauge {
    /// How many.
    pub count: u64,
    /// Their payload bytes.
    pub bytes: u64,
}

impl Gauge {
    /// Adds one entry of `bytes` payload bytes.
    pub(crate) fn add(&mut self, bytes: usize) {
        self.count += 1;
        self.bytes += bytes as u64;
    }
}

/// A snapshot of a session's figures.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Statistics {
    /// The running totals.
    pub counters: Counters,
    /// Outgoing QoS 1/2 exchanges awaiting their acks (PUBLISH or PUBREL stage), including
    /// those to be resent on the next connection; bytes of the ones still at the PUBLISH stage.
    pub inflight: Gauge,
    /// The current flow-control window: the broker's Receive Maximum (MQTT 5), else `maxInflight`.
    pub receive_maximum: u16,
    /// QoS 1/2 publishes the session holds but has not written yet: behind the window while
    /// connected, or waiting for a connection.
    pub waiting: Gauge,
    /// Inbound QoS 2 messages acknowledged with PUBREC and awaiting PUBREL.
    pub incoming_qos2: u64,
    /// Whether CONNACK has accepted the current connection.
    pub connected: bool,
}

impl Statistics {
    /// How many numbers [`Statistics::write`] writes.
    pub const LEN: usize = 20;

    /// Writes the figures as numbers, in a fixed order that `lib/statistics.js` reads: sent
    /// (QoS 0, 1, 2), sent bytes (0, 1, 2), received (0, 1, 2), received bytes (0, 1, 2), resent,
    /// in-flight count and bytes, receive maximum, waiting count and bytes, inbound QoS 2,
    /// connected (0 or 1). Writes nothing when `out` is shorter than [`Statistics::LEN`].
    pub fn write(&self, out: &mut [f64]) {
        let Some(out) = out.get_mut(..Self::LEN) else {
            return;
        };
        let c = &self.counters;
        let values = c
            .sent
            .iter()
            .chain(&c.sent_bytes)
            .chain(&c.received)
            .chain(&c.received_bytes)
            .copied()
            .chain([
                c.resent,
                self.inflight.count,
                self.inflight.bytes,
                u64::from(self.receive_maximum),
                self.waiting.count,
                self.waiting.bytes,
                self.incoming_qos2,
                u64::from(self.connected),
            ]);
        for (slot, value) in out.iter_mut().zip(values) {
            *slot = value as f64;
        }
    }
}

impl super::Session {
    /// The session's figures now: its counters, and its tables measured (a walk over the
    /// in-flight and waiting publishes, which the window and the offline time keep short).
    pub fn statistics(&self) -> Statistics {
        let mut inflight = Gauge::default();
        for entry in self.inflight.iter() {
            match entry {
                super::inflight::Outgoing::Publish { publish, .. } => {
                    inflight.add(publish.payload.len())
                }
                super::inflight::Outgoing::PubRel { .. } => inflight.add(0),
            }
        }
        let mut waiting = Gauge::default();
        for w in &self.waiting {
            waiting.add(w.publish.payload.len());
        }
        Statistics {
            counters: self.counters.clone(),
            inflight,
            receive_maximum: self.window,
            waiting,
            incoming_qos2: self.incoming_qos2.len() as u64,
            connected: self.is_connected(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use bytes::{Bytes, BytesMut};

    use super::super::{Session, SessionOptions};
    use super::Statistics;
    use crate::codec::{
        Ack, ConnAck, Connect, Limits, Packet, Properties, ProtocolVersion, Publish, QoS,
    };

    fn connect() -> Connect {
        Connect {
            protocol_id: "MQTT".into(),
            protocol_version: ProtocolVersion::V3_1_1,
            clean: false,
            keepalive: 0,
            client_id: "stats".into(),
            will: None,
            username: None,
            password: None,
            properties: Properties::default(),
        }
    }

    fn publish(qos: QoS, id: u16, payload: &'static [u8]) -> Publish {
        Publish {
            dup: false,
            qos,
            retain: false,
            topic: "t".into(),
            message_id: id,
            payload: Bytes::from_static(payload),
            properties: Properties::default(),
        }
    }

    fn open(s: &mut Session, now: Instant) {
        s.start_connection(connect(), None, now).unwrap();
        s.handle_packet(
            Packet::Connack(ConnAck {
                session_present: true,
                reason_code: 0,
                properties: Properties::default(),
            }),
            now,
        );
    }

    /// The PUBLISH packets the session queued for the broker.
    fn sent_publishes(s: &mut Session) -> Vec<Publish> {
        let mut buf = BytesMut::new();
        s.poll_transmit(&mut buf);
        let mut out = Vec::new();
        while let Some(p) = crate::codec::decode(&mut buf, s.version(), &Limits::default()).unwrap()
        {
            if let Packet::Publish(p) = p {
                out.push(p);
            }
        }
        out
    }

    #[test]
    fn counters_and_gauges_follow_what_the_session_sent_received_and_holds() {
        let now = Instant::now();
        let options = SessionOptions {
            max_inflight: 2,
            ..SessionOptions::default()
        };
        let mut s = Session::new(ProtocolVersion::V3_1_1, options);
        // Offline: a QoS 1 publish waits for a connection.
        s.publish(publish(QoS::AtLeastOnce, 1, b"12345")).unwrap();
        let before = s.statistics();
        assert_eq!(before.waiting.count, 1);
        assert_eq!(before.waiting.bytes, 5);
        assert_eq!(before.counters.sent, [0, 0, 0]);
        assert!(!before.connected);

        open(&mut s, now);
        s.publish(publish(QoS::ExactlyOnce, 2, b"abc")).unwrap();
        s.publish(publish(QoS::AtLeastOnce, 3, b"xy")).unwrap();
        s.publish_qos0("t", b"0123456789", false, false).unwrap();
        s.publish(publish(QoS::AtMostOnce, 0, b"z")).unwrap();
        assert_eq!(
            sent_publishes(&mut s).len(),
            4,
            "two in the window of 2, two QoS 0"
        );
        let stats = s.statistics();
        assert!(stats.connected);
        assert_eq!(stats.counters.sent, [2, 1, 1]);
        assert_eq!(stats.counters.sent_bytes, [11, 5, 3]);
        assert_eq!(stats.inflight.count, 2);
        assert_eq!(stats.inflight.bytes, 8);
        assert_eq!(stats.receive_maximum, 2);
        assert_eq!(stats.waiting.count, 1);
        assert_eq!(stats.waiting.bytes, 2);

        // The broker answers the QoS 1 publish: the waiting one moves into flight.
        s.handle_packet(
            Packet::Puback(Ack {
                message_id: 1,
                reason_code: 0,
                properties: Properties::default(),
            }),
            now,
        );
        assert_eq!(sent_publishes(&mut s).len(), 1);
        let stats = s.statistics();
        assert_eq!(stats.counters.sent, [2, 2, 1]);
        assert_eq!(stats.waiting.count, 0);
        assert_eq!(stats.inflight.count, 2);

        // Inbound: QoS 0 and a QoS 2 that waits for PUBREL.
        s.handle_packet(Packet::Publish(publish(QoS::AtMostOnce, 0, b"in")), now);
        s.handle_packet(Packet::Publish(publish(QoS::ExactlyOnce, 9, b"in-2")), now);
        let stats = s.statistics();
        assert_eq!(stats.counters.received, [1, 0, 1]);
        assert_eq!(stats.counters.received_bytes, [2, 0, 4]);
        assert_eq!(stats.incoming_qos2, 1);

        // A new connection resends both exchanges still in flight.
        s.handle_close();
        open(&mut s, now);
        assert_eq!(sent_publishes(&mut s).len(), 2);
        let stats = s.statistics();
        assert_eq!(stats.counters.resent, 2);
        assert_eq!(
            stats.counters.sent,
            [2, 2, 1],
            "a resend is not a new message"
        );

        let mut out = [f64::NAN; Statistics::LEN + 1];
        stats.write(&mut out);
        assert_eq!(
            out[..Statistics::LEN],
            [2., 2., 1., 11., 7., 3., 1., 0., 1., 2., 0., 4., 2., 2., 5., 2., 0., 0., 1., 1.]
        );
        assert!(out[Statistics::LEN].is_nan(), "nothing written past LEN");
    }
}
