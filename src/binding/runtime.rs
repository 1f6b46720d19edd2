//! The tokio runtime the connections run on.

use napi::bindgen_prelude::create_custom_tokio_runtime;

/// Sizes napi's tokio runtime when the addon loads: one worker thread unless
/// `MQTT_NATIVE_WORKER_THREADS` says otherwise. A client spends its time waiting on sockets; on
/// the 2-core machines we measure on, a second worker only added thread hand-offs (broker-free
/// receive went from 2.2–2.4 M to 2.9–3.3 M messages/s with one worker; BENCHMARKS.md).
#[napi_derive::module_init]
fn init_runtime() {
    let workers = std::env::var("MQTT_NATIVE_WORKER_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(1);
    // If the runtime cannot be built here, napi falls back to its default one.
    if let Ok(runtime) = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("mqtt-native")
        .enable_all()
        .build()
    {
        create_custom_tokio_runtime(runtime);
    }
}
