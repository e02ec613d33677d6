//! Webhook signatures: an HMAC-SHA256 of the exact request body (of `"{timestamp}.{body}"`
//! when a timestamp is signed), shared by the bank notifications and Stripe.
//!
//! The signature header is either `t=<unix>,v1=<sig>[,v1=<sig>…]` (Stripe's layout, which
//! several notification services copy; any `v1` may match, as during a secret rotation) or a
//! single signature, bare or as `sha256=<sig>`, with the timestamp in a header of its own.
//! Signatures are hex or base64. A request is genuine when any signature matches under any of
//! the configured secrets; a signed timestamp further than the tolerance from now, either way,
//! is refused, so that a captured request cannot be replayed later.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::Secret;

type HmacSha256 = Hmac<Sha256>;

/// Why a webhook was refused before anything was recorded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the signature header is missing")]
    Missing,
    #[error("the signature does not match the body")]
    Mismatch,
    #[error("the signed timestamp is missing or not a number")]
    BadTimestamp,
    #[error("the signed timestamp is outside the accepted window")]
    Stale,
}

/// What a provider's requests must carry.
#[derive(Debug, Clone, Copy)]
pub struct Scheme<'a> {
    /// Any of these secrets may have signed (more than one during a rotation).
    pub secrets: &'a [Secret],
    /// Whether a signed timestamp is required.
    pub timestamp_required: bool,
    /// Largest distance of the signed timestamp from now, in seconds.
    pub tolerance_seconds: u64,
}

/// Checks `signature_header` (and `timestamp_header`, for layouts that send the timestamp
/// apart) against `body`.
pub fn verify(
    scheme: Scheme<'_>,
    signature_header: Option<&str>,
    timestamp_header: Option<&str>,
    body: &[u8],
    now_unix: i64,
) -> Result<(), SignatureError> {
    let header = signature_header
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .ok_or(SignatureError::Missing)?;
    let (timestamp, signatures): (Option<&str>, Vec<&str>) =
        if header.contains("v1=") || header.starts_with("t=") {
            let mut timestamp = None;
            let mut signatures = Vec::new();
            for part in header.split(',') {
                match part.trim().split_once('=') {
                    Some(("t", value)) => timestamp = Some(value.trim()),
                    Some(("v1", value)) => signatures.push(value),
                    _ => {}
                }
            }
            (timestamp, signatures)
        } else {
            let signature = header.strip_prefix("sha256=").unwrap_or(header);
            (timestamp_header.map(str::trim), vec![signature])
        };
    if let Some(timestamp) = timestamp {
        let at: i64 = timestamp
            .parse()
            .map_err(|_| SignatureError::BadTimestamp)?;
        if now_unix.abs_diff(at) > scheme.tolerance_seconds {
            return Err(SignatureError::Stale);
        }
    } else if scheme.timestamp_required {
        return Err(SignatureError::BadTimestamp);
    }
    let candidates: Vec<Vec<u8>> = signatures.iter().filter_map(|s| decode(s)).collect();
    // An empty key proves nothing (anyone can sign with it): it never verifies.
    for secret in scheme.secrets.iter().filter(|s| !s.expose().is_empty()) {
        let Ok(mut mac) = HmacSha256::new_from_slice(secret.expose().as_bytes()) else {
            continue;
        };
        if let Some(timestamp) = timestamp {
            mac.update(timestamp.as_bytes());
            mac.update(b".");
        }
        mac.update(body);
        // `verify_slice` compares in constant time.
        if candidates
            .iter()
            .any(|candidate| mac.clone().verify_slice(candidate).is_ok())
        {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

/// A signature as hex (any case) or base64.
fn decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    data_encoding::HEXLOWER_PERMISSIVE
        .decode(text.as_bytes())
        .ok()
        .or_else(|| data_encoding::BASE64.decode(text.as_bytes()).ok())
}

/// The hex HMAC-SHA256 of `"{timestamp}.{body}"` under `secret`; for tests and tools.
pub fn sign_hex(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    data_encoding::HEXLOWER.encode(&mac.finalize().into_bytes())
}

/// The lowercase hex HMAC-SHA512 of `data` under `key` (VNPay's `vnp_SecureHash`).
pub fn hmac_sha512_hex(key: &str, data: &str) -> String {
    let mut mac =
        Hmac::<sha2::Sha512>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    mac.update(data.as_bytes());
    data_encoding::HEXLOWER.encode(&mac.finalize().into_bytes())
}

/// The lowercase hex HMAC-SHA256 of `data` under `key` (MoMo's `signature`).
pub fn hmac_sha256_hex(key: &str, data: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    mac.update(data.as_bytes());
    data_encoding::HEXLOWER.encode(&mac.finalize().into_bytes())
}

/// Whether `given` (hex, any case) is the HMAC-SHA512 (`sha512`) or HMAC-SHA256 of `data`
/// under `key`, compared in constant time. An empty key never verifies.
pub fn verify_hex(sha512: bool, key: &str, data: &str, given: &str) -> bool {
    if key.is_empty() {
        return false;
    }
    let Ok(given) = data_encoding::HEXLOWER_PERMISSIVE.decode(given.trim().as_bytes()) else {
        return false;
    };
    if sha512 {
        let mut mac = Hmac::<sha2::Sha512>::new_from_slice(key.as_bytes())
            .expect("HMAC takes any key length");
        mac.update(data.as_bytes());
        mac.verify_slice(&given).is_ok()
    } else {
        let mut mac =
            HmacSha256::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
        mac.update(data.as_bytes());
        mac.verify_slice(&given).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_answer_pins_the_signed_layout() {
        // HMAC-SHA256("secret", "1700000000.{}"), computed independently with Python's hmac.
        assert_eq!(
            sign_hex("secret", 1_700_000_000, b"{}"),
            "b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
        );
    }

    #[test]
    fn an_empty_secret_never_verifies_even_a_body_signed_with_it() {
        let body = b"{\"amount\":1}";
        let signed = format!("sha256={}", sign_hex("", 100, body));
        let scheme = Scheme {
            secrets: &[Secret::new("")],
            timestamp_required: true,
            tolerance_seconds: 300,
        };
        assert_eq!(
            verify(scheme, Some(&signed), Some("100"), body, 100),
            Err(SignatureError::Mismatch)
        );
    }
}
