//! The commands behind the `vendorwatch` binary.

mod reading;
#[cfg(feature = "live")]
mod hosts_api;
#[cfg(feature = "live")]
pub mod http;
mod lanes;
#[cfg(feature = "live")]
pub mod live;
pub mod replay;
pub mod rules;
pub mod signatures;
mod spread;
#[cfg(feature = "live")]
pub mod web;
