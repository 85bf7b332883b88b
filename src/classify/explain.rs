//! `vendorwatch explain NAME|ADDRESS`: which signature entry matches, and why.

use std::fmt::Write as _;
use std::net::IpAddr;

use crate::classify::names::{NormalizedName, akamai_embedded_name};
use crate::classify::signatures::{EntryId, NameOutcome, SignatureSet};
use crate::mac::Mac;

/// Explains how `query` (a host name or an address) would be attributed.
/// Returns the text and whether anything matched.
pub fn explain(set: &SignatureSet, query: &str) -> (String, bool) {
    if let Some(mac) = parse_mac(query) {
        return explain_mac(set, mac);
    }
    if query.contains(['/', ' ', '(']) {
        return explain_banner(set, query);
    }
    if let Ok(addr) = query.parse::<IpAddr>() {
        let Some(entry) = set.match_addr(addr) else {
            return (format!("{addr}: no vendor prefix contains this address\n"), false);
        };
        let prefix = set.matching_prefix(addr).map(|p| p.to_string()).unwrap_or_default();
        let mut out = describe(set, entry, &format!("{addr} is inside {prefix} (longest matching prefix)"));
        let ports: Vec<String> = set.port_rules_of(entry).collect();
        if !ports.is_empty() {
            // Writing to a String cannot fail.
            let _ = writeln!(
                out,
                "  ports:   {} (count as {} only inside this entry's prefixes)",
                ports.join(", "),
                set.service_name(set.entry(entry).service)
            );
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

/// `aa:bb:cc:dd:ee:ff` or `aa-bb-cc-dd-ee-ff`.
fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    if parts.len() != 6 || parts.iter().any(|p| p.len() != 2) {
        return None;
    }
    let mut mac = [0u8; 6];
    for (byte, part) in mac.iter_mut().zip(parts) {
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    Some(mac)
}

/// What a MAC's OUI says, or that it says nothing.
fn explain_mac(set: &SignatureSet, mac: [u8; 6]) -> (String, bool) {
    let text = Mac(mac);
    if crate::hosts::evidence::is_locally_administered(mac) {
        let why = "locally administered (the U/L bit is set): chosen by software, often randomised per network; \
                   its other bits say nothing about the vendor";
        return (format!("{text}: {why}\n"), false);
    }
    if crate::hosts::evidence::is_multicast(mac) {
        return (format!("{text}: a group (multicast) address, no device's\n"), false);
    }
    match set.devices.lookup_oui(mac) {
        Some(id) => {
            let e = set.devices.entry(id);
            let head = format!("{text}: OUI {} is {}'s", text.oui(), set.vendor(e.vendor).id);
            (
                format!(
                    "{head} (oui evidence, strength 70)\n  signature: {}:{}\n  source:  {}\n",
                    e.file, e.line, e.source
                ),
                true,
            )
        }
        None => (format!("{text}: OUI {} is in no vendor's signatures\n", text.oui()), false),
    }
}

/// What a User-Agent, HTTP Server or SSDP SERVER string says about a device.
fn explain_banner(set: &SignatureSet, banner: &str) -> (String, bool) {
    use crate::classify::signatures::devices::Key;
    let mut out = String::new();
    for (key, as_what) in [
        (Key::UserAgent, "a User-Agent"),
        (Key::HttpServer, "an HTTP Server header"),
        (Key::SsdpServer, "an SSDP SERVER header"),
    ] {
        let Some(m) = set.devices.lookup(key, banner) else { continue };
        let e = set.devices.entry(m.entry);
        let vendor = &set.vendor(e.vendor).id;
        let says =
            if e.hardware { format!("a {vendor} device") } else { format!("{vendor}'s software on any hardware") };
        let kind = e.kind.map_or(String::new(), |k| format!(", kind {}", k.as_str()));
        let os = e.os.as_deref().map_or(String::new(), |o| format!(", OS {o}"));
        let _ = writeln!(
            out,
            "as {as_what}: the token {:?} ({}) says {says}{kind}{os}\n  signature: {}:{}\n  source:  {}",
            m.token,
            key.name(),
            e.file,
            e.line,
            e.source
        );
    }
    if out.is_empty() {
        return (format!("{banner:?}: no User-Agent, Server or SSDP token of any vendor's devices matches\n"), false);
    }
    (out, true)
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
    #[test]
    fn a_mac_is_explained_by_its_oui_unless_locally_administered() {
        let set = SignatureSet::embedded();
        let (text, matched) = explain(&set, "44:19:B6:01:02:03");
        assert!(matched && text.contains("is hikvision's") && text.contains("IEEE MA-L"), "{text}");
        let (text, matched) = explain(&set, "02-03-93-aa-bb-cc");
        assert!(!matched && text.contains("locally administered"), "{text}");
        let (text, matched) = explain(&set, "00:40:8c:00:00:01");
        assert!(!matched && text.contains("in no vendor's signatures"), "{text}");
    }

    #[test]
    fn a_user_agent_or_banner_is_explained_by_its_token() {
        let set = SignatureSet::embedded();
        let (text, matched) = explain(&set, "Dalvik/2.1.0 (Linux; U; Android 12; NOH-NX9 Build/HUAWEINOH-N29)");
        assert!(matched && text.contains("a huawei device, kind phone, OS Android"), "{text}");
        let (text, matched) = explain(&set, "App-webs/");
        assert!(matched && text.contains("an HTTP Server header") && text.contains("hikvision"), "{text}");
        let (text, matched) = explain(&set, "curl/8.5.0");
        assert!(!matched && text.contains("no User-Agent"), "{text}");
    }
}
