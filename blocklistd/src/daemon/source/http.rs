//! HTTP mirrors: a publish directory at a base URL, read with plain GETs (so
//! `blocklist serve`, nginx, an object store or a CDN all work). The manifest
//! is fetched conditionally (`If-None-Match`) and capped at a fixed size;
//! every other file is capped at the size the signed manifest announces, and
//! a download is abandoned the moment it exceeds its cap, so a hostile mirror
//! cannot exhaust memory or disk. Nothing here is trusted: every byte is
//! verified by the caller.

use std::time::{Duration, Instant};

use blocklist_core::document::MANIFEST_PATH;
use reqwest::header::{ETAG, IF_NONE_MATCH};
use reqwest::StatusCode;

use crate::daemon::config::SyncConfig;
use crate::daemon::DaemonError;

/// One mirror.
#[derive(Debug)]
pub struct HttpMirror {
    base: String,
    client: reqwest::Client,
    /// The ETag of the manifest last fully synced from this mirror: a 304
    /// for it means nothing changed since that successful round.
    pub etag: Option<String>,
}

/// A conditional manifest fetch.
#[derive(Debug)]
pub enum ManifestFetch {
    /// 304: the manifest is the one last synced.
    Unchanged,
    /// A manifest, and its ETag if the server sent one.
    Fetched(Vec<u8>, Option<String>),
}

/// The HTTP client every mirror and the push task share.
pub fn client(config: &SyncConfig) -> Result<reqwest::Client, DaemonError> {
    reqwest::Client::builder()
        .connect_timeout(config.connect_timeout)
        .timeout(config.request_timeout)
        .user_agent(concat!("blocklistd/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| DaemonError::Runtime {
            action: "build the HTTP client",
            reason: e.to_string(),
        })
}

impl HttpMirror {
    /// A mirror at `base` (with or without a final `/`).
    pub fn new(base: &str, client: reqwest::Client) -> HttpMirror {
        HttpMirror {
            base: base.trim_end_matches('/').to_owned(),
            client,
            etag: None,
        }
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The URL of a file of the layout.
    pub fn url(&self, rel: &str) -> String {
        format!("{}/{rel}", self.base)
    }

    /// Fetches the manifest, conditionally on the last synced ETag.
    pub async fn manifest(&self, cap: u64) -> Result<ManifestFetch, DaemonError> {
        let url = self.url(MANIFEST_PATH);
        let mut request = self.client.get(&url);
        if let Some(etag) = &self.etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        let response = request.send().await.map_err(|e| fetch_error(&url, &e))?;
        if response.status() == StatusCode::NOT_MODIFIED {
            return Ok(ManifestFetch::Unchanged);
        }
        let etag = response
            .headers()
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = read_capped(response, cap, &url).await?;
        Ok(ManifestFetch::Fetched(bytes, etag))
    }

    /// Fetches a file of the layout, refusing more than `cap` bytes.
    pub async fn fetch(&self, rel: &str, cap: u64) -> Result<Vec<u8>, DaemonError> {
        let url = self.url(rel);
        let response = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|e| fetch_error(&url, &e))?;
        read_capped(response, cap, &url).await
    }
}

fn fetch_error(url: &str, e: &reqwest::Error) -> DaemonError {
    // reqwest's Display omits the cause ("error sending request"); the
    // chain says "connection refused" or "timed out".
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    DaemonError::Fetch {
        url: url.to_owned(),
        reason,
    }
}

/// Reads a response body, refusing a non-success status and stopping as soon
/// as more than `cap` bytes arrive (a `Content-Length` over the cap is refused
/// before reading anything).
async fn read_capped(
    mut response: reqwest::Response,
    cap: u64,
    url: &str,
) -> Result<Vec<u8>, DaemonError> {
    if !response.status().is_success() {
        return Err(DaemonError::Fetch {
            url: url.to_owned(),
            reason: format!("HTTP status {}", response.status()),
        });
    }
    let too_large = || DaemonError::TooLarge {
        url: url.to_owned(),
        limit: cap,
    };
    if response.content_length().is_some_and(|len| len > cap) {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(response.content_length().unwrap_or(0).min(cap) as usize);
    while let Some(chunk) = response.chunk().await.map_err(|e| fetch_error(url, &e))? {
        if bytes.len() as u64 + chunk.len() as u64 > cap {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
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
