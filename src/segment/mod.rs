//! Segments: which part of the network a flow belongs to, and the policy
//! (which vendors are banned) that labels its counters.
//!
//! A flow belongs to the segment of its client; if the client matches none,
//! to the segment of its server; else to `unassigned`. Within a side the
//! longest matching prefix wins, then a VLAN tag of the frame, then the
//! outer encapsulation's id (VXLAN/Geneve VNI, ERSPAN session), then the
//! capture interface.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use hashbrown::HashMap;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use prefix_trie::PrefixMap;
use serde::Deserialize;
use toml::Spanned;

use crate::decode::Vlans;
use crate::diag::Diagnostic;
use crate::text_lines::LineIndex;

/// The segment of flows whose ends match no configured segment (and no
/// automatic one).
pub const UNASSIGNED: &str = "unassigned";
/// Without a config, each private /16 (IPv4) or /48 (IPv6 ULA) becomes its
/// own segment, up to this many; the rest share one, so the label set stays
/// bounded whatever the traffic.
pub const MAX_AUTO_SEGMENTS: usize = 64;
/// The automatic segment shared by the private networks seen after the
/// first [`MAX_AUTO_SEGMENTS`].
pub const AUTO_OVERFLOW: &str = "private-other";

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ConfigDoc {
    #[serde(default)]
    segment: Vec<Spanned<SegmentDoc>>,
    #[serde(default)]
    policy: PolicyDoc,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SegmentDoc {
    name: Spanned<String>,
    #[serde(default)]
    cidrs: Vec<Spanned<String>>,
    #[serde(default)]
    vlans: Vec<Spanned<u16>>,
    #[serde(default)]
    interfaces: Vec<Spanned<String>>,
    /// VXLAN/Geneve network identifiers of the outer encapsulation.
    #[serde(default)]
    vnis: Vec<Spanned<u32>>,
    /// ERSPAN session ids of the outer encapsulation.
    #[serde(default)]
    erspan_sessions: Vec<Spanned<u32>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PolicyDoc {
    #[serde(default)]
    banned: Vec<Spanned<String>>,
}

/// A parsed `--config` file.
#[derive(Debug, Default)]
pub struct Config {
    /// The configured segments (or the automatic ones without a file).
    pub segments: Segments,
    /// Banned vendor ids, with the line each was named on for validation.
    pub banned: Vec<(String, usize)>,
    /// The file the config was read from; `None` for
    /// [`Config::default_auto`].
    pub file: Option<PathBuf>,
}

impl Config {
    /// Reads and parses the config file at `path`.
    pub fn load(path: &Path) -> Result<Config, Diagnostic> {
        let text =
            std::fs::read_to_string(path).map_err(|e| Diagnostic::whole_file(path, format!("cannot read: {e}")))?;
        Config::parse(path, &text)
    }

    /// Parses `text` as the config file `path` (named in diagnostics).
    /// Banned vendors are checked against the signatures later, by
    /// [`crate::classify::rules::Rules::new`].
    pub fn parse(path: &Path, text: &str) -> Result<Config, Diagnostic> {
        let lines = LineIndex::new(text);
        let err = |line, message: String| Diagnostic::new(path, line, message);
        let doc: ConfigDoc = toml::from_str(text)
            .map_err(|e| err(e.span().map_or(0, |s| lines.line(s.start)), e.message().trim().to_owned()))?;
        let mut segments = Segments { names: vec![Arc::from(UNASSIGNED)], auto: None, ..Segments::default() };
        for seg in doc.segment {
            let seg_line = lines.line(seg.span().start);
            let seg = seg.into_inner();
            let name = seg.name.get_ref();
            let valid = !name.is_empty()
                && name.len() <= 64
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
            if !valid {
                return Err(err(
                    lines.line(seg.name.span().start),
                    format!("segment name {name:?} must be 1-64 letters, digits, '-', '_' or '.'"),
                ));
            }
            if segments.names.iter().any(|n| &**n == name.as_str()) {
                return Err(err(lines.line(seg.name.span().start), format!("segment {name:?} is defined twice")));
            }
            if seg.cidrs.is_empty()
                && seg.vlans.is_empty()
                && seg.interfaces.is_empty()
                && seg.vnis.is_empty()
                && seg.erspan_sessions.is_empty()
            {
                return Err(err(
                    seg_line,
                    format!("segment {name:?} needs cidrs, vlans, interfaces, vnis or erspan_sessions"),
                ));
            }
            let id = segments.names.len();
            segments.names.push(Arc::from(name.as_str()));
            for cidr in &seg.cidrs {
                let at = lines.line(cidr.span().start);
                let net: IpNet = cidr
                    .get_ref()
                    .parse()
                    .map_err(|_| err(at, format!("{:?} is not a CIDR prefix", cidr.get_ref())))?;
                // As the signature loader says: a typo in the prefix length
                // or the address would silently cover another network.
                if net.trunc() != net {
                    return Err(err(at, format!("{net} has host bits set (did you mean {}?)", net.trunc())));
                }
                let previous = match net {
                    IpNet::V4(n) => segments.v4.insert(n, id),
                    IpNet::V6(n) => segments.v6.insert(n, id),
                };
                if let Some(other) = previous {
                    return Err(err(at, format!("{net} is already in segment {:?}", segments.names[other])));
                }
            }
            for vlan in &seg.vlans {
                let at = lines.line(vlan.span().start);
                if *vlan.get_ref() > 4095 {
                    return Err(err(at, format!("VLAN id {} is out of range 0-4095", vlan.get_ref())));
                }
                if let Some(other) = segments.vlans.insert(*vlan.get_ref(), id) {
                    return Err(err(
                        at,
                        format!("VLAN {} is already in segment {:?}", vlan.get_ref(), segments.names[other]),
                    ));
                }
            }
            for iface in seg.interfaces {
                let at = lines.line(iface.span().start);
                let iface = iface.into_inner();
                if let Some(&other) = segments.interfaces.get(&iface) {
                    return Err(err(
                        at,
                        format!("interface {iface:?} is already in segment {:?}", segments.names[other]),
                    ));
                }
                segments.interfaces.insert(iface, id);
            }
            for (ids, kind) in [(&seg.vnis, TunnelKind::Vni), (&seg.erspan_sessions, TunnelKind::ErspanSession)] {
                for tid in ids {
                    let at = lines.line(tid.span().start);
                    let limit = if kind == TunnelKind::Vni { 0x00ff_ffff } else { 0x03ff };
                    if *tid.get_ref() > limit {
                        return Err(err(at, format!("{} {} is out of range 0-{limit}", kind.key(), tid.get_ref())));
                    }
                    if let Some(other) = segments.tunnels.insert(TunnelId { kind, id: *tid.get_ref() }, id) {
                        return Err(err(
                            at,
                            format!(
                                "{} {} is already in segment {:?}",
                                kind.key(),
                                tid.get_ref(),
                                segments.names[other]
                            ),
                        ));
                    }
                }
            }
        }
        let banned = doc.policy.banned.iter().map(|b| (b.get_ref().clone(), lines.line(b.span().start))).collect();
        Ok(Config { segments, banned, file: Some(path.to_owned()) })
    }

    /// The configuration used without `--config`: automatic private segments,
    /// nothing banned.
    pub fn default_auto() -> Config {
        Config {
            segments: Segments {
                names: vec![Arc::from(UNASSIGNED)],
                auto: Some(AutoSegments::default()),
                ..Segments::default()
            },
            banned: Vec::new(),
            file: None,
        }
    }
}

/// The automatic segments met so far, shared by every worker without a
/// lock: a new flow reads up to [`MAX_AUTO_SEGMENTS`] atomics, and only the
/// first sight of a network writes one (a compare-and-swap on a free slot).
/// The name is a function of the network, so no worker waits for another's.
#[derive(Debug)]
struct AutoSegments {
    /// Encoded [`AutoKey`]s in the order first seen; 0 is a free slot.
    keys: [AtomicU64; MAX_AUTO_SEGMENTS],
    names: [OnceLock<Arc<str>>; MAX_AUTO_SEGMENTS],
    overflow: Arc<str>,
}

impl Default for AutoSegments {
    fn default() -> Self {
        AutoSegments {
            keys: std::array::from_fn(|_| AtomicU64::new(0)),
            names: std::array::from_fn(|_| OnceLock::new()),
            overflow: Arc::from(AUTO_OVERFLOW),
        }
    }
}

impl AutoSegments {
    /// The segment of a private network: its own while fewer than
    /// [`MAX_AUTO_SEGMENTS`] networks were seen before it, else the overflow.
    fn segment(&self, key: AutoKey) -> Arc<str> {
        let code = key.code();
        for (slot, name) in self.keys.iter().zip(&self.names) {
            let found = match slot.load(Ordering::Acquire) {
                0 => match slot.compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => true,
                    // Another worker took the slot; it may have been for this network.
                    Err(other) => other == code,
                },
                other => other == code,
            };
            if found {
                return name.get_or_init(|| Arc::from(auto_name(key))).clone();
            }
        }
        self.overflow.clone()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum AutoKey {
    V4([u8; 2]),
    V6([u16; 3]),
}

impl AutoKey {
    /// A nonzero number per key (the tag bit keeps 0 for a free slot).
    fn code(self) -> u64 {
        match self {
            AutoKey::V4([a, b]) => (1 << 48) | (u64::from(a) << 8) | u64::from(b),
            AutoKey::V6([a, b, c]) => (2 << 48) | (u64::from(a) << 32) | (u64::from(b) << 16) | u64::from(c),
        }
    }
}

/// Which kind of encapsulation id a segment can be defined by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TunnelKind {
    /// VXLAN or Geneve VNI.
    Vni,
    /// ERSPAN session id.
    ErspanSession,
}

impl TunnelKind {
    fn key(self) -> &'static str {
        match self {
            TunnelKind::Vni => "vni",
            TunnelKind::ErspanSession => "erspan session",
        }
    }
}

/// The outer encapsulation id of a frame, for segment placement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TunnelId {
    /// Which encapsulation the id is from.
    pub kind: TunnelKind,
    /// The VNI (24 bits) or ERSPAN session id (10 bits).
    pub id: u32,
}

/// The segment a flow was placed in, and which of its ends is the
/// segment's host (traffic from it is `out`).
#[derive(Debug, Clone)]
pub struct Placement {
    /// The segment's name ([`UNASSIGNED`] when none matched).
    pub segment: Arc<str>,
    /// Whether the flow's client is the segment's host; false when only
    /// the server matched, or when a VLAN, tunnel or interface placed a
    /// flow from a public client to a private server.
    pub host_is_client: bool,
}

/// Segment definitions and the lookup tables over them.
#[derive(Debug, Default)]
pub struct Segments {
    names: Vec<Arc<str>>,
    v4: PrefixMap<Ipv4Net, usize>,
    v6: PrefixMap<Ipv6Net, usize>,
    vlans: HashMap<u16, usize>,
    interfaces: HashMap<String, usize>,
    tunnels: HashMap<TunnelId, usize>,
    auto: Option<AutoSegments>,
}

impl Segments {
    /// Configured segment names (without `unassigned` and automatic ones).
    pub fn configured_names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().skip(1).map(|n| &**n)
    }

    fn by_prefix(&self, addr: IpAddr) -> Option<usize> {
        match addr {
            IpAddr::V4(a) => self.v4.get_lpm(&Ipv4Net::from(a)).map(|(_, &i)| i),
            IpAddr::V6(a) => self.v6.get_lpm(&Ipv6Net::from(a)).map(|(_, &i)| i),
        }
    }

    /// Places a flow; called once per new flow, never per packet.
    pub fn place(
        &self,
        client: IpAddr,
        server: IpAddr,
        vlans: &Vlans,
        tunnel: Option<TunnelId>,
        interface: Option<&str>,
    ) -> Placement {
        let found = |i: usize, host_is_client| Placement { segment: self.names[i].clone(), host_is_client };
        if let Some(i) = self.by_prefix(client) {
            return found(i, true);
        }
        // A VLAN, tunnel or port says where the flow was seen, not which end
        // lives there: an outside client connecting in makes the private
        // server the segment's host.
        let host_is_client = !(auto_key(client).is_none() && auto_key(server).is_some());
        if let Some(&i) = vlans.as_slice().iter().find_map(|v| self.vlans.get(v)) {
            return found(i, host_is_client);
        }
        if let Some(&i) = tunnel.and_then(|t| self.tunnels.get(&t)) {
            return found(i, host_is_client);
        }
        if let Some(&i) = interface.and_then(|name| self.interfaces.get(name)) {
            return found(i, host_is_client);
        }
        if let Some(i) = self.by_prefix(server) {
            return found(i, false);
        }
        if let Some(auto) = &self.auto {
            for (addr, host_is_client) in [(client, true), (server, false)] {
                if let Some(key) = auto_key(addr) {
                    return Placement { segment: auto.segment(key), host_is_client };
                }
            }
        }
        found(0, true)
    }
}

/// Private, CGNAT and unique-local networks, at the granularity of one site.
fn auto_key(addr: IpAddr) -> Option<AutoKey> {
    match addr {
        IpAddr::V4(a) => {
            let o = a.octets();
            let private = o[0] == 10
                || (o[0] == 172 && (16..32).contains(&o[1]))
                || (o[0] == 192 && o[1] == 168)
                || (o[0] == 100 && (64..128).contains(&o[1]));
            private.then_some(AutoKey::V4([o[0], o[1]]))
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            (s[0] & 0xfe00 == 0xfc00).then_some(AutoKey::V6([s[0], s[1], s[2]]))
        }
    }
}

/// Automatic segment names describe the network without being an address,
/// so no metric label ever holds one.
fn auto_name(key: AutoKey) -> String {
    match key {
        AutoKey::V4([a, b]) => format!("net-{a}-{b}"),
        AutoKey::V6([a, b, c]) => format!("net-{a:x}-{b:x}-{c:x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"
[[segment]]
name = "hq"
cidrs = ["10.10.0.0/16", "2001:db8:10::/48"]

[[segment]]
name = "hq-voice"
cidrs = ["10.10.5.0/24"]

[[segment]]
name = "lab"
vlans = [30]

[policy]
banned = ["apple"]
"#;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn client_prefix_then_vlan_then_server_then_unassigned() {
        let c = Config::parse(Path::new("c.toml"), CONFIG).unwrap();
        let none = Vlans::default();
        let s = &c.segments;
        let p = s.place(ip("10.10.5.9"), ip("17.1.1.1"), &none, None, None);
        assert_eq!((&*p.segment, p.host_is_client), ("hq-voice", true));
        assert_eq!(&*s.place(ip("10.10.6.9"), ip("17.1.1.1"), &none, None, None).segment, "hq");
        assert_eq!(&*s.place(ip("2001:db8:10::5"), ip("2620:149::1"), &none, None, None).segment, "hq");
        let p = s.place(ip("17.1.1.1"), ip("10.10.1.1"), &none, None, None);
        assert_eq!((&*p.segment, p.host_is_client), ("hq", false));
        assert_eq!(&*s.place(ip("192.0.2.1"), ip("17.1.1.1"), &none, None, None).segment, UNASSIGNED);
        assert_eq!(c.banned, vec![("apple".to_owned(), 15)]);
    }

    #[test]
    fn tunnel_ids_and_interfaces_place_flows() {
        let text = "[[segment]]\nname = \"dc\"\nvnis = [5001]\n[[segment]]\nname = \"span\"\nerspan_sessions = [7]\ninterfaces = [\"eth2\"]\n";
        let c = Config::parse(Path::new("t.toml"), text).unwrap();
        let none = Vlans::default();
        let (a, b) = (ip("192.0.2.1"), ip("198.51.100.1"));
        let vni = Some(TunnelId { kind: TunnelKind::Vni, id: 5001 });
        assert_eq!(&*c.segments.place(a, b, &none, vni, None).segment, "dc");
        let erspan = Some(TunnelId { kind: TunnelKind::ErspanSession, id: 7 });
        assert_eq!(&*c.segments.place(a, b, &none, erspan, None).segment, "span");
        assert_eq!(&*c.segments.place(a, b, &none, None, Some("eth2")).segment, "span");
        let inbound = c.segments.place(ip("198.51.100.9"), ip("10.30.0.5"), &none, erspan, None);
        assert_eq!((&*inbound.segment, inbound.host_is_client), ("span", false), "the private end is the host");
        assert_eq!(
            &*c.segments.place(a, b, &none, Some(TunnelId { kind: TunnelKind::Vni, id: 7 }), None).segment,
            UNASSIGNED
        );
        let e = Config::parse(Path::new("t.toml"), "[[segment]]\nname = \"x\"\nvnis = [16777216]\n").unwrap_err();
        assert_eq!(e.line, 3);
    }

    #[test]
    fn errors_name_the_line() {
        let bad = "[[segment]]\nname = \"hq\"\ncidrs = [\"10.10.0.0/16\", \"not-a-net\"]\n";
        let e = Config::parse(Path::new("site.toml"), bad).unwrap_err();
        assert_eq!(e.to_string(), "site.toml:3: \"not-a-net\" is not a CIDR prefix");
        let e = Config::parse(Path::new("site.toml"), "[[segment]]\nname = \"a\"\nvlans = [5000]\n").unwrap_err();
        assert_eq!(e.line, 3);
        let e = Config::parse(Path::new("site.toml"), "[polcy]\n").unwrap_err();
        assert_eq!(e.line, 1, "{e}");
    }

    #[test]
    fn host_bits_in_a_cidr_are_an_error() {
        let bad = "[[segment]]\nname = \"hq\"\ncidrs = [\"10.10.0.0/16\",\n  \"10.20.1.1/16\"]\n";
        let e = Config::parse(Path::new("site.toml"), bad).unwrap_err();
        assert_eq!(e.to_string(), "site.toml:4: 10.20.1.1/16 has host bits set (did you mean 10.20.0.0/16?)");
        let v6 = "[[segment]]\nname = \"hq\"\ncidrs = [\"fd00:10::1/48\"]\n";
        assert_eq!(Config::parse(Path::new("s.toml"), v6).unwrap_err().line, 3);
        let host = "[[segment]]\nname = \"hq\"\ncidrs = [\"10.20.1.1/32\", \"fd00::1/128\"]\n";
        assert!(Config::parse(Path::new("s.toml"), host).is_ok(), "a host route has no host bits");
    }

    #[test]
    fn one_interface_in_two_segments_is_an_error() {
        let bad = "[[segment]]\nname = \"a\"\ninterfaces = [\"eth1\"]\n\n[[segment]]\nname = \"b\"\ninterfaces = [\"eth2\", \"eth1\"]\n";
        let e = Config::parse(Path::new("site.toml"), bad).unwrap_err();
        assert_eq!(e.to_string(), "site.toml:7: interface \"eth1\" is already in segment \"a\"");
        let twice = "[[segment]]\nname = \"a\"\ninterfaces = [\"eth1\", \"eth1\"]\n";
        assert_eq!(Config::parse(Path::new("s.toml"), twice).unwrap_err().line, 3);
    }

    #[test]
    fn automatic_segments_are_bounded_and_never_addresses() {
        let c = Config::default_auto();
        let none = Vlans::default();
        let p = c.segments.place(ip("192.168.1.20"), ip("17.1.1.1"), &none, None, None);
        assert_eq!(&*p.segment, "net-192-168");
        assert_eq!(
            &*c.segments.place(ip("fd12:3456:789a::1"), ip("17.1.1.1"), &none, None, None).segment,
            "net-fd12-3456-789a"
        );
        assert_eq!(&*c.segments.place(ip("8.8.8.8"), ip("1.1.1.1"), &none, None, None).segment, UNASSIGNED);
        for b in 0..=255u8 {
            c.segments.place(IpAddr::from([10, b, 0, 1]), ip("17.1.1.1"), &none, None, None);
        }
        assert_eq!(&*c.segments.place(ip("10.255.0.1"), ip("17.1.1.1"), &none, None, None).segment, AUTO_OVERFLOW);
    }

    #[test]
    fn workers_placing_at_once_agree_on_the_automatic_segments() {
        let c = Config::default_auto();
        let none = Vlans::default();
        // Four workers meet 100 networks in different orders.
        let seen: Vec<Vec<(u8, Arc<str>)>> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..4u8)
                .map(|w| {
                    let segments = &c.segments;
                    scope.spawn(move || {
                        (0..100u8)
                            .map(|i| {
                                let b = i.wrapping_mul(37).wrapping_add(w.wrapping_mul(61)) % 100;
                                let p = segments.place(IpAddr::from([10, b, 0, 1]), ip("17.1.1.1"), &none, None, None);
                                (b, p.segment)
                            })
                            .collect()
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        let mut by_net: HashMap<u8, Arc<str>> = HashMap::new();
        for (b, segment) in seen.into_iter().flatten() {
            let first = by_net.entry(b).or_insert_with(|| segment.clone());
            assert_eq!(*first, segment, "10.{b}/16 got two segments");
        }
        let own = by_net.iter().filter(|(_, s)| &***s != AUTO_OVERFLOW).count();
        assert_eq!(own, MAX_AUTO_SEGMENTS, "exactly the bound get their own segment");
        for (b, segment) in &by_net {
            assert!(&**segment == AUTO_OVERFLOW || **segment == *format!("net-10-{b}"), "{segment}");
        }
    }
}
