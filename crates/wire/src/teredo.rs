//! Teredo (RFC 4380): IPv6 carried in UDP across IPv4 NATs, after an
//! optional authentication indicator and an optional origin indicator.

use std::net::Ipv4Addr;

use crate::{DecodeError, be16, be32};

/// The Teredo servers' port; relays and servers answer from it too, so
/// either port of a datagram may be this one.
pub const PORT: u16 = 3544;

/// Indicator type, client id and authentication value lengths.
const AUTH_FIXED_LEN: usize = 4;
/// Nonce and confirmation byte after the variable fields.
const AUTH_TRAILER_LEN: usize = 9;
const ORIGIN_LEN: usize = 8;
const IPV6_HEADER_LEN: usize = 40;

/// A view of a Teredo datagram whose indicators were checked.
pub struct Packet<'a> {
    buffer: &'a [u8],
    auth: bool,
    origin_at: Option<usize>,
    ipv6_at: usize,
}

impl<'a> Packet<'a> {
    /// `Ok(None)` unless an IPv6 header follows the indicators: other
    /// traffic on the port is ordinary UDP. An indicator cut by the end of
    /// the datagram is an error.
    pub fn new_checked(buffer: &'a [u8]) -> Result<Option<Self>, DecodeError> {
        let mut at = 0;
        let auth = buffer.starts_with(&[0x00, 0x01]);
        if auth {
            let fixed = buffer.get(..AUTH_FIXED_LEN).ok_or(DecodeError::TeredoTruncated)?;
            at = AUTH_FIXED_LEN + usize::from(fixed[2]) + usize::from(fixed[3]) + AUTH_TRAILER_LEN;
            if buffer.len() < at {
                return Err(DecodeError::TeredoTruncated);
            }
        }
        let origin_at = buffer[at..].starts_with(&[0x00, 0x00]).then_some(at);
        if origin_at.is_some() {
            at += ORIGIN_LEN;
            if buffer.len() < at {
                return Err(DecodeError::TeredoTruncated);
            }
        }
        match buffer.get(at..at + IPV6_HEADER_LEN) {
            Some(ip) if ip[0] >> 4 == 6 => Ok(Some(Packet { buffer, auth, origin_at, ipv6_at: at })),
            _ => Ok(None),
        }
    }

    /// Whether an authentication indicator (a server's answer to a router
    /// solicitation) came first.
    pub fn has_authentication(&self) -> bool {
        self.auth
    }

    /// The client's mapped address and port that the origin indicator
    /// gives (sent obfuscated: every bit inverted).
    pub fn origin(&self) -> Option<(Ipv4Addr, u16)> {
        self.origin_at.map(|at| (Ipv4Addr::from(!be32(self.buffer, at + 4)), !be16(self.buffer, at + 2)))
    }

    /// The IPv6 packet.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer[self.ipv6_at..]
    }
}

/// A Teredo datagram: an authentication indicator with this client id and
/// nonce (no authentication value) when `auth` is given, an origin
/// indicator with this mapped address and port when `origin` is, then `ipv6`.
#[cfg(feature = "emit")]
pub fn emit(auth: Option<(&[u8], [u8; 8])>, origin: Option<(Ipv4Addr, u16)>, ipv6: &[u8]) -> Vec<u8> {
    let mut d = Vec::with_capacity(ipv6.len() + 32);
    if let Some((client_id, nonce)) = auth {
        d.extend_from_slice(&[0x00, 0x01, crate::len8(client_id.len()), 0]);
        d.extend_from_slice(client_id);
        d.extend_from_slice(&nonce);
        d.push(0); // confirmation: the client's qualification still holds
    }
    if let Some((addr, port)) = origin {
        d.extend_from_slice(&[0x00, 0x00]);
        d.extend_from_slice(&(!port).to_be_bytes());
        d.extend_from_slice(&(!u32::from(addr)).to_be_bytes());
    }
    d.extend_from_slice(ipv6);
    d
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
        let p = Packet::new_checked(&plain).unwrap().unwrap();
        assert_eq!((p.has_authentication(), p.origin(), p.payload().len()), (false, None, 42));
        let with_origin = origin_then(&ipv6());
        let p = Packet::new_checked(&with_origin).unwrap().unwrap();
        assert_eq!(p.origin(), Some((Ipv4Addr::new(192, 0, 2, 45), 40000)));
        assert_eq!(p.payload(), &ipv6()[..]);
        // Authentication with a 2-byte client id and a 1-byte value, then origin.
        let mut both = vec![0x00, 0x01, 2, 1, 0xaa, 0xbb, 0xcc];
        both.extend_from_slice(&[7; 8]);
        both.push(0);
        both.extend_from_slice(&with_origin);
        let p = Packet::new_checked(&both).unwrap().unwrap();
        assert!(p.has_authentication());
        assert_eq!((p.origin().map(|o| o.1), p.payload().len()), (Some(40000), 42));
    }

    #[test]
    fn other_traffic_is_none_and_cut_indicators_errors() {
        assert!(Packet::new_checked(b"\x45 not teredo at all, an IPv4-looking payload..........").unwrap().is_none());
        assert!(Packet::new_checked(&ipv6()[..30]).unwrap().is_none());
        assert_eq!(Packet::new_checked(&[0x00, 0x01, 2]).err(), Some(DecodeError::TeredoTruncated));
        assert_eq!(Packet::new_checked(&[0x00, 0x01, 2, 0, 1, 2, 3]).err(), Some(DecodeError::TeredoTruncated));
        assert_eq!(Packet::new_checked(&origin_then(&[])[..6]).err(), Some(DecodeError::TeredoTruncated));
    }

    #[cfg(feature = "emit")]
    #[test]
    fn emit_round_trips() {
        let d = emit(Some((b"id", [1; 8])), Some((Ipv4Addr::new(198, 51, 100, 7), 1234)), &ipv6());
        let p = Packet::new_checked(&d).unwrap().unwrap();
        assert_eq!((p.has_authentication(), p.origin()), (true, Some((Ipv4Addr::new(198, 51, 100, 7), 1234))));
        assert_eq!(p.payload(), &ipv6()[..]);
    }
}
