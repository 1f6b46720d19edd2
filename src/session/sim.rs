//! A simulated broker and application around a [`Session`], checking invariants after every
//! step. Test support shared by the property test (`cargo test`) and the session fuzz target
//! (`fuzz/fuzz_targets/session.rs`): both drive it with sequences of [`Op`]s.
//!
//! The model is deliberately simple: the application publishes with the lowest packet
//! identifier it does not have outstanding (from a small pool, so that identifiers are reused
//! as soon as they are free); the broker remembers what it received on the current connection
//! and still owes an ack for. Invariants checked:
//!
//! - never more QoS 1/2 exchanges awaiting an ack on a connection than the window allows (the
//!   broker's Receive Maximum on MQTT 5, `max_inflight` otherwise; MQTT 5 §4.9), and, without a
//!   Receive Maximum, no PUBLISH sent while `max_inflight_qos2` QoS 2 exchanges are;
//! - a packet identifier is never used for a new PUBLISH while an exchange with it is in flight
//!   (MQTT 5 §2.2.1);
//! - a publish accepted without an identifier gets one only when it is first sent, one not in
//!   use, in the order such publishes were accepted; reported at once by
//!   [`Session::publish`] or later by [`Event::Numbered`], never both;
//! - PUBLISHes go out first in the order they were accepted, and a resend carries DUP
//!   (MQTT 5 §4.4, §3.3.1.1);
//! - each accepted publish completes once, and only an accepted one completes;
//! - an inbound QoS 2 message is delivered once per PUBLISH/PUBREL exchange (MQTT 5 §4.3.3);
//! - once the broker acknowledges everything, every accepted publish has completed (liveness).
//!
//! Panics are not caught here: the property test and the fuzzer see them as failures.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::{AckKind, AppAck, Event, Session, SessionOptions};
use crate::codec::{
    self, Ack, ConnAck, Connect, Limits, Packet, Properties, PropertyValues, ProtocolVersion,
    Publish, QoS,
};

/// Packet identifiers the simulated application uses: few, so that they are reused often.
pub const ID_POOL: u16 = 8;

/// One step of a simulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// The application publishes with QoS 1 (`false`) or 2 (`true`).
    Publish {
        /// QoS 2 rather than QoS 1.
        exactly_once: bool,
    },
    /// The application publishes with QoS 1 (`false`) or 2 (`true`) and no packet identifier:
    /// the session numbers it when it first sends it.
    PublishUnnumbered {
        /// QoS 2 rather than QoS 1.
        exactly_once: bool,
    },
    /// A new connection: CONNECT, then CONNACK with this Receive Maximum (MQTT 5; 0 means none)
    /// and session-present flag.
    Connect {
        /// The broker's Receive Maximum (MQTT 5 only; 0: not announced).
        receive_maximum: u16,
        /// CONNACK's session-present flag.
        session_present: bool,
    },
    /// The transport drops.
    Close,
    /// The broker answers the `n`-th exchange it owes an ack for (modulo how many there are).
    Ack {
        /// Which exchange.
        n: u8,
    },
    /// The broker sends an ack of this kind (0 PUBACK, 1 PUBREC, 2 PUBCOMP) for an arbitrary
    /// identifier, maybe one nothing waits for.
    StrayAck {
        /// Which ack.
        kind: u8,
        /// For which identifier.
        id: u16,
    },
    /// The broker sends a QoS 2 PUBLISH with this identifier (maybe again).
    InboundQos2 {
        /// Its identifier.
        id: u16,
    },
    /// The broker sends PUBREL for this identifier.
    InboundPubRel {
        /// Its identifier.
        id: u16,
    },
    /// Time passes.
    Tick {
        /// Seconds.
        seconds: u8,
    },
}

/// The simulation: a session, the model of the application and of the broker.
#[derive(Debug)]
pub struct Sim {
    session: Session,
    version: ProtocolVersion,
    max_inflight: u16,
    max_inflight_qos2: u16,
    now: Instant,
    /// Accepted publishes not yet completed: id → QoS, in acceptance order.
    outstanding: VecDeque<(u16, QoS)>,
    /// Accepted publishes not yet sent for the first time, in acceptance order.
    unsent: VecDeque<u16>,
    /// Publishes accepted without an identifier and not numbered yet, in acceptance order.
    unnumbered: VecDeque<QoS>,
    /// Whether a connection is up (CONNACK accepted), its window and the QoS 2 part of it.
    connected: bool,
    window: usize,
    qos2_window: usize,
    /// What the broker received on this connection and owes an ack for: id → packet kind.
    broker_owes: Vec<(u16, Owed)>,
    /// Outgoing QoS 2 identifiers the broker answered with PUBREC and not yet completed.
    pubrec_given: HashSet<u16>,
    /// Inbound QoS 2 identifiers the broker has sent PUBLISH for and not yet released.
    inbound_open: HashSet<u16>,
    /// For each inbound identifier, whether its current exchange (from the PUBLISH that opened
    /// it) has delivered its message.
    inbound_delivered: HashMap<u16, bool>,
}

/// What the broker owes for a packet it received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)]
enum Owed {
    PubAck,
    PubRec,
    PubComp,
}

impl Sim {
    /// A simulation of a session of `version` with `max_inflight` as its own window, of which
    /// QoS 2 exchanges may take `max_inflight_qos2`.
    pub fn new(version: ProtocolVersion, max_inflight: u16, max_inflight_qos2: u16) -> Self {
        let options = SessionOptions {
            max_inflight,
            max_inflight_qos2,
            ..SessionOptions::default()
        };
        Sim {
            session: Session::new(version, options),
            version,
            max_inflight: max_inflight.max(1),
            max_inflight_qos2: max_inflight_qos2.clamp(1, max_inflight.max(1)),
            now: Instant::now(),
            outstanding: VecDeque::new(),
            unsent: VecDeque::new(),
            unnumbered: VecDeque::new(),
            connected: false,
            window: 0,
            qos2_window: 0,
            broker_owes: Vec::new(),
            pubrec_given: HashSet::new(),
            inbound_open: HashSet::new(),
            inbound_delivered: HashMap::new(),
        }
    }

    /// Applies one step and checks the invariants. Returns a description of the first
    /// violation.
    pub fn apply(&mut self, op: Op) -> Result<(), String> {
        match op {
            Op::Publish { exactly_once } => self.publish(exactly_once)?,
            Op::PublishUnnumbered { exactly_once } => self.publish_unnumbered(exactly_once)?,
            Op::Connect {
                receive_maximum,
                session_present,
            } => self.connect(receive_maximum, session_present)?,
            Op::Close => self.close(),
            Op::Ack { n } => {
                if self.connected && !self.broker_owes.is_empty() {
                    let at = usize::from(n) % self.broker_owes.len();
                    let (id, owed) = self.broker_owes.remove(at);
                    match owed {
                        Owed::PubRec => {
                            self.pubrec_given.insert(id);
                        }
                        Owed::PubComp => {
                            self.pubrec_given.remove(&id);
                        }
                        Owed::PubAck => {}
                    }
                    let packet = match owed {
                        Owed::PubAck => Packet::Puback(ack(id)),
                        Owed::PubRec => Packet::Pubrec(ack(id)),
                        Owed::PubComp => Packet::Pubcomp(ack(id)),
                    };
                    self.session.handle_packet(packet, self.now);
                }
            }
            Op::StrayAck { kind, id } => {
                let id = id % (ID_POOL + 4) + 1;
                // An ack for an identifier nothing waits for (the session must ignore it or
                // answer as the spec says); acks for outstanding exchanges that the broker does
                // not owe on this connection are a broken broker, outside this model.
                let outstanding = self.outstanding.iter().any(|(o, _)| *o == id);
                if self.connected && !outstanding {
                    let packet = match kind % 3 {
                        0 => Packet::Puback(ack(id)),
                        1 => Packet::Pubrec(ack(id)),
                        _ => Packet::Pubcomp(ack(id)),
                    };
                    self.session.handle_packet(packet, self.now);
                }
            }
            Op::InboundQos2 { id } => {
                let id = id % ID_POOL + 1;
                if self.connected {
                    if self.inbound_open.insert(id) {
                        // A new exchange (not a resend of an open one).
                        self.inbound_delivered.insert(id, false);
                    }
                    self.session.handle_packet(
                        Packet::Publish(Publish {
                            dup: false,
                            qos: QoS::ExactlyOnce,
                            retain: false,
                            topic: "in".into(),
                            message_id: id,
                            payload: Bytes::from_static(b"m"),
                            properties: Properties::default(),
                        }),
                        self.now,
                    );
                }
            }
            Op::InboundPubRel { id } => {
                let id = id % ID_POOL + 1;
                if self.connected {
                    // The exchange ends here (PUBCOMP follows): a later PUBLISH with this id
                    // is a new message.
                    self.inbound_open.remove(&id);
                    self.session
                        .handle_packet(Packet::Pubrel(ack(id)), self.now);
                }
            }
            Op::Tick { seconds } => {
                self.now += Duration::from_secs(u64::from(seconds));
                self.session.handle_timeout(self.now);
            }
        }
        self.settle()
    }

    /// Connects (if needed) and lets the broker acknowledge everything until nothing is left;
    /// then every accepted publish must have completed.
    pub fn finish(&mut self) -> Result<(), String> {
        for _ in 0..4 {
            if !self.connected {
                self.apply(Op::Connect {
                    receive_maximum: 0,
                    session_present: true,
                })?;
            }
            let mut rounds = 0;
            while !self.broker_owes.is_empty() && self.connected {
                self.apply(Op::Ack { n: 0 })?;
                rounds += 1;
                if rounds > 10_000 {
                    return Err("acknowledging never ends".into());
                }
            }
            if self.connected {
                break;
            }
        }
        if !self.outstanding.is_empty() || !self.unnumbered.is_empty() {
            return Err(format!(
                "publishes never completed although the broker acknowledged everything: {:?}, {} never numbered",
                self.outstanding,
                self.unnumbered.len()
            ));
        }
        Ok(())
    }

    fn publish_unnumbered(&mut self, exactly_once: bool) -> Result<(), String> {
        let qos = if exactly_once {
            QoS::ExactlyOnce
        } else {
            QoS::AtLeastOnce
        };
        let publish = Publish {
            dup: false,
            qos,
            retain: false,
            topic: "out".into(),
            message_id: 0,
            payload: Bytes::from_static(b"u"),
            properties: Properties::default(),
        };
        let waiting_before = !self.unnumbered.is_empty();
        let id = self
            .session
            .publish(publish)
            .map_err(|e| format!("unnumbered publish refused: {e}"))?;
        if id == 0 {
            self.unnumbered.push_back(qos);
            // Its place in the sending order, numbered later.
            self.unsent.push_back(0);
        } else {
            if waiting_before {
                return Err(format!(
                    "an unnumbered publish went out as {id} before earlier unnumbered ones"
                ));
            }
            self.numbered(id, qos, false)?;
        }
        Ok(())
    }

    /// An unnumbered publish got `id` (`later`: announced by an event, so it holds a place in
    /// the sending order): it must be free, and it is outstanding from now on.
    fn numbered(&mut self, id: u16, qos: QoS, later: bool) -> Result<(), String> {
        if id == 0 {
            return Err("a publish was numbered 0".into());
        }
        if self.outstanding.iter().any(|(o, _)| *o == id) {
            return Err(format!("unnumbered publish given id {id}, which is in use"));
        }
        self.outstanding.push_back((id, qos));
        match self.unsent.iter_mut().find(|u| **u == 0) {
            Some(place) if later => *place = id,
            _ => self.unsent.push_back(id),
        }
        Ok(())
    }

    fn publish(&mut self, exactly_once: bool) -> Result<(), String> {
        let Some(id) = (1..=ID_POOL).find(|id| !self.outstanding.iter().any(|(o, _)| o == id))
        else {
            return Ok(());
        };
        let qos = if exactly_once {
            QoS::ExactlyOnce
        } else {
            QoS::AtLeastOnce
        };
        let publish = Publish {
            dup: false,
            qos,
            retain: false,
            topic: "out".into(),
            message_id: id,
            payload: Bytes::from(id.to_be_bytes().to_vec()),
            properties: Properties::default(),
        };
        self.session
            .publish(publish)
            .map_err(|e| format!("publish with free id {id} refused: {e}"))?;
        self.outstanding.push_back((id, qos));
        self.unsent.push_back(id);
        Ok(())
    }

    fn connect(&mut self, receive_maximum: u16, session_present: bool) -> Result<(), String> {
        self.close();
        let connect = Connect {
            protocol_id: "MQTT".into(),
            protocol_version: self.version,
            clean: false,
            keepalive: 30,
            client_id: "sim".into(),
            will: None,
            username: None,
            password: None,
            properties: Properties::default(),
        };
        self.session
            .start_connection(connect, None, self.now)
            .map_err(|e| format!("start_connection: {e}"))?;
        self.drain()?;
        let mut values = PropertyValues::default();
        if self.version.is_v5() && receive_maximum > 0 {
            values.receive_maximum = Some(receive_maximum);
        }
        (self.window, self.qos2_window) = if self.version.is_v5() && receive_maximum > 0 {
            (usize::from(receive_maximum), usize::from(receive_maximum))
        } else {
            (
                usize::from(self.max_inflight),
                usize::from(self.max_inflight_qos2),
            )
        };
        self.connected = true;
        if !session_present {
            // The broker has no session: inbound exchanges are forgotten on both sides.
            self.inbound_open.clear();
            self.inbound_delivered.clear();
        }
        self.session.handle_packet(
            Packet::Connack(ConnAck {
                session_present,
                reason_code: 0,
                properties: Properties::from(values),
            }),
            self.now,
        );
        Ok(())
    }

    fn close(&mut self) {
        if self.connected || self.session.wants_close() {
            self.session.handle_close();
        }
        self.connected = false;
        self.broker_owes.clear();
    }

    /// Takes what the session sent and reported, and checks it.
    fn settle(&mut self) -> Result<(), String> {
        self.drain()?;
        if self.session.wants_close() {
            // A protocol error closed the connection (a stray ack the session refuses).
            self.close();
        }
        Ok(())
    }

    fn drain(&mut self) -> Result<(), String> {
        let mut buf = BytesMut::new();
        self.session.poll_transmit(&mut buf);
        let mut packets = Vec::new();
        while let Some(packet) = codec::decode(&mut buf, self.version, &Limits::default())
            .map_err(|e| format!("the session sent bytes that do not decode: {e}"))?
        {
            packets.push(packet);
        }
        let events: Vec<Event> = std::iter::from_fn(|| self.session.poll_event()).collect();
        // Completions first (an identifier is free again once its exchange completed), then
        // numberings (a publish is numbered before it is written), then what went out.
        let (numberings, others): (Vec<Event>, Vec<Event>) = events
            .into_iter()
            .partition(|e| matches!(e, Event::Numbered { .. }));
        let mut later = Vec::new();
        for event in others {
            if matches!(event, Event::Ack { .. }) {
                self.on_event(event)?;
            } else {
                later.push(event);
            }
        }
        for event in numberings {
            if let Event::Numbered { message_id } = event {
                let Some(qos) = self.unnumbered.pop_front() else {
                    return Err(format!(
                        "Numbered {message_id} without an unnumbered publish"
                    ));
                };
                self.numbered(message_id, qos, true)?;
            }
        }
        for packet in packets {
            self.on_sent(packet)?;
        }
        for event in later {
            self.on_event(event)?;
        }
        let in_flight = self.broker_owes.len();
        if self.connected && in_flight > self.window {
            return Err(format!(
                "{in_flight} exchanges in flight, the window is {}",
                self.window
            ));
        }
        Ok(())
    }

    fn on_sent(&mut self, packet: Packet) -> Result<(), String> {
        match packet {
            Packet::Publish(publish) => {
                let id = publish.message_id;
                if self.broker_owes.iter().any(|(i, _)| *i == id) {
                    return Err(format!("PUBLISH reuses id {id} while it is in flight"));
                }
                if !self.outstanding.iter().any(|(o, _)| *o == id) {
                    return Err(format!("PUBLISH of id {id}, which is not outstanding"));
                }
                if let Some(pos) = self.unsent.iter().position(|u| *u == id) {
                    if pos != 0 {
                        return Err(format!(
                            "PUBLISH {id} went out before earlier ones {:?}",
                            &self.unsent.iter().take(pos).collect::<Vec<_>>()
                        ));
                    }
                    self.unsent.pop_front();
                    if publish.dup {
                        return Err(format!("first PUBLISH of {id} has DUP set"));
                    }
                } else if !publish.dup {
                    return Err(format!("resent PUBLISH of {id} without DUP"));
                }
                let qos2_in_flight = self
                    .broker_owes
                    .iter()
                    .filter(|(_, owed)| *owed != Owed::PubAck)
                    .count();
                if qos2_in_flight >= self.qos2_window {
                    return Err(format!(
                        "PUBLISH {id} sent with {qos2_in_flight} QoS 2 exchanges in flight (at most {} allowed)",
                        self.qos2_window
                    ));
                }
                let owed = if publish.qos == QoS::ExactlyOnce {
                    Owed::PubRec
                } else {
                    Owed::PubAck
                };
                self.broker_owes.push((id, owed));
            }
            Packet::Pubrel(ack) => {
                let id = ack.message_id;
                // A PUBREL answering a stray PUBREC is no exchange; one after our PUBREC is.
                if self.pubrec_given.contains(&id)
                    && !self.broker_owes.iter().any(|(i, _)| *i == id)
                {
                    self.broker_owes.push((id, Owed::PubComp));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn on_event(&mut self, event: Event) -> Result<(), String> {
        match event {
            Event::Ack { kind, packet } => {
                let id = match &packet {
                    Packet::Puback(a) | Packet::Pubrec(a) | Packet::Pubcomp(a) => a.message_id,
                    _ => return Ok(()),
                };
                let expected = match kind {
                    AckKind::PubAck => QoS::AtLeastOnce,
                    AckKind::PubComp | AckKind::PubRec => QoS::ExactlyOnce,
                    _ => return Ok(()),
                };
                let Some(pos) = self.outstanding.iter().position(|(o, _)| *o == id) else {
                    return Err(format!("completion of id {id}, which is not outstanding"));
                };
                if self.outstanding[pos].1 != expected {
                    return Err(format!(
                        "{kind:?} completed a {:?} publish",
                        self.outstanding[pos].1
                    ));
                }
                self.outstanding.remove(pos);
            }
            Event::Message {
                publish,
                ack: AppAck::PubComp,
                ..
            } => {
                let id = publish.message_id;
                let delivered = self.inbound_delivered.entry(id).or_insert(false);
                if *delivered {
                    return Err(format!("inbound QoS 2 message {id} delivered twice"));
                }
                *delivered = true;
            }
            _ => {}
        }
        Ok(())
    }
}

fn ack(id: u16) -> Ack {
    Ack {
        message_id: id,
        reason_code: 0,
        properties: Properties::default(),
    }
}

impl Op {
    /// Reads one step from fuzzer bytes: the first byte picks the kind, the next ones its
    /// arguments. Returns the step and the bytes left.
    pub fn from_bytes(bytes: &[u8]) -> Option<(Op, &[u8])> {
        let (&kind, rest) = bytes.split_first()?;
        let (a, rest) = rest.split_first().map_or((0, rest), |(a, r)| (*a, r));
        let op = match kind % 8 {
            0 | 1 if a & 2 == 2 => Op::PublishUnnumbered {
                exactly_once: a & 1 == 1,
            },
            0 | 1 => Op::Publish {
                exactly_once: a & 1 == 1,
            },
            2 => Op::Connect {
                receive_maximum: u16::from(a % 6),
                session_present: a & 0x80 != 0,
            },
            3 => Op::Close,
            4 => Op::Ack { n: a },
            5 => Op::StrayAck {
                kind: a >> 4,
                id: u16::from(a & 0x0F),
            },
            6 => {
                if a & 1 == 0 {
                    Op::InboundQos2 {
                        id: u16::from(a >> 1),
                    }
                } else {
                    Op::InboundPubRel {
                        id: u16::from(a >> 1),
                    }
                }
            }
            _ => Op::Tick { seconds: a % 40 },
        };
        Some((op, rest))
    }
}
