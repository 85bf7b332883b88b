//! IEEE 802.2 LLC headers with a SNAP extension (RFC 1042): how 802.3
//! frames with a length field, and 802.11 frames, name their ethertype.

use crate::{DecodeError, array, be16};

/// DSAP and SSAP 0xaa (SNAP), control 0x03 (unnumbered information).
pub const SNAP_LLC: [u8; 3] = [0xaa, 0xaa, 0x03];
/// The OUI of RFC 1042 encapsulation: the SNAP protocol is an ethertype.
pub const OUI_RFC1042: [u8; 3] = [0, 0, 0];
/// 802.1H bridge tunnel encapsulation, also followed by an ethertype.
pub const OUI_BRIDGE_TUNNEL: [u8; 3] = [0, 0, 0xf8];
/// In Ethernet's type/length field, values up to this are 802.3 lengths.
pub const MAX_8023_LENGTH: u16 = 1500;

mod field {
    use crate::{Field, Rest};

    /// DSAP, SSAP and control.
    pub const LLC: Field = 0..3;
    pub const OUI: Field = 3..6;
    pub const ETHERTYPE: Field = 6..8;
    pub const PAYLOAD: Rest = 8..;
}

/// The length of an LLC/SNAP header.
pub const HEADER_LEN: usize = field::PAYLOAD.start;

/// Whether `buffer` may start with an LLC/SNAP header: LLC without SNAP
/// (spanning tree, NetBIOS, ...) carries no IP. An LLC header cut short
/// passes, for `new_checked` to report the cut.
pub fn probe(buffer: &[u8]) -> bool {
    buffer.get(field::LLC).is_none_or(|llc| llc == SNAP_LLC)
}

/// A view of an LLC/SNAP header.
#[derive(Debug, Clone, Copy)]
pub struct Snap<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Snap<T> {
    /// A view of `buffer` as it is; the accessors panic if it is shorter
    /// than a header.
    pub const fn new_unchecked(buffer: T) -> Self {
        Snap { buffer }
    }

    /// A view of `buffer`, once it holds a whole header.
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(DecodeError::LlcTruncated);
        }
        Ok(Snap { buffer })
    }

    /// The buffer the view was made of.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The organisation that defines the SNAP protocol field.
    pub fn oui(&self) -> [u8; 3] {
        array(self.buffer.as_ref(), field::OUI)
    }

    /// Whether the SNAP protocol is an ethertype (RFC 1042 and 802.1H
    /// encapsulation); others (Cisco's CDP and VTP) carry no IP.
    pub fn names_ethertype(&self) -> bool {
        matches!(self.oui(), OUI_RFC1042 | OUI_BRIDGE_TUNNEL)
    }

    /// The SNAP protocol: an ethertype, when [`names_ethertype`](Snap::names_ethertype).
    pub fn ethertype(&self) -> u16 {
        be16(self.buffer.as_ref(), field::ETHERTYPE)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Snap<&'a T> {
    /// The bytes after the header.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::PAYLOAD]
    }
}

/// What [`Repr::emit`] writes: an RFC 1042 LLC/SNAP header.
#[cfg(feature = "emit")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// The payload's ethertype.
    pub ethertype: u16,
}

#[cfg(feature = "emit")]
impl Repr {
    /// The header, then `payload`.
    pub fn emit(&self, payload: &[u8]) -> Vec<u8> {
        let mut f = SNAP_LLC.to_vec();
        f.extend_from_slice(&OUI_RFC1042);
        f.extend_from_slice(&self.ethertype.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snap_names_an_ethertype() {
        let f = [0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00, 0x45];
        assert!(probe(&f));
        let s = Snap::new_checked(&f).unwrap();
        assert_eq!((s.names_ethertype(), s.ethertype(), s.payload()), (true, 0x0800, &[0x45][..]));
        let tunnel = [0xaa, 0xaa, 0x03, 0, 0, 0xf8, 0x80, 0xf3];
        let s = Snap::new_checked(&tunnel).unwrap();
        assert_eq!((s.oui(), s.names_ethertype(), s.ethertype()), (OUI_BRIDGE_TUNNEL, true, 0x80f3));
    }

    #[test]
    fn other_llc_is_not_snap_and_cut_snap_an_error() {
        let stp = [0x42, 0x42, 0x03, 0, 0, 0, 0];
        assert!(!probe(&stp));
        let cdp = [0xaa, 0xaa, 0x03, 0x00, 0x00, 0x0c, 0x20, 0x00];
        assert!(probe(&cdp) && !Snap::new_checked(&cdp).unwrap().names_ethertype());
        assert!(probe(&[0xaa, 0xaa]));
        assert_eq!(Snap::new_checked(&[0xaa, 0xaa]).err(), Some(DecodeError::LlcTruncated));
        assert_eq!(Snap::new_checked(&[0xaa, 0xaa, 0x03, 0, 0, 0, 8]).err(), Some(DecodeError::LlcTruncated));
    }

    #[cfg(feature = "emit")]
    #[test]
    fn reads_what_repr_writes() {
        let f = Repr { ethertype: 0x86dd }.emit(&[0x60]);
        let s = Snap::new_checked(&f[..]).unwrap();
        assert_eq!((s.names_ethertype(), s.ethertype(), s.payload()), (true, 0x86dd, &[0x60][..]));
    }
}
