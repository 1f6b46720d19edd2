//! Connections whose bytes travel over a Node.js stream (DESIGN.md §2, "two wires, one session").
//!
//! Design: the session is sans-I/O, so the same [`Session`] that the native socket feeds can be
//! fed from a Node `Duplex` (Node's `net`/`tls`, the `ws` package, or a stream the application
//! built). The JavaScript shim owns the stream; this module owns everything else, exactly as
//! the native [`super::Conn`] does:
//! - bytes the stream emits come in through [`StreamConn::feed`] (a `'data'` listener), are
//!   decoded with the session's limits, and the events go to the same [`EventSink`] as the
//!   native path's, delivered synchronously, one batch per chunk;
//! - what the session has to send leaves through [`StreamPort::write`] (the stream's
//!   `write()`), coalesced: once per JavaScript tick for publishes, at once for commands, as on
//!   the native path. A `false` from `write()` holds further bytes back (they collect, in one
//!   buffer) until the stream's `'drain'`;
//! - a saturated stream (chunks keep coming less than [`STREAM_GAP`](super::ack_pacing::STREAM_GAP) apart) joins
//!   the thread's polling tick ([`polling`]), as a saturated native socket does: chunks are then
//!   only collected as they come, and decoded, answered and delivered once per tick, so that a
//!   broker that sends each packet in a segment of its own (`set_tcp_nodelay`) costs one write
//!   and one delivery per tick instead of one per packet. Where the stream is a plain socket
//!   that nothing else reads, the driver takes its reads over meanwhile ([`super::direct_reads`]);
//! - the session's deadlines (CONNACK timeout, keepalive) run on a libuv timer, and events
//!   produced inside a JavaScript call (a publish, an ack) are delivered on the next loop turn
//!   through an async handle, as on the native path;
//! - ending writes what is queued, ends the stream and waits (at most [`DRAIN_TIMEOUT`]) for it
//!   to close; aborting destroys it.
//!
//! A chunk that arrives while this connection is calling JavaScript (an in-memory stream that
//! answers inside `write()`) is kept and decoded on the next loop turn, so events are never
//! delivered inside a call the application made.

use std::cell::{Cell, RefCell};
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::{Rc, Weak};
use std::time::Instant;

use bytes::BytesMut;

use super::ack_pacing::AckPacing;
use super::direct_reads::{DirectRead, DirectReads};
use super::{
    drain_events, polling, uv, Client, DriverEvent, EventSink, ABORT, CLOSE_AFTER_FLUSH,
    DRAIN_TIMEOUT, RUN,
};
use crate::codec::{self, Auth, Connect};
use crate::session::{Event, SessionError};
use crate::transport::{self, Endpoint, TransportError};

/// The JavaScript stream, as the driver uses it. Implemented by the binding.
pub trait StreamPort {
    /// Hands `bytes` to the stream's `write()`; returns its result (false: wait for `'drain'`).
    fn write(&self, bytes: &[u8]) -> bool;
    /// Pauses or resumes the stream (back-pressure from the application's `handleMessage`).
    fn set_reading(&self, reading: bool);
    /// Lets the socket under the stream read again after [`StreamConn::feed`] asked the shim
    /// to hold it (lazy reads, [`polling::ReadSchedule`]) or the driver took its reads.
    fn release_reads(&self);
    /// Stops Node reading the socket under the stream, for the driver to read it itself, and
    /// returns its descriptor; None where that cannot be (not a plain socket, or something
    /// else reads the stream).
    fn take_reads(&self) -> Option<i32>;
    /// Ends the stream after what was written (`end()`), or at once (`destroy()`).
    fn end(&self, force: bool);
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    Open,
    /// DISCONNECT written and the stream ended: waiting (briefly) for it to close.
    Draining,
    Closed,
}

struct Io {
    read_buf: BytesMut,
    write_buf: BytesMut,
    /// No byte has come from the broker yet.
    first_read: bool,
    /// When chunks arrive: says when the stream is saturated.
    pacing: AckPacing,
}

/// One connection over a JavaScript stream.
pub struct StreamConn {
    /// Tells this connection's calls from JavaScript apart from a previous connection's.
    id: u32,
    client: Rc<Client>,
    uv: &'static uv::Uv,
    uv_loop: *mut uv::Loop,
    endpoint: Endpoint,
    /// Whether the first bytes are checked for a protocol mix-up (not for the application's
    /// own streams: the shim knows nothing of where they lead).
    diagnose: bool,
    sink: Box<dyn EventSink>,
    port: Box<dyn StreamPort>,
    wake: Cell<*mut uv::Handle>,
    timer: Cell<*mut uv::Handle>,
    deadline: Cell<Option<Instant>>,
    phase: Cell<Phase>,
    close: Cell<u8>,
    /// The stream's `write()` returned false: bytes wait for `'drain'`.
    blocked: Cell<bool>,
    /// `'drain'` events so far (one that comes inside our own `write()` call must not be
    /// missed).
    drains: Cell<u64>,
    /// This connection is calling JavaScript (a write or a delivery): a chunk fed meanwhile
    /// waits for the next loop turn.
    busy: Cell<bool>,
    /// The stream closed while JavaScript was being called: handled on the next loop turn.
    pending_end: RefCell<Option<Option<TransportError>>>,
    /// Chunks are decoded on the thread's tick rather than as they come ([`polling`]).
    polling: Cell<bool>,
    /// Packets decoded so far (a tick that decodes few ends polling mode).
    decoded: Cell<u64>,
    /// QoS 0 publishes among them (a flood of those may be read lazily).
    qos0_publishes: Cell<u64>,
    /// When the tick decodes this connection next, in polling mode.
    reads: polling::ReadSchedule,
    /// Whether polling mode may start (not for traffic that comes in rounds), and when it ends.
    gate: polling::PollingGate,
    /// The shim holds the stream's socket from reading ([`StreamConn::feed`]).
    reads_held: Cell<bool>,
    /// The driver reads the stream's socket itself (in polling mode).
    direct: RefCell<Option<DirectReads>>,
    io: RefCell<Io>,
}

thread_local! {
    static LIVE: RefCell<Vec<Weak<StreamConn>>> = const { RefCell::new(Vec::new()) };
    static NEXT_ID: Cell<u32> = const { Cell::new(1) };
}

/// Closes every stream connection of the calling thread without calling JavaScript (the
/// environment is going away).
pub(super) fn shutdown_thread() {
    let live: Vec<Weak<StreamConn>> = LIVE.with(|live| std::mem::take(&mut *live.borrow_mut()));
    for conn in live.iter().filter_map(Weak::upgrade) {
        conn.teardown(None, false);
    }
}

unsafe fn with_conn(handle: *mut uv::Handle, f: impl FnOnce(&Rc<StreamConn>)) {
    let Ok(uv) = uv::get() else { return };
    // SAFETY: the handle's data is a strong count of the connection (see `StreamConn::share`).
    let conn = unsafe {
        let ptr = uv.data(handle).cast::<StreamConn>();
        Rc::increment_strong_count(ptr);
        Rc::from_raw(ptr)
    };
    if catch_unwind(AssertUnwindSafe(|| f(&conn))).is_err() {
        let _ = catch_unwind(AssertUnwindSafe(|| conn.fail_internal()));
    }
}

unsafe extern "C" fn on_wake(handle: *mut uv::Handle) {
    // SAFETY: libuv calls this for our async handle only.
    unsafe { with_conn(handle, |conn| conn.on_wake()) };
}

unsafe extern "C" fn on_timer(handle: *mut uv::Handle) {
    // SAFETY: libuv calls this for our timer handle only.
    unsafe { with_conn(handle, |conn| conn.on_timer()) };
}

unsafe extern "C" fn on_closed(handle: *mut uv::Handle) {
    let Ok(uv) = uv::get() else { return };
    // SAFETY: the handle's strong count of its connection, given back now that it is closed.
    drop(unsafe { Rc::from_raw(uv.data(handle).cast::<StreamConn>()) });
}

impl Client {
    /// Starts a connection over a JavaScript stream the shim has opened (or is opening: Node
    /// streams buffer writes until connected), replacing (and aborting) any previous one, and
    /// writes CONNECT (and the first AUTH) to it. Returns the connection's id, which the
    /// shim passes back with the stream's data and events.
    ///
    /// # Safety
    /// `uv_loop` is the running libuv loop of the calling thread.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn connect_stream(
        self: &Rc<Self>,
        uv_loop: *mut uv::Loop,
        endpoint: Endpoint,
        diagnose: bool,
        connect: Connect,
        auth: Option<Auth>,
        sink: Box<dyn EventSink>,
        port: Box<dyn StreamPort>,
    ) -> Result<u32, String> {
        let uv = uv::get()?;
        self.abort_current();
        let id = NEXT_ID.with(|n| {
            let id = n.get();
            n.set(id.wrapping_add(1).max(1));
            id
        });
        let conn = Rc::new(StreamConn {
            id,
            client: self.clone(),
            uv,
            uv_loop,
            endpoint,
            diagnose,
            sink,
            port,
            wake: Cell::new(std::ptr::null_mut()),
            timer: Cell::new(std::ptr::null_mut()),
            deadline: Cell::new(None),
            phase: Cell::new(Phase::Open),
            close: Cell::new(RUN),
            blocked: Cell::new(false),
            drains: Cell::new(0),
            busy: Cell::new(false),
            pending_end: RefCell::new(None),
            polling: Cell::new(false),
            decoded: Cell::new(0),
            qos0_publishes: Cell::new(0),
            reads: polling::ReadSchedule::default(),
            gate: polling::PollingGate::default(),
            reads_held: Cell::new(false),
            direct: RefCell::new(None),
            io: RefCell::new(Io {
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
                    drop(Rc::from_raw(data.cast::<StreamConn>()));
                    return Err(format!("libuv: {e}"));
                }
            }
            let data = conn.share();
            match uv.new_timer(uv_loop, data) {
                Ok(timer) => conn.timer.set(timer),
                Err(e) => {
                    drop(Rc::from_raw(data.cast::<StreamConn>()));
                    conn.phase.set(Phase::Closed);
                    conn.close_handles();
                    return Err(format!("libuv: {e}"));
                }
            }
        }
        LIVE.with(|live| live.borrow_mut().push(Rc::downgrade(&conn)));
        *self.stream.borrow_mut() = Some(conn.clone());
        let started = self
            .session
            .lock()
            .start_connection(connect, auth, Instant::now());
        match started {
            Ok(()) => conn.flush_from_js(),
            Err(error) => {
                conn.sink.push(DriverEvent::Session(Event::Error(error)));
                conn.request_close(ABORT);
            }
        }
        Ok(id)
    }

    /// The stream connection with this id, if it is the current one.
    fn stream_conn(&self, id: u32) -> Option<Rc<StreamConn>> {
        self.stream.borrow().clone().filter(|c| c.id == id)
    }

    /// The stream emitted `chunk`.
    /// Returns whether the shim should hold the stream's socket from reading (see
    /// [`StreamConn::feed`]).
    pub fn stream_feed(&self, id: u32, chunk: &[u8]) -> bool {
        self.stream_conn(id).is_some_and(|conn| conn.feed(chunk))
    }

    /// Something else now reads the stream: its socket's reads go back to Node if the driver
    /// took them ([`super::direct_reads`]).
    pub fn stream_return_reads(&self, id: u32) {
        if let Some(conn) = self.stream_conn(id) {
            if conn.direct.borrow().is_some() {
                conn.release_reads();
            }
        }
    }

    /// The stream emitted `'drain'`: it takes writes again.
    pub fn stream_drain(&self, id: u32) {
        if let Some(conn) = self.stream_conn(id) {
            conn.blocked.set(false);
            conn.drains.set(conn.drains.get().wrapping_add(1));
            conn.run_or_schedule();
        }
    }

    /// The stream ended, failed (`error`) or closed.
    pub fn stream_closed(&self, id: u32, error: Option<TransportError>) {
        if let Some(conn) = self.stream_conn(id) {
            conn.ended(error);
        }
    }

    /// Whether a stream connection has started its session (a native connection ending now
    /// must leave the session to it).
    pub(super) fn stream_is_open(&self) -> bool {
        self.stream
            .borrow()
            .as_ref()
            .is_some_and(|c| c.phase.get() == Phase::Open)
    }

    /// Aborts the current connection of either kind (a new one replaces it).
    pub(super) fn abort_current(&self) {
        let previous = self.current.borrow_mut().take();
        if let Some(previous) = previous {
            previous.request_close(ABORT);
        }
        let previous = self.stream.borrow_mut().take();
        if let Some(previous) = previous {
            previous.request_close(ABORT);
        }
    }

    /// The current stream connection, for [`Client::wake`], [`Client::set_reading`] and
    /// [`Client::close`].
    pub(super) fn current_stream(&self) -> Option<Rc<StreamConn>> {
        self.stream.borrow().clone()
    }
}

impl StreamConn {
    fn share(self: &Rc<Self>) -> *mut c_void {
        Rc::into_raw(self.clone()).cast_mut().cast()
    }

    /// Ends gracefully or at once (see [`Client::close`]).
    pub(super) fn request_close(&self, force: u8) {
        self.close.set(self.close.get().max(force));
        self.schedule();
    }

    /// Pauses or resumes the stream.
    pub(super) fn set_reading(&self, reading: bool) {
        if self.phase.get() == Phase::Open {
            if !reading {
                // Node's pause holds what Node reads: the reads go back to it first.
                self.release_reads();
            }
            self.port.set_reading(reading);
        }
    }

    /// Lets Node read the stream's socket again if the shim holds it or the driver took its
    /// reads.
    fn release_reads(&self) {
        let taken = self.direct.borrow_mut().take().is_some();
        if (self.reads_held.replace(false) || taken) && self.phase.get() == Phase::Open {
            self.port.release_reads();
        }
    }

    /// Takes the reads of the stream's socket over from Node, where the shim can hand them
    /// ([`DirectReads`]).
    fn take_reads(&self) {
        if self.direct.borrow().is_some() || self.reads_held.get() {
            return;
        }
        let was = self.busy.replace(true);
        let fd = self.port.take_reads();
        self.busy.set(was);
        let Some(fd) = fd else { return };
        match DirectReads::new(fd) {
            Some(direct) => *self.direct.borrow_mut() = Some(direct),
            // The shim holds the socket now: it must read again.
            None => self.port.release_reads(),
        }
    }

    /// Reads the socket whose reads the driver took, into the read buffer. Returns false if
    /// the connection ended.
    fn read_direct(&self) -> bool {
        let read = {
            let direct = self.direct.borrow();
            let Some(direct) = direct.as_ref() else {
                return true;
            };
            direct.read(&mut self.io.borrow_mut().read_buf)
        };
        match read {
            DirectRead::Data => true,
            DirectRead::End => {
                // Node reads the end again and ends the stream, after what came before it.
                self.release_reads();
                true
            }
            DirectRead::Failed(error) => {
                self.direct.borrow_mut().take();
                self.ended(Some(TransportError::from_io("read", &error, None)));
                false
            }
        }
    }

    fn schedule(&self) {
        let wake = self.wake.get();
        if self.phase.get() != Phase::Closed && !wake.is_null() {
            // SAFETY: the async handle is live until `close_handles`, which sets the phase.
            unsafe { self.uv.async_send(wake) };
        }
    }

    /// Processes now, or on the next loop turn when JavaScript is being called.
    fn run_or_schedule(&self) {
        if self.busy.get() {
            self.schedule();
        } else {
            self.process();
        }
    }

    /// The stream emitted `chunk`: collected, and decoded now or on the polling tick.
    ///
    /// Returns whether the shim should hold the stream's socket from reading until
    /// [`StreamPort::release_reads`]: the connection is between two lazy reads, and what the
    /// broker sends meanwhile had better wait in the kernel ([`polling::ReadSchedule`]).
    fn feed(self: &Rc<Self>, chunk: &[u8]) -> bool {
        if self.phase.get() != Phase::Open {
            // Draining: what the broker sends after DISCONNECT is read and dropped.
            return false;
        }
        let saturated = {
            let mut io = self.io.borrow_mut();
            io.read_buf.extend_from_slice(chunk);
            // Only the rhythm matters here: a Node socket's acknowledgements are Node's.
            let _ = io.pacing.on_data_read(Instant::now());
            io.pacing.is_streaming()
        };
        if self.polling.get() {
            // The tick decodes it, with whatever else comes before then.
            let hold = self.reads.ticks_left() > 0;
            if hold {
                self.reads_held.set(true);
            }
            return hold;
        }
        if self.busy.get() || self.close.get() == ABORT {
            self.schedule();
            return false;
        }
        if self.decode() {
            self.process();
        }
        if saturated
            && self.phase.get() == Phase::Open
            && self.gate.may_poll()
            && polling::enlist(self, self.uv, self.uv_loop)
        {
            self.polling.set(true);
            self.take_reads();
        }
        false
    }

    /// Decodes what was fed into the session. Returns false if the connection ended.
    fn decode(&self) -> bool {
        let first = {
            let mut io = self.io.borrow_mut();
            if io.read_buf.is_empty() {
                return true;
            }
            std::mem::replace(&mut io.first_read, false)
        };
        if first && self.diagnose {
            let diagnosed =
                transport::diagnose_first_bytes(&self.endpoint, &self.io.borrow().read_buf);
            if let Some(error) = diagnosed {
                self.teardown(Some(error), true);
                return false;
            }
        }
        let now = Instant::now();
        let mut io = self.io.borrow_mut();
        let mut session = self.client.session.lock();
        let limits = session.limits();
        while !session.wants_close() {
            match codec::decode(&mut io.read_buf, session.version(), &limits) {
                Ok(Some(packet)) => {
                    self.decoded.set(self.decoded.get() + 1);
                    if super::is_qos0_publish(&packet) {
                        self.qos0_publishes.set(self.qos0_publishes.get() + 1);
                    }
                    session.handle_packet(packet, now);
                }
                Ok(None) => break,
                Err(error) => session.handle_decode_error(&error),
            }
        }
        drain_events(&mut session, self.sink.as_ref());
        true
    }

    /// Writes, delivers and closes as requested, then arms the timer. Not called while
    /// JavaScript is being called by this connection.
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
            self.write(mode == CLOSE_AFTER_FLUSH);
            if self.phase.get() != Phase::Open {
                return;
            }
            if !self.sink.is_empty() {
                self.deliver();
                if self.sink.is_broken() {
                    // JavaScript can no longer hear this connection (as the native path).
                    self.teardown(None, false);
                    return;
                }
                continue;
            }
            if mode == CLOSE_AFTER_FLUSH {
                self.start_draining();
                return;
            }
            self.arm_timer();
            return;
        }
    }

    fn deliver(&self) {
        let was = self.busy.replace(true);
        self.sink.deliver();
        self.busy.set(was);
    }

    /// Hands the queued bytes to the stream, unless it asked to wait (`force`: the stream is
    /// about to be ended, and Node's streams keep what they were given).
    fn write(&self, force: bool) {
        if self.blocked.get() && !force {
            return;
        }
        let bytes = {
            let mut io = self.io.borrow_mut();
            if io.write_buf.is_empty() {
                return;
            }
            io.write_buf.split()
        };
        let was = self.busy.replace(true);
        let drains = self.drains.get();
        let ok = self.port.write(&bytes);
        self.busy.set(was);
        // The stream may have drained before `write()` returned: the call into JavaScript runs
        // Node's `nextTick` queue on its way out (N-API's callback scope), and with it the
        // uncork, the socket write and the 'drain' of this very write. Waiting for another
        // 'drain' then would wait for ever.
        if !ok && self.drains.get() == drains {
            self.blocked.set(true);
        }
    }

    /// Writes what the session queued from a JavaScript call: never delivers; events wait for
    /// the next loop turn.
    pub(super) fn flush_from_js(&self) {
        if self.phase.get() != Phase::Open {
            return;
        }
        {
            let mut session = self.client.session.lock();
            session.poll_transmit(&mut self.io.borrow_mut().write_buf);
            drain_events(&mut session, self.sink.as_ref());
        }
        self.write(false);
        self.arm_timer();
        if !self.sink.is_empty() {
            self.schedule();
        }
    }

    fn on_wake(&self) {
        let pending = self.pending_end.borrow_mut().take();
        if let Some(failure) = pending {
            self.ended(failure);
            return;
        }
        match self.phase.get() {
            Phase::Closed => {}
            Phase::Open if self.close.get() == ABORT => self.teardown(None, true),
            Phase::Open => {
                if self.decode() {
                    self.process();
                }
            }
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
            Phase::Closed => return,
        }
        self.deadline.set(None);
        self.client.session.lock().handle_timeout(Instant::now());
        self.process();
    }

    /// The stream ended, failed or closed.
    fn ended(&self, error: Option<TransportError>) {
        if self.phase.get() == Phase::Closed {
            return;
        }
        if self.busy.get() {
            *self.pending_end.borrow_mut() = Some(error);
            self.schedule();
            return;
        }
        if self.phase.get() == Phase::Open
            && self.close.get() != ABORT
            && !self.io.borrow().read_buf.is_empty()
        {
            // Bytes fed while JavaScript was being called wait for the next turn; the end must
            // not overtake them (a PUBACK or DISCONNECT right before the stream ends).
            if !self.decode() {
                return;
            }
            self.process();
            if self.phase.get() == Phase::Closed {
                return;
            }
        }
        let failure = error.or_else(|| {
            // As the native path: a close before any answer to CONNECT is worth a word (not for
            // the application's own stream, whose far end mqtt-native knows nothing of).
            (self.diagnose
                && self.phase.get() == Phase::Open
                && self.close.get() == RUN
                && self.io.borrow().first_read)
                .then(|| transport::closed_without_answer(&self.endpoint))
        });
        let failure = if self.phase.get() == Phase::Draining {
            None
        } else {
            failure
        };
        self.teardown(failure, true);
    }

    fn start_draining(&self) {
        // The broker's close must be read to end the drain.
        self.release_reads();
        self.phase.set(Phase::Draining);
        let was = self.busy.replace(true);
        self.port.end(false);
        self.busy.set(was);
        if self.phase.get() != Phase::Draining {
            return;
        }
        let timer = self.timer.get();
        // SAFETY: a live timer handle of this thread's loop (not Closed).
        unsafe {
            self.uv.timer_start(
                timer,
                on_timer,
                u64::try_from(DRAIN_TIMEOUT.as_millis()).unwrap_or(u64::MAX),
            );
        }
    }

    /// Arms the timer for the session's next deadline (nothing unless the connection is open).
    pub(super) fn arm_timer(&self) {
        let deadline = self.client.session.lock().poll_timeout();
        if deadline == self.deadline.get() || self.phase.get() != Phase::Open {
            return;
        }
        self.deadline.set(deadline);
        let timer = self.timer.get();
        // SAFETY: a live timer handle of this thread's loop (the phase is Open).
        unsafe {
            match deadline {
                None => self.uv.timer_stop(timer),
                Some(at) => {
                    let wait = at.saturating_duration_since(Instant::now());
                    let ms = wait.as_micros().div_ceil(1000);
                    self.uv
                        .timer_start(timer, on_timer, u64::try_from(ms).unwrap_or(u64::MAX));
                }
            }
        }
    }

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
        self.teardown(None, !super::is_shutting_down());
    }

    fn close_handles(&self) {
        let uv = self.uv;
        // SAFETY: each handle is live and closed once (the pointer is cleared).
        unsafe {
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

    /// Ends the connection: destroys the stream, closes the handles, reports what the session
    /// has left, the failure if any, and `Closed`.
    fn teardown(&self, failure: Option<TransportError>, deliver: bool) {
        if self.phase.get() == Phase::Closed {
            return;
        }
        self.phase.set(Phase::Closed);
        self.close_handles();
        self.direct.borrow_mut().take();
        if !super::is_shutting_down() {
            self.port.end(true);
        }
        // A newer connection that has started owns the session now.
        let superseded = self
            .client
            .current_stream()
            .is_some_and(|c| !std::ptr::eq(&*c, self) && c.phase.get() == Phase::Open)
            || self.client.native_is_open();
        if !superseded {
            let mut session = self.client.session.lock();
            drain_events(&mut session, self.sink.as_ref());
            session.handle_close();
        }
        if let Some(error) = failure {
            self.sink.push(DriverEvent::Transport(error));
        }
        self.sink.push(DriverEvent::Closed);
        {
            let mut current = self.client.stream.borrow_mut();
            if current.as_ref().is_some_and(|c| std::ptr::eq(&**c, self)) {
                *current = None;
            }
        }
        LIVE.with(|live| {
            live.borrow_mut()
                .retain(|c| c.upgrade().is_some_and(|c| !std::ptr::eq(&*c, self)))
        });
        if deliver && !super::is_shutting_down() {
            self.sink.deliver();
        }
    }
}

impl polling::Polled for StreamConn {
    /// Decodes, answers and delivers what the stream fed since the last tick. Returns whether
    /// the connection stays in polling mode.
    fn on_tick(&self) -> bool {
        if self.phase.get() != Phase::Open || !self.polling.get() {
            self.polling.set(false);
            return false;
        }
        let direct = self.direct.borrow().is_some();
        match self.reads.ticks_left() {
            0 => {}
            1 if !direct => {
                // The socket reads again now, so that what waited in the kernel has come in
                // by the tick that decodes it.
                self.release_reads();
                return true;
            }
            _ => return true,
        }
        let (before, qos0_before) = (self.decoded.get(), self.qos0_publishes.get());
        if self.close.get() == ABORT {
            self.teardown(None, true);
        } else if self.read_direct() && self.decode() {
            self.process();
        }
        if self.phase.get() != Phase::Open {
            self.polling.set(false);
            return false;
        }
        let packets = self.decoded.get() - before;
        if !self.gate.keep_polling(packets) {
            // The traffic no longer needs it: chunks are decoded as they come again, and a new
            // stream must build up before the next polling mode (the gate blocks traffic that
            // comes in rounds).
            self.polling.set(false);
            self.reads.reset();
            self.release_reads();
            self.io.borrow_mut().pacing = AckPacing::default();
            return false;
        }
        let qos0_publishes = self.qos0_publishes.get() - qos0_before;
        self.client
            .schedule_read(&self.reads, packets, qos0_publishes);
        true
    }
}
