//! Host names as the classifier compares them.

/// A DNS name normalised for matching: ASCII-lowercased, without the
/// trailing dot, at most 253 bytes; kept inline so matching never allocates.
#[derive(Clone, Copy)]
pub struct NormalizedName {
    buf: [u8; 253],
    len: u8,
}

impl NormalizedName {
    /// `None` for names that cannot be DNS names (too long, spaces, control
    /// bytes, empty labels).
    pub fn new(name: &str) -> Option<NormalizedName> {
        let name = name.strip_suffix('.').unwrap_or(name);
        if name.len() > 253 {
            return None;
        }
        let mut buf = [0u8; 253];
        let mut previous = b'.';
        for (slot, &b) in buf.iter_mut().zip(name.as_bytes()) {
            // '*' appears in real queries (`*.teams.microsoft.com`); as a
            // plain label character it can only ever match as a suffix.
            let ok = b.is_ascii_alphanumeric() || b"-_*".contains(&b) || (b == b'.' && previous != b'.');
            if !ok {
                return None;
            }
            *slot = b.to_ascii_lowercase();
            previous = b;
        }
        if previous == b'.' && !name.is_empty() {
            return None;
        }
        Some(NormalizedName { buf, len: u8::try_from(name.len()).ok()? })
    }

    /// The normalised name.
    pub fn as_str(&self) -> &str {
        // Only ASCII bytes were copied in.
        std::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or_default()
    }
}

/// Akamai edge domains whose host names embed the customer's host name
/// whole: `captive.apple.com.edgekey.net` is Akamai's edge for
/// `captive.apple.com`. (Akamai's other names, `e6858.dsce9.akamaiedge.net`
/// or `img-s-msn-com.akamaized.net` with dashes, embed nothing readable.)
pub(crate) const AKAMAI_EDGE_DOMAINS: [&str; 3] = ["edgekey.net", "edgesuite.net", "akamaized.net"];

/// Splits an Akamai edge name into the host name it embeds and the edge
/// domain: `Some(("captive.apple.com", "edgekey.net"))`. The embedded part
/// must have at least two labels, so that a bare brand label
/// (`apple.edgekey.net`) never reads as a name.
pub(crate) fn akamai_embedded_name(name: &str) -> Option<(&str, &'static str)> {
    AKAMAI_EDGE_DOMAINS.iter().find_map(|&edge| {
        let inner = name.strip_suffix(edge)?.strip_suffix('.')?;
        inner.contains('.').then_some((inner, edge))
    })
}

impl std::fmt::Debug for NormalizedName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// At most `max` bytes of `s`, cut at a character boundary: what a flow or a
/// host keeps of a name, agent or banner however long the wire's is.
pub(crate) fn truncated(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let end = (0..=max).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0);
    s.get(..end).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_trailing_dot() {
        assert_eq!(NormalizedName::new("WWW.Apple.com.").unwrap().as_str(), "www.apple.com");
        assert_eq!(NormalizedName::new("_dns.resolver.arpa").unwrap().as_str(), "_dns.resolver.arpa");
        assert!(NormalizedName::new("a..b").is_none());
        assert!(NormalizedName::new("a b").is_none());
        assert_eq!(NormalizedName::new("*.Teams.microsoft.com").unwrap().as_str(), "*.teams.microsoft.com");
        assert!(NormalizedName::new(".apple.com").is_none());
        assert!(NormalizedName::new(&"a".repeat(254)).is_none());
        assert_eq!(NormalizedName::new("").unwrap().as_str(), "");
    }

    #[test]
    fn reads_the_host_an_akamai_edge_name_embeds() {
        assert_eq!(akamai_embedded_name("captive.apple.com.edgekey.net"), Some(("captive.apple.com", "edgekey.net")));
        assert_eq!(
            akamai_embedded_name("appldnld.apple.com.edgesuite.net"),
            Some(("appldnld.apple.com", "edgesuite.net"))
        );
        assert_eq!(akamai_embedded_name("a.b.akamaized.net"), Some(("a.b", "akamaized.net")));
        assert_eq!(akamai_embedded_name("apple.edgekey.net"), None, "one label is not a host name");
        assert_eq!(akamai_embedded_name("img-s-msn-com.akamaized.net"), None);
        assert_eq!(akamai_embedded_name("edgekey.net"), None);
        assert_eq!(akamai_embedded_name("www.apple.com.notedgekey.net"), None);
        assert_eq!(akamai_embedded_name("www.apple.com"), None);
    }
}
