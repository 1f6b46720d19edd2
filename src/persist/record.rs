//! The log's on-disk format: a header, then records, each framed and checksummed.
//!
//! ```text
//! file    = "MQTTNLG1" record*
//! record  = len:u32le crc:u32le kind:u8 body      (len counts kind and body; crc is CRC-32 of them)
//! body    = version:u8 PUBLISH-packet              (kinds 1 Publish, 4 Incoming)
//!         | message-id:u16be                       (kinds 2 PubRel, 3 Done, 5 IncomingDone,
//!                                                   7 Numbered)
//!         | (empty)                                (kind 6 IncomingCleared)
//!         | version:u8 PUBLISH-packet              (kind 8 Unnumbered: an outgoing publish not
//!                                                   numbered yet, encoded with identifier 1)
//! ```
//!
//! Outgoing publishes get their packet identifier when first sent (MQTT 5 §2.2.1). One accepted
//! before that is an Unnumbered record; the Numbered record that follows when it is sent gives
//! the oldest unnumbered publish its identifier, and Done with identifier 0 drops the oldest
//! unnumbered publish.
//!
//! A crash mid-write leaves a truncated last record; a damaged disk leaves anything. Reading
//! checks every frame and skips a bad one by scanning forward, byte by byte, to the next offset
//! where a frame with a good checksum starts, so that one bad record costs only itself.

use bytes::{BufMut, BytesMut};

use crate::codec::{self, Limits, Packet, ProtocolVersion, Publish, PublishRef};

/// The first bytes of every log file (format version 1).
pub(crate) const MAGIC: &[u8; 8] = b"MQTTNLG1";
/// Bytes before a record's body: length, checksum, kind.
#[cfg(test)]
pub(crate) const FRAME: usize = 9;
/// No record is larger than the largest PUBLISH plus its version byte and a margin.
const MAX_RECORD: usize = 268_435_460 + 16;

pub(crate) const KIND_PUBLISH: u8 = 1;
pub(crate) const KIND_PUBREL: u8 = 2;
pub(crate) const KIND_DONE: u8 = 3;
pub(crate) const KIND_INCOMING: u8 = 4;
pub(crate) const KIND_INCOMING_DONE: u8 = 5;
pub(crate) const KIND_INCOMING_CLEARED: u8 = 6;
pub(crate) const KIND_NUMBERED: u8 = 7;
pub(crate) const KIND_UNNUMBERED: u8 = 8;

/// A decoded record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Record {
    Publish(Publish),
    PubRel(u16),
    Done(u16),
    Incoming(Publish),
    IncomingDone(u16),
    IncomingCleared,
    /// The oldest unnumbered publish got this identifier.
    Numbered(u16),
}

/// Appends a record whose body `write_body` appends; returns false (leaving `out` as it was)
/// when the body cannot be written.
fn frame(out: &mut BytesMut, kind: u8, write_body: impl FnOnce(&mut BytesMut) -> bool) -> bool {
    let start = out.len();
    out.put_u32_le(0);
    out.put_u32_le(0);
    out.put_u8(kind);
    if !write_body(out) {
        out.truncate(start);
        return false;
    }
    let len = out.len() - start - 8;
    let Ok(len32) = u32::try_from(len) else {
        out.truncate(start);
        return false;
    };
    let crc = crc32fast::hash(&out[start + 8..]);
    out[start..start + 4].copy_from_slice(&len32.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    true
}

/// Appends a PUBLISH record (`kind` [`KIND_PUBLISH`] or [`KIND_INCOMING`]). The topic alias, a
/// property of one connection, is not kept. Returns false if the packet cannot be encoded.
pub(crate) fn put_publish(
    out: &mut BytesMut,
    kind: u8,
    publish: &Publish,
    version: ProtocolVersion,
) -> bool {
    // Not numbered yet: kept under a kind of its own, encoded with a stand-in identifier.
    let (kind, message_id) = if kind == KIND_PUBLISH && publish.message_id == 0 {
        (KIND_UNNUMBERED, 1)
    } else {
        (kind, publish.message_id)
    };
    frame(out, kind, |out| {
        out.put_u8(version.level());
        let stripped;
        let properties = if publish.properties.topic_alias.is_some() {
            let mut p = publish.properties.clone();
            p.topic_alias = None;
            stripped = p;
            &stripped
        } else {
            &publish.properties
        };
        let packet = PublishRef {
            dup: false,
            qos: publish.qos,
            retain: publish.retain,
            topic: &publish.topic,
            message_id,
            payload: &publish.payload,
            properties,
        };
        codec::encode_publish(&packet, version, out).is_ok()
    })
}

/// Appends a record that carries a message id.
pub(crate) fn put_id(out: &mut BytesMut, kind: u8, id: u16) {
    frame(out, kind, |out| {
        out.put_u16(id);
        true
    });
}

/// Appends a record without a body.
pub(crate) fn put_empty(out: &mut BytesMut, kind: u8) {
    frame(out, kind, |_| true);
}

/// The frame at the front of `buf`, if it is whole and its checksum is right: `(kind, body,
/// total length)`.
pub(crate) fn frame_at(buf: &[u8]) -> Option<(u8, &[u8], usize)> {
    let len = u32::from_le_bytes(buf.get(0..4)?.try_into().ok()?) as usize;
    if len == 0 || len > MAX_RECORD {
        return None;
    }
    let crc = u32::from_le_bytes(buf.get(4..8)?.try_into().ok()?);
    let data = buf.get(8..8 + len)?;
    if crc32fast::hash(data) != crc {
        return None;
    }
    let (&kind, body) = data.split_first()?;
    Some((kind, body, 8 + len))
}

/// The message id a record of `kind` with `body` is about, for the writer's index.
pub(crate) fn id_of(kind: u8, body: &[u8]) -> Option<u16> {
    match kind {
        KIND_PUBREL | KIND_DONE | KIND_INCOMING_DONE | KIND_NUMBERED => {
            Some(u16::from_be_bytes(body.get(0..2)?.try_into().ok()?))
        }
        KIND_UNNUMBERED => Some(0),
        KIND_PUBLISH | KIND_INCOMING => {
            // version byte, then the PUBLISH: fixed header, topic, message id.
            let packet = body.get(1..)?;
            let mut i = 1;
            while *packet.get(i)? & 0x80 != 0 {
                i += 1;
            }
            i += 1;
            let topic_len = usize::from(u16::from_be_bytes(packet.get(i..i + 2)?.try_into().ok()?));
            let at = i + 2 + topic_len;
            Some(u16::from_be_bytes(packet.get(at..at + 2)?.try_into().ok()?))
        }
        _ => None,
    }
}

/// Decodes a checked frame's contents.
pub(crate) fn decode(kind: u8, body: &[u8]) -> Option<Record> {
    match kind {
        KIND_PUBLISH | KIND_INCOMING | KIND_UNNUMBERED => {
            let (&level, packet) = body.split_first()?;
            let version = ProtocolVersion::try_from(level).ok()?;
            let mut buf = BytesMut::from(packet);
            match codec::decode(&mut buf, version, &Limits::default()) {
                Ok(Some(Packet::Publish(mut publish)))
                    if buf.is_empty() && publish.message_id != 0 =>
                {
                    Some(match kind {
                        KIND_PUBLISH => Record::Publish(publish),
                        KIND_INCOMING => Record::Incoming(publish),
                        _ => {
                            publish.message_id = 0;
                            Record::Publish(publish)
                        }
                    })
                }
                _ => None,
            }
        }
        KIND_PUBREL | KIND_DONE | KIND_INCOMING_DONE | KIND_NUMBERED => {
            if body.len() != 2 {
                return None;
            }
            let id = u16::from_be_bytes([body[0], body[1]]);
            Some(match kind {
                KIND_PUBREL => Record::PubRel(id),
                KIND_DONE => Record::Done(id),
                KIND_NUMBERED => Record::Numbered(id),
                _ => Record::IncomingDone(id),
            })
        }
        KIND_INCOMING_CLEARED if body.is_empty() => Some(Record::IncomingCleared),
        _ => None,
    }
}

/// What reading a log found.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// The good records, in file order.
    pub(crate) records: Vec<Record>,
    /// Damaged stretches skipped (each a run of bytes between good records, or a good frame
    /// whose contents did not decode).
    pub(crate) skipped: usize,
    /// Bytes in those stretches.
    pub(crate) skipped_bytes: usize,
    /// Whether the header was missing or wrong (the file was then read from its first byte).
    pub(crate) bad_header: bool,
}

/// Reads every good record of a log file's contents, skipping damaged ones.
pub(crate) fn scan(file: &[u8]) -> Scan {
    let mut scan = Scan::default();
    let mut at = if file.starts_with(MAGIC) {
        MAGIC.len()
    } else {
        scan.bad_header = !file.is_empty();
        0
    };
    let mut bad_since: Option<usize> = None;
    while at < file.len() {
        match frame_at(&file[at..]) {
            Some((kind, body, total)) => {
                if let Some(start) = bad_since.take() {
                    scan.skipped += 1;
                    scan.skipped_bytes += at - start;
                }
                match decode(kind, body) {
                    Some(record) => scan.records.push(record),
                    None => {
                        scan.skipped += 1;
                        scan.skipped_bytes += total;
                    }
                }
                at += total;
            }
            None => {
                bad_since.get_or_insert(at);
                at += 1;
            }
        }
    }
    if let Some(start) = bad_since {
        scan.skipped += 1;
        scan.skipped_bytes += file.len() - start;
    }
    scan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Properties, QoS};
    use bytes::Bytes;

    fn publish(id: u16, payload: &'static [u8]) -> Publish {
        Publish {
            dup: false,
            qos: QoS::AtLeastOnce,
            retain: false,
            topic: "a/b".into(),
            message_id: id,
            payload: Bytes::from_static(payload),
            properties: Properties::default(),
        }
    }

    fn log(records: impl FnOnce(&mut BytesMut)) -> Vec<u8> {
        let mut buf = BytesMut::new();
        buf.put_slice(MAGIC);
        records(&mut buf);
        buf.to_vec()
    }

    #[test]
    fn records_read_back_as_written_and_ids_are_found_without_decoding() {
        let file = log(|b| {
            assert!(put_publish(
                b,
                KIND_PUBLISH,
                &publish(7, b"x"),
                ProtocolVersion::V5
            ));
            put_id(b, KIND_PUBREL, 7);
            assert!(put_publish(
                b,
                KIND_INCOMING,
                &publish(9, b"y"),
                ProtocolVersion::V3_1_1
            ));
            put_id(b, KIND_DONE, 7);
            put_id(b, KIND_INCOMING_DONE, 9);
            put_empty(b, KIND_INCOMING_CLEARED);
        });
        let scan = scan(&file);
        assert_eq!(scan.skipped, 0);
        assert_eq!(
            scan.records,
            vec![
                Record::Publish(publish(7, b"x")),
                Record::PubRel(7),
                Record::Incoming(publish(9, b"y")),
                Record::Done(7),
                Record::IncomingDone(9),
                Record::IncomingCleared,
            ]
        );
        let mut at = MAGIC.len();
        let mut ids = Vec::new();
        while let Some((kind, body, total)) = frame_at(&file[at..]) {
            ids.push(id_of(kind, body));
            at += total;
        }
        assert_eq!(ids, vec![Some(7), Some(7), Some(9), Some(7), Some(9), None]);
    }

    #[test]
    fn a_truncated_last_record_is_skipped_and_the_ones_before_it_are_kept() {
        let file = log(|b| {
            put_publish(b, KIND_PUBLISH, &publish(1, b"one"), ProtocolVersion::V5);
            put_publish(b, KIND_PUBLISH, &publish(2, b"two"), ProtocolVersion::V5);
        });
        for cut in 1..20 {
            let scan = scan(&file[..file.len() - cut]);
            assert_eq!(
                scan.records,
                vec![Record::Publish(publish(1, b"one"))],
                "cut {cut}"
            );
            assert_eq!(scan.skipped, 1);
        }
    }

    #[test]
    fn a_damaged_record_in_the_middle_costs_only_itself() {
        let mut file = log(|b| {
            put_publish(b, KIND_PUBLISH, &publish(1, b"one"), ProtocolVersion::V5);
            put_publish(b, KIND_PUBLISH, &publish(2, b"two"), ProtocolVersion::V5);
            put_publish(b, KIND_PUBLISH, &publish(3, b"three"), ProtocolVersion::V5);
        });
        // Flip a byte of the second record's payload, then one of its length.
        let second = file.windows(3).position(|w| w == b"two").unwrap();
        file[second] ^= 0xFF;
        let scan1 = scan(&file);
        assert_eq!(
            scan1.records,
            vec![
                Record::Publish(publish(1, b"one")),
                Record::Publish(publish(3, b"three"))
            ]
        );
        assert_eq!(scan1.skipped, 1);
        // Back over properties length, id, topic, topic length, fixed header, version, frame.
        let header = second - 1 - 2 - 3 - 2 - 2 - 1 - FRAME;
        file[second] ^= 0xFF;
        file[header] = 0xEE;
        let scan2 = scan(&file);
        assert_eq!(scan2.records.len(), 2);
        assert_eq!(scan2.skipped, 1);
    }

    #[test]
    fn garbage_of_any_kind_never_panics() {
        let mut seed = 0x1234_5678u32;
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    seed as u8
                })
                .collect();
            let _ = scan(&bytes);
            let mut with_magic = MAGIC.to_vec();
            with_magic.extend_from_slice(&bytes);
            let _ = scan(&with_magic);
        }
    }
}
