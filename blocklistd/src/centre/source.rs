//! Where published files are read from: a publish directory or a URL. Audit
//! and publish read through the same [`Source`], so they walk the chain of
//! files the same way wherever it is hosted.

use std::io::Read as _;

use crate::centre::{CentreError, PublishDir};

/// Published files by their path relative to the publish directory.
pub trait Source {
    /// The file's bytes.
    fn fetch(&self, rel: &str) -> Result<Vec<u8>, CentreError>;

    /// The file's full name (a path or URL), for messages.
    fn name(&self, rel: &str) -> String;
}

impl Source for PublishDir {
    fn fetch(&self, rel: &str) -> Result<Vec<u8>, CentreError> {
        self.read(rel)
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
    /// A source rooted at `base` (with or without a final `/`).
    pub fn new(base: &str) -> Result<HttpSource, CentreError> {
        let client = reqwest::blocking::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(|e| CentreError::Http {
                url: base.to_owned(),
                reason: e.to_string(),
            })?;
        Ok(HttpSource {
            base: base.trim_end_matches('/').to_owned(),
            client,
        })
    }
}

impl Source for HttpSource {
    fn fetch(&self, rel: &str) -> Result<Vec<u8>, CentreError> {
        let url = self.name(rel);
        let failed = |reason: String| CentreError::Http {
            url: url.clone(),
            reason,
        };
        let mut response = self
            .client
            .get(&url)
            .send()
            .map_err(|e| failed(e.to_string()))?;
        if !response.status().is_success() {
            return Err(failed(format!("HTTP status {}", response.status())));
        }
        let mut bytes = Vec::new();
        response
            .read_to_end(&mut bytes)
            .map_err(|e| failed(e.to_string()))?;
        Ok(bytes)
    }

    fn name(&self, rel: &str) -> String {
        format!("{}/{rel}", self.base)
    }
}
