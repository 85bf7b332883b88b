//! The commands behind the `vendorwatch` binary.

pub mod explain;
pub mod http;
pub mod live;
pub mod replay;
pub mod rules;
pub mod signatures;
