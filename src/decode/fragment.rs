//! IP fragment reassembly (RFC 791, RFC 8200) within fixed bounds: a limit
//! on datagrams in progress, on the bytes they hold, and on how long (in
//! capture time) a datagram may wait for its missing pieces.
//!
//! Only fragmented traffic allocates: each datagram in progress owns a
//! buffer with room for a rebuilt IP header in front, and a finished
//! datagram hands that buffer over as a complete IP packet, which
//! [`decode_ip`] decodes like any other.
//!
//! How the pipeline uses it, per frame that decodes to a fragment:
//!
//! ```
//! use vendorwatch::decode::{self, Decoded, fragment::Defragmenter};
//! use vendorwatch::source::LinkType;
//!
//! // An IPv4/UDP datagram (ports 5353 -> 53, payload "hello, world!") in
//! // two fragments: 16 bytes at offset 0 with MF set, then 5 at offset 16.
//! let header = |flags_offset: [u8; 2], len: u8| {
//!     vec![0x45, 0, 0, 20 + len, 0xbe, 0xef, flags_offset[0], flags_offset[1], 64, 17, 0, 0, 10, 0, 0, 1, 17, 0, 0, 1]
//! };
//! let mut first = header([0x20, 0x00], 16);
//! first.extend_from_slice(&[0x14, 0xe9, 0x00, 0x35, 0x00, 0x15, 0, 0]);
//! first.extend_from_slice(b"hello, w");
//! let mut last = header([0x00, 0x02], 5);
//! last.extend_from_slice(b"orld!");
//!
//! let mut defrag = Defragmenter::default();
//! let mut whole = None;
//! for (ts_ns, frame) in [(1_000, &first), (2_000, &last)] {
//!     match decode::decode(LinkType::Raw, frame) {
//!         Ok(Decoded::Fragment(f)) => whole = defrag.push(ts_ns, &f, frame.len() as u32),
//!         other => panic!("expected a fragment, got {other:?}"),
//!     }
//! }
//! let whole = whole.expect("both fragments arrived");
//! let Ok(Decoded::Packet(p)) = whole.decode() else { panic!("not a packet") };
//! assert_eq!((p.src_port, p.dst_port, p.payload), (5353, 53, &b"hello, world!"[..]));
//! // The flow is charged both frames and their wire bytes.
//! assert_eq!((whole.fragments, whole.wire_len), (2, (first.len() + last.len()) as u32));
//! assert_eq!(defrag.take_stats().reassembled, 1);
//! ```

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use super::{DecodeError, Decoded, Encap, Vlans, decode_ip};

const IPV4_HEADER_LEN: usize = 20;
const IPV6_HEADER_LEN: usize = 40;
/// Fragment offsets count 8-byte blocks; coverage is tracked per block.
const BLOCK: usize = 8;

/// One IP fragment as decoded from a frame: what [`Defragmenter::push`]
/// needs to put the datagram back together.
#[derive(Debug, Clone, Copy)]
pub struct Fragment<'a> {
    /// The IP header's source address.
    pub src: IpAddr,
    /// The IP header's destination address.
    pub dst: IpAddr,
    /// The fragmented datagram's protocol: IPv4's protocol field, or the
    /// next header of the IPv6 fragment header.
    pub protocol: u8,
    /// IPv4 identification (16 bits) or IPv6 fragment identification.
    pub ident: u32,
    /// Where this fragment's data goes in the datagram's payload, in bytes.
    pub offset: usize,
    /// More fragments follow (IPv4 MF, IPv6 M).
    pub more: bool,
    /// The fragment's data: after the IPv4 header, or after the IPv6
    /// fragment header.
    pub payload: &'a [u8],
    /// The frame's VLAN tags, as in [`super::Packet::vlans`].
    pub vlans: Vlans,
    /// The outermost encapsulation the fragment came in.
    pub encap: Encap,
    /// Bytes of the frame before the innermost frame, as in
    /// [`super::Packet::outer_len`].
    pub outer_len: usize,
}

/// The bounds a [`Defragmenter`] keeps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Datagrams in progress; the oldest is given up to start another.
    pub max_datagrams: usize,
    /// Bytes held by all datagrams in progress; the oldest are given up
    /// when a fragment would go over.
    pub max_bytes: usize,
    /// Capture time a datagram may take from its first fragment to its last.
    pub timeout_ns: u64,
}

impl Default for Limits {
    /// 1024 datagrams, 8 MiB and 30 s: Linux's reassembly timeout, and room
    /// for far more fragmented traffic than a sensor normally sees, while a
    /// flood of fragments that never complete costs at most 8 MiB.
    fn default() -> Self {
        Limits { max_datagrams: 1024, max_bytes: 8 << 20, timeout_ns: 30_000_000_000 }
    }
}

/// Datagrams reassembled, and fragments given up and why. The given-up
/// counts are of fragments (frames), so that with the fragments of the
/// reassembled datagrams ([`Reassembled::fragments`]) they account for every
/// fragment pushed once the datagrams in progress have been expired.
/// Fragments of a given-up datagram that arrive later start a new one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FragmentStats {
    /// Datagrams completed.
    pub reassembled: u64,
    /// Fragments of datagrams still missing a piece when the timeout passed.
    pub timed_out: u64,
    /// Fragments of datagrams bigger than an IP datagram can be, or evicted
    /// to stay within [`Limits::max_datagrams`] or [`Limits::max_bytes`].
    pub overflow: u64,
    /// Fragments of datagrams whose fragments contradict each other
    /// (overlapping with different bytes, two different ends) or are
    /// malformed (a non-last fragment whose length is not a multiple of 8).
    pub inconsistent: u64,
}

impl FragmentStats {
    /// Fragments given up, for whatever reason.
    pub fn given_up(&self) -> u64 {
        self.timed_out + self.overflow + self.inconsistent
    }
}

/// A reassembled datagram: a complete IP packet (a rebuilt header without
/// options or extension headers before the fragmentable part, then the
/// whole payload), with what [`decode_ip`] needs to decode it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reassembled {
    /// The IP packet: header, then the datagram's payload.
    pub packet: Vec<u8>,
    /// The VLAN tags its fragments came with.
    pub vlans: Vlans,
    /// The outermost encapsulation its fragments came in.
    pub encap: Encap,
    /// The sum of the `wire_len` given with each fragment: what the flow
    /// should be charged for the datagram.
    pub wire_len: u32,
    /// Fragments (frames) that carried it, duplicates included.
    pub fragments: u32,
}

impl Reassembled {
    /// Decodes the packet as if it had been captured whole, with the
    /// fragments' VLANs and encapsulation.
    pub fn decode(&self) -> Result<Decoded<'_>, DecodeError> {
        decode_ip(&self.packet, self.vlans, self.encap)
    }
}

/// What identifies a datagram: RFC 791's (source, destination, protocol,
/// identification), or RFC 8200's (source, destination, identification)
/// with `protocol` 0, and the VLANs and tunnel, since overlay networks may
/// reuse the same addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    ident: u32,
    vlans: Vlans,
    encap: Encap,
}

/// Why a datagram in progress is given up.
#[derive(Clone, Copy)]
enum GiveUp {
    Inconsistent,
    Overflow,
}

/// A datagram in progress.
struct Pending {
    /// Distinguishes this datagram from an earlier one with the same key in
    /// the age queue.
    serial: u64,
    first_ns: u64,
    /// Room for the rebuilt IP header, then the payload received so far.
    data: Vec<u8>,
    /// One bit per 8-byte block of payload received.
    have: Vec<u64>,
    blocks: usize,
    /// The highest end of any fragment so far.
    end: usize,
    /// The payload length, known once the last fragment arrived.
    total: Option<usize>,
    /// The protocol from the first fragment, which (for IPv6) is the one
    /// that counts.
    protocol: u8,
    wire_len: u32,
    /// Fragments pushed into this datagram, duplicates included.
    fragments: u32,
}

impl Pending {
    /// Bytes held, for the memory bound.
    fn footprint(&self) -> usize {
        self.data.capacity() + self.have.capacity() * 8
    }

    fn is_complete(&self) -> bool {
        self.total.is_some_and(|t| self.blocks == t.div_ceil(BLOCK))
    }

    /// Copies a fragment in, checking it against what is already there.
    fn add(&mut self, frag: &Fragment<'_>, header_len: usize, max_payload: usize) -> Result<(), GiveUp> {
        let (start, end) = (frag.offset, frag.offset + frag.payload.len());
        match self.total {
            Some(total) if end > total || (!frag.more && end != total) => return Err(GiveUp::Inconsistent),
            None if !frag.more && end < self.end => return Err(GiveUp::Inconsistent),
            None if !frag.more => self.total = Some(end),
            Some(_) | None => {}
        }
        if start == 0 {
            self.protocol = frag.protocol;
        }
        let len = header_len + end;
        if len > self.data.len() {
            // Grow geometrically, but never past the largest datagram, so a
            // full-size datagram holds 64 KiB and not 128.
            if len > self.data.capacity() {
                let target = len.max((self.data.capacity() * 2).min(header_len + max_payload));
                self.data.reserve_exact(target - self.data.len());
            }
            self.data.resize(len, 0);
        }
        let words = end.div_ceil(BLOCK).div_ceil(64);
        if words > self.have.len() {
            self.have.resize(words, 0);
        }
        // Runs of blocks already received or not, one copy or compare each.
        let (mut block, last) = (start / BLOCK, end.div_ceil(BLOCK));
        while block < last {
            let received = self.has(block);
            let run_end = (block + 1..last).find(|&b| self.has(b) != received).unwrap_or(last);
            let (a, b) = ((block * BLOCK).max(start), (run_end * BLOCK).min(end));
            let new = &frag.payload[a - start..b - start];
            let old = &mut self.data[header_len + a..header_len + b];
            if received {
                // A retransmitted or overlapping piece: harmless if it says
                // the same, an evasion attempt or corruption if not.
                if old != new {
                    return Err(GiveUp::Inconsistent);
                }
            } else {
                old.copy_from_slice(new);
                for b in block..run_end {
                    self.have[b / 64] |= 1 << (b % 64);
                }
                self.blocks += run_end - block;
            }
            block = run_end;
        }
        self.end = self.end.max(end);
        Ok(())
    }

    fn has(&self, block: usize) -> bool {
        self.have[block / 64] & (1 << (block % 64)) != 0
    }
}

/// Reassembles fragmented IPv4 and IPv6 datagrams within [`Limits`].
pub struct Defragmenter {
    limits: Limits,
    pending: HashMap<Key, Pending>,
    /// Keys by age, oldest first, for timeouts and eviction. Entries of
    /// datagrams already gone are skipped when met, and dropped in bulk
    /// when they outnumber the live ones, so the queue stays bounded.
    order: VecDeque<(Key, u64)>,
    next_serial: u64,
    bytes: usize,
    stats: FragmentStats,
}

impl Default for Defragmenter {
    fn default() -> Self {
        Defragmenter::new(Limits::default())
    }
}

impl Defragmenter {
    /// An empty defragmenter that keeps to `limits`.
    pub fn new(limits: Limits) -> Self {
        Defragmenter {
            limits,
            pending: HashMap::new(),
            order: VecDeque::new(),
            next_serial: 0,
            bytes: 0,
            stats: FragmentStats::default(),
        }
    }

    /// Adds a fragment that arrived at `now_ns` (capture time); `wire_len`
    /// is what its frame is to be charged (say the frame's wire length less
    /// the fragment's `outer_len`), summed into [`Reassembled::wire_len`].
    /// Returns the datagram once it is complete.
    pub fn push(&mut self, now_ns: u64, frag: &Fragment<'_>, wire_len: u32) -> Option<Reassembled> {
        self.expire(now_ns);
        let v6 = frag.src.is_ipv6();
        let header_len = if v6 { IPV6_HEADER_LEN } else { IPV4_HEADER_LEN };
        // The rebuilt header's length field must hold the payload: IPv4's
        // counts the header, IPv6's does not.
        let max_payload = if v6 { 0xffff } else { 0xffff - IPV4_HEADER_LEN };
        let key = Key {
            src: frag.src,
            dst: frag.dst,
            protocol: if v6 { 0 } else { frag.protocol },
            ident: frag.ident,
            vlans: frag.vlans,
            encap: frag.encap,
        };
        let len = frag.payload.len();
        if frag.more && (len == 0 || len % BLOCK != 0) {
            self.give_up(&key, GiveUp::Inconsistent, 1);
            return None;
        }
        if frag.offset + len > max_payload {
            self.give_up(&key, GiveUp::Overflow, 1);
            return None;
        }
        if !self.pending.contains_key(&key) {
            while self.pending.len() >= self.limits.max_datagrams.max(1) && self.evict_oldest() {}
            self.start(key, now_ns);
        }
        let entry = self.pending.get_mut(&key)?;
        entry.fragments = entry.fragments.saturating_add(1);
        let before = entry.footprint();
        let added = entry.add(frag, header_len, max_payload);
        let after = entry.footprint();
        entry.wire_len = entry.wire_len.saturating_add(wire_len);
        self.bytes = self.bytes + after - before;
        if let Err(why) = added {
            self.give_up(&key, why, 0);
            return None;
        }
        if entry.is_complete() {
            let done = self.remove(&key)?;
            self.stats.reassembled += 1;
            return Some(finish(key, done, header_len));
        }
        while self.bytes > self.limits.max_bytes && self.evict_oldest() {}
        None
    }

    /// Gives up datagrams older than the timeout. [`push`](Self::push) calls
    /// this; call it with `u64::MAX` at the end of the input to count what
    /// never completed.
    pub fn expire(&mut self, now_ns: u64) {
        while let Some(&(key, serial)) = self.order.front() {
            if let Some(p) = self.pending.get(&key).filter(|p| p.serial == serial) {
                if now_ns.saturating_sub(p.first_ns) < self.limits.timeout_ns {
                    return;
                }
                let fragments = self.remove(&key).map_or(0, |p| u64::from(p.fragments));
                self.stats.timed_out += fragments;
            }
            self.order.pop_front();
        }
    }

    /// The counters since the last call.
    pub fn take_stats(&mut self) -> FragmentStats {
        std::mem::take(&mut self.stats)
    }

    /// Datagrams in progress.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Bytes held by datagrams in progress.
    pub fn memory(&self) -> usize {
        self.bytes
    }

    fn start(&mut self, key: Key, now_ns: u64) {
        let serial = self.next_serial;
        self.next_serial += 1;
        let p = Pending {
            serial,
            first_ns: now_ns,
            data: Vec::new(),
            have: Vec::new(),
            blocks: 0,
            end: 0,
            total: None,
            protocol: key.protocol,
            wire_len: 0,
            fragments: 0,
        };
        self.pending.insert(key, p);
        self.order.push_back((key, serial));
        if self.order.len() > 2 * self.pending.len() + 64 {
            let pending = &self.pending;
            self.order.retain(|(k, s)| pending.get(k).is_some_and(|p| p.serial == *s));
        }
    }

    fn remove(&mut self, key: &Key) -> Option<Pending> {
        let p = self.pending.remove(key)?;
        self.bytes -= p.footprint();
        Some(p)
    }

    /// Drops a datagram (if there is one) and counts its fragments, plus
    /// `refused` ones that never joined it.
    fn give_up(&mut self, key: &Key, why: GiveUp, refused: u64) {
        let fragments = self.remove(key).map_or(0, |p| u64::from(p.fragments)) + refused;
        match why {
            GiveUp::Inconsistent => self.stats.inconsistent += fragments,
            GiveUp::Overflow => self.stats.overflow += fragments,
        }
    }

    /// Gives up the oldest datagram; false if there was none.
    fn evict_oldest(&mut self) -> bool {
        while let Some((key, serial)) = self.order.pop_front() {
            if self.pending.get(&key).is_some_and(|p| p.serial == serial) {
                self.give_up(&key, GiveUp::Overflow, 0);
                return true;
            }
        }
        false
    }
}

/// Writes the IP header in front of the payload and hands the buffer over.
fn finish(key: Key, mut p: Pending, header_len: usize) -> Reassembled {
    let total = p.total.unwrap_or(p.end);
    p.data.truncate(header_len + total);
    let h = &mut p.data[..header_len];
    match (key.src, key.dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            // Length fits: push refuses payloads past 65515 bytes. The
            // checksum stays zero: nothing downstream verifies it.
            let total_len = u16::try_from(header_len + total).unwrap_or(u16::MAX).to_be_bytes();
            let ident = key.ident.to_be_bytes();
            h[..12].copy_from_slice(&[
                0x45,
                0,
                total_len[0],
                total_len[1],
                ident[2],
                ident[3],
                0,
                0,
                64,
                p.protocol,
                0,
                0,
            ]);
            h[12..16].copy_from_slice(&src.octets());
            h[16..20].copy_from_slice(&dst.octets());
        }
        (src, dst) => {
            let payload_len = u16::try_from(total).unwrap_or(u16::MAX).to_be_bytes();
            h[..8].copy_from_slice(&[0x60, 0, 0, 0, payload_len[0], payload_len[1], p.protocol, 64]);
            h[8..24].copy_from_slice(&octets16(src));
            h[24..40].copy_from_slice(&octets16(dst));
        }
    }
    Reassembled { packet: p.data, vlans: key.vlans, encap: key.encap, wire_len: p.wire_len, fragments: p.fragments }
}

/// IPv6 octets; a key never mixes families, so IPv4 is only mapped for
/// totality.
fn octets16(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{EncapKind, IPPROTO_UDP, Packet, decode};
    use crate::source::LinkType;

    /// The datagram every test splits: UDP 40000 -> 443 with 40 bytes of
    /// data, 48 bytes of IP payload in all.
    fn udp_datagram() -> Vec<u8> {
        let mut d = vec![0x9c, 0x40, 0x01, 0xbb, 0, 48, 0, 0];
        d.extend((0..40).map(|i| b'a' + i % 26));
        d
    }

    /// An IPv4 fragment of [`udp_datagram`]'s bytes `start..end`.
    fn v4(ident: u16, start: usize, end: usize, more: bool) -> Vec<u8> {
        let data = &udp_datagram()[start..end];
        let mut p = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, IPPROTO_UDP, 0, 0, 10, 0, 0, 1, 17, 0, 0, 1];
        p[2..4].copy_from_slice(&u16::try_from(20 + data.len()).unwrap().to_be_bytes());
        p[4..6].copy_from_slice(&ident.to_be_bytes());
        p[6..8].copy_from_slice(&(u16::try_from(start / 8).unwrap() | if more { 0x2000 } else { 0 }).to_be_bytes());
        p.extend_from_slice(data);
        p
    }

    /// An IPv6 fragment of the same bytes.
    fn v6(ident: u32, start: usize, end: usize, more: bool) -> Vec<u8> {
        let data = &udp_datagram()[start..end];
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&u16::try_from(8 + data.len()).unwrap().to_be_bytes());
        p.extend_from_slice(&[44, 64]);
        p.extend_from_slice(&"2001:db8::1".parse::<std::net::Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(&"2a03:2880::2".parse::<std::net::Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(&[IPPROTO_UDP, 0]);
        p.extend_from_slice(&(u16::try_from(start).unwrap() | u16::from(more)).to_be_bytes());
        p.extend_from_slice(&ident.to_be_bytes());
        p.extend_from_slice(data);
        p
    }

    fn push(d: &mut Defragmenter, ts_ns: u64, raw: &[u8]) -> Option<Reassembled> {
        match decode(LinkType::Raw, raw) {
            Ok(Decoded::Fragment(f)) => d.push(ts_ns, &f, u32::try_from(raw.len()).unwrap()),
            other => panic!("not a fragment: {other:?}"),
        }
    }

    fn assert_whole_datagram(p: &Packet<'_>) {
        assert_eq!((p.protocol, p.src_port, p.dst_port), (IPPROTO_UDP, 40000, 443));
        assert_eq!(p.payload, &udp_datagram()[8..]);
    }

    #[test]
    fn reassembles_in_order() {
        let mut d = Defragmenter::default();
        let frags = [v4(1, 0, 16, true), v4(1, 16, 32, true), v4(1, 32, 48, false)];
        assert!(push(&mut d, 1, &frags[0]).is_none());
        assert!(push(&mut d, 2, &frags[1]).is_none());
        let whole = push(&mut d, 3, &frags[2]).expect("complete");
        let Ok(Decoded::Packet(p)) = whole.decode() else { panic!("not a packet") };
        assert_whole_datagram(&p);
        assert_eq!(p.src, "10.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(whole.packet.len(), 20 + 48);
        assert_eq!((whole.wire_len, whole.fragments), (3 * 20 + 48, 3));
        assert_eq!((d.pending(), d.memory()), (0, 0));
        assert_eq!(d.take_stats(), FragmentStats { reassembled: 1, ..FragmentStats::default() });
    }

    #[test]
    fn reassembles_out_of_order_with_duplicates() {
        let mut d = Defragmenter::default();
        assert!(push(&mut d, 1, &v4(2, 32, 48, false)).is_none());
        assert!(push(&mut d, 2, &v4(2, 16, 32, true)).is_none());
        assert!(push(&mut d, 3, &v4(2, 16, 32, true)).is_none(), "an exact duplicate");
        // Overlapping the middle with the same bytes is harmless too.
        let whole = push(&mut d, 4, &v4(2, 0, 24, true)).expect("complete");
        let Ok(Decoded::Packet(p)) = whole.decode() else { panic!("not a packet") };
        assert_whole_datagram(&p);
        assert_eq!(whole.fragments, 4, "the duplicate's frame counts too");
        assert_eq!(d.take_stats().reassembled, 1);
    }

    #[test]
    fn overlap_with_different_bytes_gives_the_datagram_up() {
        let mut d = Defragmenter::default();
        assert!(push(&mut d, 1, &v4(3, 0, 16, true)).is_none());
        let mut liar = v4(3, 8, 24, true);
        liar[20] ^= 0xff;
        assert!(push(&mut d, 2, &liar).is_none());
        assert_eq!(d.pending(), 0);
        // The rest alone can no longer complete it.
        assert!(push(&mut d, 3, &v4(3, 16, 48, false)).is_none());
        let stats = d.take_stats();
        assert_eq!((stats.inconsistent, stats.reassembled), (2, 0), "both fragments given up");
    }

    #[test]
    fn contradictory_ends_and_bad_lengths_are_inconsistent() {
        let mut d = Defragmenter::default();
        assert!(push(&mut d, 1, &v4(4, 32, 48, false)).is_none());
        assert!(push(&mut d, 2, &v4(4, 8, 40, false)).is_none(), "a second, different end");
        assert!(push(&mut d, 3, &v4(5, 0, 12, true)).is_none(), "12 bytes with MF: not a multiple of 8");
        assert!(push(&mut d, 4, &v4(6, 0, 48, true)).is_none());
        assert!(push(&mut d, 5, &v4(6, 8, 16, false)).is_none(), "ends before data already received");
        // Fragments: 2 of ident 4, the refused one of 5, 2 of 6.
        assert_eq!((d.take_stats().inconsistent, d.pending()), (5, 0));
    }

    #[test]
    fn missing_fragment_times_out() {
        let mut d = Defragmenter::default();
        let timeout = Limits::default().timeout_ns;
        assert!(push(&mut d, 1_000, &v4(7, 0, 16, true)).is_none());
        assert!(push(&mut d, 2_000, &v4(7, 32, 48, false)).is_none());
        d.expire(1_000 + timeout - 1);
        assert_eq!(d.pending(), 1, "not yet");
        // The middle arrives too late: the datagram was given up.
        assert!(push(&mut d, 1_000 + timeout, &v4(7, 16, 32, true)).is_none());
        assert_eq!(d.take_stats().timed_out, 2);
        d.expire(u64::MAX);
        assert_eq!((d.pending(), d.memory(), d.take_stats().timed_out), (0, 0, 1));
    }

    #[test]
    fn every_fragment_is_accounted_for_once() {
        let mut d = Defragmenter::new(Limits { max_datagrams: 2, ..Limits::default() });
        let pushes =
            [v4(1, 0, 16, true), v4(1, 16, 48, false), v4(2, 0, 16, true), v4(3, 0, 8, true), v4(4, 0, 8, true)];
        let mut in_datagrams = 0;
        for (ts, raw) in pushes.iter().enumerate() {
            in_datagrams += push(&mut d, ts as u64, raw).map_or(0, |w| w.fragments);
        }
        d.expire(u64::MAX);
        let stats = d.take_stats();
        // Ident 2 was evicted for 4; 3 and 4 never completed.
        assert_eq!((in_datagrams, stats.overflow, stats.timed_out), (2, 1, 2));
        assert_eq!(u64::from(in_datagrams) + stats.given_up(), pushes.len() as u64);
    }

    #[test]
    fn reassembles_ipv6() {
        let mut d = Defragmenter::default();
        assert!(push(&mut d, 1, &v6(0xdead_beef, 24, 48, false)).is_none());
        let whole = push(&mut d, 2, &v6(0xdead_beef, 0, 24, true)).expect("complete");
        assert_eq!(whole.packet.len(), 40 + 48);
        let Ok(Decoded::Packet(p)) = whole.decode() else { panic!("not a packet") };
        assert_whole_datagram(&p);
        assert_eq!(p.dst, "2a03:2880::2".parse::<IpAddr>().unwrap());
        // Same addresses and ident but IPv4 and IPv6 never mix; nor do
        // different idents.
        assert!(push(&mut d, 3, &v6(1, 0, 24, true)).is_none());
        assert!(push(&mut d, 4, &v6(2, 24, 48, false)).is_none());
        assert_eq!(d.pending(), 2);
    }

    #[test]
    fn tunnels_keep_their_datagrams_apart() {
        fn f(raw: &[u8], vni: u32) -> Fragment<'_> {
            let Ok(Decoded::Fragment(mut f)) = decode(LinkType::Raw, raw) else { panic!("not a fragment") };
            f.encap = Encap { kind: EncapKind::Vxlan, id: Some(vni) };
            f
        }
        let mut d = Defragmenter::default();
        let first = v4(8, 0, 24, true);
        let last = v4(8, 24, 48, false);
        // Overlay A sends the first half, overlay B the second: no datagram.
        assert!(d.push(1, &f(&first, 1), 100).is_none());
        assert!(d.push(2, &f(&last, 2), 100).is_none());
        let whole = d.push(3, &f(&last, 1), 100).expect("overlay A complete");
        assert_eq!((whole.encap.id, whole.wire_len, whole.fragments), (Some(1), 2 * 100, 2));
        let Ok(Decoded::Packet(p)) = whole.decode() else { panic!("not a packet") };
        assert_eq!(p.encap, Encap { kind: EncapKind::Vxlan, id: Some(1) });
    }

    #[test]
    fn datagrams_past_the_ip_maximum_overflow() {
        let mut d = Defragmenter::default();
        let raw = v4(9, 0, 16, true);
        let Ok(Decoded::Fragment(mut f)) = decode(LinkType::Raw, &raw) else { panic!("not a fragment") };
        f.offset = 0xffff - 20 - 8;
        assert!(d.push(1, &f, 36).is_none());
        assert_eq!((d.take_stats().overflow, d.pending()), (1, 0));
    }

    #[test]
    fn a_flood_of_distinct_datagrams_stays_within_bounds() {
        let limits = Limits { max_datagrams: 256, max_bytes: 1 << 20, timeout_ns: 30_000_000_000 };
        let mut d = Defragmenter::new(limits);
        let big = vec![0x5a; 1480];
        let template = v4(0, 0, 16, true);
        let Ok(Decoded::Fragment(mut f)) = decode(LinkType::Raw, &template) else { panic!("not a fragment") };
        f.payload = &big;
        for ident in 0..20_000u32 {
            f.ident = ident & 0xffff;
            f.src = IpAddr::from((ident >> 16).to_be_bytes());
            // Every fourth datagram leaves a hole that its first piece
            // cannot fill, so datagrams of growing size pile up too.
            f.offset = if ident % 4 == 0 { 8 * 1480 } else { 0 };
            assert!(d.push(u64::from(ident), &f, 1514).is_none());
            assert!(d.pending() <= limits.max_datagrams);
            assert!(d.memory() <= limits.max_bytes, "{} bytes after {ident}", d.memory());
        }
        let stats = d.take_stats();
        assert_eq!(stats.overflow + d.pending() as u64, 20_000);
        assert!(d.order.len() <= 2 * d.pending() + 65, "age queue stays bounded");
        // The newest datagram survived the flood and can still complete.
        f.offset = 1480;
        f.more = false;
        assert!(d.push(20_000, &f, 1514).is_some());
    }
}
