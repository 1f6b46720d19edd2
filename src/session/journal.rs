//! What the session tells a persistence layer, so that its QoS 1/2 state can outlive the process.
//!
//! The session stays sans-I/O: it only reports each change of its durable state through a
//! [`Journal`], in order, and asks the journal to get what it was told into its file before any
//! packet that depends on it is handed to the driver ([`Journal::write_ahead`], called from
//! [`Session::poll_transmit`](super::Session::poll_transmit)). `crate::persist` implements it.

use crate::codec::Publish;

/// One change of the state that must survive a crash of the process.
#[derive(Debug, Clone, Copy)]
pub enum JournalEntry<'a> {
    /// An outgoing QoS 1/2 publish was accepted; it is resent until acknowledged (MQTT 5 §4.4).
    Publish(&'a Publish),
    /// The oldest outgoing publish recorded without a packet identifier (`Publish` with
    /// identifier 0) was given this one as it was first sent; it keeps it from now on, also when
    /// resent after a restart (MQTT 5 §2.2.1, §4.4).
    Numbered(u16),
    /// An outgoing QoS 2 exchange reached PUBREL: the broker has the message; from now on only
    /// PUBREL is resent, never the PUBLISH (MQTT 5 §4.3.3).
    PubRel(u16),
    /// An outgoing exchange is over (PUBACK, PUBCOMP, a failed PUBREC) or was dropped.
    Done(u16),
    /// An inbound QoS 2 PUBLISH was received and will be answered with PUBREC; it is delivered
    /// when PUBREL arrives, also after a restart (MQTT 5 §4.3.3, method B).
    Incoming(&'a Publish),
    /// An inbound QoS 2 message was released by PUBREL (delivered) or refused.
    IncomingDone(u16),
    /// The broker has no session for us: every inbound QoS 2 exchange is forgotten.
    IncomingCleared,
}

/// Where the session records its durable state. Calls come in the order of the changes.
pub trait Journal: Send + std::fmt::Debug {
    /// Records one change. Must be cheap: it is on the publish path.
    fn record(&mut self, entry: JournalEntry<'_>);
    /// Makes sure every change recorded so far reaches the journal's file before the packets
    /// queued after it are written to the network (write-ahead).
    fn write_ahead(&mut self);
}
