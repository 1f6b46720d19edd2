//! SUBSCRIBE (MQTT 5 §3.8) and SUBACK (MQTT 5 §3.9).

use bytes::Bytes;

use super::header::{write_packet, Output};
use super::primitives::{Reader, Writer};
use super::properties::{self, Carrier};
use super::reason::ReasonTable;
use super::{CodecError, ProtocolVersion, QoS, SubAck, Subscribe, Subscription};

const NO_LOCAL: u8 = 0x04;
const RETAIN_AS_PUBLISHED: u8 = 0x08;
const RETAIN_HANDLING_SHIFT: u8 = 4;

/// Whether `filter` names a shared subscription (MQTT 5 §4.8.2).
fn is_shared(filter: &str) -> bool {
    filter.starts_with("$share/")
}

/// Decodes one subscription's options byte (MQTT 5 §3.8.3.1; MQTT 3.1.1 §3.8.3.1).
fn decode_options(
    topic: String,
    options: u8,
    version: ProtocolVersion,
) -> Result<Subscription, CodecError> {
    if version.is_v5() {
        // Bits 7–6 are reserved and MUST be 0 (MQTT 5 §3.8.3.1 [MQTT-3.8.3-5]).
        if options & 0xC0 != 0 {
            return Err(CodecError::malformed(
                "SUBSCRIBE options reserved bits 7-6 must be 0 (MQTT 5 §3.8.3.1)",
            ));
        }
    } else if options & 0xFC != 0 {
        // Bits 7–2 are reserved and MUST be 0 (MQTT 3.1.1 §3.8.3.1 [MQTT-3-8.3-4]).
        return Err(CodecError::malformed(
            "SUBSCRIBE options reserved bits 7-2 must be 0 (MQTT 3.1.1 §3.8.3.1)",
        ));
    }
    // Maximum QoS 3 is a protocol error in MQTT 5 and malformed in 3.1.1 (MQTT 5 §3.8.3.1,
    // MQTT 3.1.1 §3.8.3.1 [MQTT-3-8.3-4]).
    let qos = QoS::try_from(options & 0x03).map_err(|_| {
        let message = "SUBSCRIBE maximum QoS must not be 3 (MQTT 5 §3.8.3.1)";
        if version.is_v5() {
            CodecError::protocol(message)
        } else {
            CodecError::malformed(message)
        }
    })?;
    let nl = options & NO_LOCAL != 0;
    let rap = options & RETAIN_AS_PUBLISHED != 0;
    let rh = (options >> RETAIN_HANDLING_SHIFT) & 0x03;
    // Retain Handling 3 is a protocol error (MQTT 5 §3.8.3.1).
    if rh == 3 {
        return Err(CodecError::protocol(
            "SUBSCRIBE retain handling must not be 3 (MQTT 5 §3.8.3.1)",
        ));
    }
    // No Local on a shared subscription is a protocol error (MQTT 5 §3.8.3.1 [MQTT-3.8.3-4]).
    if nl && is_shared(&topic) {
        return Err(CodecError::protocol(
            "SUBSCRIBE no local must not be set on a shared subscription (MQTT 5 §3.8.3.1)",
        ));
    }
    Ok(Subscription {
        topic,
        qos,
        nl,
        rap,
        rh,
    })
}

/// Decodes a SUBSCRIBE body.
pub(crate) fn decode_subscribe(
    body: Bytes,
    version: ProtocolVersion,
) -> Result<Subscribe, CodecError> {
    let mut r = Reader::new(body);
    let message_id = r.u16("packet identifier")?;
    // SUBSCRIBE carries a non-zero packet identifier (MQTT 5 §2.2.1 [MQTT-2.2.1-3]).
    if message_id == 0 {
        return Err(CodecError::protocol(
            "SUBSCRIBE has packet identifier 0 (MQTT 5 §2.2.1)",
        ));
    }
    let properties = if version.is_v5() {
        properties::decode(&mut r, Carrier::Subscribe)?
    } else {
        Default::default()
    };
    let mut subscriptions = Vec::new();
    while !r.is_empty() {
        let topic = r.string("topic filter")?;
        // Topic filters are at least one character long (MQTT 5 §4.7.3 [MQTT-4.7.3-1]).
        if topic.is_empty() {
            return Err(CodecError::protocol(
                "SUBSCRIBE topic filter is empty (MQTT 5 §4.7.3)",
            ));
        }
        let options = r.u8("subscription options")?;
        subscriptions.push(decode_options(topic, options, version)?);
    }
    // The payload MUST contain at least one subscription (MQTT 5 §3.8.3 [MQTT-3.8.3-2]).
    if subscriptions.is_empty() {
        return Err(CodecError::protocol(
            "SUBSCRIBE has no topic filter (MQTT 5 §3.8.3)",
        ));
    }
    Ok(Subscribe {
        message_id,
        subscriptions,
        properties,
    })
}

/// Checks one subscription and returns its options byte for `version`.
fn encode_options(s: &Subscription, version: ProtocolVersion) -> Result<u8, CodecError> {
    if s.topic.is_empty() {
        return Err(CodecError::unencodable(
            "SUBSCRIBE topic filter is empty (MQTT 5 §4.7.3)",
        ));
    }
    let mut options = u8::from(s.qos);
    if version.is_v5() {
        if s.rh > 2 {
            return Err(CodecError::unencodable(format!(
                "SUBSCRIBE retain handling must be 0, 1 or 2, got {} (MQTT 5 §3.8.3.1)",
                s.rh
            )));
        }
        if s.nl && is_shared(&s.topic) {
            return Err(CodecError::unencodable(
                "SUBSCRIBE no local must not be set on a shared subscription (MQTT 5 §3.8.3.1)",
            ));
        }
        if s.nl {
            options |= NO_LOCAL;
        }
        if s.rap {
            options |= RETAIN_AS_PUBLISHED;
        }
        options |= s.rh << RETAIN_HANDLING_SHIFT;
    } else if s.nl || s.rap || s.rh != 0 {
        // No Local, Retain As Published and Retain Handling are MQTT 5 options (MQTT 5 §3.8.3.1).
        return Err(CodecError::unencodable(
            "SUBSCRIBE options nl, rap and rh need MQTT 5 (MQTT 5 §3.8.3.1)",
        ));
    }
    Ok(options)
}

/// Appends a SUBSCRIBE.
pub(crate) fn encode_subscribe(
    p: &Subscribe,
    version: ProtocolVersion,
    out: &mut Output<'_>,
) -> Result<(), CodecError> {
    if p.message_id == 0 {
        return Err(CodecError::unencodable(
            "SUBSCRIBE needs a non-zero message id (MQTT 5 §2.2.1)",
        ));
    }
    if p.subscriptions.is_empty() {
        return Err(CodecError::unencodable(
            "SUBSCRIBE needs at least one subscription (MQTT 5 §3.8.3)",
        ));
    }
    if !version.is_v5() {
        properties::refuse_before_v5(&p.properties, "SUBSCRIBE")?;
    }
    let options = p
        .subscriptions
        .iter()
        .map(|s| encode_options(s, version))
        .collect::<Result<Vec<u8>, CodecError>>()?;
    write_packet(0x82, out, |w: &mut Writer<'_>| {
        w.put_u16(p.message_id);
        if version.is_v5() {
            properties::encode(&p.properties, Carrier::Subscribe, w)?;
        }
        for (s, &o) in p.subscriptions.iter().zip(&options) {
            w.put_string(&s.topic, "topic filter")?;
            w.put_u8(o);
        }
        Ok(())
    })
}

/// Decodes a SUBACK body.
pub(crate) fn decode_suback(body: Bytes, version: ProtocolVersion) -> Result<SubAck, CodecError> {
    let mut r = Reader::new(body);
    let message_id = r.u16("packet identifier")?;
    // SUBACK echoes the SUBSCRIBE's non-zero packet identifier (MQTT 5 §2.2.1, §3.9.2).
    if message_id == 0 {
        return Err(CodecError::protocol(
            "SUBACK has packet identifier 0 (MQTT 5 §2.2.1)",
        ));
    }
    let properties = if version.is_v5() {
        properties::decode(&mut r, Carrier::SubAck)?
    } else {
        Default::default()
    };
    let granted = r.rest().to_vec();
    // One code per subscription, and a SUBSCRIBE has at least one (MQTT 5 §3.9.3 [MQTT-3.9.3-1]).
    if granted.is_empty() {
        return Err(CodecError::protocol(
            "SUBACK has no reason codes (MQTT 5 §3.9.3)",
        ));
    }
    for &code in &granted {
        ReasonTable::SubAck.check_decoded(version, code)?;
    }
    Ok(SubAck {
        message_id,
        granted,
        properties,
    })
}

/// Appends a SUBACK.
pub(crate) fn encode_suback(
    p: &SubAck,
    version: ProtocolVersion,
    out: &mut Output<'_>,
) -> Result<(), CodecError> {
    if p.message_id == 0 {
        return Err(CodecError::unencodable(
            "SUBACK needs a non-zero message id (MQTT 5 §2.2.1)",
        ));
    }
    if p.granted.is_empty() {
        return Err(CodecError::unencodable(
            "SUBACK needs at least one reason code (MQTT 5 §3.9.3)",
        ));
    }
    for &code in &p.granted {
        ReasonTable::SubAck.check_encoded(version, code)?;
    }
    if !version.is_v5() {
        properties::refuse_before_v5(&p.properties, "SUBACK")?;
    }
    write_packet(0x90, out, |w: &mut Writer<'_>| {
        w.put_u16(p.message_id);
        if version.is_v5() {
            properties::encode(&p.properties, Carrier::SubAck, w)?;
        }
        w.put_slice(&p.granted);
        Ok(())
    })
}
