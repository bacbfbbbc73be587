//! Fixtures shared by the core's integration tests: a centre with one key,
//! entries shaped like real reports, and deltas between list states.

use blocklist_core::document::*;
use blocklist_core::verify::{SnapshotFile, Verified, Verifier};
use blocklist_core::*;

pub const NOW: Timestamp = Timestamp(1_760_000_000);

pub fn list() -> ListId {
    ListId::new("th-national").unwrap()
}

pub fn entry(kind: Kind, raw: &str, agency: &str, expires_at: Option<u64>) -> Entry {
    Entry {
        id: Identifier::parse(kind, raw, &Rules::default()).unwrap(),
        meta: EntryMeta {
            reason: Reason::MULE_ACCOUNT,
            agency: Agency::new(agency).unwrap(),
            listed_at: Timestamp(1_750_000_000),
            expires_at: expires_at.map(Timestamp),
        },
    }
}

/// `n` distinct entries of every kind, numbered from `start`.
pub fn entries(start: u64, n: u64) -> Vec<Entry> {
    (start..start + n)
        .map(|i| match i % 3 {
            0 => entry(Kind::Number, &format!("08{:08}", i), "th-aoc", None),
            1 => entry(
                Kind::Account,
                &format!("004/{:010}", i),
                "bank-004",
                Some(1_790_000_000),
            ),
            _ => entry(
                Kind::Domain,
                &format!("scam-{i}.example.com"),
                "police",
                None,
            ),
        })
        .collect()
}

pub fn delta(version: u64, ops: Vec<Op>, state: ListState) -> Delta {
    Delta {
        list: list(),
        version: Version::new(version).unwrap(),
        created_at: NOW,
        ops,
        state,
        submissions: vec![],
        overrides: vec![],
        extensions: vec![],
    }
}

pub fn snapshot(version: u64, entries: Vec<Entry>) -> Snapshot {
    Snapshot {
        list: list(),
        version: Version::new(version).unwrap(),
        created_at: NOW,
        state: ListState::of(&entries),
        entries,
        sequences: Default::default(),
        overrides: vec![],
        origins: vec![],
        extensions: vec![],
    }
}

/// The centre's side for tests: one key for both roles.
pub struct Centre {
    pub key: SecretKey,
    pub root: Vec<u8>,
    pub verifier: Verifier,
}

impl Centre {
    pub fn new() -> Centre {
        Centre::with_key(SecretKey::generate().unwrap())
    }

    pub fn with_key(key: SecretKey) -> Centre {
        Centre::with_root(key, None)
    }

    /// A centre whose root also names `override_keys`, who sign overrides.
    pub fn with_override_keys(override_keys: KeySet) -> Centre {
        Centre::with_root(SecretKey::generate().unwrap(), Some(override_keys))
    }

    fn with_root(key: SecretKey, override_keys: Option<KeySet>) -> Centre {
        let root = TrustRoot {
            override_keys,
            ..TrustRoot::single_key(list(), &key, NOW, NOW.plus(365 * 86_400))
        }
        .sign(&[&key])
        .unwrap();
        let verifier = Verifier::pin(&root).unwrap();
        Centre {
            key,
            root,
            verifier,
        }
    }

    pub fn sign<D: Document>(&self, doc: &D) -> Vec<u8> {
        doc.sign(&[&self.key]).unwrap()
    }

    /// A delta to `version`, signed, then verified for a client at `version - 1`.
    pub fn verified_delta(&self, version: u64, ops: Vec<Op>, state: ListState) -> Verified<Delta> {
        let bytes = self.sign(&delta(version, ops, state));
        self.verifier
            .delta(&bytes, Version::new(version - 1))
            .unwrap()
    }

    /// A snapshot of `entries` at `version`, signed, written to a file, then
    /// verified for an empty client.
    pub fn verified_snapshot(&self, version: u64, entries: Vec<Entry>) -> Verified<SnapshotFile> {
        let bytes = self.sign(&snapshot(version, entries));
        self.verifier.snapshot_file(file_of(&bytes), None).unwrap()
    }
}

/// Deltas 1..=n: each adds `per` entries, and from the second on removes the
/// first third of the previous delta's entries and updates another third.
pub fn chain(c: &Centre, n: u64, per: u64) -> (Vec<Vec<u8>>, Vec<ListState>) {
    let (files, lists) = chain_of_lists(c, n, per);
    (
        files,
        lists
            .iter()
            .map(|held| ListState::of(held.values()))
            .collect(),
    )
}

/// [`chain`], with the list each delta leaves.
pub fn chain_of_lists(
    c: &Centre,
    n: u64,
    per: u64,
) -> (
    Vec<Vec<u8>>,
    Vec<std::collections::HashMap<Identifier, Entry>>,
) {
    let mut held: std::collections::HashMap<Identifier, Entry> = Default::default();
    let mut files = Vec::new();
    let mut lists = Vec::new();
    for v in 1..=n {
        let added = entries(v * 1_000_000, per);
        let mut ops: Vec<Op> = added.iter().cloned().map(Op::Add).collect();
        if v > 1 {
            let previous = entries((v - 1) * 1_000_000, per);
            for (i, e) in previous.into_iter().enumerate() {
                match i % 3 {
                    0 => ops.push(Op::Remove(e.id.clone(), None)),
                    1 => {
                        let mut changed = e.clone();
                        changed.meta.expires_at = Some(Timestamp(1_999_999_999));
                        ops.push(Op::Update(changed));
                    }
                    _ => {}
                }
            }
        }
        for op in &ops {
            match op {
                Op::Add(e) | Op::Update(e) => held.insert(e.id.clone(), e.clone()),
                Op::Remove(id, _) => held.remove(id),
            };
        }
        let state = ListState::of(held.values());
        files.push(c.sign(&delta(v, ops, state)));
        lists.push(held.clone());
    }
    (files, lists)
}

/// An unnamed temporary file holding `bytes`.
pub fn file_of(bytes: &[u8]) -> std::fs::File {
    use std::io::Write as _;
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(bytes).unwrap();
    file
}

/// This test binary run again for its one test `test` (by module path),
/// with `env` set to `dir`: the child process a SIGKILL trial kills (the
/// test sees `env` and plays the child).
pub fn rerun_as_child(test: &str, env: &str, dir: &std::path::Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", test, "--nocapture"])
        .env(env, dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    cmd
}

/// Starts `child` and kills it (SIGKILL) after `delay`; waits for it to end.
pub fn kill_after(mut child: std::process::Command, delay: std::time::Duration) {
    let mut running = child.spawn().unwrap();
    std::thread::sleep(delay);
    running.kill().unwrap(); // SIGKILL on Unix
    running.wait().unwrap();
}

/// Random points of a `full`-long run, for SIGKILL trials: an xorshift
/// seeded from the run's own timing, so each test run kills elsewhere.
pub fn kill_points(full: std::time::Duration) -> impl Iterator<Item = std::time::Duration> {
    let mut seed = u64::from(full.subsec_nanos()) | 1;
    std::iter::from_fn(move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        Some(full.mul_f64((seed % 1000) as f64 / 1000.0))
    })
}

/// `n` entries from `start`, listed at three times: the snapshot's groups
/// then interleave in key order, as those of a list built over time do (so
/// the store sorts them before it appends them).
pub fn listed_over_time(start: u64, n: u64) -> Vec<Entry> {
    let mut all = entries(start, n);
    for (i, e) in all.iter_mut().enumerate() {
        e.meta.listed_at = Timestamp(e.meta.listed_at.0 + i as u64 % 3);
    }
    all
}
