//! IEEE 802.2 LLC headers with a SNAP extension (RFC 1042): how 802.3
//! frames with a length field, and 802.11 frames, name their ethertype.

use crate::{DecodeError, be16};

/// DSAP and SSAP 0xaa (SNAP), control 0x03 (unnumbered information).
pub const SNAP_LLC: [u8; 3] = [0xaa, 0xaa, 0x03];
/// The OUI of RFC 1042 encapsulation: the SNAP protocol is an ethertype.
pub const OUI_RFC1042: [u8; 3] = [0, 0, 0];
/// 802.1H bridge tunnel encapsulation, also followed by an ethertype.
pub const OUI_BRIDGE_TUNNEL: [u8; 3] = [0, 0, 0xf8];
/// In Ethernet's type/length field, values up to this are 802.3 lengths.
pub const MAX_8023_LENGTH: u16 = 1500;

const HEADER_LEN: usize = 8;

/// A view of an LLC/SNAP header, checked once at construction.
pub struct Snap<'a> {
    buffer: &'a [u8],
}

impl<'a> Snap<'a> {
    /// `Ok(None)` for LLC headers without SNAP (spanning tree, NetBIOS, ...)
    /// and for SNAP with an OUI whose protocol is not an ethertype (Cisco's
    /// CDP and VTP): they carry no IP.
    pub fn new_checked(buffer: &'a [u8]) -> Result<Option<Self>, DecodeError> {
        let llc = buffer.get(..3).ok_or(DecodeError::LlcTruncated)?;
        if llc != SNAP_LLC {
            return Ok(None);
        }
        let header = buffer.get(..HEADER_LEN).ok_or(DecodeError::LlcTruncated)?;
        let oui = [header[3], header[4], header[5]];
        Ok((oui == OUI_RFC1042 || oui == OUI_BRIDGE_TUNNEL).then_some(Snap { buffer }))
    }

    pub fn ethertype(&self) -> u16 {
        be16(self.buffer, 6)
    }

    pub fn payload(&self) -> &'a [u8] {
        &self.buffer[HEADER_LEN..]
    }
}

/// An RFC 1042 LLC/SNAP header naming `ethertype`, then `payload`.
#[cfg(feature = "emit")]
pub fn emit(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = SNAP_LLC.to_vec();
    f.extend_from_slice(&OUI_RFC1042);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snap_names_an_ethertype() {
        let s = Snap::new_checked(&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00, 0x45]).unwrap().unwrap();
        assert_eq!((s.ethertype(), s.payload()), (0x0800, &[0x45][..]));
        let tunnel = [0xaa, 0xaa, 0x03, 0, 0, 0xf8, 0x80, 0xf3];
        assert_eq!(Snap::new_checked(&tunnel).unwrap().map(|s| s.ethertype()), Some(0x80f3));
    }

    #[test]
    fn other_llc_is_none_and_cut_snap_an_error() {
        let stp = [0x42, 0x42, 0x03, 0, 0, 0, 0];
        assert!(Snap::new_checked(&stp).unwrap().is_none());
        let cdp = [0xaa, 0xaa, 0x03, 0x00, 0x00, 0x0c, 0x20, 0x00];
        assert!(Snap::new_checked(&cdp).unwrap().is_none());
        assert_eq!(Snap::new_checked(&[0xaa, 0xaa]).err(), Some(DecodeError::LlcTruncated));
        assert_eq!(Snap::new_checked(&[0xaa, 0xaa, 0x03, 0, 0, 0, 8]).err(), Some(DecodeError::LlcTruncated));
    }
}
