use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

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

    /// Starts `blocklist publish` of the domains in `input` and kills it
    /// (SIGKILL) after `delay`: a centre killed mid-publish.
    pub fn publish_killed_after(&self, input: &Path, delay: std::time::Duration) {
        let mut child = blocklist()
            .args(self.publish_args(&["--kind", "domain", "--agency", "th-aoc", s(input)]))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        // SAFETY: SIGKILL to our own child by its pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        let _ = child.wait();
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

    /// The server's process id (to read its memory use from /proc).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Serves `dir` on `listen` (a fixed address, to bring a mirror back where clients look).
    pub fn start_on(dir: &Path, listen: &str) -> Server {
        let (child, url) = blocklist_tests::spawn_listening(
            blocklist().args(["serve", s(dir), "--listen", listen]),
            String::new,
        );
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

/// Copies a publish directory (a backup, or a lagging cache's content).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A stock nginx on a loopback port, run from a private prefix, stopped on drop.
pub struct Nginx {
    child: std::process::Child,
    pub url: String,
}

impl Nginx {
    /// Starts nginx with `server(port)` as its `http` block's content, under
    /// `conf_dir`; `None` (the caller skips) where nginx is not installed.
    pub fn start(conf_dir: &Path, server: impl FnOnce(u16) -> String) -> Option<Nginx> {
        let Some(binary) = ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
            .into_iter()
            .find(|p| Path::new(p).exists())
        else {
            eprintln!("skipped: nginx not installed");
            return None;
        };
        std::fs::create_dir_all(conf_dir.join("logs")).unwrap();
        let port = free_port();
        let conf = format!(
            "daemon off;\npid {conf}/nginx.pid;\nerror_log {conf}/logs/error.log;\nevents {{}}\n\
             http {{\naccess_log off;\nclient_body_temp_path {conf}/body;\nproxy_temp_path {conf}/proxy;\n\
             fastcgi_temp_path {conf}/fastcgi;\nuwsgi_temp_path {conf}/uwsgi;\nscgi_temp_path {conf}/scgi;\n\
             default_type application/octet-stream;\n{server}\n}}\n",
            conf = conf_dir.display(),
            server = server(port),
        );
        let conf_path = conf_dir.join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let mut child = std::process::Command::new(binary)
            .args(["-p", s(conf_dir), "-c", s(&conf_path)])
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("nginx exited early: {status}");
            }
            assert!(std::time::Instant::now() < deadline, "nginx did not start");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Some(Nginx {
            child,
            url: format!("http://127.0.0.1:{port}"),
        })
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SAFETY: signalling our own child by its pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

/// Polls until `done` holds (at most 30 s), failing with `what` and the log
/// `log` gives.
pub fn wait_until(what: &str, log: impl Fn() -> String, done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}; log:\n{}",
            log()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// What a forging centre (a test holding the publish key, bypassing
/// `blocklist publish`) does to keep its log whole, as the real one would:
/// records in `dir`'s log the files `next` lists that the manifest in `dir`
/// does not, and puts the checkpoint, signed with `key`, in `next`.
pub fn record_in_log(dir: &Path, next: &mut blocklist_core::document::Manifest, key: &Path) {
    use blocklistd::centre::{keys::CentreKey, log::Log, PublishDir};
    let previous: blocklist_core::document::Manifest =
        blocklist_core::verify::read_unverified(&std::fs::read(dir.join("manifest")).unwrap())
            .unwrap();
    let published = PublishDir::open(dir).unwrap();
    let lock = published.lock().unwrap();
    let signer = CentreKey::from(blocklistd::centre::keyfile::read_secret(key).unwrap());
    let log = Log::open(&published).unwrap();
    next.log = Some(
        log.record_listed(&published, &lock, Some(&previous), next, &[&signer])
            .unwrap(),
    );
}
