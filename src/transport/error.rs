//! Transport errors with Node-style codes.

use std::io;
use std::net::SocketAddr;

/// Why a transport could not be opened or broke, with the code Node.js would give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportError {
    /// Node-style code: `ECONNREFUSED`, `ECONNRESET`, `ENOTFOUND`, `ETIMEDOUT`, ….
    pub code: String,
    /// The system call that failed (`connect`, `read`, `write`, `getaddrinfo`).
    pub syscall: String,
    /// Node's message, e.g. `connect ECONNREFUSED 127.0.0.1:1883`.
    pub message: String,
    /// The address involved, when known.
    pub address: Option<String>,
    /// The port involved, when known.
    pub port: Option<u16>,
}

impl TransportError {
    /// The host name did not resolve.
    pub fn not_found(host: &str) -> Self {
        TransportError {
            code: "ENOTFOUND".into(),
            syscall: "getaddrinfo".into(),
            message: format!("getaddrinfo ENOTFOUND {host}"),
            address: Some(host.to_string()),
            port: None,
        }
    }

    /// A failure this crate diagnosed itself (wrong port, refused upgrade, certificate, …):
    /// `code` is one of the stable codes listed in README.md ("Connecting"), `message` names the
    /// likely mistake and its fix, `host`/`port` say where the attempt went.
    pub fn diagnosed(code: &str, message: String, host: &str, port: u16) -> Self {
        TransportError {
            code: code.into(),
            syscall: String::new(),
            message,
            address: (!host.is_empty()).then(|| host.to_string()),
            port: (port != 0).then_some(port),
        }
    }

    /// A transport or option this build cannot honour.
    pub fn unsupported(message: String) -> Self {
        TransportError {
            code: "ERR_UNSUPPORTED".into(),
            syscall: String::new(),
            message,
            address: None,
            port: None,
        }
    }

    /// No answer within the connect timeout.
    pub fn timed_out(syscall: &str) -> Self {
        TransportError {
            code: "ETIMEDOUT".into(),
            syscall: syscall.into(),
            message: format!("{syscall} ETIMEDOUT"),
            address: None,
            port: None,
        }
    }

    /// An I/O error during `syscall`, with the peer address when known.
    pub fn from_io(syscall: &str, error: &io::Error, addr: Option<SocketAddr>) -> Self {
        let code = node_code(error);
        let message = match addr {
            Some(addr) => format!("{syscall} {code} {addr}"),
            None => format!("{syscall} {code}"),
        };
        TransportError {
            code: code.to_string(),
            syscall: syscall.into(),
            message,
            address: addr.map(|a| a.ip().to_string()),
            port: addr.map(|a| a.port()),
        }
    }

    /// An I/O error on a unix socket path.
    pub fn from_io_path(syscall: &str, error: &io::Error, path: &str) -> Self {
        let code = node_code(error);
        TransportError {
            code: code.to_string(),
            syscall: syscall.into(),
            message: format!("{syscall} {code} {path}"),
            address: Some(path.to_string()),
            port: None,
        }
    }
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The libuv error name for an I/O error, as Node.js reports it in `err.code`.
pub(crate) fn node_code(error: &io::Error) -> &'static str {
    use io::ErrorKind::*;
    if let Some(errno) = error.raw_os_error() {
        if let Some(code) = errno_name(errno) {
            return code;
        }
    }
    match error.kind() {
        ConnectionRefused => "ECONNREFUSED",
        ConnectionReset => "ECONNRESET",
        ConnectionAborted => "ECONNABORTED",
        NotConnected => "ENOTCONN",
        AddrInUse => "EADDRINUSE",
        AddrNotAvailable => "EADDRNOTAVAIL",
        BrokenPipe => "EPIPE",
        TimedOut => "ETIMEDOUT",
        NotFound => "ENOENT",
        PermissionDenied => "EACCES",
        UnexpectedEof => "ECONNRESET",
        _ => "EIO",
    }
}

#[cfg(unix)]
fn errno_name(errno: i32) -> Option<&'static str> {
    // Linux and macOS numbers differ; only the common, portable names are mapped by number on
    // Linux. Elsewhere the ErrorKind mapping above applies.
    if cfg!(target_os = "linux") {
        Some(match errno {
            111 => "ECONNREFUSED",
            104 => "ECONNRESET",
            110 => "ETIMEDOUT",
            113 => "EHOSTUNREACH",
            101 => "ENETUNREACH",
            103 => "ECONNABORTED",
            32 => "EPIPE",
            2 => "ENOENT",
            13 => "EACCES",
            99 => "EADDRNOTAVAIL",
            _ => return None,
        })
    } else {
        None
    }
}

#[cfg(not(unix))]
fn errno_name(_errno: i32) -> Option<&'static str> {
    None
}
