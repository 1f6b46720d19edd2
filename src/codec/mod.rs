//! The MQTT codec: packets of MQTT 3.1, 3.1.1 and 5.0 to and from bytes.
//!
//! Sans-I/O: [`decode`] takes whatever bytes have arrived and returns a packet once a whole one is
//! buffered (`Ok(None)` asks for more); [`encode`] appends one packet to a buffer. One codec serves
//! all three versions, selected by [`ProtocolVersion`]; MQTT 5 properties live in one table
//! ([`Properties`]). Every violation of what the specification requires of a receiver is returned
//! as a [`CodecError`] carrying the MQTT 5 reason code it maps to; no input panics.
//!
//! The types derive `serde` with the field names of `mqtt-packet` where the two agree, so the
//! binding can hand them to JavaScript as plain objects (`lib/packet.js` finishes the shape).

mod ack;
mod auth;
mod connack;
mod connect;
mod disconnect;
mod error;
mod header;
mod primitives;
mod properties;
mod publish;
mod reason;
mod subscribe;
#[cfg(test)]
mod tests;
mod unsubscribe;

pub use error::{CodecError, ErrorKind};
pub use reason::ReasonCode;

use bytes::{Bytes, BytesMut};
use serde::{Deserialize, Serialize};

/// The protocol level sent in CONNECT: 3 is MQTT 3.1 (`MQIsdp`), 4 is 3.1.1, 5 is 5.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum ProtocolVersion {
    /// MQTT 3.1, protocol name `MQIsdp`, level 3.
    V3_1,
    /// MQTT 3.1.1, protocol name `MQTT`, level 4.
    V3_1_1,
    /// MQTT 5.0, protocol name `MQTT`, level 5.
    V5,
}

impl ProtocolVersion {
    /// The protocol level byte of CONNECT (MQTT 5 §3.1.2.2).
    pub fn level(self) -> u8 {
        match self {
            ProtocolVersion::V3_1 => 3,
            ProtocolVersion::V3_1_1 => 4,
            ProtocolVersion::V5 => 5,
        }
    }

    /// Whether packets of this version carry properties and reason codes.
    pub fn is_v5(self) -> bool {
        self == ProtocolVersion::V5
    }
}

impl TryFrom<u8> for ProtocolVersion {
    type Error = String;
    fn try_from(level: u8) -> Result<Self, String> {
        match level {
            3 => Ok(ProtocolVersion::V3_1),
            4 => Ok(ProtocolVersion::V3_1_1),
            5 => Ok(ProtocolVersion::V5),
            other => Err(format!("unsupported protocol version {other}")),
        }
    }
}

impl From<ProtocolVersion> for u8 {
    fn from(v: ProtocolVersion) -> u8 {
        v.level()
    }
}

/// Quality of service of a publish or a subscription.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(try_from = "u8", into = "u8")]
pub enum QoS {
    /// At most once (0).
    #[default]
    AtMostOnce,
    /// At least once (1).
    AtLeastOnce,
    /// Exactly once (2).
    ExactlyOnce,
}

impl TryFrom<u8> for QoS {
    type Error = String;
    fn try_from(v: u8) -> Result<Self, String> {
        match v {
            0 => Ok(QoS::AtMostOnce),
            1 => Ok(QoS::AtLeastOnce),
            2 => Ok(QoS::ExactlyOnce),
            other => Err(format!("invalid QoS {other}")),
        }
    }
}

impl From<QoS> for u8 {
    fn from(q: QoS) -> u8 {
        q as u8
    }
}

/// Limits the decoder enforces on top of the specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest whole packet (fixed header included) accepted, in bytes; checked from the fixed
    /// header before the body is buffered (MQTT 5 §3.1.2.11.4). The protocol maximum is 268,435,460.
    pub max_packet_size: u32,
}

impl Default for Limits {
    fn default() -> Self {
        // 1 byte of type and flags + 4 bytes of remaining length + 268,435,455 bytes of body.
        Limits {
            max_packet_size: 268_435_460,
        }
    }
}

/// The values of the MQTT 5 properties of a packet, in one table (MQTT 5 §2.2.2.2).
///
/// Which properties a packet may carry is checked by the codec for each packet type; a property
/// that is absent is `None` (or empty, for the repeatable ones). Packets hold them through
/// [`Properties`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PropertyValues {
    /// 0x01, PUBLISH and will: `true` means the payload is UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_format_indicator: Option<bool>,
    /// 0x02, PUBLISH and will: lifetime of the message in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_expiry_interval: Option<u32>,
    /// 0x03, PUBLISH and will.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// 0x08, PUBLISH and will.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_topic: Option<String>,
    /// 0x09, PUBLISH and will.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_data: Option<Bytes>,
    /// 0x0B, PUBLISH (repeatable) and SUBSCRIBE (once): 1 ..= 268,435,455.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subscription_identifiers: Vec<u32>,
    /// 0x11, CONNECT, CONNACK, DISCONNECT.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_expiry_interval: Option<u32>,
    /// 0x12, CONNACK.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_client_identifier: Option<String>,
    /// 0x13, CONNACK.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_keep_alive: Option<u16>,
    /// 0x15, CONNECT, CONNACK, AUTH.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentication_method: Option<String>,
    /// 0x16, CONNECT, CONNACK, AUTH.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentication_data: Option<Bytes>,
    /// 0x17, CONNECT.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_problem_information: Option<bool>,
    /// 0x18, will.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub will_delay_interval: Option<u32>,
    /// 0x19, CONNECT.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_response_information: Option<bool>,
    /// 0x1A, CONNACK.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_information: Option<String>,
    /// 0x1C, CONNACK, DISCONNECT.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_reference: Option<String>,
    /// 0x1F, CONNACK, acks, DISCONNECT, AUTH.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_string: Option<String>,
    /// 0x21, CONNECT, CONNACK: 1 ..= 65,535.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receive_maximum: Option<u16>,
    /// 0x22, CONNECT, CONNACK.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_alias_maximum: Option<u16>,
    /// 0x23, PUBLISH: 1 ..= 65,535.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_alias: Option<u16>,
    /// 0x24, CONNACK: 0 or 1.
    #[serde(rename = "maximumQoS", skip_serializing_if = "Option::is_none")]
    pub maximum_qos: Option<u8>,
    /// 0x25, CONNACK.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retain_available: Option<bool>,
    /// 0x26, every packet with properties, repeatable, order kept.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub user_properties: Vec<(String, String)>,
    /// 0x27, CONNECT, CONNACK: 1 ..= 4,294,967,295.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_packet_size: Option<u32>,
    /// 0x28, CONNACK.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wildcard_subscription_available: Option<bool>,
    /// 0x29, CONNACK.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_identifiers_available: Option<bool>,
    /// 0x2A, CONNACK.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_subscription_available: Option<bool>,
}

impl PropertyValues {
    /// Whether no property is set.
    pub fn is_empty(&self) -> bool {
        *self == EMPTY_PROPERTIES
    }
}

/// What an absent property table reads as.
static EMPTY_PROPERTIES: PropertyValues = PropertyValues {
    payload_format_indicator: None,
    message_expiry_interval: None,
    content_type: None,
    response_topic: None,
    correlation_data: None,
    subscription_identifiers: Vec::new(),
    session_expiry_interval: None,
    assigned_client_identifier: None,
    server_keep_alive: None,
    authentication_method: None,
    authentication_data: None,
    request_problem_information: None,
    will_delay_interval: None,
    request_response_information: None,
    response_information: None,
    server_reference: None,
    reason_string: None,
    receive_maximum: None,
    topic_alias_maximum: None,
    topic_alias: None,
    maximum_qos: None,
    retain_available: None,
    user_properties: Vec::new(),
    maximum_packet_size: None,
    wildcard_subscription_available: None,
    subscription_identifiers_available: None,
    shared_subscription_available: None,
};

/// The MQTT 5 properties of a packet, stored out of line: most packets carry none, and a table
/// of every property inside each packet made every packet (and every event holding one) about
/// 350 bytes larger, bytes that were moved several times per message.
///
/// Reads go through to [`PropertyValues`] (an absent table reads as empty); the first write
/// allocates it. Two tables are equal when their values are, however they are stored and in
/// whatever order they were received.
#[derive(Clone, Default)]
pub struct Properties(Option<Box<Table>>);

/// A property table and, for a decoded packet that listed its properties out of ascending
/// identifier order, that order.
#[derive(Clone, Default)]
pub struct Table {
    values: PropertyValues,
    /// Property identifiers in the order the packet first listed them (MQTT 5 §2.2.2 leaves the
    /// order free); empty when it was ascending, the order the fields serialize in.
    wire_order: Vec<u8>,
}

impl Properties {
    /// Whether no property is set.
    pub fn is_empty(&self) -> bool {
        self.0.as_ref().is_none_or(|table| table.values.is_empty())
    }

    /// The order in which a decoded packet listed its property identifiers, when it was not
    /// ascending; empty otherwise.
    pub fn wire_order(&self) -> &[u8] {
        self.0.as_ref().map_or(&[], |table| &table.wire_order)
    }

    /// Records the order of first appearance of `ids` as read from the wire; kept only when it
    /// is not ascending (so that JavaScript can list the keys as mqtt-packet's parser does).
    pub(crate) fn set_wire_order(&mut self, ids: Vec<u8>) {
        if let Some(table) = self.0.as_mut() {
            table.wire_order = if ids.windows(2).all(|w| w[0] < w[1]) {
                Vec::new()
            } else {
                ids
            };
        }
    }
}

impl std::ops::Deref for Properties {
    type Target = PropertyValues;
    fn deref(&self) -> &PropertyValues {
        self.0
            .as_deref()
            .map_or(&EMPTY_PROPERTIES, |table| &table.values)
    }
}

impl std::ops::DerefMut for Properties {
    fn deref_mut(&mut self) -> &mut PropertyValues {
        &mut self.0.get_or_insert_with(Default::default).values
    }
}

impl From<PropertyValues> for Properties {
    fn from(values: PropertyValues) -> Self {
        if values.is_empty() {
            Properties(None)
        } else {
            Properties(Some(Box::new(Table {
                values,
                wire_order: Vec::new(),
            })))
        }
    }
}

impl PartialEq for Properties {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for Properties {}

impl std::fmt::Debug for Properties {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

impl Serialize for Properties {
    /// The values, in ascending identifier order; with `wireOrder` (the identifiers in the
    /// order they were received) when that differed.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Ordered<'a> {
            #[serde(flatten)]
            values: &'a PropertyValues,
            wire_order: &'a [u8],
        }
        let wire_order = self.wire_order();
        if wire_order.is_empty() {
            (**self).serialize(serializer)
        } else {
            Ordered {
                values: self,
                wire_order,
            }
            .serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for Properties {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        PropertyValues::deserialize(deserializer).map(Properties::from)
    }
}

/// The will message of a CONNECT (MQTT 5 §3.1.3.2–3.1.3.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastWill {
    /// Will topic.
    pub topic: String,
    /// Will payload.
    pub payload: Bytes,
    /// Will QoS.
    #[serde(default)]
    pub qos: QoS,
    /// Will retain flag.
    #[serde(default)]
    pub retain: bool,
    /// Will properties (MQTT 5 only).
    #[serde(default, skip_serializing_if = "Properties::is_empty")]
    pub properties: Properties,
}

/// CONNECT (MQTT 5 §3.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connect {
    /// `MQTT`, or `MQIsdp` for MQTT 3.1.
    pub protocol_id: String,
    /// The protocol level.
    pub protocol_version: ProtocolVersion,
    /// Clean session (3.x) or clean start (5).
    pub clean: bool,
    /// Keep alive in seconds; 0 turns it off.
    pub keepalive: u16,
    /// Client identifier; may be empty.
    pub client_id: String,
    /// The will message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub will: Option<LastWill>,
    /// User name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Password (binary data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Bytes>,
    /// CONNECT properties (MQTT 5 only).
    #[serde(default, skip_serializing_if = "Properties::is_empty")]
    pub properties: Properties,
}

/// CONNACK (MQTT 5 §3.2). `reason_code` is the 3.1.1 return code for versions 3 and 4.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnAck {
    /// Session present flag.
    pub session_present: bool,
    /// Reason code (5) or return code (3.x).
    pub reason_code: u8,
    /// CONNACK properties (MQTT 5 only).
    #[serde(default, skip_serializing_if = "Properties::is_empty")]
    pub properties: Properties,
}

/// PUBLISH (MQTT 5 §3.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Publish {
    /// Duplicate delivery flag.
    #[serde(default)]
    pub dup: bool,
    /// QoS of this delivery.
    #[serde(default)]
    pub qos: QoS,
    /// Retain flag.
    #[serde(default)]
    pub retain: bool,
    /// Topic name; empty when a v5 topic alias stands for it.
    pub topic: String,
    /// Packet identifier: non-zero for QoS 1 and 2, zero (absent on the wire) for QoS 0.
    #[serde(default)]
    pub message_id: u16,
    /// Application message.
    pub payload: Bytes,
    /// PUBLISH properties (MQTT 5 only).
    #[serde(default, skip_serializing_if = "Properties::is_empty")]
    pub properties: Properties,
}

/// A PUBLISH to encode that borrows its topic, payload and properties: the application's publish
/// goes into the output buffer without first being copied into a [`Publish`].
#[derive(Debug, Clone, Copy)]
pub struct PublishRef<'a> {
    /// Duplicate delivery flag.
    pub dup: bool,
    /// QoS of this delivery.
    pub qos: QoS,
    /// Retain flag.
    pub retain: bool,
    /// Topic name.
    pub topic: &'a str,
    /// Packet identifier (0 for QoS 0).
    pub message_id: u16,
    /// Application message.
    pub payload: &'a [u8],
    /// PUBLISH properties (MQTT 5 only).
    pub properties: &'a Properties,
}

impl<'a> From<&'a Publish> for PublishRef<'a> {
    fn from(p: &'a Publish) -> Self {
        PublishRef {
            dup: p.dup,
            qos: p.qos,
            retain: p.retain,
            topic: &p.topic,
            message_id: p.message_id,
            payload: &p.payload,
            properties: &p.properties,
        }
    }
}

/// PUBACK, PUBREC, PUBREL and PUBCOMP share this body (MQTT 5 §3.4–3.7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ack {
    /// Packet identifier, non-zero.
    pub message_id: u16,
    /// Reason code (MQTT 5 only; 0 when absent on the wire).
    #[serde(default)]
    pub reason_code: u8,
    /// Properties (MQTT 5 only).
    #[serde(default, skip_serializing_if = "Properties::is_empty")]
    pub properties: Properties,
}

/// One topic filter of a SUBSCRIBE with its options (MQTT 5 §3.8.3.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    /// Topic filter.
    pub topic: String,
    /// Maximum QoS.
    #[serde(default)]
    pub qos: QoS,
    /// No Local (MQTT 5 only).
    #[serde(default)]
    pub nl: bool,
    /// Retain As Published (MQTT 5 only).
    #[serde(default)]
    pub rap: bool,
    /// Retain Handling 0, 1 or 2 (MQTT 5 only).
    #[serde(default)]
    pub rh: u8,
}

/// SUBSCRIBE (MQTT 5 §3.8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscribe {
    /// Packet identifier, non-zero.
    pub message_id: u16,
    /// At least one subscription.
    pub subscriptions: Vec<Subscription>,
    /// Properties (MQTT 5 only).
    #[serde(default, skip_serializing_if = "Properties::is_empty")]
    pub properties: Properties,
}

/// SUBACK (MQTT 5 §3.9): one return or reason code per subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubAck {
    /// Packet identifier.
    pub message_id: u16,
    /// Granted QoS or failure code, in request order.
    pub granted: Vec<u8>,
    /// Properties (MQTT 5 only).
    #[serde(default, skip_serializing_if = "Properties::is_empty")]
    pub properties: Properties,
}

/// UNSUBSCRIBE (MQTT 5 §3.10).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Unsubscribe {
    /// Packet identifier, non-zero.
    pub message_id: u16,
    /// At least one topic filter.
    pub unsubscriptions: Vec<String>,
    /// Properties (MQTT 5 only).
    #[serde(default, skip_serializing_if = "Properties::is_empty")]
    pub properties: Properties,
}

/// UNSUBACK (MQTT 5 §3.11). Versions 3 and 4 carry no reason codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnsubAck {
    /// Packet identifier.
    pub message_id: u16,
    /// One reason code per topic filter (MQTT 5 only; empty otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub granted: Vec<u8>,
    /// Properties (MQTT 5 only).
    #[serde(default, skip_serializing_if = "Properties::is_empty")]
    pub properties: Properties,
}

/// DISCONNECT (MQTT 5 §3.14). Versions 3 and 4 carry no body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Disconnect {
    /// Reason code (MQTT 5 only; 0 when absent on the wire).
    #[serde(default)]
    pub reason_code: u8,
    /// Properties (MQTT 5 only).
    #[serde(default, skip_serializing_if = "Properties::is_empty")]
    pub properties: Properties,
}

/// AUTH (MQTT 5 §3.15), MQTT 5 only.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Auth {
    /// Reason code: 0x00 success, 0x18 continue, 0x19 re-authenticate.
    #[serde(default)]
    pub reason_code: u8,
    /// Properties.
    #[serde(default, skip_serializing_if = "Properties::is_empty")]
    pub properties: Properties,
}

/// Any MQTT control packet. Serialised with a `cmd` tag named as `mqtt-packet` names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "lowercase")]
pub enum Packet {
    /// CONNECT (type 1).
    Connect(Connect),
    /// CONNACK (type 2).
    Connack(ConnAck),
    /// PUBLISH (type 3).
    Publish(Publish),
    /// PUBACK (type 4).
    Puback(Ack),
    /// PUBREC (type 5).
    Pubrec(Ack),
    /// PUBREL (type 6).
    Pubrel(Ack),
    /// PUBCOMP (type 7).
    Pubcomp(Ack),
    /// SUBSCRIBE (type 8).
    Subscribe(Subscribe),
    /// SUBACK (type 9).
    Suback(SubAck),
    /// UNSUBSCRIBE (type 10).
    Unsubscribe(Unsubscribe),
    /// UNSUBACK (type 11).
    Unsuback(UnsubAck),
    /// PINGREQ (type 12).
    Pingreq,
    /// PINGRESP (type 13).
    Pingresp,
    /// DISCONNECT (type 14).
    Disconnect(Disconnect),
    /// AUTH (type 15).
    Auth(Auth),
}

impl Packet {
    /// The `mqtt-packet` command name of this packet (`"publish"`, `"puback"`, …).
    pub fn cmd(&self) -> &'static str {
        match self {
            Packet::Connect(_) => "connect",
            Packet::Connack(_) => "connack",
            Packet::Publish(_) => "publish",
            Packet::Puback(_) => "puback",
            Packet::Pubrec(_) => "pubrec",
            Packet::Pubrel(_) => "pubrel",
            Packet::Pubcomp(_) => "pubcomp",
            Packet::Subscribe(_) => "subscribe",
            Packet::Suback(_) => "suback",
            Packet::Unsubscribe(_) => "unsubscribe",
            Packet::Unsuback(_) => "unsuback",
            Packet::Pingreq => "pingreq",
            Packet::Pingresp => "pingresp",
            Packet::Disconnect(_) => "disconnect",
            Packet::Auth(_) => "auth",
        }
    }
}

/// Decodes one packet from the front of `buf`.
///
/// Returns `Ok(None)` when `buf` does not yet hold a whole packet (nothing is consumed), and
/// `Ok(Some(packet))` after removing exactly that packet's bytes from `buf`. The fixed header is
/// checked against `limits.max_packet_size` before the body is waited for, so an oversized
/// packet is refused as soon as its length is known. Payloads share `buf`'s allocation.
pub fn decode(
    buf: &mut BytesMut,
    version: ProtocolVersion,
    limits: &Limits,
) -> Result<Option<Packet>, CodecError> {
    let Some(fixed) = header::parse_fixed_header(buf, version, limits)? else {
        return Ok(None);
    };
    if buf.len() < fixed.header_len + fixed.remaining_length {
        return Ok(None);
    }
    let _ = buf.split_to(fixed.header_len);
    let body = buf.split_to(fixed.remaining_length).freeze();
    decode_body(fixed.first_byte, body, version).map(Some)
}

/// Decodes a packet whose fixed header has been read and checked: `first_byte` is the type and
/// flags byte, `body` is exactly the remaining length.
fn decode_body(
    first_byte: u8,
    body: Bytes,
    version: ProtocolVersion,
) -> Result<Packet, CodecError> {
    let flags = first_byte & 0x0F;
    match first_byte >> 4 {
        1 => connect::decode(body).map(Packet::Connect),
        2 => connack::decode(body, version).map(Packet::Connack),
        3 => publish::decode(flags, body, version).map(Packet::Publish),
        4 => ack::decode(ack::AckKind::PubAck, body, version).map(Packet::Puback),
        5 => ack::decode(ack::AckKind::PubRec, body, version).map(Packet::Pubrec),
        6 => ack::decode(ack::AckKind::PubRel, body, version).map(Packet::Pubrel),
        7 => ack::decode(ack::AckKind::PubComp, body, version).map(Packet::Pubcomp),
        8 => subscribe::decode_subscribe(body, version).map(Packet::Subscribe),
        9 => subscribe::decode_suback(body, version).map(Packet::Suback),
        10 => unsubscribe::decode_unsubscribe(body, version).map(Packet::Unsubscribe),
        11 => unsubscribe::decode_unsuback(body, version).map(Packet::Unsuback),
        12 => header::expect_empty(flags, &body, "PINGREQ").map(|()| Packet::Pingreq),
        13 => header::expect_empty(flags, &body, "PINGRESP").map(|()| Packet::Pingresp),
        14 => disconnect::decode(body, version).map(Packet::Disconnect),
        15 => auth::decode(body, version).map(Packet::Auth),
        _ => Err(CodecError::malformed(
            "reserved packet type 0 (MQTT 5 §2.1.2)",
        )),
    }
}

/// Appends the encoding of `packet` for `version` to `out`.
///
/// Fails, leaving `out` unchanged, when the packet cannot be represented: a string longer than
/// 65,535 bytes, a body longer than 268,435,455 bytes, a QoS 1/2 publish with message id 0,
/// properties or options that `version` cannot carry, and so on. A CONNECT is always encoded with
/// its own `protocol_version`; `version` does not apply to it.
pub fn encode(
    packet: &Packet,
    version: ProtocolVersion,
    out: &mut BytesMut,
) -> Result<(), CodecError> {
    let start = out.len();
    let result = encode_into(packet, version, &mut header::Output::Buffer(out));
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// Appends a PUBLISH given by reference, exactly as [`encode`] would append the same
/// [`Publish`]; fails the same way, leaving `out` unchanged.
pub fn encode_publish(
    publish: &PublishRef<'_>,
    version: ProtocolVersion,
    out: &mut BytesMut,
) -> Result<(), CodecError> {
    let start = out.len();
    let result = publish::encode_ref(publish, version, &mut header::Output::Buffer(out));
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// The number of bytes [`encode`] would append for `packet` (fixed header included), with the
/// same validation, without writing anything or copying the payload.
///
/// Use it to check a packet against the peer's Maximum Packet Size (MQTT 5 §3.1.2.11.4).
pub fn encoded_len(packet: &Packet, version: ProtocolVersion) -> Result<usize, CodecError> {
    let mut out = header::Output::Measure(0);
    encode_into(packet, version, &mut out)?;
    match out {
        header::Output::Measure(len) => Ok(len),
        header::Output::Buffer(_) => Err(CodecError::unencodable("measuring wrote a buffer")),
    }
}

/// The name of the packet type in the high nibble of `first_byte` (`"PUBLISH"`, …), as the
/// specification spells it; `"reserved"` for type 0.
pub fn packet_type_name(first_byte: u8) -> &'static str {
    header::packet_type_name(first_byte >> 4)
}

/// Encodes `packet` into `out`, dispatching on its type.
fn encode_into(
    packet: &Packet,
    version: ProtocolVersion,
    out: &mut header::Output<'_>,
) -> Result<(), CodecError> {
    match packet {
        Packet::Connect(p) => connect::encode(p, out),
        Packet::Connack(p) => connack::encode(p, version, out),
        Packet::Publish(p) => publish::encode(p, version, out),
        Packet::Puback(p) => ack::encode(ack::AckKind::PubAck, p, version, out),
        Packet::Pubrec(p) => ack::encode(ack::AckKind::PubRec, p, version, out),
        Packet::Pubrel(p) => ack::encode(ack::AckKind::PubRel, p, version, out),
        Packet::Pubcomp(p) => ack::encode(ack::AckKind::PubComp, p, version, out),
        Packet::Subscribe(p) => subscribe::encode_subscribe(p, version, out),
        Packet::Suback(p) => subscribe::encode_suback(p, version, out),
        Packet::Unsubscribe(p) => unsubscribe::encode_unsubscribe(p, version, out),
        Packet::Unsuback(p) => unsubscribe::encode_unsuback(p, version, out),
        Packet::Pingreq => header::encode_empty(0xC0, out),
        Packet::Pingresp => header::encode_empty(0xD0, out),
        Packet::Disconnect(p) => disconnect::encode(p, version, out),
        Packet::Auth(p) => auth::encode(p, version, out),
    }
}
