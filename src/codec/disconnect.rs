//! DISCONNECT (MQTT 5 §3.14; MQTT 3.1.1 §3.14).

use bytes::Bytes;

use super::header::{expect_empty, write_packet, Output};
use super::primitives::{Reader, Writer};
use super::properties::{self, Carrier};
use super::reason::ReasonTable;
use super::{CodecError, Disconnect, ProtocolVersion};

/// Decodes a DISCONNECT body.
///
/// Before MQTT 5 the body is empty. In MQTT 5 a remaining length of 0 means reason code 0x00
/// (MQTT 5 §3.14.2.1) and a remaining length of 1 means no properties (§3.14.2.2.1).
pub(crate) fn decode(body: Bytes, version: ProtocolVersion) -> Result<Disconnect, CodecError> {
    if !version.is_v5() {
        // MQTT 3.1.1 §3.14.1: the remaining length is 0.
        expect_empty(0, &body, "DISCONNECT")?;
        return Ok(Disconnect::default());
    }
    let mut r = Reader::new(body);
    let mut packet = Disconnect::default();
    if !r.is_empty() {
        packet.reason_code = r.u8("reason code")?;
        ReasonTable::Disconnect.check_decoded(version, packet.reason_code)?;
    }
    if !r.is_empty() {
        packet.properties = properties::decode(&mut r, Carrier::Disconnect)?;
    }
    // DISCONNECT has no payload (MQTT 5 §3.14.3).
    if !r.is_empty() {
        return Err(CodecError::malformed(format!(
            "DISCONNECT has {} bytes after its properties (MQTT 5 §3.14.3)",
            r.remaining()
        )));
    }
    Ok(packet)
}

/// Appends a DISCONNECT. MQTT 5 always writes the reason code and property length, as MQTT.js
/// does; before MQTT 5 the packet has no body.
pub(crate) fn encode(
    p: &Disconnect,
    version: ProtocolVersion,
    out: &mut Output<'_>,
) -> Result<(), CodecError> {
    if !version.is_v5() {
        properties::refuse_before_v5(&p.properties, "DISCONNECT")?;
        if p.reason_code != 0 {
            return Err(CodecError::unencodable(format!(
                "DISCONNECT reason code 0x{:02X} needs MQTT 5 (MQTT 5 §3.14.2.1)",
                p.reason_code
            )));
        }
        return write_packet(0xE0, out, |_: &mut Writer<'_>| Ok(()));
    }
    ReasonTable::Disconnect.check_encoded(version, p.reason_code)?;
    write_packet(0xE0, out, |w: &mut Writer<'_>| {
        w.put_u8(p.reason_code);
        properties::encode(&p.properties, Carrier::Disconnect, w)
    })
}
