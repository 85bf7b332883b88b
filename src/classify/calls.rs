//! Calls' media: a vendor's STUN checks carry the transport addresses the
//! call's media will use (the client's mapped address, a TURN relay, a
//! peer), and the media flows to them (RTP, RTCP, SRTP, DTLS, more checks)
//! carry no name of their own. One worker's table of those candidates ties
//! each new UDP flow to such an address to the call's vendor, for a while.

use std::collections::HashMap;
use std::net::SocketAddr;

use super::signatures::EntryId;

/// Candidate addresses remembered per worker: a call offers a handful, so
/// this covers hundreds of calls at once and bounds what a flood of forged
/// checks can take (under half a MiB).
pub const CALL_TABLE_CAPACITY: usize = 4_096;
/// How long a candidate ties new flows to its call: media starts within
/// seconds of the checks; ICE restarts come with checks of their own.
pub const CANDIDATE_TTL_NS: u64 = 120 * 1_000_000_000;

/// The candidates of calls attributed by STUN, with the entry that
/// attributed them and when they stop counting.
#[derive(Debug, Default)]
pub struct CallTable {
    candidates: HashMap<SocketAddr, (EntryId, u64)>,
    /// Earliest capture time at which a full table is swept again, so that
    /// a flood of candidates into a full table costs one sweep per second,
    /// not one per candidate.
    next_sweep_ns: u64,
}

impl CallTable {
    /// Remembers `addr` as a candidate of a call attributed to `entry`, or
    /// refreshes it. A full table first drops the expired; if none has
    /// expired, the new candidate is not kept.
    pub fn remember(&mut self, addr: SocketAddr, entry: EntryId, now_ns: u64) {
        let expires = now_ns.saturating_add(CANDIDATE_TTL_NS);
        if self.candidates.len() >= CALL_TABLE_CAPACITY && !self.candidates.contains_key(&addr) {
            if now_ns < self.next_sweep_ns {
                return;
            }
            self.next_sweep_ns = now_ns.saturating_add(1_000_000_000);
            self.candidates.retain(|_, &mut (_, until)| until > now_ns);
            if self.candidates.len() >= CALL_TABLE_CAPACITY {
                return;
            }
        }
        self.candidates.insert(addr, (entry, expires));
    }

    /// The call entry whose candidate `addr` is, unless it has expired.
    pub fn lookup(&self, addr: SocketAddr, now_ns: u64) -> Option<EntryId> {
        self.candidates.get(&addr).filter(|&&(_, until)| until > now_ns).map(|&(entry, _)| entry)
    }

    /// Forgets every candidate: their entries belong to replaced rules.
    pub fn clear(&mut self) {
        self.candidates.clear();
    }

    /// Candidate addresses remembered.
    pub fn len(&self) -> usize {
        self.candidates.len()
    }

    /// Whether no candidate is remembered.
    pub fn is_empty(&self) -> bool {
        self.candidates.is_empty()
    }
}

/// Whether a UDP payload may be part of a call: RFC 7983's demultiplexing
/// of the first byte (updated by RFC 9443) into STUN (0-3), DTLS (20-63),
/// TURN `ChannelData` (64-79) and RTP/RTCP, SRTP/SRTCP (128-191).
pub fn is_call_payload(payload: &[u8]) -> bool {
    matches!(payload.first(), Some(0..=3 | 20..=79 | 128..=191))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    fn addr(i: usize) -> SocketAddr {
        SocketAddr::new(std::net::Ipv4Addr::from(0xcb00_7100u32 + u32::try_from(i).unwrap()).into(), 3478)
    }

    #[test]
    fn a_candidate_ties_flows_until_it_expires() {
        let mut calls = CallTable::default();
        calls.remember(addr(1), EntryId(7), 10 * SECOND);
        assert_eq!(calls.lookup(addr(1), 10 * SECOND + CANDIDATE_TTL_NS - 1), Some(EntryId(7)));
        assert_eq!(calls.lookup(addr(1), 10 * SECOND + CANDIDATE_TTL_NS), None);
        assert_eq!(calls.lookup(addr(2), 10 * SECOND), None);
        // A later check refreshes it.
        calls.remember(addr(1), EntryId(7), 100 * SECOND);
        assert_eq!(calls.lookup(addr(1), 10 * SECOND + CANDIDATE_TTL_NS), Some(EntryId(7)));
        calls.clear();
        assert!(calls.is_empty());
    }

    #[test]
    fn a_flood_of_candidates_stays_within_the_capacity() {
        let mut calls = CallTable::default();
        for i in 0..3 * CALL_TABLE_CAPACITY {
            calls.remember(addr(i), EntryId(1), SECOND);
        }
        assert_eq!(calls.len(), CALL_TABLE_CAPACITY);
        assert_eq!(calls.lookup(addr(0), SECOND), Some(EntryId(1)), "the first stay while they last");
        assert_eq!(calls.lookup(addr(CALL_TABLE_CAPACITY), SECOND), None);
        // Once the first have expired, new candidates take their place.
        let later = SECOND + CANDIDATE_TTL_NS;
        calls.remember(addr(5 * CALL_TABLE_CAPACITY), EntryId(2), later);
        assert_eq!(calls.len(), 1);
        assert_eq!(calls.lookup(addr(5 * CALL_TABLE_CAPACITY), later), Some(EntryId(2)));
    }

    #[test]
    fn call_payloads_by_first_byte() {
        for first in [0x00, 0x01, 0x17, 0x16, 0x40, 0x80, 0x90, 0xbf] {
            assert!(is_call_payload(&[first, 0]), "{first:#x}");
        }
        for first in [0x04, 0x13, 0x50, 0xc0, 0xff] {
            assert!(!is_call_payload(&[first, 0]), "{first:#x}");
        }
        assert!(!is_call_payload(&[]));
    }
}
