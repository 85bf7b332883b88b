//! Flow keys: the same for both directions of a conversation.

use std::net::IpAddr;

use crate::decode::{Encap, Packet};

/// Addresses, ports, protocol, VLAN and tunnel, with the lower endpoint
/// first so that both directions of a flow hash to the same key. The tunnel
/// (kind and VNI, TEID, session or key) keeps apart tenants of an overlay
/// whose private addresses overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub lo: (IpAddr, u16),
    pub hi: (IpAddr, u16),
    pub protocol: u8,
    pub vlan: u16,
    pub encap: Encap,
}

impl FlowKey {
    /// The key of `p` and whether `p` travels from `lo` to `hi`.
    #[inline]
    pub fn of(p: &Packet<'_>) -> (FlowKey, bool) {
        let src = (p.src, p.src_port);
        let dst = (p.dst, p.dst_port);
        let vlan = p.vlans.innermost().unwrap_or(0);
        let encap = p.encap;
        if src <= dst {
            (FlowKey { lo: src, hi: dst, protocol: p.protocol, vlan, encap }, true)
        } else {
            (FlowKey { lo: dst, hi: src, protocol: p.protocol, vlan, encap }, false)
        }
    }
}
