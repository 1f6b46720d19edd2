//! SOCKS proxies (`socksProxy`, or the `MQTTJS_SOCKS_PROXY` environment variable), as MQTT.js
//! offers them for `mqtt://` and `mqtts://`: SOCKS5 (`socks5://`, the broker's host name
//! resolved here), SOCKS5 with the proxy resolving it (`socks5h://`), SOCKS4 (IPv4 only,
//! resolved here) and SOCKS4a (the proxy resolves it).
//!
//! [`connect`] opens the TCP connection to the proxy, runs the handshake (with `tokio-socks`)
//! and hands back the bare [`TcpStream`]: after a successful CONNECT the proxy relays bytes
//! unchanged, so TLS and MQTT layer over it exactly as over a direct connection.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::Deserialize;
use tokio::net::TcpStream;
use tokio_socks::tcp::{Socks4Stream, Socks5Stream};
use tokio_socks::{Error as SocksError, TargetAddr};

use super::TransportError;

/// `socksTimeout`'s default: the one of the `socks` package MQTT.js uses.
const DEFAULT_TIMEOUT_MS: u64 = 30_000;

/// The proxy, as the JavaScript shim parsed it from the `socksProxy` URL.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SocksOptions {
    /// The URL without its credentials (`socks5h://proxy:1080`), named in errors.
    pub url: String,
    /// 4 or 5.
    pub version: u8,
    /// Whether the proxy resolves the broker's host name (`socks5h`, `socks4a`).
    #[serde(default)]
    pub remote_dns: bool,
    /// The proxy's host name or IP literal (without brackets).
    pub host: String,
    /// The proxy's port.
    pub port: u16,
    /// SOCKS5 user name, or the SOCKS4 user id.
    #[serde(default)]
    pub username: Option<String>,
    /// SOCKS5 password.
    #[serde(default)]
    pub password: Option<String>,
    /// `socksTimeout` in milliseconds: for reaching the proxy and completing the handshake.
    #[serde(default)]
    pub timeout: Option<u64>,
}

impl SocksOptions {
    fn scheme(&self) -> &'static str {
        match (self.version, self.remote_dns) {
            (4, false) => "SOCKS4",
            (4, true) => "SOCKS4a",
            (_, false) => "SOCKS5",
            (_, true) => "SOCKS5h",
        }
    }
}

/// Connects to `host:port` through the proxy.
/// `resolved`: the names Node's resolver already resolved (the proxy's, and the broker's when
/// it is resolved here), see [`super::lookup`].
pub async fn connect(
    options: &SocksOptions,
    host: &str,
    port: u16,
    resolved: &[super::ResolvedHost],
) -> Result<TcpStream, TransportError> {
    let target = target(options, host, port, resolved).await?;
    let timeout = Duration::from_millis(options.timeout.unwrap_or(DEFAULT_TIMEOUT_MS).max(1));
    match tokio::time::timeout(
        timeout,
        through_proxy(options, &target, host, port, resolved),
    )
    .await
    {
        Ok(result) => result,
        Err(_) => Err(timed_out(options, host, port, timeout)),
    }
}

/// What the proxy is asked to connect to: the host name itself when the proxy resolves it,
/// otherwise the first address it resolves to here (an IPv4 one for SOCKS4), as MQTT.js does
/// with `dns.lookup`.
async fn target(
    options: &SocksOptions,
    host: &str,
    port: u16,
    resolved: &[super::ResolvedHost],
) -> Result<TargetAddr<'static>, TransportError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        if options.version == 4 && ip.is_ipv6() {
            return Err(ipv6_with_socks4(options, host, port));
        }
        return Ok(TargetAddr::Ip(SocketAddr::new(ip, port)));
    }
    if options.remote_dns {
        if host.len() > 255 {
            return Err(invalid(
                options,
                format!("the host name \"{host}\" is too long"),
            ));
        }
        return Ok(TargetAddr::Domain(host.to_string().into(), port));
    }
    let resolved: Vec<SocketAddr> = super::lookup(host, port, resolved)
        .await
        .unwrap_or_default();
    if resolved.is_empty() {
        let mut error = TransportError::not_found(host);
        let remote = if options.version == 4 {
            "socks4a"
        } else {
            "socks5h"
        };
        error.message = format!(
            "getaddrinfo ENOTFOUND {host}: with {} ({}) the broker's host name is resolved on \
             this machine, and it does not resolve here. To let the proxy resolve it, use a \
             {remote}:// proxy URL.",
            options.url,
            options.scheme()
        );
        return Err(error);
    }
    let pick = if options.version == 4 {
        resolved.iter().find(|a| a.is_ipv4())
    } else {
        resolved.first()
    };
    match pick {
        Some(addr) => Ok(TargetAddr::Ip(*addr)),
        None => Err(ipv6_with_socks4(options, host, port)),
    }
}

async fn through_proxy(
    options: &SocksOptions,
    target: &TargetAddr<'static>,
    host: &str,
    port: u16,
    resolved: &[super::ResolvedHost],
) -> Result<TcpStream, TransportError> {
    let tcp = super::connect_tcp(&options.host, options.port, resolved)
        .await
        .map_err(|e| unreachable_proxy(options, e))?;
    let user = options.username.as_deref().filter(|u| !u.is_empty());
    let result = if options.version == 4 {
        if let (Some(user), TargetAddr::Domain(domain, _)) = (user, target) {
            // The request (user id and host name, each NUL-terminated) must fit the 513-byte
            // buffer tokio-socks writes it into.
            if user.len() + domain.len() > 500 {
                return Err(invalid(
                    options,
                    "the user id and host name are too long for a SOCKS4a request".to_string(),
                ));
            }
        }
        match user {
            Some(user) => Socks4Stream::connect_with_userid_and_socket(tcp, target.clone(), user)
                .await
                .map(Socks4Stream::into_inner),
            None => Socks4Stream::connect_with_socket(tcp, target.clone())
                .await
                .map(Socks4Stream::into_inner),
        }
    } else {
        match user {
            Some(user) => Socks5Stream::connect_with_password_and_socket(
                tcp,
                target.clone(),
                user,
                options.password.as_deref().unwrap_or(""),
            )
            .await
            .map(Socks5Stream::into_inner),
            None => Socks5Stream::connect_with_socket(tcp, target.clone())
                .await
                .map(Socks5Stream::into_inner),
        }
    };
    result.map_err(|e| handshake_error(options, &e, target, host, port))
}

/// The proxy itself could not be reached: keep the Node-style code, name the proxy.
fn unreachable_proxy(options: &SocksOptions, mut error: TransportError) -> TransportError {
    error.message = format!(
        "{}: cannot reach the SOCKS proxy {} (the socksProxy option or the MQTTJS_SOCKS_PROXY \
         environment variable). Check that the proxy is running and its host and port are right.",
        error.message, options.url
    );
    if error.address.is_none() {
        error.address = Some(options.host.clone());
    }
    error.port = Some(options.port);
    error
}

fn timed_out(options: &SocksOptions, host: &str, port: u16, timeout: Duration) -> TransportError {
    let mut error = TransportError::timed_out("connect");
    error.message = format!(
        "connect ETIMEDOUT: the SOCKS proxy {} did not connect to {host}:{port} within \
         socksTimeout ({} ms). Check that the proxy is reachable and can reach the broker.",
        options.url,
        timeout.as_millis()
    );
    error.address = Some(options.host.clone());
    error.port = Some(options.port);
    error
}

fn ipv6_with_socks4(options: &SocksOptions, host: &str, port: u16) -> TransportError {
    TransportError::diagnosed(
        "ERR_SOCKS_ADDRESS_TYPE_NOT_SUPPORTED",
        format!(
            "{host}:{port} has no IPv4 address, and SOCKS4 ({}) carries IPv4 addresses only. Use \
             a socks5:// or socks5h:// proxy URL, or socks4a:// to let the proxy resolve the name.",
            options.url
        ),
        host,
        port,
    )
}

fn invalid(options: &SocksOptions, what: String) -> TransportError {
    TransportError::diagnosed(
        "ERR_SOCKS_INVALID_OPTIONS",
        format!("Cannot use the SOCKS proxy {}: {what}.", options.url),
        &options.host,
        options.port,
    )
}

/// The code and explanation for a failed SOCKS handshake.
fn handshake_error(
    options: &SocksOptions,
    error: &SocksError,
    target: &TargetAddr<'_>,
    host: &str,
    port: u16,
) -> TransportError {
    let proxy = format!("{} proxy {}", options.scheme(), options.url);
    let to = match target {
        TargetAddr::Ip(addr) if addr.ip().to_string() != host => {
            format!("{host}:{port} ({addr})")
        }
        _ => format!("{host}:{port}"),
    };
    let refused = |code: &str, reason: &str, hint: &str| {
        TransportError::diagnosed(
            code,
            format!("The {proxy} could not connect to {to}: {reason}.{hint}"),
            host,
            port,
        )
    };
    let at_proxy = |code: &str, message: String| {
        TransportError::diagnosed(code, message, &options.host, options.port)
    };
    let check_broker = " Check that the broker runs there and that the proxy can reach it.";
    match error {
        SocksError::ConnectionRefused => refused(
            "ERR_SOCKS_CONNECTION_REFUSED",
            "connection refused (SOCKS5 reply 5)",
            check_broker,
        ),
        SocksError::HostUnreachable => refused(
            "ERR_SOCKS_HOST_UNREACHABLE",
            "host unreachable (SOCKS5 reply 4)",
            check_broker,
        ),
        SocksError::NetworkUnreachable => refused(
            "ERR_SOCKS_NETWORK_UNREACHABLE",
            "network unreachable (SOCKS5 reply 3)",
            check_broker,
        ),
        SocksError::TtlExpired => refused(
            "ERR_SOCKS_TTL_EXPIRED",
            "TTL expired (SOCKS5 reply 6)",
            check_broker,
        ),
        SocksError::ConnectionNotAllowedByRuleset => refused(
            "ERR_SOCKS_NOT_ALLOWED",
            "connection not allowed by the proxy's rules (SOCKS5 reply 2)",
            " The proxy's configuration must allow this destination.",
        ),
        SocksError::GeneralSocksServerFailure if options.version == 4 => refused(
            "ERR_SOCKS_REJECTED",
            "request rejected or failed (SOCKS4 reply 91)",
            check_broker,
        ),
        SocksError::GeneralSocksServerFailure => refused(
            "ERR_SOCKS_GENERAL_FAILURE",
            "general SOCKS server failure (SOCKS5 reply 1)",
            check_broker,
        ),
        SocksError::CommandNotSupported => refused(
            "ERR_SOCKS_COMMAND_NOT_SUPPORTED",
            "the proxy does not support CONNECT (SOCKS5 reply 7)",
            "",
        ),
        SocksError::AddressTypeNotSupported => {
            let hint = match target {
                TargetAddr::Domain(..) => {
                    " The proxy cannot resolve host names: use socks5:// (resolved here) instead \
                     of socks5h://."
                }
                TargetAddr::Ip(SocketAddr::V6(_)) => {
                    " The proxy does not take IPv6 addresses: use a host name with socks5h://."
                }
                TargetAddr::Ip(_) => "",
            };
            refused(
                "ERR_SOCKS_ADDRESS_TYPE_NOT_SUPPORTED",
                "address type not supported (SOCKS5 reply 8)",
                hint,
            )
        }
        SocksError::IdentdAuthFailure | SocksError::InvalidUserIdAuthFailure => {
            let reply = if matches!(error, SocksError::IdentdAuthFailure) {
                92
            } else {
                93
            };
            at_proxy(
                "ERR_SOCKS_AUTH_FAILED",
                format!(
                    "The {proxy} rejected the request: {error} (SOCKS4 reply {reply}). Give the \
                     user id the proxy expects in the URL (socks4://userid@host:port)."
                ),
            )
        }
        SocksError::PasswordAuthFailure(status) => at_proxy(
            "ERR_SOCKS_AUTH_FAILED",
            format!(
                "The {proxy} rejected the user name and password (status {status}). Check the \
                 credentials in the proxy URL (socks5://user:password@host:port)."
            ),
        ),
        SocksError::NoAcceptableAuthMethods | SocksError::AuthorizationRequired => {
            let message = if options.username.as_deref().is_some_and(|u| !u.is_empty()) {
                format!(
                    "The {proxy} accepts neither no authentication nor a user name and password. \
                     mqtt-native supports only these two SOCKS5 methods."
                )
            } else {
                format!(
                    "The {proxy} requires authentication. Put the user name and password in the \
                     proxy URL: socks5://user:password@host:port."
                )
            };
            at_proxy("ERR_SOCKS_AUTH_REQUIRED", message)
        }
        SocksError::InvalidResponseVersion
        | SocksError::InvalidReservedByte
        | SocksError::UnknownAddressType
        | SocksError::UnknownAuthMethod
        | SocksError::UnknownError => {
            let other = if options.version == 4 {
                "a SOCKS5-only proxy (use socks5://)"
            } else {
                "a SOCKS4-only proxy (use socks4://)"
            };
            at_proxy(
                "ERR_SOCKS_PROTOCOL",
                format!(
                    "The server at {} did not answer as a {} proxy ({error}). Is it an HTTP \
                     proxy, {other}, or not a proxy at all?",
                    options.url,
                    options.scheme()
                ),
            )
        }
        SocksError::InvalidTargetAddress(what) | SocksError::InvalidAuthValues(what) => {
            invalid(options, (*what).to_string())
        }
        SocksError::Io(io) => {
            let mut e = TransportError::from_io("read", io, None);
            e.message = format!(
                "{}: the {proxy} closed or broke the connection during the SOCKS handshake. \
                 Check that it is a {} proxy.",
                e.message,
                options.scheme()
            );
            e.address = Some(options.host.clone());
            e.port = Some(options.port);
            e
        }
        other => at_proxy(
            "ERR_SOCKS_PROTOCOL",
            format!("The SOCKS handshake with {} failed: {other}.", options.url),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    fn options(version: u8, remote_dns: bool, port: u16) -> SocksOptions {
        SocksOptions {
            url: format!("socks{version}://127.0.0.1:{port}"),
            version,
            remote_dns,
            host: "127.0.0.1".into(),
            port,
            username: None,
            password: None,
            timeout: Some(2000),
        }
    }

    /// A SOCKS5 proxy that accepts no-auth and answers every CONNECT with `reply`, returning
    /// the request it got.
    async fn one_shot_socks5(reply: u8) -> (u16, tokio::task::JoinHandle<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut greeting = [0u8; 3];
            s.read_exact(&mut greeting).await.unwrap();
            s.write_all(&[5, 0]).await.unwrap();
            let mut head = [0u8; 5];
            s.read_exact(&mut head).await.unwrap();
            let rest = match head[3] {
                1 => 3 + 2,
                3 => usize::from(head[4]) + 2,
                _ => 15 + 2,
            };
            let mut tail = vec![0u8; rest];
            s.read_exact(&mut tail).await.unwrap();
            s.write_all(&[5, reply, 0, 1, 0, 0, 0, 0, 0, 0])
                .await
                .unwrap();
            if reply == 0 {
                s.write_all(b"relayed").await.unwrap();
            }
            let mut request = head.to_vec();
            request.extend(tail);
            request
        });
        (port, task)
    }

    #[tokio::test]
    async fn socks5h_sends_the_host_name_and_returns_the_relayed_stream() {
        let (port, proxy) = one_shot_socks5(0).await;
        let mut stream = connect(&options(5, true, port), "broker.example", 1883, &[])
            .await
            .unwrap();
        let mut got = [0u8; 7];
        stream.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"relayed");
        let request = proxy.await.unwrap();
        assert_eq!(request[3], 3, "domain address type");
        assert_eq!(&request[5..5 + 14], b"broker.example");
    }

    #[tokio::test]
    async fn socks5_resolves_locally_and_sends_an_ip() {
        let (port, proxy) = one_shot_socks5(0).await;
        connect(&options(5, false, port), "localhost", 1883, &[])
            .await
            .unwrap();
        let request = proxy.await.unwrap();
        assert!(request[3] == 1 || request[3] == 4, "IP address type");
    }

    #[tokio::test]
    async fn a_refusing_proxy_gives_the_reply_code_and_text() {
        let (port, _proxy) = one_shot_socks5(5).await;
        let e = connect(&options(5, true, port), "localhost", 1883, &[])
            .await
            .unwrap_err();
        assert_eq!(e.code, "ERR_SOCKS_CONNECTION_REFUSED");
        assert!(e.message.contains("connection refused"), "{}", e.message);
        assert!(e.message.contains("localhost:1883"), "{}", e.message);
        assert!(
            e.message.contains(&format!("127.0.0.1:{port}")),
            "{}",
            e.message
        );
    }

    #[tokio::test]
    async fn an_unreachable_proxy_is_named() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let e = connect(&options(5, false, port), "127.0.0.1", 1883, &[])
            .await
            .unwrap_err();
        assert_eq!(e.code, "ECONNREFUSED");
        assert!(e.message.contains(&format!("socks5://127.0.0.1:{port}")));
        assert_eq!(e.port, Some(port));
    }

    #[tokio::test]
    async fn a_silent_proxy_times_out_with_socks_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut o = options(5, true, port);
        o.timeout = Some(100);
        let e = connect(&o, "localhost", 1883, &[]).await.unwrap_err();
        assert_eq!(e.code, "ETIMEDOUT");
        assert!(e.message.contains("socksTimeout (100 ms)"), "{}", e.message);
        drop(listener);
    }

    #[tokio::test]
    async fn socks4_refuses_ipv6_targets() {
        let e = connect(&options(4, false, 1), "::1", 1883, &[])
            .await
            .unwrap_err();
        assert_eq!(e.code, "ERR_SOCKS_ADDRESS_TYPE_NOT_SUPPORTED");
    }

    #[test]
    fn options_deserialize_from_camel_case() {
        let o: SocksOptions = serde_json::from_str(
            r#"{"url":"socks5h://p:1080","version":5,"remoteDns":true,"host":"p","port":1080,
                "username":"u","password":"pw","timeout":500}"#,
        )
        .unwrap();
        assert!(o.remote_dns);
        assert_eq!(o.scheme(), "SOCKS5h");
        assert_eq!(o.timeout, Some(500));
    }
}
