//! Encrypted private keys (`-----BEGIN ENCRYPTED PRIVATE KEY-----`: PKCS#8 EncryptedPrivateKeyInfo,
//! RFC 5958 §3, with PBES2 from PKCS#5 v2.1, RFC 8018 §6.2: PBKDF2 or scrypt, and AES-CBC), as
//! `openssl pkcs8 -topk8 -v2 aes-256-cbc` and OpenSSL 3's `genpkey -aes256` write them.

use pkcs8::der::pem;
use pkcs8::EncryptedPrivateKeyInfo;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

use super::TransportError;

fn key_error(message: String) -> TransportError {
    TransportError::diagnosed("ERR_MQTT_TLS_OPTIONS", message, "", 0)
}

/// Decrypts an encrypted PKCS#8 key with `passphrase`.
pub fn decrypt_pkcs8(
    pem_text: &str,
    passphrase: Option<&str>,
) -> Result<PrivateKeyDer<'static>, TransportError> {
    let Some(passphrase) = passphrase else {
        return Err(key_error(
            "The `key` option is an encrypted private key: pass its `passphrase` too.".into(),
        ));
    };
    let begin = pem_text
        .find("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        .unwrap_or(0);
    let (label, der) = pem::decode_vec(&pem_text.as_bytes()[begin..]).map_err(|e| {
        key_error(format!(
            "The `key` option is not a readable encrypted PEM key: {e}."
        ))
    })?;
    if label != "ENCRYPTED PRIVATE KEY" {
        return Err(key_error(format!(
            "The `key` option holds a \"{label}\" where an encrypted private key was expected."
        )));
    }
    let info = EncryptedPrivateKeyInfo::try_from(der.as_slice()).map_err(|e| {
        key_error(format!(
            "The `key` option is not a valid encrypted PKCS#8 key: {e}."
        ))
    })?;
    let plain = info.decrypt(passphrase.as_bytes()).map_err(|_| {
        key_error(
            "The `key` option could not be decrypted: the `passphrase` is wrong, or the key uses \
             an encryption scheme other than PBES2 with AES (re-encrypt it with \
             `openssl pkcs8 -topk8 -v2 aes-256-cbc`)."
                .into(),
        )
    })?;
    Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        plain.as_bytes().to_vec(),
    )))
}
