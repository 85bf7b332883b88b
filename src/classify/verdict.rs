//! A flow's attribution: the entry that matched and the evidence it rests on.

use super::signatures::EntryId;

/// What a verdict rests on; the `evidence` field of the flow log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Evidence {
    /// The server address lies in a vendor prefix.
    Ip,
    /// A vendor port, inside that vendor's prefixes.
    Port,
    /// A vendor's own HTTP agent (its User-Agent product token), in a
    /// request that names no host.
    HttpUserAgent,
    /// A vendor's STUN attribute or SOFTWARE in a call's connectivity checks.
    Stun,
    /// An earlier DNS answer tied the server address to a vendor name.
    Dns,
    /// The Host header of an HTTP request.
    HttpHost,
    /// The server name (SNI) of a TLS ClientHello over TCP.
    TlsSni,
    /// The server name of a ClientHello in a QUIC Initial.
    QuicSni,
}

impl Evidence {
    /// The `evidence` label value and flow record field.
    pub fn as_str(self) -> &'static str {
        match self {
            Evidence::Ip => "ip",
            Evidence::Port => "port",
            Evidence::HttpUserAgent => "http_user_agent",
            Evidence::Stun => "stun",
            Evidence::Dns => "dns",
            Evidence::HttpHost => "http_host",
            Evidence::TlsSni => "tls_sni",
            Evidence::QuicSni => "quic_sni",
        }
    }

    /// Names seen in the flow itself outrank a DNS answer, which outranks
    /// the agent, which outranks the address: a shared address says less
    /// than the software that spoke, and the software (an agent, a call
    /// stack) says less than the name its user meant to reach.
    fn strength(self) -> u8 {
        match self {
            Evidence::Ip => 0,
            Evidence::Port => 1,
            Evidence::HttpUserAgent | Evidence::Stun => 2,
            Evidence::Dns => 3,
            Evidence::HttpHost | Evidence::TlsSni | Evidence::QuicSni => 4,
        }
    }
}

/// The vendor attribution of one flow.
#[derive(Debug, Clone, Default)]
pub struct Verdict {
    /// The signature entry that matched: its vendor and service.
    pub entry: Option<EntryId>,
    /// What the match rests on; `None` while the flow has no vendor.
    pub evidence: Option<Evidence>,
    /// The name that matched (for name and DNS evidence).
    pub name: Option<Box<str>>,
}

impl Verdict {
    /// Takes `candidate` if its evidence is at least as strong as ours.
    pub fn offer(&mut self, entry: EntryId, evidence: Evidence, name: Option<&str>) {
        if self.evidence.is_some_and(|e| e.strength() > evidence.strength()) {
            return;
        }
        self.entry = Some(entry);
        self.evidence = Some(evidence);
        self.name = name.map(Into::into);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stronger_evidence_wins_and_weaker_does_not_override() {
        let mut v = Verdict::default();
        v.offer(EntryId(1), Evidence::Ip, None);
        v.offer(EntryId(2), Evidence::TlsSni, Some("x.apple.com"));
        v.offer(EntryId(3), Evidence::Dns, Some("y.example"));
        assert_eq!(
            (v.entry, v.evidence, v.name.as_deref()),
            (Some(EntryId(2)), Some(Evidence::TlsSni), Some("x.apple.com"))
        );
    }

    #[test]
    fn agents_rank_between_the_address_and_dns() {
        let mut v = Verdict::default();
        v.offer(EntryId(1), Evidence::Port, None);
        v.offer(EntryId(2), Evidence::HttpUserAgent, None);
        assert_eq!(v.entry, Some(EntryId(2)), "an agent beats a port");
        v.offer(EntryId(3), Evidence::Dns, Some("a.example"));
        v.offer(EntryId(4), Evidence::Stun, None);
        assert_eq!(v.entry, Some(EntryId(3)), "a DNS answer beats an agent");
    }
}
