//! Stripe's webhook signatures, checked as Stripe's own libraries check them.
//!
//! The `Stripe-Signature` header is `t=<unix>,v1=<hex>[,v1=<hex>…][,v0=…]`: each `v1` is an
//! HMAC-SHA256, keyed with an endpoint's signing secret, of `"{t}.{body}"`. During a secret
//! rotation Stripe signs with the old and the new secret at once, and the platform may hold
//! both, so a request is genuine when any `v1` matches under any configured secret. A
//! timestamp further than the tolerance from now (either way) is refused, so that a captured
//! request cannot be replayed later. (`async-stripe-webhook` keeps only the last `v1` of the
//! header, which refuses genuine requests during a rotation; the check is the shared
//! [`crate::payments::signature`], with every configured secret.)

use crate::config::Secret;
use crate::payments::signature::{self, Scheme, SignatureError};

/// How far a signed timestamp may be from now, in seconds (Stripe's libraries use 300).
pub const TOLERANCE_SECONDS: u64 = 300;

/// Checks `header` (the `Stripe-Signature` value) against `body` under any of `secrets`.
pub fn verify(
    secrets: &[Secret],
    header: Option<&str>,
    body: &[u8],
    now_unix: i64,
) -> Result<(), SignatureError> {
    let scheme = Scheme {
        secrets,
        timestamp_required: true,
        tolerance_seconds: TOLERANCE_SECONDS,
    };
    signature::verify(scheme, header, None, body, now_unix)
}

/// The `v1` signature Stripe would send for `body` at `timestamp` (hex); for tests and tools.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    signature::sign_hex(secret, timestamp, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(values: &[&str]) -> Vec<Secret> {
        values.iter().map(|v| Secret::new(*v)).collect()
    }

    #[test]
    fn a_signed_body_verifies_and_any_change_does_not() {
        let body = br#"{"id":"evt_1","type":"checkout.session.completed"}"#;
        let header = format!("t=1000,v1={}", sign("whsec_a", 1000, body));
        let all = secrets(&["whsec_a"]);
        assert_eq!(verify(&all, Some(&header), body, 1010), Ok(()));
        let mut tampered = body.to_vec();
        tampered[5] ^= 1;
        assert_eq!(
            verify(&all, Some(&header), &tampered, 1010),
            Err(SignatureError::Mismatch)
        );
        // The timestamp is signed: moving it breaks the signature.
        let moved = header.replace("t=1000", "t=1001");
        assert_eq!(
            verify(&all, Some(&moved), body, 1010),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&secrets(&["whsec_b"]), Some(&header), body, 1010),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(verify(&all, None, body, 1010), Err(SignatureError::Missing));
        assert_eq!(
            verify(&[], Some(&header), body, 1010),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn any_v1_under_any_configured_secret_is_accepted_during_a_rotation() {
        let body = b"{}";
        let under_new = sign("whsec_new", 500, body);
        let under_unknown = sign("whsec_unknown", 500, body);
        let header = format!("t=500,v1={under_unknown},v1={under_new},v0=deadbeef");
        assert_eq!(
            verify(
                &secrets(&["whsec_old", "whsec_new"]),
                Some(&header),
                body,
                500
            ),
            Ok(())
        );
        // The first v1 alone (as a last-v1-only parser would see it reversed) does not match.
        let header = format!("t=500,v1={under_new},v1={under_unknown}");
        assert_eq!(
            verify(&secrets(&["whsec_new"]), Some(&header), body, 500),
            Ok(())
        );
        assert_eq!(
            verify(&secrets(&["whsec_old"]), Some(&header), body, 500),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn stale_future_and_malformed_timestamps_are_refused() {
        let body = b"{}";
        let at = 10_000;
        let header = format!("t={at},v1={}", sign("s", at, body));
        let all = secrets(&["s"]);
        assert_eq!(verify(&all, Some(&header), body, at + 300), Ok(()));
        assert_eq!(
            verify(&all, Some(&header), body, at + 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(&all, Some(&header), body, at - 301),
            Err(SignatureError::Stale)
        );
        let no_t = format!("v1={}", sign("s", at, body));
        assert_eq!(
            verify(&all, Some(&no_t), body, at),
            Err(SignatureError::BadTimestamp)
        );
        assert_eq!(
            verify(&all, Some("t=abc,v1=00"), body, at),
            Err(SignatureError::BadTimestamp)
        );
        assert_eq!(
            verify(&all, Some(&format!("t={at}")), body, at),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&all, Some("garbage"), body, at),
            Err(SignatureError::BadTimestamp)
        );
        assert_eq!(
            verify(&all, Some(&format!("t={at},v1=not-hex")), body, at),
            Err(SignatureError::Mismatch)
        );
    }
}
