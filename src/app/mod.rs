//! The commands behind the `vendorwatch` binary.

#[cfg(feature = "live")]
mod hosts_api;
#[cfg(feature = "live")]
pub mod http;
mod lanes;
#[cfg(feature = "live")]
pub mod live;
mod reading;
pub mod replay;
pub mod rules;
pub mod signatures;
mod spread;
#[cfg(feature = "live")]
pub mod web;
