//! Calls' media: a vendor's STUN checks carry the transport addresses the
//! call's media will use (the client's mapped address, a TURN relay, a
//! peer), and the media flows to them (RTP, RTCP, SRTP, DTLS, more checks)
//! carry no name of their own. A table of those candidates ties each new UDP
//! flow to such an address to the call's vendor, for a while.
//!
//! One table serves every worker of a sensor, as the DNS answer cache does
//! (see [`super::dns_cache`]): the capture's fanout hashes the checks and
//! the media, different 5-tuples, to different workers as often as not. It
//! is split into shards, each behind its own lock with its own share of the
//! capacity: a worker takes one shard's read lock per new UDP flow whose
//! first byte may be a call's and one shard's write lock per candidate of a
//! vendor's call, never one per packet.
//!
//! A candidate's entry is an index into the signatures it was matched
//! under, so it counts only for a worker on the same rules: after a reload,
//! workers that have not yet picked the new rules up and those that have
//! never read each other's entries.

use std::net::SocketAddr;
use std::sync::{Arc, Weak};

use hashbrown::HashMap;

use super::rules::Rules;
use super::shards::Shards;
use super::signatures::EntryId;

/// Candidate addresses remembered by a sensor: a call offers a handful, so
/// this covers thousands of calls at once and bounds what a flood of forged
/// checks can take (about a MiB).
pub const CALL_TABLE_CAPACITY: usize = 16_384;
/// How long a candidate ties new flows to its call: media starts within
/// seconds of the checks; ICE restarts come with checks of their own.
pub const CANDIDATE_TTL_NS: u64 = 120 * 1_000_000_000;
/// Enough shards that workers rarely meet on one.
const SHARDS: usize = 16;
/// A full shard is swept for expired candidates at most this often, so
/// that a flood into a full shard costs one sweep per second, not one per
/// candidate.
const SWEEP_INTERVAL_NS: u64 = 1_000_000_000;

struct Candidate {
    entry: EntryId,
    /// The rules `entry` indexes. A weak reference keeps the allocation, so
    /// no later rules can share its address while the candidate is held.
    rules: Weak<Rules>,
    expires_ns: u64,
}

struct Shard {
    candidates: HashMap<SocketAddr, Candidate>,
    capacity: usize,
    next_sweep_ns: u64,
}

/// The candidates of calls attributed by STUN, with the entry that
/// attributed them and when they stop counting; share it between workers
/// with an [`Arc`].
pub struct CallTable {
    shards: Shards<Shard>,
}

impl Default for CallTable {
    fn default() -> Self {
        CallTable::new(CALL_TABLE_CAPACITY)
    }
}

impl CallTable {
    /// A table of at most `capacity` candidates (rounded up to a multiple
    /// of the shard count).
    pub fn new(capacity: usize) -> Self {
        CallTable {
            shards: Shards::bounded(capacity, SHARDS, |capacity| Shard {
                candidates: HashMap::new(),
                capacity,
                next_sweep_ns: 0,
            }),
        }
    }

    /// Remembers `addr` as a candidate of a call attributed to `entry` of
    /// `rules`, or refreshes it. A full shard first drops the expired; if
    /// none has expired, the new candidate is not kept.
    pub fn remember(&self, addr: SocketAddr, entry: EntryId, rules: &Arc<Rules>, now_ns: u64) {
        let expires_ns = now_ns.saturating_add(CANDIDATE_TTL_NS);
        let mut shard = self.shards.write(&addr);
        if let Some(known) = shard.candidates.get_mut(&addr) {
            if !std::ptr::eq(known.rules.as_ptr(), Arc::as_ptr(rules)) {
                known.rules = Arc::downgrade(rules);
            }
            known.entry = entry;
            known.expires_ns = expires_ns;
            return;
        }
        if shard.candidates.len() >= shard.capacity {
            if now_ns < shard.next_sweep_ns {
                return;
            }
            shard.next_sweep_ns = now_ns.saturating_add(SWEEP_INTERVAL_NS);
            shard.candidates.retain(|_, c| c.expires_ns > now_ns);
            if shard.candidates.len() >= shard.capacity {
                return;
            }
        }
        shard.candidates.insert(addr, Candidate { entry, rules: Arc::downgrade(rules), expires_ns });
    }

    /// The call entry of `rules` whose candidate `addr` is, unless it has
    /// expired or was remembered under other rules.
    pub fn lookup(&self, addr: SocketAddr, rules: &Rules, now_ns: u64) -> Option<EntryId> {
        let shard = self.shards.read(&addr);
        let known = shard.candidates.get(&addr)?;
        (known.expires_ns > now_ns && std::ptr::eq(known.rules.as_ptr(), rules)).then_some(known.entry)
    }

    /// Candidate addresses remembered, over all shards (read one by one).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.shards.each().map(|s| s.candidates.len()).sum()
    }

    /// Whether no candidate is remembered.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most candidates the table holds.
    #[cfg(test)]
    pub fn capacity(&self) -> usize {
        self.shards.each().map(|s| s.capacity).sum()
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
    use crate::classify::signatures::SignatureSet;
    use crate::segment::Config;

    const SECOND: u64 = 1_000_000_000;

    fn addr(i: usize) -> SocketAddr {
        SocketAddr::new(std::net::Ipv4Addr::from(0xcb00_7100u32 + u32::try_from(i).unwrap()).into(), 3478)
    }

    fn rules() -> Arc<Rules> {
        Arc::new(Rules::new(SignatureSet::default(), Config::default_auto()).unwrap())
    }

    #[test]
    fn a_candidate_ties_flows_until_it_expires() {
        let (calls, rules) = (CallTable::default(), rules());
        calls.remember(addr(1), EntryId(7), &rules, 10 * SECOND);
        assert_eq!(calls.lookup(addr(1), &rules, 10 * SECOND + CANDIDATE_TTL_NS - 1), Some(EntryId(7)));
        assert_eq!(calls.lookup(addr(1), &rules, 10 * SECOND + CANDIDATE_TTL_NS), None);
        assert_eq!(calls.lookup(addr(2), &rules, 10 * SECOND), None);
        // A later check refreshes it.
        calls.remember(addr(1), EntryId(7), &rules, 100 * SECOND);
        assert_eq!(calls.lookup(addr(1), &rules, 10 * SECOND + CANDIDATE_TTL_NS), Some(EntryId(7)));
    }

    #[test]
    fn a_candidate_counts_only_under_the_rules_it_was_matched_under() {
        let (calls, old, new) = (CallTable::default(), rules(), rules());
        calls.remember(addr(1), EntryId(7), &old, SECOND);
        assert_eq!(calls.lookup(addr(1), &new, SECOND), None, "entry 7 of the old rules is no entry of the new");
        assert_eq!(calls.lookup(addr(1), &old, SECOND), Some(EntryId(7)), "a worker not yet reloaded");
        calls.remember(addr(1), EntryId(3), &new, 2 * SECOND);
        assert_eq!(calls.lookup(addr(1), &new, 2 * SECOND), Some(EntryId(3)));
        drop(old);
        let newer = rules();
        assert_eq!(calls.lookup(addr(1), &newer, 2 * SECOND), None);
    }

    #[test]
    fn a_flood_of_candidates_stays_within_the_capacity() {
        let (calls, rules) = (CallTable::default(), rules());
        for i in 0..3 * CALL_TABLE_CAPACITY {
            calls.remember(addr(i), EntryId(1), &rules, SECOND);
        }
        assert_eq!(calls.capacity(), CALL_TABLE_CAPACITY);
        assert!(calls.len() <= CALL_TABLE_CAPACITY, "{}", calls.len());
        assert!(calls.len() >= CALL_TABLE_CAPACITY * 9 / 10, "every shard filled: {}", calls.len());
        assert_eq!(calls.lookup(addr(0), &rules, SECOND), Some(EntryId(1)), "the first stay while they last");
        // Once the first have expired, new candidates take their place.
        let later = SECOND + CANDIDATE_TTL_NS;
        let fresh: Vec<_> = (0..SHARDS * 4).map(|i| addr(5 * CALL_TABLE_CAPACITY + i)).collect();
        for &a in &fresh {
            calls.remember(a, EntryId(2), &rules, later);
        }
        assert!(calls.len() <= CALL_TABLE_CAPACITY);
        assert!(fresh.iter().all(|&a| calls.lookup(a, &rules, later) == Some(EntryId(2))));
    }

    #[test]
    fn workers_on_other_threads_see_each_others_candidates() {
        let (calls, rules) = (Arc::new(CallTable::default()), rules());
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let (calls, rules) = (calls.clone(), rules.clone());
                std::thread::spawn(move || {
                    for i in 0..500 {
                        calls.remember(addr(w * 1000 + i), EntryId(u32::try_from(w).unwrap()), &rules, SECOND);
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        assert_eq!(calls.len(), 2_000);
        for w in 0..4 {
            let entry = Some(EntryId(u32::try_from(w).unwrap()));
            assert!((0..500).all(|i| calls.lookup(addr(w * 1000 + i), &rules, 2 * SECOND) == entry));
        }
    }

    /// A Teams call's checks through TURN, then RTP to the relayed address
    /// and from the peer, each flow routed to its own worker as a capture
    /// fanout hashing 5-tuples might: the media finds its call on any.
    #[test]
    fn a_calls_media_reaches_its_vendor_on_whichever_worker_reads_it() {
        use crate::pipeline::{DEFAULT_MAX_FLOWS, FlowRecords, Pipeline};
        use crate::source::{Frame, LinkType};
        use synth::conv::{Capture, Path};

        let stun = |kind: u16, attrs: &[(u16, Vec<u8>)]| {
            let body: Vec<u8> = attrs
                .iter()
                .flat_map(|(k, v)| {
                    let mut a = [&k.to_be_bytes()[..], &u16::try_from(v.len()).unwrap().to_be_bytes(), v].concat();
                    a.resize(a.len().div_ceil(4) * 4, 0);
                    a
                })
                .collect();
            let length = u16::try_from(body.len()).unwrap().to_be_bytes();
            [&kind.to_be_bytes()[..], &length, &0x2112_a442u32.to_be_bytes(), &[7; 12], &body].concat()
        };
        // 203.0.113.181:50500 XOR-ed with the cookie (RFC 8489 section 14.2).
        let cookie = 0x2112_a442u32.to_be_bytes();
        let port = (0xc544u16 ^ 0x2112).to_be_bytes(); // 50500
        let ip = [203u8, 0, 113, 181].iter().zip(cookie).map(|(a, k)| a ^ k);
        let relayed: Vec<u8> = [0, 1].into_iter().chain(port).chain(ip).collect();
        let mut cap = Capture::new(1_000_000_000, 1_000_000);
        let turn = Path::new("10.1.0.5:50080", "203.0.113.180:3478");
        cap.push(turn.udp(true, &stun(0x0001, &[(0x8022, b"Microsoft Teams".to_vec()), (0x8008, vec![0, 0, 0, 6])])));
        cap.push(turn.udp(false, &stun(0x0103, &[(0x0016, relayed)])));
        let rtp = [0x80, 0x6f, 0, 1, 0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44, 9, 9, 9, 9];
        let media = Path::new("10.1.0.5:50081", "203.0.113.181:50500");
        cap.push(media.udp(true, &rtp));
        cap.push(media.udp(false, &rtp));
        let flow_of_record = [0, 0, 1, 1];
        let rules = Arc::new(Rules::new(SignatureSet::embedded(), Config::default_auto()).unwrap());
        for workers in 1..=4 {
            let calls = Pipeline::new_call_table();
            let mut pipelines: Vec<Pipeline> = (0..workers)
                .map(|_| {
                    let mut p = Pipeline::new(rules.clone(), DEFAULT_MAX_FLOWS, FlowRecords::All);
                    p.share_call_table(calls.clone());
                    p.add_source("test");
                    p
                })
                .collect();
            // The checks on the last worker, the media on the first.
            for (r, flow) in cap.records().iter().zip(flow_of_record) {
                let worker = if flow == 0 { workers - 1 } else { 0 };
                let wire_len = u32::try_from(r.data.len()).unwrap();
                let frame = Frame { ts_ns: r.ts_ns, link: LinkType::Ethernet, data: &r.data, wire_len, interface: 0 };
                pipelines[worker].process(&frame, 0);
            }
            let records: Vec<_> = pipelines
                .iter_mut()
                .flat_map(|p| {
                    p.finish();
                    p.take_batch().records
                })
                .collect();
            assert_eq!(records.len(), 2, "{workers} workers");
            for r in &records {
                let seen = (r.vendor.as_deref(), r.evidence);
                assert_eq!(seen, (Some("microsoft"), Some("stun")), "{workers} workers, flow from :{}", r.client_port);
            }
        }
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
