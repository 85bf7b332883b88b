//! Application parsers: the bytes a flow's first payloads carry, read into
//! what vendorwatch classifies by. Pure functions and small state machines
//! over borrowed bytes: no I/O, no flow state, never a panic on any input.
//!
//! - [`tls`]: a TLS ClientHello (SNI, ALPN, ECH), whole or across records.
//! - [`http`]: an HTTP/1.x request head (Host, User-Agent, CONNECT target).
//! - [`dns`]: a DNS message (questions, answers, compression).
//! - [`quic`]: QUIC client Initials, decrypted, with the ClientHello they carry.
//! - [`stun`]: STUN/TURN messages and their attributes.
//! - [`reader`]: the bounds-checked cursor every parser reads with, and
//!   [`Malformed`], the error they fail with.
//! - [`dhcp`], [`mdns`], [`heads`], [`discovery`]: what devices say about
//!   themselves: DHCP client messages, mDNS/DNS-SD records, SSDP and HTTP
//!   response heads, the discovery protocols of cameras and recorders.

#![forbid(unsafe_code)]

pub use reader::{Malformed, Reader};

pub mod dhcp;
pub mod discovery;
pub mod dns;
pub mod heads;
pub mod http;
pub mod mdns;
pub mod quic;
pub mod reader;
pub mod stun;
pub mod tls;
