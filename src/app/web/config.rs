//! The web configuration file (`--web.config.file`), in the format of the
//! Prometheus exporter toolkit that `node_exporter` and Prometheus read, so
//! one file serves every exporter on a host:
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: sensor.crt
//!   key_file: sensor.key
//!   client_ca_file: clients.crt                  # optional: mutual TLS
//!   client_auth_type: RequireAndVerifyClientCert
//!   min_version: TLS12
//! http_server_config:
//!   headers:
//!     Strict-Transport-Security: max-age=31536000
//! basic_auth_users:
//!   prometheus: $2y$10$...                        # bcrypt
//! ```
//!
//! Relative paths are read from the file's own directory, as the toolkit
//! does. Everything is checked when the file is loaded; an error names the
//! file, the line and the problem.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;

use vendorwatch::diag::Diagnostic;

/// The file as written. Unknown keys are errors: a misspelt `cert_fil`
/// must not quietly serve plain HTTP.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WebConfigFile {
    #[serde(default)]
    pub tls_server_config: Option<TlsServerConfig>,
    #[serde(default)]
    pub http_server_config: Option<HttpServerConfig>,
    #[serde(default)]
    pub basic_auth_users: Option<BTreeMap<String, BcryptHash>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TlsServerConfig {
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    /// Inline PEM, instead of `cert_file`.
    pub cert: Option<String>,
    /// Inline PEM, instead of `key_file`.
    pub key: Option<String>,
    pub client_ca_file: Option<String>,
    /// Inline PEM, instead of `client_ca_file`.
    pub client_ca: Option<String>,
    #[serde(default)]
    pub client_auth_type: ClientAuthType,
    pub min_version: Option<TlsVersion>,
    pub max_version: Option<TlsVersion>,
    /// TLS 1.2 suites by IANA name, as Go spells them (TLS 1.3's are fixed).
    pub cipher_suites: Option<Vec<String>>,
    pub curve_preferences: Option<Vec<Curve>>,
    #[serde(default)]
    pub prefer_server_cipher_suites: Option<bool>,
    /// The toolkit's SAN allow list for client certificates. Not
    /// implemented: refused rather than ignored, so no one relies on it.
    pub client_allowed_sans: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HttpServerConfig {
    /// The sensor speaks HTTP/1.1 only; the key is accepted (and checked
    /// for type) for files shared with Go exporters.
    #[serde(default, rename = "http2")]
    pub _http2: Option<bool>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// Go's `tls.ClientAuthType` names, as the toolkit takes them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
pub(crate) enum ClientAuthType {
    #[default]
    NoClientCert,
    RequestClientCert,
    RequireAnyClientCert,
    VerifyClientCertIfGiven,
    RequireAndVerifyClientCert,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub(crate) enum TlsVersion {
    TLS10,
    TLS11,
    TLS12,
    TLS13,
}

/// Go's `tls.CurveID` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub(crate) enum Curve {
    X25519,
    CurveP256,
    CurveP384,
    CurveP521,
}

/// A bcrypt hash, checked for form when the file is read (so a truncated
/// paste is a load error, not a user who can never log in).
#[derive(Clone)]
pub(crate) struct BcryptHash(pub String);

impl<'de> Deserialize<'de> for BcryptHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Checked inside the visitor, so the error points at the value.
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = BcryptHash;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a bcrypt hash")
            }

            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<BcryptHash, E> {
                match bcrypt::HashParts::from_str(s) {
                    Ok(_) => Ok(BcryptHash(s.to_owned())),
                    Err(e) => Err(E::custom(format!(
                        "not a bcrypt hash ({e}); make one with `htpasswd -nBC 10 \"\" | tr -d ':\\n'`"
                    ))),
                }
            }
        }
        d.deserialize_str(Visitor)
    }
}

impl fmt::Debug for BcryptHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BcryptHash(..)")
    }
}

/// The file's text, kept to place errors found after parsing (a key file
/// that does not load) on the line that names them.
pub(crate) struct Source {
    pub path: PathBuf,
    pub text: String,
}

impl Source {
    pub fn read(path: &Path) -> Result<Source, Diagnostic> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Diagnostic::whole_file(path, format!("cannot read the web config: {e}")))?;
        Ok(Source { path: path.to_owned(), text })
    }

    pub fn parse(&self) -> Result<WebConfigFile, Diagnostic> {
        // An empty file (or only comments) is a valid, empty config.
        if self.text.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) {
            return Ok(WebConfigFile::default());
        }
        serde_norway::from_str(&self.text).map_err(|e| {
            let line = e.location().map_or(0, |l| l.line());
            // The location is reported as a field of the error; keep only
            // the problem in the text.
            let text = e.to_string();
            let problem = match text.rfind(" at line ") {
                Some(at) if line != 0 => text[..at].to_owned(),
                _ => text,
            };
            Diagnostic::new(self.path.clone(), line, problem)
        })
    }

    /// An error about the value of `key` (the first line that sets it).
    pub fn error_at(&self, key: &str, problem: impl Into<String>) -> Diagnostic {
        Diagnostic::new(self.path.clone(), self.line_of(key), problem)
    }

    /// The 1-based line, or 0 (the whole file) when no line sets `key`.
    fn line_of(&self, key: &str) -> usize {
        self.text
            .lines()
            .position(|l| {
                let l = l.trim_start().trim_start_matches("- ");
                let l = l.strip_prefix(['"', '\'']).unwrap_or(l);
                l.strip_prefix(key)
                    .is_some_and(|rest| rest.trim_start_matches(['"', '\'']).trim_start().starts_with(':'))
            })
            .map_or(0, |i| i + 1)
    }

    /// A path as written in the file, relative to the file's directory.
    pub fn resolve(&self, path: &str) -> PathBuf {
        let p = Path::new(path);
        if p.is_absolute() { p.to_owned() } else { self.path.parent().unwrap_or(Path::new(".")).join(p) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<WebConfigFile, Diagnostic> {
        Source { path: "web.yml".into(), text: text.into() }.parse()
    }

    fn hash() -> String {
        bcrypt::hash("open sesame", 4).unwrap()
    }

    #[test]
    fn reads_the_toolkit_format() {
        let hash = hash();
        let text = format!(
            "tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  min_version: TLS13\nbasic_auth_users:\n  alice: {hash}\n"
        );
        let c = parse(&text).unwrap();
        let tls = c.tls_server_config.unwrap();
        assert_eq!(tls.cert_file.as_deref(), Some("a.crt"));
        assert_eq!(tls.client_auth_type, ClientAuthType::RequireAndVerifyClientCert);
        assert_eq!(tls.min_version, Some(TlsVersion::TLS13));
        assert_eq!(c.basic_auth_users.unwrap()["alice"].0, hash);
    }

    #[test]
    fn an_empty_file_is_an_empty_config() {
        let c = parse("# nothing yet\n\n").unwrap();
        assert!(c.tls_server_config.is_none() && c.basic_auth_users.is_none());
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("tls_server_config:\n  cert_file: a\n  cert_fil: b\n").unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.to_string().starts_with("web.yml:3: ") && e.message.contains("cert_fil"), "{e}");

        let e = parse(&format!("basic_auth_users:\n  alice: {}\n  bob: secret\n", hash())).unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("not a bcrypt hash"), "{e}");

        let e = parse("tls_server_config:\n  client_auth_type: Sometimes\n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert!(e.message.contains("Sometimes"), "{e}");

        let e = parse("tls_server_config: [\n").unwrap_err();
        assert_ne!(e.line, 0, "{e}");
    }

    #[test]
    fn later_errors_find_the_key_line() {
        let s = Source { path: "/etc/vw/web.yml".into(), text: "tls_server_config:\n  \"key_file\": x.key\n".into() };
        assert_eq!(s.error_at("key_file", "bad").line, 2);
        assert_eq!(s.error_at("cert_file", "missing").line, 0);
        assert_eq!(s.error_at("cert_file", "missing").to_string(), "/etc/vw/web.yml: missing");
        assert_eq!(s.resolve("x.key"), Path::new("/etc/vw/x.key"));
        assert_eq!(s.resolve("/abs/x.key"), Path::new("/abs/x.key"));
    }
}
