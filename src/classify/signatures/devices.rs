//! Device signatures: the `[[device]]` tables of a vendor's file, saying
//! which DHCP, mDNS, SSDP, ONVIF, HTTP and OUI evidence names the vendor's
//! devices, of which kind and OS.
//!
//! ```toml
//! [[device]]
//! kind = "phone"                      # optional: phone, tablet, computer, camera, ...
//! os = "iOS"                          # optional
//! source = "where this comes from"
//! mdns_models = ["iPhone"]            # any of the keys below, at least one
//! ```
//!
//! Tokens compare case-insensitively. Which part of the evidence a key
//! matches, and how strongly that evidence speaks, is [`Key`]'s. A device
//! entry with `hardware = false` names the vendor's software (Windows,
//! Android), not its hardware: it gives an OS and a kind, never the
//! device's vendor.

use hashbrown::HashMap;
use serde::Deserialize;
use toml::Spanned;

use super::{Loader, VendorId};
use crate::decode::SynInfo;
use crate::hosts::DeviceKind;
use crate::mac::Oui;
use crate::text_lines::LineIndex;

/// Index of a device entry in [`DeviceIndex::entries`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeviceEntryId(pub u32);

/// One `[[device]]` of a signature file.
#[derive(Debug, Clone)]
pub struct DeviceEntry {
    /// The vendor of the file it is in.
    pub vendor: VendorId,
    /// False when the entry names the vendor's software, not its hardware.
    pub hardware: bool,
    /// What kind of device it is, when the entry says.
    pub kind: Option<DeviceKind>,
    /// The operating system it runs, when the entry says.
    pub os: Option<Box<str>>,
    /// Where its tokens come from, as the file says.
    pub source: Box<str>,
    /// The file it is in.
    pub file: Box<str>,
    /// Its line in that file.
    pub line: usize,
}

/// The keys of a `[[device]]`, each a way devices tell what they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// DHCPv4 option 60 / DHCPv6 option 16, by prefix.
    DhcpVendorClass,
    /// DHCPv4 option 55 (the parameter request list), exactly, as
    /// comma-separated numbers.
    DhcpFingerprint,
    /// A DNS-SD service type the device announces, exactly.
    MdnsService,
    /// A `model=` (or `md=`) TXT value the device announces, by prefix.
    MdnsModel,
    /// A token of an SSDP `SERVER` header, anywhere in it.
    SsdpServer,
    /// A token of an ONVIF `name` or `hardware` scope, by prefix.
    OnvifName,
    /// The vendor's own discovery protocol: `sadp` or `dhip`.
    Discovery,
    /// A model prefix in the vendor's discovery protocol.
    DiscoveryModel,
    /// A token of an HTTP User-Agent, anywhere in it.
    UserAgent,
    /// A token of an HTTP `Server` header, anywhere in it.
    HttpServer,
    /// An IEEE MA-L assignment (the MAC's first three bytes).
    Oui,
    /// A TCP SYN's initial TTL, window, scale and option layout, in p0f's
    /// notation ([`SynSignature`]).
    TcpSyn,
}

impl Key {
    /// The key as a signature file spells it.
    pub fn name(self) -> &'static str {
        match self {
            Key::DhcpVendorClass => "dhcp_vendor_classes",
            Key::DhcpFingerprint => "dhcp_fingerprints",
            Key::MdnsService => "mdns_services",
            Key::MdnsModel => "mdns_models",
            Key::SsdpServer => "ssdp_servers",
            Key::OnvifName => "onvif_names",
            Key::Discovery => "discovery",
            Key::DiscoveryModel => "discovery_models",
            Key::UserAgent => "user_agent_devices",
            Key::HttpServer => "http_servers",
            Key::Oui => "ouis",
            Key::TcpSyn => "tcp_syns",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DeviceDoc {
    source: Spanned<String>,
    #[serde(default)]
    kind: Option<Spanned<String>>,
    #[serde(default)]
    os: Option<String>,
    #[serde(default = "yes")]
    hardware: bool,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    dhcp_vendor_classes: Vec<Spanned<String>>,
    #[serde(default)]
    dhcp_fingerprints: Vec<Spanned<String>>,
    #[serde(default)]
    mdns_services: Vec<Spanned<String>>,
    #[serde(default)]
    mdns_models: Vec<Spanned<String>>,
    #[serde(default)]
    ssdp_servers: Vec<Spanned<String>>,
    #[serde(default)]
    onvif_names: Vec<Spanned<String>>,
    #[serde(default)]
    discovery: Vec<Spanned<String>>,
    #[serde(default)]
    discovery_models: Vec<Spanned<String>>,
    #[serde(default)]
    user_agent_devices: Vec<Spanned<String>>,
    #[serde(default)]
    http_servers: Vec<Spanned<String>>,
    #[serde(default)]
    ouis: Vec<Spanned<String>>,
    #[serde(default)]
    tcp_syns: Vec<Spanned<String>>,
}

fn yes() -> bool {
    true
}

/// The discovery protocols a vendor may claim as its own.
pub const DISCOVERY_PROTOCOLS: [&str; 2] = ["sadp", "dhip"];

/// What a device signature matched, and on which token.
#[derive(Debug, Clone, Copy)]
pub struct DeviceMatch<'s> {
    /// The entry whose token matched.
    pub entry: DeviceEntryId,
    /// The token, as the entry lists it.
    pub token: &'s str,
}

/// The device tables of a signature set.
#[derive(Debug, Default)]
pub struct DeviceIndex {
    /// Indexed by [`DeviceEntryId`].
    pub entries: Vec<DeviceEntry>,
    /// Tokens of the keys matched by prefix or substring, lowercased.
    tokens: HashMap<Key, Vec<(Box<str>, DeviceEntryId)>>,
    /// Keys matched exactly, lowercased.
    exact: HashMap<(Key, Box<str>), DeviceEntryId>,
    ouis: HashMap<[u8; 3], DeviceEntryId>,
    /// SYN signatures, the most specific first.
    syns: Vec<(SynSignature, DeviceEntryId)>,
    /// Where each key was defined, while loading.
    origins: HashMap<(Key, Box<str>), (u32, usize)>,
}

impl DeviceIndex {
    pub(super) fn add(
        &mut self,
        file: u32,
        lines: &LineIndex,
        vendor: VendorId,
        line: usize,
        doc: DeviceDoc,
        loader: &mut Loader,
    ) {
        if doc.source.get_ref().trim().is_empty() {
            let at = lines.line(doc.source.span().start);
            loader.report(file, at, "source must not be empty: cite where this device entry comes from".into());
        }
        let kind = doc.kind.as_ref().and_then(|k| {
            let parsed = DeviceKind::parse(k.get_ref());
            if parsed.is_none() {
                let kinds: Vec<&str> = DeviceKind::ALL.iter().map(|k| k.as_str()).collect();
                let message = format!("kind {:?} is not one of {}", k.get_ref(), kinds.join(", "));
                loader.report(file, lines.line(k.span().start), message);
            }
            parsed
        });
        let _ = doc.note;
        let Ok(raw) = u32::try_from(self.entries.len()) else { return };
        let id = DeviceEntryId(raw);
        self.entries.push(DeviceEntry {
            vendor,
            hardware: doc.hardware,
            kind,
            os: doc.os.map(|o| o.trim().into()),
            source: doc.source.get_ref().trim().into(),
            file: loader.files[file as usize].display().to_string().into(),
            line,
        });
        let keys = [
            (Key::DhcpVendorClass, &doc.dhcp_vendor_classes),
            (Key::DhcpFingerprint, &doc.dhcp_fingerprints),
            (Key::MdnsService, &doc.mdns_services),
            (Key::MdnsModel, &doc.mdns_models),
            (Key::SsdpServer, &doc.ssdp_servers),
            (Key::OnvifName, &doc.onvif_names),
            (Key::Discovery, &doc.discovery),
            (Key::DiscoveryModel, &doc.discovery_models),
            (Key::UserAgent, &doc.user_agent_devices),
            (Key::HttpServer, &doc.http_servers),
            (Key::Oui, &doc.ouis),
            (Key::TcpSyn, &doc.tcp_syns),
        ];
        if keys.iter().all(|(_, list)| list.is_empty()) {
            loader.report(file, line, "device entry matches nothing: give at least one key".into());
        }
        for (key, list) in keys {
            for token in list {
                let at = lines.line(token.span().start);
                if let Some(normal) = self.checked(key, token.get_ref(), file, at, loader) {
                    self.insert(key, normal, id);
                }
            }
        }
    }

    /// The normalised token, or `None` after reporting why not.
    fn checked(&mut self, key: Key, token: &str, file: u32, at: usize, loader: &mut Loader) -> Option<Box<str>> {
        let normal: Box<str> = match key {
            Key::Oui => {
                let Some(oui) = parse_oui(token) else {
                    loader.report(file, at, format!("{token:?} is not an OUI like \"00:03:93\""));
                    return None;
                };
                Oui(oui).to_string().into()
            }
            Key::DhcpFingerprint => {
                let Some(f) = normal_fingerprint(token) else {
                    let message = format!("{token:?} is not a DHCP option list like \"1,121,3,6,15\"");
                    loader.report(file, at, message);
                    return None;
                };
                f.into()
            }
            Key::TcpSyn => {
                let Some(sig) = SynSignature::parse(token) else {
                    let message = format!(
                        "{token:?} is not a SYN signature like \"64:65535,2:mss,nop,ws,nop,nop,ts,sok,eol+1\" \
                         (initial TTL 32, 64, 128 or 255; window as a number, mss*N or *; scale or *; options \
                         eol+N, nop, mss, ws, sok, sack, ts, ?N)"
                    );
                    loader.report(file, at, message);
                    return None;
                };
                sig.to_string().into()
            }
            Key::Discovery if !DISCOVERY_PROTOCOLS.contains(&token) => {
                let message = format!("discovery {token:?} is not one of {}", DISCOVERY_PROTOCOLS.join(", "));
                loader.report(file, at, message);
                return None;
            }
            _ if token.trim().is_empty() || token.trim().len() != token.len() => {
                loader.report(
                    file,
                    at,
                    format!("{} token {token:?} must be non-empty, without outer spaces", key.name()),
                );
                return None;
            }
            _ => token.to_ascii_lowercase().into(),
        };
        let slot = (key, normal.clone());
        if let Some(&(first_file, first_line)) = self.origins.get(&slot) {
            let place = format!("{}:{first_line}", loader.files[first_file as usize].display());
            loader.report(file, at, format!("{} {normal:?} already listed at {place}", key.name()));
            return None;
        }
        self.origins.insert(slot, (file, at));
        Some(normal)
    }

    fn insert(&mut self, key: Key, token: Box<str>, id: DeviceEntryId) {
        match key {
            Key::Oui => {
                if let Some(oui) = parse_oui(&token) {
                    self.ouis.insert(oui, id);
                }
            }
            Key::TcpSyn => {
                if let Some(sig) = SynSignature::parse(&token) {
                    self.syns.push((sig, id));
                }
            }
            Key::DhcpFingerprint | Key::MdnsService | Key::Discovery => {
                self.exact.insert((key, token), id);
            }
            _ => self.tokens.entry(key).or_default().push((token, id)),
        }
    }

    /// Drops the load-time bookkeeping and orders the tokens longest
    /// first, so the most specific token matches.
    pub(super) fn build(&mut self) {
        self.origins = HashMap::new();
        for list in self.tokens.values_mut() {
            list.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        }
        self.syns.sort_by_key(|(sig, _)| sig.vagueness());
    }

    /// The entry `id` names.
    pub fn entry(&self, id: DeviceEntryId) -> &DeviceEntry {
        &self.entries[id.0 as usize]
    }

    /// The entry whose `key` matches `text`: exactly for exact keys, by
    /// prefix or anywhere in it as the key says; the longest token wins.
    pub fn lookup(&self, key: Key, text: &str) -> Option<DeviceMatch<'_>> {
        let lower = text.to_ascii_lowercase();
        match key {
            Key::DhcpFingerprint | Key::MdnsService | Key::Discovery => {
                let (k, entry) = self.exact.get_key_value(&(key, Box::from(lower.as_str())))?;
                Some(DeviceMatch { entry: *entry, token: &k.1 })
            }
            Key::Oui | Key::TcpSyn => None,
            _ => {
                let prefix =
                    matches!(key, Key::DhcpVendorClass | Key::MdnsModel | Key::OnvifName | Key::DiscoveryModel);
                let hit = |t: &str| if prefix { lower.starts_with(t) } else { lower.contains(t) };
                let list = self.tokens.get(&key)?;
                list.iter().find(|(t, _)| hit(t)).map(|(t, e)| DeviceMatch { entry: *e, token: t })
            }
        }
    }

    /// The entry whose OUI the MAC carries.
    pub fn lookup_oui(&self, mac: [u8; 6]) -> Option<DeviceEntryId> {
        self.ouis.get(&[mac[0], mac[1], mac[2]]).copied()
    }

    /// The entry whose SYN signature the SYN fits, the most specific first.
    pub fn lookup_syn(&self, syn: &SynInfo, layout: &str) -> Option<DeviceEntryId> {
        self.syns.iter().find(|(sig, _)| sig.fits(syn, layout)).map(|&(_, id)| id)
    }

    /// The vendor's entry claiming a discovery protocol as its own.
    pub fn discovery_owner(&self, protocol: &str) -> Option<DeviceEntryId> {
        self.exact.get(&(Key::Discovery, Box::from(protocol))).copied()
    }

    /// Counts of device keys, for reports and tests.
    pub fn len(&self) -> usize {
        self.exact.len() + self.ouis.len() + self.syns.len() + self.tokens.values().map(Vec::len).sum::<usize>()
    }

    /// Whether no device key is loaded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `00:03:93`, `00-03-93` or `000393`.
pub fn parse_oui(s: &str) -> Option<[u8; 3]> {
    let hex: String = s.chars().filter(|c| !matches!(c, ':' | '-')).collect();
    if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let byte = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
    Some([byte(0)?, byte(2)?, byte(4)?])
}

/// `1, 121,3` -> `1,121,3`; every number an option code (1-254).
fn normal_fingerprint(s: &str) -> Option<String> {
    let codes: Option<Vec<u8>> =
        s.split(',').map(|c| c.trim().parse::<u8>().ok().filter(|&c| c != 0 && c != 255)).collect();
    let codes = codes.filter(|c| !c.is_empty())?;
    Some(fingerprint_text(&codes))
}

/// A DHCP parameter request list as signatures write it.
pub fn fingerprint_text(codes: &[u8]) -> String {
    codes.iter().map(u8::to_string).collect::<Vec<_>>().join(",")
}

/// The window a SYN signature asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SynWindow {
    Exact(u16),
    /// A multiple of the SYN's own MSS (`mss*44`).
    MssTimes(u16),
    Any,
}

/// A SYN signature: p0f's `ittl`, `wsize,scale` and `olayout` fields
/// (p0f.fp, "TCP signatures"), written `64:mss*44,3:mss,sok,ts,nop,ws`.
/// The other p0f fields (IP version, option length, MSS, quirks, payload
/// class) are not compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynSignature {
    initial_ttl: u8,
    window: SynWindow,
    /// `None` for any; a SYN without the option has scale 0.
    scale: Option<u8>,
    layout: Box<str>,
}

/// The initial TTLs stacks use (p0f guesses the same four).
const INITIAL_TTLS: [u8; 4] = [32, 64, 128, 255];

/// The initial TTL a TTL seen counts down from: the nearest of 32, 64, 128
/// and 255 at or above it (p0f guesses the same four).
pub fn initial_ttl(ttl: u8) -> u8 {
    INITIAL_TTLS.into_iter().find(|&i| i >= ttl).unwrap_or(255)
}

/// An option of a layout as p0f writes it: `eol+N`, `nop`, `mss`, `ws`,
/// `sok`, `sack`, `ts` or `?N` (any other kind).
fn valid_layout_item(item: &str) -> bool {
    match item {
        "nop" | "mss" | "ws" | "sok" | "sack" | "ts" => true,
        _ => {
            let number = item.strip_prefix("eol+").or_else(|| item.strip_prefix('?'));
            number.is_some_and(|n| n.parse::<u8>().is_ok())
        }
    }
}

impl SynSignature {
    /// Reads a signature file's `syn` value; `None` when it is not one.
    pub fn parse(text: &str) -> Option<SynSignature> {
        let mut fields = text.trim().splitn(3, ':');
        let initial_ttl = fields.next()?.parse::<u8>().ok().filter(|t| INITIAL_TTLS.contains(t))?;
        let (window, scale) = fields.next()?.split_once(',')?;
        let window = match window {
            "*" => SynWindow::Any,
            w => match w.strip_prefix("mss*") {
                Some(n) => SynWindow::MssTimes(n.parse().ok().filter(|&n| n > 0)?),
                None => SynWindow::Exact(w.parse().ok()?),
            },
        };
        let scale = match scale {
            "*" => None,
            s => Some(s.parse::<u8>().ok().filter(|&s| s <= 14)?),
        };
        let layout = fields.next()?.to_ascii_lowercase();
        if layout.is_empty() || !layout.split(',').all(valid_layout_item) {
            return None;
        }
        Some(SynSignature { initial_ttl, window, scale, layout: layout.into() })
    }

    /// Wildcards make a signature vaguer: the exact one is tried first.
    fn vagueness(&self) -> u8 {
        let window = match self.window {
            SynWindow::Exact(_) => 0,
            SynWindow::MssTimes(_) => 1,
            SynWindow::Any => 2,
        };
        window * 2 + u8::from(self.scale.is_none())
    }

    /// Whether `syn`, whose options are laid out as `layout` says
    /// ([`crate::hosts::evidence::syn_layout`]), fits.
    pub fn fits(&self, syn: &SynInfo, layout: &str) -> bool {
        let window = match self.window {
            SynWindow::Exact(w) => syn.window == w,
            SynWindow::MssTimes(n) => syn.mss.is_some_and(|m| u32::from(m) * u32::from(n) == u32::from(syn.window)),
            SynWindow::Any => true,
        };
        initial_ttl(syn.ttl) == self.initial_ttl
            && window
            && self.scale.is_none_or(|s| s == syn.window_scale.unwrap_or(0))
            && *self.layout == *layout
    }
}

impl std::fmt::Display for SynSignature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:", self.initial_ttl)?;
        match self.window {
            SynWindow::Exact(w) => write!(f, "{w}")?,
            SynWindow::MssTimes(n) => write!(f, "mss*{n}")?,
            SynWindow::Any => f.write_str("*")?,
        }
        match self.scale {
            Some(s) => write!(f, ",{s}:{}", self.layout),
            None => write!(f, ",*:{}", self.layout),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syn_signatures_parse_in_p0f_notation_and_refuse_the_rest() {
        let sig = SynSignature::parse("64:mss*44,3:mss,sok,ts,nop,ws").unwrap();
        assert_eq!(sig.to_string(), "64:mss*44,3:mss,sok,ts,nop,ws");
        assert_eq!(SynSignature::parse("128:*,*:MSS,nop,nop,sok").unwrap().to_string(), "128:*,*:mss,nop,nop,sok");
        for bad in ["63:*,*:mss", "64:65535:mss", "64:mss*0,1:mss", "64:*,15:mss", "64:*,*:mss,wat", "64:*,*:", "64"] {
            assert!(SynSignature::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn initial_ttls_round_up() {
        assert_eq!([1, 32, 33, 52, 64, 65, 128, 129, 255].map(initial_ttl), [32, 32, 64, 64, 64, 128, 128, 255, 255]);
    }
}
