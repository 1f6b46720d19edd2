//! MQTT 5 properties (MQTT 5 §2.2.2): one table of every property, its type, its allowed values
//! and the packets that may carry it; decoding with duplicate and permission checks; encoding in
//! ascending identifier order.

use bytes::Bytes;

use super::primitives::{check_string, varint_len, Reader, Writer};
use super::{CodecError, Properties};

/// A packet (or the will of a CONNECT) that carries properties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Carrier {
    /// CONNECT (MQTT 5 §3.1.2.11).
    Connect,
    /// The will properties of CONNECT (MQTT 5 §3.1.3.2).
    Will,
    /// CONNACK (MQTT 5 §3.2.2.3).
    ConnAck,
    /// PUBLISH (MQTT 5 §3.3.2.3).
    Publish,
    /// PUBACK (MQTT 5 §3.4.2.2).
    PubAck,
    /// PUBREC (MQTT 5 §3.5.2.2).
    PubRec,
    /// PUBREL (MQTT 5 §3.6.2.2).
    PubRel,
    /// PUBCOMP (MQTT 5 §3.7.2.2).
    PubComp,
    /// SUBSCRIBE (MQTT 5 §3.8.2.1).
    Subscribe,
    /// SUBACK (MQTT 5 §3.9.2.1).
    SubAck,
    /// UNSUBSCRIBE (MQTT 5 §3.10.2.1).
    Unsubscribe,
    /// UNSUBACK (MQTT 5 §3.11.2.1).
    UnsubAck,
    /// DISCONNECT (MQTT 5 §3.14.2.2).
    Disconnect,
    /// AUTH (MQTT 5 §3.15.2.2).
    Auth,
}

impl Carrier {
    const fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// The name used in error messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Carrier::Connect => "CONNECT",
            Carrier::Will => "will",
            Carrier::ConnAck => "CONNACK",
            Carrier::Publish => "PUBLISH",
            Carrier::PubAck => "PUBACK",
            Carrier::PubRec => "PUBREC",
            Carrier::PubRel => "PUBREL",
            Carrier::PubComp => "PUBCOMP",
            Carrier::Subscribe => "SUBSCRIBE",
            Carrier::SubAck => "SUBACK",
            Carrier::Unsubscribe => "UNSUBSCRIBE",
            Carrier::UnsubAck => "UNSUBACK",
            Carrier::Disconnect => "DISCONNECT",
            Carrier::Auth => "AUTH",
        }
    }
}

const CONNECT: u16 = Carrier::Connect.bit();
const WILL: u16 = Carrier::Will.bit();
const CONNACK: u16 = Carrier::ConnAck.bit();
const PUBLISH: u16 = Carrier::Publish.bit();
const ACKS: u16 =
    Carrier::PubAck.bit() | Carrier::PubRec.bit() | Carrier::PubRel.bit() | Carrier::PubComp.bit();
const SUBSCRIBE: u16 = Carrier::Subscribe.bit();
const SUBACK: u16 = Carrier::SubAck.bit();
const UNSUBSCRIBE: u16 = Carrier::Unsubscribe.bit();
const UNSUBACK: u16 = Carrier::UnsubAck.bit();
const DISCONNECT: u16 = Carrier::Disconnect.bit();
const AUTH: u16 = Carrier::Auth.bit();
const ALL: u16 = CONNECT
    | WILL
    | CONNACK
    | PUBLISH
    | ACKS
    | SUBSCRIBE
    | SUBACK
    | UNSUBSCRIBE
    | UNSUBACK
    | DISCONNECT
    | AUTH;
const NONE: u16 = 0;

/// The data type of a property value (MQTT 5 §1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueType {
    /// Byte.
    Byte,
    /// Two Byte Integer.
    TwoByte,
    /// Four Byte Integer.
    FourByte,
    /// Variable Byte Integer.
    VarInt,
    /// UTF-8 Encoded String.
    Utf8,
    /// Binary Data.
    Binary,
    /// UTF-8 String Pair.
    Utf8Pair,
}

/// One row of the property table (MQTT 5 §2.2.2.2 table 2-4).
#[derive(Debug)]
struct Spec {
    /// Property identifier.
    id: u8,
    /// The specification's name.
    name: &'static str,
    /// Data type.
    value: ValueType,
    /// Allowed numeric values, inclusive (integers only).
    range: (u32, u32),
    /// Where the property may appear.
    carriers: u16,
    /// Where it may appear more than once.
    repeatable_in: u16,
    /// Section defining it, for error messages.
    section: &'static str,
}

const ANY: (u32, u32) = (0, u32::MAX);
const BOOL: (u32, u32) = (0, 1);
const NONZERO: (u32, u32) = (1, u32::MAX);

/// Every MQTT 5 property, in ascending identifier order.
const TABLE: [Spec; 27] = [
    Spec {
        id: 0x01,
        name: "Payload Format Indicator",
        value: ValueType::Byte,
        range: BOOL,
        carriers: PUBLISH | WILL,
        repeatable_in: NONE,
        section: "MQTT 5 §3.3.2.3.2",
    },
    Spec {
        id: 0x02,
        name: "Message Expiry Interval",
        value: ValueType::FourByte,
        range: ANY,
        carriers: PUBLISH | WILL,
        repeatable_in: NONE,
        section: "MQTT 5 §3.3.2.3.3",
    },
    Spec {
        id: 0x03,
        name: "Content Type",
        value: ValueType::Utf8,
        range: ANY,
        carriers: PUBLISH | WILL,
        repeatable_in: NONE,
        section: "MQTT 5 §3.3.2.3.9",
    },
    Spec {
        id: 0x08,
        name: "Response Topic",
        value: ValueType::Utf8,
        range: ANY,
        carriers: PUBLISH | WILL,
        repeatable_in: NONE,
        section: "MQTT 5 §3.3.2.3.5",
    },
    Spec {
        id: 0x09,
        name: "Correlation Data",
        value: ValueType::Binary,
        range: ANY,
        carriers: PUBLISH | WILL,
        repeatable_in: NONE,
        section: "MQTT 5 §3.3.2.3.6",
    },
    Spec {
        id: 0x0B,
        name: "Subscription Identifier",
        value: ValueType::VarInt,
        range: (1, 268_435_455),
        carriers: PUBLISH | SUBSCRIBE,
        repeatable_in: PUBLISH,
        section: "MQTT 5 §3.8.2.1.2",
    },
    Spec {
        id: 0x11,
        name: "Session Expiry Interval",
        value: ValueType::FourByte,
        range: ANY,
        carriers: CONNECT | CONNACK | DISCONNECT,
        repeatable_in: NONE,
        section: "MQTT 5 §3.1.2.11.2",
    },
    Spec {
        id: 0x12,
        name: "Assigned Client Identifier",
        value: ValueType::Utf8,
        range: ANY,
        carriers: CONNACK,
        repeatable_in: NONE,
        section: "MQTT 5 §3.2.2.3.7",
    },
    Spec {
        id: 0x13,
        name: "Server Keep Alive",
        value: ValueType::TwoByte,
        range: ANY,
        carriers: CONNACK,
        repeatable_in: NONE,
        section: "MQTT 5 §3.2.2.3.14",
    },
    Spec {
        id: 0x15,
        name: "Authentication Method",
        value: ValueType::Utf8,
        range: ANY,
        carriers: CONNECT | CONNACK | AUTH,
        repeatable_in: NONE,
        section: "MQTT 5 §3.1.2.11.9",
    },
    Spec {
        id: 0x16,
        name: "Authentication Data",
        value: ValueType::Binary,
        range: ANY,
        carriers: CONNECT | CONNACK | AUTH,
        repeatable_in: NONE,
        section: "MQTT 5 §3.1.2.11.10",
    },
    Spec {
        id: 0x17,
        name: "Request Problem Information",
        value: ValueType::Byte,
        range: BOOL,
        carriers: CONNECT,
        repeatable_in: NONE,
        section: "MQTT 5 §3.1.2.11.7",
    },
    Spec {
        id: 0x18,
        name: "Will Delay Interval",
        value: ValueType::FourByte,
        range: ANY,
        carriers: WILL,
        repeatable_in: NONE,
        section: "MQTT 5 §3.1.3.2.2",
    },
    Spec {
        id: 0x19,
        name: "Request Response Information",
        value: ValueType::Byte,
        range: BOOL,
        carriers: CONNECT,
        repeatable_in: NONE,
        section: "MQTT 5 §3.1.2.11.6",
    },
    Spec {
        id: 0x1A,
        name: "Response Information",
        value: ValueType::Utf8,
        range: ANY,
        carriers: CONNACK,
        repeatable_in: NONE,
        section: "MQTT 5 §3.2.2.3.15",
    },
    Spec {
        id: 0x1C,
        name: "Server Reference",
        value: ValueType::Utf8,
        range: ANY,
        carriers: CONNACK | DISCONNECT,
        repeatable_in: NONE,
        section: "MQTT 5 §3.2.2.3.16",
    },
    Spec {
        id: 0x1F,
        name: "Reason String",
        value: ValueType::Utf8,
        range: ANY,
        carriers: CONNACK | ACKS | SUBACK | UNSUBACK | DISCONNECT | AUTH,
        repeatable_in: NONE,
        section: "MQTT 5 §3.2.2.3.9",
    },
    Spec {
        id: 0x21,
        name: "Receive Maximum",
        value: ValueType::TwoByte,
        range: NONZERO,
        carriers: CONNECT | CONNACK,
        repeatable_in: NONE,
        section: "MQTT 5 §3.1.2.11.3",
    },
    Spec {
        id: 0x22,
        name: "Topic Alias Maximum",
        value: ValueType::TwoByte,
        range: ANY,
        carriers: CONNECT | CONNACK,
        repeatable_in: NONE,
        section: "MQTT 5 §3.1.2.11.5",
    },
    Spec {
        id: 0x23,
        name: "Topic Alias",
        value: ValueType::TwoByte,
        range: NONZERO,
        carriers: PUBLISH,
        repeatable_in: NONE,
        section: "MQTT 5 §3.3.2.3.4",
    },
    Spec {
        id: 0x24,
        name: "Maximum QoS",
        value: ValueType::Byte,
        range: BOOL,
        carriers: CONNACK,
        repeatable_in: NONE,
        section: "MQTT 5 §3.2.2.3.4",
    },
    Spec {
        id: 0x25,
        name: "Retain Available",
        value: ValueType::Byte,
        range: BOOL,
        carriers: CONNACK,
        repeatable_in: NONE,
        section: "MQTT 5 §3.2.2.3.5",
    },
    Spec {
        id: 0x26,
        name: "User Property",
        value: ValueType::Utf8Pair,
        range: ANY,
        carriers: ALL,
        repeatable_in: ALL,
        section: "MQTT 5 §3.1.2.11.8",
    },
    Spec {
        id: 0x27,
        name: "Maximum Packet Size",
        value: ValueType::FourByte,
        range: NONZERO,
        carriers: CONNECT | CONNACK,
        repeatable_in: NONE,
        section: "MQTT 5 §3.1.2.11.4",
    },
    Spec {
        id: 0x28,
        name: "Wildcard Subscription Available",
        value: ValueType::Byte,
        range: BOOL,
        carriers: CONNACK,
        repeatable_in: NONE,
        section: "MQTT 5 §3.2.2.3.11",
    },
    Spec {
        id: 0x29,
        name: "Subscription Identifier Available",
        value: ValueType::Byte,
        range: BOOL,
        carriers: CONNACK,
        repeatable_in: NONE,
        section: "MQTT 5 §3.2.2.3.12",
    },
    Spec {
        id: 0x2A,
        name: "Shared Subscription Available",
        value: ValueType::Byte,
        range: BOOL,
        carriers: CONNACK,
        repeatable_in: NONE,
        section: "MQTT 5 §3.2.2.3.13",
    },
];

fn spec(id: u32) -> Option<&'static Spec> {
    TABLE.iter().find(|s| u32::from(s.id) == id)
}

/// A property value as it travels on the wire.
#[derive(Debug, Clone, Copy)]
enum Value<'a> {
    /// Byte, Two Byte, Four Byte or Variable Byte Integer.
    Int(u32),
    /// UTF-8 Encoded String.
    Str(&'a str),
    /// Binary Data.
    Bin(&'a [u8]),
    /// UTF-8 String Pair.
    Pair(&'a str, &'a str),
}

/// A decoded property value that owns its data.
#[derive(Debug)]
enum Owned {
    Int(u32),
    Str(String),
    Bin(Bytes),
    Pair(String, String),
}

/// Calls `f` with every property set in `props`, in ascending identifier order; repeated
/// properties (user properties, subscription identifiers) in their `Vec` order.
fn for_each_present<'a>(
    props: &'a Properties,
    mut f: impl FnMut(&'static Spec, Value<'a>) -> Result<(), CodecError>,
) -> Result<(), CodecError> {
    let mut emit = |id: u32, v: Value<'a>| match spec(id) {
        Some(s) => f(s, v),
        None => Err(CodecError::unencodable(format!(
            "unknown property 0x{id:02X}"
        ))),
    };
    let int = |v: u32| Value::Int(v);
    if let Some(v) = props.payload_format_indicator {
        emit(0x01, int(u32::from(v)))?;
    }
    if let Some(v) = props.message_expiry_interval {
        emit(0x02, int(v))?;
    }
    if let Some(v) = &props.content_type {
        emit(0x03, Value::Str(v))?;
    }
    if let Some(v) = &props.response_topic {
        emit(0x08, Value::Str(v))?;
    }
    if let Some(v) = &props.correlation_data {
        emit(0x09, Value::Bin(v))?;
    }
    for &v in &props.subscription_identifiers {
        emit(0x0B, int(v))?;
    }
    if let Some(v) = props.session_expiry_interval {
        emit(0x11, int(v))?;
    }
    if let Some(v) = &props.assigned_client_identifier {
        emit(0x12, Value::Str(v))?;
    }
    if let Some(v) = props.server_keep_alive {
        emit(0x13, int(u32::from(v)))?;
    }
    if let Some(v) = &props.authentication_method {
        emit(0x15, Value::Str(v))?;
    }
    if let Some(v) = &props.authentication_data {
        emit(0x16, Value::Bin(v))?;
    }
    if let Some(v) = props.request_problem_information {
        emit(0x17, int(u32::from(v)))?;
    }
    if let Some(v) = props.will_delay_interval {
        emit(0x18, int(v))?;
    }
    if let Some(v) = props.request_response_information {
        emit(0x19, int(u32::from(v)))?;
    }
    if let Some(v) = &props.response_information {
        emit(0x1A, Value::Str(v))?;
    }
    if let Some(v) = &props.server_reference {
        emit(0x1C, Value::Str(v))?;
    }
    if let Some(v) = &props.reason_string {
        emit(0x1F, Value::Str(v))?;
    }
    if let Some(v) = props.receive_maximum {
        emit(0x21, int(u32::from(v)))?;
    }
    if let Some(v) = props.topic_alias_maximum {
        emit(0x22, int(u32::from(v)))?;
    }
    if let Some(v) = props.topic_alias {
        emit(0x23, int(u32::from(v)))?;
    }
    if let Some(v) = props.maximum_qos {
        emit(0x24, int(u32::from(v)))?;
    }
    if let Some(v) = props.retain_available {
        emit(0x25, int(u32::from(v)))?;
    }
    for (k, v) in &props.user_properties {
        emit(0x26, Value::Pair(k, v))?;
    }
    if let Some(v) = props.maximum_packet_size {
        emit(0x27, int(v))?;
    }
    if let Some(v) = props.wildcard_subscription_available {
        emit(0x28, int(u32::from(v)))?;
    }
    if let Some(v) = props.subscription_identifiers_available {
        emit(0x29, int(u32::from(v)))?;
    }
    if let Some(v) = props.shared_subscription_available {
        emit(0x2A, int(u32::from(v)))?;
    }
    Ok(())
}

/// Stores a decoded value in its field. The table and this match agree on every type; a
/// mismatch would be reported as malformed rather than panic.
fn store(props: &mut Properties, s: &Spec, value: Owned) -> Result<(), CodecError> {
    // Integer narrowing below cannot lose data: the reader produced the width the table names.
    let narrow16 = |v: u32| u16::try_from(v).unwrap_or(u16::MAX);
    let narrow8 = |v: u32| u8::try_from(v).unwrap_or(u8::MAX);
    match (s.id, value) {
        (0x01, Owned::Int(v)) => props.payload_format_indicator = Some(v != 0),
        (0x02, Owned::Int(v)) => props.message_expiry_interval = Some(v),
        (0x03, Owned::Str(v)) => props.content_type = Some(v),
        (0x08, Owned::Str(v)) => props.response_topic = Some(v),
        (0x09, Owned::Bin(v)) => props.correlation_data = Some(v),
        (0x0B, Owned::Int(v)) => props.subscription_identifiers.push(v),
        (0x11, Owned::Int(v)) => props.session_expiry_interval = Some(v),
        (0x12, Owned::Str(v)) => props.assigned_client_identifier = Some(v),
        (0x13, Owned::Int(v)) => props.server_keep_alive = Some(narrow16(v)),
        (0x15, Owned::Str(v)) => props.authentication_method = Some(v),
        (0x16, Owned::Bin(v)) => props.authentication_data = Some(v),
        (0x17, Owned::Int(v)) => props.request_problem_information = Some(v != 0),
        (0x18, Owned::Int(v)) => props.will_delay_interval = Some(v),
        (0x19, Owned::Int(v)) => props.request_response_information = Some(v != 0),
        (0x1A, Owned::Str(v)) => props.response_information = Some(v),
        (0x1C, Owned::Str(v)) => props.server_reference = Some(v),
        (0x1F, Owned::Str(v)) => props.reason_string = Some(v),
        (0x21, Owned::Int(v)) => props.receive_maximum = Some(narrow16(v)),
        (0x22, Owned::Int(v)) => props.topic_alias_maximum = Some(narrow16(v)),
        (0x23, Owned::Int(v)) => props.topic_alias = Some(narrow16(v)),
        (0x24, Owned::Int(v)) => props.maximum_qos = Some(narrow8(v)),
        (0x25, Owned::Int(v)) => props.retain_available = Some(v != 0),
        (0x26, Owned::Pair(k, v)) => props.user_properties.push((k, v)),
        (0x27, Owned::Int(v)) => props.maximum_packet_size = Some(v),
        (0x28, Owned::Int(v)) => props.wildcard_subscription_available = Some(v != 0),
        (0x29, Owned::Int(v)) => props.subscription_identifiers_available = Some(v != 0),
        (0x2A, Owned::Int(v)) => props.shared_subscription_available = Some(v != 0),
        (id, _) => {
            return Err(CodecError::malformed(format!(
                "property 0x{id:02X} has the wrong type (MQTT 5 §2.2.2.2)"
            )))
        }
    }
    Ok(())
}

fn read_value(r: &mut Reader, s: &Spec) -> Result<Owned, CodecError> {
    Ok(match s.value {
        ValueType::Byte => Owned::Int(u32::from(r.u8(s.name)?)),
        ValueType::TwoByte => Owned::Int(u32::from(r.u16(s.name)?)),
        ValueType::FourByte => Owned::Int(r.u32(s.name)?),
        ValueType::VarInt => Owned::Int(r.varint(s.name)?),
        ValueType::Utf8 => Owned::Str(r.string(s.name)?),
        ValueType::Binary => Owned::Bin(r.binary(s.name)?),
        ValueType::Utf8Pair => Owned::Pair(r.string(s.name)?, r.string(s.name)?),
    })
}

fn out_of_range(s: &Spec, v: u32) -> bool {
    v < s.range.0 || v > s.range.1
}

/// Decodes a property length and the properties it covers (MQTT 5 §2.2.2) for `carrier`.
///
/// An unknown identifier, or one the carrier may not carry, is malformed (MQTT 5 §2.2.2.2); a
/// property that appears twice where it may not, or has a value the specification forbids, is a
/// protocol error.
pub(crate) fn decode(r: &mut Reader, carrier: Carrier) -> Result<Properties, CodecError> {
    let len = r.varint("property length")?;
    let mut r = Reader::new(r.bytes(len as usize, "properties")?);
    let mut props = Properties::default();
    let mut seen: u64 = 0;
    let mut order = Vec::new();
    let who = carrier.name();
    while !r.is_empty() {
        // The identifier is a Variable Byte Integer (MQTT 5 §2.2.2.2).
        let id = r.varint("property identifier")?;
        let Some(s) = spec(id) else {
            return Err(CodecError::malformed(format!(
                "unknown property identifier 0x{id:02X} in {who} (MQTT 5 §2.2.2.2)"
            )));
        };
        // A packet with a property not valid for its type is malformed (MQTT 5 §2.2.2.2).
        if s.carriers & carrier.bit() == 0 {
            return Err(CodecError::malformed(format!(
                "{} (0x{:02X}) is not allowed in {who} (MQTT 5 §2.2.2.2)",
                s.name, s.id
            )));
        }
        // Including a property more than once is a protocol error, except where the table allows
        // it (MQTT 5 §2.2.2.2, e.g. §3.1.2.11.2, §3.8.2.1.2).
        let bit = 1u64 << s.id;
        if seen & bit != 0 && s.repeatable_in & carrier.bit() == 0 {
            return Err(CodecError::protocol(format!(
                "{} appears more than once in {who} ({})",
                s.name, s.section
            )));
        }
        if seen & bit == 0 {
            order.push(s.id);
        }
        seen |= bit;
        let value = read_value(&mut r, s)?;
        if let Owned::Int(v) = value {
            // Values outside the property's range are a protocol error (e.g. Receive Maximum 0,
            // MQTT 5 §3.1.2.11.3; Maximum QoS 2, §3.2.2.3.4).
            if out_of_range(s, v) {
                return Err(CodecError::protocol(format!(
                    "{} {v} is out of range in {who} ({})",
                    s.name, s.section
                )));
            }
        }
        store(&mut props, s, value)?;
    }
    // Authentication Data without an Authentication Method is a protocol error
    // (MQTT 5 §3.1.2.11.10).
    if props.authentication_data.is_some() && props.authentication_method.is_none() {
        return Err(CodecError::protocol(format!(
            "Authentication Data without Authentication Method in {who} (MQTT 5 §3.1.2.11.10)"
        )));
    }
    props.set_wire_order(order);
    Ok(props)
}

/// Checks every property in `props` may be written for `carrier`, and returns the length of the
/// encoded properties without their length prefix.
fn check_and_measure(props: &Properties, carrier: Carrier) -> Result<usize, CodecError> {
    let who = carrier.name();
    let mut len = 0usize;
    let mut seen: u64 = 0;
    for_each_present(props, |s, v| {
        if s.carriers & carrier.bit() == 0 {
            return Err(CodecError::unencodable(format!(
                "{} (0x{:02X}) is not allowed in {who} (MQTT 5 §2.2.2.2)",
                s.name, s.id
            )));
        }
        let bit = 1u64 << s.id;
        if seen & bit != 0 && s.repeatable_in & carrier.bit() == 0 {
            return Err(CodecError::unencodable(format!(
                "{} may appear only once in {who} ({})",
                s.name, s.section
            )));
        }
        seen |= bit;
        len += 1 + match v {
            Value::Int(n) => {
                if out_of_range(s, n) {
                    return Err(CodecError::unencodable(format!(
                        "{} {n} is out of range ({})",
                        s.name, s.section
                    )));
                }
                match s.value {
                    ValueType::Byte => 1,
                    ValueType::TwoByte => 2,
                    ValueType::FourByte => 4,
                    _ => varint_len(n),
                }
            }
            Value::Str(text) => {
                check_string(text, s.name)?;
                2 + text.len()
            }
            Value::Bin(b) => {
                if b.len() > super::primitives::STRING_MAX {
                    return Err(CodecError::unencodable(format!(
                        "{} is {} bytes long, more than 65,535 (MQTT 5 §1.5.6)",
                        s.name,
                        b.len()
                    )));
                }
                2 + b.len()
            }
            Value::Pair(k, val) => {
                check_string(k, s.name)?;
                check_string(val, s.name)?;
                4 + k.len() + val.len()
            }
        };
        Ok(())
    })?;
    // Authentication Data needs an Authentication Method (MQTT 5 §3.1.2.11.10).
    if props.authentication_data.is_some() && props.authentication_method.is_none() {
        return Err(CodecError::unencodable(
            "Authentication Data needs an Authentication Method (MQTT 5 §3.1.2.11.10)",
        ));
    }
    Ok(len)
}

/// Writes the property length and the properties of `props` for `carrier` (MQTT 5 §2.2.2), in
/// ascending identifier order.
pub(crate) fn encode(
    props: &Properties,
    carrier: Carrier,
    w: &mut Writer<'_>,
) -> Result<(), CodecError> {
    let len = if w.is_counting() {
        check_and_measure(props, carrier)?
    } else {
        // Validated in the counting pass; only the length is needed now.
        check_and_measure(props, carrier).unwrap_or(0)
    };
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    w.put_varint(len, "property length")?;
    for_each_present(props, |s, v| {
        // Property identifiers are all below 0x80, so their Variable Byte Integer is one byte.
        w.put_u8(s.id);
        match v {
            Value::Int(n) => match s.value {
                ValueType::Byte => w.put_u8(u8::try_from(n).unwrap_or(u8::MAX)),
                ValueType::TwoByte => w.put_u16(u16::try_from(n).unwrap_or(u16::MAX)),
                ValueType::FourByte => w.put_u32(n),
                _ => w.put_varint(n, s.name)?,
            },
            Value::Str(text) => w.put_string(text, s.name)?,
            Value::Bin(b) => w.put_binary(b, s.name)?,
            Value::Pair(k, val) => {
                w.put_string(k, s.name)?;
                w.put_string(val, s.name)?;
            }
        }
        Ok(())
    })
}

/// Refuses properties on a packet of MQTT 3.1 or 3.1.1, which cannot carry them: dropping them
/// silently would lose the caller's data.
pub(crate) fn refuse_before_v5(props: &Properties, what: &'static str) -> Result<(), CodecError> {
    if props.is_empty() {
        Ok(())
    } else {
        Err(CodecError::unencodable(format!(
            "{what} properties need MQTT 5; versions 3.1 and 3.1.1 cannot carry them (MQTT 5 §2.2.2)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::PropertyValues;
    use bytes::BytesMut;

    fn encode_to_vec(props: &Properties, carrier: Carrier) -> Result<Vec<u8>, CodecError> {
        let mut counter = Writer::counter();
        encode(props, carrier, &mut counter)?;
        let mut out = BytesMut::new();
        encode(props, carrier, &mut Writer::new(&mut out))?;
        assert_eq!(out.len(), counter.len());
        Ok(out.to_vec())
    }

    fn decode_bytes(bytes: &'static [u8], carrier: Carrier) -> Result<Properties, CodecError> {
        let mut r = Reader::new(Bytes::from_static(bytes));
        let p = decode(&mut r, carrier)?;
        assert!(r.is_empty());
        Ok(p)
    }

    #[test]
    fn the_table_is_in_ascending_identifier_order_and_ids_fit_in_one_byte() {
        for pair in TABLE.windows(2) {
            assert!(pair[0].id < pair[1].id);
        }
        assert!(TABLE.iter().all(|s| s.id < 0x40));
    }

    #[test]
    fn properties_are_written_in_ascending_identifier_order() {
        let props = Properties::from(PropertyValues {
            user_properties: vec![("b".into(), "2".into()), ("a".into(), "1".into())],
            reason_string: Some("r".into()),
            ..PropertyValues::default()
        });
        let bytes = encode_to_vec(&props, Carrier::PubAck).unwrap();
        assert_eq!(
            bytes,
            [18, 0x1F, 0, 1, b'r', 0x26, 0, 1, b'b', 0, 1, b'2', 0x26, 0, 1, b'a', 0, 1, b'1']
        );
    }

    #[test]
    fn a_duplicated_property_is_a_protocol_error() {
        let err = decode_bytes(&[4, 0x1F, 0, 0, 0x1F], Carrier::PubAck);
        assert!(err.is_err());
        let err = decode_bytes(&[6, 0x1F, 0, 0, 0x1F, 0, 0], Carrier::PubAck).unwrap_err();
        assert_eq!(err.reason_code(), 0x82);
    }

    #[test]
    fn user_properties_may_repeat_and_keep_their_order() {
        let p = decode_bytes(
            &[10, 0x26, 0, 1, b'k', 0, 0, 0x26, 0, 0, 0, 0],
            Carrier::Auth,
        )
        .unwrap_err();
        // Length 10 covers only part of the second pair.
        assert_eq!(p.reason_code(), 0x81);
        let p = decode_bytes(
            &[12, 0x26, 0, 1, b'k', 0, 0, 0x26, 0, 1, b'k', 0, 1, b'v'],
            Carrier::Auth,
        )
        .unwrap_err();
        assert_eq!(p.reason_code(), 0x81);
        let p = decode_bytes(
            &[13, 0x26, 0, 1, b'k', 0, 0, 0x26, 0, 1, b'k', 0, 1, b'v'],
            Carrier::Auth,
        )
        .unwrap();
        assert_eq!(
            p.user_properties,
            vec![("k".into(), "".into()), ("k".into(), "v".into())]
        );
    }

    #[test]
    fn subscription_identifiers_repeat_in_publish_but_not_in_subscribe() {
        let bytes: &'static [u8] = &[4, 0x0B, 1, 0x0B, 2];
        assert_eq!(
            decode_bytes(bytes, Carrier::Publish)
                .unwrap()
                .subscription_identifiers,
            vec![1, 2]
        );
        assert_eq!(
            decode_bytes(bytes, Carrier::Subscribe)
                .unwrap_err()
                .reason_code(),
            0x82
        );
    }

    #[test]
    fn a_property_not_allowed_for_the_packet_is_malformed() {
        // Topic Alias in a CONNACK.
        let err = decode_bytes(&[3, 0x23, 0, 1], Carrier::ConnAck).unwrap_err();
        assert_eq!(err.reason_code(), 0x81);
        assert!(err.message().contains("Topic Alias"), "{}", err.message());
    }

    #[test]
    fn an_unknown_property_is_malformed() {
        assert_eq!(
            decode_bytes(&[2, 0x04, 0], Carrier::Publish)
                .unwrap_err()
                .reason_code(),
            0x81
        );
    }

    #[test]
    fn forbidden_values_are_protocol_errors() {
        // Receive Maximum 0.
        assert_eq!(
            decode_bytes(&[3, 0x21, 0, 0], Carrier::ConnAck)
                .unwrap_err()
                .reason_code(),
            0x82
        );
        // Maximum QoS 2.
        assert_eq!(
            decode_bytes(&[2, 0x24, 2], Carrier::ConnAck)
                .unwrap_err()
                .reason_code(),
            0x82
        );
        // Payload Format Indicator 2.
        assert_eq!(
            decode_bytes(&[2, 0x01, 2], Carrier::Publish)
                .unwrap_err()
                .reason_code(),
            0x82
        );
        // Subscription Identifier 0.
        assert_eq!(
            decode_bytes(&[2, 0x0B, 0], Carrier::Publish)
                .unwrap_err()
                .reason_code(),
            0x82
        );
        // Topic Alias 0.
        assert_eq!(
            decode_bytes(&[3, 0x23, 0, 0], Carrier::Publish)
                .unwrap_err()
                .reason_code(),
            0x82
        );
        // Maximum Packet Size 0.
        assert_eq!(
            decode_bytes(&[5, 0x27, 0, 0, 0, 0], Carrier::Connect)
                .unwrap_err()
                .reason_code(),
            0x82
        );
    }

    #[test]
    fn a_property_running_past_the_property_length_is_malformed() {
        assert_eq!(
            decode_bytes(&[2, 0x02, 0, 0, 0, 1], Carrier::Publish)
                .unwrap_err()
                .reason_code(),
            0x81
        );
    }

    #[test]
    fn properties_not_allowed_for_the_packet_are_unencodable() {
        let props = Properties::from(PropertyValues {
            topic_alias: Some(1),
            ..PropertyValues::default()
        });
        assert!(encode_to_vec(&props, Carrier::ConnAck).is_err());
        let props = Properties::from(PropertyValues {
            subscription_identifiers: vec![1, 2],
            ..PropertyValues::default()
        });
        assert!(encode_to_vec(&props, Carrier::Subscribe).is_err());
        assert!(encode_to_vec(&props, Carrier::Publish).is_ok());
        let props = Properties::from(PropertyValues {
            maximum_qos: Some(2),
            ..PropertyValues::default()
        });
        assert!(encode_to_vec(&props, Carrier::ConnAck).is_err());
    }
}
