//! Direct access to the codec from JavaScript, for `lib/packet.js` and the differential tests.

use bytes::BytesMut;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::codec::{self, Limits, Packet, ProtocolVersion};

fn version_from(level: u32) -> Result<ProtocolVersion> {
    u8::try_from(level)
        .ok()
        .and_then(|l| ProtocolVersion::try_from(l).ok())
        .ok_or_else(|| {
            Error::new(
                Status::InvalidArg,
                format!("unsupported protocol version {level}"),
            )
        })
}

/// Decodes exactly one whole packet from `bytes` and returns it as a plain object
/// (the codec's serde shape; `lib/packet.js` turns it into an mqtt-packet object).
/// Throws with `code` `'MQTT_MALFORMED'` when the bytes are not exactly one valid packet.
#[napi(catch_unwind)]
pub fn decode_packet(env: Env, bytes: &[u8], protocol_version: u32) -> Result<Unknown<'_>> {
    let version = version_from(protocol_version)?;
    let mut buf = BytesMut::from(bytes);
    match codec::decode(&mut buf, version, &Limits::default()) {
        Ok(Some(packet)) if buf.is_empty() => env.to_js_value(&packet),
        Ok(Some(_)) => Err(Error::new(
            Status::InvalidArg,
            "trailing bytes after the packet".to_string(),
        )),
        Ok(None) => Err(Error::new(
            Status::InvalidArg,
            "incomplete packet".to_string(),
        )),
        Err(e) => Err(Error::new(Status::InvalidArg, e.message().to_string())),
    }
}

/// Encodes a packet given in the codec's serde shape for `protocol_version`.
#[napi(catch_unwind)]
pub fn encode_packet(env: Env, packet: Unknown<'_>, protocol_version: u32) -> Result<Buffer> {
    let version = version_from(protocol_version)?;
    let packet: Packet = env.from_js_value(packet)?;
    let mut out = BytesMut::new();
    codec::encode(&packet, version, &mut out)
        .map_err(|e| Error::new(Status::InvalidArg, e.message().to_string()))?;
    Ok(out.to_vec().into())
}
