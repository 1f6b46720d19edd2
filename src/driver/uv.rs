//! The few libuv functions the driver needs, found in the host process at run time.
//!
//! Node.js exports libuv's symbols to addons; looking them up when first needed (rather than
//! linking against them) keeps `cargo test` binaries linkable, and lets a runtime without libuv
//! (Bun, Deno: they load N-API addons but have no libuv loop behind them) get a clear error
//! instead of a crash. Handles are allocated with the size libuv reports for its own build
//! (`uv_handle_size`), so no libuv struct layout is assumed here; the only field used is
//! `data`, through `uv_handle_get_data`/`uv_handle_set_data`.

use std::alloc::{self, Layout};
use std::ffi::{c_int, c_void};
use std::sync::OnceLock;

use crate::transport::wire::RawSocket;

/// A libuv loop (`uv_loop_t`), opaque.
#[repr(C)]
pub struct Loop {
    _opaque: [u8; 0],
}

/// Any libuv handle (`uv_handle_t`, `uv_poll_t`, `uv_timer_t`, `uv_async_t`), opaque.
#[repr(C)]
pub struct Handle {
    _opaque: [u8; 0],
}

/// `uv_poll_t` event bit: readable.
pub const READABLE: c_int = 1;
/// `uv_poll_t` event bit: writable.
pub const WRITABLE: c_int = 2;

/// `uv_handle_type` values (uv.h, stable across libuv 1.x).
#[derive(Clone, Copy)]
#[repr(C)]
pub enum HandleType {
    /// `UV_ASYNC`
    Async = 1,
    /// `UV_POLL`
    Poll = 8,
    /// `UV_TIMER`
    Timer = 13,
}

/// A callback taking just the handle (`uv_timer_cb`, `uv_async_cb`, `uv_close_cb`).
pub type HandleCallback = unsafe extern "C" fn(*mut Handle);
/// `uv_poll_cb`: the handle, a status (negative errno), and the ready events.
pub type PollCallback = unsafe extern "C" fn(*mut Handle, c_int, c_int);

/// Pointers to libuv's functions in the host process.
pub struct Uv {
    handle_size: unsafe extern "C" fn(HandleType) -> usize,
    poll_init_socket: unsafe extern "C" fn(*mut Loop, *mut Handle, RawSocket) -> c_int,
    poll_start: unsafe extern "C" fn(*mut Handle, c_int, PollCallback) -> c_int,
    poll_stop: unsafe extern "C" fn(*mut Handle) -> c_int,
    timer_init: unsafe extern "C" fn(*mut Loop, *mut Handle) -> c_int,
    timer_start: unsafe extern "C" fn(*mut Handle, HandleCallback, u64, u64) -> c_int,
    timer_stop: unsafe extern "C" fn(*mut Handle) -> c_int,
    async_init: unsafe extern "C" fn(*mut Loop, *mut Handle, HandleCallback) -> c_int,
    async_send: unsafe extern "C" fn(*mut Handle) -> c_int,
    close: unsafe extern "C" fn(*mut Handle, Option<HandleCallback>),
    handle_get_data: unsafe extern "C" fn(*const Handle) -> *mut c_void,
    handle_set_data: unsafe extern "C" fn(*mut Handle, *mut c_void),
    default_loop: unsafe extern "C" fn() -> *mut Loop,
    _host: libloading::Library,
}

static UV: OnceLock<Result<Uv, String>> = OnceLock::new();

/// The host's libuv, or why there is none.
pub fn get() -> Result<&'static Uv, String> {
    UV.get_or_init(load).as_ref().map_err(Clone::clone)
}

fn host() -> Result<libloading::Library, libloading::Error> {
    #[cfg(unix)]
    {
        Ok(libloading::os::unix::Library::this().into())
    }
    #[cfg(windows)]
    {
        libloading::os::windows::Library::this().map(Into::into)
    }
}

fn load() -> Result<Uv, String> {
    let host = host().map_err(|e| e.to_string())?;
    macro_rules! symbol {
        ($name:literal) => {
            // SAFETY: the type of each field is the C signature of the libuv function named.
            *unsafe { host.get(concat!($name, "\0").as_bytes()) }.map_err(|_| {
                format!("this JavaScript runtime does not provide libuv's {}", $name)
            })?
        };
    }
    Ok(Uv {
        handle_size: symbol!("uv_handle_size"),
        poll_init_socket: symbol!("uv_poll_init_socket"),
        poll_start: symbol!("uv_poll_start"),
        poll_stop: symbol!("uv_poll_stop"),
        timer_init: symbol!("uv_timer_init"),
        timer_start: symbol!("uv_timer_start"),
        timer_stop: symbol!("uv_timer_stop"),
        async_init: symbol!("uv_async_init"),
        async_send: symbol!("uv_async_send"),
        close: symbol!("uv_close"),
        handle_get_data: symbol!("uv_handle_get_data"),
        handle_set_data: symbol!("uv_handle_set_data"),
        default_loop: symbol!("uv_default_loop"),
        _host: host,
    })
}

fn layout(size: usize) -> Option<Layout> {
    Layout::from_size_align(size.max(1), 16).ok()
}

/// libuv error codes are negative errno values; this is the message for one.
pub fn error_message(code: c_int) -> std::io::Error {
    std::io::Error::from_raw_os_error(-code)
}

impl Uv {
    /// Whether `uv_loop` is the process's default loop: Node runs its main thread there, and
    /// each worker thread on a loop of its own.
    pub fn is_default_loop(&self, uv_loop: *mut Loop) -> bool {
        // SAFETY: `uv_default_loop` takes nothing and returns the process's default loop.
        std::ptr::eq(unsafe { (self.default_loop)() }, uv_loop)
    }

    /// Allocates an uninitialised handle of `kind`, to be passed to its `*_init` and freed by
    /// [`Uv::close`]. `None` if memory is exhausted.
    fn alloc(&self, kind: HandleType) -> Option<*mut Handle> {
        // SAFETY: uv_handle_size has no preconditions.
        let size = unsafe { (self.handle_size)(kind) };
        let layout = layout(size)?;
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { alloc::alloc_zeroed(layout) };
        (!ptr.is_null()).then_some(ptr.cast())
    }

    /// Frees a handle's memory after its close callback ran (or when its init failed).
    ///
    /// # Safety
    /// `handle` came from [`Uv::alloc`] with `kind`, and libuv no longer refers to it.
    unsafe fn free(&self, handle: *mut Handle, kind: HandleType) {
        // SAFETY: as the caller promises; the size is the one it was allocated with.
        let size = unsafe { (self.handle_size)(kind) };
        if let Some(layout) = layout(size) {
            // SAFETY: allocated by `alloc` with this layout.
            unsafe { alloc::dealloc(handle.cast(), layout) };
        }
    }

    /// Allocates a handle of `kind`, initialises it with `init` and gives it `data`; frees it
    /// again when `init` fails (libuv then does not know it).
    fn new_handle(
        &self,
        kind: HandleType,
        data: *mut c_void,
        init: impl FnOnce(*mut Handle) -> c_int,
    ) -> Result<*mut Handle, std::io::Error> {
        let handle = self.alloc(kind).ok_or(std::io::ErrorKind::OutOfMemory)?;
        let status = init(handle);
        if status != 0 {
            // SAFETY: init failed, so libuv does not know the handle.
            unsafe { self.free(handle, kind) };
            return Err(error_message(status));
        }
        // SAFETY: an initialised handle.
        unsafe { (self.handle_set_data)(handle, data) };
        Ok(handle)
    }

    /// A new poll handle watching `socket` on `uv_loop`, with `data`.
    ///
    /// # Safety
    /// `uv_loop` is the running loop of the calling thread.
    pub unsafe fn new_poll(
        &self,
        uv_loop: *mut Loop,
        socket: RawSocket,
        data: *mut c_void,
    ) -> Result<*mut Handle, std::io::Error> {
        // SAFETY: a fresh handle on the caller's loop.
        self.new_handle(HandleType::Poll, data, |h| unsafe {
            (self.poll_init_socket)(uv_loop, h, socket)
        })
    }

    /// A new timer handle on `uv_loop`, with `data`.
    ///
    /// # Safety
    /// As [`Uv::new_poll`].
    pub unsafe fn new_timer(
        &self,
        uv_loop: *mut Loop,
        data: *mut c_void,
    ) -> Result<*mut Handle, std::io::Error> {
        // SAFETY: a fresh handle on the caller's loop.
        self.new_handle(HandleType::Timer, data, |h| unsafe {
            (self.timer_init)(uv_loop, h)
        })
    }

    /// A new async handle on `uv_loop` calling `callback`, with `data`.
    ///
    /// # Safety
    /// As [`Uv::new_poll`].
    pub unsafe fn new_async(
        &self,
        uv_loop: *mut Loop,
        callback: HandleCallback,
        data: *mut c_void,
    ) -> Result<*mut Handle, std::io::Error> {
        // SAFETY: a fresh handle on the caller's loop.
        self.new_handle(HandleType::Async, data, |h| unsafe {
            (self.async_init)(uv_loop, h, callback)
        })
    }

    /// Starts (or changes) what a poll handle watches.
    ///
    /// # Safety
    /// `handle` is a live poll handle of the calling thread's loop.
    pub unsafe fn poll_start(
        &self,
        handle: *mut Handle,
        events: c_int,
        callback: PollCallback,
    ) -> c_int {
        // SAFETY: as the caller promises.
        unsafe { (self.poll_start)(handle, events, callback) }
    }

    /// Stops a poll handle.
    ///
    /// # Safety
    /// As [`Uv::poll_start`].
    pub unsafe fn poll_stop(&self, handle: *mut Handle) {
        // SAFETY: as the caller promises.
        unsafe { (self.poll_stop)(handle) };
    }

    /// Arms a one-shot timer.
    ///
    /// # Safety
    /// `handle` is a live timer handle of the calling thread's loop.
    pub unsafe fn timer_start(&self, handle: *mut Handle, callback: HandleCallback, ms: u64) {
        // SAFETY: as the caller promises.
        unsafe { (self.timer_start)(handle, callback, ms, 0) };
    }

    /// Disarms a timer.
    ///
    /// # Safety
    /// As [`Uv::timer_start`].
    pub unsafe fn timer_stop(&self, handle: *mut Handle) {
        // SAFETY: as the caller promises.
        unsafe { (self.timer_stop)(handle) };
    }

    /// Wakes an async handle's loop; callable from any thread.
    ///
    /// # Safety
    /// `handle` is a live async handle (not closing).
    pub unsafe fn async_send(&self, handle: *mut Handle) {
        // SAFETY: as the caller promises.
        unsafe { (self.async_send)(handle) };
    }

    /// The `data` of a handle.
    ///
    /// # Safety
    /// `handle` is a live handle.
    pub unsafe fn data(&self, handle: *const Handle) -> *mut c_void {
        // SAFETY: as the caller promises.
        unsafe { (self.handle_get_data)(handle) }
    }

    /// Closes a handle; `on_closed` runs on a later loop turn, after which the handle's memory
    /// is freed here.
    ///
    /// # Safety
    /// `handle` is a live handle of kind `kind`, created by this module, not already closing.
    pub unsafe fn close(&self, handle: *mut Handle, kind: HandleType, on_closed: HandleCallback) {
        // The close callback must know the kind to free the right size: keep it in the callback
        // choice (one trampoline per kind).
        let trampoline: HandleCallback = match kind {
            HandleType::Poll => closed::<{ HandleType::Poll as u8 }>,
            HandleType::Timer => closed::<{ HandleType::Timer as u8 }>,
            HandleType::Async => closed::<{ HandleType::Async as u8 }>,
        };
        // SAFETY: as the caller promises. The user callback is kept beside the data pointer.
        unsafe {
            let data = (self.handle_get_data)(handle);
            let slot = Box::into_raw(Box::new(Closing { data, on_closed }));
            (self.handle_set_data)(handle, slot.cast());
            (self.close)(handle, Some(trampoline));
        }
    }
}

/// What a closing handle carries to its close callback.
struct Closing {
    data: *mut c_void,
    on_closed: HandleCallback,
}

unsafe extern "C" fn closed<const KIND: u8>(handle: *mut Handle) {
    let Ok(uv) = get() else { return };
    let kind = match KIND {
        1 => HandleType::Async,
        8 => HandleType::Poll,
        _ => HandleType::Timer,
    };
    // SAFETY: `close` stored a `Closing` in the handle's data; libuv is done with the handle.
    unsafe {
        let closing = Box::from_raw((uv.handle_get_data)(handle).cast::<Closing>());
        (uv.handle_set_data)(handle, closing.data);
        (closing.on_closed)(handle);
        uv.free(handle, kind);
    }
}
