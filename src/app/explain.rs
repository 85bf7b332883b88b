//! `vendorwatch explain NAME|ADDRESS`: which signature entry matches, and why.

use std::net::IpAddr;

use crate::classify::names::NormalizedName;
use crate::classify::signatures::{EntryId, SignatureSet};

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
    match set.match_name_detail(&name) {
        None => (format!("{}: no vendor host or suffix matches (names match whole labels)\n", name.as_str()), false),
        Some(m) => {
            let how = if m.exact {
                format!("{} is listed as an exact host", name.as_str())
            } else {
                format!("{} ends in the suffix {} (the longest listed suffix of it)", name.as_str(), m.matched)
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
