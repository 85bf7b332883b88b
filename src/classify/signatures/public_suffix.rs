//! Suffixes a signature may not claim: public suffixes such as `com` or
//! `co.uk`, under which names belong to unrelated registrants.
//!
//! The test is the ICANN section of the Public Suffix List, compiled into the
//! `psl` crate. Its private section is not refused: it mixes vendor-run
//! domains that isolate cookies (`googleapis.com`) with customer hosting, and
//! customer hosting is kept out by review (signatures/README.md).
//!
//! A vendor may claim a brand top-level domain of its own. The list names the
//! registry operator of every such domain in a comment; [`BRAND_TLDS`] copies
//! the operator of each brand domain a shipped file claims (or is likely to),
//! so `goog` is Google's and `goo` (NTT Resonant's) is nobody's here.

/// (top-level domain, vendor id, registry operator as the Public Suffix List names it).
const BRAND_TLDS: &[(&str, &str, &str)] = &[
    ("amazon", "amazon", "Amazon Registry Services, Inc."),
    ("kindle", "amazon", "Amazon Registry Services, Inc."),
    ("apple", "apple", "Apple Inc."),
    ("android", "google", "Charleston Road Registry Inc."),
    ("chrome", "google", "Charleston Road Registry Inc."),
    ("dclk", "google", "Charleston Road Registry Inc."),
    ("gbiz", "google", "Charleston Road Registry Inc."),
    ("gle", "google", "Charleston Road Registry Inc."),
    ("gmail", "google", "Charleston Road Registry Inc."),
    ("goog", "google", "Charleston Road Registry Inc."),
    ("google", "google", "Charleston Road Registry Inc."),
    ("guge", "google", "Charleston Road Registry Inc."),
    ("hangout", "google", "Charleston Road Registry Inc."),
    ("nexus", "google", "Charleston Road Registry Inc."),
    ("xn--qcka1pmc", "google", "Charleston Road Registry Inc."),
    ("youtube", "google", "Charleston Road Registry Inc."),
    ("azure", "microsoft", "Microsoft Corporation"),
    ("bing", "microsoft", "Microsoft Corporation"),
    ("hotmail", "microsoft", "Microsoft Corporation"),
    ("microsoft", "microsoft", "Microsoft Corporation"),
    ("office", "microsoft", "Microsoft Corporation"),
    ("skype", "microsoft", "Microsoft Corporation"),
    ("windows", "microsoft", "Microsoft Corporation"),
    ("xbox", "microsoft", "Microsoft Corporation"),
    ("samsung", "samsung", "SAMSUNG SDS CO., LTD"),
];

/// Why `vendor` may not claim `suffix` (a normalised name), if it may not.
pub(super) fn refusal(vendor: &str, suffix: &str) -> Option<String> {
    let public = psl::suffix(suffix.as_bytes())?;
    // A name that is longer than its public suffix is a registrable name or
    // below one; names under the default rule `*` (an unknown top-level
    // domain) are public too.
    if public.as_bytes().len() != suffix.len() || public.typ() == Some(psl::Type::Private) {
        return None;
    }
    match BRAND_TLDS.iter().find(|(tld, _, _)| *tld == suffix) {
        Some((_, owner, _)) if *owner == vendor => None,
        Some((_, owner, operator)) => Some(format!(
            "suffix {suffix} is a public suffix: the brand top-level domain of {operator} (vendor {owner}), not of {vendor}"
        )),
        None if !public.is_known() => Some(format!(
            "suffix {suffix} is not a known top-level domain and would be a public suffix: names under it belong to anyone"
        )),
        None => Some(format!(
            "suffix {suffix} is a public suffix (Public Suffix List): names under it belong to unrelated registrants"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_public_suffixes_but_not_own_brand_domains() {
        for s in ["com", "co.uk", "com.cn", "net", "app", "goo", "cn"] {
            assert!(refusal("google", s).is_some(), "{s}");
        }
        assert!(refusal("apple", "apple").is_none());
        assert!(refusal("google", "goog").is_none());
        let other = refusal("huawei", "apple").unwrap();
        assert!(other.contains("Apple Inc.") && other.contains("vendor apple"), "{other}");
        for s in ["apple.com", "push.apple.com", "bbc.co.uk", "googleapis.com"] {
            assert!(refusal("apple", s).is_none(), "{s}");
        }
        assert!(refusal("x", "nosuchtld").unwrap().contains("not a known top-level domain"));
    }
}
