//! The outgoing in-flight table: QoS 1/2 publishes and PUBRELs awaiting acks, in send order.
//!
//! An entry is either sent on the current connection or waiting to be resent on it: after a
//! reconnect, only as many exchanges as the new window allows are resent at once (the broker's
//! Receive Maximum may be smaller than the previous connection's, MQTT 5 §4.9); the rest follow,
//! in order, as acks make room.

use std::collections::VecDeque;

use crate::codec::{Ack, Packet, Publish, QoS};

/// One outgoing exchange awaiting an ack.
#[derive(Debug, Clone)]
pub(crate) enum Outgoing {
    /// A PUBLISH awaiting PUBACK (QoS 1) or PUBREC (QoS 2).
    Publish {
        /// The packet, kept for resending.
        publish: Publish,
        /// Whether it was written on the current connection (a resend then sets DUP).
        sent: bool,
    },
    /// A PUBREL awaiting PUBCOMP.
    PubRel {
        /// The packet identifier.
        message_id: u16,
        /// Whether it was written on the current connection.
        sent: bool,
    },
}

impl Outgoing {
    /// The `mqtt-packet` command name of the packet awaiting an ack.
    pub(crate) fn cmd(&self) -> &'static str {
        match self {
            Outgoing::Publish { .. } => "publish",
            Outgoing::PubRel { .. } => "pubrel",
        }
    }

    fn message_id(&self) -> u16 {
        match self {
            Outgoing::Publish { publish, .. } => publish.message_id,
            Outgoing::PubRel { message_id, .. } => *message_id,
        }
    }

    /// Whether this exchange is a QoS 2 one (a QoS 2 PUBLISH or a PUBREL).
    fn is_qos2(&self) -> bool {
        match self {
            Outgoing::Publish { publish, .. } => publish.qos == QoS::ExactlyOnce,
            Outgoing::PubRel { .. } => true,
        }
    }

    fn is_sent(&self) -> bool {
        match self {
            Outgoing::Publish { sent, .. } | Outgoing::PubRel { sent, .. } => *sent,
        }
    }

    fn set_sent(&mut self, value: bool) {
        match self {
            Outgoing::Publish { sent, .. } | Outgoing::PubRel { sent, .. } => *sent = value,
        }
    }

    /// The packet to write for this entry on a new connection: PUBLISH with DUP set
    /// (MQTT 5 §3.3.1.1), PUBREL as it was.
    fn resend_packet(&self) -> Packet {
        match self {
            Outgoing::Publish { publish, .. } => {
                let mut copy = publish.clone();
                copy.dup = true;
                Packet::Publish(copy)
            }
            Outgoing::PubRel { message_id, .. } => Packet::Pubrel(Ack {
                message_id: *message_id,
                reason_code: 0,
                properties: Default::default(),
            }),
        }
    }
}

/// Exchanges in send order. Windows are small (a Receive Maximum), so a linear scan is cheaper
/// than hashing.
#[derive(Debug, Default)]
pub(crate) struct Inflight {
    entries: VecDeque<Outgoing>,
    /// Entries not written on the current connection.
    unsent: usize,
    /// QoS 2 entries written on the current connection.
    sent_qos2: usize,
}

impl Inflight {
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Entries written on the current connection: what counts against the window.
    pub(crate) fn sent_len(&self) -> usize {
        self.entries.len() - self.unsent
    }

    /// QoS 2 entries written on the current connection (see `SessionOptions::max_inflight_qos2`).
    pub(crate) fn sent_qos2_len(&self) -> usize {
        self.sent_qos2
    }

    pub(crate) fn contains(&self, message_id: u16) -> bool {
        self.position(message_id).is_some()
    }

    pub(crate) fn get(&self, message_id: u16) -> Option<&Outgoing> {
        self.position(message_id).and_then(|i| self.entries.get(i))
    }

    /// A PUBLISH written now.
    pub(crate) fn insert(&mut self, publish: Publish) {
        if publish.qos == QoS::ExactlyOnce {
            self.sent_qos2 += 1;
        }
        self.entries.push_back(Outgoing::Publish {
            publish,
            sent: true,
        });
    }

    /// A PUBREL awaiting PUBCOMP, restored from a store; `sent` says whether it is written now.
    pub(crate) fn insert_pubrel(&mut self, message_id: u16, sent: bool) {
        if sent {
            self.sent_qos2 += 1;
        } else {
            self.unsent += 1;
        }
        self.entries
            .push_back(Outgoing::PubRel { message_id, sent });
    }

    pub(crate) fn remove(&mut self, message_id: u16) -> Option<Outgoing> {
        let removed = self
            .position(message_id)
            .and_then(|i| self.entries.remove(i));
        match &removed {
            Some(e) if !e.is_sent() => self.unsent -= 1,
            Some(e) if e.is_qos2() => self.sent_qos2 -= 1,
            _ => {}
        }
        removed
    }

    /// PUBREC arrived: the exchange now awaits PUBCOMP, keeping its place in the order (and the
    /// PUBREL is written now).
    pub(crate) fn replace_with_pubrel(&mut self, message_id: u16) {
        if let Some(i) = self.position(message_id) {
            if let Some(entry) = self.entries.get_mut(i) {
                if !entry.is_sent() {
                    self.unsent -= 1;
                }
                if !(entry.is_sent() && entry.is_qos2()) {
                    self.sent_qos2 += 1;
                }
                *entry = Outgoing::PubRel {
                    message_id,
                    sent: true,
                };
            }
        }
    }

    /// The connection is gone: nothing is written on the next one yet.
    pub(crate) fn mark_all_unsent(&mut self) {
        for entry in &mut self.entries {
            entry.set_sent(false);
        }
        self.unsent = self.entries.len();
        self.sent_qos2 = 0;
    }

    /// The next entry to resend on this connection, in order, marked as sent: its packet.
    pub(crate) fn resend_next(&mut self) -> Option<Packet> {
        if self.unsent == 0 {
            return None;
        }
        let entry = self.entries.iter_mut().find(|e| !e.is_sent())?;
        entry.set_sent(true);
        self.unsent -= 1;
        if entry.is_qos2() {
            self.sent_qos2 += 1;
        }
        Some(entry.resend_packet())
    }

    pub(crate) fn drain_ids(&mut self) -> Vec<u16> {
        self.unsent = 0;
        self.sent_qos2 = 0;
        self.entries.drain(..).map(|e| e.message_id()).collect()
    }

    /// The entries, in send order (for statistics).
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Outgoing> {
        self.entries.iter()
    }

    fn position(&self, message_id: u16) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.message_id() == message_id)
    }
}
