//! How one flow's evidence becomes its verdict: the address it was opened
//! to, what DNS taught its client, and what inspection found in it.
//! Evidence precedence is [`Verdict::offer`]'s; the exceptions (a name that
//! matches nothing, an ECH hello's outer name) are here.

use std::net::{IpAddr, SocketAddr};

use super::dns_cache::DnsCache;
use super::encrypted_dns::{self, EncryptedDns};
use super::names::truncated;
use super::rules::Rules;
use super::signatures::{EntryId, VendorId};
use super::verdict::{Evidence, Verdict};
use crate::inspect::FlowFinding;

/// The most of a User-Agent kept per flow: enough for every real agent's
/// product tokens, too little for a header flood to cost memory.
pub const MAX_USER_AGENT: usize = 256;
/// Names are at most 253 bytes (RFC 1035); ALPN ids at most 255.
const MAX_NAME: usize = 255;

/// The addresses and ports a flow's attribution depends on.
#[derive(Debug, Clone, Copy)]
pub struct FlowAddrs {
    /// The end that sent the flow's first packet.
    pub client: IpAddr,
    /// The other end, whose prefixes and names say the vendor.
    pub server: IpAddr,
    /// The server's port, for port rules.
    pub server_port: u16,
    /// IP protocol number.
    pub protocol: u8,
}

/// A flow's attribution and the evidence kept to redo it after a reload.
#[derive(Debug, Default)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "independent facts of one flow (a lookup, ECH, an ECH config, ...), each read on its own; no state machine"
)]
pub struct Attribution {
    /// The vendor verdict so far.
    pub verdict: Verdict,
    /// A DNS flow: it talks to a resolver, whoever runs it, so it never
    /// gets a vendor; `query` names the vendor it looked up.
    pub lookup: bool,
    /// The ClientHello carried an ECH extension.
    pub ech: bool,
    /// For DNS flows: an HTTPS/SVCB answer published an ECH configuration
    /// for the name looked up (it uses real ECH).
    pub ech_config: bool,
    /// DNS over TLS or HTTPS: the names it looks up are hidden.
    pub encrypted_dns: Option<EncryptedDns>,
    /// The name the client asked for (SNI/Host), matched or not, and where
    /// it was read.
    pub server_name: Option<(Box<str>, Evidence)>,
    /// For DNS flows: the vendor entry and name looked up.
    pub query: Option<(EntryId, Box<str>)>,
    /// The first protocol the client offered by ALPN.
    pub alpn: Option<Box<str>>,
    /// The client's HTTP User-Agent, cut to [`MAX_USER_AGENT`] bytes.
    pub user_agent: Option<Box<str>>,
    /// The SOFTWARE a STUN agent named.
    pub stun_software: Option<Box<str>>,
    /// The question of the DNS message being read names a vendor: its
    /// answers (always for that question) are learned without matching the
    /// name again for each record.
    question_is_vendors: bool,
    /// The vendor-specific STUN attribute types seen, the first few.
    stun_attributes: StunAttributes,
    /// The distinct transport addresses the flow's STUN messages carried,
    /// the first [`MAX_CALL_CANDIDATES`]; allocated only for such flows.
    call_candidates: Vec<SocketAddr>,
}

/// A client's checks carry its mapped address, a relay and a few peers.
const MAX_CALL_CANDIDATES: usize = 8;

/// The distinct vendor STUN attribute types of a flow: agents send the same
/// few in every check, so four cover them without a heap allocation.
#[derive(Debug, Default, Clone, Copy)]
struct StunAttributes {
    kinds: [u16; 4],
    len: u8,
}

impl StunAttributes {
    /// Whether `kind` is new (and kept, while there is room).
    fn add(&mut self, kind: u16) -> bool {
        if self.as_slice().contains(&kind) || usize::from(self.len) == self.kinds.len() {
            return false;
        }
        self.kinds[usize::from(self.len)] = kind;
        self.len += 1;
        true
    }

    fn as_slice(&self) -> &[u16] {
        &self.kinds[..usize::from(self.len)]
    }
}

/// What applying a finding asks of the caller beyond the attribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Nothing beyond the attribution itself.
    Nothing,
    /// A DNS query for a vendor's name: count it for the flow's segment.
    VendorQuery(VendorId),
    /// A call attributed by STUN whose candidate addresses are known (or
    /// grew): remember [`Attribution::call_candidates`], so that the media
    /// flows to them are the call's.
    Call(EntryId),
}

impl Attribution {
    /// A new flow's attribution from what is known before its payloads: a
    /// DNS answer this client got for the server address, and the address.
    /// `call` is the entry of a call whose STUN named this flow's address
    /// as a candidate of its media.
    pub fn for_new_flow(
        rules: &Rules,
        dns: &DnsCache,
        addrs: &FlowAddrs,
        lookup: bool,
        call: Option<EntryId>,
        now_ns: u64,
    ) -> Self {
        let mut a = Attribution { lookup, ..Attribution::default() };
        if !lookup {
            if let Some(entry) = call {
                a.verdict.offer(entry, Evidence::Stun, None);
            }
            if let Some(name) = dns.lookup(addrs.client, addrs.server, now_ns) {
                if let Some(entry) = rules.match_name(&name) {
                    a.verdict.offer(entry, Evidence::Dns, Some(&name));
                }
            }
            a.classify_by_address(rules, addrs);
        }
        a
    }

    /// Weighs one finding of the flow's inspection.
    pub fn apply(
        &mut self,
        rules: &Rules,
        addrs: &FlowAddrs,
        finding: FlowFinding<'_>,
        dns: &DnsCache,
        now_ns: u64,
    ) -> Applied {
        match finding {
            FlowFinding::EncryptedHello => self.ech = true,
            FlowFinding::ClientHello => {
                let hello = encrypted_dns::from_hello(addrs.protocol, addrs.server_port, None);
                self.encrypted_dns = hello.or(self.encrypted_dns);
            }
            FlowFinding::DnsMessageRequest => self.encrypted_dns = Some(EncryptedDns::Doh),
            FlowFinding::ServerName { evidence, name } => {
                let name = truncated(name, MAX_NAME);
                if matches!(evidence, Evidence::TlsSni | Evidence::QuicSni) {
                    let hello = encrypted_dns::from_hello(addrs.protocol, addrs.server_port, Some(name));
                    self.encrypted_dns = hello.or(self.encrypted_dns);
                }
                self.server_name = Some((name.into(), evidence));
                // An address literal (`Host: 192.0.2.7`) names no host: it
                // neither attributes nor takes a DNS answer's or an agent's
                // attribution away.
                if is_address_literal(name) {
                    return Applied::Nothing;
                }
                // A GREASE ECH extension (every Chromium hello has one)
                // leaves the outer SNI the real destination; real ECH names
                // the provider carrying the flow. Either way it is evidence,
                // but a DNS answer for this address names real ECH's inner
                // destination and so wins over the outer name.
                if !(self.ech && self.verdict.evidence == Some(Evidence::Dns)) {
                    self.offer_name(rules, addrs, evidence, name);
                }
            }
            FlowFinding::Alpn(alpn) => {
                self.encrypted_dns = encrypted_dns::from_alpn(addrs.protocol, alpn).or(self.encrypted_dns);
                self.alpn = Some(truncated(alpn, MAX_NAME).into());
            }
            FlowFinding::UserAgent(agent) => {
                let agent = truncated(agent, MAX_USER_AGENT);
                self.user_agent = Some(agent.into());
                self.offer_user_agent(rules);
            }
            FlowFinding::DnsQuestion { name, response, local } => {
                return self.dns_question(rules, name, response, local);
            }
            FlowFinding::DnsAnswer { name, addr, ttl } => {
                if self.question_is_vendors {
                    dns.learn(addrs.client, addr, name, ttl, now_ns);
                }
            }
            FlowFinding::StunSoftware(software) => {
                let software = truncated(software, MAX_USER_AGENT);
                let entry = rules.signatures.match_stun_software(software);
                self.stun_software = Some(software.into());
                if let Some(entry) = entry {
                    self.verdict.offer(entry, Evidence::Stun, None);
                    return self.call();
                }
            }
            FlowFinding::StunAttribute(kind) => {
                if self.stun_attributes.add(kind) {
                    if let Some(entry) = rules.signatures.match_stun_attribute(kind) {
                        self.verdict.offer(entry, Evidence::Stun, None);
                        return self.call();
                    }
                }
            }
            FlowFinding::StunCandidate(addr) => {
                if !self.call_candidates.contains(&addr) && self.call_candidates.len() < MAX_CALL_CANDIDATES {
                    self.call_candidates.push(addr);
                    return self.call();
                }
            }
            FlowFinding::DnsEchConfig { .. } => self.ech_config = true,
            FlowFinding::QuicPacketsSkipped(_) => {}
        }
        Applied::Nothing
    }

    /// The call's candidates to remember, if the flow is a call attributed
    /// by STUN and carried some.
    fn call(&self) -> Applied {
        match (self.verdict.entry, self.verdict.evidence) {
            (Some(entry), Some(Evidence::Stun)) if !self.call_candidates.is_empty() => Applied::Call(entry),
            _ => Applied::Nothing,
        }
    }

    /// The transport addresses the flow's STUN messages carried.
    pub fn call_candidates(&self) -> &[SocketAddr] {
        &self.call_candidates
    }

    /// Attributes the flow again under new rules (a reload), from the
    /// evidence it kept: its DNS-taught name, the name it asked for, its
    /// addresses.
    pub fn reclassify(&mut self, rules: &Rules, addrs: &FlowAddrs) {
        let dns_name = (self.verdict.evidence == Some(Evidence::Dns)).then(|| self.verdict.name.clone()).flatten();
        self.reclassify_with(rules, addrs, dns_name.as_deref());
    }

    /// Whether a DNS answer found only now could change the verdict: the
    /// flow is no lookup, has no DNS-taught name, and no name of its own
    /// outranks one (an ECH hello's outer name does not).
    pub fn takes_late_answer(&self) -> bool {
        !self.lookup
            && self.verdict.evidence != Some(Evidence::Dns)
            && (self.ech || self.verdict.evidence.is_none_or(|e| e < Evidence::Dns))
    }

    /// Attributes the flow as if an answer the client got before the
    /// flow's first packet (at `first_ns`) had been known when it began:
    /// with workers sharing the cache, the worker that read the answer
    /// may have been behind the one that read the flow.
    pub fn take_late_answer(&mut self, rules: &Rules, dns: &DnsCache, addrs: &FlowAddrs, first_ns: u64) {
        let Some(name) = dns.answered_before(addrs.client, addrs.server, first_ns) else { return };
        if rules.match_name(&name).is_some() {
            self.reclassify_with(rules, addrs, Some(&name));
        }
    }

    /// Attributes a call's media to the call found only now (its checks
    /// read by another worker after this flow's first packet), unless
    /// stronger evidence has named the flow since.
    pub fn take_late_call(&mut self, entry: EntryId) {
        self.verdict.offer(entry, Evidence::Stun, None);
    }

    fn reclassify_with(&mut self, rules: &Rules, addrs: &FlowAddrs, dns_name: Option<&str>) {
        self.verdict = Verdict::default();
        if self.lookup {
            if let Some((_, name)) = self.query.take() {
                self.query = rules.match_name(&name).map(|e| (e, name));
            }
            return;
        }
        if let Some(entry) = dns_name.and_then(|n| rules.match_name(n)) {
            self.verdict.offer(entry, Evidence::Dns, dns_name);
        }
        self.classify_by_address(rules, addrs);
        self.offer_software(rules);
        // An ECH hello's outer name does not override a DNS-taught name.
        let dns_wins = self.ech && self.verdict.evidence == Some(Evidence::Dns);
        if let (Some((name, evidence)), false) = (self.server_name.clone(), dns_wins) {
            if !is_address_literal(&name) {
                self.offer_name(rules, addrs, evidence, &name);
            }
        }
    }

    /// Whether the flow named the host it wants (not an address literal).
    fn names_a_host(&self) -> bool {
        self.server_name.as_ref().is_some_and(|(name, _)| !is_address_literal(name))
    }

    /// A vendor's own HTTP agent attributes a request that names no host:
    /// an agent says which software asked, not where it went, so a request
    /// naming a host is the name's (or nobody's) and not the agent's.
    fn offer_user_agent(&mut self, rules: &Rules) {
        if self.names_a_host() {
            return;
        }
        if let Some(entry) = self.user_agent.as_deref().and_then(|ua| rules.signatures.match_user_agent(ua)) {
            self.verdict.offer(entry, Evidence::HttpUserAgent, None);
        }
    }

    /// The agent and STUN evidence the flow kept, offered again (a reload,
    /// or the name that displaced them matched nothing).
    fn offer_software(&mut self, rules: &Rules) {
        self.offer_user_agent(rules);
        let sigs = &rules.signatures;
        let stun = self.stun_software.as_deref().and_then(|s| sigs.match_stun_software(s));
        let attrs = self.stun_attributes;
        for entry in stun.into_iter().chain(attrs.as_slice().iter().filter_map(|&k| sigs.match_stun_attribute(k))) {
            self.verdict.offer(entry, Evidence::Stun, None);
        }
    }

    fn dns_question(&mut self, rules: &Rules, name: &str, response: bool, local: bool) -> Applied {
        if !self.lookup {
            // DNS found on a port we did not expect it on: a lookup after all.
            *self = Attribution { lookup: true, ..Attribution::default() };
        }
        // A name on the LAN (mDNS, LLMNR) is a device fact, not a lookup of
        // the vendor's service.
        self.question_is_vendors = false;
        if local {
            return Applied::Nothing;
        }
        let Some(entry) = rules.match_name(name) else { return Applied::Nothing };
        self.question_is_vendors = true;
        if self.query.is_none() {
            self.query = Some((entry, name.into()));
        }
        if response { Applied::Nothing } else { Applied::VendorQuery(rules.signatures.entry(entry).vendor) }
    }

    /// Address and port evidence: the server inside a vendor prefix, and a
    /// vendor port only inside that vendor's prefixes.
    fn classify_by_address(&mut self, rules: &Rules, addrs: &FlowAddrs) {
        if let Some(entry) = rules.signatures.match_addr(addrs.server) {
            match rules.signatures.match_port(entry, addrs.server, addrs.protocol, addrs.server_port) {
                Some(port_entry) => self.verdict.offer(port_entry, Evidence::Port, None),
                None => self.verdict.offer(entry, Evidence::Ip, None),
            }
        }
    }

    /// A name the client asked for in the flow itself. If it matches no
    /// signature, a DNS answer for this address says nothing about this
    /// flow (a shared CDN address serves many names), nor does its HTTP
    /// agent: only the address and STUN remain.
    fn offer_name(&mut self, rules: &Rules, addrs: &FlowAddrs, evidence: Evidence, name: &str) {
        match rules.match_name(name) {
            Some(entry) => self.verdict.offer(entry, evidence, Some(name)),
            None if matches!(self.verdict.evidence, Some(Evidence::Dns | Evidence::HttpUserAgent)) => {
                self.verdict = Verdict::default();
                self.classify_by_address(rules, addrs);
                self.offer_software(rules);
            }
            None => {}
        }
    }
}

/// An IPv4 or IPv6 address written where a host name would be.
fn is_address_literal(name: &str) -> bool {
    name.parse::<IpAddr>().is_ok()
}
