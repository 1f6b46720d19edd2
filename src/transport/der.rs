//! Just enough DER (ITU-T X.690 §8.1) to read the issuer and subject of an X.509 certificate
//! (RFC 5280 §4.1), its subject Common Names and whether it has DNS subjectAltNames: for
//! diagnostics, and for Node's Common Name fallback in the host name check. Chain verification
//! itself is rustls-webpki's.

/// One tag-length-value: the tag byte, the contents, and what follows.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        // Long form (X.690 §8.1.3.5): the low bits count the length octets; 4 is plenty here.
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[count..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

const SEQUENCE: u8 = 0x30;

/// The raw DER of the issuer and subject names of a certificate.
fn names(cert: &[u8]) -> Option<(&[u8], &[u8])> {
    tbs_names(cert).map(|(issuer, subject, _)| (issuer, subject))
}

/// The issuer and subject names of a certificate, and the TBSCertificate fields after the
/// subject (subjectPublicKeyInfo, the unique ids and the extensions).
fn tbs_names(cert: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let (tag, cert, _) = tlv(cert)?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, tbs, _) = tlv(cert)?;
    if tag != SEQUENCE {
        return None;
    }
    // TBSCertificate ::= SEQUENCE { version [0] EXPLICIT OPTIONAL, serialNumber, signature,
    //   issuer, validity, subject, … }
    let (tag, _, mut rest) = tlv(tbs)?;
    if tag == 0xa0 {
        rest = tlv(rest)?.2; // serialNumber
    }
    let rest = tlv(rest)?.2; // signature AlgorithmIdentifier
    let (_, _, after_issuer) = tlv(rest)?;
    let issuer = &rest[..rest.len() - after_issuer.len()];
    let rest = tlv(after_issuer)?.2; // validity
    let (_, _, after_subject) = tlv(rest)?;
    let subject = &rest[..rest.len() - after_subject.len()];
    Some((issuer, subject, after_subject))
}

/// `id-at-commonName` (X.520, 2.5.4.3).
const OID_COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
/// `id-ce-subjectAltName` (RFC 5280 §4.2.1.6, 2.5.29.17).
const OID_SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];
const OID: u8 = 0x06;
const SET: u8 = 0x31;
const BOOLEAN: u8 = 0x01;
const OCTET_STRING: u8 = 0x04;
/// `[3] EXPLICIT Extensions` in TBSCertificate (RFC 5280 §4.1).
const EXTENSIONS: u8 = 0xa3;
/// `dNSName [2] IA5String` in GeneralName (RFC 5280 §4.2.1.6), context-specific and primitive.
const DNS_NAME: u8 = 0x82;

/// What Node's host name check (`tls.checkServerIdentity`) reads from a server certificate.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct HostNames {
    /// The subject's Common Names, in order (text string types only).
    pub common_names: Vec<String>,
    /// Whether a subjectAltName extension lists at least one DNS name.
    pub has_dns_alt_name: bool,
}

/// The subject Common Names of `cert` and whether it has DNS subjectAltNames; `None` when the
/// certificate cannot be read.
pub fn host_names(cert: &[u8]) -> Option<HostNames> {
    let (_, subject, after_subject) = tbs_names(cert)?;
    let mut out = HostNames::default();
    // Name ::= SEQUENCE OF RelativeDistinguishedName (SET OF AttributeTypeAndValue).
    let (tag, mut rdns, _) = tlv(subject)?;
    if tag != SEQUENCE {
        return None;
    }
    while !rdns.is_empty() {
        let (tag, mut set, rest) = tlv(rdns)?;
        rdns = rest;
        if tag != SET {
            return None;
        }
        while !set.is_empty() {
            let (_, atv, rest) = tlv(set)?;
            set = rest;
            let (tag, oid, value) = tlv(atv)?;
            if tag == OID && oid == OID_COMMON_NAME {
                let (tag, text, _) = tlv(value)?;
                // UTF8String, PrintableString, T61String (read as Latin-1 by OpenSSL, here as
                // UTF-8 when it is), IA5String.
                if matches!(tag, 0x0c | 0x13 | 0x14 | 0x16) {
                    if let Ok(text) = std::str::from_utf8(text) {
                        out.common_names.push(text.to_string());
                    }
                }
            }
        }
    }
    // subjectPublicKeyInfo, then [1] issuerUniqueID, [2] subjectUniqueID, [3] extensions.
    let mut rest = tlv(after_subject)?.2;
    while !rest.is_empty() {
        let (tag, content, after) = tlv(rest)?;
        rest = after;
        if tag != EXTENSIONS {
            continue;
        }
        let (_, mut extensions, _) = tlv(content)?;
        while !extensions.is_empty() {
            let (_, extension, after) = tlv(extensions)?;
            extensions = after;
            // Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue }
            let (tag, oid, mut fields) = tlv(extension)?;
            if tag != OID || oid != OID_SUBJECT_ALT_NAME {
                continue;
            }
            let (mut tag, mut value, after) = tlv(fields)?;
            if tag == BOOLEAN {
                fields = after;
                (tag, value, _) = tlv(fields)?;
            }
            if tag != OCTET_STRING {
                return None;
            }
            let (_, mut general_names, _) = tlv(value)?;
            while !general_names.is_empty() {
                let (tag, _, after) = tlv(general_names)?;
                general_names = after;
                if tag == DNS_NAME {
                    out.has_dns_alt_name = true;
                }
            }
        }
    }
    Some(out)
}

/// Whether a certificate names itself as its issuer (a self-signed or root certificate).
pub fn is_self_issued(cert: &[u8]) -> bool {
    matches!(names(cert), Some((issuer, subject)) if issuer == subject)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        if content.len() < 0x80 {
            out.push(content.len() as u8);
        } else {
            out.push(0x82);
            out.extend_from_slice(&(content.len() as u16).to_be_bytes());
        }
        out.extend_from_slice(content);
        out
    }

    fn cert(issuer: &[u8], subject: &[u8]) -> Vec<u8> {
        let mut tbs = seq(0xa0, &seq(0x02, &[2]));
        tbs.extend(seq(0x02, &[1, 2, 3]));
        tbs.extend(seq(SEQUENCE, &[0x06, 0x01, 0x01]));
        tbs.extend(seq(SEQUENCE, issuer));
        tbs.extend(seq(SEQUENCE, &[0x17, 0x00, 0x17, 0x00]));
        tbs.extend(seq(SEQUENCE, subject));
        tbs.extend(seq(SEQUENCE, &[0u8; 200]));
        let mut body = seq(SEQUENCE, &tbs);
        body.extend(seq(SEQUENCE, &[0x06, 0x01, 0x01]));
        body.extend(seq(0x03, &[0, 1, 2]));
        seq(SEQUENCE, &body)
    }

    #[test]
    fn a_certificate_with_equal_issuer_and_subject_is_self_issued() {
        assert!(is_self_issued(&cert(b"\x31\x00", b"\x31\x00")));
        assert!(!is_self_issued(&cert(b"\x31\x01\x00", b"\x31\x00")));
    }

    /// A certificate whose subject and extensions are given, around the fields before them.
    fn cert_with(subject: &[u8], extensions: &[u8]) -> Vec<u8> {
        let mut tbs = seq(0xa0, &seq(0x02, &[2]));
        tbs.extend(seq(0x02, &[1, 2, 3]));
        tbs.extend(seq(SEQUENCE, &[0x06, 0x01, 0x01]));
        tbs.extend(seq(SEQUENCE, b"\x31\x00"));
        tbs.extend(seq(SEQUENCE, &[0x17, 0x00, 0x17, 0x00]));
        tbs.extend(seq(SEQUENCE, subject));
        tbs.extend(seq(SEQUENCE, &[0u8; 20]));
        if !extensions.is_empty() {
            tbs.extend(seq(EXTENSIONS, &seq(SEQUENCE, extensions)));
        }
        let mut body = seq(SEQUENCE, &tbs);
        body.extend(seq(SEQUENCE, &[0x06, 0x01, 0x01]));
        body.extend(seq(0x03, &[0, 1, 2]));
        seq(SEQUENCE, &body)
    }

    fn common_name(text: &str) -> Vec<u8> {
        let mut atv = seq(OID, OID_COMMON_NAME);
        atv.extend(seq(0x0c, text.as_bytes()));
        seq(SET, &seq(SEQUENCE, &atv))
    }

    fn alt_names(critical: bool, names: &[(u8, &str)]) -> Vec<u8> {
        let mut general = Vec::new();
        for (tag, name) in names {
            general.extend(seq(*tag, name.as_bytes()));
        }
        let mut ext = seq(OID, OID_SUBJECT_ALT_NAME);
        if critical {
            ext.extend(seq(BOOLEAN, &[0xff]));
        }
        ext.extend(seq(OCTET_STRING, &seq(SEQUENCE, &general)));
        seq(SEQUENCE, &ext)
    }

    #[test]
    fn the_common_names_of_the_subject_are_read_in_order() {
        let mut subject = common_name("broker.example");
        subject.extend(common_name("other.example"));
        let names = host_names(&cert_with(&subject, &[])).unwrap();
        assert_eq!(names.common_names, ["broker.example", "other.example"]);
        assert!(!names.has_dns_alt_name);
    }

    #[test]
    fn a_dns_subject_alt_name_is_found_with_or_without_the_critical_flag() {
        for critical in [false, true] {
            let ext = alt_names(
                critical,
                &[(0x87, "\x7f\x00\x00\x01"), (DNS_NAME, "a.example")],
            );
            let names = host_names(&cert_with(&common_name("cn.example"), &ext)).unwrap();
            assert!(names.has_dns_alt_name);
        }
    }

    #[test]
    fn an_ip_only_subject_alt_name_is_not_a_dns_name() {
        let ext = alt_names(false, &[(0x87, "\x7f\x00\x00\x01")]);
        let names = host_names(&cert_with(&common_name("cn.example"), &ext)).unwrap();
        assert!(!names.has_dns_alt_name);
        assert_eq!(names.common_names, ["cn.example"]);
    }

    #[test]
    fn truncated_host_names_input_does_not_panic() {
        let good = cert_with(
            &common_name("x.example"),
            &alt_names(false, &[(DNS_NAME, "a")]),
        );
        for end in 0..good.len() {
            let _ = host_names(&good[..end]);
        }
    }

    #[test]
    fn truncated_or_garbage_input_is_not_self_issued_and_does_not_panic() {
        let good = cert(b"\x31\x00", b"\x31\x00");
        for end in 0..good.len() {
            let _ = is_self_issued(&good[..end]);
        }
        assert!(!is_self_issued(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]));
        assert!(!is_self_issued(&[]));
    }
}
