//! Flow keys: the same for both directions of a conversation.

use std::net::IpAddr;

use crate::decode::{Encap, EncapKind, Packet};

/// Addresses, ports, protocol, VLAN and tunnel, with the lower endpoint
/// first so that both directions of a flow hash to the same key. The
/// tunnel's network id (VXLAN/Geneve VNI, ERSPAN or PPPoE session) keeps
/// apart tenants whose private addresses overlap; ids that differ by
/// direction (GTP-U TEIDs, GRE keys) are left out, or the two directions
/// of one flow would be two flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowKey {
    /// The lower endpoint, address then port (ports 0 for protocols without them).
    pub lo: (IpAddr, u16),
    /// The higher endpoint.
    pub hi: (IpAddr, u16),
    /// The IP protocol number (6 TCP, 17 UDP, ...).
    pub protocol: u8,
    /// The innermost VLAN id; 0 when the frame has no VLAN tag.
    pub vlan: u16,
    /// The innermost tunnel, with its network id only for the kinds that
    /// keep tenants apart (see above); `id` is `None` for the others.
    pub encap: Encap,
}

impl FlowKey {
    /// The key of `p` and whether `p` travels from `lo` to `hi`.
    #[inline]
    pub fn of(p: &Packet<'_>) -> (FlowKey, bool) {
        let src = (p.src, p.src_port);
        let dst = (p.dst, p.dst_port);
        let vlan = p.vlans.innermost().unwrap_or(0);
        let encap = match p.encap.kind {
            EncapKind::Vxlan | EncapKind::Geneve | EncapKind::ErspanII | EncapKind::ErspanIII | EncapKind::Pppoe => {
                p.encap
            }
            kind => Encap { kind, id: None },
        };
        if src <= dst {
            (FlowKey { lo: src, hi: dst, protocol: p.protocol, vlan, encap }, true)
        } else {
            (FlowKey { lo: dst, hi: src, protocol: p.protocol, vlan, encap }, false)
        }
    }
}

/// Hashes the key as four machine words rather than field by field (each
/// address enum, each port): the flow table hashes every packet's key.
impl std::hash::Hash for FlowKey {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        fn bits(addr: IpAddr) -> u128 {
            match addr {
                IpAddr::V4(a) => u128::from(a.to_bits()),
                IpAddr::V6(a) => a.to_bits(),
            }
        }
        let family = u64::from(self.lo.0.is_ipv6()) | u64::from(self.hi.0.is_ipv6()) << 1;
        let ports = u64::from(self.lo.1) | u64::from(self.hi.1) << 16 | u64::from(self.protocol) << 32;
        let tunnel = u64::from(self.encap.id.unwrap_or(0)) | (self.encap.kind as u64) << 32;
        state.write_u128(bits(self.lo.0));
        state.write_u128(bits(self.hi.0));
        state.write_u64(ports | u64::from(self.vlan) << 40 | family << 56);
        state.write_u64(tunnel);
    }
}
