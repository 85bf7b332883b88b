//! Vendor signatures: one TOML file per vendor, loaded into the lookup
//! tables the classifier uses.
//!
//! The files are data, not code: `--signatures DIR` replaces the embedded
//! set and `vendorwatch signatures check` validates them. Every problem is
//! reported with its file and line, and a set with any problem is rejected
//! whole, so a running sensor keeps its previous set.
//!
//! Loading is linear in the size of the files: every table is a hash map or
//! a prefix trie, port rules are stored once (not once per prefix) and
//! compiled into per-scope port segments.

pub mod devices;
mod ports;
mod public_suffix;

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use hashbrown::HashMap;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use prefix_trie::PrefixMap;
use serde::Deserialize;
use toml::Spanned;

use self::ports::{PortIndex, PortRule, Scope};
use super::names::{NormalizedName, akamai_embedded_name};
use crate::diag::Diagnostic;
use crate::text_lines::LineIndex;

include!(concat!(env!("OUT_DIR"), "/embedded_signatures.rs"));

/// Index of a vendor in [`SignatureSet::vendors`]. A set holds at most
/// [`MAX_VENDORS`]; loading more is an error, never a wrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VendorId(pub u16);

/// Index of a service name in [`SignatureSet::services`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceId(pub u32);

/// Index of an entry in [`SignatureSet::entries`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EntryId(pub u32);

/// The most vendors a set can hold (one file each).
pub const MAX_VENDORS: usize = u16::MAX as usize + 1;

/// One vendor: one signature file.
#[derive(Debug, Clone)]
pub struct Vendor {
    /// The `vendor` label value (the file's `vendor` key).
    pub id: Box<str>,
    /// How people write the vendor's name.
    pub display_name: Box<str>,
}

/// One `[[entry]]` of a signature file.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The vendor of the file it is in.
    pub vendor: VendorId,
    /// The `service` label value.
    pub service: ServiceId,
    /// Where its names and prefixes come from, as the file says.
    pub source: Box<str>,
    /// The file it is in, for `explain` and diagnostics.
    pub file: Box<str>,
    /// Its line in that file.
    pub line: usize,
}

/// One `[[exclude]]` of a signature file: names its vendor leaves out.
#[derive(Debug, Clone)]
pub struct Exclusion {
    /// The vendor of the file it is in.
    pub vendor: VendorId,
    /// Why the names are left out, as the file says.
    pub reason: Box<str>,
    /// The file it is in.
    pub file: Box<str>,
    /// Its line in that file.
    pub line: usize,
}

/// How a name matched: the entry, and the host or suffix that did it.
#[derive(Debug, Clone, Copy)]
pub struct NameMatch<'n> {
    /// The entry that lists the host or suffix.
    pub entry: EntryId,
    /// The part of the name that matched: the whole name or a suffix of it.
    pub matched: &'n str,
    /// The entry lists the name itself rather than a suffix of it.
    pub exact: bool,
    /// The Akamai edge domain when the match is on the host name an edge
    /// name embeds (`captive.apple.com` in `captive.apple.com.edgekey.net`).
    pub edge: Option<&'static str>,
}

/// What the name tables say about a name.
#[derive(Debug, Clone, Copy)]
pub enum NameOutcome<'n, 's> {
    /// An entry lists the name or a suffix of it.
    Matched(NameMatch<'n>),
    /// The name lies under `suffix`, which a file leaves out.
    Excluded {
        /// The excluded suffix of the name.
        suffix: &'n str,
        /// The exclusion that lists it.
        exclusion: &'s Exclusion,
    },
    /// No entry or exclusion covers the name.
    Unmatched,
}

/// Sizes of the lookup tables, for reports and for tests of their shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableSizes {
    /// Exact host names.
    pub hosts: usize,
    /// Name suffixes that match an entry.
    pub suffixes: usize,
    /// Name suffixes left out.
    pub exclusions: usize,
    /// Address prefixes.
    pub prefixes: usize,
    /// Port rules.
    pub port_rules: usize,
    /// Port ranges the port rules were cut into for lookup.
    pub port_segments: usize,
}

/// All problems found while loading a set; the set is not used.
#[derive(Debug, Clone)]
pub struct Problems(pub Vec<Diagnostic>);

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

/// What a listed suffix does: name an entry, or leave the name out.
#[derive(Debug, Clone, Copy)]
enum SuffixRule {
    Entry(EntryId),
    Excluded(u32),
}

/// The kinds of table keys; hosts and suffixes are separate name spaces,
/// a suffix and an exclusion share one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum KeyKind {
    Host,
    Suffix,
    Exclusion,
    Cidr,
    UserAgent,
    StunSoftware,
    StunAttribute,
}

impl KeyKind {
    fn word(self) -> &'static str {
        match self {
            KeyKind::Host => "host",
            KeyKind::Suffix => "suffix",
            KeyKind::Exclusion => "exclusion",
            KeyKind::Cidr => "cidr",
            KeyKind::UserAgent => "user agent",
            KeyKind::StunSoftware => "STUN software",
            KeyKind::StunAttribute => "STUN attribute",
        }
    }

    /// The name space a key is unique in.
    fn space(self) -> u8 {
        match self {
            KeyKind::Host => 0,
            KeyKind::Suffix | KeyKind::Exclusion => 1,
            KeyKind::Cidr => 2,
            KeyKind::UserAgent => 3,
            KeyKind::StunSoftware => 4,
            KeyKind::StunAttribute => 5,
        }
    }
}

/// Where a table key was defined.
#[derive(Debug, Clone, Copy)]
struct Origin {
    kind: KeyKind,
    file: u32,
    line: usize,
    vendor: VendorId,
}

/// Load-time bookkeeping, dropped once the set is built.
#[derive(Default)]
struct Loader {
    files: Vec<PathBuf>,
    origins: HashMap<(u8, Box<str>), Origin>,
    /// Keys in definition order, for the checks across vendors.
    keys: Vec<(u8, Box<str>)>,
    problems: Vec<Diagnostic>,
}

impl Loader {
    fn report(&mut self, file: u32, line: usize, message: String) {
        self.problems.push(Diagnostic::new(self.files[file as usize].clone(), line, message));
    }

    fn place(&self, origin: &Origin) -> String {
        format!("{}:{}", self.files[origin.file as usize].display(), origin.line)
    }
}

/// The loaded signatures with their lookup tables.
#[derive(Debug, Default)]
pub struct SignatureSet {
    /// Indexed by [`VendorId`].
    pub vendors: Vec<Vendor>,
    /// Service names, indexed by [`ServiceId`].
    pub services: Vec<Box<str>>,
    /// Indexed by [`EntryId`].
    pub entries: Vec<Entry>,
    /// Every exclusion of every file.
    pub exclusions: Vec<Exclusion>,
    vendor_ids: HashMap<Box<str>, VendorId>,
    service_ids: HashMap<Box<str>, ServiceId>,
    hosts: HashMap<Box<str>, EntryId>,
    suffixes: HashMap<Box<str>, SuffixRule>,
    v4: PrefixMap<Ipv4Net, EntryId>,
    v6: PrefixMap<Ipv6Net, EntryId>,
    ports: PortIndex,
    /// User-Agent product tokens and STUN SOFTWARE prefixes, lowercased:
    /// few, and matched once per flow, so a list.
    user_agents: Vec<(Box<str>, EntryId)>,
    stun_software: Vec<(Box<str>, EntryId)>,
    stun_attributes: HashMap<u16, EntryId>,
    /// What devices say about themselves, by vendor (`[[device]]`).
    pub devices: devices::DeviceIndex,
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
    #[serde(default, rename = "exclude")]
    exclusions: Vec<Spanned<ExcludeDoc>>,
    #[serde(default, rename = "device")]
    devices: Vec<Spanned<devices::DeviceDoc>>,
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
    /// Prefixes of User-Agent tokens (`Microsoft-Delivery-Optimization/`).
    #[serde(default)]
    user_agents: Vec<Spanned<String>>,
    /// Prefixes of a STUN SOFTWARE attribute's value.
    #[serde(default)]
    stun_software: Vec<Spanned<String>>,
    /// Vendor-specific STUN attribute types (`"0x8008"`).
    #[serde(default)]
    stun_attributes: Vec<Spanned<String>>,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExcludeDoc {
    suffixes: Vec<Spanned<String>>,
    reason: Spanned<String>,
}

fn valid_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The parent suffixes of a name, longest first: `a.b.c` -> `b.c`, `c`.
fn parents(name: &str) -> impl Iterator<Item = &str> {
    let mut rest = name;
    std::iter::from_fn(move || {
        rest = &rest[rest.find('.')? + 1..];
        Some(rest)
    })
}

impl SignatureSet {
    /// The signature set compiled into the binary from `signatures/`.
    ///
    /// # Panics
    ///
    /// If the embedded files do not load, a build defect the test suite
    /// rules out; the binary reports it through [`SignatureSet::load_embedded`].
    pub fn embedded() -> SignatureSet {
        SignatureSet::load_embedded().unwrap_or_else(|p| panic!("embedded signatures are invalid:\n{p}"))
    }

    /// The signature set compiled into the binary, or every problem of it
    /// by `signatures/<file>:line`: a binary built from an edited tree
    /// whose files do not load says so instead of panicking.
    pub fn load_embedded() -> Result<SignatureSet, Problems> {
        let files = EMBEDDED_SIGNATURES
            .iter()
            .map(|(name, text)| (PathBuf::from(format!("signatures/{name}")), (*text).to_owned()));
        SignatureSet::from_files(files)
    }

    /// Loads every `*.toml` in `dir`.
    pub fn load_dir(dir: &Path) -> Result<SignatureSet, Problems> {
        let problem = |message: String| Problems(vec![Diagnostic::whole_file(dir, message)]);
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
                Err(e) => problems.push(Diagnostic::whole_file(&path, format!("cannot read: {e}"))),
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
        let mut loader = Loader::default();
        for (path, text) in files {
            let file = u32::try_from(loader.files.len()).unwrap_or(u32::MAX);
            loader.files.push(path);
            set.add_file(file, &text, &mut loader);
        }
        set.check_across_vendors(&mut loader);
        set.ports.build();
        set.devices.build();
        if loader.problems.is_empty() { Ok(set) } else { Err(Problems(loader.problems)) }
    }

    fn add_file(&mut self, file: u32, text: &str, loader: &mut Loader) {
        let lines = LineIndex::new(text);
        let doc: FileDoc = match toml::from_str(text) {
            Ok(doc) => doc,
            Err(e) => {
                let line = e.span().map_or(0, |s| lines.line(s.start));
                loader.report(file, line, e.message().trim().to_owned());
                return;
            }
        };
        let _ = doc.description;
        let path = loader.files[file as usize].clone();
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        let vendor_line = lines.line(doc.vendor.span().start);
        let vendor_name = doc.vendor.get_ref();
        if !valid_id(vendor_name) {
            loader.report(
                file,
                vendor_line,
                format!("vendor id {vendor_name:?} must be lowercase letters, digits and '-'"),
            );
        } else if vendor_name != stem {
            loader.report(file, vendor_line, format!("vendor id {vendor_name:?} must match the file name {stem:?}"));
        }
        if self.vendor_ids.contains_key(vendor_name.as_str()) {
            loader.report(file, vendor_line, format!("vendor {vendor_name:?} is defined twice"));
            return;
        }
        let Ok(raw) = u16::try_from(self.vendors.len()) else {
            loader.report(
                file,
                vendor_line,
                format!("more than {MAX_VENDORS} vendors: vendor ids are 16 bits; split no vendor over files"),
            );
            return;
        };
        let vendor = VendorId(raw);
        self.vendor_ids.entry(vendor_name.as_str().into()).or_insert(vendor);
        self.vendors.push(Vendor { id: vendor_name.as_str().into(), display_name: doc.display_name.into() });
        if doc.entries.is_empty() {
            loader.report(file, vendor_line, "no [[entry]]".into());
        }
        for entry in doc.entries {
            let line = lines.line(entry.span().start);
            self.add_entry(file, &lines, vendor, line, entry.get_ref(), loader);
        }
        for exclusion in doc.exclusions {
            let line = lines.line(exclusion.span().start);
            self.add_exclusion(file, &lines, vendor, line, exclusion.get_ref(), loader);
        }
        for device in doc.devices {
            let line = lines.line(device.span().start);
            self.devices.add(file, &lines, vendor, line, device.into_inner(), loader);
        }
    }

    /// Reports every problem of the entry, not just the first.
    fn add_entry(
        &mut self,
        file: u32,
        lines: &LineIndex,
        vendor: VendorId,
        line: usize,
        doc: &EntryDoc,
        loader: &mut Loader,
    ) {
        let service_name = doc.service.get_ref();
        if !valid_id(service_name) {
            loader.report(
                file,
                lines.line(doc.service.span().start),
                format!("service {service_name:?} must be lowercase letters, digits and '-'"),
            );
        }
        if doc.source.get_ref().trim().is_empty() {
            loader.report(
                file,
                lines.line(doc.source.span().start),
                "source must not be empty: cite where this entry comes from".into(),
            );
        }
        let agents = doc.user_agents.is_empty() && doc.stun_software.is_empty() && doc.stun_attributes.is_empty();
        if doc.hosts.is_empty() && doc.suffixes.is_empty() && doc.cidrs.is_empty() && doc.ports.is_empty() && agents {
            loader.report(
                file,
                line,
                "entry matches nothing: give hosts, suffixes, cidrs, ports, user_agents or stun_*".into(),
            );
        }
        let _ = doc.note;
        let service = if let Some(&id) = self.service_ids.get(service_name.as_str()) {
            id
        } else {
            let Ok(raw) = u32::try_from(self.services.len()) else {
                loader.report(file, line, "more than 2^32 services".into());
                return;
            };
            self.services.push(service_name.as_str().into());
            self.service_ids.insert(service_name.as_str().into(), ServiceId(raw));
            ServiceId(raw)
        };
        let Ok(raw) = u32::try_from(self.entries.len()) else {
            loader.report(file, line, "more than 2^32 entries".into());
            return;
        };
        let id = EntryId(raw);
        self.entries.push(Entry {
            vendor,
            service,
            source: doc.source.get_ref().trim().into(),
            file: loader.files[file as usize].display().to_string().into(),
            line,
        });

        for (list, kind) in [(&doc.hosts, KeyKind::Host), (&doc.suffixes, KeyKind::Suffix)] {
            for name in list {
                let at = lines.line(name.span().start);
                let Some(key) = self.checked_name(name.get_ref(), kind, vendor, file, at, loader) else { continue };
                if self.claim(kind, &key, file, at, vendor, loader) {
                    match kind {
                        KeyKind::Host => self.hosts.insert(key, id),
                        _ => self.suffixes.insert(key, SuffixRule::Entry(id)).map(|_| id),
                    };
                }
            }
        }
        let mut has_prefixes = false;
        for cidr in &doc.cidrs {
            let at = lines.line(cidr.span().start);
            let Ok(net) = cidr.get_ref().parse::<IpNet>() else {
                loader.report(file, at, format!("{:?} is not a CIDR prefix", cidr.get_ref()));
                continue;
            };
            if net.trunc() != net {
                loader.report(file, at, format!("{net} has host bits set (did you mean {}?)", net.trunc()));
                continue;
            }
            if net.prefix_len() == 0 {
                loader.report(file, at, format!("{net} is every address: a vendor owns no whole address family"));
                continue;
            }
            if !self.claim(KeyKind::Cidr, &net.to_string(), file, at, vendor, loader) {
                continue;
            }
            has_prefixes = true;
            match net {
                IpNet::V4(n) => self.v4.insert(n, id),
                IpNet::V6(n) => self.v6.insert(n, id),
            };
        }
        self.add_agents(file, lines, vendor, id, doc, loader);
        // Ports need prefixes: the entry's own, or else any of the vendor's.
        let scope = if has_prefixes { Scope::Entry(id) } else { Scope::Vendor(vendor) };
        for port in &doc.ports {
            match parse_port_rule(port.get_ref()) {
                Some((protocol, low, high)) => self.ports.push(PortRule { entry: id, protocol, low, high }, scope),
                None => loader.report(
                    file,
                    lines.line(port.span().start),
                    format!("{:?} is not a port rule like \"tcp/5223\" or \"udp/3478-3497\"", port.get_ref()),
                ),
            }
        }
    }

    /// The software patterns of an entry: User-Agent tokens, STUN SOFTWARE
    /// prefixes and attributes.
    fn add_agents(
        &mut self,
        file: u32,
        lines: &LineIndex,
        vendor: VendorId,
        id: EntryId,
        doc: &EntryDoc,
        loader: &mut Loader,
    ) {
        for (list, kind) in [(&doc.user_agents, KeyKind::UserAgent), (&doc.stun_software, KeyKind::StunSoftware)] {
            for pattern in list {
                let at = lines.line(pattern.span().start);
                let text = pattern.get_ref().trim();
                // Short patterns would match by accident ("M" in any agent).
                if text.len() < 3 || !text.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
                    let why = format!("{} {text:?} must be 3 or more printable ASCII characters", kind.word());
                    loader.report(file, at, why);
                    continue;
                }
                let key = text.to_ascii_lowercase();
                if self.claim(kind, &key, file, at, vendor, loader) {
                    let table =
                        if kind == KeyKind::UserAgent { &mut self.user_agents } else { &mut self.stun_software };
                    table.push((key.into(), id));
                }
            }
        }
        for attribute in &doc.stun_attributes {
            let at = lines.line(attribute.span().start);
            let text = attribute.get_ref();
            let parsed = text.strip_prefix("0x").and_then(|hex| u16::from_str_radix(hex, 16).ok());
            let Some(kind) = parsed.filter(|&k| k >= 0x8000) else {
                let why =
                    format!("{text:?} is not a STUN attribute type like \"0x8008\" in the vendor range 0x8000-0xffff");
                loader.report(file, at, why);
                continue;
            };
            if self.claim(KeyKind::StunAttribute, &format!("0x{kind:04x}"), file, at, vendor, loader) {
                self.stun_attributes.insert(kind, id);
            }
        }
    }

    fn add_exclusion(
        &mut self,
        file: u32,
        lines: &LineIndex,
        vendor: VendorId,
        line: usize,
        doc: &ExcludeDoc,
        loader: &mut Loader,
    ) {
        if doc.reason.get_ref().trim().is_empty() {
            loader.report(
                file,
                lines.line(doc.reason.span().start),
                "reason must not be empty: say why these names are left out".into(),
            );
        }
        if doc.suffixes.is_empty() {
            loader.report(file, line, "exclusion leaves out nothing: give suffixes".into());
        }
        let index =
            u32::try_from(self.exclusions.len()).expect("fewer than 2^32 exclusions: each takes lines of a file");
        self.exclusions.push(Exclusion {
            vendor,
            reason: doc.reason.get_ref().trim().into(),
            file: loader.files[file as usize].display().to_string().into(),
            line,
        });
        for name in &doc.suffixes {
            let at = lines.line(name.span().start);
            let kind = KeyKind::Exclusion;
            let Some(key) = self.checked_name(name.get_ref(), kind, vendor, file, at, loader) else { continue };
            if self.claim(kind, &key, file, at, vendor, loader) {
                self.suffixes.insert(key, SuffixRule::Excluded(index));
            }
        }
    }

    /// The normalised table key for a listed name, or `None` after reporting why not.
    fn checked_name(
        &self,
        name: &str,
        kind: KeyKind,
        vendor: VendorId,
        file: u32,
        at: usize,
        loader: &mut Loader,
    ) -> Option<Box<str>> {
        if name.contains('*') {
            loader.report(file, at, format!("{name:?}: wildcards are not supported; list the parent under suffixes"));
            return None;
        }
        let Some(norm) = NormalizedName::new(name).filter(|n| !n.as_str().is_empty()) else {
            loader.report(file, at, format!("{name:?} is not a valid DNS name"));
            return None;
        };
        let key = norm.as_str();
        if kind == KeyKind::Suffix {
            if let Some(why) = public_suffix::refusal(&self.vendors[usize::from(vendor.0)].id, key) {
                loader.report(file, at, why);
                return None;
            }
        }
        Some(key.into())
    }

    /// Records who defined a table key; the same key in two places is an error.
    fn claim(&self, kind: KeyKind, key: &str, file: u32, line: usize, vendor: VendorId, loader: &mut Loader) -> bool {
        let slot = (kind.space(), Box::<str>::from(key));
        if let Some(first) = loader.origins.get(&slot).copied() {
            let what = format!("{} {key}", kind.word());
            let place = loader.place(&first);
            let message = if first.kind != kind {
                format!("{what} is also listed as {} {key} at {place}", first.kind.word())
            } else if first.vendor == vendor {
                format!("{what} already listed at {place}")
            } else {
                let who = &self.vendors[usize::from(first.vendor.0)].id;
                format!("{what} is claimed by two vendors: also {who} at {place}")
            };
            loader.report(file, line, message);
            return false;
        }
        loader.origins.insert(slot.clone(), Origin { kind, file, line, vendor });
        loader.keys.push(slot);
        true
    }

    fn suffix_owner(&self, rule: SuffixRule) -> VendorId {
        match rule {
            SuffixRule::Entry(e) => self.entry(e).vendor,
            SuffixRule::Excluded(x) => self.exclusions[x as usize].vendor,
        }
    }

    /// A name or prefix belongs to one vendor: no host or suffix of one lies
    /// under another's suffix, no prefix inside another's, and an exclusion
    /// only leaves out names under its own vendor's suffixes. Each key is
    /// checked against the nearest rule above it, so one overlap is one problem.
    fn check_across_vendors(&self, loader: &mut Loader) {
        let keys = std::mem::take(&mut loader.keys);
        for slot in &keys {
            let origin = loader.origins[slot];
            let key = &*slot.1;
            let vendor = origin.vendor;
            let who = |v: VendorId| &*self.vendors[usize::from(v.0)].id;
            let above = |from_self: bool| {
                let start = if from_self { Some(key) } else { None };
                start.into_iter().chain(parents(key)).find_map(|p| self.suffixes.get(p).map(|&r| (p, r)))
            };
            let rule_place = |p: &str| loader.place(&loader.origins[&(KeyKind::Suffix.space(), Box::from(p))]);
            match origin.kind {
                KeyKind::Host | KeyKind::Suffix => {
                    let Some((p, rule)) = above(origin.kind == KeyKind::Host) else { continue };
                    let owner = self.suffix_owner(rule);
                    if owner != vendor && matches!(rule, SuffixRule::Entry(_)) {
                        let message = format!(
                            "{} {key} ({}) lies under suffix {p} of {} at {}: a name belongs to one vendor",
                            origin.kind.word(),
                            who(vendor),
                            who(owner),
                            rule_place(p)
                        );
                        loader.report(origin.file, origin.line, message);
                    }
                }
                KeyKind::Exclusion => {
                    let message = match above(false) {
                        None => format!("exclusion {key} leaves out nothing: no suffix of {} covers it", who(vendor)),
                        Some((p, SuffixRule::Excluded(_))) => {
                            format!("exclusion {key} is already left out by exclusion {p} at {}", rule_place(p))
                        }
                        Some((p, rule)) if self.suffix_owner(rule) != vendor => format!(
                            "exclusion {key} lies under suffix {p} of {} at {}: a file leaves out only its own names",
                            who(self.suffix_owner(rule)),
                            rule_place(p)
                        ),
                        Some(_) => continue,
                    };
                    loader.report(origin.file, origin.line, message);
                }
                KeyKind::UserAgent | KeyKind::StunSoftware | KeyKind::StunAttribute => {}
                KeyKind::Cidr => {
                    let Ok(net) = key.parse::<IpNet>() else { continue };
                    let covering = match net {
                        IpNet::V4(n) => {
                            self.v4.cover(&n).filter(|(p, _)| *p != n).last().map(|(p, &e)| (IpNet::V4(p), e))
                        }
                        IpNet::V6(n) => {
                            self.v6.cover(&n).filter(|(p, _)| *p != n).last().map(|(p, &e)| (IpNet::V6(p), e))
                        }
                    };
                    let Some((outer, entry)) = covering else { continue };
                    let owner = self.entry(entry).vendor;
                    if owner != vendor {
                        let place =
                            loader.place(&loader.origins[&(KeyKind::Cidr.space(), Box::from(outer.to_string()))]);
                        let message = format!(
                            "cidr {net} ({}) lies inside cidr {outer} of {} at {place}: an address belongs to one vendor",
                            who(vendor),
                            who(owner)
                        );
                        loader.report(origin.file, origin.line, message);
                    }
                }
            }
        }
        loader.keys = keys;
    }

    /// The vendor `id` names.
    pub fn vendor(&self, id: VendorId) -> &Vendor {
        &self.vendors[usize::from(id.0)]
    }

    /// The vendor whose `id` is `name`.
    pub fn vendor_by_name(&self, name: &str) -> Option<VendorId> {
        self.vendor_ids.get(name).copied()
    }

    /// The service `id` names.
    pub fn service_name(&self, id: ServiceId) -> &str {
        &self.services[id.0 as usize]
    }

    /// The entry `id` names.
    pub fn entry(&self, id: EntryId) -> &Entry {
        &self.entries[id.0 as usize]
    }

    /// The sizes of the lookup tables.
    pub fn sizes(&self) -> TableSizes {
        TableSizes {
            hosts: self.hosts.len(),
            suffixes: self.suffixes.values().filter(|r| matches!(r, SuffixRule::Entry(_))).count(),
            exclusions: self.suffixes.values().filter(|r| matches!(r, SuffixRule::Excluded(_))).count(),
            prefixes: self.v4.len() + self.v6.len(),
            port_rules: self.ports.rules().len(),
            port_segments: self.ports.segments(),
        }
    }

    /// The most specific entry for a name: an exact host beats any suffix,
    /// and a longer suffix beats a shorter one. Labels match whole.
    pub fn match_name(&self, name: &NormalizedName) -> Option<EntryId> {
        self.match_name_detail(name).map(|m| m.entry)
    }

    /// Like [`match_name`](Self::match_name), also saying which host or
    /// suffix matched.
    pub fn match_name_detail<'n>(&self, name: &'n NormalizedName) -> Option<NameMatch<'n>> {
        match self.name_outcome(name) {
            NameOutcome::Matched(m) => Some(m),
            _ => None,
        }
    }

    /// The name tables' whole answer: a match, an exclusion, or nothing.
    ///
    /// An exclusion is a suffix that matches nothing: the longest listed
    /// suffix decides, so a name under an excluded suffix is unattributed
    /// unless a longer suffix or an exact host of it is listed. An Akamai
    /// edge name with no rule of its own attributes like the host name it
    /// embeds, but only through a host or a suffix of two or more labels.
    pub fn name_outcome<'n>(&self, name: &'n NormalizedName) -> NameOutcome<'n, '_> {
        let name = name.as_str();
        if name.is_empty() {
            return NameOutcome::Unmatched;
        }
        match self.lookup_name(name) {
            NameOutcome::Unmatched => {}
            outcome => return outcome,
        }
        let Some((inner, edge)) = akamai_embedded_name(name) else { return NameOutcome::Unmatched };
        match self.lookup_name(inner) {
            NameOutcome::Matched(m) if m.matched.contains('.') => {
                NameOutcome::Matched(NameMatch { edge: Some(edge), ..m })
            }
            NameOutcome::Excluded { suffix, exclusion } => NameOutcome::Excluded { suffix, exclusion },
            _ => NameOutcome::Unmatched,
        }
    }

    fn lookup_name<'n>(&self, name: &'n str) -> NameOutcome<'n, '_> {
        if let Some(&entry) = self.hosts.get(name) {
            return NameOutcome::Matched(NameMatch { entry, matched: name, exact: true, edge: None });
        }
        let found = std::iter::once(name).chain(parents(name)).find_map(|p| self.suffixes.get(p).map(|&r| (p, r)));
        match found {
            Some((matched, SuffixRule::Entry(entry))) => {
                NameOutcome::Matched(NameMatch { entry, matched, exact: false, edge: None })
            }
            Some((suffix, SuffixRule::Excluded(x))) => {
                NameOutcome::Excluded { suffix, exclusion: &self.exclusions[x as usize] }
            }
            None => NameOutcome::Unmatched,
        }
    }

    /// The entry of a vendor agent named in a User-Agent: a listed pattern
    /// that begins one of its tokens (split at spaces, parentheses, `;` and
    /// `,`), ignoring case; the longest pattern wins.
    pub fn match_user_agent(&self, agent: &str) -> Option<EntryId> {
        let tokens = agent.split(|c: char| c.is_ascii_whitespace() || "();,".contains(c)).filter(|t| !t.is_empty());
        tokens
            .flat_map(|token| {
                self.user_agents
                    .iter()
                    .filter(move |(p, _)| starts_with_ignore_case(token, p))
                    .map(|(p, e)| (p.len(), *e))
            })
            .max_by_key(|&(len, _)| len)
            .map(|(_, e)| e)
    }

    /// The entry whose STUN SOFTWARE prefix begins `software`, ignoring
    /// case; the longest wins.
    pub fn match_stun_software(&self, software: &str) -> Option<EntryId> {
        let software = software.trim();
        self.stun_software
            .iter()
            .filter(|(p, _)| starts_with_ignore_case(software, p))
            .max_by_key(|(p, _)| p.len())
            .map(|&(_, e)| e)
    }

    /// The entry of a vendor-specific STUN attribute type.
    pub fn match_stun_attribute(&self, kind: u16) -> Option<EntryId> {
        self.stun_attributes.get(&kind).copied()
    }

    /// The longest prefix containing `addr`.
    pub fn match_addr(&self, addr: IpAddr) -> Option<EntryId> {
        match addr {
            IpAddr::V4(a) => self.v4.get_lpm(&Ipv4Net::from(a)).map(|(_, &id)| id),
            IpAddr::V6(a) => self.v6.get_lpm(&Ipv6Net::from(a)).map(|(_, &id)| id),
        }
    }

    /// A port rule of `addr_entry`'s vendor that covers this server port;
    /// ports count only together with the vendor's own prefixes. The rules of
    /// the most specific entry whose own prefixes hold `addr` come first,
    /// then the vendor's rules that count in any of its prefixes.
    pub fn match_port(&self, addr_entry: EntryId, addr: IpAddr, protocol: u8, port: u16) -> Option<EntryId> {
        let vendor = self.entry(addr_entry).vendor;
        let own = |entry: EntryId| {
            (self.entry(entry).vendor == vendor)
                .then(|| self.ports.lookup(Scope::Entry(entry), protocol, port))
                .flatten()
        };
        // At most 33 (IPv4) or 129 (IPv6) covering prefixes; the last is the longest.
        let by_prefix = match addr {
            IpAddr::V4(a) => self.v4.cover(&Ipv4Net::from(a)).filter_map(|(_, &e)| own(e)).last(),
            IpAddr::V6(a) => self.v6.cover(&Ipv6Net::from(a)).filter_map(|(_, &e)| own(e)).last(),
        };
        by_prefix.or_else(|| self.ports.lookup(Scope::Vendor(vendor), protocol, port))
    }

    /// Prefix and port descriptions for `explain`.
    pub fn port_rules_of(&self, entry: EntryId) -> impl Iterator<Item = String> + '_ {
        self.ports.rules().iter().filter(move |r| r.entry == entry).map(|r| {
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

/// `text` begins with the lowercase `prefix`, in any letter case.
fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.as_bytes().get(..prefix.len()).is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()))
}

fn parse_port_rule(s: &str) -> Option<(u8, u16, u16)> {
    let (proto, range) = s.split_once('/')?;
    let protocol = match proto {
        "tcp" => crate::decode::IPPROTO_TCP,
        "udp" => crate::decode::IPPROTO_UDP,
        _ => return None,
    };
    let (low, high) = if let Some((a, b)) = range.split_once('-') {
        (a.parse().ok()?, b.parse().ok()?)
    } else {
        let p = range.parse().ok()?;
        (p, p)
    };
    (low <= high && low > 0).then_some((protocol, low, high))
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

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

    const MICROSOFT: &str = r#"
vendor = "microsoft"
display_name = "Microsoft"

[[entry]]
service = "services"
source = "test"
suffixes = ["microsoft.com"]

[[entry]]
service = "telemetry"
source = "test"
hosts = ["eu.applicationinsights.microsoft.com"]

[[exclude]]
suffixes = ["applicationinsights.microsoft.com"]
reason = "customers' own application telemetry"
"#;

    fn problems_of(files: &[(&str, &str)]) -> Vec<String> {
        set(files).unwrap_err().0.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn an_excluded_suffix_leaves_its_names_out_unless_a_longer_rule_names_them() {
        let s = set(&[("microsoft.toml", MICROSOFT)]).unwrap();
        for excluded in ["applicationinsights.microsoft.com", "dc.applicationinsights.microsoft.com"] {
            match s.name_outcome(&name(excluded)) {
                NameOutcome::Excluded { suffix, exclusion } => {
                    assert_eq!(suffix, "applicationinsights.microsoft.com");
                    assert_eq!((&*exclusion.file, exclusion.line), ("microsoft.toml", 15));
                }
                other => panic!("{excluded}: {other:?}"),
            }
            assert!(s.match_name(&name(excluded)).is_none());
        }
        let host = s.match_name(&name("eu.applicationinsights.microsoft.com")).unwrap();
        assert_eq!(s.service_name(s.entry(host).service), "telemetry", "an exact host beats the exclusion");
        assert!(s.match_name(&name("www.microsoft.com")).is_some());
        assert_eq!(s.sizes().exclusions, 1);
    }

    #[test]
    fn exclusions_speak_only_for_their_own_vendors_names() {
        let apple_excludes =
            |suffix: &str| format!("{APPLE}\n[[exclude]]\nsuffixes = [\"{suffix}\"]\nreason = \"r\"\n");
        let p = problems_of(&[("apple.toml", &apple_excludes("x.microsoft.com")), ("microsoft.toml", MICROSOFT)]);
        assert!(
            p.iter().any(|p| p.starts_with("apple.toml:20: exclusion x.microsoft.com lies under suffix microsoft.com of microsoft at microsoft.toml:8")),
            "{p:?}"
        );
        let p = problems_of(&[("apple.toml", &apple_excludes("example.org"))]);
        assert_eq!(p, vec!["apple.toml:20: exclusion example.org leaves out nothing: no suffix of apple covers it"]);
        let p = problems_of(&[("apple.toml", &apple_excludes("push.apple.com"))]);
        assert!(
            p[0].contains("exclusion push.apple.com is also listed as suffix push.apple.com at apple.toml:"),
            "{p:?}"
        );
        let no_reason = format!("{APPLE}\n[[exclude]]\nsuffixes = [\"x.apple.com\"]\nreason = \"\"\n");
        assert!(problems_of(&[("apple.toml", &no_reason)])[0].contains("reason must not be empty"));
    }

    #[test]
    fn akamai_edge_names_attribute_like_the_vendor_host_they_embed() {
        let with_tld = format!("{APPLE}\n[[entry]]\nservice = \"services\"\nsource = \"t\"\nsuffixes = [\"apple\"]\n");
        let s = set(&[("apple.toml", &with_tld), ("microsoft.toml", MICROSOFT)]).unwrap();
        let edge_name = name("captive.apple.com.edgekey.net");
        let m = s.match_name_detail(&edge_name).unwrap();
        assert_eq!((m.matched, m.exact, m.edge), ("apple.com", false, Some("edgekey.net")));
        assert_eq!(s.vendor(s.entry(m.entry).vendor).id.as_ref(), "apple");
        let push = s.match_name(&name("1-courier.push.apple.com.edgesuite.net")).unwrap();
        assert_eq!(s.service_name(s.entry(push).service), "push");
        assert!(s.match_name(&name("identity.apple.com.akamaized.net")).is_some());
        for none in ["www.example.com.edgekey.net", "apple.edgekey.net", "foo.apple.edgekey.net", "edgekey.net"] {
            assert!(s.match_name(&name(none)).is_none(), "{none}: no vendor host embedded (a bare TLD does not count)");
        }
        assert!(matches!(
            s.name_outcome(&name("dc.applicationinsights.microsoft.com.edgekey.net")),
            NameOutcome::Excluded { .. }
        ));
    }

    #[test]
    fn a_name_or_prefix_inside_another_vendors_is_reported_where_it_is_listed() {
        let huawei = "vendor = \"huawei\"\ndisplay_name = \"H\"\n[[entry]]\nservice = \"s\"\nsource = \"x\"\nhosts = [\"cdn.apple.com\"]\nsuffixes = [\"hw.push.apple.com\", \"huawei.com\"]\ncidrs = [\"17.250.0.0/16\", \"2001:db8::/32\"]\n";
        let p = problems_of(&[("apple.toml", APPLE), ("huawei.toml", huawei)]);
        assert_eq!(
            p,
            vec![
                "huawei.toml:6: host cdn.apple.com (huawei) lies under suffix apple.com of apple at apple.toml:8: a name belongs to one vendor",
                "huawei.toml:7: suffix hw.push.apple.com (huawei) lies under suffix push.apple.com of apple at apple.toml:14: a name belongs to one vendor",
                "huawei.toml:8: cidr 17.250.0.0/16 (huawei) lies inside cidr 17.0.0.0/8 of apple at apple.toml:9: an address belongs to one vendor",
            ]
        );
    }

    #[test]
    fn every_problem_of_an_entry_is_reported() {
        let bad = "vendor = \"x\"\ndisplay_name = \"X\"\n[[entry]]\nservice = \"Bad Service\"\nsource = \"\"\nsuffixes = [\"com\", \"co.uk\", \"ok.example.com\"]\ncidrs = [\"0.0.0.0/0\", \"::/0\", \"10.0.0.1/8\"]\nports = [\"tcp/0\"]\n";
        let p = problems_of(&[("x.toml", bad)]);
        let want = [
            "x.toml:4: service \"Bad Service\" must be",
            "x.toml:5: source must not be empty",
            "x.toml:6: suffix com is a public suffix",
            "x.toml:6: suffix co.uk is a public suffix",
            "x.toml:7: 0.0.0.0/0 is every address",
            "x.toml:7: ::/0 is every address",
            "x.toml:7: 10.0.0.1/8 has host bits set",
            "x.toml:8: \"tcp/0\" is not a port rule",
        ];
        assert_eq!(p.len(), want.len(), "{p:#?}");
        for (got, want) in p.iter().zip(want) {
            assert!(got.starts_with(want), "{got} should start with {want}");
        }
    }

    #[test]
    fn a_prefix_by_port_entry_costs_prefixes_plus_ports() {
        let prefixes: Vec<String> = (0..8000u32).map(|i| format!("\"10.{}.{}.0/24\"", i / 256, i % 256)).collect();
        let ports: Vec<String> = (0..8000u32).map(|i| format!("\"tcp/{}\"", 1000 + 2 * i)).collect();
        let text = format!(
            "vendor = \"v\"\ndisplay_name = \"V\"\n[[entry]]\nservice = \"s\"\nsource = \"t\"\ncidrs = [{}]\nports = [{}]\n",
            prefixes.join(","),
            ports.join(",")
        );
        let s = set(&[("v.toml", &text)]).unwrap();
        let sizes = s.sizes();
        assert_eq!((sizes.prefixes, sizes.port_rules), (8000, 8000));
        assert!(sizes.port_segments <= 2 * 8000 + 1, "{sizes:?}");
        let addr: IpAddr = "10.20.30.40".parse().unwrap();
        let e = s.match_addr(addr).unwrap();
        assert_eq!(s.match_port(e, addr, 6, 1000 + 2 * 7999), Some(e));
        assert_eq!(s.match_port(e, addr, 6, 1001), None, "odd ports are not listed");
        assert_eq!(s.match_port(e, addr, 17, 1000), None, "udp is not listed");
    }

    #[test]
    fn more_than_65536_services_keep_their_own_ids() {
        let mut text = String::from("vendor = \"v\"\ndisplay_name = \"V\"\n");
        for i in 0..70_000 {
            let _ = write!(text, "[[entry]]\nservice = \"s{i}\"\nsource = \"t\"\nhosts = [\"h{i}.example.com\"]\n");
        }
        let s = set(&[("v.toml", &text)]).unwrap();
        assert_eq!(s.services.len(), 70_000);
        for i in [0, 65_535, 65_536, 65_537, 69_999] {
            let e = s.match_name(&name(&format!("h{i}.example.com"))).unwrap();
            assert_eq!(s.service_name(s.entry(e).service), format!("s{i}"));
        }
    }

    #[test]
    fn more_vendors_than_ids_is_a_load_error_not_a_wrap() {
        let files: Vec<(PathBuf, String)> = (0..=MAX_VENDORS)
            .map(|i| {
                let text = format!("vendor = \"v{i}\"\ndisplay_name = \"V\"\n[[entry]]\nservice = \"s\"\nsource = \"t\"\nhosts = [\"v{i}.example\"]\n");
                (PathBuf::from(format!("v{i}.toml")), text)
            })
            .collect();
        let p = SignatureSet::from_files(files).unwrap_err();
        assert_eq!(p.0.len(), 1, "only the vendor past the limit is refused");
        assert_eq!(p.0[0].file, PathBuf::from(format!("v{MAX_VENDORS}.toml")));
        assert!(p.0[0].message.contains("more than 65536 vendors"), "{p}");
    }

    const AGENTS: &str = r#"
vendor = "microsoft"
display_name = "Microsoft"

[[entry]]
service = "updates"
source = "test"
user_agents = ["Microsoft-Delivery-Optimization/", "Windows-Update-Agent/"]

[[entry]]
service = "call"
source = "test"
stun_software = ["Microsoft Teams"]
stun_attributes = ["0x8008", "0x8070"]
"#;

    #[test]
    fn agents_match_a_token_prefix_and_attributes_their_type() {
        let s = set(&[("microsoft.toml", AGENTS)]).unwrap();
        let svc = |e: Option<EntryId>| e.map(|e| s.service_name(s.entry(e).service).to_owned());
        assert_eq!(svc(s.match_user_agent("Microsoft-Delivery-Optimization/10.0")).as_deref(), Some("updates"));
        assert_eq!(
            svc(s.match_user_agent("Mozilla/5.0 (Windows-Update-Agent/10.0.10011.16384; Client-Protocol/2.50)"))
                .as_deref(),
            Some("updates"),
            "a token inside a comment"
        );
        assert_eq!(s.match_user_agent("curl/8.5.0 microsoft-delivery-optimization"), None, "no '/': not the token");
        assert_eq!(s.match_user_agent("X-Microsoft-Delivery-Optimization/1"), None, "tokens match from their start");
        assert_eq!(svc(s.match_stun_software("microsoft teams 1.6")).as_deref(), Some("call"));
        assert_eq!(s.match_stun_software("Teams"), None);
        assert_eq!(svc(s.match_stun_attribute(0x8070)).as_deref(), Some("call"));
        assert_eq!(s.match_stun_attribute(0x8022), None);
        let bad = format!(
            "{AGENTS}\n[[entry]]\nservice = \"x\"\nsource = \"t\"\nuser_agents = [\"MS\"]\nstun_attributes = [\"0x0024\", \"8008\", \"0x8008\"]\n"
        );
        let p = problems_of(&[("microsoft.toml", &bad)]);
        assert_eq!(p.len(), 4, "{p:#?}");
        assert!(p[0].contains(":19: user agent \"MS\" must be 3 or more"), "{p:?}");
        assert!(p[1].contains(":20: \"0x0024\" is not a STUN attribute type"), "{p:?}");
        assert!(p[2].contains(":20: \"8008\" is not a STUN attribute type"), "{p:?}");
        assert!(p[3].contains(":20: STUN attribute 0x8008 already listed at microsoft.toml:"), "{p:?}");
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
