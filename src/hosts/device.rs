//! Devices: what the evidence about a host says it is. Each piece of
//! evidence keeps what was seen, what it says (vendor, kind, model, OS),
//! how strongly and which signature said so; [`infer`] picks one vendor
//! and keeps the evidence that disagrees.

use serde::Serialize;

/// What a device is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// A smartphone.
    Phone,
    /// A tablet.
    Tablet,
    /// A desktop or laptop computer.
    Computer,
    /// An IP camera (an ONVIF video transmitter, a vendor's camera model).
    Camera,
    /// A network video recorder (NVR, DVR).
    Recorder,
    /// A router, access point or other network equipment.
    Router,
    /// A television or streaming player.
    Tv,
    /// A smart speaker.
    Speaker,
    /// A drone or its controller.
    Drone,
    /// Anything else, and devices no evidence gives a kind.
    Other,
}

impl DeviceKind {
    /// Every kind, in the order of their labels' documentation.
    pub const ALL: [DeviceKind; 10] = [
        DeviceKind::Phone,
        DeviceKind::Tablet,
        DeviceKind::Computer,
        DeviceKind::Camera,
        DeviceKind::Recorder,
        DeviceKind::Router,
        DeviceKind::Tv,
        DeviceKind::Speaker,
        DeviceKind::Drone,
        DeviceKind::Other,
    ];

    /// The kind's label value (`phone`, `tv`, ...), as metrics, JSON and
    /// signature files spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Phone => "phone",
            DeviceKind::Tablet => "tablet",
            DeviceKind::Computer => "computer",
            DeviceKind::Camera => "camera",
            DeviceKind::Recorder => "recorder",
            DeviceKind::Router => "router",
            DeviceKind::Tv => "tv",
            DeviceKind::Speaker => "speaker",
            DeviceKind::Drone => "drone",
            DeviceKind::Other => "other",
        }
    }

    /// The kind a label value names; `None` for an unknown one.
    pub fn parse(s: &str) -> Option<DeviceKind> {
        DeviceKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Where a piece of evidence comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A DHCPv4/v6 vendor class or DHCPv4 parameter request list.
    Dhcp,
    /// An mDNS responder's TXT model or DNS-SD service type.
    Mdns,
    /// A token of an SSDP `SERVER` header.
    Ssdp,
    /// The manufacturer or type in an ONVIF device's WS-Discovery scopes.
    WsDiscovery,
    /// A Hikvision SADP answer.
    Sadp,
    /// A Dahua DHIP announcement.
    Dhip,
    /// A token of a client's HTTP User-Agent.
    HttpUserAgent,
    /// A token of an HTTP response's `Server` header.
    HttpServer,
    /// The IEEE assignment of a globally administered MAC.
    Oui,
    /// A TCP SYN's fingerprint (initial TTL, window, options), in p0f's
    /// notation.
    TcpSyn,
}

impl Source {
    /// The source's name in the device records (`dhcp`, `ws_discovery`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Dhcp => "dhcp",
            Source::Mdns => "mdns",
            Source::Ssdp => "ssdp",
            Source::WsDiscovery => "ws_discovery",
            Source::Sadp => "sadp",
            Source::Dhip => "dhip",
            Source::HttpUserAgent => "http_user_agent",
            Source::HttpServer => "http_server",
            Source::Oui => "oui",
            Source::TcpSyn => "tcp_syn",
        }
    }
}

/// One thing seen about a device and what it says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// Which protocol or table it was read from.
    pub source: Source,
    /// What was seen, e.g. `option 60 "MSFT 5.0"` or `model=iPhone15,2`.
    pub seen: Box<str>,
    /// The vendor it names (its id), if any.
    pub vendor: Option<Box<str>>,
    /// Whether the policy bans that vendor.
    #[serde(skip)]
    pub banned: bool,
    /// The kind of device it says, if it says one.
    pub kind: Option<DeviceKind>,
    /// The model it names (`iPhone15,2`, `MacBookPro18,3`), if any.
    pub model: Option<Box<str>>,
    /// The operating system it names (`Windows`, `iOS`), if any.
    pub os: Option<Box<str>>,
    /// How much it counts: 0 to 100 (see README, "Devices").
    pub strength: u8,
    /// The signature entry behind it, as `file:line`; none for what the
    /// protocol itself says (an ONVIF video transmitter is a camera).
    pub signature: Option<Box<str>>,
    /// When it was first seen: evidence is listed in that order, whichever
    /// worker saw it and whenever that worker handed it over.
    #[serde(skip)]
    pub seen_ns: u64,
}

impl Evidence {
    /// The same observation: kept once.
    pub fn same(&self, other: &Evidence) -> bool {
        self.source == other.source && self.seen == other.seen
    }
}

/// What the evidence says, all told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inferred<'e> {
    /// The vendor whose evidence weighs most; `None` when no evidence
    /// names one.
    pub vendor: Option<&'e str>,
    /// Whether the policy bans that vendor.
    pub banned: bool,
    /// The kind the strongest agreeing evidence gives, else
    /// [`DeviceKind::Other`].
    pub kind: DeviceKind,
    /// The model the strongest agreeing evidence names, if any.
    pub model: Option<&'e str>,
    /// The OS the strongest agreeing evidence names, if any.
    pub os: Option<&'e str>,
}

/// One vendor per device: the vendor whose evidence weighs most, each
/// source counted once at its strongest (two DHCP messages are not twice
/// the proof); ties go to the vendor named first. Kind, model and OS come
/// from the strongest evidence that gives them and does not name another
/// vendor. Evidence for other vendors stays in the list: it is shown, never
/// averaged away.
pub fn infer(evidence: &[Evidence]) -> Inferred<'_> {
    /// One vendor's evidence: each source at its strongest.
    struct Score<'e> {
        vendor: &'e str,
        banned: bool,
        sources: Vec<(Source, u8)>,
    }
    let mut scores: Vec<Score<'_>> = Vec::new();
    for e in evidence {
        let Some(vendor) = e.vendor.as_deref() else { continue };
        let at = if let Some(i) = scores.iter().position(|s| s.vendor == vendor) {
            i
        } else {
            scores.push(Score { vendor, banned: e.banned, sources: Vec::new() });
            scores.len() - 1
        };
        let sources = &mut scores[at].sources;
        match sources.iter_mut().find(|(s, _)| *s == e.source) {
            Some((_, best)) => *best = (*best).max(e.strength),
            None => sources.push((e.source, e.strength)),
        }
    }
    let mut best: Option<(&str, bool, u32)> = None;
    for s in &scores {
        let score = s.sources.iter().map(|&(_, n)| u32::from(n)).sum::<u32>();
        if best.is_none_or(|(_, _, b)| score > b) {
            best = Some((s.vendor, s.banned, score));
        }
    }
    let vendor = best.map(|(v, _, _)| v);
    let agrees = |e: &&Evidence| e.vendor.is_none() || e.vendor.as_deref() == vendor;
    let strongest = |has: fn(&Evidence) -> bool| {
        let mut found: Option<&Evidence> = None;
        for e in evidence.iter().filter(agrees).filter(|e| has(e)) {
            if found.is_none_or(|f| e.strength > f.strength) {
                found = Some(e);
            }
        }
        found
    };
    Inferred {
        vendor,
        banned: best.is_some_and(|(_, b, _)| b),
        kind: strongest(|e| e.kind.is_some()).and_then(|e| e.kind).unwrap_or(DeviceKind::Other),
        model: strongest(|e| e.model.is_some()).and_then(|e| e.model.as_deref()),
        os: strongest(|e| e.os.is_some()).and_then(|e| e.os.as_deref()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(source: Source, vendor: Option<&str>, kind: Option<DeviceKind>, strength: u8) -> Evidence {
        Evidence {
            source,
            seen: format!("{source:?}{vendor:?}{strength}").into(),
            vendor: vendor.map(Into::into),
            banned: vendor == Some("hikvision"),
            kind,
            model: None,
            os: None,
            strength,
            signature: None,
            seen_ns: 0,
        }
    }

    #[test]
    fn one_vendor_by_weight_with_the_conflict_kept_out_of_kind() {
        let evidence = [
            e(Source::Oui, Some("huawei"), Some(DeviceKind::Router), 70),
            e(Source::Sadp, Some("hikvision"), Some(DeviceKind::Camera), 90),
            e(Source::HttpServer, Some("hikvision"), None, 60),
            e(Source::WsDiscovery, None, Some(DeviceKind::Camera), 30),
        ];
        let i = infer(&evidence);
        assert_eq!((i.vendor, i.banned, i.kind), (Some("hikvision"), true, DeviceKind::Camera));
    }

    #[test]
    fn a_source_counts_once_and_no_vendor_is_other() {
        let evidence = [
            e(Source::Dhcp, Some("apple"), None, 40),
            e(Source::Dhcp, Some("apple"), None, 40),
            e(Source::Oui, Some("samsung"), Some(DeviceKind::Phone), 70),
        ];
        let i = infer(&evidence);
        assert_eq!(i.vendor, Some("samsung"), "two DHCP messages are one source: 40 < 70");
        let none = infer(&[]);
        assert_eq!((none.vendor, none.kind), (None, DeviceKind::Other));
    }
}
