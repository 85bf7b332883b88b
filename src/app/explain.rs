//! `vendorwatch explain NAME|ADDRESS`: which signature entry matches, and why.

use std::net::IpAddr;

use crate::classify::names::{NormalizedName, akamai_embedded_name};
use crate::classify::signatures::{EntryId, NameOutcome, SignatureSet};

/// Explains how `query` (a host name or an address) would be attributed.
/// Returns the text and whether anything matched.
pub fn explain(set: &SignatureSet, query: &str) -> (String, bool) {
    if let Ok(addr) = query.parse::<IpAddr>() {
        let Some(entry) = set.match_addr(addr) else {
            return (format!("{addr}: no vendor prefix contains this address\n"), false);
        };
        let prefix = set.matching_prefix(addr).map(|p| p.to_string()).unwrap_or_default();
        let mut out = describe(set, entry, &format!("{addr} is inside {prefix} (longest matching prefix)"));
        let ports: Vec<String> = set.port_rules_of(entry).collect();
        if !ports.is_empty() {
            out.push_str(&format!(
                "  ports:   {} (count as {} only inside this entry's prefixes)\n",
                ports.join(", "),
                set.service_name(set.entry(entry).service)
            ));
        }
        return (out, true);
    }
    let Some(name) = NormalizedName::new(query) else {
        return (format!("{query:?} is neither an address nor a DNS name\n"), false);
    };
    match set.name_outcome(&name) {
        NameOutcome::Unmatched => {
            (format!("{}: no vendor host or suffix matches (names match whole labels)\n", name.as_str()), false)
        }
        NameOutcome::Excluded { suffix, exclusion } => (
            format!(
                "{}: not attributed: {suffix} is left out by {} ({}:{})\nreason:  {}\n",
                name.as_str(),
                set.vendor(exclusion.vendor).id,
                exclusion.file,
                exclusion.line,
                exclusion.reason
            ),
            false,
        ),
        NameOutcome::Matched(m) => {
            // The name the tables matched: the whole name, or the host an edge name embeds.
            let looked_up =
                akamai_embedded_name(name.as_str()).filter(|_| m.edge.is_some()).map_or(name.as_str(), |(n, _)| n);
            let listed = if m.exact {
                format!("{} is listed as an exact host", m.matched)
            } else {
                format!("{} ends in the suffix {} (the longest listed suffix of it)", looked_up, m.matched)
            };
            let how = match m.edge {
                Some(edge) => {
                    format!("{} is an Akamai edge name ({edge}) for the host it embeds, and {listed}", name.as_str())
                }
                None => listed,
            };
            (describe(set, m.entry, &how), true)
        }
    }
}

fn describe(set: &SignatureSet, entry: EntryId, how: &str) -> String {
    let e = set.entry(entry);
    let v = set.vendor(e.vendor);
    format!(
        "vendor:  {} ({})\nservice: {}\nwhy:     {how}\nentry:   {}:{}\nsource:  {}\n",
        v.id,
        v.display_name,
        set.service_name(e.service),
        e.file,
        e.line,
        e.source
    )
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    const MICROSOFT: &str = "vendor = \"microsoft\"\ndisplay_name = \"Microsoft\"\n[[entry]]\nservice = \"services\"\nsource = \"s\"\nsuffixes = [\"microsoft.com\"]\n[[exclude]]\nsuffixes = [\"applicationinsights.microsoft.com\"]\nreason = \"customers' telemetry\"\n";

    fn set() -> SignatureSet {
        SignatureSet::from_files([(PathBuf::from("microsoft.toml"), MICROSOFT.to_owned())]).unwrap()
    }

    #[test]
    fn says_which_exclusion_leaves_a_name_out() {
        let (text, matched) = explain(&set(), "dc.applicationinsights.microsoft.com");
        assert!(!matched);
        assert!(
            text.contains("applicationinsights.microsoft.com is left out by microsoft (microsoft.toml:7)"),
            "{text}"
        );
        assert!(text.contains("reason:  customers' telemetry"), "{text}");
    }

    #[test]
    fn says_an_edge_name_matched_through_the_host_it_embeds() {
        let (text, matched) = explain(&set(), "update.microsoft.com.edgekey.net");
        assert!(matched);
        assert!(text.contains("is an Akamai edge name (edgekey.net)"), "{text}");
        assert!(text.contains("update.microsoft.com ends in the suffix microsoft.com"), "{text}");
    }
}
