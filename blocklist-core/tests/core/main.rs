//! Integration tests of blocklist-core: one binary, one module per stage (the read side's
//! own, normalisation and the index, are in `lookup/tests`).

// Fixtures: a test centre, entries shaped like real reports, deltas and snapshots.
mod support;

// Signed documents: round trips, tampering, version rules, key rotation.
mod documents;
// State commitments: each document format's digest checked as its own, across the change.
mod commitment;
// The SQLite store: atomic applies, refusals that change nothing, SIGKILL trials.
mod store;
// The replica: store and index kept in step, repaired after a crash.
mod replica;
// Snapshots applied as they stream: bad files change nothing, SIGKILL trials.
mod snapshot_stream;
// Conformance vectors (blocklist-core/conformance/): identifiers, matches, signed documents.
mod conformance;
// Transparency log vectors (blocklist-core/conformance/log/): tiles, checkpoints, forks.
mod log_vectors;
// Who asked for each change: deltas in an agency's name without its signed word are refused.
mod authority;
// Overrides: removals a threshold of override keys decides, recorded; stale or unsigned ones refused.
mod overrides;
// Proof bundles: one identifier's history verified offline; gaps, strangers and any changed byte refused.
mod proof;
