//! Proofs for people: one identifier's history in a self-contained bundle
//! that anyone holding the list's trust root can check offline
//! (docs/FORMAT.md, "Proof bundle"; docs/GOVERNANCE.md, "Proofs for courts
//! and auditors").
//!
//! A [`ProofBundle`] carries the signed files that listed, changed and
//! removed one identifier (whole deltas, with the agencies' submissions and
//! the overrides they carry), the trust roots and agency registries needed
//! to check their signatures, and for each file its RFC 6962 inclusion proof
//! in the transparency log, up to one signed checkpoint. [`verify_bundle`]
//! checks all of it and returns the [`History`] it proves, which prints in
//! plain words.
//!
//! - [`bundle`]: the bundle and its one encoding.
//! - [`check`]: what a reader checks, in order.
//! - [`history`]: what a checked bundle says, as data and as words.

pub mod bundle;
pub mod check;
mod error;
pub mod history;

pub use bundle::{LoggedFile, LoggedRecord, ProofBundle, MAX_PROOF_PATH};
pub use check::verify_bundle;
pub use error::ProofError;
pub use history::{Change, Event, History, Signer};
