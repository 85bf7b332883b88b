//! The live sensor's HTTP endpoint: its routes, and the checks every
//! request passes first (how connections are served is [`super::web`]).
//!
//! - `GET /`: a page of the sensor's own (no outside assets) with banned
//!   vendors per segment, recent flows and capture health; it refreshes
//!   itself from the API below.
//! - `GET /metrics`: Prometheus text format 0.0.4, or OpenMetrics 1.0 when
//!   the Accept header asks for `application/openmetrics-text`.
//! - `GET /healthz`: 200 while every capture thread runs.
//! - `GET /api/summary`: the replay report, as JSON.
//! - `GET /api/flows?vendor=&segment=&limit=`: recent attributed flows with
//!   their evidence, newest first; at most [`MAX_FLOWS_PER_RESPONSE`]
//!   records and about [`MAX_FLOWS_BYTES`], streamed.
//! - `GET /api/devices?vendor=&segment=`: the devices seen within the host
//!   window, as `--devices-out` writes them (they hold MACs and host names).
//! - `GET /api/hosts?vendor=&segment=`: segment hosts and the vendors they
//!   reached, as `--hosts-out` writes them.
//! - `GET /api/health`: capture threads and their kernel counters, the
//!   last reload, as JSON.
//! - `POST /-/reload`: reloads config and signatures (as SIGHUP does), with
//!   `--web.enable-lifecycle` only.
//!
//! Before any route: the `Host` check, basic auth when the web config has
//! users, and for anything but GET and HEAD the `Origin` check.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRef, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use http_body::Frame;
use serde::{Deserialize, Serialize};

use super::live::{Live, lock};
use super::web::{ConnContext, HostPolicy, WebOptions, cross_site_fetch, same_origin};
use vendorwatch::export::flowlog::FlowRecord;
use vendorwatch::export::metrics::{Exposition, Format, Kind};
use vendorwatch::export::report::Summary;

/// Records one `/api/flows` response holds at most (also its default).
pub const MAX_FLOWS_PER_RESPONSE: usize = 1000;
/// Bytes after which an `/api/flows` response ends its list (the record
/// that crosses the line is the last).
pub const MAX_FLOWS_BYTES: usize = 4 << 20;
/// Bytes of `/api/flows` written per chunk of the stream.
const FLOWS_CHUNK: usize = 16 << 10;

const PAGE_HTML: &str = include_str!("web/page.html");
const PAGE_JS: &str = include_str!("web/page.js");
const PAGE_CSS: &str = include_str!("web/page.css");
/// The page loads only itself and talks only to its own origin.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

#[derive(Clone)]
struct AppState {
    live: Arc<Live>,
    lifecycle: bool,
    hosts: Arc<HostPolicy>,
}

impl FromRef<AppState> for Arc<Live> {
    fn from_ref(state: &AppState) -> Arc<Live> {
        state.live.clone()
    }
}

pub(crate) fn router(live: Arc<Live>, web: &WebOptions, listen: SocketAddr) -> Router {
    let state = AppState {
        live,
        lifecycle: web.enable_lifecycle,
        hosts: Arc::new(HostPolicy::new(listen, &web.allowed_hosts)),
    };
    let mut router = Router::new()
        .route("/", get(page))
        .route("/page.js", get(page_js))
        .route("/page.css", get(page_css))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/-/reload", post(reload));
    if !web.disable_api {
        router = router
            .route("/api/summary", get(summary))
            .route("/api/flows", get(flows))
            .route("/api/devices", get(devices))
            .route("/api/hosts", get(super::hosts_api::hosts))
            .route("/api/health", get(health));
    }
    router.layer(from_fn_with_state(state.clone(), guard)).with_state(state)
}

fn text(status: StatusCode, body: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

/// The checks before any route, cheapest first.
async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers.get(header::HOST).map(|h| h.to_str().unwrap_or(""));
    if !state.hosts.allows(host) {
        return text(
            StatusCode::MISDIRECTED_REQUEST,
            "this Host is not the sensor's address; add it with --web.allowed-hosts\n",
        );
    }
    let context = request.extensions().get::<ConnContext>().cloned();
    if let Some(auth) = context.as_ref().map(|c| c.config.auth.clone()).filter(|a| !a.is_empty()) {
        if !auth.allows(headers).await {
            let mut response = text(StatusCode::UNAUTHORIZED, "Unauthorized\n");
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
            return response;
        }
    }
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        let tls = context.as_ref().is_some_and(|c| c.tls);
        let origin = headers.get(header::ORIGIN).map(|o| o.to_str().unwrap_or("null"));
        let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
        if !same_origin(origin, host, tls) || cross_site_fetch(fetch_site) {
            return text(StatusCode::FORBIDDEN, "cross-origin requests may only read\n");
        }
    }
    let mut response = next.run(request).await;
    if let Some(context) = context {
        for (name, value) in &context.config.headers {
            response.headers_mut().insert(name.clone(), value.clone());
        }
    }
    response
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, PAGE_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn page() -> Response {
    asset("text/html; charset=utf-8", PAGE_HTML)
}

async fn page_js() -> Response {
    asset("text/javascript; charset=utf-8", PAGE_JS)
}

async fn page_css() -> Response {
    asset("text/css; charset=utf-8", PAGE_CSS)
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

#[derive(Deserialize)]
struct FlowsQuery {
    vendor: Option<String>,
    segment: Option<String>,
    limit: Option<usize>,
}

async fn flows(State(live): State<Arc<Live>>, Query(q): Query<FlowsQuery>) -> Response {
    let nonempty = |s: &Option<String>| s.as_deref().filter(|s| !s.is_empty()).map(str::to_owned);
    let (vendor, segment) = (nonempty(&q.vendor), nonempty(&q.segment));
    let limit = q.limit.unwrap_or(MAX_FLOWS_PER_RESPONSE).min(MAX_FLOWS_PER_RESPONSE);
    // One more than asked says whether the list was cut.
    let mut records = live.recent.query(vendor.as_deref(), segment.as_deref(), limit + 1);
    let more = records.len() > limit;
    records.truncate(limit);
    ([(header::CONTENT_TYPE, "application/json")], Body::new(FlowsStream::new(records, more))).into_response()
}

/// `{"flows":[...],"truncated":BOOL}`, one record a line, serialised a
/// chunk at a time as the client reads: a reader holds the records (the
/// ring's, shared) and one chunk, however slowly it reads.
struct FlowsStream {
    records: std::vec::IntoIter<Arc<FlowRecord>>,
    /// Records matched past the limit, or the byte bound was reached.
    truncated: bool,
    written: usize,
    state: StreamState,
}

#[derive(PartialEq)]
enum StreamState {
    Start,
    Records,
    Done,
}

impl FlowsStream {
    fn new(records: Vec<Arc<FlowRecord>>, truncated: bool) -> Self {
        FlowsStream { records: records.into_iter(), truncated, written: 0, state: StreamState::Start }
    }

    fn next_chunk(&mut self) -> Option<Vec<u8>> {
        let mut chunk = Vec::with_capacity(FLOWS_CHUNK + 1024);
        match self.state {
            StreamState::Done => return None,
            StreamState::Start => {
                chunk.extend_from_slice(b"{\"flows\":[");
                self.state = StreamState::Records;
            }
            StreamState::Records => {}
        }
        while chunk.len() < FLOWS_CHUNK {
            let record = if self.written < MAX_FLOWS_BYTES { self.records.next() } else { None };
            let Some(record) = record else {
                self.truncated |= self.records.len() > 0;
                chunk.extend_from_slice(format!("\n],\"truncated\":{}}}\n", self.truncated).as_bytes());
                self.state = StreamState::Done;
                break;
            };
            let before = chunk.len();
            if self.written > 0 {
                chunk.push(b',');
            }
            chunk.push(b'\n');
            // Serialising plain data into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut chunk, &*record);
            self.written += chunk.len() - before;
        }
        Some(chunk)
    }
}

impl http_body::Body for FlowsStream {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.get_mut().next_chunk().map(|c| Ok(Frame::data(Bytes::from(c)))))
    }

    fn is_end_stream(&self) -> bool {
        self.state == StreamState::Done
    }
}

#[derive(Serialize)]
struct Health<'a> {
    capturing: bool,
    interfaces: Vec<InterfaceHealth<'a>>,
    reload: ReloadHealth,
}

#[derive(Serialize)]
struct InterfaceHealth<'a> {
    interface: &'a str,
    workers: usize,
    workers_capturing: usize,
    received: u64,
    dropped: u64,
    interface_dropped: u64,
    errors: u64,
}

#[derive(Serialize)]
struct ReloadHealth {
    last_successful: bool,
    last_success_timestamp_seconds: f64,
    failures: u64,
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
        .map(|(key, facts)| vendorwatch::hosts::record::DeviceRecord::new(key, facts))
        .filter(|d| wanted(&q.vendor, d.vendor) && wanted(&q.segment, Some(d.segment)))
        .collect();
    json(&serde_json::json!({ "devices": devices }))
}

async fn health(State(live): State<Arc<Live>>) -> Response {
    let mut interfaces: Vec<InterfaceHealth> = Vec::new();
    for h in &live.handles {
        let i = interfaces.iter().position(|i| i.interface == h.interface).unwrap_or_else(|| {
            interfaces.push(InterfaceHealth {
                interface: &h.interface,
                workers: 0,
                workers_capturing: 0,
                received: 0,
                dropped: 0,
                interface_dropped: 0,
                errors: 0,
            });
            interfaces.len() - 1
        });
        let i = &mut interfaces[i];
        i.workers += 1;
        i.workers_capturing += usize::from(h.capturing.load(Ordering::Relaxed));
        i.received += h.received.load(Ordering::Relaxed);
        i.dropped += h.dropped.load(Ordering::Relaxed);
        i.interface_dropped += h.if_dropped.load(Ordering::Relaxed);
        i.errors += h.errors.load(Ordering::Relaxed);
    }
    let reload = {
        let r = lock(&live.reload);
        ReloadHealth {
            last_successful: r.last_ok,
            last_success_timestamp_seconds: r.last_success_s,
            failures: r.failures,
        }
    };
    json(&Health { capturing: live.all_alive(), interfaces, reload })
}

async fn reload(State(state): State<AppState>) -> Response {
    if !state.lifecycle {
        return text(
            StatusCode::FORBIDDEN,
            "the lifecycle API is not enabled (--web.enable-lifecycle); SIGHUP reloads\n",
        );
    }
    let live = state.live;
    match tokio::task::spawn_blocking(move || live.reload("POST /-/reload")).await {
        Ok(Ok(text)) => (StatusCode::OK, text + "\n").into_response(),
        Ok(Err(text)) => (StatusCode::INTERNAL_SERVER_ERROR, text + "\n").into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
