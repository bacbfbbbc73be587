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

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse as _, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tracing::{info, warn};

use crate::centre::queue::{self, Record};
use crate::centre::service::{Intake, Offered};
use crate::centre::CentreError;

/// The routes, answering from `intake`.
pub fn routes(intake: Arc<Intake>) -> Router {
    Router::new()
        .route("/v1/submissions", post(submit))
        .route("/v1/submissions/{id}", get(status))
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

/// The status of an error about a submission: the client's fault (4xx,
/// naming the rule) or the centre's (5xx, logged).
fn status_of(error: &CentreError) -> StatusCode {
    match error {
        // Not signed by a registered, unrevoked key allowed its kinds, or
        // not a submission at all.
        CentreError::Submission { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        // An ownership rule: another agency's listing.
        CentreError::SubmissionRefused { .. } => StatusCode::FORBIDDEN,
        // A replay, or a clash with what is queued: the state decides.
        CentreError::SubmissionReplay { .. } | CentreError::SubmissionOverlap { .. } => {
            StatusCode::CONFLICT
        }
        CentreError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        // The centre cannot judge now (no registry yet, a lock held long).
        CentreError::Usage { .. } | CentreError::Locked { .. } => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
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
    let too_large = || {
        refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the submission is larger than the {limit} bytes this centre takes (--max-submission-bytes): not read further"),
            vec![],
        )
    };
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|len| len > limit) {
        return too_large();
    }
    let bytes = match axum::body::to_bytes(body, usize::try_from(limit).unwrap_or(usize::MAX)).await
    {
        Ok(bytes) => bytes.to_vec(),
        // Past the cap, or the client went away: either way nothing to judge.
        Err(_) => return too_large(),
    };
    let shown = format!("submission {}", blocklist_core::Sha256::of(&bytes));
    let offered = {
        let intake = intake.clone();
        let shown = shown.clone();
        tokio::task::spawn_blocking(move || intake.offer(bytes, &shown)).await
    };
    match offered {
        Ok(Ok(Offered::Accepted(record))) => acknowledged(StatusCode::ACCEPTED, record),
        // Refused when published: its acknowledgement would mislead.
        Ok(Ok(Offered::Known(record))) if record.state == queue::State::Refused => refusal(
            StatusCode::CONFLICT,
            format!(
                "submission {} was accepted at {}, then refused when published, nothing of it applied: {}",
                record.id,
                record.accepted_at.0,
                record.reason.as_deref().unwrap_or("no reason recorded")
            ),
            vec![],
        ),
        Ok(Ok(Offered::Known(record))) => acknowledged(StatusCode::OK, record),
        Ok(Err(error)) => {
            let status = status_of(&error);
            if status.is_server_error() {
                warn!(%error, "cannot judge a submission");
            } else {
                info!(submission = %shown, %error, "submission refused");
            }
            let refused = match &error {
                CentreError::SubmissionRefused { refusals, .. } => {
                    refusals.iter().map(ToString::to_string).collect()
                }
                _ => vec![],
            };
            refusal(status, error.to_string(), refused)
        }
        Err(error) => {
            warn!(%error, "judging a submission panicked");
            refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error".to_owned(),
                vec![],
            )
        }
    }
}

async fn status(State(intake): State<Arc<Intake>>, Path(id): Path<String>) -> Response {
    let not_found = || {
        refusal(
            StatusCode::NOT_FOUND,
            format!("no submission {id} was accepted here"),
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
        let (intake, id) = (intake.clone(), id.clone());
        tokio::task::spawn_blocking(move || intake.status(&id)).await
    };
    match found {
        Ok(Ok(Some(record))) => {
            let mut body = json!({
                "id": record.id,
                "agency": record.agency,
                "sequence": record.sequence,
                "urgent": record.urgent,
                "accepted_at": record.accepted_at.0,
                "promised_version": record.promised_version,
                "state": record.state.as_str(),
            });
            // Only what is known: the version once published, the reason once refused.
            if let Some(version) = record.version {
                body["version"] = json!(version);
            }
            if let Some(reason) = record.reason {
                body["reason"] = json!(reason);
            }
            Json(body).into_response()
        }
        Ok(Ok(None)) => not_found(),
        Ok(Err(error)) => {
            warn!(%error, "cannot read the intake queue");
            refusal(StatusCode::INTERNAL_SERVER_ERROR, error.to_string(), vec![])
        }
        Err(error) => {
            warn!(%error, "reading the intake queue panicked");
            refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error".to_owned(),
                vec![],
            )
        }
    }
}
