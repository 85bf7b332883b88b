//! The sensor's web endpoint end to end: the page at `/` rendered by
//! headless Chromium, TLS (mutual) and basic auth from a web config with a
//! real Prometheus scraping through them, 1,100 idle connections under a
//! 1024-descriptor limit, the lifecycle, Origin and Host checks, bounded
//! `/api/flows`, and web config errors.
//!
//! Each live test runs `vendorwatch live` in a network namespace of its
//! own, fed over a veth pair (tests/common/netns.rs); every request goes to
//! 127.0.0.1 inside that namespace. They need root, `ip`, `tcpreplay`,
//! `curl`, `prlimit`, Debian's `chromium` and `prometheus`. Without them a
//! test says "skipped" and passes, except in CI (`CI` set), where it fails.

mod common;
#[allow(dead_code)]
#[path = "common/netns.rs"]
mod netns;

use std::fs;
use std::io::Read as _;
use std::net::TcpStream;
use std::os::fd::AsFd as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use common::TempDir;
use netns::{LISTEN, PROMETHEUS_LISTEN, Proc, VethPair, in_ns, wait_for};

const USER: &str = "prometheus";
const PASSWORD: &str = "correct horse battery staple";

/// What curl got: its exit status, the HTTP status (0 when none), the
/// response head and body.
#[derive(Debug)]
struct Reply {
    exit: i32,
    status: u16,
    head: String,
    body: String,
}

/// curl inside `ns`, with `args` before the URL.
fn curl(ns: &str, args: &[&str], url: &str) -> Reply {
    let out = in_ns(ns, "curl")
        .args(["-sS", "--max-time", "10", "-i", "-w", "\n%{http_code}"])
        .args(args)
        .arg(url)
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (rest, status) = text.rsplit_once('\n').unwrap_or(("", "0"));
    let (head, body) = rest.split_once("\r\n\r\n").unwrap_or((rest, ""));
    Reply {
        exit: out.status.code().unwrap_or(-1),
        status: status.trim().parse().unwrap_or(0),
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

fn url(path: &str) -> String {
    format!("http://{LISTEN}{path}")
}

/// `vendorwatch live` on the pair's sensor end (through `wrapper`, e.g.
/// prlimit, if given), once `ready` says so.
fn start(pair: &VethPair, dir: &Path, wrapper: &[&str], args: &[&str], ready: impl Fn(&str) -> bool) -> Proc {
    let mut all: Vec<String> = wrapper.iter().map(ToString::to_string).collect();
    all.push(netns::SENSOR.into());
    all.extend(["live", "--interface", &pair.sensor_if, "--listen", LISTEN].map(String::from));
    all.extend(args.iter().map(ToString::to_string));
    let program = all.remove(0);
    let mut sensor = Proc::start(&pair.sensor_ns, &program, &all, dir.join("sensor.stderr"));
    wait_for("the sensor to answer", Duration::from_secs(20), || {
        sensor.assert_running();
        ready(&pair.sensor_ns).then_some(())
    });
    sensor
}

fn plain_healthz(ns: &str) -> bool {
    curl(ns, &[], &url("/healthz")).status == 200
}

fn artifacts() -> PathBuf {
    // CARGO_TARGET_TMPDIR is target/tmp: keep outputs beside it.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().join("test-artifacts");
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// A number as the page writes it (`toLocaleString("en")`).
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The inner HTML of the element `<tag id="id" ...>`, up to its closing tag.
fn element<'a>(dom: &'a str, tag: &str, id: &str) -> &'a str {
    let start = dom.find(&format!("<{tag} id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id} in:\n{dom}"));
    let end = dom[start..].find(&format!("</{tag}>")).expect("closing tag") + start;
    &dom[start..end]
}

fn chromium(ns: &str, dir: &Path, extra: &[&str], page: &str) -> String {
    let profile = dir.join("chromium-profile");
    let out = in_ns(ns, "chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--window-size=1400,1500", "--virtual-time-budget=15000"])
        .args(extra)
        .arg(page)
        .output()
        .expect("chromium");
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_page_shows_banned_vendors_recent_flows_and_capture_health() {
    let test = "the_page_shows_banned_vendors_recent_flows_and_capture_health";
    if !common::can_run(test, netns::missing(&["ip", "tcpreplay", "curl", "chromium"])) {
        return;
    }
    let fixture = common::fixture("sample.pcap");
    let frames = common::read_pcap(&fixture).0.len() as u64;
    let pair = VethPair::new();
    let dir = TempDir::new("web-page");
    let config = common::fixture("sample.toml").display().to_string();
    let args = ["--config", &config, "--idle-timeout", "1s", "--flush-interval", "200ms"];
    let mut sensor = start(&pair, &dir.0, &[], &args, plain_healthz);
    pair.replay(&fixture);
    netns::wait_settled(&pair, &mut sensor, frames);
    let ns = &pair.sensor_ns;

    // What the page must show, from the API it reads.
    let summary: Value = serde_json::from_str(&curl(ns, &[], &url("/api/summary")).body).unwrap();
    let mut banned = Vec::new();
    for segment in summary["segments"].as_array().unwrap() {
        for v in segment["vendors"].as_array().unwrap() {
            if v["banned"] == true {
                banned.push((
                    segment["segment"].as_str().unwrap().to_owned(),
                    v["vendor"].as_str().unwrap().to_owned(),
                    v["flows"].as_u64().unwrap(),
                    v["hosts"].as_u64().unwrap(),
                ));
            }
        }
    }
    assert!(banned.len() >= 2, "sample.pcap has traffic of banned apple and bytedance: {summary}");
    let flows: Value = serde_json::from_str(&curl(ns, &[], &url("/api/flows?limit=50")).body).unwrap();
    let flows = flows["flows"].as_array().unwrap().clone();
    assert!(!flows.is_empty());

    let dom = chromium(ns, &dir.0, &["--dump-dom"], &url("/"));
    assert!(dom.contains("data-state=\"ready\""), "the page did not load its data:\n{dom}");
    let table = element(&dom, "table", "banned");
    for (segment, vendor, flows, hosts) in &banned {
        let cells = format!(
            "<td>{segment}</td><td>{vendor}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>",
            grouped(*flows),
            grouped(*hosts)
        );
        assert!(table.contains(&cells), "banned table lacks {cells}:\n{table}");
    }
    assert_eq!(table.matches("<tr class=\"banned\">").count(), banned.len(), "{table}");

    let recent = element(&dom, "table", "flows");
    assert_eq!(recent.matches("<tr>").count(), flows.len() + 1, "a row per flow, and the heading:\n{recent}");
    for f in &flows {
        let class = if f["banned"] == true { " class=\"banned\"" } else { "" };
        let cells = format!(
            "<td{class}>{}</td><td>{}</td><td>{}</td>",
            f["vendor"].as_str().unwrap(),
            f["service"].as_str().unwrap_or(""),
            f["evidence"].as_str().unwrap()
        );
        assert!(recent.contains(&cells), "recent flows lack {cells}:\n{recent}");
    }

    let capture = element(&dom, "table", "capture");
    assert!(capture.contains(&format!("<td>{}</td><td>capturing</td>", pair.sensor_if)), "{capture}");
    assert!(element(&dom, "span", "health").ends_with(">capturing"), "{dom}");
    assert!(!dom.contains("Invalid Date") && !dom.contains("NaN") && !dom.contains("undefined"), "{dom}");

    let shot = artifacts().join("page.png");
    let _ = fs::remove_file(&shot);
    chromium(ns, &dir.0, &[&format!("--screenshot={}", shot.display())], &url("/"));
    let png = fs::read(&shot).expect("the screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000, "{} bytes", png.len());

    // /api/flows is cut at its limit, and says so; limits are capped.
    let one: Value = serde_json::from_str(&curl(ns, &[], &url("/api/flows?limit=1")).body).unwrap();
    assert_eq!(one["flows"].as_array().unwrap().len(), 1);
    assert_eq!(one["truncated"], flows.len() > 1);
    let all: Value = serde_json::from_str(&curl(ns, &[], &url("/api/flows?limit=1000000000")).body).unwrap();
    assert_eq!(all["truncated"], false, "{all}");
    assert!(all["flows"].as_array().unwrap().len() >= flows.len());
}

/// A certificate authority, a server certificate for 127.0.0.1 and a
/// client certificate, as PEM files in `dir`.
fn certificates(dir: &Path) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "vendorwatch test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    fs::write(dir.join("ca.crt"), ca_cert.pem()).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    for (name, sans, usage) in [
        ("server", vec!["127.0.0.1".to_owned(), "localhost".to_owned()], ExtendedKeyUsagePurpose::ServerAuth),
        ("client", vec!["prometheus.test".to_owned()], ExtendedKeyUsagePurpose::ClientAuth),
    ] {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(sans).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &issuer).unwrap();
        fs::write(dir.join(format!("{name}.crt")), cert.pem()).unwrap();
        fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
    }
}

fn https(path: &str) -> String {
    format!("https://{LISTEN}{path}")
}

#[test]
fn tls_and_basic_auth_guard_the_endpoint_and_prometheus_scrapes_through_them() {
    let test = "tls_and_basic_auth_guard_the_endpoint_and_prometheus_scrapes_through_them";
    if !common::can_run(test, netns::missing(&["ip", "tcpreplay", "curl", "prometheus"])) {
        return;
    }
    let dir = TempDir::new("web-tls");
    certificates(&dir.0);
    let hash = bcrypt::hash(PASSWORD, 6).unwrap();
    // Relative paths: read from the config file's directory.
    let web = dir.path("web.yml");
    fs::write(
        &web,
        format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_ca_file: ca.crt\n  client_auth_type: RequireAndVerifyClientCert\n  min_version: TLS12\nbasic_auth_users:\n  {USER}: '{hash}'\n"
        ),
    )
    .unwrap();
    let ca = dir.path("ca.crt").display().to_string();
    let (cert, key) = (dir.path("client.crt").display().to_string(), dir.path("client.key").display().to_string());
    let credentials = format!("{USER}:{PASSWORD}");
    let client: Vec<&str> = vec!["--cacert", &ca, "--cert", &cert, "--key", &key];
    let with_auth = [client.clone(), vec!["-u", &credentials]].concat();

    let pair = VethPair::new();
    let ns = pair.sensor_ns.clone();
    let web_arg = web.display().to_string();
    let mut sensor = start(&pair, &dir.0, &[], &["--web.config.file", &web_arg, "--flush-interval", "200ms"], |ns| {
        curl(ns, &with_auth, &https("/healthz")).status == 200
    });

    // The TLS handshake verifies against the test CA, for 127.0.0.1 (curl
    // refuses an unverified server)...
    let ok = curl(&ns, &with_auth, &https("/metrics"));
    assert_eq!(ok.status, 200, "{ok:?}");
    assert!(ok.body.contains("vendorwatch_build_info"), "{ok:?}");
    // ...and not against the system's CAs.
    let r = curl(&ns, &[&["--cert", &cert, "--key", &key, "-u", &credentials][..]].concat(), &https("/metrics"));
    assert_eq!(r.exit, 60, "the server certificate is the test CA's: {r:?}");
    // Without credentials, or with wrong ones: 401 and a Basic challenge.
    for auth in [vec![], vec!["-u", "prometheus:wrong"], vec!["-u", "nobody:correct horse battery staple"]] {
        let r = curl(&ns, &[client.clone(), auth.clone()].concat(), &https("/metrics"));
        assert_eq!(r.status, 401, "{auth:?}: {r:?}");
        assert!(r.head.to_ascii_lowercase().contains("www-authenticate: basic"), "{r:?}");
        assert!(!r.body.contains("vendorwatch_"), "{r:?}");
    }
    // Mutual TLS: no client certificate, no handshake.
    let r = curl(&ns, &["--cacert", &ca, "-u", &credentials], &https("/metrics"));
    assert!(r.exit != 0 && r.status == 0, "served without a client certificate: {r:?}");
    // Plain HTTP to the TLS port gets nothing.
    let r = curl(&ns, &["-u", &credentials], &url("/metrics"));
    assert_ne!(r.status, 200, "{r:?}");

    // Debian's Prometheus scrapes over TLS with basic auth and a client
    // certificate; the value read back through its API is the sensor's.
    let fixture = common::fixture("sample.pcap");
    let frames = common::read_pcap(&fixture).0.len() as u64;
    pair.replay(&fixture);
    let source = format!("source=\"{}\"", pair.sensor_if);
    let read = wait_for("the sensor to read the fixture", Duration::from_secs(30), || {
        sensor.assert_running();
        let m = curl(&ns, &with_auth, &https("/metrics")).body;
        netns::exposition_value(&m, "vendorwatch_capture_packets_total", &source)
            .filter(|&v| common::count(v) >= frames)
    });
    let password_file = dir.path("password");
    fs::write(&password_file, PASSWORD).unwrap();
    let config = dir.path("prometheus.yml");
    fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: vendorwatch\n    scheme: https\n    tls_config:\n      ca_file: '{ca}'\n      cert_file: '{cert}'\n      key_file: '{key}'\n    basic_auth:\n      username: {USER}\n      password_file: '{}'\n    static_configs:\n      - targets: ['{LISTEN}']\n",
            password_file.display()
        ),
    )
    .unwrap();
    let prom_args = vec![
        format!("--config.file={}", config.display()),
        format!("--storage.tsdb.path={}", dir.path("tsdb").display()),
        format!("--web.listen-address={PROMETHEUS_LISTEN}"),
    ];
    let mut prom = Proc::start(&ns, "prometheus", &prom_args, dir.path("prometheus.stderr"));
    let query = format!("vendorwatch_capture_packets_total{{{source}}}");
    let scraped = wait_for("Prometheus to scrape the sensor over TLS", Duration::from_secs(60), || {
        prom.assert_running();
        let r = curl(
            &ns,
            &["-G", "--data-urlencode", &format!("query={query}")],
            &format!("http://{PROMETHEUS_LISTEN}/api/v1/query"),
        );
        let v: Value = serde_json::from_str(&r.body).ok()?;
        v["data"]["result"][0]["value"][1].as_str()?.parse::<f64>().ok()
    });
    assert_eq!(common::count(scraped), common::count(read), "Prometheus read the sensor's value");
    let up = curl(
        &ns,
        &["-G", "--data-urlencode", "query=up{job=\"vendorwatch\"}"],
        &format!("http://{PROMETHEUS_LISTEN}/api/v1/query"),
    );
    assert!(up.body.contains("\"1\""), "{up:?}");
}

/// Opens `n` TCP connections to `addr` from inside network namespace `ns`
/// (a thread of this process joins it; the sockets stay in it).
fn connect_in_namespace(ns: &str, addr: &str, n: usize) -> Vec<TcpStream> {
    let netns = fs::File::open(format!("/run/netns/{ns}")).expect("the namespace");
    let addr = addr.to_owned();
    std::thread::spawn(move || {
        nix::sched::setns(netns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        (0..n).map(|_| TcpStream::connect(&addr).expect("connect")).collect()
    })
    .join()
    .unwrap()
}

#[test]
fn idle_connections_under_a_1024_descriptor_limit_leave_metrics_answering() {
    // This process holds the idle clients: it needs more than 1024.
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    const IDLE: usize = 1100;
    let test = "idle_connections_under_a_1024_descriptor_limit_leave_metrics_answering";
    if !common::can_run(test, netns::missing(&["ip", "curl", "prlimit"])) {
        return;
    }
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    if soft < 4096 {
        setrlimit(Resource::RLIMIT_NOFILE, 4096.min(hard), hard).unwrap();
    }
    let pair = VethPair::new();
    let dir = TempDir::new("web-idle");
    let mut sensor = start(&pair, &dir.0, &["prlimit", "--nofile=1024"], &[], plain_healthz);
    let limits = fs::read_to_string(format!("/proc/{}/limits", sensor.child.id())).unwrap();
    assert!(limits.lines().any(|l| l.starts_with("Max open files") && l.contains(" 1024 ")), "{limits}");

    let idle = connect_in_namespace(&pair.sensor_ns, LISTEN, IDLE);
    // With the idle clients connected and holding on, a scrape answers.
    for path in ["/metrics", "/healthz"] {
        let r = curl(&pair.sensor_ns, &[], &url(path));
        assert_eq!(r.status, 200, "{path} with {IDLE} idle connections: {r:?}\n{}", sensor.stderr());
    }
    assert!(curl(&pair.sensor_ns, &[], &url("/metrics")).body.contains("vendorwatch_build_info"));
    sensor.assert_running();
    // The sensor made room by closing idle connections (the cap is 512,
    // under the limit), not by running out of descriptors.
    let closed = wait_for("idle connections to be closed for room", Duration::from_secs(20), || {
        let closed = idle.iter().filter(|s| closed_by_peer(s)).count();
        (closed >= IDLE - 512).then_some(closed)
    });
    assert!(closed < IDLE, "every connection was closed, not only the idlest: {closed}");
    let stderr = sensor.stderr();
    assert!(!stderr.contains("accept failed"), "the sensor ran out of descriptors:\n{stderr}");
}

/// Whether the other end closed `s` (a read without waiting sees the end).
fn closed_by_peer(s: &TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    match (&*s).read(&mut [0u8; 1]) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    }
}

#[test]
fn lifecycle_origin_host_and_api_switches() {
    let test = "lifecycle_origin_host_and_api_switches";
    if !common::can_run(test, netns::missing(&["ip", "curl"])) {
        return;
    }
    let dir = TempDir::new("web-switches");
    // Defaults: no lifecycle API; and the API turned off.
    {
        let pair = VethPair::new();
        let _sensor = start(&pair, &dir.0, &[], &["--web.disable-api"], plain_healthz);
        let ns = &pair.sensor_ns;
        let r = curl(ns, &["-X", "POST"], &url("/-/reload"));
        assert_eq!(r.status, 403, "{r:?}");
        assert!(r.body.contains("--web.enable-lifecycle"), "{r:?}");
        assert_eq!(curl(ns, &[], &url("/-/reload")).status, 405, "GET is not a reload");
        assert_eq!(curl(ns, &[], &url("/api/summary")).status, 404);
        assert_eq!(curl(ns, &[], &url("/api/flows")).status, 404);
        assert_eq!(curl(ns, &[], &url("/metrics")).status, 200);
        assert_eq!(curl(ns, &[], &url("/")).status, 200);
    }
    let pair = VethPair::new();
    let _sensor = start(
        &pair,
        &dir.0,
        &[],
        &["--web.enable-lifecycle", "--web.allowed-hosts", "sensor1.example.net"],
        plain_healthz,
    );
    let ns = &pair.sensor_ns;
    let post = |extra: &[&str]| curl(ns, &[&["-X", "POST"], extra].concat(), &url("/-/reload"));
    let r = post(&[]);
    assert_eq!(r.status, 200, "no Origin: not a browser: {r:?}");
    assert!(r.body.contains("reloaded"), "{r:?}");
    assert_eq!(post(&["-H", &format!("Origin: http://{LISTEN}")]).status, 200, "same origin");
    for bad in ["Origin: http://evil.example", "Origin: null", "Origin: https://127.0.0.1:9799"] {
        let r = post(&["-H", bad]);
        assert_eq!(r.status, 403, "{bad}: {r:?}");
    }
    let r = post(&["-H", &format!("Origin: http://{LISTEN}"), "-H", "Sec-Fetch-Site: cross-site"]);
    assert_eq!(r.status, 403, "{r:?}");
    // Host: the listen address, localhost on loopback, and the allow list.
    for (host, status) in [
        ("evil.example", 421),
        ("evil.example:9799", 421),
        ("10.9.8.7:9799", 421),
        ("localhost:9799", 200),
        ("sensor1.example.net:9799", 200),
        (LISTEN, 200),
    ] {
        let r = curl(ns, &["-H", &format!("Host: {host}")], &url("/metrics"));
        assert_eq!(r.status, status, "Host {host}: {r:?}");
    }
}

#[test]
fn a_bad_web_config_names_file_and_line() {
    let dir = TempDir::new("web-bad-config");
    let cases = [
        ("typo.yml", "tls_server_config:\n  cert_file: a.crt\n  key_fil: a.key\n", 3, "key_fil"),
        ("hash.yml", "basic_auth_users:\n  alice: '$2y$10$tooshort'\n", 2, "not a bcrypt hash"),
        (
            "missing.yml",
            "# TLS\ntls_server_config:\n  cert_file: nowhere.crt\n  key_file: nowhere.key\n",
            3,
            "nowhere.crt",
        ),
        (
            "auth.yml",
            "tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n  client_auth_type: RequireAnyClientCert\n",
            4,
            "RequireAnyClientCert",
        ),
    ];
    for (name, text, line, what) in cases {
        let file = dir.path(name);
        fs::write(&file, text).unwrap();
        if name == "auth.yml" {
            certificates(&dir.0);
            fs::copy(dir.path("server.crt"), dir.path("a.crt")).unwrap();
            fs::copy(dir.path("server.key"), dir.path("a.key")).unwrap();
        }
        // The file is checked before any interface is opened.
        let out = Command::new(netns::SENSOR)
            .args(["live", "--interface", "no-such-interface0", "--web.config.file"])
            .arg(&file)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        let at = format!("{}:{line}: ", file.display());
        assert!(stderr.contains(&at) && stderr.contains(what), "{name}: expected {at}..{what}:\n{stderr}");
        assert!(!stderr.contains("no-such-interface0"), "{name}: checked after the interface: {stderr}");
    }
}
