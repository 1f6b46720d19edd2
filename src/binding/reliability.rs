//! N-API surface of the reliability features: the incoming packet size bound, and the crash-safe
//! persistence of a session's QoS 1/2 state (see `crate::persist`).

use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::client::Handle;

fn invalid(message: impl Into<String>) -> Error {
    Error::new(Status::InvalidArg, format!("INVALID|{}", message.into()))
}

/// Sets the largest incoming packet accepted from the next connection on (`maxIncomingPacketSize`);
/// it is enforced from the fixed header, before the body is buffered.
#[napi(
    catch_unwind,
    ts_args_type = "handle: ExternalObject<'MqttClient'>, max: number"
)]
pub fn client_set_max_incoming_packet_size(handle: &External<Handle>, max: u32) -> Result<()> {
    handle
        .client()
        .session
        .lock()
        .set_max_incoming_packet_size(max)
        .map_err(|e| invalid(e.message))
}
