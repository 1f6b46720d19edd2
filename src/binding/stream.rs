//! The N-API surface of connections over a JavaScript stream (`src/driver/stream.rs`,
//! `lib/stream.js`): the shim opens a Node `Duplex`, starts the connection with
//! [`client_connect_stream`], and passes the stream's data and events back by connection id;
//! the driver writes to the stream, pauses it, holds, takes and releases its reads, ends and
//! destroys it through one JavaScript function, `port(op, bytes)`.

use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;
use serde::Deserialize;

use super::batch::{JsCallback, JsSink};
use super::client::{event_loop, Handle};
use crate::codec::{Auth, Connect};
use crate::driver::stream::StreamPort;
use crate::transport::{Endpoint, TransportError};

/// `port(op, bytes)` operations (exported to `lib/stream.js` by the same numbers).
mod op {
    pub const WRITE: u32 = 1;
    pub const PAUSE: u32 = 2;
    pub const RESUME: u32 = 3;
    pub const END: u32 = 4;
    pub const DESTROY: u32 = 5;
    pub const RELEASE_READS: u32 = 6;
    pub const TAKE_READS: u32 = 7;
}

/// The JavaScript `port` function of one stream connection.
struct JsPort {
    env: sys::napi_env,
    callback: JsCallback,
}

fn check(status: sys::napi_status) -> Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(Error::new(
            Status::from(status),
            "N-API call failed while writing to the stream".to_string(),
        ))
    }
}

impl JsPort {
    fn new(env: &Env, function: &Function<'_, FnArgs<(u32, Unknown<'_>)>, bool>) -> Result<Self> {
        let raw_env = env.raw();
        let callback = JsCallback::new(raw_env, function.raw(), "mqtt-native:stream")?;
        Ok(JsPort {
            env: raw_env,
            callback,
        })
    }

    /// Calls `port(op, bytes)` and returns what it returned, as a boolean (true when it
    /// returned something else or threw: the exception is reported as an uncaught one).
    fn call(&self, op: u32, bytes: Option<&[u8]>) -> bool {
        self.call_with(op, bytes, |env, result| {
            let mut value = true;
            // SAFETY: `result` is a value of this environment, inside the open handle scope.
            if unsafe { sys::napi_get_value_bool(env, result, &mut value) } != sys::Status::napi_ok
            {
                value = true;
            }
            value
        })
        .unwrap_or(true)
    }

    /// Calls `port(op, bytes)` and reads what it returned with `read`; None when it threw (the
    /// exception is reported as an uncaught one) or the environment is going away.
    fn call_with<T>(
        &self,
        op: u32,
        bytes: Option<&[u8]>,
        read: impl FnOnce(sys::napi_env, sys::napi_value) -> T,
    ) -> Option<T> {
        if crate::driver::is_shutting_down() {
            return None;
        }
        let mut scope = std::ptr::null_mut();
        // SAFETY: on the JavaScript thread (from a JavaScript call or a libuv callback); the
        // scope is closed below.
        unsafe {
            if sys::napi_open_handle_scope(self.env, &mut scope) != sys::Status::napi_ok {
                return None;
            }
        }
        let result = self
            .call_in_scope(op, bytes)
            .ok()
            .flatten()
            .map(|value| read(self.env, value));
        // SAFETY: the scope opened above.
        unsafe { sys::napi_close_handle_scope(self.env, scope) };
        result
    }

    fn call_in_scope(&self, op: u32, bytes: Option<&[u8]>) -> Result<Option<sys::napi_value>> {
        // SAFETY: N-API calls on the JavaScript thread inside the open handle scope.
        unsafe {
            let mut args = [std::ptr::null_mut(); 2];
            check(sys::napi_create_uint32(self.env, op, &mut args[0]))?;
            match bytes {
                Some(bytes) => {
                    let mut data = std::ptr::null_mut();
                    check(sys::napi_create_buffer_copy(
                        self.env,
                        bytes.len(),
                        bytes.as_ptr().cast(),
                        &mut data,
                        &mut args[1],
                    ))?;
                }
                None => check(sys::napi_get_undefined(self.env, &mut args[1]))?,
            }
            self.callback.call(&args)
        }
    }
}

impl StreamPort for JsPort {
    fn write(&self, bytes: &[u8]) -> bool {
        self.call(op::WRITE, Some(bytes))
    }

    fn set_reading(&self, reading: bool) {
        self.call(if reading { op::RESUME } else { op::PAUSE }, None);
    }

    fn release_reads(&self) {
        self.call(op::RELEASE_READS, None);
    }

    fn take_reads(&self) -> Option<i32> {
        self.call_with(op::TAKE_READS, None, |env, result| {
            let mut fd = -1;
            // SAFETY: `result` is a value of this environment, inside the open handle scope.
            if unsafe { sys::napi_get_value_int32(env, result, &mut fd) } != sys::Status::napi_ok {
                fd = -1;
            }
            fd
        })
        .filter(|fd| *fd >= 0)
    }

    fn end(&self, force: bool) {
        self.call(if force { op::DESTROY } else { op::END }, None);
    }
}

/// A stream failure as the shim reports it (from the Node error it got).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StreamError {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    syscall: Option<String>,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    port: Option<u16>,
}

/// The `port(op, bytes)` operation numbers, read by `lib/stream.js` when it loads.
#[napi(catch_unwind, ts_return_type = "Record<string, number>")]
pub fn stream_ops(env: &Env) -> Result<Unknown<'_>> {
    let ops: std::collections::BTreeMap<&str, u32> = [
        ("WRITE", op::WRITE),
        ("PAUSE", op::PAUSE),
        ("RESUME", op::RESUME),
        ("END", op::END),
        ("DESTROY", op::DESTROY),
        ("RELEASE_READS", op::RELEASE_READS),
        ("TAKE_READS", op::TAKE_READS),
    ]
    .into_iter()
    .collect();
    env.to_js_value(&ops)
}

/// Starts a connection over a JavaScript stream the shim has made, and writes CONNECT (and
/// `auth`) to it through `port`. `endpoint` is where the stream leads, for messages;
/// `diagnose` checks the first bytes for a protocol mix-up. Batches go to `onBatch`, as with
/// `clientConnect`. Returns the connection id that `streamFeed`, `streamDrain` and
/// `streamClosed` take.
#[napi(
    catch_unwind,
    ts_args_type = "handle: ExternalObject<'MqttClient'>, endpoint: object, diagnose: boolean, connect: object, auth: object | null | undefined, onBatch: (blob: Buffer, records: Uint32Array, extras: any[]) => void, port: (op: number, bytes?: Buffer) => boolean"
)]
#[allow(clippy::too_many_arguments)]
pub fn client_connect_stream(
    env: Env,
    handle: &External<Handle>,
    endpoint: Unknown<'_>,
    diagnose: bool,
    connect: Unknown<'_>,
    auth: Option<Unknown<'_>>,
    on_batch: Function<'_, FnArgs<(Unknown<'_>, Uint32Array, Unknown<'_>)>, ()>,
    port: Function<'_, FnArgs<(u32, Unknown<'_>)>, bool>,
) -> Result<u32> {
    let endpoint: Endpoint = env.from_js_value(endpoint)?;
    let connect: Connect = env.from_js_value(connect)?;
    let auth: Option<Auth> = super::args::optional(&env, auth)?;
    let port = JsPort::new(&env, &port)?;
    let uv_loop = event_loop(&env)?;
    let sink = JsSink::new(&env, uv_loop, &on_batch, connect.protocol_version)?;
    // SAFETY: `uv_loop` is this thread's running loop (from `napi_get_uv_event_loop`).
    let started = unsafe {
        handle.client().connect_stream(
            uv_loop,
            endpoint,
            diagnose,
            connect,
            auth,
            Box::new(sink),
            Box::new(port),
        )
    };
    started.map_err(|why| {
        Error::new(
            Status::GenericFailure,
            format!("UNSUPPORTED|mqtt-native cannot run its connections here: {why}"),
        )
    })
}

/// The stream of connection `id` emitted `chunk` ('data'). Returns whether the shim should
/// hold the socket under the stream from reading until `port(RELEASE_READS)` (lazy reads).
#[napi(
    catch_unwind,
    ts_args_type = "handle: ExternalObject<'MqttClient'>, id: number, chunk: Uint8Array"
)]
pub fn stream_feed(handle: &External<Handle>, id: u32, chunk: &[u8]) -> bool {
    handle.client().stream_feed(id, chunk)
}

/// Something else now reads the stream of connection `id` (a `'data'` or `'readable'`
/// listener, or a pause): the driver gives its socket's reads back to Node if it took them.
#[napi(
    catch_unwind,
    ts_args_type = "handle: ExternalObject<'MqttClient'>, id: number"
)]
pub fn stream_return_reads(handle: &External<Handle>, id: u32) {
    handle.client().stream_return_reads(id);
}

/// The stream of connection `id` emitted 'drain'.
#[napi(
    catch_unwind,
    ts_args_type = "handle: ExternalObject<'MqttClient'>, id: number"
)]
pub fn stream_drain(handle: &External<Handle>, id: u32) {
    handle.client().stream_drain(id);
}

/// The stream of connection `id` ended, closed, or failed with `error` (`{ code, message,
/// syscall, address, port }` from the Node error).
#[napi(
    catch_unwind,
    ts_args_type = "handle: ExternalObject<'MqttClient'>, id: number, error?: object | null"
)]
pub fn stream_closed(
    env: Env,
    handle: &External<Handle>,
    id: u32,
    error: Option<Unknown<'_>>,
) -> Result<()> {
    let error = super::args::optional::<StreamError>(&env, error)?.map(|e| {
        let code = e.code.unwrap_or_else(|| "ERR_MQTT_STREAM".to_string());
        TransportError {
            message: e.message.unwrap_or_else(|| code.clone()),
            code,
            syscall: e.syscall.unwrap_or_default(),
            address: e.address,
            port: e.port,
        }
    });
    handle.client().stream_closed(id, error);
    Ok(())
}
