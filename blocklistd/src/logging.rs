//! Logging for both binaries: tracing to stderr, as text or as one JSON
//! object per line (`log.format`), filtered by `RUST_LOG` (default `info`).
//! Text is coloured only on a terminal and never with `NO_COLOR` set:
//! journald and log files would keep the escape codes.

use std::io::IsTerminal as _;

use serde::Deserialize;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (`timestamp`, `level`, `fields`, `target`,
    /// and the spans the event happened in), for log shippers.
    Json,
}

/// Installs the global subscriber; call once, first thing in `main`.
///
/// ```no_run
/// blocklistd::logging::init(blocklistd::logging::LogFormat::Json);
/// tracing::info!(version = 7, "applied delta");
/// ```
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let lines = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match format {
        LogFormat::Text => lines.with_ansi(colour()).init(),
        LogFormat::Json => lines.json().with_span_list(true).init(),
    }
}

/// Whether text lines may carry colour codes (<https://no-color.org>: a
/// non-empty `NO_COLOR` turns them off).
fn colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
