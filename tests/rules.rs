//! The shipped Prometheus files under Debian's real promtool: the rule
//! files and the scrape configuration check, and the alerting and
//! recording rules pass their unit tests (tests/rules/vendorwatch.test.yml:
//! first contact, restart, reload, drops, capture errors and health, sensor
//! down, every recording rule).
//!
//! Without `promtool` (Debian's `prometheus` package) a test says
//! "skipped" and passes, except in CI (`CI` set), where it fails.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn dist(name: &str) -> PathBuf {
    root().join("dist").join(name)
}

fn unit_tests() -> PathBuf {
    root().join("tests/rules/vendorwatch.test.yml")
}

fn have_promtool(test: &str) -> bool {
    let found =
        std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|dir| dir.join("promtool").is_file()));
    if found {
        return true;
    }
    let why = "`promtool` is not installed (apt-get install prometheus)";
    assert!(std::env::var_os("CI").is_none(), "{test}: cannot run in CI: {why}");
    let _ = writeln!(std::io::stderr(), "{test}: skipped: {why}");
    false
}

/// Runs promtool; panics with its output unless it succeeds.
fn promtool(args: &[&str]) -> String {
    let out = Command::new("promtool").args(args).current_dir(root()).output().expect("run promtool");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

/// The names defined by `- KEY: NAME` lines of a rule file.
fn names(file: &Path, key: &str) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let prefix = format!("- {key}: ");
    text.lines().filter_map(|l| l.trim().strip_prefix(&prefix)).map(|n| n.trim().to_owned()).collect()
}

#[test]
fn rule_files_and_scrape_config_pass_promtool_check() {
    if !have_promtool("rule_files_and_scrape_config_pass_promtool_check") {
        return;
    }
    let alerts = dist("vendorwatch-alerts.yml");
    let recording = dist("vendorwatch-rules.yml");
    let text = promtool(&["check", "rules", alerts.to_str().unwrap(), recording.to_str().unwrap()]);
    let (n_alerts, n_records) = (names(&alerts, "alert").len(), names(&recording, "record").len());
    assert!(text.contains(&format!("SUCCESS: {n_alerts} rules found")), "{text}");
    assert!(text.contains(&format!("SUCCESS: {n_records} rules found")), "{text}");
    // The example configuration loads both rule files.
    let text = promtool(&["check", "config", dist("prometheus.yml").to_str().unwrap()]);
    assert!(text.contains("SUCCESS: 2 rule files found"), "{text}");
}

#[test]
fn alerting_and_recording_rules_pass_their_unit_tests() {
    if !have_promtool("alerting_and_recording_rules_pass_their_unit_tests") {
        return;
    }
    let text = promtool(&["test", "rules", unit_tests().to_str().unwrap()]);
    assert!(text.contains("SUCCESS"), "{text}");
}

/// A rule without a unit test could be wrong unnoticed: every alert is
/// evaluated by name and every recording rule queried.
#[test]
fn every_rule_has_a_unit_test() {
    let tests = std::fs::read_to_string(unit_tests()).unwrap();
    let alerts = names(&dist("vendorwatch-alerts.yml"), "alert");
    let records = names(&dist("vendorwatch-rules.yml"), "record");
    assert!(alerts.len() >= 8 && records.len() >= 6, "rules parsed: {alerts:?} {records:?}");
    for alert in &alerts {
        assert!(tests.contains(&format!("alertname: {alert}\n")), "no alert_rule_test for {alert}");
    }
    for record in &records {
        assert!(tests.contains(&format!("- expr: {record}\n")), "no promql_expr_test for {record}");
    }
}
