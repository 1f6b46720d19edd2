//! MQTT over WebSocket (MQTT 3.1.1 §6, MQTT 5 §6): the upgrade handshake with subprotocol
//! `mqtt`; the frames that follow are [`super::ws_frame`]'s.

use std::pin::Pin;
use std::task::{Context, Poll};

use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::error::{Error as WsError, ProtocolError};
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue, Uri};

use super::sniff::{FirstBytes, Peer};
use super::TransportError;

/// The WebSocket part of an endpoint, as the shim computed it (after `transformWsUrl`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WsOptions {
    /// `ws://host:port/path` or `wss://…`.
    pub url: String,
    /// `mqtt`, or `mqttv3.1` for MQTT 3.1 (`MQIsdp`).
    #[serde(default = "default_subprotocol")]
    pub subprotocol: String,
    /// Extra request headers (`wsOptions.headers`).
    #[serde(default)]
    pub headers: Vec<Header>,
}

/// One HTTP request header.
#[derive(Debug, Clone, Deserialize)]
pub struct Header {
    /// Header name.
    pub name: String,
    /// Header value.
    pub value: String,
}

fn default_subprotocol() -> String {
    "mqtt".into()
}

/// Where a WebSocket URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Whether the URL is `wss:`.
    pub secure: bool,
    /// Host without IPv6 brackets.
    pub host: String,
    /// Port (80/443 when the URL has none).
    pub port: u16,
    /// Path and query (`/` when empty).
    pub path: String,
    /// `scheme://authority` for messages.
    pub origin: String,
}

fn url_error(url: &str, why: &str) -> TransportError {
    TransportError::diagnosed(
        "ERR_MQTT_WS_URL",
        format!("Invalid WebSocket URL \"{url}\": {why}. Expected ws://host:port/path or wss://host:port/path."),
        "",
        0,
    )
}

/// Parses the URL to connect to.
pub fn target(url: &str) -> Result<Target, TransportError> {
    let uri: Uri = url.parse().map_err(|e| url_error(url, &format!("{e}")))?;
    let secure = match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("ws") => false,
        Some(s) if s.eq_ignore_ascii_case("wss") => true,
        _ => return Err(url_error(url, "the scheme must be ws or wss")),
    };
    let host = uri
        .host()
        .ok_or_else(|| url_error(url, "no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    if host.is_empty() {
        return Err(url_error(url, "no host"));
    }
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "/".into());
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or_default();
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    Ok(Target {
        secure,
        origin: format!("{}://{}", if secure { "wss" } else { "ws" }, authority),
        host,
        port,
        path,
    })
}

/// Runs the upgrade handshake over `stream` (plain or TLS) and gives the stream back, for the
/// driver to carry WebSocket frames over ([`super::ws_frame`]), with the bytes that came after
/// the server's `101` answer in the same read (a server that speaks first, or a CONNACK that
/// overtook the handshake's end): the handshake is only ever shown the answer's head, so none of
/// what follows it is lost in the handshake's buffer.
pub async fn upgrade<S>(
    stream: S,
    first: &FirstBytes,
    options: &WsOptions,
    target: &Target,
) -> Result<(S, Vec<u8>), TransportError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let stream = HeadOnly::new(stream);
    let mut request = options
        .url
        .as_str()
        .into_client_request()
        .map_err(|e| url_error(&options.url, &e.to_string()))?;
    let headers = request.headers_mut();
    for header in &options.headers {
        let name = HeaderName::from_bytes(header.name.as_bytes()).map_err(|_| {
            url_error(
                &options.url,
                &format!(
                    "wsOptions.headers: \"{}\" is not a valid header name",
                    header.name
                ),
            )
        })?;
        let value = HeaderValue::from_str(&header.value).map_err(|_| {
            url_error(
                &options.url,
                &format!(
                    "wsOptions.headers: the value of \"{}\" is not valid",
                    header.name
                ),
            )
        })?;
        headers.insert(name, value);
    }
    let protocol = HeaderValue::from_str(&options.subprotocol)
        .map_err(|_| url_error(&options.url, "invalid subprotocol"))?;
    headers.insert("sec-websocket-protocol", protocol);
    match tokio_tungstenite::client_async_with_config(request, stream, None).await {
        Ok((socket, _response)) => Ok(socket.into_inner().into_parts()),
        Err(error) => Err(upgrade_error(error, &first.get(), options, target)),
    }
}

/// A stream that lets the handshake read the server's answer up to the end of its head
/// (`\r\n\r\n`, RFC 9112 §2.1) and no further; what it read beyond stays here for the
/// WebSocket layer.
struct HeadOnly<S> {
    inner: S,
    /// Bytes read from `inner` and not yet handed out.
    held: Vec<u8>,
    /// How many bytes of the head's end (`\r\n\r\n`) were handed out last.
    matched: usize,
    /// The head has been handed out entirely, or the answer is not a `101` (then its body
    /// goes to the handshake too, for the error's diagnosis).
    done: bool,
    /// The status line has been looked at.
    checked: bool,
}

impl<S> HeadOnly<S> {
    fn new(inner: S) -> Self {
        HeadOnly {
            inner,
            held: Vec::new(),
            matched: 0,
            done: false,
            checked: false,
        }
    }

    /// The stream, and the bytes read after the head.
    fn into_parts(self) -> (S, Vec<u8>) {
        (self.inner, self.held)
    }

    /// How many of the first `limit` held bytes may be handed out: up to the end of the head
    /// if it is among them (then the head is done), else all `limit`.
    fn head_len(&mut self, limit: usize) -> usize {
        const END: &[u8] = b"\r\n\r\n";
        let mut matched = self.matched;
        for (i, &byte) in self.held[..limit].iter().enumerate() {
            matched = if byte == END[matched] {
                matched + 1
            } else if byte == END[0] {
                1
            } else {
                0
            };
            if matched == END.len() {
                self.matched = matched;
                self.done = true;
                return i + 1;
            }
        }
        self.matched = matched;
        limit
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for HeadOnly<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if this.held.is_empty() {
            if this.done {
                return Pin::new(&mut this.inner).poll_read(cx, buf);
            }
            let mut chunk = [0u8; 4096];
            let mut read = ReadBuf::new(&mut chunk);
            match Pin::new(&mut this.inner).poll_read(cx, &mut read) {
                Poll::Ready(Ok(())) => this.held.extend_from_slice(read.filled()),
                other => return other,
            }
            if this.held.is_empty() {
                return Poll::Ready(Ok(())); // end of stream
            }
        }
        if !this.checked && this.held.len() >= 12 {
            // `HTTP/1.1 101`: only a switch of protocols is followed by WebSocket bytes.
            this.checked = true;
            if &this.held[9..12] != b"101" {
                this.done = true;
            }
        }
        let limit = this.held.len().min(buf.remaining());
        let n = if this.done {
            limit
        } else {
            this.head_len(limit)
        };
        buf.put_slice(&this.held[..n]);
        this.held.drain(..n);
        // The status line is only read at the answer's start (a tiny first read skips it).
        this.checked = true;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for HeadOnly<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Explains a failed upgrade.
fn upgrade_error(
    error: WsError,
    first: &[u8],
    options: &WsOptions,
    target: &Target,
) -> TransportError {
    let Target {
        host,
        port,
        path,
        origin,
        secure,
    } = target;
    let at = format!("{host}:{port}");
    let diagnosed =
        |code: &str, message: String| TransportError::diagnosed(code, message, host, *port);
    match error {
        WsError::Http(response)
            if !secure
                && response
                    .body()
                    .as_deref()
                    .is_some_and(|body| String::from_utf8_lossy(body).contains("HTTPS port")) =>
        {
            // nginx: "400 The plain HTTP request was sent to HTTPS port".
            diagnosed(
                "ERR_MQTT_TLS_PORT",
                format!(
                    "The server at {at} says a plain HTTP request was sent to its HTTPS port: use \
                     wss://{at}{path} instead of ws://."
                ),
            )
        }
        WsError::Http(response) => {
            let status = response.status();
            let code = if status.is_client_error() || status.is_redirection() {
                "ERR_MQTT_WS_UPGRADE_REFUSED"
            } else {
                "ERR_MQTT_WS_UPGRADE_FAILED"
            };
            let hint = match status.as_u16() {
                404 if path.split('?').next() != Some("/mqtt") => format!(
                    " MQTT brokers and proxies usually serve MQTT over WebSocket on /mqtt: try \
                     {origin}/mqtt (MQTT.js's default path is \"/\")."
                ),
                404 => " Check the path on which your broker or proxy serves MQTT over WebSocket."
                    .to_string(),
                401 | 403 => " The server wants credentials or refuses them: pass them in \
                              wsOptions.headers (for example Authorization), or check them."
                    .to_string(),
                400 | 426 => " The server did not accept a WebSocket upgrade here. If a reverse \
                              proxy is in front of the broker, it must forward the Upgrade and \
                              Connection headers (nginx: proxy_http_version 1.1; \
                              proxy_set_header Upgrade $http_upgrade; proxy_set_header \
                              Connection \"Upgrade\")."
                    .to_string(),
                300..=399 => match response
                    .headers()
                    .get("location")
                    .and_then(|l| l.to_str().ok())
                {
                    Some(location) => format!(
                        " It redirects to {location}; mqtt-native does not follow redirects: use \
                         that URL."
                    ),
                    None => " mqtt-native does not follow redirects.".to_string(),
                },
                502..=504 => " A proxy answered: it could not reach the broker behind it. Is \
                              the broker running, and is the proxy's upstream address right?"
                    .to_string(),
                _ => String::new(),
            };
            diagnosed(
                code,
                format!(
                    "WebSocket upgrade refused: the server at {at} answered HTTP {} {} for path \
                     \"{path}\".{hint}",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or("")
                ),
            )
        }
        WsError::Protocol(ProtocolError::SecWebSocketSubProtocolError(_)) => diagnosed(
            "ERR_MQTT_WS_SUBPROTOCOL",
            format!(
                "The WebSocket server at {origin}{path} did not agree to the \"{}\" subprotocol: \
                 it is not an MQTT broker, or a proxy in front of it drops the \
                 Sec-WebSocket-Protocol header.",
                options.subprotocol
            ),
        ),
        WsError::Protocol(
            ProtocolError::MissingUpgradeWebSocketHeader
            | ProtocolError::MissingConnectionUpgradeHeader,
        ) => diagnosed(
            "ERR_MQTT_WS_UPGRADE_FAILED",
            format!(
                "The server at {at} answered the WebSocket upgrade for \"{path}\" without the \
                 Upgrade/Connection headers: a proxy in between does not forward them (nginx: \
                 proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection \
                 \"Upgrade\")."
            ),
        ),
        WsError::Url(e) => url_error(&options.url, &e.to_string()),
        other => match Peer::of(first) {
            Peer::Tls if !secure => diagnosed(
                "ERR_MQTT_TLS_PORT",
                format!(
                    "The server at {at} answered with TLS: this port expects encrypted \
                     connections. Use wss://{at}{path} instead of ws://."
                ),
            ),
            Peer::Silent if !secure => diagnosed(
                "ERR_MQTT_NOT_WEBSOCKET",
                format!(
                    "The server at {at} closed the connection without answering the WebSocket \
                     upgrade: this port does not speak plain WebSocket. If it is an MQTT (TCP) \
                     port use mqtt://{at}; if it is a TLS port use wss://{at}{path}."
                ),
            ),
            Peer::Silent | Peer::Other => diagnosed(
                "ERR_MQTT_NOT_WEBSOCKET",
                format!(
                    "The server at {at} {} the WebSocket upgrade: this is probably an MQTT (TCP) \
                     port, not a WebSocket one. Use mqtt{}://{at}, or the broker's WebSocket \
                     port.",
                    if first.is_empty() {
                        "closed the connection without answering"
                    } else {
                        "did not answer with HTTP to"
                    },
                    if *secure { "s" } else { "" },
                ),
            ),
            _ => match other {
                WsError::Io(e) => TransportError::from_io("read", &e, None),
                other => diagnosed(
                    "ERR_MQTT_WS_UPGRADE_FAILED",
                    format!("The WebSocket upgrade with {at} failed: {other}."),
                ),
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn the_handshake_sees_the_101_answer_up_to_its_head_and_the_bytes_after_it_are_kept() {
        let (mut server, client) = tokio::io::duplex(1024);
        let head = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
        let after = b"\x82\x04\x20\x02\x00\x00";
        server
            .write_all(&[&head[..], &after[..]].concat())
            .await
            .unwrap();
        let mut stream = HeadOnly::new(client);
        let mut buf = [0u8; 256];
        let n = stream.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], &head[..]);
        let (_, kept) = stream.into_parts();
        assert_eq!(kept, after.to_vec());
    }

    #[tokio::test]
    async fn an_answer_that_is_not_101_reaches_the_handshake_with_its_body() {
        let (mut server, client) = tokio::io::duplex(1024);
        let answer = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 5\r\n\r\nHTTPS";
        server.write_all(answer).await.unwrap();
        let mut stream = HeadOnly::new(client);
        let mut buf = [0u8; 256];
        let n = stream.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], &answer[..]);
    }

    #[test]
    fn urls_give_host_port_and_path_with_defaults() {
        let t = target("ws://example.com").unwrap();
        assert_eq!(
            (t.secure, t.host.as_str(), t.port, t.path.as_str()),
            (false, "example.com", 80, "/")
        );
        let t = target("wss://example.com/mqtt?x=1").unwrap();
        assert_eq!(
            (t.secure, t.port, t.path.as_str()),
            (true, 443, "/mqtt?x=1")
        );
        let t = target("ws://[::1]:8080/mqtt").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.origin.as_str()),
            ("::1", 8080, "ws://[::1]:8080")
        );
        assert_eq!(target("mqtt://h:1").unwrap_err().code, "ERR_MQTT_WS_URL");
        assert_eq!(target("ws://::1:80/").unwrap_err().code, "ERR_MQTT_WS_URL");
    }
}
