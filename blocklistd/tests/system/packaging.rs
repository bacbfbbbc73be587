//! The Debian package and the container image. The .deb is built by
//! `blocklistd/debian/build-deb` from this test run's binaries (no release
//! rebuild) and installed with dpkg into a scratch root, whose maintainer
//! scripts run there (`DPKG_ROOT`), never on this machine's users; the
//! unit, the package, the Containerfile and the docs must name the same
//! paths and port. Skipped, with a message, where cargo-deb, dpkg or root
//! are missing; the image build only with `BLOCKLIST_DOCKER_TESTS=1` and a
//! working docker.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::*;

const CONFIG: &str = "/etc/blocklistd/blocklistd.toml";
const DATA_DIR: &str = "/var/lib/blocklistd";

fn repo_file(path: &str) -> PathBuf {
    blocklist_tests::workspace_root().join(path)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Runs `command` to success, returning its stdout.
fn stdout_of(command: &mut Command) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("run {command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Whether `program args` runs and succeeds; if not, says which test is
/// skipped for want of what.
fn present(program: &str, args: &[&str], skipped: &str) -> bool {
    let works = Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|out| out.status.success());
    if !works {
        eprintln!(
            "skipped: {skipped}: `{program} {}` does not run here",
            args.join(" ")
        );
    }
    works
}

/// The value of `key=` in a unit file (the last one, as systemd reads it).
fn unit_value<'a>(unit: &'a str, key: &str) -> &'a str {
    unit.lines()
        .filter_map(|line| line.strip_prefix(key)?.strip_prefix('='))
        .next_back()
        .unwrap_or_else(|| panic!("the unit has no {key}="))
}

/// The arguments of a Containerfile instruction (continued lines joined).
fn instruction(containerfile: &str, name: &str) -> String {
    let joined = containerfile.replace("\\\n", " ");
    let line = joined
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("the Containerfile has no {name}"));
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `(source, dest)` of the package's assets in blocklistd/Cargo.toml.
fn deb_assets() -> Vec<(String, String)> {
    let manifest: toml::Table = read(&repo_file("blocklistd/Cargo.toml")).parse().unwrap();
    manifest["package"]["metadata"]["deb"]["assets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|asset| {
            let asset = asset.as_array()?;
            Some((asset[0].as_str()?.to_owned(), asset[1].as_str()?.to_owned()))
        })
        .collect()
}

/// The API port of the embedded default config.
fn default_api_port() -> String {
    let config: toml::Table = read(&repo_file("blocklistd/blocklistd.example.toml"))
        .parse()
        .unwrap();
    let listen = config["api"]["listen"].as_str().unwrap();
    listen.rsplit_once(':').unwrap().1.to_owned()
}

#[test]
fn unit_package_containerfile_and_docs_name_the_same_paths_port_and_signal() {
    let unit = read(&repo_file("blocklistd/systemd/blocklistd.service"));
    let containerfile = read(&repo_file("blocklistd/Containerfile"));
    let postinst = read(&repo_file("blocklistd/debian/postinst"));
    let assets = deb_assets();
    let installs = |source: &str, dest: &str| {
        assets
            .iter()
            .any(|(s, d)| s.ends_with(source) && d.trim_end_matches('/') == dest)
    };

    // The binary and config the unit runs are where the package puts them.
    assert_eq!(
        unit_value(&unit, "ExecStart"),
        format!("/usr/bin/blocklistd --config {CONFIG}")
    );
    assert!(
        installs("target/release/blocklistd", "usr/bin"),
        "{assets:?}"
    );
    assert!(installs("target/release/blocklistd.toml", "etc/blocklistd"));
    let documentation = unit_value(&unit, "Documentation");
    let doc = documentation.strip_prefix("file:///").unwrap();
    let (doc_dir, doc_file) = doc.rsplit_once('/').unwrap();
    assert!(
        installs(doc_file, doc_dir),
        "{documentation} is not packaged"
    );

    // One data folder, one mode: the unit's state directory, the postinst's
    // folder and the image's volume.
    assert_eq!(
        format!("/var/lib/{}", unit_value(&unit, "StateDirectory")),
        DATA_DIR
    );
    assert_eq!(unit_value(&unit, "WorkingDirectory"), DATA_DIR);
    let mode = unit_value(&unit, "StateDirectoryMode");
    assert_eq!(mode, "0750");
    assert!(
        postinst.contains(&format!("install -d -m {mode} ")) && postinst.contains(DATA_DIR),
        "the postinst creates {DATA_DIR} with another mode:\n{postinst}"
    );
    assert_eq!(instruction(&containerfile, "VOLUME"), DATA_DIR);
    assert_eq!(unit_value(&unit, "User"), "blocklistd");
    assert_eq!(instruction(&containerfile, "USER"), "blocklistd");

    // The image runs the packaged config, on the documented port only, is
    // stopped like the unit (the daemon's graceful shutdown) and checked on
    // an endpoint the API describes.
    assert_eq!(
        instruction(&containerfile, "CMD"),
        format!(r#"["blocklistd", "--config", "{CONFIG}"]"#)
    );
    let port = default_api_port();
    assert_eq!(instruction(&containerfile, "EXPOSE"), port);
    assert!(containerfile.contains(&format!("listen = \"127.0.0.1:{port}\"")));
    assert_eq!(instruction(&containerfile, "STOPSIGNAL"), "SIGTERM");
    assert_eq!(unit_value(&unit, "KillSignal"), "SIGTERM");
    let healthcheck = instruction(&containerfile, "HEALTHCHECK");
    let prefix = format!("http://127.0.0.1:{port}");
    let path = healthcheck
        .split_whitespace()
        .find_map(|word| word.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("the health check does not ask {prefix}: {healthcheck}"));
    let openapi: serde_json::Value =
        serde_json::from_str(&read(&repo_file("docs/openapi.json"))).unwrap();
    assert!(
        openapi["paths"][path]["get"].is_object(),
        "the health check's {path} is not in docs/openapi.json"
    );

    // The docs say how to install it, with these paths.
    let readme = read(&repo_file("README.md"));
    let daemon_doc = read(&repo_file("docs/DAEMON.md"));
    for (name, doc) in [("README.md", &readme), ("docs/DAEMON.md", &daemon_doc)] {
        for needle in [
            CONFIG,
            DATA_DIR,
            "blocklistd/debian/build-deb",
            "blocklistd/Containerfile",
        ] {
            assert!(doc.contains(needle), "{name} does not mention {needle}");
        }
    }
    assert!(readme.contains(&format!("-p 127.0.0.1:{port}:{port}")));
}

/// A scratch root dpkg installs into: its own dpkg database, the account
/// files useradd edits there, and a policy-rc.d refusing to start services
/// (read by deb-systemd-invoke under `DPKG_ROOT`).
fn scratch_root(root: &Path) {
    for dir in [
        "etc",
        "var/lib/dpkg/info",
        "var/lib/dpkg/updates",
        "usr/sbin",
    ] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    for (file, text) in [
        ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
        ("etc/group", "root:x:0:\n"),
        ("etc/shadow", "root:*:19000:0:99999:7:::\n"),
        ("etc/gshadow", "root:*::\n"),
        ("var/lib/dpkg/status", ""),
        ("var/lib/dpkg/available", ""),
        ("usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n"),
    ] {
        std::fs::write(root.join(file), text).unwrap();
    }
    let policy = root.join("usr/sbin/policy-rc.d");
    std::fs::set_permissions(policy, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// `dpkg -i` into `root`, maintainer scripts run outside a chroot with
/// `DPKG_ROOT` set (the root has no shell to chroot into); its dependencies
/// (libc6, passwd) are this machine's, not the scratch root's.
fn dpkg_install(root: &Path, deb: &Path) -> String {
    stdout_of(Command::new("dpkg").args([
        &format!("--root={}", s(root)),
        "--force-script-chrootless",
        "--force-depends",
        "--force-not-root",
        "-i",
        s(deb),
    ]))
}

/// The `blocklistd` lines of one of the scratch root's account files.
fn account_lines(root: &Path, file: &str) -> Vec<String> {
    read(&root.join("etc").join(file))
        .lines()
        .filter(|line| line.starts_with("blocklistd:"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_deb_from_the_test_binaries_installs_into_a_scratch_root_with_user_config_unit_and_docs() {
    let skipped = "the Debian package test";
    if !present("cargo", &["deb", "--version"], skipped)
        || !present("dpkg", &["--version"], skipped)
    {
        return;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!(
            "skipped: {skipped}: the postinst's useradd and chown need root (into a scratch root)"
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_blocklistd"))
        .parent()
        .unwrap();
    let static_library = blocklist_tests::static_library();
    let lib_dir = static_library.parent().unwrap();
    let out = tmp.path().join("out");
    stdout_of(
        Command::new(repo_file("blocklistd/debian/build-deb"))
            .args(["--bin-dir", s(bin_dir), "--lib-dir", s(lib_dir)])
            .args(["--stage", s(&tmp.path().join("stage")), "--out", s(&out)])
            .args(["--", "--fast", "--quiet"]),
    );
    let deb = std::fs::read_dir(&out)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.extension().is_some_and(|e| e == "deb"))
        .expect("build-deb wrote a .deb");

    let control = tmp.path().join("control");
    stdout_of(Command::new("dpkg-deb").args(["-e", s(&deb), s(&control)]));
    assert_eq!(read(&control.join("conffiles")), format!("{CONFIG}\n"));
    assert!(read(&control.join("triggers")).contains("activate-noawait ldconfig"));
    let postinst = read(&control.join("postinst"));
    assert!(
        postinst.contains("deb-systemd-helper enable blocklistd.service"),
        "{postinst}"
    );

    let root = tmp.path().join("root");
    scratch_root(&root);
    let host_passwd = read(Path::new("/etc/passwd"));
    dpkg_install(&root, &deb);

    // Both binaries run from the scratch root.
    for binary in ["blocklistd", "blocklist"] {
        let path = root.join("usr/bin").join(binary);
        assert_eq!(path.metadata().unwrap().mode() & 0o777, 0o755);
        let version = stdout_of(Command::new(&path).arg("--version"));
        assert_eq!(
            version.trim(),
            format!("{binary} {}", env!("CARGO_PKG_VERSION"))
        );
    }

    // The system user, its data folder (0750, its own), the config and the
    // unit, enabled in the scratch root only.
    let users = account_lines(&root, "passwd");
    assert_eq!(users.len(), 1, "{users:?}");
    let fields: Vec<&str> = users[0].split(':').collect();
    let (uid, gid): (u32, u32) = (fields[2].parse().unwrap(), fields[3].parse().unwrap());
    assert!(uid < 1000, "not a system user: {}", users[0]);
    assert_eq!(fields[5..], [DATA_DIR, "/usr/sbin/nologin"]);
    assert_eq!(account_lines(&root, "group").len(), 1);
    let data = root
        .join(DATA_DIR.trim_start_matches('/'))
        .metadata()
        .unwrap();
    assert_eq!(
        (data.mode() & 0o7777, data.uid(), data.gid()),
        (0o750, uid, gid)
    );
    assert_eq!(
        read(Path::new("/etc/passwd")),
        host_passwd,
        "the host's users changed"
    );
    let config = read(&root.join(CONFIG.trim_start_matches('/')));
    let default_config =
        stdout_of(Command::new(env!("CARGO_BIN_EXE_blocklistd")).arg("--print-default-config"));
    assert_eq!(
        config,
        default_config.replace(
            "data_dir = \"./blocklistd-data\"",
            &format!("data_dir = \"{DATA_DIR}\"")
        )
    );
    assert_eq!(
        read(&root.join("usr/lib/systemd/system/blocklistd.service")),
        read(&repo_file("blocklistd/systemd/blocklistd.service"))
    );
    assert!(root
        .join("etc/systemd/system/multi-user.target.wants/blocklistd.service")
        .is_symlink());

    // Man pages (compressed, as man reads them) and completions.
    for page in [
        "man1/blocklist.1.gz",
        "man1/blocklist-publish.1.gz",
        "man8/blocklistd.8.gz",
    ] {
        let text = stdout_of(
            Command::new("gzip")
                .arg("-dc")
                .arg(root.join("usr/share/man").join(page)),
        );
        assert!(text.contains(".TH "), "{page} is not a man page");
    }
    for completion in [
        "bash-completion/completions/blocklist",
        "bash-completion/completions/blocklistd",
        "zsh/vendor-completions/_blocklist",
        "zsh/vendor-completions/_blocklistd",
        "fish/vendor_completions.d/blocklist.fish",
        "fish/vendor_completions.d/blocklistd.fish",
    ] {
        let text = read(&root.join("usr/share").join(completion));
        assert!(text.contains("blocklist"), "{completion} is empty");
    }

    // libblocklist: the header and library a C program builds and runs with.
    let lib = root.join("usr/lib/x86_64-linux-gnu");
    assert_eq!(
        std::fs::read_link(lib.join("libblocklist.so")).unwrap(),
        Path::new("libblocklist.so.1")
    );
    // The name `make install` gives it: the minor and patch version after
    // the ABI major (blocklist-ffi/Makefile's REALNAME).
    let (_, minor_patch) = env!("CARGO_PKG_VERSION").split_once('.').unwrap();
    let real_name = format!("libblocklist.so.1.{minor_patch}");
    assert_eq!(
        std::fs::read_link(lib.join("libblocklist.so.1")).unwrap(),
        Path::new(&real_name)
    );
    assert!(lib.join(&real_name).is_file());
    assert!(lib.join("libblocklist.a").is_file());
    for module in ["blocklist", "blocklist-static"] {
        let pc = read(&lib.join(format!("pkgconfig/{module}.pc")));
        assert!(pc.contains("\nlibdir=/usr/lib/x86_64-linux-gnu\n"), "{pc}");
    }
    assert_eq!(
        read(&root.join("usr/include/blocklist.h")),
        read(&repo_file("include/blocklist.h"))
    );
    let program = tmp.path().join("version.c");
    std::fs::write(
        &program,
        "#include <blocklist.h>\n#include <stdio.h>\nint main(void) { puts(blocklist_version()); return 0; }\n",
    )
    .unwrap();
    let exe = tmp.path().join("version");
    stdout_of(
        Command::new("cc")
            .arg(&program)
            .arg(format!("-I{}", s(&root.join("usr/include"))))
            .arg(format!("-L{}", s(&lib)))
            .args(["-lblocklist", "-o", s(&exe)]),
    );
    let version = stdout_of(Command::new(&exe).env("LD_LIBRARY_PATH", &lib));
    assert_eq!(version.trim(), env!("CARGO_PKG_VERSION"));

    // Installing again (an upgrade's configure) adds no second user and
    // leaves a data folder the administrator changed as it is.
    let data_path = root.join(DATA_DIR.trim_start_matches('/'));
    std::fs::set_permissions(&data_path, std::fs::Permissions::from_mode(0o700)).unwrap();
    dpkg_install(&root, &deb);
    assert_eq!(account_lines(&root, "passwd"), users);
    assert_eq!(account_lines(&root, "group").len(), 1);
    assert_eq!(data_path.metadata().unwrap().mode() & 0o7777, 0o700);
}

/// Runs `docker args...` to success, returning stdout trimmed.
fn docker(args: &[&str]) -> String {
    stdout_of(Command::new("docker").args(args))
        .trim()
        .to_owned()
}

/// The image built from blocklistd/Containerfile, run once: it answers on
/// the published loopback port, takes a version from its drop folder,
/// turns healthy and stops on SIGTERM. Slow (a release build inside the
/// image): only with `BLOCKLIST_DOCKER_TESTS=1`.
#[test]
fn the_container_image_builds_runs_as_its_user_takes_a_dropped_version_and_stops_on_sigterm() {
    if std::env::var_os("BLOCKLIST_DOCKER_TESTS").is_none() {
        eprintln!("skipped: the container image test: set BLOCKLIST_DOCKER_TESTS=1 (a release build in the image, minutes)");
        return;
    }
    if !present("docker", &["info"], "the container image test") {
        return;
    }
    let image = "blocklistd-test:latest";
    stdout_of(
        Command::new("docker")
            .args(["build", "-f", "blocklistd/Containerfile", "-t", image, "."])
            .current_dir(blocklist_tests::workspace_root()),
    );
    let container = docker(&[
        "run",
        "-d",
        "--health-interval=1s",
        "-p",
        "127.0.0.1::8477",
        image,
    ]);
    let result = std::panic::catch_unwind(|| {
        assert_eq!(docker(&["exec", &container, "id", "-un"]), "blocklistd");
        let address = docker(&["port", &container, "8477/tcp"]);
        let url = format!("http://{}", address.lines().next().unwrap());
        let health = || {
            reqwest::blocking::get(format!("{url}/healthz"))
                .map(|answer| answer.status().as_u16())
                .ok()
        };
        wait_for("the API answering 503 before any data", || {
            health() == Some(503)
        });

        // The README's way to feed it: the log, roots, deltas and manifest into the inbox.
        let centre = Centre::new();
        let input = centre.input("a.txt", b"container.scam.example\n");
        ok(&centre.publish_args(&["--kind", "domain", "--agency", "th-aoc", s(&input)]));
        let feed = centre.tmp.path().join("feed");
        std::fs::create_dir(&feed).unwrap();
        for dir in ["roots", "deltas"] {
            for file in std::fs::read_dir(centre.dir.join(dir)).unwrap() {
                let file = file.unwrap().path();
                std::fs::copy(&file, feed.join(file.file_name().unwrap())).unwrap();
            }
        }
        copy_dir(&centre.dir.join("log"), &feed.join("log"));
        std::fs::copy(centre.dir.join("manifest"), feed.join("manifest")).unwrap();
        docker(&[
            "cp",
            &format!("{}/.", s(&feed)),
            &format!("{container}:{DATA_DIR}/inbox/"),
        ]);
        wait_for("/healthz 200 after the drop", || health() == Some(200));
        wait_for("docker's health check healthy", || {
            docker(&["inspect", "-f", "{{.State.Health.Status}}", &container]) == "healthy"
        });

        docker(&["stop", &container]);
        assert_eq!(
            docker(&["inspect", "-f", "{{.State.ExitCode}}", &container]),
            "0"
        );
    });
    docker(&["rm", "-f", &container]);
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

fn wait_for(what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
