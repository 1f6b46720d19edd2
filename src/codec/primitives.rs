//! The MQTT data representations (MQTT 5 §1.5): bounds-checked readers over a packet body and
//! writers that validate what they write.
//!
//! Reading never panics: every read checks the bytes left first and reports a truncated field
//! as a malformed packet. Writing goes through [`Writer`], which either counts bytes (the first
//! pass of encoding, where every validation runs) or appends them.

use bytes::{BufMut, Bytes, BytesMut};

use super::CodecError;

/// The largest value a Variable Byte Integer can carry (MQTT 5 §1.5.5).
pub(crate) const VARINT_MAX: u32 = 268_435_455;

/// The longest UTF-8 string or binary field: a two-byte length prefix (MQTT 5 §1.5.4, §1.5.6).
pub(crate) const STRING_MAX: usize = 65_535;

/// Decodes a Variable Byte Integer from the front of `bytes` (MQTT 5 §1.5.5).
///
/// Returns `Ok(None)` when `bytes` ends before the integer does, and `Ok(Some((value, len)))`
/// otherwise. More than four bytes, or a longer encoding than the value needs, is malformed.
pub(crate) fn decode_varint(
    bytes: &[u8],
    what: &'static str,
) -> Result<Option<(u32, usize)>, CodecError> {
    let mut value: u32 = 0;
    for (i, &byte) in bytes.iter().take(4).enumerate() {
        value |= u32::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            // The encoded value MUST use the minimum number of bytes (MQTT 5 §1.5.5).
            if i > 0 && byte == 0 {
                return Err(CodecError::malformed(format!(
                    "{what} is not encoded in the minimum number of bytes (MQTT 5 §1.5.5)"
                )));
            }
            return Ok(Some((value, i + 1)));
        }
    }
    if bytes.len() >= 4 {
        // At most four bytes (MQTT 5 §1.5.5, §2.1.4).
        return Err(CodecError::malformed(format!(
            "{what} is longer than 4 bytes (MQTT 5 §1.5.5)"
        )));
    }
    Ok(None)
}

/// The number of bytes the Variable Byte Integer encoding of `value` takes.
pub(crate) fn varint_len(value: u32) -> usize {
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

fn truncated(what: &'static str) -> CodecError {
    CodecError::malformed(format!(
        "{what} extends past the end of the packet (MQTT 5 §1.5)"
    ))
}

/// A bounds-checked cursor over a packet body; slices share the body's allocation.
#[derive(Debug)]
pub(crate) struct Reader {
    buf: Bytes,
}

impl Reader {
    /// A reader over `buf`.
    pub(crate) fn new(buf: Bytes) -> Self {
        Reader { buf }
    }

    /// The bytes not yet read.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Whether everything has been read.
    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Takes the next `n` bytes.
    pub(crate) fn bytes(&mut self, n: usize, what: &'static str) -> Result<Bytes, CodecError> {
        if n > self.buf.len() {
            return Err(truncated(what));
        }
        Ok(self.buf.split_to(n))
    }

    /// Takes everything left.
    pub(crate) fn rest(&mut self) -> Bytes {
        std::mem::take(&mut self.buf)
    }

    /// A one-byte integer.
    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, CodecError> {
        let (&first, _) = self.buf.split_first().ok_or_else(|| truncated(what))?;
        self.buf = self.buf.slice(1..);
        Ok(first)
    }

    /// A Two Byte Integer, big-endian (MQTT 5 §1.5.2).
    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, CodecError> {
        let b = self.bytes(2, what)?;
        let mut a = [0u8; 2];
        a.copy_from_slice(&b);
        Ok(u16::from_be_bytes(a))
    }

    /// A Four Byte Integer, big-endian (MQTT 5 §1.5.3).
    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, CodecError> {
        let b = self.bytes(4, what)?;
        let mut a = [0u8; 4];
        a.copy_from_slice(&b);
        Ok(u32::from_be_bytes(a))
    }

    /// A Variable Byte Integer (MQTT 5 §1.5.5).
    pub(crate) fn varint(&mut self, what: &'static str) -> Result<u32, CodecError> {
        match decode_varint(&self.buf, what)? {
            Some((value, len)) => {
                self.buf = self.buf.slice(len..);
                Ok(value)
            }
            None => Err(truncated(what)),
        }
    }

    /// Binary Data: a two-byte length and that many bytes (MQTT 5 §1.5.6).
    pub(crate) fn binary(&mut self, what: &'static str) -> Result<Bytes, CodecError> {
        let len = self.u16(what)?;
        self.bytes(usize::from(len), what)
    }

    /// A UTF-8 Encoded String (MQTT 5 §1.5.4): well-formed UTF-8 without U+0000.
    pub(crate) fn string(&mut self, what: &'static str) -> Result<String, CodecError> {
        let raw = self.binary(what)?;
        let text = std::str::from_utf8(&raw).map_err(|_| {
            // The character data MUST be well-formed UTF-8 (MQTT 5 §1.5.4 [MQTT-1.5.4-1]).
            CodecError::malformed(format!("{what} is not well-formed UTF-8 (MQTT 5 §1.5.4)"))
        })?;
        // A string MUST NOT include the null character U+0000 (MQTT 5 §1.5.4 [MQTT-1.5.4-2]).
        if text.contains('\0') {
            return Err(CodecError::malformed(format!(
                "{what} contains U+0000 (MQTT 5 §1.5.4)"
            )));
        }
        Ok(text.to_owned())
    }
}

/// Checks a string before it is written: at most 65,535 bytes and no U+0000 (MQTT 5 §1.5.4).
pub(crate) fn check_string(s: &str, what: &'static str) -> Result<(), CodecError> {
    if s.len() > STRING_MAX {
        return Err(CodecError::unencodable(format!(
            "{what} is {} bytes long, more than 65,535 (MQTT 5 §1.5.4)",
            s.len()
        )));
    }
    if s.contains('\0') {
        return Err(CodecError::unencodable(format!(
            "{what} contains U+0000 (MQTT 5 §1.5.4)"
        )));
    }
    Ok(())
}

/// The destination of an encoding pass: counts bytes, and appends them when it has a buffer.
///
/// Encoding runs twice: once counting (every validation happens there, so a failed encoding never
/// touches the output), then writing after the fixed header, whose length needs the count.
#[derive(Debug)]
pub(crate) struct Writer<'a> {
    out: Option<&'a mut BytesMut>,
    len: usize,
}

impl<'a> Writer<'a> {
    /// A writer that only counts.
    pub(crate) fn counter() -> Writer<'static> {
        Writer { out: None, len: 0 }
    }

    /// A writer that appends to `out`.
    pub(crate) fn new(out: &'a mut BytesMut) -> Self {
        Writer {
            out: Some(out),
            len: 0,
        }
    }

    /// Whether this pass only counts.
    pub(crate) fn is_counting(&self) -> bool {
        self.out.is_none()
    }

    /// The bytes counted or written so far.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Appends one byte.
    pub(crate) fn put_u8(&mut self, v: u8) {
        self.len += 1;
        if let Some(out) = self.out.as_deref_mut() {
            out.put_u8(v);
        }
    }

    /// Appends a Two Byte Integer (MQTT 5 §1.5.2).
    pub(crate) fn put_u16(&mut self, v: u16) {
        self.len += 2;
        if let Some(out) = self.out.as_deref_mut() {
            out.put_u16(v);
        }
    }

    /// Appends a Four Byte Integer (MQTT 5 §1.5.3).
    pub(crate) fn put_u32(&mut self, v: u32) {
        self.len += 4;
        if let Some(out) = self.out.as_deref_mut() {
            out.put_u32(v);
        }
    }

    /// Appends raw bytes.
    pub(crate) fn put_slice(&mut self, v: &[u8]) {
        self.len += v.len();
        if let Some(out) = self.out.as_deref_mut() {
            out.put_slice(v);
        }
    }

    /// Appends a Variable Byte Integer (MQTT 5 §1.5.5); values above 268,435,455 are refused.
    pub(crate) fn put_varint(&mut self, v: u32, what: &'static str) -> Result<(), CodecError> {
        if v > VARINT_MAX {
            return Err(CodecError::unencodable(format!(
                "{what} {v} exceeds 268,435,455 (MQTT 5 §1.5.5)"
            )));
        }
        let mut rest = v;
        loop {
            // `rest % 128` fits in seven bits.
            let digit = (rest & 0x7F) as u8;
            rest >>= 7;
            if rest == 0 {
                self.put_u8(digit);
                return Ok(());
            }
            self.put_u8(digit | 0x80);
        }
    }

    /// Appends Binary Data: a two-byte length then the bytes (MQTT 5 §1.5.6).
    pub(crate) fn put_binary(&mut self, v: &[u8], what: &'static str) -> Result<(), CodecError> {
        let len = u16::try_from(v.len()).map_err(|_| {
            CodecError::unencodable(format!(
                "{what} is {} bytes long, more than 65,535 (MQTT 5 §1.5.6)",
                v.len()
            ))
        })?;
        self.put_u16(len);
        self.put_slice(v);
        Ok(())
    }

    /// Appends a UTF-8 Encoded String (MQTT 5 §1.5.4), checked by [`check_string`].
    pub(crate) fn put_string(&mut self, v: &str, what: &'static str) -> Result<(), CodecError> {
        if self.is_counting() {
            check_string(v, what)?;
        }
        self.put_binary(v.as_bytes(), what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_boundaries_round_trip_in_the_minimum_number_of_bytes() {
        for (value, len) in [
            (0u32, 1usize),
            (127, 1),
            (128, 2),
            (16_383, 2),
            (16_384, 3),
            (2_097_151, 3),
            (2_097_152, 4),
            (VARINT_MAX, 4),
        ] {
            let mut out = BytesMut::new();
            Writer::new(&mut out).put_varint(value, "value").unwrap();
            assert_eq!(out.len(), len, "{value}");
            assert_eq!(varint_len(value), len, "{value}");
            assert_eq!(decode_varint(&out, "value").unwrap(), Some((value, len)));
        }
    }

    #[test]
    fn a_varint_longer_than_four_bytes_is_malformed() {
        let err = decode_varint(&[0xFF, 0xFF, 0xFF, 0xFF, 0x01], "value").unwrap_err();
        assert_eq!(err.reason_code(), 0x81);
    }

    #[test]
    fn a_varint_in_more_bytes_than_needed_is_malformed() {
        assert!(decode_varint(&[0x80, 0x00], "value").is_err());
        assert!(decode_varint(&[0xFF, 0x80, 0x00], "value").is_err());
    }

    #[test]
    fn an_unfinished_varint_asks_for_more() {
        assert_eq!(decode_varint(&[0x80, 0x80], "value").unwrap(), None);
        assert_eq!(decode_varint(&[], "value").unwrap(), None);
    }

    #[test]
    fn a_varint_above_the_maximum_is_unencodable() {
        assert!(Writer::counter()
            .put_varint(VARINT_MAX + 1, "value")
            .is_err());
    }

    #[test]
    fn strings_reject_invalid_utf8_and_the_null_character() {
        let mut r = Reader::new(Bytes::from_static(&[0, 2, 0xC3, 0x28]));
        assert!(r.string("s").is_err());
        let mut r = Reader::new(Bytes::from_static(&[0, 3, b'a', 0, b'b']));
        assert!(r.string("s").is_err());
        // An encoded surrogate (U+D800) is not well-formed UTF-8.
        let mut r = Reader::new(Bytes::from_static(&[0, 3, 0xED, 0xA0, 0x80]));
        assert!(r.string("s").is_err());
        let mut r = Reader::new(Bytes::from_static(&[0, 2, 0xC3, 0xA9]));
        assert_eq!(r.string("s").unwrap(), "é");
    }

    #[test]
    fn reads_past_the_end_are_malformed() {
        let mut r = Reader::new(Bytes::from_static(&[0, 5, b'a']));
        assert_eq!(r.string("s").unwrap_err().reason_code(), 0x81);
        let mut r = Reader::new(Bytes::from_static(&[1]));
        assert!(r.u16("n").is_err());
        assert!(Reader::new(Bytes::new()).u8("b").is_err());
        assert!(Reader::new(Bytes::from_static(&[1, 2, 3]))
            .u32("n")
            .is_err());
    }

    #[test]
    fn long_strings_and_binaries_are_unencodable() {
        let long = "x".repeat(STRING_MAX + 1);
        assert!(Writer::counter().put_string(&long, "s").is_err());
        assert!(Writer::counter().put_binary(long.as_bytes(), "b").is_err());
        let ok = "x".repeat(STRING_MAX);
        assert!(Writer::counter().put_string(&ok, "s").is_ok());
    }
}
