//! Who is asking: the client's address and its network.
//!
//! Behind reverse proxies the address comes from `X-Forwarded-For`, read **from the right**:
//! each proxy appends the address it received the request from, so only the entries added by
//! our own proxies can be believed, and everything to their left was written by the client.
//! The client is the first address, walking from the right, that is not one of the configured
//! trusted proxies (`OCOP_TRUSTED_PROXIES`), or the address a fixed number of proxies from the
//! right (`OCOP_PROXY_HOPS`). The leftmost entry, which anyone can forge, is never taken.
//!
//! Limits and copy detection count **networks**, not addresses: an IPv4 /24 or an IPv6 /64 (the
//! block one household or one phone is given), so that a client cannot become many clients
//! by switching addresses inside its own block.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::AppState;
use crate::config::ProxySettings;

/// The client's address, given the connection's peer and the `X-Forwarded-For` values.
pub fn client_address<'a>(
    proxies: &ProxySettings,
    peer: IpAddr,
    forwarded_for: impl IntoIterator<Item = &'a str>,
) -> IpAddr {
    let peer = canonical(peer);
    if !proxies.enabled() {
        return peer;
    }
    if proxies.hops.is_none() && !proxies.trusts(peer) {
        // Not from one of our proxies: whatever the header says was written by the client.
        return peer;
    }
    let chain: Vec<Option<IpAddr>> = forwarded_for
        .into_iter()
        .flat_map(|value| value.split(','))
        .map(|entry| parse_entry(entry.trim()))
        .collect();
    match proxies.hops {
        Some(hops) => {
            // Each of our `hops` proxies appended one entry; the client is the entry the
            // outermost one appended. With fewer entries, some proxy was bypassed: the peer
            // is then the only address we know to be real.
            let hops = usize::from(hops.max(1));
            if chain.len() < hops {
                return peer;
            }
            chain[chain.len() - hops].unwrap_or(peer)
        }
        None => {
            let mut last_trusted = peer;
            for entry in chain.iter().rev() {
                match entry {
                    Some(ip) if proxies.trusts(*ip) => last_trusted = *ip,
                    Some(ip) => return *ip,
                    // Garbage appended by a proxy we trust: the proxy is all we know.
                    None => return last_trusted,
                }
            }
            last_trusted
        }
    }
}

/// One `X-Forwarded-For` entry: an address, perhaps with a port (`1.2.3.4:5678`,
/// `[2001:db8::1]:443`).
fn parse_entry(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    entry
        .parse::<SocketAddr>()
        .ok()
        .map(|addr| canonical(addr.ip()))
}

/// IPv4 addresses mapped into IPv6 (`::ffff:1.2.3.4`, as a dual-stack socket reports them)
/// are IPv4 addresses.
fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// The network a client address belongs to: IPv4 /24 or IPv6 /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Network {
    V4([u8; 3]),
    V6([u16; 4]),
}

impl Network {
    pub fn of(ip: IpAddr) -> Self {
        match canonical(ip) {
            IpAddr::V4(v4) => {
                let [a, b, c, _] = v4.octets();
                Self::V4([a, b, c])
            }
            IpAddr::V6(v6) => {
                let s = v6.segments();
                Self::V6([s[0], s[1], s[2], s[3]])
            }
        }
    }

    /// The wider block this network belongs to (IPv4 /16, IPv6 /48): where limits fall back
    /// when they track too many networks at once (a flood of fresh addresses).
    pub fn wider(self) -> Self {
        match self {
            Self::V4([a, b, _]) => Self::V4([a, b, 0]),
            Self::V6([a, b, c, _]) => Self::V6([a, b, c, 0]),
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::V4([a, b, c]) => write!(f, "{}/24", Ipv4Addr::new(*a, *b, *c, 0)),
            Self::V6([a, b, c, d]) => {
                write!(f, "{}/64", Ipv6Addr::new(*a, *b, *c, *d, 0, 0, 0, 0))
            }
        }
    }
}

/// The client's address (see the module documentation for proxies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl ClientAddr {
    pub fn network(self) -> Network {
        Network::of(self.0)
    }

    /// The client address of a request's parts.
    pub fn of(headers: &HeaderMap, peer: Option<IpAddr>, proxies: &ProxySettings) -> Self {
        let peer = peer.unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok());
        Self(client_address(proxies, peer, forwarded))
    }
}

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        Ok(Self::of(&parts.headers, peer, &state.config.proxies))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn proxies(trusted: &[&str]) -> ProxySettings {
        ProxySettings {
            trusted: trusted.iter().map(|t| t.parse().unwrap()).collect(),
            hops: None,
        }
    }

    #[test]
    fn without_proxies_the_header_is_ignored() {
        let none = ProxySettings::default();
        assert_eq!(
            client_address(&none, ip("203.0.113.9"), ["1.1.1.1"]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn the_client_is_the_first_untrusted_address_from_the_right() {
        let p = proxies(&["10.0.0.0/8", "127.0.0.1/32"]);
        // The client forged "6.6.6.6"; our proxy appended the real address.
        assert_eq!(
            client_address(&p, ip("10.0.0.2"), ["6.6.6.6, 113.161.10.25"]),
            ip("113.161.10.25")
        );
        // Two of our proxies in a row, header split over two lines.
        assert_eq!(
            client_address(&p, ip("127.0.0.1"), ["6.6.6.6, 113.161.10.25", "10.0.0.7"]),
            ip("113.161.10.25")
        );
        // A direct connection from outside is believed over any header.
        assert_eq!(
            client_address(&p, ip("198.51.100.4"), ["6.6.6.6"]),
            ip("198.51.100.4")
        );
        // Only proxies in the chain: the outermost proxy's address.
        assert_eq!(
            client_address(&p, ip("10.0.0.2"), ["10.0.0.9"]),
            ip("10.0.0.9")
        );
        // Garbage right of the client stops the walk at the last trusted proxy.
        assert_eq!(
            client_address(&p, ip("10.0.0.2"), ["6.6.6.6, unknown"]),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn a_hop_count_counts_entries_from_the_right() {
        let p = ProxySettings {
            trusted: Vec::new(),
            hops: Some(2),
        };
        assert_eq!(
            client_address(&p, ip("10.0.0.2"), ["6.6.6.6, 113.161.10.25, 10.1.1.1"]),
            ip("113.161.10.25")
        );
        assert_eq!(
            client_address(&p, ip("10.0.0.2"), ["113.161.10.25"]),
            ip("10.0.0.2"),
            "fewer entries than proxies: the peer"
        );
    }

    #[test]
    fn entries_with_ports_and_mapped_addresses_are_read() {
        let p = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            client_address(&p, ip("::ffff:10.0.0.2"), ["[2001:db8::7]:443"]),
            ip("2001:db8::7")
        );
        assert_eq!(
            client_address(&p, ip("10.0.0.2"), ["113.161.10.25:5000"]),
            ip("113.161.10.25")
        );
    }

    #[test]
    fn networks_are_ipv4_24_and_ipv6_64() {
        assert_eq!(
            Network::of(ip("113.161.10.25")),
            Network::of(ip("113.161.10.200"))
        );
        assert_ne!(
            Network::of(ip("113.161.10.25")),
            Network::of(ip("113.161.11.25"))
        );
        assert_eq!(
            Network::of(ip("2001:db8:1:2:aaaa::1")),
            Network::of(ip("2001:db8:1:2:bbbb::9"))
        );
        assert_ne!(
            Network::of(ip("2001:db8:1:2::1")),
            Network::of(ip("2001:db8:1:3::1"))
        );
        assert_eq!(
            Network::of(ip("::ffff:1.2.3.4")),
            Network::of(ip("1.2.3.9"))
        );
        assert_eq!(
            Network::of(ip("2001:db8:1:2::1")).to_string(),
            "2001:db8:1:2::/64"
        );
        assert_eq!(Network::of(ip("1.2.3.4")).to_string(), "1.2.3.0/24");
        assert_eq!(
            Network::of(ip("1.2.3.4")).wider(),
            Network::of(ip("1.2.99.4")).wider()
        );
    }
}
