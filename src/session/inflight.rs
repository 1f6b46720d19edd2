//! The outgoing in-flight table: QoS 1/2 publishes and PUBRELs awaiting acks, in send order.

use std::collections::VecDeque;

use crate::codec::{Ack, Packet, Publish};

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
            Outgoing::PubRel { message_id } => *message_id,
        }
    }
}

/// Exchanges in send order. Windows are small (a Receive Maximum), so a linear scan is cheaper
/// than hashing.
#[derive(Debug, Default)]
pub(crate) struct Inflight {
    entries: VecDeque<Outgoing>,
}

impl Inflight {
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn contains(&self, message_id: u16) -> bool {
        self.position(message_id).is_some()
    }

    pub(crate) fn get(&self, message_id: u16) -> Option<&Outgoing> {
        self.position(message_id).and_then(|i| self.entries.get(i))
    }

    pub(crate) fn insert(&mut self, publish: Publish) {
        self.entries.push_back(Outgoing::Publish {
            publish,
            sent: true,
        });
    }

    /// A PUBREL awaiting PUBCOMP, restored from an application store.
    pub(crate) fn insert_pubrel(&mut self, message_id: u16) {
        self.entries.push_back(Outgoing::PubRel { message_id });
    }

    pub(crate) fn remove(&mut self, message_id: u16) -> Option<Outgoing> {
        self.position(message_id)
            .and_then(|i| self.entries.remove(i))
    }

    /// PUBREC arrived: the exchange now awaits PUBCOMP, keeping its place in the order.
    pub(crate) fn replace_with_pubrel(&mut self, message_id: u16) {
        if let Some(entry) = self
            .position(message_id)
            .and_then(|i| self.entries.get_mut(i))
        {
            *entry = Outgoing::PubRel { message_id };
        }
    }

    pub(crate) fn mark_all_unsent(&mut self) {
        for entry in &mut self.entries {
            if let Outgoing::Publish { sent, .. } = entry {
                *sent = false;
            }
        }
    }

    /// The packets to resend on a new connection, in order: PUBLISH with DUP set
    /// (MQTT 5 §3.3.1.1) and PUBREL as they were.
    pub(crate) fn resend_packets(&mut self) -> Vec<Packet> {
        let mut packets = Vec::with_capacity(self.entries.len());
        for entry in &mut self.entries {
            match entry {
                Outgoing::Publish { publish, sent } => {
                    let mut copy = publish.clone();
                    copy.dup = true;
                    *sent = true;
                    packets.push(Packet::Publish(copy));
                }
                Outgoing::PubRel { message_id } => packets.push(Packet::Pubrel(Ack {
                    message_id: *message_id,
                    reason_code: 0,
                    properties: Default::default(),
                })),
            }
        }
        packets
    }

    pub(crate) fn drain_ids(&mut self) -> Vec<u16> {
        self.entries.drain(..).map(|e| e.message_id()).collect()
    }

    fn position(&self, message_id: u16) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.message_id() == message_id)
    }
}
