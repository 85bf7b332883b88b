//! HTTP/1.x request head inspection: destination host and User-Agent from the
//! first client payload, borrowed from it without allocation.
//!
//! The payload is one TCP segment, so the head may be cut off anywhere: only
//! lines terminated by LF are looked at, and a partial last line is ignored
//! rather than misread (a cut `Host: exa` must not yield `exa`).

/// Methods of RFC 9110 §9 plus PATCH (RFC 5789): what most clients send,
/// recognised from their first bytes. Any other token is a method too
/// (WebDAV's PROPFIND, `QUERY`, SCCM's `CCM_POST`) once the request line
/// shows its HTTP version.
const METHODS: [&[u8]; 9] = [b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"CONNECT", b"PATCH", b"TRACE"];

/// Host and User-Agent of an HTTP/1.x request, borrowed from the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestHead<'a> {
    /// Destination host without port, IPv6 brackets or one trailing dot;
    /// letter case as sent. Taken from an absolute-form request target, else
    /// the first Host header, else a CONNECT request's authority. `None` if
    /// none of these is present, complete and a plausible ASCII host.
    pub host: Option<&'a str>,
    /// First User-Agent header value, trimmed; `None` if absent, empty or not
    /// UTF-8.
    pub user_agent: Option<&'a str>,
}

/// Cheap check: payload starts with a request line. A common method and a
/// space are enough; any other token method needs the rest of the line to
/// end in an HTTP/1 version (so `EHLO x` or `a001 LOGIN` is not a request).
#[must_use]
pub fn is_request_start(payload: &[u8]) -> bool {
    if METHODS.iter().any(|method| payload.strip_prefix(*method).is_some_and(|rest| rest.first() == Some(&b' '))) {
        return true;
    }
    let line = payload.split(|&b| b == b'\n').next().unwrap_or(payload);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    RequestLine::new_checked(line).is_some()
}

/// Parses the request line and whatever header lines are complete in
/// `payload` (the head may be cut off by the segment). None if the request
/// line is not HTTP/1.x (including when it is itself cut off).
#[must_use]
pub fn parse_request_head(payload: &[u8]) -> Option<RequestHead<'_>> {
    let mut lines = Lines { rest: payload };
    let request_line = RequestLine::new_checked(lines.next()?)?;
    let (mut host_value, mut user_agent_value) = (None, None);
    for line in lines {
        // An empty line ends the head; anything after it is body.
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = header_field(line) else {
            continue;
        };
        if host_value.is_none() && name.eq_ignore_ascii_case(b"host") {
            host_value = Some(value);
        } else if user_agent_value.is_none() && name.eq_ignore_ascii_case(b"user-agent") {
            user_agent_value = Some(value);
        }
        if host_value.is_some() && user_agent_value.is_some() {
            break;
        }
    }
    // RFC 9112 §3.2.2: an absolute-form target overrides the Host header.
    let host = request_line
        .absolute_form_host()
        .or_else(|| host_value.and_then(host_from_authority))
        .or_else(|| request_line.connect_host());
    let user_agent =
        user_agent_value.filter(|value| !value.is_empty()).and_then(|value| std::str::from_utf8(value).ok());
    Some(RequestHead { host, user_agent })
}

/// The complete lines of a payload without their CRLF (or bare LF, which
/// RFC 9112 §2.2 lets recipients accept); an unterminated last line is not
/// yielded because it may be cut short.
struct Lines<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (line, rest) = split_around(self.rest, self.rest.iter().position(|&b| b == b'\n'))?;
        self.rest = rest;
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    }
}

/// `method SP request-target SP HTTP/1.x`, checked.
struct RequestLine<'a> {
    method: &'a [u8],
    target: &'a [u8],
}

impl<'a> RequestLine<'a> {
    /// `None` unless the line is an HTTP/1.x request line, in the forms
    /// common servers accept (nginx's parser): runs of spaces between the
    /// parts, a missing target (`GET HTTP/1.1`, read as `/`), a version
    /// without its minor digit (`HTTP/1.`). A target containing a space
    /// leaves a middle part that is not one word, which rejects it.
    fn new_checked(line: &'a [u8]) -> Option<Self> {
        let (method, rest) = split_around(line, line.iter().position(|&b| b == b' '))?;
        let rest = rest.trim_ascii_start();
        let (target, version) = match split_around(rest, rest.iter().rposition(|&b| b == b' ')) {
            Some((target, version)) => (target.trim_ascii_end(), version),
            None => (&[][..], rest),
        };
        let version_ok = match version.strip_prefix(b"HTTP/1.") {
            Some([]) => true,
            Some([minor]) => minor.is_ascii_digit(),
            _ => false,
        };
        let valid = is_token(method) && version_ok && !target.contains(&b' ');
        valid.then_some(RequestLine { method, target })
    }

    /// Host of an absolute-form target such as `http://user@host:8080/path`.
    fn absolute_form_host(&self) -> Option<&'a str> {
        // Scheme per RFC 3986 §3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
        let scheme_len =
            self.target.iter().position(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')))?;
        let (scheme, rest) = self.target.split_at_checked(scheme_len)?;
        if !scheme.first().is_some_and(u8::is_ascii_alphabetic) {
            return None;
        }
        let rest = rest.strip_prefix(b"://")?;
        let authority_end = rest.iter().position(|&b| matches!(b, b'/' | b'?' | b'#')).unwrap_or(rest.len());
        let authority = rest.get(..authority_end)?;
        // Userinfo ends at the last '@' (RFC 3986 §3.2.1); it is never a host.
        let host_port = split_around(authority, authority.iter().rposition(|&b| b == b'@'))
            .map_or(authority, |(_userinfo, host_port)| host_port);
        host_from_authority(host_port)
    }

    /// Host of a CONNECT request's authority-form target (`host:port`).
    fn connect_host(&self) -> Option<&'a str> {
        if self.method == b"CONNECT" { host_from_authority(self.target) } else { None }
    }
}

/// Splits a header line into name and trimmed value. Lines whose name is not
/// a token (obs-fold continuations, `Host : x`, garbage) are not fields we
/// trust, so they yield `None`.
fn header_field(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let (name, value) = split_around(line, line.iter().position(|&b| b == b':'))?;
    is_token(name).then_some((name, value.trim_ascii()))
}

/// `host[:port]` or `[v6]:port` → host, for a Host header value, CONNECT
/// target or URI authority. The port must be digits (possibly empty, as RFC
/// 3986 allows); the host must be non-empty printable ASCII without URI
/// delimiters.
fn host_from_authority(authority: &[u8]) -> Option<&str> {
    let (host, port) = if let Some(bracketed) = authority.strip_prefix(b"[") {
        let (literal, after) = split_around(bracketed, bracketed.iter().position(|&b| b == b']'))?;
        let port = match after {
            [] => after,
            [b':', port @ ..] => port,
            _ => return None,
        };
        (literal, port)
    } else {
        let (host, port) =
            split_around(authority, authority.iter().position(|&b| b == b':')).unwrap_or((authority, &[]));
        // A fully qualified name's trailing dot names the same host.
        (host.strip_suffix(b".").unwrap_or(host), port)
    };
    let valid = !host.is_empty()
        && host.iter().all(|&b| b.is_ascii_graphic() && !matches!(b, b'/' | b'?' | b'#' | b'@' | b'[' | b']'))
        && port.iter().all(u8::is_ascii_digit);
    if !valid {
        return None;
    }
    std::str::from_utf8(host).ok()
}

/// RFC 9110 §5.6.2 token: one or more tchars.
fn is_token(bytes: &[u8]) -> bool {
    !bytes.is_empty()
        && bytes.iter().all(|&b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

/// Splits `bytes` into the parts before and after the separator byte at
/// `at` (as found by `position`/`rposition`), dropping the separator.
fn split_around(bytes: &[u8], at: Option<usize>) -> Option<(&[u8], &[u8])> {
    let (head, tail) = bytes.split_at_checked(at?)?;
    Some((head, tail.get(1..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(payload: &[u8]) -> Option<&str> {
        parse_request_head(payload).and_then(|head| head.host)
    }

    #[test]
    fn request_start_accepts_common_methods_and_any_token_with_a_version() {
        for method in ["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "CONNECT", "PATCH", "TRACE"] {
            assert!(is_request_start(format!("{method} / HTTP/1.1\r\n").as_bytes()), "{method}");
            assert!(is_request_start(format!("{method} ").as_bytes()), "{method}");
        }
        for line in ["QUERY /contacts HTTP/1.1", "PROPFIND /dav/ HTTP/1.1", "CCM_POST /ccm_system/request HTTP/1.1"] {
            assert!(is_request_start(format!("{line}\r\nHost: a\r\n").as_bytes()), "{line}");
            assert!(is_request_start(line.as_bytes()), "{line}, cut before its CRLF");
        }
        for payload in [
            &b""[..],
            b"GET",
            b"GET/ HTTP/1.1",
            b"PRI * HTTP/2.0\r\n",
            b"\x16\x03\x01\x00\x10",
            b" GET / HTTP/1.1",
            b"EHLO client.example\r\n",
            b"a001 LOGIN user pass\r\n",
            b"PROPFIND /dav/",
        ] {
            assert!(!is_request_start(payload), "{payload:?}");
        }
    }

    #[test]
    fn curl_request() {
        let payload = b"GET /index.html HTTP/1.1\r\nHost: www.example.com\r\n\
            User-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n";
        assert_eq!(
            parse_request_head(payload),
            Some(RequestHead { host: Some("www.example.com"), user_agent: Some("curl/8.5.0") })
        );
    }

    #[test]
    fn bare_lf_line_endings() {
        let head = parse_request_head(b"HEAD / HTTP/1.0\nUser-Agent: x/1\nHost: a.example\n\n").unwrap();
        assert_eq!(head, RequestHead { host: Some("a.example"), user_agent: Some("x/1") });
    }

    #[test]
    fn header_names_case_insensitive_and_values_trimmed() {
        let head =
            parse_request_head(b"GET / HTTP/1.1\r\nhOsT: \t Example.COM  \r\nuser-AGENT:  Mozilla/5.0 (X11) \r\n\r\n")
                .unwrap();
        assert_eq!(head.host, Some("Example.COM"));
        assert_eq!(head.user_agent, Some("Mozilla/5.0 (X11)"));
    }

    #[test]
    fn port_and_brackets_are_stripped() {
        for (value, expected) in [
            ("example.com:8080", Some("example.com")),
            ("example.com:", Some("example.com")),
            ("example.com.", Some("example.com")),
            ("[2001:db8::1]:80", Some("2001:db8::1")),
            ("[2001:db8::1]", Some("2001:db8::1")),
            ("192.0.2.1:443", Some("192.0.2.1")),
            ("example.com:http", None),
            ("2001:db8::1", None),
            ("[2001:db8::1", None),
            ("[2001:db8::1]x", None),
            ("[]:80", None),
            (":80", None),
        ] {
            let payload = format!("GET / HTTP/1.1\r\nHost: {value}\r\n\r\n");
            assert_eq!(host(payload.as_bytes()), expected, "{value}");
        }
    }

    #[test]
    fn implausible_host_values_are_rejected() {
        for value in [&b""[..], b"exa mple.com", b"caf\xc3\xa9.fr", b"\xff\xfe", b"a/b", b"user@host"] {
            let payload = [&b"GET / HTTP/1.1\r\nHost: "[..], value, b"\r\n\r\n"].concat();
            let head = parse_request_head(&payload).unwrap();
            assert_eq!(head.host, None, "{value:?}");
        }
    }

    #[test]
    fn cut_off_header_is_not_found() {
        let full = b"GET / HTTP/1.1\r\nUser-Agent: ua\r\nHost: example.org\r\n";
        assert_eq!(host(full), Some("example.org"));
        // Cut inside the Host line, even right before its LF.
        for cut in [full.len() - 1, full.len() - 2, full.len() - 8] {
            let head = parse_request_head(&full[..cut]).unwrap();
            assert_eq!(head, RequestHead { host: None, user_agent: Some("ua") }, "cut {cut}");
        }
    }

    #[test]
    fn request_line_must_be_complete_http1() {
        for payload in [
            &b"GET / HTTP/1.1"[..],
            b"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            b"GET / HTTP/1.1 extra\r\nHost: a\r\n\r\n",
            b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET / HTTP/1.12\r\nHost: a\r\n\r\n",
            b"GET / HTTP/1.x\r\nHost: a\r\n\r\n",
            b"GET /\r\nHost: a\r\n\r\n",
            b" / HTTP/1.1\r\nHost: a\r\n\r\n",
            b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
            b"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
            b"",
        ] {
            assert_eq!(parse_request_head(payload), None, "{payload:?}");
        }
        // Any token method is a request line; the head does not need headers.
        assert_eq!(parse_request_head(b"PROPFIND /x HTTP/1.1\r\n"), Some(RequestHead { host: None, user_agent: None }));
    }

    #[test]
    fn sloppy_request_lines_that_servers_accept_are_read() {
        for line in [
            &b"GET / HTTP/1."[..],
            b"GET HTTP/1.1",
            b"GET  /  HTTP/1.1",
            b"GET  HTTP/1.0",
            b"QUERY /q HTTP/1.1",
            b"CCM_POST /ccm_system/request HTTP/1.1",
        ] {
            let payload = [line, b"\nHost: a.example\nUser-Agent: x/1\n\n"].concat();
            let head = parse_request_head(&payload);
            assert_eq!(head, Some(RequestHead { host: Some("a.example"), user_agent: Some("x/1") }), "{line:?}");
        }
    }

    #[test]
    fn headers_after_the_head_are_ignored() {
        let payload = b"POST /upload HTTP/1.1\r\nContent-Length: 24\r\n\r\nHost: body.example\r\n\r\n";
        assert_eq!(parse_request_head(payload), Some(RequestHead { host: None, user_agent: None }));
    }

    #[test]
    fn first_host_and_user_agent_win() {
        let payload =
            b"GET / HTTP/1.1\r\nHost: first.example\r\nUser-Agent: one\r\nHost: second.example\r\nUser-Agent: two\r\n\r\n";
        let head = parse_request_head(payload).unwrap();
        assert_eq!(head, RequestHead { host: Some("first.example"), user_agent: Some("one") });
        // Same with each header repeated before the other appears.
        let payload = b"GET / HTTP/1.1\r\nUser-Agent: one\r\nUser-Agent: two\r\n\
            Host: first.example\r\nHost: second.example\r\n\r\n";
        let head = parse_request_head(payload).unwrap();
        assert_eq!(head.user_agent, Some("one"));
        assert_eq!(head.host, Some("first.example"));
        assert_eq!(host(b"GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n"), Some("a.example"));
    }

    #[test]
    fn non_fields_are_skipped() {
        let payload = b"GET / HTTP/1.1\r\nHost : spaced.example\r\n folded: x\r\nno colon here\r\n\
            X-Host: other.example\r\nHost: real.example\r\n\r\n";
        assert_eq!(host(payload), Some("real.example"));
    }

    #[test]
    fn user_agent_validation() {
        let ua = |value: &[u8]| {
            let payload = [&b"GET / HTTP/1.1\r\nUser-Agent:"[..], value, b"\r\n\r\n"].concat();
            parse_request_head(&payload).unwrap().user_agent.map(str::to_owned)
        };
        assert_eq!(ua(b" \xe4\xb8\xad/1 "), Some("\u{4e2d}/1".to_owned()));
        assert_eq!(ua(b"   "), None);
        assert_eq!(ua(b" bad\xff"), None);
    }

    #[test]
    fn connect_uses_authority_without_host() {
        assert_eq!(host(b"CONNECT api.example.net:443 HTTP/1.1\r\n\r\n"), Some("api.example.net"));
        assert_eq!(host(b"CONNECT [2001:db8::2]:443 HTTP/1.1\r\n"), Some("2001:db8::2"));
        assert_eq!(
            host(b"CONNECT api.example.net:443 HTTP/1.1\r\nHost: proxy-host.example:443\r\n\r\n"),
            Some("proxy-host.example")
        );
        // An invalid Host falls back to the authority.
        assert_eq!(host(b"CONNECT api.example.net:443 HTTP/1.1\r\nHost: bad host\r\n\r\n"), Some("api.example.net"));
        // Only CONNECT uses an authority-form target.
        assert_eq!(host(b"GET api.example.net:443 HTTP/1.1\r\n\r\n"), None);
    }

    #[test]
    fn absolute_form_target_gives_host() {
        for (target, expected) in [
            ("http://abs.example/path?q=1", Some("abs.example")),
            ("HTTPS://abs.example:8443", Some("abs.example")),
            ("http://user:pw@abs.example:80/", Some("abs.example")),
            ("http://a@b@abs.example/", Some("abs.example")),
            ("http://[2001:db8::3]:8080/x", Some("2001:db8::3")),
            ("http://abs.example?x", Some("abs.example")),
            ("http:///path", None),
            ("1http://abs.example/", None),
            ("/http://abs.example/", None),
        ] {
            let payload = format!("GET {target} HTTP/1.1\r\n\r\n");
            assert_eq!(host(payload.as_bytes()), expected, "{target}");
        }
        // The target's authority overrides the Host header.
        assert_eq!(host(b"GET http://abs.example/ HTTP/1.1\r\nHost: header.example\r\n\r\n"), Some("abs.example"));
    }

    use synth::XorShift;

    fn within(outer: &[u8], inner: &str) -> bool {
        let (outer, inner) = (outer.as_ptr_range(), inner.as_bytes().as_ptr_range());
        outer.start <= inner.start && inner.end <= outer.end
    }

    /// Checks what must hold for any input; returns whether a head was found.
    fn check_invariants(payload: &[u8]) -> bool {
        let Some(head) = parse_request_head(payload) else {
            return false;
        };
        if let Some(host) = head.host {
            assert!(within(payload, host), "{host:?}");
            assert!(!host.is_empty() && host.bytes().all(|b| b.is_ascii_graphic()), "{host:?}");
        }
        if let Some(user_agent) = head.user_agent {
            assert!(within(payload, user_agent) && !user_agent.is_empty(), "{user_agent:?}");
        }
        true
    }

    #[test]
    fn every_prefix_and_random_mutations_never_panic() {
        let seeds: [&[u8]; 4] = [
            b"GET / HTTP/1.1\r\nHost: www.example.com:8080\r\nUser-Agent: Mozilla/5.0\r\nAccept: */*\r\n\r\n",
            b"POST http://u@[2001:db8::1]:80/p HTTP/1.0\nUser-Agent: a\nHost: ignored\n\nbody",
            b"CONNECT tunnel.example:443 HTTP/1.1\r\nProxy-Authorization: x\r\n\r\n",
            b"OPTIONS * HTTP/1.1\r\nHOST: opt.example\r\n\r\n",
        ];
        for seed in seeds {
            let full = parse_request_head(seed).unwrap();
            assert!(full.host.is_some());
            for cut in 0..=seed.len() {
                let prefix = &seed[..cut];
                check_invariants(prefix);
                // A cut head can lose fields but never report different ones.
                if let Some(head) = parse_request_head(prefix) {
                    assert!(head.host.is_none() || head.host == full.host, "cut {cut}");
                    assert!(head.user_agent.is_none() || head.user_agent == full.user_agent);
                }
            }
        }
        let mut rng = XorShift::new(0x2545_f491_4f6c_dd1d);
        let mut found = 0;
        for round in 0..20_000 {
            let mut input = seeds[round % seeds.len()].to_vec();
            for _ in 0..=rng.below(4) {
                let at = rng.below(input.len());
                let byte = *b"\r\n :[]@/.\xff".get(rng.below(12)).unwrap_or(&u8::try_from(rng.below(256)).unwrap());
                match rng.below(4) {
                    0 => input[at] = byte,
                    1 => input.insert(at, byte),
                    2 => input.truncate(at),
                    _ => {
                        input.remove(at);
                    }
                }
                if input.is_empty() {
                    input.push(b'G');
                }
            }
            if check_invariants(&input) {
                found += 1;
            }
        }
        // Mutations must leave many heads parseable, or this tests little.
        assert!(found > 2_000, "only {found} heads parsed");
    }
}
