use std::time::Duration;

use crate::support::*;

/// Kills a publish of ~8.5k domains after increasing delays (before it
/// starts writing, mid-write, after the delta but before the manifest...):
/// each time the directory must still verify, and the next publish succeed.
#[test]
fn publish_killed_at_any_point_leaves_the_previous_version_served() {
    let centre = Centre::new();
    let mut domains = String::new();
    for i in 0..8_500 {
        domains.push_str(&format!("crash-{i}.example\n"));
    }
    let first = centre.input("first.txt", b"seed.example\n");
    ok(&centre.publish_args(&["--kind", "domain", "--agency", "th-aoc", s(&first)]));
    let big = centre.input("big.txt", domains.as_bytes());
    let root = centre.first_root();
    for delay_ms in [0, 5, 20, 50, 100, 200, 400] {
        centre.publish_killed_after(&big, Duration::from_millis(delay_ms));
        let out = ok(&["verify", s(&centre.dir), "--root", s(&root)]);
        assert!(out.starts_with("OK:"), "after kill at {delay_ms} ms: {out}");
    }
    let more = centre.input("more.txt", b"after-crash.example\n");
    ok(&centre.publish_args(&["--kind", "domain", "--agency", "th-aoc", s(&more)]));
    ok(&["verify", s(&centre.dir), "--root", s(&root)]);
}

#[test]
fn concurrent_publish_is_refused_while_the_lock_is_held() {
    let centre = Centre::new();
    let dir = blocklistd::centre::PublishDir::open(&centre.dir).unwrap();
    let _held = dir.lock().unwrap();
    let input = centre.input("x.txt", b"x.example\n");
    let err = fails(&centre.publish_args(&["--kind", "domain", "--agency", "a", s(&input)]));
    assert!(
        err.contains("another publish is running")
            && err.contains(&format!("locked by pid {}", std::process::id())),
        "{err}"
    );
}
