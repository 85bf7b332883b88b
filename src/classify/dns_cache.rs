//! What DNS answers taught: which name a client used to reach an address.
//!
//! Keyed by (client, address) because the same CDN address serves many
//! names: only the client that asked is known to have meant this name.
//! Names, not entries, are kept so that a signature reload applies at once.

use std::net::IpAddr;

use hashbrown::HashMap;

/// Zero-TTL answers are common on CDNs and clients connect right after them;
/// without a floor such answers would never attribute anything.
const MIN_TTL_SECS: u64 = 5;
/// A week-long (or 68-year) TTL would pin an address to a name long after
/// the CDN moved it; a day covers every sane TTL.
const MAX_TTL_SECS: u64 = 86_400;

struct Learned {
    name: Box<str>,
    expires_ns: u64,
}

/// A bounded map of (client, address) to the vendor name answered for it.
pub struct DnsCache {
    map: HashMap<(IpAddr, IpAddr), Learned>,
    capacity: usize,
}

impl DnsCache {
    pub fn new(capacity: usize) -> Self {
        DnsCache { map: HashMap::new(), capacity: capacity.max(1) }
    }

    pub fn learn(&mut self, client: IpAddr, addr: IpAddr, name: &str, ttl_secs: u32, now_ns: u64) {
        if self.map.len() >= self.capacity && !self.map.contains_key(&(client, addr)) {
            self.make_room(now_ns);
        }
        let ttl = u64::from(ttl_secs).clamp(MIN_TTL_SECS, MAX_TTL_SECS);
        let expires_ns = now_ns.saturating_add(ttl.saturating_mul(1_000_000_000));
        self.map.insert((client, addr), Learned { name: name.into(), expires_ns });
    }

    /// The name `client` resolved to `addr`, while the answer is fresh.
    pub fn lookup(&self, client: IpAddr, addr: IpAddr, now_ns: u64) -> Option<&str> {
        self.map.get(&(client, addr)).filter(|l| now_ns <= l.expires_ns).map(|l| &*l.name)
    }

    /// Drops expired answers and, until an eighth of the capacity is free,
    /// those that expire soonest: a flood of answers cannot grow the cache,
    /// and the scan this takes happens once per eighth of the capacity
    /// learned, not once per answer.
    fn make_room(&mut self, now_ns: u64) {
        self.map.retain(|_, l| l.expires_ns >= now_ns);
        let target = self.capacity - (self.capacity / 8).max(1);
        if self.map.len() > target {
            let mut expiries: Vec<u64> = self.map.values().map(|l| l.expires_ns).collect();
            let drop = self.map.len() - target;
            let (_, &mut cutoff, _) = expiries.select_nth_unstable(drop - 1);
            self.map.retain(|_, l| l.expires_ns > cutoff);
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn answers_expire_with_their_ttl_and_are_per_client() {
        let c1: IpAddr = "10.0.0.1".parse().unwrap();
        let c2: IpAddr = "10.0.0.2".parse().unwrap();
        let a: IpAddr = "23.1.1.1".parse().unwrap();
        let mut cache = DnsCache::new(16);
        cache.learn(c1, a, "www.apple.com", 60, 100 * S);
        assert_eq!(cache.lookup(c1, a, 159 * S), Some("www.apple.com"));
        assert_eq!(cache.lookup(c1, a, 161 * S), None);
        assert_eq!(cache.lookup(c2, a, 101 * S), None);
    }

    #[test]
    fn a_flood_stays_within_capacity() {
        let mut cache = DnsCache::new(100);
        let c: IpAddr = "10.0.0.1".parse().unwrap();
        for i in 0..10_000u32 {
            let addr = IpAddr::from(std::net::Ipv4Addr::from(i));
            cache.learn(c, addr, "x.example", 300 + i, S);
        }
        assert!(cache.len() <= 100);
        assert!(cache.len() >= 80, "room is made an eighth at a time, not by emptying the cache");
        // The longest-lived answers survive.
        assert!(cache.lookup(c, IpAddr::from(std::net::Ipv4Addr::from(9_999u32)), S).is_some());
    }
}
