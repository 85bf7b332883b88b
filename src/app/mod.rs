//! The commands behind the `vendorwatch` binary.

pub mod explain;
pub mod replay;
pub mod rules;
pub mod signatures;
