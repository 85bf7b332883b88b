//! IEEE 802.11 data frames with an LLC/SNAP header, as CAPWAP tunnels
//! carry them: the header is skipped to the encapsulated ethertype.

use crate::{DecodeError, be16};

/// Frame control, duration, three addresses and sequence control.
const BASE_HEADER_LEN: usize = 24;
/// LLC (DSAP, SSAP, control) and SNAP (OUI, ethertype).
const SNAP_LEN: usize = 8;

/// A view of an 802.11 data frame whose header and SNAP header were
/// length-checked.
pub struct DataFrame<'a> {
    buffer: &'a [u8],
    flags: u8,
    snap_at: usize,
}

/// Whether (type/subtype byte, flags byte) is a data frame of protocol
/// version 0 going to or from the distribution system, as every frame
/// bridged by an access point does.
fn is_bridged_data(kind: u8, flags: u8) -> bool {
    is_data(kind) && flags & 0x03 != 0
}

/// Whether the type/subtype byte is a data frame of protocol version 0.
fn is_data(kind: u8) -> bool {
    kind & 0x0f == 0x08
}

impl<'a> DataFrame<'a> {
    /// A frame as an access point tunnels it (CAPWAP). `Ok(None)` for
    /// frames without an IP payload to reach: management and control
    /// frames, null-data frames, protected (encrypted) frames, and payloads
    /// that are not LLC/SNAP.
    pub fn new_checked(buffer: &'a [u8]) -> Result<Option<Self>, DecodeError> {
        let fc = buffer.get(..2).ok_or(DecodeError::Ieee80211Truncated)?;
        // Cisco access points put the frame control field in little-endian
        // order; the two orders cannot both look like a bridged data frame
        // (the flags byte would need a DS bit set and clear at once), so
        // trying both is unambiguous.
        let (kind, flags) = if is_bridged_data(fc[0], fc[1]) {
            (fc[0], fc[1])
        } else if is_bridged_data(fc[1], fc[0]) {
            (fc[1], fc[0])
        } else {
            return Ok(None);
        };
        DataFrame::with_control(buffer, kind, flags)
    }

    /// A frame as a monitor-mode interface heard it: frame control in the
    /// standard order and any DS bits (an ad hoc network's frames have
    /// neither). `Ok(None)` as for [`DataFrame::new_checked`].
    pub fn from_air(buffer: &'a [u8]) -> Result<Option<Self>, DecodeError> {
        let fc = buffer.get(..2).ok_or(DecodeError::Ieee80211Truncated)?;
        if !is_data(fc[0]) {
            return Ok(None);
        }
        DataFrame::with_control(buffer, fc[0], fc[1])
    }

    fn with_control(buffer: &'a [u8], kind: u8, flags: u8) -> Result<Option<Self>, DecodeError> {
        let no_data = kind & 0x40 != 0;
        let protected = flags & 0x40 != 0;
        if no_data || protected {
            return Ok(None);
        }
        let qos = kind & 0x80 != 0;
        let four_addresses = flags & 0x03 == 0x03;
        // The Order flag on a QoS data frame announces an HT control field.
        let ht_control = qos && flags & 0x80 != 0;
        let snap_at =
            BASE_HEADER_LEN + 6 * usize::from(four_addresses) + 2 * usize::from(qos) + 4 * usize::from(ht_control);
        let snap = buffer.get(snap_at..snap_at + SNAP_LEN).ok_or(DecodeError::Ieee80211Truncated)?;
        if snap[..3] != [0xaa, 0xaa, 0x03] {
            return Ok(None);
        }
        Ok(Some(DataFrame { buffer, flags, snap_at }))
    }

    /// The address at `at` (the header was length-checked past all four).
    fn address(&self, at: usize) -> [u8; 6] {
        let mut a = [0; 6];
        a.copy_from_slice(&self.buffer[at..at + 6]);
        a
    }

    /// The station that sent the frame (SA): address 2, 3 from the
    /// distribution system, 4 between access points.
    pub fn src(&self) -> [u8; 6] {
        self.address(match self.flags & 0x03 {
            0x00 | 0x01 => 10,
            0x02 => 16,
            _ => 24,
        })
    }

    /// The station the frame is for (DA): address 1, or 3 to the
    /// distribution system.
    pub fn dst(&self) -> [u8; 6] {
        self.address(if self.flags & 0x01 != 0 { 16 } else { 4 })
    }

    pub fn ethertype(&self) -> u16 {
        be16(self.buffer, self.snap_at + 6)
    }

    pub fn payload(&self) -> &'a [u8] {
        &self.buffer[self.snap_at + SNAP_LEN..]
    }
}

/// An IEEE 802.11 QoS data frame bridged by an access point, with an
/// LLC/SNAP header before `ethertype`'s payload: from the station to the
/// distribution system (`to_ds`) or back.
#[cfg(feature = "emit")]
pub fn emit_data(
    to_ds: bool,
    bssid: [u8; 6],
    station: [u8; 6],
    peer: [u8; 6],
    sequence: u16,
    ethertype: u16,
    payload: &[u8],
) -> Vec<u8> {
    // Frame control: QoS data (type 2, subtype 8), then ToDS or FromDS.
    let mut f = vec![0x88, if to_ds { 0x01 } else { 0x02 }];
    f.extend_from_slice(&[0x2c, 0x00]); // duration
    let (a1, a2, a3) = if to_ds { (bssid, station, peer) } else { (station, bssid, peer) };
    for a in [a1, a2, a3] {
        f.extend_from_slice(&a);
    }
    f.extend_from_slice(&((sequence & 0x0fff) << 4).to_le_bytes());
    f.extend_from_slice(&[0x00, 0x00]); // QoS control: best effort
    f.extend_from_slice(&[0xaa, 0xaa, 0x03, 0x00, 0x00, 0x00]);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(fc: [u8; 2], extra_header: usize) -> Vec<u8> {
        let mut f = fc.to_vec();
        f.resize(BASE_HEADER_LEN + extra_header, 0x11);
        f.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x86, 0xdd, 0x60]);
        f
    }

    #[test]
    fn skips_header_variants_to_the_ethertype() {
        // Data ToDS; the same byte-swapped; QoS data FromDS; QoS + HT
        // control with four addresses.
        for (fc, extra) in [([0x08, 0x01], 0), ([0x01, 0x08], 0), ([0x88, 0x02], 2), ([0x88, 0x83], 6 + 2 + 4)] {
            let f = frame(fc, extra);
            let d = DataFrame::new_checked(&f).unwrap().unwrap_or_else(|| panic!("{fc:02x?} not data"));
            assert_eq!((d.ethertype(), d.payload()), (0x86dd, &[0x60][..]), "{fc:02x?}");
        }
    }

    #[test]
    fn frames_without_ip_are_none_and_cut_headers_errors() {
        // Beacon, QoS null, protected data, data without a DS bit.
        for fc in [[0x80, 0x00], [0xc8, 0x01], [0x08, 0x41], [0x08, 0x00]] {
            assert!(DataFrame::new_checked(&frame(fc, 0)).unwrap().is_none(), "{fc:02x?}");
        }
        let mut not_snap = frame([0x08, 0x01], 0);
        not_snap[24] = 0x42;
        assert!(DataFrame::new_checked(&not_snap).unwrap().is_none());
        let f = frame([0x88, 0x01], 2);
        assert_eq!(DataFrame::new_checked(&f[..31]).err(), Some(DecodeError::Ieee80211Truncated));
        assert_eq!(DataFrame::new_checked(&f[..1]).err(), Some(DecodeError::Ieee80211Truncated));
    }

    #[test]
    fn frames_from_the_air_read_any_ds_bits_in_standard_order_only() {
        // Ad hoc data (no DS bit), QoS data FromDS, four-address QoS data.
        for (fc, extra) in [([0x08, 0x00], 0), ([0x88, 0x02], 2), ([0x88, 0x03], 6 + 2)] {
            let f = frame(fc, extra);
            let d = DataFrame::from_air(&f).unwrap().unwrap_or_else(|| panic!("{fc:02x?} not data"));
            assert_eq!(d.ethertype(), 0x86dd, "{fc:02x?}");
        }
        // Byte-swapped, protected, and a beacon are no IP from the air.
        for fc in [[0x01, 0x08], [0x88, 0x42], [0x80, 0x00]] {
            assert!(DataFrame::from_air(&frame(fc, 2)).unwrap().is_none(), "{fc:02x?}");
        }
    }

    #[test]
    fn addresses_follow_the_ds_bits() {
        let mut f = frame([0x08, 0x01], 0);
        for (i, b) in (0u8..).zip(f[4..24].iter_mut()) {
            *b = i / 6 + 1; // address 1 all 1s, 2 all 2s, 3 all 3s
        }
        let to_ds = DataFrame::from_air(&f).unwrap().unwrap();
        assert_eq!((to_ds.src(), to_ds.dst()), ([2; 6], [3; 6]));
        f[1] = 0x02;
        let from_ds = DataFrame::from_air(&f).unwrap().unwrap();
        assert_eq!((from_ds.src(), from_ds.dst()), ([3; 6], [1; 6]));
        f[1] = 0x00;
        let ad_hoc = DataFrame::from_air(&f).unwrap().unwrap();
        assert_eq!((ad_hoc.src(), ad_hoc.dst()), ([2; 6], [1; 6]));
    }
}
