//! Who is scanning. A client is a phone, recognised by its `ocop_client` cookie: a random key
//! given at its first scan, with a MAC so that nobody can mint keys without the secret. So one
//! person re-opening their own check is told so. Because a client can always throw its cookie
//! away, a *checker* is counted once per cookie **and** network (IPv4 /24, IPv6 /64; see
//! [`StampState`](super::state)): a fresh cookie on a network that already checked the stamp is
//! not another person. The user agent never identifies anyone; it only classes the client (a
//! crawler or link preview is recorded but never counted). Keys and networks are stored only as
//! keyed hashes.

use data_encoding::HEXLOWER;
use sha2::{Digest, Sha256};

use crate::config::Secret;
use crate::http::client::Network;

/// A scanner's identity, never stored raw: 16 bytes of a keyed hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey([u8; 16]);

impl ClientKey {
    pub fn hex(&self) -> String {
        HEXLOWER.encode(&self.0)
    }

    pub(super) fn from_hex(text: &str) -> Option<Self> {
        HEXLOWER
            .decode(text.as_bytes())
            .ok()
            .and_then(|b| b.try_into().ok())
            .map(Self)
    }
}

/// A scanner's network, never stored raw: 8 bytes of a keyed hash of its IPv4 /24 or IPv6 /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NetworkKey([u8; 8]);

impl NetworkKey {
    pub fn hex(&self) -> String {
        HEXLOWER.encode(&self.0)
    }

    pub(super) fn from_hex(text: &str) -> Option<Self> {
        HEXLOWER
            .decode(text.as_bytes())
            .ok()
            .and_then(|b| b.try_into().ok())
            .map(Self)
    }

    /// The network key standing in for a client recorded before networks were (each such
    /// client its own network, as they were then counted).
    pub(super) fn of_legacy_client(client: ClientKey) -> Self {
        let mut key = [0u8; 8];
        key.copy_from_slice(&client.0[..8]);
        Self(key)
    }
}

/// Derives client keys with the deployment's secret as salt.
#[derive(Clone)]
pub struct ClientHasher {
    salt: Secret,
}

impl ClientHasher {
    pub fn new(salt: Secret) -> Self {
        Self { salt }
    }

    fn hash(&self, parts: &[&[u8]]) -> ClientKey {
        let mut hasher = Sha256::new();
        hasher.update(b"ocop-market client v1\0");
        hasher.update(self.salt.expose().as_bytes());
        for part in parts {
            hasher.update([0u8]);
            hasher.update(part);
        }
        let digest = hasher.finalize();
        let mut key = [0u8; 16];
        key.copy_from_slice(&digest[..16]);
        ClientKey(key)
    }

    /// The key of an app installation that sends its own stable id (API clients).
    pub fn of_cookie(&self, cookie: &str) -> ClientKey {
        self.hash(&[b"cookie", cookie.as_bytes()])
    }

    /// The client cookie for a key: the key and a MAC, so that nobody can mint keys (and so
    /// pose as many people) without the secret.
    pub fn cookie_for(&self, key: ClientKey) -> String {
        let mac = self.hash(&[b"cookie-mac", &key.0]);
        format!("{}.{}", key.hex(), &mac.hex()[..16])
    }

    /// The key a client cookie carries, if the cookie is genuine.
    pub fn from_cookie(&self, cookie: &str) -> Option<ClientKey> {
        let (key, mac) = cookie.split_once('.')?;
        let key = ClientKey::from_hex(key)?;
        (self.cookie_for(key).split_once('.').map(|(_, m)| m) == Some(mac)).then_some(key)
    }

    /// A new client's key: random, so that two people on one network are two clients.
    pub fn new_client(&self) -> ClientKey {
        ClientKey(rand::random())
    }

    /// The key of a client's network.
    pub fn network(&self, network: Network) -> NetworkKey {
        let digest = self.hash(&[b"network", network.to_string().as_bytes()]);
        let mut key = [0u8; 8];
        key.copy_from_slice(&digest.0[..8]);
        NetworkKey(key)
    }
}

/// The client class of programs that fetch pages by themselves, with nobody holding the
/// package: crawlers, and the link previews of chat apps when someone shares a scan page. Their
/// scans are recorded but never count as a check (see [`ScanService::record`](super::ScanService::record)).
pub const BOT: &str = "bot";

/// The kind of client, from its user agent: `mobile`, `desktop`, `app` (an HTTP library, as
/// scanning apps use: counted like a phone), [`BOT`] or `other`.
pub fn client_class(user_agent: &str) -> &'static str {
    let ua = user_agent.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| ua.contains(w));
    if ua.is_empty() {
        "other"
    } else if has(&[
        "bot",
        "crawler",
        "spider",
        "facebookexternalhit",
        "whatsapp",
        "preview",
        "embedly",
    ]) {
        BOT
    } else if has(&["curl", "wget", "python", "okhttp", "headless"]) {
        "app"
    } else if has(&["android", "iphone", "ipad", "mobile", "zalo"]) {
        "mobile"
    } else if has(&["windows", "macintosh", "linux", "cros"]) {
        "desktop"
    } else {
        "other"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agents_are_classified() {
        assert_eq!(
            client_class("Mozilla/5.0 (Linux; Android 12; SM-A135F) Mobile Safari/537.36"),
            "mobile"
        );
        assert_eq!(
            client_class("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)"),
            "mobile"
        );
        assert_eq!(
            client_class("Mozilla/5.0 (Windows NT 10.0; Win64; x64)"),
            "desktop"
        );
        assert_eq!(client_class("curl/8.5.0"), "app");
        assert_eq!(
            client_class("okhttp/4.12.0"),
            "app",
            "a scanning app counts"
        );
        for preview in [
            "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
            "WhatsApp/2.23.20.0",
            "TelegramBot (like TwitterBot)",
            "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
            "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5",
        ] {
            assert_eq!(client_class(preview), "bot", "{preview}");
        }
        assert_eq!(client_class(""), "other");
    }

    #[test]
    fn client_keys_and_networks_are_salted_and_never_raw() {
        let a = ClientHasher::new(Secret::new("salt one"));
        let b = ClientHasher::new(Secret::new("salt two"));
        let ip = |text: &str| Network::of(text.parse().unwrap());
        assert_eq!(
            a.network(ip("113.161.10.25")),
            a.network(ip("113.161.10.99"))
        );
        assert_ne!(
            a.network(ip("113.161.10.25")),
            a.network(ip("113.161.11.25"))
        );
        assert_ne!(
            a.network(ip("113.161.10.25")),
            b.network(ip("113.161.10.25"))
        );
        assert!(!a.network(ip("113.161.10.25")).hex().contains("113"));
        assert_ne!(a.new_client(), a.new_client(), "new clients are random");
        assert_eq!(
            ClientKey::from_hex(&a.of_cookie("x").hex()),
            Some(a.of_cookie("x"))
        );
        let key = a.new_client();
        assert_eq!(a.from_cookie(&a.cookie_for(key)), Some(key));
        assert_eq!(
            b.from_cookie(&a.cookie_for(key)),
            None,
            "a cookie cannot be minted without the secret"
        );
        assert_eq!(
            a.from_cookie("00112233445566778899aabbccddeeff.0011223344556677"),
            None
        );
    }
}
