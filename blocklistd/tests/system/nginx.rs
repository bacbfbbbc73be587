use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

/// The publish directory is plain static files: a stock nginx serving it
/// (with `.centre/` denied) must verify exactly as `blocklist serve` does.
#[test]
fn directory_served_by_stock_nginx_verifies() {
    let Some(nginx) = ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        eprintln!("skipped: nginx not installed");
        return;
    };
    let centre = Centre::new();
    let input = centre.input("a.txt", b"nginx-one.example\nnginx-two.example\n");
    ok(&centre.publish_args(&["--kind", "domain", "--agency", "th-aoc", s(&input)]));
    let removal = centre.input("r.txt", b"nginx-two.example\n");
    ok(&centre.publish_args(&["--remove", s(&removal), "--kind", "domain"]));

    let conf_dir = centre.tmp.path().join("nginx");
    std::fs::create_dir_all(conf_dir.join("logs")).unwrap();
    let port = free_port();
    let conf = format!(
        "daemon off;\n\
         pid {conf}/nginx.pid;\n\
         error_log {conf}/logs/error.log;\n\
         events {{}}\n\
         http {{\n\
           access_log off;\n\
           client_body_temp_path {conf}/body;\n\
           proxy_temp_path {conf}/proxy;\n\
           fastcgi_temp_path {conf}/fastcgi;\n\
           uwsgi_temp_path {conf}/uwsgi;\n\
           scgi_temp_path {conf}/scgi;\n\
           default_type application/octet-stream;\n\
           server {{\n\
             listen 127.0.0.1:{port};\n\
             root {root};\n\
             location ~ /\\. {{ deny all; }}\n\
             location = /manifest {{ add_header Cache-Control \"public, max-age=30\"; }}\n\
             location / {{ add_header Cache-Control \"public, max-age=31536000, immutable\"; }}\n\
           }}\n\
         }}\n",
        conf = conf_dir.display(),
        root = centre.dir.display(),
    );
    let conf_path = conf_dir.join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let mut child = Command::new(nginx)
        .args(["-p", s(&conf_dir), "-c", s(&conf_path)])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("nginx exited early: {status}");
        }
        assert!(Instant::now() < deadline, "nginx did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let url = format!("http://127.0.0.1:{port}");
    let result = run(&["verify", &url, "--root", s(&centre.first_root())]);
    let private = reqwest::blocking::get(format!("{url}/.centre/lock")).map(|r| r.status());
    // SAFETY: signalling our own child by its pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
    let out = String::from_utf8_lossy(&result.stdout);
    assert!(
        result.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert!(out.contains("OK: list th-test version 2"), "{out}");
    assert_eq!(
        private.unwrap(),
        403,
        "the documented config hides .centre/"
    );
}
