//! dist/vendorwatch-dashboard.json: valid against Grafana's published
//! dashboard schema, and every query of every panel and variable answered
//! by a real Prometheus that scraped a live sensor fed with fixtures.
//!
//! The schema is the `Dashboard` type of `@grafana/schema` (generated from
//! Grafana's CUE kinds), checked by the TypeScript compiler; both are
//! pinned in tests/dashboard-schema/package.json (`npm ci --prefix
//! tests/dashboard-schema`, which .ci/run does). The live test needs root,
//! `ip`, `tcpreplay`, `curl` and Debian's `prometheus`. Without them a test
//! says "skipped" and passes, except in CI (`CI` set), where it fails.

mod common;
#[allow(dead_code)]
#[path = "common/netns.rs"]
mod netns;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use common::TempDir;
use netns::PROMETHEUS_LISTEN;

/// Metrics that panels (or the recording rules they draw) need and that the
/// sensor does not export yet. Their panels' queries must be valid but are
/// expected empty; once the sensor exports one, the live test fails until
/// it is removed from here, so the list cannot go stale.
const KNOWN_MISSING: &[&str] = &[];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn dashboard() -> Value {
    let path = root().join("dist/vendorwatch-dashboard.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every panel, rows' nested panels included.
fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in dashboard["panels"].as_array().expect("panels") {
        out.push(p);
        if let Some(nested) = p["panels"].as_array() {
            out.extend(nested);
        }
    }
    out
}

/// One query of the dashboard: where it is, its PromQL, and whether
/// Grafana runs it as an instant query.
struct Query {
    what: String,
    expr: String,
    instant: bool,
}

fn queries(dashboard: &Value) -> Vec<Query> {
    let mut out = Vec::new();
    for p in panels(dashboard).into_iter().filter(|p| p["type"] != "row") {
        for t in p["targets"].as_array().expect("targets") {
            out.push(Query {
                what: format!("panel {:?} target {}", p["title"].as_str().unwrap(), t["refId"]),
                expr: t["expr"].as_str().expect("expr").to_owned(),
                instant: t["instant"] == true,
            });
        }
    }
    out
}

/// The query variables: (name, query, the value "All" stands for).
fn query_variables(dashboard: &Value) -> Vec<(String, String, String)> {
    dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["type"] == "query")
        .map(|v| {
            (
                v["name"].as_str().unwrap().to_owned(),
                v["query"]["query"].as_str().unwrap().to_owned(),
                v["allValue"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// `vendorwatch_...` and `level:metric:op` names in a PromQL expression.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    expr.split(|c: char| !is_name(c))
        .filter(|w| w.starts_with("vendorwatch_") || w.contains(":vendorwatch_"))
        .map(str::to_owned)
        .collect()
}

/// Recording rule name -> the metrics its expression reads.
fn recording_rules() -> BTreeMap<String, BTreeSet<String>> {
    let text = std::fs::read_to_string(root().join("dist/vendorwatch-rules.yml")).unwrap();
    let mut rules = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(name) = trimmed.strip_prefix("- record: ") {
            current = Some(name.trim().to_owned());
            rules.insert(name.trim().to_owned(), BTreeSet::new());
        } else if let Some(name) = &current {
            if !trimmed.starts_with('#') {
                rules.get_mut(name).unwrap().extend(metric_names(trimmed));
            }
        }
    }
    rules
}

/// The exported metrics a query needs, recording rules expanded.
fn needs(expr: &str, rules: &BTreeMap<String, BTreeSet<String>>) -> BTreeSet<String> {
    metric_names(expr).into_iter().flat_map(|m| rules.get(&m).cloned().unwrap_or_else(|| BTreeSet::from([m]))).collect()
}

#[test]
fn panels_filter_by_the_variables_and_draw_recorded_or_exported_metrics() {
    let d = dashboard();
    let names: Vec<String> = query_variables(&d).into_iter().map(|v| v.0).collect();
    assert_eq!(names, ["instance", "segment", "vendor"], "query variables");
    let rules = recording_rules();
    let mut ids = BTreeSet::new();
    for p in panels(&d) {
        assert!(ids.insert(p["id"].as_u64().expect("panel id")), "panel ids are unique: {}", p["id"]);
    }
    let all = queries(&d);
    assert!(all.len() >= 20, "{} queries", all.len());
    for q in &all {
        assert!(q.expr.contains("instance=~\"$instance\""), "{} filters by $instance: {}", q.what, q.expr);
        for m in metric_names(&q.expr).into_iter().filter(|m| m.contains(':')) {
            assert!(
                rules.contains_key(&m),
                "{} uses recording rule {m}, which dist/vendorwatch-rules.yml lacks",
                q.what
            );
        }
    }
    // The panels the issue asks for are there.
    let titles: Vec<&str> = panels(&d).iter().filter_map(|p| p["title"].as_str()).collect();
    for want in [
        "Banned vendors' traffic per segment",
        "Hosts per vendor",
        "Devices per vendor",
        "DNS lookups per second by vendor",
        "Evidence mix",
        "ECH share of flows",
        "Capturing",
        "Dropped frames per second",
    ] {
        assert!(titles.contains(&want), "a panel {want:?} in {titles:?}");
    }
}

// ---------------------------------------------------------------- schema

/// `@grafana/schema`'s dashboard types with each TypeScript enum turned into
/// the union of its values: the JSON holds the values (`"absolute"`, `1`),
/// which TypeScript would not accept for a nominal enum type.
fn schema_as_json_types(types: &str) -> String {
    let mut out = String::new();
    let mut members: Vec<(String, String)> = Vec::new();
    let mut rest = types;
    while let Some(start) = rest.find("export declare enum ") {
        out.push_str(&rest[..start]);
        let after = &rest[start + "export declare enum ".len()..];
        let (name, body) = after.split_once('{').expect("enum body");
        let name = name.trim();
        let (body, tail) = body.split_once('}').expect("enum end");
        let values: Vec<String> = body
            .split(',')
            .filter_map(|m| m.split_once('='))
            .map(|(member, value)| {
                members.push((format!("{name}.{}", member.trim()), value.trim().to_owned()));
                value.trim().to_owned()
            })
            .collect();
        assert!(!values.is_empty(), "enum {name} has values");
        let _ = write!(out, "export type {name} = {};", values.join(" | "));
        rest = tail;
    }
    out.push_str(rest);
    // Longest first, so `A.Bc` is not replaced as `A.B` + `c`.
    members.sort_by_key(|(m, _)| std::cmp::Reverse(m.len()));
    for (member, value) in members {
        out = out
            .replace(&format!("{member};"), &format!("{value};"))
            .replace(&format!("{member} "), &format!("{value} "));
    }
    out
}

/// Type-checks `dashboard_json` as a Grafana `Dashboard`; Err has tsc's report.
fn check_against_schema(modules: &Path, dashboard_json: &str) -> Result<(), String> {
    let types = modules.join("@grafana/schema/dist/types/raw/dashboard/x/types.gen.d.ts");
    let types = std::fs::read_to_string(&types).unwrap_or_else(|e| panic!("{}: {e}", types.display()));
    let dir = TempDir::new("dashboard-schema");
    std::fs::write(dir.path("schema.ts"), schema_as_json_types(&types)).unwrap();
    // An object literal assigned to the type gets excess-property checks:
    // an unknown or misspelt field is an error, not ignored.
    std::fs::write(
        dir.path("check.ts"),
        format!(
            "import type {{ Dashboard }} from \"./schema\";\nexport const dashboard: Dashboard = {dashboard_json};\n"
        ),
    )
    .unwrap();
    let out = Command::new("node")
        .arg(modules.join("typescript/bin/tsc"))
        .args(["--noEmit", "--strict", "--target", "es2020", "--module", "commonjs", "--moduleResolution", "node"])
        .arg(dir.path("check.ts"))
        .output()
        .expect("run node");
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }
}

#[test]
fn dashboard_matches_grafanas_published_schema() {
    let test = "dashboard_matches_grafanas_published_schema";
    let modules = root().join("tests/dashboard-schema/node_modules");
    let why = if !common::on_path("node") {
        Some("`node` is not installed (apt-get install nodejs)".to_owned())
    } else if !modules.join("typescript").is_dir() || !modules.join("@grafana/schema").is_dir() {
        Some("the schema packages are not installed (npm ci --prefix tests/dashboard-schema)".to_owned())
    } else {
        None
    };
    if !common::can_run(test, why) {
        return;
    }
    let json = std::fs::read_to_string(root().join("dist/vendorwatch-dashboard.json")).unwrap();
    if let Err(report) = check_against_schema(&modules, &json) {
        panic!("dist/vendorwatch-dashboard.json does not match Grafana's dashboard schema:\n{report}");
    }
    // The check bites: a misspelt field and an out-of-range enum value fail.
    let misspelt = json.replacen("\"collapsed\": false", "\"colapsed\": false, \"collapsed\": false", 1);
    let report = check_against_schema(&modules, &misspelt).expect_err("a misspelt row field is refused");
    assert!(report.contains("'\"colapsed\"' does not exist"), "{report}");
    let tooltip = json.replacen("\"graphTooltip\": 1", "\"graphTooltip\": 7", 1);
    let report = check_against_schema(&modules, &tooltip).expect_err("graphTooltip 7 is refused");
    assert!(report.contains("DashboardCursorSync"), "{report}");
}

// ---------------------------------------------------------------- live

/// Grafana's substitutions for a test: "All" for each variable, and the
/// interval variables for a short range scraped every second.
fn substitute(expr: &str, variables: &[(String, String, String)]) -> String {
    let mut expr = expr.replace("$__rate_interval", "15s").replace("$__range", "5m");
    for (name, _, all) in variables {
        expr = expr.replace(&format!("${name}"), all);
    }
    assert!(!expr.contains('$'), "an unsubstituted variable in {expr}");
    expr
}

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

#[test]
#[allow(
    clippy::too_many_lines,
    reason = "one end-to-end scenario: each step needs the namespaces, sensor and Prometheus the earlier steps set up"
)]
fn every_panel_query_returns_series_from_a_scraped_sensor() {
    let test = "every_panel_query_returns_series_from_a_scraped_sensor";
    if !common::can_run(test, netns::missing(&["ip", "tcpreplay", "curl", "prometheus"])) {
        return;
    }
    let d = dashboard();
    let variables = query_variables(&d);
    let rules = recording_rules();
    let fixtures = [common::fixture("sample.pcap"), common::fixture("ech.pcap")];
    let per_round: u64 = fixtures.iter().map(|f| common::read_pcap(f).0.len() as u64).sum();

    let pair = netns::VethPair::new();
    let dir = TempDir::new("dashboard-live");
    let config = common::fixture("sample.toml").display().to_string();
    let mut sensor =
        netns::start_sensor(&pair, &dir.0, &["--config", &config, "--idle-timeout", "1s", "--flush-interval", "200ms"]);
    let rule_files: Vec<PathBuf> =
        ["vendorwatch-rules.yml", "vendorwatch-alerts.yml"].map(|f| root().join("dist").join(f)).into();
    let mut prom = netns::start_prometheus(&pair, &dir.0, &rule_files);
    let ns = pair.sensor_ns.clone();
    netns::wait_for("Prometheus to scrape the sensor", Duration::from_secs(60), || {
        prom.assert_running();
        netns::prometheus_query(&ns, "up{job=\"vendorwatch\"} == 1").filter(|r| !r.is_empty())
    });

    // Two rounds: the first gives birth to the series, the second makes
    // them grow, so rates (and the ratios built on them) are not empty.
    let mut metrics = String::new();
    for round in 1..=2u64 {
        for f in &fixtures {
            pair.replay(f);
        }
        metrics = netns::wait_settled(&pair, &mut sensor, round * per_round);
        let q = format!("vendorwatch_capture_packets_total{{source=\"{}\"}} >= {}", pair.sensor_if, round * per_round);
        netns::wait_for(&format!("Prometheus to scrape round {round}"), Duration::from_secs(30), || {
            netns::prometheus_query(&ns, &q).filter(|r| !r.is_empty())
        });
    }
    // The rate-based recording rules have seen the growth.
    netns::wait_for("the recording rules", Duration::from_secs(30), || {
        netns::prometheus_query(&ns, "segment:vendorwatch_ech_flows:ratio_rate5m > 0").filter(|r| !r.is_empty())
    });

    let exported: BTreeSet<String> = metrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    for m in KNOWN_MISSING {
        let family = m.strip_suffix("_total").unwrap_or(m);
        assert!(
            !exported.contains(*m) && !exported.contains(family),
            "the sensor now exports {m}: remove it from KNOWN_MISSING so its panels are checked"
        );
    }

    // The variables offer values.
    for (name, query, _) in &variables {
        let (metric, label) = query
            .strip_prefix("label_values(")
            .and_then(|q| q.strip_suffix(')'))
            .and_then(|q| q.rsplit_once(", "))
            .unwrap_or_else(|| panic!("variable {name}: {query}"));
        let selector = substitute(metric, &variables);
        let values =
            netns::prometheus_api(&ns, &format!("/api/v1/label/{label}/values"), &[("match[]", &selector)]).unwrap();
        assert!(!values.is_empty(), "variable {name} ({query}) offers no value");
    }

    let mut empty_as_expected = Vec::new();
    for q in queries(&d) {
        let expr = substitute(&q.expr, &variables);
        let result = if q.instant {
            netns::prometheus_query(&ns, &expr)
        } else {
            let (end, start) = (now(), now() - 120.0);
            netns::prometheus_api(
                &ns,
                "/api/v1/query_range",
                &[("query", &expr), ("start", &format!("{start:.3}")), ("end", &format!("{end:.3}")), ("step", "2")],
            )
        }
        .expect("Prometheus answers");
        let missing: Vec<String> =
            needs(&q.expr, &rules).into_iter().filter(|m| KNOWN_MISSING.contains(&m.as_str())).collect();
        if missing.is_empty() {
            assert!(!result.is_empty(), "{} returned no series: {expr}", q.what);
        } else {
            assert!(result.is_empty(), "{} has data although {missing:?} is not exported: {expr}", q.what);
            empty_as_expected.push(format!("{} (needs {})", q.what, missing.join(", ")));
        }
    }
    eprintln!("panels waiting for metrics the sensor does not export yet:\n  {}", empty_as_expected.join("\n  "));

    // The shipped rules evaluate on real series without errors (a PromQL
    // type error or duplicate label sets would show as health "err").
    let (_, body) = netns::http_get(&ns, &format!("http://{PROMETHEUS_LISTEN}/api/v1/rules"), &[]);
    let v: Value = serde_json::from_str(&body).unwrap();
    let rules_seen: Vec<&Value> =
        v["data"]["groups"].as_array().unwrap().iter().flat_map(|g| g["rules"].as_array().unwrap()).collect();
    assert!(rules_seen.len() >= 15, "Prometheus loaded the rule files: {body}");
    for r in &rules_seen {
        assert_eq!(r["health"], "ok", "rule {} evaluates: {r}", r["name"]);
    }
    // sample.pcap looks up names of banned apple and bytedance in hq: the
    // lookup alert fires end to end.
    let firing = netns::wait_for("VendorwatchBannedNameLookup to fire", Duration::from_secs(30), || {
        let (_, body) = netns::http_get(&ns, &format!("http://{PROMETHEUS_LISTEN}/api/v1/alerts"), &[]);
        let v: Value = serde_json::from_str(&body).ok()?;
        let firing: BTreeSet<(String, String, String)> = v["data"]["alerts"]
            .as_array()?
            .iter()
            .filter(|a| a["state"] == "firing")
            .map(|a| {
                let l = |k: &str| a["labels"][k].as_str().unwrap_or("").to_owned();
                (l("alertname"), l("segment"), l("vendor"))
            })
            .collect();
        firing.contains(&("VendorwatchBannedNameLookup".into(), "hq".into(), "apple".into())).then_some(firing)
    });
    // So does the contact alert, once the sensor exports what it needs.
    let contact = ("VendorwatchBannedVendorContact".to_owned(), "hq".to_owned(), "apple".to_owned());
    let contact_metrics = ["vendorwatch_vendor_last_seen_timestamp_seconds", "vendorwatch_banned_flows_total"];
    if contact_metrics.iter().all(|m| KNOWN_MISSING.contains(m)) {
        assert!(!firing.contains(&contact), "the contact alert fired without its metrics: {firing:?}");
    } else {
        assert!(firing.contains(&contact), "the contact alert fires for apple in hq: {firing:?}");
    }
    sensor.assert_running();
    prom.assert_running();
}
