//! libblocklist installed as a system library: `make -C blocklist-ffi install`
//! into a staging root (DESTDIR) in the Debian, RHEL and default layouts, from
//! the `libblocklist.a` cargo built for this test run, then used as a C shop
//! would: `tests/install/through_pkg_config.c` built as C and as C++ through
//! pkg-config, linked shared and static, and run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use blocklist_tests::{
    static_library, workspace_root, write_one_number_index, NATIVE_LIBS, STRICT,
};

/// The SONAME: the ABI's major version (`BLOCKLIST_ABI_VERSION`).
const SONAME: &str = "libblocklist.so.1";

/// Where a distribution puts a library's files.
struct Layout {
    name: &'static str,
    prefix: &'static str,
    /// `None`: the Makefile's default, `$PREFIX/lib`.
    libdir: Option<&'static str>,
    /// The folders the files must land in (under the staging root).
    expect_libdir: &'static str,
    expect_includedir: &'static str,
}

const DEBIAN: Layout = Layout {
    name: "debian",
    prefix: "/usr",
    libdir: Some("/usr/lib/x86_64-linux-gnu"),
    expect_libdir: "/usr/lib/x86_64-linux-gnu",
    expect_includedir: "/usr/include",
};

const RHEL: Layout = Layout {
    name: "rhel",
    prefix: "/usr",
    libdir: Some("/usr/lib64"),
    expect_libdir: "/usr/lib64",
    expect_includedir: "/usr/include",
};

const DEFAULT: Layout = Layout {
    name: "default",
    prefix: "/usr/local",
    libdir: None,
    expect_libdir: "/usr/local/lib",
    expect_includedir: "/usr/local/include",
};

/// A staged install: `stage` is the DESTDIR, the files live under the layout's
/// folders inside it.
struct Installed {
    dir: tempfile::TempDir,
    layout: &'static Layout,
}

impl Installed {
    fn stage(&self) -> PathBuf {
        self.dir.path().join("stage")
    }

    fn libdir(&self) -> PathBuf {
        self.staged(self.layout.expect_libdir)
    }

    fn staged(&self, absolute: &str) -> PathBuf {
        self.stage().join(absolute.trim_start_matches('/'))
    }

    fn pc(&self, module: &str) -> String {
        let path = self.libdir().join(format!("pkgconfig/{module}.pc"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// `pkg-config ARGS` seeing only the staged modules, with the staging root
    /// as sysroot (so `-I`/`-L` point into it) and the system folders kept
    /// (the Debian and RHEL libdirs are system folders pkg-config would drop).
    fn pkg_config(&self, args: &[&str]) -> Vec<String> {
        let output = Command::new("pkg-config")
            .args(args)
            .env("PKG_CONFIG_LIBDIR", self.libdir().join("pkgconfig"))
            .env_remove("PKG_CONFIG_PATH")
            .env("PKG_CONFIG_SYSROOT_DIR", self.stage())
            .env("PKG_CONFIG_ALLOW_SYSTEM_LIBS", "1")
            .env("PKG_CONFIG_ALLOW_SYSTEM_CFLAGS", "1")
            .output()
            .expect("run pkg-config (apt-get install pkgconf)");
        let stdout = passed(&format!("pkg-config {args:?}"), &output);
        stdout.split_whitespace().map(str::to_owned).collect()
    }

    /// The index folder the programs open: one listed number.
    fn index_dir(&self) -> PathBuf {
        let dir = self.dir.path().join("data");
        if !dir.exists() {
            std::fs::create_dir(&dir).expect("create the data folder");
            write_one_number_index(&dir.join("lookup.idx"));
        }
        dir
    }
}

/// `make -C blocklist-ffi VARS ARGS` with the archive of this test run (so
/// make runs no cargo) and the shared object linked in the test's own folder;
/// a variable in `args` overrides these (make takes the last).
fn make(dir: &Path, layout: &Layout, args: &[&str], destdir: Option<&Path>) -> Output {
    let mut make = Command::new("make");
    make.arg("-C")
        .arg(workspace_root().join("blocklist-ffi"))
        .arg(format!("ARCHIVE={}", static_library().display()))
        .arg(format!("BUILDDIR={}", dir.display()))
        .arg(format!("PREFIX={}", layout.prefix));
    if let Some(libdir) = layout.libdir {
        make.arg(format!("LIBDIR={libdir}"));
    }
    if let Some(destdir) = destdir {
        make.arg(format!("DESTDIR={}", destdir.display()));
    }
    make.args(args)
        .output()
        .expect("run make (apt-get install make; libblocklist installs with it)")
}

fn install(layout: &'static Layout) -> Installed {
    let dir = tempfile::tempdir().expect("temp dir");
    let installed = Installed { dir, layout };
    let output = make(
        installed.dir.path(),
        layout,
        &["install"],
        Some(&installed.stage()),
    );
    passed(&format!("make install ({})", layout.name), &output);
    installed
}

fn passed(what: &str, output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The real file the SONAME link points to: `libblocklist.so.1.<minor>.<patch>`.
fn real_name() -> String {
    let mut version = env!("CARGO_PKG_VERSION").split('.').skip(1);
    let (minor, patch) = (
        version.next().expect("minor"),
        version.next().expect("patch"),
    );
    format!("{SONAME}.{minor}.{patch}")
}

/// `readelf -d` lines of one tag (`NEEDED`, `SONAME`), the bracketed names.
fn dynamic_entries(file: &Path, tag: &str) -> Vec<String> {
    let output = Command::new("readelf")
        .arg("-d")
        .arg(file)
        .output()
        .expect("run readelf");
    let text = passed("readelf -d", &output);
    text.lines()
        .filter(|line| line.contains(&format!("({tag})")))
        .filter_map(|line| line.split('[').nth(1)?.split(']').next())
        .map(str::to_owned)
        .collect()
}

/// The two ways to build the program: its language's compiler and flags.
#[derive(Clone, Copy)]
enum Language {
    C,
    Cxx,
}

impl Language {
    fn name(self) -> &'static str {
        match self {
            Language::C => "c",
            Language::Cxx => "c++",
        }
    }

    /// The compiler with its flags, or why it is absent here.
    fn compiler(self) -> Result<Command, String> {
        match self {
            Language::C => {
                let mut cc = Command::new("cc");
                cc.args(STRICT);
                Ok(cc)
            }
            Language::Cxx => {
                let found = Command::new("c++")
                    .arg("--version")
                    .output()
                    .is_ok_and(|o| o.status.success());
                if !found {
                    return Err("no C++ compiler (c++) here: apt-get install g++".into());
                }
                let mut cxx = Command::new("c++");
                cxx.args(["-std=c++17", "-Wall", "-Wextra", "-Werror", "-pedantic"])
                    .args(["-g", "-O1", "-x", "c++"]);
                Ok(cxx)
            }
        }
    }
}

/// Builds `tests/install/through_pkg_config.c` in `language` with the flags
/// pkg-config gives for `module`, or `None` when the compiler is absent.
fn build(installed: &Installed, language: Language, module: &str) -> Option<PathBuf> {
    let source = workspace_root().join("tests/install/through_pkg_config.c");
    build_source(installed, language, module, &source)
}

/// Builds the C program `source` as [`build`] does.
fn build_source(
    installed: &Installed,
    language: Language,
    module: &str,
    source: &Path,
) -> Option<PathBuf> {
    let mut compiler = match language.compiler() {
        Ok(compiler) => compiler,
        Err(missing) => {
            eprintln!("skipped the C++ build: {missing}");
            return None;
        }
    };
    let name = language.name();
    let stem = source.file_stem().expect("a file").to_string_lossy();
    let exe = installed.dir.path().join(format!("{stem}-{name}-{module}"));
    let output = compiler
        .arg(source)
        // Back to telling files by their names: the rest are libraries.
        .args(["-x", "none"])
        .args(installed.pkg_config(&["--cflags", "--libs", module]))
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("run the compiler");
    passed(&format!("{name} build against {module}"), &output);
    Some(exe)
}

/// Runs a built program on the index, with `LD_LIBRARY_PATH` set to `libdir`
/// (or unset), and checks it passed.
fn run(installed: &Installed, exe: &Path, libdir: Option<&Path>) {
    let mut command = Command::new(exe);
    command.arg(installed.index_dir());
    match libdir {
        Some(dir) => command.env("LD_LIBRARY_PATH", dir),
        None => command.env_remove("LD_LIBRARY_PATH"),
    };
    let output = command.output().expect("run the program");
    let stdout = passed(&exe.display().to_string(), &output);
    assert!(
        stdout.contains(&format!("libblocklist {}", env!("CARGO_PKG_VERSION")))
            && stdout.contains("through_pkg_config: ok"),
        "{stdout}"
    );
}

#[test]
fn make_install_puts_library_links_header_and_pc_files_in_the_debian_rhel_and_default_folders() {
    for layout in [&DEBIAN, &RHEL, &DEFAULT] {
        let installed = install(layout);
        let libdir = installed.libdir();
        let real = libdir.join(real_name());
        assert!(real.is_file() && !real.is_symlink(), "{}", real.display());
        for (link, target) in [
            (SONAME.to_owned(), real_name()),
            ("libblocklist.so".to_owned(), SONAME.to_owned()),
        ] {
            let read = std::fs::read_link(libdir.join(&link))
                .unwrap_or_else(|e| panic!("{}: {link} is no symlink: {e}", layout.name));
            assert_eq!(read, Path::new(&target), "{}: {link}", layout.name);
        }
        assert!(libdir.join("libblocklist.a").is_file(), "{}", layout.name);
        let header = installed
            .staged(layout.expect_includedir)
            .join("blocklist.h");
        assert_eq!(
            std::fs::read(&header).expect("installed header"),
            std::fs::read(workspace_root().join("include/blocklist.h")).expect("header"),
            "{}",
            layout.name
        );

        let version = format!("Version: {}", env!("CARGO_PKG_VERSION"));
        for module in ["blocklist", "blocklist-static"] {
            let pc = installed.pc(module);
            for line in [
                format!("prefix={}", layout.prefix),
                format!("libdir={}", layout.expect_libdir),
                format!("includedir={}", layout.expect_includedir),
                version.clone(),
            ] {
                assert!(
                    pc.lines().any(|l| l == line),
                    "{}: {module}.pc lacks `{line}`:\n{pc}",
                    layout.name
                );
            }
        }
        assert_eq!(
            installed.pkg_config(&["--libs", "blocklist-static"]),
            [
                vec![
                    format!("-L{}", libdir.display()),
                    "-l:libblocklist.a".to_owned()
                ],
                NATIVE_LIBS.iter().map(|l| l.to_string()).collect(),
            ]
            .concat(),
            "{}: blocklist-static's libs are the archive and what it needs",
            layout.name
        );
        // A wholly static program (`cc -static`) takes the shared module
        // with --static: Libs.private adds what the archive needs.
        let exe = installed.dir.path().join("wholly-static");
        let mut cc = Command::new("cc");
        cc.args(STRICT)
            .arg("-static")
            .arg(workspace_root().join("tests/install/through_pkg_config.c"))
            .args(installed.pkg_config(&["--static", "--cflags", "--libs", "blocklist"]))
            .arg("-o")
            .arg(&exe);
        passed(
            "cc -static with blocklist --static",
            &cc.output().expect("run cc"),
        );
        assert!(
            dynamic_entries(&exe, "NEEDED").is_empty(),
            "{}: a wholly static program needs nothing",
            layout.name
        );
        run(&installed, &exe, None);
    }
}

#[test]
fn the_shared_object_is_named_for_the_abi_and_exports_only_blocklist_symbols_versioned_blocklist_1()
{
    let installed = install(&DEBIAN);
    let real = installed.libdir().join(real_name());
    assert_eq!(dynamic_entries(&real, "SONAME"), [SONAME]);

    let output = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&real)
        .output()
        .expect("run nm");
    let symbols = passed("nm -D", &output);
    let names: Vec<&str> = symbols
        .lines()
        .filter_map(|line| line.split_whitespace().nth(2))
        .collect();
    // The version node itself is listed as an absolute symbol.
    let exported: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| *n != "BLOCKLIST_1")
        .collect();
    assert!(exported.len() > 10, "too few exports:\n{symbols}");
    let strays: Vec<&&str> = exported
        .iter()
        .filter(|n| !(n.starts_with("blocklist_") && n.ends_with("@@BLOCKLIST_1")))
        .collect();
    assert!(
        strays.is_empty(),
        "exports beyond blocklist_*@@BLOCKLIST_1: {strays:?}"
    );

    let header = std::fs::read_to_string(workspace_root().join("include/blocklist.h"))
        .expect("read the header");
    let abi = header
        .lines()
        .find_map(|l| l.strip_prefix("#define BLOCKLIST_ABI_VERSION "))
        .expect("the header defines BLOCKLIST_ABI_VERSION");
    assert_eq!(
        format!("libblocklist.so.{}", abi.trim()),
        SONAME,
        "the SONAME's major is the header's BLOCKLIST_ABI_VERSION"
    );
}

#[test]
fn c_and_cxx_programs_built_with_pkg_config_blocklist_need_libblocklist_so_1_and_run() {
    for layout in [&DEBIAN, &RHEL] {
        let installed = install(layout);
        for language in [Language::C, Language::Cxx] {
            let Some(exe) = build(&installed, language, "blocklist") else {
                continue;
            };
            let needed = dynamic_entries(&exe, "NEEDED");
            assert!(
                needed.iter().any(|n| n == SONAME),
                "{}: {needed:?}",
                layout.name
            );
            run(&installed, &exe, Some(&installed.libdir()));
        }
    }
}

#[test]
fn c_and_cxx_programs_built_with_pkg_config_blocklist_static_need_no_libblocklist_and_run_alone() {
    for layout in [&DEBIAN, &RHEL] {
        let installed = install(layout);
        for language in [Language::C, Language::Cxx] {
            let Some(exe) = build(&installed, language, "blocklist-static") else {
                continue;
            };
            let needed = dynamic_entries(&exe, "NEEDED");
            assert!(
                !needed.iter().any(|n| n.starts_with("libblocklist")),
                "{}: a static link needs {needed:?}",
                layout.name
            );
            run(&installed, &exe, None);
        }
    }
}

#[test]
fn a_program_built_on_the_frozen_abi_1_header_runs_against_the_installed_shared_library() {
    // What a bank's binary meets when the library is upgraded under it: the
    // program keeps the ABI-1 header it was built with (its own folder's
    // copy comes first) and the loader gives it this libblocklist.so.1.
    let installed = install(&DEBIAN);
    let source = workspace_root().join("tests/c/abi1/older_program.c");
    let exe = build_source(&installed, Language::C, "blocklist", &source).expect("cc builds");
    assert!(dynamic_entries(&exe, "NEEDED").iter().any(|n| n == SONAME));
    let fixture = crate::c_library::fixture();
    let output = Command::new(&exe)
        .arg(fixture.path())
        .env("LD_LIBRARY_PATH", installed.libdir())
        .output()
        .expect("run the program");
    let stdout = passed("older_program", &output);
    assert!(stdout.contains("older_program: ok"), "{stdout}");
}

#[test]
fn make_install_runs_ldconfig_on_the_live_system_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    // `make -n` prints the commands without running them: a live install's
    // ldconfig is seen without touching the system.
    let runs_ldconfig = |destdir: Option<&Path>| {
        let output = make(dir.path(), &DEBIAN, &["-n", "install"], destdir);
        passed("make -n install", &output)
            .lines()
            .any(|l| l == "ldconfig")
    };
    assert!(runs_ldconfig(None), "no ldconfig for a live install");
    assert!(
        !runs_ldconfig(Some(&dir.path().join("stage"))),
        "ldconfig run for a staged install"
    );
}

#[test]
fn make_install_before_the_library_is_built_says_to_build_it_and_installs_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let stage = dir.path().join("stage");
    let missing = dir.path().join("target/release/libblocklist.a");
    let output = make(
        dir.path(),
        &DEBIAN,
        &["install", &format!("ARCHIVE={}", missing.display())],
        Some(&stage),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success()
            && stderr.contains(&format!(
                "{} is missing: build it first with `make`",
                missing.display()
            )),
        "{stderr}"
    );
    assert!(!stage.exists(), "installed without a library");
}

#[test]
fn make_uninstall_removes_every_file_make_install_put() {
    let installed = install(&RHEL);
    let output = make(
        installed.dir.path(),
        &RHEL,
        &["uninstall"],
        Some(&installed.stage()),
    );
    passed("make uninstall", &output);
    let left: Vec<PathBuf> = walk(&installed.stage())
        .into_iter()
        .filter(|p| !p.is_dir() || p.is_symlink())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Every path under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() && !path.is_symlink() {
            paths.extend(walk(&path));
        }
        paths.push(path);
    }
    paths
}
