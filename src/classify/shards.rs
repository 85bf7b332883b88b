//! A value split into shards behind read-write locks, picked by a key's
//! hash: how the tables that all workers share (the DNS answer cache, the
//! call table) avoid one lock for every worker.

use std::hash::{BuildHasher, Hash};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use hashbrown::DefaultHashBuilder;

/// Shards of `S`, a key's shard chosen by its hash.
pub(crate) struct Shards<S> {
    shards: Box<[RwLock<S>]>,
    hasher: DefaultHashBuilder,
}

impl<S> Shards<S> {
    /// Shards for `capacity` entries in all: at most `max_shards` of them
    /// (fewer for a small capacity), each made by `make` for its share,
    /// `capacity` rounded up to a multiple of the shard count.
    pub(crate) fn bounded(capacity: usize, max_shards: usize, mut make: impl FnMut(usize) -> S) -> Self {
        let capacity = capacity.max(1);
        let count = max_shards.clamp(1, capacity);
        let per_shard = capacity.div_ceil(count);
        let shards = (0..count).map(|_| RwLock::new(make(per_shard))).collect();
        Shards { shards, hasher: DefaultHashBuilder::default() }
    }

    /// The shard `key` belongs to.
    fn of<K: Hash>(&self, key: &K) -> &RwLock<S> {
        // The high bits: the shard's own map indexes by the low ones.
        let high = usize::try_from(self.hasher.hash_one(key) >> 32).unwrap_or(usize::MAX);
        &self.shards[high % self.shards.len()]
    }

    /// Reads `key`'s shard.
    pub(crate) fn read<K: Hash>(&self, key: &K) -> RwLockReadGuard<'_, S> {
        read(self.of(key))
    }

    /// Writes `key`'s shard.
    pub(crate) fn write<K: Hash>(&self, key: &K) -> RwLockWriteGuard<'_, S> {
        // A worker that panicked while holding the lock left a map that is
        // still consistent (no operation on a shard leaves it half-done).
        self.of(key).write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every shard, read one after the other (for totals).
    pub(crate) fn each(&self) -> impl Iterator<Item = RwLockReadGuard<'_, S>> {
        self.shards.iter().map(read)
    }
}

fn read<S>(shard: &RwLock<S>) -> RwLockReadGuard<'_, S> {
    shard.read().unwrap_or_else(PoisonError::into_inner)
}
