//! Byte streams to the broker: TCP and unix sockets so far. Nothing here knows MQTT.
//!
//! [`connect`] turns an [`Endpoint`] into a boxed [`Io`]; failures are [`TransportError`]s that
//! keep the Node-style code (`ECONNREFUSED`, `ENOTFOUND`, …) MQTT.js users test for.

mod error;

pub use error::TransportError;

use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// A connected byte stream.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// Where and how to connect, as the JavaScript shim resolved it from MQTT.js's options.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    /// `mqtt` (plain TCP); other schemes are refused until their transport exists.
    pub protocol: String,
    /// Host name or IP literal (without brackets).
    #[serde(default)]
    pub host: String,
    /// TCP port.
    #[serde(default)]
    pub port: u16,
    /// Path of a unix socket (`unixSocket` / `mqtt+unix://`).
    #[serde(default)]
    pub unix_path: Option<String>,
}

/// Opens the transport for `endpoint`.
pub async fn connect(endpoint: &Endpoint) -> Result<Box<dyn Io>, TransportError> {
    if let Some(path) = &endpoint.unix_path {
        return connect_unix(path).await;
    }
    match endpoint.protocol.as_str() {
        "mqtt" | "tcp" => Ok(Box::new(connect_tcp(&endpoint.host, endpoint.port).await?)),
        other => Err(TransportError::unsupported(format!(
            "The {other}:// transport is not supported yet by mqtt-native; use mqtt:// (see COMPATIBILITY.md)"
        ))),
    }
}

/// Resolves `host` and connects to the first address that accepts, with Nagle off: MQTT
/// packets are small and latency-bound, and writes are coalesced by the driver anyway.
pub async fn connect_tcp(host: &str, port: u16) -> Result<TcpStream, TransportError> {
    let addrs: Vec<std::net::SocketAddr> = match tokio::net::lookup_host((host, port)).await {
        Ok(addrs) => addrs.collect(),
        Err(_) => return Err(TransportError::not_found(host)),
    };
    let mut last_error = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => last_error = Some(TransportError::from_io("connect", &e, Some(addr))),
        }
    }
    Err(last_error.unwrap_or_else(|| TransportError::not_found(host)))
}

#[cfg(unix)]
async fn connect_unix(path: &str) -> Result<Box<dyn Io>, TransportError> {
    match tokio::net::UnixStream::connect(path).await {
        Ok(stream) => Ok(Box::new(stream)),
        Err(e) => Err(TransportError::from_io_path("connect", &e, path)),
    }
}

#[cfg(not(unix))]
async fn connect_unix(_path: &str) -> Result<Box<dyn Io>, TransportError> {
    Err(TransportError::unsupported(
        "unix sockets are not available on this platform".to_string(),
    ))
}
