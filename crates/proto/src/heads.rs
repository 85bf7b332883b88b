//! Heads in the HTTP/1.x shape: a start line and `Name: value` header
//! lines up to an empty line. SSDP (UPnP Device Architecture 2.0,
//! section 1) sends them over UDP as `NOTIFY * HTTP/1.1`, `M-SEARCH *
//! HTTP/1.1` and `HTTP/1.1 200 OK`; an HTTP server answers with one.
//! Zero-copy.

/// A start line and the header lines that are complete in the bytes.
#[derive(Debug, Clone, Copy)]
pub struct Head<'a> {
    /// The first line, without its CRLF: `NOTIFY * HTTP/1.1`,
    /// `HTTP/1.1 200 OK`.
    pub start_line: &'a [u8],
    headers: &'a [u8],
}

impl<'a> Head<'a> {
    /// The head of `data`, if its first line is complete and looks like
    /// an HTTP/1.x status line or a request line with an HTTP/1.x version.
    pub fn new_checked(data: &'a [u8]) -> Option<Self> {
        let end = data.windows(2).position(|w| w == b"\r\n")?;
        let start_line = data.get(..end)?;
        let status = start_line.starts_with(b"HTTP/1.");
        let request = start_line.ends_with(b" HTTP/1.1") || start_line.ends_with(b" HTTP/1.0");
        (status || request).then(|| Head { start_line, headers: data.get(end + 2..).unwrap_or(&[]) })
    }

    /// Whether this is a response (status line).
    pub fn is_response(&self) -> bool {
        self.start_line.starts_with(b"HTTP/1.")
    }

    /// Whether the start line is this request method.
    pub fn is_method(&self, method: &[u8]) -> bool {
        self.start_line.strip_prefix(method).is_some_and(|rest| rest.first() == Some(&b' '))
    }

    /// The first header `name` (case-insensitive), value trimmed; `None`
    /// when absent, empty or not UTF-8.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        let mut rest = self.headers;
        while let Some(end) = rest.windows(2).position(|w| w == b"\r\n") {
            let (line, tail) = rest.split_at(end);
            rest = tail.get(2..).unwrap_or(&[]);
            if line.is_empty() {
                return None;
            }
            let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
            let (field, value) = line.split_at(colon);
            if field.eq_ignore_ascii_case(name.as_bytes()) {
                let value = core::str::from_utf8(value.get(1..)?).ok()?.trim();
                return (!value.is_empty()).then_some(value);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ssdp_and_http_heads() {
        let notify = b"NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nserver: Linux/3.0 UPnP/1.0 X/1\r\n\r\nSERVER: late\r\n";
        let head = Head::new_checked(notify).unwrap();
        assert!(head.is_method(b"NOTIFY") && !head.is_response());
        assert_eq!(head.header("Server"), Some("Linux/3.0 UPnP/1.0 X/1"));
        assert_eq!(head.header("usn"), None);
        let reply = Head::new_checked(b"HTTP/1.1 200 OK\r\nServer: Hikvision-Webs\r\n").unwrap();
        assert!(reply.is_response());
        assert_eq!(reply.header("server"), Some("Hikvision-Webs"));
        assert!(Head::new_checked(b"SSH-2.0-OpenSSH\r\n").is_none());
        assert!(Head::new_checked(b"HTTP/1.1 200 OK").is_none(), "the start line is cut off");
    }

    #[test]
    fn every_prefix_is_total() {
        let m = b"HTTP/1.1 200 OK\r\nServer:\r\nA: \xff\r\nServer: x\r\n\r\n";
        for n in 0..=m.len() {
            if let Some(h) = Head::new_checked(&m[..n]) {
                let _ = (h.header("server"), h.header("a"), h.is_response());
            }
        }
    }
}
