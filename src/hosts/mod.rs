//! Hosts: facts about the machines behind the flows (the names they
//! announce; later their device, model and OS), kept per worker in a
//! bounded table keyed by host.
//!
//! A host is its MAC where the frame shows it on the segment, else its
//! address, always within its segment: the same private address in two
//! segments is two hosts.

use std::net::IpAddr;
use std::sync::Arc;

use hashbrown::HashMap;

use crate::inspect::HostFact;

/// The most of a name kept per host (DNS names are at most 253 bytes).
const MAX_HOSTNAME: usize = 253;

/// How a host is known.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostId {
    Mac([u8; 6]),
    Addr(IpAddr),
}

/// A host within its segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostKey {
    pub id: HostId,
    pub segment: Arc<str>,
}

impl HostKey {
    /// A host known by its address in `segment`.
    pub fn of(addr: IpAddr, segment: &Arc<str>) -> HostKey {
        HostKey { id: HostId::Addr(addr), segment: segment.clone() }
    }

    /// A host known by its MAC where the frame showed one, else by its
    /// address.
    pub fn new(mac: Option<[u8; 6]>, addr: IpAddr, segment: &Arc<str>) -> HostKey {
        let id = mac.map_or(HostId::Addr(addr), HostId::Mac);
        HostKey { id, segment: segment.clone() }
    }
}

/// What is known of one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostFacts {
    pub first_ns: u64,
    pub last_ns: u64,
    /// The last name it announced.
    pub hostname: Option<Box<str>>,
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

    /// Records a fact about `host` seen at `now_ns`.
    pub fn learn(&mut self, host: HostKey, fact: HostFact<'_>, now_ns: u64) {
        if self.map.len() >= self.capacity && !self.map.contains_key(&host) {
            self.make_room();
        }
        let facts = self.map.entry(host).or_insert_with(|| HostFacts { first_ns: now_ns, ..HostFacts::default() });
        facts.first_ns = facts.first_ns.min(now_ns);
        facts.last_ns = facts.last_ns.max(now_ns);
        match fact {
            HostFact::Hostname(name) => {
                // Cut at a character boundary: a byte cut inside one would
                // leave the name whole, however long.
                let end = (0..=name.len().min(MAX_HOSTNAME)).rev().find(|&i| name.is_char_boundary(i)).unwrap_or(0);
                let name = &name[..end];
                if facts.hostname.as_deref() != Some(name) {
                    facts.hostname = Some(name.into());
                }
            }
        }
    }

    /// The facts about `host`.
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

    fn make_room(&mut self) {
        let mut seen: Vec<u64> = self.map.values().map(|f| f.last_ns).collect();
        let cut = seen.len() / 8;
        let (_, &mut threshold, _) = seen.select_nth_unstable(cut);
        let before = self.map.len();
        self.map.retain(|_, f| f.last_ns > threshold);
        if self.map.len() == before {
            // All equally old: drop any one.
            if let Some(key) = self.map.keys().next().cloned() {
                self.map.remove(&key);
            }
        }
        self.evictions += (before - self.map.len()) as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u32) -> HostKey {
        HostKey::of(IpAddr::from(i.to_be_bytes()), &Arc::from("lan"))
    }

    #[test]
    fn keeps_the_latest_name_and_the_time_span() {
        let mut t = HostTable::new(4);
        t.learn(key(1), HostFact::Hostname("johns-iphone.local"), 20);
        t.learn(key(1), HostFact::Hostname("johns-iphone-2.local"), 10);
        let long = format!("{}é{}", "a".repeat(252), "b".repeat(5_000));
        t.learn(key(7), HostFact::Hostname(&long), 30);
        assert_eq!(t.get(&key(7)).and_then(|f| f.hostname.as_deref()), Some(&long[..252]), "cut before the é");
        let facts = t.get(&key(1)).unwrap();
        assert_eq!((facts.first_ns, facts.last_ns), (10, 20));
        assert_eq!(facts.hostname.as_deref(), Some("johns-iphone-2.local"));
        let other_segment = HostKey::of(IpAddr::from([0, 0, 0, 1]), &Arc::from("dmz"));
        assert!(t.get(&other_segment).is_none(), "a segment is part of the host's identity");
    }

    #[test]
    fn a_flood_of_hosts_stays_bounded_and_evicts_the_stalest() {
        let mut t = HostTable::new(64);
        for i in 0..10_000u32 {
            t.learn(key(i), HostFact::Hostname("x"), u64::from(i));
        }
        assert!(t.len() <= 64);
        assert_eq!(t.take_evictions(), 10_000 - t.len() as u64);
        assert!(t.get(&key(9_999)).is_some(), "the newest host stays");
        assert!(t.get(&key(0)).is_none(), "the stalest went first");
    }
}
