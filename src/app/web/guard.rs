//! Which requests a browser could have been tricked into sending, and are
//! refused for it.
//!
//! - **Host** (DNS rebinding: a page on evil.example re-points its name at
//!   the sensor, then reads it as same-origin): a request must name the
//!   sensor by an IP address (a rebinding page can only use a name), by
//!   `localhost` when the sensor listens on loopback, or by a name in
//!   `--web.allowed-hosts`.
//! - **Origin** (cross-site POST): a request that changes state carries no
//!   `Origin` (not a browser) or the sensor's own origin.

use std::net::{IpAddr, SocketAddr};

/// The `Host` values a sensor answers to.
#[derive(Debug, Clone)]
pub(crate) struct HostPolicy {
    listen: SocketAddr,
    /// Lower case, as `name` or `name:port`; `*` allows any.
    allowed: Vec<String>,
}

/// A `host[:port]` authority split into its parts, lower case, without a
/// trailing dot or IPv6 brackets.
fn split_authority(authority: &str) -> Option<(String, Option<u16>)> {
    let authority = authority.trim();
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (host, port)
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        Some(p) => Some(p.parse().ok()?),
        None => None,
    };
    Some((host.trim_end_matches('.').to_ascii_lowercase(), port))
}

impl HostPolicy {
    pub fn new(listen: SocketAddr, allowed: &[String]) -> Self {
        let allowed = allowed.iter().map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase()).collect();
        HostPolicy { listen, allowed }
    }

    /// Whether a request with this `Host` header (if any) is answered.
    pub fn allows(&self, host: Option<&str>) -> bool {
        // No Host: HTTP/1.0 or a hand-made request, never a browser's.
        let Some(host) = host else { return true };
        if self.allowed.iter().any(|a| a == "*") {
            return true;
        }
        let Some((name, port)) = split_authority(host) else { return false };
        if let Ok(ip) = name.parse::<IpAddr>() {
            let listen = self.listen.ip();
            return listen.is_unspecified() || ip == listen;
        }
        if name == "localhost" && (self.listen.ip().is_loopback() || self.listen.ip().is_unspecified()) {
            return true;
        }
        self.allowed
            .iter()
            .any(|a| *a == name || port.is_some_and(|p| split_authority(a) == Some((name.clone(), Some(p)))))
    }
}

/// Whether a state-changing request's `Origin` is acceptable: absent, or
/// the origin the request was sent to (scheme and `Host`).
pub(crate) fn same_origin(origin: Option<&str>, host: Option<&str>, tls: bool) -> bool {
    let Some(origin) = origin else { return true };
    let Some(host) = host else { return false };
    let scheme = if tls { "https" } else { "http" };
    let default_port = if tls { 443 } else { 80 };
    let Some(authority) = origin.trim().strip_prefix(scheme).and_then(|r| r.strip_prefix("://")) else {
        // `null` (a sandboxed frame, a file:// page) or another scheme.
        return false;
    };
    match (split_authority(authority.trim_end_matches('/')), split_authority(host)) {
        (Some((o_host, o_port)), Some((h_host, h_port))) => {
            o_host == h_host && o_port.unwrap_or(default_port) == h_port.unwrap_or(default_port)
        }
        _ => false,
    }
}

/// Whether `Sec-Fetch-Site` (sent by current browsers) says the request
/// came from another site; absent says nothing.
pub(crate) fn cross_site_fetch(sec_fetch_site: Option<&str>) -> bool {
    matches!(sec_fetch_site.map(str::trim), Some("cross-site" | "same-site"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(listen: &str, allowed: &[&str]) -> HostPolicy {
        HostPolicy::new(listen.parse().unwrap(), &allowed.iter().map(ToString::to_string).collect::<Vec<_>>())
    }

    #[test]
    fn hosts_on_loopback() {
        let p = policy("127.0.0.1:9799", &[]);
        for ok in ["127.0.0.1:9799", "127.0.0.1", "localhost:9799", "LOCALHOST.", "localhost"] {
            assert!(p.allows(Some(ok)), "{ok}");
        }
        assert!(p.allows(None));
        for bad in ["evil.example", "evil.example:9799", "10.0.0.1:9799", "", ":9799", "[::1", "127.0.0.1:x"] {
            assert!(!p.allows(Some(bad)), "{bad}");
        }
    }

    #[test]
    fn hosts_on_a_routable_or_wildcard_address() {
        let p = policy("192.0.2.10:9799", &["sensor1.example.net", "sensor1:9800"]);
        assert!(p.allows(Some("192.0.2.10:9799")));
        assert!(!p.allows(Some("192.0.2.11:9799")));
        assert!(!p.allows(Some("localhost:9799")), "localhost is not this address");
        assert!(p.allows(Some("Sensor1.example.net:9799")));
        assert!(p.allows(Some("sensor1:9800")));
        assert!(!p.allows(Some("sensor1:9799")), "the entry names a port");
        assert!(!p.allows(Some("sensor1.example.net.evil.example")));

        let any_ip = policy("[::]:9799", &[]);
        assert!(any_ip.allows(Some("[2001:db8::1]:9799")) && any_ip.allows(Some("198.51.100.7")));
        assert!(!any_ip.allows(Some("rebind.evil.example:9799")));
        assert!(policy("[::]:9799", &["*"]).allows(Some("anything.example")));
    }

    #[test]
    fn origins() {
        assert!(same_origin(None, Some("127.0.0.1:9799"), false));
        assert!(same_origin(Some("http://127.0.0.1:9799"), Some("127.0.0.1:9799"), false));
        assert!(same_origin(Some("https://sensor1.example.net"), Some("sensor1.example.net:443"), true));
        assert!(!same_origin(Some("http://sensor1.example.net"), Some("sensor1.example.net"), true), "scheme");
        assert!(!same_origin(Some("http://evil.example"), Some("127.0.0.1:9799"), false));
        assert!(!same_origin(Some("http://127.0.0.1:8080"), Some("127.0.0.1:9799"), false), "port");
        assert!(!same_origin(Some("null"), Some("127.0.0.1:9799"), false));
        assert!(!same_origin(Some("http://127.0.0.1:9799"), None, false));
        assert!(
            cross_site_fetch(Some("cross-site")) && !cross_site_fetch(Some("same-origin")) && !cross_site_fetch(None)
        );
    }
}
