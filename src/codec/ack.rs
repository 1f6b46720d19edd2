//! PUBACK, PUBREC, PUBREL and PUBCOMP (MQTT 5 §3.4–§3.7): a packet identifier, and in MQTT 5 a
//! reason code and properties that may be left out.

use bytes::Bytes;

use super::header::{write_packet, Output};
use super::primitives::{Reader, Writer};
use super::properties::{self, Carrier};
use super::reason::ReasonTable;
use super::{Ack, CodecError, ProtocolVersion};

/// Which of the four publish acknowledgements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)] // The specification's names (DESIGN.md §1).
pub(crate) enum AckKind {
    /// PUBACK (MQTT 5 §3.4).
    PubAck,
    /// PUBREC (MQTT 5 §3.5).
    PubRec,
    /// PUBREL (MQTT 5 §3.6).
    PubRel,
    /// PUBCOMP (MQTT 5 §3.7).
    PubComp,
}

impl AckKind {
    fn name(self) -> &'static str {
        match self {
            AckKind::PubAck => "PUBACK",
            AckKind::PubRec => "PUBREC",
            AckKind::PubRel => "PUBREL",
            AckKind::PubComp => "PUBCOMP",
        }
    }

    /// The fixed header's first byte; PUBREL carries flags 0010 (MQTT 5 §3.6.1).
    fn first_byte(self) -> u8 {
        match self {
            AckKind::PubAck => 0x40,
            AckKind::PubRec => 0x50,
            AckKind::PubRel => 0x62,
            AckKind::PubComp => 0x70,
        }
    }

    fn carrier(self) -> Carrier {
        match self {
            AckKind::PubAck => Carrier::PubAck,
            AckKind::PubRec => Carrier::PubRec,
            AckKind::PubRel => Carrier::PubRel,
            AckKind::PubComp => Carrier::PubComp,
        }
    }

    fn reasons(self) -> ReasonTable {
        match self {
            AckKind::PubAck | AckKind::PubRec => ReasonTable::PubAckPubRec,
            AckKind::PubRel | AckKind::PubComp => ReasonTable::PubRelPubComp,
        }
    }
}

/// Decodes an acknowledgement body.
///
/// In MQTT 5 a remaining length of 2 means reason code 0x00 and no properties, and 3 means no
/// properties (MQTT 5 §3.4.2.1, §3.4.2.2.1). Before MQTT 5 the remaining length is exactly 2.
pub(crate) fn decode(
    kind: AckKind,
    body: Bytes,
    version: ProtocolVersion,
) -> Result<Ack, CodecError> {
    let name = kind.name();
    let mut r = Reader::new(body);
    let message_id = r.u16("packet identifier")?;
    // Acknowledgements carry the non-zero identifier of what they acknowledge (MQTT 5 §2.2.1);
    // only a PUBREL may continue a QoS 2 exchange the broker numbered 0 (`publish::decode`).
    if message_id == 0 && kind != AckKind::PubRel {
        return Err(CodecError::protocol(format!(
            "{name} has packet identifier 0 (MQTT 5 §2.2.1)"
        )));
    }
    let mut reason_code = 0;
    let mut props = Default::default();
    if version.is_v5() {
        if !r.is_empty() {
            reason_code = r.u8("reason code")?;
            kind.reasons().check_decoded(version, reason_code)?;
        }
        if !r.is_empty() {
            props = properties::decode(&mut r, kind.carrier())?;
        }
    }
    // Nothing follows the variable header (MQTT 5 §3.4.3; MQTT 3.1.1 §3.4.1 remaining length 2).
    if !r.is_empty() {
        return Err(CodecError::malformed(format!(
            "{name} has {} bytes after its variable header (MQTT 5 §3.4.3)",
            r.remaining()
        )));
    }
    Ok(Ack {
        message_id,
        reason_code,
        properties: props,
    })
}

/// Appends an acknowledgement in the shortest form MQTT.js writes: in MQTT 5, just the packet
/// identifier for reason code 0x00 without properties, and otherwise reason code and properties
/// (with a property length of 0 when there are none).
pub(crate) fn encode(
    kind: AckKind,
    p: &Ack,
    version: ProtocolVersion,
    out: &mut Output<'_>,
) -> Result<(), CodecError> {
    let name = kind.name();
    // No check of the identifier here: the session numbers its own exchanges from 1 (MQTT 5
    // §2.2.1), an exchange a broker numbered 0 (`publish::decode`) is answered under 0, and
    // whatever `decode` takes must encode again.
    if version.is_v5() {
        kind.reasons().check_encoded(version, p.reason_code)?;
    } else {
        properties::refuse_before_v5(&p.properties, name)?;
        if p.reason_code != 0 {
            return Err(CodecError::unencodable(format!(
                "{name} reason code 0x{:02X} needs MQTT 5 (MQTT 5 §3.4.2.1)",
                p.reason_code
            )));
        }
    }
    let short = !version.is_v5() || (p.reason_code == 0 && p.properties.is_empty());
    write_packet(kind.first_byte(), out, |w: &mut Writer<'_>| {
        w.put_u16(p.message_id);
        if !short {
            w.put_u8(p.reason_code);
            properties::encode(&p.properties, kind.carrier(), w)?;
        }
        Ok(())
    })
}
