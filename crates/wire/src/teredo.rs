//! Teredo (RFC 4380): IPv6 carried in UDP across IPv4 NATs, after an
//! optional authentication indicator and an optional origin indicator.

use std::net::Ipv4Addr;

use crate::{DecodeError, be16, be32};

/// The Teredo servers' port; relays and servers answer from it too, so
/// either port of a datagram may be this one.
pub const PORT: u16 = 3544;

mod field {
    use crate::Field;

    /// An authentication indicator, after its type (0x0001): the client id's and
    /// the authentication value's lengths, then both, a nonce and a
    /// confirmation byte.
    pub const AUTH_ID_LEN: usize = 2;
    pub const AUTH_VALUE_LEN: usize = 3;
    pub const AUTH_FIXED_LEN: usize = 4;
    /// Nonce and confirmation byte after the variable fields.
    pub const AUTH_TRAILER_LEN: usize = 9;
    /// An origin indicator, from its start: its type (0x0000, 2 bytes),
    /// the obfuscated port and address.
    pub const ORIGIN_PORT: Field = 2..4;
    pub const ORIGIN_ADDR: Field = 4..8;
    pub const ORIGIN_LEN: usize = 8;
}

const AUTH_TYPE: [u8; 2] = [0x00, 0x01];
const ORIGIN_TYPE: [u8; 2] = [0x00, 0x00];
const IPV6_HEADER_LEN: usize = 40;

/// A view of a Teredo datagram: its indicators, then the IPv6 packet.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// A view of `buffer` as it is; the accessors panic if an indicator is
    /// cut.
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// A view of `buffer`, once its indicators are whole. Whether an IPv6
    /// packet follows them is [`carries_ipv6`](Packet::carries_ipv6): other
    /// traffic on the port is ordinary UDP.
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        let b = buffer.as_ref();
        if b.starts_with(&AUTH_TYPE) {
            let fixed = b.get(..field::AUTH_FIXED_LEN).ok_or(DecodeError::TeredoTruncated)?;
            if b.len() < auth_len(fixed) {
                return Err(DecodeError::TeredoTruncated);
            }
        }
        if origin_at(b).is_some_and(|at| b.len() < at + field::ORIGIN_LEN) {
            return Err(DecodeError::TeredoTruncated);
        }
        Ok(Packet { buffer })
    }

    /// The buffer the view was made of.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Whether an authentication indicator (a server's answer to a router
    /// solicitation) came first.
    pub fn has_authentication(&self) -> bool {
        self.buffer.as_ref().starts_with(&AUTH_TYPE)
    }

    /// The client's mapped address and port that the origin indicator
    /// gives (sent obfuscated: every bit inverted).
    pub fn origin(&self) -> Option<(Ipv4Addr, u16)> {
        let b = self.buffer.as_ref();
        let origin = &b[origin_at(b)?..];
        Some((Ipv4Addr::from(!be32(origin, field::ORIGIN_ADDR)), !be16(origin, field::ORIGIN_PORT)))
    }

    /// Whether an IPv6 header follows the indicators: what tells a Teredo
    /// datagram from other traffic on the port.
    pub fn carries_ipv6(&self) -> bool {
        let b = self.buffer.as_ref();
        b.get(ipv6_at(b)..).is_some_and(|ip| ip.len() >= IPV6_HEADER_LEN && ip[0] >> 4 == 6)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// The IPv6 packet.
    pub fn payload(&self) -> &'a [u8] {
        let b = self.buffer.as_ref();
        &b[ipv6_at(b)..]
    }
}

/// The length of the authentication indicator whose fixed part is `fixed`.
fn auth_len(fixed: &[u8]) -> usize {
    field::AUTH_FIXED_LEN
        + usize::from(fixed[field::AUTH_ID_LEN])
        + usize::from(fixed[field::AUTH_VALUE_LEN])
        + field::AUTH_TRAILER_LEN
}

/// Where the origin indicator starts, if there is one: after the
/// authentication indicator, if there is one. `None` too when the
/// authentication indicator is cut (only an unchecked view asks then).
fn origin_at(b: &[u8]) -> Option<usize> {
    let at = if b.starts_with(&AUTH_TYPE) { auth_len(b.get(..field::AUTH_FIXED_LEN)?) } else { 0 };
    b.get(at..)?.starts_with(&ORIGIN_TYPE).then_some(at)
}

/// Where the IPv6 packet starts.
fn ipv6_at(b: &[u8]) -> usize {
    match origin_at(b) {
        Some(at) => at + field::ORIGIN_LEN,
        None if b.starts_with(&AUTH_TYPE) => b.get(..field::AUTH_FIXED_LEN).map_or(b.len(), auth_len),
        None => 0,
    }
}

/// What [`Repr::emit`] writes: an authentication indicator with this client
/// id and nonce (no authentication value) when `auth` is given, an origin
/// indicator with this mapped address and port when `origin` is.
#[cfg(feature = "emit")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr<'a> {
    /// (client id, nonce) of an authentication indicator.
    pub auth: Option<(&'a [u8], [u8; 8])>,
    /// (mapped address, mapped port) of an origin indicator.
    pub origin: Option<(Ipv4Addr, u16)>,
}

#[cfg(feature = "emit")]
impl Repr<'_> {
    /// The indicators, then `ipv6`.
    pub fn emit(&self, ipv6: &[u8]) -> Vec<u8> {
        let mut d = Vec::with_capacity(ipv6.len() + 32);
        if let Some((client_id, nonce)) = self.auth {
            d.extend_from_slice(&AUTH_TYPE);
            d.extend_from_slice(&[crate::len8(client_id.len()), 0]);
            d.extend_from_slice(client_id);
            d.extend_from_slice(&nonce);
            d.push(0); // confirmation: the client's qualification still holds
        }
        if let Some((addr, port)) = self.origin {
            d.extend_from_slice(&ORIGIN_TYPE);
            d.extend_from_slice(&(!port).to_be_bytes());
            d.extend_from_slice(&(!u32::from(addr)).to_be_bytes());
        }
        d.extend_from_slice(ipv6);
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv6() -> Vec<u8> {
        let mut p = vec![0x60];
        p.resize(IPV6_HEADER_LEN + 2, 0);
        p
    }

    fn origin_then(ip: &[u8]) -> Vec<u8> {
        // Origin 192.0.2.45:40000, inverted.
        let mut d = vec![0x00, 0x00];
        d.extend_from_slice(&(!40000u16).to_be_bytes());
        d.extend_from_slice(&(!u32::from(Ipv4Addr::new(192, 0, 2, 45))).to_be_bytes());
        d.extend_from_slice(ip);
        d
    }

    #[test]
    fn indicators_before_the_ipv6_packet() {
        let plain = ipv6();
        let p = Packet::new_checked(&plain).unwrap();
        assert_eq!((p.has_authentication(), p.origin(), p.payload().len(), p.carries_ipv6()), (false, None, 42, true));
        let with_origin = origin_then(&ipv6());
        let p = Packet::new_checked(&with_origin).unwrap();
        assert_eq!(p.origin(), Some((Ipv4Addr::new(192, 0, 2, 45), 40000)));
        assert_eq!(p.payload(), &ipv6()[..]);
        // Authentication with a 2-byte client id and a 1-byte value, then origin.
        let mut both = vec![0x00, 0x01, 2, 1, 0xaa, 0xbb, 0xcc];
        both.extend_from_slice(&[7; 8]);
        both.push(0);
        both.extend_from_slice(&with_origin);
        let p = Packet::new_checked(&both).unwrap();
        assert!(p.has_authentication());
        assert_eq!((p.origin().map(|o| o.1), p.payload().len()), (Some(40000), 42));
    }

    #[test]
    fn other_traffic_is_none_and_cut_indicators_errors() {
        assert!(
            !Packet::new_checked(b"\x45 not teredo at all, an IPv4-looking payload..........").unwrap().carries_ipv6()
        );
        assert!(!Packet::new_checked(&ipv6()[..30]).unwrap().carries_ipv6());
        assert_eq!(Packet::new_checked(&[0x00, 0x01, 2]).err(), Some(DecodeError::TeredoTruncated));
        assert_eq!(Packet::new_checked(&[0x00, 0x01, 2, 0, 1, 2, 3]).err(), Some(DecodeError::TeredoTruncated));
        assert_eq!(Packet::new_checked(&origin_then(&[])[..6]).err(), Some(DecodeError::TeredoTruncated));
    }

    #[cfg(feature = "emit")]
    #[test]
    fn emit_round_trips() {
        let repr = Repr { auth: Some((b"id", [1; 8])), origin: Some((Ipv4Addr::new(198, 51, 100, 7), 1234)) };
        let d = repr.emit(&ipv6());
        let p = Packet::new_checked(&d).unwrap();
        assert_eq!((p.has_authentication(), p.origin()), (true, Some((Ipv4Addr::new(198, 51, 100, 7), 1234))));
        assert_eq!(p.payload(), &ipv6()[..]);
    }
}
