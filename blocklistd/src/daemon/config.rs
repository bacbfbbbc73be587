//! The daemon's configuration: TOML, unknown keys refused by name, every key
//! defaulted (the defaults are the named constants below, each with its
//! reason), durations in human form (`90s`, `10m`, `1day`) and sizes with
//! units (`1 MiB`). `blocklistd.example.toml` lists every key at its default
//! and a test checks that it parses to exactly [`Config::default`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use blocklist_core::log::{Witness, Witnesses};
use serde::{Deserialize, Deserializer};

use crate::daemon::DaemonError;
use crate::logging::LogFormat;

/// The data folder of the embedded default: next to where the daemon starts,
/// so the README's first command works on a fresh machine without root.
pub const DEFAULT_DATA_DIR: &str = "./blocklistd-data";
/// The API address: loopback only, since lookups reveal what a member is
/// checking; 8477 is unassigned and spells nothing in particular.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8477";
/// The mirror address: loopback until an operator deliberately opens it.
pub const DEFAULT_MIRROR_LISTEN: &str = "127.0.0.1:8478";
/// Poll every minute: a conditional GET of a small manifest is cheap for the
/// centre (a 304 through a CDN), and a minute is the propagation target.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(60);
/// Up to 10 s of random delay per poll, so thousands of daemons restarted
/// together do not poll in lock step.
pub const DEFAULT_POLL_JITTER: Duration = Duration::from_secs(10);
/// First retry after a failed round; doubled per failure.
pub const DEFAULT_BACKOFF_INITIAL: Duration = Duration::from_secs(5);
/// Retries never wait longer than this, so a recovered centre is found within
/// ten minutes.
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(600);
/// A mirror that does not accept a connection within 5 s is treated as down
/// and the next one is tried.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Whole-request limit: generous enough for a 10M-entry snapshot (~200 MB)
/// on a slow link, short enough that a stalled mirror is abandoned.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(600);
/// A source that has not answered the manifest within 20 s (or stalls that
/// long in any download) is passed over for the next: the manifest is a few
/// kilobytes, so a mirror this slow is failing, and waiting for it would hold
/// every update behind it.
pub const DEFAULT_MANIFEST_TIMEOUT: Duration = Duration::from_secs(20);
/// The manifest is read before anything announces its size, so it has a fixed
/// cap: a manifest listing thousands of files is tens of kilobytes.
pub const DEFAULT_MAX_MANIFEST_SIZE: u64 = 1 << 20;
/// How long a push long-poll asks the server to hold the request; under the
/// usual 60 s idle timeout of proxies.
pub const DEFAULT_PUSH_WAIT: Duration = Duration::from_secs(50);
/// A dropped file is read once its size and time have not changed for this
/// long (copies by `cp` or a file manager are not atomic).
pub const DEFAULT_DROP_SETTLE: Duration = Duration::from_secs(1);
/// Rescan the drop folder this often even without a file-system event
/// (network file systems do not deliver events).
pub const DEFAULT_DROP_RESCAN: Duration = Duration::from_secs(30);
/// A dropped file that is not a complete document may still be being written;
/// it is rejected only once it has been unchanged this long.
pub const DEFAULT_DROP_REJECT_INCOMPLETE_AFTER: Duration = Duration::from_secs(300);
/// A feed not confirmed for a day makes answers stale (and the daemon
/// degraded): a day is the slowest cadence expected even for hand-delivered
/// updates.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// Warn a month ahead of the trust root's expiry: time to ship a new root.
pub const DEFAULT_ROOT_EXPIRY_WARNING: Duration = Duration::from_secs(30 * 24 * 3600);
/// A batch of 10,000 identifiers is ~300 KB of JSON: the body limit is set
/// with room for long values.
pub const DEFAULT_MAX_BODY_SIZE: u64 = 4 << 20;
/// Larger batches gain nothing in throughput and hold a worker for longer.
pub const DEFAULT_MAX_BATCH: usize = 10_000;
/// Thailand: the national list's numbers and accounts are Thai.
pub const DEFAULT_REGION: &str = "TH";
/// Requests in flight get this long to finish after a shutdown signal.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// A local client sends a request head in microseconds; 10 s forgives a
/// paused or loaded client while bounding how long a half-sent request (or a
/// kept-alive connection waiting for its next request) holds a connection.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection on which no byte moves for a minute (a body sent slowly, an
/// answer not read) is abandoned: a 4 MiB batch moves in milliseconds.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Each API connection holds a file descriptor: 512 stays well under the
/// common soft limit of 1,024 open files, leaving the rest to syncing (the
/// replica, the index, downloads), so no number of local clients can starve
/// it. Connections past the cap wait in the kernel's accept queue.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// Owner and group may connect: put the API's clients in the daemon's group
/// (lookups reveal what a member checks, so not every local user; 0o666 opens
/// it to all).
pub const DEFAULT_UNIX_SOCKET_MODE: u32 = 0o660;
/// A receipt not delivered is retried after 5 s, then doubling: a centre
/// restarting is back within seconds.
pub const DEFAULT_RECEIPTS_RETRY_INITIAL: Duration = Duration::from_secs(5);
/// Retries of a receipt never wait longer than ten minutes, so a centre
/// back up (or a replica registered meanwhile) hears within ten minutes,
/// and a centre down for a day gets at most a few hundred posts.
pub const DEFAULT_RECEIPTS_RETRY_MAX: Duration = Duration::from_secs(600);
/// Caches may keep the mirrored manifest this long (as the centre's serve).
pub const DEFAULT_MIRROR_MANIFEST_MAX_AGE: Duration = Duration::from_secs(30);

/// The whole configuration.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the replica (`list.db`), the lookup index (`lookup.idx`, mapped
    /// by the C library) and the verified files are kept.
    pub data_dir: PathBuf,
    /// The pinned trust root file (`roots/1-<sha256>.root` from the centre,
    /// obtained out of band). Without it, see `trust_on_first_use`.
    pub trust_root: Option<PathBuf>,
    /// With no `trust_root`: pin the first trust root that arrives in the drop
    /// folder, with a loud warning, and keep it in `<data_dir>/pinned.root`.
    /// Never applies to roots fetched over HTTP.
    pub trust_on_first_use: bool,
    /// Polling the centre (or mirrors) over HTTP.
    pub sync: SyncConfig,
    /// The drop folder for hand-delivered files.
    #[serde(rename = "drop")]
    pub drop_folder: DropConfig,
    /// When the daemon reports itself degraded.
    pub freshness: FreshnessConfig,
    /// The local lookup API.
    pub api: ApiConfig,
    /// Re-serving the verified files to other daemons.
    pub mirror: MirrorConfig,
    /// The log's format.
    pub log: LogConfig,
    /// The witnesses whose cosignatures a log checkpoint needs.
    pub witnesses: WitnessConfig,
    /// Where the signed receipt of each apply goes.
    pub receipts: ReceiptsConfig,
}

/// `[receipts]`: after each apply the daemon signs a receipt (the version,
/// its state, the log checkpoint, when) with its identity key and hands it
/// to the centre, which shows each replica's version and lag. Neither key
/// set: receipts are not made.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReceiptsConfig {
    /// The centre's intake service (`https://centre.example/`): each
    /// receipt is posted to `URL/v1/receipts`, through `[sync]`'s proxy and
    /// TLS settings.
    pub url: Option<String>,
    /// A folder each receipt is written into, as `<replica id>.<list>.receipt`
    /// replacing the one before: a courier carries it into the centre's
    /// intake drop folder.
    pub outbox: Option<PathBuf>,
    /// Wait after the first failed delivery; doubled per failure.
    #[serde(deserialize_with = "duration")]
    pub retry_initial: Duration,
    /// The longest wait between deliveries.
    #[serde(deserialize_with = "duration")]
    pub retry_max: Duration,
}

impl Default for ReceiptsConfig {
    fn default() -> Self {
        ReceiptsConfig {
            url: None,
            outbox: None,
            retry_initial: DEFAULT_RECEIPTS_RETRY_INITIAL,
            retry_max: DEFAULT_RECEIPTS_RETRY_MAX,
        }
    }
}

/// `[witnesses]`: independent parties that check the centre's transparency
/// log only grows and cosign its checkpoints (`blocklist witness`). With
/// `needed` of them required, a checkpoint is taken (and the files it
/// records applied) only once that many cosigned it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WitnessConfig {
    /// Their verifier keys, as `blocklist witness-key` prints them.
    pub keys: Vec<String>,
    /// How many of them must have cosigned (0: none, the default).
    pub needed: usize,
}

impl WitnessConfig {
    /// The witnesses required, if any; why the keys or count are refused.
    pub fn required(&self) -> Result<Option<Witnesses>, String> {
        if self.needed == 0 && self.keys.is_empty() {
            return Ok(None);
        }
        let keys = self
            .keys
            .iter()
            .map(|k| Witness::parse_vkey(k))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("witnesses.keys: {e}"))?;
        Witnesses::new(keys, self.needed)
            .map(Some)
            .map_err(|e| format!("witnesses.needed: {e}"))
    }
}

/// `[log]`: how the daemon logs (to stderr; `RUST_LOG` filters).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` (coloured only on a terminal without `NO_COLOR`) or `json`
    /// (one object per line). Text by default: what an operator reads.
    pub format: LogFormat,
}

/// `[sync]`: HTTP sources.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncConfig {
    /// Base URLs of publish directories (the centre, then mirrors), tried in
    /// order each round. Empty: no HTTP polling.
    pub urls: Vec<String>,
    /// Time between successful rounds.
    #[serde(deserialize_with = "duration")]
    pub poll_interval: Duration,
    /// Up to this much random delay is added to each wait.
    #[serde(deserialize_with = "duration")]
    pub poll_jitter: Duration,
    /// Wait after the first failed round; doubled per consecutive failure.
    #[serde(deserialize_with = "duration")]
    pub backoff_initial: Duration,
    /// The longest wait after failures.
    #[serde(deserialize_with = "duration")]
    pub backoff_max: Duration,
    /// Connection timeout per request.
    #[serde(deserialize_with = "duration")]
    pub connect_timeout: Duration,
    /// Whole-request timeout (body included).
    #[serde(deserialize_with = "duration")]
    pub request_timeout: Duration,
    /// The longest a source may take to answer the manifest (body included)
    /// before the next source is tried, and the longest pause allowed inside
    /// any download.
    #[serde(deserialize_with = "duration")]
    pub manifest_timeout: Duration,
    /// The most bytes read for a manifest (other files are capped at the size
    /// the signed manifest announces).
    #[serde(deserialize_with = "size")]
    pub max_manifest_size: u64,
    /// Hold a long-poll to the first reachable URL so a new version is
    /// fetched within about a second (needs `blocklist serve` or a mirror
    /// daemon; other servers are detected and polling continues).
    pub push: bool,
    /// How long each push request asks the server to wait for a change.
    #[serde(deserialize_with = "duration")]
    pub push_wait: Duration,
    /// The forward proxy every source is reached through
    /// (`http://proxy.corp:3128`, credentials as `user:password@`). Unset:
    /// the environment's `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`.
    pub proxy: Option<String>,
    /// Hosts, domains (with their subdomains) and IP ranges (CIDR) reached
    /// directly, not through the proxy. Unset: the environment's `NO_PROXY`.
    pub no_proxy: Option<Vec<String>>,
    /// A PEM bundle of CA certificates trusted for `https://` sources,
    /// besides the system's roots.
    pub ca_file: Option<PathBuf>,
    /// Trust `ca_file` alone, not the system's roots.
    pub ca_only: bool,
    /// A client certificate (PEM, then its chain) presented to sources that
    /// require mutual TLS; needs `client_key`.
    pub client_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM), not readable by others.
    pub client_key: Option<PathBuf>,
}

/// `[drop]`: the drop folder.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DropConfig {
    /// Watch a drop folder.
    pub enabled: bool,
    /// The folder; default `<data_dir>/inbox`.
    pub folder: Option<PathBuf>,
    /// A file is read once unchanged for this long.
    #[serde(deserialize_with = "duration")]
    pub settle: Duration,
    /// Rescan without an event this often.
    #[serde(deserialize_with = "duration")]
    pub rescan_interval: Duration,
    /// A file shorter than its header announces (still being copied?) is
    /// rejected once unchanged this long; other junk is rejected at once.
    #[serde(deserialize_with = "duration")]
    pub reject_incomplete_after: Duration,
}

/// `[freshness]`: when answers turn stale and the daemon degraded.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FreshnessConfig {
    /// Answers are fresh for this long after a signed manifest announcing
    /// the version held was confirmed (at most until that manifest expires).
    #[serde(deserialize_with = "duration")]
    pub max_age: Duration,
    /// Warn this long before the trust root expires.
    #[serde(deserialize_with = "duration")]
    pub root_expiry_warning: Duration,
}

/// `[api]`: the lookup API.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// TCP address (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Also serve the API on this Unix socket.
    pub unix_socket: Option<PathBuf>,
    /// The Unix socket's permission bits (connecting needs write permission).
    pub unix_socket_mode: u32,
    /// Largest request body.
    #[serde(deserialize_with = "size")]
    pub max_body_size: u64,
    /// Most identifiers in one batch.
    pub max_batch: usize,
    /// Region for national numbers and accounts (ISO 3166 alpha-2).
    pub default_region: String,
    /// Time requests in flight get after a shutdown signal.
    #[serde(deserialize_with = "duration")]
    pub shutdown_grace: Duration,
    /// The longest a client may take to send a request head, counted from
    /// when the connection is ready for one (so it also closes kept-alive
    /// connections idle this long).
    #[serde(deserialize_with = "duration")]
    pub header_read_timeout: Duration,
    /// A connection on which no byte moves for this long is closed.
    #[serde(deserialize_with = "duration")]
    pub idle_timeout: Duration,
    /// The most API connections open at once (TCP and Unix socket together).
    pub max_connections: usize,
}

/// `[mirror]`: re-serving verified files.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MirrorConfig {
    /// Keep every file the manifest lists and serve them.
    pub enabled: bool,
    /// Where to serve them.
    pub listen: SocketAddr,
    /// `Cache-Control: max-age` of the mirrored manifest.
    #[serde(deserialize_with = "duration")]
    pub manifest_max_age: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            trust_root: None,
            trust_on_first_use: true,
            sync: SyncConfig::default(),
            drop_folder: DropConfig::default(),
            freshness: FreshnessConfig::default(),
            api: ApiConfig::default(),
            mirror: MirrorConfig::default(),
            log: LogConfig::default(),
            witnesses: WitnessConfig::default(),
            receipts: ReceiptsConfig::default(),
        }
    }
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            urls: Vec::new(),
            poll_interval: DEFAULT_POLL_INTERVAL,
            poll_jitter: DEFAULT_POLL_JITTER,
            backoff_initial: DEFAULT_BACKOFF_INITIAL,
            backoff_max: DEFAULT_BACKOFF_MAX,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            manifest_timeout: DEFAULT_MANIFEST_TIMEOUT,
            max_manifest_size: DEFAULT_MAX_MANIFEST_SIZE,
            push: false,
            push_wait: DEFAULT_PUSH_WAIT,
            proxy: None,
            no_proxy: None,
            ca_file: None,
            ca_only: false,
            client_cert: None,
            client_key: None,
        }
    }
}

impl Default for DropConfig {
    fn default() -> Self {
        DropConfig {
            enabled: true,
            folder: None,
            settle: DEFAULT_DROP_SETTLE,
            rescan_interval: DEFAULT_DROP_RESCAN,
            reject_incomplete_after: DEFAULT_DROP_REJECT_INCOMPLETE_AFTER,
        }
    }
}

impl Default for FreshnessConfig {
    fn default() -> Self {
        FreshnessConfig {
            max_age: DEFAULT_MAX_AGE,
            root_expiry_warning: DEFAULT_ROOT_EXPIRY_WARNING,
        }
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen: DEFAULT_LISTEN.parse().expect("valid default address"),
            unix_socket: None,
            unix_socket_mode: DEFAULT_UNIX_SOCKET_MODE,
            max_body_size: DEFAULT_MAX_BODY_SIZE,
            max_batch: DEFAULT_MAX_BATCH,
            default_region: DEFAULT_REGION.to_owned(),
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

impl Default for MirrorConfig {
    fn default() -> Self {
        MirrorConfig {
            enabled: false,
            listen: DEFAULT_MIRROR_LISTEN
                .parse()
                .expect("valid default address"),
            manifest_max_age: DEFAULT_MIRROR_MANIFEST_MAX_AGE,
        }
    }
}

/// The committed example: every key at its default, with comments.
pub const EXAMPLE: &str = include_str!("../../blocklistd.example.toml");

impl Config {
    /// Parses TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, DaemonError> {
        let config: Config = toml::from_str(text).map_err(|e| DaemonError::Config {
            origin: origin.to_owned(),
            reason: e.to_string(),
        })?;
        config.check(origin)?;
        Ok(config)
    }

    /// Reads and parses a config file.
    pub fn load(path: &Path) -> Result<Config, DaemonError> {
        let text = std::fs::read_to_string(path).map_err(|source| DaemonError::Io {
            action: "read config",
            path: path.to_owned(),
            source,
        })?;
        Config::parse(&text, &path.display().to_string())
    }

    /// The drop folder in use.
    pub fn drop_dir(&self) -> PathBuf {
        self.drop_folder
            .folder
            .clone()
            .unwrap_or_else(|| self.data_dir.join("inbox"))
    }

    fn check(&self, origin: &str) -> Result<(), DaemonError> {
        let bad = |reason: String| DaemonError::Config {
            origin: origin.to_owned(),
            reason,
        };
        self.witnesses.required().map_err(&bad)?;
        for url in &self.sync.urls {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(bad(format!(
                    "sync.urls: {url:?} is not an http:// or https:// URL"
                )));
            }
        }
        if let Some(url) = &self.receipts.url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(bad(format!(
                    "receipts.url: {url:?} is not an http:// or https:// URL"
                )));
            }
        }
        if self.receipts.retry_initial.is_zero()
            || self.receipts.retry_max < self.receipts.retry_initial
        {
            return Err(bad(
                "receipts.retry_initial must be more than 0 and at most receipts.retry_max".into(),
            ));
        }
        if self.sync.poll_interval.is_zero() {
            return Err(bad("sync.poll_interval must be more than 0".into()));
        }
        if self.sync.backoff_initial.is_zero() || self.sync.backoff_max < self.sync.backoff_initial
        {
            return Err(bad(
                "sync.backoff_initial must be more than 0 and at most sync.backoff_max".into(),
            ));
        }
        if self.api.max_batch == 0 {
            return Err(bad("api.max_batch must be at least 1".into()));
        }
        if self.api.max_connections == 0 {
            return Err(bad("api.max_connections must be at least 1".into()));
        }
        if self.api.header_read_timeout.is_zero() || self.api.idle_timeout.is_zero() {
            return Err(bad(
                "api.header_read_timeout and api.idle_timeout must be more than 0".into(),
            ));
        }
        if self.api.unix_socket_mode > 0o777 {
            return Err(bad(format!(
                "api.unix_socket_mode {} is not a permission mode: write it in octal, e.g. 0o660",
                self.api.unix_socket_mode
            )));
        }
        if self.mirror.enabled && self.sync.urls.is_empty() && !self.drop_folder.enabled {
            return Err(bad("mirror.enabled needs a source".into()));
        }
        Ok(())
    }
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map_err(|e| {
        serde::de::Error::custom(format!(
            "{text:?} is not a duration ({e}); write e.g. \"90s\", \"10m\", \"1day\""
        ))
    })
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SizeText {
    Bytes(u64),
    Text(String),
}

fn size<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match SizeText::deserialize(d)? {
        SizeText::Bytes(n) => Ok(n),
        SizeText::Text(text) => parse_size(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{text:?} is not a size; write e.g. \"512 KiB\", \"1 MiB\" or a number of bytes"
            ))
        }),
    }
}

/// `"1 MiB"`, `"512KiB"`, `"2 MB"`, `"100"` (bytes) to bytes.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses_to_the_defaults() {
        assert_eq!(
            Config::parse(EXAMPLE, "example").unwrap(),
            Config::default()
        );
    }

    #[test]
    fn empty_config_is_the_default() {
        assert_eq!(Config::parse("", "empty").unwrap(), Config::default());
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let err = Config::parse("[sync]\npoll_intervall = \"5s\"\n", "t").unwrap_err();
        assert!(err.to_string().contains("poll_intervall"), "{err}");
        let err = Config::parse("colour = 1\n", "t").unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
    }

    #[test]
    fn durations_and_sizes_are_human_readable() {
        let config = Config::parse(
            "[sync]\npoll_interval = \"2m 30s\"\nmax_manifest_size = \"64 KiB\"\n[api]\nmax_body_size = 1000\n",
            "t",
        )
        .unwrap();
        assert_eq!(config.sync.poll_interval, Duration::from_secs(150));
        assert_eq!(config.sync.max_manifest_size, 65536);
        assert_eq!(config.api.max_body_size, 1000);
        assert!(Config::parse("[sync]\npoll_interval = \"soon\"\n", "t").is_err());
        assert_eq!(parse_size("2 MB"), Some(2_000_000));
        assert_eq!(parse_size("1 furlong"), None);
    }

    #[test]
    fn a_unix_socket_mode_written_in_decimal_is_refused_with_a_hint() {
        let config = Config::parse("[api]\nunix_socket_mode = 0o666\n", "t").unwrap();
        assert_eq!(config.api.unix_socket_mode, 0o666);
        let err = Config::parse("[api]\nunix_socket_mode = 660\n", "t").unwrap_err();
        assert!(err.to_string().contains("0o660"), "{err}");
    }

    #[test]
    fn non_http_urls_are_refused() {
        let err = Config::parse("[sync]\nurls = [\"ftp://x\"]\n", "t").unwrap_err();
        assert!(err.to_string().contains("ftp://x"), "{err}");
    }
}
