//! IEEE 802.11 data frames with an LLC/SNAP header, as CAPWAP tunnels
//! carry them: the header is skipped to the encapsulated ethertype.

use crate::{DecodeError, array, be16};

mod field {
    use crate::Field;

    /// Frame control: the type/subtype byte and the flags byte, in that
    /// order as the standard sends them (Cisco access points swap them).
    pub const FRAME_CONTROL: Field = 0..2;
    pub const ADDR1: Field = 4..10;
    pub const ADDR2: Field = 10..16;
    pub const ADDR3: Field = 16..22;
    /// Present when both DS bits are set, after sequence control.
    pub const ADDR4: Field = 24..30;
    /// Frame control, duration, three addresses and sequence control.
    pub const BASE_HEADER_LEN: usize = 24;
    /// LLC (DSAP, SSAP, control) and SNAP (OUI, ethertype).
    pub const SNAP_LEN: usize = 8;
    /// Within the SNAP header.
    pub const SNAP_ETHERTYPE: Field = 6..8;
}

/// In the type/subtype byte: a subtype without data (null, QoS null).
const NO_DATA: u8 = 0x40;
/// In the type/subtype byte: a QoS data subtype, with a QoS control field.
const QOS: u8 = 0x80;
/// In the flags byte: to and from the distribution system.
const TO_DS: u8 = 0x01;
const FROM_DS: u8 = 0x02;
/// In the flags byte: the payload is encrypted.
const PROTECTED: u8 = 0x40;
/// In the flags byte: the Order flag, which on a QoS data frame announces
/// an HT control field.
const ORDER: u8 = 0x80;

/// Whether the type/subtype byte is a data frame of protocol version 0.
fn is_data(kind: u8) -> bool {
    kind & 0x0f == 0x08
}

/// Whether (type/subtype byte, flags byte) is a data frame of protocol
/// version 0 going to or from the distribution system, as every frame
/// bridged by an access point does.
fn is_bridged_data(kind: u8, flags: u8) -> bool {
    is_data(kind) && flags & (TO_DS | FROM_DS) != 0
}

/// The frame control field of `b` as (type/subtype, flags). Cisco access
/// points put it in little-endian order. Read swapped, only a bridged data
/// frame is accepted, and then the standard order cannot also look like a
/// data frame (the flags byte would need a DS bit set and clear at once), so
/// trying both is unambiguous.
fn frame_control(fc: &[u8]) -> Option<(u8, u8)> {
    if is_data(fc[0]) {
        Some((fc[0], fc[1]))
    } else if is_bridged_data(fc[1], fc[0]) {
        Some((fc[1], fc[0]))
    } else {
        None
    }
}

/// Whether `buffer` may be a data frame with a payload to reach: a data
/// frame (in either order of its frame control, see [`DataFrame`]) that is
/// neither null-data nor protected (encrypted). Management and control
/// frames are not. A frame control cut short passes, for `new_checked` to
/// report the cut.
pub fn probe(buffer: &[u8]) -> bool {
    match buffer.get(field::FRAME_CONTROL) {
        Some(fc) => frame_control(fc).is_some_and(|(kind, flags)| kind & NO_DATA == 0 && flags & PROTECTED == 0),
        None => true,
    }
}

/// A view of an 802.11 data frame whose frame control is in the standard
/// order or (bridged frames only) byte-swapped, as Cisco access points
/// tunnel them; the accessors read either.
#[derive(Debug, Clone, Copy)]
pub struct DataFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> DataFrame<T> {
    /// A view of `buffer` as it is; the accessors panic if it is not a data
    /// frame, or shorter than its header and SNAP header.
    pub const fn new_unchecked(buffer: T) -> Self {
        DataFrame { buffer }
    }

    /// A view of `buffer`, once it is a data frame holding its header and an
    /// LLC/SNAP header's length. A frame that is no data frame at all is
    /// reported as cut too: [`probe`] tells those apart first.
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        let b = buffer.as_ref();
        let fc = b.get(field::FRAME_CONTROL).ok_or(DecodeError::Ieee80211Truncated)?;
        let Some((kind, flags)) = frame_control(fc) else { return Err(DecodeError::Ieee80211Truncated) };
        if b.len() < snap_at(kind, flags) + field::SNAP_LEN {
            return Err(DecodeError::Ieee80211Truncated);
        }
        Ok(DataFrame { buffer })
    }

    /// The buffer the view was made of.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn control(&self) -> (u8, u8) {
        let fc = &self.buffer.as_ref()[field::FRAME_CONTROL];
        if is_data(fc[0]) { (fc[0], fc[1]) } else { (fc[1], fc[0]) }
    }

    /// Whether the frame control field came byte-swapped (Cisco's order).
    pub fn is_swapped(&self) -> bool {
        !is_data(self.buffer.as_ref()[0])
    }

    /// Whether the frame goes to or comes from the distribution system, as
    /// frames bridged by an access point do (an ad hoc network's do not).
    pub fn is_bridged(&self) -> bool {
        self.control().1 & (TO_DS | FROM_DS) != 0
    }

    /// Whether the payload starts with an RFC 1042 LLC/SNAP header, which
    /// names its ethertype.
    pub fn is_snap(&self) -> bool {
        let b = self.buffer.as_ref();
        let (kind, flags) = self.control();
        b[snap_at(kind, flags)..].starts_with(&crate::llc::SNAP_LLC)
    }

    /// The station that sent the frame (SA): address 2, 3 from the
    /// distribution system, 4 between access points.
    pub fn src(&self) -> [u8; 6] {
        let at = match self.control().1 & (TO_DS | FROM_DS) {
            0x00 | TO_DS => field::ADDR2,
            FROM_DS => field::ADDR3,
            _ => field::ADDR4,
        };
        array(self.buffer.as_ref(), at)
    }

    /// The station the frame is for (DA): address 1, or 3 to the
    /// distribution system.
    pub fn dst(&self) -> [u8; 6] {
        let at = if self.control().1 & TO_DS != 0 { field::ADDR3 } else { field::ADDR1 };
        array(self.buffer.as_ref(), at)
    }

    /// The ethertype the SNAP header names.
    pub fn ethertype(&self) -> u16 {
        let (kind, flags) = self.control();
        let at = snap_at(kind, flags) + field::SNAP_ETHERTYPE.start;
        be16(self.buffer.as_ref(), at..at + 2)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> DataFrame<&'a T> {
    /// The bytes after the SNAP header.
    pub fn payload(&self) -> &'a [u8] {
        let (kind, flags) = self.control();
        &self.buffer.as_ref()[snap_at(kind, flags) + field::SNAP_LEN..]
    }
}

/// Where the LLC/SNAP header starts: after the base header, a fourth
/// address (both DS bits), QoS control (QoS subtypes) and HT control (Order
/// on a QoS frame).
fn snap_at(kind: u8, flags: u8) -> usize {
    let qos = kind & QOS != 0;
    let four_addresses = flags & (TO_DS | FROM_DS) == TO_DS | FROM_DS;
    let ht_control = qos && flags & ORDER != 0;
    field::BASE_HEADER_LEN + 6 * usize::from(four_addresses) + 2 * usize::from(qos) + 4 * usize::from(ht_control)
}

/// What [`Repr::emit`] writes: an IEEE 802.11 QoS data frame bridged by an
/// access point, with an LLC/SNAP header before `ethertype`'s payload.
#[cfg(feature = "emit")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// From the station to the distribution system, or back.
    pub to_ds: bool,
    /// The access point's address.
    pub bssid: [u8; 6],
    /// The wireless station's address.
    pub station: [u8; 6],
    /// The address of the station's peer beyond the access point.
    pub peer: [u8; 6],
    /// The sequence number (12 bits).
    pub sequence: u16,
    /// The payload's ethertype, in the SNAP header.
    pub ethertype: u16,
}

#[cfg(feature = "emit")]
impl Repr {
    /// The header, then `payload`.
    pub fn emit(&self, payload: &[u8]) -> Vec<u8> {
        // Frame control: QoS data (type 2, subtype 8), then ToDS or FromDS.
        let mut f = vec![0x88, if self.to_ds { TO_DS } else { FROM_DS }];
        f.extend_from_slice(&[0x2c, 0x00]); // duration
        let (a1, a2, a3) =
            if self.to_ds { (self.bssid, self.station, self.peer) } else { (self.station, self.bssid, self.peer) };
        for a in [a1, a2, a3] {
            f.extend_from_slice(&a);
        }
        f.extend_from_slice(&((self.sequence & 0x0fff) << 4).to_le_bytes());
        f.extend_from_slice(&[0x00, 0x00]); // QoS control: best effort
        f.extend_from_slice(&crate::llc::SNAP_LLC);
        f.extend_from_slice(&crate::llc::OUI_RFC1042);
        f.extend_from_slice(&self.ethertype.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(fc: [u8; 2], extra_header: usize) -> Vec<u8> {
        let mut f = fc.to_vec();
        f.resize(field::BASE_HEADER_LEN + extra_header, 0x11);
        f.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x86, 0xdd, 0x60]);
        f
    }

    #[test]
    fn skips_header_variants_to_the_ethertype() {
        // Data ToDS; the same byte-swapped; QoS data FromDS; QoS + HT
        // control with four addresses.
        for (fc, extra) in [([0x08, 0x01], 0), ([0x01, 0x08], 0), ([0x88, 0x02], 2), ([0x88, 0x83], 6 + 2 + 4)] {
            let f = frame(fc, extra);
            assert!(probe(&f), "{fc:02x?} not data");
            let d = DataFrame::new_checked(&f[..]).unwrap();
            assert!(d.is_bridged() && d.is_snap(), "{fc:02x?}");
            assert_eq!((d.ethertype(), d.payload()), (0x86dd, &[0x60][..]), "{fc:02x?}");
        }
    }

    #[test]
    fn frames_without_ip_are_none_and_cut_headers_errors() {
        // Beacon, QoS null, protected data.
        for fc in [[0x80, 0x00], [0xc8, 0x01], [0x08, 0x41]] {
            assert!(!probe(&frame(fc, 0)), "{fc:02x?}");
        }
        let ad_hoc = frame([0x08, 0x00], 0);
        assert!(!DataFrame::new_checked(&ad_hoc[..]).unwrap().is_bridged(), "data without a DS bit");
        let mut not_snap = frame([0x08, 0x01], 0);
        not_snap[24] = 0x42;
        assert!(!DataFrame::new_checked(&not_snap[..]).unwrap().is_snap());
        let f = frame([0x88, 0x01], 2);
        assert_eq!(DataFrame::new_checked(&f[..31]).err(), Some(DecodeError::Ieee80211Truncated));
        assert!(probe(&f[..1]), "a cut frame control is for new_checked to report");
        assert_eq!(DataFrame::new_checked(&f[..1]).err(), Some(DecodeError::Ieee80211Truncated));
    }

    #[test]
    fn the_frame_control_is_read_in_either_order() {
        // Ad hoc data (no DS bit), QoS data FromDS, four-address QoS data.
        for (fc, extra) in [([0x08, 0x00], 0), ([0x88, 0x02], 2), ([0x88, 0x03], 6 + 2)] {
            let f = frame(fc, extra);
            assert!(probe(&f), "{fc:02x?} not data");
            let d = DataFrame::new_checked(&f[..]).unwrap();
            assert_eq!((d.ethertype(), d.is_swapped()), (0x86dd, false), "{fc:02x?}");
        }
        let swapped = frame([0x01, 0x08], 0);
        assert!(DataFrame::new_checked(&swapped[..]).unwrap().is_swapped());
        // Protected, and a beacon, in either order.
        for fc in [[0x88, 0x42], [0x42, 0x88], [0x80, 0x00], [0x00, 0x80]] {
            assert!(!probe(&frame(fc, 2)), "{fc:02x?}");
        }
    }

    #[test]
    fn addresses_follow_the_ds_bits() {
        let mut f = frame([0x08, 0x01], 0);
        for (i, b) in (0u8..).zip(f[4..24].iter_mut()) {
            *b = i / 6 + 1; // address 1 all 1s, 2 all 2s, 3 all 3s
        }
        let to_ds = DataFrame::new_checked(&f[..]).unwrap();
        assert_eq!((to_ds.src(), to_ds.dst()), ([2; 6], [3; 6]));
        f[1] = 0x02;
        let from_ds = DataFrame::new_checked(&f[..]).unwrap();
        assert_eq!((from_ds.src(), from_ds.dst()), ([3; 6], [1; 6]));
        f[1] = 0x00;
        let ad_hoc = DataFrame::new_checked(&f[..]).unwrap();
        assert_eq!((ad_hoc.src(), ad_hoc.dst()), ([2; 6], [1; 6]));
    }

    #[cfg(feature = "emit")]
    #[test]
    fn reads_what_repr_writes() {
        for to_ds in [true, false] {
            let repr = Repr { to_ds, bssid: [1; 6], station: [2; 6], peer: [3; 6], sequence: 9, ethertype: 0x0800 };
            let f = repr.emit(&[0x45]);
            assert!(probe(&f));
            let d = DataFrame::new_checked(&f[..]).unwrap();
            let (src, dst) = if to_ds { ([2; 6], [3; 6]) } else { ([3; 6], [2; 6]) };
            assert_eq!((d.src(), d.dst(), d.ethertype(), d.payload()), (src, dst, 0x0800, &[0x45][..]));
            assert!(d.is_bridged() && d.is_snap() && !d.is_swapped());
        }
    }
}
