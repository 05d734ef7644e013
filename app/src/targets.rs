//! Where an HTTP monitor may connect. A customer's monitor reaches public unicast
//! addresses only: never the Directory, its database, the platform's private networks or
//! a cloud's metadata service. The checker resolves each host itself, keeps only the
//! addresses that pass, and connects to one of those (no second lookup that DNS rebinding
//! could answer differently); an address written in the URL passes the same test, on
//! every redirect hop. Staff may let a project's monitors reach internal addresses.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Which addresses a monitor may connect to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Public unicast addresses only (every customer's monitor).
    Public,
    /// Any address (a project whose monitors staff allowed internal targets).
    Internal,
}

impl Reach {
    pub fn of_project(internal_monitor_targets: bool) -> Reach {
        if internal_monitor_targets { Reach::Internal } else { Reach::Public }
    }

    pub fn allows(self, ip: IpAddr) -> bool {
        self == Reach::Internal || is_public(ip)
    }
}

/// Whether an address is public unicast: not loopback, unspecified, private (RFC 1918,
/// fc00::/7), link-local, shared (CGNAT), multicast, broadcast, reserved, for
/// documentation or benchmarks, and not an IPv4 address of those kinds written as IPv6
/// (mapped, compatible, SIIT, NAT64, 6to4).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_public(v4),
        IpAddr::V6(v6) => v6_public(v6),
    }
}

fn v4_public(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let special = a == 0 // "this network", 0.0.0.0 included
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254/16, the metadata services
        || (a == 100 && (b & 0xc0) == 64) // 100.64/10, shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // 192.0.0/24, protocol assignments
        || ip.is_documentation()
        || (a == 198 && (b & 0xfe) == 18) // 198.18/15, benchmarking
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || ip.is_multicast()
        || a >= 240; // reserved, and the broadcast address
    !special
}

fn v6_public(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return v4_public(v4);
    }
    let s = ip.segments();
    let special = ip.is_unspecified()
        || ip.is_loopback()
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] & 0xff00) == 0xff00 // multicast
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x3fff && s[1] < 0x1000) // documentation (3fff::/20)
        || (s[0] == 0x2001 && s[1] < 0x0200) // protocol assignments, Teredo 2001::/32 included
        || (s[0] == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0) // discard-only
        || (s[0] == 0x0064 && s[1] == 0xff9b && s[2] == 1) // local-use NAT64 64:ff9b:1::/48
        || s[0] == 0; // the rest of ::/16 is reserved
    !special
}

/// The IPv4 address an IPv6 address stands for, where it stands for one.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let last = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        // ::a.b.c.d (compatible), ::ffff:a.b.c.d (mapped), ::ffff:0:a.b.c.d (SIIT)
        [0, 0, 0, 0, 0, 0, _, _] | [0, 0, 0, 0, 0, 0xffff, _, _] | [0, 0, 0, 0, 0xffff, 0, _, _] => Some(last),
        // 64:ff9b::/96, the well-known NAT64 prefix
        [0x0064, 0xff9b, 0, 0, 0, 0, _, _] => Some(last),
        // 2002:AABB:CCDD::/48, 6to4
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8)),
        _ => None,
    }
}

/// Why a monitor's URL can never pass, judged from the URL alone (an address written in
/// it, or a name that always means this machine), for a refusal at configuration time.
pub fn never_reachable(url: &url::Url, reach: Reach) -> Option<String> {
    if reach == Reach::Internal {
        return None;
    }
    let host = url.host()?;
    let refused = match host {
        url::Host::Ipv4(v4) => !is_public(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => !is_public(IpAddr::V6(v6)),
        url::Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
    };
    refused.then(|| {
        format!(
            "url: {host} is not a public address; a monitor reaches public addresses only \
             (staff can allow internal targets for a project)"
        )
    })
}

/// The address written in a URL, if it is one (the URL parser has already read forms
/// like `2130706433` and `127.1` as the IPv4 address they denote).
pub fn literal(url: &url::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(_) => None,
    }
}

/// The HTTP client's resolver: the system's lookup, less every address `reach` refuses.
/// The client connects only to what this answers, so the address vetted is the address
/// connected to.
pub struct VettedResolver {
    pub reach: Reach,
    /// For tests: addresses treated as public besides the public ones.
    pub also: fn(IpAddr) -> bool,
}

/// Raised when no address of a name may be reached; the checker reports it exactly as a
/// failed connection, so a customer cannot tell a refused target from a closed port.
#[derive(Debug, thiserror::Error)]
#[error("no address of this name may be reached")]
pub struct Refused;

impl reqwest::dns::Resolve for VettedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let (reach, also) = (self.reach, self.also);
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let vetted: Vec<SocketAddr> = found.filter(|a| reach.allows(a.ip()) || also(a.ip())).collect();
            if vetted.is_empty() {
                return Err(Box::new(Refused) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(vetted.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(text: &str) -> bool {
        is_public(text.parse().unwrap())
    }

    #[test]
    fn internal_addresses_in_every_spelling_are_not_public() {
        let refused = [
            "127.0.0.1",
            "127.1.2.3",
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "192.0.0.1",
            "192.0.2.1",
            "198.51.100.1",
            "203.0.113.1",
            "198.18.0.1",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "2001::1",
            "100::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "::ffff:0:127.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1.2.3.4",
            "2002:7f00:1::1",
            "2002:c0a8:101::1",
        ];
        for ip in refused {
            assert!(!public(ip), "{ip} must not be public");
        }
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "100.128.0.1",
            "172.32.0.1",
            "2a00:1450:4001::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(public(ip), "{ip} is public");
        }
    }

    #[test]
    fn urls_that_can_never_pass_are_named_at_configuration() {
        let never = |u: &str| never_reachable(&url::Url::parse(u).unwrap(), Reach::Public).is_some();
        for u in [
            "http://127.0.0.1:8080/",
            "http://0.0.0.0/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://2130706433/",
            "http://127.1/",
            "http://0x7f000001/",
            "http://017700000001/",
            "http://169.254.169.254/latest/meta-data/",
            "http://localhost/",
            "http://LOCALHOST./",
            "http://db.localhost:5432/",
            "http://10.1.2.3/",
            "http://100.64.1.1/",
        ] {
            assert!(never(u), "{u}");
        }
        assert!(!never("https://shop.example.com/health"));
        assert!(!never("http://8.8.8.8/"));
        assert!(never_reachable(&url::Url::parse("http://10.1.2.3/").unwrap(), Reach::Internal).is_none());
    }
}
