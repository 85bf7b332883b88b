//! Loading signatures and config into [`Rules`], with errors that name the
//! file and line.

use std::path::Path;

use anyhow::anyhow;

use vendorwatch::classify::signatures::SignatureSet;
use vendorwatch::pipeline::Rules;
use vendorwatch::segment::Config;

/// Loads the signature set: `dir`, or the embedded one.
pub fn load_signatures(dir: Option<&Path>) -> anyhow::Result<SignatureSet> {
    match dir {
        Some(dir) => SignatureSet::load_dir(dir).map_err(|p| anyhow!("invalid signatures:\n{p}")),
        None => SignatureSet::load_embedded()
            .map_err(|p| anyhow!("the signatures built into this binary are invalid (fix them and rebuild):\n{p}")),
    }
}

/// Loads signatures and config and checks them against each other.
pub fn load_rules(signatures: Option<&Path>, config: Option<&Path>) -> anyhow::Result<Rules> {
    let signatures = load_signatures(signatures)?;
    let config = match config {
        Some(path) => Config::load(path).map_err(|e| anyhow!("invalid config: {e}"))?,
        None => Config::default_auto(),
    };
    Rules::new(signatures, config).map_err(|e| anyhow!("invalid config: {e}"))
}
