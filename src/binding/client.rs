//! The client's N-API surface: free functions taking a client handle (DESIGN.md §2).
//!
//! Hot calls (`publish`) take scalars and a borrowed payload; rare ones take plain objects in the
//! codec's serde shape, produced by `lib/packet.js`. Errors thrown from here carry a string
//! `code` (`NOT_CONNECTED`, `INVALID`, …) that the shim maps to MQTT.js's errors.

use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde::Deserialize;

use super::args;
use super::batch::JsSink;
use crate::codec::{
    Auth, Connect, Disconnect, Properties, ProtocolVersion, Publish, QoS, Subscribe, Unsubscribe,
};
use crate::driver::{self, Client};
use crate::session::{AppAck, Session, SessionError, SessionOptions};
use crate::transport::{Endpoint, ResolvedHost, TransportError};

/// What JavaScript holds: the client (it lives on the JavaScript thread that created it).
pub struct Handle {
    client: Rc<Client>,
}

/// Session settings, as the shim derives them from MQTT.js's options.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClientConfig {
    protocol_version: ProtocolVersion,
    #[serde(default = "default_connect_timeout")]
    connect_timeout: u32,
    #[serde(default = "default_true")]
    reschedule_pings: bool,
    #[serde(default = "default_max_inflight")]
    max_inflight: u16,
    #[serde(default = "default_max_inflight_qos2")]
    max_inflight_qos2: u16,
    #[serde(default)]
    app_acks: bool,
    #[serde(default)]
    report_pubrec: bool,
    #[serde(default)]
    auto_use_topic_alias: bool,
    #[serde(default)]
    auto_assign_topic_alias: bool,
    #[serde(default)]
    report_keepalive: bool,
    #[serde(default)]
    external_connect_timer: bool,
}

fn default_connect_timeout() -> u32 {
    30_000
}
fn default_true() -> bool {
    true
}
fn default_max_inflight() -> u16 {
    SessionOptions::default().max_inflight
}
fn default_max_inflight_qos2() -> u16 {
    SessionOptions::default().max_inflight_qos2
}

fn error(e: SessionError) -> Error {
    Error::new(Status::GenericFailure, format!("{}|{}", e.code, e.message))
}

/// Runs a session command and wakes the connection to send what it queued.
fn command(
    handle: &Handle,
    run: impl FnOnce(&mut Session) -> std::result::Result<(), SessionError>,
) -> Result<()> {
    run(&mut handle.client.session.lock()).map_err(error)?;
    handle.client.wake();
    Ok(())
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(Status::InvalidArg, format!("INVALID|{}", message.into()))
}

/// Creates a client with no connection. `config`: `{ protocolVersion, connectTimeout,
/// reschedulePings, maxInflight, maxInflightQos2, appAcks, reportPubrec, autoUseTopicAlias,
/// autoAssignTopicAlias, reportKeepalive, externalConnectTimer }`.
#[napi(catch_unwind, ts_return_type = "ExternalObject<'MqttClient'>")]
pub fn create_client(env: Env, config: Unknown<'_>) -> Result<External<Handle>> {
    let config: ClientConfig = env.from_js_value(config)?;
    let options = SessionOptions {
        connect_timeout: Duration::from_millis(u64::from(config.connect_timeout)),
        reschedule_pings: config.reschedule_pings,
        max_inflight: config.max_inflight.max(1),
        max_inflight_qos2: config.max_inflight_qos2.max(1),
        packet_events: false,
        app_acks: config.app_acks,
        report_pubrec: config.report_pubrec,
        auto_use_topic_alias: config.auto_use_topic_alias,
        auto_assign_topic_alias: config.auto_assign_topic_alias,
        report_keepalive: config.report_keepalive,
        external_connect_timer: config.external_connect_timer,
    };
    let session = Session::new(config.protocol_version, options);
    Ok(External::new(Handle {
        client: Client::new(session),
    }))
}

/// Opens a connection: `endpoint` `{ protocol, host, port, unixPath? }`, `connect` a CONNECT
/// packet, `auth` an optional first AUTH packet; batches go to `onBatch(blob, records, extras)`,
/// called from the connection's own libuv callbacks on this thread.
#[napi(
    catch_unwind,
    ts_args_type = "handle: ExternalObject<'MqttClient'>, endpoint: object, connect: object, auth: object | null | undefined, onBatch: (blob: Buffer, records: Uint32Array, extras: any[]) => void"
)]
pub fn client_connect(
    env: Env,
    handle: &External<Handle>,
    endpoint: Unknown<'_>,
    connect: Unknown<'_>,
    auth: Option<Unknown<'_>>,
    on_batch: Function<'_, FnArgs<(Unknown<'_>, Uint32Array, Unknown<'_>)>, ()>,
) -> Result<()> {
    let endpoint: Endpoint = env.from_js_value(endpoint)?;
    let connect: Connect = env.from_js_value(connect)?;
    let auth: Option<Auth> = args::optional(&env, auth)?;
    let uv_loop = event_loop(&env)?;
    let sink = JsSink::new(&env, uv_loop, &on_batch, connect.protocol_version)?;
    let connect_timeout = handle.client.session.lock().connect_deadline();
    let client = handle.client.clone();
    let mut started = Ok(());
    napi::bindgen_prelude::within_runtime_if_available(|| {
        // SAFETY: `uv_loop` is this thread's running loop (from `napi_get_uv_event_loop`).
        started = unsafe {
            client.connect(
                uv_loop,
                endpoint,
                connect,
                auth,
                Box::new(sink),
                connect_timeout,
            )
        };
    });
    started.map_err(|why| {
        Error::new(
            Status::GenericFailure,
            format!("UNSUPPORTED|mqtt-native cannot run its connections here: {why}"),
        )
    })
}

/// Why the shim could not resolve the attempt's host name (Node's `dns.lookup` error).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DialFailure {
    code: String,
    message: String,
    #[serde(default)]
    syscall: Option<String>,
    #[serde(default)]
    address: Option<String>,
}

/// Dials the attempt `clientConnect` started, once the shim has resolved its host names with
/// Node's resolver: `resolved` `[{ host, addresses }]`; or fails it with `failure`
/// `{ code, message, syscall?, address? }` (a name that did not resolve), reported as an
/// `error` and a `close` like any failure to open. Returns false when that attempt is gone
/// (ended or replaced meanwhile).
#[napi(
    catch_unwind,
    ts_args_type = "handle: ExternalObject<'MqttClient'>, resolved: Array<{ host: string, addresses: string[] }> | null, failure?: object | null",
    ts_return_type = "boolean"
)]
pub fn client_dial(
    env: Env,
    handle: &External<Handle>,
    resolved: Option<Unknown<'_>>,
    failure: Option<Unknown<'_>>,
) -> Result<bool> {
    if let Some(failure) = args::optional::<DialFailure>(&env, failure)? {
        let error = TransportError {
            code: failure.code,
            syscall: failure.syscall.unwrap_or_default(),
            message: failure.message,
            address: failure.address,
            port: None,
        };
        return Ok(handle.client.dial_failed(error));
    }
    let resolved: Vec<ResolvedHost> = args::optional(&env, resolved)?.unwrap_or_default();
    let client = handle.client.clone();
    let mut dialed = false;
    napi::bindgen_prelude::within_runtime_if_available(|| {
        dialed = client.dial(resolved);
    });
    Ok(dialed)
}

/// This thread's libuv loop, and (once per thread) the hook that closes our connections when
/// the environment is torn down (a worker that exits, the process at exit).
pub(super) fn event_loop(env: &Env) -> Result<*mut driver::uv::Loop> {
    thread_local! {
        static HOOKED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    let mut uv_loop = std::ptr::null_mut();
    // SAFETY: a plain N-API call on the JavaScript thread.
    let status = unsafe { napi::sys::napi_get_uv_event_loop(env.raw(), &mut uv_loop) };
    if status != napi::sys::Status::napi_ok || uv_loop.is_null() {
        return Err(Error::new(
            Status::GenericFailure,
            "UNSUPPORTED|mqtt-native needs Node.js's libuv event loop, which this runtime does \
             not provide"
                .to_string(),
        ));
    }
    if !HOOKED.with(|h| h.replace(true)) {
        unsafe extern "C" fn on_teardown(_: *mut std::ffi::c_void) {
            let _ = std::panic::catch_unwind(driver::shutdown_thread);
        }
        // SAFETY: registering a hook without data on this environment.
        unsafe {
            napi::sys::napi_add_env_cleanup_hook(
                env.raw(),
                Some(on_teardown),
                std::ptr::null_mut(),
            );
        }
    }
    Ok(uv_loop.cast())
}

/// Publishes. `flags`: bits 0–1 QoS, bit 2 retain, bit 3 dup. `messageId` is 0 for QoS 0, and
/// 0 for a QoS 1/2 publish that the session numbers when it is first sent (MQTT 5 §2.2.1).
/// The packet is queued; `clientFlush` sends it. Returns the packet identifier a QoS 1/2
/// publish is written with now, or 0 when it waits for room in the flow-control window (or for
/// a connection) instead: a `packetsend` record follows when it is written, after a `numbered`
/// record when the session gives it its identifier. QoS 0 returns 1.
/// Throws `NOT_CONNECTED|…` for QoS 0 without a connection (the shim queues it).
#[napi(
    catch_unwind,
    ts_args_type = "handle: ExternalObject<'MqttClient'>, topic: string, payload: Uint8Array, flags: number, messageId: number, properties?: object | null",
    ts_return_type = "number"
)]
pub fn client_publish(
    env: Env,
    handle: &External<Handle>,
    topic: Unknown<'_>,
    payload: Unknown<'_>,
    flags: u32,
    message_id: u32,
    properties: Option<Unknown<'_>>,
) -> Result<u32> {
    let qos = QoS::try_from((flags & 0b11) as u8).map_err(invalid)?;
    let message_id = u16::try_from(message_id)
        .map_err(|_| invalid(format!("message id {message_id} is out of range")))?;
    let properties: Properties = args::optional(&env, properties)?.unwrap_or_default();
    let payload = args::bytes(&env, &payload)?;
    let (retain, dup) = (flags & 0b100 != 0, flags & 0b1000 != 0);
    let mut session = handle.client.session.lock();
    args::with_str(&env, &topic, |topic| {
        if qos == QoS::AtMostOnce
            && properties.is_empty()
            && session
                .publish_qos0(topic, payload, retain, dup)
                .map_err(error)?
        {
            return Ok(1);
        }
        let publish = Publish {
            dup,
            qos,
            retain,
            topic: topic.to_string(),
            message_id,
            payload: Bytes::copy_from_slice(payload),
            properties,
        };
        let sent_as = session.publish(publish).map_err(error)?;
        // No wake-up here: the shim calls `clientFlush` once per tick, so a burst of
        // publishes leaves in one write (as MQTT.js corks its socket).
        Ok(if qos == QoS::AtMostOnce {
            1
        } else {
            u32::from(sent_as)
        })
    })?
}

/// A packet identifier no exchange uses now, for a SUBSCRIBE or UNSUBSCRIBE about to be made
/// (MQTT 5 §2.2.1); publishes numbered by the session go round the same counter. `null` when
/// all 65,535 are in use.
#[napi(catch_unwind, ts_args_type = "handle: ExternalObject<'MqttClient'>")]
pub fn client_next_message_id(handle: &External<Handle>) -> Option<u32> {
    handle
        .client
        .session
        .lock()
        .next_message_id()
        .map(u32::from)
}

/// The topic an outgoing Topic Alias stands for (the current connection's, or offline the last
/// one's), or null: the shim restores an offline alias-only publish with it, as MQTT.js does.
#[napi(
    catch_unwind,
    ts_args_type = "handle: ExternalObject<'MqttClient'>, alias: number",
    ts_return_type = "string | null"
)]
pub fn client_topic_of_alias(handle: &External<Handle>, alias: u32) -> Option<String> {
    let alias = u16::try_from(alias).ok()?;
    handle.client.session.lock().topic_of_alias(alias)
}

/// Wakes the connection to write what the session has queued (once per JavaScript tick).
#[napi(catch_unwind, ts_args_type = "handle: ExternalObject<'MqttClient'>")]
pub fn client_flush(handle: &External<Handle>) {
    handle.client.wake();
}

/// Sends a SUBSCRIBE packet (codec shape). Throws `NOT_CONNECTED|…` without a connection.
#[napi(
    catch_unwind,
    ts_args_type = "handle: ExternalObject<'MqttClient'>, packet: object"
)]
pub fn client_subscribe(env: Env, handle: &External<Handle>, packet: Unknown<'_>) -> Result<()> {
    let subscribe: Subscribe = env.from_js_value(packet)?;
    command(handle, |session| session.subscribe(subscribe))
}

/// Sends an UNSUBSCRIBE packet (codec shape). Throws `NOT_CONNECTED|…` without a connection.
#[napi(
    catch_unwind,
    ts_args_type = "handle: ExternalObject<'MqttClient'>, packet: object"
)]
pub fn client_unsubscribe(env: Env, handle: &External<Handle>, packet: Unknown<'_>) -> Result<()> {
    let unsubscribe: Unsubscribe = env.from_js_value(packet)?;
    command(handle, |session| session.unsubscribe(unsubscribe))
}

/// Sends an AUTH packet (codec shape).
#[napi(
    catch_unwind,
    ts_args_type = "handle: ExternalObject<'MqttClient'>, packet: object"
)]
pub fn client_auth(env: Env, handle: &External<Handle>, packet: Unknown<'_>) -> Result<()> {
    let auth: Auth = env.from_js_value(packet)?;
    command(handle, |session| session.auth(auth))
}

/// Ends the current connection. Without `force`, sends `disconnect` (a DISCONNECT packet in
/// codec shape, if given and connected) and closes once it is written; with `force`, closes at
/// once. Returns whether a connection existed (a `close` record will follow).
#[napi(
    catch_unwind,
    ts_args_type = "handle: ExternalObject<'MqttClient'>, force: boolean, disconnect?: object | null"
)]
pub fn client_end(
    env: Env,
    handle: &External<Handle>,
    force: bool,
    disconnect: Option<Unknown<'_>>,
) -> Result<bool> {
    if !force {
        if let Some(disconnect) = args::optional::<Disconnect>(&env, disconnect)? {
            let mut session = handle.client.session.lock();
            if session.is_connected() {
                let _ = session.disconnect(disconnect);
            }
        }
    }
    Ok(handle.client.close(force))
}

/// Sends the acks the application owes, given as triples `kind, messageId, reasonCode`
/// (kind 1 PUBACK, 2 PUBREC, 3 PUBCOMP), in order, with one wake-up of the connection.
#[napi(
    catch_unwind,
    ts_args_type = "handle: ExternalObject<'MqttClient'>, acks: Uint32Array"
)]
pub fn client_ack(handle: &External<Handle>, acks: &[u32]) {
    {
        let mut session = handle.client.session.lock();
        for triple in acks.chunks_exact(3) {
            let (Some(kind), Ok(id), Ok(code)) = (
                AppAck::from_code(triple[0]),
                u16::try_from(triple[1]),
                u8::try_from(triple[2]),
            ) else {
                continue;
            };
            session.acknowledge(kind, id, code);
        }
    }
    handle.client.wake();
}

/// Chooses whether JavaScript sends the acks of inbound messages (`clientAck`) or the session
/// sends them at once.
#[napi(
    catch_unwind,
    ts_args_type = "handle: ExternalObject<'MqttClient'>, on: boolean"
)]
pub fn client_set_app_acks(handle: &External<Handle>, on: bool) {
    handle.client.session.lock().set_app_acks(on);
}

/// Stops or resumes reading from the connection (back-pressure from `handleMessage`).
#[napi(
    catch_unwind,
    ts_args_type = "handle: ExternalObject<'MqttClient'>, reading: boolean"
)]
pub fn client_set_reading(handle: &External<Handle>, reading: bool) {
    handle.client.set_reading(reading);
}

/// Turns `packetsend`/`packetreceive` records on or off.
#[napi(
    catch_unwind,
    ts_args_type = "handle: ExternalObject<'MqttClient'>, on: boolean"
)]
pub fn client_set_packet_events(handle: &External<Handle>, on: bool) {
    handle.client.session.lock().set_packet_events(on);
}

/// Holds (`true`) or lifts (`false`) the sending of QoS 1/2 publishes after the next CONNACK
/// (see `Session::hold_resend`); lifting writes what it lets go.
#[napi(
    catch_unwind,
    ts_args_type = "handle: ExternalObject<'MqttClient'>, hold: boolean"
)]
pub fn client_hold_resend(handle: &External<Handle>, hold: bool) {
    handle.client.session.lock().hold_resend(hold);
    if !hold {
        handle.client.wake();
    }
}

/// Takes back a QoS 2 exchange at the PUBREL stage from an application store.
/// Returns false when the id is already in use.
#[napi(
    catch_unwind,
    ts_args_type = "handle: ExternalObject<'MqttClient'>, messageId: number"
)]
pub fn client_restore_pubrel(handle: &External<Handle>, message_id: u32) -> bool {
    let Ok(id) = u16::try_from(message_id) else {
        return false;
    };
    let restored = handle.client.session.lock().restore_pubrel(id);
    handle.client.wake();
    restored
}

/// Forgets an outgoing QoS 1/2 publish. Returns whether it was known.
#[napi(
    catch_unwind,
    ts_args_type = "handle: ExternalObject<'MqttClient'>, messageId: number"
)]
pub fn client_remove_outgoing(handle: &External<Handle>, message_id: u32) -> bool {
    match u16::try_from(message_id) {
        Ok(id) => handle.client.session.lock().remove_outgoing(id),
        Err(_) => false,
    }
}

/// Drops every outgoing QoS 1/2 publish; returns their message ids.
#[napi(catch_unwind, ts_args_type = "handle: ExternalObject<'MqttClient'>")]
pub fn client_clear_outgoing(handle: &External<Handle>) -> Vec<u32> {
    handle
        .client
        .session
        .lock()
        .clear_outgoing()
        .into_iter()
        .map(u32::from)
        .collect()
}

/// Sends a PINGREQ now (MQTT.js `sendPing()`). Throws `NOT_CONNECTED|…` without a connection.
#[napi(catch_unwind, ts_args_type = "handle: ExternalObject<'MqttClient'>")]
pub fn client_send_ping(handle: &External<Handle>) -> Result<()> {
    command(handle, |session| session.ping())
}

/// Restarts the keepalive countdown (MQTT.js `keepaliveManager.reschedule()`).
#[napi(catch_unwind, ts_args_type = "handle: ExternalObject<'MqttClient'>")]
pub fn client_reschedule_keepalive(handle: &External<Handle>) {
    let now = std::time::Instant::now();
    handle.client.session.lock().reschedule_keepalive(now);
    handle.client.rearm();
}

/// Stops keepalive until the next connection (MQTT.js `keepaliveManager.destroy()`).
#[napi(catch_unwind, ts_args_type = "handle: ExternalObject<'MqttClient'>")]
pub fn client_stop_keepalive(handle: &External<Handle>) {
    handle.client.session.lock().stop_keepalive();
    handle.client.rearm();
}

/// The shim's `connectTimeout` timer fired (MQTT.js `_onConnackTimeout()`; the client was made
/// with `externalConnectTimer`): the attempt fails with `ETIMEDOUT` if it is still opening,
/// else with 'connack timeout', as when the driver's own deadline passes.
#[napi(catch_unwind, ts_args_type = "handle: ExternalObject<'MqttClient'>")]
pub fn client_connect_timeout(handle: &External<Handle>) {
    handle.client.expire_connect();
}

/// Gives up on a silent broker (MQTT.js `onKeepaliveTimeout()`, from the shim's keepalive
/// timer): the session reports 'Keepalive timeout' and the connection closes on the next loop
/// turn, exactly as when the session's own countdown runs out.
#[napi(catch_unwind, ts_args_type = "handle: ExternalObject<'MqttClient'>")]
pub fn client_keepalive_timeout(handle: &External<Handle>) {
    let now = std::time::Instant::now();
    handle.client.session.lock().expire_keepalive(now);
    handle.client.rearm();
}

impl Handle {
    /// The shared client, for the binding's other modules.
    pub(super) fn client(&self) -> &Rc<Client> {
        &self.client
    }
}
