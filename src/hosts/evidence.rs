//! From a host fact to the evidence it gives, by the device signatures.

use std::fmt::Write as _;

use super::device::{DeviceKind, Evidence, Source};
use crate::classify::rules::Rules;
use crate::classify::signatures::devices::{DeviceEntryId, DeviceMatch, Key, fingerprint_text};
use crate::decode::SynInfo;
use crate::inspect::HostFact;
use crate::mac::Mac;

/// Longest observation kept as the evidence's `seen`.
const MAX_SEEN: usize = 160;

/// How strongly each kind of evidence speaks, 0-100 (README, "Devices").
pub(crate) mod strength {
    /// A vendor's own discovery protocol answered (SADP, DHIP).
    pub const DISCOVERY: u8 = 90;
    /// A model the device announced (mDNS `model=`).
    pub const MDNS_MODEL: u8 = 80;
    /// The manufacturer an ONVIF device names in its scopes.
    pub const ONVIF_NAME: u8 = 70;
    /// The IEEE assignment of a globally administered MAC.
    pub const OUI: u8 = 70;
    /// A DNS-SD service type only one vendor's devices offer.
    pub const MDNS_SERVICE: u8 = 60;
    /// A token of an SSDP `SERVER` header.
    pub const SSDP_SERVER: u8 = 60;
    /// A token of an HTTP response's `Server` header.
    pub const HTTP_SERVER: u8 = 60;
    /// A token of a client's User-Agent.
    pub const USER_AGENT: u8 = 50;
    /// A DHCP vendor class or parameter request list: software as much as
    /// hardware.
    pub const DHCP: u8 = 40;
    /// An ONVIF video transmitter, by the protocol alone: a camera of
    /// anyone's.
    pub const ONVIF_TYPE: u8 = 30;
    /// A SYN's fingerprint: any stack can be tuned to look like another.
    pub const TCP_SYN: u8 = 10;
}

fn clip(s: &str) -> Box<str> {
    crate::classify::names::truncated(s, MAX_SEEN).into()
}

/// The evidence a signature entry gives for something seen.
fn from_entry(rules: &Rules, source: Source, seen: &str, entry: DeviceEntryId, strength: u8) -> Evidence {
    let e = rules.signatures.devices.entry(entry);
    let vendor = e.hardware.then(|| rules.signatures.vendor(e.vendor).id.clone());
    Evidence {
        source,
        seen: clip(seen),
        vendor,
        banned: e.hardware && rules.is_banned(e.vendor),
        kind: e.kind,
        model: None,
        os: e.os.clone(),
        strength,
        signature: Some(format!("{}:{}", e.file, e.line).into()),
        seen_ns: 0,
    }
}

fn matched(
    rules: &Rules,
    source: Source,
    key: Key,
    text: &str,
    seen: impl FnOnce(&str) -> String,
    strength: u8,
) -> Option<Evidence> {
    let DeviceMatch { entry, .. } = rules.signatures.devices.lookup(key, text)?;
    Some(from_entry(rules, source, &seen(text), entry, strength))
}

/// Percent-decoding of an ONVIF scope value (`HIKVISION%20DS-2CD`).
fn percent_decoded(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The evidence in a host fact, if any signature (or the protocol itself)
/// makes it say something.
pub(crate) fn of_fact(rules: &Rules, fact: &HostFact<'_>) -> Vec<Evidence> {
    use strength as s;
    let one = |e: Option<Evidence>| e.into_iter().collect();
    match *fact {
        HostFact::Hostname(_) | HostFact::Address(_) => Vec::new(),
        HostFact::DhcpVendorClass(class) => {
            one(matched(rules, Source::Dhcp, Key::DhcpVendorClass, class, |t| format!("vendor class {t:?}"), s::DHCP))
        }
        HostFact::DhcpRequestList(codes) => {
            let text = fingerprint_text(codes);
            one(matched(rules, Source::Dhcp, Key::DhcpFingerprint, &text, |t| format!("option 55 {t}"), s::DHCP))
        }
        HostFact::MdnsService(service) => {
            one(matched(rules, Source::Mdns, Key::MdnsService, service, |t| format!("service {t}"), s::MDNS_SERVICE))
        }
        HostFact::MdnsModel(model) => {
            let found = matched(rules, Source::Mdns, Key::MdnsModel, model, |t| format!("model={t}"), s::MDNS_MODEL);
            one(found.map(|e| Evidence { model: Some(clip(model)), ..e }))
        }
        HostFact::SsdpServer(server) => {
            one(matched(rules, Source::Ssdp, Key::SsdpServer, server, |t| format!("SERVER: {t}"), s::SSDP_SERVER))
        }
        HostFact::WsDiscovery { types, scopes } => {
            let mut out = Vec::new();
            let hardware = proto::discovery::onvif_scope(scopes, "hardware").map(percent_decoded);
            let name = proto::discovery::onvif_scope(scopes, "name").map(percent_decoded);
            let named = [name.as_deref(), hardware.as_deref()].into_iter().flatten().find_map(|n| {
                matched(rules, Source::WsDiscovery, Key::OnvifName, n, |t| format!("ONVIF scope {t:?}"), s::ONVIF_NAME)
            });
            out.extend(named.map(|e| Evidence { model: hardware.as_deref().map(clip), ..e }));
            // ONVIF Core Specification 7.3.2.2: the device type a video
            // transmitter (a camera, or an encoder in front of one) answers.
            if types.split_ascii_whitespace().any(|t| t.ends_with(":NetworkVideoTransmitter")) {
                out.push(Evidence {
                    source: Source::WsDiscovery,
                    seen: "type NetworkVideoTransmitter".into(),
                    vendor: None,
                    banned: false,
                    kind: Some(DeviceKind::Camera),
                    model: hardware.as_deref().map(clip),
                    os: None,
                    strength: s::ONVIF_TYPE,
                    signature: None,
                    seen_ns: 0,
                });
            }
            out
        }
        HostFact::Sadp { model } => one(discovery(rules, "sadp", Source::Sadp, model)),
        HostFact::Dhip { model, vendor } => {
            let mut e = discovery(rules, "dhip", Source::Dhip, model);
            if let (Some(e), Some(v)) = (e.as_mut(), vendor) {
                e.seen = clip(&format!("DeviceType {model:?}, Vendor {v:?}"));
            }
            one(e)
        }
        HostFact::UserAgent(ua) => one(matched(
            rules,
            Source::HttpUserAgent,
            Key::UserAgent,
            ua,
            |t| format!("User-Agent: {t}"),
            s::USER_AGENT,
        )),
        HostFact::HttpServer(server) => {
            one(matched(rules, Source::HttpServer, Key::HttpServer, server, |t| format!("Server: {t}"), s::HTTP_SERVER))
        }
    }
}

/// A vendor's own discovery protocol answered: the vendor's device, its
/// kind by the model's prefix when a signature lists it.
fn discovery(rules: &Rules, protocol: &str, source: Source, model: &str) -> Option<Evidence> {
    let devices = &rules.signatures.devices;
    let owner = devices.discovery_owner(protocol)?;
    let by_model = devices
        .lookup(Key::DiscoveryModel, model)
        .filter(|m| devices.entry(m.entry).vendor == devices.entry(owner).vendor)
        .map(|m| m.entry);
    let entry = by_model.unwrap_or(owner);
    let e = from_entry(rules, source, &format!("{protocol} model {model:?}"), entry, strength::DISCOVERY);
    Some(Evidence { model: Some(clip(model)), ..e })
}

/// A SYN's option layout as p0f writes it: `mss,nop,ws,nop,nop,ts,sok,eol+1`;
/// a layout cut short ends in `...`, which no signature matches.
pub fn syn_layout(syn: &SynInfo) -> String {
    use wire::tcp;
    let mut out = String::new();
    for (i, &kind) in syn.option_kinds().iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match kind {
            tcp::OPT_EOL => {
                let _ = write!(out, "eol+{}", syn.eol_padding);
            }
            tcp::OPT_NOP => out.push_str("nop"),
            tcp::OPT_MSS => out.push_str("mss"),
            tcp::OPT_WINDOW_SCALE => out.push_str("ws"),
            tcp::OPT_SACK_PERMITTED => out.push_str("sok"),
            tcp::OPT_SACK => out.push_str("sack"),
            tcp::OPT_TIMESTAMPS => out.push_str("ts"),
            other => {
                let _ = write!(out, "?{other}");
            }
        }
    }
    if syn.options_cut {
        out.push_str(",...");
    }
    out
}

/// What a SYN's TCP/IP fields say of the sender's OS, by the SYN
/// signatures: a weak hint, as any stack can be tuned to look like another.
pub(crate) fn of_syn(rules: &Rules, syn: &SynInfo) -> Option<Evidence> {
    let layout = syn_layout(syn);
    let entry = rules.signatures.devices.lookup_syn(syn, &layout)?;
    let mut seen = format!("SYN ttl {} window {}", syn.ttl, syn.window);
    if let Some(scale) = syn.window_scale {
        let _ = write!(seen, " scale {scale}");
    }
    if let Some(mss) = syn.mss {
        let _ = write!(seen, " mss {mss}");
    }
    let _ = write!(seen, " options {layout}");
    Some(from_entry(rules, Source::TcpSyn, &seen, entry, strength::TCP_SYN))
}

/// What a MAC's OUI says: nothing for a locally administered address
/// (randomised, or set by software), whatever its other bits spell.
pub(crate) fn of_mac(rules: &Rules, mac: [u8; 6]) -> Option<Evidence> {
    if is_locally_administered(mac) || is_multicast(mac) {
        return None;
    }
    let entry = rules.signatures.devices.lookup_oui(mac)?;
    let seen = format!("OUI {}", Mac(mac).oui());
    Some(from_entry(rules, Source::Oui, &seen, entry, strength::OUI))
}

/// The U/L bit (IEEE 802-2014, 8.2.2): set by whoever chose the address,
/// not assigned by the IEEE.
pub(crate) fn is_locally_administered(mac: [u8; 6]) -> bool {
    mac[0] & 0x02 != 0
}

/// The I/G bit: a group (multicast or broadcast) address, which no device
/// sends from.
pub(crate) fn is_multicast(mac: [u8; 6]) -> bool {
    mac[0] & 0x01 != 0
}
