//! Integration tests of blocklist-core: one binary, one module per stage.

// Fixtures: a test centre, entries shaped like real reports, deltas and snapshots.
mod support;

// Raw text of every kind to its canonical form, against real-world data.
mod normalise;
// Signed documents: round trips, tampering, version rules, key rotation.
mod documents;
// The SQLite store: atomic applies, refusals that change nothing, SIGKILL trials.
mod store;
// The lookup index: files, filters, corruption, live reload, incremental updates.
mod index;
// The replica: store and index kept in step, repaired after a crash.
mod replica;
