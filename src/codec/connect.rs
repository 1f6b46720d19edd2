//! CONNECT (MQTT 5 §3.1; MQTT 3.1.1 §3.1; MQTT 3.1 §3.1).

use bytes::Bytes;

use super::header::{write_packet, Output};
use super::primitives::{Reader, Writer};
use super::properties::{self, Carrier};
use super::{CodecError, Connect, LastWill, ProtocolVersion, QoS};

const USERNAME: u8 = 0x80;
const PASSWORD: u8 = 0x40;
const WILL_RETAIN: u8 = 0x20;
const WILL_QOS_SHIFT: u8 = 3;
const WILL_FLAG: u8 = 0x04;
const CLEAN: u8 = 0x02;
const RESERVED: u8 = 0x01;

/// Checks the protocol name (MQTT 5 §3.1.2.1): `MQTT`, or `MQIsdp` for MQTT 3.1. Like MQTT.js,
/// either name is accepted with any of the three levels.
fn check_protocol_name(name: &str) -> bool {
    name == "MQTT" || name == "MQIsdp"
}

/// Decodes a CONNECT body with the version its own protocol level byte names.
pub(crate) fn decode(body: Bytes) -> Result<Connect, CodecError> {
    let mut r = Reader::new(body);
    let protocol_id = r.string("protocol name")?;
    // The protocol name is `MQTT` (MQTT 5 §3.1.2.1 [MQTT-3.1.2-1]) or `MQIsdp` (MQTT 3.1 §3.1).
    if !check_protocol_name(&protocol_id) {
        return Err(CodecError::protocol(format!(
            "unknown protocol name {protocol_id:?} (MQTT 5 §3.1.2.1)"
        )));
    }
    let level = r.u8("protocol level")?;
    // Levels 3, 4 and 5 are supported (MQTT 5 §3.1.2.2 [MQTT-3.1.2-2]).
    let version = ProtocolVersion::try_from(level).map_err(|_| {
        CodecError::protocol(format!(
            "unsupported protocol level {level} (MQTT 5 §3.1.2.2)"
        ))
    })?;
    let flags = r.u8("connect flags")?;
    // The reserved flag MUST be 0 (MQTT 5 §3.1.2.3 [MQTT-3.1.2-3]).
    if flags & RESERVED != 0 {
        return Err(CodecError::malformed(
            "CONNECT reserved flag must be 0 (MQTT 5 §3.1.2.3)",
        ));
    }
    let will_flag = flags & WILL_FLAG != 0;
    let will_qos_bits = (flags >> WILL_QOS_SHIFT) & 0x03;
    let will_retain = flags & WILL_RETAIN != 0;
    // Will QoS 3 is malformed (MQTT 5 §3.1.2.6 [MQTT-3.1.2-12]).
    let will_qos = QoS::try_from(will_qos_bits)
        .map_err(|_| CodecError::malformed("CONNECT will QoS must not be 3 (MQTT 5 §3.1.2.6)"))?;
    // Without a will, Will QoS and Will Retain MUST be 0 (MQTT 5 §3.1.2.6 [MQTT-3.1.2-11],
    // §3.1.2.7 [MQTT-3.1.2-13]).
    if !will_flag && (will_qos_bits != 0 || will_retain) {
        return Err(CodecError::malformed(
            "CONNECT will QoS and will retain must be 0 without a will (MQTT 5 §3.1.2.6, §3.1.2.7)",
        ));
    }
    let has_username = flags & USERNAME != 0;
    let has_password = flags & PASSWORD != 0;
    // Before MQTT 5, a password needs a user name (MQTT 3.1.1 §3.1.2.9 [MQTT-3.1.2-22]).
    if !version.is_v5() && has_password && !has_username {
        return Err(CodecError::malformed(
            "CONNECT password flag set without user name flag (MQTT 3.1.1 §3.1.2.9)",
        ));
    }
    let keepalive = r.u16("keep alive")?;
    let properties = if version.is_v5() {
        properties::decode(&mut r, Carrier::Connect)?
    } else {
        Default::default()
    };
    let client_id = r.string("client identifier")?;
    let will = if will_flag {
        let will_properties = if version.is_v5() {
            properties::decode(&mut r, Carrier::Will)?
        } else {
            Default::default()
        };
        let topic = r.string("will topic")?;
        // Topic names are at least one character long (MQTT 5 §4.7.3 [MQTT-4.7.3-1]).
        if topic.is_empty() {
            return Err(CodecError::protocol(
                "CONNECT will topic is empty (MQTT 5 §4.7.3)",
            ));
        }
        let payload = r.binary("will payload")?;
        Some(LastWill {
            topic,
            payload,
            qos: will_qos,
            retain: will_retain,
            properties: will_properties,
        })
    } else {
        None
    };
    let username = if has_username {
        Some(r.string("user name")?)
    } else {
        None
    };
    let password = if has_password {
        Some(r.binary("password")?)
    } else {
        None
    };
    // The packet ends with the last field its flags announce (MQTT 5 §3.1.3).
    if !r.is_empty() {
        return Err(CodecError::malformed(format!(
            "CONNECT has {} bytes after its payload (MQTT 5 §3.1.3)",
            r.remaining()
        )));
    }
    Ok(Connect {
        protocol_id,
        protocol_version: version,
        clean: flags & CLEAN != 0,
        keepalive,
        client_id,
        will,
        username,
        password,
        properties,
    })
}

/// Checks what a CONNECT for its own protocol version can carry.
fn check(p: &Connect) -> Result<(), CodecError> {
    let version = p.protocol_version;
    if !check_protocol_name(&p.protocol_id) {
        return Err(CodecError::unencodable(format!(
            "protocol name must be MQTT or MQIsdp, got {:?} (MQTT 5 §3.1.2.1)",
            p.protocol_id
        )));
    }
    if !version.is_v5() {
        properties::refuse_before_v5(&p.properties, "CONNECT")?;
        if let Some(will) = &p.will {
            properties::refuse_before_v5(&will.properties, "will")?;
        }
        // A password needs a user name before MQTT 5 (MQTT 3.1.1 §3.1.2.9 [MQTT-3.1.2-22]).
        if p.password.is_some() && p.username.is_none() {
            return Err(CodecError::unencodable(
                "a password needs a user name before MQTT 5 (MQTT 3.1.1 §3.1.2.9)",
            ));
        }
    }
    if p.client_id.is_empty() {
        // MQTT 3.1 requires a client identifier of 1 to 23 characters (MQTT 3.1 §3.1).
        if version == ProtocolVersion::V3_1 {
            return Err(CodecError::unencodable(
                "MQTT 3.1 needs a non-empty client identifier (MQTT 3.1 §3.1)",
            ));
        }
        // An empty client identifier needs CleanSession 1 (MQTT 3.1.1 §3.1.3.1 [MQTT-3.1.3-7]).
        if version == ProtocolVersion::V3_1_1 && !p.clean {
            return Err(CodecError::unencodable(
                "an empty client identifier needs clean session (MQTT 3.1.1 §3.1.3.1)",
            ));
        }
    }
    if let Some(will) = &p.will {
        // Topic names are at least one character long (MQTT 5 §4.7.3 [MQTT-4.7.3-1]).
        if will.topic.is_empty() {
            return Err(CodecError::unencodable(
                "the will topic is empty (MQTT 5 §4.7.3)",
            ));
        }
    }
    Ok(())
}

/// Appends a CONNECT for its own protocol version, in the field order MQTT.js writes.
pub(crate) fn encode(p: &Connect, out: &mut Output<'_>) -> Result<(), CodecError> {
    check(p)?;
    let version = p.protocol_version;
    let mut flags = 0u8;
    if p.username.is_some() {
        flags |= USERNAME;
    }
    if p.password.is_some() {
        flags |= PASSWORD;
    }
    if let Some(will) = &p.will {
        flags |= WILL_FLAG | (u8::from(will.qos) << WILL_QOS_SHIFT);
        if will.retain {
            flags |= WILL_RETAIN;
        }
    }
    if p.clean {
        flags |= CLEAN;
    }
    write_packet(0x10, out, |w: &mut Writer<'_>| {
        w.put_string(&p.protocol_id, "protocol name")?;
        w.put_u8(version.level());
        w.put_u8(flags);
        w.put_u16(p.keepalive);
        if version.is_v5() {
            properties::encode(&p.properties, Carrier::Connect, w)?;
        }
        w.put_string(&p.client_id, "client identifier")?;
        if let Some(will) = &p.will {
            if version.is_v5() {
                properties::encode(&will.properties, Carrier::Will, w)?;
            }
            w.put_string(&will.topic, "will topic")?;
            w.put_binary(&will.payload, "will payload")?;
        }
        if let Some(username) = &p.username {
            w.put_string(username, "user name")?;
        }
        if let Some(password) = &p.password {
            w.put_binary(password, "password")?;
        }
        Ok(())
    })
}
