//! Who is asking: the client's address, the key every limit counts it under, and the
//! per-address limits that use it.
//!
//! The address is the peer's, or, only behind a trusted proxy, the one the proxy reports. Every
//! limit (the contact form, booking, sign-in, connections per address) counts a client by its
//! [`ClientKey`]: an IPv4 address, or an IPv6 address's /64. Limits are kept in memory with
//! `governor` and forget addresses that are back to a full allowance.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;

use axum::http::HeaderMap;
use governor::{Quota, RateLimiter, clock::DefaultClock, state::keyed::DefaultKeyedStateStore};

/// The client's address: the peer, or — only behind a trusted proxy — the last address in
/// `X-Forwarded-For` that is not itself a trusted proxy.
/// The request's `User-Agent`, or nothing.
pub fn user_agent(headers: &HeaderMap) -> &str {
    headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter_map(|s| s.parse::<IpAddr>().ok())
        .rev()
        .find(|ip| !trusted.contains(ip))
        .unwrap_or(peer)
}

/// What a limit counts a client under: an IPv4 address, or an IPv6 address's /64 (a household
/// or server is given a whole /64, so single IPv6 addresses within it cost nothing to change).
/// An IPv4 address written as IPv6 (`::ffff:192.0.2.7`) is that IPv4 address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientKey(IpAddr);

impl ClientKey {
    pub fn of(ip: IpAddr) -> ClientKey {
        ClientKey(match ip {
            IpAddr::V4(_) => ip,
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let s = v6.segments();
                    IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
                }
            },
        })
    }
}

/// `192.0.2.7`, or `2001:db8:1:2::/64`.
impl std::fmt::Display for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

/// The key of the client of a request from `peer` (see [`client_ip`]).
pub fn client_key(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> ClientKey {
    ClientKey::of(client_ip(peer, headers, trusted))
}

/// A per-client limit (the contact form, booking, sign-in). Kept in this server's memory:
/// behind several servers each applies it on its own.
pub struct AddressLimiter {
    limiter: RateLimiter<ClientKey, DefaultKeyedStateStore<ClientKey>, DefaultClock>,
}

impl AddressLimiter {
    pub fn new(per_hour: u32) -> Self {
        let n = NonZeroU32::new(per_hour.max(1)).unwrap_or(NonZeroU32::MIN);
        AddressLimiter {
            limiter: RateLimiter::keyed(Quota::per_hour(n).allow_burst(n)),
        }
    }

    /// `per_minute` at once, then one more each `60 / per_minute` seconds.
    pub fn per_minute(per_minute: u32) -> Self {
        let n = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        AddressLimiter {
            limiter: RateLimiter::keyed(Quota::per_minute(n).allow_burst(n)),
        }
    }

    pub fn allow(&self, client: ClientKey) -> bool {
        // Forget addresses that are back to a full allowance, so memory stays bounded under a
        // flood from many addresses.
        if self.limiter.len() > 10_000 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter.check_key(&client).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let proxy: IpAddr = "10.0.0.1".parse().expect("ip");
        let client: IpAddr = "203.0.113.9".parse().expect("ip");
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("198.51.100.1, 203.0.113.9"),
        );
        assert_eq!(client_ip(proxy, &h, &[]), proxy);
        assert_eq!(client_ip(proxy, &h, &[proxy]), client);
        assert_eq!(client_ip(client, &h, &[proxy]), client);
    }

    fn key(ip: &str) -> ClientKey {
        ClientKey::of(ip.parse().expect("ip"))
    }

    #[test]
    fn the_limiter_allows_a_burst_then_refuses() {
        let l = AddressLimiter::new(3);
        let (a, b) = (key("127.0.0.2"), key("127.0.0.3"));
        assert!(l.allow(a) && l.allow(a) && l.allow(a));
        assert!(!l.allow(a));
        assert!(l.allow(b));
    }

    #[test]
    fn an_ipv6_slash_64_is_one_client() {
        let a = key("2001:db8:1:2:aaaa::1");
        assert_eq!(a, key("2001:db8:1:2:ffff:1:2:3"));
        assert_eq!(a.to_string(), "2001:db8:1:2::/64");
        assert_ne!(a, key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:192.0.2.7"), key("192.0.2.7"));
        assert_eq!(key("::ffff:192.0.2.7").to_string(), "192.0.2.7");
        assert_ne!(key("192.0.2.7"), key("192.0.2.8"));
        let l = AddressLimiter::new(2);
        assert!(l.allow(key("2001:db8::1")) && l.allow(key("2001:db8::2")));
        assert!(!l.allow(key("2001:db8::3")), "the same /64");
        assert!(l.allow(key("2001:db8:0:1::1")), "the next /64");
    }
}
