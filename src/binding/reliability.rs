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

/// What JavaScript holds of a client's persistence: durability queries and the state restored
/// from an earlier run, taken once.
pub struct PersistHandle {
    persistence: crate::persist::Persistence,
    restored: parking_lot::Mutex<Option<RestoredInfo>>,
    failure: std::sync::Arc<parking_lot::Mutex<Option<String>>>,
}

/// The state an earlier run left, as the shim needs it to take the messages back.
#[napi(object)]
pub struct RestoredInfo {
    /// Packet identifiers of the outgoing exchanges put back into the session, in order.
    pub outgoing_ids: Vec<u32>,
    /// For each of them, whether it is at the PUBREL stage (a QoS 2 publish the broker has).
    pub outgoing_pubrel: Vec<bool>,
    /// For each of them, its QoS (2 for PUBREL stages).
    pub outgoing_qos: Vec<u32>,
    /// Inbound QoS 2 messages awaiting PUBREL that were put back.
    pub incoming: u32,
    /// One sentence about damaged records that were skipped, if any.
    pub warning: Option<String>,
}

/// Opens the persistence log of `clientId` in `dir` for this client (before its first
/// connection): puts back what an earlier run left (outgoing QoS 1/2 publishes with their
/// packet identifiers, PUBREL stages, inbound QoS 2 messages) and records every change from now
/// on. `onDurable(seq)` is called (from the writer thread, without keeping the process alive)
/// once records up to `seq` are synced after a `clientPersistWant`; with -1 when the log failed
/// (`clientPersistFailure` says why).
#[napi(
    catch_unwind,
    ts_args_type = "handle: ExternalObject<'MqttClient'>, dir: string, clientId: string, onDurable: (seq: number) => void",
    ts_return_type = "ExternalObject<'MqttPersistence'>"
)]
pub fn client_persist_open(
    handle: &External<Handle>,
    dir: String,
    client_id: String,
    on_durable: Function<'_, f64, ()>,
) -> Result<External<PersistHandle>> {
    use crate::persist::RestoredOutgoing;
    use napi::threadsafe_function::ThreadsafeFunctionCallMode;

    let mut session = handle.client().session.lock();
    if session.has_journal() {
        return Err(invalid("persistence is already open for this client"));
    }
    let (journal, persistence, restored) =
        crate::persist::open(std::path::Path::new(&dir), &client_id, session.version()).map_err(
            |message| Error::new(Status::GenericFailure, format!("PERSISTENCE|{message}")),
        )?;
    let tsfn = on_durable
        .build_threadsafe_function::<f64>()
        .callee_handled::<false>()
        .weak::<true>()
        .build()?;
    let failure = std::sync::Arc::new(parking_lot::Mutex::new(None));
    let listener_failure = failure.clone();
    persistence.set_listener(Box::new(move |result| {
        let value = match result {
            Ok(seq) => seq as f64,
            Err(message) => {
                *listener_failure.lock() = Some(message);
                -1.0
            }
        };
        tsfn.call(value, ThreadsafeFunctionCallMode::NonBlocking);
    }));
    let mut info = RestoredInfo {
        outgoing_ids: Vec::new(),
        outgoing_pubrel: Vec::new(),
        outgoing_qos: Vec::new(),
        incoming: 0,
        warning: restored.warning,
    };
    for entry in restored.outgoing {
        let (id, pubrel, qos, put_back) = match entry {
            RestoredOutgoing::Publish(publish) => {
                let (id, qos) = (publish.message_id, u8::from(publish.qos));
                (id, false, qos, session.restore_publish(publish))
            }
            RestoredOutgoing::PubRel(id) => (id, true, 2, session.restore_pubrel(id)),
        };
        if put_back {
            info.outgoing_ids.push(u32::from(id));
            info.outgoing_pubrel.push(pubrel);
            info.outgoing_qos.push(u32::from(qos));
        }
    }
    for publish in restored.incoming {
        if session.restore_incoming(publish) {
            info.incoming += 1;
        }
    }
    session.set_journal(Box::new(journal));
    Ok(External::new(PersistHandle {
        persistence,
        restored: parking_lot::Mutex::new(Some(info)),
        failure,
    }))
}

/// The state put back by `clientPersistOpen` (once; null afterwards).
#[napi(
    catch_unwind,
    ts_args_type = "persist: ExternalObject<'MqttPersistence'>"
)]
pub fn client_persist_restored(persist: &External<PersistHandle>) -> Option<RestoredInfo> {
    persist.restored.lock().take()
}

/// The sequence number of the last record (read right after a publish: that publish's).
#[napi(
    catch_unwind,
    ts_args_type = "persist: ExternalObject<'MqttPersistence'>"
)]
pub fn client_persist_position(persist: &External<PersistHandle>) -> f64 {
    persist.persistence.position() as f64
}

/// Asks for `onDurable` once records up to `seq` are synced. Returns the synced sequence number
/// when they already are (then no call may follow), or -1.
#[napi(
    catch_unwind,
    ts_args_type = "persist: ExternalObject<'MqttPersistence'>, seq: number"
)]
pub fn client_persist_want(persist: &External<PersistHandle>, seq: f64) -> f64 {
    let seq = if seq.is_finite() && seq >= 0.0 {
        seq as u64
    } else {
        0
    };
    if persist.persistence.want(seq) {
        persist.persistence.durable() as f64
    } else {
        -1.0
    }
}

/// Writes and syncs every record now, on this thread (for `end()`). Returns the synced sequence
/// number; throws `PERSISTENCE|…` when the log cannot be written.
#[napi(
    catch_unwind,
    ts_args_type = "persist: ExternalObject<'MqttPersistence'>"
)]
pub fn client_persist_sync(persist: &External<PersistHandle>) -> Result<f64> {
    persist
        .persistence
        .sync()
        .map(|seq| seq as f64)
        .map_err(|message| Error::new(Status::GenericFailure, format!("PERSISTENCE|{message}")))
}

/// Why the log stopped, after `onDurable(-1)`.
#[napi(
    catch_unwind,
    ts_args_type = "persist: ExternalObject<'MqttPersistence'>"
)]
pub fn client_persist_failure(persist: &External<PersistHandle>) -> Option<String> {
    persist.failure.lock().clone()
}

/// Closes the client's persistence log (`end()`): writes and syncs every record, stops the
/// writer thread and releases the log for another client. The session keeps its state in memory;
/// `clientPersistOpen` takes the log up again (state already held is not duplicated).
#[napi(catch_unwind, ts_args_type = "handle: ExternalObject<'MqttClient'>")]
pub fn client_persist_close(handle: &External<Handle>) {
    let journal = handle.client().session.lock().take_journal();
    // Dropped outside the session lock: it waits for the writer's last sync.
    drop(journal);
}

/// Records written to the log but not yet synced to disk (`getStatistics().persistence`).
#[napi(
    catch_unwind,
    ts_args_type = "persist: ExternalObject<'MqttPersistence'>"
)]
pub fn client_persist_backlog(persist: &External<PersistHandle>) -> f64 {
    let persistence = &persist.persistence;
    persistence.position().saturating_sub(persistence.durable()) as f64
}
