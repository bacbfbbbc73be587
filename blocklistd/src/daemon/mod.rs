//! The sync daemon: keeps a local replica of a list current from the centre
//! (HTTP mirrors, push, a drop folder) and answers lookups locally.
//!
//! [`run`] is the whole daemon: [`claim_data_dir`], [`bind`], then [`serve`],
//! which the `blocklistd` binary calls one by one (it prints the bound address
//! in between) after parsing arguments and setting up logging and signals.
//! Tasks, all stopped by the one shutdown future:
//!
//! - the sync task owns the [`sync::Syncer`] (trust root, replica) and runs a
//!   round on the poll timer (jittered, exponential backoff on failure), on a
//!   push ("look now"), and on drop-folder events;
//! - the API ([`api`]) answers from the lookup index the replica publishes,
//!   swapped in after each apply without blocking readers;
//! - optional: the push long-poll ([`push`]), the mirror server (the
//!   centre's `serve` over [`published`]'s folder), the systemd watchdog
//!   ([`systemd`]), fed by the sync loop's progress, and the receipts
//!   deliverer ([`receipts`]), posting the signed receipt of each apply to
//!   the centre.
//!
//! Modules: [`config`], [`state`] (status and degraded), [`metrics`],
//! [`sync`], [`source`] (HTTP mirrors and the drop folder), [`published`]
//! (the verified files kept locally), [`identity`] (the daemon's own key),
//! [`receipts`] (what it tells the centre it applied).

pub mod api;
pub mod config;
pub mod history;
pub mod identity;
pub mod log;
pub mod metrics;
pub mod published;
pub mod push;
pub mod receipts;
pub mod source;
pub mod state;
pub mod sync;
pub mod systemd;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use blocklist_core::index::{HeartbeatWriter, IndexError, LiveIndex};
use blocklist_core::lock::{FolderLock, Locked};
use blocklist_core::replica::{INDEX_FILE, STORE_FILE};
use blocklist_core::verify::VerifyError;
use blocklist_core::Rules;
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::{error, info, warn};

pub use config::Config;

use crate::daemon::metrics::Metrics;
use crate::daemon::source::http;
use crate::daemon::state::Status;
use crate::daemon::sync::Syncer;

/// The lock a running daemon holds in its data folder (the replica inside
/// holds its own, `blocklist_core::replica::LOCK_FILE`).
pub const LOCK_FILE: &str = ".blocklistd.lock";

/// Everything the daemon can fail with; each variant names its file, URL or
/// address. Sync failures are also what `/v1/status` reports as `last_error`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaemonError {
    /// The configuration is invalid.
    #[error("config {origin}: {reason}")]
    Config {
        /// The file (or `embedded default`).
        origin: String,
        /// What is wrong, naming the key.
        reason: String,
    },
    /// A file operation failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Another daemon serves the same data folder.
    #[error("data folder {dir} is in use by another blocklistd: {source}")]
    DataFolderInUse {
        /// The data folder.
        dir: PathBuf,
        /// Who holds it.
        source: Locked,
    },
    /// A listener could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The address or socket path.
        address: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A download failed (connection, timeout, HTTP status).
    #[error("cannot fetch {url}: {reason}")]
    Fetch {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// A download exceeded its cap.
    #[error("{url} is larger than {limit} bytes, the most it may be: refused")]
    TooLarge {
        /// The URL.
        url: String,
        /// The cap (the announced size, or the manifest cap).
        limit: u64,
    },
    /// A document failed verification.
    #[error("{file}: {source}")]
    Verify {
        /// The URL or path.
        file: String,
        /// Why.
        source: VerifyError,
    },
    /// The replica refused or failed an apply (its state is unchanged).
    #[error("{file}: {source}")]
    Apply {
        /// The URL or path of the document, or the data folder.
        file: String,
        /// Why (boxed: the store's error is large, and errors are rare).
        source: Box<blocklist_core::Error>,
    },
    /// Published files contradict each other.
    #[error("{file}: {reason}")]
    Inconsistent {
        /// The URL or path.
        file: String,
        /// What does not fit.
        reason: String,
    },
    /// The transparency log refused: a fork, a log that shrank, a listed file
    /// it does not record, a bad checkpoint or tile.
    #[error("{file}: {source}")]
    Log {
        /// The URL or path of the checkpoint or tile that shows it.
        file: String,
        /// Why.
        source: blocklist_core::log::LogError,
    },
    /// The log kept in the data folder (`log.db`) cannot be read or written.
    #[error("{path}: {reason}")]
    KeptLog {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Nothing can be verified before a trust root is pinned.
    #[error("no trust root is pinned: set trust_root in the config, or drop the centre's root file into the drop folder")]
    NoTrustRoot,
    /// No source is configured.
    #[error("no source: set sync.urls or enable the drop folder")]
    NoSource,
    /// The feed's heartbeat (`lookup.beat`) could not be created.
    #[error("cannot create the feed heartbeat: {source}")]
    Heartbeat {
        /// Why (names the file).
        source: IndexError,
    },
    /// A network setting (the proxy, from `[sync]` or the environment, or a
    /// TLS key that needs another) cannot be used.
    #[error("{setting}: {reason}")]
    Network {
        /// The key (`sync.proxy`) or environment variable (`HTTPS_PROXY`).
        setting: &'static str,
        /// What is wrong (any password in a URL redacted).
        reason: String,
    },
    /// A TLS file named in `[sync]` cannot be used.
    #[error("sync.{key} {path}: {reason}")]
    TlsFile {
        /// The key naming it (`ca_file`, `client_cert`, `client_key`).
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// Why (unreadable, no certificate in it, ...).
        reason: String,
    },
    /// The client certificate's private key is open to other users.
    #[error("sync.client_key {path} can be read or written by other users (mode {mode:o}): a readable key is a leaked one; chmod o-rwx it")]
    KeyPermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The daemon's identity key cannot be made or used.
    #[error("identity key {path}: {reason}")]
    Identity {
        /// The key file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Shutdown was requested; the work was abandoned cleanly.
    #[error("shutting down")]
    ShuttingDown,
    /// A runtime facility failed (a task, the file watcher, the HTTP client).
    #[error("cannot {action}: {reason}")]
    Runtime {
        /// What was being done.
        action: &'static str,
        /// Why.
        reason: String,
    },
}

impl DaemonError {
    /// The file or URL the error is about, if any.
    pub fn file(&self) -> Option<String> {
        match self {
            DaemonError::Fetch { url, .. } | DaemonError::TooLarge { url, .. } => Some(url.clone()),
            DaemonError::Verify { file, .. }
            | DaemonError::Log { file, .. }
            | DaemonError::Apply { file, .. }
            | DaemonError::Inconsistent { file, .. } => Some(file.clone()),
            DaemonError::Io { path, .. }
            | DaemonError::KeptLog { path, .. }
            | DaemonError::TlsFile { path, .. }
            | DaemonError::Identity { path, .. }
            | DaemonError::KeyPermissions { path, .. } => Some(path.display().to_string()),
            _ => None,
        }
    }
}

/// What the API, the sync task and the metrics share.
pub struct Shared {
    /// Facts for `/v1/status` and the gauges.
    pub status: Status,
    /// Counters.
    pub metrics: Metrics,
    /// The index lookups read; empty until the first version exists.
    index: ArcSwapOption<LiveIndex>,
    index_path: PathBuf,
    /// The replica's store, read by `/v1/history` and for the listings of
    /// hits several agencies list.
    pub readers: history::Readers,
    /// Normalisation rules for queries.
    pub rules: Rules,
    /// Most identifiers per batch.
    pub max_batch: usize,
}

impl Shared {
    /// Creates the heartbeat in the data folder: only once the folder is
    /// claimed, since it replaces any heartbeat there.
    fn new(
        config: &Config,
        _claim: &FolderLock,
        identity: &blocklist_core::SecretKey,
    ) -> Result<Shared, DaemonError> {
        let heartbeat = HeartbeatWriter::create(&config.data_dir)
            .map_err(|source| DaemonError::Heartbeat { source })?;
        let shared = Shared {
            status: Status::new(
                config.freshness.max_age,
                config.freshness.root_expiry_warning,
                heartbeat,
                hex::encode(identity.public_key().id().0),
            ),
            metrics: Metrics::default(),
            index: ArcSwapOption::empty(),
            index_path: config.data_dir.join(INDEX_FILE),
            readers: history::Readers::new(config.data_dir.join(STORE_FILE)),
            rules: Rules {
                default_region: config.api.default_region.clone(),
            },
            max_batch: config.api.max_batch,
        };
        shared.refresh_index();
        Ok(shared)
    }

    /// The index being served, if any.
    pub fn index(&self) -> Option<Arc<LiveIndex>> {
        self.index.load_full()
    }

    /// Opens the published index, or swaps in a newer one (readers holding
    /// the old one finish on it), and tells status which version lookups
    /// answer from.
    pub fn refresh_index(&self) {
        let error = self.reload_index();
        let served = self.index().map(|live| live.load().header().list_version);
        self.status.set_index(served, error);
    }

    /// [`Shared::refresh_index`]'s work; returns why the index could not be
    /// opened or reloaded, if it could not.
    fn reload_index(&self) -> Option<String> {
        match self.index.load_full() {
            Some(live) => match live.reload_if_changed() {
                Ok(Some(reloaded)) => {
                    info!(
                        from = reloaded.previous_version,
                        to = reloaded.version,
                        "lookup index reloaded"
                    );
                }
                Ok(None) => {}
                Err(e) => {
                    warn!(error = %e, "cannot reload the lookup index; still serving the previous one");
                    return Some(e.to_string());
                }
            },
            None if self.index_path.exists() => match LiveIndex::open(&self.index_path) {
                Ok(live) => {
                    info!(
                        version = live.load().header().list_version,
                        "lookup index opened"
                    );
                    self.index.store(Some(Arc::new(live)));
                }
                Err(e) => {
                    warn!(error = %e, "cannot open the lookup index");
                    return Some(e.to_string());
                }
            },
            None => {}
        }
        None
    }
}

/// Binds the configured API address and runs the daemon until `shutdown`.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), DaemonError> {
    let claim = claim_data_dir(&config)?;
    let listener = bind(config.api.listen).await?;
    serve(config, claim, listener, shutdown).await
}

/// Creates the data folder if needed and claims it for this daemon, before
/// anything else is done (even binding the API port, so that a second daemon
/// started with the same config is told why, not "address in use"). Two
/// daemons on one folder would overwrite each other's downloads, pinned root
/// and index without a word. The claim lasts as long as the returned lock.
pub fn claim_data_dir(config: &Config) -> Result<FolderLock, DaemonError> {
    let dir = &config.data_dir;
    std::fs::create_dir_all(dir).map_err(|source| DaemonError::Io {
        action: "create data folder",
        path: dir.clone(),
        source,
    })?;
    FolderLock::try_acquire_or(
        &dir.join(LOCK_FILE),
        |held| DaemonError::DataFolderInUse {
            dir: dir.clone(),
            source: held,
        },
        |action, path, source| DaemonError::Io {
            action,
            path,
            source,
        },
    )
}

/// Binds a TCP listener, naming the address in the error.
pub async fn bind(address: std::net::SocketAddr) -> Result<TcpListener, DaemonError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| DaemonError::Listen {
            address: address.to_string(),
            source,
        })
}

/// Runs the daemon with its API on `listener` until `shutdown` completes:
/// then the sync task stops at its next step (an apply in progress
/// finishes; a download is abandoned), and requests in flight get
/// `api.shutdown_grace` to finish. `claim` is the data folder's, from
/// [`claim_data_dir`]; it is held until the daemon stops.
pub async fn serve(
    config: Config,
    claim: FolderLock,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), DaemonError> {
    // First: a proxy, CA bundle or client key that cannot be used is a
    // mistake in the config, refused before anything starts.
    let client = http::client(&config.sync)?;
    // An identity key others can read, or a corrupt one, stops the daemon
    // here: a new one would make it another replica.
    let identity = identity::load_or_create(&config.data_dir)?;
    let config = Arc::new(config);
    let shared = Arc::new(Shared::new(&config, &claim, &identity)?);
    let (receipts, deliverer) = receipts::Receipts::new(
        identity,
        shared.clone(),
        &config.receipts,
        client.clone(),
        config.sync.manifest_timeout,
    )?;
    let _claim = claim;
    // Fans the one shutdown future out to every task.
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        info!("shutdown requested");
        let _ = stop_tx.send(true);
    });
    // Opening may migrate a store an earlier release made and rebuild the
    // index in a new format: minutes at ten million listings, past
    // systemd's default start timeout (a daemon killed there would roll the
    // migration back, and start over, for ever).
    systemd::notify("EXTEND_TIMEOUT_USEC=1800000000");
    let mut syncer = Syncer::open(
        config.clone(),
        shared.clone(),
        client.clone(),
        stop_rx.clone(),
        receipts,
    )
    .await?;

    let mut tasks = tokio::task::JoinSet::new();
    if let Some(deliverer) = deliverer {
        tasks.spawn(deliverer.run(stop_rx.clone()).map_ok());
    }
    // The API, on TCP and optionally a Unix socket, within one set of limits.
    let router = api::router(shared.clone(), config.api.max_body_size as usize);
    let limits = api::ConnectionLimits::new(&config.api);
    let grace = config.api.shutdown_grace;
    warn_if_exposed(&listener);
    if let Some(path) = &config.api.unix_socket {
        let unix = bind_unix(path, config.api.unix_socket_mode)?;
        info!(socket = %path.display(), mode = format!("{:o}", config.api.unix_socket_mode), "API listening on a Unix socket");
        tasks.spawn(
            api::serve(unix, router.clone(), limits.clone(), stop_rx.clone(), grace).map_ok(),
        );
    }
    tasks.spawn(api::serve(listener, router, limits, stop_rx.clone(), grace).map_ok());
    if config.mirror.enabled {
        let mirror = bind(config.mirror.listen).await?;
        let address = mirror.local_addr().map_err(|source| DaemonError::Listen {
            address: config.mirror.listen.to_string(),
            source,
        })?;
        info!(%address, dir = %syncer.files.dir().display(), "mirror listening on http://{address}");
        let serve_config = crate::serve_dir::ServeConfig {
            dir: syncer.files.dir().to_owned(),
            manifest_max_age: config.mirror.manifest_max_age,
        };
        let stop = stop_rx.clone();
        tasks.spawn(async move {
            crate::serve_dir::run(serve_config, mirror, stopped(stop))
                .await
                .map_err(|e| DaemonError::Runtime {
                    action: "serve the mirror",
                    reason: e.to_string(),
                })
        });
    }
    // "Look now" channels: capacity 1, since one pending request is enough.
    let (push_tx, mut push_rx) = mpsc::channel::<()>(1);
    if config.sync.push && !config.sync.urls.is_empty() {
        tasks.spawn(push::run(config.sync.clone(), client, push_tx, stop_rx.clone()).map_ok());
    } else {
        drop(push_tx);
    }
    let (drop_tx, mut drop_rx) = mpsc::channel::<()>(1);
    let _watcher = if config.drop_folder.enabled {
        let dir = config.drop_dir();
        std::fs::create_dir_all(&dir).map_err(|source| DaemonError::Io {
            action: "create drop folder",
            path: dir.clone(),
            source,
        })?;
        info!(folder = %dir.display(), "watching the drop folder");
        let _ = drop_tx.try_send(());
        Some(source::drop::watch(&dir, drop_tx.clone())?)
    } else {
        None
    };
    let mut drop_folder = source::drop::DropFolder::default();
    let watchdog = systemd::arm_watchdog();
    systemd::notify("READY=1");
    info!(
        mirrors = config.sync.urls.len(),
        drop_folder = config.drop_folder.enabled,
        push = config.sync.push,
        "blocklistd running"
    );

    // The sync loop.
    let mut stop = stop_rx.clone();
    let mut failures = 0u32;
    let mut next_poll = Instant::now();
    let mut next_drop = Instant::now() + config.drop_folder.rescan_interval;
    loop {
        // Each time round feeds the watchdog (the arm below brings an idle
        // loop round in time); a round that hangs starves it.
        systemd::progressed();
        let polling = syncer.has_mirrors();
        tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => break,
            _ = tokio::time::sleep(watchdog.unwrap_or_default()), if watchdog.is_some() => {}
            _ = tokio::time::sleep_until(next_poll), if polling => {
                failures = http_round(&mut syncer, failures).await;
                next_poll = Instant::now() + http::next_wait(&config.sync, failures);
            }
            Some(()) = push_rx.recv() => {
                failures = http_round(&mut syncer, failures).await;
                next_poll = Instant::now() + http::next_wait(&config.sync, failures);
            }
            Some(()) = drop_rx.recv(), if config.drop_folder.enabled => {
                next_drop = drop_round(&mut syncer, &mut drop_folder, &config).await;
            }
            _ = tokio::time::sleep_until(next_drop), if config.drop_folder.enabled => {
                next_drop = drop_round(&mut syncer, &mut drop_folder, &config).await;
            }
        }
        if *stop.borrow() {
            break;
        }
    }
    systemd::notify("STOPPING=1");
    info!("sync stopped; waiting for the API to drain");
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(())) => {}
            Ok(Err(e)) => error!(error = %e, "task failed"),
            Err(e) => error!(error = %e, "task panicked"),
        }
    }
    info!("stopped");
    Ok(())
}

/// Runs one HTTP round, returning the new count of consecutive failures.
async fn http_round(syncer: &mut Syncer, failures: u32) -> u32 {
    match syncer.http_round().await {
        Ok(_) => 0,
        Err(DaemonError::ShuttingDown) => failures,
        Err(e) if !sync::backs_off(&e) => {
            warn!(error = %e, "sync round failed; checking again at the poll interval");
            0
        }
        Err(e) => {
            warn!(error = %e, failures = failures + 1, "sync round failed on every mirror; backing off");
            failures + 1
        }
    }
}

/// Runs one drop-folder round, returning when to look again.
async fn drop_round(
    syncer: &mut Syncer,
    folder: &mut source::drop::DropFolder,
    config: &Config,
) -> Instant {
    match folder.round(syncer).await {
        Ok(outcome) => Instant::now() + outcome.next_look(&config.drop_folder),
        Err(DaemonError::ShuttingDown) => Instant::now(),
        Err(e) => {
            warn!(error = %e, "drop folder round failed");
            Instant::now() + config.drop_folder.rescan_interval
        }
    }
}

/// Completes when shutdown is requested.
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Lookups reveal what a member checks: an API reachable from other hosts
/// is worth a warning at every start.
fn warn_if_exposed(listener: &TcpListener) {
    if let Ok(address) = listener.local_addr() {
        if !address.ip().is_loopback() {
            warn!(%address, "the API listens on a non-loopback address: other hosts can query it and learn what this member checks; set api.listen to 127.0.0.1 (or a Unix socket) unless a firewall or proxy guards it");
        }
    }
}

/// Binds the API's Unix socket (replacing one left by an earlier run) and
/// sets its mode: connecting needs write permission, which the umask would
/// otherwise withhold from the clients.
fn bind_unix(path: &std::path::Path, mode: u32) -> Result<UnixListener, DaemonError> {
    use std::os::unix::fs::PermissionsExt as _;
    let _ = std::fs::remove_file(path);
    let unix = UnixListener::bind(path).map_err(|source| DaemonError::Listen {
        address: path.display().to_string(),
        source,
    })?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|source| {
        DaemonError::Io {
            action: "set the mode of the API socket",
            path: path.to_owned(),
            source,
        }
    })?;
    Ok(unix)
}

/// Adapts a task returning `()` to the task set's result type.
trait MapOk: Future<Output = ()> + Sized {
    fn map_ok(self) -> impl Future<Output = Result<(), DaemonError>> {
        async move {
            self.await;
            Ok(())
        }
    }
}

impl<F: Future<Output = ()>> MapOk for F {}
