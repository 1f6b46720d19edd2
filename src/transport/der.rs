//! Just enough DER (ITU-T X.690 §8.1) to read the issuer and subject of an X.509 certificate
//! (RFC 5280 §4.1), for diagnostics only: verification itself is rustls-webpki's.

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
    Some((issuer, subject))
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
