//! The session against a simple model ([`super::sim`]), on random sequences of application
//! calls and broker packets.

use proptest::prelude::*;

use super::sim::{Op, Sim};
use crate::codec::ProtocolVersion;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => any::<bool>().prop_map(|exactly_once| Op::Publish { exactly_once }),
        3 => any::<bool>().prop_map(|exactly_once| Op::PublishUnnumbered { exactly_once }),
        1 => (0u16..6, any::<bool>()).prop_map(|(receive_maximum, session_present)| Op::Connect {
            receive_maximum,
            session_present
        }),
        1 => Just(Op::Close),
        5 => any::<u8>().prop_map(|n| Op::Ack { n }),
        1 => (any::<u8>(), any::<u16>()).prop_map(|(kind, id)| Op::StrayAck { kind, id }),
        1 => any::<u16>().prop_map(|id| Op::InboundQos2 { id }),
        1 => any::<u16>().prop_map(|id| Op::InboundPubRel { id }),
        1 => (0u8..40).prop_map(|seconds| Op::Tick { seconds }),
    ]
}

fn version() -> impl Strategy<Value = ProtocolVersion> {
    prop_oneof![Just(ProtocolVersion::V3_1_1), Just(ProtocolVersion::V5)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_session_keeps_the_window_never_reuses_ids_in_flight_and_completes_every_publish(
        version in version(),
        max_inflight in 1u16..5,
        max_inflight_qos2 in 1u16..5,
        ops in prop::collection::vec(op(), 1..80),
    ) {
        let mut sim = Sim::new(version, max_inflight, max_inflight_qos2);
        for op in ops {
            if let Err(violation) = sim.apply(op) {
                prop_assert!(false, "after {:?}: {}", op, violation);
            }
        }
        if let Err(violation) = sim.finish() {
            prop_assert!(false, "at the end: {}", violation);
        }
    }
}
