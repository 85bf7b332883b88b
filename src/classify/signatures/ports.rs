//! Port rules and the tables that answer "which rule covers this port" in
//! logarithmic time.
//!
//! A rule is stored once, as written; an entry's prefixes are not copied
//! into its rules, so an entry with P prefixes and R port rules costs P + R.
//! For lookups the rules are compiled into disjoint port segments per key
//! (an entry, or a vendor for rules that count in any of its prefixes),
//! each segment naming the earliest rule (in file order) that covers it.

use hashbrown::HashMap;

use super::{EntryId, VendorId};

/// A port (range) that names a service, but only inside the vendor's prefixes.
#[derive(Debug, Clone, Copy)]
pub(super) struct PortRule {
    pub entry: EntryId,
    pub protocol: u8,
    pub low: u16,
    pub high: u16,
}

/// Whose prefixes a rule needs: the entry's own, or any of the vendor's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Scope {
    Entry(EntryId),
    Vendor(VendorId),
}

/// A port range `low..=high` (as `u32`, so `high + 1` fits) and its rule's entry.
type PortRange = (u32, u32, EntryId);

/// Disjoint segments of the port space: segment `i` covers
/// `starts[i] .. starts[i + 1]` and belongs to `owners[i]`.
#[derive(Debug, Default)]
struct Segments {
    starts: Vec<u32>,
    owners: Vec<Option<EntryId>>,
}

impl Segments {
    /// Sweeps the rules' start and end points once; at every point the
    /// covering rule with the smallest entry id wins (rules are in file
    /// order, so that is the first one written).
    fn build(mut ranges: Vec<PortRange>) -> Segments {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;

        let mut events: Vec<(u32, bool, EntryId)> = Vec::with_capacity(ranges.len() * 2);
        for &(low, high, entry) in &ranges {
            events.push((low, true, entry));
            events.push((high + 1, false, entry));
        }
        ranges.clear();
        events.sort_unstable_by_key(|&(at, _, entry)| (at, entry.0));
        // Active rules; an end removes one instance of its entry lazily.
        let mut active: BinaryHeap<Reverse<u32>> = BinaryHeap::new();
        let mut ended: HashMap<u32, u32> = HashMap::new();
        let mut segments = Segments::default();
        let mut i = 0;
        while i < events.len() {
            let at = events[i].0;
            while i < events.len() && events[i].0 == at {
                let (_, start, entry) = events[i];
                if start {
                    active.push(Reverse(entry.0));
                } else {
                    *ended.entry(entry.0).or_default() += 1;
                }
                i += 1;
            }
            while let Some(&Reverse(top)) = active.peek() {
                match ended.get_mut(&top) {
                    Some(n) if *n > 0 => {
                        *n -= 1;
                        active.pop();
                    }
                    _ => break,
                }
            }
            let owner = active.peek().map(|&Reverse(e)| EntryId(e));
            if segments.owners.last() != Some(&owner) {
                segments.starts.push(at);
                segments.owners.push(owner);
            }
        }
        segments
    }

    fn owner(&self, port: u16) -> Option<EntryId> {
        let i = self.starts.partition_point(|&s| s <= u32::from(port)).checked_sub(1)?;
        self.owners[i]
    }
}

/// All port rules of a set, and their lookup tables.
#[derive(Debug, Default)]
pub(super) struct PortIndex {
    rules: Vec<PortRule>,
    scopes: Vec<Scope>,
    tables: HashMap<(Scope, u8), Segments>,
}

impl PortIndex {
    pub fn push(&mut self, rule: PortRule, scope: Scope) {
        self.rules.push(rule);
        self.scopes.push(scope);
    }

    /// Compiles the lookup tables; call once after the last `push`.
    pub fn build(&mut self) {
        let mut grouped: HashMap<(Scope, u8), Vec<PortRange>> = HashMap::new();
        for (rule, &scope) in self.rules.iter().zip(&self.scopes) {
            grouped.entry((scope, rule.protocol)).or_default().push((
                u32::from(rule.low),
                u32::from(rule.high),
                rule.entry,
            ));
        }
        self.tables = grouped.into_iter().map(|(key, ranges)| (key, Segments::build(ranges))).collect();
    }

    /// The earliest rule of `scope` covering this port.
    pub fn lookup(&self, scope: Scope, protocol: u8, port: u16) -> Option<EntryId> {
        self.tables.get(&(scope, protocol))?.owner(port)
    }

    pub fn rules(&self) -> &[PortRule] {
        &self.rules
    }

    /// Segments over all tables: at most twice the number of rules plus one per table.
    pub fn segments(&self) -> usize {
        self.tables.values().map(|s| s.starts.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_covering_rule_wins_and_gaps_are_empty() {
        let s = Segments::build(vec![(100, 200, EntryId(5)), (150, 300, EntryId(2)), (1, 65535, EntryId(9))]);
        assert_eq!(s.owner(1), Some(EntryId(9)));
        assert_eq!(s.owner(120), Some(EntryId(5)));
        assert_eq!(s.owner(150), Some(EntryId(2)));
        assert_eq!(s.owner(300), Some(EntryId(2)));
        assert_eq!(s.owner(301), Some(EntryId(9)));
        assert_eq!(s.owner(65535), Some(EntryId(9)));
        let gaps = Segments::build(vec![(5223, 5223, EntryId(1)), (3478, 3497, EntryId(1))]);
        assert_eq!(gaps.owner(5223), Some(EntryId(1)));
        assert_eq!(gaps.owner(5224), None);
        assert_eq!(gaps.owner(3477), None);
        assert_eq!(gaps.owner(3490), Some(EntryId(1)));
        assert_eq!(gaps.owner(0), None);
    }

    #[test]
    fn the_same_entry_twice_over_one_range_ends_cleanly() {
        let s = Segments::build(vec![(10, 20, EntryId(1)), (10, 20, EntryId(1)), (15, 30, EntryId(3))]);
        assert_eq!(s.owner(20), Some(EntryId(1)));
        assert_eq!(s.owner(21), Some(EntryId(3)));
        assert_eq!(s.owner(31), None);
    }
}
