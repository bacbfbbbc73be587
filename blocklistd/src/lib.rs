//! blocklistd: the sync daemon banks and telcos run, and the centre's publishing tool.
//!
//! The library holds the logic; the binaries are thin shells that parse
//! arguments, set up logging and call it (the `blocklist` CLI lives in
//! `src/bin/blocklist.rs`, the daemon in `src/bin/blocklistd.rs`).
//!
//! - [`centre`]: the authority's side: keys, ingesting agencies' reports,
//!   publishing signed versions, serving and auditing a publish directory.
//! - [`daemon`]: `blocklistd`, the sync daemon members run: keeps a local
//!   replica current and answers lookups locally.
//! - [`cli_docs`]: shell completions and man pages from the binaries' clap
//!   definitions.
//! - [`logging`]: the binaries' log output (text or JSON, colour only on a
//!   terminal).
//! - [`folder_watch`]: waking on new files in a drop folder, shared by the
//!   daemon's inbox and the centre's intake inbox.
//! - [`prometheus`]: the Prometheus text format, for the daemon's and the
//!   intake service's `/metrics`.
//! - [`serve_dir`]: serving a publish directory over HTTP, shared by the
//!   centre's `serve` and the daemon's mirror mode.
//! - [`witness`]: `blocklist witness`, run by an independent party to check
//!   that the centre's log only grows and to cosign its checkpoints.

pub mod centre;
pub mod cli_docs;
pub mod daemon;
pub mod folder_watch;
pub mod logging;
pub mod prometheus;
pub mod serve_dir;
pub mod signal;
pub mod witness;
