//! Serving a publish directory over HTTP, as any static file server or CDN
//! origin would: the manifest with a short cache lifetime, every other file
//! (named by version and digest, never changed) cacheable forever.
//!
//! Only the layout's files are served: `manifest`,
//! `{roots,deltas,snapshots,registries}/<version>-<sha256>.<type>`, and the
//! transparency log's `log/checkpoint` and `log/tile/...`. Every other path,
//! `.centre/` and anything with `..` included, is a 404, so path traversal is
//! impossible by construction. Responses carry an ETag (the file's SHA-256)
//! and Last-Modified, answer `If-None-Match` / `If-Modified-Since` with 304,
//! and a single `Range: bytes=` range with 206.
//!
//! Files are streamed from one open descriptor in [`CHUNK`]-sized reads, so
//! a download holds one chunk in memory however large the file (a 10M-entry
//! snapshot is 160 MB), and a file replaced or deleted mid-download is still
//! sent whole as it was opened. Only the manifest, the one small file, is
//! read whole: its ETag is its digest.
//!
//! The centre's `blocklist serve` and the daemon's mirror mode both serve
//! with this module.
//!
//! Push for `blocklistd`: a conditional GET of the manifest with `Prefer:
//! wait=N` (RFC 7240) whose ETag still matches is held until the manifest
//! changes or N seconds pass (at most [`MAX_WAIT`]), so a daemon learns of a
//! new version within a fraction of a second. Servers without this (nginx, a
//! CDN) simply answer at once, which the daemon detects.

use std::future::Future;
use std::io::SeekFrom;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use blocklist_core::document::{parse_file_path, MANIFEST_PATH};
use blocklist_core::log::tiles::is_tile_path;
use blocklist_core::log::{CHECKPOINT_PATH, LOG_DIR};
use blocklist_core::Sha256;
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};
use tokio::net::TcpListener;

/// How long caches may keep the manifest by default: short, because it is
/// the one file that changes, and clients poll it.
pub const DEFAULT_MANIFEST_MAX_AGE: Duration = Duration::from_secs(30);

/// The longest a `Prefer: wait` long-poll is held.
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// How often a held long-poll looks at the manifest (one `stat`; the file is
/// re-read only when it changed).
const WAIT_POLL: Duration = Duration::from_millis(100);

/// How much of a file a download reads at a time: the memory one download holds.
pub const CHUNK: usize = 64 * 1024;

/// Cache policy for the immutable files: a year, and never revalidate.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// What the server serves.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// The publish directory.
    pub dir: PathBuf,
    /// `Cache-Control: max-age` of the manifest.
    pub manifest_max_age: Duration,
}

/// Serves `config.dir` on `listener` until `shutdown` completes, then lets
/// requests in flight finish.
pub async fn run(
    config: ServeConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    run_with(config, Router::new(), listener, shutdown).await
}

/// [`run`], answering the paths `routes` serves with it (the centre's
/// intake service) and every other path from the directory.
pub async fn run_with(
    config: ServeConfig,
    routes: Router,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Held long-polls end at shutdown too, so they do not delay it.
    let (stopping_tx, stopping) = tokio::sync::watch::channel(false);
    let files = Router::new()
        .fallback(serve_file)
        .with_state(Arc::new(Served { config, stopping }));
    axum::serve(listener, routes.merge(files))
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stopping_tx.send(true);
        })
        .await
}

/// The handler's state.
struct Served {
    config: ServeConfig,
    stopping: tokio::sync::watch::Receiver<bool>,
}

/// A file of the layout, and how to cache it.
struct Published {
    rel: String,
    /// The digest in a document's name (the other files' is computed: they
    /// are small, and read whole).
    sha256: Option<Sha256>,
    /// Whether the file never changes once named (all but the manifest and
    /// the log's checkpoint).
    immutable: bool,
}

/// The layout file a request path names, if any.
fn resolve(path: &str) -> Option<Published> {
    let rel = path.strip_prefix('/')?;
    let read_whole = |immutable| {
        Some(Published {
            rel: rel.to_owned(),
            sha256: None,
            immutable,
        })
    };
    if rel == MANIFEST_PATH {
        return read_whole(false);
    }
    if let Some(log) = rel.strip_prefix(LOG_DIR).and_then(|r| r.strip_prefix('/')) {
        return match log {
            CHECKPOINT_PATH => read_whole(false),
            tile if is_tile_path(tile) => read_whole(true),
            _ => None,
        };
    }
    let (_, _, sha256) = parse_file_path(rel)?;
    Some(Published {
        rel: rel.to_owned(),
        sha256: Some(sha256),
        immutable: true,
    })
}

async fn serve_file(
    State(served): State<Arc<Served>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return status(StatusCode::METHOD_NOT_ALLOWED);
    }
    let Some(file) = resolve(uri.path()) else {
        return status(StatusCode::NOT_FOUND);
    };
    let config = &served.config;
    let path = config.dir.join(&file.rel);
    if file.rel == MANIFEST_PATH && method == Method::GET {
        if let Some(wait) = requested_wait(&headers) {
            wait_for_change(&path, &headers, wait, served.stopping.clone()).await;
        }
    }
    let opened = match file.sha256 {
        Some(sha) => open(&path)
            .await
            .map(|(content, modified)| (content, modified, sha)),
        None => read(&path).await.map(|(bytes, modified)| {
            let sha = Sha256::of(&bytes);
            (Content::Bytes(bytes), modified, sha)
        }),
    };
    let (content, modified, sha) = match opened {
        Ok(found) => found,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return status(StatusCode::NOT_FOUND),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read published file");
            return status(StatusCode::INTERNAL_SERVER_ERROR);
        }
    };
    let etag = format!("\"{sha}\"");
    let cache = match file.immutable {
        true => IMMUTABLE.to_owned(),
        false => format!("public, max-age={}", config.manifest_max_age.as_secs()),
    };
    let mut response = Response::builder()
        .header(header::ETAG, &etag)
        .header(header::LAST_MODIFIED, httpdate::fmt_http_date(modified))
        .header(header::CACHE_CONTROL, cache)
        .header(header::ACCEPT_RANGES, "bytes");
    if not_modified(&headers, &etag, modified) {
        return response
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .expect("valid response");
    }
    response = response
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    let len = content.len();
    let (response, range) = match headers.get(header::RANGE).map(|r| parse_range(r, len)) {
        Some(RangeRequest::Satisfiable(start, end)) => (
            response
                .status(StatusCode::PARTIAL_CONTENT)
                .header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}")),
            start..end + 1,
        ),
        Some(RangeRequest::Unsatisfiable) => {
            return response
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, format!("bytes */{len}"))
                .body(Body::empty())
                .expect("valid response")
        }
        Some(RangeRequest::Ignored) | None => (response.status(StatusCode::OK), 0..len),
    };
    // Set here, since a streamed body has no length of its own: without it
    // the response would go chunked, and a HEAD would claim no length.
    let response = response.header(header::CONTENT_LENGTH, range.end - range.start);
    let body = match content.body(range, method == Method::HEAD).await {
        Ok(body) => body,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read published file");
            return status(StatusCode::INTERNAL_SERVER_ERROR);
        }
    };
    response.body(body).expect("valid response")
}

/// What a response sends: a file still to read, or the bytes of one read.
enum Content {
    /// An open immutable file and its length.
    File(tokio::fs::File, u64),
    /// The manifest, read to learn its digest.
    Bytes(Vec<u8>),
}

impl Content {
    fn len(&self) -> u64 {
        match self {
            Content::File(_, len) => *len,
            Content::Bytes(bytes) => bytes.len() as u64,
        }
    }

    /// The body for bytes `range` (within [`Content::len`]); empty for HEAD.
    async fn body(self, range: std::ops::Range<u64>, head: bool) -> std::io::Result<Body> {
        if head {
            return Ok(Body::empty());
        }
        Ok(match self {
            Content::File(mut file, _) => {
                file.seek(SeekFrom::Start(range.start)).await?;
                let part = file.take(range.end - range.start);
                Body::from_stream(tokio_util::io::ReaderStream::with_capacity(part, CHUNK))
            }
            Content::Bytes(bytes) => {
                // The range lies within the bytes read: both come from their length.
                let (start, end) = (range.start as usize, range.end as usize);
                Body::from(bytes[start..end].to_vec())
            }
        })
    }
}

/// Opens an immutable file to stream it.
async fn open(path: &std::path::Path) -> std::io::Result<(Content, SystemTime)> {
    let file = tokio::fs::File::open(path).await?;
    let metadata = file.metadata().await?;
    Ok((Content::File(file, metadata.len()), metadata.modified()?))
}

async fn read(path: &std::path::Path) -> std::io::Result<(Vec<u8>, SystemTime)> {
    let file = tokio::fs::File::open(path).await?;
    let modified = file.metadata().await?.modified()?;
    let mut bytes = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut tokio::io::BufReader::new(file), &mut bytes).await?;
    Ok((bytes, modified))
}

/// The wait a conditional request asks for with `Prefer: wait=N`, capped.
fn requested_wait(headers: &HeaderMap) -> Option<Duration> {
    headers.get(header::IF_NONE_MATCH)?;
    let prefer = headers.get("prefer")?.to_str().ok()?;
    let secs = prefer
        .split(',')
        .find_map(|p| p.trim().strip_prefix("wait="))?
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(Duration::from_secs(secs).min(MAX_WAIT))
}

/// Returns once the manifest's ETag no longer matches `If-None-Match`, after
/// `wait`, or at shutdown, whichever is first.
async fn wait_for_change(
    path: &std::path::Path,
    headers: &HeaderMap,
    wait: Duration,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    let deadline = tokio::time::Instant::now() + wait;
    let stamp = |meta: &std::fs::Metadata| (meta.len(), meta.modified().ok());
    let mut last_stamp = None;
    loop {
        if let Ok(meta) = tokio::fs::metadata(path).await {
            if last_stamp != Some(stamp(&meta)) {
                last_stamp = Some(stamp(&meta));
                if let Ok((bytes, modified)) = read(path).await {
                    let etag = format!("\"{}\"", Sha256::of(&bytes));
                    if !not_modified(headers, &etag, modified) {
                        return;
                    }
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(WAIT_POLL) => {}
            _ = tokio::time::sleep_until(deadline) => return,
            _ = stopping.wait_for(|s| *s) => return,
        }
        if tokio::time::Instant::now() >= deadline {
            return;
        }
    }
}

fn status(code: StatusCode) -> Response {
    Response::builder()
        .status(code)
        .body(Body::empty())
        .expect("valid response")
}

/// RFC 9110: `If-None-Match` wins over `If-Modified-Since` when both are sent.
fn not_modified(headers: &HeaderMap, etag: &str, modified: SystemTime) -> bool {
    if let Some(tags) = headers.get(header::IF_NONE_MATCH) {
        let tags = tags.to_str().unwrap_or("");
        return tags
            .split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == "*" || t == etag);
    }
    let since = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok());
    // HTTP dates have whole seconds; compare at that precision.
    let whole_secs = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    };
    since.is_some_and(|since| whole_secs(modified) <= whole_secs(since))
}

#[derive(Debug, PartialEq, Eq)]
enum RangeRequest {
    /// First and last byte, inclusive.
    Satisfiable(u64, u64),
    Unsatisfiable,
    /// Not a single byte range this server handles: send the whole file.
    Ignored,
}

fn parse_range(value: &HeaderValue, len: u64) -> RangeRequest {
    let Some(spec) = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().strip_prefix("bytes="))
    else {
        return RangeRequest::Ignored;
    };
    if spec.contains(',') {
        return RangeRequest::Ignored;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return RangeRequest::Ignored;
    };
    let (first, last) = (first.trim(), last.trim());
    let parse = |s: &str| s.parse::<u64>().ok();
    let range = match (first.is_empty(), last.is_empty()) {
        // `bytes=-n`: the last n bytes.
        (true, false) => match parse(last) {
            Some(0) => return RangeRequest::Unsatisfiable,
            Some(n) => (len.saturating_sub(n), len.checked_sub(1)),
            None => return RangeRequest::Ignored,
        },
        (false, true) => match parse(first) {
            Some(a) => (a, len.checked_sub(1)),
            None => return RangeRequest::Ignored,
        },
        (false, false) => match (parse(first), parse(last)) {
            (Some(a), Some(b)) if a <= b => (a, Some(b.min(len.saturating_sub(1)))),
            _ => return RangeRequest::Ignored,
        },
        (true, true) => return RangeRequest::Ignored,
    };
    match range {
        (start, Some(end)) if start < len && start <= end => RangeRequest::Satisfiable(start, end),
        _ => RangeRequest::Unsatisfiable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_layout_paths_resolve() {
        let sha = "ab".repeat(32);
        assert!(resolve("/manifest").is_some());
        assert!(resolve(&format!("/deltas/3-{sha}.delta")).is_some());
        assert!(resolve(&format!("/snapshots/3-{sha}.snapshot")).is_some());
        assert!(resolve(&format!("/roots/1-{sha}.root")).is_some());
        assert!(resolve("/log/checkpoint").is_some_and(|f| !f.immutable));
        assert!(resolve("/log/tile/entries/x001/002.p/3").is_some_and(|f| f.immutable));
        assert!(resolve("/log/tile/1/000").is_some());
        for bad in [
            "/log/",
            "/log/tile/0/../../manifest",
            "/log/tile/0/1",
            "/log/checkpoint/x",
            "/",
            "/.centre/lock",
            "/../etc/passwd",
            "/deltas/../manifest",
            &format!("/deltas/3-{sha}.snapshot"),
            &format!("/deltas/x/3-{sha}.delta"),
            "/manifest/",
        ] {
            assert!(resolve(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn prefer_wait_is_honoured_only_on_conditional_requests_and_capped() {
        let mut headers = HeaderMap::new();
        headers.insert("prefer", HeaderValue::from_static("wait=10"));
        assert_eq!(
            requested_wait(&headers),
            None,
            "nothing to wait on without an ETag"
        );
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"ab\""));
        assert_eq!(requested_wait(&headers), Some(Duration::from_secs(10)));
        headers.insert(
            "prefer",
            HeaderValue::from_static("respond-async, wait=9999"),
        );
        assert_eq!(requested_wait(&headers), Some(MAX_WAIT));
        headers.insert("prefer", HeaderValue::from_static("return=minimal"));
        assert_eq!(requested_wait(&headers), None);
    }

    #[test]
    fn single_ranges_parse_and_others_are_ignored() {
        let r = |s: &str| parse_range(&HeaderValue::from_str(s).unwrap(), 100);
        assert_eq!(r("bytes=0-9"), RangeRequest::Satisfiable(0, 9));
        assert_eq!(r("bytes=90-"), RangeRequest::Satisfiable(90, 99));
        assert_eq!(r("bytes=-10"), RangeRequest::Satisfiable(90, 99));
        assert_eq!(r("bytes=50-500"), RangeRequest::Satisfiable(50, 99));
        assert_eq!(r("bytes=100-"), RangeRequest::Unsatisfiable);
        assert_eq!(r("bytes=0-1,5-6"), RangeRequest::Ignored);
        assert_eq!(r("items=0-1"), RangeRequest::Ignored);
    }
}
