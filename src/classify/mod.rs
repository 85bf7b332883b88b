//! Classify: which vendor and service a flow belongs to, and on what evidence.

pub mod attribution;
pub mod calls;
pub mod dns_cache;
pub mod encrypted_dns;
pub mod explain;
pub mod names;
pub mod rules;
mod shards;
pub mod signatures;
pub mod verdict;
