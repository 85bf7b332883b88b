//! `vendorwatch signatures check [DIR]`.

use std::fmt::Write as _;
use std::path::Path;

use vendorwatch::classify::signatures::SignatureSet;

/// Validates a signature directory (or the embedded set); returns the
/// report and whether the set is valid.
pub fn check(dir: Option<&Path>) -> (String, bool) {
    let set = match dir {
        Some(dir) => SignatureSet::load_dir(dir),
        None => SignatureSet::load_embedded(),
    };
    match set {
        Err(problems) => (format!("{problems}\n{} problem(s); signatures rejected\n", problems.0.len()), false),
        Ok(set) => {
            let sizes = set.sizes();
            let mut out = format!(
                "{} vendors, {} entries, {} services: ok\n  {} hosts, {} suffixes, {} excluded suffixes, {} prefixes, {} port rules\n",
                set.vendors.len(),
                set.entries.len(),
                set.services.len(),
                sizes.hosts,
                sizes.suffixes,
                sizes.exclusions,
                sizes.prefixes,
                sizes.port_rules
            );
            let mut per_vendor = vec![0usize; set.vendors.len()];
            for e in &set.entries {
                per_vendor[usize::from(e.vendor.0)] += 1;
            }
            for (v, n) in set.vendors.iter().zip(per_vendor) {
                let _ = writeln!(out, "  {:<10} {:>4} entries  {}", v.id, n, v.display_name);
            }
            (out, true)
        }
    }
}
