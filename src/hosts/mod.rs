//! Hosts: facts about the machines behind the flows (the names they
//! announce, the evidence of what device they are, their traffic), kept
//! per worker in a bounded table keyed by host.
//!
//! A host is its MAC where the frame shows it on the segment, else its
//! address, always within its segment: the same private address in two
//! segments is two hosts.
//!
//! A worker's [`HostTable`] hands over what changed as [`Devices`] with
//! each batch; batches merge by key ([`Devices::merge`]), so records from
//! any number of workers add up to one record per device.

pub mod device;
pub mod evidence;
pub mod record;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use hashbrown::HashMap;

pub use device::{DeviceKind, Evidence, Source};

use crate::classify::rules::Rules;
use crate::inspect::HostFact;

/// The most of a name kept per host (DNS names are at most 253 bytes).
const MAX_HOSTNAME: usize = 253;
/// Addresses kept per host (IPv4, link-local and global IPv6, a few more).
const MAX_ADDRESSES: usize = 8;
/// Pieces of evidence kept per host.
const MAX_EVIDENCE: usize = 32;
/// (vendor, service) pairs of traffic kept per host.
const MAX_TRAFFIC_KEYS: usize = 64;
/// Devices held by the merged table.
pub const MAX_DEVICES: usize = 65_536;

/// How a host is known.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HostId {
    /// The source or destination MAC of the innermost Ethernet (or 802.11)
    /// header: one device whatever addresses it uses.
    Mac([u8; 6]),
    /// The address, where the frame carried no MAC (raw IP, tunnels
    /// without an inner Ethernet header, cooked captures).
    Addr(IpAddr),
}

/// A host within its segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostKey {
    /// The MAC or address the host is known by.
    pub id: HostId,
    /// The segment the host was seen in: one MAC in two segments is two hosts.
    pub segment: Arc<str>,
}

impl HostKey {
    /// A host known by its address in `segment`.
    #[cfg(test)]
    pub fn of(addr: IpAddr, segment: &Arc<str>) -> HostKey {
        HostKey { id: HostId::Addr(addr), segment: segment.clone() }
    }

    /// A host known by its MAC where the frame showed one, else by its
    /// address.
    pub fn new(mac: Option<[u8; 6]>, addr: IpAddr, segment: &Arc<str>) -> HostKey {
        let id = mac.map_or(HostId::Addr(addr), HostId::Mac);
        HostKey { id, segment: segment.clone() }
    }

    /// The MAC the host is known by, if it is known by one.
    pub fn mac(&self) -> Option<crate::mac::Mac> {
        match self.id {
            HostId::Mac(mac) => Some(crate::mac::Mac(mac)),
            HostId::Addr(_) => None,
        }
    }
}

/// A device's traffic to one vendor's service.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeviceTraffic {
    /// Flows counted.
    pub flows: u64,
    /// Bytes of those flows, both directions, as on the wire.
    pub bytes: u64,
}

/// What is known of one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostFacts {
    /// When the host was first seen, in nanoseconds since the Unix epoch (capture time).
    pub first_ns: u64,
    /// When the host was last seen, in nanoseconds since the Unix epoch (capture time).
    pub last_ns: u64,
    /// The last name it announced, and when.
    pub hostname: Option<Box<str>>,
    hostname_ns: u64,
    /// Its addresses, sorted (IPv4 before IPv6); past eight
    /// the lowest are kept. Sorted rather than in the order seen, so that
    /// merging the workers' reports in any order gives the same list.
    pub addresses: Vec<IpAddr>,
    /// What says which device it is, in the order seen.
    pub evidence: Vec<Evidence>,
    /// Traffic by (vendor, service) label; in a worker's table, since the
    /// last handover.
    pub traffic: BTreeMap<(Arc<str>, Arc<str>), DeviceTraffic>,
    /// Changed since the last handover.
    dirty: bool,
}

impl HostFacts {
    fn seen(&mut self, now_ns: u64) {
        self.first_ns = self.first_ns.min(now_ns);
        self.last_ns = self.last_ns.max(now_ns);
        self.dirty = true;
    }

    fn add_address(&mut self, addr: IpAddr) {
        if addr.is_unspecified() {
            return;
        }
        if let Err(at) = self.addresses.binary_search(&addr) {
            if at < MAX_ADDRESSES {
                self.addresses.insert(at, addr);
                self.addresses.truncate(MAX_ADDRESSES);
            }
        }
    }

    fn add_evidence(&mut self, e: Evidence) {
        if let Some(old) = self.evidence.iter_mut().find(|old| old.same(&e)) {
            old.seen_ns = old.seen_ns.min(e.seen_ns);
        } else if self.evidence.len() < MAX_EVIDENCE {
            self.evidence.push(e);
        }
    }

    fn add_traffic(&mut self, key: (Arc<str>, Arc<str>), t: DeviceTraffic) {
        if self.traffic.len() < MAX_TRAFFIC_KEYS || self.traffic.contains_key(&key) {
            let sum = self.traffic.entry(key).or_default();
            sum.flows += t.flows;
            sum.bytes += t.bytes;
        }
    }

    /// Folds in a later report about the same device.
    fn merge(&mut self, later: HostFacts) {
        self.first_ns = self.first_ns.min(later.first_ns);
        self.last_ns = self.last_ns.max(later.last_ns);
        if later.hostname.is_some() && later.hostname_ns >= self.hostname_ns {
            self.hostname = later.hostname;
            self.hostname_ns = later.hostname_ns;
        }
        later.addresses.into_iter().for_each(|a| self.add_address(a));
        later.evidence.into_iter().for_each(|e| self.add_evidence(e));
        self.evidence.sort_by_key(|e| e.seen_ns);
        later.traffic.into_iter().for_each(|(k, t)| self.add_traffic(k, t));
    }

    /// What the evidence says.
    pub fn device(&self) -> device::Inferred<'_> {
        device::infer(&self.evidence)
    }
}

fn new_facts(rules: &Rules, host: &HostKey, now_ns: u64) -> HostFacts {
    let mut facts = HostFacts { first_ns: now_ns, last_ns: now_ns, ..HostFacts::default() };
    if let HostId::Mac(mac) = host.id {
        facts.evidence.extend(evidence::of_mac(rules, mac).into_iter().map(|e| Evidence { seen_ns: now_ns, ..e }));
    }
    facts
}

/// A bounded map of hosts to their facts. When full, the least recently
/// seen eighth is evicted at once, so inserting stays amortised O(1) and a
/// flood of new hosts cannot grow it.
pub struct HostTable {
    map: HashMap<HostKey, HostFacts>,
    capacity: usize,
    evictions: u64,
}

impl HostTable {
    /// A table of at most `capacity` hosts.
    pub fn new(capacity: usize) -> Self {
        HostTable { map: HashMap::new(), capacity: capacity.max(1), evictions: 0 }
    }

    fn facts(&mut self, rules: &Rules, host: HostKey, now_ns: u64) -> &mut HostFacts {
        if self.map.len() >= self.capacity && !self.map.contains_key(&host) {
            self.make_room();
        }
        let facts = match self.map.entry(host) {
            hashbrown::hash_map::Entry::Occupied(o) => o.into_mut(),
            hashbrown::hash_map::Entry::Vacant(v) => {
                let facts = new_facts(rules, v.key(), now_ns);
                v.insert(facts)
            }
        };
        facts.seen(now_ns);
        facts
    }

    /// Records a fact about `host` (at `addr`) seen at `now_ns`.
    pub fn learn(&mut self, rules: &Rules, host: HostKey, addr: IpAddr, fact: HostFact<'_>, now_ns: u64) {
        let facts = self.facts(rules, host, now_ns);
        facts.add_address(addr);
        match fact {
            HostFact::Hostname(name) => {
                let name = crate::classify::names::truncated(name, MAX_HOSTNAME);
                if facts.hostname.as_deref() != Some(name) {
                    facts.hostname = Some(name.into());
                }
                facts.hostname_ns = now_ns;
            }
            HostFact::Address(a) => facts.add_address(a),
            other => evidence::of_fact(rules, &other)
                .into_iter()
                .for_each(|e| facts.add_evidence(Evidence { seen_ns: now_ns, ..e })),
        }
    }

    /// Records evidence found outside the inspectors (a TCP SYN).
    pub fn add_evidence(&mut self, rules: &Rules, host: HostKey, addr: IpAddr, e: Evidence, now_ns: u64) {
        let facts = self.facts(rules, host, now_ns);
        facts.add_address(addr);
        facts.add_evidence(Evidence { seen_ns: now_ns, ..e });
    }

    /// Adds a flow's traffic (since its last count) to its segment host.
    pub fn add_traffic(
        &mut self,
        rules: &Rules,
        host: HostKey,
        addr: IpAddr,
        to: (Arc<str>, Arc<str>),
        t: DeviceTraffic,
        now_ns: u64,
    ) {
        let facts = self.facts(rules, host, now_ns);
        facts.add_address(addr);
        facts.add_traffic(to, t);
    }

    /// The facts about `host`.
    #[cfg(test)]
    pub fn get(&self, host: &HostKey) -> Option<&HostFacts> {
        self.map.get(host)
    }

    /// Hosts held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no host is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Hosts evicted for room since the last call.
    pub fn take_evictions(&mut self) -> u64 {
        std::mem::take(&mut self.evictions)
    }

    /// The hosts changed since the last take, their traffic moved out.
    pub fn take_changes(&mut self) -> Devices {
        let mut out = Devices::default();
        for (key, facts) in self.map.iter_mut().filter(|(_, f)| f.dirty) {
            facts.dirty = false;
            let traffic = std::mem::take(&mut facts.traffic);
            out.map.insert(key.clone(), HostFacts { traffic, ..facts.clone() });
        }
        out
    }

    fn make_room(&mut self) {
        self.evictions += evict_stalest(&mut self.map);
    }
}

/// Drops the least recently seen eighth (at least one); returns how many.
fn evict_stalest(map: &mut HashMap<HostKey, HostFacts>) -> u64 {
    let mut seen: Vec<u64> = map.values().map(|f| f.last_ns).collect();
    if seen.is_empty() {
        return 0;
    }
    let cut = seen.len() / 8;
    let (_, &mut threshold, _) = seen.select_nth_unstable(cut);
    let before = map.len();
    map.retain(|_, f| f.last_ns > threshold);
    if map.len() == before {
        // All equally old: drop any one.
        if let Some(key) = map.keys().next().cloned() {
            map.remove(&key);
        }
    }
    (before - map.len()) as u64
}

/// Device records merged from the workers' handovers, bounded by
/// [`MAX_DEVICES`] (the stalest go first).
#[derive(Debug, Clone, Default)]
pub struct Devices {
    map: HashMap<HostKey, HostFacts>,
}

impl Devices {
    /// Folds in a batch: records merge by key.
    pub fn merge(&mut self, batch: Devices) {
        for (key, facts) in batch.map {
            if let Some(old) = self.map.get_mut(&key) {
                old.merge(facts);
                continue;
            }
            if self.map.len() >= MAX_DEVICES {
                evict_stalest(&mut self.map);
            }
            self.map.insert(key, facts);
        }
    }

    /// Forgets devices not seen since `since_ns`.
    pub fn prune(&mut self, since_ns: u64) {
        self.map.retain(|_, f| f.last_ns >= since_ns);
    }

    /// Devices seen since `since_ns` (all when 0), in key order.
    pub fn seen_since(&self, since_ns: u64) -> Vec<(&HostKey, &HostFacts)> {
        let mut v: Vec<_> = self.map.iter().filter(|(_, f)| f.last_ns >= since_ns).collect();
        v.sort_by(|a, b| a.0.cmp(b.0));
        v
    }

    /// Hosts held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no host is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Devices per (segment, vendor, kind, banned) seen since `since_ns`;
    /// vendor `none` where no evidence names one.
    pub fn counts(&self, since_ns: u64) -> BTreeMap<(Arc<str>, Box<str>, DeviceKind, bool), u64> {
        let mut counts = BTreeMap::new();
        for (key, facts) in self.seen_since(since_ns) {
            let d = facts.device();
            let vendor: Box<str> = d.vendor.unwrap_or(crate::aggregate::NO_VENDOR).into();
            *counts.entry((key.segment.clone(), vendor, d.kind, d.banned)).or_default() += 1;
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::signatures::SignatureSet;
    use crate::segment::Config;

    fn rules() -> Rules {
        Rules::new(SignatureSet::embedded(), Config::default_auto()).unwrap()
    }

    fn key(i: u32) -> HostKey {
        HostKey::of(IpAddr::from(i.to_be_bytes()), &Arc::from("lan"))
    }

    fn addr(i: u32) -> IpAddr {
        IpAddr::from(i.to_be_bytes())
    }

    #[test]
    fn keeps_the_latest_name_and_the_time_span() {
        let rules = rules();
        let mut t = HostTable::new(4);
        t.learn(&rules, key(1), addr(1), HostFact::Hostname("johns-iphone.local"), 20);
        t.learn(&rules, key(1), addr(1), HostFact::Hostname("johns-iphone-2.local"), 10);
        let long = format!("{}é{}", "a".repeat(252), "b".repeat(5_000));
        t.learn(&rules, key(7), addr(7), HostFact::Hostname(&long), 30);
        assert_eq!(t.get(&key(7)).and_then(|f| f.hostname.as_deref()), Some(&long[..252]), "cut before the é");
        let facts = t.get(&key(1)).unwrap();
        assert_eq!((facts.first_ns, facts.last_ns), (10, 20));
        assert_eq!(facts.hostname.as_deref(), Some("johns-iphone-2.local"));
        let other_segment = HostKey::of(IpAddr::from([0, 0, 0, 1]), &Arc::from("dmz"));
        assert!(t.get(&other_segment).is_none(), "a segment is part of the host's identity");
    }

    #[test]
    fn a_flood_of_hosts_stays_bounded_and_evicts_the_stalest() {
        let rules = rules();
        let mut t = HostTable::new(64);
        for i in 0..10_000u32 {
            t.learn(&rules, key(i), addr(i), HostFact::Hostname("x"), u64::from(i));
        }
        assert!(t.len() <= 64);
        assert_eq!(t.take_evictions(), 10_000 - t.len() as u64);
        assert!(t.get(&key(9_999)).is_some(), "the newest host stays");
        assert!(t.get(&key(0)).is_none(), "the stalest went first");
    }

    #[test]
    fn batches_from_two_workers_merge_into_one_record() {
        let rules = rules();
        let mac = HostKey::new(Some([0x3a, 0, 0, 0, 0, 1]), addr(7), &Arc::from("lan"));
        let mut a = HostTable::new(8);
        let mut b = HostTable::new(8);
        a.learn(&rules, mac.clone(), addr(7), HostFact::MdnsModel("iPhone15,2"), 5);
        let push = (Arc::from("apple"), Arc::from("push"));
        a.add_traffic(&rules, mac.clone(), addr(7), push.clone(), DeviceTraffic { flows: 1, bytes: 100 }, 6);
        b.add_traffic(&rules, mac.clone(), addr(8), push.clone(), DeviceTraffic { flows: 2, bytes: 50 }, 9);
        let mut merged = Devices::default();
        merged.merge(a.take_changes());
        merged.merge(b.take_changes());
        merged.merge(a.take_changes());
        let all = merged.seen_since(0);
        assert_eq!(all.len(), 1);
        let facts = all[0].1;
        assert_eq!((facts.first_ns, facts.last_ns), (5, 9));
        assert_eq!(facts.addresses, vec![addr(7), addr(8)]);
        assert_eq!(facts.traffic[&push], DeviceTraffic { flows: 3, bytes: 150 }, "a repeated take adds nothing");
        let d = facts.device();
        assert_eq!((d.vendor, d.kind, d.model), (Some("apple"), DeviceKind::Phone, Some("iPhone15,2")));
    }

    #[test]
    fn a_devices_addresses_do_not_depend_on_which_worker_reported_first() {
        let mac = HostKey::new(Some([0x3a, 0, 0, 0, 0, 2]), addr(1), &Arc::from("lan"));
        let report = |addrs: &[u32]| {
            let mut t = HostTable::new(8);
            for &a in addrs {
                t.learn(&rules(), mac.clone(), addr(a), HostFact::Hostname("x"), u64::from(a));
            }
            t.take_changes()
        };
        let merged = |first: &[u32], second: &[u32]| {
            let mut d = Devices::default();
            d.merge(report(first));
            d.merge(report(second));
            d.seen_since(0)[0].1.addresses.clone()
        };
        let (early, late) = ([9, 3, 12, 5, 7], [1, 11, 4, 10, 2, 6]);
        let one_way = merged(&early, &late);
        assert_eq!(one_way, merged(&late, &early));
        assert_eq!(one_way, [1, 2, 3, 4, 5, 6, 7, 9].map(addr), "sorted, the lowest eight of eleven");
    }

    #[test]
    fn a_locally_administered_mac_is_never_guessed_from() {
        let rules = rules();
        let apple_oui = [0x00, 0x03, 0x93, 1, 2, 3];
        let local = [0x02, 0x03, 0x93, 1, 2, 3];
        assert_eq!(evidence::of_mac(&rules, apple_oui).and_then(|e| e.vendor).as_deref(), Some("apple"));
        assert!(evidence::of_mac(&rules, local).is_none(), "the U/L bit is set: its other bits mean nothing");
    }
}
