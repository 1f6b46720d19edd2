//! Fuzz target: arbitrary bytes, fed in arbitrary chunks, to the decoder of every version.
//!
//! The first input byte picks the protocol version, a size limit and a chunk size; the rest is
//! the stream. Properties checked: no panic; `Ok(None)` consumes nothing; every decoded packet
//! re-encodes, and its encoding decodes to the same packet.
//!
//! Run with `cargo fuzz run decode` from the repository root (needs nightly and cargo-fuzz).

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mqtt_native::codec::{decode, encode, Limits, Packet, ProtocolVersion};

fuzz_target!(|data: &[u8]| {
    let Some((&control, stream)) = data.split_first() else {
        return;
    };
    let version = match control % 3 {
        0 => ProtocolVersion::V3_1,
        1 => ProtocolVersion::V3_1_1,
        _ => ProtocolVersion::V5,
    };
    let limits = if control & 0x04 != 0 {
        Limits {
            max_packet_size: 64,
        }
    } else {
        Limits::default()
    };
    let chunk = usize::from(control >> 3) + 1;

    let mut buf = BytesMut::new();
    for piece in stream.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            let before = buf.len();
            match decode(&mut buf, version, &limits) {
                Ok(Some(packet)) => check_round_trip(&packet, version),
                Ok(None) => {
                    assert_eq!(buf.len(), before, "Ok(None) consumed input");
                    break;
                }
                Err(_) => return,
            }
        }
    }
});

fn check_round_trip(packet: &Packet, version: ProtocolVersion) {
    let encode_version = match packet {
        Packet::Connect(c) => c.protocol_version,
        _ => version,
    };
    let mut out = BytesMut::new();
    encode(packet, encode_version, &mut out).expect("a decoded packet re-encodes");
    let again = decode(&mut out, version, &Limits::default())
        .expect("the re-encoding decodes")
        .expect("the re-encoding is whole");
    assert_eq!(&again, packet);
    assert!(out.is_empty());
}
