//! Signed stamps, checkable offline.
//!
//! A signed stamp's URL carries its code, lot, serial and an Ed25519 signature over them:
//! `{PUBLIC_URL}/s/{CODE}/{LOT}/{SERIAL}/{KID}{SIGNATURE}`, all in the QR alphanumeric
//! alphabet (the key id is 4 and the signature 103 Crockford base32 characters). An inspector
//! with the published public keys (`/.well-known/ocop-stamp-keys.json`) checks such a URL with
//! `ocop-market stamps verify` and no database or network. Signing the lot and serial too means
//! a genuine code moved onto another lot's package does not verify.
//!
//! The signing key is derived from the deployment's secret key, so every app server signs with
//! the same key and a new secret is a key rotation; public keys of earlier secrets stay
//! published (they are stored when first used) so stamps already printed keep verifying.

use std::collections::HashMap;

use chrono::Utc;
use data_encoding::BASE64URL_NOPAD;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::config::Secret;
use crate::domain::{CROCKFORD, LotCode, StampCode};
use crate::entities::stamp_signing_keys;

const DOMAIN: &[u8] = b"ocop-market stamp signing key v1";
const KID_LEN: usize = 4;
const SIGNATURE_LEN: usize = 103;

/// The deployment's stamp signing key.
pub struct StampSigner {
    key: SigningKey,
    key_id: String,
}

impl std::fmt::Debug for StampSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StampSigner")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl StampSigner {
    /// Derives the signing key from the deployment's secret.
    pub fn from_secret(secret: &Secret) -> Self {
        let seed: [u8; 32] = Sha256::new()
            .chain_update(DOMAIN)
            .chain_update(secret.expose().as_bytes())
            .finalize()
            .into();
        let key = SigningKey::from_bytes(&seed);
        let key_id = key_id_of(&key.verifying_key());
        Self { key, key_id }
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            kid: self.key_id.clone(),
            alg: "Ed25519".to_owned(),
            public_key: BASE64URL_NOPAD.encode(self.key.verifying_key().as_bytes()),
        }
    }

    /// The `{KID}{SIGNATURE}` path segment for a stamp.
    pub fn sign(&self, code: &StampCode, lot: &LotCode, serial: i64) -> String {
        let signature = self.key.sign(&message(code, lot, serial));
        format!("{}{}", self.key_id, CROCKFORD.encode(&signature.to_bytes()))
    }

    /// Records this key's public half so that it stays published after a rotation.
    pub async fn publish(&self, db: &impl ConnectionTrait) -> Result<(), sea_orm::DbErr> {
        if stamp_signing_keys::Entity::find_by_id(self.key_id.clone())
            .one(db)
            .await?
            .is_none()
        {
            stamp_signing_keys::ActiveModel {
                key_id: Set(self.key_id.clone()),
                public_key: Set(self.public_key().public_key),
                created_at: Set(Utc::now()),
            }
            .insert(db)
            .await?;
        }
        Ok(())
    }
}

fn key_id_of(key: &VerifyingKey) -> String {
    let digest = Sha256::digest(key.as_bytes());
    CROCKFORD.encode(&digest[..5])[..KID_LEN].to_owned()
}

fn message(code: &StampCode, lot: &LotCode, serial: i64) -> Vec<u8> {
    format!(
        "OCOP-STAMP-1\n{}\n{}\n{serial}",
        code.as_str(),
        lot.as_str()
    )
    .into_bytes()
}

/// A published public key.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct PublicKey {
    pub kid: String,
    pub alg: String,
    /// The 32-byte Ed25519 public key, base64url without padding.
    pub public_key: String,
}

/// The document served at `/.well-known/ocop-stamp-keys.json`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PublishedKeys {
    pub issuer: String,
    pub keys: Vec<PublicKey>,
}

/// Every public key ever used by this deployment, current key first.
pub async fn published_keys(
    db: &impl ConnectionTrait,
    signer: &StampSigner,
    issuer: &str,
) -> Result<PublishedKeys, sea_orm::DbErr> {
    let mut keys = vec![signer.public_key()];
    for row in stamp_signing_keys::Entity::find().all(db).await? {
        if row.key_id != signer.key_id {
            keys.push(PublicKey {
                kid: row.key_id,
                alg: "Ed25519".to_owned(),
                public_key: row.public_key,
            });
        }
    }
    Ok(PublishedKeys {
        issuer: issuer.to_owned(),
        keys,
    })
}

/// What a signed stamp URL says, once its signature checks out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedStamp {
    pub code: StampCode,
    pub lot: LotCode,
    pub serial: i64,
    pub key_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("this is not a signed OCOP stamp URL (expected …/s/CODE/LOT/SERIAL/SIGNATURE)")]
    NotASignedStampUrl,
    #[error("the stamp code is not valid")]
    BadCode,
    #[error("the lot code is not valid")]
    BadLot,
    #[error("the serial number is not valid")]
    BadSerial,
    #[error("the signature is malformed")]
    MalformedSignature,
    #[error("no published key has id {0}")]
    UnknownKey(String),
    #[error("the signature does not match: the URL was altered or not issued by this key")]
    BadSignature,
    #[error("the public key file is not valid: {0}")]
    BadKeyFile(String),
}

/// The parts of a signed stamp path: `s/{CODE}/{LOT}/{SERIAL}/{SIG}` (any case for `s`).
pub struct SignedParts<'a> {
    pub code: &'a str,
    pub lot: &'a str,
    pub serial: &'a str,
    pub signature: &'a str,
}

/// Finds the signed-stamp parts in a scanned URL (scheme and host are ignored).
pub fn split_signed_url(url: &str) -> Result<SignedParts<'_>, VerifyError> {
    let path = url
        .split_once("://")
        .map(|(_, rest)| rest.split_once('/').map(|(_, p)| p).unwrap_or(""))
        .unwrap_or(url);
    let path = path.split(['?', '#']).next().unwrap_or("");
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let start = segments
        .iter()
        .rposition(|s| s.eq_ignore_ascii_case("s"))
        .ok_or(VerifyError::NotASignedStampUrl)?;
    match &segments[start + 1..] {
        [code, lot, serial, signature] => Ok(SignedParts {
            code,
            lot,
            serial,
            signature,
        }),
        _ => Err(VerifyError::NotASignedStampUrl),
    }
}

/// Public keys by key id.
pub struct KeyRing(HashMap<String, VerifyingKey>);

impl KeyRing {
    pub fn from_published(keys: &PublishedKeys) -> Result<Self, VerifyError> {
        let mut ring = HashMap::new();
        for key in &keys.keys {
            if key.alg != "Ed25519" {
                continue;
            }
            let bytes: [u8; 32] = BASE64URL_NOPAD
                .decode(key.public_key.as_bytes())
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| {
                    VerifyError::BadKeyFile(format!("key {} is not 32 bytes", key.kid))
                })?;
            let verifying = VerifyingKey::from_bytes(&bytes)
                .map_err(|_| VerifyError::BadKeyFile(format!("key {} is not valid", key.kid)))?;
            ring.insert(key.kid.to_uppercase(), verifying);
        }
        Ok(Self(ring))
    }

    pub fn from_json(json: &str) -> Result<Self, VerifyError> {
        let keys: PublishedKeys =
            serde_json::from_str(json).map_err(|e| VerifyError::BadKeyFile(e.to_string()))?;
        Self::from_published(&keys)
    }

    pub fn single(signer: &StampSigner) -> Self {
        Self(HashMap::from([(
            signer.key_id.clone(),
            signer.key.verifying_key(),
        )]))
    }

    /// Checks the signature of a signed stamp path's parts.
    pub fn verify(&self, parts: &SignedParts<'_>) -> Result<VerifiedStamp, VerifyError> {
        let code = StampCode::parse(parts.code).map_err(|_| VerifyError::BadCode)?;
        let lot = LotCode::parse(parts.lot).map_err(|_| VerifyError::BadLot)?;
        let serial: i64 = parts
            .serial
            .parse()
            .ok()
            .filter(|s| *s > 0)
            .ok_or(VerifyError::BadSerial)?;
        let signature = parts.signature.to_uppercase();
        if signature.len() != KID_LEN + SIGNATURE_LEN || !signature.is_ascii() {
            return Err(VerifyError::MalformedSignature);
        }
        let (kid, encoded) = signature.split_at(KID_LEN);
        let key = self
            .0
            .get(kid)
            .ok_or_else(|| VerifyError::UnknownKey(kid.to_owned()))?;
        let bytes: [u8; 64] = CROCKFORD
            .decode(encoded.as_bytes())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(VerifyError::MalformedSignature)?;
        key.verify(
            &message(&code, &lot, serial),
            &Signature::from_bytes(&bytes),
        )
        .map_err(|_| VerifyError::BadSignature)?;
        Ok(VerifiedStamp {
            code,
            lot,
            serial,
            key_id: kid.to_owned(),
        })
    }

    /// Checks a whole scanned URL.
    pub fn verify_url(&self, url: &str) -> Result<VerifiedStamp, VerifyError> {
        self.verify(&split_signed_url(url)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> StampSigner {
        StampSigner::from_secret(&Secret::new("a test secret that is long enough to sign"))
    }

    #[test]
    fn a_signed_url_verifies_with_the_public_key_alone() {
        let signer = signer();
        let code = StampCode::generate();
        let lot = LotCode::parse("MO-2025-11").unwrap();
        let url = format!(
            "HTTPS://OCOP.EXAMPLE.VN/S/{}/{}/{}/{}",
            code.as_str(),
            lot.as_str(),
            42,
            signer.sign(&code, &lot, 42)
        );
        let published = PublishedKeys {
            issuer: "https://ocop.example.vn".into(),
            keys: vec![signer.public_key()],
        };
        let ring = KeyRing::from_json(&serde_json::to_string(&published).unwrap()).unwrap();
        let verified = ring.verify_url(&url).unwrap();
        assert_eq!(verified.code, code);
        assert_eq!(verified.serial, 42);
        // Lower-case (a phone may lower-case the URL) still verifies.
        assert!(ring.verify_url(&url.to_lowercase()).is_ok());
    }

    #[test]
    fn any_change_to_a_signed_url_fails() {
        let signer = signer();
        let ring = KeyRing::single(&signer);
        let code = StampCode::parse("0123456789ABCDEF").unwrap();
        let lot = LotCode::parse("L1").unwrap();
        let sig = signer.sign(&code, &lot, 7);
        let good = format!("https://x.vn/s/{}/L1/7/{sig}", code.as_str());
        assert!(ring.verify_url(&good).is_ok());
        let other_serial = format!("https://x.vn/s/{}/L1/8/{sig}", code.as_str());
        assert_eq!(
            ring.verify_url(&other_serial),
            Err(VerifyError::BadSignature)
        );
        let other_lot = format!("https://x.vn/s/{}/L2/7/{sig}", code.as_str());
        assert_eq!(ring.verify_url(&other_lot), Err(VerifyError::BadSignature));
        let mut flipped = sig.clone().into_bytes();
        flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
        let tampered = format!(
            "https://x.vn/s/{}/L1/7/{}",
            code.as_str(),
            String::from_utf8(flipped).unwrap()
        );
        assert!(ring.verify_url(&tampered).is_err());
        let other_key =
            StampSigner::from_secret(&Secret::new("another secret entirely, also long"));
        assert!(matches!(
            KeyRing::single(&other_key).verify_url(&good),
            Err(VerifyError::UnknownKey(_))
        ));
        assert_eq!(
            ring.verify_url("https://x.vn/s/0123456789ABCDEF"),
            Err(VerifyError::NotASignedStampUrl)
        );
    }

    #[test]
    fn the_key_id_is_stable_for_a_secret() {
        assert_eq!(signer().key_id(), signer().key_id());
        assert_eq!(signer().key_id().len(), 4);
    }
}
