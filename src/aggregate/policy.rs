//! The policy counters are rendered under: which vendors are banned, and
//! which segments are configured (so that each configured segment has a
//! series at 0 for every banned vendor before its first flow).
//!
//! Taken from the rules in force when the counters are rendered (a scrape,
//! the end of a replay), never stored in the counters' keys.

use crate::classify::rules::Rules;

/// Which vendors are banned and which segments are configured, as the
/// counters are rendered under them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Banned vendor ids, sorted.
    banned: Vec<Box<str>>,
    /// Configured segment names, in config order.
    segments: Vec<Box<str>>,
}

impl Policy {
    /// The policy of `rules`: its banned vendors and configured segments.
    pub fn of(rules: &Rules) -> Policy {
        let mut banned: Vec<Box<str>> = rules
            .signatures
            .vendors
            .iter()
            .filter(|v| rules.signatures.vendor_by_name(&v.id).is_some_and(|id| rules.is_banned(id)))
            .map(|v| Box::from(&*v.id))
            .collect();
        banned.sort();
        banned.dedup();
        Policy { banned, segments: rules.config.segments.configured_names().map(Box::from).collect() }
    }

    /// Whether `vendor` (a vendor label, as in the counters' keys) is banned.
    pub fn is_banned(&self, vendor: &str) -> bool {
        self.banned.binary_search_by(|b| (**b).cmp(vendor)).is_ok()
    }

    /// The banned vendors' ids, sorted and without repeats.
    pub fn banned_vendors(&self) -> impl Iterator<Item = &str> {
        self.banned.iter().map(|v| &**v)
    }

    /// The configured segments' names, in config order (automatic segments
    /// are not configured).
    pub fn configured_segments(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().map(|s| &**s)
    }

    /// A policy banning `vendors` over `segments`, for tests.
    #[cfg(test)]
    pub fn banning(vendors: &[&str], segments: &[&str]) -> Policy {
        let mut banned: Vec<Box<str>> = vendors.iter().map(|v| Box::from(*v)).collect();
        banned.sort();
        Policy { banned, segments: segments.iter().map(|s| Box::from(*s)).collect() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::signatures::SignatureSet;
    use crate::segment::Config;

    #[test]
    fn takes_banned_vendors_and_configured_segments_from_the_rules() {
        let text = "[[segment]]\nname = \"hq\"\ncidrs = [\"10.0.0.0/8\"]\n[[segment]]\nname = \"lab\"\nvlans = [30]\n\
                    [policy]\nbanned = [\"huawei\", \"apple\"]\n";
        let config = Config::parse(std::path::Path::new("site.toml"), text).unwrap();
        let policy = Policy::of(&Rules::new(SignatureSet::embedded(), config).unwrap());
        assert_eq!(policy.banned_vendors().collect::<Vec<_>>(), ["apple", "huawei"]);
        assert_eq!(policy.configured_segments().collect::<Vec<_>>(), ["hq", "lab"]);
        assert!(policy.is_banned("apple") && !policy.is_banned("google") && !policy.is_banned("none"));
    }
}
