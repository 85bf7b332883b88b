//! The inspectors the engine knows, in probe order: the first whose probe
//! accepts a flow's first payload inspects the flow.

use super::Registration;
pub use super::inspectors::dns::is_dns_flow;
use super::inspectors::{dns, http, preamble, quic, stun, tls};

/// Port-bound protocols first (DNS on its ports, whatever the payload looks
/// like), then content-recognised ones; preambles before HTTP, which would
/// take a CONNECT head for a plain request.
pub static REGISTRY: &[Registration] = &[
    dns::REGISTRATION,
    quic::REGISTRATION,
    stun::REGISTRATION,
    preamble::REGISTRATION,
    tls::REGISTRATION,
    http::REGISTRATION,
];
