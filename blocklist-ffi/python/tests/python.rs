//! Runs the Python module's own suite (`tests/test_blocklist.py`, unittest)
//! on index files and heartbeats written here: against the library cargo
//! built for this run, and, where maturin is installed, against the wheel it
//! builds, installed into a fresh virtual environment.

use std::path::{Path, PathBuf};
use std::process::Command;

use blocklist_lookup::index::{Beat, HeartbeatWriter, IndexBuilder};
use blocklist_lookup::{Agency, EntryMeta, Kind, Reason, Timestamp};

const SUITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/test_blocklist.py");
const README: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
const STUB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/blocklist.pyi");
const DAY: u64 = 86_400;

#[test]
fn python_suite_passes_against_the_module_cargo_built() {
    if !has_python() {
        return;
    }
    let work = tempfile::tempdir().expect("temp dir");
    let fixtures = write_fixtures(&work.path().join("fixtures"));
    let module_dir = work.path().join("module");
    std::fs::create_dir(&module_dir).expect("mkdir module");
    // The name CPython looks for: the module `blocklist`, built for the stable ABI.
    std::fs::copy(cargo_built_module(), module_dir.join("blocklist.abi3.so"))
        .expect("copy the module");
    run_suite(
        Command::new("python3").env("PYTHONPATH", &module_dir),
        &fixtures,
        work.path(),
    );
}

#[test]
fn python_suite_passes_against_the_wheel_maturin_builds() {
    if !has_python() {
        return;
    }
    if Command::new("maturin").arg("--version").output().is_err() {
        eprintln!(
            "skipped: maturin is not installed (`pip install maturin`), so the wheel is not built"
        );
        return;
    }
    let work = tempfile::tempdir().expect("temp dir");
    let wheels = work.path().join("wheels");
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    // A target folder of its own: maturin builds pyo3 as an extension
    // module (no libpython link), which would otherwise rebuild the test
    // build's pyo3 each time the two alternate.
    let target = cargo_built_module()
        .ancestors()
        .find(|dir| dir.file_name().is_some_and(|name| name == "target"))
        .map_or_else(|| work.path().join("target"), |dir| dir.join("maturin"));
    succeed(
        Command::new("maturin")
            .args(["build", "--quiet", "--manifest-path"])
            .arg(&manifest)
            .arg("--out")
            .arg(&wheels)
            .env("CARGO_TARGET_DIR", &target),
        "maturin build",
    );
    let wheel = std::fs::read_dir(&wheels)
        .expect("list the wheels")
        .map(|entry| entry.expect("wheel entry").path())
        .find(|path| path.extension().is_some_and(|ext| ext == "whl"))
        .expect("maturin wrote a wheel");
    let name = wheel.file_name().unwrap_or_default().to_string_lossy();
    assert!(name.contains("abi3"), "{name} is not an abi3 wheel");
    let venv = work.path().join("venv");
    succeed(
        Command::new("python3").args(["-m", "venv"]).arg(&venv),
        "python3 -m venv",
    );
    let python = venv.join("bin/python");
    succeed(
        Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "--no-index", "--no-deps"])
            .arg(&wheel),
        "pip install the wheel",
    );
    let fixtures = write_fixtures(&work.path().join("fixtures"));
    run_suite(&mut Command::new(&python), &fixtures, work.path());
}

/// Whether `python3` runs here; says so when it does not.
fn has_python() -> bool {
    let found = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    if !found {
        eprintln!("skipped: python3 is not installed, so the Python module is not tested");
    }
    found
}

/// The module cargo built for this test run: the crate's cdylib, written
/// beside the test executable's `deps` folder.
fn cargo_built_module() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let deps = exe.parent().expect("target/<profile>/deps");
    [deps, deps.parent().unwrap_or(deps)]
        .iter()
        .map(|dir| dir.join("libblocklist_python.so"))
        .find(|lib| lib.exists())
        .unwrap_or_else(|| panic!("libblocklist_python.so not found near {}", exe.display()))
}

/// Runs the unittest suite with `python` from `cwd` (not the source tree,
/// so only the module under test can be imported), fixtures at `fixtures`.
fn run_suite(python: &mut Command, fixtures: &Path, cwd: &Path) {
    let suite = cwd.join("test_blocklist.py");
    std::fs::copy(SUITE, &suite).expect("copy the suite");
    succeed(
        python
            .args(["-m", "unittest", "-v", "test_blocklist"])
            .current_dir(cwd)
            .env("BLOCKLIST_PY_FIXTURES", fixtures)
            .env("BLOCKLIST_PY_STUB", STUB)
            .env("BLOCKLIST_PY_README", README)
            .env_remove("PYTHONHOME"),
        "the Python suite",
    );
}

/// Runs `command` and fails the test with its output unless it succeeds.
fn succeed(command: &mut Command, what: &str) {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{what} failed:\n{stdout}\n{stderr}");
    // unittest reports on stderr; shown with `--nocapture`.
    eprintln!("{stdout}{stderr}");
}

fn meta(reason: Reason, agency: &str, listed_at: u64, expires_at: Option<u64>) -> EntryMeta {
    EntryMeta {
        reason,
        agency: Agency::new(agency).expect("agency id"),
        listed_at: Timestamp(listed_at),
        expires_at: expires_at.map(Timestamp),
    }
}

/// The entries of version 1 (the suite's expectations name them).
fn version_one(now: u64) -> Vec<(Kind, &'static str, EntryMeta)> {
    vec![
        (
            Kind::Number,
            "+66812345678",
            meta(Reason::SCAM_CALL, "th-aoc", 1_700_000_000, None),
        ),
        (
            Kind::Domain,
            "scam.example",
            meta(Reason::PHISHING, "th-dga", 1_700_000_400, None),
        ),
        (
            Kind::Account,
            "TH:004:1234567890",
            meta(
                Reason::MULE_ACCOUNT,
                "bank-004",
                1_700_000_200,
                Some(4_000_000_000),
            ),
        ),
        // Expired an hour ago: must no longer match.
        (
            Kind::Number,
            "+66898765432",
            meta(Reason::SCAM_SMS, "th-aoc", 1_700_000_100, Some(now - 3600)),
        ),
    ]
}

fn write_index(path: &Path, version: u64, created_at: u64, entries: &[(Kind, &str, EntryMeta)]) {
    IndexBuilder::new(version, [7; 32], Timestamp(created_at))
        .write(path, || {
            entries
                .iter()
                .map(|(kind, value, meta)| (*kind, *value, meta))
        })
        .expect("write the index");
}

/// Writes the suite's fixtures into `root` and returns it:
///
/// - `data/`: version 1, made a minute ago, no heartbeat;
/// - `old/`: version 1 made two days ago, no heartbeat;
/// - `beating/`, `frozen/`, `unconfirmed/`: the old data with a daemon's
///   heartbeat saying fresh, stale (not confirmed for an hour past its
///   bound), and no version confirmed yet;
/// - `next.idx`: version 2, version 1 plus `+66891112222`.
fn write_fixtures(root: &Path) -> PathBuf {
    let now = Timestamp::now().0;
    let one = version_one(now);
    for (dir, created_at) in [
        ("data", now - 60),
        ("old", now - 2 * DAY),
        ("beating", now - 2 * DAY),
        ("frozen", now - 2 * DAY),
        ("unconfirmed", now - 2 * DAY),
    ] {
        std::fs::create_dir_all(root.join(dir)).expect("mkdir fixture");
        write_index(&root.join(dir).join("lookup.idx"), 1, created_at, &one);
    }
    for (dir, beat) in [
        (
            "beating",
            Some(Beat {
                confirmed_at: Timestamp(now - 60),
                fresh_until: Timestamp(now + DAY),
            }),
        ),
        (
            "frozen",
            Some(Beat {
                confirmed_at: Timestamp(now - DAY - 3600),
                fresh_until: Timestamp(now - 3600),
            }),
        ),
        ("unconfirmed", None),
    ] {
        let writer = HeartbeatWriter::create(&root.join(dir)).expect("create the heartbeat");
        if let Some(beat) = beat {
            writer.beat(beat);
        }
    }
    let mut two = one;
    two.push((
        Kind::Number,
        "+66891112222",
        meta(Reason::FRAUD, "th-aoc", 1_700_000_500, None),
    ));
    write_index(&root.join("next.idx"), 2, now - 30, &two);
    root.to_owned()
}
