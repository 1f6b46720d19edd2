//! Incremental decoding: partial input asks for more and consumes nothing; packets back to back
//! come out one at a time.

use bytes::BytesMut;

use super::fixtures;
use crate::codec::{decode, Limits};

#[test]
fn every_prefix_of_a_valid_packet_asks_for_more_and_consumes_nothing() {
    for f in fixtures::all() {
        for end in 0..f.bytes.len() {
            let mut buf = BytesMut::from(&f.bytes[..end]);
            let got = decode(&mut buf, f.version, &Limits::default());
            assert_eq!(got, Ok(None), "{} cut at {end}", f.name);
            assert_eq!(
                &buf[..],
                &f.bytes[..end],
                "{} cut at {end} consumed bytes",
                f.name
            );
        }
    }
}

#[test]
fn packets_back_to_back_decode_one_at_a_time() {
    for version in [
        crate::codec::ProtocolVersion::V3_1,
        crate::codec::ProtocolVersion::V3_1_1,
        crate::codec::ProtocolVersion::V5,
    ] {
        let table: Vec<_> = fixtures::all()
            .into_iter()
            .filter(|f| f.version == version)
            .collect();
        let mut buf = BytesMut::new();
        for f in &table {
            buf.extend_from_slice(&f.bytes);
        }
        // Half a packet more at the end.
        let tail = &table[0].bytes[..table[0].bytes.len() / 2];
        buf.extend_from_slice(tail);
        for f in &table {
            let got = decode(&mut buf, version, &Limits::default()).unwrap();
            assert_eq!(got.as_ref(), Some(&f.packet), "{}", f.name);
        }
        assert_eq!(decode(&mut buf, version, &Limits::default()).unwrap(), None);
        assert_eq!(&buf[..], tail);
    }
}

#[test]
fn a_packet_fed_one_byte_at_a_time_decodes_once_complete() {
    for f in fixtures::all() {
        let mut buf = BytesMut::new();
        let mut decoded = None;
        for (i, &byte) in f.bytes.iter().enumerate() {
            buf.extend_from_slice(&[byte]);
            let got = decode(&mut buf, f.version, &Limits::default()).unwrap();
            if i + 1 < f.bytes.len() {
                assert_eq!(got, None, "{} at byte {i}", f.name);
            } else {
                decoded = got;
            }
        }
        assert_eq!(decoded.as_ref(), Some(&f.packet), "{}", f.name);
        assert!(buf.is_empty());
    }
}
