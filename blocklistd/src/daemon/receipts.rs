//! The daemon's receipts: after each apply, the version it now holds, its
//! state and the log checkpoint it verified, signed with its identity key
//! ([`crate::daemon::identity`]) and handed to the centre (`[receipts]`):
//!
//! - `outbox`: written into the folder as `<replica id>.<list>.receipt`
//!   (through a dot-named temporary, renamed in), each replacing the one
//!   before: a courier carries the newest back into the centre's intake drop
//!   folder, and the file names of several daemons never clash there;
//! - `url`: posted to the centre's intake service (`POST URL/v1/receipts`)
//!   by the [`Deliverer`] task, off the sync loop.
//!
//! Only the newest receipt matters: the centre keeps each replica's newest,
//! so one not yet delivered is superseded by the next (a `watch` channel
//! holds one). Delivery never holds an apply back: making a receipt is a
//! signature and a small file; the post runs in its own task, retried with
//! backoff doubling from `retry_initial` to `retry_max` while the centre is
//! unreachable, failing, or does not know this replica yet (403: it may be
//! registered meanwhile). A receipt the centre refuses for what it says (an
//! older one than it holds, a state it did not publish) is not sent again.
//! With nothing to deliver the task waits on the channel alone: no timer
//! runs while idle.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use blocklist_core::document::{Document as _, ListId, LogPosition, Receipt};
use blocklist_core::store::StoreState;
use blocklist_core::{SecretKey, Timestamp};
use reqwest::StatusCode;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::daemon::config::ReceiptsConfig;
use crate::daemon::published::write_atomic;
use crate::daemon::{DaemonError, Shared};

/// What a receipt file's name ends with (the centre's intake drop folder reads it).
pub const RECEIPT_SUFFIX: &str = ".receipt";

/// A signed receipt and the version it is for.
struct Made {
    version: u64,
    bytes: Vec<u8>,
}

/// The newest receipt, signed, not yet known delivered.
type Newest = Option<Arc<Made>>;

/// Makes a receipt after each apply and hands it to the outbox and the
/// deliverer.
pub struct Receipts {
    key: SecretKey,
    /// Where `/v1/status` reads what became of the newest.
    shared: Arc<Shared>,
    outbox: Option<PathBuf>,
    /// The newest receipt for the [`Deliverer`] (`None`: no `url`).
    newest: Option<watch::Sender<Newest>>,
}

impl Receipts {
    /// Receipts signed by `key` as `config` says, and the task that posts
    /// them when it names a `url` (run it with [`Deliverer::run`]). The
    /// outbox folder is created now, so a path that cannot be is refused at
    /// start.
    pub fn new(
        key: SecretKey,
        shared: Arc<Shared>,
        config: &ReceiptsConfig,
        client: reqwest::Client,
        timeout: Duration,
    ) -> Result<(Receipts, Option<Deliverer>), DaemonError> {
        if let Some(outbox) = &config.outbox {
            std::fs::create_dir_all(outbox).map_err(|source| DaemonError::Io {
                action: "create the receipts outbox",
                path: outbox.clone(),
                source,
            })?;
        }
        let (newest, deliverer) = match &config.url {
            Some(url) => {
                let (tx, rx) = watch::channel(None);
                let deliverer = Deliverer {
                    url: format!("{}/v1/receipts", url.trim_end_matches('/')),
                    client,
                    timeout,
                    newest: rx,
                    shared: shared.clone(),
                    retry_initial: config.retry_initial,
                    retry_max: config.retry_max,
                };
                (Some(tx), Some(deliverer))
            }
            None => (None, None),
        };
        let receipts = Receipts {
            key,
            shared,
            outbox: config.outbox.clone(),
            newest,
        };
        Ok((receipts, deliverer))
    }

    /// Signs the receipt for `state` (just applied) and the log checkpoint
    /// `log`, writes it to the outbox and hands it to the deliverer. A
    /// failure is logged, never returned: the apply stands whatever becomes
    /// of its receipt.
    pub fn applied(&self, state: &StoreState, log: Option<LogPosition>, applied_at: Timestamp) {
        if self.outbox.is_none() && self.newest.is_none() {
            return;
        }
        let Some(version) = state.version else {
            return;
        };
        let made = ListId::new(&state.list).and_then(|list| {
            Receipt {
                list,
                version,
                state: state.state,
                log,
                applied_at,
                replica: self.key.public_key().id(),
                extensions: vec![],
            }
            .sign(&[&self.key])
        });
        let bytes = match made {
            Ok(bytes) => bytes,
            Err(error) => {
                warn!(%error, version = version.get(), "cannot sign the receipt");
                return;
            }
        };
        if let Some(outbox) = &self.outbox {
            let name = format!(
                "{}.{}{RECEIPT_SUFFIX}",
                self.key.public_key().id().short(),
                state.list
            );
            match write_atomic(outbox, &outbox.join(&name), &bytes) {
                Ok(()) => {
                    info!(version = version.get(), file = %outbox.join(&name).display(), "receipt written to the outbox")
                }
                Err(error) => {
                    warn!(%error, version = version.get(), "cannot write the receipt to the outbox")
                }
            }
        }
        let version = version.get();
        match &self.newest {
            Some(newest) => {
                self.shared.status.set_receipt(version, "sending", None);
                newest.send_replace(Some(Arc::new(Made { version, bytes })));
            }
            None => self.shared.status.set_receipt(version, "written", None),
        }
    }
}

/// The task posting the newest receipt to the centre's intake service.
pub struct Deliverer {
    url: String,
    client: reqwest::Client,
    /// The most one post may take.
    timeout: Duration,
    /// The newest receipt the [`Receipts`] made.
    newest: watch::Receiver<Newest>,
    shared: Arc<Shared>,
    retry_initial: Duration,
    retry_max: Duration,
}

/// What became of one post.
enum Outcome {
    /// Taken (or taken before), with the centre's answer: not sent again.
    Delivered(String),
    /// Refused for what it says, with the centre's answer: not sent again.
    Refused(String),
    /// Not taken now: the centre unreachable, failing, or not knowing this
    /// replica yet. Tried again after the backoff.
    Retry(String),
}

impl Deliverer {
    /// Posts each newest receipt until `stop` turns true.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                biased;
                _ = stop.wait_for(|s| *s) => return,
                changed = self.newest.changed() => if changed.is_err() { return },
            }
            let mut wait = self.retry_initial;
            loop {
                let Some(made) = self.newest.borrow_and_update().clone() else {
                    break;
                };
                let status = &self.shared.status;
                match self.post(&made.bytes).await {
                    Outcome::Delivered(answer) => {
                        status.set_receipt(made.version, "delivered", Some(answer));
                        break;
                    }
                    Outcome::Refused(answer) => {
                        status.set_receipt(made.version, "refused", Some(answer));
                        break;
                    }
                    Outcome::Retry(reason) => {
                        warn!(url = %self.url, %reason, retry_in = ?wait, "cannot deliver the receipt; retrying");
                        status.set_receipt(made.version, "sending", Some(reason));
                    }
                }
                tokio::select! {
                    biased;
                    _ = stop.wait_for(|s| *s) => return,
                    // A newer receipt supersedes this one: sent at once.
                    changed = self.newest.changed() => if changed.is_err() { return },
                    () = tokio::time::sleep(wait) => {}
                }
                wait = (wait * 2).min(self.retry_max);
            }
        }
    }

    async fn post(&self, bytes: &[u8]) -> Outcome {
        let sent = self
            .client
            .post(&self.url)
            .timeout(self.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => return Outcome::Retry(error.to_string()),
        };
        let status = response.status();
        let body = answer(response).await;
        match status {
            s if s.is_success() => {
                info!(url = %self.url, answer = %body.trim(), "receipt delivered");
                Outcome::Delivered(body.trim().to_owned())
            }
            StatusCode::FORBIDDEN => Outcome::Retry(format!(
                "{status}: {} (register this replica: blocklistd --print-identity)",
                body.trim()
            )),
            // 404: a centre without the endpoint yet; 408 and 429: try later.
            s if s.is_client_error()
                && !matches!(
                    s,
                    StatusCode::NOT_FOUND
                        | StatusCode::REQUEST_TIMEOUT
                        | StatusCode::TOO_MANY_REQUESTS
                ) =>
            {
                warn!(url = %self.url, %status, answer = %body.trim(), "the centre refused the receipt; not sent again");
                Outcome::Refused(format!("{status}: {}", body.trim()))
            }
            _ => Outcome::Retry(format!("{status}: {}", body.trim())),
        }
    }
}

/// The most of an answer's body read: the service's answers are a line of
/// JSON; a misconfigured URL's may be anything, of any length.
const MAX_ANSWER: usize = 4 << 10;

/// The start of `response`'s body, as text, at most [`MAX_ANSWER`] bytes.
async fn answer(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while body.len() < MAX_ANSWER {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                body.extend_from_slice(&chunk[..chunk.len().min(MAX_ANSWER - body.len())])
            }
            _ => break,
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}
