//! What DNS answers taught: which name a client used to reach an address.
//!
//! Keyed by (client, address) because the same CDN address serves many
//! names: only the client that asked is known to have meant this name.
//! Names, not entries, are kept so that a signature reload applies at once.
//!
//! One cache serves every worker of a sensor: `PACKET_FANOUT` hashes a
//! resolver's flow and the client's later connection to different workers
//! as often as not, and the connection must still find the answer. The map
//! is split into shards, each behind its own lock and with its own share of
//! the capacity: a worker takes one shard's read lock per new flow and one
//! shard's write lock per vendor answer, never per packet, and two workers
//! meet on a lock only when both touch the same shard at the same moment.

use std::net::IpAddr;
use std::sync::Arc;

use hashbrown::HashMap;

use super::shards::Shards;

/// Zero-TTL answers are common on CDNs and clients connect right after them;
/// without a floor such answers would never attribute anything.
const MIN_TTL_SECS: u64 = 5;
/// A week-long (or 68-year) TTL would pin an address to a name long after
/// the CDN moved it; a day covers every sane TTL.
const MAX_TTL_SECS: u64 = 86_400;
/// Enough shards that workers rarely meet on one; few enough that each
/// shard's share of a small capacity is still a useful cache.
const SHARDS: usize = 64;

struct Learned {
    name: Arc<str>,
    /// When the name was first answered for the pair (a refresh of the
    /// same name keeps it).
    since_ns: u64,
    expires_ns: u64,
}

type Key = (IpAddr, IpAddr);

struct Shard {
    map: HashMap<Key, Learned>,
    capacity: usize,
    /// Answers dropped for room while still fresh (expired ones are not
    /// losses).
    evicted: u64,
}

/// A bounded, concurrent map of (client, address) to the vendor name
/// answered for it; share it between workers with an [`Arc`].
pub struct DnsCache {
    shards: Shards<Shard>,
}

impl DnsCache {
    /// A cache of at most `capacity` answers (rounded up to a multiple of
    /// the shard count).
    pub fn new(capacity: usize) -> Self {
        DnsCache {
            shards: Shards::bounded(capacity, SHARDS, |capacity| Shard { map: HashMap::new(), capacity, evicted: 0 }),
        }
    }

    /// Remembers that `client` was told `addr` is `name`, for the record's
    /// TTL (clamped to the cache's bounds) from `now_ns`.
    pub fn learn(&self, client: IpAddr, addr: IpAddr, name: &str, ttl_secs: u32, now_ns: u64) {
        let ttl = u64::from(ttl_secs).clamp(MIN_TTL_SECS, MAX_TTL_SECS);
        let expires_ns = now_ns.saturating_add(ttl.saturating_mul(1_000_000_000));
        let key = (client, addr);
        let mut shard = self.shards.write(&key);
        if let Some(known) = shard.map.get_mut(&key) {
            // A repeated answer (every refresh of a cached record) keeps
            // the name it already has: no allocation.
            if *known.name != *name {
                known.name = name.into();
                known.since_ns = now_ns;
            }
            known.expires_ns = expires_ns;
            return;
        }
        if shard.map.len() >= shard.capacity {
            shard.make_room(now_ns);
        }
        shard.map.insert(key, Learned { name: name.into(), since_ns: now_ns, expires_ns });
    }

    /// The name `client` resolved to `addr`, while the answer is fresh.
    pub fn lookup(&self, client: IpAddr, addr: IpAddr, now_ns: u64) -> Option<Arc<str>> {
        let key = (client, addr);
        let shard = self.shards.read(&key);
        shard.map.get(&key).filter(|l| now_ns <= l.expires_ns).map(|l| l.name.clone())
    }

    /// The name `client` resolved to `addr` by an answer learned at or
    /// before `at_ns` and fresh then: what a lookup at `at_ns` would have
    /// found had every answer been read in time.
    pub fn answered_before(&self, client: IpAddr, addr: IpAddr, at_ns: u64) -> Option<Arc<str>> {
        let key = (client, addr);
        let shard = self.shards.read(&key);
        shard.map.get(&key).filter(|l| l.since_ns <= at_ns && at_ns <= l.expires_ns).map(|l| l.name.clone())
    }

    /// Answers held, over all shards (a gauge: shards are read one by one).
    pub fn len(&self) -> usize {
        self.shards.each().map(|s| s.map.len()).sum()
    }

    /// Whether no answer is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Fresh answers dropped to make room since the cache was made: what
    /// `vendorwatch_dns_cache_evictions_total` counts.
    pub fn evictions(&self) -> u64 {
        self.shards.each().map(|s| s.evicted).sum()
    }

    /// The most answers the cache holds.
    pub fn capacity(&self) -> usize {
        self.shards.each().map(|s| s.capacity).sum()
    }
}

impl Shard {
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
            // A flood's answers share one TTL and one clock: of those
            // expiring at the cutoff only as many go as room needs, or
            // every make_room would empty the shard.
            let mut ties = drop - expiries.iter().filter(|&&e| e < cutoff).count();
            self.map.retain(|_, l| {
                let keep = l.expires_ns > cutoff || (l.expires_ns == cutoff && ties == 0);
                if l.expires_ns == cutoff && !keep {
                    ties -= 1;
                }
                keep
            });
            self.evicted += drop as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn answers_expire_with_their_ttl_and_are_per_client() {
        let c1: IpAddr = "10.0.0.1".parse().unwrap();
        let c2: IpAddr = "10.0.0.2".parse().unwrap();
        let a: IpAddr = "23.1.1.1".parse().unwrap();
        let cache = DnsCache::new(16);
        cache.learn(c1, a, "www.apple.com", 60, 100 * S);
        assert_eq!(cache.lookup(c1, a, 159 * S).as_deref(), Some("www.apple.com"));
        assert_eq!(cache.lookup(c1, a, 161 * S), None);
        assert_eq!(cache.lookup(c2, a, 101 * S), None);
        // A later answer for the same pair replaces the name and the expiry.
        cache.learn(c1, a, "gateway.icloud.com", 600, 200 * S);
        assert_eq!(cache.lookup(c1, a, 700 * S).as_deref(), Some("gateway.icloud.com"));
        assert_eq!(cache.len(), 1);
        // Only answers learned by then count for a flow that began then.
        assert_eq!(cache.answered_before(c1, a, 199 * S), None);
        assert_eq!(cache.answered_before(c1, a, 201 * S).as_deref(), Some("gateway.icloud.com"));
        cache.learn(c1, a, "gateway.icloud.com", 600, 300 * S);
        assert_eq!(cache.answered_before(c1, a, 201 * S).as_deref(), Some("gateway.icloud.com"), "a refresh");
    }

    #[test]
    fn a_flood_stays_within_capacity() {
        let cache = DnsCache::new(6_400);
        let c: IpAddr = "10.0.0.1".parse().unwrap();
        for i in 0..50_000u32 {
            cache.learn(c, IpAddr::from(Ipv4Addr::from(i)), "x.example", 300 + i, S);
        }
        assert!(cache.len() <= cache.capacity(), "{} > {}", cache.len(), cache.capacity());
        assert_eq!(cache.capacity(), 6_400);
        assert!(cache.len() >= 6_400 * 3 / 4, "room is made an eighth at a time, not by emptying the cache");
        // The longest-lived answers survive.
        assert!(cache.lookup(c, IpAddr::from(Ipv4Addr::from(49_999u32)), S).is_some());
        assert!(cache.lookup(c, IpAddr::from(Ipv4Addr::from(0u32)), S).is_none());
    }

    #[test]
    fn fresh_answers_dropped_for_room_are_counted_and_expired_ones_are_not() {
        let cache = DnsCache::new(6_400);
        let c: IpAddr = "10.0.0.1".parse().unwrap();
        // Well below the bound in every shard.
        for i in 0..1_000u32 {
            cache.learn(c, IpAddr::from(Ipv4Addr::from(i)), "x.example", 5, 0);
        }
        assert_eq!(cache.evictions(), 0, "below the bound nothing is lost");
        // Every old answer has expired by now: making room for the flood
        // first drops those, and only then fresh ones.
        for i in 0..50_000u32 {
            cache.learn(c, IpAddr::from(Ipv4Addr::from(1 << 20 | i)), "x.example", 300, 100 * S);
        }
        let expired_gone = (0..1_000u32).all(|i| cache.lookup(c, IpAddr::from(Ipv4Addr::from(i)), 0).is_none());
        assert!(expired_gone, "the expired answers made room first");
        assert!(cache.evictions() > 0);
        assert_eq!(cache.evictions(), 50_000 - cache.len() as u64, "each fresh answer is held or counted");
    }

    #[test]
    fn a_flood_of_equal_ttls_does_not_empty_the_cache() {
        let cache = DnsCache::new(6_400);
        let c: IpAddr = "10.0.0.1".parse().unwrap();
        for i in 0..50_000u32 {
            cache.learn(c, IpAddr::from(Ipv4Addr::from(i)), "x.example", 300, S);
            assert!(cache.len() <= 6_400);
        }
        assert!(cache.len() >= 6_400 * 3 / 4, "{}", cache.len());
    }

    #[test]
    fn workers_on_other_threads_see_each_others_answers() {
        let cache = Arc::new(DnsCache::new(65_536));
        let c: IpAddr = "10.0.0.1".parse().unwrap();
        let writers: Vec<_> = (0..4u32)
            .map(|w| {
                let cache = cache.clone();
                std::thread::spawn(move || {
                    for i in 0..2_000u32 {
                        cache.learn(c, IpAddr::from(Ipv4Addr::from(w << 16 | i)), "www.apple.com", 300, S);
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        assert_eq!(cache.len(), 8_000);
        for w in 0..4u32 {
            for i in (0..2_000u32).step_by(97) {
                let addr = IpAddr::from(Ipv4Addr::from(w << 16 | i));
                assert_eq!(cache.lookup(c, addr, 2 * S).as_deref(), Some("www.apple.com"));
            }
        }
    }

    #[test]
    fn a_tiny_capacity_is_honoured() {
        let cache = DnsCache::new(3);
        let c: IpAddr = "10.0.0.1".parse().unwrap();
        for i in 0..50u32 {
            cache.learn(c, IpAddr::from(Ipv4Addr::from(i)), "x.example", 300, S);
        }
        assert!(cache.len() <= 3);
    }
}
