//! The intake service's HTTP surface, beside the directory's files:
//!
//! - `POST /v1/submissions`: the body is a submission file as `blocklist
//!   submit` writes it, authenticated by its own signature (no other
//!   credential: TLS is the reverse proxy's). **202** with the signed
//!   acknowledgement as the body and `Location: /v1/submissions/<id>`;
//!   **200** with the same acknowledgement when the same bytes were
//!   accepted before (a retry); **413** past the size cap, read no
//!   further; otherwise a 4xx whose JSON body `{"error": "..."}` names the
//!   rule and the operation refused (`refused` lists every refused
//!   operation of an ownership refusal). A refused submission is not kept.
//! - `GET /v1/submissions/{id}`: where an accepted submission stands (JSON),
//!   404 for an id never accepted.
//! - `POST /v1/overrides`: the body is an override file as `blocklist
//!   override` writes it, authenticated by its override keys' signatures.
//!   **202** with its standing (JSON, as the `GET` below answers: the
//!   version that will carry it) and `Location: /v1/overrides/<id>`;
//!   **200** for the same bytes again; refusals as for submissions.
//! - `GET /v1/overrides/{id}`: where an accepted override stands (JSON).
//! - `GET /operator`: the operator's page ([`page`]), HTML.
//! - `POST /v1/cosignatures`: the body is the log's checkpoint as
//!   `blocklist witness` writes it, cosigned. **200** with `{"size": N,
//!   "cosigned_by": [...]}` once the lines of the witnesses the service
//!   knows (`--witness`) are added to `log/checkpoint` (other lines are
//!   dropped); **409** for a copy of another checkpoint (the centre
//!   published since: cosign the current one); **422** when a known
//!   witness's line does not verify or none cosigned; **404** when the
//!   service knows no witness.
//! - `POST /v1/receipts`: the body is a replica's signed receipt, as
//!   `blocklistd` sends it after each apply. **202** with `{"replica":
//!   NAME, "version": N}` once checked and kept; **200** for the same bytes
//!   again; **403** for a key no registered replica holds; **409** for one
//!   older than the receipt kept for its replica; **422** for a bad
//!   signature, another list, a version not published or a state other
//!   than the published one.
//! - `GET /metrics`: each registered replica's version and lag, and how
//!   many lag past `--lag-alert`, in the Prometheus text format.
//!
//! Both kinds of work share the plumbing: the body read under a cap
//! (`read_capped`), the judging off the async threads, one mapping of
//! errors to statuses (`status_of`) and bodies (`refused`).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse as _, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tracing::{info, warn};

use blocklist_core::log::checkpoint::MAX_CHECKPOINT_LEN;
use blocklist_core::log::LogError;
use blocklist_core::verify::ReceiptError;

use crate::centre::overrides::MAX_OVERRIDE_SIZE;
use crate::centre::queue::{self, OverrideRecord, Record};
use crate::centre::receipts::{ReceiptRefusal, Taken, MAX_RECEIPT_SIZE};
use crate::centre::service::{page, Intake, Offered};
use crate::centre::CentreError;

/// The routes, answering from `intake`.
pub fn routes(intake: Arc<Intake>) -> Router {
    Router::new()
        .route("/v1/submissions", post(submit))
        .route("/v1/submissions/{id}", get(status))
        .route("/v1/overrides", post(submit_override))
        .route("/v1/overrides/{id}", get(override_status))
        .route("/v1/cosignatures", post(cosign))
        .route("/v1/receipts", post(receipt))
        .route("/metrics", get(metrics))
        .route("/operator", get(operator_page))
        .with_state(intake)
}

/// An error answer: `status` and `{"error": message}`.
fn refusal(status: StatusCode, message: String, refused: Vec<String>) -> Response {
    let mut body = json!({ "error": message });
    if !refused.is_empty() {
        body["refused"] = json!(refused);
    }
    (status, Json(body)).into_response()
}

/// The status of an error about a submission or override: the client's
/// fault (4xx, naming the rule) or the centre's (5xx, logged).
fn status_of(error: &CentreError) -> StatusCode {
    match error {
        // Not signed by a registered, unrevoked key allowed its kinds (or a
        // threshold of override keys), or not a submission (override) at all.
        CentreError::Submission { .. }
        | CentreError::Override { .. }
        | CentreError::OverrideAhead { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        // An ownership rule: another agency's listing.
        CentreError::SubmissionRefused { .. } => StatusCode::FORBIDDEN,
        // A replay, or a clash with the list or what is queued: the state decides.
        CentreError::SubmissionReplay { .. }
        | CentreError::Overlap { .. }
        | CentreError::OverrideAgain { .. }
        | CentreError::OverrideQueued { .. }
        | CentreError::OverrideStale { .. }
        | CentreError::OverrideChanged { .. } => StatusCode::CONFLICT,
        CentreError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        // A witness's copy of an older checkpoint: the centre published since.
        CentreError::Cosignature {
            source: LogError::Checkpoint { .. },
            ..
        } => StatusCode::CONFLICT,
        CentreError::Cosignature { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        CentreError::NoWitnesses => StatusCode::NOT_FOUND,
        CentreError::Receipt { source, .. } => match **source {
            ReceiptRefusal::Signature(ReceiptError::UnknownReplica { .. }) => StatusCode::FORBIDDEN,
            ReceiptRefusal::Stale { .. } => StatusCode::CONFLICT,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        },
        // The centre cannot judge now (no registry yet, a lock held long).
        CentreError::Usage { .. } | CentreError::Locked { .. } => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The answer to a refused (or unjudgeable) `what`, logged as such.
fn refused(what: &str, shown: &str, error: &CentreError) -> Response {
    let status = status_of(error);
    if status.is_server_error() {
        warn!(%error, "cannot judge a {what}");
    } else {
        info!(%what, id = %shown, %error, "{what} refused");
    }
    let refused = match error {
        CentreError::SubmissionRefused { refusals, .. } => {
            refusals.iter().map(ToString::to_string).collect()
        }
        _ => vec![],
    };
    refusal(status, error.to_string(), refused)
}

/// Why work accepted before and refused when published is refused when
/// offered again (over HTTP, 409; in the drop folder, its `.error`): its
/// acceptance would mislead.
pub fn refused_when_published_text(
    what: &str,
    id: &str,
    accepted_at: u64,
    reason: Option<&str>,
) -> String {
    format!(
        "{what} {id} was accepted at {accepted_at}, then refused when published, nothing of it applied: {}",
        reason.unwrap_or("no reason recorded")
    )
}

fn refused_when_published(
    what: &str,
    id: &str,
    accepted_at: u64,
    reason: Option<&str>,
) -> Response {
    refusal(
        StatusCode::CONFLICT,
        refused_when_published_text(what, id, accepted_at, reason),
        vec![],
    )
}

fn internal_error(what: &str, error: &dyn std::fmt::Display) -> Response {
    warn!(%error, "{what} panicked");
    refusal(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error".to_owned(),
        vec![],
    )
}

/// Reads the body of a `what` of at most `limit` bytes (`knob`: the option
/// that sets it, if any), refusing a larger one unread.
async fn read_capped(
    headers: &HeaderMap,
    body: Body,
    limit: u64,
    what: &str,
    knob: &str,
) -> Result<Vec<u8>, Response> {
    let too_large = || {
        refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the {what} is larger than the {limit} bytes this centre takes{knob}: not read further"),
            vec![],
        )
    };
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    match axum::body::to_bytes(body, usize::try_from(limit).unwrap_or(usize::MAX)).await {
        Ok(bytes) => Ok(bytes.to_vec()),
        // Past the cap, or the client went away: either way nothing to judge.
        Err(_) => Err(too_large()),
    }
}

fn acknowledged(status: StatusCode, record: Record) -> Response {
    Response::builder()
        .status(status)
        .header(header::LOCATION, format!("/v1/submissions/{}", record.id))
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(Body::from(record.ack))
        .expect("valid response")
}

async fn submit(State(intake): State<Arc<Intake>>, headers: HeaderMap, body: Body) -> Response {
    let limit = intake.max_submission_bytes();
    let bytes = match read_capped(
        &headers,
        body,
        limit,
        "submission",
        " (--max-submission-bytes)",
    )
    .await
    {
        Ok(bytes) => bytes,
        Err(answer) => return answer,
    };
    let shown = format!("submission {}", blocklist_core::Sha256::of(&bytes));
    let offered = {
        let intake = intake.clone();
        let shown = shown.clone();
        tokio::task::spawn_blocking(move || intake.offer(bytes, &shown)).await
    };
    match offered {
        Ok(Ok(Offered::Accepted(record))) => acknowledged(StatusCode::ACCEPTED, record),
        Ok(Ok(Offered::Known(record))) if record.state == queue::State::Refused => {
            refused_when_published(
                "submission",
                &record.id,
                record.accepted_at.0,
                record.reason.as_deref(),
            )
        }
        Ok(Ok(Offered::Known(record))) => acknowledged(StatusCode::OK, record),
        Ok(Err(error)) => refused("submission", &shown, &error),
        Err(error) => internal_error("judging a submission", &error),
    }
}

async fn submit_override(
    State(intake): State<Arc<Intake>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let bytes = match read_capped(&headers, body, MAX_OVERRIDE_SIZE, "override", "").await {
        Ok(bytes) => bytes,
        Err(answer) => return answer,
    };
    let shown = format!("override {}", blocklist_core::Sha256::of(&bytes));
    let offered = {
        let intake = intake.clone();
        let shown = shown.clone();
        tokio::task::spawn_blocking(move || intake.offer_override(bytes, &shown)).await
    };
    let standing = |status: StatusCode, record: OverrideRecord| {
        let location = format!("/v1/overrides/{}", record.id);
        (
            status,
            [(header::LOCATION, location)],
            Json(override_json(record)),
        )
            .into_response()
    };
    match offered {
        Ok(Ok(Offered::Accepted(record))) => standing(StatusCode::ACCEPTED, record),
        Ok(Ok(Offered::Known(record))) if record.state == queue::State::Refused => {
            refused_when_published(
                "override",
                &record.id,
                record.accepted_at.0,
                record.reason.as_deref(),
            )
        }
        Ok(Ok(Offered::Known(record))) => standing(StatusCode::OK, record),
        Ok(Err(error)) => refused("override", &shown, &error),
        Err(error) => internal_error("judging an override", &error),
    }
}

async fn cosign(State(intake): State<Arc<Intake>>, headers: HeaderMap, body: Body) -> Response {
    let bytes =
        match read_capped(&headers, body, MAX_CHECKPOINT_LEN as u64, "cosignature", "").await {
            Ok(bytes) => bytes,
            Err(answer) => return answer,
        };
    let shown = format!("cosigned checkpoint {}", blocklist_core::Sha256::of(&bytes));
    let taken = {
        let intake = intake.clone();
        let shown = shown.clone();
        tokio::task::spawn_blocking(move || intake.offer_cosignatures(&bytes, &shown)).await
    };
    match taken {
        Ok(Ok((size, by))) => {
            info!(size, witnesses = ?by, "cosignatures added to the log's checkpoint");
            (
                StatusCode::OK,
                Json(json!({ "size": size, "cosigned_by": by })),
            )
                .into_response()
        }
        Ok(Err(error)) => refused("cosignature", &shown, &error),
        Err(error) => internal_error("taking cosignatures", &error),
    }
}

async fn receipt(State(intake): State<Arc<Intake>>, headers: HeaderMap, body: Body) -> Response {
    let bytes = match read_capped(&headers, body, MAX_RECEIPT_SIZE, "receipt", "").await {
        Ok(bytes) => bytes,
        Err(answer) => return answer,
    };
    let shown = format!("receipt {}", blocklist_core::Sha256::of(&bytes));
    let taken = {
        let intake = intake.clone();
        let shown = shown.clone();
        tokio::task::spawn_blocking(move || intake.offer_receipt(&bytes, &shown)).await
    };
    match taken {
        Ok(Ok(taken)) => {
            let status = if taken.known {
                StatusCode::OK
            } else {
                StatusCode::ACCEPTED
            };
            (status, Json(receipt_json(&taken))).into_response()
        }
        Ok(Err(error)) => refused("receipt", &shown, &error),
        Err(error) => internal_error("taking a receipt", &error),
    }
}

/// What a receipt taken says, as `POST /v1/receipts` answers (and the drop
/// folder's `NAME.receipt.accepted.json`).
pub fn receipt_json(taken: &Taken) -> Value {
    json!({
        "replica": taken.replica,
        "replica_id": hex::encode(taken.receipt.replica.0),
        "version": taken.receipt.version.get(),
        "applied_at": taken.receipt.applied_at.0,
    })
}

async fn metrics(State(intake): State<Arc<Intake>>) -> Response {
    match tokio::task::spawn_blocking(move || intake.metrics()).await {
        Ok(Ok(text)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            text,
        )
            .into_response(),
        Ok(Err(error)) => {
            warn!(%error, "cannot read the replicas' receipts");
            refusal(StatusCode::INTERNAL_SERVER_ERROR, error.to_string(), vec![])
        }
        Err(error) => internal_error("reading the replicas' receipts", &error),
    }
}

/// Where an override stands, as `GET /v1/overrides/{id}` answers (and
/// `POST` and the drop folder at acceptance).
pub fn override_json(record: OverrideRecord) -> Value {
    standing(
        json!({
            "id": record.id,
            "decision": record.decision.to_string(),
            "made_at": record.made_at.0,
            "removals": record.removals,
            "updates": record.updates,
            "accepted_at": record.accepted_at.0,
            "promised_version": record.promised_version,
        }),
        record.state,
        record.version,
        record.reason,
    )
}

fn submission_json(record: Record) -> Value {
    standing(
        json!({
            "id": record.id,
            "agency": record.agency,
            "sequence": record.sequence,
            "urgent": record.urgent,
            "accepted_at": record.accepted_at.0,
            "promised_version": record.promised_version,
        }),
        record.state,
        record.version,
        record.reason,
    )
}

/// `body` with where the work stands: its state, and only what is known
/// (the version once published, the reason once refused).
fn standing(
    mut body: Value,
    state: queue::State,
    version: Option<u64>,
    reason: Option<String>,
) -> Value {
    body["state"] = json!(state.as_str());
    if let Some(version) = version {
        body["version"] = json!(version);
    }
    if let Some(reason) = reason {
        body["reason"] = json!(reason);
    }
    body
}

async fn status(State(intake): State<Arc<Intake>>, Path(id): Path<String>) -> Response {
    look_up(intake, id, "submission", Intake::status, submission_json).await
}

async fn override_status(State(intake): State<Arc<Intake>>, Path(id): Path<String>) -> Response {
    look_up(
        intake,
        id,
        "override",
        Intake::override_status,
        override_json,
    )
    .await
}

/// Answers where the `what` of id `id` stands, read by `find`, shown by `show`.
async fn look_up<R: Send + 'static>(
    intake: Arc<Intake>,
    id: String,
    what: &'static str,
    find: fn(&Intake, &str) -> Result<Option<R>, CentreError>,
    show: fn(R) -> Value,
) -> Response {
    let not_found = || {
        refusal(
            StatusCode::NOT_FOUND,
            format!("no {what} {id} was accepted here"),
            vec![],
        )
    };
    if id.len() != 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return not_found();
    }
    let found = {
        let id = id.clone();
        tokio::task::spawn_blocking(move || find(&intake, &id)).await
    };
    match found {
        Ok(Ok(Some(record))) => Json(show(record)).into_response(),
        Ok(Ok(None)) => not_found(),
        Ok(Err(error)) => {
            warn!(%error, "cannot read the intake queue");
            refusal(StatusCode::INTERNAL_SERVER_ERROR, error.to_string(), vec![])
        }
        Err(error) => internal_error("reading the intake queue", &error),
    }
}

/// The operator's page ([`page`]), never cached: it is the state now.
async fn operator_page(State(intake): State<Arc<Intake>>) -> Response {
    match tokio::task::spawn_blocking(move || intake.overview()).await {
        Ok(Ok(overview)) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            page::render(&overview),
        )
            .into_response(),
        Ok(Err(error)) => {
            warn!(%error, "cannot gather the operator's page");
            refusal(StatusCode::INTERNAL_SERVER_ERROR, error.to_string(), vec![])
        }
        Err(error) => internal_error("gathering the operator's page", &error),
    }
}
