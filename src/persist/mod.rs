//! Crash-safe persistence of a session's QoS 1/2 state: an append-only log of checksummed
//! records in a directory, one file per clientId, compacted as it grows.
//!
//! Design: the session reports each change of its durable state through the
//! [`Journal`] trait; [`LogJournal`] encodes it into an in-memory
//! buffer (the caller's thread pays one copy and no system call). A writer thread appends the
//! buffer to the file and syncs it (`fdatasync`) in groups: whatever arrives while one sync runs
//! goes out with the next, so the cost of a sync is shared by every record of the group. Before
//! the session hands packets to the network it calls [`Journal::write_ahead`], which appends
//! what the writer has not taken yet on the caller's thread (one `write` per batch of packets):
//! nothing the broker sees is missing from the file, so a `kill -9` never loses a message that
//! was sent, never resends a QoS 2 PUBLISH whose PUBREL was sent (which could duplicate it), and
//! never forgets an inbound QoS 2 message that was answered with PUBREC. The writer tells a
//! listener how far the file is synced ([`Persistence::durable`]), which is what an application
//! waits for to know that a publish survives even a power loss.
//!
//! Opening reads the whole log, skips damaged or truncated records (see the `record` module), rebuilds
//! the state, writes it to a fresh file (`.tmp`, synced, renamed over the old one, directory
//! synced) and appends from there. The writer rewrites the file the same way whenever it holds
//! mostly finished exchanges. A lock file keeps a second process off the same log.

mod record;

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::{BufMut, BytesMut};
use parking_lot::{Condvar, Mutex};

use crate::codec::{ProtocolVersion, Publish};
use crate::session::{Journal, JournalEntry};
use record::Record;

/// Rewrite the log once it is larger than this and holds mostly finished exchanges.
const COMPACT_MIN_BYTES: u64 = 4 * 1024 * 1024;

/// An outgoing exchange found in the log, in the order it was first recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoredOutgoing {
    /// A QoS 1/2 PUBLISH not yet acknowledged: resend it with its packet identifier.
    Publish(Publish),
    /// A QoS 2 exchange at PUBREL: resend PUBREL.
    PubRel(u16),
}

/// What an earlier run left in the log.
#[derive(Debug, Default)]
pub struct Restored {
    /// Outgoing exchanges, in order.
    pub outgoing: Vec<RestoredOutgoing>,
    /// Inbound QoS 2 messages answered with PUBREC and awaiting PUBREL.
    pub incoming: Vec<Publish>,
    /// One sentence about damaged or truncated records that were skipped, if any.
    pub warning: Option<String>,
}

/// Called by the writer thread with the sequence number up to which records are synced, or with
/// the error that stopped it.
pub type DurableListener = Box<dyn Fn(Result<u64, String>) + Send + Sync>;

/// Records not yet taken by a writer.
#[derive(Debug, Default)]
struct Pending {
    buf: BytesMut,
    /// Records appended so far (the sequence number of the last one).
    seq: u64,
    closing: bool,
    /// The log failed: records are no longer kept.
    stopped: bool,
    /// Whether the writer thread waits for records (and must be woken).
    writer_waiting: bool,
}

/// The live records, for compaction: one entry per unfinished exchange, in first-recorded order.
#[derive(Debug, Default)]
struct Index {
    next_ord: u64,
    live: BTreeMap<u64, Vec<u8>>,
    outgoing: HashMap<u16, u64>,
    /// Outgoing publishes not numbered yet, oldest first (they are numbered in this order).
    unnumbered: std::collections::VecDeque<u64>,
    incoming: HashMap<u16, u64>,
    live_bytes: u64,
}

impl Index {
    fn put(&mut self, incoming: bool, id: u16, bytes: &[u8], keep_place: bool) {
        let map = if incoming {
            &mut self.incoming
        } else {
            &mut self.outgoing
        };
        let ord = match map.get(&id) {
            Some(&ord) if keep_place => ord,
            old => {
                if let Some(old) = old.copied() {
                    if let Some(gone) = self.live.remove(&old) {
                        self.live_bytes -= gone.len() as u64;
                    }
                }
                self.next_ord += 1;
                map.insert(id, self.next_ord);
                self.next_ord
            }
        };
        if let Some(old) = self.live.insert(ord, bytes.to_vec()) {
            self.live_bytes -= old.len() as u64;
        }
        self.live_bytes += bytes.len() as u64;
    }

    fn remove(&mut self, incoming: bool, id: u16) {
        let map = if incoming {
            &mut self.incoming
        } else {
            &mut self.outgoing
        };
        if let Some(ord) = map.remove(&id) {
            if let Some(gone) = self.live.remove(&ord) {
                self.live_bytes -= gone.len() as u64;
            }
        }
    }

    /// An unnumbered publish was recorded.
    fn put_unnumbered(&mut self, bytes: &[u8]) {
        self.next_ord += 1;
        self.unnumbered.push_back(self.next_ord);
        self.live.insert(self.next_ord, bytes.to_vec());
        self.live_bytes += bytes.len() as u64;
    }

    /// The oldest unnumbered publish got `id`: its record and the Numbered one stay together,
    /// in its place.
    fn number(&mut self, id: u16, bytes: &[u8]) {
        let Some(ord) = self.unnumbered.pop_front() else {
            return;
        };
        self.outgoing.insert(id, ord);
        if let Some(live) = self.live.get_mut(&ord) {
            live.extend_from_slice(bytes);
            self.live_bytes += bytes.len() as u64;
        }
    }

    /// The oldest unnumbered publish was dropped.
    fn drop_unnumbered(&mut self) {
        if let Some(ord) = self.unnumbered.pop_front() {
            if let Some(gone) = self.live.remove(&ord) {
                self.live_bytes -= gone.len() as u64;
            }
        }
    }

    fn clear_incoming(&mut self) {
        for (_, ord) in self.incoming.drain() {
            if let Some(gone) = self.live.remove(&ord) {
                self.live_bytes -= gone.len() as u64;
            }
        }
    }

    /// Takes note of freshly written records (whole, checked frames back to back).
    fn apply(&mut self, mut buf: &[u8]) {
        while let Some((kind, body, total)) = record::frame_at(buf) {
            let frame = &buf[..total];
            match (kind, record::id_of(kind, body)) {
                (record::KIND_PUBLISH, Some(id)) => self.put(false, id, frame, false),
                (record::KIND_UNNUMBERED, _) => self.put_unnumbered(frame),
                (record::KIND_NUMBERED, Some(id)) => self.number(id, frame),
                (record::KIND_PUBREL, Some(id)) => self.put(false, id, frame, true),
                (record::KIND_DONE, Some(0)) => self.drop_unnumbered(),
                (record::KIND_DONE, Some(id)) => self.remove(false, id),
                (record::KIND_INCOMING, Some(id)) => self.put(true, id, frame, false),
                (record::KIND_INCOMING_DONE, Some(id)) => self.remove(true, id),
                (record::KIND_INCOMING_CLEARED, _) => self.clear_incoming(),
                _ => {}
            }
            buf = &buf[total..];
        }
    }
}

/// The open log file and what is known about its contents.
#[derive(Debug)]
struct LogFile {
    file: File,
    /// A handle on the same file for syncing without holding the lock.
    sync: Arc<File>,
    path: PathBuf,
    len: u64,
    /// Records written to the file (not necessarily synced).
    written: u64,
    index: Index,
    /// Written records the index has not taken note of yet: the writer thread does that after
    /// its sync, so that a write-ahead on the caller's thread costs one `write` and no more.
    unindexed: Vec<bytes::Bytes>,
}

impl LogFile {
    /// Writes `buf` (records up to `seq`); the index takes note later ([`LogFile::catch_up`]).
    fn append(&mut self, buf: BytesMut, seq: u64) -> std::io::Result<()> {
        self.file.write_all(&buf)?;
        self.len += buf.len() as u64;
        self.written = seq;
        self.unindexed.push(buf.freeze());
        Ok(())
    }

    /// Brings the index up to date with what was written.
    fn catch_up(&mut self) {
        for buf in std::mem::take(&mut self.unindexed) {
            self.index.apply(&buf);
        }
    }

    fn wants_compaction(&mut self) -> bool {
        self.catch_up();
        self.len > COMPACT_MIN_BYTES && self.len > 4 * (self.index.live_bytes + 64)
    }

    /// Rewrites the file with the live records only.
    fn compact(&mut self) -> std::io::Result<()> {
        self.catch_up();
        let mut contents = Vec::with_capacity(self.index.live_bytes as usize + 8);
        contents.extend_from_slice(record::MAGIC);
        for bytes in self.index.live.values() {
            contents.extend_from_slice(bytes);
        }
        let file = replace_file(&self.path, &contents)?;
        self.sync = Arc::new(file.try_clone()?);
        self.file = file;
        self.len = contents.len() as u64;
        Ok(())
    }
}

/// Writes `contents` to `path` atomically: a synced temporary file renamed over it, then the
/// directory synced. Returns the new file, open for appending.
fn replace_file(path: &Path, contents: &[u8]) -> std::io::Result<File> {
    let tmp = path.with_extension("mqttlog.tmp");
    {
        let mut file = File::create(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        // Make the rename itself durable (POSIX: a directory is synced through an open handle).
        if let Ok(dir) = File::open(dir) {
            let _ = dir.sync_all();
        }
    }
    OpenOptions::new().append(true).open(path)
}

/// State shared by the session's journal, the writer thread and the binding.
struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
    file: Mutex<LogFile>,
    /// Records written to the file (by the writer thread or by write-ahead).
    written: AtomicU64,
    /// Records synced to disk.
    durable: AtomicU64,
    /// The sequence number someone waits for (0: nobody).
    wanted: AtomicU64,
    listener: Mutex<Option<DurableListener>>,
    failure: Mutex<Option<String>>,
    /// Whether the failure was told to the listener (it is told once).
    failure_reported: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("durable", &self.durable.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Moves pending records into the file, in order. Returns the sequence number written.
    fn write_pending(&self) -> Result<u64, String> {
        let mut file = self.file.lock();
        let (buf, seq) = {
            let mut pending = self.pending.lock();
            if pending.buf.is_empty() {
                return Ok(file.written);
            }
            (pending.buf.split(), pending.seq)
        };
        if let Some(failure) = self.failure.lock().clone() {
            return Err(failure);
        }
        file.append(buf, seq)
            .map_err(|e| self.fail(&file.path, "write", &e))?;
        self.written.store(seq, Ordering::SeqCst);
        Ok(seq)
    }

    /// Records the first I/O failure; the log stops there (nothing after it would be readable
    /// in order).
    fn fail(&self, path: &Path, what: &str, error: &std::io::Error) -> String {
        let message = format!(
            "mqtt-native persistence: cannot {what} {}: {error}; new messages are no longer persisted",
            path.display()
        );
        let mut failure = self.failure.lock();
        failure.get_or_insert_with(|| message.clone()).clone()
    }

    /// Writes and syncs everything pending, on the caller's thread.
    fn sync_now(&self) -> Result<u64, String> {
        let seq = self.write_pending()?;
        let (sync, path) = {
            let file = self.file.lock();
            (file.sync.clone(), file.path.clone())
        };
        sync.sync_data().map_err(|e| self.fail(&path, "sync", &e))?;
        self.durable.fetch_max(seq, Ordering::SeqCst);
        Ok(seq)
    }

    fn notify(&self, result: Result<u64, String>) {
        if result.is_err() && self.failure_reported.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Ok(durable) = result {
            let wanted = self.wanted.load(Ordering::SeqCst);
            if wanted == 0 || durable < wanted {
                return;
            }
            if self
                .wanted
                .compare_exchange(wanted, 0, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
            {
                return;
            }
        }
        if let Some(listener) = self.listener.lock().as_ref() {
            listener(result);
        }
    }

    /// The writer thread: append, sync, tell, compact; until closed.
    fn run(&self) {
        loop {
            {
                let mut pending = self.pending.lock();
                // Work: records to write, or records written ahead and not yet synced.
                while pending.buf.is_empty()
                    && self.written.load(Ordering::SeqCst) <= self.durable.load(Ordering::SeqCst)
                    && !pending.closing
                {
                    pending.writer_waiting = true;
                    self.wake.wait(&mut pending);
                    pending.writer_waiting = false;
                }
                if pending.buf.is_empty()
                    && self.written.load(Ordering::SeqCst) <= self.durable.load(Ordering::SeqCst)
                    && pending.closing
                {
                    drop(pending);
                    // Leave a small file behind for the next run to read.
                    let mut file = self.file.lock();
                    if file.wants_compaction() {
                        let _ = file.compact();
                    }
                    return;
                }
            }
            match self.sync_now() {
                Ok(seq) => {
                    self.notify(Ok(seq));
                    let mut file = self.file.lock();
                    if file.wants_compaction() {
                        if let Err(e) = file.compact() {
                            let path = file.path.clone();
                            drop(file);
                            let message = self.fail(&path, "compact", &e);
                            self.notify(Err(message));
                        }
                    }
                }
                Err(message) => {
                    self.notify(Err(message));
                    // The log stops here: later records could not be read in order anyway.
                    let mut pending = self.pending.lock();
                    pending.buf.clear();
                    pending.stopped = true;
                    return;
                }
            }
        }
    }
}

/// The session's side of the log: implements [`Journal`]. Dropping it writes and syncs what is
/// pending and stops the writer thread.
#[derive(Debug)]
pub struct LogJournal {
    shared: Arc<Shared>,
    version: ProtocolVersion,
    writer: Option<JoinHandle<()>>,
    /// Held for as long as the log is open: keeps a second process off it.
    _lock: File,
}

impl LogJournal {
    fn append(&mut self, put: impl FnOnce(&mut BytesMut) -> bool) {
        let mut pending = self.shared.pending.lock();
        if pending.stopped {
            return;
        }
        if put(&mut pending.buf) {
            pending.seq += 1;
            if pending.writer_waiting {
                self.shared.wake.notify_one();
            }
        }
    }
}

impl Journal for LogJournal {
    fn record(&mut self, entry: JournalEntry<'_>) {
        let version = self.version;
        self.append(|buf| match entry {
            JournalEntry::Publish(publish) => {
                record::put_publish(buf, record::KIND_PUBLISH, publish, version)
            }
            JournalEntry::Incoming(publish) => {
                record::put_publish(buf, record::KIND_INCOMING, publish, version)
            }
            JournalEntry::PubRel(id) => {
                record::put_id(buf, record::KIND_PUBREL, id);
                true
            }
            JournalEntry::Numbered(id) => {
                record::put_id(buf, record::KIND_NUMBERED, id);
                true
            }
            JournalEntry::Done(id) => {
                record::put_id(buf, record::KIND_DONE, id);
                true
            }
            JournalEntry::IncomingDone(id) => {
                record::put_id(buf, record::KIND_INCOMING_DONE, id);
                true
            }
            JournalEntry::IncomingCleared => {
                record::put_empty(buf, record::KIND_INCOMING_CLEARED);
                true
            }
        });
    }

    fn write_ahead(&mut self) {
        if self.shared.pending.lock().buf.is_empty() {
            return;
        }
        if let Err(message) = self.shared.write_pending() {
            self.shared.notify(Err(message));
        }
        // The writer syncs what was just written.
        if self.shared.pending.lock().writer_waiting {
            self.shared.wake.notify_one();
        }
    }
}

impl Drop for LogJournal {
    fn drop(&mut self) {
        self.shared.pending.lock().closing = true;
        self.shared.wake.notify_one();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
        // The log is closed: nobody is told about durability any more. Dropping the listener
        // releases what it holds (the binding's thread-safe function, and through it a
        // JavaScript callback), so that a client that has ended holds nothing.
        self.shared.listener.lock().take();
    }
}

/// What the binding keeps to ask about durability and to sync on demand. It does not keep the
/// log open: once the journal is closed (dropped), the files, the writer's state and the
/// listener are released at once, whoever still holds this (an ended client that the garbage
/// collector has not finalized yet); everything was synced then, so every record is durable.
#[derive(Debug, Clone)]
pub struct Persistence {
    shared: std::sync::Weak<Shared>,
}

impl Persistence {
    /// Sequence number of the last record appended (a publish's position, read right after it).
    pub fn position(&self) -> u64 {
        self.shared.upgrade().map_or(0, |s| s.pending.lock().seq)
    }

    /// Sequence number up to which records are synced to disk.
    pub fn durable(&self) -> u64 {
        self.shared
            .upgrade()
            .map_or(u64::MAX, |s| s.durable.load(Ordering::SeqCst))
    }

    /// Asks the listener to be called once records up to `seq` are synced. Returns true when
    /// they already are (then the listener may or may not be called).
    pub fn want(&self, seq: u64) -> bool {
        let Some(shared) = self.shared.upgrade() else {
            return true;
        };
        shared.wanted.store(seq, Ordering::SeqCst);
        if shared.durable.load(Ordering::SeqCst) >= seq {
            return true;
        }
        // Make sure a writer is on it.
        if shared.pending.lock().writer_waiting {
            shared.wake.notify_one();
        }
        false
    }

    /// Sets the durability listener (while the log is open).
    pub fn set_listener(&self, listener: DurableListener) {
        if let Some(shared) = self.shared.upgrade() {
            *shared.listener.lock() = Some(listener);
        }
    }

    /// Writes and syncs everything pending now, on the caller's thread.
    pub fn sync(&self) -> Result<u64, String> {
        match self.shared.upgrade() {
            Some(shared) => shared.sync_now(),
            None => Ok(self.durable()),
        }
    }
}

/// The log file's name for a clientId: safe characters kept, every other byte as `%XX`.
fn file_name(client_id: &str) -> String {
    let mut name = String::with_capacity(client_id.len() + 8);
    for byte in client_id.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.') {
            name.push(char::from(byte));
        } else {
            name.push_str(&format!("%{byte:02X}"));
        }
    }
    name.push_str(".mqttlog");
    name
}

/// Rebuilds the state from records, in order.
fn replay(records: Vec<Record>) -> Restored {
    let mut order = 0u64;
    let mut outgoing: HashMap<u16, (u64, RestoredOutgoing)> = HashMap::new();
    // Publishes not numbered yet, oldest first: numbered, or dropped, in this order.
    let mut unnumbered: std::collections::VecDeque<(u64, Publish)> = Default::default();
    let mut incoming: HashMap<u16, (u64, Publish)> = HashMap::new();
    for record in records {
        order += 1;
        match record {
            Record::Publish(publish) if publish.message_id == 0 => {
                unnumbered.push_back((order, publish));
            }
            Record::Numbered(id) => {
                if let Some((at, mut publish)) = unnumbered.pop_front() {
                    publish.message_id = id;
                    outgoing.insert(id, (at, RestoredOutgoing::Publish(publish)));
                }
            }
            Record::Done(0) => {
                unnumbered.pop_front();
            }
            Record::Publish(publish) => {
                outgoing.insert(
                    publish.message_id,
                    (order, RestoredOutgoing::Publish(publish)),
                );
            }
            Record::PubRel(id) => {
                let at = outgoing.get(&id).map_or(order, |(at, _)| *at);
                outgoing.insert(id, (at, RestoredOutgoing::PubRel(id)));
            }
            Record::Done(id) => {
                outgoing.remove(&id);
            }
            Record::Incoming(publish) => {
                incoming.insert(publish.message_id, (order, publish));
            }
            Record::IncomingDone(id) => {
                incoming.remove(&id);
            }
            Record::IncomingCleared => incoming.clear(),
        }
    }
    let mut outgoing: Vec<_> = outgoing.into_values().collect();
    outgoing.extend(
        unnumbered
            .into_iter()
            .map(|(at, publish)| (at, RestoredOutgoing::Publish(publish))),
    );
    outgoing.sort_by_key(|(at, _)| *at);
    let mut incoming: Vec<_> = incoming.into_values().collect();
    incoming.sort_by_key(|(at, _)| *at);
    Restored {
        outgoing: outgoing.into_iter().map(|(_, o)| o).collect(),
        incoming: incoming.into_iter().map(|(_, p)| p).collect(),
        warning: None,
    }
}

/// Encodes restored state as the records of a fresh log.
fn encode_state(restored: &Restored, version: ProtocolVersion) -> BytesMut {
    let mut buf = BytesMut::new();
    buf.put_slice(record::MAGIC);
    for entry in &restored.outgoing {
        match entry {
            RestoredOutgoing::Publish(publish) => {
                record::put_publish(&mut buf, record::KIND_PUBLISH, publish, version);
            }
            RestoredOutgoing::PubRel(id) => record::put_id(&mut buf, record::KIND_PUBREL, *id),
        }
    }
    for publish in &restored.incoming {
        record::put_publish(&mut buf, record::KIND_INCOMING, publish, version);
    }
    buf
}

/// Opens (or creates) the log of `client_id` in `dir`: reads what an earlier run left, writes
/// it to a fresh file and starts the writer thread. The journal goes to the session (after the
/// restored state is put back), the [`Persistence`] to whoever waits for durability.
pub fn open(
    dir: &Path,
    client_id: &str,
    version: ProtocolVersion,
) -> Result<(LogJournal, Persistence, Restored), String> {
    let io = |what: &str, path: &Path, e: std::io::Error| {
        format!(
            "mqtt-native persistence: cannot {what} {}: {e}",
            path.display()
        )
    };
    fs::create_dir_all(dir).map_err(|e| io("create the directory", dir, e))?;
    let name = file_name(client_id);
    let path = dir.join(&name);
    let lock_path = dir.join(format!("{name}.lock"));
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| io("open", &lock_path, e))?;
    if lock.try_lock().is_err() {
        return Err(format!(
            "mqtt-native persistence: {} is in use by another client with clientId \"{client_id}\" (in this process or another); give each client its own clientId or directory",
            path.display()
        ));
    }
    let mut contents = Vec::new();
    match File::open(&path) {
        Ok(mut file) => {
            file.read_to_end(&mut contents)
                .map_err(|e| io("read", &path, e))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("open", &path, e)),
    }
    let scan = record::scan(&contents);
    let mut restored = replay(scan.records);
    if scan.skipped > 0 || scan.bad_header {
        restored.warning = Some(format!(
            "mqtt-native persistence: {} has {} damaged or truncated stretch(es) ({} bytes{}), probably from a crash or a full disk during a write; they were skipped and the {} record(s) around them kept",
            path.display(),
            scan.skipped,
            scan.skipped_bytes,
            if scan.bad_header { ", and no valid header" } else { "" },
            restored.outgoing.len() + restored.incoming.len()
        ));
    }
    let fresh = encode_state(&restored, version);
    let file = replace_file(&path, &fresh).map_err(|e| io("write", &path, e))?;
    let sync = Arc::new(file.try_clone().map_err(|e| io("open", &path, e))?);
    let mut index = Index::default();
    index.apply(&fresh[record::MAGIC.len()..]);
    let shared = Arc::new(Shared {
        pending: Mutex::new(Pending::default()),
        wake: Condvar::new(),
        file: Mutex::new(LogFile {
            file,
            sync,
            path: path.clone(),
            len: fresh.len() as u64,
            written: 0,
            index,
            unindexed: Vec::new(),
        }),
        written: AtomicU64::new(0),
        durable: AtomicU64::new(0),
        wanted: AtomicU64::new(0),
        listener: Mutex::new(None),
        failure: Mutex::new(None),
        failure_reported: std::sync::atomic::AtomicBool::new(false),
    });
    let writer_shared = shared.clone();
    let writer = std::thread::Builder::new()
        .name("mqtt-native-persist".into())
        .spawn(move || writer_shared.run())
        .map_err(|e| format!("mqtt-native persistence: cannot start the writer thread: {e}"))?;
    let journal = LogJournal {
        shared: shared.clone(),
        version,
        writer: Some(writer),
        _lock: lock,
    };
    let persistence = Persistence {
        shared: Arc::downgrade(&shared),
    };
    Ok((journal, persistence, restored))
}

#[cfg(test)]
mod tests;
