//! One tokio task per connection: the only code that owns sockets and timers.
//!
//! Design: a [`Client`] is shared between the JavaScript thread and the connection task. The
//! JavaScript thread locks the session briefly to issue a command (publish, subscribe, …) and
//! then wakes the task through the connection's [`Control`]; the task reads everything that is
//! readable, feeds the session, writes what the session has queued (many packets per write
//! call, so a burst of publishes costs one syscall), sleeps until the session's next deadline,
//! and hands events to an [`EventSink`] that batches them for JavaScript. The lock is never
//! held across an `.await` or while calling into JavaScript.
//!
//! Reconnecting is decided by the JavaScript shim (it owns MQTT.js's reconnect timer, `servers`
//! rotation and `transformWsUrl`); each attempt is a new call to [`Client::connect`]. The session,
//! with its in-flight messages, outlives the connections.
//!
//! A panic inside the task is caught by the supervisor and reported as an error followed by
//! `Closed`, so the client never dies silently.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

use crate::codec::{self, Auth, Connect};
use crate::session::{Event, Session, SessionError};
use crate::transport::{self, Endpoint, TransportError};

/// What the driver reports, in order.
#[derive(Debug)]
pub enum DriverEvent {
    /// Something the session reported.
    Session(Event),
    /// The transport could not be opened or broke.
    Transport(TransportError),
    /// The connection is gone; no more events come from it.
    Closed,
}

/// Where the driver's events go. The binding batches them for JavaScript; tests collect them.
pub trait EventSink: Send + Sync + 'static {
    /// Appends one event to the pending batch.
    fn push(&self, event: DriverEvent);
    /// Makes sure the pending batch will be delivered (called once per burst).
    fn flush(&self);
}

/// How the current connection should end.
const RUN: u8 = 0;
/// Write what is queued (the DISCONNECT), then close.
const CLOSE_AFTER_FLUSH: u8 = 1;
/// Close at once without writing anything more.
const ABORT: u8 = 2;

/// The signals of one connection: a wake-up for queued writes and the requested way to close.
#[derive(Debug, Default)]
pub struct Control {
    wake: Notify,
    close: AtomicU8,
    /// While set, the connection is not read: the application applies back-pressure
    /// (an MQTT.js `handleMessage` that has not called back yet).
    paused: AtomicBool,
}

impl Control {
    fn request_close(&self, mode: u8) {
        // An abort overrides a graceful close, never the other way round.
        let _ = self.close.fetch_max(mode, Ordering::AcqRel);
        self.wake.notify_one();
    }
}

/// A client: its session and its current connection, shared with the JavaScript thread.
pub struct Client {
    /// The protocol state machine.
    pub session: Mutex<Session>,
    current: Mutex<Option<Arc<Control>>>,
}

impl Client {
    /// A client with no connection yet.
    pub fn new(session: Session) -> Arc<Self> {
        Arc::new(Client {
            session: Mutex::new(session),
            current: Mutex::new(None),
        })
    }

    /// Starts a connection attempt on the current tokio runtime, replacing (and aborting) any
    /// previous one. Events go to `sink`, which the task drops when the connection is over.
    /// Must be called from within a tokio runtime context.
    pub fn connect<S: EventSink>(
        self: &Arc<Self>,
        endpoint: Endpoint,
        connect: Connect,
        auth: Option<Auth>,
        sink: Arc<S>,
        connect_timeout: Duration,
    ) {
        let control = Arc::new(Control::default());
        if let Some(previous) = self.current.lock().replace(control.clone()) {
            previous.request_close(ABORT);
        }
        let client = self.clone();
        tokio::spawn(async move {
            let task = run_connection(
                client.clone(),
                control.clone(),
                endpoint,
                connect,
                auth,
                sink.clone(),
                connect_timeout,
            );
            let outcome = tokio::spawn(task).await;
            if outcome.is_err() {
                // Supervision: the task panicked. Report it and close, as any other failure.
                sink.push(DriverEvent::Session(Event::Error(SessionError {
                    code: "INTERNAL",
                    message: "internal error in the mqtt-native driver; the connection was closed"
                        .into(),
                    reason_code: None,
                })));
                client.session.lock().handle_close();
                sink.push(DriverEvent::Closed);
                sink.flush();
            }
            let mut current = client.current.lock();
            if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, &control)) {
                *current = None;
            }
        });
    }

    /// Wakes the connection task because the session has something to write.
    pub fn wake(&self) {
        if let Some(control) = self.current.lock().as_ref() {
            control.wake.notify_one();
        }
    }

    /// Stops or resumes reading from the current connection (back-pressure from the
    /// application).
    pub fn set_reading(&self, reading: bool) {
        if let Some(control) = self.current.lock().as_ref() {
            control.paused.store(!reading, Ordering::Release);
            control.wake.notify_one();
        }
    }

    /// Ends the current connection: gracefully (write what is queued, then close) or at once.
    /// Returns whether there was a connection to end.
    pub fn close(&self, force: bool) -> bool {
        match self.current.lock().as_ref() {
            Some(control) => {
                control.request_close(if force { ABORT } else { CLOSE_AFTER_FLUSH });
                true
            }
            None => false,
        }
    }
}

/// Hands everything the session has to say to the sink.
fn drain_events<S: EventSink>(session: &mut Session, sink: &S) {
    while let Some(event) = session.poll_event() {
        sink.push(DriverEvent::Session(event));
    }
}

async fn run_connection<S: EventSink>(
    client: Arc<Client>,
    control: Arc<Control>,
    endpoint: Endpoint,
    connect: Connect,
    auth: Option<Auth>,
    sink: Arc<S>,
    connect_timeout: Duration,
) {
    let opened = tokio::select! {
        biased;
        () = wait_for_close(&control) => None,
        result = tokio::time::timeout(connect_timeout, transport::connect(&endpoint)) => Some(result),
    };
    let io = match opened {
        None => {
            sink.push(DriverEvent::Closed);
            sink.flush();
            return;
        }
        Some(Ok(Ok(io))) => io,
        Some(Ok(Err(error))) => {
            sink.push(DriverEvent::Transport(error));
            sink.push(DriverEvent::Closed);
            sink.flush();
            return;
        }
        Some(Err(_elapsed)) => {
            sink.push(DriverEvent::Transport(connect_timed_out(
                &endpoint,
                connect_timeout,
            )));
            sink.push(DriverEvent::Closed);
            sink.flush();
            return;
        }
    };
    {
        let mut session = client.session.lock();
        if let Err(error) = session.start_connection(connect, auth, Instant::now()) {
            sink.push(DriverEvent::Session(Event::Error(error)));
            session.handle_close();
            drop(session);
            sink.push(DriverEvent::Closed);
            sink.flush();
            return;
        }
    }
    let failure = pump(&client, &control, &endpoint, io, sink.as_ref()).await;
    {
        let mut session = client.session.lock();
        drain_events(&mut session, sink.as_ref());
        session.handle_close();
    }
    if let Some(error) = failure {
        sink.push(DriverEvent::Transport(error));
    }
    sink.push(DriverEvent::Closed);
    sink.flush();
}

/// The error for a transport that did not open within `connectTimeout`, saying where to.
fn connect_timed_out(endpoint: &Endpoint, timeout: Duration) -> TransportError {
    let mut error = TransportError::timed_out("connect");
    let target = match (&endpoint.unix_path, &endpoint.ws) {
        (Some(path), _) => path.clone(),
        (None, Some(ws)) => ws.url.clone(),
        (None, None) => format!("{}:{}", endpoint.host, endpoint.port),
    };
    error.message = format!(
        "connect ETIMEDOUT {target}: no connection within connectTimeout ({} ms). Check the host \
         and port, and that no firewall drops the packets.",
        timeout.as_millis()
    );
    error
}

async fn wait_for_close(control: &Control) {
    loop {
        if control.close.load(Ordering::Acquire) != RUN {
            return;
        }
        control.wake.notified().await;
    }
}

/// How many more reads of already-arrived data one wake-up may take before delivering.
const EXTRA_READS: usize = 16;

/// Polls a future once, without waiting: `None` if it is not ready.
fn poll_once<F: std::future::Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(output) => Some(output),
        std::task::Poll::Pending => None,
    }
}

/// Decodes every whole packet in `read_buf` into the session.
fn feed_session(client: &Client, read_buf: &mut BytesMut) {
    let now = Instant::now();
    let mut session = client.session.lock();
    let limits = session.limits();
    while !session.wants_close() {
        match codec::decode(read_buf, session.version(), &limits) {
            Ok(Some(packet)) => session.handle_packet(packet, now),
            Ok(None) => break,
            Err(error) => session.handle_decode_error(&error),
        }
    }
}

/// Makes room for the next read: a connection whose reads are small keeps a small buffer; one
/// whose last read was large gets a large one (fewer reads in a flood).
fn make_room(read_buf: &mut BytesMut, last_read: usize) {
    let spare = read_buf.capacity() - read_buf.len();
    let wanted = if last_read >= READ_BUFFER_MIN / 2 {
        READ_BUFFER_MAX
    } else {
        READ_BUFFER_MIN
    };
    if spare < wanted / 2 {
        read_buf.reserve(wanted);
    }
}

/// The read buffer of a new connection (most MQTT traffic is small packets).
const READ_BUFFER_MIN: usize = 4 * 1024;
/// The read buffer of a connection that fills the small one.
const READ_BUFFER_MAX: usize = 64 * 1024;

/// Moves bytes between the transport and the session until either side ends the connection.
/// Returns the transport error that ended it, if any.
async fn pump<S: EventSink>(
    client: &Client,
    control: &Control,
    endpoint: &Endpoint,
    io: Box<dyn transport::Io>,
    sink: &S,
) -> Option<TransportError> {
    let (mut reader, mut writer) = tokio::io::split(io);
    // Transport diagnostics look at the broker's first bytes once, before they are decoded.
    let mut first_read = true;
    // Buffers start small (memory per connection matters with thousands of clients) and grow.
    let mut read_buf = BytesMut::with_capacity(READ_BUFFER_MIN);
    let mut write_buf = BytesMut::new();
    loop {
        let close_mode = control.close.load(Ordering::Acquire);
        if close_mode == ABORT {
            return None;
        }
        let (deadline, wants_close) = {
            let mut session = client.session.lock();
            session.poll_transmit(&mut write_buf);
            drain_events(&mut session, sink);
            (session.poll_timeout(), session.wants_close())
        };
        sink.flush();
        if wants_close || (close_mode == CLOSE_AFTER_FLUSH && write_buf.is_empty()) {
            // Write what is left (a DISCONNECT) before closing; errors no longer matter.
            if !write_buf.is_empty() && !wants_close {
                let _ = writer.write_all(&write_buf).await;
            }
            let _ = writer.shutdown().await;
            return None;
        }
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            read = reader.read_buf(&mut read_buf), if !control.paused.load(Ordering::Acquire) => match read {
                // The broker closed the connection; MQTT.js reports no error for that, except
                // that a close before any answer to CONNECT is a failed attempt worth a word.
                Ok(0) => {
                    if first_read && control.close.load(Ordering::Acquire) == RUN {
                        return Some(transport::closed_without_answer(endpoint));
                    }
                    return None;
                }
                Ok(n) => {
                    if first_read {
                        first_read = false;
                        if let Some(error) = transport::diagnose_first_bytes(endpoint, &read_buf) {
                            return Some(error);
                        }
                    }
                    feed_session(client, &mut read_buf);
                    make_room(&mut read_buf, n);
                    // Take in what else has already arrived before delivering: one batch (and one
                    // wake-up of the JavaScript thread) for a burst instead of one per read.
                    for _ in 0..EXTRA_READS {
                        if control.paused.load(Ordering::Acquire) {
                            break;
                        }
                        match poll_once(reader.read_buf(&mut read_buf)) {
                            None => break,
                            Some(Ok(0)) => return None,
                            Some(Ok(n)) => {
                                feed_session(client, &mut read_buf);
                                make_room(&mut read_buf, n);
                            }
                            Some(Err(error)) if error.kind() == std::io::ErrorKind::UnexpectedEof => return None,
                            Some(Err(error)) => return Some(transport::stream_error(endpoint, "read", &error, false)),
                        }
                    }
                }
                // A TLS peer that closes an established connection without close_notify: Node
                // reports a plain close, and so does MQTT.js.
                Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof && !first_read => return None,
                Err(error) => return Some(transport::stream_error(endpoint, "read", &error, first_read)),
            },
            written = writer.write_buf(&mut write_buf), if !write_buf.is_empty() => {
                if let Err(error) = written {
                    return Some(transport::stream_error(endpoint, "write", &error, first_read));
                }
                if write_buf.is_empty() {
                    if let Err(error) = writer.flush().await {
                        return Some(transport::stream_error(endpoint, "write", &error, first_read));
                    }
                }
            }
            () = control.wake.notified() => {}
            () = sleep => client.session.lock().handle_timeout(Instant::now()),
        }
    }
}
