//! A flow's attribution: the entry that matched and the evidence it rests on.

use super::signatures::EntryId;

/// What a verdict rests on; the `evidence` field of the flow log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Evidence {
    /// The server address lies in a vendor prefix.
    Ip,
    /// A vendor port, inside that vendor's prefixes.
    Port,
    /// An earlier DNS answer tied the server address to a vendor name.
    Dns,
    HttpHost,
    TlsSni,
    QuicSni,
}

impl Evidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Evidence::Ip => "ip",
            Evidence::Port => "port",
            Evidence::Dns => "dns",
            Evidence::HttpHost => "http_host",
            Evidence::TlsSni => "tls_sni",
            Evidence::QuicSni => "quic_sni",
        }
    }

    /// Names seen in the flow itself outrank a DNS answer, which outranks
    /// the address: a shared address says less than the name asked for.
    fn strength(self) -> u8 {
        match self {
            Evidence::Ip => 0,
            Evidence::Port => 1,
            Evidence::Dns => 2,
            Evidence::HttpHost | Evidence::TlsSni | Evidence::QuicSni => 3,
        }
    }
}

/// The vendor attribution of one flow.
#[derive(Debug, Clone, Default)]
pub struct Verdict {
    pub entry: Option<EntryId>,
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
}
