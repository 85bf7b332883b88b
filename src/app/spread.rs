//! Which replay worker a frame belongs to, told by the router ([`Spread`],
//! which sees every input in order).
//!
//! Workers share out the hosts, not the flows: a DNS answer teaches the
//! client that asked (the answer cache is keyed by client), so a client's
//! lookups and the flows they explain must meet on one worker. Every frame
//! goes to the worker of its flow's client side, told from the packet alone
//! so that both directions agree: the end with the more ephemeral port (a
//! resolver or server listens on the lower, service port), or, when the
//! ports do not tell (equal rank, no ports), the local end, else the lower
//! address.
//!
//! A fragment's flow is known only once its datagram is whole (its ports
//! are in the first fragment; a tunnel's inner flow may be anywhere in it):
//! fragments are held, reassembled here as the pipeline would, and handed
//! on together to the worker of the whole datagram's flow, which then
//! reassembles them itself. Fragments given up (timed out, over the bound)
//! go on by address, and their worker gives them up too.

use std::hash::Hash;
use std::net::IpAddr;

use hashbrown::HashMap;

use vendorwatch::decode::fragment::{Defragmenter, Limits};
use vendorwatch::decode::{self, Decoded, Encap, Packet, Vlans};
use vendorwatch::flow::{is_local, port_rank};
use vendorwatch::source::{Frame, LinkType};

/// The address of the side a flow's client is on, from one packet: the
/// end with the more ephemeral port; when the ports are of one kind, the
/// local end of a local-to-remote pair (a client with an unusual port
/// range still meets its own lookups), else the lower address.
fn client_side(src: IpAddr, src_port: u16, dst: IpAddr, dst_port: u16) -> IpAddr {
    match port_rank(src_port).cmp(&port_rank(dst_port)) {
        std::cmp::Ordering::Greater => src,
        std::cmp::Ordering::Less => dst,
        std::cmp::Ordering::Equal => match (is_local(src), is_local(dst)) {
            (true, false) => src,
            (false, true) => dst,
            _ => src.min(dst),
        },
    }
}

fn worker_of_host(host: IpAddr, workers: usize) -> usize {
    // A fixed mix, cheap on the router's path: a frame takes the same
    // route on every run; the high bits of the product are well mixed.
    let bits = match host {
        IpAddr::V4(a) => u64::from(a.to_bits()),
        IpAddr::V6(a) => {
            let b = a.to_bits();
            #[allow(clippy::cast_possible_truncation, reason = "the halves are taken apart on purpose, to be folded")]
            let (low, high) = (b as u64, (b >> 64) as u64);
            low ^ high.rotate_left(29)
        }
    };
    let mixed = (bits ^ (bits >> 31)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    ((mixed >> 32) % workers.max(1) as u64) as usize
}

fn worker_of_packet(p: &Packet<'_>, workers: usize) -> usize {
    worker_of_host(client_side(p.src, p.src_port, p.dst, p.dst_port), workers)
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct DatagramId {
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    ident: u32,
    vlans: Vlans,
    encap: Encap,
}

/// A frame kept until its datagram's route is known.
pub struct HeldFrame {
    pub ts_ns: u64,
    pub link: LinkType,
    pub data: Vec<u8>,
    pub wire_len: u32,
    pub interface: u32,
    pub source: usize,
}

impl HeldFrame {
    /// A copy of `frame`, of input `source`.
    pub fn of(frame: &Frame<'_>, source: usize) -> Self {
        HeldFrame {
            ts_ns: frame.ts_ns,
            link: frame.link,
            data: frame.data.to_vec(),
            wire_len: frame.wire_len,
            interface: frame.interface,
            source,
        }
    }

    pub fn frame(&self) -> Frame<'_> {
        Frame {
            ts_ns: self.ts_ns,
            link: self.link,
            data: &self.data,
            wire_len: self.wire_len,
            interface: self.interface,
        }
    }
}

struct Held {
    first_ns: u64,
    frames: Vec<HeldFrame>,
}

/// Where a frame goes.
pub enum Route {
    /// To this worker, now.
    To(usize),
    /// Held with its datagram's other fragments.
    Held,
    /// The datagram is whole: these frames, the last one included, go to
    /// the worker, in order.
    Release(usize, Vec<HeldFrame>),
}

/// Routes frames to `workers` workers; the same frames give the same routes.
pub struct Spread {
    workers: usize,
    defrag: Defragmenter,
    limits: Limits,
    held: HashMap<DatagramId, Held>,
    held_bytes: usize,
}

impl Spread {
    pub fn new(workers: usize) -> Self {
        Spread {
            workers: workers.max(1),
            defrag: Defragmenter::new(Limits::default()),
            limits: Limits::default(),
            held: HashMap::new(),
            held_bytes: 0,
        }
    }

    /// Where `frame` (of input `source`) goes. Frames that do not decode go
    /// to worker 0, which counts them. (One worker needs no route: the
    /// router does not ask, see `Lanes::ONE_WORKER`.)
    pub fn route(&mut self, frame: &Frame<'_>, source: usize) -> Route {
        let f = match decode::decode(frame.link, frame.data) {
            Ok(Decoded::Fragment(f)) => f,
            Ok(Decoded::Packet(p)) => return Route::To(worker_of_packet(&p, self.workers)),
            Ok(Decoded::NotIp) | Err(_) => return Route::To(0),
        };
        let id =
            DatagramId { src: f.src, dst: f.dst, protocol: f.protocol, ident: f.ident, vlans: f.vlans, encap: f.encap };
        let inner_len = frame.wire_len.saturating_sub(u32::try_from(f.outer_len).unwrap_or(u32::MAX));
        let whole = self.defrag.push(frame.ts_ns, &f, inner_len);
        let copy = HeldFrame::of(frame, source);
        self.held_bytes += copy.data.len();
        self.held.entry(id).or_insert_with(|| Held { first_ns: frame.ts_ns, frames: Vec::new() }).frames.push(copy);
        match whole {
            Some(whole) => {
                let worker = match whole.decode() {
                    Ok(Decoded::Packet(p)) => worker_of_packet(&p, self.workers),
                    _ => worker_of_host(f.src.min(f.dst), self.workers),
                };
                let held = self.held.remove(&id).map(|h| h.frames).unwrap_or_default();
                self.held_bytes -= held.iter().map(|h| h.data.len()).sum::<usize>();
                Route::Release(worker, held)
            }
            None => Route::Held,
        }
    }

    /// Fragments of datagrams given up by `now_ns` (timed out, or beyond
    /// the bounds), each datagram's to the worker of its addresses.
    pub fn expire(&mut self, now_ns: u64) -> Vec<(usize, Vec<HeldFrame>)> {
        if self.held.is_empty() {
            return Vec::new();
        }
        self.defrag.expire(now_ns);
        let timeout = self.limits.timeout_ns;
        let mut given_up: Vec<DatagramId> =
            self.held.iter().filter(|(_, h)| now_ns.saturating_sub(h.first_ns) >= timeout).map(|(id, _)| *id).collect();
        if self.held.len() > self.limits.max_datagrams || self.held_bytes > self.limits.max_bytes {
            let mut by_age: Vec<(u64, DatagramId)> = self.held.iter().map(|(id, h)| (h.first_ns, *id)).collect();
            by_age.sort_by_key(|(first, _)| *first);
            let excess = self.held.len().saturating_sub(self.limits.max_datagrams).max(1);
            given_up.extend(by_age.into_iter().take(excess).map(|(_, id)| id));
        }
        let mut out = Vec::new();
        for id in given_up {
            if let Some(h) = self.held.remove(&id) {
                self.held_bytes -= h.frames.iter().map(|f| f.data.len()).sum::<usize>();
                out.push((worker_of_host(id.src.min(id.dst), self.workers), h.frames));
            }
        }
        // In capture order, not the map's: the workers' outputs must not depend on it.
        out.sort_by_key(|(_, frames)| frames.first().map(|f| f.ts_ns));
        out
    }

    /// Every fragment still held (the end of the input).
    pub fn drain(&mut self) -> Vec<(usize, Vec<HeldFrame>)> {
        self.expire(u64::MAX)
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
        assert_eq!(client_side(server, 8443, c, 2000), c, "a low client port to a remote server: the local end");
        assert_eq!(client_side(ip("fd00::5"), 1500, ip("2001:db8::1"), 8080), ip("fd00::5"));
    }
}
