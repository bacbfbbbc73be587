//! libblocklist from C: each program under `tests/c/` is compiled with the
//! system C compiler (`cc -std=c11 -Wall -Wextra -Werror -pedantic`) against
//! the committed `include/blocklist.h` and the static library cargo built
//! for this test run, then run on index files made here with `IndexBuilder`.

use std::path::Path;

use blocklist_tests::{compile_c, workspace_root, SANITIZE};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use blocklist_core::index::{Beat, HeartbeatWriter, IndexBuilder, HEARTBEAT_FILE};
use blocklist_core::{Agency, EntryMeta, Kind, Reason, Timestamp};

/// Whether `cc -fsanitize=address,undefined` builds programs that run here.
fn sanitizers_work() -> bool {
    static WORKS: OnceLock<bool> = OnceLock::new();
    *WORKS.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let source = dir.path().join("probe.c");
        std::fs::write(&source, "int main(void) { return 0; }\n").expect("write probe");
        let exe = dir.path().join("probe");
        let built = Command::new("cc")
            .args(SANITIZE)
            .arg(&source)
            .arg("-o")
            .arg(&exe)
            .status()
            .is_ok_and(|s| s.success());
        built && Command::new(&exe).status().is_ok_and(|s| s.success())
    })
}

/// How a C program is built and run: each of the checked ways fails it on
/// any memory error or leak.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Under {
    /// Built and run as a bank would.
    Plain,
    /// Built with ASan and UBSan (`SANITIZE`).
    Sanitizers,
    /// Run under valgrind's memcheck, as a bank's CI gate does: any memory
    /// error, or a leak that is definite or possible (an interior pointer
    /// only), fails the run.
    Valgrind,
}

impl Under {
    /// The sanitizers where they work here, else a plain build.
    fn sanitizers_if_they_work() -> Under {
        if sanitizers_work() {
            Under::Sanitizers
        } else {
            Under::Plain
        }
    }

    /// Compiles `source` into `out` for this way of running.
    fn compile(self, source: &Path, out: &Path) -> std::path::PathBuf {
        compile_c(source, out, self == Under::Sanitizers)
    }

    /// The command that runs `exe` this way.
    fn command(self, exe: &Path) -> Command {
        let mut command = match self {
            Under::Valgrind => {
                let mut valgrind = Command::new("valgrind");
                valgrind
                    .args([
                        "--tool=memcheck",
                        "--error-exitcode=99",
                        "--leak-check=full",
                        "--errors-for-leak-kinds=definite,possible",
                        "--show-leak-kinds=definite,possible",
                    ])
                    // A forked child has no copy of its parent's reload
                    // thread, so what that thread holds looks lost there:
                    // the fork case runs plain and under the sanitizers.
                    .env("BLOCKLIST_TEST_NO_FORK", "1")
                    .arg(exe);
                valgrind
            }
            Under::Plain | Under::Sanitizers => Command::new(exe),
        };
        command
            .env(
                "ASAN_OPTIONS",
                "detect_leaks=1:abort_on_error=0:exitcode=23",
            )
            .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1");
        command
    }
}

fn assert_passed(name: &str, output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{name} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn meta(reason: Reason, agency: &str, listed_at: u64, expires_at: Option<u64>) -> EntryMeta {
    EntryMeta {
        reason,
        agency: Agency::new(agency).expect("valid agency"),
        listed_at: Timestamp(listed_at),
        expires_at: expires_at.map(Timestamp),
    }
}

/// The entries the C programs expect (see the comment atop `tests/c/correctness.c`).
fn listed_entries() -> Vec<(Kind, String, EntryMeta)> {
    vec![
        (
            Kind::Number,
            "+66812345678".into(),
            meta(Reason::SCAM_CALL, "th-aoc", 1_700_000_000, None),
        ),
        (
            Kind::Number,
            "+66898765432".into(),
            meta(Reason::SCAM_SMS, "th-aoc", 900_000_000, Some(1_000_000_000)),
        ),
        (
            Kind::Account,
            "TH:004:1234567890".into(),
            meta(
                Reason::MULE_ACCOUNT,
                "bank-004",
                1_700_000_200,
                Some(4_000_000_000),
            ),
        ),
        (
            Kind::Account,
            "GB82WEST12345698765432".into(),
            meta(Reason::MULE_ACCOUNT, "uk-nca", 1_700_000_300, None),
        ),
        (
            Kind::Domain,
            "scam.example".into(),
            meta(Reason::PHISHING, "th-dga", 1_700_000_400, None),
        ),
    ]
}

fn write_index(
    path: &Path,
    version: u64,
    created_at: Timestamp,
    entries: &[(Kind, String, EntryMeta)],
) {
    IndexBuilder::new(version, [7; 32], created_at)
        .write(path, || {
            entries
                .iter()
                .map(|(kind, value, meta)| (*kind, value.as_str(), meta))
        })
        .expect("write the index");
}

/// The folder the correctness and error programs run in.
pub(crate) fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    for sub in ["data", "empty", "work", "work2"] {
        std::fs::create_dir(root.join(sub)).expect("mkdir");
    }
    let now = Timestamp::now();
    let entries = listed_entries();
    write_index(&root.join("data/lookup.idx"), 5, now, &entries);
    write_index(&root.join("older.idx"), 3, now, &entries);
    write_index(
        &root.join("aged.idx"),
        1,
        Timestamp(1_700_000_000),
        &entries,
    );
    let mut newer = entries;
    newer.push((
        Kind::Number,
        "+66899999999".into(),
        meta(Reason::FRAUD, "th-aoc", 1_700_000_500, None),
    ));
    write_index(&root.join("newer.idx"), 6, now, &newer);
    dir
}

/// Compiles `tests/c/<name>.c` and runs it, `under` the given checks, on a
/// fresh fixture.
fn run_fixture_program(name: &str, under: Under) -> String {
    let fixture = fixture();
    let source = workspace_root().join(format!("tests/c/{name}.c"));
    let exe = under.compile(&source, &fixture.path().join(name.replace('/', "_")));
    let output = under
        .command(&exe)
        .arg(fixture.path())
        .output()
        .expect("run the C program");
    assert_passed(name, &output)
}

#[test]
fn checks_of_every_kind_answer_with_the_listed_metadata() {
    let out = run_fixture_program("correctness", Under::Plain);
    assert!(out.contains("correctness: ok"), "{out}");
}

#[test]
fn structs_grow_by_the_header_rule_and_keys_answer_as_their_text_or_as_made_never_a_wrong_hit() {
    let out = run_fixture_program("growth", Under::sanitizers_if_they_work());
    assert!(out.contains("growth: ok"), "{out}");
}

#[test]
fn a_program_compiled_against_the_frozen_abi_1_header_works_against_this_library() {
    let out = run_fixture_program("abi1/older_program", Under::sanitizers_if_they_work());
    assert!(out.contains("older_program: ok"), "{out}");
}

#[test]
fn every_error_code_is_returned_where_the_header_documents_it() {
    let out = run_fixture_program("errors", Under::Plain);
    assert!(out.contains("errors: ok"), "{out}");
}

/// Runs `tests/c/threads.c` for `seconds` with `threads` checkers while this
/// thread publishes a new index version as fast as it can, every fifth
/// publication a corrupt file; returns the program's report line.
fn checks_during_swaps(seconds: f64, threads: u32, under: Under) -> Report {
    let dir = tempfile::tempdir().expect("temp dir");
    let index = dir.path().join("lookup.idx");
    let references = dir.path().join("references.tsv");
    let listed = reference_entries();
    let mut lines = String::new();
    for (kind, raw, listed, reason) in reference_queries(&listed) {
        lines.push_str(&format!(
            "{}\t{raw}\t{}\t{}\n",
            kind.code(),
            u8::from(listed),
            reason.0
        ));
    }
    std::fs::write(&references, lines).expect("write references");
    let with_filler = |version: u64| {
        let mut entries = listed.clone();
        entries.extend((0..2_000u64).map(|i| {
            let number = format!("+6662{:07}", (version * 7_919 + i * 104_729) % 10_000_000);
            (
                Kind::Number,
                number,
                meta(Reason::FRAUD, "filler", 1_700_000_000, None),
            )
        }));
        entries.sort_by(|a, b| a.1.cmp(&b.1));
        entries.dedup_by(|a, b| a.1 == b.1);
        entries
    };
    write_index(&index, 1, Timestamp::now(), &with_filler(1));

    let exe = under.compile(
        &workspace_root().join("tests/c/threads.c"),
        &dir.path().join("threads"),
    );
    let mut child = under
        .command(&exe)
        .arg(&index)
        .arg(&references)
        .arg(seconds.to_string())
        .arg(threads.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start threads");
    // Swaps start once the program has opened the index (a slow start, as
    // under valgrind, would otherwise meet a corrupt file at open); at EOF
    // it failed before, and its output says why.
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut printed = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut printed).expect("read the program's output");
    let mut version = 1;
    let mut published = 0u32;
    while child.try_wait().expect("poll the C program").is_none() {
        published += 1;
        if published % 5 == 0 {
            // A corrupt file, published as atomically as a good one.
            let tmp = dir.path().join("corrupt.tmp");
            std::fs::write(&tmp, vec![0xA5u8; 4096]).expect("write corrupt");
            std::fs::rename(&tmp, &index).expect("publish corrupt");
        } else {
            version += 1;
            write_index(&index, version, Timestamp::now(), &with_filler(version));
        }
        std::thread::sleep(Duration::from_millis(3));
    }
    std::io::Read::read_to_string(&mut stdout, &mut printed).expect("read the program's output");
    let mut output = child.wait_with_output().expect("collect output");
    output.stdout = printed.into_bytes();
    let line = assert_passed("threads", &output);
    let report = Report::parse(&line);
    assert_eq!(report.get("errors"), 0, "{line}");
    assert_eq!(report.get("wrong"), 0, "{line}");
    assert!(report.get("checks") > 1000, "{line}");
    // Under valgrind every thread runs in turn and a reload validates the
    // whole file many times slower: on a loaded machine the handle gets a
    // handful of reload attempts in the run, one in five meeting a corrupt
    // file on purpose, so one swap is what can be asked of it there.
    let swaps = if under == Under::Valgrind { 1 } else { 3 };
    assert!(
        report.get("reloads") >= swaps,
        "too few swaps seen: {line} (published {version} versions)"
    );
    assert!(
        report.get("last_version") > report.get("first_version"),
        "{line}"
    );
    let summary = line
        .lines()
        .find(|l| l.starts_with("checks="))
        .unwrap_or_default();
    println!(
        "{summary} (published {version} versions, {} corrupt files)",
        published / 5
    );
    report
}

/// The listed half of the threads test's reference set.
fn reference_entries() -> Vec<(Kind, String, EntryMeta)> {
    let mut entries = listed_entries();
    entries.extend((0..300u64).map(|i| {
        (
            Kind::Number,
            format!("+66810{:06}", i * 37),
            meta(Reason::SCAM_CALL, "th-aoc", 1_700_000_000, None),
        )
    }));
    entries.extend((0..100u64).map(|i| {
        (
            Kind::Domain,
            format!("scam{i}.example"),
            meta(Reason::PHISHING, "th-dga", 1_700_000_000, None),
        )
    }));
    entries
}

/// Queries as a customer would type them: every listed entry, and as many
/// identifiers that are not listed (expired ones count as not listed).
fn reference_queries(listed: &[(Kind, String, EntryMeta)]) -> Vec<(Kind, String, bool, Reason)> {
    let now = Timestamp::now();
    let mut queries: Vec<_> = listed
        .iter()
        .map(|(kind, value, meta)| (*kind, value.clone(), meta.is_active(now), meta.reason))
        .collect();
    queries.extend((0..300u64).map(|i| {
        (
            Kind::Number,
            format!("081 0{:06}", i * 37 + 1),
            false,
            Reason(0),
        )
    }));
    queries.extend((0..100u64).map(|i| {
        (
            Kind::Domain,
            format!("www.clean{i}.example"),
            false,
            Reason(0),
        )
    }));
    queries.extend((0..100u64).map(|i| {
        (
            Kind::Domain,
            format!("https://x.scam{i}.example/login"),
            true,
            Reason::PHISHING,
        )
    }));
    queries
}

/// `key=value` pairs of the threads program's report line.
struct Report(Vec<(String, u64)>);

impl Report {
    fn parse(line: &str) -> Report {
        let pairs = line
            .lines()
            .find(|l| l.starts_with("checks="))
            .unwrap_or_else(|| panic!("no report line in {line:?}"))
            .split_whitespace()
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.parse().expect("numeric report value")))
            .collect();
        Report(pairs)
    }

    fn get(&self, key: &str) -> u64 {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .unwrap_or_else(|| panic!("no {key} in the report"))
            .1
    }
}

#[test]
fn many_threads_check_without_error_while_the_index_is_swapped_repeatedly() {
    checks_during_swaps(3.0, 4, Under::Plain);
}

#[test]
fn programs_run_clean_under_address_and_undefined_behaviour_sanitizers() {
    if !sanitizers_work() {
        eprintln!("skipped: cc -fsanitize=address,undefined does not build working programs here");
        return;
    }
    for name in ["correctness", "errors"] {
        let out = run_fixture_program(name, Under::Sanitizers);
        assert!(out.contains(&format!("{name}: ok")), "{out}");
    }
    checks_during_swaps(2.0, 3, Under::Sanitizers);
}

/// Whether valgrind runs here.
fn valgrind_works() -> bool {
    Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn programs_run_clean_under_valgrind_memcheck_with_no_definite_or_possible_leak() {
    if !valgrind_works() {
        eprintln!("skipped: valgrind is not installed");
        return;
    }
    for name in ["correctness", "errors", "growth", "abi1/older_program"] {
        let out = run_fixture_program(name, Under::Valgrind);
        let program = name.rsplit('/').next().unwrap_or(name);
        assert!(out.contains(&format!("{program}: ok")), "{out}");
    }
    // Readers on several threads while indexes are swapped under them:
    // slower under valgrind, so fewer checks, but every reload and every
    // corrupt file rejected runs.
    checks_during_swaps(4.0, 2, Under::Valgrind);
}

#[test]
fn the_example_program_builds_and_reports_listed_and_clean_identifiers() {
    let fixture = fixture();
    let exe = compile_c(
        &workspace_root().join("examples/check.c"),
        &fixture.path().join("check"),
        sanitizers_work(),
    );
    let data = fixture.path().join("data");
    let output = Command::new(&exe)
        .arg(&data)
        .args(["number", "081-234-5678", "domain", "www.clean.example"])
        .args([
            "url",
            "https://login.scam.example/x",
            "account",
            "004 123-4-56789-1",
        ])
        .output()
        .expect("run check");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "listed means exit 1:\n{stdout}"
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert!(lines[0]
        .starts_with("number 081-234-5678: LISTED as +66812345678 (reason 2, agency th-aoc"));
    assert!(lines[1].contains("not listed [data v5, fresh]"), "{stdout}");
    assert!(lines[2].contains("LISTED as scam.example"), "{stdout}");
    assert!(lines[3].contains("not listed"), "{stdout}");

    let invalid = Command::new(&exe)
        .arg(&data)
        .args(["number", "1191"])
        .output()
        .expect("run check");
    assert_eq!(invalid.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&invalid.stderr).contains("error 204"));
}

/// `tests/c/freshness.c` running on a data folder, fed one step at a time.
struct FreshnessProgram {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl FreshnessProgram {
    /// Writes an index created at `created_at` into `data` and starts the
    /// program on it (under the sanitizers where they work).
    fn start(data: &Path, created_at: Timestamp) -> FreshnessProgram {
        write_index(&data.join("lookup.idx"), 5, created_at, &listed_entries());
        let exe = compile_c(
            &workspace_root().join("tests/c/freshness.c"),
            &data.join("freshness"),
            sanitizers_work(),
        );
        let mut child = Command::new(&exe)
            .arg(data)
            .env(
                "ASAN_OPTIONS",
                "detect_leaks=1:abort_on_error=0:exitcode=23",
            )
            .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start freshness");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = std::io::BufReader::new(child.stdout.take().expect("piped stdout"));
        FreshnessProgram {
            child,
            stdin,
            stdout,
        }
    }

    /// Sends one step (`now F` or `wait F`) and asserts every answer passed.
    fn expect(&mut self, step: &str) {
        use std::io::{BufRead as _, Write as _};
        writeln!(self.stdin, "{step}").expect("send a step");
        self.stdin.flush().expect("send a step");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("read the verdict");
        if line.trim() != "step ok" {
            let _ = self.child.kill();
            let mut stderr = String::new();
            if let Some(mut pipe) = self.child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
            }
            panic!("step {step:?}: {line:?}\n{stderr}");
        }
    }

    fn finish(self) {
        let FreshnessProgram {
            child,
            stdin,
            mut stdout,
        } = self;
        drop(stdin);
        let output = child.wait_with_output().expect("collect output");
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut rest);
        assert!(
            output.status.success() && rest.contains("freshness: ok"),
            "{rest}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// A heartbeat saying fresh for an hour (`true`) or stale since a minute.
fn beat(fresh: bool) -> Beat {
    let now = Timestamp::now().0;
    Beat {
        confirmed_at: Timestamp(now - 120),
        fresh_until: Timestamp(if fresh { now + 3600 } else { now - 60 }),
    }
}

#[test]
fn c_answers_follow_the_heartbeat_so_a_quiet_live_feed_stays_fresh_past_max_age() {
    let dir = tempfile::tempdir().expect("temp dir");
    let two_days_ago = Timestamp(Timestamp::now().0 - 2 * 86_400);
    let mut program = FreshnessProgram::start(dir.path(), two_days_ago);
    // No heartbeat (an index built without a daemon): the age rule, stale.
    program.expect("now 2");
    // The daemon starts: no version confirmed yet.
    let writer = HeartbeatWriter::create(dir.path()).expect("create the heartbeat");
    program.expect("wait 3");
    // Confirmed: fresh, however old the data; each beat is seen at once.
    writer.beat(beat(true));
    program.expect("now 1");
    writer.beat(beat(false));
    program.expect("now 2");
    writer.beat(beat(true));
    program.expect("now 1");
    // The daemon restarts: it re-creates the file, which the handle maps anew.
    drop(writer);
    let writer = HeartbeatWriter::create(dir.path()).expect("re-create the heartbeat");
    program.expect("wait 3");
    writer.beat(beat(true));
    program.expect("now 1");
    // The heartbeat goes away: back to the age rule.
    std::fs::remove_file(dir.path().join(HEARTBEAT_FILE)).expect("remove the heartbeat");
    program.expect("wait 2");
    program.finish();
}

#[test]
fn c_answers_turn_stale_when_the_feed_freezes_even_though_the_data_is_young() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut program = FreshnessProgram::start(dir.path(), Timestamp::now());
    program.expect("now 1");
    let writer = HeartbeatWriter::create(dir.path()).expect("create the heartbeat");
    writer.beat(beat(false));
    program.expect("wait 2");
    writer.beat(beat(true));
    program.expect("now 1");
    program.finish();
}

#[test]
fn an_index_overwritten_in_place_is_withheld_until_valid_again_never_answered_as_not_listed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    std::fs::create_dir(root.join("data")).expect("mkdir");
    let index = root.join("data/lookup.idx");
    write_index(&index, 5, Timestamp::now(), &listed_entries());
    // Written read-only, so that a `cp` over it fails for anyone but root.
    let mode = |path: &Path| {
        std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(path).expect("stat").permissions(),
        )
    };
    assert_eq!(mode(&index) & 0o777, 0o444);
    let bytes = std::fs::read(&index).expect("read the index");
    std::fs::write(root.join("good.idx"), &bytes).expect("write");
    let mut zeroed = bytes.clone();
    zeroed[256..].fill(0);
    std::fs::write(root.join("zeroed.idx"), &zeroed).expect("write");
    std::fs::write(root.join("short.idx"), &bytes[..bytes.len() / 2]).expect("write");
    // As root would, or an operator who made it writable first.
    std::fs::set_permissions(&index, std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .expect("chmod");
    let under = Under::sanitizers_if_they_work();
    let exe = under.compile(
        &workspace_root().join("tests/c/overwrite.c"),
        &root.join("overwrite"),
    );
    let output = under
        .command(&exe)
        .arg(root)
        .output()
        .expect("run overwrite");
    let out = assert_passed("overwrite", &output);
    assert!(out.contains("overwrite: ok"), "{out}");
}

#[test]
fn a_version_the_daemon_announces_is_answered_long_before_the_reload_interval() {
    use std::io::{BufRead as _, Write as _};
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path();
    let mut entries = listed_entries();
    write_index(&data.join("lookup.idx"), 1, Timestamp::now(), &entries);
    let heartbeat = HeartbeatWriter::create(data).expect("create the heartbeat");
    let exe = compile_c(
        &workspace_root().join("tests/c/follow.c"),
        &data.join("follow"),
        false,
    );
    let mut child = Command::new(&exe)
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start follow");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("read ready");
    assert_eq!(line.trim(), "ready");
    // Each version is published just after the previous one was answered,
    // that is just after a reload: the next periodic one is a second away,
    // so only the announcement can bring it within the program's bound.
    let mut replies = Vec::new();
    for version in 2..=5u64 {
        let number = format!("+6689000000{version}");
        entries.push((
            Kind::Number,
            number.clone(),
            meta(Reason::FRAUD, "th-aoc", 1_700_000_600, None),
        ));
        write_index(
            &data.join("lookup.idx"),
            version,
            Timestamp::now(),
            &entries,
        );
        heartbeat.index_published();
        writeln!(stdin, "{version} {number}").expect("send a version");
        stdin.flush().expect("send a version");
        line.clear();
        stdout.read_line(&mut line).expect("read the verdict");
        replies.push(line.trim().to_owned());
    }
    drop(stdin);
    let output = child.wait_with_output().expect("collect output");
    eprintln!("follow: {replies:?}");
    assert!(
        replies.iter().all(|r| r.starts_with("seen")) && output.status.success(),
        "{replies:?}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
