//! DHCPv4 (RFC 2131, options RFC 2132) and DHCPv6 (RFC 8415) client
//! messages: what a client says about itself when it asks for an address.
//! Zero-copy views over the datagram; options are read lazily and every
//! length is checked.
//!
//! ```text
//! op htype hlen hops | xid | secs flags | ciaddr | yiaddr | siaddr | giaddr
//! chaddr (16) | sname (64) | file (128) | magic cookie 99.130.83.99 | options
//! ```

use std::net::Ipv4Addr;

use crate::reader::Reader;

mod field {
    pub const OP: usize = 0;
    pub const HTYPE: usize = 1;
    pub const HLEN: usize = 2;
    pub const CIADDR: core::ops::Range<usize> = 12..16;
    pub const GIADDR: core::ops::Range<usize> = 24..28;
    pub const CHADDR: core::ops::Range<usize> = 28..34;
    pub const COOKIE: core::ops::Range<usize> = 236..240;
    pub const OPTIONS: usize = 240;
}

/// The UDP port DHCPv4 servers (and relays) listen on.
pub const SERVER_PORT: u16 = 67;
/// The UDP port DHCPv4 clients listen on.
pub const CLIENT_PORT: u16 = 68;
/// The UDP port DHCPv6 clients listen on.
pub const V6_CLIENT_PORT: u16 = 546;
/// The UDP port DHCPv6 servers and relay agents listen on.
pub const V6_SERVER_PORT: u16 = 547;

const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];
const OP_BOOTREQUEST: u8 = 1;
const HTYPE_ETHERNET: u8 = 1;

/// Host Name (RFC 2132 §3.14): the client's name, as text.
pub const OPT_HOSTNAME: u8 = 12;
/// Requested IP Address (RFC 2132 §9.1): the address a client without one
/// asks for.
pub const OPT_REQUESTED_ADDRESS: u8 = 50;
/// DHCP Message Type (RFC 2132 §9.6): DISCOVER, REQUEST, ...
pub const OPT_MESSAGE_TYPE: u8 = 53;
/// Parameter Request List (RFC 2132 §9.8): the option codes the client
/// asks for, in its own order (a fingerprint of its DHCP client).
pub const OPT_PARAMETER_REQUEST_LIST: u8 = 55;
/// Vendor Class Identifier (RFC 2132 §9.13): `MSFT 5.0`, `android-dhcp-13`.
pub const OPT_VENDOR_CLASS: u8 = 60;
const OPT_PAD: u8 = 0;
const OPT_END: u8 = 255;

/// Not a DHCP message we read.
pub use crate::reader::Malformed;

/// A checked DHCPv4 message: the fixed part and the magic cookie are there.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    data: &'a [u8],
}

impl<'a> Message<'a> {
    /// Checks that `data` (a UDP payload) reaches past the fixed part and
    /// carries the magic cookie; the options are checked as they are read.
    pub fn new_checked(data: &'a [u8]) -> Result<Self, Malformed> {
        if data.get(field::COOKIE) != Some(&MAGIC_COOKIE[..]) {
            return Err(Malformed);
        }
        Ok(Message { data })
    }

    /// A client's message (BOOTREQUEST), not a server's reply.
    pub fn is_request(&self) -> bool {
        self.data.get(field::OP) == Some(&OP_BOOTREQUEST)
    }

    /// Relayed by an agent (giaddr set): the frame is the relay's.
    pub fn is_relayed(&self) -> bool {
        self.data.get(field::GIADDR).is_some_and(|a| a != [0; 4])
    }

    /// The client's Ethernet address, when it says it has one.
    pub fn client_mac(&self) -> Option<[u8; 6]> {
        let ethernet = self.data.get(field::HTYPE) == Some(&HTYPE_ETHERNET) && self.data.get(field::HLEN) == Some(&6);
        ethernet.then(|| self.data.get(field::CHADDR)?.try_into().ok()).flatten()
    }

    /// The address the client holds (ciaddr), else the one it asks for
    /// (option 50).
    pub fn client_address(&self) -> Option<Ipv4Addr> {
        let held = self.data.get(field::CIADDR).and_then(|a| <[u8; 4]>::try_from(a).ok()).map(Ipv4Addr::from);
        held.filter(|a| !a.is_unspecified()).or_else(|| {
            let asked = <[u8; 4]>::try_from(self.option(OPT_REQUESTED_ADDRESS)?).ok()?;
            Some(Ipv4Addr::from(asked)).filter(|a| !a.is_unspecified())
        })
    }

    /// The options in order, up to END or the first one that does not fit.
    pub fn options(&self) -> impl Iterator<Item = (u8, &'a [u8])> + use<'a> {
        let mut r = Reader::new(self.data.get(field::OPTIONS..).unwrap_or(&[]));
        core::iter::from_fn(move || {
            loop {
                match r.u8().ok()? {
                    OPT_PAD => {}
                    OPT_END => return None,
                    code => return Some((code, r.vec8().ok()?)),
                }
            }
        })
        .fuse()
    }

    /// The first option `code`.
    pub fn option(&self, code: u8) -> Option<&'a [u8]> {
        self.options().find(|&(c, _)| c == code).map(|(_, v)| v)
    }

    /// An option's value as text, when it is printable UTF-8 (trailing NULs,
    /// which some clients send, dropped).
    pub fn text_option(&self, code: u8) -> Option<&'a str> {
        text(self.option(code)?)
    }
}

fn text(value: &[u8]) -> Option<&str> {
    let end = value.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    let s = core::str::from_utf8(value.get(..end)?).ok()?;
    (!s.is_empty() && !s.chars().any(char::is_control)).then_some(s)
}

/// DHCPv6 Client Identifier (RFC 8415 §21.2): the client's DUID.
pub const V6_OPT_CLIENTID: u16 = 1;
/// DHCPv6 Option Request (RFC 8415 §21.7): the option codes the client
/// asks for.
pub const V6_OPT_ORO: u16 = 6;
/// DHCPv6 Vendor Class (RFC 8415 §21.16): an enterprise number and class
/// strings.
pub const V6_OPT_VENDOR_CLASS: u16 = 16;
/// DHCPv6 Client FQDN (RFC 4704): the client's name.
pub const V6_OPT_CLIENT_FQDN: u16 = 39;

/// A DHCPv6 client message: Solicit, Request, Confirm, Renew, Rebind,
/// Release, Decline or Information-request.
#[derive(Debug, Clone, Copy)]
pub struct V6Message<'a> {
    data: &'a [u8],
}

impl<'a> V6Message<'a> {
    /// Accepts `data` (a UDP payload) when it is a client message type
    /// with its 4-byte header; the options are checked as they are read.
    pub fn new_checked(data: &'a [u8]) -> Result<Self, Malformed> {
        match data.first() {
            Some(1 | 3 | 4 | 5 | 6 | 8 | 9 | 11) if data.len() >= 4 => Ok(V6Message { data }),
            _ => Err(Malformed),
        }
    }

    /// Options in order, up to the first that does not fit.
    pub fn options(&self) -> impl Iterator<Item = (u16, &'a [u8])> + use<'a> {
        let mut r = Reader::new(self.data.get(4..).unwrap_or(&[]));
        core::iter::from_fn(move || Some((r.be16().ok()?, r.vec16().ok()?))).fuse()
    }

    /// The first option `code`.
    pub fn option(&self, code: u16) -> Option<&'a [u8]> {
        self.options().find(|&(c, _)| c == code).map(|(_, v)| v)
    }

    /// The vendor class (option 16): the enterprise number and the first
    /// class string.
    pub fn vendor_class(&self) -> Option<(u32, &'a str)> {
        let value = self.option(V6_OPT_VENDOR_CLASS)?;
        let mut r = Reader::new(value);
        let enterprise = r.be32().ok()?;
        Some((enterprise, text(r.vec16().ok()?)?))
    }

    /// The first label of the client's FQDN (option 39): its host name.
    pub fn fqdn_host(&self) -> Option<&'a str> {
        let value = self.option(V6_OPT_CLIENT_FQDN)?;
        let mut r = Reader::new(value);
        r.skip(1).ok()?; // flags
        text(r.vec8().ok()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(options: &[u8]) -> Vec<u8> {
        let mut m = vec![0u8; 240];
        m[0] = OP_BOOTREQUEST;
        m[1] = 1;
        m[2] = 6;
        m[28..34].copy_from_slice(&[0x3a, 1, 2, 3, 4, 5]);
        m[236..240].copy_from_slice(&MAGIC_COOKIE);
        m.extend_from_slice(options);
        m
    }

    #[test]
    fn reads_a_client_request() {
        let m =
            request(&[53, 1, 3, 0, 55, 4, 1, 121, 3, 6, 50, 4, 10, 10, 4, 23, 12, 4, b'J', b'i', b'P', 0, 255, 60, 1]);
        let msg = Message::new_checked(&m).unwrap();
        assert!(msg.is_request() && !msg.is_relayed());
        assert_eq!(msg.client_mac(), Some([0x3a, 1, 2, 3, 4, 5]));
        assert_eq!(msg.option(OPT_PARAMETER_REQUEST_LIST), Some(&[1, 121, 3, 6][..]));
        assert_eq!(msg.client_address(), Some(Ipv4Addr::new(10, 10, 4, 23)));
        assert_eq!(msg.text_option(OPT_HOSTNAME), Some("JiP"));
        assert_eq!(msg.option(OPT_VENDOR_CLASS), None, "after END nothing counts");
        assert!(Message::new_checked(&m[..239]).is_err());
    }

    /// A Solicit with an option request (ORO), a vendor class and an FQDN.
    fn solicit() -> Vec<u8> {
        let mut m = vec![1, 0xaa, 0xbb, 0xcc];
        m.extend_from_slice(&[0, 6, 0, 4, 0, 23, 0, 24]);
        m.extend_from_slice(&[0, 16, 0, 14, 0, 0, 1, 55, 0, 8]);
        m.extend_from_slice(b"MSFT 5.0");
        m.extend_from_slice(&[0, 39, 0, 7, 0, 4]);
        m.extend_from_slice(b"lap1\0");
        m
    }

    #[test]
    fn reads_a_v6_solicit() {
        let m = solicit();
        let msg = V6Message::new_checked(&m).unwrap();
        assert_eq!(msg.option(V6_OPT_ORO), Some(&[0, 23, 0, 24][..]));
        assert_eq!(msg.vendor_class(), Some((311, "MSFT 5.0")));
        assert_eq!(msg.fqdn_host(), Some("lap1"));
        assert!(V6Message::new_checked(&[2, 0, 0, 0]).is_err(), "an Advertise is the server's");
    }

    #[test]
    fn a_cut_message_yields_exactly_the_options_before_the_cut() {
        let m = request(&[53, 1, 1, 55, 3, 1, 3, 6, 60, 3, b'a', b'b', b'c', 12, 3, b'J', b'i', b'P', 255]);
        let full: Vec<_> = Message::new_checked(&m).unwrap().options().collect();
        assert_eq!(full, [(53, &[1][..]), (55, &[1, 3, 6]), (60, b"abc"), (12, b"JiP")]);
        // Where each option ends in the message.
        let ends = [243, 248, 253, 258];
        for n in 0..m.len() {
            let cut = Message::new_checked(&m[..n]);
            if n < field::OPTIONS {
                assert!(cut.is_err(), "no magic cookie in {n} bytes");
                continue;
            }
            let got: Vec<_> = cut.unwrap().options().collect();
            let whole = ends.iter().filter(|&&end| end <= n).count();
            assert_eq!(got, full[..whole], "cut at {n}");
            assert_eq!(cut.unwrap().text_option(OPT_HOSTNAME).is_some(), n >= ends[3], "cut at {n}");
        }
    }

    #[test]
    fn a_changed_byte_changes_no_option_before_it() {
        let m = request(&[53, 1, 1, 55, 3, 1, 3, 6, 60, 3, b'a', b'b', b'c', 12, 200, 255]);
        let full: Vec<_> = Message::new_checked(&m).unwrap().options().collect();
        assert_eq!(
            full,
            [(53, &[1][..]), (55, &[1, 3, 6]), (60, b"abc")],
            "an option longer than the rest ends the list"
        );
        let ends = [243, 248, 253];
        for i in 230..m.len() {
            for b in [0, 1, 2, 0x7f, 0xff] {
                let mut x = m.clone();
                x[i] = b;
                let Ok(msg) = Message::new_checked(&x) else {
                    assert!(field::COOKIE.contains(&i) && b != m[i], "only the cookie rejects: byte {i} = {b}");
                    continue;
                };
                let got: Vec<_> = msg.options().collect();
                let before = ends.iter().filter(|&&end| end <= i).count();
                assert_eq!(got.get(..before), Some(&full[..before]), "byte {i} = {b}: {got:?}");
                assert_eq!(msg.client_mac(), Some([0x3a, 1, 2, 3, 4, 5]), "chaddr is before the changed bytes");
            }
        }
    }

    #[test]
    fn a_cut_v6_message_yields_exactly_the_options_before_the_cut() {
        let m = solicit();
        let full: Vec<_> = V6Message::new_checked(&m).unwrap().options().map(|(code, _)| code).collect();
        assert_eq!(full, [V6_OPT_ORO, V6_OPT_VENDOR_CLASS, V6_OPT_CLIENT_FQDN]);
        let ends = [12, 30, m.len()];
        for n in 0..m.len() {
            let Ok(msg) = V6Message::new_checked(&m[..n]) else {
                assert!(n < 4, "{n} bytes hold the message type and transaction id");
                continue;
            };
            let got: Vec<_> = msg.options().map(|(code, _)| code).collect();
            assert_eq!(got, full[..ends.iter().filter(|&&end| end <= n).count()], "cut at {n}");
            assert_eq!(msg.vendor_class().is_some(), n >= ends[1], "cut at {n}");
            assert_eq!(msg.fqdn_host(), None, "cut at {n}");
        }
    }
}
