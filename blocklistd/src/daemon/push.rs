//! Push: a long-poll on the manifest so a new version is fetched within about
//! a second rather than at the next poll.
//!
//! The request is a conditional GET of `manifest` with the ETag last seen and
//! `Prefer: wait=N` (RFC 7240): `blocklist serve` (and a mirror-mode daemon)
//! holds it until the manifest changes or N seconds pass. A 200 only says
//! "look now": the sync task then runs an ordinary round, and everything it
//! fetches is verified as usual; the pushed body itself is discarded. A
//! server that ignores `Prefer` answers at once; that is detected (a 304, or
//! a 200 with the ETag already held, much sooner than asked) and push backs
//! off to the poll interval, so pointing it at nginx or a CDN costs one
//! request per poll, not a busy loop. Whatever a server does, requests start
//! at most once per [`MIN_INTERVAL`].
//!
//! Every answer with an ETag other than the one held wakes the sync task,
//! the first one included, so a daemon backed off after failures (a centre
//! that was down) syncs as soon as the long-poll reconnects; reconnecting is
//! retried within [`RETRY_MAX`] whatever the sync backoff.

use std::time::{Duration, Instant};

use reqwest::header::{ETAG, IF_NONE_MATCH};
use reqwest::StatusCode;
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use crate::daemon::config::SyncConfig;
use crate::daemon::source::http::{jitter, redact};

/// The floor on the time between the starts of two push requests: a server
/// that answers every long-poll at once with a change cannot drive more than
/// one request (and one sync round) a second.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// The longest wait before a failed long-poll is tried again (from 1 s,
/// doubled per failure): one request, and what brings a backed-off daemon
/// back within half a minute of its centre, whatever `sync.backoff_max`.
pub const RETRY_MAX: Duration = Duration::from_secs(30);

/// The wait after `failures` (at least 1) consecutive failed long-polls.
fn retry_wait(failures: u32) -> Duration {
    MIN_INTERVAL
        .saturating_mul(1 << (failures - 1).min(5))
        .min(RETRY_MAX)
}

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
        let shown = redact(&url);
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
        // A server that answers at once without a change does not hold
        // long-polls: asking again at once would be a busy loop.
        let mut unchanged = || {
            if started.elapsed() >= wait / 2 {
                return Duration::ZERO;
            }
            if !warned_unsupported {
                warn!(url = %shown, "the server does not hold long-polls (Prefer: wait); push falls back to polling");
                warned_unsupported = true;
            }
            config.poll_interval + jitter(config.poll_jitter)
        };
        let pause = match response {
            Ok(response) if response.status() == StatusCode::NOT_MODIFIED => {
                failures = 0;
                unchanged()
            }
            Ok(response) if response.status().is_success() => {
                failures = 0;
                let new_tag = response
                    .headers()
                    .get(ETAG)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                debug!(url = %shown, etag = ?new_tag, "push: manifest ETag");
                match new_tag {
                    // Without an ETag there is nothing to wait on.
                    None => config.poll_interval,
                    Some(tag) if etag.as_ref() == Some(&tag) => unchanged(),
                    Some(tag) => {
                        info!(url = %shown, "push: the manifest changed");
                        let _ = look_now.try_send(());
                        etag = Some(tag);
                        Duration::ZERO
                    }
                }
            }
            Ok(response) => {
                failures += 1;
                debug!(url = %shown, status = %response.status(), "push request failed");
                mirror = (mirror + 1) % config.urls.len();
                retry_wait(failures)
            }
            Err(e) => {
                failures += 1;
                debug!(url = %shown, error = %e.without_url(), "push request failed");
                mirror = (mirror + 1) % config.urls.len();
                retry_wait(failures)
            }
        };
        let pause = pause.max(MIN_INTERVAL.saturating_sub(started.elapsed()));
        if !pause.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
        }
    }
}
