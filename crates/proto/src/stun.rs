//! STUN messages (RFC 8489, formerly RFC 5389; TURN's additions in RFC
//! 8656): the 20-byte header with the magic cookie, and the attributes that
//! follow it. Zero-copy: a [`Message`] borrows the datagram.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |0 0|     STUN Message Type     |         Message Length        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                         Magic Cookie                          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                     Transaction ID (96 bits)                  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::reader::Reader;

/// Field offsets of the header (the cookie follows at 4..8).
mod field {
    use std::ops::Range;
    pub const TYPE: Range<usize> = 0..2;
    pub const LENGTH: Range<usize> = 2..4;
    /// The magic cookie and the transaction id: what XOR-ed addresses are
    /// XOR-ed with (RFC 8489 section 14.2).
    pub const COOKIE_AND_TRANSACTION: Range<usize> = 4..20;
    pub const HEADER_LEN: usize = 20;
}

/// Address families of the (XOR-)address attributes.
const FAMILY_IPV4: u8 = 0x01;
const FAMILY_IPV6: u8 = 0x02;

/// RFC 8489 section 5: distinguishes STUN from other protocols on the port.
pub const MAGIC_COOKIE: u32 = 0x2112_a442;
/// The SOFTWARE attribute: the agent's name and version.
pub const ATTR_SOFTWARE: u16 = 0x8022;
/// The client's address as the server saw it (RFC 8489 section 14.2).
pub const ATTR_XOR_MAPPED_ADDRESS: u16 = 0x0020;
/// A TURN peer's address (RFC 8656 section 18.3).
pub const ATTR_XOR_PEER_ADDRESS: u16 = 0x0012;
/// The address a TURN server relays for the client (RFC 8656 section 18.5).
pub const ATTR_XOR_RELAYED_ADDRESS: u16 = 0x0016;

/// The comprehension-optional attributes the IETF defined (RFC 8489, 8445,
/// 8656, 5780, 7635, 8016): anything else at 0x8000 and above is a vendor's.
const STANDARD_OPTIONAL: [u16; 10] = [0x8000, 0x8001, 0x8022, 0x8023, 0x8027, 0x8028, 0x8029, 0x802a, 0x802b, 0x802c];

/// Why bytes are not a STUN message.
pub use crate::reader::Malformed;

/// A STUN message over a byte slice, its header validated.
#[derive(Debug, Clone, Copy)]
pub struct Message<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Message<T> {
    /// Checks the header: the two zero bits, the magic cookie, and a length
    /// that is a multiple of four and fits the buffer.
    pub fn new_checked(buffer: T) -> Result<Self, Malformed> {
        let b = buffer.as_ref();
        let Some(&[t0, t1, l0, l1, c0, c1, c2, c3, ..]) = b.get(..field::HEADER_LEN) else { return Err(Malformed) };
        let message_type = u16::from_be_bytes([t0, t1]);
        let length = usize::from(u16::from_be_bytes([l0, l1]));
        let cookie = [c0, c1, c2, c3];
        if message_type & 0xc000 != 0 || u32::from_be_bytes(cookie) != MAGIC_COOKIE || length % 4 != 0 {
            return Err(Malformed);
        }
        if b.len() < field::HEADER_LEN + length {
            return Err(Malformed);
        }
        Ok(Message { buffer })
    }

    /// Header plus attributes: the bytes this message occupies.
    pub fn total_len(&self) -> usize {
        field::HEADER_LEN + usize::from(self.be16(field::LENGTH.start))
    }

    /// The method (Binding 0x001, TURN Allocate 0x003, ...), its class bits
    /// removed.
    pub fn method(&self) -> u16 {
        let t = self.be16(field::TYPE.start);
        (t & 0x000f) | ((t & 0x00e0) >> 1) | ((t & 0x3e00) >> 2)
    }

    /// The attributes, in order; stops at the first that does not fit.
    pub fn attributes(&self) -> Attributes<'_> {
        let b = self.buffer.as_ref();
        Attributes { rest: b.get(field::HEADER_LEN..self.total_len()).unwrap_or(&[]) }
    }

    /// The transport address an XOR-MAPPED-ADDRESS, XOR-PEER-ADDRESS or
    /// XOR-RELAYED-ADDRESS attribute of this message carries: the port
    /// XOR-ed with the cookie's high 16 bits, an IPv4 address with the
    /// cookie, an IPv6 address with the cookie and transaction id (RFC 8489
    /// section 14.2). `None` for another attribute or a malformed value.
    pub fn xor_address(&self, attr: &Attribute<'_>) -> Option<SocketAddr> {
        if ![ATTR_XOR_MAPPED_ADDRESS, ATTR_XOR_PEER_ADDRESS, ATTR_XOR_RELAYED_ADDRESS].contains(&attr.kind) {
            return None;
        }
        let key: &[u8; 16] = self.buffer.as_ref().get(field::COOKIE_AND_TRANSACTION)?.try_into().ok()?;
        let (&[_, family, p0, p1], address) = attr.value.split_first_chunk::<4>()?;
        let port = u16::from_be_bytes([p0 ^ key[0], p1 ^ key[1]]);
        let ip = match (family, address.len()) {
            (FAMILY_IPV4, 4) => {
                let mut octets = [0u8; 4];
                octets.iter_mut().zip(address.iter().zip(key)).for_each(|(o, (a, k))| *o = a ^ k);
                IpAddr::V4(Ipv4Addr::from(octets))
            }
            (FAMILY_IPV6, 16) => {
                let mut octets = [0u8; 16];
                octets.iter_mut().zip(address.iter().zip(key)).for_each(|(o, (a, k))| *o = a ^ k);
                IpAddr::V6(Ipv6Addr::from(octets))
            }
            _ => return None,
        };
        Some(SocketAddr::new(ip, port))
    }

    fn be16(&self, at: usize) -> u16 {
        let b = self.buffer.as_ref();
        match b.get(at..at + 2) {
            Some(&[hi, lo]) => u16::from_be_bytes([hi, lo]),
            _ => 0,
        }
    }
}

/// One attribute: its type and value (without padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribute<'a> {
    /// The attribute type: [`ATTR_XOR_MAPPED_ADDRESS`] and the like;
    /// 0x8000 and above are comprehension-optional.
    pub kind: u16,
    /// The value, as long as the attribute's length field says.
    pub value: &'a [u8],
}

impl Attribute<'_> {
    /// Whether a vendor, not the IETF, defined this attribute.
    pub fn is_vendor_specific(&self) -> bool {
        self.kind >= 0x8000 && !STANDARD_OPTIONAL.contains(&self.kind)
    }
}

/// Iterator over a message's attributes.
#[derive(Debug, Clone)]
pub struct Attributes<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Attributes<'a> {
    type Item = Attribute<'a>;

    fn next(&mut self) -> Option<Attribute<'a>> {
        let mut r = Reader::new(self.rest);
        let kind = r.be16().ok()?;
        let value = r.vec16().ok()?;
        // Values are padded to a multiple of four bytes; padding cut short
        // ends the message.
        let padding = value.len().next_multiple_of(4) - value.len();
        self.rest = if r.skip(padding).is_ok() { r.rest() } else { &[] };
        Some(Attribute { kind, value })
    }
}

/// How a TCP stream carries STUN messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpFraming {
    /// Back to back, each as long as its header says (RFC 8489 §6.2.2, TURN
    /// over TCP), with TURN's `ChannelData` between them (RFC 8656 §12.5).
    Direct,
    /// Each behind a 2-byte length (RFC 4571), as ICE-TCP (RFC 6544) frames
    /// its checks and the media after them.
    Rfc4571,
}

/// What the start of a TCP stream says: see [`tcp_start`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpStart {
    /// A STUN header, framed this way.
    Stun(TcpFraming),
    /// Neither framing of a STUN header.
    NotStun,
    /// What is there agrees with a STUN header; the cookie is not all there.
    TooShort,
}

/// The 2-byte length of RFC 4571 framing.
const FRAME_LENGTH_LEN: usize = 2;
/// `ChannelData`'s channel number and length (RFC 8656 §12.4).
const CHANNEL_DATA_HEADER_LEN: usize = 4;

/// Whether a TCP stream starts with a STUN header, right away or behind an
/// RFC 4571 length that counts exactly that message: the magic cookie in
/// place, the type's two zero bits, a length that is a multiple of four.
pub fn tcp_start(stream: &[u8]) -> TcpStart {
    let mut answer = TcpStart::NotStun;
    for (framing, at) in [(TcpFraming::Direct, 0), (TcpFraming::Rfc4571, FRAME_LENGTH_LEN)] {
        let header = stream.get(at..).unwrap_or(&[]);
        let cookie = header.iter().skip(4).zip(MAGIC_COOKIE.to_be_bytes()).all(|(a, b)| *a == b);
        if !cookie || header.first().is_some_and(|b| b & 0xc0 != 0) {
            continue;
        }
        let Some(&[_, _, l0, l1, ..]) = header.get(..8) else {
            answer = TcpStart::TooShort;
            continue;
        };
        let length = usize::from(u16::from_be_bytes([l0, l1]));
        let framed = match framing {
            TcpFraming::Direct => true,
            TcpFraming::Rfc4571 => stream
                .first_chunk::<FRAME_LENGTH_LEN>()
                .is_some_and(|&l| usize::from(u16::from_be_bytes(l)) == field::HEADER_LEN + length),
        };
        if length % 4 == 0 && framed {
            return TcpStart::Stun(framing);
        }
    }
    answer
}

/// The frame at the start of a TCP stream's unread bytes.
#[derive(Debug, Clone, Copy)]
pub enum TcpFrame<'a> {
    /// A STUN message, and the bytes it takes with its framing.
    Message(Message<&'a [u8]>, usize),
    /// Something else a call carries (`ChannelData`, a framed RTP packet):
    /// that many bytes to skip.
    Other(usize),
    /// The frame is not all there yet.
    Incomplete,
    /// Neither STUN nor what a call carries: the framing is lost.
    Lost,
}

/// Reads the frame that starts `stream`, framed as `framing`.
pub fn tcp_frame(stream: &[u8], framing: TcpFraming) -> TcpFrame<'_> {
    let mut r = Reader::new(stream);
    match framing {
        TcpFraming::Rfc4571 => {
            let Ok(body) = r.vec16() else { return TcpFrame::Incomplete };
            match Message::new_checked(body) {
                Ok(message) if message.total_len() == body.len() => TcpFrame::Message(message, r.position()),
                _ => TcpFrame::Other(r.position()),
            }
        }
        TcpFraming::Direct => {
            let (Ok(first), Ok(length)) = (r.be16(), r.be16()) else { return TcpFrame::Incomplete };
            let (length, header) = match first >> 14 {
                0b00 => (field::HEADER_LEN + usize::from(length), 0),
                // Over TCP, ChannelData is padded to four bytes (RFC 8656 §12.5).
                0b01 => (usize::from(length).next_multiple_of(4), CHANNEL_DATA_HEADER_LEN),
                _ => return TcpFrame::Lost,
            };
            let Some(frame) = stream.get(..header + length) else { return TcpFrame::Incomplete };
            if header != 0 {
                return TcpFrame::Other(frame.len());
            }
            match Message::new_checked(frame) {
                Ok(message) => TcpFrame::Message(message, frame.len()),
                Err(Malformed) => TcpFrame::Lost,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Binding request with SOFTWARE "Skype" and Microsoft's MS-VERSION
    /// (0x8008) attribute.
    fn binding() -> Vec<u8> {
        let mut attrs = Vec::new();
        attrs.extend_from_slice(&[0x80, 0x22, 0x00, 0x05]);
        attrs.extend_from_slice(b"Skype\0\0\0");
        attrs.extend_from_slice(&[0x80, 0x08, 0x00, 0x04, 0, 0, 0, 6]);
        let mut m = vec![0x00, 0x01];
        m.extend_from_slice(&u16::try_from(attrs.len()).unwrap().to_be_bytes());
        m.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        m.extend_from_slice(&[7; 12]);
        m.extend_from_slice(&attrs);
        m
    }

    #[test]
    fn reads_the_header_and_attributes() {
        let bytes = binding();
        let m = Message::new_checked(&bytes[..]).unwrap();
        assert_eq!(m.method(), 0x001);
        assert_eq!(m.total_len(), bytes.len());
        let attrs: Vec<_> = m.attributes().collect();
        assert_eq!(attrs[0], Attribute { kind: ATTR_SOFTWARE, value: b"Skype" });
        assert_eq!(attrs[1].kind, 0x8008);
        assert!(attrs[1].is_vendor_specific() && !attrs[0].is_vendor_specific());
    }

    /// A Binding success response carrying XOR-MAPPED-ADDRESS, and a TURN
    /// Allocate success carrying XOR-RELAYED-ADDRESS (IPv6) and a
    /// `CreatePermission`'s XOR-PEER-ADDRESS, built from RFC 5769's test
    /// vector values (section 2.2, 2.3: 192.0.2.1:32853 and
    /// 2001:db8:1234:5678:11:2233:4455:6677:32853).
    #[test]
    fn reads_xor_addresses_per_rfc_5769() {
        let transaction = [0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae];
        let message = |attrs: &[u8]| {
            let mut m = vec![0x01, 0x01];
            m.extend_from_slice(&u16::try_from(attrs.len()).unwrap().to_be_bytes());
            m.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
            m.extend_from_slice(&transaction);
            m.extend_from_slice(attrs);
            m
        };
        // RFC 5769 section 2.2's XOR-MAPPED-ADDRESS bytes.
        let v4 = message(&[0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43]);
        let m = Message::new_checked(&v4[..]).unwrap();
        let attr = m.attributes().next().unwrap();
        assert_eq!(m.xor_address(&attr), Some("192.0.2.1:32853".parse().unwrap()));
        // Section 2.3's, as a relayed address.
        let mut v6 = vec![0x00, 0x16, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47];
        v6.extend_from_slice(&[
            0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9,
        ]);
        let v6 = message(&v6);
        let m = Message::new_checked(&v6[..]).unwrap();
        let attr = m.attributes().next().unwrap();
        assert_eq!(m.xor_address(&attr), Some("[2001:db8:1234:5678:11:2233:4455:6677]:32853".parse().unwrap()));
        // Wrong lengths, an unknown family, another attribute: none.
        for attrs in [
            &[0x00, 0x12, 0x00, 0x07, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0][..],
            &[0x00, 0x12, 0x00, 0x08, 0x00, 0x03, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43],
            &[0x00, 0x01, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43],
            // IPv4 family with an IPv6-sized address.
            &[
                0x00, 0x12, 0x00, 0x14, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                0, 0,
            ],
        ] {
            let bytes = message(attrs);
            let m = Message::new_checked(&bytes[..]).unwrap();
            let attr = m.attributes().next().unwrap();
            assert_eq!(m.xor_address(&attr), None, "{attrs:?}");
        }
    }

    #[test]
    fn rejects_what_is_not_stun() {
        let mut no_cookie = binding();
        no_cookie[4] = 0;
        assert_eq!(Message::new_checked(&no_cookie[..]).err(), Some(Malformed));
        let mut rtp = binding();
        rtp[0] = 0x80;
        assert_eq!(Message::new_checked(&rtp[..]).err(), Some(Malformed), "RTP's version bits are set");
        let long = binding();
        assert_eq!(Message::new_checked(&long[..long.len() - 1]).err(), Some(Malformed));
    }

    #[test]
    fn tcp_streams_carry_messages_directly_or_rfc_4571_framed() {
        let message = binding();
        let framed = [&u16::try_from(message.len()).unwrap().to_be_bytes()[..], &message].concat();
        assert_eq!(tcp_start(&message), TcpStart::Stun(TcpFraming::Direct));
        assert_eq!(tcp_start(&framed), TcpStart::Stun(TcpFraming::Rfc4571));
        assert_eq!(tcp_start(&message[..6]), TcpStart::TooShort);
        assert_eq!(tcp_start(&framed[..3]), TcpStart::TooShort);
        let mut wrong_length = framed.clone();
        wrong_length[1] += 4;
        assert_eq!(tcp_start(&wrong_length), TcpStart::NotStun, "an RFC 4571 length must count the message");
        for other in [&b"GET / HTTP/1.1\r\n"[..], &[0x16, 0x03, 0x01, 0x02, 0, 1, 0, 1, 0xfc, 3, 3], &[0xff; 32]] {
            assert_eq!(tcp_start(other), TcpStart::NotStun, "{other:?}");
        }
        // A message, ChannelData padded to four bytes, another message.
        let channel_data = [0x40, 0x00, 0x00, 0x03, 1, 2, 3, 0];
        let direct = [&message[..], &channel_data, &message].concat();
        let TcpFrame::Message(m, n) = tcp_frame(&direct, TcpFraming::Direct) else { panic!("a message") };
        assert_eq!((m.method(), n), (0x001, message.len()));
        assert!(matches!(tcp_frame(&direct[n..], TcpFraming::Direct), TcpFrame::Other(8)));
        assert!(matches!(tcp_frame(&direct[n + 8..], TcpFraming::Direct), TcpFrame::Message(_, _)));
        assert!(matches!(tcp_frame(&direct[..n - 1], TcpFraming::Direct), TcpFrame::Incomplete));
        assert!(matches!(tcp_frame(&[0x80, 0, 0, 0], TcpFraming::Direct), TcpFrame::Lost), "RTP without framing");
        // Framed: a message, then an RTP packet in a frame of its own.
        let rtp = [0, 4, 0x80, 0x6f, 0, 1];
        let stream = [&framed[..], &rtp].concat();
        let TcpFrame::Message(_, n) = tcp_frame(&stream, TcpFraming::Rfc4571) else { panic!("a message") };
        assert_eq!(n, framed.len());
        assert!(matches!(tcp_frame(&stream[n..], TcpFraming::Rfc4571), TcpFrame::Other(6)));
        assert!(matches!(tcp_frame(&stream[..n - 1], TcpFraming::Rfc4571), TcpFrame::Incomplete));
    }

    #[test]
    fn never_panics_on_any_prefix_or_mutation() {
        let bytes = binding();
        for end in 0..=bytes.len() {
            // The length field says where the message ends: no prefix is one.
            assert_eq!(Message::new_checked(&bytes[..end]).is_ok(), end == bytes.len(), "{end} bytes");
        }
        for i in 0..bytes.len() {
            for v in [0u8, 0xff, 0x7f] {
                let mut b = bytes.clone();
                b[i] = v;
                if let Ok(m) = Message::new_checked(&b[..]) {
                    let _ = (m.method(), m.attributes().count());
                    let _ = m.attributes().filter_map(|a| m.xor_address(&a)).count();
                }
            }
        }
    }
}
