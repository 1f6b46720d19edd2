//! Event batches for JavaScript (DESIGN.md §2).
//!
//! The driver appends events to a pending [`Batch`]; the first append after a delivery schedules
//! one call of the thread-safe function, and the JavaScript-thread callback swaps out everything
//! that has accumulated by then. A batch crosses as one `Buffer` (topics and payloads back to
//! back), one `Uint32Array` of fixed-width records, and one array of plain objects for the rare
//! events that need them (packets for `packetsend`/`packetreceive`, properties, errors).
//!
//! Record layout, [`RECORD_WIDTH`] `u32`s: `kind, a, b, c, topicOffset, topicLength,
//! payloadOffset, payloadLength, extra` where `extra` indexes the object array (or is
//! [`NO_EXTRA`]). `lib/batch.js` reads the layout from [`batch_layout`] when the addon loads, so
//! the two sides share this one definition.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use parking_lot::Mutex;
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
}

/// Batches larger than this are delivered without waiting for the next flush, so that one
/// callback cannot hold the event loop for long.
const MAX_BATCH_BYTES: usize = 1024 * 1024;

impl Batch {
    fn is_empty(&self) -> bool {
        self.records.is_empty()
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
        let (topic_off, topic_len) = self.bytes(publish.topic.as_bytes());
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

/// The JavaScript function that receives batches.
pub type BatchFunction = ThreadsafeFunction<(), (), BatchArgs, Status, false>;

/// What the JavaScript batch callback receives: `(blob: Buffer, records: Uint32Array, extras)`.
pub type BatchArgs = FnArgs<(Unknown<'static>, Uint32Array, Unknown<'static>)>;

/// State shared by the driver side and the JavaScript-thread callback.
#[derive(Default)]
pub struct Pending {
    batch: Mutex<Batch>,
    scheduled: AtomicBool,
}

impl Pending {
    /// Takes the accumulated batch and allows the next flush to schedule a new delivery.
    /// Runs on the JavaScript thread.
    pub fn take_as_js(&self, env: &Env) -> Result<BatchArgs> {
        self.scheduled.store(false, Ordering::Release);
        let mut batch = self.batch.lock();
        // The blob becomes an external Buffer; the next batch starts with room for as much.
        let capacity = batch.blob.len();
        let blob = BufferSlice::from_data(
            env,
            std::mem::replace(&mut batch.blob, Vec::with_capacity(capacity)),
        )?
        .to_unknown();
        let records = Uint32Array::new(std::mem::take(&mut batch.records));
        let extras: Unknown<'static> = env.to_js_value(&batch.extras)?;
        batch.extras.clear();
        Ok(FnArgs::from((blob, records, extras)))
    }
}

/// The driver's sink for one connection: holds the only strong reference to the batch function,
/// so that the Node process can exit once the connection is over (DESIGN.md §2).
pub struct BatchSink {
    pending: Arc<Pending>,
    function: BatchFunction,
    version: ProtocolVersion,
}

impl BatchSink {
    /// A sink delivering to `function`, whose callback reads `pending`.
    pub fn new(pending: Arc<Pending>, function: BatchFunction, version: ProtocolVersion) -> Self {
        BatchSink {
            pending,
            function,
            version,
        }
    }
}

impl EventSink for BatchSink {
    fn push(&self, event: DriverEvent) {
        let oversized = {
            let mut batch = self.pending.batch.lock();
            batch.push(event, self.version);
            batch.blob.len() >= MAX_BATCH_BYTES
        };
        if oversized {
            self.flush();
        }
    }

    fn flush(&self) {
        if self.pending.batch.lock().is_empty() {
            return;
        }
        if !self.pending.scheduled.swap(true, Ordering::AcqRel) {
            let status = self
                .function
                .call((), ThreadsafeFunctionCallMode::NonBlocking);
            if status != Status::Ok {
                // The environment is shutting down; nobody is listening any more.
                self.pending.scheduled.store(false, Ordering::Release);
            }
        }
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
    kinds: [(&'static str, u32); 10],
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
