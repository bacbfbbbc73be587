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
// The centre's store: rebuilt when missing or disagreeing, rolled forward after a kill, never served; snapshots.
mod centre_state;
// The same directory served by a stock nginx verifies the same (skipped without nginx).
mod nginx;
// The centre's keys in a PKCS#11 token (SoftHSM2; skipped without it): keygen, init, publish, rotate, errors.
mod pkcs11;
// Command-line surface: help examples, key permissions, rotation, refresh, prune, closed stdout.
mod cli;
// Thousands of versions and expired entries: the manifest stays small, replicas catch up and purge.
mod history;
// Large files streamed in bounded memory by serve; verify's cap on what a host sends.
mod serving;
// blocklistd against the real centre: bootstrap, deltas, catch-up, failover, drop folder, push, mirror, faults.
mod daemon;
// The agency registry: `blocklist agency` at the centre, taken, shown and kept by a daemon; forgeries refused.
mod agencies;
// blocklistd's API: freshness on every answer, slow clients, index failures, socket mode, exposed address.
mod daemon_api;
// The drop folder: idle rounds, files judged once, junk and oversized files rejected unread, foreign roots, agencies' submissions.
mod drop_folder;
// The README's walkthrough run verbatim, then the daemon on its folder.
mod readme;
// CENTRE.md's and OPERATIONS.md's walkthroughs run verbatim (ceremony, rotation, revocation, restore), a daemon following.
mod docs_walkthroughs;
// docs/openapi.json against the running daemon: every operation driven, every answer checked.
mod openapi;
// The daemon's log: plain on a file, colour only on a terminal without NO_COLOR, JSON lines.
mod logs;
// The whole chain (centre, HTTP, two daemons, C readers) under faults; writes docs/RELIABILITY.md.
mod chain;
// blocklistd against misbehaving mirrors: random hostile answers, busy push, slow, lagging, restored centre, credentials.
mod hostile_mirror;
// Corporate networks: a forward proxy (key and environment, NO_PROXY), a private CA, client certificates.
mod corporate_network;
// Agencies' signed submissions: registered agencies, ownership enforced at the centre, refusals that apply nothing.
mod submissions;
// A centre forging deltas in an agency's name (no submission, another agency's, a replay, a revoked key, its own override) is refused by the daemon.
mod authorisation;
// An override by two of three override keys removes an agency's listing; the daemon shows it in /v1/history; a replay is refused.
mod overrides;
// Proofs for people: a listing, its update and its removal by override proven by a bundle checked offline; any flipped byte refused.
mod proofs;
// One number listed by two agencies: both listings answered (HTTP all, C the standing one and the count) until the last is removed.
mod several_agencies;
// The upgrade from the release before overrides: its directory and replica taken up; its labels become legacy listings only an override removes.
mod migration;
// The intake service: submissions POSTed and dropped, acknowledged, queued, published on a cadence or at once, across SIGKILL; idle asleep.
mod intake;
// Signed apply receipts: two daemons registered, one posting, one through an outbox a courier carries; shown with their versions and lag; forgeries refused.
mod receipts;
// The transparency log: every listed file recorded; verify and the daemon refuse a fork, a tampered bundle, a feed dropping its log.
mod transparency_log;
// The Debian package installed into a scratch root; unit, package, image and docs agree; the image run (opt-in).
mod packaging;
