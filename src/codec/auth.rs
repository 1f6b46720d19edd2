//! AUTH (MQTT 5 §3.15), which exists in MQTT 5 only.

use bytes::Bytes;

use super::header::{write_packet, Output};
use super::primitives::{Reader, Writer};
use super::properties::{self, Carrier};
use super::reason::ReasonTable;
use super::{Auth, CodecError, ProtocolVersion};

fn refuse_before_v5() -> CodecError {
    CodecError::protocol("AUTH does not exist before MQTT 5 (MQTT 3.1.1 §2.2.1)")
}

/// Decodes an AUTH body. A remaining length of 0 means reason code 0x00 and no properties
/// (MQTT 5 §3.15.2.1); a remaining length of 1 is read as a reason code without properties, as
/// for DISCONNECT.
pub(crate) fn decode(body: Bytes, version: ProtocolVersion) -> Result<Auth, CodecError> {
    // Packet type 15 is reserved before MQTT 5 (MQTT 3.1.1 §2.2.1).
    if !version.is_v5() {
        return Err(refuse_before_v5());
    }
    let mut r = Reader::new(body);
    let mut packet = Auth::default();
    if !r.is_empty() {
        packet.reason_code = r.u8("reason code")?;
        ReasonTable::Auth.check_decoded(version, packet.reason_code)?;
    }
    if !r.is_empty() {
        packet.properties = properties::decode(&mut r, Carrier::Auth)?;
    }
    // AUTH has no payload (MQTT 5 §3.15.3).
    if !r.is_empty() {
        return Err(CodecError::malformed(format!(
            "AUTH has {} bytes after its properties (MQTT 5 §3.15.3)",
            r.remaining()
        )));
    }
    Ok(packet)
}

/// Appends an AUTH, always with reason code and property length, as MQTT.js writes it.
pub(crate) fn encode(
    p: &Auth,
    version: ProtocolVersion,
    out: &mut Output<'_>,
) -> Result<(), CodecError> {
    if !version.is_v5() {
        return Err(CodecError::unencodable("AUTH needs MQTT 5 (MQTT 5 §3.15)"));
    }
    ReasonTable::Auth.check_encoded(version, p.reason_code)?;
    write_packet(0xF0, out, |w: &mut Writer<'_>| {
        w.put_u8(p.reason_code);
        properties::encode(&p.properties, Carrier::Auth, w)
    })
}
