//! The N-API surface. Only this module imports `napi`.

mod batch;
mod client;
mod codec_api;
