//! Encrypted private keys (`-----BEGIN ENCRYPTED PRIVATE KEY-----`, PKCS#8 / RFC 5958 §3).

use rustls::pki_types::PrivateKeyDer;

use super::TransportError;

/// Decrypts an encrypted PKCS#8 key with `passphrase`.
pub fn decrypt_pkcs8(
    _pem: &str,
    passphrase: Option<&str>,
) -> Result<PrivateKeyDer<'static>, TransportError> {
    let message = match passphrase {
        None => "The `key` option is an encrypted private key and no `passphrase` was given. \
                 Moreover this build of mqtt-native cannot decrypt keys: decrypt it once with \
                 `openssl pkcs8 -in key.pem -out key.plain.pem` and pass that."
            .to_string(),
        Some(_) => "The `key` option is an encrypted private key, which this build of \
                    mqtt-native cannot decrypt: decrypt it once with \
                    `openssl pkcs8 -in key.pem -out key.plain.pem` and pass that."
            .to_string(),
    };
    Err(TransportError::diagnosed(
        "ERR_MQTT_TLS_OPTIONS",
        message,
        "",
        0,
    ))
}
