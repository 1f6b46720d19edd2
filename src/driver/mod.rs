//! Connections driven on the JavaScript thread's own libuv loop: the only code that owns sockets
//! and timers.
//!
//! Design: which thread does what.
//! - **Opening** a connection: host names are resolved by Node's resolver in the shim (libuv's
//!   bounded pool, the `lookup` option, `/etc/hosts`), after the JavaScript turn that called
//!   `connect()`, as MQTT.js dials; then the TCP connect, SOCKS, TLS handshake and WebSocket
//!   upgrade run on tokio ([`crate::transport::open`]): these steps take long. The
//!   open socket, with its TLS session and WebSocket framing state, is handed to the JavaScript
//!   thread once, through a libuv async handle.
//! - **Everything after** runs on the JavaScript thread, inside libuv callbacks: a poll handle
//!   says the socket is readable or writable; the driver reads everything readable, decodes it
//!   into the [`Session`], and hands the resulting events to the [`EventSink`] synchronously,
//!   which calls JavaScript in the same callback. Writes from JavaScript (`publish`, acks, …)
//!   go straight to the socket; what it does not take is flushed when it becomes writable. The
//!   session's deadlines (keepalive, CONNACK and ack timeouts) are a libuv timer. No message
//!   crosses a thread.
//!
//! JavaScript may call back into the client while the driver is delivering (publish, end,
//! connect again): such calls never deliver events themselves. They write, and leave events and
//! closing to the connection's async handle, which runs on the next loop turn, as a thread-safe
//! function's callback did before.
//!
//! Reconnecting is decided by the JavaScript shim (it owns MQTT.js's reconnect timer, `servers`
//! rotation and `transformWsUrl`); each attempt is a new call to [`Client::connect`]. The session,
//! with its in-flight messages, outlives the connections.
//!
//! A connection keeps the loop alive while it exists (its handles are referenced), and an ended
//! one holds no handle, so a process exits once every client has ended, as with MQTT.js. A
//! panic inside a callback is caught and reported as an error followed by `Closed`, so the
//! client never dies silently and never takes the process with it.

pub mod ack_pacing;
pub mod direct_reads;
pub mod polling;
pub mod stream;
pub mod uv;

use std::cell::{Cell, RefCell};
use std::ffi::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use parking_lot::Mutex;

use crate::codec::{self, Auth, Connect};
use crate::session::{Event, Session, SessionError};
use crate::transport::{self, Endpoint, Opened, ReadStatus, TransportError, Wire};
use ack_pacing::AckPacing;

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

/// Where the driver's events go: the binding batches them for JavaScript.
pub trait EventSink {
    /// Appends one event to the pending batch.
    fn push(&self, event: DriverEvent);
    /// Whether no event is pending.
    fn is_empty(&self) -> bool;
    /// Whether the pending batch is large enough to deliver before reading more.
    fn is_full(&self) -> bool;
    /// Hands the pending batch to JavaScript, synchronously. The driver calls it only from a
    /// libuv callback, never while JavaScript is on the stack, and holds no lock or borrow of
    /// its own while it runs (JavaScript may call back into the client). The pending batch is
    /// empty afterwards, whether or not JavaScript could take it.
    fn deliver(&self);
    /// Whether a delivery failed for good (the environment is going away, or an N-API call
    /// failed): JavaScript has heard everything it will hear from this connection, and the
    /// driver closes it without delivering again, so that a failure can never spin the loop.
    fn is_broken(&self) -> bool {
        false
    }
}

/// How the current connection should end.
const RUN: u8 = 0;
/// Write what is queued (the DISCONNECT), then close.
const CLOSE_AFTER_FLUSH: u8 = 1;
/// Close at once without writing anything more.
const ABORT: u8 = 2;

/// How long a graceful end waits for the broker to close the connection after DISCONNECT.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(1);

/// How many socket reads one readable event may take before delivering (so one busy connection
/// cannot hold the loop for long; level-triggered polling brings the rest on the next turn).
const MAX_READS: usize = 16;

/// The largest read or write buffer kept once it is empty: a buffer that grew for a large packet
/// is freed as soon as that packet is through, so an idle connection (and the thread's shared
/// read buffer) holds at most this much whatever it carried before.
const MAX_IDLE_BUFFER: usize = 256 * 1024;

/// A client: its session and its current connection. Lives on the JavaScript thread.
pub struct Client {
    /// The protocol state machine.
    pub session: Mutex<Session>,
    current: RefCell<Option<Rc<Conn>>>,
    /// The current connection over a JavaScript stream ([`stream`]), instead of `current`.
    stream: RefCell<Option<Rc<stream::StreamConn>>>,
}

impl Client {
    /// A client with no connection yet.
    pub fn new(session: Session) -> Rc<Self> {
        Rc::new(Client {
            session: Mutex::new(session),
            current: RefCell::new(None),
            stream: RefCell::new(None),
        })
    }

    /// Starts a connection attempt, replacing (and aborting) any previous one. Events go to
    /// `sink`, which lives as long as the connection. Must be called on the thread that runs
    /// `uv_loop`. The attempt opens once [`Client::dial`] is called (after the shim's name
    /// resolution), or fails with [`Client::dial_failed`]; `connect_timeout` counts from now
    /// (`None`: the shim keeps the time and calls [`Client::expire_connect`]).
    ///
    /// # Safety
    /// `uv_loop` is the running libuv loop of the calling thread.
    pub unsafe fn connect(
        self: &Rc<Self>,
        uv_loop: *mut uv::Loop,
        endpoint: Endpoint,
        connect: Connect,
        auth: Option<Auth>,
        sink: Box<dyn EventSink>,
        connect_timeout: Option<Duration>,
    ) -> Result<(), String> {
        let uv = uv::get()?;
        self.abort_current();
        let conn = Rc::new(Conn {
            client: self.clone(),
            uv,
            uv_loop,
            endpoint: endpoint.clone(),
            sink,
            wake: Cell::new(std::ptr::null_mut()),
            timer: Cell::new(std::ptr::null_mut()),
            poll: Cell::new(std::ptr::null_mut()),
            interest: Cell::new(0),
            deadline: Cell::new(None),
            phase: Cell::new(Phase::Opening),
            close: Cell::new(RUN),
            paused: Cell::new(false),
            polling: Cell::new(false),
            saturated: Cell::new(false),
            decoded: Cell::new(0),
            qos0_publishes: Cell::new(0),
            reads: polling::ReadSchedule::default(),
            gate: polling::PollingGate::default(),
            slot: Arc::new(Mutex::new(Slot::default())),
            opening: RefCell::new(None),
            dial: RefCell::new(None),
            start: RefCell::new(Some((connect, auth))),
            io: RefCell::new(Io {
                wire: None,
                read_buf: BytesMut::new(),
                write_buf: BytesMut::new(),
                first_read: true,
                pacing: AckPacing::default(),
            }),
        });
        // SAFETY: the caller runs `uv_loop` on this thread; each handle holds one strong count
        // of the connection, given back in its close callback.
        unsafe {
            // A count handed to a handle that could not be made is taken back at once.
            let data = conn.share();
            match uv.new_async(uv_loop, on_wake, data) {
                Ok(wake) => conn.wake.set(wake),
                Err(e) => {
                    drop(Rc::from_raw(data.cast::<Conn>()));
                    return Err(format!("libuv: {e}"));
                }
            }
            let data = conn.share();
            match uv.new_timer(uv_loop, data) {
                Ok(timer) => conn.timer.set(timer),
                Err(e) => {
                    drop(Rc::from_raw(data.cast::<Conn>()));
                    conn.close_handles();
                    return Err(format!("libuv: {e}"));
                }
            }
        }
        conn.slot.lock().wake = Some(WakeHandle(conn.wake.get()));
        *conn.dial.borrow_mut() = Some(connect_timeout);
        // `connectTimeout` counts from here, name resolution included (a `lookup` that never
        // answers must not leave the attempt open forever).
        if let Some(timeout) = connect_timeout {
            let ms = timeout.as_millis().max(1);
            // SAFETY: the timer handle was just made on this thread's loop.
            unsafe {
                uv.timer_start(
                    conn.timer.get(),
                    on_timer,
                    u64::try_from(ms).unwrap_or(u64::MAX),
                );
            }
        }
        LIVE.with(|live| live.borrow_mut().push(Rc::downgrade(&conn)));
        *self.current.borrow_mut() = Some(conn);
        Ok(())
    }

    fn current(&self) -> Option<Rc<Conn>> {
        self.current.borrow().clone()
    }

    /// Dials the current attempt, once the shim has resolved its host names with Node's
    /// resolver (or on `process.nextTick` for an address): the opening steps start now, on
    /// tokio, with `resolved` used instead of a lookup of their own. Called after the
    /// JavaScript turn that called [`Client::connect`], as MQTT.js dials after its turn.
    /// Must be called within a tokio runtime context. Returns false when there is no attempt
    /// waiting to be dialed (it was ended, replaced, or dialed already).
    pub fn dial(&self, resolved: Vec<transport::ResolvedHost>) -> bool {
        match self.current() {
            Some(conn) => conn.dial(resolved),
            None => false,
        }
    }

    /// The current attempt cannot be dialed (its host name did not resolve): it fails with
    /// `failure` as an opening step fails, on the next loop turn. Returns false when there is
    /// no attempt waiting to be dialed.
    pub fn dial_failed(&self, failure: TransportError) -> bool {
        let Some(conn) = self.current() else {
            return false;
        };
        if conn.phase.get() != Phase::Opening || conn.dial.borrow_mut().take().is_none() {
            return false;
        }
        conn.slot.lock().opened = Some(Err(failure));
        conn.schedule();
        true
    }

    /// The shim's `connectTimeout` timer fired
    /// ([`crate::session::SessionOptions::external_connect_timer`]): an attempt still opening
    /// fails as when the driver's own timer runs out (`ETIMEDOUT`, on the next loop turn);
    /// otherwise the session ends the connection with 'connack timeout'
    /// ([`Session::expire_connect`]), delivered on the next loop turn.
    pub fn expire_connect(&self) {
        if let Some(conn) = self.current() {
            if conn.phase.get() == Phase::Opening {
                // SAFETY: a live timer handle of this thread's loop (the phase is Opening);
                // `on_timer` fails the attempt.
                unsafe { conn.uv.timer_start(conn.timer.get(), on_timer, 0) };
                return;
            }
        }
        self.session.lock().expire_connect();
        self.wake();
    }

    /// Schedules a polled connection's next read after one that decoded `packets` packets,
    /// `qos0_publishes` of them QoS 0 publishes ([`polling::ReadSchedule`]).
    fn schedule_read(&self, reads: &polling::ReadSchedule, packets: u64, qos0_publishes: u64) {
        let outgoing = self.session.lock().outgoing_len();
        reads.after_read(Instant::now(), packets, qos0_publishes, outgoing);
    }

    /// Writes what the session has queued, now (called after a command, and once per
    /// JavaScript tick after publishes).
    pub fn wake(&self) {
        if let Some(conn) = self.current() {
            conn.flush_from_js();
        } else if let Some(conn) = self.current_stream() {
            conn.flush_from_js();
        }
    }

    /// Re-arms the timer for the session's next deadline without writing anything (after a
    /// keepalive change: queued publishes keep waiting for their flush, and nothing is written
    /// after `end(true)`).
    pub fn rearm(&self) {
        if let Some(conn) = self.current() {
            if conn.phase.get() == Phase::Open {
                conn.arm_timer();
            }
        } else if let Some(conn) = self.current_stream() {
            // A keepalive timeout asked for by the shim is a deadline like the session's own.
            conn.arm_timer();
        }
    }

    /// Stops or resumes reading from the current connection (back-pressure from the
    /// application).
    pub fn set_reading(&self, reading: bool) {
        if let Some(conn) = self.current() {
            conn.paused.set(!reading);
            conn.update_interest();
        } else if let Some(conn) = self.current_stream() {
            conn.set_reading(reading);
        }
    }

    /// Ends the current connection: gracefully (write what is queued, then close) or at once.
    /// The end happens on the next loop turn, and a `Closed` event follows. Returns whether
    /// there was a connection to end.
    pub fn close(&self, force: bool) -> bool {
        match self.current() {
            Some(conn) => {
                conn.request_close(if force { ABORT } else { CLOSE_AFTER_FLUSH });
                true
            }
            None => match self.current_stream() {
                Some(conn) => {
                    conn.request_close(if force { ABORT } else { CLOSE_AFTER_FLUSH });
                    true
                }
                None => false,
            },
        }
    }

    /// Whether a native connection has started its session (a stream connection ending now
    /// must leave the session to it).
    fn native_is_open(&self) -> bool {
        self.current().is_some_and(|c| c.phase.get() == Phase::Open)
    }
}

thread_local! {
    /// The connections of this thread's loop, for [`shutdown_thread`].
    static LIVE: RefCell<Vec<Weak<Conn>>> = const { RefCell::new(Vec::new()) };
    /// The read buffer shared by this thread's connections while none holds a partial packet:
    /// reads go here, are decoded at once, and the buffer comes back (payloads decoded from it
    /// are copied into the batch, so its allocation is free again by the next read).
    static SCRATCH: RefCell<BytesMut> = RefCell::new(BytesMut::new());
    /// Set once this thread's JavaScript environment is being torn down.
    static SHUTTING_DOWN: Cell<bool> = const { Cell::new(false) };
    /// Readiness callbacks of this thread's poll handles (each follows an `epoll_wait`).
    static POLL_EVENTS: Cell<u64> = const { Cell::new(0) };
}

/// How many times libuv woke this thread's connections for readiness so far.
pub fn poll_events() -> u64 {
    POLL_EVENTS.with(Cell::get)
}

/// Closes every connection of the calling thread without calling JavaScript: the environment
/// (a worker, or the process) is going away, and libuv must be left with no open handle of ours.
pub fn shutdown_thread() {
    SHUTTING_DOWN.with(|s| s.set(true));
    let live: Vec<Weak<Conn>> = LIVE.with(|live| std::mem::take(&mut *live.borrow_mut()));
    for conn in live.iter().filter_map(Weak::upgrade) {
        conn.teardown(None, false);
    }
    stream::shutdown_thread();
    polling::shutdown();
}

/// Whether the calling thread's JavaScript environment is being torn down (JavaScript must not
/// be called, nor references released).
pub fn is_shutting_down() -> bool {
    SHUTTING_DOWN.with(Cell::get)
}

/// The async handle, as the opening task may use it.
#[derive(Clone, Copy)]
struct WakeHandle(*mut uv::Handle);
// SAFETY: `uv_async_send` is the one libuv call that may be made from any thread; the handle
// is only used under the slot's lock, which the JavaScript thread takes before closing it.
unsafe impl Send for WakeHandle {}

/// Where the opening task leaves its result.
#[derive(Default)]
struct Slot {
    wake: Option<WakeHandle>,
    opened: Option<Result<Opened, TransportError>>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    Opening,
    Open,
    /// DISCONNECT written and our side shut: waiting (briefly) for the broker to close its.
    Draining,
    Closed,
}

/// The socket side of an open connection.
struct Io {
    wire: Option<Wire>,
    read_buf: BytesMut,
    write_buf: BytesMut,
    /// No byte has come from the broker yet (diagnostics look at the first ones).
    first_read: bool,
    /// When to ask for delayed TCP acknowledgements (a saturated connection).
    pacing: AckPacing,
}

/// One connection attempt and, once open, the connection.
pub struct Conn {
    client: Rc<Client>,
    uv: &'static uv::Uv,
    uv_loop: *mut uv::Loop,
    endpoint: Endpoint,
    sink: Box<dyn EventSink>,
    wake: Cell<*mut uv::Handle>,
    timer: Cell<*mut uv::Handle>,
    poll: Cell<*mut uv::Handle>,
    /// The events the poll handle watches now.
    interest: Cell<c_int>,
    /// The deadline the timer is armed for.
    deadline: Cell<Option<Instant>>,
    phase: Cell<Phase>,
    close: Cell<u8>,
    /// While set, the connection is not read: the application applies back-pressure
    /// (an MQTT.js `handleMessage` that has not called back yet).
    paused: Cell<bool>,
    /// Read on the thread's tick rather than on readiness ([`polling`]).
    polling: Cell<bool>,
    /// The last reads came as a stream ([`AckPacing::is_streaming`]).
    saturated: Cell<bool>,
    /// Packets decoded so far (a tick that decodes few ends polling mode).
    decoded: Cell<u64>,
    /// QoS 0 publishes among them (a flood of those may be read lazily).
    qos0_publishes: Cell<u64>,
    /// When the tick reads this connection next, in polling mode.
    reads: polling::ReadSchedule,
    /// Whether polling mode may start (not for traffic that comes in rounds), and when it ends.
    gate: polling::PollingGate,
    slot: Arc<Mutex<Slot>>,
    opening: RefCell<Option<tokio::task::AbortHandle>>,
    /// Set until the attempt is dialed ([`Client::dial`]): the connect timeout, or none when
    /// the shim keeps the time ([`Client::expire_connect`]).
    dial: RefCell<Option<Option<Duration>>>,
    /// The CONNECT (and first AUTH) to send once open.
    start: RefCell<Option<(Connect, Option<Auth>)>>,
    io: RefCell<Io>,
}

/// Runs `f` on the connection a handle belongs to, catching panics (supervision).
///
/// # Safety
/// `handle` is one of a live connection's handles.
unsafe fn with_conn(handle: *mut uv::Handle, f: impl FnOnce(&Rc<Conn>)) {
    let Ok(uv) = uv::get() else { return };
    // SAFETY: the handle's data is a strong count of the connection (see `Conn::share`).
    let conn = unsafe {
        let ptr = uv.data(handle).cast::<Conn>();
        Rc::increment_strong_count(ptr);
        Rc::from_raw(ptr)
    };
    if catch_unwind(AssertUnwindSafe(|| f(&conn))).is_err() {
        let _ = catch_unwind(AssertUnwindSafe(|| conn.fail_internal()));
    }
}

unsafe extern "C" fn on_wake(handle: *mut uv::Handle) {
    // SAFETY: libuv calls this for our async handle only.
    unsafe { with_conn(handle, Conn::on_wake) };
}

unsafe extern "C" fn on_timer(handle: *mut uv::Handle) {
    // SAFETY: libuv calls this for our timer handle only.
    unsafe { with_conn(handle, |conn| conn.on_timer()) };
}

unsafe extern "C" fn on_poll(handle: *mut uv::Handle, status: c_int, events: c_int) {
    POLL_EVENTS.with(|n| n.set(n.get() + 1));
    // SAFETY: libuv calls this for our poll handle only.
    unsafe {
        with_conn(handle, |conn| {
            conn.on_poll(status, events);
            conn.poll_if_saturated();
        })
    };
}

impl polling::Polled for Conn {
    /// The thread's tick, while in polling mode: reads and delivers what arrived since the last
    /// one. Returns whether the connection stays in polling mode.
    fn on_tick(&self) -> bool {
        if self.phase.get() != Phase::Open || !self.polling.get() {
            self.polling.set(false);
            return false;
        }
        if self.reads.ticks_left() > 0 {
            return true;
        }
        let (before, qos0_before) = (self.decoded.get(), self.qos0_publishes.get());
        if self.read_available() {
            self.process();
        }
        if self.phase.get() != Phase::Open {
            return false;
        }
        let packets = self.decoded.get() - before;
        if !self.gate.keep_polling(packets) {
            // The traffic no longer needs it: back to readiness events, and a new stream must
            // build up before the next polling mode (no flapping between the two; the gate
            // blocks traffic that comes in rounds).
            self.polling.set(false);
            self.saturated.set(false);
            self.reads.reset();
            self.io.borrow_mut().pacing = AckPacing::default();
            self.update_interest();
            return false;
        }
        let qos0_publishes = self.qos0_publishes.get() - qos0_before;
        self.client
            .schedule_read(&self.reads, packets, qos0_publishes);
        true
    }
}

unsafe extern "C" fn on_closed(handle: *mut uv::Handle) {
    let Ok(uv) = uv::get() else { return };
    // SAFETY: the handle's strong count of its connection, given back now that it is closed.
    drop(unsafe { Rc::from_raw(uv.data(handle).cast::<Conn>()) });
}

impl Conn {
    /// A strong count of this connection as a handle's data.
    fn share(self: &Rc<Self>) -> *mut c_void {
        Rc::into_raw(self.clone()).cast_mut().cast()
    }

    /// Starts the opening steps on tokio (see [`Client::dial`]).
    fn dial(self: &Rc<Self>, resolved: Vec<transport::ResolvedHost>) -> bool {
        if self.phase.get() != Phase::Opening || self.close.get() != RUN {
            return false;
        }
        let Some(connect_timeout) = self.dial.borrow_mut().take() else {
            return false;
        };
        let mut endpoint = self.endpoint.clone();
        endpoint.resolved = resolved;
        let slot = self.slot.clone();
        let uv = self.uv;
        let task = tokio::spawn(async move {
            let opening = tokio::spawn(async move {
                let Some(timeout) = connect_timeout else {
                    return transport::open(&endpoint).await;
                };
                match tokio::time::timeout(timeout, transport::open(&endpoint)).await {
                    Ok(result) => result,
                    Err(_elapsed) => Err(connect_timed_out(&endpoint, timeout)),
                }
            });
            // Supervision: a panic while opening becomes an error like any other failure.
            let result = opening.await.unwrap_or_else(|_| {
                Err(TransportError::unsupported(
                    "internal error in mqtt-native while opening the connection".to_string(),
                ))
            });
            let mut slot = slot.lock();
            if let Some(wake) = slot.wake {
                slot.opened = Some(result);
                // SAFETY: `wake` is live: the JavaScript thread clears it (under this lock)
                // before closing the handle.
                unsafe { uv.async_send(wake.0) };
            }
        });
        *self.opening.borrow_mut() = Some(task.abort_handle());
        true
    }

    fn request_close(&self, mode: u8) {
        // An abort overrides a graceful close, never the other way round.
        self.close.set(self.close.get().max(mode));
        self.schedule();
    }

    /// Asks for [`Conn::on_wake`] on the next loop turn.
    fn schedule(&self) {
        let wake = self.wake.get();
        if self.phase.get() != Phase::Closed && !wake.is_null() {
            // SAFETY: the async handle is live until `close_handles`, which sets the phase.
            unsafe { self.uv.async_send(wake) };
        }
    }

    fn on_wake(self: &Rc<Self>) {
        match self.phase.get() {
            Phase::Closed => {}
            Phase::Opening if self.close.get() != RUN => self.teardown(None, true),
            Phase::Opening => {
                let opened = self.slot.lock().opened.take();
                match opened {
                    Some(Ok(opened)) => self.install(opened),
                    Some(Err(error)) => self.teardown(Some(error), true),
                    None => {}
                }
            }
            Phase::Open => self.process(),
            Phase::Draining if self.close.get() == ABORT => self.teardown(None, true),
            Phase::Draining => {}
        }
    }

    fn on_timer(&self) {
        match self.phase.get() {
            Phase::Open => {}
            Phase::Draining => {
                self.teardown(None, true);
                return;
            }
            Phase::Opening => {
                // `connectTimeout` ran out before the transport opened (the tokio task's own
                // timeout starts later, at the dial).
                let timeout = self.client.session.lock().connect_timeout();
                let failure = connect_timed_out(&self.endpoint, timeout);
                self.teardown(Some(failure), true);
                return;
            }
            Phase::Closed => return,
        }
        self.deadline.set(None);
        self.client.session.lock().handle_timeout(Instant::now());
        self.process();
    }

    fn on_poll(&self, status: c_int, events: c_int) {
        match self.phase.get() {
            Phase::Open => {}
            Phase::Draining => {
                self.drain();
                return;
            }
            Phase::Opening | Phase::Closed => return,
        }
        if status < 0 {
            // libuv stopped the handle and reports a bare status (an error condition on the
            // socket); reading gets the socket's own error (ECONNRESET, a TLS alert, …).
            self.interest.set(0);
            if self.read_available() {
                let error = uv::error_message(status);
                let first = self.io.borrow().first_read;
                let failure = transport::stream_error(&self.endpoint, "read", &error, first);
                self.teardown(Some(failure), true);
            }
            return;
        }
        if events & uv::READABLE != 0 && !self.read_available() {
            return;
        }
        self.process();
    }

    /// Moves a saturated connection from readiness events to the thread's tick.
    fn poll_if_saturated(self: &Rc<Self>) {
        if self.saturated.get()
            && !self.polling.get()
            && self.phase.get() == Phase::Open
            && self.gate.may_poll()
            && polling::enlist(self, self.uv, self.uv_loop)
        {
            self.polling.set(true);
            self.update_interest();
        }
    }

    /// After our DISCONNECT and half-close: reads and discards until the broker closes its
    /// side (MQTT 5 §3.14.4: it closes the connection on DISCONNECT), as Node's socket does
    /// after `end()` for MQTT.js, so that the broker has read everything before `close`.
    fn drain(&self) {
        let mut scratch = BytesMut::new();
        for _ in 0..MAX_READS {
            let status = match self.io.borrow_mut().wire.as_mut() {
                Some(wire) => wire.read(&mut scratch),
                None => return,
            };
            scratch.clear();
            match status {
                Ok(ReadStatus::Data(_)) => {}
                Ok(ReadStatus::WouldBlock) => return,
                Ok(ReadStatus::Eof) | Err(_) => break,
            }
        }
        self.teardown(None, true);
    }

    /// The transport is open: poll its socket, send CONNECT.
    fn install(self: &Rc<Self>, opened: Opened) {
        self.opening.borrow_mut().take();
        // The transport opened within `connectTimeout`: from now on the timer follows the
        // session's deadlines (the CONNACK wait first).
        self.deadline.set(None);
        // SAFETY: a live timer handle of this thread's loop (the phase is Opening).
        unsafe { self.uv.timer_stop(self.timer.get()) };
        let wire = Wire::new(opened);
        // The poll handle holds a strong count like the others.
        let data = self.share();
        // SAFETY: our loop's thread; `data` is a strong count released in `on_closed` (or
        // below when the handle could not be made).
        match unsafe { self.uv.new_poll(self.uv_loop, wire.raw_socket(), data) } {
            Ok(poll) => self.poll.set(poll),
            Err(error) => {
                // SAFETY: the count `share` took above, not handed to libuv.
                drop(unsafe { Rc::from_raw(data.cast::<Conn>()) });
                let failure = TransportError::from_io("connect", &error, None);
                self.teardown(Some(failure), true);
                return;
            }
        }
        self.io.borrow_mut().wire = Some(wire);
        self.phase.set(Phase::Open);
        let Some((connect, auth)) = self.start.borrow_mut().take() else {
            return;
        };
        let started = self
            .client
            .session
            .lock()
            .start_connection(connect, auth, Instant::now());
        if let Err(error) = started {
            self.sink.push(DriverEvent::Session(Event::Error(error)));
            self.teardown(None, true);
            return;
        }
        self.process();
        // A server that spoke right after its `101` (a CONNACK in the same segment) left bytes
        // no readable event will announce: read them now.
        let unread = self
            .io
            .borrow()
            .wire
            .as_ref()
            .is_some_and(Wire::may_have_unread);
        if unread && self.phase.get() == Phase::Open && self.read_available() {
            self.process();
        }
    }

    /// Reads what the socket has (a bounded number of reads) into the session. Returns false
    /// if the connection ended.
    fn read_available(&self) -> bool {
        for _ in 0..MAX_READS {
            if self.paused.get() || self.close.get() == ABORT {
                break;
            }
            let (status, first_read) = {
                let mut io = self.io.borrow_mut();
                let Io { wire, read_buf, .. } = &mut *io;
                let Some(wire) = wire.as_mut() else {
                    return false;
                };
                if read_buf.capacity() == 0 {
                    // No partial packet kept: read into the thread's buffer.
                    *read_buf = SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()));
                }
                (wire.read(read_buf), io.first_read)
            };
            match status {
                Ok(ReadStatus::Data(0)) => {}
                Ok(ReadStatus::Data(_)) => {
                    let drained = {
                        let mut io = self.io.borrow_mut();
                        let Io { wire, pacing, .. } = &mut *io;
                        let wire = wire.as_ref();
                        if pacing.on_data_read(Instant::now()) {
                            wire.inspect(|w| w.delay_acks());
                        }
                        self.saturated.set(pacing.is_streaming());
                        wire.is_some_and(Wire::is_drained)
                    };
                    if first_read {
                        let mut io = self.io.borrow_mut();
                        io.first_read = false;
                        let diagnosed =
                            transport::diagnose_first_bytes(&self.endpoint, &io.read_buf);
                        drop(io);
                        if let Some(error) = diagnosed {
                            self.teardown(Some(error), true);
                            return false;
                        }
                    }
                    let wants_close = self.feed_session();
                    if wants_close {
                        break;
                    }
                    if drained {
                        // Level-triggered polling calls again if more arrives meanwhile.
                        break;
                    }
                    if self.sink.is_full() {
                        // A large burst: hand it over before reading more.
                        self.sink.deliver();
                        if self.sink.is_broken() {
                            self.teardown(None, false);
                            return false;
                        }
                        if self.phase.get() != Phase::Open {
                            return false;
                        }
                    }
                }
                Ok(ReadStatus::WouldBlock) => break,
                Ok(ReadStatus::Eof) => {
                    // The broker closed the connection; MQTT.js reports no error for that,
                    // except that a close before any answer to CONNECT is a failed attempt
                    // worth a word.
                    let failure = (first_read && self.close.get() == RUN)
                        .then(|| transport::closed_without_answer(&self.endpoint));
                    self.teardown(failure, true);
                    return false;
                }
                // A TLS peer that closes an established connection without close_notify: Node
                // reports a plain close, and so does MQTT.js.
                Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof && !first_read => {
                    self.teardown(None, true);
                    return false;
                }
                Err(error) => {
                    let failure =
                        transport::stream_error(&self.endpoint, "read", &error, first_read);
                    self.teardown(Some(failure), true);
                    return false;
                }
            }
        }
        true
    }

    /// Decodes every whole packet read so far into the session and moves the session's events
    /// to the sink. Returns whether the session wants the connection closed.
    fn feed_session(&self) -> bool {
        let now = Instant::now();
        let mut io = self.io.borrow_mut();
        let mut session = self.client.session.lock();
        let limits = session.limits();
        // Measured before decoding: packets split off the buffer share its allocation, and
        // once they are gone the empty buffer still owns all of it while its own capacity
        // looks small.
        let grown = io.read_buf.capacity() > MAX_IDLE_BUFFER;
        while !session.wants_close() {
            match codec::decode(&mut io.read_buf, session.version(), &limits) {
                Ok(Some(packet)) => {
                    self.decoded.set(self.decoded.get() + 1);
                    if is_qos0_publish(&packet) {
                        self.qos0_publishes.set(self.qos0_publishes.get() + 1);
                    }
                    session.handle_packet(packet, now);
                }
                Ok(None) => break,
                Err(error) => session.handle_decode_error(&error),
            }
        }
        if io.read_buf.is_empty() && io.read_buf.capacity() > 0 {
            // Every whole packet is decoded: the buffer goes back to the thread (an idle
            // connection holds none); a partial packet keeps it with the connection. One that
            // grew for a large packet is freed instead.
            let buffer = std::mem::take(&mut io.read_buf);
            if !grown {
                SCRATCH.with(|s| *s.borrow_mut() = buffer);
            }
        }
        drain_events(&mut session, self.sink.as_ref());
        session.wants_close()
    }

    /// Delivers, writes, and closes as requested, then sets what to wait for. Only called from
    /// libuv callbacks.
    fn process(&self) {
        loop {
            if self.phase.get() != Phase::Open {
                return;
            }
            let mode = self.close.get();
            if mode == ABORT {
                self.teardown(None, true);
                return;
            }
            let wants_close = {
                let mut session = self.client.session.lock();
                session.poll_transmit(&mut self.io.borrow_mut().write_buf);
                drain_events(&mut session, self.sink.as_ref());
                session.wants_close()
            };
            if wants_close {
                self.teardown(None, true);
                return;
            }
            // What the session has to send (acks it owes, publishes the window let through, a
            // PUBREL) leaves before JavaScript runs: the broker works on it meanwhile. What
            // JavaScript sends in answer leaves in its own flush, at the end of its tick.
            if let Err(failure) = self.write() {
                self.teardown(Some(failure), true);
                return;
            }
            if !self.sink.is_empty() {
                self.sink.deliver();
                if self.sink.is_broken() {
                    // JavaScript cannot take events any more: close without calling it again.
                    self.teardown(None, false);
                    return;
                }
                continue;
            }
            if mode == CLOSE_AFTER_FLUSH && !self.wants_write() {
                self.start_draining();
                return;
            }
            self.update_interest();
            self.arm_timer();
            return;
        }
    }

    /// Half-closes the connection after a graceful end and waits for the broker's close, at
    /// most [`DRAIN_TIMEOUT`].
    fn start_draining(&self) {
        if let Some(wire) = self.io.borrow_mut().wire.as_mut() {
            wire.close();
        }
        self.phase.set(Phase::Draining);
        let poll = self.poll.get();
        // SAFETY: live handles of this thread's loop (not Closed).
        unsafe {
            self.uv.poll_start(poll, uv::READABLE, on_poll);
            self.uv.timer_start(
                self.timer.get(),
                on_timer,
                u64::try_from(DRAIN_TIMEOUT.as_millis()).unwrap_or(u64::MAX),
            );
        }
        self.interest.set(uv::READABLE);
    }

    /// Writes the session's queued packets from a JavaScript call: never calls JavaScript;
    /// events and failures wait for the next loop turn.
    fn flush_from_js(&self) {
        // After `end(true)` nothing more is written, not even what was queued earlier in the
        // same tick (MQTT.js destroys its socket with the corked bytes): queued QoS 1/2
        // publishes stay in the session for the next connection.
        if self.phase.get() != Phase::Open || self.close.get() == ABORT {
            return;
        }
        {
            let mut session = self.client.session.lock();
            session.poll_transmit(&mut self.io.borrow_mut().write_buf);
            drain_events(&mut session, self.sink.as_ref());
        }
        if let Err(failure) = self.write() {
            self.sink.push(DriverEvent::Transport(failure));
            self.request_close(ABORT);
            return;
        }
        self.update_interest();
        self.arm_timer();
        if !self.sink.is_empty() {
            self.schedule();
        }
    }

    fn wants_write(&self) -> bool {
        self.io
            .borrow()
            .wire
            .as_ref()
            .is_some_and(Wire::wants_write)
    }

    /// Writes the queued bytes as far as the socket takes them.
    fn write(&self) -> Result<(), TransportError> {
        let mut io = self.io.borrow_mut();
        let Io {
            wire,
            write_buf,
            first_read,
            ..
        } = &mut *io;
        let Some(wire) = wire.as_mut() else {
            return Ok(());
        };
        let result = wire
            .write(write_buf)
            .map_err(|e| transport::stream_error(&self.endpoint, "write", &e, *first_read));
        if write_buf.is_empty() && write_buf.capacity() > MAX_IDLE_BUFFER {
            // A large packet went out (or into the wire's own buffer): do not keep its room.
            *write_buf = BytesMut::new();
        }
        result
    }

    /// Points the poll handle at what the connection waits for now.
    fn update_interest(&self) {
        let poll = self.poll.get();
        if self.phase.get() != Phase::Open || poll.is_null() {
            return;
        }
        let mut wanted = 0;
        if !self.paused.get() && !self.polling.get() {
            wanted |= uv::READABLE;
        }
        if self.wants_write() {
            wanted |= uv::WRITABLE;
        }
        if wanted == self.interest.get() {
            return;
        }
        self.interest.set(wanted);
        // SAFETY: a live poll handle of this thread's loop (the phase is Open).
        unsafe {
            if wanted == 0 {
                self.uv.poll_stop(poll);
            } else {
                self.uv.poll_start(poll, wanted, on_poll);
            }
        }
    }

    /// Arms the timer for the session's next deadline.
    fn arm_timer(&self) {
        let deadline = self.client.session.lock().poll_timeout();
        if deadline == self.deadline.get() {
            return;
        }
        self.deadline.set(deadline);
        let timer = self.timer.get();
        // SAFETY: a live timer handle of this thread's loop (the phase is not Closed).
        unsafe {
            match deadline {
                None => self.uv.timer_stop(timer),
                Some(at) => {
                    let wait = at.saturating_duration_since(Instant::now());
                    // Round up: a timer that fires early finds nothing due and spins.
                    let ms = wait.as_micros().div_ceil(1000);
                    self.uv
                        .timer_start(timer, on_timer, u64::try_from(ms).unwrap_or(u64::MAX));
                }
            }
        }
    }

    /// A panic was caught in a callback: report it and close, as any other failure.
    fn fail_internal(&self) {
        if self.phase.get() == Phase::Closed {
            return;
        }
        self.sink
            .push(DriverEvent::Session(Event::Error(SessionError {
                code: "INTERNAL",
                message: "internal error in the mqtt-native driver; the connection was closed"
                    .into(),
                reason_code: None,
            })));
        self.teardown(None, !is_shutting_down());
    }

    /// Closes the libuv handles; each gives back its strong count when closed.
    fn close_handles(&self) {
        let uv = self.uv;
        // SAFETY: each handle is live and closed once (the pointer is cleared); no async send
        // can follow, because the slot's handle is cleared first, under its lock.
        unsafe {
            self.slot.lock().wake = None;
            let poll = self.poll.replace(std::ptr::null_mut());
            if !poll.is_null() {
                uv.poll_stop(poll);
                uv.close(poll, uv::HandleType::Poll, on_closed);
            }
            let timer = self.timer.replace(std::ptr::null_mut());
            if !timer.is_null() {
                uv.timer_stop(timer);
                uv.close(timer, uv::HandleType::Timer, on_closed);
            }
            let wake = self.wake.replace(std::ptr::null_mut());
            if !wake.is_null() {
                uv.close(wake, uv::HandleType::Async, on_closed);
            }
        }
    }

    /// Ends the connection: closes the socket and the handles, reports what the session has
    /// left, the failure if any, and `Closed`; delivers them when `deliver` (not while the
    /// environment is torn down).
    fn teardown(&self, failure: Option<TransportError>, deliver: bool) {
        if self.phase.get() == Phase::Closed {
            return;
        }
        if let Some(task) = self.opening.borrow_mut().take() {
            task.abort();
        }
        self.close_handles();
        // The socket closes after its poll handle stopped watching it, and after what the
        // broker sent meanwhile is read (a close with unread bytes would reset the connection).
        let wire = self.io.borrow_mut().wire.take();
        let was_open = wire.is_some();
        if let Some(wire) = wire {
            wire.discard_unread();
        }
        self.phase.set(Phase::Closed);
        // A newer connection of the same client that has already started owns the session's
        // events and state now; this one must not take them.
        let superseded = self
            .client
            .current()
            .is_some_and(|c| !std::ptr::eq(&*c, self) && c.phase.get() == Phase::Open)
            || self.client.stream_is_open();
        if !superseded {
            let mut session = self.client.session.lock();
            drain_events(&mut session, self.sink.as_ref());
            if was_open {
                session.handle_close();
            }
        }
        if let Some(error) = failure {
            self.sink.push(DriverEvent::Transport(error));
        }
        self.sink.push(DriverEvent::Closed);
        {
            let mut current = self.client.current.borrow_mut();
            if current.as_ref().is_some_and(|c| std::ptr::eq(&**c, self)) {
                *current = None;
            }
        }
        LIVE.with(|live| {
            live.borrow_mut()
                .retain(|c| c.upgrade().is_some_and(|c| !std::ptr::eq(&*c, self)))
        });
        if deliver && !is_shutting_down() {
            self.sink.deliver();
        }
    }
}

/// Whether `packet` is a QoS 0 publish: nobody waits for our read of it
/// ([`polling::ReadSchedule`]).
fn is_qos0_publish(packet: &codec::Packet) -> bool {
    matches!(packet, codec::Packet::Publish(p) if p.qos == codec::QoS::AtMostOnce)
}

/// Hands everything the session has to say to the sink.
fn drain_events(session: &mut Session, sink: &dyn EventSink) {
    while let Some(event) = session.poll_event() {
        sink.push(DriverEvent::Session(event));
    }
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
