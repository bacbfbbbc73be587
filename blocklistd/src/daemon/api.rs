//! The local lookup API (axum), on loopback and optionally a Unix socket.
//!
//! | method and path | what |
//! |---|---|
//! | `GET /v1/check?kind=number&value=0812345678` | one identifier (kinds: `account`, `number`, `domain`, `url`) |
//! | `POST /v1/check` | a batch: `{"kind": "number", "values": [...]}` or `{"items": [{"kind": ..., "value": ...}]}` |
//! | `GET /v1/history?kind=number&value=0812345678` | the identifier's stored listing (expired too) and the overrides that removed or updated listings of it |
//! | `GET /v1/status` | version, data age, last sync, source, last error, degraded and why, trust root |
//! | `GET /healthz` | 200 while lookups can be answered (degraded included), 503 before any data |
//! | `GET /metrics` | Prometheus text format |
//!
//! Lookups read the index the replica publishes through a lock-free
//! [`LiveIndex`](blocklist_core::index::LiveIndex) guard, so an apply never
//! blocks them. Every check answer carries `freshness` (`fresh`, `stale`,
//! `no_data`), read from the feed's heartbeat with the function the C
//! library applies to the same file, so HTTP and C answers agree. Errors are
//! JSON `{"error": {"code": ..., "message": ...}}` with a fitting HTTP status.
//!
//! [`serve`] runs the connections itself (hyper's HTTP/1 under the axum
//! router) because any local user can connect: a request head must arrive
//! within `api.header_read_timeout`, a connection where no byte moves for
//! `api.idle_timeout` is closed, and at most `api.max_connections` are open
//! at once over every listener, so slow clients can neither hold the API nor
//! use up the file descriptors syncing needs.

use std::borrow::Cow;
use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Query, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::Listener;
use axum::{Json, Router};
use blocklist_core::index::{Freshness, Hit};
use blocklist_core::{Identifier, Kind, Timestamp};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tracing::{debug, warn};

use crate::daemon::config::ApiConfig;
use crate::daemon::history::{self, Listing};
use crate::daemon::Shared;

/// The API's routes.
pub fn router(shared: Arc<Shared>, max_body_size: usize) -> Router {
    Router::new()
        .route("/v1/check", get(check_one).post(check_batch))
        .route("/v1/history", get(history))
        .route("/v1/status", get(status))
        .route("/healthz", get(health))
        .route("/metrics", get(metrics))
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
        })
        .layer(DefaultBodyLimit::max(max_body_size))
        .with_state(shared)
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
    /// Said beside the error when a lookup could not be answered for want of data.
    freshness: Option<Freshness>,
}

#[derive(Debug, Serialize)]
struct ErrorBody {
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: ErrorBody {
                code,
                message: message.into(),
            },
            freshness: None,
        }
    }

    fn no_data() -> ApiError {
        ApiError {
            freshness: Some(Freshness::NoData),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_data",
                "no lookup index is published yet; see /v1/status",
            )
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Wrapper {
            error: ErrorBody,
            #[serde(skip_serializing_if = "Option::is_none")]
            freshness: Option<&'static str>,
        }
        let wrapper = Wrapper {
            error: self.body,
            freshness: self.freshness.map(Freshness::as_str),
        };
        (self.status, Json(wrapper)).into_response()
    }
}

/// One answer.
#[derive(Serialize)]
#[serde(untagged)]
enum Answer<'a> {
    Listed {
        listed: bool,
        /// The listed identifier that matched (a parent, for a domain).
        matched: Cow<'a, str>,
        reason: Cow<'static, str>,
        reason_code: u16,
        /// The agency whose listing stands for the identifier (see
        /// [`blocklist_core::Standing`]).
        agency: &'a str,
        listed_at: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        expires_at: Option<u64>,
        /// How many agencies list the identifier.
        listing_count: u32,
        /// Every listing of the identifier, one per agency, the one that
        /// stands first: fewer than `listing_count` only when the others
        /// could not be read at the version that answered.
        listings: Vec<Listing>,
    },
    NotListed {
        listed: bool,
    },
    Invalid {
        error: ErrorBody,
    },
}

impl<'a> Answer<'a> {
    /// The answer of a lookup, with every listing of a hit: the one that
    /// stands (which the index holds) first, then `others` (see
    /// [`others_of`]).
    fn of(hit: Option<Hit<'a>>, others: Vec<Listing>) -> Answer<'a> {
        match hit {
            None => Answer::NotListed { listed: false },
            Some(hit) => Answer::Listed {
                listing_count: hit.listings,
                listings: {
                    let standing = Listing::of(&hit.meta());
                    let mut others: Vec<Listing> =
                        others.into_iter().filter(|l| l != &standing).collect();
                    others.insert(0, standing);
                    others
                },
                listed: true,
                reason: history::reason_text(hit.reason),
                reason_code: hit.reason.0,
                agency: hit.agency.as_str(),
                listed_at: hit.listed_at.0,
                expires_at: hit.expires_at.map(|t| t.0),
                matched: hit.matched,
            },
        }
    }

    fn invalid(message: String) -> Answer<'a> {
        Answer::Invalid {
            error: ErrorBody {
                code: "invalid_identifier",
                message,
            },
        }
    }
}

/// For each of `hits` (answered by the index of list version `version`),
/// the listings of its identifier besides the one the index holds: none
/// for a miss or an identifier one agency lists (nearly every hit: nothing
/// is read), else every listing, read from the replica's store (one read
/// for them all, off the async threads). Left out when the
/// store is already one apply ahead of that index, or cannot be read: the
/// answer's `listing_count` still says how many there are.
async fn others_of(
    shared: &Arc<Shared>,
    version: u64,
    hits: &[Option<&Hit<'_>>],
) -> Vec<Vec<Listing>> {
    let (at, ids): (Vec<usize>, Vec<Identifier>) = hits
        .iter()
        .enumerate()
        .filter_map(|(at, hit)| {
            let hit = hit.filter(|h| h.listings > 1)?;
            Some((at, Identifier::from_canonical(hit.kind, &hit.matched).ok()?))
        })
        .unzip();
    let mut others: Vec<Vec<Listing>> = hits.iter().map(|_| Vec::new()).collect();
    if ids.is_empty() {
        return others;
    }
    let reading = Arc::clone(shared);
    let read =
        tokio::task::spawn_blocking(move || history::listings(&reading.readers, version, &ids))
            .await;
    match read {
        Ok(Ok(Some(all))) => {
            for (at, listings) in at.into_iter().zip(all) {
                others[at] = listings;
            }
        }
        Ok(Ok(None)) => {
            debug!("the store is ahead of the index that answered: other listings left out")
        }
        Ok(Err(e)) => {
            warn!(error = %e, "cannot read every listing of a hit from the replica's store")
        }
        Err(e) => warn!(error = %e, "the read of every listing of a hit failed"),
    }
    others
}

#[derive(Deserialize)]
struct CheckQuery {
    kind: String,
    value: String,
}

#[derive(Serialize)]
struct OneResponse<'a> {
    version: u64,
    freshness: &'static str,
    #[serde(flatten)]
    answer: Answer<'a>,
}

/// The kinds the C library checks: the list's kinds (and their aliases), and
/// `url`, whose host is checked as a domain, as `blocklist_check_url` does.
fn kind_named(name: &str) -> Result<Kind, String> {
    if name.trim().eq_ignore_ascii_case("url") {
        return Ok(Kind::Domain);
    }
    name.parse::<Kind>()
        .map_err(|e| format!("{e} (or url, checked by its host)"))
}

fn parse_kind(kind: &str) -> Result<Kind, ApiError> {
    kind_named(kind).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "unknown_kind", e))
}

/// A `+` written as is in a query string decodes to a space (form encoding),
/// so `value=+66...` arrives as ` 66...`: an error then says how to send it.
fn plus_hint(raw_query: Option<&str>) -> &'static str {
    match raw_query {
        Some(raw) if raw.contains('+') => {
            "; a '+' in a query string means a space: percent-encode it as %2B (value=%2B66812345678)"
        }
        _ => "",
    }
}

/// The `?kind=..&value=..` of a one-identifier request; `kinds` says which
/// kinds the endpoint takes, for the error.
fn one_query(
    query: Result<Query<CheckQuery>, QueryRejection>,
    kinds: &str,
) -> Result<CheckQuery, ApiError> {
    let Query(query) = query.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("{e}: expected ?kind={kinds}&value=..."),
        )
    })?;
    Ok(query)
}

/// A 400 for a value that is not an identifier of its kind.
fn invalid_identifier(e: impl std::fmt::Display, raw_query: Option<&str>) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_identifier",
        format!("{e}{}", plus_hint(raw_query)),
    )
}

async fn check_one(
    State(shared): State<Arc<Shared>>,
    RawQuery(raw_query): RawQuery,
    query: Result<Query<CheckQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let query = one_query(query, "account|number|domain|url")?;
    let kind = parse_kind(&query.kind)?;
    let live = shared.index().ok_or_else(ApiError::no_data)?;
    // Owned, so the answer may wait for a read of the store.
    let index = live.load_full();
    let now = Timestamp::now();
    let hit = index
        .check(kind, &query.value, &shared.rules, now)
        .map_err(|e| {
            shared.metrics.invalid(1);
            invalid_identifier(e, raw_query.as_deref())
        })?;
    shared.metrics.lookups(kind, 1, u64::from(hit.is_some()));
    let version = index.header().list_version;
    let others = others_of(&shared, version, &[hit.as_ref()]).await;
    Ok(Json(OneResponse {
        version: index.header().list_version,
        freshness: shared.status.freshness(now).as_str(),
        answer: Answer::of(hit, others.into_iter().next().unwrap_or_default()),
    })
    .into_response())
}

async fn history(
    State(shared): State<Arc<Shared>>,
    RawQuery(raw_query): RawQuery,
    query: Result<Query<CheckQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let query = one_query(query, "account|number|domain")?;
    let kind = query
        .kind
        .parse::<Kind>()
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "unknown_kind", e.to_string()))?;
    let id = Identifier::parse(kind, &query.value, &shared.rules)
        .map_err(|e| invalid_identifier(e, raw_query.as_deref()))?;
    if shared.index().is_none() {
        return Err(ApiError::no_data());
    }
    let reading = Arc::clone(&shared);
    let read = tokio::task::spawn_blocking(move || history::read(&reading.readers, &id))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    match read {
        Ok(found) => Ok(Json(found).into_response()),
        Err(e) => {
            warn!(error = %e, "cannot read the replica for /v1/history");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                e.to_string(),
            ))
        }
    }
}

/// A string borrowed from the request body when it has no escapes.
#[derive(Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchRequest<'a> {
    #[serde(borrow)]
    kind: Option<Text<'a>>,
    #[serde(borrow)]
    values: Option<Vec<Text<'a>>>,
    #[serde(borrow)]
    items: Option<Vec<BatchItem<'a>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchItem<'a> {
    #[serde(borrow)]
    kind: Text<'a>,
    #[serde(borrow)]
    value: Text<'a>,
}

#[derive(Serialize)]
struct BatchResponse<'a> {
    version: u64,
    freshness: &'static str,
    results: Vec<Answer<'a>>,
}

async fn check_batch(
    State(shared): State<Arc<Shared>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let bad = |message: String| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message);
    // A body over `max_body_size` (or unreadable) is answered in JSON like every other error.
    let body = body.map_err(|rejection| {
        let status = rejection.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "body_too_large"
        } else {
            "bad_request"
        };
        ApiError::new(status, code, rejection.body_text())
    })?;
    let request: BatchRequest<'_> = serde_json::from_slice(&body).map_err(|e| {
        bad(format!(
            "{e}: expected {{\"kind\": ..., \"values\": [...]}} or {{\"items\": [{{\"kind\": ..., \"value\": ...}}]}}"
        ))
    })?;
    // Kinds first: an unknown kind in `items` is a per-item error.
    let mut queries: Vec<Result<(Kind, &str), String>> =
        match (&request.kind, &request.values, &request.items) {
            (Some(kind), Some(values), None) => {
                let kind = parse_kind(&kind.0)?;
                values.iter().map(|v| Ok((kind, v.0.as_ref()))).collect()
            }
            (None, None, Some(items)) => items
                .iter()
                .map(|item| kind_named(&item.kind.0).map(|kind| (kind, item.value.0.as_ref())))
                .collect(),
            _ => {
                return Err(bad(
                    "give either \"kind\" and \"values\", or \"items\"".into()
                ))
            }
        };
    if queries.len() > shared.max_batch {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!(
                "{} identifiers; at most {} per batch",
                queries.len(),
                shared.max_batch
            ),
        ));
    }
    let live = shared.index().ok_or_else(ApiError::no_data)?;
    // Owned, so the answers may wait for a read of the store.
    let index = live.load_full();
    let now = Timestamp::now();
    let valid: Vec<(Kind, &str)> = queries
        .iter()
        .filter_map(|q| q.as_ref().ok().copied())
        .collect();
    let checked = index.check_batch(&valid, &shared.rules, now);
    let found: Vec<Option<&Hit<'_>>> = checked
        .iter()
        .map(|c| c.as_ref().ok().and_then(Option::as_ref))
        .collect();
    let version = index.header().list_version;
    let mut others = others_of(&shared, version, &found).await.into_iter();
    drop(found);
    let mut checked = checked.into_iter();
    let mut lookups = [0u64; 4];
    let mut hits = [0u64; 4];
    let mut invalid = 0u64;
    let slot = |kind: Kind| match kind {
        Kind::Account => 0,
        Kind::Number => 1,
        Kind::Domain => 2,
        Kind::Other(_) => 3,
    };
    let results: Vec<Answer<'_>> = queries
        .drain(..)
        .map(|query| match query {
            Err(message) => {
                invalid += 1;
                Answer::invalid(message)
            }
            Ok((kind, _)) => match (
                checked.next().expect("one result per valid query"),
                others.next().unwrap_or_default(),
            ) {
                (Ok(hit), others) => {
                    lookups[slot(kind)] += 1;
                    hits[slot(kind)] += u64::from(hit.is_some());
                    Answer::of(hit, others)
                }
                (Err(e), _) => {
                    invalid += 1;
                    Answer::invalid(e.to_string())
                }
            },
        })
        .collect();
    for (i, kind) in [Kind::Account, Kind::Number, Kind::Domain, Kind::Other(0)]
        .into_iter()
        .enumerate()
    {
        if lookups[i] > 0 {
            shared.metrics.lookups(kind, lookups[i], hits[i]);
        }
    }
    if invalid > 0 {
        shared.metrics.invalid(invalid);
    }
    let body = serde_json::to_vec(&BatchResponse {
        version: index.header().list_version,
        freshness: shared.status.freshness(now).as_str(),
        results,
    })
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

async fn status(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.status.report(Timestamp::now())).into_response()
}

async fn health(State(shared): State<Arc<Shared>>) -> Response {
    #[derive(Serialize)]
    struct Health {
        status: &'static str,
        version: Option<u64>,
    }
    let report = shared.status.report(Timestamp::now());
    match shared.index() {
        Some(live) => Json(Health {
            status: if report.degraded { "degraded" } else { "ok" },
            version: Some(live.load().header().list_version),
        })
        .into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Health {
                status: "no data",
                version: None,
            }),
        )
            .into_response(),
    }
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let now = Timestamp::now();
    let text = shared.metrics.render(&shared.status.report(now), now);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// How the API's connections are bounded (the `[api]` keys), shared by every
/// listener.
#[derive(Clone, Debug)]
pub struct ConnectionLimits {
    /// One permit per open API connection, over every listener: with all
    /// taken the listeners stop accepting and clients wait in the kernel's
    /// accept queue, which holds none of the daemon's file descriptors.
    slots: Arc<Semaphore>,
    max_connections: usize,
    header_read_timeout: Duration,
    idle_timeout: Duration,
}

impl ConnectionLimits {
    /// The limits `config` sets.
    pub fn new(config: &ApiConfig) -> ConnectionLimits {
        ConnectionLimits {
            slots: Arc::new(Semaphore::new(config.max_connections)),
            max_connections: config.max_connections,
            header_read_timeout: config.header_read_timeout,
            idle_timeout: config.idle_timeout,
        }
    }
}

/// Serves `router` on `listener` within `limits` until `stop` turns true,
/// then gives the requests in flight `grace` to finish.
///
/// Accept errors are handled by axum's [`Listener`]: a client gone before
/// its accept is skipped, and anything else (out of file descriptors) is
/// logged and retried a second later, so it neither spins nor ends serving.
pub async fn serve<L: Listener>(
    mut listener: L,
    router: Router,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let graceful = GracefulShutdown::new();
    let mut saturated = false;
    loop {
        let (io, permit) = tokio::select! {
            biased;
            _ = stop.wait_for(|stop| *stop) => break,
            accepted = accept(&mut listener, &limits, &mut saturated) => accepted,
        };
        let io = TokioIo::new(IdleTimeout::new(io, limits.idle_timeout));
        let connection =
            graceful.watch(http.serve_connection(io, TowerToHyperService::new(router.clone())));
        tokio::spawn(async move {
            // Errors here are the client's (gone, too slow): not the daemon's.
            if let Err(e) = connection.await {
                debug!(error = %e, "API connection closed");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        warn!(grace = ?grace, "requests still in flight after the shutdown grace; closing");
    }
}

/// Takes a connection slot, waiting for one when all are taken (said once
/// per such episode, not per client), then accepts a connection.
async fn accept<L: Listener>(
    listener: &mut L,
    limits: &ConnectionLimits,
    saturated: &mut bool,
) -> (L::Io, OwnedSemaphorePermit) {
    let permit = match limits.slots.clone().try_acquire_owned() {
        Ok(permit) => {
            *saturated = false;
            permit
        }
        Err(_) => {
            if !std::mem::replace(saturated, true) {
                warn!(
                    max_connections = limits.max_connections,
                    "API connection cap reached: new clients wait until a connection closes (a client slower than api.header_read_timeout or idle for api.idle_timeout is closed)"
                );
            }
            limits
                .slots
                .clone()
                .acquire_owned()
                .await
                .expect("the connection semaphore is never closed")
        }
    };
    let (io, _) = listener.accept().await;
    (io, permit)
}

/// A connection that fails with `TimedOut` once no byte has moved in either
/// direction for `limit`.
struct IdleTimeout<T> {
    inner: T,
    limit: Duration,
    last_progress: Instant,
    /// Fires at or after `last_progress + limit`; moved on only when it
    /// fires, so that progress costs a clock read rather than a timer update.
    timer: Pin<Box<Sleep>>,
}

impl<T> IdleTimeout<T> {
    fn new(inner: T, limit: Duration) -> IdleTimeout<T> {
        let now = Instant::now();
        IdleTimeout {
            inner,
            limit,
            last_progress: now,
            timer: Box::pin(tokio::time::sleep_until(now + limit)),
        }
    }

    /// Passes on a ready result (progress) and, while the connection waits,
    /// turns `limit` without progress into an error.
    fn check<R>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        if polled.is_ready() {
            self.last_progress = Instant::now();
            return polled;
        }
        while self.timer.as_mut().poll(cx).is_ready() {
            let deadline = self.last_progress + self.limit;
            if Instant::now() >= deadline {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no byte moved for {:?} (api.idle_timeout)", self.limit),
                )));
            }
            self.timer.as_mut().reset(deadline);
        }
        Poll::Pending
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for IdleTimeout<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        this.check(cx, polled)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for IdleTimeout<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.check(cx, polled)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.check(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_flush(cx);
        this.check(cx, polled)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt as _;

    #[tokio::test(start_paused = true)]
    async fn a_connection_where_no_byte_moves_times_out_and_progress_defers_it() {
        let (client, server) = tokio::io::duplex(64);
        let mut server = IdleTimeout::new(server, Duration::from_secs(10));
        let mut client = client;
        let mut buf = [0u8; 8];
        tokio::time::sleep(Duration::from_secs(6)).await;
        tokio::io::AsyncWriteExt::write_all(&mut client, b"x")
            .await
            .unwrap();
        assert_eq!(server.read(&mut buf).await.unwrap(), 1);
        // 6 s in, progress: the limit counts from here, not from the start.
        let waited = Instant::now();
        let err = server.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(waited.elapsed(), Duration::from_secs(10));
    }
}
