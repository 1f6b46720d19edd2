//! Codec tests: fixture tables per protocol version (decode, encode, round trip), malformed
//! input for every validation rule, incremental decoding, and property-based tests.

mod encode_errors;
mod fixtures;
mod incremental;
mod malformed;
mod proptests;

use bytes::{Bytes, BytesMut};

use super::{decode, encode, CodecError, ErrorKind, Limits, Packet, ProtocolVersion};

/// One fixture: a name, the version, the packet and its bytes on the wire.
pub(crate) struct Fixture {
    pub(crate) name: &'static str,
    pub(crate) version: ProtocolVersion,
    pub(crate) packet: Packet,
    pub(crate) bytes: Vec<u8>,
}

/// A UTF-8 string or binary field: two-byte length then the bytes (MQTT 5 §1.5.4, §1.5.6).
pub(crate) fn s(text: &str) -> Vec<u8> {
    let mut out = (text.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(text.as_bytes());
    out
}

/// Concatenates byte pieces.
pub(crate) fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// A property block: its length (one byte, all fixtures are short) then the properties.
pub(crate) fn props(parts: &[&[u8]]) -> Vec<u8> {
    let body = parts.concat();
    assert!(body.len() < 128);
    let mut out = vec![body.len() as u8];
    out.extend_from_slice(&body);
    out
}

/// A whole packet: `first` byte, remaining length (one or two bytes), then `body`.
pub(crate) fn packet(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    let n = body.len();
    assert!(n < 16_384);
    if n < 128 {
        out.push(n as u8);
    } else {
        out.push((n % 128) as u8 | 0x80);
        out.push((n / 128) as u8);
    }
    out.extend_from_slice(body);
    out
}

/// Decodes `bytes` as one whole packet.
pub(crate) fn decode_all(bytes: &[u8], version: ProtocolVersion) -> Result<Packet, CodecError> {
    let mut buf = BytesMut::from(bytes);
    let packet = decode(&mut buf, version, &Limits::default())?;
    let packet = packet.unwrap_or_else(|| panic!("incomplete packet {bytes:02X?}"));
    assert!(buf.is_empty(), "{} bytes left after one packet", buf.len());
    Ok(packet)
}

/// Encodes `packet` to a vector.
pub(crate) fn encode_vec(packet: &Packet, version: ProtocolVersion) -> Result<Vec<u8>, CodecError> {
    let mut out = BytesMut::new();
    encode(packet, version, &mut out)?;
    Ok(out.to_vec())
}

/// Asserts that decoding `bytes` fails with `kind`, and that the message cites a section.
#[track_caller]
pub(crate) fn assert_decode_error(
    bytes: &[u8],
    version: ProtocolVersion,
    kind: ErrorKind,
) -> CodecError {
    let mut buf = BytesMut::from(bytes);
    match decode(&mut buf, version, &Limits::default()) {
        Err(err) => {
            assert_eq!(err.kind(), kind, "{bytes:02X?}: {}", err.message());
            assert!(
                err.message().contains('§'),
                "no spec citation in {:?}",
                err.message()
            );
            err
        }
        Ok(p) => panic!("{bytes:02X?} decoded as {p:?}, expected a {kind:?} error"),
    }
}

/// Asserts that encoding `packet` fails as unencodable and leaves the buffer unchanged.
#[track_caller]
pub(crate) fn assert_unencodable(packet: &Packet, version: ProtocolVersion) -> CodecError {
    let mut out = BytesMut::from(&b"keep"[..]);
    match encode(packet, version, &mut out) {
        Err(err) => {
            assert_eq!(
                super::encoded_len(packet, version),
                Err(err.clone()),
                "encoded_len disagrees"
            );
            assert_eq!(err.kind(), ErrorKind::Unencodable, "{}", err.message());
            assert!(
                err.message().contains('§'),
                "no spec citation in {:?}",
                err.message()
            );
            assert_eq!(&out[..], b"keep");
            err
        }
        Ok(()) => panic!("{packet:?} encoded as {:02X?}", &out[4..]),
    }
}

/// A `Bytes` from a static string.
pub(crate) fn b(text: &'static str) -> Bytes {
    Bytes::from_static(text.as_bytes())
}

/// Packets move several times between the socket and JavaScript; their MQTT 5 properties are
/// stored out of line so that those moves stay cheap (a table inline made `Packet` 864 bytes).
#[test]
fn packets_stay_small_so_that_moving_them_is_cheap() {
    use crate::codec::{Packet, Properties, Publish};
    assert_eq!(
        std::mem::size_of::<Properties>(),
        std::mem::size_of::<usize>()
    );
    assert!(
        std::mem::size_of::<Publish>() <= 96,
        "Publish is {} bytes",
        std::mem::size_of::<Publish>()
    );
    assert!(
        std::mem::size_of::<Packet>() <= 200,
        "Packet is {} bytes",
        std::mem::size_of::<Packet>()
    );
}

/// mqtt-packet lists received properties in wire order; the codec keeps that order when it is
/// not ascending (for JavaScript), and equality ignores it.
#[test]
fn properties_received_out_of_order_keep_their_wire_order_and_compare_by_value() {
    // CONNACK: Topic Alias Maximum (0x22) = 10, then Receive Maximum (0x21) = 5, then a User
    // Property (0x26) and Receive Maximum's neighbour Assigned Client Identifier (0x12).
    let body = [
        &[0u8, 0][..],
        &props(&[
            &[0x22, 0, 10],
            &[0x21, 0, 5],
            &[0x26, 0, 1, b'k', 0, 1, b'v'],
            &[0x12, 0, 1, b'c'],
        ]),
    ]
    .concat();
    let Packet::Connack(out_of_order) =
        decode_all(&packet(0x20, &body), ProtocolVersion::V5).unwrap()
    else {
        panic!("not a CONNACK");
    };
    assert_eq!(
        out_of_order.properties.wire_order(),
        &[0x22, 0x21, 0x26, 0x12]
    );
    let ascending = [
        &[0u8, 0][..],
        &props(&[
            &[0x12, 0, 1, b'c'],
            &[0x21, 0, 5],
            &[0x22, 0, 10],
            &[0x26, 0, 1, b'k', 0, 1, b'v'],
        ]),
    ]
    .concat();
    let Packet::Connack(in_order) =
        decode_all(&packet(0x20, &ascending), ProtocolVersion::V5).unwrap()
    else {
        panic!("not a CONNACK");
    };
    assert!(in_order.properties.wire_order().is_empty());
    assert_eq!(in_order, out_of_order);
}
