//! The socket under a Node stream, read by the driver on the polling tick instead of by Node
//! (Linux only, as polling mode is).
//!
//! Design: Node reads a socket as soon as epoll says it is readable, so a broker that sends
//! each packet in a segment of its own (`set_tcp_nodelay`) costs a wake-up, an `epoll_wait`, a
//! `read` (which acknowledges at once, in a segment of its own) and a `'data'` event per
//! packet, even in polling mode, where the chunks only wait for the tick. While a plain socket
//! that nothing else reads is in polling mode ([`super::stream`]), Node's handle stops reading
//! (it leaves epoll) and the tick reads the socket once, with everything that arrived since the
//! last tick, as it reads the native path's sockets, and puts it into delayed-acknowledgement
//! mode as it does those ([`super::ack_pacing`]).
//!
//! The descriptor is a duplicate of Node's: Node may close its own at any time (the application
//! destroys the stream), and a number Node closed could meanwhile name another socket. Until
//! the stream's `'close'` tears the connection down, the duplicate keeps the socket itself
//! alive, and reading it only finds what that socket had.
//!
//! The end of the stream is left to Node: the driver gives the reads back, and Node reads the
//! end again (it stays readable) and ends the stream as it would have. A read error cannot be
//! read twice; the driver ends the connection with it, as Node's `'error'` would have.

use bytes::BytesMut;

/// What [`DirectReads::read`] found.
pub enum DirectRead {
    /// Bytes, or none yet.
    Data,
    /// The broker closed the connection.
    End,
    /// The read failed.
    Failed(std::io::Error),
}

/// The most one tick reads from one socket (more waits for the next tick).
#[cfg(target_os = "linux")]
const READ_MAX: usize = 256 * 1024;
/// The size of each read, as the native path's largest.
#[cfg(target_os = "linux")]
const READ_SIZE: usize = 64 * 1024;

/// The driver's own descriptor of the socket under a stream (see the module's comment).
#[cfg(target_os = "linux")]
pub struct DirectReads {
    fd: std::os::fd::OwnedFd,
    /// Reads that found data: the socket is put back into delayed-acknowledgement mode on the
    /// first and every [`REASSERT_EVERY`](super::ack_pacing::REASSERT_EVERY)th after it.
    data_reads: std::cell::Cell<u32>,
}

#[cfg(target_os = "linux")]
impl DirectReads {
    /// Duplicates Node's descriptor `fd`; None if that fails.
    pub fn new(fd: i32) -> Option<Self> {
        use std::os::fd::FromRawFd;
        // SAFETY: `fd` is an open descriptor of this process (Node's socket, which Node does
        // not close while the shim hands it over: the stream is not destroyed).
        let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
        (dup >= 0).then(|| DirectReads {
            // SAFETY: `dup` is a new descriptor that this value alone owns.
            fd: unsafe { std::os::fd::OwnedFd::from_raw_fd(dup) },
            data_reads: std::cell::Cell::new(0),
        })
    }

    /// Reads what the socket has into `buf` (at most [`READ_MAX`]): until a read returns less
    /// than it asked for, would block, finds the end or fails.
    pub fn read(&self, buf: &mut BytesMut) -> DirectRead {
        use std::os::fd::AsRawFd;
        let fd = self.fd.as_raw_fd();
        let mut total = 0;
        while total < READ_MAX {
            let len = buf.len();
            buf.reserve(READ_SIZE);
            let spare = buf.spare_capacity_mut();
            let want = spare.len().min(READ_MAX - total);
            crate::transport::wire::count_call(true);
            // SAFETY: reads at most `want` bytes into the buffer's spare capacity.
            let n = unsafe { libc::read(fd, spare.as_mut_ptr().cast(), want) };
            match usize::try_from(n) {
                Ok(0) => return DirectRead::End,
                Ok(n) => {
                    // SAFETY: the kernel initialised `n` bytes after `len`.
                    unsafe { buf.set_len(len + n) };
                    if total == 0 {
                        let reads = self.data_reads.get();
                        self.data_reads.set(reads.wrapping_add(1));
                        if reads.is_multiple_of(super::ack_pacing::REASSERT_EVERY) {
                            crate::transport::wire::delay_acks_of(fd);
                        }
                    }
                    total += n;
                    if n < want {
                        break;
                    }
                }
                Err(_) => {
                    let error = std::io::Error::last_os_error();
                    match error.kind() {
                        std::io::ErrorKind::Interrupted => {}
                        std::io::ErrorKind::WouldBlock => break,
                        _ => return DirectRead::Failed(error),
                    }
                }
            }
        }
        DirectRead::Data
    }
}

/// Elsewhere there is no polling mode, and the driver never takes a socket's reads.
#[cfg(not(target_os = "linux"))]
pub enum DirectReads {}

#[cfg(not(target_os = "linux"))]
impl DirectReads {
    /// Never: see the type.
    pub fn new(_fd: i32) -> Option<Self> {
        None
    }

    /// Never called: no value exists.
    pub fn read(&self, _buf: &mut BytesMut) -> DirectRead {
        match *self {}
    }
}

#[cfg(all(test, target_os = "linux"))]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;

    /// A connected pair: (ours, read directly; the peer's end).
    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let ours = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (peer, _) = listener.accept().unwrap();
        ours.set_nonblocking(true).unwrap();
        (ours, peer)
    }

    /// Reads until something other than "no data yet" comes, with what arrived before it.
    fn read_until_event(direct: &DirectReads, buf: &mut BytesMut) -> DirectRead {
        for _ in 0..1000 {
            match direct.read(buf) {
                DirectRead::Data => std::thread::sleep(std::time::Duration::from_millis(1)),
                other => return other,
            }
        }
        panic!("neither an end nor an error came");
    }

    #[test]
    fn reads_what_arrived_then_the_end_through_a_duplicate_that_outlives_the_original() {
        let (ours, mut peer) = pair();
        let direct = DirectReads::new(ours.as_raw_fd()).unwrap();
        drop(ours);
        peer.write_all(b"hello").unwrap();
        drop(peer);
        let mut buf = BytesMut::new();
        assert!(matches!(
            read_until_event(&direct, &mut buf),
            DirectRead::End
        ));
        assert_eq!(&buf[..], b"hello");
    }

    #[test]
    fn a_reset_is_a_failure_with_its_os_error_after_the_bytes_before_it() {
        let (ours, mut peer) = pair();
        let direct = DirectReads::new(ours.as_raw_fd()).unwrap();
        peer.write_all(b"last words").unwrap();
        let mut buf = BytesMut::new();
        while buf.len() < 10 {
            assert!(matches!(direct.read(&mut buf), DirectRead::Data));
        }
        // SO_LINGER with a zero timeout: the close resets the connection.
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: an option value of the size given, on a socket this test owns.
        let set = unsafe {
            libc::setsockopt(
                peer.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                std::ptr::from_ref(&linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        assert_eq!(set, 0);
        drop(peer);
        match read_until_event(&direct, &mut buf) {
            DirectRead::Failed(error) => {
                assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset)
            }
            _ => panic!("the reset was not a failure"),
        }
        assert_eq!(&buf[..], b"last words");
        drop(ours);
    }

    #[test]
    fn one_tick_reads_at_most_its_bound_and_leaves_the_rest_for_the_next() {
        let (ours, mut peer) = pair();
        let direct = DirectReads::new(ours.as_raw_fd()).unwrap();
        let sent = vec![7u8; READ_MAX + READ_SIZE];
        let writer = std::thread::spawn(move || {
            peer.write_all(&sent).unwrap();
            peer
        });
        let mut buf = BytesMut::new();
        let mut reads = 0;
        while buf.len() < READ_MAX + READ_SIZE {
            let before = buf.len();
            assert!(matches!(direct.read(&mut buf), DirectRead::Data));
            assert!(buf.len() - before <= READ_MAX);
            reads += 1;
        }
        assert!(reads >= 2);
        drop(writer.join().unwrap());
    }
}
