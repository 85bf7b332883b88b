//! The inspectors the engine knows, in probe order: the first whose probe
//! accepts a flow's first payload inspects the flow.

use super::Registration;
pub use super::inspectors::dns::is_dns_flow;
use super::inspectors::{dhcp, dhcpv6, dhip, dns, http, quic, sadp, ssdp, stun, tls, ws_discovery};

/// Port-bound protocols first (DNS on its ports, whatever the payload looks
/// like), then content-recognised ones.
pub static REGISTRY: &[Registration] = &[
    dns::REGISTRATION,
    dhcp::REGISTRATION,
    dhcpv6::REGISTRATION,
    ssdp::REGISTRATION,
    ws_discovery::REGISTRATION,
    sadp::REGISTRATION,
    dhip::REGISTRATION,
    quic::REGISTRATION,
    stun::REGISTRATION,
    tls::REGISTRATION,
    http::REGISTRATION,
];
