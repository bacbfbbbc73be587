//! Where published files are read from: a publish directory or a URL. Audit
//! and publish read through the same [`Source`], so they walk the chain of
//! files the same way wherever it is hosted.
//!
//! Every read has a cap: what a host sends is read as it arrives and refused
//! past the cap, so no server (nor its `Content-Length`) decides how much
//! memory an audit takes.

use std::io::Read as _;

use crate::centre::{CentreError, PublishDir};
use crate::daemon::config::SyncConfig;
use crate::daemon::source::network::ProxyPlan;

/// The largest manifest read: what a daemon accepts by default
/// (`sync.max_manifest_size`), so a manifest the audit passes, daemons take.
pub const MAX_MANIFEST_SIZE: u64 = crate::daemon::config::DEFAULT_MAX_MANIFEST_SIZE;

/// The largest trust root read: what a daemon accepts. A root's listed size
/// comes from a manifest not yet verified, so it is capped by this too.
pub const MAX_ROOT_SIZE: u64 = crate::daemon::source::http::MAX_ROOT_SIZE;

/// The most bytes an agency registry may hold: the daemon's cap.
pub const MAX_REGISTRY_SIZE: u64 = crate::daemon::source::http::MAX_REGISTRY_SIZE;

/// How much a read asks of the host at a time: a read grows by what arrives.
const READ_CHUNK: usize = 64 * 1024;

/// Published files by their path relative to the publish directory.
pub trait Source {
    /// The file's bytes, refused with [`CentreError::TooLarge`] past `limit` bytes.
    fn fetch(&self, rel: &str, limit: u64) -> Result<Vec<u8>, CentreError>;

    /// The file's full name (a path or URL), for messages.
    fn name(&self, rel: &str) -> String;
}

/// The source `target` names: an http(s) URL, or else a folder.
pub fn open(target: &str) -> Result<Box<dyn Source>, CentreError> {
    Ok(
        if target.starts_with("http://") || target.starts_with("https://") {
            Box::new(HttpSource::new(target)?)
        } else {
            Box::new(PublishDir::open(std::path::Path::new(target))?)
        },
    )
}

/// The file at `path`, refused with [`CentreError::TooLarge`] past `limit` bytes.
pub fn read_file(path: &std::path::Path, limit: u64) -> Result<Vec<u8>, CentreError> {
    let file = std::fs::File::open(path).map_err(CentreError::io("read", path))?;
    read_capped(file, limit).map_err(|error| match error {
        Capped::TooLarge => CentreError::TooLarge {
            file: path.display().to_string(),
            limit,
        },
        Capped::Io(source) => CentreError::io("read", path)(source),
    })
}

impl Source for PublishDir {
    fn fetch(&self, rel: &str, limit: u64) -> Result<Vec<u8>, CentreError> {
        read_file(&self.path().join(rel), limit)
    }

    fn name(&self, rel: &str) -> String {
        self.path().join(rel).display().to_string()
    }
}

/// A publish directory served over HTTP(S), read with plain GETs as any
/// client or CDN would.
#[derive(Debug)]
pub struct HttpSource {
    base: String,
    client: reqwest::blocking::Client,
}

/// How long a single fetch may take before the audit gives up on it.
const FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

impl HttpSource {
    /// A source rooted at `base` (with or without a final `/`), reached
    /// through the environment's proxy as the daemon reaches it with no
    /// `sync.proxy` (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`).
    pub fn new(base: &str) -> Result<HttpSource, CentreError> {
        Ok(HttpSource {
            base: base.trim_end_matches('/').to_owned(),
            client: http_client(base)?,
        })
    }
}

/// An HTTP client for the centre's side, reached through the environment's
/// proxy as the daemon reaches it with no `sync.proxy` (`HTTPS_PROXY`,
/// `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`); errors name `url`.
pub(crate) fn http_client(url: &str) -> Result<reqwest::blocking::Client, CentreError> {
    let failed = |reason: String| CentreError::Http {
        url: url.to_owned(),
        reason,
    };
    let proxies = ProxyPlan::from_config(&SyncConfig::default())
        .and_then(|plan| plan.proxies())
        .map_err(|e| failed(e.to_string()))?;
    let mut builder = reqwest::blocking::Client::builder()
        .timeout(FETCH_TIMEOUT)
        .no_proxy();
    for proxy in proxies {
        builder = builder.proxy(proxy);
    }
    builder.build().map_err(|e| failed(e.to_string()))
}

impl Source for HttpSource {
    fn fetch(&self, rel: &str, limit: u64) -> Result<Vec<u8>, CentreError> {
        let url = self.name(rel);
        let failed = |reason: String| CentreError::Http {
            url: url.clone(),
            reason,
        };
        let response = self
            .client
            .get(&url)
            .send()
            .map_err(|e| failed(e.to_string()))?;
        if !response.status().is_success() {
            return Err(failed(format!("HTTP status {}", response.status())));
        }
        read_capped(response, limit).map_err(|error| match error {
            Capped::TooLarge => CentreError::TooLarge {
                file: url.clone(),
                limit,
            },
            Capped::Io(source) => failed(source.to_string()),
        })
    }

    fn name(&self, rel: &str) -> String {
        format!("{}/{rel}", self.base)
    }
}

/// Why a capped read stopped.
pub(crate) enum Capped {
    /// More than the limit was on offer.
    TooLarge,
    /// The read failed.
    Io(std::io::Error),
}

/// Reads `from` to its end, growing as bytes arrive (never reserving what a
/// peer announces), and stops as soon as it would pass `limit`.
pub(crate) fn read_capped(from: impl std::io::Read, limit: u64) -> Result<Vec<u8>, Capped> {
    let mut bytes = Vec::new();
    let mut chunk = vec![0; READ_CHUNK];
    // One byte past the limit tells "exactly the limit" from "more".
    let mut from = from.take(limit.saturating_add(1));
    loop {
        match from.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Capped::Io(e)),
        }
    }
    if bytes.len() as u64 > limit {
        return Err(Capped::TooLarge);
    }
    Ok(bytes)
}
