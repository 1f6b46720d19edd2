//! Remembering the first bytes a server sends, to tell what kind of port we reached.
//!
//! A handshake that fails (TLS, WebSocket upgrade) consumes its stream, so the bytes are kept in
//! a shared [`FirstBytes`] that outlives it. The classification itself is [`Peer::of`].

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How many leading bytes are kept: enough for `HTTP/1.1 404` and a TLS record header.
const KEEP: usize = 16;

/// The first bytes read from a stream, shared with whoever wraps it.
#[derive(Debug, Clone, Default)]
pub struct FirstBytes(Arc<Mutex<Vec<u8>>>);

impl FirstBytes {
    /// A copy of what was recorded so far (at most 16 bytes).
    pub fn get(&self) -> Vec<u8> {
        self.0.lock().clone()
    }
}

/// A stream that records the first bytes read through it.
#[derive(Debug)]
pub struct Sniff<S> {
    inner: S,
    first: FirstBytes,
    full: bool,
}

impl<S> Sniff<S> {
    /// Wraps `inner`; the bytes read land in the returned [`FirstBytes`] too.
    pub fn new(inner: S) -> (Self, FirstBytes) {
        let first = FirstBytes::default();
        (
            Sniff {
                inner,
                first: first.clone(),
                full: false,
            },
            first,
        )
    }

    /// The wrapped stream.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Sniff<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if !self.full {
            if let Poll::Ready(Ok(())) = &poll {
                let fresh = &buf.filled()[before..];
                let mut kept = self.first.0.lock();
                let room = KEEP.saturating_sub(kept.len());
                kept.extend_from_slice(&fresh[..room.min(fresh.len())]);
                let full = kept.len() >= KEEP;
                drop(kept);
                self.full = full;
            }
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Sniff<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// What the first bytes from a server say about the protocol it speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// Nothing was received.
    Silent,
    /// An HTTP response (`HTTP/1.x …`): an HTTP or WebSocket port.
    Http,
    /// A TLS record (RFC 8446 §5.1: content type 20–23, legacy version 3.x).
    Tls,
    /// Anything else (for example an MQTT packet).
    Other,
}

impl Peer {
    /// Classifies the first bytes received from a server.
    pub fn of(first: &[u8]) -> Peer {
        match first {
            [] => Peer::Silent,
            [b'H', b'T', b'T', b'P', b'/', ..] => Peer::Http,
            // A prefix of "HTTP/" that was cut short is still most likely HTTP.
            [b'H', rest @ ..] if b"TTP/".starts_with(rest) => Peer::Http,
            [20..=23, 3, ..] | [20..=23] => Peer::Tls,
            _ => Peer::Other,
        }
    }

    /// The HTTP status code of a response that starts with `HTTP/1.x NNN`, if readable.
    pub fn http_status(first: &[u8]) -> Option<u16> {
        let text = std::str::from_utf8(first.get(9..12)?).ok()?;
        text.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn first_bytes_are_classified_by_protocol() {
        assert_eq!(Peer::of(b""), Peer::Silent);
        assert_eq!(Peer::of(b"HTTP/1.1 400 Bad Request"), Peer::Http);
        assert_eq!(Peer::of(b"HTT"), Peer::Http);
        assert_eq!(
            Peer::of(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46]),
            Peer::Tls
        );
        assert_eq!(Peer::of(&[0x16, 0x03, 0x01]), Peer::Tls);
        assert_eq!(Peer::of(&[0x20, 0x02, 0x00, 0x00]), Peer::Other);
        assert_eq!(Peer::http_status(b"HTTP/1.1 404 Not Found"), Some(404));
        assert_eq!(Peer::http_status(b"HTTP/1.1"), None);
    }

    #[tokio::test]
    async fn the_first_sixteen_bytes_read_are_kept_after_the_stream_is_gone() {
        let (mut server, client) = tokio::io::duplex(64);
        let (mut sniff, first) = Sniff::new(client);
        server.write_all(b"HTTP/1.1 400 Bad Request\r\n").await.ok();
        let mut buf = [0u8; 64];
        let n = sniff.read(&mut buf).await.unwrap_or(0);
        assert!(n > 0);
        drop(sniff);
        assert_eq!(first.get(), b"HTTP/1.1 400 Bad".to_vec());
    }
}
