//! The live sensor's HTTP endpoint.
//!
//! - `GET /metrics`: Prometheus text format 0.0.4, or OpenMetrics 1.0 when
//!   the Accept header asks for `application/openmetrics-text`.
//! - `GET /healthz`: 200 while every capture thread runs.
//! - `GET /api/summary`: the replay report, as JSON.
//! - `GET /api/flows?vendor=&segment=&limit=`: recent attributed flows with
//!   their evidence, newest first.
//! - `GET /api/devices?vendor=&segment=`: the devices seen within the host
//!   window, as `--devices-out` writes them (they hold MACs and host names).
//! - `POST /-/reload`: reloads config and signatures (as SIGHUP does).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use super::live::{Live, lock};
use crate::export::flowlog::FlowRecord;
use crate::export::metrics::{Exposition, Format, Kind};
use crate::export::report::Summary;

pub(crate) fn router(live: Arc<Live>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/api/summary", get(summary))
        .route("/api/flows", get(flows))
        .route("/api/devices", get(devices))
        .route("/api/hosts", get(super::hosts_api::hosts))
        .route("/-/reload", post(reload))
        .with_state(live)
}

fn wants_openmetrics(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|part| part.trim().starts_with("application/openmetrics-text")))
}

async fn metrics(State(live): State<Arc<Live>>, headers: HeaderMap) -> Response {
    let format = if wants_openmetrics(&headers) { Format::OpenMetrics } else { Format::Prometheus };
    let text = exposition(&live, format);
    ([(header::CONTENT_TYPE, format.content_type())], text).into_response()
}

/// The aggregated counters followed by the sensor's own. Renders the
/// collector's snapshot, holding no lock a worker or the collector waits on.
pub(crate) fn exposition(live: &Live, format: Format) -> String {
    let mut e = Exposition::new(format);
    live.write_counters(&mut e);
    write_sensor_counters(&mut e, live);
    e.finish()
}

fn write_sensor_counters(e: &mut Exposition, live: &Live) {
    // Per interface, summed over its workers, in command-line order.
    let mut interfaces: Vec<(&str, [u64; 4])> = Vec::new();
    for h in &live.handles {
        let values = [&h.received, &h.dropped, &h.if_dropped, &h.errors].map(|a| a.load(Ordering::Relaxed));
        match interfaces.iter_mut().find(|(name, _)| *name == h.interface) {
            Some((_, sum)) => sum.iter_mut().zip(values).for_each(|(s, v)| *s += v),
            None => interfaces.push((&h.interface, values)),
        }
    }
    for (name, help, i) in [
        (
            "vendorwatch_capture_received_total",
            "Frames the kernel passed to the capture sockets, by interface (pcap ps_recv).",
            0,
        ),
        (
            "vendorwatch_capture_drops_total",
            "Frames the kernel dropped because a capture ring was full, by interface (pcap ps_drop).",
            1,
        ),
        (
            "vendorwatch_capture_interface_drops_total",
            "Frames the interface or its driver dropped, by interface (pcap ps_ifdrop).",
            2,
        ),
        ("vendorwatch_capture_errors_total", "Capture read errors, by interface.", 3),
    ] {
        e.family(name, Kind::Counter, help);
        for (interface, values) in &interfaces {
            e.sample(name, &[("interface", interface)], values[i] as f64);
        }
    }
    let reload = lock(&live.reload);
    e.family(
        "vendorwatch_config_reload_failures_total",
        Kind::Counter,
        "Reloads of config and signatures that failed (the running set stayed).",
    );
    e.sample("vendorwatch_config_reload_failures_total", &[], reload.failures as f64);
    e.family(
        "vendorwatch_config_last_reload_success_timestamp_seconds",
        Kind::Gauge,
        "When config and signatures were last loaded successfully (start or reload), Unix time.",
    );
    e.sample("vendorwatch_config_last_reload_success_timestamp_seconds", &[], reload.last_success_s);
    e.family(
        "vendorwatch_config_last_reload_successful",
        Kind::Gauge,
        "1 if the last load of config and signatures succeeded.",
    );
    e.sample("vendorwatch_config_last_reload_successful", &[], if reload.last_ok { 1.0 } else { 0.0 });
    drop(reload);
    e.family("vendorwatch_build_info", Kind::Gauge, "Always 1; the version label says which build runs.");
    e.sample("vendorwatch_build_info", &[("version", env!("CARGO_PKG_VERSION"))], 1.0);
}

async fn healthz(State(live): State<Arc<Live>>) -> Response {
    if live.all_alive() {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "a capture thread has stopped\n").into_response()
    }
}

fn json(value: &impl serde::Serialize) -> Response {
    match serde_json::to_string_pretty(value) {
        Ok(mut body) => {
            body.push('\n');
            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn summary(State(live): State<Arc<Live>>) -> Response {
    let since = live.hosts_since_ns();
    let summary = Summary::from_aggregator(&live.snapshot(), since, &live.rules.policy());
    json(&summary)
}

#[derive(Serialize)]
struct FlowsBody<'a> {
    flows: Vec<&'a FlowRecord>,
}

#[derive(Deserialize)]
struct FlowsQuery {
    vendor: Option<String>,
    segment: Option<String>,
    limit: Option<usize>,
}

async fn flows(State(live): State<Arc<Live>>, Query(q): Query<FlowsQuery>) -> Response {
    let nonempty = |s: &Option<String>| s.as_deref().filter(|s| !s.is_empty()).map(str::to_owned);
    let (vendor, segment) = (nonempty(&q.vendor), nonempty(&q.segment));
    let flows = live.recent.query(vendor.as_deref(), segment.as_deref(), q.limit.unwrap_or(usize::MAX));
    json(&FlowsBody { flows: flows.iter().map(|r| &**r).collect() })
}

#[derive(Deserialize)]
struct DevicesQuery {
    vendor: Option<String>,
    segment: Option<String>,
}

async fn devices(State(live): State<Arc<Live>>, Query(q): Query<DevicesQuery>) -> Response {
    let snapshot = live.snapshot();
    let wanted =
        |want: &Option<String>, have: Option<&str>| want.as_deref().is_none_or(|w| w.is_empty() || Some(w) == have);
    let devices: Vec<_> = snapshot
        .devices
        .seen_since(live.hosts_since_ns())
        .into_iter()
        .map(|(key, facts)| crate::hosts::record::DeviceRecord::new(key, facts))
        .filter(|d| wanted(&q.vendor, d.vendor) && wanted(&q.segment, Some(d.segment)))
        .collect();
    json(&serde_json::json!({ "devices": devices }))
}

async fn reload(State(live): State<Arc<Live>>) -> Response {
    match tokio::task::spawn_blocking(move || live.reload("POST /-/reload")).await {
        Ok(Ok(text)) => (StatusCode::OK, text + "\n").into_response(),
        Ok(Err(text)) => (StatusCode::INTERNAL_SERVER_ERROR, text + "\n").into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
