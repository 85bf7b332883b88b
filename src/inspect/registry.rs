//! The inspectors the engine knows, in probe order: the first whose probe
//! accepts a flow's first payload inspects the flow.

use super::Registration;
pub use super::inspectors::dns::is_dns_flow;
use super::inspectors::{dhcp, dhcpv6, dhip, dns, http, preamble, quic, sadp, ssdp, stun, tls, ws_discovery};

/// Port-bound protocols first (DNS on its ports, whatever the payload looks
/// like; the discovery protocols of LAN devices), then content-recognised
/// ones; preambles before HTTP, which would take a CONNECT head for a plain
/// request; DNS over TCP by content last, so it never takes a flow another
/// protocol claims.
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
    preamble::REGISTRATION,
    tls::REGISTRATION,
    http::REGISTRATION,
    dns::TCP_ANY_PORT,
];
