//! Which replay worker a frame belongs to.
//!
//! Workers share out the hosts, not the flows: a DNS answer teaches the
//! client that asked (the answer cache is keyed by client), so a client's
//! lookups and the flows they explain must meet on one worker. Every frame
//! goes to the worker of its flow's client side, told from the packet alone
//! so that both directions agree: the end with the more ephemeral port (a
//! resolver or server listens on the lower, service port), or, when the
//! ports do not tell (equal rank, no ports), the lower address.
//!
//! Fragments after the first carry no ports: the first fragment's route is
//! remembered for the rest of its datagram. One that arrives before the
//! first fragment routes by address and its datagram keeps that route.

use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use hashbrown::HashMap;

use crate::decode::{self, Decoded, IPPROTO_TCP, IPPROTO_UDP};
use crate::source::Frame;

/// Datagrams whose route is remembered; as the defragmenter's bound, more
/// in flight at once are given up there anyway.
const FRAGMENT_ROUTES: usize = 4096;

/// System ports, registered ports, dynamic ports: the same classes the flow
/// table uses to tell the client of a flow seen mid-stream.
fn port_rank(port: u16) -> u8 {
    match port {
        0..=1023 => 0,
        1024..=32767 => 1,
        _ => 2,
    }
}

/// The address of the side a flow's client is on, from one packet.
fn client_side(src: IpAddr, src_port: u16, dst: IpAddr, dst_port: u16) -> IpAddr {
    match port_rank(src_port).cmp(&port_rank(dst_port)) {
        std::cmp::Ordering::Greater => src,
        std::cmp::Ordering::Less => dst,
        std::cmp::Ordering::Equal => src.min(dst),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct DatagramId {
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    ident: u32,
}

/// Routes frames to `workers` workers; the same frames give the same routes.
pub struct Spread {
    workers: usize,
    fragments: HashMap<DatagramId, usize>,
    fragment_order: VecDeque<DatagramId>,
}

impl Spread {
    pub fn new(workers: usize) -> Self {
        Spread { workers: workers.max(1), fragments: HashMap::new(), fragment_order: VecDeque::new() }
    }

    fn worker_of_host(&self, host: IpAddr) -> usize {
        // A fixed key: every worker must compute the same route for a frame.
        let mut h = std::hash::DefaultHasher::new();
        host.hash(&mut h);
        (h.finish() % self.workers as u64) as usize
    }

    /// The worker that processes `frame`. Frames that do not decode go to
    /// worker 0, which counts them.
    pub fn worker_of(&mut self, frame: &Frame<'_>) -> usize {
        if self.workers == 1 {
            return 0;
        }
        match decode::decode(frame.link, frame.data) {
            Ok(Decoded::Packet(p)) => self.worker_of_host(client_side(p.src, p.src_port, p.dst, p.dst_port)),
            Ok(Decoded::Fragment(f)) => {
                let id = DatagramId { src: f.src, dst: f.dst, protocol: f.protocol, ident: f.ident };
                if let Some(&worker) = self.fragments.get(&id) {
                    return worker;
                }
                let ports = (f.offset == 0 && matches!(f.protocol, IPPROTO_TCP | IPPROTO_UDP))
                    .then(|| f.payload.get(..4))
                    .flatten()
                    .map(|h| (u16::from_be_bytes([h[0], h[1]]), u16::from_be_bytes([h[2], h[3]])));
                let (sp, dp) = ports.unwrap_or((0, 0));
                let worker = self.worker_of_host(client_side(f.src, sp, f.dst, dp));
                if self.fragment_order.len() >= FRAGMENT_ROUTES {
                    if let Some(old) = self.fragment_order.pop_front() {
                        self.fragments.remove(&old);
                    }
                }
                self.fragments.insert(id, worker);
                self.fragment_order.push_back(id);
                worker
            }
            Ok(Decoded::NotIp) | Err(_) => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_client_is_found_from_either_direction_and_for_its_lookups() {
        let (c, resolver, server) = (ip("10.1.0.5"), ip("10.1.0.1"), ip("192.0.2.80"));
        assert_eq!(client_side(c, 50_000, resolver, 53), c);
        assert_eq!(client_side(resolver, 53, c, 50_000), c, "the answer routes like the query");
        assert_eq!(client_side(server, 443, c, 40_000), c);
        assert_eq!(client_side(c, 40_000, server, 40_001), client_side(server, 40_001, c, 40_000));
    }
}
