//! Fixture tables, one per protocol version, with bytes written from the specification: every
//! packet type valid in the version and every MQTT 5 property at least once. Each fixture is
//! checked as decode, encode and round trip.

use super::{b, cat, decode_all, encode_vec, packet, props, s, Fixture};
use crate::codec::PropertyValues;
use crate::codec::{
    Ack, Auth, ConnAck, Connect, Disconnect, LastWill, Packet, Properties, ProtocolVersion,
    Publish, QoS, SubAck, Subscribe, Subscription, UnsubAck, Unsubscribe,
};
use bytes::Bytes;

use ProtocolVersion::{V3_1, V3_1_1, V5};

fn fx(name: &'static str, version: ProtocolVersion, packet: Packet, bytes: Vec<u8>) -> Fixture {
    Fixture {
        name,
        version,
        packet,
        bytes,
    }
}

fn ack(message_id: u16) -> Ack {
    Ack {
        message_id,
        reason_code: 0,
        properties: Properties::default(),
    }
}

fn sub(topic: &str, qos: QoS) -> Subscription {
    Subscription {
        topic: topic.into(),
        qos,
        nl: false,
        rap: false,
        rh: 0,
    }
}

fn user(k: &str, v: &str) -> Vec<(String, String)> {
    vec![(k.into(), v.into())]
}

/// Packets whose layout is the same in 3.1 and 3.1.1.
fn common_v3(version: ProtocolVersion) -> Vec<Fixture> {
    vec![
        fx(
            "publish qos 0",
            version,
            Packet::Publish(Publish {
                dup: false,
                qos: QoS::AtMostOnce,
                retain: false,
                topic: "a/b".into(),
                message_id: 0,
                payload: b("hi"),
                properties: Properties::default(),
            }),
            vec![0x30, 7, 0, 3, b'a', b'/', b'b', b'h', b'i'],
        ),
        fx(
            "publish qos 1 dup retain",
            version,
            Packet::Publish(Publish {
                dup: true,
                qos: QoS::AtLeastOnce,
                retain: true,
                topic: "t".into(),
                message_id: 10,
                payload: Bytes::from_static(&[0xFF]),
                properties: Properties::default(),
            }),
            vec![0x3B, 6, 0, 1, b't', 0, 10, 0xFF],
        ),
        fx(
            "publish qos 2 with an empty payload",
            version,
            Packet::Publish(Publish {
                dup: false,
                qos: QoS::ExactlyOnce,
                retain: false,
                topic: "t".into(),
                message_id: 0xFFFF,
                payload: Bytes::new(),
                properties: Properties::default(),
            }),
            vec![0x34, 5, 0, 1, b't', 0xFF, 0xFF],
        ),
        fx(
            "publish with a two-byte remaining length",
            version,
            Packet::Publish(Publish {
                dup: false,
                qos: QoS::AtMostOnce,
                retain: false,
                topic: "t".into(),
                message_id: 0,
                payload: Bytes::from(vec![7u8; 200]),
                properties: Properties::default(),
            }),
            cat(&[&[0x30, 0xCB, 0x01, 0, 1, b't'], &[7u8; 200]]),
        ),
        fx(
            "puback",
            version,
            Packet::Puback(ack(1)),
            vec![0x40, 2, 0, 1],
        ),
        fx(
            "pubrec",
            version,
            Packet::Pubrec(ack(2)),
            vec![0x50, 2, 0, 2],
        ),
        fx(
            "pubrel",
            version,
            Packet::Pubrel(ack(3)),
            vec![0x62, 2, 0, 3],
        ),
        fx(
            "pubcomp",
            version,
            Packet::Pubcomp(ack(0x1234)),
            vec![0x70, 2, 0x12, 0x34],
        ),
        fx(
            "subscribe",
            version,
            Packet::Subscribe(Subscribe {
                message_id: 5,
                subscriptions: vec![sub("a/#", QoS::AtLeastOnce), sub("+", QoS::ExactlyOnce)],
                properties: Properties::default(),
            }),
            vec![0x82, 12, 0, 5, 0, 3, b'a', b'/', b'#', 1, 0, 1, b'+', 2],
        ),
        fx(
            "suback",
            version,
            Packet::Suback(SubAck {
                message_id: 5,
                granted: vec![1, 0x80, 2, 0],
                properties: Properties::default(),
            }),
            vec![0x90, 6, 0, 5, 1, 0x80, 2, 0],
        ),
        fx(
            "unsubscribe",
            version,
            Packet::Unsubscribe(Unsubscribe {
                message_id: 6,
                unsubscriptions: vec!["a".into(), "b/c".into()],
                properties: Properties::default(),
            }),
            vec![0xA2, 10, 0, 6, 0, 1, b'a', 0, 3, b'b', b'/', b'c'],
        ),
        fx(
            "unsuback",
            version,
            Packet::Unsuback(UnsubAck {
                message_id: 6,
                granted: vec![],
                properties: Properties::default(),
            }),
            vec![0xB0, 2, 0, 6],
        ),
        fx("pingreq", version, Packet::Pingreq, vec![0xC0, 0]),
        fx("pingresp", version, Packet::Pingresp, vec![0xD0, 0]),
        fx(
            "disconnect",
            version,
            Packet::Disconnect(Disconnect::default()),
            vec![0xE0, 0],
        ),
    ]
}

/// MQTT 3.1 (`MQIsdp`, level 3).
pub(crate) fn v3_1() -> Vec<Fixture> {
    let mut table = vec![
        fx(
            "connect",
            V3_1,
            Packet::Connect(Connect {
                protocol_id: "MQIsdp".into(),
                protocol_version: V3_1,
                clean: true,
                keepalive: 30,
                client_id: "c1".into(),
                will: None,
                username: None,
                password: None,
                properties: Properties::default(),
            }),
            vec![
                0x10, 16, 0, 6, b'M', b'Q', b'I', b's', b'd', b'p', 3, 0x02, 0, 30, 0, 2, b'c',
                b'1',
            ],
        ),
        fx(
            "connect with will, user name and password",
            V3_1,
            Packet::Connect(Connect {
                protocol_id: "MQIsdp".into(),
                protocol_version: V3_1,
                clean: true,
                keepalive: 60,
                client_id: "id".into(),
                will: Some(LastWill {
                    topic: "w".into(),
                    payload: b("bye"),
                    qos: QoS::AtLeastOnce,
                    retain: true,
                    properties: Properties::default(),
                }),
                username: Some("u".into()),
                password: Some(Bytes::from_static(&[1, 2])),
                properties: Properties::default(),
            }),
            cat(&[
                &[0x10, 31],
                &s("MQIsdp"),
                &[3, 0xEE, 0, 60],
                &s("id"),
                &s("w"),
                &s("bye"),
                &s("u"),
                &[0, 2, 1, 2],
            ]),
        ),
        fx(
            "connack accepted",
            V3_1,
            Packet::Connack(ConnAck {
                session_present: false,
                reason_code: 0,
                properties: Properties::default(),
            }),
            vec![0x20, 2, 0, 0],
        ),
        fx(
            "connack not authorized",
            V3_1,
            Packet::Connack(ConnAck {
                session_present: false,
                reason_code: 5,
                properties: Properties::default(),
            }),
            vec![0x20, 2, 0, 5],
        ),
    ];
    table.extend(common_v3(V3_1));
    table
}

/// MQTT 3.1.1 (level 4).
pub(crate) fn v3_1_1() -> Vec<Fixture> {
    let mut table = vec![
        fx(
            // A broker that mixes versions refuses in MQTT 5 terms; read as that refusal, as
            // MQTT.js reads it (MQTT 3.1.1 §3.2.2.3 [MQTT-3.2.2-5]: the connection closes).
            "connack refusing with an MQTT 5 code (135 not authorized)",
            V3_1_1,
            Packet::Connack(ConnAck {
                session_present: false,
                reason_code: 135,
                properties: Properties::default(),
            }),
            vec![0x20, 2, 0, 135],
        ),
        fx(
            "connect with an empty client id",
            V3_1_1,
            Packet::Connect(Connect {
                protocol_id: "MQTT".into(),
                protocol_version: V3_1_1,
                clean: true,
                keepalive: 0,
                client_id: String::new(),
                will: None,
                username: Some("üser".into()),
                password: None,
                properties: Properties::default(),
            }),
            cat(&[
                &[0x10, 19],
                &s("MQTT"),
                &[4, 0x82, 0, 0],
                &s(""),
                &s("üser"),
            ]),
        ),
        fx(
            "connect with will and password",
            V3_1_1,
            Packet::Connect(Connect {
                protocol_id: "MQTT".into(),
                protocol_version: V3_1_1,
                clean: false,
                keepalive: 0xFFFF,
                client_id: "client".into(),
                will: Some(LastWill {
                    topic: "dead".into(),
                    payload: Bytes::new(),
                    qos: QoS::ExactlyOnce,
                    retain: false,
                    properties: Properties::default(),
                }),
                username: Some(String::new()),
                password: Some(Bytes::new()),
                properties: Properties::default(),
            }),
            cat(&[
                &[0x10, 30],
                &s("MQTT"),
                &[4, 0xD4, 0xFF, 0xFF],
                &s("client"),
                &s("dead"),
                &s(""),
                &s(""),
                &s(""),
            ]),
        ),
        fx(
            "connack with session present",
            V3_1_1,
            Packet::Connack(ConnAck {
                session_present: true,
                reason_code: 0,
                properties: Properties::default(),
            }),
            vec![0x20, 2, 1, 0],
        ),
        fx(
            "connack refused",
            V3_1_1,
            Packet::Connack(ConnAck {
                session_present: false,
                reason_code: 2,
                properties: Properties::default(),
            }),
            vec![0x20, 2, 0, 2],
        ),
    ];
    table.extend(common_v3(V3_1_1));
    table
}

/// MQTT 5.0: every packet type and every property at least once.
pub(crate) fn v5() -> Vec<Fixture> {
    let no_props = || Properties::default();
    vec![
        fx(
            "connect with every connect and will property",
            V5,
            Packet::Connect(Connect {
                protocol_id: "MQTT".into(),
                protocol_version: V5,
                clean: true,
                keepalive: 60,
                client_id: "cid".into(),
                will: Some(LastWill {
                    topic: "will".into(),
                    payload: b("bye"),
                    qos: QoS::ExactlyOnce,
                    retain: false,
                    properties: Properties::from(PropertyValues {
                        payload_format_indicator: Some(true),
                        message_expiry_interval: Some(60),
                        content_type: Some("text/plain".into()),
                        response_topic: Some("reply".into()),
                        correlation_data: Some(Bytes::from_static(&[1, 2])),
                        will_delay_interval: Some(5),
                        user_properties: user("a", "b"),
                        ..PropertyValues::default()
                    }),
                }),
                username: Some("user".into()),
                password: Some(b("pwd")),
                properties: Properties::from(PropertyValues {
                    session_expiry_interval: Some(3600),
                    authentication_method: Some("SCRM".into()),
                    authentication_data: Some(Bytes::from_static(&[0xAA, 0xBB])),
                    request_problem_information: Some(false),
                    request_response_information: Some(true),
                    receive_maximum: Some(10),
                    topic_alias_maximum: Some(5),
                    user_properties: user("k", "v"),
                    maximum_packet_size: Some(65_536),
                    ..PropertyValues::default()
                }),
            }),
            packet(
                0x10,
                &cat(&[
                    &s("MQTT"),
                    &[5, 0xD6, 0, 60],
                    &props(&[
                        &[0x11, 0, 0, 0x0E, 0x10],
                        &[0x15],
                        &s("SCRM"),
                        &[0x16, 0, 2, 0xAA, 0xBB],
                        &[0x17, 0],
                        &[0x19, 1],
                        &[0x21, 0, 10],
                        &[0x22, 0, 5],
                        &[0x26],
                        &s("k"),
                        &s("v"),
                        &[0x27, 0, 1, 0, 0],
                    ]),
                    &s("cid"),
                    &props(&[
                        &[0x01, 1],
                        &[0x02, 0, 0, 0, 60],
                        &[0x03],
                        &s("text/plain"),
                        &[0x08],
                        &s("reply"),
                        &[0x09, 0, 2, 1, 2],
                        &[0x18, 0, 0, 0, 5],
                        &[0x26],
                        &s("a"),
                        &s("b"),
                    ]),
                    &s("will"),
                    &s("bye"),
                    &s("user"),
                    &s("pwd"),
                ]),
            ),
        ),
        fx(
            "connect with a password and no user name",
            V5,
            Packet::Connect(Connect {
                protocol_id: "MQTT".into(),
                protocol_version: V5,
                clean: false,
                keepalive: 10,
                client_id: String::new(),
                will: None,
                username: None,
                password: Some(b("token")),
                properties: no_props(),
            }),
            cat(&[
                &[0x10, 20],
                &s("MQTT"),
                &[5, 0x40, 0, 10, 0],
                &s(""),
                &s("token"),
            ]),
        ),
        fx(
            "connack with every connack property",
            V5,
            Packet::Connack(ConnAck {
                session_present: true,
                reason_code: 0,
                properties: Properties::from(PropertyValues {
                    session_expiry_interval: Some(0xFFFF_FFFF),
                    assigned_client_identifier: Some("auto-1".into()),
                    server_keep_alive: Some(30),
                    authentication_method: Some("m".into()),
                    authentication_data: Some(Bytes::new()),
                    response_information: Some("ri".into()),
                    server_reference: Some("other".into()),
                    reason_string: Some("ok".into()),
                    receive_maximum: Some(0xFFFF),
                    topic_alias_maximum: Some(0),
                    maximum_qos: Some(1),
                    retain_available: Some(false),
                    user_properties: vec![("x".into(), "1".into()), ("x".into(), "2".into())],
                    maximum_packet_size: Some(1),
                    wildcard_subscription_available: Some(true),
                    subscription_identifiers_available: Some(false),
                    shared_subscription_available: Some(true),
                    ..PropertyValues::default()
                }),
            }),
            packet(
                0x20,
                &cat(&[
                    &[1, 0],
                    &props(&[
                        &[0x11, 0xFF, 0xFF, 0xFF, 0xFF],
                        &[0x12],
                        &s("auto-1"),
                        &[0x13, 0, 30],
                        &[0x15],
                        &s("m"),
                        &[0x16, 0, 0],
                        &[0x1A],
                        &s("ri"),
                        &[0x1C],
                        &s("other"),
                        &[0x1F],
                        &s("ok"),
                        &[0x21, 0xFF, 0xFF],
                        &[0x22, 0, 0],
                        &[0x24, 1],
                        &[0x25, 0],
                        &[0x26],
                        &s("x"),
                        &s("1"),
                        &[0x26],
                        &s("x"),
                        &s("2"),
                        &[0x27, 0, 0, 0, 1],
                        &[0x28, 1],
                        &[0x29, 0],
                        &[0x2A, 1],
                    ]),
                ]),
            ),
        ),
        fx(
            "connack refused without properties",
            V5,
            Packet::Connack(ConnAck {
                session_present: false,
                reason_code: 0x87,
                properties: no_props(),
            }),
            vec![0x20, 3, 0, 0x87, 0],
        ),
        fx(
            "connack from a server without MQTT 5, refusing the protocol version",
            V5,
            Packet::Connack(ConnAck {
                session_present: false,
                reason_code: 1,
                properties: no_props(),
            }),
            vec![0x20, 2, 0, 1],
        ),
        fx(
            "publish with every publish property",
            V5,
            Packet::Publish(Publish {
                dup: false,
                qos: QoS::AtLeastOnce,
                retain: true,
                topic: "a/b".into(),
                message_id: 7,
                payload: b("{}"),
                properties: Properties::from(PropertyValues {
                    payload_format_indicator: Some(true),
                    message_expiry_interval: Some(0),
                    content_type: Some("application/json".into()),
                    response_topic: Some("r/1".into()),
                    correlation_data: Some(Bytes::from_static(&[0])),
                    subscription_identifiers: vec![1, 268_435_455, 128],
                    topic_alias: Some(3),
                    user_properties: user("", ""),
                    ..PropertyValues::default()
                }),
            }),
            packet(
                0x33,
                &cat(&[
                    &s("a/b"),
                    &[0, 7],
                    &props(&[
                        &[0x01, 1],
                        &[0x02, 0, 0, 0, 0],
                        &[0x03],
                        &s("application/json"),
                        &[0x08],
                        &s("r/1"),
                        &[0x09, 0, 1, 0],
                        &[0x0B, 1],
                        &[0x0B, 0xFF, 0xFF, 0xFF, 0x7F],
                        &[0x0B, 0x80, 0x01],
                        &[0x23, 0, 3],
                        &[0x26, 0, 0, 0, 0],
                    ]),
                    b"{}",
                ]),
            ),
        ),
        fx(
            "publish with a topic alias and an empty topic",
            V5,
            Packet::Publish(Publish {
                dup: false,
                qos: QoS::AtMostOnce,
                retain: false,
                topic: String::new(),
                message_id: 0,
                payload: b("x"),
                properties: Properties::from(PropertyValues {
                    topic_alias: Some(0xFFFF),
                    ..PropertyValues::default()
                }),
            }),
            vec![0x30, 7, 0, 0, 3, 0x23, 0xFF, 0xFF, b'x'],
        ),
        fx(
            "publish qos 2 dup without properties",
            V5,
            Packet::Publish(Publish {
                dup: true,
                qos: QoS::ExactlyOnce,
                retain: false,
                topic: "t".into(),
                message_id: 9,
                payload: Bytes::new(),
                properties: no_props(),
            }),
            vec![0x3C, 6, 0, 1, b't', 0, 9, 0],
        ),
        fx(
            "puback success in its shortest form",
            V5,
            Packet::Puback(ack(1)),
            vec![0x40, 2, 0, 1],
        ),
        fx(
            "puback with a reason code and no properties",
            V5,
            Packet::Puback(Ack {
                message_id: 1,
                reason_code: 0x10,
                properties: no_props(),
            }),
            vec![0x40, 4, 0, 1, 0x10, 0],
        ),
        fx(
            "puback success with properties",
            V5,
            Packet::Puback(Ack {
                message_id: 2,
                reason_code: 0,
                properties: Properties::from(PropertyValues {
                    reason_string: Some("r".into()),
                    ..PropertyValues::default()
                }),
            }),
            vec![0x40, 8, 0, 2, 0, 4, 0x1F, 0, 1, b'r'],
        ),
        fx(
            "pubrec with a failure and user properties",
            V5,
            Packet::Pubrec(Ack {
                message_id: 3,
                reason_code: 0x97,
                properties: Properties::from(PropertyValues {
                    user_properties: user("k", "v"),
                    ..PropertyValues::default()
                }),
            }),
            packet(
                0x50,
                &cat(&[&[0, 3, 0x97], &props(&[&[0x26], &s("k"), &s("v")])]),
            ),
        ),
        fx(
            "pubrel success",
            V5,
            Packet::Pubrel(ack(4)),
            vec![0x62, 2, 0, 4],
        ),
        fx(
            "pubrel identifier not found",
            V5,
            Packet::Pubrel(Ack {
                message_id: 4,
                reason_code: 0x92,
                properties: no_props(),
            }),
            vec![0x62, 4, 0, 4, 0x92, 0],
        ),
        fx(
            "pubcomp with a reason string",
            V5,
            Packet::Pubcomp(Ack {
                message_id: 5,
                reason_code: 0x92,
                properties: Properties::from(PropertyValues {
                    reason_string: Some("gone".into()),
                    ..PropertyValues::default()
                }),
            }),
            packet(0x70, &cat(&[&[0, 5, 0x92], &props(&[&[0x1F], &s("gone")])])),
        ),
        fx(
            "subscribe with options and a subscription identifier",
            V5,
            Packet::Subscribe(Subscribe {
                message_id: 10,
                subscriptions: vec![
                    Subscription {
                        topic: "a/+".into(),
                        qos: QoS::ExactlyOnce,
                        nl: true,
                        rap: true,
                        rh: 2,
                    },
                    Subscription {
                        topic: "$share/g/b".into(),
                        qos: QoS::AtMostOnce,
                        nl: false,
                        rap: false,
                        rh: 1,
                    },
                ],
                properties: Properties::from(PropertyValues {
                    subscription_identifiers: vec![300],
                    user_properties: user("k", "v"),
                    ..PropertyValues::default()
                }),
            }),
            packet(
                0x82,
                &cat(&[
                    &[0, 10],
                    &props(&[&[0x0B, 0xAC, 0x02], &[0x26], &s("k"), &s("v")]),
                    &s("a/+"),
                    &[0x2E],
                    &s("$share/g/b"),
                    &[0x10],
                ]),
            ),
        ),
        fx(
            "suback with reason codes and a reason string",
            V5,
            Packet::Suback(SubAck {
                message_id: 10,
                granted: vec![2, 0x8F, 0xA2],
                properties: Properties::from(PropertyValues {
                    reason_string: Some("no".into()),
                    ..PropertyValues::default()
                }),
            }),
            packet(
                0x90,
                &cat(&[&[0, 10], &props(&[&[0x1F], &s("no")]), &[2, 0x8F, 0xA2]]),
            ),
        ),
        fx(
            "unsubscribe with a user property",
            V5,
            Packet::Unsubscribe(Unsubscribe {
                message_id: 11,
                unsubscriptions: vec!["a/+".into()],
                properties: Properties::from(PropertyValues {
                    user_properties: user("k", "v"),
                    ..PropertyValues::default()
                }),
            }),
            packet(
                0xA2,
                &cat(&[&[0, 11], &props(&[&[0x26], &s("k"), &s("v")]), &s("a/+")]),
            ),
        ),
        fx(
            "unsuback with reason codes",
            V5,
            Packet::Unsuback(UnsubAck {
                message_id: 11,
                granted: vec![0, 0x11],
                properties: no_props(),
            }),
            vec![0xB0, 5, 0, 11, 0, 0, 0x11],
        ),
        fx("pingreq", V5, Packet::Pingreq, vec![0xC0, 0]),
        fx("pingresp", V5, Packet::Pingresp, vec![0xD0, 0]),
        fx(
            "disconnect normal, written with reason code and property length",
            V5,
            Packet::Disconnect(Disconnect::default()),
            vec![0xE0, 2, 0, 0],
        ),
        fx(
            "disconnect with server reference and session expiry",
            V5,
            Packet::Disconnect(Disconnect {
                reason_code: 0x9C,
                properties: Properties::from(PropertyValues {
                    session_expiry_interval: Some(0),
                    server_reference: Some("b2".into()),
                    reason_string: Some("move".into()),
                    ..PropertyValues::default()
                }),
            }),
            packet(
                0xE0,
                &cat(&[
                    &[0x9C],
                    &props(&[&[0x11, 0, 0, 0, 0], &[0x1C], &s("b2"), &[0x1F], &s("move")]),
                ]),
            ),
        ),
        fx(
            "auth continue with method and data",
            V5,
            Packet::Auth(Auth {
                reason_code: 0x18,
                properties: Properties::from(PropertyValues {
                    authentication_method: Some("SCRAM-SHA-1".into()),
                    authentication_data: Some(Bytes::from_static(&[9, 8, 7])),
                    reason_string: Some("more".into()),
                    user_properties: user("k", "v"),
                    ..PropertyValues::default()
                }),
            }),
            packet(
                0xF0,
                &cat(&[
                    &[0x18],
                    &props(&[
                        &[0x15],
                        &s("SCRAM-SHA-1"),
                        &[0x16, 0, 3, 9, 8, 7],
                        &[0x1F],
                        &s("more"),
                        &[0x26],
                        &s("k"),
                        &s("v"),
                    ]),
                ]),
            ),
        ),
        fx(
            "auth success",
            V5,
            Packet::Auth(Auth::default()),
            vec![0xF0, 2, 0, 0],
        ),
    ]
}

/// Every fixture of every version.
pub(crate) fn all() -> Vec<Fixture> {
    let mut table = v3_1();
    table.extend(v3_1_1());
    table.extend(v5());
    table
}

fn check(table: Vec<Fixture>) {
    for f in table {
        let decoded =
            decode_all(&f.bytes, f.version).unwrap_or_else(|e| panic!("{}: decode: {e}", f.name));
        assert_eq!(decoded, f.packet, "{}: decode", f.name);
        let encoded =
            encode_vec(&f.packet, f.version).unwrap_or_else(|e| panic!("{}: encode: {e}", f.name));
        assert_eq!(encoded, f.bytes, "{}: encode", f.name);
        assert_eq!(
            crate::codec::encoded_len(&f.packet, f.version),
            Ok(f.bytes.len()),
            "{}: encoded_len",
            f.name
        );
        let again = decode_all(&encoded, f.version)
            .unwrap_or_else(|e| panic!("{}: round trip: {e}", f.name));
        assert_eq!(again, f.packet, "{}: round trip", f.name);
    }
}

#[test]
fn mqtt_3_1_fixtures_decode_encode_and_round_trip() {
    check(v3_1());
}

#[test]
fn mqtt_3_1_1_fixtures_decode_encode_and_round_trip() {
    check(v3_1_1());
}

#[test]
fn mqtt_5_fixtures_decode_encode_and_round_trip() {
    check(v5());
}

#[test]
fn every_packet_type_valid_in_each_version_has_a_fixture() {
    for (version, table, types) in [
        (V3_1, v3_1(), 1..=14u8),
        (V3_1_1, v3_1_1(), 1..=14),
        (V5, v5(), 1..=15),
    ] {
        for t in types {
            assert!(
                table.iter().any(|f| f.bytes[0] >> 4 == t),
                "{version:?} lacks packet type {t}"
            );
        }
    }
}

#[test]
fn every_mqtt_5_property_appears_in_a_fixture() {
    let mut seen = std::collections::BTreeSet::new();
    let mut note = |p: &Properties| {
        let json = serde_json::to_value(p).unwrap();
        for key in json.as_object().unwrap().keys() {
            seen.insert(key.clone());
        }
    };
    for f in v5() {
        match &f.packet {
            Packet::Connect(c) => {
                note(&c.properties);
                if let Some(w) = &c.will {
                    note(&w.properties);
                }
            }
            Packet::Connack(p) => note(&p.properties),
            Packet::Publish(p) => note(&p.properties),
            Packet::Puback(p) | Packet::Pubrec(p) | Packet::Pubrel(p) | Packet::Pubcomp(p) => {
                note(&p.properties)
            }
            Packet::Subscribe(p) => note(&p.properties),
            Packet::Suback(p) => note(&p.properties),
            Packet::Unsubscribe(p) => note(&p.properties),
            Packet::Unsuback(p) => note(&p.properties),
            Packet::Disconnect(p) => note(&p.properties),
            Packet::Auth(p) => note(&p.properties),
            Packet::Pingreq | Packet::Pingresp => {}
        }
    }
    assert_eq!(seen.len(), 27, "{seen:?}");
}

#[test]
fn mqtt_5_shortened_forms_decode_with_defaults() {
    // PUBACK with remaining length 2: reason code 0 (MQTT 5 §3.4.2.1).
    assert_eq!(
        decode_all(&[0x40, 2, 0, 1], V5).unwrap(),
        Packet::Puback(ack(1))
    );
    // PUBREC with remaining length 3: no properties (MQTT 5 §3.4.2.2.1).
    assert_eq!(
        decode_all(&[0x50, 3, 0, 1, 0x10], V5).unwrap(),
        Packet::Pubrec(Ack {
            message_id: 1,
            reason_code: 0x10,
            properties: Properties::default()
        })
    );
    // DISCONNECT and AUTH with remaining length 0: reason code 0 (MQTT 5 §3.14.2.1, §3.15.2.1).
    assert_eq!(
        decode_all(&[0xE0, 0], V5).unwrap(),
        Packet::Disconnect(Disconnect::default())
    );
    assert_eq!(
        decode_all(&[0xF0, 0], V5).unwrap(),
        Packet::Auth(Auth::default())
    );
    // DISCONNECT with remaining length 1: no properties (MQTT 5 §3.14.2.2.1).
    assert_eq!(
        decode_all(&[0xE0, 1, 0x8E], V5).unwrap(),
        Packet::Disconnect(Disconnect {
            reason_code: 0x8E,
            properties: Properties::default()
        })
    );
    // CONNACK without its property length, as MQTT.js accepts it.
    assert_eq!(
        decode_all(&[0x20, 2, 0, 0x80], V5).unwrap(),
        Packet::Connack(ConnAck {
            session_present: false,
            reason_code: 0x80,
            properties: Properties::default()
        })
    );
}

#[test]
fn connect_is_decoded_with_the_version_of_its_own_protocol_level() {
    for f in all()
        .into_iter()
        .filter(|f| matches!(f.packet, Packet::Connect(_)))
    {
        for session_version in [V3_1, V3_1_1, V5] {
            assert_eq!(
                decode_all(&f.bytes, session_version).unwrap(),
                f.packet,
                "{}",
                f.name
            );
        }
    }
}

#[test]
fn mqtt_3_1_connack_ignores_the_unused_first_byte() {
    assert_eq!(
        decode_all(&[0x20, 2, 1, 0], V3_1).unwrap(),
        Packet::Connack(ConnAck {
            session_present: false,
            reason_code: 0,
            properties: Properties::default()
        })
    );
}

#[test]
fn mqtt_3_1_accepts_dup_on_pubrel_subscribe_and_unsubscribe() {
    assert_eq!(
        decode_all(&[0x6A, 2, 0, 3], V3_1).unwrap(),
        Packet::Pubrel(ack(3))
    );
}

#[test]
fn decoded_payloads_share_the_input_buffer() {
    let mut buf = bytes::BytesMut::from(&[0x30, 7, 0, 3, b'a', b'/', b'b', b'h', b'i'][..]);
    let start = buf.as_ptr() as usize;
    let end = start + buf.len();
    let Some(Packet::Publish(p)) =
        crate::codec::decode(&mut buf, V3_1_1, &Default::default()).unwrap()
    else {
        panic!("not a publish");
    };
    let at = p.payload.as_ptr() as usize;
    assert!(at >= start && at < end, "payload was copied");
}

#[test]
fn packet_type_names_follow_the_specification() {
    assert_eq!(crate::codec::packet_type_name(0x62), "PUBREL");
    assert_eq!(crate::codec::packet_type_name(0xF0), "AUTH");
    assert_eq!(crate::codec::packet_type_name(0x00), "reserved");
}
