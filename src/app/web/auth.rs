//! HTTP basic authentication against `basic_auth_users` (bcrypt hashes).
//!
//! bcrypt is slow on purpose (tens of milliseconds at cost 10), so it runs
//! off the async thread, at most [`CONCURRENT_CHECKS`] at a time (a flood
//! of wrong passwords costs the sensor that much CPU, no more), and a
//! password that verified is remembered by a SHA-256 of user, password
//! and hash, as the exporter toolkit does, so a scraper pays once. An
//! unknown user costs a verification against a fixed hash, so answers do
//! not tell which users exist.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use axum::http::{HeaderMap, header};
use tokio::sync::Semaphore;

use super::config::BcryptHash;
use crate::app::live::lock;

const CONCURRENT_CHECKS: usize = 2;
/// Verified credentials remembered; past that the set starts over.
const CACHE_ENTRIES: usize = 256;

/// Checked for users not in the file, at the usual cost, so the time matches.
fn dummy_hash() -> String {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| bcrypt::hash("no such user", bcrypt::DEFAULT_COST).unwrap_or_default()).clone()
}

pub(crate) struct BasicAuth {
    users: BTreeMap<String, BcryptHash>,
    verified: Mutex<HashSet<[u8; 32]>>,
    checks: Semaphore,
}

/// User and password of an `Authorization: Basic` header.
pub(crate) fn credentials(headers: &HeaderMap) -> Option<(String, String)> {
    use base64::Engine as _;
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

impl BasicAuth {
    pub fn new(users: BTreeMap<String, BcryptHash>) -> Self {
        BasicAuth { users, verified: Mutex::new(HashSet::new()), checks: Semaphore::new(CONCURRENT_CHECKS) }
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Whether the request's credentials match a user of the file.
    pub async fn allows(self: &Arc<Self>, headers: &HeaderMap) -> bool {
        let Some((user, password)) = credentials(headers) else { return false };
        let (hash, known) = match self.users.get(&user) {
            Some(h) => (Some(h.0.clone()), true),
            None => (None, false),
        };
        let key = fingerprint(&user, &password, hash.as_deref().unwrap_or(""));
        if known && lock(&self.verified).contains(&key) {
            return true;
        }
        let Ok(_permit) = self.checks.acquire().await else { return false };
        let ok = tokio::task::spawn_blocking(move || {
            bcrypt::verify(password, &hash.unwrap_or_else(dummy_hash)).unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        if ok && known {
            let mut verified = lock(&self.verified);
            if verified.len() >= CACHE_ENTRIES {
                verified.clear();
            }
            verified.insert(key);
        }
        ok && known
    }
}

fn fingerprint(user: &str, password: &str, hash: &str) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for part in [user, password, hash] {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part.as_bytes());
    }
    ctx.finish().as_ref().try_into().expect("SHA-256 is 32 bytes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_auth(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn reads_basic_credentials() {
        // "alice:open sesame", and a password with a colon in it.
        assert_eq!(
            credentials(&with_auth("Basic YWxpY2U6b3BlbiBzZXNhbWU=")),
            Some(("alice".into(), "open sesame".into()))
        );
        assert_eq!(credentials(&with_auth("basic Ym9iOmE6Yg==")), Some(("bob".into(), "a:b".into())));
        assert_eq!(credentials(&with_auth("Bearer YWxpY2U6eA==")), None);
        assert_eq!(credentials(&with_auth("Basic !!!!")), None);
        assert_eq!(credentials(&with_auth("Basic YWxpY2U")), None);
        assert_eq!(credentials(&HeaderMap::new()), None);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn checks_passwords_against_bcrypt_hashes() {
        let hash = bcrypt::hash("open sesame", 4).unwrap();
        let auth = Arc::new(BasicAuth::new(BTreeMap::from([("alice".into(), BcryptHash(hash))])));
        let good = with_auth("Basic YWxpY2U6b3BlbiBzZXNhbWU=");
        assert!(auth.allows(&good).await);
        assert!(auth.allows(&good).await, "again, from the cache");
        assert!(!auth.allows(&with_auth("Basic YWxpY2U6b3BlbiBzZXNhbWY=")).await, "wrong password");
        assert!(!auth.allows(&with_auth("Basic bWFsbG9yeTpvcGVuIHNlc2FtZQ==")).await, "unknown user");
        assert!(!auth.allows(&HeaderMap::new()).await);
    }
}
