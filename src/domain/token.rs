//! Bearer secrets handed to clients (session, cart and payment-page tokens). Only their
//! SHA-256 is stored, so a leaked database does not hand out working tokens.

use data_encoding::{BASE64URL_NOPAD, HEXLOWER};
use sha2::{Digest, Sha256};

/// A fresh token: 256 random bits, URL-safe.
pub fn new_token() -> String {
    let raw: [u8; 32] = rand::random();
    BASE64URL_NOPAD.encode(&raw)
}

/// What the database stores for a token.
pub fn hash_token(token: &str) -> String {
    HEXLOWER.encode(&Sha256::digest(token.as_bytes()))
}
