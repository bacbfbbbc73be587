//! Large files and hostile hosts: `blocklist serve` streams files in bounded
//! memory (full downloads, ranges, several at once), and `blocklist verify`
//! caps what a host may send.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;

use crate::support::*;

/// The sparse "snapshot" served: large, yet costing no disk.
const LARGE: u64 = 512 << 20;

/// The server's resident memory, from /proc.
fn resident_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
        .expect("VmRSS in /proc/PID/status");
    kib * 1024
}

#[test]
fn serve_streams_large_files_in_bounded_memory_for_ranges_and_concurrent_downloads() {
    let centre = Centre::new();
    let rel = format!("snapshots/7-{}.snapshot", "ab".repeat(32));
    let path = centre.dir.join(&rel);
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(LARGE).unwrap();
    // A marker near the end, for the range request to find.
    let marker = b"the end is here";
    std::os::unix::fs::FileExt::write_all_at(&file, marker, LARGE - 100).unwrap();
    drop(file);
    let server = Server::start(&centre.dir);
    let url = format!("{}/{rel}", server.url);
    let client = reqwest::blocking::Client::new();

    let range = client
        .get(&url)
        .header("Range", format!("bytes={}-{}", LARGE - 100, LARGE - 86))
        .send()
        .unwrap();
    assert_eq!(range.status(), 206);
    assert_eq!(
        range.headers()["content-range"],
        format!("bytes {}-{}/{LARGE}", LARGE - 100, LARGE - 86).as_str()
    );
    assert_eq!(&range.bytes().unwrap()[..], marker);

    // Several downloads held open part-way: the old server read each whole
    // file into memory before sending a byte.
    let downloads: Vec<reqwest::blocking::Response> = (0..3)
        .map(|_| {
            let mut response = client.get(&url).send().unwrap();
            assert_eq!(response.status(), 200);
            assert_eq!(response.content_length(), Some(LARGE));
            let mut first = vec![0; 1 << 20];
            response.read_exact(&mut first).unwrap();
            response
        })
        .collect();
    let resident = resident_bytes(server.pid());
    assert!(
        resident < LARGE / 4,
        "the server holds {resident} bytes with 3 downloads of a {LARGE}-byte file open"
    );
    // Each download completes, whole.
    for mut response in downloads {
        let mut total = 1 << 20;
        let mut buf = vec![0; 1 << 20];
        loop {
            let n = response.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            total += n as u64;
        }
        assert_eq!(total, LARGE);
    }
    assert!(server.stop(), "the server did not stop cleanly");
}

#[test]
fn verify_refuses_an_endless_response_at_its_cap_naming_the_url() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let host = std::thread::spawn(move || {
        // One request, answered with a body without end (bounded here: 64 MiB,
        // far past the cap, or until the client hangs up).
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = [0; 4096];
        let _ = stream.read(&mut request);
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
        let chunk = vec![b'x'; 64 << 10];
        for _ in 0..1024 {
            if stream.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    let err = fails(&["verify", &format!("http://{address}")]);
    assert!(
        err.contains(&format!(
            "http://{address}/manifest is larger than the 1048576 bytes"
        )),
        "{err}"
    );
    host.join().unwrap();
}
