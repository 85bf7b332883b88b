//! A live sensor in a network namespace, fed over a veth pair, for tests
//! that need `vendorwatch live` and a real Prometheus scraping it.
//!
//! Each pair is two fresh namespaces (unique names, no addresses, no route
//! out, IPv6 off so the kernel sends nothing of its own) joined by a veth
//! pair; traffic never leaves it. Everything is torn down by Drop guards,
//! also when an assertion fails.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::Value;

pub const SENSOR: &str = env!("CARGO_BIN_EXE_vendorwatch");
/// The sensor's address inside its namespace.
pub const LISTEN: &str = "127.0.0.1:9799";
/// Prometheus' address inside the sensor's namespace.
pub const PROMETHEUS_LISTEN: &str = "127.0.0.1:9090";

/// Says why a namespace test cannot run here (not root, a tool missing),
/// for [`can_run`](crate::common::can_run).
pub fn missing(tools: &[&str]) -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    if uid.as_deref() != Some("0") {
        return Some("live capture tests need root (network namespaces, raw sockets)".into());
    }
    crate::common::missing_tool(tools)
        .map(|why| format!("{why} (apt-get install libpcap-dev tcpreplay iproute2 prometheus curl)"))
}

pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}{}x{}", std::process::id() % 100_000, NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Runs a command; panics with its output unless it succeeds.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn in_ns(ns: &str, program: &str) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns, program]);
    c
}

/// Two namespaces joined by a veth pair; deleted on drop (which also
/// deletes the veth ends inside them).
pub struct VethPair {
    pub sensor_ns: String,
    pub sender_ns: String,
    pub sensor_if: String,
    pub sender_if: String,
}

impl VethPair {
    pub fn new() -> VethPair {
        let id = unique("vd");
        let pair = VethPair {
            sensor_ns: format!("{id}s"),
            sender_ns: format!("{id}t"),
            sensor_if: format!("{id}a"),
            sender_if: format!("{id}b"),
        };
        for ns in [&pair.sensor_ns, &pair.sender_ns] {
            // A partly built pair is still cleaned up: drop deletes by name.
            run(Command::new("ip").args(["netns", "add", ns]));
            run(in_ns(ns, "sysctl").args([
                "-qw",
                "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv6.conf.default.disable_ipv6=1",
            ]));
            run(in_ns(ns, "ip").args(["link", "set", "lo", "up"]));
        }
        pair.add_link();
        pair
    }

    /// Creates the veth pair between the namespaces and brings it up.
    pub fn add_link(&self) {
        // The largest MTU a veth takes, so jumbo and GRO-sized frames of a
        // fixture go through whole.
        run(Command::new("ip").args([
            "link",
            "add",
            &self.sensor_if,
            "netns",
            &self.sensor_ns,
            "mtu",
            "65535",
            "type",
            "veth",
            "peer",
            "name",
            &self.sender_if,
            "netns",
            &self.sender_ns,
            "mtu",
            "65535",
        ]));
        run(in_ns(&self.sensor_ns, "ip").args(["link", "set", &self.sensor_if, "up"]));
        run(in_ns(&self.sender_ns, "ip").args(["link", "set", &self.sender_if, "up"]));
    }

    /// Deletes the veth pair (both ends), as when a mirror port's NIC goes away.
    pub fn delete_link(&self) {
        run(in_ns(&self.sensor_ns, "ip").args(["link", "del", &self.sensor_if]));
    }

    /// Replays `file` into the sensor's end as fast as tcpreplay goes.
    pub fn replay(&self, file: &Path) {
        let out = run(in_ns(&self.sender_ns, "tcpreplay")
            .arg(format!("--intf1={}", self.sender_if))
            .arg("--topspeed")
            .arg(file));
        let text = String::from_utf8_lossy(&out.stdout);
        let failed = text.lines().find_map(|l| l.trim().strip_prefix("Failed packets:")).map(str::trim);
        assert_eq!(failed, Some("0"), "tcpreplay failed to send some packets:\n{text}");
    }
}

impl Drop for VethPair {
    fn drop(&mut self) {
        for ns in [&self.sensor_ns, &self.sender_ns] {
            let _ = Command::new("ip").args(["netns", "del", ns]).stderr(Stdio::null()).status();
        }
    }
}

/// A child process in a namespace, killed on drop; stderr goes to a file.
pub struct Proc {
    pub child: Child,
    stderr: PathBuf,
}

impl Proc {
    pub fn start(ns: &str, program: &str, args: &[String], stderr: PathBuf) -> Proc {
        let err = fs::File::create(&stderr).unwrap();
        let child =
            in_ns(ns, program).args(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(err).spawn().unwrap();
        Proc { child, stderr }
    }

    pub fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Sends `sig` (`HUP`, `TERM`, ...) to the process.
    pub fn signal(&self, sig: &str) {
        run(Command::new("kill").arg(format!("-{sig}")).arg(self.child.id().to_string()));
    }

    /// Sends `sig` and waits for the process to exit, failing the test if
    /// it is still running after `limit`: its status and how long it took.
    pub fn stop(&mut self, sig: &str, limit: Duration) -> (ExitStatus, Duration) {
        let sent = Instant::now();
        self.signal(sig);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, sent.elapsed());
            }
            assert!(sent.elapsed() < limit, "SIG{sig} did not stop the process within {limit:?}:\n{}", self.stderr());
            sleep(Duration::from_millis(10));
        }
    }

    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("process exited early ({status}):\n{}", self.stderr());
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `(status, body)` of an HTTP GET made with curl inside `ns`; `data` are
/// URL-encoded query parameters. Status 0: no answer.
pub fn http_get(ns: &str, url: &str, data: &[(&str, &str)]) -> (u16, String) {
    let mut c = curl(ns);
    c.arg("-G");
    for (key, value) in data {
        c.args(["--data-urlencode", &format!("{key}={value}")]);
    }
    status_and_body(c.arg(url))
}

/// `(status, body)` of an HTTP request made with curl inside `ns`, with
/// extra `headers` (`Name: value`).
pub fn http(ns: &str, method: &str, url: &str, headers: &[&str]) -> (u16, String) {
    let mut c = curl(ns);
    c.args(["-X", method]);
    for header in headers {
        c.args(["-H", header]);
    }
    status_and_body(c.arg(url))
}

/// curl inside `ns`, writing the body and then the status on a line of its own.
fn curl(ns: &str) -> Command {
    let mut c = in_ns(ns, "curl");
    c.args(["-sS", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}"]);
    c
}

fn status_and_body(curl: &mut Command) -> (u16, String) {
    let out = curl.output().expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

/// The body of the sensor's answer to GET `path`, which must be a 200.
pub fn sensor_get(ns: &str, path: &str) -> String {
    let (code, body) = http_get(ns, &format!("http://{LISTEN}{path}"), &[]);
    assert_eq!(code, 200, "GET {path}: {body}");
    body
}

/// The sensor's JSON answer to GET `path` (`/api/summary`, `/api/flows?..`).
pub fn sensor_json(ns: &str, path: &str) -> Value {
    let body = sensor_get(ns, path);
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

/// The status of the sensor's /healthz (0 when it does not answer).
pub fn healthz(ns: &str) -> u16 {
    http_get(ns, &format!("http://{LISTEN}/healthz"), &[]).0
}

/// Asks the Prometheus of [`start_prometheus`] (`path` as `/api/v1/query`);
/// returns the `data.result` (or `data`) array, `None` while it is not yet
/// listening or still opening its TSDB, and panics on a PromQL error.
pub fn prometheus_api(ns: &str, path: &str, params: &[(&str, &str)]) -> Option<Vec<Value>> {
    let (code, body) = http_get(ns, &format!("http://{PROMETHEUS_LISTEN}{path}"), params);
    // Not listening yet, or listening but still opening its TSDB.
    if code == 0 || code == 503 {
        return None;
    }
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path} {params:?}: {e}: {body}"));
    assert_eq!(v["status"], "success", "{path} {params:?}: {body}");
    Some(v["data"]["result"].as_array().or(v["data"].as_array()).cloned().unwrap_or_default())
}

/// The result of an instant query.
pub fn prometheus_query(ns: &str, expr: &str) -> Option<Vec<Value>> {
    prometheus_api(ns, "/api/v1/query", &[("query", expr)])
}

pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        sleep(Duration::from_millis(200));
    }
}

/// The value of an unlabelled or exactly-labelled sample in a text
/// exposition (`labels` as written between the braces, or "").
pub fn exposition_value(text: &str, name: &str, labels: &str) -> Option<f64> {
    let series = if labels.is_empty() { name.to_owned() } else { format!("{name}{{{labels}}}") };
    text.lines().find_map(|l| l.strip_prefix(&series)?.strip_prefix(' ')?.parse().ok())
}

/// `vendorwatch live` on the pair's sensor end, once /healthz answers 200.
pub fn start_sensor(pair: &VethPair, dir: &Path, args: &[&str]) -> Proc {
    let mut all: Vec<String> =
        vec!["live".into(), "--interface".into(), pair.sensor_if.clone(), "--listen".into(), LISTEN.into()];
    all.extend(args.iter().map(ToString::to_string));
    let mut sensor = Proc::start(&pair.sensor_ns, SENSOR, &all, dir.join("sensor.stderr"));
    wait_for("the sensor's /healthz", Duration::from_secs(15), || {
        sensor.assert_running();
        (healthz(&pair.sensor_ns) == 200).then_some(())
    });
    sensor
}

/// Waits until the sensor has read at least `packets` frames and every flow
/// has ended (so each is counted); returns /metrics.
pub fn wait_settled(pair: &VethPair, sensor: &mut Proc, packets: u64) -> String {
    let source = format!("source=\"{}\"", pair.sensor_if);
    let mut last = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        sensor.assert_running();
        last = sensor_get(&pair.sensor_ns, "/metrics");
        let read =
            exposition_value(&last, "vendorwatch_capture_packets_total", &source).map_or(0, crate::common::count);
        let flows = exposition_value(&last, "vendorwatch_flow_table_flows", "").unwrap_or(-1.0);
        if read >= packets && flows == 0.0 {
            return last;
        }
        sleep(Duration::from_millis(200));
    }
    panic!("the sensor did not settle on {packets} frames with an empty flow table:\n{last}\n{}", sensor.stderr());
}

/// Debian's Prometheus in the sensor's namespace, scraping the sensor every
/// second and evaluating `rule_files` every second.
pub fn start_prometheus(pair: &VethPair, dir: &Path, rule_files: &[PathBuf]) -> Proc {
    let config = dir.join("prometheus.yml");
    let rules = rule_files.iter().fold(String::new(), |mut rules, f| {
        let _ = writeln!(rules, "  - '{}'", f.display());
        rules
    });
    fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n{rules}scrape_configs:\n  - job_name: vendorwatch\n    static_configs:\n      - targets: ['{LISTEN}']\n"
        ),
    )
    .unwrap();
    let args = vec![
        format!("--config.file={}", config.display()),
        format!("--storage.tsdb.path={}", dir.join("tsdb").display()),
        format!("--web.listen-address={PROMETHEUS_LISTEN}"),
    ];
    Proc::start(&pair.sensor_ns, "prometheus", &args, dir.join("prometheus.stderr"))
}
