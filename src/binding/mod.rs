//! The N-API surface. Only this module imports `napi`.

// The exported functions are only referenced by the generated N-API registration, which test
// builds leave out.
#![cfg_attr(test, allow(dead_code))]

mod args;
mod batch;
mod client;
mod codec_api;
mod counters;
mod reliability;
mod runtime;
mod stats;
mod stream;
