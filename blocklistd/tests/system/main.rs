//! System tests of the `blocklist` binary: real processes, real files,
//! loopback HTTP on free ports. One test binary; each module is a scenario.
//!
//! They live in `blocklistd/tests/` (not the workspace's `tests/` crate)
//! because Cargo hands `CARGO_BIN_EXE_blocklist` only to tests of the package
//! that builds the binary, and finding it through the target directory breaks
//! with custom target dirs and cross builds.

// The shared helpers: running the binary, keys, a served directory.
mod support;

// The scenario: keygen, init, three publishes, serve, verify over HTTP, tamper.
mod end_to_end;
// A publish killed at random points leaves a directory that verifies, and the next run succeeds.
mod crash;
// The same directory served by a stock nginx verifies the same (skipped without nginx).
mod nginx;
// Command-line surface: help examples, key permissions, rotation, refresh, prune.
mod cli;
// blocklistd against the real centre: bootstrap, deltas, catch-up, failover, drop folder, push, mirror, faults.
mod daemon;
// The whole chain (centre, HTTP, two daemons, C readers) under faults; writes docs/RELIABILITY.md.
mod chain;
