//! What `libblocklist.a` holds: only the read side (identifiers,
//! normalisation, index, lookup), so a bank's program links its own SQLite
//! beside it, and no SQLite, signature or hash code rides along.

use std::path::{Path, PathBuf};
use std::process::Command;

use blocklist_tests::{
    static_library, workspace_root, write_one_number_index, NATIVE_LIBS, STRICT,
};

/// Crates of the write side that must never reach the C library.
const WRITE_SIDE: &[&str] = &[
    "blocklist-core",
    "rusqlite",
    "libsqlite3-sys",
    "ed25519-dalek",
    "sha2",
];

#[test]
fn the_static_library_defines_no_sqlite_signature_or_hash_symbols() {
    let output = match Command::new("nm")
        .args(["--defined-only", "-A"])
        .arg(static_library())
        .output()
    {
        Ok(output) if output.status.success() => output,
        other => {
            eprintln!("skipped: nm cannot list libblocklist.a here ({other:?})");
            return;
        }
    };
    let symbols = String::from_utf8_lossy(&output.stdout);
    assert!(
        symbols.lines().count() > 100,
        "nm listed too little:\n{symbols}"
    );
    let foreign: Vec<&str> = symbols
        .lines()
        .filter(|line| {
            ["sqlite3_", "ed25519", "sha2"]
                .iter()
                .any(|s| line.contains(s))
        })
        .take(10)
        .collect();
    assert!(
        foreign.is_empty(),
        "write-side symbols in libblocklist.a:\n{}",
        foreign.join("\n")
    );
}

#[test]
fn the_c_library_depends_on_no_write_side_crate() {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "tree",
            "-p",
            "blocklist-ffi",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .arg("--manifest-path")
        .arg(workspace_root().join("Cargo.toml"))
        .output()
        .expect("run cargo tree");
    let tree = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let names: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(names.contains(&"blocklist-lookup"), "{tree}");
    for crate_name in WRITE_SIDE {
        assert!(
            !names.contains(crate_name),
            "blocklist-ffi depends on {crate_name}:\n{tree}"
        );
    }
}

/// The system's static SQLite, if the C compiler can find one.
fn system_static_sqlite() -> Option<PathBuf> {
    let output = Command::new("cc")
        .arg("-print-file-name=libsqlite3.a")
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    // Without one, cc prints the bare name back.
    (path.is_absolute() && path.exists()).then_some(path)
}

/// Links `tests/c/own_sqlite.c` with the two archives in the given order.
fn link(out: &Path, archives: [&Path; 2]) -> std::process::Output {
    let root = workspace_root();
    Command::new("cc")
        .args(STRICT)
        .arg("-I")
        .arg(root.join("include"))
        .arg("-I")
        .arg(root.join("tests/c"))
        .arg(root.join("tests/c/own_sqlite.c"))
        .args(archives)
        .args(NATIVE_LIBS)
        .arg("-o")
        .arg(out)
        .output()
        .expect("run cc")
}

#[test]
fn a_program_linking_its_own_static_sqlite_and_libblocklist_builds_in_either_order_and_runs() {
    let Some(sqlite) = system_static_sqlite() else {
        eprintln!("skipped: no static libsqlite3.a here (apt-get install libsqlite3-dev)");
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    write_one_number_index(&dir.path().join("lookup.idx"));
    let library = static_library();
    let mut versions = Vec::new();
    for (name, archives) in [
        ("blocklist_first", [library.as_path(), sqlite.as_path()]),
        ("sqlite_first", [sqlite.as_path(), library.as_path()]),
    ] {
        let exe = dir.path().join(name);
        let built = link(&exe, archives);
        assert!(
            built.status.success(),
            "{name}: link failed:\n{}",
            String::from_utf8_lossy(&built.stderr)
        );
        let ran = Command::new(&exe)
            .arg(dir.path())
            .output()
            .expect("run own_sqlite");
        let stdout = String::from_utf8_lossy(&ran.stdout).into_owned();
        assert!(
            ran.status.success() && stdout.contains("own_sqlite: ok"),
            "{name}:\n{stdout}"
        );
        versions.push(stdout.lines().next().unwrap_or_default().to_owned());
    }
    // Both orders run the one SQLite there is: the program's.
    assert_eq!(versions[0], versions[1]);
}
