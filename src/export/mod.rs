//! Export: Prometheus metrics, the per-flow log and the analyst's report.

pub mod community_id;
pub mod flowlog;
pub mod hosts;
pub mod metrics;
pub mod openmetrics;
pub mod report;
pub mod time;
