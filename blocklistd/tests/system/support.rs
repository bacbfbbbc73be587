use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The binary under test.
pub fn blocklist() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_blocklist"));
    cmd.env("RUST_LOG", "warn");
    cmd
}

/// Runs `blocklist args...`, returning its output.
pub fn run(args: &[&str]) -> Output {
    blocklist().args(args).output().expect("run blocklist")
}

/// Runs and asserts success, returning stdout.
pub fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "blocklist {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs and asserts failure, returning stderr.
pub fn fails(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        !out.status.success(),
        "blocklist {args:?} unexpectedly succeeded:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr).unwrap()
}

pub fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A temp folder with a root key, a publish key and an initialised publish directory.
pub struct Centre {
    pub tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub root_key: PathBuf,
    pub publish_key: PathBuf,
}

impl Centre {
    pub fn new() -> Centre {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let publish = tmp.path().join("publish");
        ok(&["keygen", s(&root)]);
        ok(&["keygen", s(&publish)]);
        let dir = tmp.path().join("pub");
        let root_key = root.with_extension("key");
        let publish_key = publish.with_extension("key");
        ok(&[
            "init",
            s(&dir),
            "--list",
            "th-test",
            "--root-key",
            s(&root_key),
            "--publish-key",
            s(&publish.with_extension("pub")),
        ]);
        Centre {
            tmp,
            dir,
            root_key,
            publish_key,
        }
    }

    /// Writes an input file into the temp folder.
    pub fn input(&self, name: &str, text: &[u8]) -> PathBuf {
        let path = self.tmp.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// `publish DIR --key KEY extra...`
    pub fn publish_args<'a>(&'a self, extra: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec!["publish", s(&self.dir), "--key", s(&self.publish_key)];
        args.extend_from_slice(extra);
        args
    }

    /// The first trust root's file, to pin.
    pub fn first_root(&self) -> PathBuf {
        std::fs::read_dir(self.dir.join("roots"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with("1-"))
            .unwrap()
    }

    /// The files in one folder of the directory.
    pub fn files(&self, folder: &str) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.join(folder))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files
    }
}

/// `blocklist serve` on a free loopback port, stopped (SIGTERM) on drop.
pub struct Server {
    child: Child,
    pub url: String,
}

impl Server {
    pub fn start(dir: &Path) -> Server {
        Server::start_on(dir, "127.0.0.1:0")
    }

    /// Serves `dir` on `listen` (a fixed address, to bring a mirror back where clients look).
    pub fn start_on(dir: &Path, listen: &str) -> Server {
        let mut child = blocklist()
            .args(["serve", s(dir), "--listen", listen])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Server { child, url }
    }

    /// Stops the server with SIGTERM and returns whether it exited cleanly.
    pub fn stop(mut self) -> bool {
        self.terminate()
    }

    fn terminate(&mut self) -> bool {
        // SAFETY: signalling our own child by its pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        self.child.wait().map(|s| s.success()).unwrap_or(false)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.terminate();
        }
    }
}

/// A free loopback port (bound then released: a small race, fine for tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
