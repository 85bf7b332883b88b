//! Conversations: a timestamped frame collector, the endpoints and framing
//! of one flow, and a TCP session that keeps its sequence numbers right
//! whatever order its segments are sent in.

use std::net::SocketAddr;
use std::ops::Range;

use super::capture::Record;
use super::wire::{self, ACK, FIN, IpExtras, Link, PSH, SYN};

/// 2026-03-02T08:00:00Z, the start of every synthetic capture.
pub const T0_NS: u64 = 1_772_438_400 * 1_000_000_000;
/// One millisecond, in nanoseconds.
pub const MS: u64 = 1_000_000;
/// One second, in nanoseconds.
pub const SECOND: u64 = 1_000_000_000;

/// Collects frames; each one is stamped with the clock, which then moves
/// on by `step_ns`.
#[derive(Debug, Clone)]
pub struct Capture {
    records: Vec<Record>,
    now_ns: u64,
    step_ns: u64,
    interface: u32,
}

impl Capture {
    /// A capture whose first frame is stamped `start_ns` and each next one
    /// `step_ns` later.
    pub fn new(start_ns: u64, step_ns: u64) -> Capture {
        Capture { records: Vec::new(), now_ns: start_ns, step_ns, interface: 0 }
    }

    /// A capture starting at [`T0_NS`] + `offset_ns`, one frame per millisecond.
    pub fn at(offset_ns: u64) -> Capture {
        Capture::new(T0_NS + offset_ns, MS)
    }

    /// The stamp the next frame gets, ns since the Unix epoch.
    pub fn now(&self) -> u64 {
        self.now_ns
    }

    /// Moves the clock on by `ns` (idle time on the link).
    pub fn wait(&mut self, ns: u64) {
        self.now_ns += ns;
    }

    /// The pcapng interface of the frames pushed from now on.
    pub fn set_interface(&mut self, interface: u32) {
        self.interface = interface;
    }

    /// Records `frame` at the clock, then moves the clock on by the step.
    pub fn push(&mut self, frame: Vec<u8>) {
        self.records.push(Record { ts_ns: self.now_ns, data: frame, interface: self.interface });
        self.now_ns += self.step_ns;
    }

    /// The frames so far, in the order pushed.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// The frames, to write as a capture file.
    pub fn into_records(self) -> Vec<Record> {
        self.records
    }
}

/// The two ends of a flow and how its packets are framed on the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    /// The end that opens the flow.
    pub client: SocketAddr,
    /// The end it reaches.
    pub server: SocketAddr,
    /// The link layer every frame is wrapped in.
    pub link: Link,
    /// IPv4 options or fragmenting, IPv6 extension headers: what every
    /// packet carries beyond the plain header.
    pub extras: IpExtras,
}

impl Path {
    /// An untagged Ethernet path between `"10.0.0.1:5000"`-style (or
    /// `"[fd00::1]:443"`) socket addresses.
    ///
    /// # Panics
    ///
    /// On an address that does not parse.
    pub fn new(client: &str, server: &str) -> Path {
        Path {
            client: client.parse().expect("client socket address"),
            server: server.parse().expect("server socket address"),
            link: Link::ethernet(),
            extras: IpExtras::default(),
        }
    }

    /// The same ends over another link layer.
    #[must_use]
    pub fn with_link(mut self, link: Link) -> Path {
        self.link = link;
        self
    }

    /// The same ends with IP options or extension headers.
    #[must_use]
    pub fn with_extras(mut self, extras: IpExtras) -> Path {
        self.extras = extras;
        self
    }

    fn ends(&self, from_client: bool) -> (SocketAddr, SocketAddr) {
        if from_client { (self.client, self.server) } else { (self.server, self.client) }
    }

    /// A framed TCP segment.
    pub fn tcp(&self, from_client: bool, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
        let (src, dst) = self.ends(from_client);
        let segment = wire::tcp_segment(src, dst, seq, ack, flags, payload);
        let ident = ((seq ^ (seq >> 16)) & 0xffff) as u16;
        self.link.frame(&wire::ip_packet(src.ip(), dst.ip(), wire::IPPROTO_TCP, &segment, &self.extras, ident))
    }

    /// A framed UDP datagram.
    pub fn udp(&self, from_client: bool, payload: &[u8]) -> Vec<u8> {
        let (src, dst) = self.ends(from_client);
        let datagram = wire::udp_datagram(src, dst, payload);
        let ident = src.port() ^ ::wire::len16(payload.len());
        self.link.frame(&wire::ip_packet(src.ip(), dst.ip(), wire::IPPROTO_UDP, &datagram, &self.extras, ident))
    }
}

/// Byte ranges of a `len`-byte stream cut at `mss`, in order.
pub fn in_order(len: usize, mss: usize) -> Vec<Range<usize>> {
    (0..len).step_by(mss.max(1)).map(|start| start..(start + mss).min(len)).collect()
}

/// One TCP connection: tracks both sides' next sequence numbers so that
/// every segment it emits carries the right `seq` and `ack`.
#[derive(Debug, Clone)]
pub struct TcpSession {
    /// The connection's ends and framing.
    pub path: Path,
    /// Next sequence number each side sends (after its SYN, if any).
    client_next: u32,
    server_next: u32,
}

/// Server segment size: a 1500-byte MTU minus IPv4 and TCP headers.
pub const MSS: usize = 1460;

impl TcpSession {
    /// A connection whose SYNs use these initial sequence numbers.
    pub fn new(path: Path, client_isn: u32, server_isn: u32) -> TcpSession {
        TcpSession { path, client_next: client_isn, server_next: server_isn }
    }

    /// SYN, SYN-ACK, ACK: 3 frames.
    pub fn handshake(&mut self, cap: &mut Capture) {
        let (c, s) = (self.client_next, self.server_next);
        cap.push(self.path.tcp(true, c, 0, SYN, b""));
        cap.push(self.path.tcp(false, s, c.wrapping_add(1), SYN | ACK, b""));
        self.client_next = c.wrapping_add(1);
        self.server_next = s.wrapping_add(1);
        cap.push(self.path.tcp(true, self.client_next, self.server_next, ACK, b""));
    }

    /// Sends client stream bytes `data` as one frame per range of
    /// `segments`, in the order given: ranges may come out of order,
    /// overlap or repeat (retransmissions). Each segment's sequence number
    /// is the stream position of its first byte. Afterwards the stream has
    /// moved on by `data.len()`.
    pub fn client_send(&mut self, cap: &mut Capture, data: &[u8], segments: &[Range<usize>]) {
        for r in segments {
            let seq = self.client_next.wrapping_add(seq_offset(r.start));
            cap.push(self.path.tcp(true, seq, self.server_next, PSH | ACK, &data[r.clone()]));
        }
        self.client_next = self.client_next.wrapping_add(seq_offset(data.len()));
    }

    /// Sends client bytes in order, [`MSS`] per frame.
    pub fn client_write(&mut self, cap: &mut Capture, data: &[u8]) {
        self.client_send(cap, data, &in_order(data.len(), MSS));
    }

    /// Sends server bytes in order, [`MSS`] per frame, the last with PSH.
    pub fn server_send(&mut self, cap: &mut Capture, data: &[u8]) {
        let segments = in_order(data.len(), MSS);
        let last = segments.len().saturating_sub(1);
        for (i, r) in segments.into_iter().enumerate() {
            let flags = if i == last { PSH | ACK } else { ACK };
            let seq = self.server_next.wrapping_add(seq_offset(r.start));
            cap.push(self.path.tcp(false, seq, self.client_next, flags, &data[r]));
        }
        self.server_next = self.server_next.wrapping_add(seq_offset(data.len()));
    }

    /// A pure ACK from one side.
    pub fn ack(&mut self, cap: &mut Capture, from_client: bool) {
        let (seq, ack) =
            if from_client { (self.client_next, self.server_next) } else { (self.server_next, self.client_next) };
        cap.push(self.path.tcp(from_client, seq, ack, ACK, b""));
    }

    /// FIN from the client, FIN from the server, last ACK: 3 frames.
    pub fn close(&mut self, cap: &mut Capture) {
        cap.push(self.path.tcp(true, self.client_next, self.server_next, FIN | ACK, b""));
        self.client_next = self.client_next.wrapping_add(1);
        cap.push(self.path.tcp(false, self.server_next, self.client_next, FIN | ACK, b""));
        self.server_next = self.server_next.wrapping_add(1);
        cap.push(self.path.tcp(true, self.client_next, self.server_next, ACK, b""));
    }
}

/// A whole connection: handshake, the client's bytes in `segments` (all
/// of it in [`MSS`] pieces when empty), the server's answer, then FIN.
/// Frames: 3 + client segments + server segments + 3.
pub fn tcp_conversation(
    cap: &mut Capture,
    path: &Path,
    isn: (u32, u32),
    client: &[u8],
    segments: &[Range<usize>],
    server: &[u8],
) {
    let mut s = TcpSession::new(path.clone(), isn.0, isn.1);
    s.handshake(cap);
    if segments.is_empty() {
        s.client_write(cap, client);
    } else {
        s.client_send(cap, client, segments);
    }
    s.server_send(cap, server);
    s.close(cap);
}

/// A stream offset as TCP counts it: sequence numbers wrap modulo 2^32.
fn seq_offset(n: usize) -> u32 {
    (n as u64 & 0xffff_ffff) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use vendorwatch::decode::{self, Decoded};
    use vendorwatch::source::LinkType;

    #[test]
    fn sequence_numbers_follow_the_stream_in_any_order() {
        let mut cap = Capture::at(0);
        let path = Path::new("10.10.1.1:50000", "203.0.113.1:443");
        let data = vec![7u8; 3000];
        let mut s = TcpSession::new(path, 1000, 9000);
        s.handshake(&mut cap);
        s.client_send(&mut cap, &data, &[2000..3000, 0..1500, 1000..2000]);
        s.server_send(&mut cap, &[1; 3000]);
        s.close(&mut cap);
        let seqs: Vec<(u32, u8, usize)> = cap
            .records()
            .iter()
            .map(|r| match decode::decode(LinkType::Ethernet, &r.data) {
                Ok(Decoded::Packet(p)) => (p.tcp_seq, p.tcp_flags, p.payload.len()),
                _ => panic!("undecodable frame"),
            })
            .collect();
        assert_eq!(seqs[0], (1000, SYN, 0));
        assert_eq!(seqs[1], (9000, SYN | ACK, 0));
        assert_eq!(&seqs[3..6], &[(3001, PSH | ACK, 1000), (1001, PSH | ACK, 1500), (2001, PSH | ACK, 1000)]);
        assert_eq!(seqs[6], (9001, ACK, MSS));
        assert_eq!(seqs[8], (9001 + 2 * u32::try_from(MSS).unwrap(), PSH | ACK, 3000 - 2 * MSS));
        assert_eq!(seqs[9], (4001, FIN | ACK, 0));
        assert_eq!(seqs.len(), 12);
        assert_eq!(cap.records()[11].ts_ns, T0_NS + 11 * MS);
    }
}
