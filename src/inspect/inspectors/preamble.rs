//! TLS that does not start the stream: a plaintext preamble asks for TLS
//! and the ClientHello follows it. SMTP, IMAP and POP3 STARTTLS/STLS
//! (RFC 3207, 2595), FTP `AUTH TLS` (RFC 4217), XMPP `<starttls/>` (RFC
//! 6120 §5), LDAP's StartTLS extended operation (RFC 4511 §4.14),
//! PostgreSQL's `SSLRequest`, RDP's TLS upgrade ([MS-RDPBCGR] 2.2.1.1) and an
//! HTTP `CONNECT` tunnel (RFC 9110 §9.3.6).
//!
//! The preamble is read one unit at a time (a command line, an XML element,
//! a BER message, a TPKT) and each unit is consumed, so the stream holds at
//! most one unit; once the client asked for TLS, the rest of its stream is
//! the TLS inspector's, within the same bounds as a hello at the start.

use super::tls::ClientHello;
use super::wait_for_more;
use crate::classify::verdict::Evidence;
use crate::inspect::{
    Direction, Finding, FlowContext, FlowFinding, Inspector, Probe, Progress, Registration, Report, Transport, http,
};

pub const REGISTRATION: Registration =
    Registration { name: "preamble", transport: Transport::Tcp, probe, start: |ctx| Box::new(Preamble::new(ctx)) };

/// Client units read before the hello: SMTP needs two (EHLO, STARTTLS),
/// XMPP three; a session that has not asked for TLS by then is not going to.
const MAX_CLIENT_UNITS: u16 = 32;
/// Server bytes read before the hello: banners, capabilities, stream
/// features; far less than this in every real exchange.
const MAX_SERVER_BYTES: usize = 64 * 1024;

/// A TLS record of content type handshake starts with this byte.
const TLS_HANDSHAKE: u8 = 0x16;
/// PostgreSQL's `SSLRequest`: length 8, request code 80877103 (1234.5679).
const PG_SSL_REQUEST: [u8; 8] = [0x00, 0x00, 0x00, 0x08, 0x04, 0xd2, 0x16, 0x2f];
/// LDAP's StartTLS extended request name (RFC 4511 §4.14.1).
const LDAP_START_TLS_OID: &[u8] = b"1.3.6.1.4.1.1466.20037";

/// Ports of the line protocols whose client may be seen first (the capture
/// missed the server's banner): SMTP, submission, FTP, POP3, IMAP, SIEVE.
const LINE_PORTS: [u16; 7] = [25, 587, 2525, 21, 110, 143, 4190];
const XMPP_PORTS: [u16; 2] = [5222, 5269];
/// LDAP and the Active Directory global catalog.
const LDAP_PORTS: [u16; 2] = [389, 3268];

/// Which preamble a flow carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// SMTP, IMAP, POP3, FTP, SIEVE: LF-terminated command lines.
    Lines,
    /// XMPP: XML, read element by element.
    Xmpp,
    /// LDAP: BER-encoded `LDAPMessages`.
    Ldap,
    /// PostgreSQL: the `SSLRequest`.
    Postgres,
    /// RDP: a TPKT-framed X.224 Connection Request.
    Rdp,
    /// An HTTP CONNECT request head.
    Connect,
}

/// What the first payload of a flow says about its preamble.
fn kind_of(ctx: FlowContext, dir: Direction, data: &[u8]) -> Result<Kind, Probe> {
    if dir == Direction::ToClient {
        // Server greetings: SMTP and FTP "220", IMAP "* OK", POP3 "+OK".
        let greeting = data.starts_with(b"220 ")
            || data.starts_with(b"220-")
            || data.starts_with(b"* OK")
            || data.starts_with(b"+OK");
        return if greeting { Ok(Kind::Lines) } else { Err(Probe::Reject) };
    }
    // A request cut short by its first segment's end may be told only with
    // the next: the probe is unsure of a prefix of one, not rejecting.
    let cut_short = |whole: &[u8]| data.len() < whole.len() && whole.starts_with(data);
    if data.starts_with(b"CONNECT ") {
        Ok(Kind::Connect)
    } else if data.starts_with(&PG_SSL_REQUEST) {
        Ok(Kind::Postgres)
    } else if cut_short(&PG_SSL_REQUEST) || cut_short(b"CONNECT ") {
        Err(Probe::Unsure)
    } else if rdp_tls_request(data).is_some() {
        Ok(Kind::Rdp)
    } else if rdp_request_cut_short(data) {
        Err(Probe::Unsure)
    } else if ldap_message(data).is_some_and(|m| m.start_tls || LDAP_PORTS.contains(&ctx.server_port)) {
        Ok(Kind::Ldap)
    } else if ldap_start_tls_cut_short(data) {
        Err(Probe::Unsure)
    } else if data.starts_with(b"<stream:stream")
        || (data.starts_with(b"<?xml") && XMPP_PORTS.contains(&ctx.server_port))
    {
        Ok(Kind::Xmpp)
    } else if LINE_PORTS.contains(&ctx.server_port) && data.first().is_some_and(u8::is_ascii_alphanumeric) {
        Ok(Kind::Lines)
    } else {
        Err(Probe::Reject)
    }
}

fn probe(ctx: FlowContext, dir: Direction, data: &[u8]) -> Probe {
    match kind_of(ctx, dir, data) {
        Ok(_) => Probe::Accept,
        Err(answer) => answer,
    }
}

struct Preamble {
    ctx: FlowContext,
    /// Known from the first payload the inspector is fed (the probe's).
    kind: Option<Kind>,
    /// The client asked for TLS: its next bytes should be a hello.
    asked: bool,
    client_units: u16,
    server_bytes: usize,
    /// The hello reader, once the preamble is over.
    hello: Option<ClientHello>,
}

/// One unit of a preamble at the front of the client's stream.
enum Unit {
    /// Not complete yet.
    Partial,
    /// Not this preamble: nothing after it is TLS we can find.
    Invalid,
    /// `len` bytes; `asks` whether it asks for TLS.
    Whole { len: usize, asks: bool },
}

impl Preamble {
    fn new(ctx: FlowContext) -> Self {
        Preamble { ctx, kind: None, asked: false, client_units: 0, server_bytes: 0, hello: None }
    }

    fn client(&mut self, kind: Kind, data: &[u8], report: &mut Report<'_>) -> Progress {
        let mut consumed = 0;
        loop {
            let rest = data.get(consumed..).unwrap_or(&[]);
            let Some(&first) = rest.first() else { return Progress::More { consumed } };
            // A hello straight away (the server's greeting was all the
            // preamble), or after the client asked for TLS.
            if (self.asked || self.client_units == 0) && first == TLS_HANDSHAKE {
                let hello = self.hello.insert(ClientHello::default());
                return match hello.feed(Direction::FromClient, rest, report) {
                    Progress::More { consumed: n } => Progress::More { consumed: consumed + n },
                    other => other,
                };
            }
            // After the request only a hello may follow, except where the
            // server may refuse and the client go on in plaintext.
            if self.asked && !matches!(kind, Kind::Lines | Kind::Xmpp | Kind::Ldap) {
                return Progress::Done;
            }
            match unit(kind, rest) {
                Unit::Partial if consumed == 0 => return wait_for_more(rest),
                Unit::Partial => return Progress::More { consumed },
                Unit::Invalid => return Progress::Done,
                Unit::Whole { len, asks } => {
                    if kind == Kind::Connect {
                        report_connect(rest.get(..len).unwrap_or(&[]), report);
                    }
                    consumed += len;
                    self.asked |= asks;
                    self.client_units += 1;
                    if self.client_units > MAX_CLIENT_UNITS {
                        return Progress::Done;
                    }
                }
            }
        }
    }
}

impl Inspector for Preamble {
    fn feed(&mut self, dir: Direction, data: &[u8], report: &mut Report<'_>) -> Progress {
        if let Some(hello) = self.hello.as_mut() {
            return hello.feed(dir, data, report);
        }
        let kind = match self.kind {
            Some(kind) => kind,
            // The first payload fed is the one the probe accepted.
            None => match kind_of(self.ctx, dir, data) {
                Ok(kind) => *self.kind.insert(kind),
                Err(_) => return Progress::Done,
            },
        };
        match dir {
            Direction::ToClient => {
                self.server_bytes = self.server_bytes.saturating_add(data.len());
                if self.server_bytes > MAX_SERVER_BYTES {
                    return Progress::Done;
                }
                Progress::More { consumed: data.len() }
            }
            Direction::FromClient => self.client(kind, data, report),
        }
    }
}

/// The unit of `kind` at the front of `rest`.
fn unit(kind: Kind, rest: &[u8]) -> Unit {
    match kind {
        Kind::Lines => {
            let end = rest.iter().position(|&b| b == b'\n');
            // Binary bytes: not a command line.
            if rest.get(..end.unwrap_or(rest.len())).unwrap_or(rest).iter().any(|&b| b < 0x09) {
                return Unit::Invalid;
            }
            match end {
                Some(at) => Unit::Whole { len: at + 1, asks: asks_for_tls(&rest[..at]) },
                None => Unit::Partial,
            }
        }
        Kind::Xmpp => match rest.iter().position(|&b| b == b'>') {
            None => Unit::Partial,
            Some(at) => Unit::Whole { len: at + 1, asks: contains(&rest[..at], b"<starttls") },
        },
        Kind::Ldap => match ldap_message(rest) {
            Some(m) => match m.len {
                Some(len) => Unit::Whole { len, asks: m.start_tls },
                None => Unit::Partial,
            },
            None => Unit::Invalid,
        },
        Kind::Postgres if rest.starts_with(&PG_SSL_REQUEST) => Unit::Whole { len: 8, asks: true },
        Kind::Postgres if PG_SSL_REQUEST.starts_with(rest) => Unit::Partial,
        Kind::Postgres => Unit::Invalid,
        Kind::Rdp => match rest {
            [3, 0, hi, lo, ..] => {
                let len = usize::from(u16::from_be_bytes([*hi, *lo]));
                match rest.get(..len) {
                    Some(tpkt) if len >= 4 => Unit::Whole { len, asks: rdp_tls_request(tpkt).is_some() },
                    _ if len < 4 => Unit::Invalid,
                    _ => Unit::Partial,
                }
            }
            [3] | [3, 0] | [3, 0, _] => Unit::Partial,
            _ => Unit::Invalid,
        },
        Kind::Connect => {
            let end = find(rest, b"\n\r\n").map(|at| at + 3).or_else(|| find(rest, b"\n\n").map(|at| at + 2));
            match end {
                Some(len) => Unit::Whole { len, asks: true },
                None => Unit::Partial,
            }
        }
    }
}

/// A command asking for TLS: SMTP/IMAP/SIEVE `STARTTLS` (IMAP's after a
/// tag), POP3 `STLS`, FTP `AUTH TLS` (and the older `SSL`, `TLS-C`, `TLS-P`).
fn asks_for_tls(line: &[u8]) -> bool {
    let line = line.trim_ascii();
    let mut words = line.split(|&b| b == b' ').filter(|w| !w.is_empty());
    let (Some(first), second, None) = (words.next(), words.next(), words.next()) else { return false };
    let is = |w: &[u8], s: &str| w.eq_ignore_ascii_case(s.as_bytes());
    match second {
        None => is(first, "STARTTLS") || is(first, "STLS"),
        Some(arg) if is(first, "AUTH") => ["TLS", "SSL", "TLS-C", "TLS-P"].iter().any(|m| is(arg, m)),
        // An IMAP tag before the command.
        Some(command) => is(command, "STARTTLS"),
    }
}

/// Reports the tunnel's destination named by a CONNECT head (and its agent):
/// the hello inside the tunnel names it again, more strongly.
fn report_connect(head: &[u8], report: &mut Report<'_>) {
    let Some(head) = http::parse_request_head(head) else { return };
    if let Some(agent) = head.user_agent {
        super::report_user_agent(agent, report);
    }
    if let Some(name) = head.host {
        report(Finding::Flow(FlowFinding::ServerName { evidence: Evidence::HttpHost, name }));
    }
}

/// The X.224 Connection Request of `tpkt` when its `RDP_NEG_REQ` asks for any
/// security protocol but RDP's own (TLS, CredSSP, RDSTLS, CredSSP with
/// early user authorization: all run over TLS). [MS-RDPBCGR] 2.2.1.1.
fn rdp_tls_request(data: &[u8]) -> Option<()> {
    let [3, 0, hi, lo, li, cr, ..] = *data else { return None };
    let len = usize::from(u16::from_be_bytes([hi, lo]));
    // TPKT header (4), X.224 length indicator and the 6 fixed CR bytes, then
    // the cookie or routing token and the 8-byte RDP_NEG_REQ last.
    let tpkt = data.get(..len)?;
    if cr & 0xf0 != 0xe0 || usize::from(li) + 5 != len || len < 4 + 7 + 8 {
        return None;
    }
    let neg = tpkt.get(len - 8..)?;
    let &[kind, _flags, l0, l1, p0, p1, p2, p3] = neg else { return None };
    let protocols = u32::from_le_bytes([p0, p1, p2, p3]);
    (kind == 0x01 && u16::from_le_bytes([l0, l1]) == 8 && protocols != 0).then_some(())
}

/// TPKT lengths an X.224 Connection Request with its `RDP_NEG_REQ` takes:
/// the fixed parts, and a cookie or routing token of at most a few hundred
/// bytes ("Cookie: mstshash=" and a user name, or a load balancer's token).
const RDP_REQUEST_LEN: std::ops::RangeInclusive<usize> = 4 + 7 + 8..=1024;

/// Whether `data` is the start of what may be an RDP TLS request, cut
/// before its end: TPKT version 3, a length it falls short of, and (once
/// there) an X.224 Connection Request of that length.
fn rdp_request_cut_short(data: &[u8]) -> bool {
    match *data {
        [3] | [3, 0] | [3, 0, _] => true,
        [3, 0, hi, lo, ref rest @ ..] => {
            let len = usize::from(u16::from_be_bytes([hi, lo]));
            let header_fits = match *rest {
                [] => true,
                [li] => usize::from(li) + 5 == len,
                [li, cr, ..] => usize::from(li) + 5 == len && cr & 0xf0 == 0xe0,
            };
            RDP_REQUEST_LEN.contains(&len) && data.len() < len && header_fits
        }
        _ => false,
    }
}

/// A StartTLS extended request is about 31 bytes; with controls a few
/// dozen more. An `LDAPMessage` cut short that claims more is not one.
const LDAP_START_TLS_MAX_LEN: usize = 256;

/// Whether `data` is the start of an `LDAPMessage`, cut before its end,
/// that may still turn out to be the StartTLS request (off LDAP's ports
/// only that tells it is LDAP).
fn ldap_start_tls_cut_short(data: &[u8]) -> bool {
    if ldap_message(data).is_none_or(|m| m.len.is_some()) {
        return false;
    }
    // Cut within the header, or the header says how long the message is.
    data.get(1..).and_then(ber_length).is_none_or(|(header, body)| 1 + header + body <= LDAP_START_TLS_MAX_LEN)
}

/// An `LDAPMessage` at the front of a stream.
struct LdapMessage {
    /// Its whole length, once its header is complete.
    len: Option<usize>,
    /// It is the StartTLS extended request (only known once whole).
    start_tls: bool,
}

/// `SEQUENCE { messageID INTEGER, protocolOp ... }`, BER (RFC 4511 §4.1.1).
fn ldap_message(data: &[u8]) -> Option<LdapMessage> {
    let (&tag, _) = data.split_first()?;
    if tag != 0x30 {
        return None;
    }
    let Some((header, body_len)) = ber_length(data.get(1..)?) else {
        return (data.len() < 6).then_some(LdapMessage { len: None, start_tls: false });
    };
    let len = 1 + header + body_len;
    let Some(body) = data.get(1 + header..len) else { return Some(LdapMessage { len: None, start_tls: false }) };
    // messageID
    let (&id_tag, rest) = body.split_first()?;
    let (id_header, id_len) = ber_length(rest)?;
    if id_tag != 0x02 || id_len == 0 || id_len > 4 {
        return None;
    }
    let op = rest.get(id_header + id_len..)?;
    // ExtendedRequest: [APPLICATION 23], whose requestName is [0].
    let start_tls = match op.split_first() {
        Some((0x77, rest)) => {
            let (op_header, _) = ber_length(rest)?;
            match rest.get(op_header..)? {
                [0x80, name @ ..] => {
                    let (name_header, name_len) = ber_length(name)?;
                    name.get(name_header..name_header + name_len) == Some(LDAP_START_TLS_OID)
                }
                _ => false,
            }
        }
        _ => false,
    };
    Some(LdapMessage { len: Some(len), start_tls })
}

/// A BER definite length: the bytes it takes and its value.
fn ber_length(data: &[u8]) -> Option<(usize, usize)> {
    let (&first, rest) = data.split_first()?;
    if first < 0x80 {
        return Some((1, usize::from(first)));
    }
    let n = usize::from(first & 0x7f);
    // Indefinite (0x80) is not allowed in LDAP; more than 3 bytes would be
    // a message far beyond any preamble's.
    if n == 0 || n > 3 {
        return None;
    }
    let value = rest.get(..n)?.iter().fold(0usize, |v, &b| (v << 8) | usize::from(b));
    Some((1 + n, value))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::IPPROTO_TCP;

    #[test]
    fn commands_that_ask_for_tls() {
        for line in ["STARTTLS", "starttls\r", "a001 STARTTLS", "STLS", "AUTH TLS", "auth ssl", "AUTH TLS-C"] {
            assert!(asks_for_tls(line.as_bytes()), "{line}");
        }
        for line in ["EHLO x", "MAIL FROM:<a@b>", "AUTH PLAIN x", "a001 LOGIN u p", "STARTTLS now please", ""] {
            assert!(!asks_for_tls(line.as_bytes()), "{line}");
        }
    }

    #[test]
    fn ldap_start_tls_is_told_from_other_requests() {
        let oid = LDAP_START_TLS_OID;
        let ext =
            [&[0x77, 2 + u8::try_from(oid.len()).unwrap(), 0x80, u8::try_from(oid.len()).unwrap()][..], oid].concat();
        let msg = [&[0x30, 3 + u8::try_from(ext.len()).unwrap(), 0x02, 0x01, 0x01][..], &ext].concat();
        let m = ldap_message(&msg).unwrap();
        assert_eq!((m.len, m.start_tls), (Some(msg.len()), true));
        let m = ldap_message(&msg[..10]).unwrap();
        assert_eq!((m.len, m.start_tls), (None, false), "cut short: wait");
        // A simple bind request ([APPLICATION 0]).
        let bind = [0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00];
        let m = ldap_message(&bind).unwrap();
        assert_eq!((m.len, m.start_tls), (Some(14), false));
        assert!(ldap_message(b"\x16\x03\x01").is_none());
    }

    /// Other binary protocols' first bytes are not taken for a request
    /// cut short: rejected at once, not waited for.
    #[test]
    fn what_cannot_become_a_request_for_tls_is_rejected() {
        let ctx = FlowContext { protocol: IPPROTO_TCP, client_port: 50000, server_port: 8443 };
        for data in [
            &b"\x16\x03\x01\x02\x00\x01"[..], // a TLS ClientHello
            b"\x03\x00\x40\x00\x0e",          // TPKT of 16 KiB: no Connection Request
            b"\x03\x00\x00\x13\x0e\x70",      // not a Connection Request (CR 0xe0)
            b"\x03\x00\x00\x13\x20",          // length indicator disagrees with TPKT
            b"\x30\x82\x10\x00\x02\x01",      // an LDAPMessage of 4 KiB: no StartTLS
            b"\x04\x00\x00\x13",              // TPKT version 4
        ] {
            assert_eq!(kind_of(ctx, Direction::FromClient, data), Err(Probe::Reject), "{data:?}");
        }
    }

    #[test]
    fn every_prefix_of_a_request_for_tls_waits_for_the_rest() {
        let ctx = FlowContext { protocol: IPPROTO_TCP, client_port: 50000, server_port: 389 };
        let off_port = FlowContext { server_port: 8443, ..ctx };
        let seeds: [(Kind, &[u8]); 4] = [
            (Kind::Ldap, b"\x30\x1d\x02\x01\x01\x77\x18\x80\x161.3.6.1.4.1.1466.20037"),
            (Kind::Rdp, b"\x03\x00\x00\x13\x0e\xe0\x00\x00\x00\x00\x00\x01\x00\x08\x00\x03\x00\x00\x00"),
            (Kind::Postgres, &PG_SSL_REQUEST),
            (Kind::Connect, b"CONNECT a.example:443 HTTP/1.1\r\n\r\n"),
        ];
        let kinds = [Kind::Lines, Kind::Xmpp, Kind::Ldap, Kind::Postgres, Kind::Rdp, Kind::Connect];
        for (kind, seed) in seeds {
            assert_eq!(kind_of(ctx, Direction::FromClient, seed), Ok(kind), "{seed:?}");
            assert!(matches!(unit(kind, seed), Unit::Whole { len, asks: true } if len == seed.len()), "{seed:?}");
            for cut in 0..seed.len() {
                let prefix = &seed[..cut];
                // The inspector never asks for a unit of an empty stream.
                assert!(cut == 0 || matches!(unit(kind, prefix), Unit::Partial), "{kind:?} cut at {cut}");
                let probed = kind_of(ctx, Direction::FromClient, prefix);
                assert!(probed.is_err() || probed == Ok(kind), "{kind:?} cut at {cut} probed as {probed:?}");
                // Off the protocol's port too, a request cut short is
                // waited for: the probe is unsure, it does not reject.
                if cut > 0 {
                    let elsewhere = kind_of(off_port, Direction::FromClient, prefix);
                    assert!(
                        elsewhere == Err(Probe::Unsure) || elsewhere == Ok(kind),
                        "{kind:?} cut at {cut} on port 8443 probed as {elsewhere:?}"
                    );
                }
                // Read as any preamble, a unit never claims bytes it was not given.
                for other in kinds {
                    if let Unit::Whole { len, .. } = unit(other, prefix) {
                        assert!((1..=cut).contains(&len), "{other:?} took {len} of {cut} bytes");
                    }
                }
            }
        }
    }
}
