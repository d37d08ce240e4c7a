//! Who is on the other end of a request: the client's address, behind trusted proxies.
//!
//! A request from a trusted proxy (`TRUSTED_PROXIES`) carries the addresses it was
//! forwarded for in `X-Forwarded-For`, each proxy appending the address it received the
//! request from. Only the entries that trusted proxies appended can be believed, so the
//! client is the rightmost address that is not itself a trusted proxy; anything to its
//! left was written by the client and may be forged. A request from anywhere else is its
//! peer's.

use std::fmt;
use std::net::IpAddr;

use ipnet::{IpNet, Ipv6Net};

/// The address a request comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(IpAddr);

impl ClientAddr {
    /// The client of a request from `peer` with these `X-Forwarded-For` values (in the
    /// order the header lines came), given the `trusted` proxies.
    pub fn resolve<'a>(
        peer: IpAddr,
        forwarded: impl DoubleEndedIterator<Item = &'a str>,
        trusted: &[IpNet],
    ) -> Self {
        let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
        let mut client = peer.to_canonical();
        if !is_trusted(&client) {
            return Self(client);
        }
        let hops = forwarded.rev().flat_map(|line| line.rsplit(','));
        for hop in hops {
            match parse_hop(hop) {
                // The proxy that appended an unreadable entry is the last one we know.
                None => break,
                Some(ip) => {
                    client = ip.to_canonical();
                    if !is_trusted(&client) {
                        break;
                    }
                }
            }
        }
        Self(client)
    }

    pub fn ip(self) -> IpAddr {
        self.0
    }

    /// What throttling counts by: the address, or for IPv6 its /64 network, which one
    /// subscriber usually holds whole.
    pub fn key(self) -> ClientKey {
        ClientKey(match self.0 {
            IpAddr::V4(ip) => ip.to_string(),
            IpAddr::V6(ip) => Ipv6Net::new(ip, 64)
                .map(|net| net.trunc().to_string())
                .unwrap_or_else(|_| ip.to_string()),
        })
    }
}

impl fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The name a client is counted under (see [`ClientAddr::key`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientKey(String);

impl fmt::Display for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One entry of `X-Forwarded-For`: an address, possibly with a port (`1.2.3.4:5678`,
/// `[2001:db8::1]:443`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Some(rest) = hop.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    hop.rsplit_once(':')?.0.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use ipnet::IpNet;

    use super::ClientAddr;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().filter_map(|net| net.parse().ok()).collect()
    }

    fn client(peer: &str, forwarded: &[&str], trusted: &[&str]) -> String {
        ClientAddr::resolve(ip(peer), forwarded.iter().copied(), &nets(trusted)).to_string()
    }

    #[test]
    fn without_trusted_proxies_the_client_is_the_peer_whatever_it_claims() {
        assert_eq!(client("203.0.113.9", &["198.51.100.1"], &[]), "203.0.113.9");
        let untrusted_peer = client("203.0.113.9", &["198.51.100.1"], &["10.0.0.0/8"]);
        assert_eq!(untrusted_peer, "203.0.113.9");
    }

    #[test]
    fn behind_trusted_proxies_the_client_is_the_rightmost_untrusted_address() {
        let lb = ["10.0.0.0/8"];
        assert_eq!(client("10.0.0.2", &["198.51.100.7"], &lb), "198.51.100.7");
        // A forged entry to the left of the real one is ignored.
        let forged = client("10.0.0.2", &["1.1.1.1, 198.51.100.7"], &lb);
        assert_eq!(forged, "198.51.100.7");
        // Two trusted hops, on two header lines.
        let chained = client("10.0.0.2", &["198.51.100.7", "10.0.0.3"], &lb);
        assert_eq!(chained, "198.51.100.7");
        // Only trusted addresses: the leftmost one is the best known.
        assert_eq!(client("10.0.0.2", &["10.0.0.5"], &lb), "10.0.0.5");
        // No header: the proxy itself.
        assert_eq!(client("10.0.0.2", &[], &lb), "10.0.0.2");
    }

    #[test]
    fn an_unreadable_entry_stops_the_walk_at_the_proxy_that_wrote_it() {
        let lb = ["10.0.0.0/8"];
        assert_eq!(client("10.0.0.2", &["198.51.100.7, junk"], &lb), "10.0.0.2");
        assert_eq!(
            client("10.0.0.2", &["[2001:db8::1]:443"], &lb),
            "2001:db8::1"
        );
        assert_eq!(
            client("10.0.0.2", &["198.51.100.7:5678"], &lb),
            "198.51.100.7"
        );
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_network_and_mapped_ipv4_as_ipv4() {
        let one = ClientAddr::resolve(ip("2001:db8:1:2:aaaa::1"), [].into_iter(), &[]);
        let other = ClientAddr::resolve(ip("2001:db8:1:2:bbbb::9"), [].into_iter(), &[]);
        assert_eq!(one.key(), other.key());
        assert_eq!(one.key().to_string(), "2001:db8:1:2::/64");
        let mapped = ClientAddr::resolve(ip("::ffff:192.0.2.4"), [].into_iter(), &[]);
        assert_eq!(mapped.to_string(), "192.0.2.4");
        assert_eq!(mapped.key().to_string(), "192.0.2.4");
    }
}
