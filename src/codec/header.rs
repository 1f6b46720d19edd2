//! The fixed header (MQTT 5 §2.1): type and flags byte, remaining length, and the checks that can
//! be made from them before the body arrives.

use bytes::{Bytes, BytesMut};

use super::primitives::{decode_varint, varint_len, Writer, VARINT_MAX};
use super::{CodecError, Limits, ProtocolVersion};

/// A parsed fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FixedHeader {
    /// The packet type (high nibble) and flags (low nibble).
    pub(crate) first_byte: u8,
    /// Bytes taken by the fixed header: 1 plus the length of the remaining-length field.
    pub(crate) header_len: usize,
    /// The remaining length: bytes in the variable header and payload.
    pub(crate) remaining_length: usize,
}

/// The name of a packet type (the high nibble of the first byte), as the specification spells it.
pub(crate) fn packet_type_name(packet_type: u8) -> &'static str {
    match packet_type {
        1 => "CONNECT",
        2 => "CONNACK",
        3 => "PUBLISH",
        4 => "PUBACK",
        5 => "PUBREC",
        6 => "PUBREL",
        7 => "PUBCOMP",
        8 => "SUBSCRIBE",
        9 => "SUBACK",
        10 => "UNSUBSCRIBE",
        11 => "UNSUBACK",
        12 => "PINGREQ",
        13 => "PINGRESP",
        14 => "DISCONNECT",
        15 => "AUTH",
        _ => "reserved",
    }
}

/// Checks the type and flags byte (MQTT 5 §2.1.2, §2.1.3), so that a bad first byte is refused
/// before its body is waited for.
pub(crate) fn check_first_byte(first_byte: u8, version: ProtocolVersion) -> Result<(), CodecError> {
    let packet_type = first_byte >> 4;
    let flags = first_byte & 0x0F;
    let name = packet_type_name(packet_type);
    match packet_type {
        // Type 0 is reserved (MQTT 5 §2.1.2).
        0 => Err(CodecError::malformed(
            "reserved packet type 0 (MQTT 5 §2.1.2)",
        )),
        // AUTH exists in MQTT 5 only (MQTT 5 §3.15; MQTT 3.1.1 §2.2.1 reserves type 15).
        15 if !version.is_v5() => Err(CodecError::protocol(
            "AUTH does not exist before MQTT 5 (MQTT 3.1.1 §2.2.1)",
        )),
        3 => {
            let qos = (flags >> 1) & 0x03;
            // A PUBLISH packet MUST NOT have both QoS bits set to 1 (MQTT 5 §3.3.1.2 [MQTT-3.3.1-4]).
            if qos == 3 {
                return Err(CodecError::malformed(
                    "PUBLISH QoS must not be 3 (MQTT 5 §3.3.1.2)",
                ));
            }
            // The DUP flag MUST be set to 0 for all QoS 0 messages (MQTT 5 §3.3.1.1 [MQTT-3.3.1-2]).
            if version.is_v5() && qos == 0 && flags & 0x08 != 0 {
                return Err(CodecError::malformed(
                    "PUBLISH DUP must be 0 for QoS 0 (MQTT 5 §3.3.1.1)",
                ));
            }
            Ok(())
        }
        // PUBREL, SUBSCRIBE and UNSUBSCRIBE carry 0010 (MQTT 5 §2.1.3 [MQTT-2.1.3-1]). MQTT 3.1
        // gave these packets a DUP flag and QoS 1, so 1010 is also accepted there (MQTT 3.1 §3.6).
        6 | 8 | 10 => {
            if flags == 0b0010 || (version == ProtocolVersion::V3_1 && flags == 0b1010) {
                Ok(())
            } else {
                Err(CodecError::malformed(format!(
                    "{name} flags must be 0010 (MQTT 5 §2.1.3), got {flags:04b}"
                )))
            }
        }
        // Every other type has reserved flags 0000 (MQTT 5 §2.1.3 [MQTT-2.1.3-1]).
        _ if flags != 0 => Err(CodecError::malformed(format!(
            "{name} flags must be 0000 (MQTT 5 §2.1.3), got {flags:04b}"
        ))),
        _ => Ok(()),
    }
}

/// Parses the fixed header at the front of `buf` without consuming it.
///
/// Returns `Ok(None)` while the header is incomplete. The type and flags are checked as soon as
/// the first byte is there, and the whole packet's size against `limits.max_packet_size` as soon
/// as the remaining length is known, before any of the body needs to be buffered.
pub(crate) fn parse_fixed_header(
    buf: &[u8],
    version: ProtocolVersion,
    limits: &Limits,
) -> Result<Option<FixedHeader>, CodecError> {
    let Some((&first_byte, rest)) = buf.split_first() else {
        return Ok(None);
    };
    check_first_byte(first_byte, version)?;
    // The remaining length is a Variable Byte Integer of at most 4 bytes (MQTT 5 §2.1.4).
    let Some((remaining_length, len_len)) = decode_varint(rest, "remaining length")? else {
        return Ok(None);
    };
    let header_len = 1 + len_len;
    let total = header_len as u64 + u64::from(remaining_length);
    // The receiver's Maximum Packet Size bounds the whole packet (MQTT 5 §3.1.2.11.4).
    if total > u64::from(limits.max_packet_size) {
        return Err(CodecError::too_large(format!(
            "{} of {total} bytes exceeds the maximum packet size of {} bytes (MQTT 5 §3.1.2.11.4)",
            packet_type_name(first_byte >> 4),
            limits.max_packet_size
        )));
    }
    Ok(Some(FixedHeader {
        first_byte,
        header_len,
        remaining_length: remaining_length as usize,
    }))
}

/// Checks that a packet which has no variable header or payload (PINGREQ, PINGRESP, and
/// DISCONNECT before MQTT 5) has a remaining length of 0 (MQTT 5 §3.12.1, §3.13.1).
pub(crate) fn expect_empty(_flags: u8, body: &Bytes, name: &'static str) -> Result<(), CodecError> {
    if body.is_empty() {
        Ok(())
    } else {
        Err(CodecError::malformed(format!(
            "{name} must have remaining length 0, got {} (MQTT 5 §3.12)",
            body.len()
        )))
    }
}

/// Appends a packet with no body: `first_byte` then remaining length 0.
pub(crate) fn encode_empty(first_byte: u8, out: &mut Output<'_>) -> Result<(), CodecError> {
    write_packet(first_byte, out, |_: &mut Writer<'_>| Ok(()))
}

/// Where [`write_packet`] puts a packet: appended to a buffer, or only measured.
#[derive(Debug)]
pub(crate) enum Output<'a> {
    /// Append the packet to this buffer.
    Buffer(&'a mut BytesMut),
    /// Validate the packet and record its whole encoded length here.
    Measure(usize),
}

/// Appends a whole packet: `first_byte`, the remaining length, then what `body` writes; or,
/// for [`Output::Measure`], records how long that packet would be.
///
/// `body` runs twice: first counting, where it validates and may fail without anything having been
/// written, then writing into the buffer.
pub(crate) fn write_packet(
    first_byte: u8,
    out: &mut Output<'_>,
    body: impl Fn(&mut Writer<'_>) -> Result<(), CodecError>,
) -> Result<(), CodecError> {
    let mut counter = Writer::counter();
    body(&mut counter)?;
    let len = counter.len();
    // The remaining length is at most 268,435,455 (MQTT 5 §2.1.4).
    let remaining = u32::try_from(len).ok().filter(|&l| l <= VARINT_MAX).ok_or_else(|| {
        CodecError::unencodable(format!(
            "{} body of {len} bytes exceeds the maximum remaining length 268,435,455 (MQTT 5 §2.1.4)",
            packet_type_name(first_byte >> 4)
        ))
    })?;
    let total = 1 + varint_len(remaining) + len;
    match out {
        Output::Measure(measured) => {
            *measured = total;
            Ok(())
        }
        Output::Buffer(buf) => {
            buf.reserve(total);
            let mut w = Writer::new(buf);
            w.put_u8(first_byte);
            w.put_varint(remaining, "remaining length")?;
            body(&mut w)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: u32) -> Limits {
        Limits {
            max_packet_size: max,
        }
    }

    #[test]
    fn an_empty_buffer_asks_for_more() {
        assert_eq!(
            parse_fixed_header(&[], ProtocolVersion::V5, &Limits::default()).unwrap(),
            None
        );
    }

    #[test]
    fn a_bad_first_byte_is_refused_before_the_length_arrives() {
        let err = parse_fixed_header(&[0x00], ProtocolVersion::V5, &Limits::default()).unwrap_err();
        assert_eq!(err.reason_code(), 0x81);
        let err = parse_fixed_header(&[0x60], ProtocolVersion::V5, &Limits::default()).unwrap_err();
        assert!(
            err.message().contains("PUBREL flags must be 0010"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn the_size_limit_counts_the_fixed_header() {
        // 2 bytes of header + 3 of body = 5.
        assert!(
            parse_fixed_header(&[0x30, 3], ProtocolVersion::V5, &limits(5))
                .unwrap()
                .is_some()
        );
        let err = parse_fixed_header(&[0x30, 3], ProtocolVersion::V5, &limits(4)).unwrap_err();
        assert_eq!(err.reason_code(), 0x95);
    }

    #[test]
    fn a_remaining_length_of_five_bytes_is_malformed() {
        let err = parse_fixed_header(
            &[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F],
            ProtocolVersion::V5,
            &Limits::default(),
        )
        .unwrap_err();
        assert_eq!(err.reason_code(), 0x81);
    }

    #[test]
    fn the_largest_remaining_length_is_accepted_by_the_default_limit() {
        let h = parse_fixed_header(
            &[0x30, 0xFF, 0xFF, 0xFF, 0x7F],
            ProtocolVersion::V5,
            &Limits::default(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(h.remaining_length, 268_435_455);
        assert_eq!(h.header_len, 5);
    }
}
