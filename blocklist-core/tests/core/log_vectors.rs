//! Conformance vectors of the transparency log (docs/FORMAT.md, "Transparency
//! log", rules L1-L7): small logs laid out as tiles, checkpoints signed by
//! root 1's publish key (seed 02) and refused variants, witness
//! cosignatures (witness key seed 07), in
//! `blocklist-core/conformance/log/`, and `log.tsv`, what a reader must
//! answer for each. Generated from fixed seeds and committed; the test fails
//! when the committed files differ (`BLOCKLIST_BLESS=1` rewrites them).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use blocklist_core::document::{DocType, FileRef, ListId, Version};
use blocklist_core::log::checkpoint::origin;
use blocklist_core::log::follow::bundles_between;
use blocklist_core::log::{
    Checkpoint, LogHead, Record, SignedCheckpoint, TiledLog, Witness, Witnesses,
};
use blocklist_core::verify::Verifier;
use blocklist_core::{SecretKey, Sha256, Signer};

fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance")
}

/// The files a log directory holds after appending `records`, with the
/// partial tiles of every size in `stops` (the sizes checkpoints name).
fn log_files(records: &[Vec<u8>], stops: &[usize]) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut log = TiledLog::default();
    for (i, record) in records.iter().enumerate() {
        files.extend(log.append(record.clone()));
        if stops.contains(&(i + 1)) {
            files.extend(log.edge_tiles());
        }
    }
    files
}

fn delta_record(version: u64, seed: &str) -> Vec<u8> {
    Record {
        doc: DocType::Delta,
        file: FileRef {
            version: Version::new(version).unwrap(),
            sha256: Sha256::of(format!("{seed} {version}").as_bytes()),
            size: 100 + version,
        },
    }
    .to_bytes()
}

fn signed(list: &str, records: &[Vec<u8>], key: &SecretKey) -> Vec<u8> {
    let mut log = TiledLog::default();
    records.iter().for_each(|r| {
        log.append(r.clone());
    });
    let head = Checkpoint {
        origin: origin(&ListId::new(list).unwrap()),
        size: log.size(),
        root: log.root(),
    };
    SignedCheckpoint::sign(head, &[key as &dyn Signer])
        .unwrap()
        .as_bytes()
        .to_vec()
}

/// Every file of `conformance/log/` and the `log.tsv` table.
fn log_cases() -> (BTreeMap<String, Vec<u8>>, String) {
    let publish = SecretKey::from_seed(&[0x02; 32]);
    let stranger = SecretKey::from_seed(&[0x05; 32]);
    let mut files = BTreeMap::new();
    let mut put = |dir: &str, more: BTreeMap<String, Vec<u8>>| {
        for (path, bytes) in more {
            files.insert(format!("{dir}/{path}"), bytes);
        }
    };
    let main: Vec<Vec<u8>> = (1..=300).map(|v| delta_record(v, "main")).collect();
    put("main", log_files(&main, &[3, 5, 300]));
    let fork: Vec<Vec<u8>> = main[..3]
        .iter()
        .cloned()
        .chain((4..=5).map(|v| delta_record(v, "fork")))
        .collect();
    put("fork", log_files(&fork, &[5]));
    let mut cut = log_files(&main[..3], &[3]);
    cut.get_mut("tile/entries/000.p/3").unwrap().pop();
    put("cut", cut);
    let mut bad = main[..3].to_vec();
    bad[1] = String::from_utf8(bad[1].clone())
        .unwrap()
        .to_uppercase()
        .replace("DELTA", "delta")
        .into_bytes();
    put("bad-record", log_files(&bad, &[3]));
    let mut checkpoints = BTreeMap::new();
    checkpoints.insert("main-3", signed("conformance", &main[..3], &publish));
    checkpoints.insert("main-5", signed("conformance", &main[..5], &publish));
    checkpoints.insert("main-300", signed("conformance", &main, &publish));
    checkpoints.insert("fork-5", signed("conformance", &fork, &publish));
    checkpoints.insert("bad-record-3", signed("conformance", &bad, &publish));
    checkpoints.insert("main-300-stranger", signed("conformance", &main, &stranger));
    checkpoints.insert("main-300-other-list", signed("other", &main, &publish));
    let good = String::from_utf8(checkpoints["main-300"].clone()).unwrap();
    checkpoints.insert(
        "main-300-extra-line",
        good.replacen("\n\n", "\nextra\n\n", 1).into_bytes(),
    );
    checkpoints.insert(
        "main-300-size-changed",
        good.replacen("\n300\n", "\n299\n", 1).into_bytes(),
    );
    // Witness cosignatures (L7), by `witness.conformance` (seed 07) at a
    // fixed time.
    let witness_key = SecretKey::from_seed(&[0x07; 32]);
    let witness = Witness::new("witness.conformance", witness_key.public_key()).unwrap();
    files.insert(
        "witnesses/witness.vkey".to_owned(),
        witness.vkey().into_bytes(),
    );
    let main_300 = SignedCheckpoint::parse(&checkpoints["main-300"]).unwrap();
    let cosigned = main_300
        .cosign("witness.conformance", &witness_key, 1_700_000_000)
        .unwrap();
    let by_stranger = main_300
        .cosign("witness.conformance", &stranger, 1_700_000_000)
        .unwrap();
    let text = String::from_utf8(cosigned.as_bytes().to_vec()).unwrap();
    let line = text.lines().last().unwrap().to_owned();
    let blob = STANDARD.decode(line.rsplit(' ').next().unwrap()).unwrap();
    let mut later = blob.clone();
    later[11] ^= 1;
    let retimed = text.replace(
        &line,
        &line.replace(&STANDARD.encode(&blob), &STANDARD.encode(&later)),
    );
    checkpoints.insert("main-300-cosigned", cosigned.as_bytes().to_vec());
    checkpoints.insert(
        "main-300-cosigned-by-stranger",
        by_stranger.as_bytes().to_vec(),
    );
    checkpoints.insert("main-300-cosigned-time-changed", retimed.into_bytes());
    for (name, bytes) in checkpoints {
        files.insert(format!("checkpoints/{name}"), bytes);
    }
    let table = "\
# rule\tcheck\texpected
# checkpoint FILE: verify FILE as the list `conformance`'s checkpoint under documents/valid/root-1.root's publish keys (L4).
# extend HELD_DIR HELD NEW_DIR NEW: as a replica holding HELD (checked from entry 0 with HELD_DIR's entry bundles; `-` for none), take NEW with NEW_DIR's entries from HELD's size (L3, L6).
# cosigned FILE VKEY: FILE as a checkpoint that the witness of verifier key VKEY must have cosigned (1 of 1 needed; L7).
L4\tcheckpoint checkpoints/main-300\tok
L4\tcheckpoint checkpoints/main-300-stranger\t!Signature
L4\tcheckpoint checkpoints/main-300-other-list\t!Origin
L4\tcheckpoint checkpoints/main-300-extra-line\t!Checkpoint
L4\tcheckpoint checkpoints/main-300-size-changed\t!Signature
L6\textend - - main checkpoints/main-300\tok
L6\textend - - main checkpoints/main-3\tok
L6\textend main checkpoints/main-3 main checkpoints/main-300\tok
L6\textend main checkpoints/main-3 fork checkpoints/fork-5\tok
L6\textend main checkpoints/main-300 fork checkpoints/fork-5\t!Shrank
L6\textend fork checkpoints/fork-5 main checkpoints/main-300\t!Fork
L6\textend - - fork checkpoints/main-5\t!Fork
L6\textend main checkpoints/main-3 fork checkpoints/main-5\t!Fork
L3\textend - - cut checkpoints/main-3\t!Tile
L1\textend - - bad-record checkpoints/bad-record-3\t!Record
L7\tcosigned checkpoints/main-300-cosigned witnesses/witness.vkey\tok
L7\tcosigned checkpoints/main-300 witnesses/witness.vkey\t!Witnesses
L7\tcosigned checkpoints/main-300-cosigned-by-stranger witnesses/witness.vkey\t!Witnesses
L7\tcosigned checkpoints/main-300-cosigned-time-changed witnesses/witness.vkey\t!Witness
"
    .to_owned();
    (files, table)
}

#[test]
fn committed_log_vectors_are_what_the_generator_makes() {
    let (files, table) = log_cases();
    let dir = conformance_dir().join("log");
    if std::env::var_os("BLOCKLIST_BLESS").is_some() {
        let _ = std::fs::remove_dir_all(&dir);
        for (file, bytes) in &files {
            let path = dir.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
        std::fs::write(conformance_dir().join("log.tsv"), &table).unwrap();
    }
    for (file, bytes) in &files {
        let committed = std::fs::read(dir.join(file))
            .unwrap_or_else(|e| panic!("log/{file}: {e} (BLOCKLIST_BLESS=1 writes it)"));
        assert!(
            committed == *bytes,
            "log/{file} differs from the generator's (BLOCKLIST_BLESS=1 rewrites it)"
        );
    }
    assert_eq!(
        std::fs::read_to_string(conformance_dir().join("log.tsv")).unwrap(),
        table,
        "log.tsv differs from the generator's (BLOCKLIST_BLESS=1 rewrites it)"
    );
}

/// The name of the error variant, as the table's `!X` says it.
fn variant(error: &blocklist_core::log::LogError) -> String {
    let debug = format!("{error:?}");
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap()
        .to_owned()
}

/// Takes `checkpoint` after `held` with the entries of the log in `dir`.
fn extend(
    held: Option<&LogHead>,
    dir: &Path,
    checkpoint: &[u8],
) -> Result<LogHead, blocklist_core::log::LogError> {
    let offered = SignedCheckpoint::parse(checkpoint)?;
    let from = held.map_or(0, |h| h.checkpoint().checkpoint().size);
    let mut entries = Vec::new();
    for fetch in bundles_between(from, offered.checkpoint().size.max(from)) {
        let bytes = std::fs::read(dir.join(&fetch.path)).unwrap();
        entries.extend(fetch.new_entries(&bytes)?);
    }
    let root = root_1();
    let root = root.root();
    LogHead::extend(held, offered, &root.list, &root.publish_keys, entries).map(|(head, _)| head)
}

fn root_1() -> Verifier {
    let path = conformance_dir().join("documents/valid/root-1.root");
    Verifier::pin(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn log_vectors_are_taken_or_refused_for_the_named_reason() {
    let table = std::fs::read_to_string(conformance_dir().join("log.tsv")).unwrap();
    let dir = conformance_dir().join("log");
    let read = |file: &str| std::fs::read(dir.join(file)).unwrap();
    let mut rows = 0;
    for (line, text) in table.lines().enumerate() {
        if text.starts_with('#') || text.is_empty() {
            continue;
        }
        let [rule, check, expected] = text.split('\t').collect::<Vec<_>>()[..] else {
            panic!("log.tsv:{}: three fields", line + 1)
        };
        let args: Vec<&str> = check.split(' ').collect();
        let got = match args[..] {
            ["checkpoint", file] => {
                let root = root_1();
                SignedCheckpoint::parse(&read(file))
                    .and_then(|c| c.verify(&root.root().list, &root.root().publish_keys))
            }
            ["extend", held_dir, held, new_dir, new] => {
                let head = (held != "-").then(|| {
                    extend(None, &dir.join(held_dir), &read(held)).expect("HELD is taken")
                });
                extend(head.as_ref(), &dir.join(new_dir), &read(new)).map(|_| ())
            }
            ["cosigned", file, vkey] => {
                let vkey = String::from_utf8(read(vkey)).unwrap();
                let witnesses =
                    Witnesses::new(vec![Witness::parse_vkey(&vkey).unwrap()], 1).unwrap();
                SignedCheckpoint::parse(&read(file)).and_then(|c| witnesses.check(&c).map(|_| ()))
            }
            _ => panic!("log.tsv:{}: unknown check {check}", line + 1),
        };
        let got = match got {
            Ok(()) => "ok".to_owned(),
            Err(e) => format!("!{}", variant(&e)),
        };
        assert_eq!(got, expected, "log.tsv:{} ({rule} {check})", line + 1);
        rows += 1;
    }
    assert!(rows > 10);
}
