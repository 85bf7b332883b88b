//! A live sensor in a network namespace, fed over a veth pair, for tests
//! that need `vendorwatch live` and a real Prometheus scraping it (the same
//! approach as tests/live.rs).
//!
//! Each pair is two fresh namespaces (unique names, no addresses, IPv6 off
//! so the kernel sends nothing of its own) joined by a veth pair; traffic
//! never leaves it. Everything is torn down by Drop guards, also when an
//! assertion fails.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

pub const SENSOR: &str = env!("CARGO_BIN_EXE_vendorwatch");
/// The sensor's address inside its namespace.
pub const LISTEN: &str = "127.0.0.1:9799";
/// Prometheus' address inside the sensor's namespace.
pub const PROMETHEUS_LISTEN: &str = "127.0.0.1:9090";

/// Says why a namespace test cannot run here (not root, a tool missing).
pub fn missing(tools: &[&str]) -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    if uid.as_deref() != Some("0") {
        return Some("live capture tests need root (network namespaces, raw sockets)".into());
    }
    tools.iter().find(|tool| !on_path(tool)).map(|tool| format!("`{tool}` is not installed"))
}

pub fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
}

/// Returns false (after saying why on stderr) when `why` says the test
/// cannot run; in CI (`CI` set) that is a failure instead.
pub fn can_run(test: &str, why: Option<String>) -> bool {
    match why {
        None => true,
        Some(why) if std::env::var_os("CI").is_some() => panic!("{test}: cannot run in CI: {why}"),
        Some(why) => {
            // Straight to stderr, past libtest's capture, so it is seen.
            let _ = writeln!(std::io::stderr(), "{test}: skipped: {why}");
            false
        }
    }
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
            run(Command::new("ip").args(["netns", "add", ns]));
            run(in_ns(ns, "sysctl").args([
                "-qw",
                "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv6.conf.default.disable_ipv6=1",
            ]));
            run(in_ns(ns, "ip").args(["link", "set", "lo", "up"]));
        }
        run(Command::new("ip").args([
            "link",
            "add",
            &pair.sensor_if,
            "netns",
            &pair.sensor_ns,
            "mtu",
            "65535",
            "type",
            "veth",
            "peer",
            "name",
            &pair.sender_if,
            "netns",
            &pair.sender_ns,
            "mtu",
            "65535",
        ]));
        run(in_ns(&pair.sensor_ns, "ip").args(["link", "set", &pair.sensor_if, "up"]));
        run(in_ns(&pair.sender_ns, "ip").args(["link", "set", &pair.sender_if, "up"]));
        pair
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
/// URL-encoded query parameters.
pub fn http_get(ns: &str, url: &str, data: &[(&str, &str)]) -> (u16, String) {
    let mut c = in_ns(ns, "curl");
    c.args(["-sS", "--max-time", "10", "-G", "-o", "-", "-w", "\n%{http_code}"]);
    for (key, value) in data {
        c.args(["--data-urlencode", &format!("{key}={value}")]);
    }
    let out = c.arg(url).output().expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_owned())
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
        (http_get(&pair.sensor_ns, &format!("http://{LISTEN}/healthz"), &[]).0 == 200).then_some(())
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
        let (code, body) = http_get(&pair.sensor_ns, &format!("http://{LISTEN}/metrics"), &[]);
        assert_eq!(code, 200, "/metrics: {body}");
        last = body;
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
