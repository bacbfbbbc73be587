//! `blocklist`: the centre's command line. Parses arguments, sets up logging
//! and calls the library (`blocklistd::centre`); all logic lives there.

use std::fmt;
use std::io::{self, Write as _};
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use blocklist_core::atomic_file;
use blocklist_core::document::{ListId, RemovalReason};
use blocklist_core::log::{SignedCheckpoint, Witness, Witnesses};
use blocklist_core::proof::verify_bundle;
use blocklist_core::{Agency, Identifier, Kind, Reason, Rules, Timestamp};
use blocklistd::centre::ingest::{CsvColumns, Defaults, Expiry, Format, ReadContext};
use blocklistd::centre::intake::{PublishedBy, SubmissionInput};
use blocklistd::centre::keys::{KeyName, Keyring};
use blocklistd::centre::log as centre_log;
use blocklistd::centre::overrides::{self, Decision, OverrideInput, UpdateTo};
use blocklistd::centre::pkcs11::{Pkcs11Error, Tokens};
use blocklistd::centre::publish::{
    self, History, InitOptions, PublishOptions, PublishReport, RotateOptions, SnapshotOptions,
};
use blocklistd::centre::registry::{self, AgencyChange};
use blocklistd::centre::service;
use blocklistd::centre::source;
use blocklistd::centre::submit::{self, SubmitOptions};
use blocklistd::centre::{acknowledge, audit, inspect, prove, receipts, CentreError, PublishDir};
use blocklistd::cli_docs;
use blocklistd::serve_dir as serve;
use blocklistd::witness;
use clap::{Args, CommandFactory as _, Parser, Subcommand};

/// The centre's publishing tool: keys, trust roots, signed versions of the
/// blocklist, and serving and auditing them.
#[derive(Parser, Debug)]
#[command(name = "blocklist", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The PKCS#11 module (shared library) for keys named by a pkcs11: URI
    /// without module-path (default: $BLOCKLIST_PKCS11_MODULE).
    #[arg(long, global = true, value_name = "PATH")]
    pkcs11_module: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Generate an ed25519 key pair: PREFIX.key (secret, mode 0600) and PREFIX.pub,
    /// or a key in a PKCS#11 token (never extractable) and its public file.
    #[command(
        after_help = "Examples:\n  blocklist keygen keys/root-a\n  blocklist keygen keys/publish\n  blocklist keygen --pkcs11-module /usr/lib/softhsm/libsofthsm2.so \\\n    'pkcs11:token=centre;object=publish-1?pin-source=file:/etc/blocklist/pin' --public keys/publish-1.pub\n\nA token key's PIN comes from the URI's pin-source file or $BLOCKLIST_PKCS11_PIN, never the command line."
    )]
    Keygen {
        /// Path prefix of the two files (neither may exist), or a pkcs11: URI
        /// whose object= labels the new key (no object of that label may exist).
        #[arg(value_parser = KeyNameParser)]
        name: KeyName,
        /// For a token key: the public key file to write (default: OBJECT.pub).
        #[arg(long, value_name = "FILE")]
        public: Option<PathBuf>,
    },
    /// Create a publish directory with a first trust root signed by its root keys.
    #[command(
        after_help = "Example:\n  blocklist init /srv/blocklist --list th-national \\\n    --root-key keys/root-a.key --root-key keys/root-b.key --root-threshold 2 \\\n    --publish-key keys/publish.pub"
    )]
    Init(InitArgs),
    /// Write the next trust root: add, remove (revoke) keys or change thresholds.
    #[command(
        after_help = "Example (replace publish key P1 by P2, signed by 2 of 2 root keys):\n  blocklist rotate /srv/blocklist --sign-with keys/root-a.key --sign-with keys/root-b.key \\\n    --add-publish-key keys/p2.pub --remove-publish-key keys/p1.pub\n\nThe next publish or refresh lists the new root in the manifest."
    )]
    Rotate(RotateArgs),
    /// Register agencies, give them keys, revoke them: each change writes the
    /// next agency registry, signed by root keys.
    #[command(
        subcommand,
        after_help = "Examples:\n  blocklist agency add /srv/blocklist --id bank-004 --name 'Bank 004 fraud team' \\\n    --kinds account --key agencies/bank-004.pub --sign-with keys/root-a.key\n  blocklist agency revoke /srv/blocklist --id bank-004 --key agencies/bank-004.pub \\\n    --sign-with keys/root-a.key\n  blocklist agency list /srv/blocklist\n\nThe next publish or refresh lists the new registry in the manifest."
    )]
    Agency(AgencyCommand),
    /// Publish the next version from input files (CSV, plain lists, hosts, adblock or dnsmasq files).
    #[command(
        after_help = "Examples:\n  blocklist publish /srv/blocklist --key keys/publish.key reports/2024-05-01.csv\n  blocklist publish /srv/blocklist --key keys/publish.key --kind domain --agency th-aoc \\\n    --reason phishing --expires 90d scam.hosts --remove delisted.txt\n\nCSV columns: kind,value,reason,agency,expires (header required; only value is mandatory;\n',' ';' or tab; --columns value=msisdn maps other names, --ignore-column skips one).\nDomains also from hosts (0.0.0.0 name), adblock (||name^) and dnsmasq (server=/name/) files.\nInvalid lines are listed with file:line and refuse the publish unless --skip-invalid."
    )]
    Publish(PublishArgs),
    /// Write an agency's signed submission (adds, updates, removals) for the centre, from the
    /// formats `publish` reads.
    #[command(
        after_help = "Examples (run at the agency):\n  blocklist submit --list th-national --agency th-aoc --key keys/th-aoc.key \\\n    --kind number --reason scam_call --expires 90d numbers.txt -o 2026-12-05.submission\n  blocklist submit --list th-national --agency th-aoc --key keys/th-aoc.key \\\n    --kind number --remove cleared.txt --why cleared -o cleared.submission\n\nThe centre verifies the signature against its agency registry and applies the file whole or not at all:\n  blocklist publish /srv/blocklist --key keys/publish.key --submission 2026-12-05.submission\nInvalid lines are listed with file:line and refuse the submission.\nWith --send URL the file is also posted to the centre's intake service and its signed\nacknowledgement written (NAME.ack, or --ack FILE)."
    )]
    Submit(SubmitArgs),
    /// Write an override: the removal of listings over their agencies' heads,
    /// or their update to another reason or expiry, signed by a threshold of
    /// the trust root's override keys.
    #[command(
        after_help = "Examples (two of the appeal board's keys; see docs/GOVERNANCE.md):\n  blocklist override /srv/blocklist --kind number +66812345678 --why appeal_upheld \\\n    --note 'Appeal 2026/114 upheld' --sign-with board/judge-a.key --sign-with board/judge-b.key \\\n    -o appeal-2026-114.override\n  blocklist override /srv/blocklist --kind number +66812345679 --agency th-aoc --set-expires 30d \\\n    --set-reason fraud --why appeal_upheld --note 'Court order 2026/31: term shortened' \\\n    --sign-with board/judge-a.key --sign-with board/judge-b.key -o order-2026-31.override\n  blocklist publish /srv/blocklist --key keys/publish.key --override appeal-2026-114.override\n\nEach listing is named as the list holds it now (agency, listing time): once published,\nevery daemon checks the signatures and shows the override in /v1/history. An update\nkeeps the listing its agency's, with its listing time; what it does not set is kept as the\nlist holds it now. An update needs --agency; it names the entry it replaces, so if the agency\nchanges its listing before the publish, the publish is refused: make a new override."
    )]
    Override(OverrideArgs),
    /// Re-sign the manifest with a fresh expiry, so clients can tell "no news" from "frozen".
    #[command(
        after_help = "Example (from cron, hourly):\n  blocklist refresh /srv/blocklist --key keys/publish.key --manifest-lifetime 3d"
    )]
    Refresh(RefreshArgs),
    /// Write a snapshot of the current version from the centre's state and list it.
    #[command(
        after_help = "Example (from a timer, every 15 minutes):\n  blocklist snapshot /srv/blocklist --key keys/publish.key\n\nPublishes never wait for it: the directory's lock is held only to check the state and to list the file.\nDoes nothing when the current version has a snapshot already."
    )]
    Snapshot(SnapshotArgs),
    /// Drop deltas (and older snapshots) that a snapshot at least KEEP versions old covers.
    #[command(
        after_help = "Example:\n  blocklist prune /srv/blocklist --key keys/publish.key --keep 100"
    )]
    Prune(PruneArgs),
    /// Take back into a publish directory restored from a backup the
    /// transparency log its replicas saw, before publishing again.
    #[command(
        after_help = "Examples (after restoring the directory, before any publish):\n  blocklist restore-log /srv/blocklist --from https://mirror.example.org/th-national/\n  blocklist restore-log /srv/blocklist --from member-data/log.db\n\n--from is a mirror or CDN still serving the lost log (a URL or a folder), or a replica's log.db\n(every daemon keeps every record it verified). The log given must begin with this directory's\nand be signed by its publish keys. Without it, replicas refuse the restored centre's next\npublish as a fork of the history they saw."
    )]
    RestoreLog {
        /// The restored publish directory.
        dir: PathBuf,
        /// Where the lost log is: an http(s) URL or a folder serving `log/`, or a replica's log.db.
        #[arg(long)]
        from: String,
    },
    /// Witness a list's transparency log: check that it extends the one
    /// cosigned before, then cosign its checkpoint (run by a party independent
    /// of the centre, from a timer).
    #[command(
        after_help = "Example (from a timer, every minute):\n  blocklist witness https://blocklist.example.org/th-national/ --name witness.bot.or.th \\\n    --key keys/witness.key --root th-national-root-1.root --state /var/lib/blocklist-witness \\\n    --out outbox/witness.bot.or.th.checkpoint\n\nThe log is read from a publish directory or URL. A checkpoint that does not extend the one\nthis witness cosigned before (a fork, a log that shrank) is refused, exit code 1, and nothing\nis cosigned. --out gets the checkpoint with this witness's cosignature; the centre adds it with\n`blocklist cosign`. Replicas name the witness by the line `blocklist witness-key` prints."
    )]
    Witness {
        /// The publish directory, or an http(s) URL of it or of a mirror.
        target: String,
        /// The witness's name in its cosignature lines (no spaces), e.g. its domain.
        #[arg(long)]
        name: String,
        /// The witness's secret key file or pkcs11: URI.
        #[arg(long, value_parser = KeyNameParser)]
        key: KeyName,
        /// The list's first trust root, obtained out of band (read on the first run only).
        #[arg(long)]
        root: PathBuf,
        /// The witness's own folder: the log it verified and the trust root it follows.
        #[arg(long)]
        state: PathBuf,
        /// Where to write the cosigned checkpoint.
        #[arg(long)]
        out: PathBuf,
    },
    /// Print a witness's verifier key, the line a replica's [witnesses] keys take.
    #[command(
        after_help = "Example:\n  blocklist witness-key --name witness.bot.or.th --key keys/witness.pub"
    )]
    WitnessKey {
        /// The witness's name, as it cosigns.
        #[arg(long)]
        name: String,
        /// The witness's public key file (or its secret key, or a pkcs11: URI).
        #[arg(long, value_parser = KeyNameParser)]
        key: KeyName,
    },
    /// Add witnesses' cosignatures (files from `blocklist witness`) to a publish
    /// directory's log/checkpoint.
    #[command(
        after_help = "Example:\n  blocklist cosign /srv/blocklist inbox/witness.bot.or.th.checkpoint\n\nEach file must be a copy of the current checkpoint: one of an older checkpoint (the centre\npublished since) is refused, and the witness cosigns the new one on its next run."
    )]
    Cosign {
        /// The publish directory.
        dir: PathBuf,
        /// Cosigned checkpoints, as `blocklist witness --out` writes them.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Register the replicas (daemons) whose signed receipts the intake
    /// service takes, by their identity keys; list or remove them.
    #[command(
        subcommand,
        after_help = "Examples:\n  blocklistd --config /etc/blocklistd/blocklistd.toml --print-identity   # at the member\n  blocklist replicas add /srv/blocklist --name bank-004-dc1 --key 3f9a…c2 \n  blocklist replicas list /srv/blocklist\n  blocklist replicas remove /srv/blocklist --name bank-004-dc1\n\nThe key is the \"public key\" line `blocklistd --print-identity` prints (64 hex digits; not the replica id), or its identity.pub file.\nThe intake service reads the registrations at each receipt: no restart needed."
    )]
    Replicas(ReplicasCommand),
    /// Show each registered replica's newest receipt: the version it serves,
    /// when it applied it, and how far behind it is (the laggards first).
    #[command(
        after_help = "Examples:\n  blocklist receipts /srv/blocklist\n  blocklist receipts /srv/blocklist --json\n\nLag: versions behind the newest published, and how long ago the first version it lacks was\npublished. Receipts reach the centre over POST /v1/receipts or through the intake drop folder."
    )]
    Receipts {
        /// The publish directory.
        dir: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Serve a publish directory over HTTP (127.0.0.1 by default), and with
    /// --intake take agencies' submissions and overrides and publish them.
    #[command(
        after_help = "Examples:\n  blocklist serve /srv/blocklist --listen 127.0.0.1:8080\n  blocklist serve /srv/blocklist --intake --key keys/publish.key --publish-every 60s \\\n    --intake-drop /srv/intake-inbox\n\nPrints \"listening on http://ADDR\" on stdout once bound (port 0 picks a free port).\nThe directory is plain static files: nginx, an object store or a CDN can serve it as well.\nWith --intake: POST /v1/submissions (the body: a file from `blocklist submit`) answers 202\nwith the signed acknowledgement; GET /v1/submissions/ID says which version carried it.\nPOST /v1/overrides (a file from `blocklist override`) publishes it at once; GET\n/v1/overrides/ID likewise.\nTLS belongs to a reverse proxy in front (docs/CENTRE.md, \"Intake service\")."
    )]
    #[command(mut_arg("keys", |key| key.required(false).requires("intake")))]
    Serve(ServeArgs),
    /// Audit a publish directory or URL end to end: signatures, digests, root chain, replay.
    #[command(
        after_help = "Examples:\n  blocklist verify /srv/blocklist --root th-national-root-1.root\n  blocklist verify https://blocklist.example.org/th-national/ --root th-national-root-1.root"
    )]
    Verify {
        /// A publish directory, or an http(s) URL of one.
        target: String,
        /// The trust root to pin (obtained out of band). Without it the first
        /// published root is trusted as found, with a warning.
        #[arg(long)]
        root: Option<PathBuf>,
        /// A log checkpoint kept earlier (a replica's, from its /v1/status, or a
        /// witness's): the published log must extend it, or this is a fork.
        #[arg(long, value_name = "CHECKPOINT")]
        log_since: Option<PathBuf>,
    },
    /// Write the proof bundle of one identifier's history: the signed deltas that listed,
    /// changed and removed it, with its agencies' submissions and any override, each with
    /// its inclusion proof in the transparency log, and the checkpoint.
    #[command(
        after_help = "Examples:\n  blocklist prove /srv/blocklist domain shop.example --output shop.example.proof\n  blocklist prove /srv/blocklist number 0812345678 --at 2026-12-01T00:00:00Z -o number.proof\n\nAnyone holding the trust root checks the bundle offline: blocklist verify-proof BUNDLE --root ROOT."
    )]
    Prove {
        /// The publish directory.
        dir: PathBuf,
        /// account, number or domain.
        kind: Kind,
        /// The identifier (normalised as publish reads it).
        value: String,
        /// The history up to this version, or up to the newest version published at or
        /// before this RFC 3339 time (default: the newest version).
        #[arg(long, value_name = "VERSION|TIME")]
        at: Option<prove::At>,
        /// The region national numbers and accounts are read for.
        #[arg(long, default_value = "TH")]
        region: String,
        /// The bundle file to write.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Check a proof bundle offline against a trust root, and print the history it proves.
    #[command(
        after_help = "Examples:\n  blocklist verify-proof shop.example.proof --root th-national-root-1.root\n  blocklist verify-proof shop.example.proof --root th-national-root-1.root --json\n\nExits non-zero, naming what fails, unless every signature, authorisation and inclusion proof\nin the bundle checks out."
    )]
    VerifyProof {
        /// The bundle (from blocklist prove).
        bundle: PathBuf,
        /// The trust root (obtained out of band); the bundle carries the roots after it.
        #[arg(long)]
        root: PathBuf,
        /// A witness whose cosignature the bundle's checkpoint must carry (repeat; its
        /// verifier key, as `blocklist witness-key` prints it).
        #[arg(long = "witness", value_name = "VKEY", value_parser = parse_witness)]
        witnesses: Vec<Witness>,
        /// Print JSON instead of words.
        #[arg(long)]
        json: bool,
    },
    /// Check the centre's acknowledgement of a submission offline, against the trust root.
    #[command(
        after_help = "Examples (run at the agency):\n  blocklist verify-ack 2026-12-05.ack --root th-national-root-1.root\n  blocklist verify-ack 2026-12-05.ack --root th-national-root-1.root --root th-national-root-2.root \\\n    --submission 2026-12-05.submission\n\nThe acknowledgement is signed by the publish keys of the newest root given: give the chain\nfrom the root you pinned to the one in force when it was made."
    )]
    VerifyAck {
        /// The acknowledgement file (the body of the 202 answer, or NAME.ack of the inbox).
        ack: PathBuf,
        /// The trust root, then each later root in turn (repeat the option).
        #[arg(long, required = true)]
        root: Vec<PathBuf>,
        /// The submission file, to check the acknowledgement is of exactly these bytes.
        #[arg(long)]
        submission: Option<PathBuf>,
    },
    /// Show a root, manifest, delta, snapshot, agency registry, submission or
    /// acknowledgement file.
    #[command(
        after_help = "Examples:\n  blocklist inspect /srv/blocklist/manifest\n  blocklist inspect --json --first 5 /srv/blocklist/deltas/42-ab…ef.delta"
    )]
    Inspect {
        /// The file.
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// How many entries or operations to list.
        #[arg(long, default_value_t = 10)]
        first: usize,
    },
    /// Print the shell completion script for blocklist.
    #[command(
        after_help = "Examples:\n  blocklist completions bash > /usr/share/bash-completion/completions/blocklist\n  blocklist completions zsh > ~/.zfunc/_blocklist"
    )]
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: cli_docs::Shell,
    },
    /// Write the man pages of blocklist and its subcommands (section 1) into a folder.
    #[command(after_help = "Example:\n  blocklist man /usr/share/man/man1")]
    Man {
        /// The folder (created if missing).
        dir: PathBuf,
    },
}

#[derive(Args, Debug)]
struct InitArgs {
    /// The publish directory to create.
    dir: PathBuf,
    /// The list's name (a-z 0-9 . _ -).
    #[arg(long)]
    list: String,
    /// A root key's secret file or pkcs11: URI (repeat; all of them sign the first root).
    #[arg(long = "root-key", required = true, value_parser = KeyNameParser)]
    root_keys: Vec<KeyName>,
    /// How many root keys must sign the next root.
    #[arg(long, default_value_t = 1)]
    root_threshold: u8,
    /// A publish key's public (or secret) file or pkcs11: URI (repeat).
    #[arg(long = "publish-key", required = true, value_parser = KeyNameParser)]
    publish_keys: Vec<KeyName>,
    /// How many publish keys must sign each document.
    #[arg(long, default_value_t = 1)]
    publish_threshold: u8,
    /// An override key's public (or secret) file or pkcs11: URI (repeat):
    /// its holders together may remove any agency's listing (docs/GOVERNANCE.md).
    #[arg(long = "override-key", value_parser = KeyNameParser)]
    override_keys: Vec<KeyName>,
    /// How many override keys must sign an override.
    #[arg(long, default_value_t = 1)]
    override_threshold: u8,
    /// How long until clients warn that the root is due for rotation.
    #[arg(long, default_value = "365d", value_parser = humantime::parse_duration)]
    root_lifetime: Duration,
}

#[derive(Args, Debug)]
struct RotateArgs {
    /// The publish directory.
    dir: PathBuf,
    /// A root key's secret file or pkcs11: URI that signs the new root
    /// (repeat): a threshold of the current root keys and of the new ones.
    #[arg(long = "sign-with", required = true, value_parser = KeyNameParser)]
    signers: Vec<KeyName>,
    /// A root key to add (public or secret file, or pkcs11: URI).
    #[arg(long = "add-root-key", value_parser = KeyNameParser)]
    add_root_keys: Vec<KeyName>,
    /// A root key to remove (revoke).
    #[arg(long = "remove-root-key", value_parser = KeyNameParser)]
    remove_root_keys: Vec<KeyName>,
    /// A new root threshold.
    #[arg(long)]
    root_threshold: Option<u8>,
    /// A publish key to add.
    #[arg(long = "add-publish-key", value_parser = KeyNameParser)]
    add_publish_keys: Vec<KeyName>,
    /// A publish key to remove (revoke).
    #[arg(long = "remove-publish-key", value_parser = KeyNameParser)]
    remove_publish_keys: Vec<KeyName>,
    /// A new publish threshold.
    #[arg(long)]
    publish_threshold: Option<u8>,
    /// An override key to add.
    #[arg(long = "add-override-key", value_parser = KeyNameParser)]
    add_override_keys: Vec<KeyName>,
    /// An override key to remove (revoke).
    #[arg(long = "remove-override-key", value_parser = KeyNameParser)]
    remove_override_keys: Vec<KeyName>,
    /// A new override threshold (a first override key set defaults to 1).
    #[arg(long)]
    override_threshold: Option<u8>,
    /// The new root's lifetime.
    #[arg(long, default_value = "365d", value_parser = humantime::parse_duration)]
    root_lifetime: Duration,
}

#[derive(Subcommand, Debug)]
enum AgencyCommand {
    /// Register an agency: its id, name, the kinds it may list and its keys.
    #[command(
        after_help = "Example:\n  blocklist agency add /srv/blocklist --id th-aoc --name 'Anti-Online Scam Operations Centre' \\\n    --kinds number,domain --key agencies/th-aoc-1.pub --sign-with keys/root-a.key --sign-with keys/root-b.key"
    )]
    Add {
        /// The publish directory.
        dir: PathBuf,
        /// The agency's id, as listings carry it (1 to 31 of A-Z a-z 0-9 . _ -); never reused.
        #[arg(long)]
        id: String,
        /// Its display name (1 to 128 bytes, no control character).
        #[arg(long)]
        name: String,
        /// The kinds it may list (account, number, domain), comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        kinds: Vec<Kind>,
        /// A public key of the agency (a .pub file; repeat).
        #[arg(long = "key", required = true, value_parser = KeyNameParser)]
        keys: Vec<KeyName>,
        #[command(flatten)]
        signing: RootSigningArgs,
    },
    /// Give a registered agency more keys.
    #[command(
        after_help = "Example:\n  blocklist agency add-key /srv/blocklist --id th-aoc --key agencies/th-aoc-2.pub --sign-with keys/root-a.key"
    )]
    AddKey {
        /// The publish directory.
        dir: PathBuf,
        /// The agency's id.
        #[arg(long)]
        id: String,
        /// A public key to add (repeat).
        #[arg(long = "key", required = true, value_parser = KeyNameParser)]
        keys: Vec<KeyName>,
        #[command(flatten)]
        signing: RootSigningArgs,
    },
    /// Revoke an agency, or one of its keys, from a time on (permanent).
    #[command(
        after_help = "Examples:\n  blocklist agency revoke /srv/blocklist --id bank-004 --sign-with keys/root-a.key\n  blocklist agency revoke /srv/blocklist --id th-aoc --key agencies/th-aoc-1.pub --at 2h --sign-with keys/root-a.key\n\nA use at or after the revocation time is refused, one before it allowed. The time is never\nbefore the new registry's (a revocation does not reach back: override what it must undo)."
    )]
    Revoke {
        /// The publish directory.
        dir: PathBuf,
        /// The agency's id.
        #[arg(long)]
        id: String,
        /// Revoke only this key of the agency (a .pub file).
        #[arg(long, value_parser = KeyNameParser)]
        key: Option<KeyName>,
        /// From when: RFC 3339 time, date, or a duration from now like 2h (default: now).
        #[arg(long)]
        at: Option<Expiry>,
        #[command(flatten)]
        signing: RootSigningArgs,
    },
    /// Show the agency registry: each agency, its kinds, keys and status.
    #[command(after_help = "Example:\n  blocklist agency list /srv/blocklist --json")]
    List {
        /// The publish directory.
        dir: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum ReplicasCommand {
    /// Register a replica by its identity key.
    #[command(
        after_help = "Example:\n  blocklist replicas add /srv/blocklist --name bank-004-dc1 --key /media/courier/identity.pub"
    )]
    Add {
        /// The publish directory.
        dir: PathBuf,
        /// The replica's name, shown and used as the metrics label (1 to 64 of a-z 0-9 . _ -).
        #[arg(long)]
        name: String,
        /// Its identity key: the "public key" line `blocklistd --print-identity` prints (not the replica id), or its identity.pub file.
        #[arg(long)]
        key: String,
    },
    /// Forget a replica and its receipt.
    #[command(
        after_help = "Example:\n  blocklist replicas remove /srv/blocklist --name bank-004-dc1"
    )]
    Remove {
        /// The publish directory.
        dir: PathBuf,
        /// The replica's name.
        #[arg(long)]
        name: String,
    },
    /// Show the registered replicas and their key ids.
    #[command(after_help = "Example:\n  blocklist replicas list /srv/blocklist --json")]
    List {
        /// The publish directory.
        dir: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
struct RootSigningArgs {
    /// A root key's secret file or pkcs11: URI that signs the new registry
    /// (repeat up to the root threshold).
    #[arg(long = "sign-with", required = true, value_parser = KeyNameParser)]
    signers: Vec<KeyName>,
}

#[derive(Args, Debug)]
struct SigningArgs {
    /// A publish key's secret file or pkcs11: URI (repeat up to the threshold).
    #[arg(long = "key", required = true, value_parser = KeyNameParser)]
    keys: Vec<KeyName>,
    /// How long the new manifest is valid; refresh well within it.
    #[arg(long, default_value = "3d", value_parser = humantime::parse_duration)]
    manifest_lifetime: Duration,
}

/// How much history the manifest keeps listing (every publish and refresh prunes).
#[derive(Args, Debug)]
struct HistoryArgs {
    /// Keep each delta listed at least this long after its publish, so a
    /// client catching up finds it (at most 256 deltas and snapshots are
    /// listed whatever the grace; further behind, a client takes the newest
    /// snapshot).
    #[arg(long, default_value = "1day", value_parser = humantime::parse_duration)]
    delta_grace: Duration,
}

/// How a version is signed and what history it keeps: shared by `publish`
/// and the intake service (`serve --intake`), which publish the same way.
#[derive(Args, Debug)]
struct PublishingArgs {
    #[command(flatten)]
    signing: SigningArgs,
    #[command(flatten)]
    history: HistoryArgs,
    /// Remove entries this long after they expired (as signed removals in
    /// the version published).
    #[arg(long, default_value = "30days", value_parser = humantime::parse_duration)]
    purge_expired_after: Duration,
    /// After publishing every K-th version, also write its snapshot (the
    /// delta is out first). Default: never; schedule `blocklist snapshot`.
    #[arg(long)]
    snapshot_every: Option<NonZeroU64>,
}

impl PublishingArgs {
    /// The publish options of these arguments, reading `context` (no input
    /// files, no submissions yet).
    fn options(
        &self,
        keyring: &mut Keyring,
        context: ReadContext,
    ) -> Result<PublishOptions, CentreError> {
        Ok(PublishOptions {
            keys: keyring.signers(&self.signing.keys)?,
            additions: vec![],
            removals: vec![],
            submissions: vec![],
            overrides: vec![],
            by: PublishedBy::Operator,
            context,
            skip_invalid: false,
            snapshot_every: self.snapshot_every.unwrap_or(NonZeroU64::MAX),
            manifest_lifetime: self.signing.manifest_lifetime,
            history: History {
                delta_grace: self.history.delta_grace,
                purge_expired_after: self.purge_expired_after,
            },
        })
    }
}

#[derive(Args, Debug)]
struct PublishArgs {
    /// The publish directory.
    dir: PathBuf,
    #[command(flatten)]
    publishing: PublishingArgs,
    /// Files of entries to add or update.
    inputs: Vec<PathBuf>,
    /// A file of entries to remove (repeat; same formats, only kind and value are read).
    #[arg(long = "remove")]
    removals: Vec<PathBuf>,
    /// An agency's signed submission (repeat; from `blocklist submit`): verified
    /// against the newest agency registry, listed under the agency that signed
    /// it, and refused whole if any operation touches another agency's listing.
    /// Not combined with input files.
    #[arg(long = "submission", value_name = "FILE", conflicts_with_all = ["inputs", "removals"])]
    submissions: Vec<PathBuf>,
    /// An override (repeat; from `blocklist override`, signed by override
    /// keys): removes the listings it names, over their agencies' heads.
    /// Not combined with input files or submissions. Refused while the
    /// intake service holds queued work: hand it to the service then
    /// (POST /v1/overrides, or its drop folder).
    #[arg(long = "override", value_name = "FILE", conflicts_with_all = ["inputs", "removals", "submissions"])]
    overrides: Vec<PathBuf>,
    #[command(flatten)]
    reading: ReadingArgs,
    /// The listing agency of rows without one.
    #[arg(long)]
    agency: Option<String>,
    /// Publish without the invalid lines instead of refusing.
    #[arg(long)]
    skip_invalid: bool,
}

#[derive(Args, Debug)]
struct OverrideArgs {
    /// The publish directory.
    dir: PathBuf,
    /// The kind of the identifiers.
    #[arg(long)]
    kind: Kind,
    /// The identifiers whose listings to remove or update (normalised as publish reads them).
    #[arg(required = true)]
    values: Vec<String>,
    /// Only the listing of this agency (default: every listing of each
    /// identifier; required to update).
    #[arg(long)]
    agency: Option<String>,
    /// Update the agency's listing instead of removing it: give it this
    /// reason (a name like fraud, or a code).
    #[arg(long = "set-reason", value_name = "REASON", requires = "agency")]
    set_reason: Option<String>,
    /// Update the agency's listing instead of removing it: make it expire
    /// then (RFC 3339 time, date, or duration from now like 30d; after now).
    #[arg(
        long = "set-expires",
        value_name = "TIME",
        conflicts_with = "no_expiry",
        requires = "agency"
    )]
    set_expires: Option<Expiry>,
    /// Update the agency's listing instead of removing it: make it never
    /// expire.
    #[arg(long = "no-expiry", requires = "agency")]
    no_expiry: bool,
    /// Update a listing that has expired too: the update lists it again
    /// (without this, an expired listing is refused by name).
    #[arg(long, requires = "agency")]
    expired: bool,
    /// Why the board decided: cleared, appeal_upheld, error, duplicate,
    /// unspecified, or a code.
    #[arg(long)]
    why: String,
    /// The decision in words: a case or appeal reference (1 to 1,000 bytes).
    #[arg(long)]
    note: String,
    /// An override key's secret file or pkcs11: URI (repeat; at least the threshold).
    #[arg(long = "sign-with", required = true, value_parser = KeyNameParser)]
    signers: Vec<KeyName>,
    /// The region national numbers and accounts are read for.
    #[arg(long, default_value = "TH")]
    region: String,
    /// The override file to write.
    #[arg(short, long)]
    output: PathBuf,
}

/// `serve`: a publish directory over HTTP, and the intake service with `--intake`.
#[derive(Args, Debug)]
struct ServeArgs {
    /// The publish directory.
    dir: PathBuf,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
    /// How long caches may keep the manifest.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    manifest_max_age: Duration,
    /// Also run the intake service: agencies POST their submissions to
    /// /v1/submissions (or drop them in --intake-drop), each answered with
    /// a signed acknowledgement, queued and published on the cadence;
    /// override key holders POST overrides to /v1/overrides (or drop them),
    /// published at once. Needs the publish keys (--key).
    #[arg(long, requires = "keys")]
    intake: bool,
    /// Intake: publish what is queued this long after the first submission
    /// queued (urgent submissions and overrides at once).
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration, requires = "intake")]
    publish_every: Duration,
    /// Intake: also take submissions and overrides from this folder
    /// (NAME.submission, NAME.override, written under another name and
    /// renamed in; NAME.ack, NAME.override.accepted.json answer, and
    /// refused/NAME.submission.error or refused/NAME.override.error refuses).
    #[arg(long, value_name = "FOLDER", requires = "intake")]
    intake_drop: Option<PathBuf>,
    /// Intake: the largest submission taken, in bytes.
    #[arg(long, default_value_t = service::DEFAULT_MAX_SUBMISSION_BYTES, requires = "intake")]
    max_submission_bytes: u64,
    /// Intake: a witness whose cosignatures of the log's checkpoint
    /// POST /v1/cosignatures takes (repeat): the line `blocklist
    /// witness-key` prints. Without it the endpoint answers 404.
    #[arg(long = "witness", value_name = "VKEY", value_parser = parse_witness, requires = "intake")]
    witnesses: Vec<Witness>,
    /// Intake: GET /metrics counts a registered replica as lagging once the
    /// first version it lacks was published this long ago.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration, requires = "intake")]
    lag_alert: Duration,
    /// Intake: how versions are signed and what history they keep, as for
    /// `publish` (`--key` required with `--intake` only: see `Command::Serve`).
    #[command(flatten)]
    publishing: PublishingArgs,
}

/// How input files are read: shared by `publish` and `submit`, which read
/// the same formats the same way.
#[derive(Args, Debug)]
struct ReadingArgs {
    /// The syntax of every input: csv, plain, hosts, adblock or dnsmasq
    /// (default: by extension: .csv, .hosts, .adblock, .dnsmasq, else plain).
    #[arg(long)]
    format: Option<Format>,
    /// CSV: fields read from columns of other names, FIELD=HEADER,... (e.g.
    /// value=msisdn,agency=unit; fields: kind, value, reason, agency, expires).
    #[arg(long, value_name = "FIELD=HEADER,...")]
    columns: Option<CsvColumns>,
    /// CSV: a header column not to read (repeat). Any other column that is
    /// not a field stops the publish, naming it.
    #[arg(long = "ignore-column", value_name = "HEADER")]
    ignore_columns: Vec<String>,
    /// The kind of plain-list entries and of CSV rows without one.
    #[arg(long)]
    kind: Option<Kind>,
    /// The reason of rows without one (a name like phishing, or a code).
    #[arg(long)]
    reason: Option<String>,
    /// The expiry of rows without one: RFC 3339 time, date, or duration like 90d.
    #[arg(long)]
    expires: Option<Expiry>,
    /// Region for national phone numbers and accounts (ISO 3166 alpha-2, any case).
    ///
    /// One region for the whole publish: it applies to every line of every
    /// input and removal file (no file or line names its own). Phone numbers
    /// are read for any region of libphonenumber's metadata (US, GB, CL, DE,
    /// JP...), with its trunk and international prefixes and national
    /// lengths; domestic accounts for TH only. Numbers written with `+` or
    /// `00`, IBANs, `TH:` accounts and domains do not depend on it.
    #[arg(long, default_value = "TH")]
    region: String,
}

impl ReadingArgs {
    /// Each path with its syntax (`--format`, else by extension).
    fn with_format(&self, paths: &[PathBuf]) -> Vec<(PathBuf, Format)> {
        paths
            .iter()
            .map(|path| {
                let format = self.format.unwrap_or_else(|| Format::from_path(path));
                (path.clone(), format)
            })
            .collect()
    }

    /// The reading context, with `agency` for rows without one and the time now.
    fn context(&self, agency: Option<Agency>) -> Result<ReadContext, CentreError> {
        let reason = self
            .reason
            .as_deref()
            .map(|r| {
                Reason::from_name(r)
                    .ok_or_else(|| CentreError::usage(format!("unknown reason {r:?}")))
            })
            .transpose()?;
        Ok(ReadContext {
            defaults: Defaults {
                kind: self.kind,
                agency,
                reason,
                expires: self.expires,
            },
            rules: Rules {
                default_region: self.region.clone(),
            },
            now: Timestamp::now(),
            csv: CsvColumns {
                ignored: self.ignore_columns.clone(),
                ..self.columns.clone().unwrap_or_default()
            },
        })
    }
}

#[derive(Args, Debug)]
struct SubmitArgs {
    /// The list the submission is for (as the centre's trust root names it).
    #[arg(long)]
    list: String,
    /// The submitting agency's id in the centre's registry.
    #[arg(long)]
    agency: String,
    /// One of the agency's secret key files, or a pkcs11: URI.
    #[arg(long, value_parser = KeyNameParser)]
    key: KeyName,
    /// Files of entries to list (an entry the agency lists already is updated).
    inputs: Vec<PathBuf>,
    /// A file of the agency's listings to update (repeat; each must be listed by the agency).
    #[arg(long = "update", value_name = "FILE")]
    updates: Vec<PathBuf>,
    /// A file of the agency's listings to remove (repeat; only kind and value are read).
    #[arg(long = "remove", value_name = "FILE")]
    removals: Vec<PathBuf>,
    /// Why the removals are made: cleared, appeal_upheld, error, duplicate, unspecified, or a code.
    #[arg(long, default_value = "unspecified")]
    why: String,
    /// Ask the centre to publish this submission at once.
    #[arg(long)]
    urgent: bool,
    #[command(flatten)]
    reading: ReadingArgs,
    /// The submission file to write.
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    /// Also send it to the centre's intake service at this URL (POST
    /// URL/v1/submissions) and write its signed acknowledgement.
    #[arg(long, value_name = "URL")]
    send: Option<String>,
    /// With --send: where to write the acknowledgement (default: the
    /// output file with the extension .ack).
    #[arg(long, value_name = "FILE", requires = "send")]
    ack: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct SnapshotArgs {
    /// The publish directory.
    dir: PathBuf,
    #[command(flatten)]
    signing: SigningArgs,
    #[command(flatten)]
    history: HistoryArgs,
}

#[derive(Args, Debug)]
struct RefreshArgs {
    /// The publish directory.
    dir: PathBuf,
    #[command(flatten)]
    signing: SigningArgs,
    #[command(flatten)]
    history: HistoryArgs,
}

#[derive(Args, Debug)]
struct PruneArgs {
    /// The publish directory.
    dir: PathBuf,
    #[command(flatten)]
    signing: SigningArgs,
    /// Keep every delta of the newest KEEP versions.
    #[arg(long, default_value_t = 100)]
    keep: u64,
}

/// Writes a line of the command's report to standard output (see [`Report`]),
/// returning from the caller on a write error other than a closed pipe.
macro_rules! say {
    ($out:expr, $($arg:tt)*) => {
        $out.write(format_args!("{}\n", format_args!($($arg)*)))?
    };
}

/// `value` as the `--json` output of the listing commands shows it.
fn pretty_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).expect("plain data serialises")
}

/// Writes a line to standard error. A diagnostic that cannot be written has
/// nowhere left to go, so a closed or failing stderr is ignored (never a panic,
/// as `eprintln!` would).
macro_rules! note {
    ($($arg:tt)*) => {{
        let _ = writeln!(io::stderr().lock(), $($arg)*);
    }};
}

/// The command's report on standard output. A reader that went away
/// (`blocklist publish ... | head -1`) is no failure: the command's work goes
/// on and its exit status is its own; the rest of the report is dropped.
/// Any other write error (a full disk under `> file`) fails the command, since
/// the report asked for is then incomplete.
#[derive(Debug, Default)]
struct Report {
    /// The reader closed the pipe: nothing more is written.
    closed: bool,
}

impl Report {
    fn write(&mut self, text: fmt::Arguments<'_>) -> Result<(), CentreError> {
        if self.closed {
            return Ok(());
        }
        let mut stdout = io::stdout().lock();
        // Flushed per write, so a `serve` caller sees its address at once.
        match stdout.write_fmt(text).and_then(|()| stdout.flush()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            Err(source) => Err(CentreError::Stdout { source }),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    blocklistd::logging::init(blocklistd::logging::LogFormat::Text);
    let mut keyring = Keyring::new(Tokens::from_env(cli.pkcs11_module));
    match run(cli.command, &mut keyring, &mut Report::default()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if let CentreError::InvalidInput { lines, .. } = &err {
                for line in lines {
                    note!("{line}");
                }
            }
            if let CentreError::SubmissionRefused { refusals, .. } = &err {
                for refusal in refusals {
                    note!("refused: {refusal}");
                }
            }
            note!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command, keyring: &mut Keyring, out: &mut Report) -> Result<(), CentreError> {
    match command {
        Command::Keygen { name, public } => {
            let made = keyring.keygen(&name, public.as_deref())?;
            if made.in_token {
                say!(
                    out,
                    "secret key: {} (in the token: sensitive, not extractable)",
                    made.secret
                );
            } else {
                say!(
                    out,
                    "secret key: {} (mode 0600; keep it offline if it is a root key)",
                    made.secret
                );
            }
            say!(out, "public key: {}", made.public_file.display());
            say!(out, "key id: {}", made.key.id());
        }
        Command::Init(args) => {
            let options = InitOptions {
                list: ListId::new(&args.list).map_err(|e| CentreError::Usage {
                    reason: e.to_string(),
                })?,
                root_keys: keyring.signers(&args.root_keys)?,
                root_threshold: args.root_threshold,
                publish_keys: keyring.publics(&args.publish_keys)?,
                publish_threshold: args.publish_threshold,
                override_keys: keyring.publics(&args.override_keys)?,
                override_threshold: args.override_threshold,
                root_lifetime: args.root_lifetime,
            };
            let root = publish::init(&args.dir, &options)?;
            say!(out, "created {} with {root}", args.dir.display());
        }
        Command::Rotate(args) => {
            let options = RotateOptions {
                signers: keyring.signers(&args.signers)?,
                add_root_keys: keyring.publics(&args.add_root_keys)?,
                remove_root_keys: keyring.publics(&args.remove_root_keys)?,
                root_threshold: args.root_threshold,
                add_publish_keys: keyring.publics(&args.add_publish_keys)?,
                remove_publish_keys: keyring.publics(&args.remove_publish_keys)?,
                publish_threshold: args.publish_threshold,
                add_override_keys: keyring.publics(&args.add_override_keys)?,
                remove_override_keys: keyring.publics(&args.remove_override_keys)?,
                override_threshold: args.override_threshold,
                root_lifetime: args.root_lifetime,
            };
            for file in publish::rotate(&args.dir, &options)? {
                say!(out, "wrote {file}");
            }
            say!(out, "the next publish or refresh lists them");
        }
        Command::Agency(command) => agency(command, keyring, out)?,
        Command::Publish(args) => {
            let agency = args
                .agency
                .as_deref()
                .map(Agency::new)
                .transpose()
                .map_err(|e| CentreError::usage(e.to_string()))?;
            let now = Timestamp::now();
            let submissions = args
                .submissions
                .iter()
                .map(|file| SubmissionInput::read(file, now))
                .collect::<Result<Vec<_>, _>>()?;
            let options = PublishOptions {
                additions: args.reading.with_format(&args.inputs),
                removals: args.reading.with_format(&args.removals),
                submissions,
                overrides: args
                    .overrides
                    .iter()
                    .map(|file| OverrideInput::read(file))
                    .collect::<Result<_, _>>()?,
                skip_invalid: args.skip_invalid,
                ..args
                    .publishing
                    .options(keyring, args.reading.context(agency)?)?
            };
            // Lines are refused or read differently under another region:
            // say which one this publish used.
            say!(
                out,
                "national numbers and accounts read for region {} (--region)",
                args.reading.region.to_ascii_uppercase()
            );
            print_publish(out, &publish::publish(&args.dir, &options)?)?;
        }
        Command::Submit(args) => {
            let usage = |reason: String| CentreError::Usage { reason };
            let agency = Agency::new(&args.agency).map_err(|e| usage(e.to_string()))?;
            let why = RemovalReason::from_name(&args.why)
                .ok_or_else(|| usage(format!("unknown removal reason {:?}", args.why)))?;
            let options = SubmitOptions {
                list: ListId::new(&args.list).map_err(|e| usage(e.to_string()))?,
                context: args.reading.context(Some(agency.clone()))?,
                agency,
                key: keyring.signer(&args.key)?,
                additions: args.reading.with_format(&args.inputs),
                updates: args.reading.with_format(&args.updates),
                removals: args.reading.with_format(&args.removals),
                why,
                urgent: args.urgent,
            };
            say!(
                out,
                "national numbers and accounts read for region {} (--region)",
                args.reading.region.to_ascii_uppercase()
            );
            let report = submit::submit(&options, &args.output)?;
            if report.duplicates > 0 {
                note!(
                    "{} duplicate line(s): the later line's listing was kept",
                    report.duplicates
                );
            }
            say!(
                out,
                "wrote {} ({} bytes): submission {} of {} to list {}: {} add(s), {} update(s), {} removal(s){}",
                args.output.display(),
                report.bytes,
                report.sequence,
                options.agency,
                options.list,
                report.adds,
                report.updates,
                report.removes,
                if options.urgent { ", urgent" } else { "" }
            );
            if let Some(url) = &args.send {
                let bytes = std::fs::read(&args.output).map_err(|source| CentreError::Io {
                    action: "read",
                    path: args.output.clone(),
                    source,
                })?;
                let ack = submit::send(url, bytes)?;
                let path = args
                    .ack
                    .unwrap_or_else(|| args.output.with_extension("ack"));
                blocklist_core::atomic_file::write_file_via(
                    path.parent().unwrap_or(Path::new(".")),
                    &path,
                    &ack,
                )?;
                say!(
                    out,
                    "sent to {url}: accepted; acknowledgement written to {} (check it with blocklist verify-ack)",
                    path.display()
                );
            }
        }
        Command::Override(args) => {
            let usage = |reason: String| CentreError::Usage { reason };
            let rules = Rules {
                default_region: args.region.clone(),
            };
            let now = Timestamp::now();
            let reason = args
                .set_reason
                .as_deref()
                .map(|r| Reason::from_name(r).ok_or_else(|| usage(format!("unknown reason {r:?}"))))
                .transpose()?;
            let expires_at = match (args.set_expires, args.no_expiry) {
                // An expiry not after the decision would be a removal (OV4).
                (Some(at), _) if at.resolve(now) <= now => {
                    return Err(usage(format!(
                        "--set-expires {} is not after now ({now}): to end the listing, remove it (leave out --set-*)",
                        at.resolve(now)
                    )))
                }
                (Some(at), _) => Some(Some(at.resolve(now))),
                (None, true) => Some(None),
                (None, false) => None,
            };
            let update = (reason.is_some() || expires_at.is_some())
                .then_some(UpdateTo { reason, expires_at });
            let decision = Decision {
                expired: args.expired,
                agency: args
                    .agency
                    .as_deref()
                    .map(|a| Agency::new(a).map_err(|e| usage(format!("agency {a:?}: {e}"))))
                    .transpose()?,
                update,
                ids: args
                    .values
                    .iter()
                    .map(|v| {
                        Identifier::parse(args.kind, v, &rules)
                            .map_err(|e| usage(format!("{} {v:?}: {e}", args.kind)))
                    })
                    .collect::<Result<_, _>>()?,
                why: RemovalReason::from_name(&args.why)
                    .ok_or_else(|| usage(format!("unknown removal reason {:?}", args.why)))?,
                note: args.note,
                signers: keyring.signers(&args.signers)?,
            };
            overrides::make(&args.dir, &decision, &args.output, now)?;
            say!(
                out,
                "wrote {} ({} {} identifier(s)); publish it with blocklist publish --override",
                args.output.display(),
                if decision.update.is_some() {
                    "updating the listings of"
                } else {
                    "removing the listings of"
                },
                decision.ids.len()
            );
        }
        Command::Refresh(args) => {
            let options = PublishOptions {
                keys: keyring.signers(&args.signing.keys)?,
                additions: vec![],
                removals: vec![],
                submissions: vec![],
                overrides: vec![],
                by: PublishedBy::Operator,
                context: plain_context(),
                skip_invalid: false,
                snapshot_every: NonZeroU64::MAX,
                manifest_lifetime: args.signing.manifest_lifetime,
                history: History {
                    delta_grace: args.history.delta_grace,
                    ..History::default()
                },
            };
            print_publish(out, &publish::publish(&args.dir, &options)?)?;
        }
        Command::Snapshot(args) => {
            let keys = keyring.signers(&args.signing.keys)?;
            let options = SnapshotOptions {
                manifest_lifetime: args.signing.manifest_lifetime,
                history: History {
                    delta_grace: args.history.delta_grace,
                    ..History::default()
                },
                now: Timestamp::now(),
            };
            let report = publish::snapshot(&args.dir, &keys, &options)?;
            match (report.version, &report.skipped) {
                (Some(version), _) => {
                    say!(out, "wrote snapshot {version}: {} entries", report.entries)
                }
                (None, reason) => say!(
                    out,
                    "no snapshot written: {}",
                    reason.as_deref().unwrap_or("nothing to do")
                ),
            }
            for path in &report.written {
                say!(out, "wrote {path}");
            }
            for path in &report.deleted {
                say!(out, "deleted {path}");
            }
            if let Some(serial) = report.serial {
                say!(out, "manifest serial {serial}");
            }
        }
        Command::Prune(args) => {
            let keys = keyring.signers(&args.signing.keys)?;
            let report =
                publish::prune(&args.dir, &keys, args.keep, args.signing.manifest_lifetime)?;
            match (report.base, report.serial) {
                (Some(base), Some(serial)) => {
                    say!(
                        out,
                        "chain now starts at snapshot {base}; manifest serial {serial}"
                    )
                }
                _ => say!(out, "nothing to prune from the manifest"),
            }
            for path in &report.removed {
                say!(out, "removed {path}");
            }
        }
        Command::RestoreLog { dir, from } => {
            let restored = centre_log::restore_from(&dir, &from)?;
            say!(
                out,
                "log taken back from {} to {} record(s)",
                restored.from,
                restored.to
            );
            for record in &restored.lost {
                say!(
                    out,
                    "lost with the host (recorded, no longer held): {}",
                    record.file.path(record.doc)
                );
            }
        }
        Command::Witness {
            target,
            name,
            key,
            root,
            state,
            out: file,
        } => {
            let signer = keyring.signer(&key)?;
            let witnessed =
                witness::witness(&target, &state, &root, &name, &signer, Timestamp::now().0)?;
            atomic_file::replace_file(&file, |w| {
                w.write_all(witnessed.cosigned.as_bytes())
                    .map_err(|source| CentreError::Io {
                        action: "write",
                        path: file.clone(),
                        source,
                    })
            })?;
            say!(
                out,
                "cosigned the log at size {} (it extends the {} record(s) cosigned before): {}",
                witnessed.cosigned.checkpoint().size,
                witnessed.from,
                file.display()
            );
        }
        Command::WitnessKey { name, key } => {
            let witness =
                Witness::new(&name, keyring.public(&key)?).map_err(|e| CentreError::Usage {
                    reason: e.to_string(),
                })?;
            say!(out, "{}", witness.vkey());
        }
        Command::Cosign { dir, files } => {
            let checkpoint = centre_log::add_cosignatures(&dir, &files)?;
            say!(
                out,
                "log/checkpoint at size {} now carries {} signature line(s)",
                checkpoint.checkpoint().size,
                checkpoint.lines()
            );
        }
        Command::Serve(args) => serve(args, keyring, out)?,
        Command::Replicas(command) => replicas(command, out)?,
        Command::Receipts { dir, json } => {
            let standings = receipts::standings(&dir, Timestamp::now())?;
            if json {
                say!(out, "{}", pretty_json(&standings));
            } else if standings.is_empty() {
                say!(out, "no replica registered (blocklist replicas add)");
            } else {
                say!(
                    out,
                    "{:<24} {:<16} {:>8} {:<20} {:>8} {:>10}",
                    "REPLICA",
                    "ID",
                    "VERSION",
                    "APPLIED",
                    "BEHIND",
                    "LAG"
                );
                for s in &standings {
                    say!(
                        out,
                        "{:<24} {:<16} {:>8} {:<20} {:>8} {:>10}",
                        s.name,
                        &s.replica_id[..16],
                        s.version.map_or_else(|| "-".to_owned(), |v| v.to_string()),
                        s.applied_at.map_or_else(
                            || "no receipt".to_owned(),
                            |t| inspect::time(Timestamp(t))
                        ),
                        s.lag_versions,
                        s.lag_seconds
                            .map_or_else(|| "unknown".to_owned(), |t| format!("{t}s"))
                    );
                }
            }
        }
        Command::Verify {
            target,
            root,
            log_since,
        } => {
            let pinned = match &root {
                Some(path) => Some(std::fs::read(path).map_err(|source| CentreError::Io {
                    action: "read",
                    path: path.clone(),
                    source,
                })?),
                None => {
                    note!("WARNING: no --root given: trusting the first published root as found. Pin a root obtained out of band with --root.");
                    None
                }
            };
            let source = source::open(&target)?;
            let since = match &log_since {
                Some(path) => {
                    let bytes = std::fs::read(path).map_err(|source| CentreError::Io {
                        action: "read",
                        path: path.clone(),
                        source,
                    })?;
                    Some(
                        SignedCheckpoint::parse(&bytes).map_err(|source| CentreError::Log {
                            file: path.display().to_string(),
                            source,
                        })?,
                    )
                }
                None => None,
            };
            let report = audit::audit(
                source.as_ref(),
                pinned.as_deref(),
                since.as_ref(),
                Timestamp::now(),
            )?;
            let log = match &report.log {
                Some(log) => format!("; log of {} file(s), root {}", log.size, log.root),
                None => "; no transparency log (published before it)".to_owned(),
            };
            say!(out,
                "OK: list {} version {} (manifest serial {}, {} entries): {} root(s), {} delta(s), {} snapshot(s), {} agency registry version(s) verified{log}; manifest expires {}",
                report.list, report.version, report.serial, report.entries, report.roots, report.deltas, report.snapshots, report.registries, inspect::time(report.expires_at)
            );
        }
        Command::Completions { shell } => {
            let mut script = Vec::new();
            cli_docs::completions(Cli::command(), shell, &mut script);
            out.write(format_args!("{}", String::from_utf8_lossy(&script)))?;
        }
        Command::Man { dir } => {
            let written = cli_docs::man_pages(Cli::command(), "1", &dir).map_err(|source| {
                CentreError::Io {
                    action: "write man pages into",
                    path: dir.clone(),
                    source,
                }
            })?;
            say!(
                out,
                "wrote {} man pages into {}",
                written.len(),
                dir.display()
            );
        }
        Command::Prove {
            dir,
            kind,
            value,
            at,
            region,
            output,
        } => {
            let rules = Rules {
                default_region: region,
            };
            let id = Identifier::parse(kind, &value, &rules)
                .map_err(|e| CentreError::usage(format!("{kind} {value:?}: {e}")))?;
            let proven = prove::prove(&dir, &id, at)?;
            if let Some(held) = proven.pruned_before {
                note!("note: deltas before version {held} were pruned from {}: the bundle cannot show changes made before it", dir.display());
            }
            atomic_file::write_file_via(
                output.parent().unwrap_or(Path::new(".")),
                &output,
                &proven.bundle,
            )?;
            say!(
                out,
                "wrote {} ({} bytes): {kind} {id} up to version {}, {} delta(s) of the {} held that changed it, proven in the log of {} entries",
                output.display(),
                proven.bundle.len(),
                proven.at,
                proven.deltas,
                proven.scanned,
                proven.log_size
            );
        }
        Command::VerifyProof {
            bundle,
            root,
            witnesses,
            json,
        } => {
            let read = |path: &Path| {
                std::fs::read(path).map_err(|source| CentreError::Io {
                    action: "read",
                    path: path.to_owned(),
                    source,
                })
            };
            let history = verify_bundle(&read(&bundle)?, &read(&root)?).map_err(|source| {
                CentreError::Proof {
                    file: bundle.display().to_string(),
                    source: Box::new(source),
                }
            })?;
            // Every witness named must have cosigned the checkpoint.
            let cosigned = match witnesses.len() {
                0 => Vec::new(),
                n => Witnesses::new(witnesses, n)
                    .and_then(|w| {
                        w.check(&history.checkpoint)
                            .map(|names| names.iter().map(|n| n.to_string()).collect())
                    })
                    .map_err(|source| CentreError::Log {
                        file: bundle.display().to_string(),
                        source,
                    })?,
            };
            if json {
                let mut shown = prove::history_json(&history);
                shown["log"]["witnesses"] = serde_json::json!(cosigned);
                say!(out, "{}", pretty_json(&shown));
            } else {
                out.write(format_args!("{}", history.to_words(inspect::time)))?;
                if !cosigned.is_empty() {
                    say!(
                        out,
                        "Witnessed: the checkpoint is cosigned by {}.",
                        cosigned.join(", ")
                    );
                }
            }
        }
        Command::VerifyAck {
            ack,
            root,
            submission,
        } => {
            let read = |path: &Path| {
                std::fs::read(path).map_err(|source| CentreError::Io {
                    action: "read",
                    path: path.to_owned(),
                    source,
                })
            };
            let roots = root
                .iter()
                .map(|p| Ok((p.display().to_string(), read(p)?)))
                .collect::<Result<Vec<_>, CentreError>>()?;
            let submission = submission.as_deref().map(read).transpose()?;
            let shown = ack.display().to_string();
            let verified = acknowledge::check(&roots, &shown, &read(&ack)?, submission.as_deref())?;
            say!(
                out,
                "{shown}: valid acknowledgement of list {}: submission {} of agency {} (sequence {}), accepted at {}, in version {} at the latest{}",
                verified.list,
                verified.submission,
                verified.agency,
                verified.sequence,
                inspect::time(verified.accepted_at),
                verified.version,
                if submission.is_some() { "; it is the submission given" } else { "" }
            );
        }
        Command::Inspect { file, json, first } => {
            let bytes = std::fs::read(&file).map_err(|source| CentreError::Io {
                action: "read",
                path: file.clone(),
                source,
            })?;
            let view = inspect::inspect(&file.display().to_string(), &bytes, first)?;
            if json {
                say!(out, "{}", pretty_json(&view));
            } else {
                out.write(format_args!("{}", view.to_text()))?;
            }
        }
    }
    Ok(())
}

/// Runs an `agency` subcommand.
fn agency(
    command: AgencyCommand,
    keyring: &mut Keyring,
    out: &mut Report,
) -> Result<(), CentreError> {
    let agency_id = |id: &str| Agency::new(id).map_err(|e| CentreError::usage(e.to_string()));
    let now = Timestamp::now();
    let (dir, change, signing) = match command {
        AgencyCommand::List { dir, json } => {
            let views: Vec<inspect::AgencyView> = registry::current(&dir)?
                .map_or_else(Vec::new, |r| {
                    r.agencies().iter().map(inspect::AgencyView::of).collect()
                });
            if json {
                say!(out, "{}", pretty_json(&views));
            } else if views.is_empty() {
                say!(out, "no agency registered");
            } else {
                let mut text = String::new();
                for view in &views {
                    view.write_text(&mut text);
                }
                out.write(format_args!("{text}"))?;
            }
            return Ok(());
        }
        AgencyCommand::Add {
            dir,
            id,
            name,
            kinds,
            keys,
            signing,
        } => {
            let change = AgencyChange::Add {
                id: agency_id(&id)?,
                name,
                kinds,
                keys: keyring.publics(&keys)?,
            };
            (dir, change, signing)
        }
        AgencyCommand::AddKey {
            dir,
            id,
            keys,
            signing,
        } => {
            let change = AgencyChange::AddKeys {
                id: agency_id(&id)?,
                keys: keyring.publics(&keys)?,
            };
            (dir, change, signing)
        }
        AgencyCommand::Revoke {
            dir,
            id,
            key,
            at,
            signing,
        } => {
            let change = AgencyChange::Revoke {
                id: agency_id(&id)?,
                key: key.map(|k| keyring.public(&k)).transpose()?,
                at: at.map(|at| at.resolve(now)),
            };
            (dir, change, signing)
        }
    };
    let signers = keyring.signers(&signing.signers)?;
    let file = registry::change(&dir, &change, &signers, now)?;
    say!(out, "wrote {file}; the next publish or refresh lists it");
    Ok(())
}

/// Runs a `replicas` subcommand.
fn replicas(command: ReplicasCommand, out: &mut Report) -> Result<(), CentreError> {
    let open = |dir: &Path| PublishDir::open(dir).and_then(|d| receipts::ReceiptBook::open(&d));
    match command {
        ReplicasCommand::Add { dir, name, key } => {
            let key = replica_key(&key)?;
            open(&dir)?.add_replica(&name, &key, Timestamp::now())?;
            say!(
                out,
                "registered replica {name}, key id {}; its receipts are taken from now on",
                hex::encode(key.id().0)
            );
        }
        ReplicasCommand::Remove { dir, name } => {
            if !open(&dir)?.remove_replica(&name)? {
                return Err(CentreError::usage(format!(
                    "no replica {name} is registered"
                )));
            }
            say!(out, "removed replica {name} and its receipt");
        }
        ReplicasCommand::List { dir, json } => {
            let replicas = open(&dir)?.replicas()?;
            let views: Vec<serde_json::Value> = replicas
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "name": r.name,
                        "replica_id": hex::encode(r.key.id().0),
                        "public_key": hex::encode(r.key.to_bytes()),
                        "added_at": r.added_at.0,
                    })
                })
                .collect();
            if json {
                say!(out, "{}", pretty_json(&views));
            } else if replicas.is_empty() {
                say!(out, "no replica registered");
            } else {
                for r in &replicas {
                    say!(
                        out,
                        "{} key id {} (added {})",
                        r.name,
                        hex::encode(r.key.id().0),
                        inspect::time(r.added_at)
                    );
                }
            }
        }
    }
    Ok(())
}

/// A replica's identity key: 64 hex digits, or a public key file.
fn replica_key(text: &str) -> Result<blocklist_core::PublicKey, CentreError> {
    let mut bytes = [0u8; 32];
    if hex::decode_to_slice(text, &mut bytes).is_ok() {
        return blocklist_core::PublicKey::from_bytes(&bytes)
            .map_err(|e| CentreError::usage(e.to_string()));
    }
    blocklistd::centre::keyfile::read_public(Path::new(text))
}

/// The reading context of a publish without input files: nothing to read, the time now.
fn plain_context() -> ReadContext {
    ReadContext {
        defaults: Defaults::default(),
        rules: Rules::default(),
        now: Timestamp::now(),
        csv: CsvColumns::default(),
    }
}

/// Runs `serve`: the directory's files, and with `--intake` the intake service.
fn serve(args: ServeArgs, keyring: &mut Keyring, out: &mut Report) -> Result<(), CentreError> {
    let dir = PublishDir::open(&args.dir)?;
    let intake = if args.intake {
        Some(service::Intake::open(
            dir,
            service::IntakeConfig {
                publish: args.publishing.options(keyring, plain_context())?,
                publish_every: args.publish_every,
                max_submission_bytes: args.max_submission_bytes,
                witnesses: args.witnesses,
                lag_alert: args.lag_alert,
            },
        )?)
    } else {
        None
    };
    let config = serve::ServeConfig {
        dir: args.dir,
        manifest_max_age: args.manifest_max_age,
    };
    let runtime =
        tokio::runtime::Runtime::new().map_err(serve_error("start the runtime".to_owned()))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(serve_error(format!("listen on {}", args.listen)))?;
        let bound = listener
            .local_addr()
            .map_err(serve_error("read the bound address".to_owned()))?;
        let shutdown = blocklistd::signal::shutdown_signal();
        match intake {
            Some(intake) => {
                let running = service::Running::start(intake, args.intake_drop)?;
                say!(out, "listening on http://{bound}");
                running.serve(config, listener, shutdown).await
            }
            None => {
                say!(out, "listening on http://{bound}");
                serve::run(config, listener, shutdown)
                    .await
                    .map_err(serve_error("serve".to_owned()))
            }
        }
    })
}

fn serve_error(action: String) -> impl FnOnce(std::io::Error) -> CentreError {
    move |source| CentreError::Serve { action, source }
}

/// Parses a witness's verifier key, the line `blocklist witness-key` prints.
fn parse_witness(vkey: &str) -> Result<Witness, String> {
    Witness::parse_vkey(vkey).map_err(|e| e.to_string())
}

/// Parses a key name (a file, or a pkcs11: URI) without echoing it back on
/// error as clap does: a mistyped URI may hold a PIN (`pin-value=`).
#[derive(Clone, Debug)]
struct KeyNameParser;

impl clap::builder::TypedValueParser for KeyNameParser {
    type Value = KeyName;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<KeyName, clap::Error> {
        let option = arg.map_or_else(|| "a key".to_owned(), |a| a.to_string());
        let invalid = |reason: String| {
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("{option}: {reason}\n"),
            )
            .with_cmd(cmd)
        };
        let text = value
            .to_str()
            .ok_or_else(|| invalid("not UTF-8".to_owned()))?;
        text.parse()
            .map_err(|e: Pkcs11Error| invalid(e.to_string()))
    }
}

fn print_publish(out: &mut Report, report: &PublishReport) -> Result<(), CentreError> {
    for taken in &report.submissions {
        say!(
            out,
            "accepted {}: submission {} of {}, {} operation(s){}",
            taken.name,
            taken.sequence,
            taken.agency,
            taken.operations,
            if taken.urgent { ", urgent" } else { "" }
        );
    }
    for line in &report.invalid {
        note!("skipped {line}");
    }
    if !report.invalid.is_empty() {
        note!("skipped {} invalid line(s)", report.invalid.len());
    }
    match report.version {
        Some(version) => say!(out,
            "published version {version}: {} added, {} updated, {} removed, {} expired purged, {} unchanged, {} duplicate line(s), {} removal(s) not listed; {} entries",
            report.added, report.updated, report.removed, report.purged, report.unchanged, report.duplicates, report.not_listed, report.entries
        ),
        None => say!(out, "no changes: manifest re-signed; {} entries", report.entries),
    }
    for path in &report.written {
        say!(out, "wrote {path}");
    }
    for path in &report.deleted {
        say!(out, "deleted {path}");
    }
    say!(out, "manifest serial {}", report.serial);
    Ok(())
}
