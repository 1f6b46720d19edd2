//! UNSUBSCRIBE (MQTT 5 §3.10) and UNSUBACK (MQTT 5 §3.11).

use bytes::Bytes;

use super::header::{write_packet, Output};
use super::primitives::{Reader, Writer};
use super::properties::{self, Carrier};
use super::reason::ReasonTable;
use super::{CodecError, ProtocolVersion, UnsubAck, Unsubscribe};

/// Decodes an UNSUBSCRIBE body.
pub(crate) fn decode_unsubscribe(
    body: Bytes,
    version: ProtocolVersion,
) -> Result<Unsubscribe, CodecError> {
    let mut r = Reader::new(body);
    let message_id = r.u16("packet identifier")?;
    // UNSUBSCRIBE carries a non-zero packet identifier (MQTT 5 §2.2.1 [MQTT-2.2.1-3]).
    if message_id == 0 {
        return Err(CodecError::protocol(
            "UNSUBSCRIBE has packet identifier 0 (MQTT 5 §2.2.1)",
        ));
    }
    let properties = if version.is_v5() {
        properties::decode(&mut r, Carrier::Unsubscribe)?
    } else {
        Default::default()
    };
    let mut unsubscriptions = Vec::new();
    while !r.is_empty() {
        let filter = r.string("topic filter")?;
        // Topic filters are at least one character long (MQTT 5 §4.7.3 [MQTT-4.7.3-1]).
        if filter.is_empty() {
            return Err(CodecError::protocol(
                "UNSUBSCRIBE topic filter is empty (MQTT 5 §4.7.3)",
            ));
        }
        unsubscriptions.push(filter);
    }
    // The payload MUST contain at least one topic filter (MQTT 5 §3.10.3 [MQTT-3.10.3-2]).
    if unsubscriptions.is_empty() {
        return Err(CodecError::protocol(
            "UNSUBSCRIBE has no topic filter (MQTT 5 §3.10.3)",
        ));
    }
    Ok(Unsubscribe {
        message_id,
        unsubscriptions,
        properties,
    })
}

/// Appends an UNSUBSCRIBE.
pub(crate) fn encode_unsubscribe(
    p: &Unsubscribe,
    version: ProtocolVersion,
    out: &mut Output<'_>,
) -> Result<(), CodecError> {
    if p.message_id == 0 {
        return Err(CodecError::unencodable(
            "UNSUBSCRIBE needs a non-zero message id (MQTT 5 §2.2.1)",
        ));
    }
    if p.unsubscriptions.is_empty() {
        return Err(CodecError::unencodable(
            "UNSUBSCRIBE needs at least one topic filter (MQTT 5 §3.10.3)",
        ));
    }
    if p.unsubscriptions.iter().any(String::is_empty) {
        return Err(CodecError::unencodable(
            "UNSUBSCRIBE topic filter is empty (MQTT 5 §4.7.3)",
        ));
    }
    if !version.is_v5() {
        properties::refuse_before_v5(&p.properties, "UNSUBSCRIBE")?;
    }
    write_packet(0xA2, out, |w: &mut Writer<'_>| {
        w.put_u16(p.message_id);
        if version.is_v5() {
            properties::encode(&p.properties, Carrier::Unsubscribe, w)?;
        }
        for filter in &p.unsubscriptions {
            w.put_string(filter, "topic filter")?;
        }
        Ok(())
    })
}

/// Decodes an UNSUBACK body: before MQTT 5 only a packet identifier (remaining length 2).
pub(crate) fn decode_unsuback(
    body: Bytes,
    version: ProtocolVersion,
) -> Result<UnsubAck, CodecError> {
    let mut r = Reader::new(body);
    let message_id = r.u16("packet identifier")?;
    // UNSUBACK echoes the UNSUBSCRIBE's non-zero packet identifier (MQTT 5 §2.2.1, §3.11.2).
    if message_id == 0 {
        return Err(CodecError::protocol(
            "UNSUBACK has packet identifier 0 (MQTT 5 §2.2.1)",
        ));
    }
    if !version.is_v5() {
        // MQTT 3.1.1 §3.11.1: the remaining length is 2; there is no payload (§3.11.3).
        if !r.is_empty() {
            return Err(CodecError::malformed(format!(
                "UNSUBACK has {} bytes after its packet identifier (MQTT 3.1.1 §3.11.1)",
                r.remaining()
            )));
        }
        return Ok(UnsubAck {
            message_id,
            granted: Vec::new(),
            properties: Default::default(),
        });
    }
    let properties = properties::decode(&mut r, Carrier::UnsubAck)?;
    let granted = r.rest().to_vec();
    // One reason code per topic filter, and an UNSUBSCRIBE has at least one (MQTT 5 §3.11.3).
    if granted.is_empty() {
        return Err(CodecError::protocol(
            "UNSUBACK has no reason codes (MQTT 5 §3.11.3)",
        ));
    }
    for &code in &granted {
        ReasonTable::UnsubAck.check_decoded(version, code)?;
    }
    Ok(UnsubAck {
        message_id,
        granted,
        properties,
    })
}

/// Appends an UNSUBACK.
pub(crate) fn encode_unsuback(
    p: &UnsubAck,
    version: ProtocolVersion,
    out: &mut Output<'_>,
) -> Result<(), CodecError> {
    if p.message_id == 0 {
        return Err(CodecError::unencodable(
            "UNSUBACK needs a non-zero message id (MQTT 5 §2.2.1)",
        ));
    }
    if version.is_v5() {
        if p.granted.is_empty() {
            return Err(CodecError::unencodable(
                "UNSUBACK needs at least one reason code (MQTT 5 §3.11.3)",
            ));
        }
        for &code in &p.granted {
            ReasonTable::UnsubAck.check_encoded(version, code)?;
        }
    } else {
        properties::refuse_before_v5(&p.properties, "UNSUBACK")?;
        if !p.granted.is_empty() {
            return Err(CodecError::unencodable(
                "UNSUBACK reason codes need MQTT 5 (MQTT 5 §3.11.3)",
            ));
        }
    }
    write_packet(0xB0, out, |w: &mut Writer<'_>| {
        w.put_u16(p.message_id);
        if version.is_v5() {
            properties::encode(&p.properties, Carrier::UnsubAck, w)?;
            w.put_slice(&p.granted);
        }
        Ok(())
    })
}
