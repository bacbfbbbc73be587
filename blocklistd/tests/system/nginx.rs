use crate::support::*;

/// The publish directory is plain static files: a stock nginx serving it
/// (with `.centre/` denied) must verify exactly as `blocklist serve` does.
#[test]
fn directory_served_by_stock_nginx_verifies() {
    let centre = Centre::new();
    let input = centre.input("a.txt", b"nginx-one.example\nnginx-two.example\n");
    ok(&centre.publish_args(&["--kind", "domain", "--agency", "th-aoc", s(&input)]));
    let removal = centre.input("r.txt", b"nginx-two.example\n");
    ok(&centre.publish_args(&["--remove", s(&removal), "--kind", "domain"]));

    let root = centre.dir.display().to_string();
    let Some(nginx) = Nginx::start(&centre.tmp.path().join("nginx"), |port| {
        format!(
            "server {{\n\
               listen 127.0.0.1:{port};\n\
               root {root};\n\
               location ~ /\\. {{ deny all; }}\n\
               location = /manifest {{ add_header Cache-Control \"public, max-age=30\"; }}\n\
               location = /log/checkpoint {{ add_header Cache-Control \"public, max-age=30\"; }}\n\
               location / {{ add_header Cache-Control \"public, max-age=31536000, immutable\"; }}\n\
             }}"
        )
    }) else {
        return;
    };
    let url = nginx.url.clone();
    let result = run(&["verify", &url, "--root", s(&centre.first_root())]);
    let private = reqwest::blocking::get(format!("{url}/.centre/lock")).map(|r| r.status());
    drop(nginx);
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
