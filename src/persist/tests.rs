//! The log against real files in a temporary directory.

use std::sync::atomic::AtomicUsize;

use bytes::Bytes;

use super::*;
use crate::codec::{Properties, QoS};

/// A fresh directory under the system's temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "mqtt-native-persist-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&dir);
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn publish(qos: QoS, id: u16, payload: &'static [u8]) -> Publish {
    Publish {
        dup: false,
        qos,
        retain: false,
        topic: "t/1".into(),
        message_id: id,
        payload: Bytes::from_static(payload),
        properties: Properties::default(),
    }
}

fn open_v4(dir: &TempDir) -> (LogJournal, Persistence, Restored) {
    open(&dir.0, "client/1", ProtocolVersion::V3_1_1).unwrap()
}

#[test]
fn unfinished_exchanges_survive_a_reopen_in_order_and_finished_ones_do_not() {
    let dir = TempDir::new();
    let (mut journal, _p, restored) = open_v4(&dir);
    assert!(restored.outgoing.is_empty() && restored.warning.is_none());
    journal.record(JournalEntry::Publish(&publish(QoS::AtLeastOnce, 5, b"a")));
    journal.record(JournalEntry::Publish(&publish(QoS::ExactlyOnce, 6, b"b")));
    journal.record(JournalEntry::Publish(&publish(QoS::AtLeastOnce, 7, b"c")));
    journal.record(JournalEntry::Done(5));
    journal.record(JournalEntry::PubRel(6));
    journal.record(JournalEntry::Incoming(&publish(QoS::ExactlyOnce, 9, b"in")));
    journal.record(JournalEntry::Incoming(&publish(
        QoS::ExactlyOnce,
        10,
        b"in2",
    )));
    journal.record(JournalEntry::IncomingDone(10));
    journal.record(JournalEntry::Publish(&publish(
        QoS::AtLeastOnce,
        5,
        b"again",
    )));
    drop(journal);
    let (_journal, _p, restored) = open_v4(&dir);
    assert_eq!(
        restored.outgoing,
        vec![
            RestoredOutgoing::PubRel(6),
            RestoredOutgoing::Publish(publish(QoS::AtLeastOnce, 7, b"c")),
            RestoredOutgoing::Publish(publish(QoS::AtLeastOnce, 5, b"again")),
        ]
    );
    assert_eq!(restored.incoming, vec![publish(QoS::ExactlyOnce, 9, b"in")]);
    assert!(restored.warning.is_none());
}

#[test]
fn write_ahead_puts_records_in_the_file_before_the_writer_thread_runs() {
    let dir = TempDir::new();
    let (mut journal, _p, _) = open_v4(&dir);
    journal.record(JournalEntry::Publish(&publish(QoS::AtLeastOnce, 1, b"x")));
    journal.write_ahead();
    // Read the file as another process would after a kill -9 (no sync needed for that).
    let contents = fs::read(dir.0.join("client%2F1.mqttlog")).unwrap();
    let scan = record::scan(&contents);
    assert_eq!(
        scan.records,
        vec![Record::Publish(publish(QoS::AtLeastOnce, 1, b"x"))]
    );
}

#[test]
fn a_truncated_log_gives_one_warning_and_keeps_every_whole_record() {
    let dir = TempDir::new();
    {
        let (mut journal, persistence, _) = open_v4(&dir);
        for id in 1..=3 {
            journal.record(JournalEntry::Publish(&publish(
                QoS::AtLeastOnce,
                id,
                b"payload",
            )));
        }
        persistence.sync().unwrap();
    }
    let path = dir.0.join("client%2F1.mqttlog");
    let contents = fs::read(&path).unwrap();
    fs::write(&path, &contents[..contents.len() - 4]).unwrap();
    let (_j, _p, restored) = open_v4(&dir);
    assert_eq!(restored.outgoing.len(), 2);
    let warning = restored.warning.unwrap();
    assert!(
        warning.contains("1 damaged or truncated stretch"),
        "{warning}"
    );
    drop(_j);
    // The damaged tail is gone from the rewritten file: the next open is clean.
    let (_j, _p, restored) = open_v4(&dir);
    assert_eq!(restored.outgoing.len(), 2);
    assert!(restored.warning.is_none());
}

#[test]
fn a_second_open_of_the_same_log_is_refused_while_the_first_is_open() {
    let dir = TempDir::new();
    let first = open_v4(&dir);
    let error = open(&dir.0, "client/1", ProtocolVersion::V3_1_1).unwrap_err();
    assert!(error.contains("in use"), "{error}");
    drop(first);
    assert!(open(&dir.0, "client/1", ProtocolVersion::V3_1_1).is_ok());
}

#[test]
fn the_listener_hears_once_records_are_synced() {
    let dir = TempDir::new();
    let (mut journal, persistence, _) = open_v4(&dir);
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = Mutex::new(tx);
    persistence.set_listener(Box::new(move |r| {
        let _ = tx.lock().send(r);
    }));
    journal.record(JournalEntry::Publish(&publish(QoS::AtLeastOnce, 1, b"x")));
    let seq = persistence.position();
    assert_eq!(seq, 1);
    if !persistence.want(seq) {
        let synced = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .unwrap()
            .unwrap();
        assert!(synced >= seq);
    }
    assert!(persistence.durable() >= seq);
}

#[test]
fn the_log_is_compacted_once_it_holds_mostly_finished_exchanges() {
    let dir = TempDir::new();
    let (mut journal, persistence, _) = open_v4(&dir);
    let payload: &'static [u8] = &[7u8; 4096];
    for round in 0..2000u32 {
        let id = (round % 100 + 1) as u16;
        journal.record(JournalEntry::Publish(&publish(
            QoS::AtLeastOnce,
            id,
            payload,
        )));
        journal.record(JournalEntry::Done(id));
    }
    journal.record(JournalEntry::Publish(&publish(
        QoS::AtLeastOnce,
        500,
        b"live",
    )));
    persistence.sync().unwrap();
    // Let the writer thread finish its own round (and the compaction it triggers).
    drop(journal);
    let len = fs::metadata(dir.0.join("client%2F1.mqttlog"))
        .unwrap()
        .len();
    assert!(len < COMPACT_MIN_BYTES, "log is {len} bytes");
    let (_j, _p, restored) = open_v4(&dir);
    assert_eq!(
        restored.outgoing,
        vec![RestoredOutgoing::Publish(publish(
            QoS::AtLeastOnce,
            500,
            b"live"
        ))]
    );
}

#[test]
fn file_names_keep_safe_characters_and_escape_the_rest() {
    assert_eq!(file_name("abc-1_2.x"), "abc-1_2.x.mqttlog");
    assert_eq!(file_name("a/b c"), "a%2Fb%20c.mqttlog");
    assert_eq!(file_name(".."), "...mqttlog");
}

#[test]
fn unnumbered_publishes_keep_their_order_and_the_identifier_they_were_first_sent_with() {
    let dir = TempDir::new();
    let (mut journal, _p, _) = open_v4(&dir);
    journal.record(JournalEntry::Publish(&publish(QoS::AtLeastOnce, 0, b"a")));
    journal.record(JournalEntry::Publish(&publish(QoS::ExactlyOnce, 0, b"b")));
    journal.record(JournalEntry::Publish(&publish(QoS::AtLeastOnce, 0, b"c")));
    journal.record(JournalEntry::Publish(&publish(QoS::AtLeastOnce, 0, b"d")));
    // "a" and "b" went out as 40 and 41; "a" completed; "c" was dropped (Done(0) ends the oldest
    // unnumbered one); "d" was never sent.
    journal.record(JournalEntry::Numbered(40));
    journal.record(JournalEntry::Numbered(41));
    journal.record(JournalEntry::Done(40));
    journal.record(JournalEntry::Done(0));
    drop(journal);
    let expected = vec![
        RestoredOutgoing::Publish(publish(QoS::ExactlyOnce, 41, b"b")),
        RestoredOutgoing::Publish(publish(QoS::AtLeastOnce, 0, b"d")),
    ];
    let (journal, _p, restored) = open_v4(&dir);
    assert_eq!(restored.outgoing, expected);
    drop(journal);
    // The rewritten file (what compaction writes too) gives the same.
    let (mut journal, _p, restored) = open_v4(&dir);
    assert_eq!(restored.outgoing, expected);
    // Numbered after the restart, "d" keeps its place and takes its identifier.
    journal.record(JournalEntry::Numbered(7));
    drop(journal);
    let (_journal, _p, restored) = open_v4(&dir);
    assert_eq!(
        restored.outgoing,
        vec![
            RestoredOutgoing::Publish(publish(QoS::ExactlyOnce, 41, b"b")),
            RestoredOutgoing::Publish(publish(QoS::AtLeastOnce, 7, b"d")),
        ]
    );
}

#[test]
fn compaction_keeps_an_unnumbered_publish_with_its_numbering() {
    let mut index = Index::default();
    let mut buf = BytesMut::new();
    record::put_publish(
        &mut buf,
        record::KIND_PUBLISH,
        &publish(QoS::AtLeastOnce, 0, b"x"),
        ProtocolVersion::V3_1_1,
    );
    record::put_publish(
        &mut buf,
        record::KIND_PUBLISH,
        &publish(QoS::AtLeastOnce, 0, b"y"),
        ProtocolVersion::V3_1_1,
    );
    record::put_id(&mut buf, record::KIND_NUMBERED, 9);
    index.apply(&buf);
    let mut compacted = Vec::new();
    for bytes in index.live.values() {
        compacted.extend_from_slice(bytes);
    }
    let records = record::scan(&[&record::MAGIC[..], &compacted].concat()).records;
    let restored = replay(records);
    assert_eq!(
        restored.outgoing,
        vec![
            RestoredOutgoing::Publish(publish(QoS::AtLeastOnce, 9, b"x")),
            RestoredOutgoing::Publish(publish(QoS::AtLeastOnce, 0, b"y")),
        ]
    );
}
