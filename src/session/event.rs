//! What the session tells the application.

use std::borrow::Cow;

use crate::codec::{Auth, ConnAck, Disconnect, Packet, Publish};

/// Which acknowledgement completed an outgoing request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckKind {
    /// PUBACK for a QoS 1 publish.
    PubAck,
    /// PUBREC with a failure reason code for a QoS 2 publish (MQTT 5).
    PubRec,
    /// PUBCOMP for a QoS 2 publish.
    PubComp,
    /// SUBACK.
    SubAck,
    /// UNSUBACK.
    UnsubAck,
    /// A successful PUBREC: the exchange now awaits PUBCOMP (only with
    /// `SessionOptions::report_pubrec`).
    PubRecReceived,
}

impl AckKind {
    /// The `mqtt-packet` command name of the request this kind of ack answers.
    pub fn request_cmd(self) -> &'static str {
        match self {
            AckKind::PubAck | AckKind::PubRec | AckKind::PubRecReceived => "publish",
            AckKind::PubComp => "pubrel",
            AckKind::SubAck => "subscribe",
            AckKind::UnsubAck => "unsubscribe",
        }
    }
}

/// The acknowledgement the application owes for a message it was handed: MQTT.js sends PUBACK,
/// PUBREC and PUBCOMP only once `customHandleAcks` and `handleMessage` are done with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppAck {
    /// QoS 0: nothing to acknowledge.
    None,
    /// A QoS 1 PUBLISH, to be answered with PUBACK.
    PubAck,
    /// A QoS 2 PUBLISH, to be answered with PUBREC (the message itself is delivered on PUBREL).
    PubRec,
    /// A QoS 2 message released by PUBREL, to be answered with PUBCOMP.
    PubComp,
}

impl AppAck {
    /// The number used for this kind at the N-API boundary.
    pub fn code(self) -> u32 {
        match self {
            AppAck::None => 0,
            AppAck::PubAck => 1,
            AppAck::PubRec => 2,
            AppAck::PubComp => 3,
        }
    }

    /// The kind for a boundary number.
    pub fn from_code(code: u32) -> Option<AppAck> {
        match code {
            1 => Some(AppAck::PubAck),
            2 => Some(AppAck::PubRec),
            3 => Some(AppAck::PubComp),
            _ => None,
        }
    }
}

/// An error the session reports to the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionError {
    /// A stable code: `'PROTOCOL_ERROR'`, `'TIMEOUT'`, `'NOT_CONNECTED'`, `'INVALID'`.
    pub code: &'static str,
    /// What happened.
    pub message: Cow<'static, str>,
    /// The MQTT 5 reason code that describes it, when there is one.
    pub reason_code: Option<u8>,
}

impl SessionError {
    pub(crate) fn protocol(message: impl Into<Cow<'static, str>>) -> Self {
        SessionError {
            code: "PROTOCOL_ERROR",
            message: message.into(),
            reason_code: Some(0x82),
        }
    }

    pub(crate) fn protocol_code(message: impl Into<Cow<'static, str>>, reason_code: u8) -> Self {
        SessionError {
            code: "PROTOCOL_ERROR",
            message: message.into(),
            reason_code: Some(reason_code),
        }
    }

    pub(crate) fn timeout(message: &'static str) -> Self {
        SessionError {
            code: "TIMEOUT",
            message: Cow::Borrowed(message),
            reason_code: None,
        }
    }

    pub(crate) fn not_connected() -> Self {
        SessionError {
            code: "NOT_CONNECTED",
            message: Cow::Borrowed("No connection to broker"),
            reason_code: None,
        }
    }

    pub(crate) fn invalid(message: impl Into<Cow<'static, str>>) -> Self {
        SessionError {
            code: "INVALID",
            message: message.into(),
            reason_code: None,
        }
    }
}

impl std::fmt::Display for SessionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SessionError {}

/// Something the application must hear about, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// CONNACK arrived; a non-zero reason code means the connection was refused and the session
    /// wants the transport closed.
    ConnAck(ConnAck),
    /// An inbound PUBLISH (or, for QoS 2, the released message) and the ack the application owes:
    /// see [`Session::acknowledge`](super::Session::acknowledge).
    Message {
        /// The message.
        publish: Publish,
        /// What is owed for it.
        ack: AppAck,
        /// Whether the session has sent that ack already (no application acks); otherwise the
        /// application must call [`Session::acknowledge`](super::Session::acknowledge).
        acked: bool,
        /// Whether the PUBLISH came with an empty topic and a Topic Alias, the topic filled in
        /// from the alias (MQTT 5 §3.3.2.3.4); MQTT.js shows such a packet with `topic: ''`.
        topic_from_alias: bool,
    },
    /// An outgoing request was acknowledged (successfully or with a failure reason code).
    Ack {
        /// Which ack.
        kind: AckKind,
        /// The ack packet itself.
        packet: Packet,
    },
    /// PUBREL for a QoS 2 message the session does not hold (with application acks): the
    /// application looks in its own store, then acknowledges `PubComp`.
    Released {
        /// The packet identifier.
        message_id: u16,
    },
    /// A QoS 1/2 publish accepted without a packet identifier, which then waited (offline, or
    /// behind the flow-control window), was given `message_id` as it went out for the first
    /// time. Such publishes are numbered in the order they were accepted.
    Numbered {
        /// The packet identifier it is sent, and acknowledged, with.
        message_id: u16,
    },
    /// A received packet restarts MQTT.js's keepalive countdown (only with
    /// `SessionOptions::report_keepalive`): PINGRESP always (`forced`), and PUBACK, PUBREC,
    /// PUBCOMP, PUBREL, SUBACK, UNSUBACK and AUTH when the application reschedules on acks
    /// (`reschedulePings`, which the application applies itself).
    KeepaliveRestart {
        /// PINGRESP: the countdown restarts whatever `reschedulePings` says.
        forced: bool,
    },
    /// The broker sent DISCONNECT (MQTT 5).
    Disconnect(Disconnect),
    /// The broker sent AUTH (MQTT 5).
    Auth(Auth),
    /// A protocol error, a timeout or a mismatched ack.
    Error(SessionError),
    /// A packet was received (only with packet events on).
    PacketReceived(Packet),
    /// A packet was queued for sending (only with packet events on).
    PacketSent(Packet),
}
