//! The commands behind the `vendorwatch` binary.

pub mod explain;
#[cfg(feature = "live")]
pub mod http;
#[cfg(feature = "live")]
pub mod live;
pub mod replay;
pub mod rules;
pub mod signatures;
#[cfg(feature = "live")]
pub mod web;
