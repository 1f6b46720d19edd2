//! The codec's error value.

use std::borrow::Cow;

/// What kind of rule a [`CodecError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The bytes do not form a packet (MQTT 5 reason code 0x81).
    Malformed,
    /// A well-formed packet breaks a protocol rule (0x82).
    Protocol,
    /// The packet exceeds the configured maximum packet size (0x95).
    TooLarge,
    /// A packet given to `encode` cannot be represented on the wire.
    Unencodable,
}

/// An error from [`decode`](super::decode) or [`encode`](super::encode): what rule was broken,
/// in words that cite the specification, and the MQTT 5 reason code it maps to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CodecError {
    kind: ErrorKind,
    message: Cow<'static, str>,
}

impl CodecError {
    /// A malformed packet (0x81).
    pub fn malformed(message: impl Into<Cow<'static, str>>) -> Self {
        CodecError {
            kind: ErrorKind::Malformed,
            message: message.into(),
        }
    }

    /// A protocol error (0x82).
    pub fn protocol(message: impl Into<Cow<'static, str>>) -> Self {
        CodecError {
            kind: ErrorKind::Protocol,
            message: message.into(),
        }
    }

    /// A packet larger than the limit (0x95).
    pub fn too_large(message: impl Into<Cow<'static, str>>) -> Self {
        CodecError {
            kind: ErrorKind::TooLarge,
            message: message.into(),
        }
    }

    /// A packet that cannot be encoded.
    pub fn unencodable(message: impl Into<Cow<'static, str>>) -> Self {
        CodecError {
            kind: ErrorKind::Unencodable,
            message: message.into(),
        }
    }

    /// The kind of rule broken.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The MQTT 5 reason code this error maps to: 0x81, 0x82 or 0x95 (0x81 for unencodable).
    pub fn reason_code(&self) -> u8 {
        match self.kind {
            ErrorKind::Malformed | ErrorKind::Unencodable => 0x81,
            ErrorKind::Protocol => 0x82,
            ErrorKind::TooLarge => 0x95,
        }
    }

    /// The human-readable description.
    pub fn message(&self) -> &str {
        &self.message
    }
}
