//! Fuzz target: random sequences of application calls and broker packets against the session,
//! with the invariants of `mqtt_native::session::sim` checked after every step: no panic, never
//! more exchanges in flight than the window allows, packet identifiers never reused while in
//! flight, PUBLISHes in order with DUP on resends, every publish completed once, inbound QoS 2
//! delivered once per exchange, and everything completed once the broker acknowledges it all.
//!
//! The first byte picks the protocol version and the client's own windows (all, and QoS 2);
//! the rest are steps (`Op::from_bytes`). Run with `cargo fuzz run session` from the repository root.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_native::codec::ProtocolVersion;
use mqtt_native::session::sim::{Op, Sim};

fuzz_target!(|data: &[u8]| {
    let Some((&control, mut steps)) = data.split_first() else {
        return;
    };
    let version = if control & 1 == 0 {
        ProtocolVersion::V3_1_1
    } else {
        ProtocolVersion::V5
    };
    let max_inflight = u16::from((control >> 1) % 4) + 1;
    let max_inflight_qos2 = u16::from((control >> 3) % 4) + 1;
    let mut sim = Sim::new(version, max_inflight, max_inflight_qos2);
    while let Some((op, rest)) = Op::from_bytes(steps) {
        if let Err(violation) = sim.apply(op) {
            panic!("after {op:?}: {violation}");
        }
        steps = rest;
    }
    if let Err(violation) = sim.finish() {
        panic!("at the end: {violation}");
    }
});
