//! PUBLISH (MQTT 5 §3.3; MQTT 3.1.1 §3.3).

use bytes::Bytes;

use super::header::{write_packet, Output};
use super::primitives::{Reader, Writer};
use super::properties::{self, Carrier};
use super::{CodecError, ProtocolVersion, Publish, PublishRef, QoS};

const DUP: u8 = 0x08;
const RETAIN: u8 = 0x01;

/// Checks a topic name: no wildcards (MQTT 5 §3.3.2.1 [MQTT-3.3.2-2]), and not empty unless a
/// topic alias stands for it (MQTT 5 §3.3.2.3.4, §4.7.3 [MQTT-4.7.3-1]).
fn topic_problem(topic: &str, has_alias: bool, version: ProtocolVersion) -> Option<&'static str> {
    if topic.contains(['+', '#']) {
        return Some("PUBLISH topic name must not contain wildcards (MQTT 5 §3.3.2.1)");
    }
    if topic.is_empty() && !(version.is_v5() && has_alias) {
        return Some(
            "PUBLISH topic name is empty and no topic alias is set (MQTT 5 §3.3.2.3.4, §4.7.3)",
        );
    }
    None
}

/// Decodes a PUBLISH body; `flags` (DUP, QoS, RETAIN) were checked with the fixed header.
/// The payload is a slice of `body`, not a copy.
pub(crate) fn decode(
    flags: u8,
    body: Bytes,
    version: ProtocolVersion,
) -> Result<Publish, CodecError> {
    // QoS 3 was refused with the fixed header (MQTT 5 §3.3.1.2).
    let qos = QoS::try_from((flags >> 1) & 0x03)
        .map_err(|_| CodecError::malformed("PUBLISH QoS must not be 3 (MQTT 5 §3.3.1.2)"))?;
    let mut r = Reader::new(body);
    let topic = r.string("topic name")?;
    // QoS 1 and 2 PUBLISH carry a non-zero packet identifier (MQTT 5 §2.2.1 [MQTT-2.2.1-3]),
    // but one numbered 0 is taken as it comes, as MQTT.js takes it: the message is intact, and
    // refusing it would close the connection on every copy the broker sends again. Its
    // exchange continues under 0 (see `ack::decode`); the shim warns about the broker.
    let message_id = if qos == QoS::AtMostOnce {
        0
    } else {
        r.u16("packet identifier")?
    };
    let properties = if version.is_v5() {
        properties::decode(&mut r, Carrier::Publish)?
    } else {
        Default::default()
    };
    if let Some(problem) = topic_problem(&topic, properties.topic_alias.is_some(), version) {
        return Err(CodecError::protocol(problem));
    }
    Ok(Publish {
        dup: flags & DUP != 0,
        qos,
        retain: flags & RETAIN != 0,
        topic,
        message_id,
        payload: r.rest(),
        properties,
    })
}

/// Appends a PUBLISH. `message_id` is ignored for QoS 0, which has no packet identifier.
pub(crate) fn encode(
    p: &Publish,
    version: ProtocolVersion,
    out: &mut Output<'_>,
) -> Result<(), CodecError> {
    encode_ref(&PublishRef::from(p), version, out)
}

pub(crate) fn encode_ref(
    p: &PublishRef<'_>,
    version: ProtocolVersion,
    out: &mut Output<'_>,
) -> Result<(), CodecError> {
    // QoS 1 and 2 need a non-zero packet identifier (MQTT 5 §2.2.1 [MQTT-2.2.1-3]): the session
    // numbers its own publishes from 1. Identifier 0 stays encodable, as `decode` takes it from
    // a broker that uses it: whatever the codec reads, it can write.
    // The DUP flag MUST be 0 for QoS 0 (MQTT 5 §3.3.1.1 [MQTT-3.3.1-2]).
    if version.is_v5() && p.dup && p.qos == QoS::AtMostOnce {
        return Err(CodecError::unencodable(
            "PUBLISH DUP must be 0 for QoS 0 (MQTT 5 §3.3.1.1)",
        ));
    }
    if !version.is_v5() {
        properties::refuse_before_v5(p.properties, "PUBLISH")?;
    }
    if let Some(problem) = topic_problem(p.topic, p.properties.topic_alias.is_some(), version) {
        return Err(CodecError::unencodable(problem));
    }
    let mut first = 0x30 | (u8::from(p.qos) << 1);
    if p.dup {
        first |= DUP;
    }
    if p.retain {
        first |= RETAIN;
    }
    write_packet(first, out, |w: &mut Writer<'_>| {
        w.put_string(p.topic, "topic name")?;
        if p.qos != QoS::AtMostOnce {
            w.put_u16(p.message_id);
        }
        if version.is_v5() {
            properties::encode(p.properties, Carrier::Publish, w)?;
        }
        w.put_slice(p.payload);
        Ok(())
    })
}
