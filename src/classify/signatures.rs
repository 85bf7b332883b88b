//! Vendor signatures: one TOML file per vendor, loaded into the lookup
//! tables the classifier uses.
//!
//! The files are data, not code: `--signatures DIR` replaces the embedded
//! set and `vendorwatch signatures check` validates them. Every problem is
//! reported with its file and line, and a set with any problem is rejected
//! whole, so a running sensor keeps its previous set.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use hashbrown::HashMap;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use prefix_trie::PrefixMap;
use serde::Deserialize;
use toml::Spanned;

use super::names::NormalizedName;
use crate::text_lines::LineIndex;

include!(concat!(env!("OUT_DIR"), "/embedded_signatures.rs"));

/// Index of a vendor in [`SignatureSet::vendors`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VendorId(pub u16);

/// Index of a service name in [`SignatureSet::services`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceId(pub u16);

/// Index of an entry in [`SignatureSet::entries`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EntryId(pub u32);

#[derive(Debug, Clone)]
pub struct Vendor {
    pub id: Box<str>,
    pub display_name: Box<str>,
}

/// One `[[entry]]` of a signature file.
#[derive(Debug, Clone)]
pub struct Entry {
    pub vendor: VendorId,
    pub service: ServiceId,
    pub source: Box<str>,
    pub file: Box<str>,
    pub line: usize,
}

/// How a name matched: the entry, and the host or suffix that did it.
#[derive(Debug, Clone, Copy)]
pub struct NameMatch<'n> {
    pub entry: EntryId,
    pub matched: &'n str,
    pub exact: bool,
}

/// A port (range) that names a service, but only inside the vendor's prefixes.
#[derive(Debug, Clone)]
struct PortRule {
    entry: EntryId,
    protocol: u8,
    low: u16,
    high: u16,
    /// The entry's own prefixes; empty means any prefix of the vendor.
    within: Vec<IpNet>,
}

/// A problem in a signature file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

/// All problems found while loading a set; the set is not used.
#[derive(Debug, Clone)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

/// The loaded signatures with their lookup tables.
#[derive(Debug, Default)]
pub struct SignatureSet {
    pub vendors: Vec<Vendor>,
    pub services: Vec<Box<str>>,
    pub entries: Vec<Entry>,
    hosts: HashMap<Box<str>, EntryId>,
    suffixes: HashMap<Box<str>, EntryId>,
    v4: PrefixMap<Ipv4Net, EntryId>,
    v6: PrefixMap<Ipv6Net, EntryId>,
    ports: Vec<PortRule>,
    /// Where each table key was defined, to report keys claimed twice.
    origins: HashMap<String, (PathBuf, usize, VendorId)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    vendor: Spanned<String>,
    display_name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default, rename = "entry")]
    entries: Vec<Spanned<EntryDoc>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryDoc {
    service: Spanned<String>,
    source: Spanned<String>,
    #[serde(default)]
    hosts: Vec<Spanned<String>>,
    #[serde(default)]
    suffixes: Vec<Spanned<String>>,
    #[serde(default)]
    cidrs: Vec<Spanned<String>>,
    #[serde(default)]
    ports: Vec<Spanned<String>>,
    #[serde(default)]
    note: Option<String>,
}

fn valid_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl SignatureSet {
    /// The signature set compiled into the binary from `signatures/`.
    pub fn embedded() -> SignatureSet {
        let files = EMBEDDED_SIGNATURES
            .iter()
            .map(|(name, text)| (PathBuf::from(format!("signatures/{name}")), (*text).to_owned()));
        // The embedded files are checked by the test suite, so a problem here
        // is a build defect, not user input.
        SignatureSet::from_files(files).unwrap_or_else(|p| panic!("embedded signatures are invalid:\n{p}"))
    }

    /// Loads every `*.toml` in `dir`.
    pub fn load_dir(dir: &Path) -> Result<SignatureSet, Problems> {
        let problem = |message: String| Problems(vec![Problem { file: dir.to_owned(), line: 0, message }]);
        let listing = std::fs::read_dir(dir).map_err(|e| problem(format!("cannot read directory: {e}")))?;
        let mut paths: Vec<PathBuf> = listing
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        if paths.is_empty() {
            return Err(problem("no *.toml signature files".into()));
        }
        let mut files = Vec::new();
        let mut problems = Vec::new();
        for path in paths {
            match std::fs::read_to_string(&path) {
                Ok(text) => files.push((path, text)),
                Err(e) => problems.push(Problem { file: path, line: 0, message: format!("cannot read: {e}") }),
            }
        }
        if !problems.is_empty() {
            return Err(Problems(problems));
        }
        SignatureSet::from_files(files)
    }

    /// Builds a set from (path, contents) pairs, collecting every problem.
    pub fn from_files(files: impl IntoIterator<Item = (PathBuf, String)>) -> Result<SignatureSet, Problems> {
        let mut set = SignatureSet::default();
        let mut problems = Vec::new();
        for (path, text) in files {
            set.add_file(&path, &text, &mut problems);
        }
        if problems.is_empty() { Ok(set) } else { Err(Problems(problems)) }
    }

    fn add_file(&mut self, path: &Path, text: &str, problems: &mut Vec<Problem>) {
        let lines = LineIndex::new(text);
        let mut report = |line: usize, message: String| problems.push(Problem { file: path.to_owned(), line, message });
        let doc: FileDoc = match toml::from_str(text) {
            Ok(doc) => doc,
            Err(e) => {
                let line = e.span().map_or(0, |s| lines.line(s.start));
                report(line, e.message().trim().to_owned());
                return;
            }
        };
        let _ = doc.description;
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        let vendor_line = lines.line(doc.vendor.span().start);
        if !valid_id(doc.vendor.get_ref()) {
            report(
                vendor_line,
                format!("vendor id {:?} must be lowercase letters, digits and '-'", doc.vendor.get_ref()),
            );
            return;
        }
        if doc.vendor.get_ref() != stem {
            report(vendor_line, format!("vendor id {:?} must match the file name {stem:?}", doc.vendor.get_ref()));
        }
        if self.vendors.iter().any(|v| &*v.id == doc.vendor.get_ref()) {
            report(vendor_line, format!("vendor {:?} is defined twice", doc.vendor.get_ref()));
            return;
        }
        let vendor = VendorId(self.vendors.len() as u16);
        self.vendors.push(Vendor { id: doc.vendor.get_ref().as_str().into(), display_name: doc.display_name.into() });
        if doc.entries.is_empty() {
            report(vendor_line, "no [[entry]]".into());
        }
        for entry in doc.entries {
            let line = lines.line(entry.span().start);
            let entry = entry.into_inner();
            self.add_entry(path, &lines, vendor, line, entry, problems);
        }
    }

    fn add_entry(
        &mut self,
        path: &Path,
        lines: &LineIndex,
        vendor: VendorId,
        line: usize,
        doc: EntryDoc,
        problems: &mut Vec<Problem>,
    ) {
        let mut report =
            |at: usize, message: String| problems.push(Problem { file: path.to_owned(), line: at, message });
        let service_name = doc.service.get_ref();
        if !valid_id(service_name) {
            report(
                lines.line(doc.service.span().start),
                format!("service {service_name:?} must be lowercase letters, digits and '-'"),
            );
            return;
        }
        if doc.source.get_ref().trim().is_empty() {
            report(
                lines.line(doc.source.span().start),
                "source must not be empty: cite where this entry comes from".into(),
            );
            return;
        }
        if doc.hosts.is_empty() && doc.suffixes.is_empty() && doc.cidrs.is_empty() && doc.ports.is_empty() {
            report(line, "entry matches nothing: give hosts, suffixes, cidrs or ports".into());
            return;
        }
        let _ = doc.note;
        let service = match self.services.iter().position(|s| &**s == service_name.as_str()) {
            Some(i) => ServiceId(i as u16),
            None => {
                self.services.push(service_name.as_str().into());
                ServiceId((self.services.len() - 1) as u16)
            }
        };
        let id = EntryId(self.entries.len() as u32);
        self.entries.push(Entry {
            vendor,
            service,
            source: doc.source.get_ref().trim().into(),
            file: path.display().to_string().into(),
            line,
        });

        for (list, exact) in [(&doc.hosts, true), (&doc.suffixes, false)] {
            for name in list {
                let at = lines.line(name.span().start);
                if name.get_ref().contains('*') {
                    report(
                        at,
                        format!("{:?}: wildcards are not supported; list the parent under suffixes", name.get_ref()),
                    );
                    continue;
                }
                let Some(norm) = NormalizedName::new(name.get_ref()).filter(|n| !n.as_str().is_empty()) else {
                    report(at, format!("{:?} is not a valid DNS name", name.get_ref()));
                    continue;
                };
                let key = norm.as_str();
                let kind = if exact { "host" } else { "suffix" };
                if let Err(m) = self.claim(format!("{kind} {key}"), path, at, vendor) {
                    report(at, m);
                    continue;
                }
                let table = if exact { &mut self.hosts } else { &mut self.suffixes };
                table.insert(key.into(), id);
            }
        }
        let mut own = Vec::new();
        for cidr in &doc.cidrs {
            let at = lines.line(cidr.span().start);
            let net: IpNet = match cidr.get_ref().parse() {
                Ok(n) => n,
                Err(_) => {
                    report(at, format!("{:?} is not a CIDR prefix", cidr.get_ref()));
                    continue;
                }
            };
            if net.trunc() != net {
                report(at, format!("{net} has host bits set (did you mean {}?)", net.trunc()));
                continue;
            }
            if let Err(m) = self.claim(format!("cidr {net}"), path, at, vendor) {
                report(at, m);
                continue;
            }
            own.push(net);
            match net {
                IpNet::V4(n) => self.v4.insert(n, id),
                IpNet::V6(n) => self.v6.insert(n, id),
            };
        }
        for port in &doc.ports {
            let at = lines.line(port.span().start);
            match parse_port_rule(port.get_ref()) {
                Some((protocol, low, high)) => {
                    self.ports.push(PortRule { entry: id, protocol, low, high, within: own.clone() })
                }
                None => report(
                    at,
                    format!("{:?} is not a port rule like \"tcp/5223\" or \"udp/3478-3497\"", port.get_ref()),
                ),
            }
        }
    }

    /// Records who defined a table key; the same key in two places is an error.
    fn claim(&mut self, key: String, path: &Path, line: usize, vendor: VendorId) -> Result<(), String> {
        if let Some((file, first_line, owner)) = self.origins.get(&key) {
            let who = &self.vendors[owner.0 as usize].id;
            return Err(if *owner == vendor {
                format!("{key} already listed at {}:{first_line}", file.display())
            } else {
                format!("{key} is claimed by two vendors: also {who} at {}:{first_line}", file.display())
            });
        }
        self.origins.insert(key, (path.to_owned(), line, vendor));
        Ok(())
    }

    pub fn vendor(&self, id: VendorId) -> &Vendor {
        &self.vendors[usize::from(id.0)]
    }

    pub fn vendor_by_name(&self, name: &str) -> Option<VendorId> {
        self.vendors.iter().position(|v| &*v.id == name).map(|i| VendorId(i as u16))
    }

    pub fn service_name(&self, id: ServiceId) -> &str {
        &self.services[usize::from(id.0)]
    }

    pub fn entry(&self, id: EntryId) -> &Entry {
        &self.entries[id.0 as usize]
    }

    /// The most specific entry for a name: an exact host beats any suffix,
    /// and a longer suffix beats a shorter one. Labels match whole.
    pub fn match_name(&self, name: &NormalizedName) -> Option<EntryId> {
        self.match_name_detail(name).map(|m| m.entry)
    }

    /// Like [`match_name`](Self::match_name), also saying which host or
    /// suffix matched.
    pub fn match_name_detail<'n>(&self, name: &'n NormalizedName) -> Option<NameMatch<'n>> {
        let name = name.as_str();
        if name.is_empty() {
            return None;
        }
        if let Some(&entry) = self.hosts.get(name) {
            return Some(NameMatch { entry, matched: name, exact: true });
        }
        let mut rest = name;
        loop {
            if let Some(&entry) = self.suffixes.get(rest) {
                return Some(NameMatch { entry, matched: rest, exact: false });
            }
            rest = &rest[rest.find('.')? + 1..];
        }
    }

    /// The longest prefix containing `addr`.
    pub fn match_addr(&self, addr: IpAddr) -> Option<EntryId> {
        match addr {
            IpAddr::V4(a) => self.v4.get_lpm(&Ipv4Net::from(a)).map(|(_, &id)| id),
            IpAddr::V6(a) => self.v6.get_lpm(&Ipv6Net::from(a)).map(|(_, &id)| id),
        }
    }

    /// A port rule of `addr_entry`'s vendor that covers this server port;
    /// ports count only together with the vendor's own prefixes.
    pub fn match_port(&self, addr_entry: EntryId, addr: IpAddr, protocol: u8, port: u16) -> Option<EntryId> {
        let vendor = self.entry(addr_entry).vendor;
        self.ports
            .iter()
            .filter(|r| r.protocol == protocol && (r.low..=r.high).contains(&port))
            .filter(|r| self.entry(r.entry).vendor == vendor)
            .find(|r| r.within.is_empty() || r.within.iter().any(|n| n.contains(&addr)))
            .map(|r| r.entry)
    }

    /// Prefix and port descriptions for `explain`.
    pub fn port_rules_of(&self, entry: EntryId) -> impl Iterator<Item = String> + '_ {
        self.ports.iter().filter(move |r| r.entry == entry).map(|r| {
            let proto = if r.protocol == crate::decode::IPPROTO_TCP { "tcp" } else { "udp" };
            if r.low == r.high { format!("{proto}/{}", r.low) } else { format!("{proto}/{}-{}", r.low, r.high) }
        })
    }

    /// The prefix that matched `addr`, for explanations.
    pub fn matching_prefix(&self, addr: IpAddr) -> Option<IpNet> {
        match addr {
            IpAddr::V4(a) => self.v4.get_lpm(&Ipv4Net::from(a)).map(|(n, _)| IpNet::V4(n)),
            IpAddr::V6(a) => self.v6.get_lpm(&Ipv6Net::from(a)).map(|(n, _)| IpNet::V6(n)),
        }
    }
}

fn parse_port_rule(s: &str) -> Option<(u8, u16, u16)> {
    let (proto, range) = s.split_once('/')?;
    let protocol = match proto {
        "tcp" => crate::decode::IPPROTO_TCP,
        "udp" => crate::decode::IPPROTO_UDP,
        _ => return None,
    };
    let (low, high) = match range.split_once('-') {
        Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
        None => {
            let p = range.parse().ok()?;
            (p, p)
        }
    };
    (low <= high && low > 0).then_some((protocol, low, high))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(files: &[(&str, &str)]) -> Result<SignatureSet, Problems> {
        SignatureSet::from_files(files.iter().map(|(p, t)| (PathBuf::from(*p), (*t).to_owned())))
    }

    const APPLE: &str = r#"
vendor = "apple"
display_name = "Apple"

[[entry]]
service = "services"
source = "test"
suffixes = ["apple.com"]
cidrs = ["17.0.0.0/8"]

[[entry]]
service = "push"
source = "test"
suffixes = ["push.apple.com"]
hosts = ["identity.apple.com"]
cidrs = ["17.249.0.0/16"]
ports = ["tcp/5223"]
"#;

    fn name(s: &str) -> NormalizedName {
        NormalizedName::new(s).unwrap()
    }

    #[test]
    fn most_specific_name_wins_and_labels_match_whole() {
        let s = set(&[("apple.toml", APPLE)]).unwrap();
        let svc = |n: &str| s.match_name(&name(n)).map(|e| s.service_name(s.entry(e).service).to_owned());
        assert_eq!(svc("1-courier.push.apple.com").as_deref(), Some("push"));
        assert_eq!(svc("PUSH.Apple.COM.").as_deref(), Some("push"));
        assert_eq!(svc("www.apple.com").as_deref(), Some("services"));
        assert_eq!(svc("identity.apple.com").as_deref(), Some("push"));
        assert_eq!(svc("notapple.com"), None);
        assert_eq!(svc("apple.com.attacker.example"), None);
        assert_eq!(svc("apple.example.com"), None);
    }

    #[test]
    fn ports_count_only_inside_the_vendors_prefixes() {
        let s = set(&[("apple.toml", APPLE)]).unwrap();
        let push_addr: IpAddr = "17.249.1.1".parse().unwrap();
        let entry = s.match_addr(push_addr).unwrap();
        let port = s.match_port(entry, push_addr, 6, 5223).unwrap();
        assert_eq!(s.service_name(s.entry(port).service), "push");
        let other: IpAddr = "17.1.1.1".parse().unwrap();
        let e2 = s.match_addr(other).unwrap();
        assert_eq!(s.service_name(s.entry(e2).service), "services");
        assert!(s.match_port(e2, other, 6, 5223).is_none(), "5223 outside the push prefixes is not push");
        assert!(s.match_addr("18.1.1.1".parse().unwrap()).is_none());
    }

    #[test]
    fn problems_name_file_and_line() {
        let bad = "vendor = \"apple\"\ndisplay_name = \"A\"\n\n[[entry]]\nservice = \"x\"\nsource = \"s\"\ncidrs = [\"17.0.0.1/8\"]\n";
        let p = set(&[("sigs/apple.toml", bad)]).unwrap_err();
        assert_eq!(p.0.len(), 1);
        assert_eq!(p.0[0].line, 7);
        assert!(p.0[0].to_string().starts_with("sigs/apple.toml:7: 17.0.0.1/8 has host bits set"), "{}", p);

        let unknown = "vendor = \"apple\"\ndisplay_name = \"A\"\nbogus = 1\n";
        let p = set(&[("apple.toml", unknown)]).unwrap_err();
        assert_eq!(p.0[0].line, 3, "{p}");

        let other = "vendor = \"huawei\"\ndisplay_name = \"H\"\n[[entry]]\nservice = \"s\"\nsource = \"x\"\nsuffixes = [\"push.apple.com\"]\n";
        let p = set(&[("apple.toml", APPLE), ("huawei.toml", other)]).unwrap_err();
        assert!(
            p.to_string()
                .contains("huawei.toml:6: suffix push.apple.com is claimed by two vendors: also apple at apple.toml:"),
            "{p}"
        );

        let no_source = "vendor = \"x\"\ndisplay_name = \"X\"\n[[entry]]\nservice = \"s\"\nsource = \" \"\nhosts = [\"a.example\"]\n";
        assert!(set(&[("x.toml", no_source)]).unwrap_err().to_string().contains("x.toml:5: source must not be empty"));
    }

    #[test]
    fn parses_port_rules() {
        assert_eq!(parse_port_rule("tcp/5223"), Some((6, 5223, 5223)));
        assert_eq!(parse_port_rule("udp/3478-3497"), Some((17, 3478, 3497)));
        assert_eq!(parse_port_rule("udp/9-3"), None);
        assert_eq!(parse_port_rule("sctp/1"), None);
        assert_eq!(parse_port_rule("tcp/0"), None);
    }
}
