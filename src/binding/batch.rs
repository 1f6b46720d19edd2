//! Event batches for JavaScript (DESIGN.md §2).
//!
//! The driver appends events to a pending [`Batch`] and delivers it, synchronously, from the
//! libuv callback that produced it ([`JsSink`]). A batch crosses as one `Buffer` (topics and payloads back to
//! back), one `Uint32Array` of fixed-width records, and one array of plain objects for the rare
//! events that need them (packets for `packetsend`/`packetreceive`, properties, errors).
//!
//! Record layout, [`RECORD_WIDTH`] `u32`s: `kind, a, b, c, topicOffset, topicLength,
//! payloadOffset, payloadLength, extra` where `extra` indexes the object array (or is
//! [`NO_EXTRA`]). `lib/batch.js` reads the layout from [`batch_layout`] when the addon loads, so
//! the two sides share this one definition.

use std::cell::{Cell, RefCell};

use napi::bindgen_prelude::*;
use napi::{sys, JsValue};
use serde::Serialize;

use crate::codec::{self, Packet, Properties, ProtocolVersion, Publish, QoS};
use crate::driver::{DriverEvent, EventSink};
use crate::session::{AckKind, AppAck, Event};
use crate::transport::TransportError;

/// Number of `u32` fields per record.
pub const RECORD_WIDTH: usize = 9;
/// `extra` value of a record without an object.
pub const NO_EXTRA: u32 = u32::MAX;

/// Record kinds (exported to `lib/batch.js` by [`batch_layout`]).
mod kind {
    pub const MESSAGE: u32 = 1;
    pub const CONNACK: u32 = 2;
    pub const ACK: u32 = 3;
    pub const PACKET_RECEIVE: u32 = 4;
    pub const PACKET_SEND: u32 = 5;
    pub const DISCONNECT: u32 = 6;
    pub const AUTH: u32 = 7;
    pub const ERROR: u32 = 8;
    pub const CLOSE: u32 = 9;
    pub const RELEASED: u32 = 10;
    /// A publish accepted without an identifier got one as it was first sent (`b`).
    pub const NUMBERED: u32 = 11;
    /// Received packets restarted the keepalive countdown (`a`: 1 when a PINGRESP was among
    /// them; `b`: how many acks did); at most one per batch.
    pub const KEEPALIVE: u32 = 12;
}

/// The `a` field of an `ACK` record: which acknowledgement completed an outgoing packet
/// (exported to `lib/batch.js` by [`batch_layout`]).
mod ack_code {
    pub const PUBACK: u32 = 1;
    pub const PUBREC: u32 = 2;
    pub const PUBCOMP: u32 = 3;
    pub const SUBACK: u32 = 4;
    pub const UNSUBACK: u32 = 5;
    /// A successful PUBREC: the exchange goes on with PUBREL (reported for the outgoing store).
    pub const PUBREC_RECEIVED: u32 = 6;
}

/// Bits of the `a` field of a `MESSAGE` record.
mod message_flag {
    pub const QOS_MASK: u32 = 0b11;
    pub const RETAIN: u32 = 1 << 2;
    pub const DUP: u32 = 1 << 3;
    /// Bits 4-5: the [`AppAck`](crate::session::AppAck) code of the ack owed.
    pub const ACK_SHIFT: u32 = 4;
    /// Set when the session has already sent the ack.
    pub const ACKED: u32 = 1 << 6;
    /// Set when the topic came from a Topic Alias (the PUBLISH had an empty topic).
    pub const TOPIC_FROM_ALIAS: u32 = 1 << 7;
}

/// An object that travels beside the records.
#[derive(Serialize)]
#[serde(untagged)]
enum Extra {
    Packet(Packet),
    Properties(Properties),
    Error(ErrorInfo),
}

/// An error as JavaScript will build it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorInfo {
    code: String,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason_code: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    syscall: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    port: Option<u16>,
    /// `"session"` or `"transport"`.
    source: &'static str,
}

/// Events accumulated since the last delivery.
#[derive(Default)]
pub struct Batch {
    blob: Vec<u8>,
    records: Vec<u32>,
    extras: Vec<Extra>,
    /// Where the last message's topic is in `blob`: a message on the same topic points there
    /// too, and JavaScript reuses the string it made for it (a flood is mostly one topic).
    last_topic: Option<(u32, u32)>,
    /// Where this batch's KEEPALIVE record starts in `records`: later restarts fold into it,
    /// so a flood of acks costs JavaScript one timer reset per batch, not one per ack.
    keepalive_record: Option<usize>,
}

/// Blobs up to this size are copied into a V8-owned Buffer; larger ones are handed over.
const COPY_LIMIT: usize = 64 * 1024;

/// Batches larger than this are delivered before reading more, so that one callback cannot
/// hold the event loop for long.
const MAX_BATCH_BYTES: usize = 1024 * 1024;

/// The most room a connection's blob keeps after a small batch.
const MAX_IDLE_BLOB: usize = 4 * COPY_LIMIT;

impl Batch {
    fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Drops every pending event.
    fn clear(&mut self) {
        self.blob.clear();
        self.records.clear();
        self.extras.clear();
        self.keepalive_record = None;
    }

    fn extra(&mut self, extra: Extra) -> u32 {
        self.extras.push(extra);
        u32::try_from(self.extras.len() - 1).unwrap_or(NO_EXTRA)
    }

    /// Appends `bytes` to the blob and returns (offset, length).
    fn bytes(&mut self, bytes: &[u8]) -> (u32, u32) {
        let offset = self.blob.len();
        self.blob.extend_from_slice(bytes);
        (to_u32(offset), to_u32(bytes.len()))
    }

    /// Appends a topic to the blob, unless it is the previous message's topic, which is reused.
    fn topic(&mut self, topic: &[u8]) -> (u32, u32) {
        if let Some((offset, len)) = self.last_topic {
            let at = offset as usize;
            if self.blob.get(at..at + len as usize) == Some(topic) {
                return (offset, len);
            }
        }
        let placed = self.bytes(topic);
        self.last_topic = Some(placed);
        placed
    }

    fn record(&mut self, fields: [u32; RECORD_WIDTH]) {
        self.records.extend_from_slice(&fields);
    }

    fn push_message(
        &mut self,
        publish: Publish,
        ack: AppAck,
        acked: bool,
        topic_from_alias: bool,
        version: ProtocolVersion,
    ) {
        let mut length = publish_length(&publish, version);
        if topic_from_alias {
            // The topic was not on the wire: the remaining length was shorter by its bytes.
            length = length.saturating_sub(to_u32(publish.topic.len()));
        }
        let mut flags = u32::from(u8::from(publish.qos)) | ack.code() << message_flag::ACK_SHIFT;
        if publish.retain {
            flags |= message_flag::RETAIN;
        }
        if publish.dup {
            flags |= message_flag::DUP;
        }
        if acked {
            flags |= message_flag::ACKED;
        }
        if topic_from_alias {
            flags |= message_flag::TOPIC_FROM_ALIAS;
        }
        let (topic_off, topic_len) = self.topic(publish.topic.as_bytes());
        let (payload_off, payload_len) = self.bytes(&publish.payload);
        let extra = if publish.properties.is_empty() {
            NO_EXTRA
        } else {
            self.extra(Extra::Properties(publish.properties))
        };
        self.record([
            kind::MESSAGE,
            flags,
            u32::from(publish.message_id),
            length,
            topic_off,
            topic_len,
            payload_off,
            payload_len,
            extra,
        ]);
    }

    fn push_packet(&mut self, kind: u32, packet: Packet, version: ProtocolVersion) {
        let length = packet_length(&packet, version);
        let extra = self.extra(Extra::Packet(packet));
        self.record([kind, 0, 0, length, 0, 0, 0, 0, extra]);
    }

    fn push_ack(&mut self, ack_kind: AckKind, packet: Packet, version: ProtocolVersion) {
        let code = match ack_kind {
            AckKind::PubAck => ack_code::PUBACK,
            AckKind::PubRec => ack_code::PUBREC,
            AckKind::PubComp => ack_code::PUBCOMP,
            AckKind::SubAck => ack_code::SUBACK,
            AckKind::UnsubAck => ack_code::UNSUBACK,
            AckKind::PubRecReceived => ack_code::PUBREC_RECEIVED,
        };
        let (message_id, reason_code, plain) = match &packet {
            Packet::Puback(a) | Packet::Pubrec(a) | Packet::Pubcomp(a) => {
                (a.message_id, a.reason_code, a.properties.is_empty())
            }
            Packet::Suback(a) => (a.message_id, 0, false),
            Packet::Unsuback(a) => (a.message_id, 0, false),
            _ => (0, 0, false),
        };
        let length = packet_length(&packet, version);
        // A plain successful PUBACK/PUBCOMP (the hot path) needs no object.
        let extra = if plain && reason_code == 0 {
            NO_EXTRA
        } else {
            self.extra(Extra::Packet(packet))
        };
        self.record([
            kind::ACK,
            code,
            u32::from(message_id),
            length,
            u32::from(reason_code),
            0,
            0,
            0,
            extra,
        ]);
    }

    /// A PINGRESP (`forced`) or an ack restarted the keepalive countdown. JavaScript calls
    /// `reschedulePing` once per restart, as MQTT.js does per packet, from one record.
    fn push_keepalive(&mut self, forced: bool) {
        let (pingresp, acks) = if forced { (1, 0) } else { (0, 1) };
        if let Some(at) = self.keepalive_record {
            if let Some(fields) = self.records.get_mut(at + 1..at + 3) {
                fields[0] |= pingresp;
                fields[1] = fields[1].saturating_add(acks);
                return;
            }
        }
        self.keepalive_record = Some(self.records.len());
        self.record([kind::KEEPALIVE, pingresp, acks, 0, 0, 0, 0, 0, NO_EXTRA]);
    }

    fn push_error(&mut self, info: ErrorInfo) {
        let extra = self.extra(Extra::Error(info));
        self.record([kind::ERROR, 0, 0, 0, 0, 0, 0, 0, extra]);
    }

    fn push(&mut self, event: DriverEvent, version: ProtocolVersion) {
        match event {
            DriverEvent::Session(Event::Message {
                publish,
                ack,
                acked,
                topic_from_alias,
            }) => self.push_message(publish, ack, acked, topic_from_alias, version),
            DriverEvent::Session(Event::ConnAck(ack)) => {
                self.push_packet(kind::CONNACK, Packet::Connack(ack), version)
            }
            DriverEvent::Session(Event::Ack {
                kind: ack_kind,
                packet,
            }) => self.push_ack(ack_kind, packet, version),
            DriverEvent::Session(Event::PacketReceived(packet)) => {
                self.push_packet(kind::PACKET_RECEIVE, packet, version)
            }
            DriverEvent::Session(Event::PacketSent(packet)) => {
                self.push_packet(kind::PACKET_SEND, packet, version)
            }
            DriverEvent::Session(Event::Disconnect(d)) => {
                self.push_packet(kind::DISCONNECT, Packet::Disconnect(d), version)
            }
            DriverEvent::Session(Event::Auth(a)) => {
                self.push_packet(kind::AUTH, Packet::Auth(a), version)
            }
            DriverEvent::Session(Event::Error(error)) => self.push_error(ErrorInfo {
                code: error.code.to_string(),
                message: error.message.into_owned(),
                reason_code: error.reason_code,
                syscall: None,
                address: None,
                port: None,
                source: "session",
            }),
            DriverEvent::Session(Event::Released { message_id }) => self.record([
                kind::RELEASED,
                0,
                u32::from(message_id),
                0,
                0,
                0,
                0,
                0,
                NO_EXTRA,
            ]),
            DriverEvent::Session(Event::Numbered { message_id }) => self.record([
                kind::NUMBERED,
                0,
                u32::from(message_id),
                0,
                0,
                0,
                0,
                0,
                NO_EXTRA,
            ]),
            DriverEvent::Session(Event::KeepaliveRestart { forced }) => self.push_keepalive(forced),
            DriverEvent::Transport(error) => self.push_error(transport_error_info(error)),
            DriverEvent::Closed => self.record([kind::CLOSE, 0, 0, 0, 0, 0, 0, 0, NO_EXTRA]),
        }
    }
}

fn transport_error_info(error: TransportError) -> ErrorInfo {
    ErrorInfo {
        code: error.code,
        message: error.message,
        reason_code: None,
        syscall: (!error.syscall.is_empty()).then_some(error.syscall),
        address: error.address,
        port: error.port,
        source: "transport",
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The remaining length of a PUBLISH as it crossed the wire (mqtt-packet's `length`).
fn publish_length(publish: &Publish, version: ProtocolVersion) -> u32 {
    if version.is_v5() && !publish.properties.is_empty() {
        return packet_length(&Packet::Publish(publish.clone()), version);
    }
    let id = if publish.qos == QoS::AtMostOnce { 0 } else { 2 };
    let props = usize::from(version.is_v5());
    to_u32(2 + publish.topic.len() + id + props + publish.payload.len())
}

/// The remaining length of `packet` once encoded.
fn packet_length(packet: &Packet, version: ProtocolVersion) -> u32 {
    let Ok(total) = codec::encoded_len(packet, version) else {
        return 0;
    };
    // The whole packet less the type byte and the remaining-length varint (MQTT 5 §2.1.4).
    let body = total.saturating_sub(1);
    let varint = match body {
        0..=128 => 1,
        129..=16_385 => 2,
        16_386..=2_097_154 => 3,
        _ => 4,
    };
    to_u32(body.saturating_sub(varint))
}

/// Delivers one connection's batches to its JavaScript callback, synchronously, from the
/// driver's libuv callbacks (DESIGN.md §2: no thread on a message's path).
///
/// The call goes through `napi_make_callback` with an async context of its own, as Node's own
/// sockets call into JavaScript: `process.nextTick` callbacks and promise reactions run when it
/// returns, and an exception the callback throws becomes an `uncaughtException`, as one thrown
/// by a socket listener in MQTT.js would.
pub struct JsSink {
    env: sys::napi_env,
    callback: JsCallback,
    batch: RefCell<Batch>,
    version: ProtocolVersion,
    /// A delivery failed: JavaScript is not called again from this connection.
    broken: Cell<bool>,
    /// Large batches are handed to JavaScript without a copy (see [`JsSink::take_args`]).
    hand_over_large: bool,
}

impl JsSink {
    /// A sink calling `function(blob, records, extras)` for each batch, on the thread whose
    /// running loop is `uv_loop`.
    pub fn new<Args: JsValuesTupleIntoVec>(
        env: &Env,
        uv_loop: *mut crate::driver::uv::Loop,
        function: &Function<'_, Args, ()>,
        version: ProtocolVersion,
    ) -> Result<Self> {
        let raw_env = env.raw();
        let callback = JsCallback::new(raw_env, function.raw(), "mqtt-native")?;
        // Only on the main thread: Node does not run the finalizers of external buffers that
        // are still alive when a worker's environment is torn down, so each large batch a
        // terminated worker had not yet collected would stay allocated (measured: 30-50 KB
        // per worker terminated while receiving a flood, without end). In a worker every batch
        // is copied into memory V8 owns.
        let hand_over_large = crate::driver::uv::get().is_ok_and(|uv| uv.is_default_loop(uv_loop));
        Ok(JsSink {
            env: raw_env,
            callback,
            batch: RefCell::new(Batch::default()),
            version,
            broken: Cell::new(false),
            hand_over_large,
        })
    }

    /// The JavaScript arguments for the pending batch, which is emptied.
    fn take_args(&self, env: &Env) -> Result<[sys::napi_value; 3]> {
        let mut batch = self.batch.borrow_mut();
        let blob = if batch.blob.len() <= COPY_LIMIT || !self.hand_over_large {
            // Small (the common case: a few messages): a copy into memory V8 owns costs less
            // than an external buffer, whose finalizer and weak handle V8 must track; the Vec
            // keeps its capacity for the next batch. In a worker, large batches too (see
            // `hand_over_large`).
            let mut data = std::ptr::null_mut();
            let mut value = std::ptr::null_mut();
            // SAFETY: copies `blob.len()` bytes from the Vec into a new Buffer.
            check(unsafe {
                sys::napi_create_buffer_copy(
                    self.env,
                    batch.blob.len(),
                    batch.blob.as_ptr().cast(),
                    &mut data,
                    &mut value,
                )
            })?;
            batch.blob.clear();
            if batch.blob.capacity() > MAX_IDLE_BLOB {
                // Traffic calmed down after large batches: give the room back.
                batch.blob.shrink_to(COPY_LIMIT);
            }
            value
        } else {
            // Large: hand the bytes over without copying; the next batch starts with room for
            // as much, up to a full batch (not the size of one very large message).
            let capacity = batch.blob.len().min(MAX_BATCH_BYTES);
            BufferSlice::from_data(
                env,
                std::mem::replace(&mut batch.blob, Vec::with_capacity(capacity)),
            )?
            .raw()
        };
        batch.last_topic = None;
        batch.keepalive_record = None;
        let records = self.records_array(&batch.records)?;
        batch.records.clear();
        let extras = if batch.extras.is_empty() {
            // No record refers to an extra (lib/batch.js reads one only when a record names it).
            let mut undefined = std::ptr::null_mut();
            // SAFETY: a plain N-API call in this environment.
            check(unsafe { sys::napi_get_undefined(self.env, &mut undefined) })?;
            undefined
        } else {
            env.to_js_value(&batch.extras)?.raw()
        };
        batch.extras.clear();
        Ok([blob, records, extras])
    }

    /// A `Uint32Array` holding a copy of `records` (a few dozen bytes per event).
    fn records_array(&self, records: &[u32]) -> Result<sys::napi_value> {
        let mut data: *mut std::ffi::c_void = std::ptr::null_mut();
        let mut buffer = std::ptr::null_mut();
        let mut array = std::ptr::null_mut();
        let bytes = std::mem::size_of_val(records);
        // SAFETY: a new ArrayBuffer of `bytes` bytes, filled from `records` before any other
        // N-API call, then viewed as `records.len()` u32s.
        unsafe {
            check(sys::napi_create_arraybuffer(
                self.env,
                bytes,
                &mut data,
                &mut buffer,
            ))?;
            if bytes > 0 && !data.is_null() {
                std::ptr::copy_nonoverlapping(
                    records.as_ptr().cast::<u8>(),
                    data.cast::<u8>(),
                    bytes,
                );
            }
            check(sys::napi_create_typedarray(
                self.env,
                sys::TypedarrayType::uint32_array,
                records.len(),
                buffer,
                0,
                &mut array,
            ))?;
        }
        Ok(array)
    }

    fn call(&self) -> Result<()> {
        let env = Env::from_raw(self.env);
        let args = self.take_args(&env)?;
        // SAFETY: on the JavaScript thread, inside the handle scope `deliver` opened.
        unsafe { self.callback.call(&args) }.map(|_| ())
    }
}

/// A JavaScript function kept for calling later from libuv callbacks, with the async context it
/// runs in (what a sink or a stream port keeps).
///
/// The context belongs to a resource object made when the connection starts, so the calls run
/// in the async context of the code that started it (`AsyncLocalStorage` stores, async hooks),
/// as MQTT.js's listeners run in the context of the socket its client made.
pub(super) struct JsCallback {
    env: sys::napi_env,
    function: sys::napi_ref,
    context: sys::napi_async_context,
}

impl JsCallback {
    /// Keeps `function` and makes an async context named `label` in the current one. What was
    /// made is released again when a later step fails.
    pub(super) fn new(env: sys::napi_env, function: sys::napi_value, label: &str) -> Result<Self> {
        let mut callback = JsCallback {
            env,
            function: std::ptr::null_mut(),
            context: std::ptr::null_mut(),
        };
        // SAFETY: plain N-API calls on the JavaScript thread with values of this environment;
        // on failure, `Drop` releases what was made (it skips what is still null).
        unsafe {
            check(sys::napi_create_reference(
                env,
                function,
                1,
                &mut callback.function,
            ))?;
            let mut name = std::ptr::null_mut();
            check(sys::napi_create_string_utf8(
                env,
                label.as_ptr().cast(),
                label.len() as isize,
                &mut name,
            ))?;
            let mut resource = std::ptr::null_mut();
            check(sys::napi_create_object(env, &mut resource))?;
            check(sys::napi_async_init(
                env,
                resource,
                name,
                &mut callback.context,
            ))?;
        }
        Ok(callback)
    }

    /// Calls the function with `args` through `napi_make_callback` (so that Node runs its
    /// microtasks and `nextTick` queue after it, as after a socket's 'data' listener). A throw
    /// is reported as Node reports an exception thrown by a socket's listener, and gives
    /// `Ok(None)`; otherwise the function's result.
    ///
    /// # Safety
    /// On the JavaScript thread of this callback's environment, inside an open handle scope.
    pub(super) unsafe fn call(&self, args: &[sys::napi_value]) -> Result<Option<sys::napi_value>> {
        let env = self.env;
        // SAFETY: as the caller promises; the references and context are this callback's.
        unsafe {
            let mut callee = std::ptr::null_mut();
            check(sys::napi_get_reference_value(
                env,
                self.function,
                &mut callee,
            ))?;
            // `napi_make_callback` wants an object as `this` (the callbacks are bound functions);
            // the async context, not the receiver, gives `executionAsyncResource()`.
            let mut receiver = std::ptr::null_mut();
            check(sys::napi_get_global(env, &mut receiver))?;
            let mut result = std::ptr::null_mut();
            let status = sys::napi_make_callback(
                env,
                self.context,
                receiver,
                callee,
                args.len(),
                args.as_ptr(),
                &mut result,
            );
            if status == sys::Status::napi_pending_exception {
                let mut exception = std::ptr::null_mut();
                sys::napi_get_and_clear_last_exception(env, &mut exception);
                sys::napi_fatal_exception(env, exception);
                return Ok(None);
            }
            check(status)?;
            Ok(Some(result))
        }
    }
}

impl Drop for JsCallback {
    fn drop(&mut self) {
        if crate::driver::is_shutting_down() {
            // The environment is being torn down; it frees its references itself.
            return;
        }
        // SAFETY: what this callback made, released once, on the JavaScript thread
        // (connections are dropped by libuv close callbacks or JavaScript calls).
        unsafe {
            if !self.context.is_null() {
                sys::napi_async_destroy(self.env, self.context);
            }
            if !self.function.is_null() {
                sys::napi_delete_reference(self.env, self.function);
            }
        }
    }
}

fn check(status: sys::napi_status) -> Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(Error::new(
            Status::from(status),
            "N-API call failed while delivering events".to_string(),
        ))
    }
}

impl EventSink for JsSink {
    fn push(&self, event: DriverEvent) {
        self.batch.borrow_mut().push(event, self.version);
    }

    fn is_empty(&self) -> bool {
        self.batch.borrow().is_empty()
    }

    fn is_full(&self) -> bool {
        self.batch.borrow().blob.len() >= MAX_BATCH_BYTES
    }

    fn deliver(&self) {
        if self.is_empty() {
            return;
        }
        if self.broken.get() || crate::driver::is_shutting_down() {
            self.batch.borrow_mut().clear();
            return;
        }
        if self.deliver_once().is_ok() {
            return;
        }
        // The batch could not be handed over (a worker being terminated, an N-API call that
        // failed): it is dropped, never retried, so that the driver cannot spin on it. If
        // JavaScript can still be called, it hears once why the connection closes.
        self.broken.set(true);
        self.batch.borrow_mut().clear();
        {
            let mut batch = self.batch.borrow_mut();
            batch.push_error(ErrorInfo {
                code: "ERR_MQTT_NATIVE_DELIVERY".to_string(),
                message: "mqtt-native could not hand received events to JavaScript; they were \
                          dropped and the connection was closed"
                    .to_string(),
                reason_code: None,
                syscall: None,
                address: None,
                port: None,
                source: "transport",
            });
            batch.record([kind::CLOSE, 0, 0, 0, 0, 0, 0, 0, NO_EXTRA]);
        }
        let _ = self.deliver_once();
        self.batch.borrow_mut().clear();
    }

    fn is_broken(&self) -> bool {
        self.broken.get()
    }
}

impl JsSink {
    /// One attempt to call JavaScript with the pending batch, in a handle scope of its own.
    fn deliver_once(&self) -> Result<()> {
        let mut scope = std::ptr::null_mut();
        // SAFETY: called on the JavaScript thread from a libuv callback, where no handle
        // scope is open; the scope is closed below.
        check(unsafe { sys::napi_open_handle_scope(self.env, &mut scope) })?;
        let result = self.call();
        // SAFETY: the scope opened above.
        unsafe { sys::napi_close_handle_scope(self.env, scope) };
        result
    }
}

/// The record layout of a batch, as `lib/batch.js` reads it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Layout {
    width: usize,
    no_extra: u32,
    /// Field positions within a record.
    fields: [(&'static str, usize); RECORD_WIDTH],
    kinds: [(&'static str, u32); 12],
    ack_codes: [(&'static str, u32); 6],
    message_flags: [(&'static str, u32); 6],
    app_acks: [(&'static str, u32); 4],
}

/// The batch record layout (widths, field positions, kinds, flag bits), read once by
/// `lib/batch.js` when the addon loads so that the JavaScript reader cannot drift from
/// [`Batch::push`].
#[napi_derive::napi(catch_unwind, ts_return_type = "object")]
pub fn batch_layout(env: &Env) -> Result<Unknown<'_>> {
    let layout = Layout {
        width: RECORD_WIDTH,
        no_extra: NO_EXTRA,
        fields: [
            ("kind", 0),
            ("a", 1),
            ("b", 2),
            ("c", 3),
            ("topicOffset", 4),
            ("topicLength", 5),
            ("payloadOffset", 6),
            ("payloadLength", 7),
            ("extra", 8),
        ],
        kinds: [
            ("MESSAGE", kind::MESSAGE),
            ("CONNACK", kind::CONNACK),
            ("ACK", kind::ACK),
            ("PACKET_RECEIVE", kind::PACKET_RECEIVE),
            ("PACKET_SEND", kind::PACKET_SEND),
            ("DISCONNECT", kind::DISCONNECT),
            ("AUTH", kind::AUTH),
            ("ERROR", kind::ERROR),
            ("CLOSE", kind::CLOSE),
            ("RELEASED", kind::RELEASED),
            ("NUMBERED", kind::NUMBERED),
            ("KEEPALIVE", kind::KEEPALIVE),
        ],
        ack_codes: [
            ("PUBACK", ack_code::PUBACK),
            ("PUBREC", ack_code::PUBREC),
            ("PUBCOMP", ack_code::PUBCOMP),
            ("SUBACK", ack_code::SUBACK),
            ("UNSUBACK", ack_code::UNSUBACK),
            ("PUBREC_RECEIVED", ack_code::PUBREC_RECEIVED),
        ],
        message_flags: [
            ("QOS_MASK", message_flag::QOS_MASK),
            ("RETAIN", message_flag::RETAIN),
            ("DUP", message_flag::DUP),
            ("ACK_SHIFT", message_flag::ACK_SHIFT),
            ("ACKED", message_flag::ACKED),
            ("TOPIC_FROM_ALIAS", message_flag::TOPIC_FROM_ALIAS),
        ],
        app_acks: [
            ("NONE", AppAck::None.code()),
            ("PUBACK", AppAck::PubAck.code()),
            ("PUBREC", AppAck::PubRec.code()),
            ("PUBCOMP", AppAck::PubComp.code()),
        ],
    };
    env.to_js_value(&layout)
}
