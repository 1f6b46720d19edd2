//! The client protocol state machine, sans-I/O.
//!
//! Design: a [`Session`] lives as long as the JavaScript client and outlives its connections.
//! The driver calls [`Session::start_connection`] for each new transport, feeds it every decoded
//! packet through [`Session::handle_packet`], writes out whatever [`Session::poll_transmit`]
//! yields, sleeps until [`Session::poll_timeout`] and then calls [`Session::handle_timeout`],
//! and reports the end of a transport with [`Session::handle_close`]. The application's commands
//! ([`Session::publish`], [`Session::subscribe`], …) may arrive at any time, connected or not.
//! Everything the application must hear about is queued as an [`Event`] and taken with
//! [`Session::poll_event`]. Time is passed in; the session never reads a clock, never touches a
//! socket and never allocates per byte.
//!
//! What the session owns: the outgoing in-flight table of QoS 1/2 publishes (kept across
//! connections and resent with their original packet identifiers, MQTT 5 §4.4), the flow-control
//! window (never more QoS 1/2 publishes in flight than the broker's Receive Maximum or the
//! configured window, MQTT 5 §4.9), inbound QoS 2 packets awaiting PUBREL (§4.3.3), inbound topic
//! aliases (§3.3.2.3.4), and the keepalive and CONNACK deadlines (§3.1.2.10). Packet identifiers
//! are chosen by the caller (MQTT.js lets the application supply its own allocator), or, for a
//! QoS 1/2 publish accepted with identifier 0, by the session when the publish is first sent:
//! an identifier is in use only while its exchange is in flight (MQTT 5 §2.2.1, MQTT 3.1.1
//! §2.3.1), so any number of publishes may wait behind the flow-control window.
//!
//! Persistence stays outside: with a [`Journal`] set, the session reports every change of its
//! durable state (QoS 1/2 publish accepted, PUBREL stage, exchange done, inbound QoS 2 received
//! or released) and asks the journal to write it ahead of the packets that depend on it, in
//! [`Session::poll_transmit`]. State from an earlier run is put back with
//! [`Session::restore_publish`], [`Session::restore_pubrel`] and [`Session::restore_incoming`].
//! The incoming size bound ([`Session::set_max_incoming_packet_size`]) reaches the decoder
//! through [`Session::limits`].

mod event;
mod inflight;
mod journal;
mod keepalive;
#[doc(hidden)]
pub mod sim;
mod stats;
mod topic_alias;

pub use event::{AckKind, AppAck, Event, SessionError};
pub use journal::{Journal, JournalEntry};
pub use stats::{Counters, Gauge, Statistics};

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use bytes::{BufMut, BytesMut};

use crate::codec::{
    self, Ack, ConnAck, Connect, Disconnect, Limits, Packet, Properties, ProtocolVersion, Publish,
    QoS, Subscribe, Unsubscribe,
};
use inflight::{Inflight, Outgoing};
use keepalive::Keepalive;
use topic_alias::{without_alias, OutgoingAliases};

/// The default largest incoming packet, 16 MiB: far above what brokers are configured to carry
/// in practice (EMQX defaults to 1 MB, AWS IoT Core and Azure IoT Hub cap messages at 128 KiB and
/// 256 KiB) and far below the 256 MiB the protocol allows, so that a broker cannot make the
/// client buffer a quarter of a gigabyte per connection.
pub const DEFAULT_MAX_INCOMING_PACKET_SIZE: u32 = 16 * 1024 * 1024;

/// Settings that hold for every connection of a session.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// How long to wait for CONNACK after the transport is up (`connectTimeout`).
    pub connect_timeout: Duration,
    /// Restart the keepalive countdown when acks arrive (`reschedulePings`).
    pub reschedule_pings: bool,
    /// The most QoS 1/2 publishes in flight when the broker sets no Receive Maximum
    /// (always the case before MQTT 5).
    pub max_inflight: u16,
    /// With this many QoS 2 exchanges in flight (PUBLISH awaiting PUBREC, PUBREL awaiting
    /// PUBCOMP), no publish is sent until one completes. mosquitto 2.0 counts a client's open
    /// QoS 2 exchanges against its receive quota (`max_inflight_messages`, 20 by default) and,
    /// with the quota used up, acknowledges a QoS 1 or 2 publish and drops it, which an MQTT
    /// 3.1.1 client is never told (measured: one QoS 1 message lost after every 20 QoS 2), so a
    /// window that suits QoS 1 would lose messages there.
    pub max_inflight_qos2: u16,
    /// Report every packet sent and received as an event (`packetsend`/`packetreceive` listeners).
    pub packet_events: bool,
    /// Let the application send PUBACK/PUBREC/PUBCOMP through [`Session::acknowledge`] once it
    /// is done with a message (MQTT.js `handleMessage` back-pressure, `customHandleAcks`).
    /// Otherwise the session acknowledges at once.
    pub app_acks: bool,
    /// Report each successful PUBREC as [`AckKind::PubRecReceived`], so that an application
    /// store can replace the stored PUBLISH with its PUBREL (MQTT.js `outgoingStore`).
    pub report_pubrec: bool,
    /// MQTT 5: send a registered topic as its alias (MQTT.js `autoUseTopicAlias`).
    pub auto_use_topic_alias: bool,
    /// MQTT 5: give topics aliases automatically (MQTT.js `autoAssignTopicAlias`).
    pub auto_assign_topic_alias: bool,
    /// Report the received packets that restart the keepalive countdown as
    /// [`Event::KeepaliveRestart`], for an application that runs the keepalive timers itself
    /// (the JavaScript shim, so that fake clocks drive them as they drive MQTT.js's).
    pub report_keepalive: bool,
    /// The application runs the `connectTimeout` timer itself and calls
    /// [`Session::expire_connect`] when it fires (the JavaScript shim, so that fake clocks
    /// drive it as they drive MQTT.js's): no CONNACK deadline of the session's own.
    pub external_connect_timer: bool,
}

impl SessionOptions {
    /// The window and its QoS 2 limit where the broker sets no Receive Maximum.
    fn own_windows(&self) -> (u16, u16) {
        let window = self.max_inflight.max(1);
        (window, self.max_inflight_qos2.clamp(1, window))
    }
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            connect_timeout: Duration::from_secs(30),
            reschedule_pings: true,
            // MQTT 3.1.1 sets no limit and MQTT.js keeps none; 1,000 keeps a QoS 1 publisher's
            // acknowledgements piling up at the broker as MQTT.js's do (BENCHMARKS.md, "A window
            // of 1,000"), and still bounds what a reconnect resends.
            max_inflight: 1000,
            max_inflight_qos2: 20,
            packet_events: false,
            app_acks: false,
            report_pubrec: false,
            auto_use_topic_alias: false,
            auto_assign_topic_alias: false,
            report_keepalive: false,
            external_connect_timer: false,
        }
    }
}

/// Where the current connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No transport.
    Offline,
    /// CONNECT sent, waiting for CONNACK until the deadline (none when the application keeps
    /// the time: [`SessionOptions::external_connect_timer`]).
    AwaitingConnAck { deadline: Option<Instant> },
    /// CONNACK accepted.
    Connected,
    /// The session asked the driver to drop the transport (after a protocol error or a refused
    /// CONNACK); nothing more is sent or handled.
    Closing,
}

/// An outgoing QoS 1/2 publish waiting for room in the window.
#[derive(Debug)]
struct Waiting {
    /// The publish, with its full topic.
    publish: Publish,
    /// Whether the application sent it as an alias alone (empty topic), which is how it goes on
    /// the wire the first time.
    alias_only: bool,
    /// For a publish accepted without an identifier: report the one it gets with
    /// [`Event::Numbered`] (the caller did not learn it from [`Session::publish`]).
    announce: bool,
}

/// The client side of an MQTT session. See the module documentation.
#[derive(Debug)]
pub struct Session {
    options: SessionOptions,
    version: ProtocolVersion,
    phase: Phase,
    /// Encoded packets waiting to be written.
    outbox: BytesMut,
    /// Outgoing QoS 1/2 publishes and PUBRELs awaiting their acks, in send order.
    inflight: Inflight,
    /// Outgoing QoS 1/2 publishes waiting for room in the window, in call order.
    waiting: VecDeque<Waiting>,
    /// The message ids in `waiting`, to refuse a duplicate without a scan.
    waiting_ids: HashSet<u16>,
    /// Packet identifiers of SUBSCRIBE/UNSUBSCRIBE awaiting SUBACK/UNSUBACK.
    pending_acks: HashMap<u16, AckKind>,
    /// Inbound QoS 2 publishes received (and acknowledged with PUBREC, or about to be), delivered
    /// on PUBREL.
    incoming_qos2: HashMap<u16, Publish>,
    /// Inbound packets handed to the application whose acks it has not sent yet, on this
    /// connection.
    awaiting_app: HashMap<u16, AppAck>,
    /// Inbound topic aliases of the current connection (MQTT 5 §3.3.2.3.4).
    topic_aliases: HashMap<u16, String>,
    /// The Topic Alias Maximum we announced in CONNECT (0: none accepted).
    topic_alias_maximum: u16,
    /// Outgoing topic aliases of the current connection.
    outgoing_aliases: OutgoingAliases,
    /// The Receive Maximum we announced in CONNECT (65,535 when absent; MQTT 5 §3.1.2.11.3).
    receive_maximum: u16,
    /// The window of the current connection.
    window: u16,
    /// The QoS 2 exchanges in flight that stop all sending on the current connection.
    qos2_window: u16,
    /// Publishes are not resent (nor sent) after CONNACK until [`Session::hold_resend`] is
    /// lifted: the client subscribes again first.
    resend_held: bool,
    keepalive: Keepalive,
    /// Decoder limits of the current connection (our Maximum Packet Size).
    limits: Limits,
    /// The largest incoming packet accepted on every connection, whatever the protocol version
    /// (our `maxIncomingPacketSize`); MQTT 5's announced Maximum Packet Size replaces it.
    max_incoming_packet_size: u32,
    /// Where the durable state goes, when persistence is on.
    journal: Option<Box<dyn Journal>>,
    events: VecDeque<Event>,
    /// Where the search for a free packet identifier starts (see [`Session::next_message_id`]).
    next_id: u16,
    /// The identifier most recently given to a publish accepted without one.
    last_numbered: u16,
    /// Messages and bytes sent and received (`client.getStatistics()`).
    counters: stats::Counters,
}

impl Session {
    /// A session with no connection yet.
    pub fn new(version: ProtocolVersion, options: SessionOptions) -> Self {
        let (window, qos2_window) = options.own_windows();
        let outgoing_aliases = OutgoingAliases::new(
            options.auto_use_topic_alias,
            options.auto_assign_topic_alias,
        );
        Session {
            options,
            version,
            phase: Phase::Offline,
            outbox: BytesMut::new(),
            inflight: Inflight::default(),
            waiting: VecDeque::new(),
            waiting_ids: HashSet::new(),
            pending_acks: HashMap::new(),
            incoming_qos2: HashMap::new(),
            awaiting_app: HashMap::new(),
            topic_aliases: HashMap::new(),
            topic_alias_maximum: 0,
            outgoing_aliases,
            receive_maximum: u16::MAX,
            window,
            qos2_window,
            resend_held: false,
            keepalive: Keepalive::new(0),
            limits: Limits::default(),
            max_incoming_packet_size: DEFAULT_MAX_INCOMING_PACKET_SIZE,
            journal: None,
            events: VecDeque::new(),
            next_id: 1,
            last_numbered: 0,
            counters: stats::Counters::default(),
        }
    }

    /// Starts recording the durable state (outgoing QoS 1/2 publishes and PUBREL stages, inbound
    /// QoS 2 messages) in `journal`. State restored from an earlier run must be put back first
    /// ([`Session::restore_publish`], [`Session::restore_pubrel`],
    /// [`Session::restore_incoming`]), so that it is not recorded twice.
    pub fn set_journal(&mut self, journal: Box<dyn Journal>) {
        self.journal = Some(journal);
    }

    /// Stops recording: hands the journal back (to be dropped, which closes its log).
    pub fn take_journal(&mut self) -> Option<Box<dyn Journal>> {
        self.journal.take()
    }

    /// Whether a journal records this session.
    pub fn has_journal(&self) -> bool {
        self.journal.is_some()
    }

    fn record(&mut self, entry: JournalEntry<'_>) {
        if let Some(journal) = self.journal.as_mut() {
            journal.record(entry);
        }
    }

    /// Puts back an outgoing QoS 1/2 publish of an earlier run (persistence): it waits, after
    /// those put back before it, and is sent with its identifier and DUP set once a connection
    /// and the window allow (MQTT 5 §4.4). Returns false when the id is zero or in use.
    ///
    /// A publish with identifier 0 was never sent (it had not been given one): it waits without
    /// DUP and is numbered when first sent, announced with [`Event::Numbered`].
    pub fn restore_publish(&mut self, mut publish: Publish) -> bool {
        let id = publish.message_id;
        if publish.qos == QoS::AtMostOnce
            || (id != 0 && (self.inflight.contains(id) || self.waiting_ids.contains(&id)))
        {
            return false;
        }
        if id != 0 {
            // It may have been sent before the crash (MQTT 5 §3.3.1.1).
            publish.dup = true;
            self.waiting_ids.insert(id);
        }
        self.waiting.push_back(Waiting {
            publish,
            alias_only: false,
            announce: true,
        });
        self.fill_window();
        true
    }

    /// Puts back an inbound QoS 2 message of an earlier run (persistence), acknowledged with
    /// PUBREC and awaiting PUBREL. Returns false when the id is already held.
    pub fn restore_incoming(&mut self, publish: Publish) -> bool {
        if publish.qos != QoS::ExactlyOnce || self.incoming_qos2.contains_key(&publish.message_id) {
            return false;
        }
        self.incoming_qos2.insert(publish.message_id, publish);
        true
    }

    /// Sets the largest incoming packet (fixed header included) accepted from the next
    /// connection on, for every protocol version. An MQTT 5 CONNECT that announces a Maximum
    /// Packet Size (MQTT 5 §3.1.2.11.4) overrides it for that connection. Zero is refused.
    pub fn set_max_incoming_packet_size(&mut self, max: u32) -> Result<(), SessionError> {
        if max == 0 {
            return Err(SessionError::invalid(
                "maxIncomingPacketSize must be at least 1 byte",
            ));
        }
        self.max_incoming_packet_size = max;
        Ok(())
    }

    /// The protocol version of this session.
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// Whether CONNACK has accepted the current connection.
    pub fn is_connected(&self) -> bool {
        self.phase == Phase::Connected
    }

    /// Whether the session wants the driver to drop the transport.
    pub fn wants_close(&self) -> bool {
        self.phase == Phase::Closing
    }

    /// How long a connection attempt may take until CONNACK.
    pub fn connect_timeout(&self) -> std::time::Duration {
        self.options.connect_timeout
    }

    /// The `connectTimeout` the driver counts for an attempt, or none when the application
    /// keeps the time ([`SessionOptions::external_connect_timer`]).
    pub fn connect_deadline(&self) -> Option<std::time::Duration> {
        (!self.options.external_connect_timer).then_some(self.options.connect_timeout)
    }

    /// The decoder limits for the current connection.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Chooses who sends the acks of inbound messages (see [`SessionOptions::app_acks`]).
    pub fn set_app_acks(&mut self, on: bool) {
        self.options.app_acks = on;
    }

    /// Turns `packetsend`/`packetreceive` events on or off.
    pub fn set_packet_events(&mut self, on: bool) {
        self.options.packet_events = on;
    }

    /// Number of QoS 1/2 publishes in flight or waiting for the window.
    pub fn outgoing_len(&self) -> usize {
        self.inflight.len() + self.waiting.len()
    }

    /// Starts a new connection: queues CONNECT (and the optional first AUTH) and arms the CONNACK
    /// deadline. Packets left unsent by the previous connection are dropped; in-flight publishes
    /// stay and are resent once CONNACK arrives.
    pub fn start_connection(
        &mut self,
        connect: Connect,
        auth: Option<codec::Auth>,
        now: Instant,
    ) -> Result<(), SessionError> {
        self.outbox.clear();
        self.pending_acks.clear();
        self.awaiting_app.clear();
        self.topic_aliases.clear();
        self.topic_alias_maximum = if self.version.is_v5() {
            connect.properties.topic_alias_maximum.unwrap_or(0)
        } else {
            0
        };
        self.keepalive = Keepalive::new(connect.keepalive);
        self.receive_maximum = match connect.properties.receive_maximum {
            Some(max) if connect.protocol_version.is_v5() && max > 0 => max,
            _ => u16::MAX,
        };
        self.limits = Limits {
            max_packet_size: self.max_incoming_packet_size,
        };
        if let (true, Some(max)) = (
            connect.protocol_version.is_v5(),
            connect.properties.maximum_packet_size,
        ) {
            // MQTT 5 §3.1.2.11.4: we told the server the largest packet we accept.
            self.limits.max_packet_size = max;
        }
        self.version = connect.protocol_version;
        self.phase = Phase::AwaitingConnAck {
            deadline: self.connect_deadline().map(|timeout| now + timeout),
        };
        self.send(Packet::Connect(connect))?;
        if let Some(auth) = auth {
            self.send(Packet::Auth(auth))?;
        }
        Ok(())
    }

    /// Takes the bytes to write, if any, appending them to `out`. Returns whether anything was
    /// appended.
    pub fn poll_transmit(&mut self, out: &mut BytesMut) -> bool {
        if self.outbox.is_empty() {
            return false;
        }
        // Write-ahead: what the broker is about to see is in the journal's file first.
        if let Some(journal) = self.journal.as_mut() {
            journal.write_ahead();
        }
        if out.is_empty() {
            std::mem::swap(out, &mut self.outbox);
        } else {
            // Taken whole, so that the outbox shares no allocation with bytes already copied.
            out.put(std::mem::take(&mut self.outbox));
        }
        true
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Session::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::AwaitingConnAck { deadline } => deadline,
            Phase::Connected => self.keepalive.next_deadline(),
            Phase::Offline | Phase::Closing => None,
        }
    }

    /// Acts on deadlines that have passed: sends PINGREQ, or gives up on a silent broker.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.phase {
            Phase::AwaitingConnAck {
                deadline: Some(deadline),
            } if now >= deadline => {
                self.fail(SessionError::timeout("connack timeout"));
            }
            Phase::Connected => match self.keepalive.on_timeout(now) {
                keepalive::Action::None => {}
                keepalive::Action::SendPing => {
                    let _ = self.send(Packet::Pingreq);
                }
                keepalive::Action::TimedOut => {
                    self.fail(SessionError::timeout("Keepalive timeout"))
                }
            },
            _ => {}
        }
    }

    /// The application's `connectTimeout` timer fired ([`SessionOptions::external_connect_timer`]):
    /// fails with 'connack timeout' and closes, as the session's own deadline does. MQTT.js's
    /// timer callback does the same whatever the state, and a fake clock whose `clearTimeout`
    /// is the real one leaves it running past CONNACK: so a connection already open ends the
    /// same way. Offline or closing, nothing happens.
    pub fn expire_connect(&mut self) {
        if matches!(self.phase, Phase::AwaitingConnAck { .. } | Phase::Connected) {
            self.fail(SessionError::timeout("connack timeout"));
        }
    }

    /// Holds (`true`) or lifts (`false`) the sending of QoS 1/2 publishes, those resent from an
    /// earlier connection included, once CONNACK arrives.
    ///
    /// A client whose broker kept no session subscribes again after reconnecting; a broker
    /// routes a PUBLISH to the subscriptions that exist when it arrives (MQTT 5 §4.5), so a
    /// client subscribed to its own topic must have its SUBSCRIBE ahead of the resent
    /// publishes, or it never hears them. The shim holds before each attempt that may need it,
    /// and lifts as soon as it has subscribed again after CONNACK (or found it needs not).
    pub fn hold_resend(&mut self, hold: bool) {
        self.resend_held = hold;
        if !hold {
            self.fill_window();
        }
    }

    /// The transport has closed. In-flight publishes are kept for the next connection.
    pub fn handle_close(&mut self) {
        self.phase = Phase::Offline;
        self.outbox.clear();
        self.pending_acks.clear();
        self.topic_aliases.clear();
        // Packets that were sent but not yet acknowledged go back to "not sent on this
        // connection"; they are resent after the next CONNACK (MQTT 5 §4.4).
        self.inflight.mark_all_unsent();
    }

    /// Handles one packet from the broker at time `now`.
    pub fn handle_packet(&mut self, packet: Packet, now: Instant) {
        if self.phase == Phase::Closing || self.phase == Phase::Offline {
            return;
        }
        if self.options.packet_events {
            self.events.push_back(Event::PacketReceived(packet.clone()));
        }
        match packet {
            Packet::Connack(ack) => self.handle_connack(ack, now),
            _ if !matches!(self.phase, Phase::Connected) => {
                // MQTT 5 §3.2: the first packet from the server must be CONNACK (AUTH aside).
                if let Packet::Auth(auth) = packet {
                    self.events.push_back(Event::Auth(auth));
                } else {
                    self.fail(SessionError::protocol(format!(
                        "Protocol error: received {} before CONNACK",
                        packet.cmd()
                    )));
                }
            }
            Packet::Publish(publish) => self.handle_publish(publish),
            Packet::Puback(ack) => {
                self.on_keepalive_ack(now);
                self.handle_puback(ack);
            }
            Packet::Pubrec(ack) => {
                self.on_keepalive_ack(now);
                self.handle_pubrec(ack);
            }
            Packet::Pubcomp(ack) => {
                self.on_keepalive_ack(now);
                self.handle_pubcomp(ack);
            }
            Packet::Pubrel(ack) => {
                self.on_keepalive_ack(now);
                self.handle_pubrel(ack);
            }
            Packet::Suback(ack) => {
                self.on_keepalive_ack(now);
                self.complete_request(ack.message_id, AckKind::SubAck, Packet::Suback(ack));
            }
            Packet::Unsuback(ack) => {
                self.on_keepalive_ack(now);
                self.complete_request(ack.message_id, AckKind::UnsubAck, Packet::Unsuback(ack));
            }
            Packet::Pingresp => {
                self.keepalive.on_pingresp(now);
                self.report_keepalive(true);
            }
            Packet::Disconnect(disconnect) => self.events.push_back(Event::Disconnect(disconnect)),
            Packet::Auth(auth) => {
                self.on_keepalive_ack(now);
                self.events.push_back(Event::Auth(auth));
            }
            Packet::Connect(_)
            | Packet::Subscribe(_)
            | Packet::Unsubscribe(_)
            | Packet::Pingreq => {
                // MQTT 5 §3.1, §3.8, §3.10, §3.12: these only travel from client to server.
                self.fail(SessionError::protocol(format!(
                    "Protocol error: a server must not send {}",
                    packet_name(&packet)
                )));
            }
        }
    }

    /// The topic an outgoing Topic Alias stands for: in the current connection's table, or
    /// offline in the last connection's (MQTT.js restores offline publishes from it).
    pub fn topic_of_alias(&self, alias: u16) -> Option<String> {
        self.outgoing_aliases.topic_of(alias).map(str::to_string)
    }

    /// Publishes a message. QoS 0 needs a connection (the caller queues offline QoS 0 itself);
    /// QoS 1/2 are accepted at any time and sent as soon as a connection and the window allow.
    ///
    /// A QoS 1/2 publish with identifier 0 is numbered by the session when it is first sent
    /// (MQTT 5 §2.2.1: an identifier is taken by a PUBLISH that is sent, and free again once its
    /// exchange completes), so publishes waiting for the window hold none. Returns the
    /// identifier the publish went out with when it was written now, and 0 when it waits (a
    /// numbered one is then announced with [`Event::Numbered`]) and for QoS 0.
    pub fn publish(&mut self, mut publish: Publish) -> Result<u16, SessionError> {
        if !self.version.is_v5() {
            // MQTT.js drops properties for MQTT 3.x rather than failing the publish.
            publish.properties = Default::default();
        }
        let mut alias_only = publish.topic.is_empty();
        if self.is_connected() {
            self.outgoing_aliases.resolve(&mut publish)?;
        } else if let Some(alias) = publish.properties.topic_alias {
            // Aliases belong to a connection (MQTT 5 §3.3.2.3.4): offline, an alias-only
            // publish gets its topic back from the last connection's table, and the alias is
            // dropped, as MQTT.js stores offline publishes.
            if publish.topic.is_empty() {
                match self.outgoing_aliases.topic_of(alias) {
                    Some(topic) => publish.topic = topic.to_string(),
                    None => return Err(SessionError::invalid("Unregistered Topic Alias")),
                }
            }
            publish.properties.topic_alias = None;
            alias_only = false;
        }
        match publish.qos {
            QoS::AtMostOnce => {
                if !self.is_connected() {
                    return Err(SessionError::not_connected());
                }
                publish.message_id = 0;
                let wire = if self.outgoing_aliases.is_active() {
                    self.outgoing_aliases.wire(&publish, alias_only)
                } else {
                    without_alias(publish)
                };
                let payload = wire.payload.len();
                self.send(Packet::Publish(wire))?;
                self.counters.on_sent(QoS::AtMostOnce, payload);
                Ok(0)
            }
            QoS::AtLeastOnce | QoS::ExactlyOnce => {
                let id = publish.message_id;
                if id != 0 && (self.inflight.contains(id) || self.waiting_ids.contains(&id)) {
                    return Err(SessionError::invalid(format!(
                        "message id {} is already in use",
                        publish.message_id
                    )));
                }
                // Validate now, so that the caller hears about an unencodable packet at once
                // (an unnumbered one as it will be sent, with some identifier).
                publish.message_id = id.max(1);
                let packet = Packet::Publish(publish);
                codec::encoded_len(&packet, self.version)
                    .map_err(|e| SessionError::invalid(e.message().to_string()))?;
                let Packet::Publish(mut publish) = packet else {
                    return Err(SessionError::invalid("not a PUBLISH"));
                };
                publish.message_id = id;
                self.record(JournalEntry::Publish(&publish));
                if id != 0 {
                    self.waiting_ids.insert(id);
                }
                self.waiting.push_back(Waiting {
                    publish,
                    alias_only,
                    announce: false,
                });
                self.fill_window();
                if id != 0 {
                    return Ok(if self.waiting_ids.contains(&id) {
                        0
                    } else {
                        id
                    });
                }
                match self.waiting.back_mut() {
                    // Still waiting (it is the newest): its identifier comes with an event.
                    Some(waiting) => {
                        waiting.announce = true;
                        Ok(0)
                    }
                    None => Ok(self.last_numbered),
                }
            }
        }
    }

    /// A packet identifier not in use now (no QoS 1/2 exchange in flight or waiting with it, no
    /// SUBSCRIBE or UNSUBSCRIBE awaiting its ack; MQTT 5 §2.2.1), for a request the caller is
    /// about to make; the search goes round from the last one handed out, so identifiers are
    /// not reused sooner than necessary. `None` when all 65,535 are in use.
    pub fn next_message_id(&mut self) -> Option<u16> {
        for _ in 0..u16::MAX {
            let id = self.next_id;
            self.next_id = if id == u16::MAX { 1 } else { id + 1 };
            if !self.inflight.contains(id)
                && !self.waiting_ids.contains(&id)
                && !self.pending_acks.contains_key(&id)
            {
                return Some(id);
            }
        }
        None
    }

    /// The fast path of a QoS 0 publish without properties: encoded straight from the caller's
    /// topic and payload into the outbox. Returns `Ok(false)` when this path does not apply
    /// (packet events on, topic aliases in use) and [`Session::publish`] must be used.
    pub fn publish_qos0(
        &mut self,
        topic: &str,
        payload: &[u8],
        retain: bool,
        dup: bool,
    ) -> Result<bool, SessionError> {
        if !self.is_connected() {
            return Err(SessionError::not_connected());
        }
        if self.options.packet_events || self.outgoing_aliases.is_active() {
            return Ok(false);
        }
        let no_properties = Properties::default();
        let publish = codec::PublishRef {
            dup,
            qos: QoS::AtMostOnce,
            retain,
            topic,
            message_id: 0,
            payload,
            properties: &no_properties,
        };
        codec::encode_publish(&publish, self.version, &mut self.outbox)
            .map_err(|e| SessionError::invalid(e.message().to_string()))?;
        self.counters.on_sent(QoS::AtMostOnce, payload.len());
        Ok(true)
    }

    /// Sends SUBSCRIBE; needs a connection.
    pub fn subscribe(&mut self, subscribe: Subscribe) -> Result<(), SessionError> {
        self.request(Packet::Subscribe(subscribe), AckKind::SubAck)
    }

    /// Sends UNSUBSCRIBE; needs a connection.
    pub fn unsubscribe(&mut self, unsubscribe: Unsubscribe) -> Result<(), SessionError> {
        self.request(Packet::Unsubscribe(unsubscribe), AckKind::UnsubAck)
    }

    /// Sends DISCONNECT; the caller closes the transport once it is written.
    pub fn disconnect(&mut self, disconnect: Disconnect) -> Result<(), SessionError> {
        if self.phase == Phase::Offline {
            return Err(SessionError::not_connected());
        }
        self.send(Packet::Disconnect(disconnect))
    }

    /// Whether the QoS 1/2 publish `message_id` waits to be written (offline, or beyond the
    /// flow-control window, MQTT 5 §4.9) rather than being in flight.
    pub fn is_waiting(&self, message_id: u16) -> bool {
        self.waiting_ids.contains(&message_id)
    }

    /// Sends a PINGREQ now, outside the keepalive schedule (MQTT.js `sendPing()`; MQTT 5
    /// §3.12.4: a client may send PINGREQ at any time). Needs a connection.
    pub fn ping(&mut self) -> Result<(), SessionError> {
        if self.phase != Phase::Connected {
            return Err(SessionError::not_connected());
        }
        self.send(Packet::Pingreq)
    }

    /// Restarts the keepalive countdown from `now`, as a received ack does (MQTT.js
    /// `KeepaliveManager.reschedule()`); nothing without a connection.
    pub fn reschedule_keepalive(&mut self, now: Instant) {
        if self.phase == Phase::Connected {
            self.keepalive.on_pingresp(now);
        }
    }

    /// Gives up on a silent broker now (MQTT.js `onKeepaliveTimeout()`): the next
    /// [`Session::handle_timeout`] reports 'Keepalive timeout' and closes, as when the session's
    /// own countdown runs out (MQTT 5 §3.1.2.10: one and a half keep alive intervals without a
    /// packet from the server). Nothing without a connection.
    pub fn expire_keepalive(&mut self, now: Instant) {
        if self.phase == Phase::Connected {
            self.keepalive.expire(now);
        }
    }

    /// An ack restarts the session's own countdown with `reschedulePings`, and is reported to
    /// an application that keeps the time itself (MQTT.js restarts its timer on these acks).
    fn on_keepalive_ack(&mut self, now: Instant) {
        self.keepalive.on_ack(now, self.options.reschedule_pings);
        self.report_keepalive(false);
    }

    fn report_keepalive(&mut self, forced: bool) {
        if self.options.report_keepalive {
            self.events.push_back(Event::KeepaliveRestart { forced });
        }
    }

    /// Stops keepalive for the current connection: no PINGREQ and no timeout until the next
    /// CONNECT (MQTT.js `KeepaliveManager.destroy()`).
    pub fn stop_keepalive(&mut self) {
        if self.phase == Phase::Connected {
            self.keepalive = Keepalive::new(0);
        }
    }

    /// Sends an AUTH packet (MQTT 5 enhanced authentication).
    pub fn auth(&mut self, auth: codec::Auth) -> Result<(), SessionError> {
        if self.phase == Phase::Offline {
            return Err(SessionError::not_connected());
        }
        self.send(Packet::Auth(auth))
    }

    /// Takes back a QoS 2 exchange that had reached PUBREL before this session existed (an
    /// application store from an earlier run): PUBREL is sent, now or after the next CONNACK,
    /// and PUBCOMP completes it as usual. Returns false when the id is already in use.
    pub fn restore_pubrel(&mut self, message_id: u16) -> bool {
        if message_id == 0
            || self.inflight.contains(message_id)
            || self.waiting_ids.contains(&message_id)
        {
            return false;
        }
        // Sent now if the window has room, else in its turn (MQTT 5 §4.9).
        let now = self.is_connected() && self.has_room();
        self.inflight.insert_pubrel(message_id, now);
        self.record(JournalEntry::PubRel(message_id));
        if now {
            let _ = self.send(Packet::Pubrel(plain_ack(message_id)));
        }
        true
    }

    /// Forgets an outgoing publish (MQTT.js `removeOutgoingMessage`). Returns whether it was known.
    pub fn remove_outgoing(&mut self, message_id: u16) -> bool {
        if message_id == 0 {
            return false;
        }
        let before = self.waiting.len();
        self.waiting.retain(|w| w.publish.message_id != message_id);
        self.waiting_ids.remove(&message_id);
        let removed = self.inflight.remove(message_id).is_some() || self.waiting.len() != before;
        if removed {
            self.record(JournalEntry::Done(message_id));
            self.fill_window();
        }
        removed
    }

    /// Drops every outgoing publish and inbound QoS 2 state (a clean session that will not be
    /// resumed). Returns the message ids that were dropped.
    pub fn clear_outgoing(&mut self) -> Vec<u16> {
        let mut ids = self.inflight.drain_ids();
        ids.extend(self.waiting.drain(..).map(|w| w.publish.message_id));
        self.waiting_ids.clear();
        self.incoming_qos2.clear();
        if let Some(journal) = self.journal.as_mut() {
            // `Done(0)` ends the oldest publish that was never numbered.
            for id in &ids {
                journal.record(JournalEntry::Done(*id));
            }
            journal.record(JournalEntry::IncomingCleared);
        }
        ids.retain(|id| *id != 0);
        ids
    }

    fn request(&mut self, packet: Packet, kind: AckKind) -> Result<(), SessionError> {
        if !self.is_connected() {
            return Err(SessionError::not_connected());
        }
        let id = match &packet {
            Packet::Subscribe(s) => s.message_id,
            Packet::Unsubscribe(u) => u.message_id,
            _ => 0,
        };
        if id == 0 {
            return Err(SessionError::invalid(
                "a SUBSCRIBE or UNSUBSCRIBE needs a non-zero message id",
            ));
        }
        self.send(packet)?;
        self.pending_acks.insert(id, kind);
        Ok(())
    }

    fn handle_connack(&mut self, ack: ConnAck, now: Instant) {
        if !matches!(self.phase, Phase::AwaitingConnAck { .. }) {
            // MQTT 5 §3.2: the server sends CONNACK once per connection.
            self.fail(SessionError::protocol_code(
                "Protocol error: duplicate CONNACK",
                0x82,
            ));
            return;
        }
        if ack.reason_code != 0 {
            self.phase = Phase::Closing;
            self.events.push_back(Event::ConnAck(ack));
            return;
        }
        self.phase = Phase::Connected;
        if let Some(server_keepalive) = ack.properties.server_keep_alive {
            // MQTT 5 §3.2.2.3.14: the server's keep alive replaces ours.
            self.keepalive = Keepalive::new(server_keepalive);
        }
        self.keepalive.start(now);
        // MQTT 5 §3.2.2.3.8: the broker's Topic Alias Maximum; a fresh table per connection.
        let alias_maximum = if self.version.is_v5() {
            ack.properties.topic_alias_maximum.unwrap_or(0)
        } else {
            0
        };
        self.outgoing_aliases.reset(alias_maximum);
        (self.window, self.qos2_window) = match ack.properties.receive_maximum {
            // The broker's own limit holds for QoS 1 and 2 alike (MQTT 5 §3.2.2.3.3).
            Some(max) if self.version.is_v5() => (max.max(1), max.max(1)),
            _ => self.options.own_windows(),
        };
        if !ack.session_present {
            // MQTT 5 §4.3.3: without a session on the server, half-finished inbound QoS 2
            // exchanges will never see their PUBREL.
            if !self.incoming_qos2.is_empty() {
                self.incoming_qos2.clear();
                self.record(JournalEntry::IncomingCleared);
            }
        }
        self.events.push_back(Event::ConnAck(ack));
        // Resend what was in flight, in order, with the original identifiers (MQTT 5 §4.4), as
        // far as this connection's window allows; fill_window sends the rest as acks arrive.
        self.fill_window();
    }

    fn handle_publish(&mut self, mut publish: Publish) {
        self.counters
            .on_received(publish.qos, publish.payload.len());
        let topic_from_alias = match self.resolve_topic_alias(&mut publish) {
            Ok(from_alias) => from_alias,
            Err(error) => {
                self.fail(error);
                return;
            }
        };
        let id = publish.message_id;
        match publish.qos {
            QoS::AtMostOnce => self.deliver(publish, AppAck::None, topic_from_alias),
            QoS::AtLeastOnce => self.deliver(publish, AppAck::PubAck, topic_from_alias),
            QoS::ExactlyOnce => {
                // MQTT 5 §4.3.3 (method B): keep the message until PUBREL, then deliver it once.
                if self.incoming_qos2.contains_key(&id) {
                    // A resent PUBLISH: answer it again unless the application is still
                    // deciding on the first copy.
                    if self.awaiting_app.get(&id) != Some(&AppAck::PubRec) {
                        let _ = self.send(Packet::Pubrec(plain_ack(id)));
                    }
                    return;
                }
                if self.version.is_v5()
                    && self.incoming_qos2.len() >= usize::from(self.receive_maximum)
                {
                    // MQTT 5 §3.3.4: more unacknowledged QoS 2 publishes than we allowed.
                    self.fail(SessionError::protocol_code(
                        format!(
                            "Receive Maximum exceeded: {} inbound QoS 2 messages in flight, receiveMaximum is {}",
                            self.incoming_qos2.len() + 1,
                            self.receive_maximum
                        ),
                        0x93,
                    ));
                    return;
                }
                self.record(JournalEntry::Incoming(&publish));
                self.incoming_qos2.insert(id, publish.clone());
                self.deliver(publish, AppAck::PubRec, topic_from_alias);
            }
        }
    }

    /// Hands a message to the application with the ack it owes; without application acks, the
    /// session sends that ack itself at once.
    fn deliver(&mut self, publish: Publish, ack: AppAck, topic_from_alias: bool) {
        let id = publish.message_id;
        let acked = !self.options.app_acks && ack != AppAck::None;
        self.events.push_back(Event::Message {
            publish,
            ack,
            acked,
            topic_from_alias,
        });
        if ack == AppAck::None {
            return;
        }
        self.awaiting_app.insert(id, ack);
        if acked {
            self.acknowledge(ack, id, 0);
        }
    }

    /// The application is done with a message it was handed with `ack`: sends PUBACK, PUBREC
    /// (a failure code, MQTT 5 only, drops the message) or PUBCOMP. Acks for packets of an
    /// earlier connection, or that are not owed, are ignored: the broker resends what it still
    /// wants acknowledged.
    pub fn acknowledge(&mut self, ack: AppAck, message_id: u16, reason_code: u8) {
        if self.awaiting_app.get(&message_id) != Some(&ack) || !self.is_connected() {
            return;
        }
        self.awaiting_app.remove(&message_id);
        let reason_code = if self.version.is_v5() { reason_code } else { 0 };
        let body = Ack {
            message_id,
            reason_code,
            properties: Default::default(),
        };
        let packet = match ack {
            AppAck::None => return,
            AppAck::PubAck => Packet::Puback(body),
            AppAck::PubRec => {
                if reason_code >= 0x80 {
                    // MQTT 5 §4.3.3: a PUBREC with a failure code ends the exchange.
                    if self.incoming_qos2.remove(&message_id).is_some() {
                        self.record(JournalEntry::IncomingDone(message_id));
                    }
                }
                Packet::Pubrec(body)
            }
            AppAck::PubComp => Packet::Pubcomp(body),
        };
        if self.send_ack(packet.clone()).is_err() {
            // A reason code the codec refuses for this packet: acknowledge plainly rather than
            // leave the broker waiting.
            let plain = plain_ack(message_id);
            let _ = self.send_ack(match packet {
                Packet::Puback(_) => Packet::Puback(plain),
                Packet::Pubrec(_) => Packet::Pubrec(plain),
                _ => Packet::Pubcomp(plain),
            });
        }
    }

    /// Fills in the topic of an alias-only PUBLISH and registers new aliases; returns whether
    /// the topic came from an alias. Error texts start with MQTT.js's.
    fn resolve_topic_alias(&mut self, publish: &mut Publish) -> Result<bool, SessionError> {
        let Some(alias) = publish.properties.topic_alias else {
            if publish.topic.is_empty() {
                return Err(SessionError::protocol(
                    "Protocol error: PUBLISH without topic name or topic alias",
                ));
            }
            return Ok(false);
        };
        // MQTT 5 §3.3.2.3.4: an alias above our Topic Alias Maximum (or any alias when we
        // announced none) is a protocol error, Topic Alias invalid.
        let maximum = self.topic_alias_maximum;
        let out_of_range = |message: String| {
            SessionError::protocol_code(
                format!(
                    "{message} (the client announced a Topic Alias Maximum of {maximum}, \
                     MQTT 5 §3.3.2.3.4)"
                ),
                0x94,
            )
        };
        if maximum == 0 {
            return Err(out_of_range(
                "Received a PUBLISH Topic Alias but no Topic Alias Maximum was advertised".into(),
            ));
        }
        if alias == 0 && publish.topic.is_empty() {
            return Err(out_of_range(format!(
                "Received Topic Alias {alias} is outside the valid range 1-65535"
            )));
        }
        if alias == 0 || alias > maximum {
            return Err(out_of_range(format!(
                "Received Topic Alias {alias} is outside the advertised Topic Alias Maximum range 1-{maximum}"
            )));
        }
        if publish.topic.is_empty() {
            match self.topic_aliases.get(&alias) {
                Some(topic) => publish.topic = topic.clone(),
                None => {
                    return Err(SessionError::protocol_code(
                        format!(
                            "Received unregistered Topic Alias ({alias}: no PUBLISH has set it on \
                             this connection, MQTT 5 §3.3.2.3.4)"
                        ),
                        0x82,
                    ))
                }
            }
            return Ok(true);
        }
        self.topic_aliases.insert(alias, publish.topic.clone());
        Ok(false)
    }

    fn handle_puback(&mut self, ack: Ack) {
        match self.inflight.get(ack.message_id) {
            // A PUBACK also completes a QoS 2 publish, as in MQTT.js 5.16. Brokers without QoS 2
            // (RabbitMQ's MQTT plugin before 3.12) take a QoS 2 PUBLISH as QoS 1, route it and
            // answer PUBACK: the message is delivered, and no PUBREC will ever come. Keeping it in
            // flight and resending it on the next connection only delivers it again, once per
            // reconnect (measured against RabbitMQ 3.10: 12 copies in 6 s, the callback never
            // called), so the exchange ends here, at least once, as the broker provides.
            Some(Outgoing::Publish { .. }) => {
                self.inflight.remove(ack.message_id);
                self.record(JournalEntry::Done(ack.message_id));
                self.events.push_back(Event::Ack {
                    kind: AckKind::PubAck,
                    packet: Packet::Puback(ack),
                });
                self.fill_window();
            }
            Some(other) => {
                let pending = other.cmd();
                self.protocol_mismatch("puback", pending, ack.message_id);
            }
            None => {}
        }
    }

    fn handle_pubrec(&mut self, ack: Ack) {
        let id = ack.message_id;
        match self.inflight.get(id) {
            Some(Outgoing::Publish { publish, .. }) if publish.qos == QoS::ExactlyOnce => {
                if ack.reason_code >= 0x80 {
                    // MQTT 5 §4.3.3: a failed PUBREC ends the exchange.
                    self.inflight.remove(id);
                    self.record(JournalEntry::Done(id));
                    self.events.push_back(Event::Ack {
                        kind: AckKind::PubRec,
                        packet: Packet::Pubrec(ack),
                    });
                    self.fill_window();
                    return;
                }
                self.inflight.replace_with_pubrel(id);
                self.record(JournalEntry::PubRel(id));
                if self.options.report_pubrec {
                    self.events.push_back(Event::Ack {
                        kind: AckKind::PubRecReceived,
                        packet: Packet::Pubrec(ack),
                    });
                }
                let _ = self.send(Packet::Pubrel(plain_ack(id)));
            }
            Some(Outgoing::PubRel { .. }) => {
                // A repeated PUBREC: answer it again.
                let _ = self.send(Packet::Pubrel(Ack {
                    message_id: id,
                    reason_code: 0,
                    properties: Default::default(),
                }));
            }
            Some(other) => {
                let pending = other.cmd();
                self.protocol_mismatch("pubrec", pending, id);
            }
            None => {
                // MQTT 5 §4.3.3: answer an unknown PUBREC with PUBREL "Packet Identifier not found".
                let reason_code = if self.version.is_v5() { 0x92 } else { 0 };
                let _ = self.send(Packet::Pubrel(Ack {
                    message_id: id,
                    reason_code,
                    properties: Default::default(),
                }));
            }
        }
    }

    fn handle_pubcomp(&mut self, ack: Ack) {
        match self.inflight.get(ack.message_id) {
            Some(Outgoing::PubRel { .. }) => {
                self.inflight.remove(ack.message_id);
                self.record(JournalEntry::Done(ack.message_id));
                self.events.push_back(Event::Ack {
                    kind: AckKind::PubComp,
                    packet: Packet::Pubcomp(ack),
                });
                self.fill_window();
            }
            Some(other) => {
                let pending = other.cmd();
                self.protocol_mismatch("pubcomp", pending, ack.message_id);
            }
            None => {}
        }
    }

    fn handle_pubrel(&mut self, ack: Ack) {
        let id = ack.message_id;
        if let Some(publish) = self.incoming_qos2.remove(&id) {
            self.record(JournalEntry::IncomingDone(id));
            self.deliver(publish, AppAck::PubComp, false);
            return;
        }
        if self.options.app_acks {
            // The application may hold the message in a store of its own (a previous run's
            // MQTT.js `incomingStore`); it answers with PUBCOMP once it has looked.
            self.awaiting_app.insert(id, AppAck::PubComp);
            self.events.push_back(Event::Released { message_id: id });
            return;
        }
        // MQTT 5 §4.3.3: answer every PUBREL, also one for a message already completed.
        let _ = self.send(Packet::Pubcomp(plain_ack(id)));
    }

    fn complete_request(&mut self, id: u16, kind: AckKind, packet: Packet) {
        match self.pending_acks.get(&id) {
            Some(expected) if *expected == kind => {
                self.pending_acks.remove(&id);
                self.events.push_back(Event::Ack { kind, packet });
            }
            Some(expected) => {
                let pending = expected.request_cmd();
                self.protocol_mismatch(packet.cmd(), pending, id);
            }
            None => {}
        }
    }

    fn protocol_mismatch(&mut self, ack: &str, pending: &str, id: u16) {
        // MQTT.js 5.16 reports the mismatch and ignores the ack.
        self.events
            .push_back(Event::Error(SessionError::protocol(format!(
                "Protocol error: {ack} does not answer the {pending} pending on message id {id}"
            ))));
    }

    /// Whether the window has room for one more exchange.
    fn has_room(&self) -> bool {
        self.inflight.sent_len() < usize::from(self.window)
            && self.inflight.sent_qos2_len() < usize::from(self.qos2_window)
    }

    /// Moves waiting publishes into flight while the window has room.
    fn fill_window(&mut self) {
        if !self.is_connected() || self.resend_held {
            return;
        }
        while self.has_room() {
            // Exchanges of an earlier connection first, in order (MQTT 5 §4.4).
            if let Some(packet) = self.inflight.resend_next() {
                self.counters.resent += u64::from(matches!(packet, Packet::Publish(_)));
                let _ = self.send(packet);
                continue;
            }
            let Some(unnumbered) = self.waiting.front().map(|w| w.publish.message_id == 0) else {
                break;
            };
            let numbered = if unnumbered {
                // Numbered now, as it is first sent; with every identifier in use it waits for
                // an exchange to complete.
                let Some(id) = self.next_message_id() else {
                    break;
                };
                Some(id)
            } else {
                None
            };
            let Some(Waiting {
                mut publish,
                alias_only,
                announce,
            }) = self.waiting.pop_front()
            else {
                break;
            };
            match numbered {
                Some(id) => {
                    publish.message_id = id;
                    self.last_numbered = id;
                    self.record(JournalEntry::Numbered(id));
                    if announce {
                        self.events.push_back(Event::Numbered { message_id: id });
                    }
                }
                None => {
                    self.waiting_ids.remove(&publish.message_id);
                }
            }
            self.counters.on_sent(publish.qos, publish.payload.len());
            if self.outgoing_aliases.is_active() {
                let packet = Packet::Publish(self.outgoing_aliases.wire(&publish, alias_only));
                self.inflight.insert(without_alias(publish));
                let _ = self.send(packet);
            } else {
                // No aliases on this connection: what is sent is what is kept, without a copy.
                let packet = Packet::Publish(without_alias(publish));
                let _ = self.send_ref(&packet);
                if let Packet::Publish(publish) = packet {
                    self.inflight.insert(publish);
                }
            }
        }
    }

    /// Encodes `packet` into the outbox, reporting a copy when packet events are on.
    fn send_ref(&mut self, packet: &Packet) -> Result<(), SessionError> {
        codec::encode(packet, self.version, &mut self.outbox)
            .map_err(|e| SessionError::invalid(e.message().to_string()))?;
        if self.options.packet_events {
            self.events.push_back(Event::PacketSent(packet.clone()));
        }
        Ok(())
    }

    /// Encodes `packet` into the outbox.
    fn send(&mut self, packet: Packet) -> Result<(), SessionError> {
        codec::encode(&packet, self.version, &mut self.outbox)
            .map_err(|e| SessionError::invalid(e.message().to_string()))?;
        if self.options.packet_events {
            self.events.push_back(Event::PacketSent(packet));
        }
        Ok(())
    }

    /// Encodes an ack whose `packetsend` the application reports itself, in MQTT.js's order,
    /// right after its `message` event.
    fn send_ack(&mut self, packet: Packet) -> Result<(), SessionError> {
        codec::encode(&packet, self.version, &mut self.outbox)
            .map(|_| ())
            .map_err(|e| SessionError::invalid(e.message().to_string()))
    }

    /// Reports `error` and asks the driver to drop the transport.
    fn fail(&mut self, error: SessionError) {
        self.phase = Phase::Closing;
        self.outbox.clear();
        self.events.push_back(Event::Error(error));
    }

    /// Reports a decoding error from the driver's reader and closes. A packet over the size
    /// limit is refused from its fixed header (the driver has buffered at most one read of it);
    /// the error names the option that raises the limit.
    pub fn handle_decode_error(&mut self, error: &codec::CodecError) {
        let message = if error.kind() == codec::ErrorKind::TooLarge {
            let option = if self.version.is_v5() {
                "the maxIncomingPacketSize option or properties.maximumPacketSize"
            } else {
                "the maxIncomingPacketSize option"
            };
            format!(
                "{}; the connection was closed without reading the packet. Raise the limit with {option} if the broker is meant to send packets this large",
                error.message()
            )
        } else {
            error.message().to_string()
        };
        self.fail(SessionError::protocol_code(message, error.reason_code()));
    }
}

/// An ack body with reason code 0 and no properties.
fn plain_ack(message_id: u16) -> Ack {
    Ack {
        message_id,
        reason_code: 0,
        properties: Default::default(),
    }
}

fn packet_name(packet: &Packet) -> &'static str {
    match packet {
        Packet::Connect(_) => "CONNECT",
        Packet::Subscribe(_) => "SUBSCRIBE",
        Packet::Unsubscribe(_) => "UNSUBSCRIBE",
        Packet::Pingreq => "PINGREQ",
        _ => "this packet",
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
