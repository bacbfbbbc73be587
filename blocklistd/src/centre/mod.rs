//! The centre: the authority's side of blocklist.
//!
//! Turns agencies' reports into signed versions and hosts them:
//!
//! - [`keys`]: a key named on the command line, in a file or a token.
//! - [`keyfile`]: ed25519 key files (`keygen`, permission checks).
//! - [`pkcs11`]: keys in a PKCS#11 token (HSM), named by RFC 7512 URIs.
//! - [`ingest`]: CSV, plain and hosts inputs to normalised entries.
//! - [`acknowledge`]: the centre's signed acknowledgements of submissions, made and checked.
//! - [`intake`]: agencies' signed submissions verified and judged, for
//!   `publish --submission` and the intake service.
//! - [`overrides`]: removals decided by the override keys, made and published.
//! - [`queue`]: the intake service's durable queue of accepted submissions.
//! - [`receipts`]: the replicas registered, their signed receipts checked
//!   and kept, and how far behind each one is.
//! - [`service`]: the intake service: submissions over HTTP and from a drop
//!   folder, acknowledged, queued and published on a cadence.
//! - [`log`]: the transparency log every listed file is recorded in.
//! - [`publish_dir`]: the directory layout, its lock, crash-safe writes.
//! - [`publish`]: `init`, `rotate`, `publish`/`refresh`, `snapshot`, `prune`.
//! - [`registry`]: the agency registry and the `agency` commands that change it.
//! - [`state`]: the current list, kept in a store checked against the directory.
//! - [`chain`]: walking roots, snapshots and deltas, shared by publish and audit.
//! - [`delta_head`]: a published delta's version, time and state, without its operations.
//! - [`submit`]: an agency's signed submission from its reports (run at the agency).
//! - [`source`]: reading published files from a directory or a URL.
//! - [`audit`]: `verify`, an end-to-end check of a published chain.
//! - [`inspect`]: a readable view of any published file.
//! - [`prove`]: one identifier's history as a bundle anyone holding the trust
//!   root checks offline (`prove`, `verify-proof`).
//!
//! The HTTP server for a publish directory is [`crate::serve_dir`], shared
//! with the daemon's mirror mode.

pub mod acknowledge;
pub mod audit;
pub mod chain;
pub mod delta_head;
mod error;
pub mod ingest;
pub mod inspect;
pub mod intake;
pub mod keyfile;
pub mod keys;
pub mod log;
pub mod overrides;
pub mod overview;
pub mod pkcs11;
pub mod prove;
pub mod publish;
pub mod publish_dir;
pub mod queue;
pub mod receipts;
pub mod registry;
pub mod service;
pub mod source;
pub mod state;
pub mod submit;

pub use error::CentreError;
pub use publish_dir::PublishDir;
