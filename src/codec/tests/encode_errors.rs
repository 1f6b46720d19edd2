//! What `encode` refuses: packets that cannot be represented, or that would break a rule the
//! decoder enforces. A refused encoding leaves the output buffer unchanged.

use crate::codec::PropertyValues;
use bytes::Bytes;

use super::{assert_unencodable, b, encode_vec};
use crate::codec::{
    Ack, Auth, ConnAck, Connect, Disconnect, LastWill, Packet, Properties, ProtocolVersion,
    Publish, QoS, SubAck, Subscribe, Subscription, UnsubAck, Unsubscribe,
};

use ProtocolVersion::{V3_1, V3_1_1, V5};

fn publish(topic: &str, qos: QoS, message_id: u16) -> Publish {
    Publish {
        dup: false,
        qos,
        retain: false,
        topic: topic.into(),
        message_id,
        payload: b("p"),
        properties: Properties::default(),
    }
}

fn connect(version: ProtocolVersion) -> Connect {
    Connect {
        protocol_id: if version == V3_1 {
            "MQIsdp".into()
        } else {
            "MQTT".into()
        },
        protocol_version: version,
        clean: true,
        keepalive: 0,
        client_id: "c".into(),
        will: None,
        username: None,
        password: None,
        properties: Properties::default(),
    }
}

fn with_user_property() -> Properties {
    Properties::from(PropertyValues {
        user_properties: vec![("k".into(), "v".into())],
        ..PropertyValues::default()
    })
}

#[test]
fn a_string_longer_than_65535_bytes_is_unencodable() {
    let topic = "a".repeat(65_536);
    let err = assert_unencodable(&Packet::Publish(publish(&topic, QoS::AtMostOnce, 0)), V5);
    assert!(err.message().contains("65,535"), "{}", err.message());
    assert!(encode_vec(
        &Packet::Publish(publish(&"a".repeat(65_535), QoS::AtMostOnce, 0)),
        V5
    )
    .is_ok());
}

#[test]
fn a_string_containing_u0000_is_unencodable() {
    assert_unencodable(
        &Packet::Publish(publish("a\0b", QoS::AtMostOnce, 0)),
        V3_1_1,
    );
}

#[test]
fn a_body_longer_than_the_maximum_remaining_length_is_unencodable() {
    // Zeroed allocations are lazy, and the counting pass never reads the payload.
    let mut p = publish("t", QoS::AtMostOnce, 0);
    p.payload = Bytes::from(vec![0u8; 268_435_455 - 3 + 1]);
    let err = assert_unencodable(&Packet::Publish(p), V3_1_1);
    assert!(err.message().contains("268,435,455"), "{}", err.message());
}

#[test]
fn a_qos_0_publish_ignores_its_message_id() {
    let bytes = encode_vec(&Packet::Publish(publish("t", QoS::AtMostOnce, 7)), V3_1_1).unwrap();
    assert_eq!(bytes, [0x30, 4, 0, 1, b't', b'p']);
}

#[test]
fn a_qos_0_publish_with_dup_is_unencodable_in_mqtt_5() {
    let mut p = publish("t", QoS::AtMostOnce, 0);
    p.dup = true;
    assert_unencodable(&Packet::Publish(p), V5);
}

#[test]
fn publish_topics_with_wildcards_or_empty_without_alias_are_unencodable() {
    assert_unencodable(&Packet::Publish(publish("a/#", QoS::AtMostOnce, 0)), V5);
    assert_unencodable(&Packet::Publish(publish("+", QoS::AtMostOnce, 0)), V3_1_1);
    assert_unencodable(&Packet::Publish(publish("", QoS::AtMostOnce, 0)), V5);
    let mut p = publish("", QoS::AtMostOnce, 0);
    p.properties.topic_alias = Some(1);
    assert_unencodable(&Packet::Publish(p.clone()), V3_1_1);
    assert!(encode_vec(&Packet::Publish(p), V5).is_ok());
}

#[test]
fn properties_are_unencodable_before_mqtt_5() {
    for v in [V3_1, V3_1_1] {
        let mut p = publish("t", QoS::AtMostOnce, 0);
        p.properties = with_user_property();
        assert_unencodable(&Packet::Publish(p), v);
        let mut c = connect(v);
        c.properties.session_expiry_interval = Some(1);
        assert_unencodable(&Packet::Connect(c), v);
        let mut c = connect(v);
        c.will = Some(LastWill {
            topic: "w".into(),
            payload: Bytes::new(),
            qos: QoS::AtMostOnce,
            retain: false,
            properties: with_user_property(),
        });
        assert_unencodable(&Packet::Connect(c), v);
        assert_unencodable(
            &Packet::Puback(Ack {
                message_id: 1,
                reason_code: 0,
                properties: with_user_property(),
            }),
            v,
        );
        assert_unencodable(
            &Packet::Connack(ConnAck {
                session_present: false,
                reason_code: 0,
                properties: with_user_property(),
            }),
            v,
        );
        assert_unencodable(
            &Packet::Disconnect(Disconnect {
                reason_code: 0,
                properties: with_user_property(),
            }),
            v,
        );
        assert_unencodable(
            &Packet::Subscribe(Subscribe {
                message_id: 1,
                subscriptions: vec![Subscription {
                    topic: "a".into(),
                    qos: QoS::AtMostOnce,
                    nl: false,
                    rap: false,
                    rh: 0,
                }],
                properties: with_user_property(),
            }),
            v,
        );
        assert_unencodable(
            &Packet::Unsubscribe(Unsubscribe {
                message_id: 1,
                unsubscriptions: vec!["a".into()],
                properties: with_user_property(),
            }),
            v,
        );
        assert_unencodable(
            &Packet::Suback(SubAck {
                message_id: 1,
                granted: vec![0],
                properties: with_user_property(),
            }),
            v,
        );
        assert_unencodable(
            &Packet::Unsuback(UnsubAck {
                message_id: 1,
                granted: vec![],
                properties: with_user_property(),
            }),
            v,
        );
    }
}

#[test]
fn reason_codes_are_unencodable_before_mqtt_5() {
    assert_unencodable(
        &Packet::Puback(Ack {
            message_id: 1,
            reason_code: 0x10,
            properties: Properties::default(),
        }),
        V3_1_1,
    );
    assert_unencodable(
        &Packet::Disconnect(Disconnect {
            reason_code: 0x04,
            properties: Properties::default(),
        }),
        V3_1_1,
    );
    assert_unencodable(
        &Packet::Unsuback(UnsubAck {
            message_id: 1,
            granted: vec![0],
            properties: Properties::default(),
        }),
        V3_1_1,
    );
}

#[test]
fn auth_is_unencodable_before_mqtt_5() {
    assert_unencodable(&Packet::Auth(Auth::default()), V3_1_1);
    assert_unencodable(&Packet::Auth(Auth::default()), V3_1);
}

#[test]
fn reason_codes_invalid_for_the_packet_are_unencodable() {
    assert_unencodable(
        &Packet::Pubrel(Ack {
            message_id: 1,
            reason_code: 0x10,
            properties: Properties::default(),
        }),
        V5,
    );
    assert_unencodable(
        &Packet::Auth(Auth {
            reason_code: 0x80,
            properties: Properties::default(),
        }),
        V5,
    );
    assert_unencodable(
        &Packet::Suback(SubAck {
            message_id: 1,
            granted: vec![0x87],
            properties: Properties::default(),
        }),
        V3_1_1,
    );
}

#[test]
fn subscription_options_of_mqtt_5_are_unencodable_before_it() {
    for (nl, rap, rh) in [(true, false, 0), (false, true, 0), (false, false, 1)] {
        let p = Subscribe {
            message_id: 1,
            subscriptions: vec![Subscription {
                topic: "a".into(),
                qos: QoS::AtMostOnce,
                nl,
                rap,
                rh,
            }],
            properties: Properties::default(),
        };
        assert_unencodable(&Packet::Subscribe(p.clone()), V3_1_1);
        assert!(encode_vec(&Packet::Subscribe(p), V5).is_ok());
    }
}

#[test]
fn invalid_subscriptions_are_unencodable() {
    let one = |topic: &str, nl: bool, rh: u8| Subscribe {
        message_id: 1,
        subscriptions: vec![Subscription {
            topic: topic.into(),
            qos: QoS::AtMostOnce,
            nl,
            rap: false,
            rh,
        }],
        properties: Properties::default(),
    };
    assert_unencodable(&Packet::Subscribe(one("a", false, 3)), V5);
    assert_unencodable(&Packet::Subscribe(one("$share/g/a", true, 0)), V5);
    assert_unencodable(&Packet::Subscribe(one("", false, 0)), V5);
    assert_unencodable(
        &Packet::Subscribe(Subscribe {
            message_id: 1,
            subscriptions: vec![],
            properties: Properties::default(),
        }),
        V5,
    );
    assert_unencodable(
        &Packet::Unsubscribe(Unsubscribe {
            message_id: 1,
            unsubscriptions: vec![],
            properties: Properties::default(),
        }),
        V5,
    );
}

#[test]
fn packet_identifier_0_is_unencodable_in_subscribe_and_unsubscribe_only() {
    // A publish exchange a broker numbered 0 is read (`publish::decode`), so it is written too.
    let zero = || Ack {
        message_id: 0,
        reason_code: 0,
        properties: Properties::default(),
    };
    for packet in [
        Packet::Publish(publish("t", QoS::AtLeastOnce, 0)),
        Packet::Publish(publish("t", QoS::ExactlyOnce, 0)),
        Packet::Puback(zero()),
        Packet::Pubrec(zero()),
        Packet::Pubrel(zero()),
        Packet::Pubcomp(zero()),
    ] {
        assert!(encode_vec(&packet, V5).is_ok(), "{packet:?}");
        assert!(encode_vec(&packet, V3_1_1).is_ok(), "{packet:?}");
    }
    let mut s = Subscribe {
        message_id: 0,
        subscriptions: vec![Subscription {
            topic: "a".into(),
            qos: QoS::AtMostOnce,
            nl: false,
            rap: false,
            rh: 0,
        }],
        properties: Properties::default(),
    };
    assert_unencodable(&Packet::Subscribe(s.clone()), V3_1_1);
    s.message_id = 1;
    assert!(encode_vec(&Packet::Subscribe(s), V3_1_1).is_ok());
}

#[test]
fn properties_not_allowed_for_the_packet_are_unencodable() {
    let mut p = publish("t", QoS::AtMostOnce, 0);
    p.properties.session_expiry_interval = Some(1);
    assert_unencodable(&Packet::Publish(p), V5);
    let mut c = connect(V5);
    c.properties.topic_alias = Some(1);
    assert_unencodable(&Packet::Connect(c), V5);
}

#[test]
fn forbidden_property_values_are_unencodable() {
    let mut c = connect(V5);
    c.properties.receive_maximum = Some(0);
    assert_unencodable(&Packet::Connect(c), V5);
    let mut p = publish("t", QoS::AtMostOnce, 0);
    p.properties.subscription_identifiers = vec![268_435_456];
    assert_unencodable(&Packet::Publish(p), V5);
    let mut c = connect(V5);
    c.properties.authentication_data = Some(b("x"));
    assert_unencodable(&Packet::Connect(c), V5);
}

#[test]
fn connect_rules_for_older_versions_are_enforced() {
    let mut c = connect(V3_1_1);
    c.password = Some(b("p"));
    assert_unencodable(&Packet::Connect(c.clone()), V3_1_1);
    c.protocol_version = V5;
    assert!(encode_vec(&Packet::Connect(c), V5).is_ok());
    let mut c = connect(V3_1);
    c.client_id.clear();
    assert_unencodable(&Packet::Connect(c), V3_1);
    let mut c = connect(V3_1_1);
    c.client_id.clear();
    c.clean = false;
    assert_unencodable(&Packet::Connect(c), V3_1_1);
    let mut c = connect(V3_1_1);
    c.protocol_id = "MQTX".into();
    assert_unencodable(&Packet::Connect(c), V3_1_1);
}

#[test]
fn connack_session_present_is_unencodable_in_mqtt_3_1_and_with_a_failure() {
    let p = ConnAck {
        session_present: true,
        reason_code: 0,
        properties: Properties::default(),
    };
    assert_unencodable(&Packet::Connack(p.clone()), V3_1);
    assert!(encode_vec(&Packet::Connack(p), V3_1_1).is_ok());
    let p = ConnAck {
        session_present: true,
        reason_code: 0x80,
        properties: Properties::default(),
    };
    assert_unencodable(&Packet::Connack(p), V5);
}

#[test]
fn a_will_payload_longer_than_65535_bytes_is_unencodable() {
    let mut c = connect(V3_1_1);
    c.will = Some(LastWill {
        topic: "w".into(),
        payload: Bytes::from(vec![0u8; 65_536]),
        qos: QoS::AtMostOnce,
        retain: false,
        properties: Properties::default(),
    });
    assert_unencodable(&Packet::Connect(c), V3_1_1);
}

#[test]
fn encoding_appends_to_what_the_buffer_holds() {
    let mut out = bytes::BytesMut::from(&b"xy"[..]);
    crate::codec::encode(&Packet::Pingreq, V5, &mut out).unwrap();
    crate::codec::encode(&Packet::Pingresp, V5, &mut out).unwrap();
    assert_eq!(&out[..], [b'x', b'y', 0xC0, 0, 0xD0, 0]);
}

#[test]
fn a_3_1_1_return_code_in_an_mqtt_5_connack_cannot_carry_properties() {
    let p = ConnAck {
        session_present: false,
        reason_code: 1,
        properties: with_user_property(),
    };
    assert_unencodable(&Packet::Connack(p), V5);
}
