//! Byte streams to the broker: TCP, TLS, WebSocket (plain and over TLS) and unix sockets, and
//! TCP through a SOCKS proxy.
//! Nothing here knows MQTT packets.
//!
//! [`open`] turns an [`Endpoint`] into an [`Opened`] socket for the driver's [`Wire`]; failures are [`TransportError`]s that
//! keep the Node-style code (`ECONNREFUSED`, `ENOTFOUND`, `DEPTH_ZERO_SELF_SIGNED_CERT`, …)
//! MQTT.js users test for, or one of our stable `ERR_MQTT_*` codes when we can tell the user's
//! mistake (a WebSocket URL on an MQTT port, TLS on a plain port, …; see [`sniff`]).

mod der;
mod error;
mod keys;
pub mod sniff;
pub mod socks;
pub mod tls;
pub mod wire;
pub mod ws;
pub mod ws_frame;

pub use error::TransportError;
pub use wire::{Opened, ReadStatus, Socket, Wire};

use sniff::{Peer, Sniff};

use serde::Deserialize;
use tokio::net::TcpStream;

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
    /// TLS options, for `mqtts`/`ssl`/`tls` and `wss`.
    #[serde(default)]
    pub tls: Option<tls::TlsOptions>,
    /// The WebSocket URL, subprotocol and headers, for `ws` and `wss`.
    #[serde(default)]
    pub ws: Option<ws::WsOptions>,
    /// The SOCKS proxy (`socksProxy`), for `mqtt`/`tcp` and `mqtts`/`ssl`/`tls` over TCP.
    #[serde(default)]
    pub socks: Option<socks::SocksOptions>,
    /// Host names already resolved by Node's resolver (`dns.lookup` or the `lookup` option,
    /// on libuv's bounded pool), as the shim found them before dialing. A name found here is
    /// not looked up again; the name itself still goes to TLS (SNI, certificate check) and to
    /// the WebSocket `Host` header.
    #[serde(default)]
    pub resolved: Vec<ResolvedHost>,
}

/// The addresses one host name resolved to, in the resolver's order.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedHost {
    /// The name as it appears in the endpoint (without brackets).
    pub host: String,
    /// IP literals (`127.0.0.1`, `::1`).
    pub addresses: Vec<String>,
}

/// The socket addresses for `host:port`: the IP literal itself, the addresses Node's resolver
/// gave for it, or (for a name the shim did not resolve, as in Rust-only tests) a lookup here.
pub async fn lookup(
    host: &str,
    port: u16,
    resolved: &[ResolvedHost],
) -> Result<Vec<std::net::SocketAddr>, TransportError> {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(vec![std::net::SocketAddr::new(ip, port)]);
    }
    if let Some(known) = resolved.iter().find(|r| r.host == host) {
        let addrs: Vec<std::net::SocketAddr> = known
            .addresses
            .iter()
            .filter_map(|a| a.parse::<std::net::IpAddr>().ok())
            .map(|ip| std::net::SocketAddr::new(ip, port))
            .collect();
        if addrs.is_empty() {
            return Err(TransportError::not_found(host));
        }
        return Ok(addrs);
    }
    match tokio::net::lookup_host((host, port)).await {
        Ok(addrs) => Ok(addrs.collect()),
        Err(_) => Err(TransportError::not_found(host)),
    }
}

impl Endpoint {
    /// Whether the byte stream is encrypted.
    pub fn is_secure(&self) -> bool {
        matches!(self.protocol.as_str(), "mqtts" | "ssl" | "tls" | "wss")
    }
}

/// Opens the transport for `endpoint`: every slow or blocking step (DNS, TCP connect, SOCKS,
/// the TLS handshake, the WebSocket upgrade) runs here, on tokio; what comes out is a
/// non-blocking socket and the layers above it, for the driver to run on the JavaScript
/// thread's loop.
pub async fn open(endpoint: &Endpoint) -> Result<Opened, TransportError> {
    match endpoint.protocol.as_str() {
        "mqtt" | "tcp" => match &endpoint.unix_path {
            Some(path) => open_unix(path).await,
            None => plain(open_tcp(endpoint).await?, None, false),
        },
        "mqtts" | "ssl" | "tls" => {
            let tcp = open_tcp(endpoint).await?;
            let (tcp, first) = Sniff::new(tcp);
            let options = endpoint.tls.clone().unwrap_or_default();
            let stream =
                tls::handshake(tcp, &first, &endpoint.host, endpoint.port, &options).await?;
            let (tcp, session) = stream.into_inner();
            plain(tcp.into_inner(), Some(session), false)
        }
        "ws" | "wss" => {
            let Some(options) = &endpoint.ws else {
                return Err(TransportError::unsupported(
                    "a ws/wss endpoint needs its URL (internal error in the shim)".to_string(),
                ));
            };
            let target = ws::target(&options.url)?;
            let tcp = connect_tcp(&target.host, target.port, &endpoint.resolved).await?;
            let (tcp, first) = Sniff::new(tcp);
            if target.secure {
                let tls_options = endpoint.tls.clone().unwrap_or_default();
                let tls =
                    tls::handshake(tcp, &first, &target.host, target.port, &tls_options).await?;
                // The upgrade's diagnostics need the first decrypted bytes.
                let (tls, first) = Sniff::new(tls);
                let (tls, after) = ws::upgrade(tls, &first, options, &target).await?;
                let (tcp, session) = tls.into_inner().into_inner();
                let mut opened = plain(tcp.into_inner(), Some(session), true)?;
                opened.pending = after;
                Ok(opened)
            } else {
                let (tcp, after) = ws::upgrade(tcp, &first, options, &target).await?;
                let mut opened = plain(tcp.into_inner(), None, true)?;
                opened.pending = after;
                Ok(opened)
            }
        }
        other => Err(TransportError::unsupported(format!(
            "The {other}:// transport is not supported by mqtt-native; use mqtt://, mqtts://, \
             ws:// or wss://"
        ))),
    }
}

/// Takes an established TCP stream off tokio, for the driver's loop.
fn plain(
    tcp: TcpStream,
    tls: Option<rustls::ClientConnection>,
    ws: bool,
) -> Result<Opened, TransportError> {
    let tcp = tcp
        .into_std()
        .and_then(|s| s.set_nonblocking(true).map(|()| s))
        .map_err(|e| TransportError::from_io("connect", &e, None))?;
    Ok(Opened {
        socket: Socket::Tcp(tcp),
        tls: tls.map(Box::new),
        ws,
        pending: Vec::new(),
    })
}

/// Looks at the first bytes the broker sent on an established transport, before any MQTT
/// packet was decoded, and explains a protocol mix-up: an HTTP answer (an HTTP/WebSocket port
/// reached with `mqtt://`) or a TLS record (a TLS port reached without TLS). A broker's first
/// packet is CONNACK (or AUTH), whose first byte is 0x20 (0xF0): neither `H` (0x48) nor a TLS
/// content type (0x14–0x17) can start a valid server packet (MQTT 5 §2.1.2).
pub fn diagnose_first_bytes(endpoint: &Endpoint, first: &[u8]) -> Option<TransportError> {
    if endpoint.ws.is_some() {
        // Over WebSocket the upgrade already proved the server speaks WebSocket.
        return None;
    }
    let host = endpoint.host.as_str();
    let port = endpoint.port;
    let at = if endpoint.unix_path.is_some() {
        endpoint.unix_path.clone().unwrap_or_default()
    } else {
        format!("{host}:{port}")
    };
    match Peer::of(first) {
        Peer::Http => {
            let status = Peer::http_status(first)
                .map(|s| format!(" (HTTP {s})"))
                .unwrap_or_default();
            let ws = if endpoint.is_secure() { "wss" } else { "ws" };
            Some(TransportError::diagnosed(
                "ERR_MQTT_HTTP_PORT",
                format!(
                    "The server at {at} answered with HTTP{status}, not MQTT: this is an HTTP or \
                     WebSocket port. For MQTT over WebSocket use {ws}://{at}/mqtt (the path your \
                     broker serves, often /mqtt); for MQTT over TCP use the broker's MQTT port \
                     (usually 1883, or 8883 with TLS)."
                ),
                host,
                port,
            ))
        }
        Peer::Tls if !endpoint.is_secure() => Some(TransportError::diagnosed(
            "ERR_MQTT_TLS_PORT",
            format!(
                "The server at {at} answered with TLS: this port expects encrypted connections. \
                 Use mqtts://{at} (or wss:// if it is a WebSocket port) instead of mqtt://."
            ),
            host,
            port,
        )),
        _ => None,
    }
}

/// The broker closed the connection before sending a single byte in answer to CONNECT. MQTT.js
/// reports nothing (just `close`); a TLS server reached without TLS does exactly this, and so
/// does a broker that refuses the connection outright, so say so.
pub fn closed_without_answer(endpoint: &Endpoint) -> TransportError {
    let at = match (&endpoint.unix_path, &endpoint.ws) {
        (Some(path), _) => path.clone(),
        (None, Some(ws)) => ws.url.clone(),
        (None, None) => format!("{}:{}", endpoint.host, endpoint.port),
    };
    let hint = if endpoint.ws.is_none() && endpoint.unix_path.is_none() && !endpoint.is_secure() {
        format!(
            " If {at} is a TLS port, use mqtts://{at} (or wss:// for a WebSocket port) instead \
             of mqtt://; otherwise the broker's log says why it refused the client."
        )
    } else {
        " The broker's log says why it refused the client (protocol version, client id, \
         connection limit)."
            .to_string()
    };
    let mut error = TransportError::diagnosed(
        "ECONNRESET",
        format!("read ECONNRESET: the server at {at} closed the connection without answering CONNECT.{hint}"),
        &endpoint.host,
        endpoint.port,
    );
    error.syscall = "read".into();
    error
}

/// The error for a failed read or write on an established transport: a TLS problem the
/// server reported late (a refused client certificate in TLS 1.3) is explained, anything else
/// keeps its Node-style code. `nothing_received`: the broker has sent no byte yet.
pub fn stream_error(
    endpoint: &Endpoint,
    syscall: &str,
    error: &std::io::Error,
    nothing_received: bool,
) -> TransportError {
    if endpoint.is_secure() {
        let (host, port) = match endpoint.ws.as_ref().map(|w| ws::target(&w.url)) {
            Some(Ok(target)) => (target.host, target.port),
            _ => (endpoint.host.clone(), endpoint.port),
        };
        if let Some(diagnosed) = tls::diagnose_tls_io(error, &host, port) {
            return diagnosed;
        }
    }
    let mut transport_error = TransportError::from_io(syscall, error, None);
    if nothing_received
        && endpoint.ws.is_none()
        && endpoint.unix_path.is_none()
        && !endpoint.is_secure()
        && transport_error.code == "ECONNRESET"
    {
        // A TLS server resets a connection whose first bytes (our CONNECT) are not a TLS
        // ClientHello, without a word: the commonest cause of this reset.
        let at = format!("{}:{}", endpoint.host, endpoint.port);
        transport_error.message = format!(
            "{} {at}: the server reset the connection before answering CONNECT. If {at} is a \
             TLS port, use mqtts://{at} (or wss:// for a WebSocket port) instead of mqtt://.",
            transport_error.message
        );
        transport_error.address = Some(endpoint.host.clone());
        transport_error.port = Some(endpoint.port);
    }
    transport_error
}

/// The TCP stream to the broker for `mqtt://` and `mqtts://`: direct, or through the SOCKS
/// proxy (MQTT.js uses `socksProxy` for these two transports only, not for WebSocket).
async fn open_tcp(endpoint: &Endpoint) -> Result<TcpStream, TransportError> {
    match &endpoint.socks {
        Some(proxy) => {
            socks::connect(proxy, &endpoint.host, endpoint.port, &endpoint.resolved).await
        }
        None => connect_tcp(&endpoint.host, endpoint.port, &endpoint.resolved).await,
    }
}

/// Resolves `host` (see [`lookup`]) and connects to the first address that accepts, with
/// Nagle off: MQTT packets are small and latency-bound, and writes are coalesced by the driver
/// anyway.
pub async fn connect_tcp(
    host: &str,
    port: u16,
    resolved: &[ResolvedHost],
) -> Result<TcpStream, TransportError> {
    let addrs = lookup(host, port, resolved).await?;
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
async fn open_unix(path: &str) -> Result<Opened, TransportError> {
    let stream = tokio::net::UnixStream::connect(path)
        .await
        .and_then(|s| s.into_std())
        .and_then(|s| s.set_nonblocking(true).map(|()| s))
        .map_err(|e| TransportError::from_io_path("connect", &e, path))?;
    Ok(Opened {
        socket: Socket::Unix(stream),
        tls: None,
        ws: false,
        pending: Vec::new(),
    })
}

#[cfg(not(unix))]
async fn open_unix(_path: &str) -> Result<Opened, TransportError> {
    Err(TransportError::unsupported(
        "unix sockets are not available on this platform".to_string(),
    ))
}
