//! TLS over any byte stream, with rustls (ring provider), configured from Node's `tls.connect`
//! options as MQTT.js passes them: `ca`, `cert`, `key`, `passphrase`, `rejectUnauthorized`,
//! `servername`, `ALPNProtocols`, `minVersion`/`maxVersion`.
//!
//! Trust follows Node: Mozilla's CA list (Node bundles the same list) plus the certificates in
//! the file named by `NODE_EXTRA_CA_CERTS`; a `ca` option replaces both. Certificate failures
//! are reported with Node's codes (`DEPTH_ZERO_SELF_SIGNED_CERT`, `ERR_TLS_CERT_ALTNAME_INVALID`,
//! …) and a message that names the option that fixes them.

use std::fmt;
use std::io;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{self, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{
    AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct, OtherError,
    RootCertStore, SignatureScheme,
};
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::der;
use super::sniff::Peer;
use super::TransportError;

/// Node's `tls.connect` options that mqtt-native honours. PEM inputs arrive as strings (the
/// shim turns Buffers and arrays into a list of PEM texts).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TlsOptions {
    /// Trusted CA certificates (PEM); replaces the default trust store when given.
    #[serde(default)]
    pub ca: Option<Vec<String>>,
    /// Client certificate chain (PEM) for mutual TLS.
    #[serde(default)]
    pub cert: Option<Vec<String>>,
    /// Client private key (PEM: PKCS#8, PKCS#1 or SEC1); the first one is used.
    #[serde(default)]
    pub key: Option<Vec<String>>,
    /// Passphrase of an encrypted key.
    #[serde(default)]
    pub passphrase: Option<String>,
    /// Verify the server's certificate (Node's default: true).
    #[serde(default = "default_true")]
    pub reject_unauthorized: bool,
    /// Name for SNI and certificate verification (defaults to the host).
    #[serde(default)]
    pub servername: Option<String>,
    /// ALPN protocol names offered to the server.
    #[serde(default, rename = "ALPNProtocols")]
    pub alpn_protocols: Option<Vec<String>>,
    /// `TLSv1.2` or `TLSv1.3`.
    #[serde(default)]
    pub min_version: Option<String>,
    /// `TLSv1.2` or `TLSv1.3`.
    #[serde(default)]
    pub max_version: Option<String>,
}

fn default_true() -> bool {
    true
}

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions {
            ca: None,
            cert: None,
            key: None,
            passphrase: None,
            reject_unauthorized: true,
            servername: None,
            alpn_protocols: None,
            min_version: None,
            max_version: None,
        }
    }
}

/// A failure this module diagnosed: Node's code and a message naming the fix. Travels inside
/// rustls errors (as [`OtherError`]) and `io::Error`s until it becomes a [`TransportError`].
#[derive(Debug, Clone)]
pub struct Diagnosis {
    /// Node-style code.
    pub code: &'static str,
    /// What happened and what to do.
    pub message: String,
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diagnosis {}

fn options_error(message: String) -> TransportError {
    TransportError::diagnosed("ERR_MQTT_TLS_OPTIONS", message, "", 0)
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(crypto::ring::default_provider())
}

/// Mozilla's roots plus `NODE_EXTRA_CA_CERTS`, built once per process (Node also reads the
/// variable once, at startup).
fn default_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut roots = RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            if let Some(path) = std::env::var_os("NODE_EXTRA_CA_CERTS") {
                let loaded = std::fs::read(&path).ok().map(|pem| {
                    CertificateDer::pem_slice_iter(&pem)
                        .filter_map(Result::ok)
                        .filter(|cert| roots.add(cert.clone()).is_ok())
                        .count()
                });
                if loaded.unwrap_or(0) == 0 {
                    // Node's own wording for the same situation.
                    eprintln!(
                        "Warning: Ignoring extra certs from `{}`, load failed",
                        path.to_string_lossy()
                    );
                }
            }
            Arc::new(roots)
        })
        .clone()
}

/// Parses every certificate in a list of PEM texts.
fn certificates(
    option: &str,
    pems: &[String],
) -> Result<Vec<CertificateDer<'static>>, TransportError> {
    let mut out = Vec::new();
    for pem in pems {
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            out.push(cert.map_err(|e| {
                options_error(format!("The `{option}` option is not valid PEM: {e}."))
            })?);
        }
    }
    if out.is_empty() {
        return Err(options_error(format!(
            "The `{option}` option contains no certificate: expected PEM text starting with \
             \"-----BEGIN CERTIFICATE-----\" (for example fs.readFileSync('{option}.pem'))."
        )));
    }
    Ok(out)
}

/// Parses the client key: PKCS#8, PKCS#1 (RSA) or SEC1 (EC), optionally encrypted PKCS#8.
fn private_key(
    pems: &[String],
    passphrase: Option<&str>,
) -> Result<PrivateKeyDer<'static>, TransportError> {
    let Some(pem) = pems.first() else {
        return Err(options_error("The `key` option is empty.".into()));
    };
    if pem.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(options_error(
            "The `key` option is a legacy OpenSSL-encrypted PEM key (\"Proc-Type: 4,ENCRYPTED\"), \
             which mqtt-native cannot decrypt. Convert it to PKCS#8: \
             `openssl pkcs8 -topk8 -in key.pem -out key.pk8.pem` (add -nocrypt for no passphrase)."
                .into(),
        ));
    }
    if pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        return super::keys::decrypt_pkcs8(pem, passphrase);
    }
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| {
        options_error(format!(
            "The `key` option holds no usable private key ({e}): expected PEM text such as \
             \"-----BEGIN PRIVATE KEY-----\", \"-----BEGIN RSA PRIVATE KEY-----\" or \
             \"-----BEGIN EC PRIVATE KEY-----\"."
        ))
    })
}

fn protocol_version(option: &str, value: &str) -> Result<u8, TransportError> {
    match value {
        "TLSv1.2" => Ok(2),
        "TLSv1.3" => Ok(3),
        "TLSv1" | "TLSv1.1" => Err(options_error(format!(
            "`{option}: '{value}'` is not supported: mqtt-native speaks TLS 1.2 and 1.3 only."
        ))),
        other => Err(options_error(format!(
            "`{option}: '{other}'` is not a TLS version; use 'TLSv1.2' or 'TLSv1.3'."
        ))),
    }
}

/// Builds the rustls configuration for one connection attempt.
pub fn client_config(options: &TlsOptions) -> Result<Arc<ClientConfig>, TransportError> {
    let provider = provider();
    let min = match &options.min_version {
        Some(v) => protocol_version("minVersion", v)?,
        None => 2,
    };
    let max = match &options.max_version {
        Some(v) => protocol_version("maxVersion", v)?,
        None => 3,
    };
    let mut versions = Vec::new();
    if min <= 2 && max >= 2 {
        versions.push(&rustls::version::TLS12);
    }
    if max >= 3 {
        versions.push(&rustls::version::TLS13);
    }
    if versions.is_empty() {
        return Err(options_error(
            "`minVersion` is above `maxVersion`: no TLS version is left.".into(),
        ));
    }
    let verifier = Verifier::new(options, provider.clone())?;
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| options_error(format!("TLS configuration refused: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier));
    let mut config = match (&options.cert, &options.key) {
        (Some(cert), Some(key)) => {
            let chain = certificates("cert", cert)?;
            let key = private_key(key, options.passphrase.as_deref())?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                options_error(format!(
                    "The `cert` and `key` options cannot be used together: {e}. Check that the \
                     key belongs to the certificate."
                ))
            })?
        }
        (None, None) => builder.with_no_client_auth(),
        (Some(_), None) => {
            return Err(options_error(
                "The `cert` option is given without `key`: mutual TLS needs both.".into(),
            ))
        }
        (None, Some(_)) => {
            return Err(options_error(
                "The `key` option is given without `cert`: mutual TLS needs both.".into(),
            ))
        }
    };
    if let Some(alpn) = &options.alpn_protocols {
        config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    }
    Ok(Arc::new(config))
}

/// The server name to verify (and send as SNI unless it is an IP address, RFC 6066 §3).
pub fn server_name(
    host: &str,
    options: &TlsOptions,
) -> Result<ServerName<'static>, TransportError> {
    let name = match options.servername.as_deref() {
        Some(name) if !name.is_empty() => name,
        _ => host,
    };
    ServerName::try_from(name.to_string()).map_err(|_| {
        options_error(format!(
            "\"{name}\" is not a valid host name or IP address for TLS (set `servername`)."
        ))
    })
}

/// Runs the TLS handshake over `stream`. `first` is what the server sent, for diagnostics.
pub async fn handshake<S>(
    stream: S,
    first: &super::sniff::FirstBytes,
    host: &str,
    port: u16,
    options: &TlsOptions,
) -> Result<TlsStream<S>, TransportError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let config = client_config(options)?;
    let name = server_name(host, options)?;
    TlsConnector::from(config)
        .connect(name, stream)
        .await
        .map_err(|e| handshake_error(&e, &first.get(), host, port))
}

/// Turns a failed handshake into the error the user should see.
fn handshake_error(error: &io::Error, first: &[u8], host: &str, port: u16) -> TransportError {
    let at = format!("{host}:{port}");
    match Peer::of(first) {
        // The server speaks TLS: a certificate, an alert or a protocol problem.
        Peer::Tls => diagnose_tls_io(error, host, port).unwrap_or_else(|| {
            TransportError::diagnosed(
                "ERR_MQTT_TLS_HANDSHAKE",
                format!("TLS handshake with {at} failed: {error}"),
                host,
                port,
            )
        }),
        Peer::Http => TransportError::diagnosed(
            "ERR_MQTT_PLAIN_PORT",
            format!(
                "The server at {at} answered the TLS handshake with plain HTTP: this port does \
                 not use TLS. Use ws://{at}/mqtt (plain WebSocket) instead of wss://, or the \
                 broker's TLS port."
            ),
            host,
            port,
        ),
        Peer::Silent | Peer::Other => TransportError::diagnosed(
            "ERR_MQTT_PLAIN_PORT",
            format!(
                "The server at {at} {} the TLS handshake: this is probably a plain (non-TLS) \
                 port. Use mqtt://{at} (or ws:// for a WebSocket port) without TLS, or the \
                 broker's TLS port (usually 8883) with mqtts://.",
                if first.is_empty() {
                    "closed the connection without answering"
                } else {
                    "answered with something that is not TLS to"
                }
            ),
            host,
            port,
        ),
    }
}

/// `DnsName("a")` / `IpAddress(…)` as rustls prints presented names → `DNS:a` / `IP Address:…`,
/// as Node lists them.
fn presented_name(name: &str) -> String {
    if let Some(dns) = name
        .strip_prefix("DnsName(\"")
        .and_then(|n| n.strip_suffix("\")"))
    {
        return format!("DNS:{dns}");
    }
    if let Some(ip) = name
        .strip_prefix("IpAddress(")
        .and_then(|n| n.strip_suffix(')'))
    {
        let ip = ip
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.to_string())
            .unwrap_or_else(|_| ip.to_string());
        return format!("IP Address:{ip}");
    }
    name.to_string()
}

/// Recognises rustls errors (and our own diagnoses) inside an `io::Error` from a TLS stream,
/// during the handshake or later (TLS 1.3 servers reject a client certificate after the
/// client has finished its handshake).
pub fn diagnose_tls_io(error: &io::Error, host: &str, port: u16) -> Option<TransportError> {
    let inner = error.get_ref()?;
    if let Some(d) = inner.downcast_ref::<Diagnosis>() {
        return Some(TransportError::diagnosed(
            d.code,
            d.message.clone(),
            host,
            port,
        ));
    }
    let rustls_error = inner.downcast_ref::<rustls::Error>()?;
    let at = if host.is_empty() {
        "the broker".to_string()
    } else {
        format!("the broker at {host}:{port}")
    };
    let (code, message) = match rustls_error {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(other))) => {
            match other.downcast_ref::<Diagnosis>() {
                Some(d) => (d.code.to_string(), d.message.clone()),
                None => (
                    "ERR_MQTT_TLS_CERTIFICATE".into(),
                    format!("{at} presented a certificate that cannot be used: {other}."),
                ),
            }
        }
        rustls::Error::AlertReceived(alert) => alert_error(*alert, &at),
        other => (
            "ERR_MQTT_TLS_HANDSHAKE".into(),
            format!("TLS with {at} failed: {other}."),
        ),
    };
    Some(TransportError::diagnosed(&code, message, host, port))
}

/// A TLS alert from the server, with OpenSSL's code names as Node reports them.
fn alert_error(alert: AlertDescription, at: &str) -> (String, String) {
    use AlertDescription as A;
    let (code, hint) = match alert {
        A::CertificateRequired => (
            "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED",
            "the broker requires a client certificate: pass `cert` and `key` (mutual TLS).",
        ),
        A::HandshakeFailure => (
            "ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE",
            "the broker refused the handshake; if it requires a client certificate, pass `cert` \
             and `key`; otherwise check `minVersion`/`maxVersion` and `ALPNProtocols`.",
        ),
        A::UnknownCA => (
            "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA",
            "the broker does not trust the CA that issued your client certificate (`cert`).",
        ),
        A::BadCertificate => (
            "ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE",
            "the broker rejected your client certificate (`cert`).",
        ),
        A::CertificateExpired => (
            "ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED",
            "the broker says your client certificate (`cert`) has expired.",
        ),
        A::NoApplicationProtocol => (
            "ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL",
            "the broker supports none of the protocols in `ALPNProtocols`.",
        ),
        A::ProtocolVersion => (
            "ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION",
            "the broker does not speak the TLS versions allowed by `minVersion`/`maxVersion` \
             (mqtt-native speaks TLS 1.2 and 1.3).",
        ),
        _ => ("ERR_MQTT_TLS_ALERT", "the broker ended the TLS session."),
    };
    (
        code.to_string(),
        format!("TLS alert from {at}: {alert:?}: {hint}"),
    )
}

/// Verifies the server certificate as Node does, and explains failures.
#[derive(Debug)]
struct Verifier {
    /// `None` when `rejectUnauthorized: false`.
    webpki: Option<Arc<WebPkiServerVerifier>>,
    /// The certificates of the `ca` option (a self-signed server certificate may be trusted by
    /// listing it there, as with Node).
    pinned: Vec<CertificateDer<'static>>,
    /// Whether trust comes from the `ca` option (for the hint).
    custom_ca: bool,
    provider: Arc<CryptoProvider>,
}

impl Verifier {
    fn new(options: &TlsOptions, provider: Arc<CryptoProvider>) -> Result<Self, TransportError> {
        let (roots, pinned, custom_ca) = match &options.ca {
            Some(ca) if !ca.is_empty() => {
                let certs = certificates("ca", ca)?;
                let mut roots = RootCertStore::empty();
                let (added, _ignored) = roots.add_parsable_certificates(certs.iter().cloned());
                if added == 0 && !options.reject_unauthorized {
                    (Arc::new(roots), certs, true)
                } else if added == 0 {
                    return Err(options_error(
                        "The `ca` option contains no usable CA certificate.".into(),
                    ));
                } else {
                    (Arc::new(roots), certs, true)
                }
            }
            _ => (default_roots(), Vec::new(), false),
        };
        let webpki = if options.reject_unauthorized {
            Some(
                WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                    .build()
                    .map_err(|e| options_error(format!("Cannot use the trusted CAs: {e}")))?,
            )
        } else {
            None
        };
        Ok(Verifier {
            webpki,
            pinned,
            custom_ca,
            provider,
        })
    }

    fn explain(
        &self,
        error: rustls::Error,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
    ) -> rustls::Error {
        let name = server_name.to_str();
        let trust = if self.custom_ca {
            "the certificates in your `ca` option"
        } else {
            "Node's default CAs (nor NODE_EXTRA_CA_CERTS)"
        };
        let fix = "Pass the CA certificate that issued it as the `ca` option, e.g. \
                   `{ ca: fs.readFileSync('ca.crt') }` (or, for testing only, \
                   `rejectUnauthorized: false`).";
        let untrusted = match &error {
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => true,
            // webpki refuses a self-signed CA certificate (what `openssl req -x509` makes) as a
            // server certificate; for the user it is the same: an untrusted self-signed one.
            rustls::Error::InvalidCertificate(CertificateError::Other(_)) => {
                intermediates.is_empty() && der::is_self_issued(end_entity)
            }
            _ => false,
        };
        let diagnosis = match &error {
            _ if untrusted => {
                if intermediates.is_empty() && der::is_self_issued(end_entity) {
                    Diagnosis {
                        code: "DEPTH_ZERO_SELF_SIGNED_CERT",
                        message: format!(
                            "self-signed certificate: the broker {name} presented a self-signed \
                             certificate, which is not among {trust}. {fix} For a self-signed \
                             certificate, `ca` is the certificate itself."
                        ),
                    }
                } else if intermediates.iter().any(|c| der::is_self_issued(c)) {
                    Diagnosis {
                        code: "SELF_SIGNED_CERT_IN_CHAIN",
                        message: format!(
                            "self-signed certificate in certificate chain: the broker {name} \
                             sent a chain ending in a CA that is not among {trust}. {fix}"
                        ),
                    }
                } else {
                    Diagnosis {
                        code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
                        message: format!(
                            "unable to verify the first certificate: the certificate of the \
                             broker {name} was issued by a CA that is not among {trust}. {fix}"
                        ),
                    }
                }
            }
            rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
                presented,
                ..
            }) => {
                let (kind, list) = match server_name {
                    ServerName::IpAddress(_) => ("IP", "list"),
                    _ => ("Host", "altnames"),
                };
                let common_names = der::host_names(end_entity)
                    .filter(|n| !n.has_dns_alt_name)
                    .map(|n| n.common_names)
                    .unwrap_or_default();
                let names = if presented.is_empty() && !common_names.is_empty() {
                    // Node's words for a certificate named by its Common Name only.
                    format!(
                        "(none) and is not the cert's CN: {}",
                        common_names.join(", ")
                    )
                } else if presented.is_empty() {
                    "(none: the certificate has no subjectAltName)".to_string()
                } else {
                    presented
                        .iter()
                        .map(|n| presented_name(n))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                Diagnosis {
                    code: "ERR_TLS_CERT_ALTNAME_INVALID",
                    message: format!(
                        "Hostname/IP does not match certificate's altnames: {kind}: {name} is \
                         not in the cert's {list}: {names}. Connect with one of these names in \
                         the URL, or set `servername` to one of them."
                    ),
                }
            }
            rustls::Error::InvalidCertificate(
                CertificateError::Expired | CertificateError::ExpiredContext { .. },
            ) => Diagnosis {
                code: "CERT_HAS_EXPIRED",
                message: format!(
                    "certificate has expired: the certificate of the broker {name} is past its \
                     validity period (or this machine's clock is wrong); the broker needs a new \
                     certificate."
                ),
            },
            rustls::Error::InvalidCertificate(
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. },
            ) => Diagnosis {
                code: "CERT_NOT_YET_VALID",
                message: format!(
                    "certificate is not yet valid: the certificate of the broker {name} starts \
                     its validity period in the future (check this machine's clock)."
                ),
            },
            _ => return error,
        };
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(diagnosis))))
    }
}

/// Node's fallback in `tls.checkServerIdentity`: a host name (not an IP address) is checked
/// against the subject's Common Names when the certificate has no DNS subjectAltName, as OpenSSL-
/// based clients (MQTT.js) accept. webpki reads subjectAltName only (RFC 6125 §6.4.4 deprecates
/// the CN), so this runs after it refused the name of an otherwise trusted certificate.
fn common_name_matches(
    error: &rustls::Error,
    end_entity: &CertificateDer<'_>,
    server_name: &ServerName<'_>,
) -> bool {
    let name_error = matches!(
        error,
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
        )
    );
    let ServerName::DnsName(host) = server_name else {
        return false;
    };
    if !name_error {
        return false;
    }
    let Some(names) = der::host_names(end_entity) else {
        return false;
    };
    !names.has_dns_alt_name
        && names
            .common_names
            .iter()
            .any(|cn| node_host_matches(host.as_ref(), cn))
}

/// Node's host name pattern check (`lib/tls.js` `check()`, RFC 6125 §6.4.3): case-insensitive,
/// a trailing dot ignored, labels compared right to left, and at most one `*` in the leftmost
/// label of a pattern with at least three labels (never in a punycode `xn--` label).
fn node_host_matches(host: &str, pattern: &str) -> bool {
    fn split(name: &str) -> Vec<String> {
        name.strip_suffix('.')
            .unwrap_or(name)
            .to_ascii_lowercase()
            .split('.')
            .map(str::to_string)
            .collect()
    }
    if pattern.is_empty() {
        return false;
    }
    let host = split(host);
    let pattern = split(pattern);
    if host.len() != pattern.len() || pattern.iter().any(String::is_empty) {
        return false;
    }
    // Control characters, blanks and non-ASCII never match.
    if pattern
        .iter()
        .any(|p| p.chars().any(|c| !('\u{21}'..='\u{7f}').contains(&c)))
    {
        return false;
    }
    if host[1..] != pattern[1..] {
        return false;
    }
    let (host_first, pattern_first) = (&host[0], &pattern[0]);
    let parts: Vec<&str> = pattern_first.split('*').collect();
    if parts.len() == 1 || pattern_first.contains("xn--") {
        return host_first == pattern_first;
    }
    if parts.len() > 2 || pattern.len() <= 2 {
        return false;
    }
    let (prefix, suffix) = (parts[0], parts[1]);
    prefix.len() + suffix.len() <= host_first.len()
        && host_first.starts_with(prefix)
        && host_first.ends_with(suffix)
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(webpki) = &self.webpki else {
            // rejectUnauthorized: false: any certificate (the handshake signature is still
            // checked below, so the peer must hold the certificate's key).
            return Ok(ServerCertVerified::assertion());
        };
        match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Ok(verified) => Ok(verified),
            // webpki checks the chain before the name, so a name error means a trusted chain.
            Err(error) if common_name_matches(&error, end_entity, server_name) => {
                Ok(ServerCertVerified::assertion())
            }
            Err(error) => {
                // Node trusts a server certificate listed in `ca` even when it is a self-signed
                // CA certificate (what `openssl req -x509` makes), which webpki refuses as an
                // end entity. Trust it by identity, and still check the name.
                if self
                    .pinned
                    .iter()
                    .any(|c| c.as_ref() == end_entity.as_ref())
                {
                    let parsed = ParsedCertificate::try_from(end_entity)?;
                    return match rustls::client::verify_server_name(&parsed, server_name) {
                        Ok(()) => Ok(ServerCertVerified::assertion()),
                        Err(e) if common_name_matches(&e, end_entity, server_name) => {
                            Ok(ServerCertVerified::assertion())
                        }
                        Err(e) => Err(self.explain(e, end_entity, intermediates, server_name)),
                    };
                }
                Err(self.explain(error, end_entity, intermediates, server_name))
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::node_host_matches;

    #[test]
    fn a_host_matches_an_equal_pattern_whatever_the_case_and_a_trailing_dot() {
        assert!(node_host_matches("broker.example", "broker.example"));
        assert!(node_host_matches("Broker.Example.", "broker.EXAMPLE"));
        assert!(!node_host_matches("broker.example", "other.example"));
        assert!(!node_host_matches("a.broker.example", "broker.example"));
        assert!(!node_host_matches("broker.example", ""));
        assert!(!node_host_matches("broker..example", "broker..example"));
    }

    #[test]
    fn a_wildcard_covers_one_leftmost_label_of_a_name_with_three_labels_or_more() {
        assert!(node_host_matches("mqtt.broker.example", "*.broker.example"));
        assert!(node_host_matches(
            "mqtt1.broker.example",
            "mqtt*.broker.example"
        ));
        assert!(!node_host_matches(
            "a.mqtt.broker.example",
            "*.broker.example"
        ));
        assert!(!node_host_matches("broker.example", "*.example"));
        assert!(!node_host_matches("mqtt.broker.example", "*.*.example"));
        assert!(!node_host_matches(
            "mqtt.broker.example",
            "m*t*.broker.example"
        ));
        assert!(!node_host_matches(
            "xn--a.broker.example",
            "xn--*.broker.example"
        ));
    }

    #[test]
    fn patterns_with_blanks_or_non_ascii_never_match() {
        assert!(!node_host_matches("broker.example", "broker .example"));
        assert!(!node_host_matches(
            "br\u{f6}ker.example",
            "br\u{f6}ker.example"
        ));
    }
}
