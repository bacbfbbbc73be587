use crate::support::*;

const CSV: &str = "kind,value,reason,agency,expires\n\
    domain,scam-one.example,phishing,th-aoc,90d\n\
    domain,scam-two.example,fraud,bank-004,\n\
    colour,red.example,,th-aoc,\n\
    domain,late.example,,th-aoc,2001-01-01\n";

#[test]
fn three_publishes_serve_and_verify_over_http_then_tampering_is_named() {
    let centre = Centre::new();
    // 1: CSV with two bad lines: refused, listed with file:line, then skipped.
    let csv = centre.input("report.csv", CSV.as_bytes());
    let err = fails(&centre.publish_args(&[s(&csv)]));
    assert!(
        err.contains(&format!("{}:4: unknown kind", csv.display())),
        "{err}"
    );
    assert!(
        err.contains(&format!("{}:5: expiry is in the past", csv.display())),
        "{err}"
    );
    assert!(err.contains("2 invalid input line(s)"), "{err}");
    assert!(
        centre.files("deltas").is_empty(),
        "a refused publish writes nothing"
    );
    let out = ok(&centre.publish_args(&[s(&csv), "--skip-invalid"]));
    assert!(out.contains("published version 1: 2 added"), "{out}");

    // 2: a plain list (BOM, comment, duplicate, a non-UTF-8 line).
    let plain = centre.input(
        "list.txt",
        b"\xEF\xBB\xBF# agency list\nplain-one.example\nplain-two.example\nplain-one.example\n\xFF\xFE\n",
    );
    let err = fails(&centre.publish_args(&["--kind", "domain", "--agency", "th-aoc", s(&plain)]));
    assert!(
        err.contains(&format!("{}:5: line is not valid UTF-8", plain.display())),
        "{err}"
    );
    let out = ok(&centre.publish_args(&[
        "--kind",
        "domain",
        "--agency",
        "th-aoc",
        "--skip-invalid",
        s(&plain),
    ]));
    assert!(out.contains("published version 2: 2 added"), "{out}");
    assert!(out.contains("1 duplicate line(s)"), "{out}");

    // 3: a hosts file with a bogus address, and a removal.
    let hosts = centre.input(
        "block.hosts",
        b"127.0.0.1 localhost\n0.0.0.0 hosts-one.example  # inline comment\n321.321.321.321 bogus.example\n",
    );
    let removal = centre.input("delist.txt", b"scam-two.example\n");
    let out = ok(&centre.publish_args(&[
        "--agency",
        "th-aoc",
        "--kind",
        "domain",
        "--skip-invalid",
        s(&hosts),
        "--remove",
        s(&removal),
    ]));
    assert!(
        out.contains("published version 3: 1 added, 0 updated, 1 removed"),
        "{out}"
    );

    let server = Server::start(&centre.dir);
    let root = centre.first_root();
    let out = ok(&["verify", &server.url, "--root", s(&root)]);
    assert!(out.contains("OK: list th-test version 3"), "{out}");
    assert!(out.contains("4 entries"), "{out}");

    // Flip one byte of delta 2: verify names the file.
    let delta = centre
        .files("deltas")
        .into_iter()
        .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with("2-"));
    let delta = delta.unwrap();
    let mut bytes = std::fs::read(&delta).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&delta, bytes).unwrap();
    let name = delta.file_name().unwrap().to_str().unwrap();
    let err = fails(&["verify", &server.url, "--root", s(&root)]);
    assert!(err.contains(&format!("deltas/{name}")), "{err}");
    assert!(err.contains("digest mismatch"), "{err}");
    assert!(server.stop(), "serve exits cleanly on SIGTERM");
}

#[test]
fn served_files_have_cache_headers_conditional_gets_and_ranges() {
    let centre = Centre::new();
    let csv = centre.input(
        "r.csv",
        CSV.lines()
            .take(3)
            .collect::<Vec<_>>()
            .join("\n")
            .as_bytes(),
    );
    ok(&centre.publish_args(&[s(&csv)]));
    let server = Server::start(&centre.dir);
    let get = |path: &str, headers: &[(&str, &str)]| {
        let mut req = reqwest::blocking::Client::new().get(format!("{}/{path}", server.url));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().unwrap()
    };
    let manifest = get("manifest", &[]);
    assert_eq!(manifest.status(), 200);
    assert_eq!(manifest.headers()["cache-control"], "public, max-age=30");
    assert_eq!(
        manifest.headers()["content-type"],
        "application/octet-stream"
    );
    let etag = manifest.headers()["etag"].to_str().unwrap().to_owned();
    let modified = manifest.headers()["last-modified"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(get("manifest", &[("if-none-match", &etag)]).status(), 304);
    assert_eq!(
        get("manifest", &[("if-modified-since", &modified)]).status(),
        304
    );
    let range = get("manifest", &[("range", "bytes=0-3")]);
    assert_eq!(range.status(), 206);
    assert_eq!(range.bytes().unwrap().as_ref(), b"BLKL");

    let delta = centre.files("deltas")[0].clone();
    let name = delta.file_name().unwrap().to_str().unwrap();
    let response = get(&format!("deltas/{name}"), &[]);
    assert_eq!(
        response.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let sha = name.split_once('-').unwrap().1.trim_end_matches(".delta");
    assert_eq!(response.headers()["etag"], format!("\"{sha}\"").as_str());
    for refused in [".centre/lock", "deltas/..%2Fmanifest", "Cargo.toml"] {
        assert_eq!(get(refused, &[]).status(), 404, "{refused}");
    }
}
