//! `GET /api/hosts?vendor=&segment=`: the live sensor's segment hosts, the
//! same records as `replay --hosts-out` writes (hosts seen within
//! `--host-window`), as `{"hosts": [...]}`.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::live::Live;
use vendorwatch::export::hosts::{HostRecord, host_records};

#[derive(Deserialize)]
pub(crate) struct HostsQuery {
    vendor: Option<String>,
    segment: Option<String>,
}

#[derive(Serialize)]
struct HostsBody {
    hosts: Vec<HostRecord>,
}

pub(crate) async fn hosts(State(live): State<Arc<Live>>, Query(q): Query<HostsQuery>) -> Response {
    let nonempty = |s: &Option<String>| s.as_deref().filter(|s| !s.is_empty()).map(str::to_owned);
    let (vendor, segment) = (nonempty(&q.vendor), nonempty(&q.segment));
    let since = live.hosts_since_ns();
    let mut hosts = host_records(&live.snapshot(), vendor.as_deref(), segment.as_deref());
    // The collector prunes once a minute; the window is exact here.
    hosts.retain(|h| h.traffic.last_seen >= since);
    match serde_json::to_string_pretty(&HostsBody { hosts }) {
        Ok(mut body) => {
            body.push('\n');
            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
