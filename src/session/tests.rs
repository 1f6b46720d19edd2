//! Deterministic session tests: a fake clock and a scripted broker made of decoded packets.

use crate::codec::PropertyValues;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::*;
use crate::codec::{Limits, Properties, SubAck, Subscription};

fn connect_packet(version: ProtocolVersion, keepalive: u16) -> Connect {
    Connect {
        protocol_id: "MQTT".into(),
        protocol_version: version,
        clean: true,
        keepalive,
        client_id: "test".into(),
        will: None,
        username: None,
        password: None,
        properties: Properties::default(),
    }
}

fn connack(reason_code: u8) -> Packet {
    Packet::Connack(ConnAck {
        session_present: false,
        reason_code,
        properties: Properties::default(),
    })
}

fn publish(qos: QoS, id: u16, topic: &str) -> Publish {
    Publish {
        dup: false,
        qos,
        retain: false,
        topic: topic.into(),
        message_id: id,
        payload: Bytes::from_static(b"hi"),
        properties: Properties::default(),
    }
}

fn ack(id: u16) -> Ack {
    Ack {
        message_id: id,
        reason_code: 0,
        properties: Properties::default(),
    }
}

/// Decodes everything the session queued for the broker.
fn sent(session: &mut Session) -> Vec<Packet> {
    let mut buf = BytesMut::new();
    session.poll_transmit(&mut buf);
    let mut packets = Vec::new();
    while let Some(p) = codec::decode(&mut buf, session.version(), &Limits::default()).unwrap() {
        packets.push(p);
    }
    packets
}

fn events(session: &mut Session) -> Vec<Event> {
    std::iter::from_fn(|| session.poll_event()).collect()
}

fn connected(version: ProtocolVersion, options: SessionOptions, t0: Instant) -> Session {
    let mut s = Session::new(version, options);
    s.start_connection(connect_packet(version, 10), None, t0)
        .unwrap();
    s.handle_packet(connack(0), t0);
    sent(&mut s);
    events(&mut s);
    s
}

#[test]
fn start_connection_sends_connect_and_waits_for_connack() {
    let t0 = Instant::now();
    let mut s = Session::new(ProtocolVersion::V3_1_1, SessionOptions::default());
    s.start_connection(connect_packet(ProtocolVersion::V3_1_1, 60), None, t0)
        .unwrap();
    assert!(matches!(sent(&mut s).as_slice(), [Packet::Connect(_)]));
    assert!(!s.is_connected());
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(30)));
    s.handle_packet(connack(0), t0);
    assert!(s.is_connected());
    assert!(matches!(events(&mut s).as_slice(), [Event::ConnAck(_)]));
}

#[test]
fn a_refused_connack_asks_for_the_connection_to_close() {
    let t0 = Instant::now();
    let mut s = Session::new(ProtocolVersion::V3_1_1, SessionOptions::default());
    s.start_connection(connect_packet(ProtocolVersion::V3_1_1, 60), None, t0)
        .unwrap();
    s.handle_packet(connack(5), t0);
    assert!(s.wants_close());
    assert!(!s.is_connected());
}

#[test]
fn connack_timeout_is_reported_as_an_error() {
    let t0 = Instant::now();
    let mut s = Session::new(ProtocolVersion::V3_1_1, SessionOptions::default());
    s.start_connection(connect_packet(ProtocolVersion::V3_1_1, 60), None, t0)
        .unwrap();
    s.handle_timeout(t0 + Duration::from_secs(31));
    assert!(s.wants_close());
    assert!(
        matches!(events(&mut s).as_slice(), [Event::Error(e)] if e.message == "connack timeout")
    );
}

#[test]
fn with_an_external_connect_timer_the_session_sets_no_connack_deadline_and_fails_when_told() {
    let t0 = Instant::now();
    let options = SessionOptions {
        external_connect_timer: true,
        ..SessionOptions::default()
    };
    let mut s = Session::new(ProtocolVersion::V3_1_1, options);
    assert_eq!(s.connect_deadline(), None);
    s.start_connection(connect_packet(ProtocolVersion::V3_1_1, 0), None, t0)
        .unwrap();
    assert_eq!(s.poll_timeout(), None);
    s.handle_timeout(t0 + Duration::from_secs(3600));
    assert!(!s.wants_close());
    s.expire_connect();
    assert!(s.wants_close());
    assert!(
        matches!(events(&mut s).as_slice(), [Event::Error(e)] if e.message == "connack timeout")
    );
}

#[test]
fn an_expired_connect_timer_ends_even_an_open_connection_as_mqttjs_s_timer_does() {
    let t0 = Instant::now();
    let mut s = connected(ProtocolVersion::V3_1_1, SessionOptions::default(), t0);
    let _ = events(&mut s);
    s.expire_connect();
    assert!(s.wants_close());
    assert!(
        matches!(events(&mut s).as_slice(), [Event::Error(e)] if e.message == "connack timeout")
    );
}

#[test]
fn expiring_the_connect_timer_offline_does_nothing() {
    let mut s = Session::new(ProtocolVersion::V3_1_1, SessionOptions::default());
    s.expire_connect();
    assert!(!s.wants_close());
    assert!(events(&mut s).is_empty());
}

#[test]
fn keepalive_sends_pingreq_after_the_interval_and_times_out_half_an_interval_later() {
    let t0 = Instant::now();
    let mut s = connected(ProtocolVersion::V3_1_1, SessionOptions::default(), t0);
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(10)));
    s.handle_timeout(t0 + Duration::from_secs(10));
    assert_eq!(sent(&mut s), vec![Packet::Pingreq]);
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(15)));
    s.handle_timeout(t0 + Duration::from_secs(15));
    assert!(s.wants_close());
    assert!(
        matches!(events(&mut s).as_slice(), [Event::Error(e)] if e.message == "Keepalive timeout")
    );
}

#[test]
fn pingresp_restarts_the_keepalive_countdown() {
    let t0 = Instant::now();
    let mut s = connected(ProtocolVersion::V3_1_1, SessionOptions::default(), t0);
    s.handle_timeout(t0 + Duration::from_secs(10));
    sent(&mut s);
    s.handle_packet(Packet::Pingresp, t0 + Duration::from_secs(11));
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(21)));
}

#[test]
fn ping_sends_pingreq_at_once_and_only_while_connected() {
    let t0 = Instant::now();
    let mut offline = Session::new(ProtocolVersion::V3_1_1, SessionOptions::default());
    assert_eq!(offline.ping().unwrap_err().code, "NOT_CONNECTED");
    let mut s = connected(ProtocolVersion::V3_1_1, SessionOptions::default(), t0);
    s.ping().unwrap();
    assert_eq!(sent(&mut s), vec![Packet::Pingreq]);
    // The schedule is unchanged: the next PINGREQ is still due one interval after CONNACK.
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(10)));
}

#[test]
fn rescheduling_restarts_the_countdown_and_forgets_a_pingreq_sent() {
    let t0 = Instant::now();
    let mut s = connected(ProtocolVersion::V3_1_1, SessionOptions::default(), t0);
    s.handle_timeout(t0 + Duration::from_secs(10));
    assert_eq!(sent(&mut s), vec![Packet::Pingreq]);
    s.reschedule_keepalive(t0 + Duration::from_secs(12));
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(22)));
    s.handle_timeout(t0 + Duration::from_secs(15));
    assert!(!s.wants_close());
}

#[test]
fn stopping_keepalive_leaves_no_deadline_until_the_next_connection() {
    let t0 = Instant::now();
    let mut s = connected(ProtocolVersion::V3_1_1, SessionOptions::default(), t0);
    s.stop_keepalive();
    assert_eq!(s.poll_timeout(), None);
    s.handle_timeout(t0 + Duration::from_secs(60));
    assert!(sent(&mut s).is_empty());
    assert!(!s.wants_close());
}

#[test]
fn an_expired_keepalive_times_out_at_once_with_the_usual_error() {
    let t0 = Instant::now();
    let mut s = connected(ProtocolVersion::V3_1_1, SessionOptions::default(), t0);
    s.stop_keepalive();
    let at = t0 + Duration::from_secs(3);
    s.expire_keepalive(at);
    assert_eq!(s.poll_timeout(), Some(at));
    // A PINGRESP arriving before the timer fires does not undo the decision.
    s.handle_packet(Packet::Pingresp, at);
    s.handle_timeout(at);
    assert!(s.wants_close());
    assert!(
        matches!(events(&mut s).as_slice(), [Event::Error(e)] if e.message == "Keepalive timeout")
    );
}

#[test]
fn expiring_keepalive_without_a_connection_does_nothing() {
    let t0 = Instant::now();
    let mut s = Session::new(ProtocolVersion::V3_1_1, SessionOptions::default());
    s.expire_keepalive(t0);
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn keepalive_restarts_are_reported_only_when_asked_pingresp_as_forced() {
    let t0 = Instant::now();
    let options = SessionOptions {
        report_keepalive: true,
        ..SessionOptions::default()
    };
    let mut s = connected(ProtocolVersion::V3_1_1, options, t0);
    s.handle_packet(Packet::Pingresp, t0);
    s.handle_packet(Packet::Pubrel(ack(7)), t0);
    s.handle_packet(Packet::Publish(publish(QoS::AtMostOnce, 0, "a")), t0);
    let restarts: Vec<bool> = events(&mut s)
        .into_iter()
        .filter_map(|e| match e {
            Event::KeepaliveRestart { forced } => Some(forced),
            _ => None,
        })
        .collect();
    assert_eq!(restarts, vec![true, false]);

    let mut quiet = connected(ProtocolVersion::V3_1_1, SessionOptions::default(), t0);
    quiet.handle_packet(Packet::Pingresp, t0);
    assert!(events(&mut quiet).is_empty());
}

#[test]
fn received_publish_does_not_restart_the_keepalive_countdown() {
    let t0 = Instant::now();
    let mut s = connected(ProtocolVersion::V3_1_1, SessionOptions::default(), t0);
    s.handle_packet(
        Packet::Publish(publish(QoS::AtMostOnce, 0, "a")),
        t0 + Duration::from_secs(5),
    );
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(10)));
}

#[test]
fn qos1_publish_completes_on_puback() {
    let t0 = Instant::now();
    let mut s = connected(ProtocolVersion::V3_1_1, SessionOptions::default(), t0);
    s.publish(publish(QoS::AtLeastOnce, 7, "a/b")).unwrap();
    assert!(matches!(sent(&mut s).as_slice(), [Packet::Publish(p)] if p.message_id == 7));
    s.handle_packet(Packet::Puback(ack(7)), t0);
    assert!(matches!(
        events(&mut s).as_slice(),
        [Event::Ack {
            kind: AckKind::PubAck,
            ..
        }]
    ));
    assert_eq!(s.outgoing_len(), 0);
}

#[test]
fn qos2_publish_sends_pubrel_on_pubrec_and_completes_on_pubcomp() {
    let t0 = Instant::now();
    let mut s = connected(ProtocolVersion::V3_1_1, SessionOptions::default(), t0);
    s.publish(publish(QoS::ExactlyOnce, 9, "a")).unwrap();
    sent(&mut s);
    s.handle_packet(Packet::Pubrec(ack(9)), t0);
    assert_eq!(sent(&mut s), vec![Packet::Pubrel(ack(9))]);
    assert!(events(&mut s).is_empty());
    s.handle_packet(Packet::Pubcomp(ack(9)), t0);
    assert!(matches!(
        events(&mut s).as_slice(),
        [Event::Ack {
            kind: AckKind::PubComp,
            ..
        }]
    ));
}

#[test]
fn never_more_publishes_in_flight_than_the_window_and_the_rest_follow_in_order() {
    let t0 = Instant::now();
    let options = SessionOptions {
        max_inflight: 2,
        ..SessionOptions::default()
    };
    let mut s = connected(ProtocolVersion::V3_1_1, options, t0);
    for id in 1..=5 {
        s.publish(publish(QoS::AtLeastOnce, id, "a")).unwrap();
    }
    let ids = |packets: Vec<Packet>| -> Vec<u16> {
        packets
            .into_iter()
            .filter_map(|p| {
                if let Packet::Publish(p) = p {
                    Some(p.message_id)
                } else {
                    None
                }
            })
            .collect()
    };
    assert_eq!(ids(sent(&mut s)), vec![1, 2]);
    s.handle_packet(Packet::Puback(ack(1)), t0);
    assert_eq!(ids(sent(&mut s)), vec![3]);
    s.handle_packet(Packet::Puback(ack(3)), t0);
    s.handle_packet(Packet::Puback(ack(2)), t0);
    assert_eq!(ids(sent(&mut s)), vec![4, 5]);
}

#[test]
fn with_max_inflight_qos2_exchanges_in_flight_nothing_more_is_sent_until_one_completes() {
    let t0 = Instant::now();
    let options = SessionOptions {
        max_inflight: 4,
        max_inflight_qos2: 2,
        ..SessionOptions::default()
    };
    let mut s = connected(ProtocolVersion::V3_1_1, options, t0);
    let qos = [
        QoS::ExactlyOnce,
        QoS::AtLeastOnce,
        QoS::ExactlyOnce,
        QoS::ExactlyOnce,
        QoS::AtLeastOnce,
    ];
    for (id, qos) in (1..).zip(qos) {
        s.publish(publish(qos, id, "a")).unwrap();
    }
    let ids = |packets: Vec<Packet>| -> Vec<(&'static str, u16)> {
        packets
            .into_iter()
            .map(|p| match p {
                Packet::Publish(p) => ("publish", p.message_id),
                Packet::Pubrel(a) => ("pubrel", a.message_id),
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    };
    // 1 and 3 are as many QoS 2 exchanges as allowed: 4 waits, and so does 5 (QoS 1), although
    // the window as a whole has room.
    assert_eq!(
        ids(sent(&mut s)),
        vec![("publish", 1), ("publish", 2), ("publish", 3)]
    );
    s.handle_packet(Packet::Puback(ack(2)), t0);
    assert_eq!(ids(sent(&mut s)), vec![]);
    // PUBREC keeps the exchange in flight (now a PUBREL): still no room for QoS 2.
    s.handle_packet(Packet::Pubrec(ack(1)), t0);
    assert_eq!(ids(sent(&mut s)), vec![("pubrel", 1)]);
    s.handle_packet(Packet::Pubcomp(ack(1)), t0);
    assert_eq!(ids(sent(&mut s)), vec![("publish", 4)]);

    // After a reconnect the resends obey the same limit: 3 and 4 (QoS 2) are resent, 5 and 6
    // wait until one of them completes.
    s.publish(publish(QoS::ExactlyOnce, 6, "a")).unwrap();
    assert_eq!(ids(sent(&mut s)), vec![]);
    s.handle_close();
    s.start_connection(connect_packet(ProtocolVersion::V3_1_1, 10), None, t0)
        .unwrap();
    assert!(matches!(sent(&mut s).as_slice(), [Packet::Connect(_)]));
    s.handle_packet(connack(0), t0);
    assert_eq!(ids(sent(&mut s)), vec![("publish", 3), ("publish", 4)]);
    s.handle_packet(Packet::Pubrec(ack(3)), t0);
    s.handle_packet(Packet::Pubcomp(ack(3)), t0);
    assert_eq!(
        ids(sent(&mut s)),
        vec![("pubrel", 3), ("publish", 5), ("publish", 6)]
    );
}

/// An MQTT 5 session with `options`, connected to a broker that announced `receive_maximum`.
fn connected_with_receive_maximum(
    options: SessionOptions,
    receive_maximum: u16,
    t0: Instant,
) -> Session {
    let mut s = Session::new(ProtocolVersion::V5, options);
    s.start_connection(connect_packet(ProtocolVersion::V5, 10), None, t0)
        .unwrap();
    let props = Properties::from(PropertyValues {
        receive_maximum: Some(receive_maximum),
        ..PropertyValues::default()
    });
    s.handle_packet(
        Packet::Connack(ConnAck {
            session_present: false,
            reason_code: 0,
            properties: props,
        }),
        t0,
    );
    sent(&mut s);
    s
}

#[test]
fn the_qos_2_part_of_the_window_is_the_brokers_receive_maximum_in_mqtt_5() {
    let t0 = Instant::now();
    let options = SessionOptions {
        max_inflight: 100,
        max_inflight_qos2: 1,
        ..SessionOptions::default()
    };
    let mut s = connected_with_receive_maximum(options, 3, t0);
    for id in 1..=4 {
        s.publish(publish(QoS::ExactlyOnce, id, "a")).unwrap();
    }
    let published = sent(&mut s)
        .into_iter()
        .filter(|p| matches!(p, Packet::Publish(_)))
        .count();
    assert_eq!(published, 3, "the broker's limit of 3, not the client's 1");
}

#[test]
fn the_brokers_receive_maximum_sets_the_window_in_mqtt_5() {
    let t0 = Instant::now();
    let options = SessionOptions {
        max_inflight: 100,
        ..SessionOptions::default()
    };
    let mut s = connected_with_receive_maximum(options, 1, t0);
    s.publish(publish(QoS::AtLeastOnce, 1, "a")).unwrap();
    s.publish(publish(QoS::AtLeastOnce, 2, "a")).unwrap();
    assert_eq!(sent(&mut s).len(), 1);
}

#[test]
fn in_flight_publishes_are_resent_with_dup_and_the_same_ids_after_a_reconnect() {
    let t0 = Instant::now();
    let mut s = connected(ProtocolVersion::V3_1_1, SessionOptions::default(), t0);
    s.publish(publish(QoS::AtLeastOnce, 4, "a")).unwrap();
    s.publish(publish(QoS::ExactlyOnce, 5, "b")).unwrap();
    sent(&mut s);
    s.handle_packet(Packet::Pubrec(ack(5)), t0);
    sent(&mut s);
    s.handle_close();
    s.start_connection(connect_packet(ProtocolVersion::V3_1_1, 10), None, t0)
        .unwrap();
    s.handle_packet(connack(0), t0);
    let resent = sent(&mut s);
    assert!(matches!(&resent[0], Packet::Connect(_)));
    assert!(matches!(&resent[1], Packet::Publish(p) if p.message_id == 4 && p.dup));
    assert_eq!(resent[2], Packet::Pubrel(ack(5)));
}

#[test]
fn a_held_resend_waits_after_connack_so_that_a_subscribe_goes_first() {
    let t0 = Instant::now();
    let mut s = connected(ProtocolVersion::V3_1_1, SessionOptions::default(), t0);
    s.publish(publish(QoS::AtLeastOnce, 4, "a")).unwrap();
    sent(&mut s);
    s.handle_close();
    s.start_connection(connect_packet(ProtocolVersion::V3_1_1, 10), None, t0)
        .unwrap();
    s.hold_resend(true);
    s.handle_packet(connack(0), t0);
    // Held: a publish made now waits behind the held resend too.
    s.publish(publish(QoS::AtLeastOnce, 6, "c")).unwrap();
    assert!(matches!(sent(&mut s).as_slice(), [Packet::Connect(_)]));
    s.subscribe(Subscribe {
        message_id: 5,
        subscriptions: vec![Subscription {
            topic: "a".into(),
            qos: QoS::AtLeastOnce,
            nl: false,
            rap: false,
            rh: 0,
        }],
        properties: Properties::default(),
    })
    .unwrap();
    s.hold_resend(false);
    let packets = sent(&mut s);
    assert!(matches!(&packets[0], Packet::Subscribe(sub) if sub.message_id == 5));
    assert!(matches!(&packets[1], Packet::Publish(p) if p.message_id == 4 && p.dup));
    assert!(matches!(&packets[2], Packet::Publish(p) if p.message_id == 6 && !p.dup));
}

#[test]
fn qos1_publishes_made_offline_are_sent_after_connack() {
    let t0 = Instant::now();
    let mut s = Session::new(ProtocolVersion::V3_1_1, SessionOptions::default());
    s.publish(publish(QoS::AtLeastOnce, 3, "a")).unwrap();
    assert!(s.publish(publish(QoS::AtMostOnce, 0, "a")).is_err());
    s.start_connection(connect_packet(ProtocolVersion::V3_1_1, 10), None, t0)
        .unwrap();
    s.handle_packet(connack(0), t0);
    let packets = sent(&mut s);
    assert!(matches!(&packets[1], Packet::Publish(p) if p.message_id == 3 && !p.dup));
}

#[test]
fn inbound_qos1_is_acknowledged_at_once_without_application_acks() {
    let t0 = Instant::now();
    let mut s = connected(ProtocolVersion::V3_1_1, SessionOptions::default(), t0);
    s.handle_packet(Packet::Publish(publish(QoS::AtLeastOnce, 10, "x")), t0);
    assert!(matches!(
        events(&mut s).as_slice(),
        [Event::Message {
            ack: AppAck::PubAck,
            acked: true,
            ..
        }]
    ));
    assert_eq!(sent(&mut s), vec![Packet::Puback(ack(10))]);
}

fn app_acks() -> SessionOptions {
    SessionOptions {
        app_acks: true,
        ..SessionOptions::default()
    }
}

#[test]
fn inbound_qos1_is_delivered_and_acknowledged_when_the_application_is_done() {
    let t0 = Instant::now();
    let mut s = connected(ProtocolVersion::V3_1_1, app_acks(), t0);
    s.handle_packet(Packet::Publish(publish(QoS::AtLeastOnce, 11, "x")), t0);
    assert!(
        matches!(events(&mut s).as_slice(), [Event::Message { publish: p, ack: AppAck::PubAck, acked: false, .. }] if p.topic == "x")
    );
    assert!(sent(&mut s).is_empty());
    s.acknowledge(AppAck::PubAck, 11, 0);
    assert_eq!(sent(&mut s), vec![Packet::Puback(ack(11))]);
    // A second ack for the same message is not owed and sends nothing.
    s.acknowledge(AppAck::PubAck, 11, 0);
    assert!(sent(&mut s).is_empty());
}

#[test]
fn inbound_qos2_is_delivered_once_on_pubrel_even_when_the_publish_is_repeated() {
    let t0 = Instant::now();
    let mut s = connected(ProtocolVersion::V3_1_1, app_acks(), t0);
    s.handle_packet(Packet::Publish(publish(QoS::ExactlyOnce, 12, "x")), t0);
    assert!(matches!(
        events(&mut s).as_slice(),
        [Event::Message {
            ack: AppAck::PubRec,
            ..
        }]
    ));
    s.acknowledge(AppAck::PubRec, 12, 0);
    let mut dup = publish(QoS::ExactlyOnce, 12, "x");
    dup.dup = true;
    s.handle_packet(Packet::Publish(dup), t0);
    assert!(events(&mut s).is_empty());
    assert_eq!(
        sent(&mut s),
        vec![Packet::Pubrec(ack(12)), Packet::Pubrec(ack(12))]
    );
    s.handle_packet(Packet::Pubrel(ack(12)), t0);
    assert!(matches!(
        events(&mut s).as_slice(),
        [Event::Message {
            ack: AppAck::PubComp,
            ..
        }]
    ));
    s.acknowledge(AppAck::PubComp, 12, 0);
    // A repeated PUBREL: with application acks the application may hold the message in a store
    // of its own, so it is asked, and its PUBCOMP answers.
    s.handle_packet(Packet::Pubrel(ack(12)), t0);
    assert!(matches!(
        events(&mut s).as_slice(),
        [Event::Released { message_id: 12 }]
    ));
    s.acknowledge(AppAck::PubComp, 12, 0);
    assert_eq!(
        sent(&mut s),
        vec![Packet::Pubcomp(ack(12)), Packet::Pubcomp(ack(12))]
    );
}

#[test]
fn a_repeated_pubrel_is_answered_by_the_session_without_application_acks() {
    let t0 = Instant::now();
    let mut s = connected(ProtocolVersion::V3_1_1, SessionOptions::default(), t0);
    s.handle_packet(Packet::Publish(publish(QoS::ExactlyOnce, 15, "x")), t0);
    s.handle_packet(Packet::Pubrel(ack(15)), t0);
    s.handle_packet(Packet::Pubrel(ack(15)), t0);
    assert_eq!(events(&mut s).len(), 2);
    assert_eq!(
        sent(&mut s),
        vec![
            Packet::Pubrec(ack(15)),
            Packet::Pubcomp(ack(15)),
            Packet::Pubcomp(ack(15))
        ]
    );
}

#[test]
fn a_failed_pubrec_from_the_application_drops_the_message_in_mqtt_5() {
    let t0 = Instant::now();
    let mut s = connected(ProtocolVersion::V5, app_acks(), t0);
    s.handle_packet(Packet::Publish(publish(QoS::ExactlyOnce, 13, "x")), t0);
    events(&mut s);
    s.acknowledge(AppAck::PubRec, 13, 0x80);
    assert!(matches!(sent(&mut s).as_slice(), [Packet::Pubrec(a)] if a.reason_code == 0x80));
    // The message is gone: a PUBREL for it does not deliver it.
    s.handle_packet(Packet::Pubrel(ack(13)), t0);
    assert!(matches!(
        events(&mut s).as_slice(),
        [Event::Released { message_id: 13 }]
    ));
}

#[test]
fn acks_owed_on_an_earlier_connection_are_not_sent_on_the_next() {
    let t0 = Instant::now();
    let mut s = connected(ProtocolVersion::V3_1_1, app_acks(), t0);
    s.handle_packet(Packet::Publish(publish(QoS::AtLeastOnce, 14, "x")), t0);
    s.handle_close();
    s.start_connection(connect_packet(ProtocolVersion::V3_1_1, 10), None, t0)
        .unwrap();
    s.handle_packet(connack(0), t0);
    sent(&mut s);
    s.acknowledge(AppAck::PubAck, 14, 0);
    assert!(sent(&mut s).is_empty());
}

#[test]
fn an_ack_of_the_wrong_type_is_reported_and_ignored() {
    let t0 = Instant::now();
    let mut s = connected(ProtocolVersion::V3_1_1, SessionOptions::default(), t0);
    s.publish(publish(QoS::ExactlyOnce, 20, "x")).unwrap();
    s.handle_packet(Packet::Pubrec(ack(20)), t0);
    sent(&mut s);
    events(&mut s);
    s.handle_packet(Packet::Puback(ack(20)), t0);
    assert!(
        matches!(events(&mut s).as_slice(), [Event::Error(e)] if e.message.contains("puback does not answer the pubrel"))
    );
    assert_eq!(s.outgoing_len(), 1);
}

#[test]
fn a_puback_completes_a_qos_2_publish_that_the_broker_downgraded() {
    let t0 = Instant::now();
    let mut s = connected(ProtocolVersion::V3_1_1, SessionOptions::default(), t0);
    s.publish(publish(QoS::ExactlyOnce, 21, "x")).unwrap();
    sent(&mut s);
    s.handle_packet(Packet::Puback(ack(21)), t0);
    assert!(matches!(
        events(&mut s).as_slice(),
        [Event::Ack {
            kind: AckKind::PubAck,
            ..
        }]
    ));
    assert_eq!(s.outgoing_len(), 0);
    assert!(sent(&mut s).is_empty(), "no PUBREL follows a PUBACK");
}

#[test]
fn subscribe_completes_on_suback() {
    let t0 = Instant::now();
    let mut s = connected(ProtocolVersion::V3_1_1, SessionOptions::default(), t0);
    let sub = Subscribe {
        message_id: 30,
        subscriptions: vec![Subscription {
            topic: "a/#".into(),
            qos: QoS::AtLeastOnce,
            nl: false,
            rap: false,
            rh: 0,
        }],
        properties: Properties::default(),
    };
    s.subscribe(sub).unwrap();
    assert!(matches!(sent(&mut s).as_slice(), [Packet::Subscribe(_)]));
    s.handle_packet(
        Packet::Suback(SubAck {
            message_id: 30,
            granted: vec![1],
            properties: Properties::default(),
        }),
        t0,
    );
    assert!(matches!(
        events(&mut s).as_slice(),
        [Event::Ack {
            kind: AckKind::SubAck,
            ..
        }]
    ));
}

#[test]
fn topic_aliases_from_the_broker_are_resolved_and_out_of_range_ones_close_the_connection() {
    let t0 = Instant::now();
    let mut s = Session::new(ProtocolVersion::V5, SessionOptions::default());
    let mut connect = connect_packet(ProtocolVersion::V5, 10);
    connect.properties.topic_alias_maximum = Some(2);
    s.start_connection(connect, None, t0).unwrap();
    s.handle_packet(connack(0), t0);
    events(&mut s);
    let mut first = publish(QoS::AtMostOnce, 0, "long/topic");
    first.properties.topic_alias = Some(1);
    s.handle_packet(Packet::Publish(first), t0);
    let mut second = publish(QoS::AtMostOnce, 0, "");
    second.properties.topic_alias = Some(1);
    s.handle_packet(Packet::Publish(second), t0);
    let delivered = events(&mut s);
    assert!(matches!(
        &delivered[0],
        Event::Message {
            topic_from_alias: false,
            ..
        }
    ));
    assert!(matches!(
        &delivered[1],
        Event::Message { publish: p, topic_from_alias: true, .. } if p.topic == "long/topic"
    ));
    let mut bad = publish(QoS::AtMostOnce, 0, "t");
    bad.properties.topic_alias = Some(3);
    s.handle_packet(Packet::Publish(bad), t0);
    assert!(s.wants_close());
    assert!(matches!(
        events(&mut s).as_slice(),
        [Event::Error(e)] if e.reason_code == Some(0x94)
            && e.message.starts_with("Received Topic Alias 3 is outside the advertised Topic Alias Maximum range 1-2")
    ));
}

#[test]
fn a_server_sending_subscribe_is_a_protocol_error() {
    let t0 = Instant::now();
    let mut s = connected(ProtocolVersion::V3_1_1, SessionOptions::default(), t0);
    s.handle_packet(Packet::Pingreq, t0);
    assert!(s.wants_close());
}

#[test]
fn properties_are_dropped_from_publishes_before_mqtt_5() {
    let t0 = Instant::now();
    let mut s = connected(ProtocolVersion::V3_1_1, SessionOptions::default(), t0);
    let mut p = publish(QoS::AtMostOnce, 0, "a");
    p.properties.content_type = Some("text/plain".into());
    s.publish(p).unwrap();
    assert_eq!(sent(&mut s).len(), 1);
}

fn connected_v5_with_alias_maximum(options: SessionOptions, maximum: u16, t0: Instant) -> Session {
    let mut s = Session::new(ProtocolVersion::V5, options);
    s.start_connection(connect_packet(ProtocolVersion::V5, 10), None, t0)
        .unwrap();
    let properties = Properties::from(PropertyValues {
        topic_alias_maximum: Some(maximum),
        ..PropertyValues::default()
    });
    s.handle_packet(
        Packet::Connack(ConnAck {
            session_present: false,
            reason_code: 0,
            properties,
        }),
        t0,
    );
    sent(&mut s);
    events(&mut s);
    s
}

fn with_alias(mut p: Publish, alias: u16) -> Publish {
    p.properties.topic_alias = Some(alias);
    p
}

#[test]
fn an_explicit_topic_alias_is_registered_and_then_usable_with_an_empty_topic() {
    let t0 = Instant::now();
    let mut s = connected_v5_with_alias_maximum(SessionOptions::default(), 5, t0);
    s.publish(with_alias(publish(QoS::AtMostOnce, 0, "long/topic"), 2))
        .unwrap();
    s.publish(with_alias(publish(QoS::AtMostOnce, 0, ""), 2))
        .unwrap();
    let wire = sent(&mut s);
    assert!(
        matches!(&wire[0], Packet::Publish(p) if p.topic == "long/topic" && p.properties.topic_alias == Some(2))
    );
    assert!(
        matches!(&wire[1], Packet::Publish(p) if p.topic.is_empty() && p.properties.topic_alias == Some(2))
    );
}

#[test]
fn a_topic_alias_beyond_the_brokers_maximum_or_unregistered_is_refused() {
    let t0 = Instant::now();
    let mut s = connected_v5_with_alias_maximum(SessionOptions::default(), 2, t0);
    let err = s
        .publish(with_alias(publish(QoS::AtMostOnce, 0, "t"), 3))
        .unwrap_err();
    assert_eq!(err.message, "Sending Topic Alias out of range");
    let err = s
        .publish(with_alias(publish(QoS::AtMostOnce, 0, ""), 1))
        .unwrap_err();
    assert_eq!(err.message, "Unregistered Topic Alias");
}

#[test]
fn auto_assign_gives_aliases_and_then_sends_the_alias_alone() {
    let t0 = Instant::now();
    let options = SessionOptions {
        auto_assign_topic_alias: true,
        ..SessionOptions::default()
    };
    let mut s = connected_v5_with_alias_maximum(options, 1, t0);
    s.publish(publish(QoS::AtMostOnce, 0, "a")).unwrap();
    s.publish(publish(QoS::AtMostOnce, 0, "a")).unwrap();
    s.publish(publish(QoS::AtMostOnce, 0, "b")).unwrap();
    let wire = sent(&mut s);
    assert!(
        matches!(&wire[0], Packet::Publish(p) if p.topic == "a" && p.properties.topic_alias == Some(1))
    );
    assert!(
        matches!(&wire[1], Packet::Publish(p) if p.topic.is_empty() && p.properties.topic_alias == Some(1))
    );
    // The table is full: the least recently used alias is reused for the new topic.
    assert!(
        matches!(&wire[2], Packet::Publish(p) if p.topic == "b" && p.properties.topic_alias == Some(1))
    );
}

#[test]
fn resent_publishes_carry_their_topic_and_no_alias() {
    let t0 = Instant::now();
    let options = SessionOptions {
        auto_assign_topic_alias: true,
        ..SessionOptions::default()
    };
    let mut s = connected_v5_with_alias_maximum(options, 4, t0);
    s.publish(publish(QoS::AtMostOnce, 0, "a")).unwrap();
    s.publish(publish(QoS::AtLeastOnce, 9, "a")).unwrap();
    assert!(matches!(&sent(&mut s)[1], Packet::Publish(p) if p.topic.is_empty()));
    s.handle_close();
    s.start_connection(connect_packet(ProtocolVersion::V5, 10), None, t0)
        .unwrap();
    s.handle_packet(connack(0), t0);
    let resent = sent(&mut s);
    assert!(
        matches!(&resent[1], Packet::Publish(p) if p.topic == "a" && p.properties.topic_alias.is_none() && p.dup)
    );
}

#[test]
fn more_inbound_qos2_than_our_receive_maximum_closes_with_0x93() {
    let t0 = Instant::now();
    let mut s = Session::new(ProtocolVersion::V5, SessionOptions::default());
    let mut connect = connect_packet(ProtocolVersion::V5, 10);
    connect.properties.receive_maximum = Some(1);
    s.start_connection(connect, None, t0).unwrap();
    s.handle_packet(connack(0), t0);
    events(&mut s);
    s.handle_packet(Packet::Publish(publish(QoS::ExactlyOnce, 1, "a")), t0);
    assert!(!s.wants_close());
    s.handle_packet(Packet::Publish(publish(QoS::ExactlyOnce, 2, "a")), t0);
    assert!(s.wants_close());
    let reported = events(&mut s);
    assert!(matches!(reported.last(), Some(Event::Error(e)) if e.reason_code == Some(0x93)));
}

#[test]
fn the_qos0_fast_path_writes_the_same_bytes_as_the_owned_path() {
    let t0 = Instant::now();
    for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let mut fast = connected(version, SessionOptions::default(), t0);
        assert!(fast.publish_qos0("a/b", b"hi", true, false).unwrap());
        let mut owned = connected(version, SessionOptions::default(), t0);
        let mut p = publish(QoS::AtMostOnce, 0, "a/b");
        p.retain = true;
        owned.publish(p).unwrap();
        assert_eq!(sent(&mut fast), sent(&mut owned));
    }
}

#[test]
fn the_qos0_fast_path_steps_aside_for_packet_events_and_needs_a_connection() {
    let t0 = Instant::now();
    let options = SessionOptions {
        packet_events: true,
        ..SessionOptions::default()
    };
    let mut s = connected(ProtocolVersion::V3_1_1, options, t0);
    assert!(!s.publish_qos0("a", b"", false, false).unwrap());
    let mut offline = Session::new(ProtocolVersion::V3_1_1, SessionOptions::default());
    assert!(offline.publish_qos0("a", b"", false, false).is_err());
}

#[test]
fn the_incoming_size_limit_defaults_to_16_mib_for_every_version_and_mqtt5_announcement_overrides_it(
) {
    let t0 = Instant::now();
    let mut s = Session::new(ProtocolVersion::V3_1_1, SessionOptions::default());
    s.start_connection(connect_packet(ProtocolVersion::V3_1_1, 10), None, t0)
        .unwrap();
    assert_eq!(s.limits().max_packet_size, DEFAULT_MAX_INCOMING_PACKET_SIZE);

    s.set_max_incoming_packet_size(1000).unwrap();
    assert!(s.set_max_incoming_packet_size(0).is_err());
    s.start_connection(connect_packet(ProtocolVersion::V3_1_1, 10), None, t0)
        .unwrap();
    assert_eq!(s.limits().max_packet_size, 1000);

    let mut v5 = connect_packet(ProtocolVersion::V5, 10);
    v5.properties = Properties::from(PropertyValues {
        maximum_packet_size: Some(500),
        ..Default::default()
    });
    let mut s = Session::new(ProtocolVersion::V5, SessionOptions::default());
    s.set_max_incoming_packet_size(1000).unwrap();
    s.start_connection(v5, None, t0).unwrap();
    assert_eq!(s.limits().max_packet_size, 500);
}

#[test]
fn a_packet_over_the_limit_is_reported_with_the_option_that_raises_it_and_closes() {
    let t0 = Instant::now();
    let mut s = connected(ProtocolVersion::V3_1_1, SessionOptions::default(), t0);
    let mut buf = BytesMut::from(&[0x30u8, 0xFF, 0xFF, 0xFF, 0x7F][..]);
    let error = codec::decode(&mut buf, s.version(), &s.limits()).unwrap_err();
    s.handle_decode_error(&error);
    assert!(s.wants_close());
    let evs = events(&mut s);
    assert_eq!(evs.len(), 1);
    let Event::Error(e) = &evs[0] else {
        panic!("expected an error, got {evs:?}")
    };
    assert_eq!(e.reason_code, Some(0x95));
    assert!(e.message.contains("268435460 bytes"), "{}", e.message);
    assert!(e.message.contains("16777216 bytes"), "{}", e.message);
    assert!(e.message.contains("maxIncomingPacketSize"), "{}", e.message);
}

#[test]
fn after_a_reconnect_to_a_smaller_receive_maximum_only_that_many_exchanges_are_resent_and_the_rest_follow_in_order(
) {
    let t0 = Instant::now();
    let mut s = Session::new(ProtocolVersion::V5, SessionOptions::default());
    let connack_with = |max: u16| {
        Packet::Connack(ConnAck {
            session_present: true,
            reason_code: 0,
            properties: Properties::from(PropertyValues {
                receive_maximum: Some(max),
                ..Default::default()
            }),
        })
    };
    s.start_connection(connect_packet(ProtocolVersion::V5, 10), None, t0)
        .unwrap();
    s.handle_packet(connack_with(4), t0);
    for id in 1..=4 {
        s.publish(publish(QoS::AtLeastOnce, id, "t")).unwrap();
    }
    assert_eq!(sent(&mut s).len(), 5); // CONNECT and four PUBLISH
    s.handle_close();
    s.start_connection(connect_packet(ProtocolVersion::V5, 10), None, t0)
        .unwrap();
    s.handle_packet(connack_with(2), t0);
    let ids = |packets: Vec<Packet>| -> Vec<u16> {
        packets
            .into_iter()
            .filter_map(|p| match p {
                Packet::Publish(p) => {
                    assert!(p.dup);
                    Some(p.message_id)
                }
                _ => None,
            })
            .collect()
    };
    assert_eq!(ids(sent(&mut s)), vec![1, 2]);
    s.handle_packet(Packet::Puback(ack(1)), t0);
    assert_eq!(ids(sent(&mut s)), vec![3]);
    s.handle_packet(Packet::Puback(ack(2)), t0);
    s.handle_packet(Packet::Puback(ack(3)), t0);
    assert_eq!(ids(sent(&mut s)), vec![4]);
}

/// A journal that keeps what it is told, for the session's persistence hooks.
#[derive(Debug, Default)]
struct Recorded(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl Journal for Recorded {
    fn record(&mut self, entry: JournalEntry<'_>) {
        let text = match entry {
            JournalEntry::Publish(p) => format!("publish {}", p.message_id),
            JournalEntry::PubRel(id) => format!("pubrel {id}"),
            JournalEntry::Numbered(id) => format!("numbered {id}"),
            JournalEntry::Done(id) => format!("done {id}"),
            JournalEntry::Incoming(p) => format!("incoming {}", p.message_id),
            JournalEntry::IncomingDone(id) => format!("incoming-done {id}"),
            JournalEntry::IncomingCleared => "incoming-cleared".into(),
        };
        self.0.lock().unwrap().push(text);
    }
    fn write_ahead(&mut self) {
        self.0.lock().unwrap().push("write-ahead".into());
    }
}

#[test]
fn the_journal_hears_every_change_of_durable_state_and_is_written_ahead_of_the_packets() {
    let t0 = Instant::now();
    let mut s = connected(ProtocolVersion::V3_1_1, SessionOptions::default(), t0);
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    s.set_journal(Box::new(Recorded(log.clone())));
    s.publish(publish(QoS::AtLeastOnce, 1, "t")).unwrap();
    s.publish(publish(QoS::ExactlyOnce, 2, "t")).unwrap();
    sent(&mut s);
    s.handle_packet(Packet::Puback(ack(1)), t0);
    s.handle_packet(Packet::Pubrec(ack(2)), t0);
    sent(&mut s);
    s.handle_packet(Packet::Pubcomp(ack(2)), t0);
    s.handle_packet(
        Packet::Publish(Publish {
            message_id: 9,
            ..publish(QoS::ExactlyOnce, 9, "in")
        }),
        t0,
    );
    sent(&mut s);
    s.handle_packet(Packet::Pubrel(ack(9)), t0);
    assert_eq!(
        *log.lock().unwrap(),
        vec![
            "publish 1",
            "publish 2",
            "write-ahead",
            "done 1",
            "pubrel 2",
            "write-ahead",
            "done 2",
            "incoming 9",
            "write-ahead",
            "incoming-done 9",
        ]
    );
}

#[test]
fn a_hundred_thousand_unnumbered_publishes_behind_a_small_window_all_go_out_with_ids_never_in_use_twice(
) {
    // MQTT 5 §2.2.1: a packet identifier is in use only while its exchange is in flight, so the
    // publishes waiting for the window must not hold one.
    let t0 = Instant::now();
    let options = SessionOptions {
        max_inflight: 20,
        max_inflight_qos2: 20,
        ..SessionOptions::default()
    };
    let mut s = connected(ProtocolVersion::V3_1_1, options, t0);
    let total = 100_000usize;
    let mut announced = std::collections::VecDeque::new();
    let mut immediate = 0;
    for i in 0..total {
        let qos = if i % 2 == 0 {
            QoS::AtLeastOnce
        } else {
            QoS::ExactlyOnce
        };
        match s.publish(publish(qos, 0, "t")).unwrap() {
            0 => {}
            _ => immediate += 1,
        }
    }
    assert_eq!(
        immediate, 20,
        "the window of 20 takes the first ones at once"
    );
    let mut in_flight = std::collections::HashSet::new();
    let mut completed = 0;
    while completed < total {
        for event in events(&mut s) {
            if let Event::Numbered { message_id } = event {
                announced.push_back(message_id);
            }
        }
        let packets = sent(&mut s);
        assert!(
            !packets.is_empty(),
            "nothing sent after {completed} completions"
        );
        for packet in packets {
            match packet {
                Packet::Publish(p) => {
                    assert_ne!(p.message_id, 0);
                    assert!(in_flight.insert(p.message_id), "id {} reused", p.message_id);
                    assert!(in_flight.len() <= 20);
                    let answer = if p.qos == QoS::AtLeastOnce {
                        Packet::Puback(ack(p.message_id))
                    } else {
                        Packet::Pubrec(ack(p.message_id))
                    };
                    s.handle_packet(answer, t0);
                    if p.qos == QoS::AtLeastOnce {
                        in_flight.remove(&p.message_id);
                        completed += 1;
                    }
                }
                Packet::Pubrel(a) => {
                    s.handle_packet(Packet::Pubcomp(ack(a.message_id)), t0);
                    in_flight.remove(&a.message_id);
                    completed += 1;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert_eq!(announced.len(), total - 20);
    assert_eq!(s.outgoing_len(), 0);
}

#[test]
fn an_unnumbered_publish_is_journaled_without_an_id_and_numbered_when_first_sent() {
    let t0 = Instant::now();
    let options = SessionOptions {
        max_inflight: 1,
        ..SessionOptions::default()
    };
    let mut s = connected(ProtocolVersion::V3_1_1, options, t0);
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    s.set_journal(Box::new(Recorded(log.clone())));
    let first = s.publish(publish(QoS::AtLeastOnce, 0, "t")).unwrap();
    assert_ne!(first, 0);
    assert_eq!(s.publish(publish(QoS::AtLeastOnce, 0, "t")).unwrap(), 0);
    sent(&mut s);
    s.handle_packet(Packet::Puback(ack(first)), t0);
    let second = match events(&mut s).as_slice() {
        [Event::Ack { .. }, Event::Numbered { message_id }] => *message_id,
        other => panic!("{other:?}"),
    };
    assert_ne!(second, first);
    assert_eq!(
        log.lock().unwrap().clone(),
        vec![
            "publish 0".to_string(),
            format!("numbered {first}"),
            "publish 0".to_string(),
            "write-ahead".to_string(),
            format!("done {first}"),
            format!("numbered {second}"),
        ]
    );
}

#[test]
fn next_message_id_skips_ids_in_flight_and_awaiting_suback() {
    let t0 = Instant::now();
    let mut s = connected(ProtocolVersion::V3_1_1, SessionOptions::default(), t0);
    let id = s.publish(publish(QoS::AtLeastOnce, 0, "t")).unwrap();
    assert_eq!(id, 1);
    s.publish(publish(QoS::AtLeastOnce, 2, "t")).unwrap();
    assert_eq!(s.next_message_id(), Some(3));
    assert_eq!(s.publish(publish(QoS::AtLeastOnce, 0, "t")).unwrap(), 4);
}

#[test]
fn an_offline_alias_only_publish_takes_the_topic_of_the_last_connections_alias_and_drops_it() {
    let t0 = Instant::now();
    let mut s = connected_v5_with_alias_maximum(SessionOptions::default(), 4, t0);
    let mut registers = publish(QoS::AtLeastOnce, 1, "a/b");
    registers.properties.topic_alias = Some(2);
    s.publish(registers).unwrap();
    sent(&mut s);
    s.handle_close();
    // MQTT 5 §3.3.2.3.4: aliases belong to a connection; offline, the topic comes back.
    assert_eq!(s.topic_of_alias(2).as_deref(), Some("a/b"));
    let mut alias_only = publish(QoS::AtLeastOnce, 2, "");
    alias_only.properties.topic_alias = Some(2);
    s.publish(alias_only).unwrap();
    let mut unknown = publish(QoS::AtLeastOnce, 3, "");
    unknown.properties.topic_alias = Some(3);
    assert_eq!(
        s.publish(unknown).unwrap_err().message,
        "Unregistered Topic Alias"
    );
    s.start_connection(connect_packet(ProtocolVersion::V5, 10), None, t0)
        .unwrap();
    s.handle_packet(connack(0), t0);
    let resent = sent(&mut s);
    assert!(resent.iter().any(|p| matches!(p,
        Packet::Publish(p) if p.message_id == 2 && p.topic == "a/b" && p.properties.topic_alias.is_none())));
}
