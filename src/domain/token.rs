//! Bearer secrets handed to clients (session, cart and payment-page tokens). Only their
//! SHA-256 is stored, so a leaked database does not hand out working tokens.

use data_encoding::{BASE64URL_NOPAD, HEXLOWER};
use sha2::{Digest, Sha256};

/// A fresh token: 256 random bits, URL-safe.
pub fn new_token() -> String {
    let raw: [u8; 32] = rand::random();
    BASE64URL_NOPAD.encode(&raw)
}

/// A token derived from `input` with the server's `secret` (HMAC-SHA256): the same inputs
/// give the same token, and without the secret it cannot be computed. `purpose` keeps tokens
/// for different uses apart.
pub fn derived_token(secret: &str, purpose: &str, input: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(purpose.as_bytes());
    mac.update(&[0]);
    mac.update(input.as_bytes());
    BASE64URL_NOPAD.encode(&mac.finalize().into_bytes())
}

/// What the database stores for a token.
pub fn hash_token(token: &str) -> String {
    HEXLOWER.encode(&Sha256::digest(token.as_bytes()))
}
