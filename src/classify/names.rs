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
        Some(NormalizedName { buf, len: name.len() as u8 })
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII bytes were copied in.
        std::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl std::fmt::Debug for NormalizedName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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
}
