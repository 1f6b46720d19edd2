//! Malformed and protocol-violating input: one case (at least) per validation rule, each
//! asserting the error kind and that the message cites the specification.

use bytes::BytesMut;

use super::{assert_decode_error, cat, decode_all, encode_vec, packet, props, s};
use crate::codec::{decode, Ack, ErrorKind, Limits, Packet, ProtocolVersion};

use ErrorKind::{Malformed, Protocol, TooLarge};
use ProtocolVersion::{V3_1, V3_1_1, V5};

const ALL: [ProtocolVersion; 3] = [V3_1, V3_1_1, V5];

// Fixed header (MQTT 5 §2.1).

#[test]
fn reserved_packet_type_0_is_malformed() {
    for v in ALL {
        assert_decode_error(&[0x00, 0], v, Malformed);
    }
}

#[test]
fn a_bad_first_byte_is_refused_before_the_rest_arrives() {
    for v in ALL {
        assert_decode_error(&[0x00], v, Malformed);
        assert_decode_error(&[0x61], v, Malformed);
    }
}

#[test]
fn pubrel_subscribe_and_unsubscribe_flags_must_be_0010() {
    for v in ALL {
        let err = assert_decode_error(&[0x60, 2, 0, 1], v, Malformed);
        assert!(
            err.message()
                .starts_with("PUBREL flags must be 0010 (MQTT 5 §2.1.3)"),
            "{}",
            err.message()
        );
        assert_decode_error(&[0x80, 6, 0, 1, 0, 1, b'a', 0], v, Malformed);
        assert_decode_error(&[0xA0, 5, 0, 1, 0, 1, b'a'], v, Malformed);
        assert_decode_error(&[0xA3, 5, 0, 1, 0, 1, b'a'], v, Malformed);
    }
    // MQTT 3.1's DUP flag on these packets is accepted only in 3.1.
    assert_decode_error(&[0x6A, 2, 0, 1], V3_1_1, Malformed);
    assert_decode_error(&[0x6A, 2, 0, 1], V5, Malformed);
}

#[test]
fn reserved_flags_of_other_packets_must_be_0000() {
    for v in ALL {
        for first in [0x11, 0x28, 0x41, 0x52, 0x74, 0x98, 0xB1, 0xC1, 0xD8, 0xE2] {
            assert_decode_error(&[first, 0], v, Malformed);
        }
    }
    assert_decode_error(&[0xF1, 0], V5, Malformed);
}

#[test]
fn publish_with_qos_3_is_malformed() {
    for v in ALL {
        assert_decode_error(&[0x36, 5, 0, 1, b't', 0, 1], v, Malformed);
    }
}

#[test]
fn publish_with_dup_and_qos_0_is_malformed_in_mqtt_5() {
    assert_decode_error(&[0x38, 4, 0, 1, b't', 0], V5, Malformed);
    assert!(decode_all(&[0x38, 3, 0, 1, b't'], V3_1_1).is_ok());
}

#[test]
fn a_remaining_length_longer_than_4_bytes_is_malformed() {
    for v in ALL {
        assert_decode_error(&[0x30, 0x80, 0x80, 0x80, 0x80, 0x01], v, Malformed);
        // Refused as soon as the fifth byte is known to be needed.
        assert_decode_error(&[0x30, 0x80, 0x80, 0x80, 0x80], v, Malformed);
    }
}

#[test]
fn a_remaining_length_in_more_bytes_than_needed_is_malformed() {
    assert_decode_error(&[0xC0, 0x80, 0x00], V5, Malformed);
}

#[test]
fn a_packet_over_the_size_limit_is_refused_from_its_fixed_header() {
    let limits = Limits {
        max_packet_size: 100,
    };
    // Remaining length 1,000 with none of the body buffered.
    let mut buf = BytesMut::from(&[0x30, 0xE8, 0x07][..]);
    let err = decode(&mut buf, V5, &limits).unwrap_err();
    assert_eq!(err.kind(), TooLarge);
    assert_eq!(err.reason_code(), 0x95);
    assert!(err.message().contains("§3.1.2.11.4"), "{}", err.message());
    // The limit counts the fixed header: 2 + 98 = 100 passes, 2 + 99 does not.
    let mut buf = BytesMut::from(&[0x30, 98][..]);
    assert_eq!(decode(&mut buf, V5, &limits).unwrap(), None);
    let mut buf = BytesMut::from(&[0x30, 99][..]);
    assert_eq!(decode(&mut buf, V5, &limits).unwrap_err().kind(), TooLarge);
}

#[test]
fn auth_is_a_protocol_error_before_mqtt_5() {
    assert_decode_error(&[0xF0, 0], V3_1, Protocol);
    assert_decode_error(&[0xF0, 0], V3_1_1, Protocol);
}

// Data representations (MQTT 5 §1.5).

#[test]
fn a_topic_that_is_not_well_formed_utf8_is_malformed() {
    for v in ALL {
        assert_decode_error(&[0x30, 4, 0, 2, 0xC0, 0xAF], v, Malformed);
        assert_decode_error(&[0x30, 5, 0, 3, 0xED, 0xA0, 0x80], v, Malformed);
    }
}

#[test]
fn a_string_containing_u0000_is_malformed() {
    for v in ALL {
        let err = assert_decode_error(&[0x30, 5, 0, 3, b'a', 0, b'b'], v, Malformed);
        assert!(
            err.message().contains("U+0000 (MQTT 5 §1.5.4)"),
            "{}",
            err.message()
        );
    }
}

#[test]
fn a_string_running_past_the_end_of_the_packet_is_malformed() {
    for v in ALL {
        assert_decode_error(&[0x30, 3, 0, 5, b'a'], v, Malformed);
        assert_decode_error(&[0x30, 1, 0], v, Malformed);
    }
}

// Trailing bytes: the body must be consumed exactly.

#[test]
fn trailing_bytes_after_a_packet_body_are_malformed() {
    for v in [V3_1, V3_1_1] {
        assert_decode_error(&[0x40, 3, 0, 1, 0], v, Malformed);
        assert_decode_error(&[0x62, 3, 0, 1, 0], v, Malformed);
        assert_decode_error(&[0x20, 3, 0, 0, 0], v, Malformed);
        assert_decode_error(&[0xB0, 3, 0, 1, 0], v, Malformed);
        assert_decode_error(&[0xE0, 1, 0], v, Malformed);
    }
    for v in ALL {
        assert_decode_error(&[0xC0, 1, 0], v, Malformed);
        assert_decode_error(&[0xD0, 1, 0], v, Malformed);
    }
    assert_decode_error(&[0x40, 5, 0, 1, 0, 0, 0], V5, Malformed);
    assert_decode_error(&[0xE0, 3, 0, 0, 0], V5, Malformed);
    assert_decode_error(&[0xF0, 3, 0, 0, 0], V5, Malformed);
    assert_decode_error(&[0x20, 4, 0, 0, 0, 0], V5, Malformed);
    let connect = cat(&[
        &[0x10, 15],
        &s("MQTT"),
        &[4, 2, 0, 0],
        &s("c"),
        &[0xFF, 0xFF],
    ]);
    assert_decode_error(&connect, V3_1_1, Malformed);
}

// Properties (MQTT 5 §2.2.2).

#[test]
fn a_duplicated_property_is_a_protocol_error() {
    let bytes = packet(
        0x40,
        &cat(&[&[0, 1, 0], &props(&[&[0x1F], &s("a"), &[0x1F], &s("b")])]),
    );
    let err = assert_decode_error(&bytes, V5, Protocol);
    assert!(
        err.message()
            .contains("Reason String appears more than once"),
        "{}",
        err.message()
    );
    let bytes = packet(
        0x82,
        &cat(&[&[0, 1], &props(&[&[0x0B, 1, 0x0B, 2]]), &s("a"), &[0]]),
    );
    assert_decode_error(&bytes, V5, Protocol);
}

#[test]
fn a_property_not_permitted_for_the_packet_type_is_malformed() {
    // Topic Alias in a PUBACK.
    let bytes = packet(0x40, &cat(&[&[0, 1, 0], &props(&[&[0x23, 0, 1]])]));
    assert_decode_error(&bytes, V5, Malformed);
    // Will Delay Interval in CONNECT's own properties.
    let bytes = packet(
        0x10,
        &cat(&[
            &s("MQTT"),
            &[5, 2, 0, 0],
            &props(&[&[0x18, 0, 0, 0, 1]]),
            &s("c"),
        ]),
    );
    assert_decode_error(&bytes, V5, Malformed);
    // Session Expiry Interval in the will properties.
    let bytes = packet(
        0x10,
        &cat(&[
            &s("MQTT"),
            &[5, 6, 0, 0, 0],
            &s("c"),
            &props(&[&[0x11, 0, 0, 0, 1]]),
            &s("t"),
            &s(""),
        ]),
    );
    assert_decode_error(&bytes, V5, Malformed);
}

#[test]
fn an_unknown_property_identifier_is_malformed() {
    let bytes = packet(0xE0, &cat(&[&[0], &props(&[&[0x7F, 0]])]));
    assert_decode_error(&bytes, V5, Malformed);
}

#[test]
fn authentication_data_without_a_method_is_a_protocol_error() {
    let bytes = packet(0xF0, &cat(&[&[0x18], &props(&[&[0x16, 0, 1, 1]])]));
    assert_decode_error(&bytes, V5, Protocol);
}

#[test]
fn a_property_length_past_the_end_of_the_packet_is_malformed() {
    assert_decode_error(&[0x40, 4, 0, 1, 0, 9], V5, Malformed);
}

// Reason codes (MQTT 5 §2.4 and each packet's table).

#[test]
fn reason_codes_not_valid_for_the_packet_type_are_protocol_errors() {
    assert_decode_error(&[0x40, 3, 0, 1, 0x92], V5, Protocol);
    assert_decode_error(&[0x50, 3, 0, 1, 0x01], V5, Protocol);
    assert_decode_error(&[0x62, 3, 0, 1, 0x10], V5, Protocol);
    assert_decode_error(&[0x70, 3, 0, 1, 0x80], V5, Protocol);
    assert_decode_error(&[0x90, 4, 0, 1, 0, 0x03], V5, Protocol);
    assert_decode_error(&[0xB0, 4, 0, 1, 0, 0x92], V5, Protocol);
    assert_decode_error(&[0xE0, 1, 0x05], V5, Protocol);
    assert_decode_error(&[0xF0, 1, 0x01], V5, Protocol);
    assert_decode_error(&[0x20, 3, 0, 0x01, 0], V5, Protocol);
    assert_decode_error(&[0x20, 2, 0, 0x06], V5, Protocol);
    assert_decode_error(&[0x90, 3, 0, 1, 0x87], V3_1_1, Protocol);
    assert_decode_error(&[0x90, 3, 0, 1, 0x03], V3_1, Protocol);
}

// Packet identifiers (MQTT 5 §2.2.1).

#[test]
fn packet_identifier_0_is_a_protocol_error_where_one_is_required() {
    for v in ALL {
        assert_decode_error(&[0x40, 2, 0, 0], v, Protocol);
        assert_decode_error(&[0x50, 2, 0, 0], v, Protocol);
        assert_decode_error(&[0x70, 2, 0, 0], v, Protocol);
        assert_decode_error(&[0xB0, 2, 0, 0], v, Protocol);
        assert_decode_error(&[0x90, 3, 0, 0, 0], v, Protocol);
    }
    for v in [V3_1, V3_1_1] {
        assert_decode_error(&[0x82, 6, 0, 0, 0, 1, b'a', 0], v, Protocol);
        assert_decode_error(&[0xA2, 5, 0, 0, 0, 1, b'a'], v, Protocol);
    }
}

#[test]
fn a_publish_numbered_0_and_its_pubrel_are_taken_as_mqtt_js_takes_them() {
    for v in ALL {
        // Topic "t", packet identifier 0, and in MQTT 5 no properties.
        let body: &[u8] = if v == V5 {
            &[0, 1, b't', 0, 0, 0]
        } else {
            &[0, 1, b't', 0, 0]
        };
        for qos_flags in [0x32, 0x34] {
            let bytes = packet(qos_flags, body);
            match decode_all(&bytes, v) {
                Ok(Packet::Publish(p)) => {
                    assert_eq!((p.message_id, p.topic.as_str()), (0, "t"));
                    // What is read can be written: the same bytes.
                    assert_eq!(encode_vec(&Packet::Publish(p), v).unwrap(), bytes);
                }
                other => panic!("{other:?}"),
            }
        }
        match decode_all(&[0x62, 2, 0, 0], v) {
            Ok(pubrel @ Packet::Pubrel(Ack { message_id: 0, .. })) => {
                assert_eq!(encode_vec(&pubrel, v).unwrap(), [0x62, 2, 0, 0]);
            }
            other => panic!("{other:?}"),
        }
    }
}

// SUBSCRIBE and UNSUBSCRIBE payloads (MQTT 5 §3.8.3, §3.10.3).

#[test]
fn subscribe_without_a_topic_filter_is_a_protocol_error() {
    assert_decode_error(&[0x82, 2, 0, 1], V3_1_1, Protocol);
    assert_decode_error(&[0x82, 3, 0, 1, 0], V5, Protocol);
}

#[test]
fn unsubscribe_without_a_topic_filter_is_a_protocol_error() {
    assert_decode_error(&[0xA2, 2, 0, 1], V3_1_1, Protocol);
    assert_decode_error(&[0xA2, 3, 0, 1, 0], V5, Protocol);
}

#[test]
fn an_empty_topic_filter_is_a_protocol_error() {
    assert_decode_error(&[0x82, 5, 0, 1, 0, 0, 0], V3_1_1, Protocol);
    assert_decode_error(&[0xA2, 4, 0, 1, 0, 0], V3_1_1, Protocol);
}

#[test]
fn a_subscribe_option_without_its_byte_is_malformed() {
    assert_decode_error(&[0x82, 5, 0, 1, 0, 1, b'a'], V3_1_1, Malformed);
}

#[test]
fn subscription_options_reserved_bits_are_malformed() {
    assert_decode_error(&[0x82, 7, 0, 1, 0, 0, 1, b'a', 0x40], V5, Malformed);
    assert_decode_error(&[0x82, 7, 0, 1, 0, 0, 1, b'a', 0x80], V5, Malformed);
    assert_decode_error(&[0x82, 6, 0, 1, 0, 1, b'a', 0x04], V3_1_1, Malformed);
}

#[test]
fn subscription_with_retain_handling_3_is_a_protocol_error() {
    assert_decode_error(&[0x82, 7, 0, 1, 0, 0, 1, b'a', 0x30], V5, Protocol);
}

#[test]
fn subscription_with_maximum_qos_3_is_rejected() {
    assert_decode_error(&[0x82, 7, 0, 1, 0, 0, 1, b'a', 0x03], V5, Protocol);
    assert_decode_error(&[0x82, 6, 0, 1, 0, 1, b'a', 0x03], V3_1_1, Malformed);
}

#[test]
fn no_local_on_a_shared_subscription_is_a_protocol_error() {
    let bytes = packet(0x82, &cat(&[&[0, 1, 0], &s("$share/g/a"), &[0x04]]));
    assert_decode_error(&bytes, V5, Protocol);
}

#[test]
fn suback_and_mqtt_5_unsuback_need_a_reason_code() {
    assert_decode_error(&[0x90, 2, 0, 1], V3_1_1, Protocol);
    assert_decode_error(&[0x90, 3, 0, 1, 0], V5, Protocol);
    assert_decode_error(&[0xB0, 3, 0, 1, 0], V5, Protocol);
}

// PUBLISH topic names (MQTT 5 §3.3.2.1, §4.7).

#[test]
fn a_publish_topic_with_wildcards_is_a_protocol_error() {
    for v in [V3_1, V3_1_1] {
        assert_decode_error(&[0x30, 5, 0, 3, b'a', b'/', b'+'], v, Protocol);
        assert_decode_error(&[0x30, 3, 0, 1, b'#'], v, Protocol);
    }
    assert_decode_error(&[0x30, 6, 0, 3, b'a', b'/', b'+', 0], V5, Protocol);
    assert_decode_error(&[0x30, 4, 0, 1, b'#', 0], V5, Protocol);
}

#[test]
fn an_empty_publish_topic_without_a_topic_alias_is_a_protocol_error() {
    assert_decode_error(&[0x30, 2, 0, 0], V3_1_1, Protocol);
    assert_decode_error(&[0x30, 3, 0, 0, 0], V5, Protocol);
}

// CONNECT (MQTT 5 §3.1).

fn connect(level: u8, flags: u8, tail: &[u8]) -> Vec<u8> {
    let name = if level == 3 { "MQIsdp" } else { "MQTT" };
    packet(0x10, &cat(&[&s(name), &[level, flags, 0, 0], tail]))
}

#[test]
fn connect_reserved_flag_is_malformed() {
    assert_decode_error(&connect(4, 0x03, &s("c")), V3_1_1, Malformed);
}

#[test]
fn connect_will_qos_3_is_malformed() {
    assert_decode_error(
        &connect(4, 0x1E, &cat(&[&s("c"), &s("t"), &s("")])),
        V3_1_1,
        Malformed,
    );
}

#[test]
fn connect_will_qos_or_retain_without_a_will_is_malformed() {
    assert_decode_error(&connect(4, 0x0A, &s("c")), V3_1_1, Malformed);
    assert_decode_error(&connect(4, 0x22, &s("c")), V3_1_1, Malformed);
}

#[test]
fn connect_password_without_user_name_is_malformed_before_mqtt_5() {
    assert_decode_error(
        &connect(4, 0x42, &cat(&[&s("c"), &s("p")])),
        V3_1_1,
        Malformed,
    );
    assert_decode_error(
        &connect(3, 0x42, &cat(&[&s("c"), &s("p")])),
        V3_1,
        Malformed,
    );
}

#[test]
fn connect_with_an_unknown_protocol_name_or_level_is_a_protocol_error() {
    let bytes = packet(0x10, &cat(&[&s("MQTX"), &[4, 2, 0, 0], &s("c")]));
    assert_decode_error(&bytes, V3_1_1, Protocol);
    assert_decode_error(&connect(6, 2, &s("c")), V3_1_1, Protocol);
    assert_decode_error(&connect(0x84, 2, &s("c")), V3_1_1, Protocol);
}

#[test]
fn connect_fields_missing_from_the_end_are_malformed() {
    // The user name flag is set but no user name follows.
    assert_decode_error(&connect(4, 0x82, &s("c")), V3_1_1, Malformed);
    // MQTT 5 needs a property length after the keep alive.
    assert_decode_error(&connect(5, 0x02, &[]), V5, Malformed);
}

#[test]
fn connect_with_an_empty_will_topic_is_a_protocol_error() {
    assert_decode_error(
        &connect(4, 0x06, &cat(&[&s("c"), &s(""), &s("")])),
        V3_1_1,
        Protocol,
    );
}

// CONNACK (MQTT 5 §3.2).

#[test]
fn connack_reserved_flag_bits_are_malformed() {
    assert_decode_error(&[0x20, 2, 0x02, 0], V3_1_1, Malformed);
    assert_decode_error(&[0x20, 3, 0x80, 0, 0], V5, Malformed);
}

#[test]
fn connack_with_session_present_and_a_failure_is_a_protocol_error() {
    assert_decode_error(&[0x20, 2, 1, 5], V3_1_1, Protocol);
    assert_decode_error(&[0x20, 3, 1, 0x80, 0], V5, Protocol);
}

#[test]
fn a_connack_too_short_for_its_reason_code_is_malformed() {
    assert_decode_error(&[0x20, 1, 0], V5, Malformed);
    assert_decode_error(&[0x20, 0], V3_1_1, Malformed);
}

#[test]
fn acks_shorter_than_a_packet_identifier_are_malformed() {
    for v in ALL {
        assert_decode_error(&[0x40, 1, 0], v, Malformed);
        assert_decode_error(&[0x40, 0], v, Malformed);
    }
}
