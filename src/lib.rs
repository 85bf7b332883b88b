//! vendorwatch: attributes network flows to vendors per network segment.
//!
//! The data path, one module per stage:
//! [`source`] (capture files, interfaces) -> [`decode`] (frames to IP
//! packets) -> [`flow`] (bidirectional flows) -> [`inspect`] (TLS, QUIC,
//! HTTP, DNS evidence) -> [`classify`] (signatures) -> [`segment`] ->
//! [`aggregate`] -> [`export`] (metrics, flow log, report). [`pipeline`]
//! wires the stages together for one worker.

#![deny(unsafe_code)]

pub mod aggregate;
pub mod classify;
pub mod decode;
pub mod diag;
pub mod export;
pub mod flow;
pub mod hosts;
pub mod inspect;
pub mod mac;
pub mod pipeline;
pub mod segment;
pub mod source;
pub mod text_lines;
