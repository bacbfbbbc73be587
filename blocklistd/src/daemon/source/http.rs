//! HTTP mirrors: a publish directory at a base URL, read with plain GETs (so
//! `blocklist serve`, nginx, an object store or a CDN all work). The manifest
//! is fetched conditionally (`If-None-Match`), capped at a fixed size and
//! bounded in time (`sync.manifest_timeout`), so a slow mirror costs that
//! long before the next is tried. Every other file is capped at a size the
//! caller gives (the signed manifest's, or [`MAX_ROOT_SIZE`] for a root
//! fetched before the manifest is verified). Bodies are read into a buffer
//! grown as bytes arrive, never sized from a `Content-Length` or any other
//! unsigned number, and abandoned the moment they exceed their cap, so a
//! hostile mirror cannot exhaust memory or disk. Nothing here is trusted:
//! every byte is verified by the caller.

use std::path::Path;
use std::time::{Duration, Instant};

use blocklist_core::document::MANIFEST_PATH;
use blocklist_core::verify::FileCheck;
use reqwest::header::{ETAG, IF_NONE_MATCH};
use reqwest::StatusCode;
use tokio::io::AsyncWriteExt as _;

use crate::daemon::config::SyncConfig;
use crate::daemon::source::network;
use crate::daemon::DaemonError;

/// The most bytes read for a trust root. Roots are fetched before the
/// manifest that lists them is verified (it may be signed by their keys), so
/// the size the manifest announces is not to be trusted. The largest valid
/// root is ~41 KB (255 root keys and 255 publish keys of 32 bytes, 255
/// signatures of 96); the rest is room for extensions.
pub const MAX_ROOT_SIZE: u64 = 256 << 10;

/// The most bytes an agency registry may hold, whatever its manifest says:
/// a fixed cap, as for roots, since registries are few and each is small
/// (an agency with ten keys is about 600 bytes: some 1,700 such agencies).
pub const MAX_REGISTRY_SIZE: u64 = 1 << 20;

/// One mirror.
#[derive(Debug)]
pub struct HttpMirror {
    /// The base URL requests go to (with any credentials in it).
    base: String,
    /// The base URL as shown in status, logs and errors ([`redact`]ed).
    shown: String,
    client: reqwest::Client,
    /// Bounds the whole manifest request.
    manifest_timeout: Duration,
    /// The ETag of the manifest last fully synced from this mirror: a 304
    /// for it means nothing changed since that successful round.
    pub etag: Option<String>,
    /// The serial of the older manifest this mirror was last found serving
    /// (a lagging cache), so that it is logged once, not every round.
    pub stale_serial: Option<u64>,
}

/// A conditional manifest fetch.
#[derive(Debug)]
pub enum ManifestFetch {
    /// 304: the manifest is the one last synced.
    Unchanged,
    /// A manifest, and its ETag if the server sent one.
    Fetched(Vec<u8>, Option<String>),
}

/// The HTTP client every mirror and the push task share, with the proxy and
/// TLS settings of [`network`].
pub fn client(config: &SyncConfig) -> Result<reqwest::Client, DaemonError> {
    let builder = reqwest::Client::builder()
        .connect_timeout(config.connect_timeout)
        .timeout(config.request_timeout)
        // A download that stalls this long is abandoned, whatever its size.
        .read_timeout(config.manifest_timeout)
        .user_agent(concat!("blocklistd/", env!("CARGO_PKG_VERSION")));
    network::configure(builder, config)?
        .build()
        .map_err(|e| DaemonError::Runtime {
            action: "build the HTTP client",
            reason: error_chain(&e),
        })
}

impl HttpMirror {
    /// A mirror at `base` (with or without a final `/`), whose manifest
    /// request may take at most `manifest_timeout`.
    pub fn new(base: &str, client: reqwest::Client, manifest_timeout: Duration) -> HttpMirror {
        let base = base.trim_end_matches('/').to_owned();
        HttpMirror {
            shown: redact(&base),
            base,
            client,
            manifest_timeout,
            etag: None,
            stale_serial: None,
        }
    }

    /// The base URL as shown (credentials redacted).
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The URL of a file of the layout, as shown (credentials redacted).
    pub fn url(&self, rel: &str) -> String {
        format!("{}/{rel}", self.shown)
    }

    /// Fetches the manifest, conditionally on the last synced ETag; the whole
    /// request (body included) is bounded by the manifest timeout.
    pub async fn manifest(&self, cap: u64) -> Result<ManifestFetch, DaemonError> {
        let shown = self.url(MANIFEST_PATH);
        let fetch = async {
            let mut request = self.client.get(format!("{}/{MANIFEST_PATH}", self.base));
            if let Some(etag) = &self.etag {
                request = request.header(IF_NONE_MATCH, etag);
            }
            let response = request.send().await.map_err(|e| fetch_error(&shown, e))?;
            if response.status() == StatusCode::NOT_MODIFIED {
                return Ok(ManifestFetch::Unchanged);
            }
            let etag = response
                .headers()
                .get(ETAG)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let bytes = read_capped(response, cap, &shown).await?;
            Ok(ManifestFetch::Fetched(bytes, etag))
        };
        tokio::time::timeout(self.manifest_timeout, fetch)
            .await
            .unwrap_or_else(|_| {
                Err(DaemonError::Fetch {
                    url: shown.clone(),
                    reason: format!(
                        "no complete answer within {:?} (sync.manifest_timeout): trying the next source",
                        self.manifest_timeout
                    ),
                })
            })
    }

    /// Fetches a file of the layout, refusing more than `cap` bytes.
    pub async fn fetch(&self, rel: &str, cap: u64) -> Result<Vec<u8>, DaemonError> {
        let shown = self.url(rel);
        read_capped(self.get(rel, &shown).await?, cap, &shown).await
    }

    /// Fetches a file of the layout into `to` (created or truncated), piece
    /// by piece as it arrives, refusing more than `cap` bytes: for snapshots,
    /// too large to hold in memory. Returns the check of what was written
    /// (size and SHA-256), for the caller to hold against the signed
    /// manifest's reference. The file is not synced: it is read back at once.
    pub async fn fetch_to_file(
        &self,
        rel: &str,
        cap: u64,
        to: &Path,
    ) -> Result<FileCheck, DaemonError> {
        let shown = self.url(rel);
        let io = |source| DaemonError::Io {
            action: "write downloaded file",
            path: to.to_owned(),
            source,
        };
        let mut file = tokio::fs::File::create(to).await.map_err(io)?;
        let mut check = FileCheck::default();
        let mut response = checked_response(self.get(rel, &shown).await?, cap, &shown)?;
        while let Some(chunk) = next_capped(&mut response, check.size(), cap, &shown).await? {
            check.update(&chunk);
            file.write_all(&chunk).await.map_err(io)?;
        }
        file.flush().await.map_err(io)?;
        Ok(check)
    }

    async fn get(&self, rel: &str, shown: &str) -> Result<reqwest::Response, DaemonError> {
        self.client
            .get(format!("{}/{rel}", self.base))
            .send()
            .await
            .map_err(|e| fetch_error(shown, e))
    }
}

/// `url` with the password of its userinfo (`https://user:pass@host/`)
/// replaced by `***`: every URL the daemon shows (status, logs, errors) goes
/// through here, since `sync.urls` may carry credentials for a mirror.
pub fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // Cannot fail: a URL with a password has a host.
            let _ = parsed.set_password(Some("***"));
            let shown = parsed.to_string();
            // Keep the form given (Url adds a `/` to a bare host).
            if url.ends_with('/') {
                shown
            } else {
                shown.trim_end_matches('/').to_owned()
            }
        }
        Ok(_) => url.to_owned(),
        // Not a URL: show no more than what precedes a possible userinfo.
        Err(_) => match url.rfind('@') {
            Some(at) => format!("***@{}", &url[at + 1..]),
            None => url.to_owned(),
        },
    }
}

fn fetch_error(url: &str, e: reqwest::Error) -> DaemonError {
    // reqwest's error names the request's URL, credentials and all: shown
    // without it.
    DaemonError::Fetch {
        url: url.to_owned(),
        reason: error_chain(&e.without_url()),
    }
}

/// An error and its causes: reqwest's Display omits the cause ("error
/// sending request"); the chain says "connection refused", "timed out" or
/// which certificate was refused.
pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut reason = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    reason
}

/// Reads a response body, refusing a non-success status and stopping as soon
/// as more than `cap` bytes arrive (a `Content-Length` over the cap is refused
/// before reading anything). The buffer grows with the bytes received: the
/// `Content-Length` is the server's word, so it never sizes an allocation.
async fn read_capped(
    response: reqwest::Response,
    cap: u64,
    url: &str,
) -> Result<Vec<u8>, DaemonError> {
    let mut response = checked_response(response, cap, url)?;
    let mut bytes = Vec::new();
    while let Some(chunk) = next_capped(&mut response, bytes.len() as u64, cap, url).await? {
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// The response if its status is a success and its `Content-Length`, if
/// any, is within `cap`.
fn checked_response(
    response: reqwest::Response,
    cap: u64,
    url: &str,
) -> Result<reqwest::Response, DaemonError> {
    if !response.status().is_success() {
        return Err(DaemonError::Fetch {
            url: url.to_owned(),
            reason: format!("HTTP status {}", response.status()),
        });
    }
    if response.content_length().is_some_and(|len| len > cap) {
        return Err(too_large(url, cap));
    }
    Ok(response)
}

/// The next piece of the body, after `read` bytes, refused when it takes the
/// body past `cap`.
async fn next_capped(
    response: &mut reqwest::Response,
    read: u64,
    cap: u64,
    url: &str,
) -> Result<Option<impl std::ops::Deref<Target = [u8]>>, DaemonError> {
    let chunk = response.chunk().await.map_err(|e| fetch_error(url, e))?;
    // Only the sync loop downloads: a body still arriving is its progress.
    crate::daemon::systemd::progressed();
    match chunk {
        Some(chunk) if read + chunk.len() as u64 > cap => Err(too_large(url, cap)),
        chunk => Ok(chunk),
    }
}

fn too_large(url: &str, cap: u64) -> DaemonError {
    DaemonError::TooLarge {
        url: url.to_owned(),
        limit: cap,
    }
}

/// The wait before the next round: the poll interval after a success, an
/// exponential backoff (capped) after `failures` consecutive failures, plus
/// up to `poll_jitter` of random delay either way.
pub fn next_wait(config: &SyncConfig, failures: u32) -> Duration {
    let base = if failures == 0 {
        config.poll_interval
    } else {
        let factor = 1u32 << (failures - 1).min(16);
        config
            .backoff_initial
            .saturating_mul(factor)
            .min(config.backoff_max)
    };
    base + jitter(config.poll_jitter)
}

/// A random duration in `0..=max` (from the std hasher's random keys: no
/// crypto needed to spread polls).
pub fn jitter(max: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    if max.is_zero() {
        return Duration::ZERO;
    }
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(Instant::now().elapsed().as_nanos());
    let fraction = (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64;
    max.mul_f64(fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitter_stays_in_range() {
        let config = SyncConfig {
            poll_jitter: Duration::ZERO,
            ..SyncConfig::default()
        };
        assert_eq!(next_wait(&config, 0), config.poll_interval);
        assert_eq!(next_wait(&config, 1), Duration::from_secs(5));
        assert_eq!(next_wait(&config, 2), Duration::from_secs(10));
        assert_eq!(next_wait(&config, 4), Duration::from_secs(40));
        assert_eq!(next_wait(&config, 30), Duration::from_secs(600));
        for _ in 0..100 {
            assert!(jitter(Duration::from_secs(3)) <= Duration::from_secs(3));
        }
    }
}
