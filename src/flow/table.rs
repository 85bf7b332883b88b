//! The flow table: a slab of flows, an index of slot numbers into it, and
//! one least-recently-seen list per timeout class.
//!
//! Each list is ordered by the [`RELINK_INTERVAL_NS`] interval of its
//! flows' last packets, newest first: a packet moves its flow only when its
//! time falls in a later interval than the flow's last one, so a flow
//! moves at most once an interval (moving touches the neighbours' slots).
//! Expiry only ever looks at list tails, and the stalest flow overall is
//! the oldest of those tails. Nothing here scans the table. Eviction is
//! exact to within the interval, far below any timeout; expiry is exact:
//! it checks each flow of the tail's last due interval by its last packet.
//!
//! A flow whose interval is behind its list's head (a later input that goes
//! back in time, frames slightly out of order) is linked at its place, not
//! at the front, starting from where the last such flow went: at the front
//! it would hide older flows from expiry until it expired itself, so
//! whether a flow expired would depend on which other flows share its
//! table (on the replay's worker count).
//!
//! The index holds only slot numbers (4 bytes a flow, so it stays in the
//! cache); the key it is compared against sits in the slot's first cache
//! line with the flow's recency, and the value fills the second. A packet
//! of a known flow touches those two lines, the index and its class byte.

use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};

use super::FlowKey;

const NIL: u32 = u32::MAX;
/// Moving a flow in its list touches its neighbours' slots: a cache miss or
/// two per packet if done every time.
pub const RELINK_INTERVAL_NS: u64 = 1_000_000_000;

/// Idle timeout classes; a flow moves between them as its state changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutClass {
    /// TCP before the handshake completes.
    TcpOpening,
    /// TCP once a segment without SYN has acknowledged something.
    TcpEstablished,
    /// TCP after FIN from both sides or a RST.
    TcpClosed,
    /// UDP.
    Udp,
    /// Any other IP protocol (ICMP, ESP, GRE, ...).
    Other,
}

impl TimeoutClass {
    const COUNT: usize = 5;

    fn index(self) -> usize {
        self as usize
    }
}

/// Idle timeouts per class, in nanoseconds of capture time since a flow's
/// last packet. The defaults: 30 s, 300 s, 10 s, 120 s and 60 s.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// For [`TimeoutClass::TcpOpening`].
    pub tcp_opening: u64,
    /// For [`TimeoutClass::TcpEstablished`].
    pub tcp_established: u64,
    /// For [`TimeoutClass::TcpClosed`].
    pub tcp_closed: u64,
    /// For [`TimeoutClass::Udp`].
    pub udp: u64,
    /// For [`TimeoutClass::Other`].
    pub other: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        const S: u64 = 1_000_000_000;
        Timeouts { tcp_opening: 30 * S, tcp_established: 300 * S, tcp_closed: 10 * S, udp: 120 * S, other: 60 * S }
    }
}

impl Timeouts {
    fn of(&self, class: TimeoutClass) -> u64 {
        match class {
            TimeoutClass::TcpOpening => self.tcp_opening,
            TimeoutClass::TcpEstablished => self.tcp_established,
            TimeoutClass::TcpClosed => self.tcp_closed,
            TimeoutClass::Udp => self.udp,
            TimeoutClass::Other => self.other,
        }
    }
}

/// Where a flow lives in the table, valid until the table changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotId(u32);

/// Why a flow left the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// Idle past its class's timeout.
    IdleTimeout,
    /// Evicted to make room for a new flow.
    TableFull,
    /// The input ended (end of capture, shutdown).
    Shutdown,
    /// A new connection reused the flow's addresses and ports.
    Restarted,
}

impl EndReason {
    /// Its name in flow records' `end_reason` and, for the first two, in
    /// `vendorwatch_flow_evictions_total`'s `reason` label.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::IdleTimeout => "idle_timeout",
            EndReason::TableFull => "table_full",
            EndReason::Shutdown => "shutdown",
            EndReason::Restarted => "restarted",
        }
    }
}

/// A flow that left the table.
#[derive(Debug)]
pub struct Ended<F> {
    /// Its key.
    pub key: FlowKey,
    /// What the table held for it.
    pub value: F,
    /// Capture time of its last packet.
    pub last_ns: u64,
    /// Why it left.
    pub reason: EndReason,
}

/// `repr(C)`: the first cache line holds what a lookup compares and every
/// packet updates (key, recency), the second the list links and the
/// value, which keeps there what every packet touches. Aligned to two
/// lines, which the CPU's adjacent-line prefetch fetches as a pair: with a
/// value of up to 56 bytes a packet costs one trip to memory, not two.
#[repr(C, align(128))]
struct Slot<F> {
    key: FlowKey,
    last_ns: u64,
    prev: u32,
    next: u32,
    value: F,
}

/// A bounded flow table holding values of type `F`.
pub struct FlowTable<F> {
    /// Slot numbers, hashed by their flow's key.
    index: HashTable<u32>,
    hasher: DefaultHashBuilder,
    slots: Vec<Option<Slot<F>>>,
    /// Each slot's timeout class, beside the slots: one byte a flow, read
    /// for every TCP packet, that would push the slot over two lines.
    classes: Vec<TimeoutClass>,
    free: Vec<u32>,
    heads: [u32; TimeoutClass::COUNT],
    tails: [u32; TimeoutClass::COUNT],
    /// Per class, the latest interval ever linked: a flow at or past it
    /// goes to the front without a look at the head's slot.
    newest: [u64; TimeoutClass::COUNT],
    /// Per class, the flow last linked behind the list's head, where the
    /// next one stamped behind the clock most likely goes.
    behind: [u32; TimeoutClass::COUNT],
    max_flows: usize,
    timeouts: Timeouts,
}

impl<F> FlowTable<F> {
    /// An empty table that holds at most `max_flows` flows (at least 1, at
    /// most `u32::MAX`: values outside are taken as the nearer bound),
    /// expiring them after `timeouts`.
    pub fn new(max_flows: usize, timeouts: Timeouts) -> Self {
        FlowTable {
            // Grown as flows come: a large empty index only spreads the
            // live flows over more cache lines.
            index: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            slots: Vec::new(),
            classes: Vec::new(),
            free: Vec::new(),
            heads: [NIL; TimeoutClass::COUNT],
            tails: [NIL; TimeoutClass::COUNT],
            newest: [0; TimeoutClass::COUNT],
            behind: [NIL; TimeoutClass::COUNT],
            // Slot indices are u32 and NIL is u32::MAX: the cap keeps them apart.
            max_flows: max_flows.clamp(1, NIL as usize),
            timeouts,
        }
    }

    /// The flows held.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether no flow is held.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    fn slot(&self, i: u32) -> &Slot<F> {
        self.slots[i as usize].as_ref().expect("linked slots are occupied")
    }

    fn slot_mut(&mut self, i: u32) -> &mut Slot<F> {
        self.slots[i as usize].as_mut().expect("linked slots are occupied")
    }

    fn unlink(&mut self, i: u32) {
        let class = self.classes[i as usize].index();
        let (prev, next) = {
            let s = self.slot(i);
            (s.prev, s.next)
        };
        if prev == NIL {
            self.heads[class] = next;
        } else {
            self.slot_mut(prev).next = next;
        }
        if next == NIL {
            self.tails[class] = prev;
        } else {
            self.slot_mut(next).prev = prev;
        }
        if self.behind[class] == i {
            self.behind[class] = if next == NIL { prev } else { next };
        }
    }

    /// The relink interval of slot `i`'s last packet: its list's order.
    fn interval(&self, i: u32) -> u64 {
        self.slot(i).last_ns / RELINK_INTERVAL_NS
    }

    /// Links slot `i` into its class list, newest interval first: at the
    /// front unless its interval is behind the head's.
    fn link(&mut self, i: u32) {
        let (class, key) = (self.classes[i as usize].index(), self.interval(i));
        let head = self.heads[class];
        if key >= self.newest[class] {
            self.newest[class] = key;
            return self.link_between(i, NIL, head, class);
        }
        if head == NIL || self.interval(head) <= key {
            return self.link_between(i, NIL, head, class);
        }
        // The walk starts from the head or from the last flow linked behind
        // it, whichever is nearer in time: inputs going back in time link
        // their flows one after the other at the same place.
        let cursor = self.behind[class];
        let mut prev = if cursor != NIL && self.interval(cursor).abs_diff(key) < self.interval(head) - key {
            cursor
        } else {
            head
        };
        // The head is newer than `key`, so the walk toward it stops before it ends.
        while self.interval(prev) <= key {
            prev = self.slot(prev).prev;
        }
        loop {
            let next = self.slot(prev).next;
            if next == NIL || self.interval(next) <= key {
                self.link_between(i, prev, next, class);
                break;
            }
            prev = next;
        }
        self.behind[class] = i;
    }

    fn link_between(&mut self, i: u32, prev: u32, next: u32, class: usize) {
        {
            let s = self.slot_mut(i);
            s.prev = prev;
            s.next = next;
        }
        if prev == NIL {
            self.heads[class] = i;
        } else {
            self.slot_mut(prev).next = i;
        }
        if next == NIL {
            self.tails[class] = i;
        } else {
            self.slot_mut(next).prev = i;
        }
    }

    fn hash(&self, key: &FlowKey) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The slot of `key`'s flow.
    fn find(&self, hash: u64, key: &FlowKey) -> Option<u32> {
        let slots = &self.slots;
        self.index.find(hash, |&i| slots[i as usize].as_ref().is_some_and(|s| s.key == *key)).copied()
    }

    /// Finds the flow for `key`, or makes room and inserts `create()`.
    /// Flows pushed out to make room go to `ended`. Returns the flow's slot
    /// (for [`set_class`](Self::set_class)), the flow, and whether it is new.
    #[inline]
    pub fn get_or_insert(
        &mut self,
        key: FlowKey,
        now_ns: u64,
        create: impl FnOnce() -> (F, TimeoutClass),
        ended: &mut impl FnMut(Ended<F>),
    ) -> (SlotId, &mut F, bool) {
        let hash = self.hash(&key);
        if let Some(i) = self.find(hash, &key) {
            let s = self.slot_mut(i);
            let interval = s.last_ns / RELINK_INTERVAL_NS;
            s.last_ns = s.last_ns.max(now_ns);
            if s.last_ns / RELINK_INTERVAL_NS != interval {
                self.unlink(i);
                self.link(i);
            }
            return (SlotId(i), &mut self.slot_mut(i).value, false);
        }
        while self.index.len() >= self.max_flows {
            let Some(stalest) = self.stalest() else { break };
            ended(self.remove(stalest, EndReason::TableFull));
        }
        let (value, class) = create();
        let slot = Slot { key, value, last_ns: now_ns, prev: NIL, next: NIL };
        let i = if let Some(i) = self.free.pop() {
            self.slots[i as usize] = Some(slot);
            self.classes[i as usize] = class;
            i
        } else {
            self.slots.push(Some(slot));
            self.classes.push(class);
            #[allow(
                clippy::cast_possible_truncation,
                reason = "max_flows is capped at NIL: slot indices stay below it"
            )]
            let i = (self.slots.len() - 1) as u32;
            i
        };
        let (slots, hasher) = (&self.slots, &self.hasher);
        // Growing the index rehashes its slots' keys (indexed slots are occupied).
        self.index.insert_unique(hash, i, |&j| slots[j as usize].as_ref().map_or(0, |s| hasher.hash_one(s.key)));
        self.link(i);
        (SlotId(i), &mut self.slot_mut(i).value, true)
    }

    /// The flow for `key`, without touching its recency.
    pub fn get_mut(&mut self, key: &FlowKey) -> Option<&mut F> {
        let i = self.find(self.hash(key), key)?;
        Some(&mut self.slot_mut(i).value)
    }

    /// Takes the flow for `key` out of the table: its connection ended and a
    /// new one reuses the key.
    pub fn restart(&mut self, key: &FlowKey) -> Option<Ended<F>> {
        let i = self.find(self.hash(key), key)?;
        Some(self.remove(i, EndReason::Restarted))
    }

    /// Moves a flow to another timeout class (e.g. after its handshake).
    pub fn set_class(&mut self, slot: SlotId, class: TimeoutClass) {
        let i = slot.0;
        if self.classes.get(i as usize).is_none_or(|&c| c == class) || self.slots[i as usize].is_none() {
            return;
        }
        self.unlink(i);
        self.classes[i as usize] = class;
        self.link(i);
    }

    fn stalest(&self) -> Option<u32> {
        self.tails.iter().copied().filter(|&t| t != NIL).min_by_key(|&t| self.slot(t).last_ns)
    }

    fn remove(&mut self, i: u32, reason: EndReason) -> Ended<F> {
        self.unlink(i);
        let slot = self.slots[i as usize].take().expect("linked slots are occupied");
        let hash = self.hash(&slot.key);
        if let Ok(entry) = self.index.find_entry(hash, |&j| j == i) {
            entry.remove();
        }
        self.free.push(i);
        Ended { key: slot.key, value: slot.value, last_ns: slot.last_ns, reason }
    }

    /// Ends every flow idle past its timeout at `now_ns`. Cheap when nothing
    /// is due: one comparison per class, and a look at each flow of the
    /// interval that is partly due.
    #[inline]
    pub fn expire(&mut self, now_ns: u64, ended: &mut impl FnMut(Ended<F>)) {
        for class in [
            TimeoutClass::TcpOpening,
            TimeoutClass::TcpEstablished,
            TimeoutClass::TcpClosed,
            TimeoutClass::Udp,
            TimeoutClass::Other,
        ] {
            let timeout = self.timeouts.of(class);
            // A flow's last packet is in its interval: of the flows whose
            // interval began `timeout` ago or earlier, each is checked by
            // its last packet.
            let mut at = self.tails[class.index()];
            while at != NIL && (self.interval(at) * RELINK_INTERVAL_NS).saturating_add(timeout) <= now_ns {
                let (prev, last_ns) = (self.slot(at).prev, self.slot(at).last_ns);
                if last_ns.saturating_add(timeout) <= now_ns {
                    ended(self.remove(at, EndReason::IdleTimeout));
                }
                at = prev;
            }
        }
    }

    /// Ends every flow (end of input).
    pub fn drain(&mut self, ended: &mut impl FnMut(Ended<F>)) {
        // Oldest first, so the flow log reads in time order.
        while let Some(i) = self.stalest() {
            ended(self.remove(i, EndReason::Shutdown));
        }
    }

    /// Visits every flow with the time of its last packet, e.g. to flush
    /// counters of long-lived flows.
    pub fn for_each_mut(&mut self, mut f: impl FnMut(&FlowKey, u64, &mut F)) {
        for s in self.slots.iter_mut().flatten() {
            f(&s.key, s.last_ns, &mut s.value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Encap;
    use std::net::IpAddr;

    fn key(n: u16) -> FlowKey {
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "17.0.0.1".parse().unwrap();
        FlowKey { lo: (a, n), hi: (b, 443), protocol: 6, vlan: 0, encap: Encap::default() }
    }

    #[test]
    fn evicts_the_stalest_flow_when_full_and_loses_none() {
        const S: u64 = 1_000_000_000;
        let mut t: FlowTable<u32> = FlowTable::new(3, Timeouts::default());
        let mut ended = Vec::new();
        {
            let mut sink = |e: Ended<u32>| ended.push((e.key.lo.1, e.value, e.reason));
            for (n, ts) in [(1, 10 * S), (2, 20 * S), (3, 30 * S)] {
                t.get_or_insert(key(n), ts, || (u32::from(n), TimeoutClass::Udp), &mut sink);
            }
            // Touch flow 1 so that flow 2 becomes the stalest.
            *t.get_or_insert(key(1), 40 * S, || unreachable!(), &mut sink).1 += 100;
            t.get_or_insert(key(4), 50 * S, || (4, TimeoutClass::TcpEstablished), &mut sink);
        }
        assert_eq!(ended, vec![(2, 2, EndReason::TableFull)]);
        assert_eq!(t.len(), 3);
        t.drain(&mut |e| ended.push((e.key.lo.1, e.value, e.reason)));
        assert_eq!(ended.len(), 4);
        assert_eq!(ended[1], (3, 3, EndReason::Shutdown));
        assert_eq!(ended[2], (1, 101, EndReason::Shutdown));
    }

    #[test]
    fn expires_by_class_timeout() {
        const S: u64 = 1_000_000_000;
        let mut t: FlowTable<u8> = FlowTable::new(100, Timeouts::default());
        let mut ended = Vec::new();
        let mut sink = |e: Ended<u8>| ended.push((e.key.lo.1, e.reason));
        t.get_or_insert(key(1), 0, || (0, TimeoutClass::TcpClosed), &mut sink);
        let (second, _, _) = t.get_or_insert(key(2), 0, || (0, TimeoutClass::TcpEstablished), &mut sink);
        t.expire(11 * S, &mut sink);
        t.set_class(second, TimeoutClass::TcpClosed);
        t.expire(12 * S, &mut sink);
        assert_eq!(
            ended,
            vec![(1, EndReason::IdleTimeout), (2, EndReason::IdleTimeout)],
            "moving to the closed class applies its shorter timeout"
        );
        assert!(t.is_empty());
    }

    #[test]
    fn recency_is_exact_to_within_the_relink_interval() {
        const S: u64 = 1_000_000_000;
        let mut t: FlowTable<()> = FlowTable::new(2, Timeouts::default());
        let ended = std::cell::RefCell::new(Vec::new());
        let mut sink = |e: Ended<()>| ended.borrow_mut().push((e.key.lo.1, e.reason));
        t.get_or_insert(key(1), 0, || ((), TimeoutClass::Udp), &mut sink);
        t.get_or_insert(key(2), S / 2, || ((), TimeoutClass::Udp), &mut sink);
        // Within the interval flow 1 is not moved: it is still the stalest.
        t.get_or_insert(key(1), S / 2 + 1, || unreachable!(), &mut sink);
        t.get_or_insert(key(3), S, || ((), TimeoutClass::Udp), &mut sink);
        assert_eq!(*ended.borrow(), vec![(1, EndReason::TableFull)]);
        // Past the interval a touch moves the flow: now flow 3 is older.
        t.get_or_insert(key(2), 3 * S, || unreachable!(), &mut sink);
        t.get_or_insert(key(4), 3 * S, || ((), TimeoutClass::Udp), &mut sink);
        assert_eq!(ended.borrow()[1], (3, EndReason::TableFull));
    }

    #[test]
    fn a_flow_stamped_behind_the_clock_expires_by_its_own_stamp() {
        const S: u64 = 1_000_000_000;
        let mut t: FlowTable<()> = FlowTable::new(100, Timeouts::default());
        let mut ended = Vec::new();
        let mut sink = |e: Ended<()>| ended.push((e.key.lo.1, e.reason));
        t.get_or_insert(key(1), 5000 * S, || ((), TimeoutClass::Udp), &mut sink);
        // A later input an hour earlier: its flows go behind flow 1.
        t.get_or_insert(key(2), 1400 * S, || ((), TimeoutClass::Udp), &mut sink);
        t.get_or_insert(key(3), 1401 * S, || ((), TimeoutClass::Udp), &mut sink);
        t.get_or_insert(key(2), 1402 * S, || unreachable!(), &mut sink);
        t.expire(5001 * S, &mut sink);
        assert_eq!(ended, vec![(3, EndReason::IdleTimeout), (2, EndReason::IdleTimeout)], "not hidden behind flow 1");
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn a_flow_behind_the_clock_keeps_its_place_when_it_changes_class() {
        const S: u64 = 1_000_000_000;
        let mut t: FlowTable<()> = FlowTable::new(100, Timeouts::default());
        let mut ended = Vec::new();
        let mut sink = |e: Ended<()>| ended.push((e.key.lo.1, e.reason));
        t.get_or_insert(key(1), 5000 * S, || ((), TimeoutClass::TcpClosed), &mut sink);
        let (second, (), _) = t.get_or_insert(key(2), 1400 * S, || ((), TimeoutClass::TcpOpening), &mut sink);
        // Closed an hour behind flow 1: it goes behind flow 1 in the closed list.
        t.set_class(second, TimeoutClass::TcpClosed);
        t.expire(1410 * S, &mut sink);
        assert_eq!(ended, vec![(2, EndReason::IdleTimeout)], "not hidden behind flow 1");
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn expiry_is_exact_within_the_relink_interval() {
        const S: u64 = 1_000_000_000;
        let mut t: FlowTable<()> = FlowTable::new(100, Timeouts::default());
        let ended = std::cell::RefCell::new(Vec::new());
        let mut sink = |e: Ended<()>| ended.borrow_mut().push((e.key.lo.1, e.reason));
        t.get_or_insert(key(1), 0, || ((), TimeoutClass::TcpClosed), &mut sink);
        t.get_or_insert(key(2), S / 10, || ((), TimeoutClass::TcpClosed), &mut sink);
        // Touched within the interval: flow 1 stays the tail, its last packet later than flow 2's.
        t.get_or_insert(key(1), S / 2, || unreachable!(), &mut sink);
        t.expire(10 * S + S / 10, &mut sink);
        assert_eq!(*ended.borrow(), vec![(2, EndReason::IdleTimeout)], "flow 2 is due although the tail is not");
        t.expire(10 * S + S / 2, &mut sink);
        assert_eq!(ended.borrow()[1..], [(1, EndReason::IdleTimeout)]);
    }

    /// Random touches, many behind the clock, and expiry at rising times:
    /// exactly the flows idle past the timeout end, whatever the order.
    #[test]
    fn expiry_ends_exactly_the_idle_flows_in_any_order_of_stamps() {
        const S: u64 = 1_000_000_000;
        let timeouts = Timeouts::default();
        let mut t: FlowTable<u16> = FlowTable::new(10_000, timeouts);
        let mut last: std::collections::HashMap<u16, u64> = std::collections::HashMap::new();
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut random = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let mut clock = 0;
        for round in 0..400u64 {
            for _ in 0..20 {
                let n = u16::try_from(random(300)).unwrap();
                // Mostly near the clock, some far behind (an earlier capture), a few jitters.
                let ts = match random(10) {
                    0..=5 => clock + random(S),
                    6 | 7 => clock.saturating_sub(random(4000 * S)),
                    _ => clock.saturating_sub(random(S / 1000)),
                };
                let mut none = |_: Ended<u16>| panic!("the table has room");
                t.get_or_insert(key(n), ts, || (n, TimeoutClass::Udp), &mut none);
                let l = last.entry(n).or_insert(ts);
                *l = (*l).max(ts);
                clock = clock.max(ts);
            }
            clock += random(3 * S);
            let mut ended = Vec::new();
            t.expire(clock, &mut |e| {
                assert_eq!(e.reason, EndReason::IdleTimeout);
                ended.push(e.value);
            });
            ended.sort_unstable();
            let mut due: Vec<u16> = last.iter().filter(|(_, l)| **l + timeouts.udp <= clock).map(|(n, _)| *n).collect();
            due.sort_unstable();
            assert_eq!(ended, due, "round {round} at {clock}");
            last.retain(|_, l| *l + timeouts.udp > clock);
            assert_eq!(t.len(), last.len());
        }
    }

    #[test]
    fn a_flood_of_new_flows_stays_within_the_bound() {
        let mut t: FlowTable<()> = FlowTable::new(1000, Timeouts::default());
        let mut evicted = 0u32;
        for n in 0..50_000u32 {
            let mut k = key(0);
            k.lo.0 = IpAddr::from(std::net::Ipv4Addr::from(n));
            t.get_or_insert(k, u64::from(n), || ((), TimeoutClass::TcpOpening), &mut |_| evicted += 1);
        }
        assert_eq!(t.len(), 1000);
        assert_eq!(evicted, 49_000);
        assert!(t.slots.len() <= 1000);
    }
}
