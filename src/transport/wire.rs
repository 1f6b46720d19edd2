//! An open connection as non-blocking layers over one socket: the socket itself, TLS (a rustls
//! `ClientConnection`) and WebSocket framing, each optional.
//!
//! Design: a [`Wire`] never blocks and never waits. The driver calls [`Wire::read`] when the
//! socket is readable and [`Wire::write`]/[`Wire::flush`] when it has bytes to send or the
//! socket is writable; everything a call cannot finish stays buffered here and
//! [`Wire::wants_write`] says so. Opening a connection (DNS, SOCKS, TLS handshake, WebSocket
//! upgrade) is [`super::open`]'s job and happens before.

use std::io::{self, Read, Write};

use bytes::{Buf, BytesMut};
use rustls::ClientConnection;

use super::ws_frame::WsFramer;

/// The socket of an open connection, in non-blocking mode.
#[derive(Debug)]
pub enum Socket {
    /// TCP (`mqtt`, `mqtts`, `ws`, `wss`, and through a SOCKS proxy).
    Tcp(std::net::TcpStream),
    /// A unix domain socket (`unixSocket`, `mqtt+unix`).
    #[cfg(unix)]
    Unix(std::os::unix::net::UnixStream),
}

/// The operating system's handle of a socket, as libuv's `uv_os_sock_t` takes it.
#[cfg(unix)]
pub type RawSocket = std::os::fd::RawFd;
/// The operating system's handle of a socket, as libuv's `uv_os_sock_t` takes it.
#[cfg(windows)]
pub type RawSocket = std::os::windows::io::RawSocket;

impl Socket {
    /// The handle to poll.
    pub fn raw(&self) -> RawSocket {
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            match self {
                Socket::Tcp(s) => s.as_raw_fd(),
                Socket::Unix(s) => s.as_raw_fd(),
            }
        }
        #[cfg(windows)]
        {
            use std::os::windows::io::AsRawSocket;
            match self {
                Socket::Tcp(s) => s.as_raw_socket(),
            }
        }
    }

    /// Reads and drops, without blocking, what the kernel has already received for this
    /// socket. A TCP socket closed with unread bytes in its receive queue is reset rather than
    /// closed (RFC 2525 §2.17): the broker would see `ECONNRESET` for a client that simply ended
    /// right after the broker's last packet arrived.
    fn discard_unread(&self) {
        use std::io::Read;
        let mut scratch = [0u8; 16 * 1024];
        // Bounded: a broker still sending cannot hold the close for long.
        for _ in 0..64 {
            let read = match self {
                Socket::Tcp(s) => (&*s).read(&mut scratch),
                #[cfg(unix)]
                Socket::Unix(s) => (&*s).read(&mut scratch),
            };
            match read {
                Ok(n) if n == scratch.len() => continue,
                _ => break,
            }
        }
    }

    /// Puts a TCP socket into delayed-acknowledgement mode ([`delay_acks_of`]); unix sockets
    /// have no such mode.
    fn delay_acks(&self) {
        #[cfg(target_os = "linux")]
        if let Socket::Tcp(s) = self {
            use std::os::fd::AsRawFd;
            delay_acks_of(s.as_raw_fd());
        }
    }

    fn shutdown_write(&self) {
        let _ = match self {
            Socket::Tcp(s) => s.shutdown(std::net::Shutdown::Write),
            #[cfg(unix)]
            Socket::Unix(s) => s.shutdown(std::net::Shutdown::Write),
        };
    }
}

/// How many read and write system calls this thread's sockets made (every one goes through
/// [`Socket`]'s `Read` and `Write`): what the driver's batching saves shows here, as a count
/// that tests can assert where a timing could not be.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SocketCalls {
    /// Calls to `recv`.
    pub reads: u64,
    /// Calls to `send`.
    pub writes: u64,
}

thread_local! {
    static SOCKET_CALLS: std::cell::Cell<SocketCalls> = const {
        std::cell::Cell::new(SocketCalls { reads: 0, writes: 0 })
    };
}

/// The calling thread's socket system calls so far.
pub fn socket_calls() -> SocketCalls {
    SOCKET_CALLS.with(std::cell::Cell::get)
}

/// Counts a socket call of this thread (a read if `read`), for [`socket_calls`]; the driver's
/// own reads of a Node stream's socket count too.
pub(crate) fn count_call(read: bool) {
    SOCKET_CALLS.with(|c| {
        let mut calls = c.get();
        if read {
            calls.reads += 1;
        } else {
            calls.writes += 1;
        }
        c.set(calls);
    });
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        count_call(true);
        match self {
            Socket::Tcp(s) => s.read(buf),
            #[cfg(unix)]
            Socket::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        count_call(false);
        match self {
            Socket::Tcp(s) => s.write(buf),
            #[cfg(unix)]
            Socket::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What [`super::open`] hands to the driver: the socket and the layers above it.
#[derive(Debug)]
pub struct Opened {
    /// The socket, non-blocking.
    pub socket: Socket,
    /// The TLS session, handshake done.
    pub tls: Option<Box<ClientConnection>>,
    /// Whether MQTT bytes travel in WebSocket frames (upgrade done).
    pub ws: bool,
    /// Bytes under the WebSocket framing that arrived with the upgrade's answer, to be read
    /// before anything from the socket.
    pub pending: Vec<u8>,
}

/// What one [`Wire::read`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadStatus {
    /// This many MQTT bytes were appended (0 when only TLS or WebSocket control data came).
    Data(usize),
    /// Nothing more to read now.
    WouldBlock,
    /// The server closed the connection (after everything before the close was returned).
    Eof,
}

/// An open connection's layers and the bytes they have not written yet.
#[derive(Debug)]
pub struct Wire {
    socket: Socket,
    tls: Option<Box<ClientConnection>>,
    ws: Option<WsFramer>,
    /// WebSocket-level bytes received but not yet unframed.
    ws_in: BytesMut,
    /// Bytes for the socket (or for TLS to encrypt) that it did not take yet.
    out: BytesMut,
    /// `out` held more than [`READ_MAX`] bytes since it was last empty: its allocation is freed
    /// once it is (its capacity, which shrinks as it is consumed, no longer says how large it is).
    out_grown: bool,
    /// The socket reported the end of the stream.
    eof: bool,
    /// Size of the next socket read: small until a read fills it.
    read_size: usize,
    /// The last read returned less than it asked for: the socket is probably empty now.
    drained: bool,
}

/// The first read size of a connection: most MQTT traffic is small packets.
const READ_MIN: usize = 4 * 1024;
/// The read size of a connection whose reads fill the small one (a flood).
const READ_MAX: usize = 64 * 1024;

/// Puts the TCP socket `fd` into delayed-acknowledgement ("pingpong") mode: `TCP_QUICKACK`
/// off (Linux, tcp(7)); the kernel leaves the mode by itself after a pause. A failure (not a
/// TCP socket) only means the acknowledgements keep their mode.
#[cfg(target_os = "linux")]
pub fn delay_acks_of(fd: std::os::fd::RawFd) {
    let off: libc::c_int = 0;
    // SAFETY: an option value of the size given, for a descriptor the caller holds open.
    let _ = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_QUICKACK,
            std::ptr::from_ref(&off).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
}

fn would_block(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::WouldBlock
}

/// Writes `bytes` to the socket until it would block; returns how many it took.
fn write_until_blocked(socket: &mut Socket, bytes: &[u8]) -> io::Result<usize> {
    let mut written = 0;
    while written < bytes.len() {
        match socket.write(&bytes[written..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => written += n,
            Err(e) if would_block(&e) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(written)
}

/// Reads once from `source` into the end of `buf`, at most `max` bytes.
fn read_into(source: &mut impl Read, buf: &mut BytesMut, max: usize) -> io::Result<usize> {
    let len = buf.len();
    buf.resize(len + max, 0);
    let result = source.read(&mut buf[len..]);
    buf.truncate(len + *result.as_ref().unwrap_or(&0));
    result
}

impl Wire {
    /// Wraps what [`super::open`] returned.
    pub fn new(opened: Opened) -> Self {
        let mut tls = opened.tls;
        if let Some(tls) = tls.as_mut() {
            // The driver keeps its own buffer of what the socket did not take; rustls may hold
            // all of a flush's plaintext.
            tls.set_buffer_limit(None);
        }
        Wire {
            socket: opened.socket,
            tls,
            ws: opened.ws.then(WsFramer::new),
            ws_in: BytesMut::from(&opened.pending[..]),
            out: BytesMut::new(),
            out_grown: false,
            eof: false,
            read_size: READ_MIN,
            drained: false,
        }
    }

    /// The socket to poll.
    pub fn raw_socket(&self) -> RawSocket {
        self.socket.raw()
    }

    /// Whether bytes may already have been received that no readable event will announce:
    /// what came with the WebSocket upgrade's answer, or (over TLS) plaintext rustls decrypted
    /// during the upgrade and holds.
    pub fn may_have_unread(&self) -> bool {
        !self.ws_in.is_empty() || (self.ws.is_some() && self.tls.is_some())
    }

    /// Whether bytes are waiting for the socket to become writable.
    pub fn wants_write(&self) -> bool {
        !self.out.is_empty()
            || self.tls.as_ref().is_some_and(|t| t.wants_write())
            || self.ws.as_ref().is_some_and(|w| w.has_replies())
    }

    /// Drops what was received and not read yet, so that closing the socket now closes it
    /// normally rather than resetting it (see [`Socket::discard_unread`]).
    pub fn discard_unread(&self) {
        self.socket.discard_unread();
    }

    /// Asks the kernel to delay this connection's TCP acknowledgements (see
    /// `driver::ack_pacing` for when and why).
    pub fn delay_acks(&self) {
        self.socket.delay_acks();
    }

    /// Whether the last read found the socket emptied (it returned less than it asked for), so
    /// that another read now would most likely only say "would block". libuv's own stream
    /// reads stop on the same sign.
    pub fn is_drained(&self) -> bool {
        self.drained
    }

    /// Reads from the socket once and appends the MQTT bytes that arrived to `mqtt`.
    pub fn read(&mut self, mqtt: &mut BytesMut) -> io::Result<ReadStatus> {
        if self.eof {
            return Ok(ReadStatus::Eof);
        }
        let before = mqtt.len();
        // The bytes below WebSocket framing go to `ws_in` first when there is framing.
        let mut staged = std::mem::take(&mut self.ws_in);
        let target = if self.ws.is_some() {
            &mut staged
        } else {
            &mut *mqtt
        };
        let status = match self.tls.as_deref_mut() {
            None => match read_into(&mut self.socket, target, self.read_size) {
                Ok(0) => ReadStatus::Eof,
                Ok(n) => {
                    self.drained = n < self.read_size;
                    self.read_size = if n == self.read_size {
                        READ_MAX
                    } else {
                        READ_MIN
                    };
                    ReadStatus::Data(n)
                }
                Err(e) if would_block(&e) => ReadStatus::WouldBlock,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => ReadStatus::Data(0),
                Err(e) => {
                    self.ws_in = staged;
                    return Err(e);
                }
            },
            Some(tls) => {
                let status = match tls.read_tls(&mut self.socket) {
                    Ok(0) => ReadStatus::Eof,
                    Ok(n) => ReadStatus::Data(n),
                    Err(e) if would_block(&e) => ReadStatus::WouldBlock,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => ReadStatus::Data(0),
                    Err(e) => {
                        self.ws_in = staged;
                        return Err(e);
                    }
                };
                let state = match tls.process_new_packets() {
                    Ok(state) => state,
                    Err(error) => {
                        // Send the alert rustls queued, then report the TLS error.
                        let _ = tls.write_tls(&mut self.socket);
                        self.ws_in = staged;
                        return Err(io::Error::new(io::ErrorKind::InvalidData, error));
                    }
                };
                let plain = state.plaintext_bytes_to_read();
                if plain > 0 {
                    let _ = read_into(&mut tls.reader(), target, plain)?;
                }
                if state.peer_has_closed() && status != ReadStatus::WouldBlock {
                    ReadStatus::Eof
                } else {
                    status
                }
            }
        };
        let mut status = status;
        if let Some(ws) = self.ws.as_mut() {
            if let Err(e) = ws.decode(&mut staged, mqtt) {
                self.ws_in = staged;
                return Err(e);
            }
            if ws.is_closed() {
                status = ReadStatus::Eof;
            }
        }
        self.ws_in = staged;
        match status {
            ReadStatus::Eof => {
                self.eof = true;
                if mqtt.len() > before {
                    // Hand over what came before the close; the next read reports it.
                    return Ok(ReadStatus::Data(mqtt.len() - before));
                }
                Ok(ReadStatus::Eof)
            }
            ReadStatus::Data(_) => Ok(ReadStatus::Data(mqtt.len() - before)),
            ReadStatus::WouldBlock if mqtt.len() > before => {
                Ok(ReadStatus::Data(mqtt.len() - before))
            }
            ReadStatus::WouldBlock => Ok(ReadStatus::WouldBlock),
        }
    }

    /// Takes all of `mqtt` (leaving it empty) and writes as much as the socket accepts now; the
    /// rest waits for [`Wire::flush`].
    pub fn write(&mut self, mqtt: &mut BytesMut) -> io::Result<()> {
        if !mqtt.is_empty() {
            match self.ws.as_mut() {
                Some(ws) => {
                    ws.take_replies(&mut self.out);
                    ws.encode_binary(mqtt, &mut self.out);
                    mqtt.clear();
                }
                None if self.out.is_empty() && self.tls.is_none() => {
                    // The common case: straight from the caller's buffer, which keeps its
                    // capacity for the next packets; only what the socket refuses is kept.
                    let written = write_until_blocked(&mut self.socket, mqtt)?;
                    self.out.extend_from_slice(&mqtt[written..]);
                    mqtt.clear();
                    return Ok(());
                }
                None => {
                    self.out.extend_from_slice(mqtt);
                    mqtt.clear();
                }
            }
        }
        self.flush()
    }

    /// Writes what is buffered until the socket would block.
    pub fn flush(&mut self) -> io::Result<()> {
        if let Some(ws) = self.ws.as_mut() {
            ws.take_replies(&mut self.out);
        }
        match self.tls.as_deref_mut() {
            None => {
                self.out_grown |= self.out.len() > READ_MAX;
                let written = write_until_blocked(&mut self.socket, &self.out)?;
                self.out.advance(written);
                if self.out.is_empty() && (self.out_grown || self.out.capacity() > READ_MAX) {
                    // A large publish went out: do not keep its buffer per connection.
                    self.out = BytesMut::new();
                    self.out_grown = false;
                }
            }
            Some(tls) => {
                if !self.out.is_empty() {
                    tls.writer().write_all(&self.out)?;
                    self.out = BytesMut::new();
                }
                while tls.wants_write() {
                    match tls.write_tls(&mut self.socket) {
                        Ok(_) => {}
                        Err(e) if would_block(&e) => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        Ok(())
    }

    /// Ends the connection politely, without waiting: a WebSocket close frame, TLS
    /// close_notify, what the socket takes of them, and a TCP half-close.
    pub fn close(&mut self) {
        if let Some(ws) = self.ws.as_mut() {
            ws.encode_close(&mut self.out);
        }
        if let Some(tls) = self.tls.as_deref_mut() {
            if !self.out.is_empty() {
                let _ = tls.writer().write_all(&self.out);
                self.out.clear();
            }
            tls.send_close_notify();
        }
        let _ = self.flush();
        self.socket.shutdown_write();
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    #[allow(clippy::unwrap_used)]
    fn pair() -> (Wire, UnixStream) {
        let (a, b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let wire = Wire::new(Opened {
            socket: Socket::Unix(a),
            tls: None,
            ws: false,
            pending: Vec::new(),
        });
        (wire, b)
    }

    #[test]
    fn a_large_write_goes_out_over_many_flushes_without_loss() {
        let (mut wire, mut peer) = pair();
        let payload: Vec<u8> = (0..4 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
        let mut buf = BytesMut::from(&payload[..]);
        wire.write(&mut buf).unwrap();
        assert!(buf.is_empty());
        assert!(
            wire.wants_write(),
            "a socket buffer does not take 4 MiB at once"
        );
        let mut received = Vec::new();
        let mut chunk = vec![0u8; 256 * 1024];
        while received.len() < payload.len() {
            let n = peer.read(&mut chunk).unwrap();
            received.extend_from_slice(&chunk[..n]);
            wire.flush().unwrap();
        }
        assert!(!wire.wants_write());
        assert!(received == payload);
    }

    #[test]
    fn reads_report_data_then_would_block_then_end_of_stream() {
        let (mut wire, mut peer) = pair();
        let mut mqtt = BytesMut::new();
        assert_eq!(wire.read(&mut mqtt).unwrap(), ReadStatus::WouldBlock);
        peer.write_all(b"\x20\x02\x00\x00").unwrap();
        assert_eq!(wire.read(&mut mqtt).unwrap(), ReadStatus::Data(4));
        assert!(wire.is_drained(), "a short read says the socket is empty");
        drop(peer);
        assert_eq!(wire.read(&mut mqtt).unwrap(), ReadStatus::Eof);
        assert_eq!(&mqtt[..], b"\x20\x02\x00\x00");
    }
}
