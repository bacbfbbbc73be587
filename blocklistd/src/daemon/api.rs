//! The local lookup API (axum), on loopback and optionally a Unix socket.
//!
//! | method and path | what |
//! |---|---|
//! | `GET /v1/check?kind=number&value=0812345678` | one identifier |
//! | `POST /v1/check` | a batch: `{"kind": "number", "values": [...]}` or `{"items": [{"kind": ..., "value": ...}]}` |
//! | `GET /v1/status` | version, data age, last sync, source, last error, degraded and why, trust root |
//! | `GET /healthz` | 200 while lookups can be answered (degraded included), 503 before any data |
//! | `GET /metrics` | Prometheus text format |
//!
//! Lookups read the index the replica publishes through a lock-free
//! [`LiveIndex`](blocklist_core::index::LiveIndex) guard, so an apply never
//! blocks them. Errors are JSON `{"error": {"code": ..., "message": ...}}`
//! with a fitting HTTP status.

use std::borrow::Cow;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use blocklist_core::index::Hit;
use blocklist_core::{Kind, Timestamp};
use serde::{Deserialize, Serialize};

use crate::daemon::Shared;

/// The API's routes.
pub fn router(shared: Arc<Shared>, max_body_size: usize) -> Router {
    Router::new()
        .route("/v1/check", get(check_one).post(check_batch))
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
        }
    }

    fn no_data() -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_data",
            "no list version has been applied yet; see /v1/status",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Wrapper {
            error: ErrorBody,
        }
        (self.status, Json(Wrapper { error: self.body })).into_response()
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
        agency: &'a str,
        listed_at: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        expires_at: Option<u64>,
    },
    NotListed {
        listed: bool,
    },
    Invalid {
        error: ErrorBody,
    },
}

impl<'a> Answer<'a> {
    fn of(hit: Option<Hit<'a>>) -> Answer<'a> {
        match hit {
            None => Answer::NotListed { listed: false },
            Some(hit) => Answer::Listed {
                listed: true,
                reason: hit
                    .reason
                    .name()
                    .map_or_else(|| Cow::Owned(hit.reason.0.to_string()), Cow::Borrowed),
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

#[derive(Deserialize)]
struct CheckQuery {
    kind: String,
    value: String,
}

#[derive(Serialize)]
struct OneResponse<'a> {
    version: u64,
    #[serde(flatten)]
    answer: Answer<'a>,
}

fn parse_kind(kind: &str) -> Result<Kind, ApiError> {
    kind.parse::<Kind>()
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "unknown_kind", e.to_string()))
}

async fn check_one(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<CheckQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("{e}: expected ?kind=account|number|domain&value=..."),
        )
    })?;
    let kind = parse_kind(&query.kind)?;
    let live = shared.index().ok_or_else(ApiError::no_data)?;
    let index = live.load();
    let hit = index
        .check(kind, &query.value, &shared.rules, Timestamp::now())
        .map_err(|e| {
            shared.metrics.invalid(1);
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_identifier", e.to_string())
        })?;
    shared.metrics.lookups(kind, 1, u64::from(hit.is_some()));
    Ok(Json(OneResponse {
        version: index.header().list_version,
        answer: Answer::of(hit),
    })
    .into_response())
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
                .map(|item| {
                    item.kind
                        .0
                        .parse::<Kind>()
                        .map(|kind| (kind, item.value.0.as_ref()))
                        .map_err(|e| e.to_string())
                })
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
    let index = live.load();
    let valid: Vec<(Kind, &str)> = queries
        .iter()
        .filter_map(|q| q.as_ref().ok().copied())
        .collect();
    let mut checked = index
        .check_batch(&valid, &shared.rules, Timestamp::now())
        .into_iter();
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
            Ok((kind, _)) => match checked.next().expect("one result per valid query") {
                Ok(hit) => {
                    lookups[slot(kind)] += 1;
                    hits[slot(kind)] += u64::from(hit.is_some());
                    Answer::of(hit)
                }
                Err(e) => {
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
