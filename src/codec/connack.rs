//! CONNACK (MQTT 5 §3.2; MQTT 3.1.1 §3.2; MQTT 3.1 §3.2).

use bytes::Bytes;

use super::header::{write_packet, Output};
use super::primitives::{Reader, Writer};
use super::properties::{self, Carrier};
use super::reason::ReasonTable;
use super::{CodecError, ConnAck, ProtocolVersion};

/// Decodes a CONNACK body.
///
/// MQTT 3.1 has no session present flag: its first byte is unused and ignored. MQTT 5 CONNACKs
/// whose property length is missing (remaining length 2) are read as having no properties, as
/// MQTT.js reads them.
pub(crate) fn decode(body: Bytes, version: ProtocolVersion) -> Result<ConnAck, CodecError> {
    let mut r = Reader::new(body);
    let flags = r.u8("connect acknowledge flags")?;
    let reason_code = r.u8("connect reason code")?;
    let session_present = match version {
        // MQTT 3.1 §3.2: the first byte is reserved and not used.
        ProtocolVersion::V3_1 => false,
        _ => {
            // Bits 7–1 are reserved and MUST be 0 (MQTT 5 §3.2.2.1, MQTT 3.1.1 §3.2.2.1).
            if flags & 0xFE != 0 {
                return Err(CodecError::malformed(
                    "CONNACK flags bits 7-1 must be 0 (MQTT 5 §3.2.2.1)",
                ));
            }
            flags & 0x01 != 0
        }
    };
    // An MQTT 5 client may hear from a server that does not speak MQTT 5: it answers with a
    // 3.1.1 CONNACK (remaining length 2, no property length) and return code 0x01, unacceptable
    // protocol version (MQTT 3.1.1 §3.1.2.2, §3.2.2.3). That form admits the 3.1.1 return codes.
    let pre_v5_form = version.is_v5() && r.is_empty();
    let admitted = is_tolerated_refusal(version, reason_code)
        || (pre_v5_form && ReasonTable::ConnAck.admits(ProtocolVersion::V3_1_1, reason_code));
    if !admitted {
        ReasonTable::ConnAck.check_decoded(version, reason_code)?;
    }
    // A refused connection has session present 0 (MQTT 5 §3.2.2.1.1 [MQTT-3.2.2-6],
    // MQTT 3.1.1 §3.2.2.2 [MQTT-3.2.2-4]).
    if session_present && reason_code != 0 {
        return Err(CodecError::protocol(
            "CONNACK with a failure code must not have session present (MQTT 5 §3.2.2.1.1)",
        ));
    }
    let properties = if version.is_v5() && !r.is_empty() {
        properties::decode(&mut r, Carrier::ConnAck)?
    } else {
        Default::default()
    };
    // CONNACK has no payload (MQTT 5 §3.2.3); before MQTT 5 its remaining length is 2.
    if !r.is_empty() {
        return Err(CodecError::malformed(format!(
            "CONNACK has {} bytes after its variable header (MQTT 5 §3.2.3)",
            r.remaining()
        )));
    }
    Ok(ConnAck {
        session_present,
        reason_code,
        properties,
    })
}

/// Before MQTT 5, return codes 6–255 are reserved (MQTT 3.1.1 §3.2.2.3), but brokers that mix
/// versions send MQTT 5 refusals (135 Not authorized) in 3.1.1 CONNACKs. Any non-zero code is a
/// refusal whose connection the server closes (MQTT 3.1.1 §3.2.2.3 [MQTT-3.2.2-5]), so such a
/// CONNACK is read as the refusal it is, with the broker's code, as MQTT.js reads it: nothing is
/// lost and no state is corrupted by tolerating it.
fn is_tolerated_refusal(version: ProtocolVersion, reason_code: u8) -> bool {
    !version.is_v5() && reason_code != 0
}

/// Appends a CONNACK; MQTT 5 always writes the property length, as MQTT.js does, except for a
/// 3.1.1 return code (0x01–0x05) without properties, which is written in the 3.1.1 form a server
/// that does not speak MQTT 5 sends, so that whatever [`decode`] accepts re-encodes.
pub(crate) fn encode(
    p: &ConnAck,
    version: ProtocolVersion,
    out: &mut Output<'_>,
) -> Result<(), CodecError> {
    let pre_v5_form = version.is_v5()
        && !ReasonTable::ConnAck.admits(version, p.reason_code)
        && ReasonTable::ConnAck.admits(ProtocolVersion::V3_1_1, p.reason_code)
        && p.properties.is_empty();
    if !pre_v5_form && !is_tolerated_refusal(version, p.reason_code) {
        ReasonTable::ConnAck.check_encoded(version, p.reason_code)?;
    }
    if p.session_present && version == ProtocolVersion::V3_1 {
        return Err(CodecError::unencodable(
            "MQTT 3.1 CONNACK has no session present flag (MQTT 3.1 §3.2)",
        ));
    }
    // [MQTT-3.2.2-6]: a failure code goes with session present 0 (MQTT 5 §3.2.2.1.1).
    if p.session_present && p.reason_code != 0 {
        return Err(CodecError::unencodable(
            "CONNACK with a failure code must not have session present (MQTT 5 §3.2.2.1.1)",
        ));
    }
    if !version.is_v5() {
        properties::refuse_before_v5(&p.properties, "CONNACK")?;
    }
    write_packet(0x20, out, |w: &mut Writer<'_>| {
        w.put_u8(u8::from(p.session_present));
        w.put_u8(p.reason_code);
        if version.is_v5() && !pre_v5_form {
            properties::encode(&p.properties, Carrier::ConnAck, w)?;
        }
        Ok(())
    })
}
