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
}

impl AckKind {
    /// The `mqtt-packet` command name of the request this kind of ack answers.
    pub fn request_cmd(self) -> &'static str {
        match self {
            AckKind::PubAck | AckKind::PubRec => "publish",
            AckKind::PubComp => "pubrel",
            AckKind::SubAck => "subscribe",
            AckKind::UnsubAck => "unsubscribe",
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
    /// An application message to deliver (QoS 2: on PUBREL).
    Message(Publish),
    /// An outgoing request was acknowledged (successfully or with a failure reason code).
    Ack {
        /// Which ack.
        kind: AckKind,
        /// The ack packet itself.
        packet: Packet,
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
