//! `vendorwatch signatures check [DIR]`.

use std::path::Path;

use crate::classify::signatures::SignatureSet;

/// Validates a signature directory (or the embedded set); returns the
/// report and whether the set is valid.
pub fn check(dir: Option<&Path>) -> (String, bool) {
    let set = match dir {
        Some(dir) => SignatureSet::load_dir(dir),
        None => Ok(SignatureSet::embedded()),
    };
    match set {
        Err(problems) => (format!("{problems}\n{} problem(s); signatures rejected\n", problems.0.len()), false),
        Ok(set) => {
            let mut out = format!(
                "{} vendors, {} entries, {} services: ok\n",
                set.vendors.len(),
                set.entries.len(),
                set.services.len()
            );
            for (i, v) in set.vendors.iter().enumerate() {
                let n = set.entries.iter().filter(|e| usize::from(e.vendor.0) == i).count();
                out.push_str(&format!("  {:<10} {:>4} entries  {}\n", v.id, n, v.display_name));
            }
            (out, true)
        }
    }
}
