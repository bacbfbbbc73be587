//! Shared helpers for the system tests: compiling C programs against the
//! committed header and the `libblocklist.a` cargo built for the test run.
//! Used by this crate's C tests and by `blocklistd`'s chain suite. Also
//! starting a server process and waiting until it listens, for `blocklistd`'s
//! system tests and benchmarks.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The libraries a Rust static library needs (`rustc --print native-static-libs`).
pub const NATIVE_LIBS: &[&str] = &[
    "-lgcc_s",
    "-lutil",
    "-lrt",
    "-lpthread",
    "-lm",
    "-ldl",
    "-lc",
];

/// Strict C11 with every warning an error.
pub const STRICT: &[&str] = &[
    "-std=c11",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-pedantic",
    "-g",
    "-O1",
];

/// AddressSanitizer and UndefinedBehaviorSanitizer, failing on the first error.
pub const SANITIZE: &[&str] = &[
    "-fsanitize=address,undefined",
    "-fno-omit-frame-pointer",
    "-fno-sanitize-recover=undefined",
];

/// The workspace's root folder (`include/`, `tests/c/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `libblocklist.a` cargo built for this test run: the test's crate (dev-)depends
/// on `blocklist-ffi`, and cargo writes a dependency's static library next to
/// the test executable, in `target/<profile>/deps` (`target/<profile>` holds
/// the one from the last `cargo build -p blocklist-ffi`, possibly older).
pub fn static_library() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let deps = exe.parent().expect("target/<profile>/deps");
    [deps, deps.parent().unwrap_or(deps)]
        .iter()
        .map(|dir| dir.join("libblocklist.a"))
        .find(|lib| lib.exists())
        .unwrap_or_else(|| {
            panic!(
                "libblocklist.a not found near {}: run `cargo build -p blocklist-ffi`",
                exe.display()
            )
        })
}

/// Compiles a C program (plus `tests/c` and `include` on the include path)
/// with strict warnings, and with ASan and UBSan when `sanitize`.
pub fn compile_c(source: &Path, out: &Path, sanitize: bool) -> PathBuf {
    let root = workspace_root();
    let output = Command::new("cc")
        .args(STRICT)
        .args(if sanitize { SANITIZE } else { &[] })
        .arg("-I")
        .arg(root.join("include"))
        .arg("-I")
        .arg(root.join("tests/c"))
        .arg(source)
        .arg(static_library())
        .args(NATIVE_LIBS)
        .arg("-o")
        .arg(out)
        .output()
        .expect("run cc");
    assert!(
        output.status.success(),
        "cc failed on {}:\n{}",
        source.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    out.to_owned()
}

/// Starts `command` with stdout piped and waits for its first line, the
/// `listening on URL` that `blocklist serve` and `blocklistd` print once bound,
/// so a test talks to a port 0 server only when it answers. Returns the child
/// and the URL. On any other first line (or none: the process exited) it kills
/// the child and panics with that line and `context()` (say, the daemon's log).
pub fn spawn_listening(command: &mut Command, context: impl FnOnce() -> String) -> (Child, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {command:?}: {e}"));
    let mut line = String::new();
    let read = BufReader::new(child.stdout.take().expect("piped stdout")).read_line(&mut line);
    match line.trim().strip_prefix("listening on ") {
        Some(url) if read.is_ok() => {
            let url = url.to_owned();
            (child, url)
        }
        _ => {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{command:?}: unexpected first line {line:?} ({read:?}); {}",
                context()
            )
        }
    }
}

/// Writes at `path` an index of one listed number, `+66812345678` (scam
/// call, `th-aoc`), version 1: what a program that only links and runs
/// needs to open and find.
pub fn write_one_number_index(path: &Path) {
    use blocklist_core::index::IndexBuilder;
    use blocklist_core::{Agency, EntryMeta, Kind, Reason, Timestamp};
    let meta = EntryMeta {
        reason: Reason::SCAM_CALL,
        agency: Agency::new("th-aoc").expect("agency"),
        listed_at: Timestamp(1_700_000_000),
        expires_at: None,
    };
    let entries = [(Kind::Number, "+66812345678", &meta)];
    IndexBuilder::new(1, [0; 32], Timestamp::now())
        .write(path, || entries.iter().copied())
        .expect("write the index");
}
