//! DNS that a sensor cannot read: DNS over TLS (RFC 7858), over HTTPS (RFC
//! 8484) and over QUIC (RFC 9250). Their flows hide the names looked up, so
//! the flow log marks them; what tells them apart from other TLS and QUIC
//! is the port (853), the protocol the client offers by ALPN (`dot`,
//! `doq`), or the resolver's own name in the hello.

use crate::decode::{IPPROTO_TCP, IPPROTO_UDP};

/// RFC 7858 §3.1: DNS over TLS.
pub const DOT_PORT: u16 = 853;
/// RFC 9250 §4.1.1: DNS over QUIC, the same number on UDP.
pub const DOQ_PORT: u16 = 853;

/// RFC 8484 §6: the media type of DNS messages in HTTP.
pub const DNS_MESSAGE_MEDIA_TYPE: &str = "application/dns-message";

/// How a flow carries DNS hidden from the sensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncryptedDns {
    /// DNS over TLS (RFC 7858, port 853).
    Dot,
    /// DNS over HTTPS (RFC 8484).
    Doh,
    /// DNS over QUIC (RFC 9250, UDP 853 or ALPN `doq`).
    Doq,
}

impl EncryptedDns {
    /// The `encrypted_dns` flow record field's value.
    pub fn as_str(self) -> &'static str {
        match self {
            EncryptedDns::Dot => "dot",
            EncryptedDns::Doh => "doh",
            EncryptedDns::Doq => "doq",
        }
    }
}

/// Public resolvers' DoH and DoT host names: `(name, whole subtree)`. A
/// subtree entry also covers the provider's per-filter and per-profile
/// names (`family.cloudflare-dns.com`, `firefox.dns.nextdns.io`).
///
/// Sources: curl's list of public DoH servers
/// (<https://github.com/curl/curl/wiki/DNS-over-HTTPS>), Mozilla's Trusted
/// Recursive Resolver providers (`network.trr.default_provider_uri`,
/// `mozilla.cloudflare-dns.com`; NextDNS's `firefox.dns.nextdns.io`), and
/// each provider's own setup page: Google Public DNS
/// (<https://developers.google.com/speed/public-dns/docs/secure-transports>:
/// `dns.google`), Cloudflare 1.1.1.1
/// (<https://developers.cloudflare.com/1.1.1.1/encryption/>:
/// `cloudflare-dns.com`, DoT `one.one.one.one`), Quad9
/// (<https://www.quad9.net/service/service-addresses-and-features/>:
/// `dns.quad9.net`), OpenDNS (<https://support.opendns.com/hc/en-us/articles/360038086532>:
/// `doh.opendns.com`), NextDNS (<https://nextdns.io>: `dns.nextdns.io`).
const PUBLIC_RESOLVERS: [(&str, bool); 6] = [
    ("dns.google", true),
    ("cloudflare-dns.com", true),
    ("one.one.one.one", false),
    ("dns.quad9.net", false),
    ("doh.opendns.com", false),
    ("dns.nextdns.io", true),
];

/// Whether `name` (any case, a trailing dot allowed) is a public
/// resolver's DoH/DoT name.
pub fn is_public_resolver(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    PUBLIC_RESOLVERS.iter().any(|&(entry, subtree)| {
        let Some(cut) = name.len().checked_sub(entry.len()) else { return false };
        let (head, tail) = name.split_at_checked(cut).unwrap_or(("", ""));
        tail.eq_ignore_ascii_case(entry) && (head.is_empty() || (subtree && head.ends_with('.')))
    })
}

/// What a TLS or QUIC hello says: one to TCP 853 is DNS over TLS and one to
/// UDP 853 DNS over QUIC, whatever its name; one naming a public resolver is
/// DNS over HTTPS elsewhere.
pub fn from_hello(protocol: u8, server_port: u16, server_name: Option<&str>) -> Option<EncryptedDns> {
    match (protocol, server_port) {
        (IPPROTO_TCP, DOT_PORT) => return Some(EncryptedDns::Dot),
        (IPPROTO_UDP, DOQ_PORT) => return Some(EncryptedDns::Doq),
        _ => {}
    }
    server_name.filter(|name| is_public_resolver(name)).map(|_| EncryptedDns::Doh)
}

/// What the protocol a hello offers first says, on any port: `doq` (RFC
/// 9250 §4.1.1; `doq-i00` to `doq-i12` while it was a draft, which some
/// resolvers still offer) over QUIC, `dot` (IANA's ALPN registry, for RFC
/// 7858) over TLS.
pub fn from_alpn(protocol: u8, alpn: &str) -> Option<EncryptedDns> {
    match protocol {
        IPPROTO_UDP if alpn == "doq" || alpn.starts_with("doq-i") => Some(EncryptedDns::Doq),
        IPPROTO_TCP if alpn == "dot" => Some(EncryptedDns::Dot),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::IPPROTO_UDP;

    #[test]
    fn resolver_names_match_whole_labels() {
        for name in
            ["dns.google", "DNS.Google.", "mozilla.cloudflare-dns.com", "firefox.dns.nextdns.io", "dns.quad9.net"]
        {
            assert!(is_public_resolver(name), "{name}");
        }
        for name in ["notdns.google", "dns.google.example", "x.dns.quad9.net", "cloudflare-dns.com.evil", "google", ""]
        {
            assert!(!is_public_resolver(name), "{name}");
        }
    }

    #[test]
    fn port_853_is_dot_and_resolver_names_elsewhere_are_doh() {
        assert_eq!(from_hello(IPPROTO_TCP, 853, None), Some(EncryptedDns::Dot));
        assert_eq!(from_hello(IPPROTO_TCP, 853, Some("dns.google")), Some(EncryptedDns::Dot));
        assert_eq!(from_hello(IPPROTO_TCP, 443, Some("dns.google")), Some(EncryptedDns::Doh));
        assert_eq!(from_hello(IPPROTO_UDP, 443, Some("cloudflare-dns.com")), Some(EncryptedDns::Doh));
        assert_eq!(from_hello(IPPROTO_UDP, 853, None), Some(EncryptedDns::Doq), "DNS over QUIC");
        assert_eq!(from_hello(IPPROTO_UDP, 853, Some("dns.adguard-dns.com")), Some(EncryptedDns::Doq));
        assert_eq!(from_hello(IPPROTO_TCP, 443, Some("www.google.com")), None);
    }

    #[test]
    fn dns_alpns_mark_their_transport_on_any_port() {
        assert_eq!(from_alpn(IPPROTO_UDP, "doq"), Some(EncryptedDns::Doq));
        assert_eq!(from_alpn(IPPROTO_UDP, "doq-i02"), Some(EncryptedDns::Doq));
        assert_eq!(from_alpn(IPPROTO_TCP, "dot"), Some(EncryptedDns::Dot));
        for (protocol, alpn) in [(IPPROTO_TCP, "doq"), (IPPROTO_UDP, "dot"), (IPPROTO_UDP, "h3"), (IPPROTO_UDP, "doqx")]
        {
            assert_eq!(from_alpn(protocol, alpn), None, "{alpn} over {protocol}");
        }
    }
}
