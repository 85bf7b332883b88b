//! The sensor's HTTP endpoint as a server: who may connect, over what,
//! for how long. The routes themselves are in [`super::http`].
//!
//! - TLS (optionally mutual) and basic auth from `--web.config.file`, in
//!   the Prometheus exporter toolkit's format ([`config`]). The file and
//!   the certificate files it names are looked at (a `stat`) on each new
//!   connection and read again when they changed, so a renewed certificate
//!   or a new user needs no restart; a changed file that does not load is
//!   logged and the running configuration stays.
//! - A connection cap below the descriptor limit: at the cap a new
//!   connection closes the one idle the longest, so idle or slow clients
//!   cannot lock a scraper out ([`server`]).
//! - A header-read timeout (also the longest wait for the next request on
//!   a kept-alive connection) and an idle timeout (no byte either way, as
//!   when a client stopped reading).
//! - `Host` and `Origin` checks against DNS rebinding and cross-site
//!   requests ([`guard`]).

pub mod config;

mod auth;
mod guard;
mod server;
mod tls;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::http::{HeaderName, HeaderValue};

pub(crate) use guard::{HostPolicy, cross_site_fetch, same_origin};
pub(crate) use server::{ConnContext, spawn};

use auth::BasicAuth;
use config::Source;

use vendorwatch::diag::Diagnostic;

/// The default `--web.max-connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// The default `--web.read-header-timeout`.
pub const DEFAULT_READ_HEADER_TIMEOUT: &str = "10s";
/// The default `--web.idle-timeout`.
pub const DEFAULT_IDLE_TIMEOUT: &str = "60s";

/// How the endpoint is served (the `--web.*` flags).
#[derive(Debug, Clone)]
pub struct WebOptions {
    /// TLS and basic auth, as Prometheus exporters read them.
    pub config_file: Option<PathBuf>,
    /// Serve `POST /-/reload` (SIGHUP reloads either way).
    pub enable_lifecycle: bool,
    /// Answer 404 to `/api/*` (and so leave the page without data).
    pub disable_api: bool,
    /// `Host` names answered besides IP addresses and, on loopback, localhost.
    pub allowed_hosts: Vec<String>,
    /// Open connections at most (lowered to fit the descriptor limit).
    pub max_connections: usize,
    /// The longest a client may take to send a request's headers, or to
    /// start the next request on a kept-alive connection (and a TLS
    /// handshake).
    pub read_header_timeout: Duration,
    /// A connection moving no byte either way for this long is closed.
    pub idle_timeout: Duration,
}

impl Default for WebOptions {
    fn default() -> Self {
        WebOptions {
            config_file: None,
            enable_lifecycle: false,
            disable_api: false,
            allowed_hosts: Vec::new(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            read_header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// A web config file in force: what connections and requests use.
pub(crate) struct WebConfig {
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub auth: Arc<BasicAuth>,
    /// `http_server_config.headers`, added to every response.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The file and the files it names, to notice changes.
    files: Vec<PathBuf>,
}

impl WebConfig {
    fn open() -> Self {
        WebConfig {
            tls: None,
            auth: Arc::new(BasicAuth::new(std::collections::BTreeMap::default())),
            headers: Vec::new(),
            files: Vec::new(),
        }
    }

    /// Reads and checks the file and everything it names.
    pub fn load(path: &Path) -> Result<WebConfig, Diagnostic> {
        let src = Source::read(path)?;
        let file = src.parse()?;
        let mut files = vec![path.to_owned()];
        let tls = match &file.tls_server_config {
            Some(t) => {
                files.extend(
                    [&t.cert_file, &t.key_file, &t.client_ca_file].into_iter().flatten().map(|f| src.resolve(f)),
                );
                tls::server_config(&src, t)?
            }
            None => None,
        };
        let mut headers = Vec::new();
        if let Some(http) = &file.http_server_config {
            for (name, value) in &http.headers {
                let n = HeaderName::try_from(name.as_str())
                    .map_err(|e| src.error_at(name, format!("{name:?} is not a header name: {e}")))?;
                let v = HeaderValue::try_from(value.as_str())
                    .map_err(|e| src.error_at(name, format!("the value of {name} is not a header value: {e}")))?;
                headers.push((n, v));
            }
        }
        let users = file.basic_auth_users.unwrap_or_default();
        if let Some(bad) = users.keys().find(|u| u.contains(':') || u.is_empty()) {
            return Err(src.error_at(bad, format!("user {bad:?}: a basic auth user name is not empty and has no ':'")));
        }
        Ok(WebConfig { tls, auth: Arc::new(BasicAuth::new(users)), headers, files })
    }

    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }
}

/// Checks a web config file (for the command line, before capture starts).
pub fn check_config(path: &Path) -> Result<(), Diagnostic> {
    WebConfig::load(path).map(drop)
}

/// What a file looked like when read: changes show in size, time or inode.
type Fingerprint = Vec<Option<(u64, SystemTime, u64)>>;

fn fingerprint(files: &[PathBuf]) -> Fingerprint {
    use std::os::unix::fs::MetadataExt;
    files
        .iter()
        .map(|f| std::fs::metadata(f).ok().map(|m| (m.len(), m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.ino())))
        .collect()
}

/// The web config in force, read again when its files change.
pub(crate) struct ConfigCell {
    path: Option<PathBuf>,
    state: Mutex<(Fingerprint, Arc<WebConfig>)>,
}

impl ConfigCell {
    pub fn new(path: Option<&Path>) -> Result<Self, Diagnostic> {
        let config = match path {
            Some(p) => WebConfig::load(p)?,
            None => WebConfig::open(),
        };
        let seen = fingerprint(&config.files);
        Ok(ConfigCell { path: path.map(Path::to_owned), state: Mutex::new((seen, Arc::new(config))) })
    }

    /// The config for a new connection.
    pub fn current(&self) -> Arc<WebConfig> {
        let mut state = super::live::lock(&self.state);
        let Some(path) = &self.path else { return state.1.clone() };
        let now = fingerprint(&state.1.files);
        if now != state.0 {
            // Whatever the outcome, this version of the files is dealt with.
            state.0 = now;
            match WebConfig::load(path) {
                Ok(fresh) if fresh.tls.is_some() != state.1.tls.is_some() => {
                    eprintln!(
                        "vendorwatch: {}: switching between HTTP and HTTPS needs a restart; keeping the running web config",
                        path.display()
                    );
                }
                Ok(fresh) => {
                    eprintln!("vendorwatch: {}: web config reloaded", path.display());
                    state.0 = fingerprint(&fresh.files);
                    state.1 = Arc::new(fresh);
                }
                Err(e) => eprintln!("vendorwatch: {e}; keeping the running web config"),
            }
        }
        state.1.clone()
    }
}
