//! Push: a long-poll on the manifest so a new version is fetched within about
//! a second rather than at the next poll.
//!
//! The request is a conditional GET of `manifest` with the ETag last seen and
//! `Prefer: wait=N` (RFC 7240): `blocklist serve` (and a mirror-mode daemon)
//! holds it until the manifest changes or N seconds pass. A 200 only says
//! "look now": the sync task then runs an ordinary round, and everything it
//! fetches is verified as usual; the pushed body itself is discarded. A
//! server that ignores `Prefer` answers at once; that is detected (a 304
//! much sooner than asked) and push backs off to the poll interval, so
//! pointing it at nginx or a CDN costs one request per poll, not a busy loop.

use std::time::{Duration, Instant};

use reqwest::header::{ETAG, IF_NONE_MATCH};
use reqwest::StatusCode;
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use crate::daemon::config::SyncConfig;
use crate::daemon::source::http::{jitter, next_wait};

/// Runs until shutdown: long-polls the URLs in order, sending a "look now"
/// on `look_now` whenever the manifest changes.
pub async fn run(
    config: SyncConfig,
    client: reqwest::Client,
    look_now: mpsc::Sender<()>,
    mut shutdown: watch::Receiver<bool>,
) {
    let wait = config.push_wait.max(Duration::from_secs(1));
    let mut etag: Option<String> = None;
    let mut failures = 0u32;
    let mut mirror = 0usize;
    let mut warned_unsupported = false;
    loop {
        let url = format!("{}/manifest", config.urls[mirror].trim_end_matches('/'));
        let mut request = client
            .get(&url)
            .header("Prefer", format!("wait={}", wait.as_secs()))
            .timeout(wait + config.connect_timeout + Duration::from_secs(10));
        if let Some(tag) = &etag {
            request = request.header(IF_NONE_MATCH, tag);
        }
        let started = Instant::now();
        let response = tokio::select! {
            response = request.send() => response,
            _ = shutdown.wait_for(|stop| *stop) => return,
        };
        let pause = match response {
            Ok(response) if response.status() == StatusCode::NOT_MODIFIED => {
                failures = 0;
                if started.elapsed() < wait / 2 {
                    if !warned_unsupported {
                        warn!(%url, "the server does not hold long-polls (Prefer: wait); push falls back to polling");
                        warned_unsupported = true;
                    }
                    config.poll_interval + jitter(config.poll_jitter)
                } else {
                    Duration::ZERO
                }
            }
            Ok(response) if response.status().is_success() => {
                failures = 0;
                let new_tag = response
                    .headers()
                    .get(ETAG)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                // The first answer only learns the current ETag.
                if etag.is_some() {
                    info!(%url, "push: the manifest changed");
                    let _ = look_now.try_send(());
                }
                debug!(%url, etag = ?new_tag, "push: manifest ETag");
                etag = new_tag;
                if etag.is_none() {
                    // Without an ETag there is nothing to wait on.
                    config.poll_interval
                } else {
                    Duration::ZERO
                }
            }
            Ok(response) => {
                failures += 1;
                debug!(%url, status = %response.status(), "push request failed");
                mirror = (mirror + 1) % config.urls.len();
                next_wait(&config, failures)
            }
            Err(e) => {
                failures += 1;
                debug!(%url, error = %e, "push request failed");
                mirror = (mirror + 1) % config.urls.len();
                etag = None;
                next_wait(&config, failures)
            }
        };
        if !pause.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
        }
    }
}
