//! The flow log: one JSON object per line for every finished flow, with the
//! evidence its vendor rests on.

use std::io::{self, BufWriter, Write};
use std::net::IpAddr;
use std::sync::Arc;

use serde::Serialize;

/// One finished flow (or, at a live flush, one still running), as written
/// to `--flows-out` and served by `/api/flows`. Owned, so a worker can hand
/// it over; serialised once, where it is written.
#[derive(Debug, Clone, Serialize)]
pub struct FlowRecord {
    /// `tcp`, `udp`, `icmp`, `icmp6`, `gre`, `esp`, or `other`.
    pub proto: &'static str,
    /// The IP protocol number (IPv6: the upper-layer header's).
    pub protocol_number: u8,
    /// The initiator: for TCP the SYN's sender, else the first sender
    /// unless only it used a service port (see [`crate::flow::sender_is_client`]).
    pub client: IpAddr,
    /// The client's port; 0 for protocols without ports.
    pub client_port: u16,
    /// The end the client reached.
    pub server: IpAddr,
    /// The server's port; 0 for protocols without ports.
    pub server_port: u16,
    /// The innermost VLAN id, if the frame was tagged.
    pub vlan: Option<u16>,
    /// Every VLAN tag of the first packet, outermost first.
    pub vlans: Box<[u16]>,
    /// The outermost encapsulation (`vxlan`, `gre`, `erspan`, ...) of the
    /// flow's first packet, if any.
    pub encap: Option<&'static str>,
    /// The encapsulation's id (VNI, GRE key, ERSPAN or PPPoE session, GTP
    /// TEID, ...), when it has one.
    pub encap_id: Option<u32>,
    /// Index of the capture interface within the source (pcapng interface,
    /// live interface).
    pub interface: u32,
    /// The capture interface's name, when known: live, the interface
    /// captured on; replayed, a pcapng interface's `if_name`.
    #[serde(serialize_with = "shared_opt_str")]
    pub interface_name: Option<Arc<str>>,
    /// Community ID v1 (seed 0), as Zeek and Suricata log it; null where
    /// the flow's ports are not known (SCTP, an ICMP flow without a header).
    pub community_id: Option<Box<str>>,
    /// The segment the flow was counted in.
    #[serde(serialize_with = "shared_str")]
    pub segment: Arc<str>,
    /// The attributed vendor's id; `None` when no signature matched.
    pub vendor: Option<Box<str>>,
    /// The attributed service's name; `None` when no signature matched.
    pub service: Option<Box<str>>,
    /// Whether the policy in force bans the vendor.
    pub banned: bool,
    /// What the attribution rests on (`tls_sni`, `quic_sni`, `http_host`,
    /// `dns`, `port`, `ip`, ...); `None` without a vendor.
    pub evidence: Option<&'static str>,
    /// The name that matched a signature.
    pub name: Option<Box<str>>,
    /// The name the client asked for (SNI, QUIC SNI or Host), matched or not.
    pub server_name: Option<Box<str>>,
    /// For DNS flows: the vendor whose name was looked up.
    pub query_vendor: Option<Box<str>>,
    /// For DNS flows: the name looked up.
    pub query_name: Option<Box<str>>,
    /// The first protocol the client offered by ALPN.
    pub alpn: Option<Box<str>>,
    /// The client's HTTP User-Agent (at most 256 bytes).
    pub user_agent: Option<Box<str>>,
    /// The SOFTWARE attribute of the flow's STUN messages.
    pub stun_software: Option<Box<str>>,
    /// The signature entry (file, line) behind the vendor.
    #[serde(serialize_with = "signature_ref")]
    pub signature: Option<(Box<str>, usize)>,
    /// Whether the ClientHello carried an Encrypted ClientHello extension
    /// (real or GREASE).
    pub ech: bool,
    /// A DNS lookup whose HTTPS/SVCB answer published an ECH configuration:
    /// the name looked up is reached with real ECH.
    pub ech_config: bool,
    /// `dot` (DNS over TLS), `doh` (DNS over HTTPS) or `doq` (DNS over
    /// QUIC): DNS whose names are hidden.
    pub encrypted_dns: Option<&'static str>,
    /// Packets both ways.
    pub packets: u64,
    /// Wire bytes of the (innermost) frames both ways.
    pub bytes: u64,
    /// Packets the client sent.
    pub packets_from_client: u64,
    /// Packets the server sent.
    pub packets_to_client: u64,
    /// Wire bytes the client sent.
    pub bytes_from_client: u64,
    /// Wire bytes the server sent.
    pub bytes_to_client: u64,
    /// The first packet's capture time, ns since the Unix epoch (written as
    /// RFC 3339 `first_seen`).
    #[serde(rename = "first_seen", serialize_with = "crate::export::time::serialize_rfc3339")]
    pub first_seen_ns: u64,
    /// The last packet's capture time, ns since the Unix epoch (written as
    /// RFC 3339 `last_seen`).
    #[serde(rename = "last_seen", serialize_with = "crate::export::time::serialize_rfc3339")]
    pub last_seen_ns: u64,
    /// Why the flow ended: `idle_timeout`, `table_full`, `restarted` (a new
    /// connection reused its ports) or `shutdown` (end of input).
    pub end_reason: &'static str,
}

fn shared_str<S: serde::Serializer>(v: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v)
}

#[allow(clippy::ref_option, reason = "serde's serialize_with passes a reference to the field")]
fn shared_opt_str<S: serde::Serializer>(v: &Option<Arc<str>>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_str(v),
        None => s.serialize_none(),
    }
}

#[allow(clippy::ref_option, reason = "serde's serialize_with passes a reference to the field")]
fn signature_ref<S: serde::Serializer>(r: &Option<(Box<str>, usize)>, s: S) -> Result<S::Ok, S::Error> {
    match r {
        Some((file, line)) => s.serialize_str(&format!("{file}:{line}")),
        None => s.serialize_none(),
    }
}

/// A JSON-lines writer that keeps the first write error instead of
/// stopping the pipeline; the caller reports it at the end (a replay) or
/// counts what it could not write (the live sensor, until it reopens).
pub struct FlowLog {
    out: BufWriter<Box<dyn Write + Send>>,
    error: Option<io::Error>,
    /// Records not written because of an earlier error.
    lost: u64,
}

impl FlowLog {
    /// A log writing to `out` through a 64 KiB buffer.
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        FlowLog { out: BufWriter::with_capacity(1 << 16, out), error: None, lost: 0 }
    }

    /// Appends `record` as one JSON line; after an error, counts it lost
    /// instead.
    pub fn write(&mut self, record: &FlowRecord) {
        if self.error.is_some() {
            self.lost += 1;
            return;
        }
        let result = serde_json::to_writer(&mut self.out, record)
            .map_err(io::Error::from)
            .and_then(|()| self.out.write_all(b"\n"));
        match result {
            Ok(()) => {}
            Err(e) => {
                self.error = Some(e);
                self.lost += 1;
            }
        }
    }

    /// Hands what is buffered to the file; the first error, if any, stays
    /// (so that [`FlowLog::finish`] still reports it).
    pub fn flush(&mut self) -> Option<&io::Error> {
        if self.error.is_none() {
            if let Err(e) = self.out.flush() {
                self.error = Some(e);
            }
        }
        self.error.as_ref()
    }

    /// Records not written since the first error.
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// Flushes and returns the first error, if any.
    pub fn finish(&mut self) -> io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()
    }
}
