//! Property-based tests: no input panics the decoder, and valid publishes round-trip.

use crate::codec::PropertyValues;
use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::{decode_all, encode_vec};
use crate::codec::{decode, Limits, Packet, Properties, ProtocolVersion, Publish, QoS};

fn version() -> impl Strategy<Value = ProtocolVersion> {
    prop_oneof![
        Just(ProtocolVersion::V3_1),
        Just(ProtocolVersion::V3_1_1),
        Just(ProtocolVersion::V5)
    ]
}

/// Decodes everything decodable from `bytes`; never panics, always terminates.
fn drain(bytes: &[u8], version: ProtocolVersion, limits: &Limits) {
    let mut buf = BytesMut::from(bytes);
    loop {
        let before = buf.len();
        match decode(&mut buf, version, limits) {
            Ok(Some(packet)) => {
                assert!(buf.len() < before, "a packet was decoded from nothing");
                // Whatever decodes re-encodes, and the encoding decodes to the same packet.
                let bytes = encode_vec(&packet, version_of(&packet, version)).expect("re-encode");
                assert_eq!(
                    decode_all(&bytes, version).expect("decode re-encoding"),
                    packet
                );
            }
            Ok(None) => {
                assert_eq!(buf.len(), before);
                break;
            }
            Err(_) => break,
        }
    }
}

/// CONNECT is encoded with its own version.
fn version_of(packet: &Packet, session: ProtocolVersion) -> ProtocolVersion {
    match packet {
        Packet::Connect(c) => c.protocol_version,
        _ => session,
    }
}

/// Mostly plausible first bytes and lengths, so that bodies get exercised, not just headers.
fn packet_like() -> impl Strategy<Value = Vec<u8>> {
    (
        0u8..=15,
        0u8..=15,
        proptest::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(|(t, flags, body)| {
            let flags = match t {
                6 | 8 | 10 => 2,
                3 => flags & 0x07,
                _ => 0,
            };
            let mut out = vec![(t << 4) | flags, body.len() as u8];
            out.extend_from_slice(&body);
            out
        })
}

fn text() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-z0-9/é日🙂 ]{1,20}").expect("regex")
}

prop_compose! {
    fn publish_properties()(
        pfi in proptest::option::of(any::<bool>()),
        expiry in proptest::option::of(any::<u32>()),
        content_type in proptest::option::of(text()),
        response_topic in proptest::option::of(text()),
        correlation in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..16)),
        sub_ids in proptest::collection::vec(1u32..=268_435_455, 0..3),
        alias in proptest::option::of(1u16..),
        user in proptest::collection::vec((text(), text()), 0..3),
    ) -> Properties {
        Properties::from(PropertyValues {
            payload_format_indicator: pfi,
            message_expiry_interval: expiry,
            content_type,
            response_topic,
            correlation_data: correlation.map(Bytes::from),
            subscription_identifiers: sub_ids,
            topic_alias: alias,
            user_properties: user,
            ..PropertyValues::default()
        })
    }
}

prop_compose! {
    fn valid_publish(version: ProtocolVersion)(
        qos in 0u8..=2,
        dup in any::<bool>(),
        retain in any::<bool>(),
        topic in proptest::string::string_regex("[a-z0-9/é日🙂 $]{1,40}").expect("regex"),
        id in 1u16..,
        payload in proptest::collection::vec(any::<u8>(), 0..300),
        properties in publish_properties(),
    ) -> Publish {
        let qos = QoS::try_from(qos).unwrap_or_default();
        Publish {
            dup: dup && (qos != QoS::AtMostOnce || !version.is_v5()),
            qos,
            retain,
            topic,
            message_id: if qos == QoS::AtMostOnce { 0 } else { id },
            payload: Bytes::from(payload),
            properties: if version.is_v5() { properties } else { Properties::default() },
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..256), v in version()) {
        drain(&bytes, v, &Limits::default());
        drain(&bytes, v, &Limits { max_packet_size: 16 });
    }

    #[test]
    fn packet_shaped_bytes_never_panic_the_decoder(packets in proptest::collection::vec(packet_like(), 1..4), v in version()) {
        drain(&packets.concat(), v, &Limits::default());
    }

    #[test]
    fn valid_publishes_round_trip((v, p) in version().prop_flat_map(|v| (Just(v), valid_publish(v)))) {
        let packet = Packet::Publish(p);
        let bytes = encode_vec(&packet, v).expect("encode");
        prop_assert_eq!(crate::codec::encoded_len(&packet, v), Ok(bytes.len()));
        prop_assert_eq!(decode_all(&bytes, v).expect("decode"), packet);
    }
}
