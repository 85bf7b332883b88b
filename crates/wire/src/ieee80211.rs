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
    snap_at: usize,
}

/// Whether (type/subtype byte, flags byte) is a data frame of protocol
/// version 0 going to or from the distribution system, as every frame
/// bridged by an access point does.
fn is_bridged_data(kind: u8, flags: u8) -> bool {
    kind & 0x0f == 0x08 && flags & 0x03 != 0
}

impl<'a> DataFrame<'a> {
    /// `Ok(None)` for frames without an IP payload to reach: management and
    /// control frames, null-data frames, protected (encrypted) frames, and
    /// payloads that are not LLC/SNAP.
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
        Ok(Some(DataFrame { buffer, snap_at }))
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
}
