//! N-API surface of `client.getStatistics()`: one call that writes the session's figures into a
//! `Float64Array` the shim keeps per client (no object built in Rust, nothing allocated).

use napi_derive::napi;

use super::client::Handle;
use crate::session::Statistics;

/// How many numbers `clientStatistics` writes (the shim sizes its array with it).
#[napi]
pub const STATISTICS_LEN: u32 = Statistics::LEN as u32;

/// Writes the session's figures into `out` (at least `STATISTICS_LEN` numbers; a shorter array
/// is left as it is), in the order of `Statistics::write`: sent, sent bytes, received and
/// received bytes by QoS, resent, in flight (count, bytes), receive maximum, waiting (count,
/// bytes), inbound QoS 2 awaiting PUBREL, connected.
#[napi(
    catch_unwind,
    ts_args_type = "handle: ExternalObject<'MqttClient'>, out: Float64Array"
)]
pub fn client_statistics(
    handle: &napi::bindgen_prelude::External<Handle>,
    mut out: napi::bindgen_prelude::Float64Array,
) {
    let statistics = handle.client().session.lock().statistics();
    // SAFETY: a synchronous call on the JavaScript thread: no JavaScript runs, and so nothing
    // else touches the array, while it is written.
    statistics.write(unsafe { out.as_mut() });
}
