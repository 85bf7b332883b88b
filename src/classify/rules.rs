//! Signatures, segments and policy: everything a reload replaces at once.

use crate::classify::names::NormalizedName;
use crate::classify::signatures::{EntryId, SignatureSet, VendorId};
use crate::diag::Diagnostic;
use crate::segment::Config;

/// The rules one pipeline classifies and places flows by.
#[derive(Debug)]
pub struct Rules {
    /// Vendors, their names and prefixes.
    pub signatures: SignatureSet,
    /// Segments, bans and the other settings of the config file.
    pub config: Config,
    /// Indexed by vendor id.
    banned: Vec<bool>,
}

impl Rules {
    /// Checks the policy against the signatures (a banned vendor must exist).
    pub fn new(signatures: SignatureSet, config: Config) -> Result<Rules, Diagnostic> {
        let mut banned = vec![false; signatures.vendors.len()];
        for (name, line) in &config.banned {
            let Some(id) = signatures.vendor_by_name(name) else {
                let known: Vec<&str> = signatures.vendors.iter().map(|v| &*v.id).collect();
                return Err(Diagnostic::new(
                    config.file.clone().unwrap_or_default(),
                    *line,
                    format!("banned vendor {name:?} has no signatures (known: {})", known.join(", ")),
                ));
            };
            banned[usize::from(id.0)] = true;
        }
        Ok(Rules { signatures, config, banned })
    }

    /// Whether the policy bans `vendor`.
    pub fn is_banned(&self, vendor: VendorId) -> bool {
        self.banned.get(usize::from(vendor.0)).copied().unwrap_or(false)
    }

    /// The signature entry for a name, if any.
    pub fn match_name(&self, name: &str) -> Option<EntryId> {
        NormalizedName::new(name).and_then(|n| self.signatures.match_name(&n))
    }
}
