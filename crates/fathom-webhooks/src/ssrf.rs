//! The SSRF guard (OWASP API7): a webhook URL may only reach public addresses. Before every
//! connection the host is resolved and each address checked; loopback, private, link-local,
//! carrier-grade NAT, multicast, unspecified, reserved, documentation and cloud-metadata
//! addresses are refused, in their IPv4, IPv6, IPv4-mapped, IPv4-compatible, NAT64 and 6to4
//! forms. Decimal, octal and hex spellings of IPv4 hosts (`2130706433`, `0177.0.0.1`,
//! `0x7f.1`) are normalised by the WHATWG URL parser before the check, so they are judged as
//! the address they mean. The HTTP client resolves through [`GuardedResolver`], which returns
//! only checked addresses: the connection goes to an address that was checked, so a DNS answer
//! that changes between the check and the connection (rebinding) cannot slip through.
//! An explicit allow-list (`webhooks.allow_networks`) lets development and tests reach local
//! receivers.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use url::{Host, Url};

use crate::error::WebhookError;

/// A network in CIDR form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    /// Reads `10.0.0.0/8`, `::1/128` or a bare address (a single host).
    pub fn parse(text: &str) -> Option<Self> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
            None => (text.parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Self { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// An IPv4-mapped IPv6 address is the IPv4 address it maps.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Why an address is refused, or `None` when it is public.
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    const RANGES: &[([u8; 4], u32, &str)] = &[
        ([0, 0, 0, 0], 8, "an unspecified (\"this network\") address"),
        ([10, 0, 0, 0], 8, "a private address"),
        ([100, 64, 0, 0], 10, "a carrier-grade NAT address"),
        ([127, 0, 0, 0], 8, "a loopback address"),
        ([169, 254, 169, 254], 32, "a cloud metadata address"),
        ([169, 254, 0, 0], 16, "a link-local address"),
        ([172, 16, 0, 0], 12, "a private address"),
        ([192, 0, 0, 0], 24, "an IETF protocol assignment address"),
        ([192, 0, 2, 0], 24, "a documentation address"),
        ([192, 88, 99, 0], 24, "a 6to4 relay address"),
        ([192, 168, 0, 0], 16, "a private address"),
        ([198, 18, 0, 0], 15, "a benchmarking address"),
        ([198, 51, 100, 0], 24, "a documentation address"),
        ([203, 0, 113, 0], 24, "a documentation address"),
        ([224, 0, 0, 0], 4, "a multicast address"),
        ([240, 0, 0, 0], 4, "a reserved or broadcast address"),
    ];
    RANGES
        .iter()
        .find(|(net, prefix, _)| in_v4(ip, *net, *prefix))
        .map(|(_, _, why)| *why)
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let bits = u128::from(ip);
    let seg = ip.segments();
    // Forms that carry an IPv4 address are judged by it.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    let embedded = |low: u128| Ipv4Addr::from(u32::try_from(low & 0xffff_ffff).unwrap_or(0));
    if ip.is_unspecified() {
        return Some("an unspecified address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    // IPv4-compatible (::a.b.c.d, deprecated: refused whatever it embeds); NAT64 (64:ff9b::/96,
    // 64:ff9b:1::/48) and 6to4 (2002::/16) reach the IPv4 address they embed.
    if bits >> 32 == 0 {
        return forbidden_v4(embedded(bits)).or(Some("an IPv4-compatible address"));
    }
    if bits >> 32 == 0x0064_ff9b_0000_0000_0000_0000 || seg[0..3] == [0x64, 0xff9b, 1] {
        return forbidden_v4(embedded(bits));
    }
    if seg[0] == 0x2002 {
        let v4 = Ipv4Addr::new(
            (seg[1] >> 8) as u8,
            (seg[1] & 0xff) as u8,
            (seg[2] >> 8) as u8,
            (seg[2] & 0xff) as u8,
        );
        return forbidden_v4(v4);
    }
    const RANGES: &[(u128, u32, &str)] = &[
        (
            0x0100_0000_0000_0000_0000_0000_0000_0000,
            64,
            "a discard-only address",
        ),
        (
            0x2001_0000_0000_0000_0000_0000_0000_0000,
            32,
            "a Teredo address",
        ),
        (
            0x2001_0db8_0000_0000_0000_0000_0000_0000,
            32,
            "a documentation address",
        ),
        (
            0x2001_0010_0000_0000_0000_0000_0000_0000,
            28,
            "an ORCHID address",
        ),
        (
            0xfc00_0000_0000_0000_0000_0000_0000_0000,
            7,
            "a unique local (private) address",
        ),
        (
            0xfe80_0000_0000_0000_0000_0000_0000_0000,
            10,
            "a link-local address",
        ),
        (
            0xfec0_0000_0000_0000_0000_0000_0000_0000,
            10,
            "a site-local address",
        ),
        (
            0xff00_0000_0000_0000_0000_0000_0000_0000,
            8,
            "a multicast address",
        ),
    ];
    RANGES
        .iter()
        .find(|(net, prefix, _)| {
            let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
            bits & mask == net & mask
        })
        .map(|(_, _, why)| *why)
}

/// The guard: the rules above, less what the allow-list lets through.
#[derive(Debug, Clone, Default)]
pub struct Guard {
    allow: Vec<Network>,
}

impl Guard {
    pub fn new(allow: Vec<Network>) -> Self {
        Self { allow }
    }

    /// Whether the guard lets a connection to `ip` through; `Err` says why not.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), &'static str> {
        if self.allow.iter().any(|n| n.contains(ip)) {
            return Ok(());
        }
        forbidden(canonical(ip)).map_or(Ok(()), Err)
    }

    /// Checks a URL's form: absolute http(s), a host, no credentials; an IP-literal host is
    /// checked here (no resolution happens for it).
    pub fn check_url(&self, text: &str) -> Result<Url, WebhookError> {
        let url = Url::parse(text).map_err(|e| WebhookError::url_invalid(text, &e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(WebhookError::url_invalid(
                text,
                "only http and https URLs can receive webhooks",
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(WebhookError::url_invalid(
                text,
                "credentials in the URL are not accepted (they would be stored and logged as part of it)",
            ));
        }
        match url.host() {
            None => return Err(WebhookError::url_invalid(text, "the URL has no host")),
            Some(Host::Ipv4(v4)) => self.refuse(text, IpAddr::V4(v4))?,
            Some(Host::Ipv6(v6)) => self.refuse(text, IpAddr::V6(v6))?,
            Some(Host::Domain(_)) => {}
        }
        Ok(url)
    }

    fn refuse(&self, url: &str, ip: IpAddr) -> Result<(), WebhookError> {
        self.check_ip(ip)
            .map_err(|why| WebhookError::destination_blocked(url, &ip.to_string(), why))
    }

    /// Checks the URL and resolves its host, refusing it if any address it resolves to is
    /// refused (a host that resolves to a private address as well as public ones is suspect).
    pub async fn check(&self, text: &str) -> Result<Url, WebhookError> {
        let url = self.check_url(text)?;
        if let Some(Host::Domain(domain)) = url.host() {
            let port = url.port_or_known_default().unwrap_or(443);
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((domain, port))
                .await
                .map_err(|_| WebhookError::unresolvable(text, domain))?
                .collect();
            if addrs.is_empty() {
                return Err(WebhookError::unresolvable(text, domain));
            }
            for addr in addrs {
                self.refuse(text, addr.ip())?;
            }
        }
        Ok(url)
    }
}

/// The HTTP client's resolver: resolves with the system resolver and returns only addresses
/// the guard allows (none: an error), so every connection goes to a checked address.
pub struct GuardedResolver(pub Arc<Guard>);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.0.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(bad) = addrs.iter().find(|a| guard.check_ip(a.ip()).is_err()) {
                return Err(format!("destination blocked: {host} resolves to {}", bad.ip()).into());
            }
            if addrs.is_empty() {
                return Err(format!("{host} resolves to no address").into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn every_kind_of_internal_address_is_refused() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "10.1.2.3",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254",
            "169.254.1.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:7f00:1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "100::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(forbidden(canonical(ip)).is_some(), "{ip} should be refused");
            assert!(Guard::default().check_ip(ip).is_err(), "{ip}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(forbidden(canonical(ip)), None, "{ip}");
        }
    }

    #[test]
    fn the_allow_list_lets_its_networks_through_only() {
        let guard = Guard::new(vec![
            Network::parse("127.0.0.0/8").unwrap(),
            Network::parse("::1").unwrap(),
        ]);
        assert!(guard.check_ip("127.0.0.1".parse().unwrap()).is_ok());
        assert!(guard.check_ip("::ffff:127.0.0.1".parse().unwrap()).is_ok());
        assert!(guard.check_ip("::1".parse().unwrap()).is_ok());
        assert!(guard.check_ip("10.0.0.1".parse().unwrap()).is_err());
        assert!(Network::parse("10.0.0.0/33").is_none());
        assert!(Network::parse("nonsense").is_none());
    }

    #[test]
    fn odd_spellings_of_ipv4_hosts_are_judged_as_the_address_they_mean() {
        let guard = Guard::default();
        for url in [
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0177.0.0.1/",
            "http://0x7f.1/",
            "http://127.1/",
            "http://017700000001/",
            "http://0/",
            "http://[::ffff:7f00:1]/",
            "http://[0:0:0:0:0:ffff:127.0.0.1]/",
            "http://0xa9.0xfe.0xa9.0xfe/",
        ] {
            let err = guard.check_url(url).unwrap_err();
            assert_eq!(
                err.code,
                fathom_core::ErrorCode::WebhookDestinationBlocked,
                "{url}"
            );
        }
        for url in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "gopher://x/",
            "http://user:pw@example.com/",
            "not a url",
        ] {
            let err = guard.check_url(url).unwrap_err();
            assert_eq!(err.code, fathom_core::ErrorCode::WebhookUrlInvalid, "{url}");
        }
    }
}
