//! `tls_server_config` to a rustls server configuration (ring provider,
//! as the rest of the engine uses).
//!
//! Where Go's TLS stack and rustls differ the file's meaning is kept or
//! refused, never weakened: rustls speaks TLS 1.2 and 1.3 only, so a
//! `min_version` of TLS10 or TLS11 gets 1.2 (a higher floor, as strict as
//! asked or stricter); client certificates are only ever accepted verified,
//! so `RequestClientCert` and `RequireAnyClientCert` (Go's "ask, do not
//! check") are refused.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::crypto::ring as provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};

use super::config::{ClientAuthType, Curve, Source, TlsServerConfig, TlsVersion};
use vendorwatch::diag::Diagnostic;

/// Whether the section asks for TLS at all: as with the toolkit, an empty
/// `tls_server_config` serves plain HTTP.
pub(crate) fn wanted(tls: &TlsServerConfig) -> bool {
    tls.cert_file.is_some()
        || tls.key_file.is_some()
        || tls.cert.is_some()
        || tls.key.is_some()
        || tls.client_ca_file.is_some()
        || tls.client_ca.is_some()
        || tls.client_auth_type != ClientAuthType::NoClientCert
}

/// A PEM input: inline in the file, or a file it names.
fn pem(
    src: &Source,
    file_key: &str,
    file: Option<&String>,
    inline_key: &str,
    inline: Option<&String>,
) -> Result<Option<(Vec<u8>, String)>, Diagnostic> {
    match (file, inline) {
        (Some(_), Some(_)) => Err(src.error_at(inline_key, format!("give {file_key} or {inline_key}, not both"))),
        (Some(path), None) => {
            let full = src.resolve(path);
            let bytes = std::fs::read(&full)
                .map_err(|e| src.error_at(file_key, format!("cannot read {file_key} {}: {e}", full.display())))?;
            Ok(Some((bytes, format!("{file_key} {}", full.display()))))
        }
        (None, Some(text)) => Ok(Some((text.clone().into_bytes(), inline_key.to_owned()))),
        (None, None) => Ok(None),
    }
}

fn certificates(
    src: &Source,
    key: &str,
    (bytes, what): &(Vec<u8>, String),
) -> Result<Vec<CertificateDer<'static>>, Diagnostic> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| src.error_at(key, format!("{what}: not PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(src.error_at(key, format!("{what}: no certificate (-----BEGIN CERTIFICATE-----) in it")));
    }
    Ok(certs)
}

fn versions(src: &Source, tls: &TlsServerConfig) -> Result<Vec<&'static SupportedProtocolVersion>, Diagnostic> {
    let min = tls.min_version.unwrap_or(TlsVersion::TLS12);
    let max = tls.max_version.unwrap_or(TlsVersion::TLS13);
    if max < min {
        return Err(src.error_at("max_version", format!("max_version {max:?} is below min_version {min:?}")));
    }
    if max < TlsVersion::TLS12 {
        return Err(src.error_at("max_version", "TLS 1.0 and 1.1 are not offered (rustls speaks TLS 1.2 and 1.3)"));
    }
    let mut out = Vec::new();
    if min <= TlsVersion::TLS12 {
        out.push(&rustls::version::TLS12);
    }
    if max >= TlsVersion::TLS13 {
        out.push(&rustls::version::TLS13);
    }
    Ok(out)
}

fn crypto(src: &Source, tls: &TlsServerConfig) -> Result<CryptoProvider, Diagnostic> {
    let mut p = provider::default_provider();
    if let Some(names) = &tls.cipher_suites {
        // As in Go, the list picks TLS 1.2 suites; TLS 1.3's are always on.
        let mut picked: Vec<_> = p.cipher_suites.iter().filter(|s| s.tls13().is_some()).copied().collect();
        for name in names {
            let suite = p
                .cipher_suites
                .iter()
                .find(|s| s.tls13().is_none() && format!("{:?}", s.suite()) == *name)
                .ok_or_else(|| {
                    let known: Vec<String> = p
                        .cipher_suites
                        .iter()
                        .filter(|s| s.tls13().is_none())
                        .map(|s| format!("{:?}", s.suite()))
                        .collect();
                    src.error_at(
                        "cipher_suites",
                        format!("unknown or unsupported cipher suite {name:?} (known: {})", known.join(", ")),
                    )
                })?;
            picked.push(*suite);
        }
        p.cipher_suites = picked;
    }
    if let Some(curves) = &tls.curve_preferences {
        let mut groups = Vec::new();
        for curve in curves {
            groups.push(match curve {
                Curve::X25519 => provider::kx_group::X25519,
                Curve::CurveP256 => provider::kx_group::SECP256R1,
                Curve::CurveP384 => provider::kx_group::SECP384R1,
                Curve::CurveP521 => {
                    return Err(src
                        .error_at("curve_preferences", "CurveP521 is not supported (ring has no P-521 key exchange)"));
                }
            });
        }
        if groups.is_empty() {
            return Err(src.error_at("curve_preferences", "an empty list leaves no key exchange"));
        }
        p.kx_groups = groups;
    }
    Ok(p)
}

/// The server configuration, or `None` when the section asks for no TLS.
pub(crate) fn server_config(src: &Source, tls: &TlsServerConfig) -> Result<Option<Arc<ServerConfig>>, Diagnostic> {
    if !wanted(tls) {
        return Ok(None);
    }
    if tls.client_allowed_sans.is_some() {
        return Err(src.error_at(
            "client_allowed_sans",
            "client_allowed_sans is not supported; use a client CA that issues only to allowed clients",
        ));
    }
    let cert = pem(src, "cert_file", tls.cert_file.as_ref(), "cert", tls.cert.as_ref())?
        .ok_or_else(|| src.error_at("tls_server_config", "TLS needs cert_file (or cert)"))?;
    let key = pem(src, "key_file", tls.key_file.as_ref(), "key", tls.key.as_ref())?
        .ok_or_else(|| src.error_at("tls_server_config", "TLS needs key_file (or key)"))?;
    let cert_key = if tls.cert_file.is_some() { "cert_file" } else { "cert" };
    let key_key = if tls.key_file.is_some() { "key_file" } else { "key" };
    let chain = certificates(src, cert_key, &cert)?;
    let private = PrivateKeyDer::from_pem_slice(&key.0)
        .map_err(|e| src.error_at(key_key, format!("{}: no PEM private key: {e}", key.1)))?;

    let ca = pem(src, "client_ca_file", tls.client_ca_file.as_ref(), "client_ca", tls.client_ca.as_ref())?;
    let ca_key = if tls.client_ca_file.is_some() { "client_ca_file" } else { "client_ca" };
    let provider = Arc::new(crypto(src, tls)?);
    let verifier = match (tls.client_auth_type, ca) {
        (ClientAuthType::NoClientCert, None) => None,
        (ClientAuthType::NoClientCert, Some(_)) => {
            return Err(src.error_at(ca_key, "a client CA is given but client_auth_type is NoClientCert: say VerifyClientCertIfGiven or RequireAndVerifyClientCert"));
        }
        (t @ (ClientAuthType::RequestClientCert | ClientAuthType::RequireAnyClientCert), _) => {
            return Err(src.error_at("client_auth_type", format!("{t:?} accepts client certificates without checking them and is not supported; use VerifyClientCertIfGiven or RequireAndVerifyClientCert with client_ca_file")));
        }
        (t, None) => {
            return Err(src.error_at(
                "client_auth_type",
                format!("{t:?} needs client_ca_file (the CA that signs client certificates)"),
            ));
        }
        (t, Some(ca)) => {
            let mut roots = RootCertStore::empty();
            for c in certificates(src, ca_key, &ca)? {
                roots
                    .add(c)
                    .map_err(|e| src.error_at(ca_key, format!("{}: not a usable CA certificate: {e}", ca.1)))?;
            }
            let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
            let builder =
                if t == ClientAuthType::VerifyClientCertIfGiven { builder.allow_unauthenticated() } else { builder };
            Some(builder.build().map_err(|e| src.error_at(ca_key, format!("{}: {e}", ca.1)))?)
        }
    };

    let builder = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions(src, tls)?)
        .map_err(|e| src.error_at("min_version", e.to_string()))?;
    let builder = match verifier {
        Some(v) => builder.with_client_cert_verifier(v),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(chain, private)
        .map_err(|e| src.error_at(key_key, format!("{} does not fit {}: {e}", key.1, cert.1)))?;
    config.ignore_client_order = tls.prefer_server_cipher_suites.unwrap_or(false);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(Arc::new(config)))
}
