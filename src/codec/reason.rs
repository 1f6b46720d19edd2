//! Reason codes (MQTT 5 §2.4) and which packet types may carry each of them.

use serde::{Deserialize, Serialize};

use super::{CodecError, ProtocolVersion};

/// An MQTT 5 reason code, or an MQTT 3.x CONNACK return code / SUBACK return code.
///
/// Values below 0x80 mean success, 0x80 and above failure (MQTT 5 §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReasonCode(pub u8);

impl ReasonCode {
    /// 0x00 Success / Normal disconnection / Granted QoS 0.
    pub const SUCCESS: ReasonCode = ReasonCode(0x00);
    /// 0x00 Normal disconnection (DISCONNECT).
    pub const NORMAL_DISCONNECTION: ReasonCode = ReasonCode(0x00);
    /// 0x00 Granted QoS 0 (SUBACK).
    pub const GRANTED_QOS_0: ReasonCode = ReasonCode(0x00);
    /// 0x01 Granted QoS 1 (SUBACK).
    pub const GRANTED_QOS_1: ReasonCode = ReasonCode(0x01);
    /// 0x02 Granted QoS 2 (SUBACK).
    pub const GRANTED_QOS_2: ReasonCode = ReasonCode(0x02);
    /// 0x04 Disconnect with Will Message (DISCONNECT).
    pub const DISCONNECT_WITH_WILL_MESSAGE: ReasonCode = ReasonCode(0x04);
    /// 0x10 No matching subscribers (PUBACK, PUBREC).
    pub const NO_MATCHING_SUBSCRIBERS: ReasonCode = ReasonCode(0x10);
    /// 0x11 No subscription existed (UNSUBACK).
    pub const NO_SUBSCRIPTION_EXISTED: ReasonCode = ReasonCode(0x11);
    /// 0x18 Continue authentication (AUTH).
    pub const CONTINUE_AUTHENTICATION: ReasonCode = ReasonCode(0x18);
    /// 0x19 Re-authenticate (AUTH).
    pub const RE_AUTHENTICATE: ReasonCode = ReasonCode(0x19);
    /// 0x80 Unspecified error.
    pub const UNSPECIFIED_ERROR: ReasonCode = ReasonCode(0x80);
    /// 0x81 Malformed Packet.
    pub const MALFORMED_PACKET: ReasonCode = ReasonCode(0x81);
    /// 0x82 Protocol Error.
    pub const PROTOCOL_ERROR: ReasonCode = ReasonCode(0x82);
    /// 0x83 Implementation specific error.
    pub const IMPLEMENTATION_SPECIFIC_ERROR: ReasonCode = ReasonCode(0x83);
    /// 0x84 Unsupported Protocol Version (CONNACK).
    pub const UNSUPPORTED_PROTOCOL_VERSION: ReasonCode = ReasonCode(0x84);
    /// 0x85 Client Identifier not valid (CONNACK).
    pub const CLIENT_IDENTIFIER_NOT_VALID: ReasonCode = ReasonCode(0x85);
    /// 0x86 Bad User Name or Password (CONNACK).
    pub const BAD_USER_NAME_OR_PASSWORD: ReasonCode = ReasonCode(0x86);
    /// 0x87 Not authorized.
    pub const NOT_AUTHORIZED: ReasonCode = ReasonCode(0x87);
    /// 0x88 Server unavailable (CONNACK).
    pub const SERVER_UNAVAILABLE: ReasonCode = ReasonCode(0x88);
    /// 0x89 Server busy.
    pub const SERVER_BUSY: ReasonCode = ReasonCode(0x89);
    /// 0x8A Banned (CONNACK).
    pub const BANNED: ReasonCode = ReasonCode(0x8A);
    /// 0x8B Server shutting down (DISCONNECT).
    pub const SERVER_SHUTTING_DOWN: ReasonCode = ReasonCode(0x8B);
    /// 0x8C Bad authentication method.
    pub const BAD_AUTHENTICATION_METHOD: ReasonCode = ReasonCode(0x8C);
    /// 0x8D Keep Alive timeout (DISCONNECT).
    pub const KEEP_ALIVE_TIMEOUT: ReasonCode = ReasonCode(0x8D);
    /// 0x8E Session taken over (DISCONNECT).
    pub const SESSION_TAKEN_OVER: ReasonCode = ReasonCode(0x8E);
    /// 0x8F Topic Filter invalid.
    pub const TOPIC_FILTER_INVALID: ReasonCode = ReasonCode(0x8F);
    /// 0x90 Topic Name invalid.
    pub const TOPIC_NAME_INVALID: ReasonCode = ReasonCode(0x90);
    /// 0x91 Packet Identifier in use.
    pub const PACKET_IDENTIFIER_IN_USE: ReasonCode = ReasonCode(0x91);
    /// 0x92 Packet Identifier not found.
    pub const PACKET_IDENTIFIER_NOT_FOUND: ReasonCode = ReasonCode(0x92);
    /// 0x93 Receive Maximum exceeded (DISCONNECT).
    pub const RECEIVE_MAXIMUM_EXCEEDED: ReasonCode = ReasonCode(0x93);
    /// 0x94 Topic Alias invalid (DISCONNECT).
    pub const TOPIC_ALIAS_INVALID: ReasonCode = ReasonCode(0x94);
    /// 0x95 Packet too large.
    pub const PACKET_TOO_LARGE: ReasonCode = ReasonCode(0x95);
    /// 0x96 Message rate too high (DISCONNECT).
    pub const MESSAGE_RATE_TOO_HIGH: ReasonCode = ReasonCode(0x96);
    /// 0x97 Quota exceeded.
    pub const QUOTA_EXCEEDED: ReasonCode = ReasonCode(0x97);
    /// 0x98 Administrative action (DISCONNECT).
    pub const ADMINISTRATIVE_ACTION: ReasonCode = ReasonCode(0x98);
    /// 0x99 Payload format invalid.
    pub const PAYLOAD_FORMAT_INVALID: ReasonCode = ReasonCode(0x99);
    /// 0x9A Retain not supported.
    pub const RETAIN_NOT_SUPPORTED: ReasonCode = ReasonCode(0x9A);
    /// 0x9B QoS not supported.
    pub const QOS_NOT_SUPPORTED: ReasonCode = ReasonCode(0x9B);
    /// 0x9C Use another server.
    pub const USE_ANOTHER_SERVER: ReasonCode = ReasonCode(0x9C);
    /// 0x9D Server moved.
    pub const SERVER_MOVED: ReasonCode = ReasonCode(0x9D);
    /// 0x9E Shared Subscriptions not supported.
    pub const SHARED_SUBSCRIPTIONS_NOT_SUPPORTED: ReasonCode = ReasonCode(0x9E);
    /// 0x9F Connection rate exceeded.
    pub const CONNECTION_RATE_EXCEEDED: ReasonCode = ReasonCode(0x9F);
    /// 0xA0 Maximum connect time (DISCONNECT).
    pub const MAXIMUM_CONNECT_TIME: ReasonCode = ReasonCode(0xA0);
    /// 0xA1 Subscription Identifiers not supported.
    pub const SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED: ReasonCode = ReasonCode(0xA1);
    /// 0xA2 Wildcard Subscriptions not supported.
    pub const WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED: ReasonCode = ReasonCode(0xA2);

    /// Whether this code reports a failure (0x80 and above, MQTT 5 §2.4).
    pub fn is_error(self) -> bool {
        self.0 >= 0x80
    }

    /// The specification's name of this MQTT 5 reason code, if it is one (MQTT 5 §2.4 table 2-6).
    /// Codes that mean different things in different packets (0x00) give the generic name.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x00 => "Success",
            0x01 => "Granted QoS 1",
            0x02 => "Granted QoS 2",
            0x04 => "Disconnect with Will Message",
            0x10 => "No matching subscribers",
            0x11 => "No subscription existed",
            0x18 => "Continue authentication",
            0x19 => "Re-authenticate",
            0x80 => "Unspecified error",
            0x81 => "Malformed Packet",
            0x82 => "Protocol Error",
            0x83 => "Implementation specific error",
            0x84 => "Unsupported Protocol Version",
            0x85 => "Client Identifier not valid",
            0x86 => "Bad User Name or Password",
            0x87 => "Not authorized",
            0x88 => "Server unavailable",
            0x89 => "Server busy",
            0x8A => "Banned",
            0x8B => "Server shutting down",
            0x8C => "Bad authentication method",
            0x8D => "Keep Alive timeout",
            0x8E => "Session taken over",
            0x8F => "Topic Filter invalid",
            0x90 => "Topic Name invalid",
            0x91 => "Packet Identifier in use",
            0x92 => "Packet Identifier not found",
            0x93 => "Receive Maximum exceeded",
            0x94 => "Topic Alias invalid",
            0x95 => "Packet too large",
            0x96 => "Message rate too high",
            0x97 => "Quota exceeded",
            0x98 => "Administrative action",
            0x99 => "Payload format invalid",
            0x9A => "Retain not supported",
            0x9B => "QoS not supported",
            0x9C => "Use another server",
            0x9D => "Server moved",
            0x9E => "Shared Subscriptions not supported",
            0x9F => "Connection rate exceeded",
            0xA0 => "Maximum connect time",
            0xA1 => "Subscription Identifiers not supported",
            0xA2 => "Wildcard Subscriptions not supported",
            _ => return None,
        })
    }
}

impl From<u8> for ReasonCode {
    fn from(v: u8) -> Self {
        ReasonCode(v)
    }
}

impl From<ReasonCode> for u8 {
    fn from(v: ReasonCode) -> u8 {
        v.0
    }
}

/// The packets that carry a reason or return code, each with its own table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReasonTable {
    /// CONNACK (MQTT 5 §3.2.2.2; MQTT 3.1.1 §3.2.2.3 return codes 0–5).
    ConnAck,
    /// PUBACK and PUBREC (MQTT 5 §3.4.2.1, §3.5.2.1).
    PubAckPubRec,
    /// PUBREL and PUBCOMP (MQTT 5 §3.6.2.1, §3.7.2.1).
    PubRelPubComp,
    /// SUBACK (MQTT 5 §3.9.3; MQTT 3.1.1 §3.9.3 return codes 0, 1, 2, 0x80).
    SubAck,
    /// UNSUBACK (MQTT 5 §3.11.3).
    UnsubAck,
    /// DISCONNECT (MQTT 5 §3.14.2.1).
    Disconnect,
    /// AUTH (MQTT 5 §3.15.2.1).
    Auth,
}

const CONNACK_V5: &[u8] = &[
    0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97,
    0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
];
const CONNACK_V3: &[u8] = &[0, 1, 2, 3, 4, 5];
const PUBACK_PUBREC: &[u8] = &[0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
const PUBREL_PUBCOMP: &[u8] = &[0x00, 0x92];
const SUBACK_V5: &[u8] = &[
    0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
];
const SUBACK_V3: &[u8] = &[0x00, 0x01, 0x02, 0x80];
const UNSUBACK: &[u8] = &[0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91];
const DISCONNECT: &[u8] = &[
    0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95,
    0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
];
const AUTH: &[u8] = &[0x00, 0x18, 0x19];

impl ReasonTable {
    /// The packet name and spec section used in error messages.
    fn describe(self, version: ProtocolVersion) -> (&'static str, &'static str) {
        let v5 = version.is_v5();
        match self {
            ReasonTable::ConnAck if v5 => ("CONNACK reason code", "MQTT 5 §3.2.2.2"),
            ReasonTable::ConnAck => ("CONNACK return code", "MQTT 3.1.1 §3.2.2.3"),
            ReasonTable::PubAckPubRec => ("PUBACK/PUBREC reason code", "MQTT 5 §3.4.2.1"),
            ReasonTable::PubRelPubComp => ("PUBREL/PUBCOMP reason code", "MQTT 5 §3.6.2.1"),
            ReasonTable::SubAck if v5 => ("SUBACK reason code", "MQTT 5 §3.9.3"),
            ReasonTable::SubAck => ("SUBACK return code", "MQTT 3.1.1 §3.9.3"),
            ReasonTable::UnsubAck => ("UNSUBACK reason code", "MQTT 5 §3.11.3"),
            ReasonTable::Disconnect => ("DISCONNECT reason code", "MQTT 5 §3.14.2.1"),
            ReasonTable::Auth => ("AUTH reason code", "MQTT 5 §3.15.2.1"),
        }
    }

    /// The codes this table admits for `version`.
    fn codes(self, version: ProtocolVersion) -> &'static [u8] {
        let v5 = version.is_v5();
        match self {
            ReasonTable::ConnAck if v5 => CONNACK_V5,
            ReasonTable::ConnAck => CONNACK_V3,
            ReasonTable::PubAckPubRec => PUBACK_PUBREC,
            ReasonTable::PubRelPubComp => PUBREL_PUBCOMP,
            ReasonTable::SubAck if v5 => SUBACK_V5,
            ReasonTable::SubAck => SUBACK_V3,
            ReasonTable::UnsubAck => UNSUBACK,
            ReasonTable::Disconnect => DISCONNECT,
            ReasonTable::Auth => AUTH,
        }
    }

    /// Whether `code` is valid in this packet for `version`.
    pub(crate) fn admits(self, version: ProtocolVersion, code: u8) -> bool {
        self.codes(version).contains(&code)
    }

    /// Checks a received code: one outside the table is a protocol error (MQTT 5 §2.4, and each
    /// packet's reason code table).
    pub(crate) fn check_decoded(
        self,
        version: ProtocolVersion,
        code: u8,
    ) -> Result<(), CodecError> {
        if self.admits(version, code) {
            return Ok(());
        }
        let (what, section) = self.describe(version);
        Err(CodecError::protocol(format!(
            "invalid {what} 0x{code:02X} ({section})"
        )))
    }

    /// Checks a code about to be written.
    pub(crate) fn check_encoded(
        self,
        version: ProtocolVersion,
        code: u8,
    ) -> Result<(), CodecError> {
        if self.admits(version, code) {
            return Ok(());
        }
        let (what, section) = self.describe(version);
        Err(CodecError::unencodable(format!(
            "invalid {what} 0x{code:02X} ({section})"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tabled_code_has_a_name() {
        for table in [
            ReasonTable::ConnAck,
            ReasonTable::PubAckPubRec,
            ReasonTable::PubRelPubComp,
            ReasonTable::SubAck,
            ReasonTable::UnsubAck,
            ReasonTable::Disconnect,
            ReasonTable::Auth,
        ] {
            for &code in table.codes(ProtocolVersion::V5) {
                assert!(ReasonCode(code).name().is_some(), "{code:#x}");
            }
        }
    }

    #[test]
    fn auth_admits_only_success_continue_and_reauthenticate() {
        assert!(ReasonTable::Auth.admits(ProtocolVersion::V5, 0x18));
        assert!(!ReasonTable::Auth.admits(ProtocolVersion::V5, 0x80));
    }

    #[test]
    fn a_v3_suback_admits_only_granted_qos_and_failure() {
        assert!(ReasonTable::SubAck.admits(ProtocolVersion::V3_1_1, 0x80));
        assert!(!ReasonTable::SubAck.admits(ProtocolVersion::V3_1_1, 0x87));
        assert!(ReasonTable::SubAck.admits(ProtocolVersion::V5, 0x87));
    }

    #[test]
    fn reason_codes_at_or_above_0x80_are_errors() {
        assert!(ReasonCode::UNSPECIFIED_ERROR.is_error());
        assert!(!ReasonCode::NO_MATCHING_SUBSCRIBERS.is_error());
    }
}
