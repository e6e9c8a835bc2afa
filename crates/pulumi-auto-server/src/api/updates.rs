//! Updates: `up`, `preview`, `refresh`, `destroy` and `import` as the CLI runs them against a
//! service: create the update, start it (the stack's lock and a lease), checkpoints (whole,
//! verbatim, or as text deltas), engine-event batches, lease renewal, completion; `pulumi
//! cancel`; and the history the CLI reads back.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::stacks::{check_tags, check_untyped_deployment, stack_of};
use super::{AppState, Auth, parse_json, read_body};
use crate::crypto;
use crate::error::{Error, Result};
use crate::store::{NewUpdate, StackRow, UpdateRow, apply_and_compact, hex_sha256, now};

type Shared = Arc<AppState>;

/// The checkpoint size from which the CLI sends deltas instead of whole checkpoints.
pub const DELTA_CUTOFF_BYTES: usize = 64 * 1024;

type UpdatePath = (String, String, String, String, String);

fn check_kind(kind: &str) -> Result<()> {
    if matches!(
        kind,
        "update" | "preview" | "refresh" | "destroy" | "import" | "resource-import"
    ) {
        Ok(())
    } else {
        Err(Error::not_found("Not Found: no such update kind"))
    }
}

fn check_update_id(id: &str) -> Result<()> {
    if !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        Ok(())
    } else {
        Err(Error::not_found("Not Found: update not found"))
    }
}

#[derive(Debug, Deserialize)]
struct UpdateProgramRequest {
    #[serde(default)]
    name: String,
    #[serde(default)]
    runtime: String,
    #[serde(default)]
    main: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    options: Option<Map<String, Value>>,
    #[serde(default)]
    config: Option<Map<String, Value>>,
    #[serde(default)]
    metadata: Option<Metadata>,
}

#[derive(Debug, Deserialize, serde::Serialize, Default)]
struct Metadata {
    #[serde(default)]
    message: String,
    #[serde(default)]
    environment: Map<String, Value>,
}

async fn create(
    state: Shared,
    auth: Auth,
    path: (String, String, String),
    body: Body,
    kind: &str,
) -> Result<Response> {
    let user = auth.user()?;
    let (org, project, stack) = path;
    let (_, s) = stack_of(&state, user, &org, &project, &stack).await?;
    let bytes = read_body(body, state.config.max_body).await?;
    let req: UpdateProgramRequest = parse_json(&bytes)?;
    if let Some(cfg) = &req.config {
        for (k, v) in cfg {
            if k.len() > 1024 || !v.is_object() {
                return Err(Error::bad_request(
                    "Bad Request: config values must be {string, secret, object}",
                ));
            }
        }
    }
    // The preview phase of `pulumi up` is sent to …/update with `options.dryRun`: a preview.
    let dry_run = req
        .options
        .as_ref()
        .and_then(|o| o.get("dryRun"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let kind = if dry_run { "preview" } else { kind };
    let program = json!({
        "name": req.name, "runtime": req.runtime, "main": req.main,
        "description": req.description, "options": req.options.unwrap_or_default(),
    });
    let metadata = req.metadata.unwrap_or_default();
    let id = state
        .store
        .create_update(
            &s,
            user,
            &NewUpdate {
                kind: kind.to_owned(),
                program: program.to_string(),
                config: Value::Object(req.config.unwrap_or_default()).to_string(),
                metadata: serde_json::to_string(&metadata).unwrap_or_else(|_| "{}".into()),
            },
        )
        .await?;
    Ok(Json(json!({"updateID": id, "requiredPolicies": [], "messages": []})).into_response())
}

/// POST …/{stack}/update
#[utoipa::path(
    post,
    path = "/api/stacks/{org}/{project}/{stack}/update",
    tag = "service",
    request_body = Object,
    responses((status = 200, description = "OK", body = Object)),
)]
pub async fn create_update(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path(p): Path<(String, String, String)>,
    body: Body,
) -> Result<Response> {
    create(state, auth, p, body, "update").await
}

/// POST …/{stack}/preview
#[utoipa::path(
    post,
    path = "/api/stacks/{org}/{project}/{stack}/preview",
    tag = "service",
    request_body = Object,
    responses((status = 200, description = "OK", body = Object)),
)]
pub async fn create_preview(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path(p): Path<(String, String, String)>,
    body: Body,
) -> Result<Response> {
    create(state, auth, p, body, "preview").await
}

/// POST …/{stack}/refresh
#[utoipa::path(
    post,
    path = "/api/stacks/{org}/{project}/{stack}/refresh",
    tag = "service",
    request_body = Object,
    responses((status = 200, description = "OK", body = Object)),
)]
pub async fn create_refresh(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path(p): Path<(String, String, String)>,
    body: Body,
) -> Result<Response> {
    create(state, auth, p, body, "refresh").await
}

/// POST …/{stack}/destroy
#[utoipa::path(
    post,
    path = "/api/stacks/{org}/{project}/{stack}/destroy",
    tag = "service",
    request_body = Object,
    responses((status = 200, description = "OK", body = Object)),
)]
pub async fn create_destroy(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path(p): Path<(String, String, String)>,
    body: Body,
) -> Result<Response> {
    create(state, auth, p, body, "destroy").await
}

async fn user_update(
    state: &AppState,
    auth: &Auth,
    p: &UpdatePath,
) -> Result<(StackRow, UpdateRow)> {
    let user = auth.user()?;
    let (org, project, stack, kind, id) = p;
    check_kind(kind)?;
    check_update_id(id)?;
    let (_, s) = stack_of(state, user, org, project, stack).await?;
    let u = state
        .store
        .get_update(&s, id)
        .await?
        .ok_or_else(|| Error::not_found("Not Found: update not found"))?;
    Ok((s, u))
}

/// The update of a lease-authenticated call: the lease must be this update's, the update
/// running, the lease unexpired, and the path's stack the update's stack.
async fn leased_update(state: &AppState, auth: &Auth, p: &UpdatePath) -> Result<UpdateRow> {
    let (org, project, stack, kind, id) = p;
    check_kind(kind)?;
    check_update_id(id)?;
    let u = auth.lease_for(id)?;
    // Re-read: the lease may have been renewed, cancelled or expired since authentication.
    let u = state
        .store
        .get_update_by_id(&u.id)
        .await?
        .ok_or_else(|| Error::Unauthorized("Unauthorized: invalid update token".into()))?;
    let s = state
        .store
        .get_stack_by_id(&u.stack_id)
        .await?
        .ok_or_else(|| Error::not_found("Not Found: stack not found"))?;
    if (&s.org, &s.project, &s.name) != (org, project, stack) {
        return Err(Error::Unauthorized(
            "Unauthorized: the update token belongs to another stack".into(),
        ));
    }
    match u.status.as_str() {
        "running" => {}
        "cancelled" => {
            return Err(Error::Conflict(
                "Conflict: the update has been cancelled.".into(),
            ));
        }
        other => {
            return Err(Error::Conflict(format!(
                "Conflict: the update is not running (status {other})."
            )));
        }
    }
    if u.lease_expires.unwrap_or(0) < now() {
        // 403, which makes the CLI stop renewing (it treats 401 as "log in again").
        return Err(Error::Forbidden(
            "Forbidden: the update's lease has expired".into(),
        ));
    }
    Ok(u)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartRequest {
    #[serde(default)]
    tags: Option<Map<String, Value>>,
    #[serde(default)]
    #[allow(dead_code)]
    journal_version: Option<i64>,
}

/// POST …/{kind}/{update}: starts the update (409 while another holds the stack).
#[utoipa::path(
    post,
    path = "/api/stacks/{org}/{project}/{stack}/{kind}/{update}",
    tag = "service",
    request_body = Object,
    responses((status = 200, description = "OK", body = Object)),
)]
pub async fn start(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path(p): Path<UpdatePath>,
    body: Body,
) -> Result<Response> {
    let (s, u) = user_update(&state, &auth, &p).await?;
    let bytes = read_body(body, 1024 * 1024).await?;
    let req: StartRequest = if bytes.is_empty() {
        StartRequest {
            tags: None,
            journal_version: None,
        }
    } else {
        parse_json(&bytes)?
    };
    if let Some(tags) = &req.tags {
        check_tags(tags)?;
    }
    let token = crypto::new_token();
    let started = state
        .store
        .start_update(
            &s,
            &u,
            &crypto::token_hash(&token),
            state.config.lease_secs,
            req.tags.as_ref(),
        )
        .await?;
    // No journal version is echoed: the CLI then sends checkpoints, not journal entries.
    Ok(Json(json!({
        "version": started.version,
        "token": token.as_str(),
        "tokenExpiration": started.expires,
    }))
    .into_response())
}

/// GET …/{kind}/{update}: the update's status (what `stack import` waits on).
#[utoipa::path(
    get,
    path = "/api/stacks/{org}/{project}/{stack}/{kind}/{update}",
    tag = "updates",
    responses(
        (status = 200, description = "OK", body = pulumi_auto_types::rest::UpdateResults),
    ),
)]
pub async fn status(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path(p): Path<UpdatePath>,
) -> Result<Response> {
    let (_, u) = user_update(&state, &auth, &p).await?;
    let mut body = json!({"status": u.status, "events": []});
    if matches!(u.status.as_str(), "running" | "not started") {
        body["continuationToken"] = json!("0");
    }
    Ok(Json(body).into_response())
}

/// POST …/{kind}/{update}/cancel (`pulumi cancel`).
#[utoipa::path(
    post,
    path = "/api/stacks/{org}/{project}/{stack}/{kind}/{update}/cancel",
    tag = "service",
    responses((status = 204, description = "No content")),
)]
pub async fn cancel(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path(p): Path<UpdatePath>,
) -> Result<Response> {
    let (_, u) = user_update(&state, &auth, &p).await?;
    state.store.cancel_update(&u).await?;
    state.forget_verbatim(&u.id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
struct RenewRequest {
    #[serde(default)]
    duration: i64,
}

/// POST …/{kind}/{update}/renew_lease
#[utoipa::path(
    post,
    path = "/api/stacks/{org}/{project}/{stack}/{kind}/{update}/renew_lease",
    tag = "service",
    request_body = Object,
    responses((status = 200, description = "OK", body = Object)),
)]
pub async fn renew_lease(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path(p): Path<UpdatePath>,
    headers: axum::http::HeaderMap,
    body: Body,
) -> Result<Response> {
    let u = leased_update(&state, &auth, &p).await?;
    let bytes = read_body(body, 64 * 1024).await?;
    let req: RenewRequest = parse_json(&bytes)?;
    let secs = if req.duration <= 0 {
        state.config.lease_secs
    } else {
        req.duration.min(3600)
    };
    let expires = state.store.renew_lease(&u.id, secs).await?;
    // The token stays the same; it is valid until the new expiry.
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("update-token "))
        .unwrap_or("")
        .trim()
        .to_owned();
    Ok(Json(json!({"token": token, "tokenExpiration": expires})).into_response())
}

#[derive(Debug, Deserialize)]
struct CheckpointRequest {
    #[serde(default)]
    version: i64,
    #[serde(default)]
    features: Option<Vec<String>>,
    #[serde(default)]
    deployment: Option<Box<RawValue>>,
}

/// PATCH …/{kind}/{update}/checkpoint: the whole state.
#[utoipa::path(
    patch,
    path = "/api/stacks/{org}/{project}/{stack}/{kind}/{update}/checkpoint",
    tag = "service",
    request_body = Object,
    responses((status = 204, description = "No content")),
)]
pub async fn checkpoint(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path(p): Path<UpdatePath>,
    body: Body,
) -> Result<Response> {
    let u = leased_update(&state, &auth, &p).await?;
    let bytes = read_body(body, state.config.max_body).await?;
    let req: CheckpointRequest = parse_json(&bytes)?;
    let deployment = req.deployment.as_ref().map(|d| d.get()).unwrap_or("null");
    if !(deployment == "null" || deployment.starts_with('{')) {
        return Err(Error::bad_request(
            "Bad Request: the deployment must be an object",
        ));
    }
    let mut text = format!("{{\"version\":{}", req.version);
    if let Some(f) = &req.features {
        text.push_str(",\"features\":");
        text.push_str(&serde_json::to_string(f).unwrap_or_else(|_| "[]".into()));
    }
    if deployment != "null" {
        text.push_str(",\"deployment\":");
        text.push_str(deployment);
    }
    text.push('}');
    state.store.save_checkpoint(&u, &text).await?;
    state.forget_verbatim(&u.id);
    Ok(StatusCode::OK.into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VerbatimRequest {
    #[serde(default)]
    #[allow(dead_code)]
    version: i64,
    untyped_deployment: Box<RawValue>,
    #[serde(default)]
    sequence_number: i64,
}

/// PATCH …/{kind}/{update}/checkpointverbatim: the whole state, kept byte for byte (the
/// base the next delta applies to).
#[utoipa::path(
    patch,
    path = "/api/stacks/{org}/{project}/{stack}/{kind}/{update}/checkpointverbatim",
    tag = "service",
    request_body = Object,
    responses((status = 204, description = "No content")),
)]
pub async fn checkpoint_verbatim(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path(p): Path<UpdatePath>,
    body: Body,
) -> Result<Response> {
    let u = leased_update(&state, &auth, &p).await?;
    let bytes = read_body(body, state.config.max_body).await?;
    let req: VerbatimRequest = parse_json(&bytes)?;
    let text = req.untyped_deployment.get();
    check_untyped_deployment(text)?;
    state.store.save_checkpoint(&u, text).await?;
    state.remember_verbatim(&u.id, req.sequence_number, text.to_owned());
    Ok(StatusCode::OK.into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeltaRequest {
    #[serde(default)]
    #[allow(dead_code)]
    version: i64,
    checkpoint_hash: String,
    sequence_number: i64,
    deployment_delta: Box<RawValue>,
}

/// PATCH …/{kind}/{update}/checkpointdelta: edits to the last verbatim state; refused
/// (the CLI then sends the whole state) when the result's hash is not the one given.
#[utoipa::path(
    patch,
    path = "/api/stacks/{org}/{project}/{stack}/{kind}/{update}/checkpointdelta",
    tag = "service",
    request_body = Object,
    responses((status = 204, description = "No content")),
)]
pub async fn checkpoint_delta(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path(p): Path<UpdatePath>,
    body: Body,
) -> Result<Response> {
    let u = leased_update(&state, &auth, &p).await?;
    let bytes = read_body(body, state.config.max_body).await?;
    let req: DeltaRequest = parse_json(&bytes)?;
    let (seq, base) = match state.verbatim(&u.id) {
        Some(v) => v,
        None => {
            // After a restart: the stored checkpoint with the deltas stored since.
            let (text, seq) = state.store.current_checkpoint(&u).await?.ok_or_else(|| {
                Error::bad_request("Bad Request: no checkpoint to apply a delta to")
            })?;
            (seq, Arc::new(text))
        }
    };
    let hash = req.checkpoint_hash.to_ascii_lowercase();
    if seq != 0 && req.sequence_number <= seq && hex_sha256(&base) == hash {
        // A retry of a delta already applied.
        return Ok(StatusCode::OK.into_response());
    }
    let (next, edits) = apply_and_compact(&base, req.deployment_delta.get())?;
    if hex_sha256(&next) != hash {
        tracing::debug!(update = %u.id, "checkpoint delta hash mismatch; the CLI falls back to a whole checkpoint");
        return Err(Error::bad_request(
            "Bad Request: the checkpoint delta does not match its hash",
        ));
    }
    // Durable before the answer: one row per step holding what it changed, not the whole
    // text again.
    state
        .store
        .append_checkpoint_delta(&u, req.sequence_number, &edits, &hash, &next)
        .await?;
    state.remember_verbatim(&u.id, req.sequence_number, next);
    Ok(StatusCode::OK.into_response())
}

#[derive(Debug, Deserialize)]
struct EventBatch {
    events: Vec<Box<RawValue>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventHead {
    sequence: i64,
    #[serde(default)]
    summary_event: Option<SummaryEvent>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SummaryEvent {
    #[serde(default)]
    resource_changes: Option<Map<String, Value>>,
}

async fn store_events(state: &AppState, u: &UpdateRow, raws: &[Box<RawValue>]) -> Result<()> {
    if raws.len() > 100_000 {
        return Err(Error::bad_request(
            "Bad Request: too many events in one batch",
        ));
    }
    let mut rows = Vec::with_capacity(raws.len());
    let mut changes = None;
    for raw in raws {
        let head: EventHead = parse_json(raw.get().as_bytes())?;
        if head.sequence < 0 {
            return Err(Error::bad_request("Bad Request: negative event sequence"));
        }
        if let Some(s) = head.summary_event
            && let Some(rc) = s.resource_changes
        {
            changes = Some(Value::Object(rc).to_string());
        }
        rows.push((head.sequence, raw.get().to_owned()));
    }
    state.store.add_events(u, &rows, changes.as_deref()).await
}

/// POST …/{kind}/{update}/events/batch
#[utoipa::path(
    post,
    path = "/api/stacks/{org}/{project}/{stack}/{kind}/{update}/events/batch",
    tag = "service",
    request_body = Object,
    responses((status = 204, description = "No content")),
)]
pub async fn events_batch(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path(p): Path<UpdatePath>,
    body: Body,
) -> Result<Response> {
    let u = leased_update(&state, &auth, &p).await?;
    let bytes = read_body(body, state.config.max_body).await?;
    let batch: EventBatch = parse_json(&bytes)?;
    store_events(&state, &u, &batch.events).await?;
    Ok(StatusCode::OK.into_response())
}

/// POST …/{kind}/{update}/events: one event.
#[utoipa::path(
    post,
    path = "/api/stacks/{org}/{project}/{stack}/{kind}/{update}/events",
    tag = "service",
    request_body = Object,
    responses((status = 204, description = "No content")),
)]
pub async fn event_single(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path(p): Path<UpdatePath>,
    body: Body,
) -> Result<Response> {
    let u = leased_update(&state, &auth, &p).await?;
    let bytes = read_body(body, state.config.max_body).await?;
    let raw: Box<RawValue> = parse_json(&bytes)?;
    store_events(&state, &u, &[raw]).await?;
    Ok(StatusCode::OK.into_response())
}

/// The query of GET …/events.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventsQuery {
    continuation_token: Option<String>,
}

/// Events a page (about 50 KB of the CLI's events): small enough that a page answers within
/// milliseconds under load, wherever it starts (docs/benchmarks.md).
const EVENT_PAGE: i64 = 100;

/// GET …/{kind}/{update}/events: the stored events in order, a page at a time.
#[utoipa::path(
    get,
    path = "/api/stacks/{org}/{project}/{stack}/{kind}/{update}/events",
    tag = "updates",
    params(EventsQuery),
    responses(
        (status = 200, description = "OK", body = pulumi_auto_types::rest::UpdateEventsResponse),
    ),
)]
pub async fn events(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path(p): Path<UpdatePath>,
    Query(q): Query<EventsQuery>,
) -> Result<Response> {
    let (_, u) = user_update(&state, &auth, &p).await?;
    let after = match q.continuation_token.as_deref() {
        None | Some("") => -1,
        Some(t) => t
            .parse::<i64>()
            .map_err(|_| Error::bad_request("Bad Request: invalid continuation token"))?,
    };
    let rows = state.store.events(&u.id, after, EVENT_PAGE).await?;
    let last = rows.last().map(|r| r.0).unwrap_or(after);
    let mut text = String::from("{\"events\":[");
    for (i, (_, body)) in rows.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(body);
    }
    text.push(']');
    let more =
        rows.len() as i64 == EVENT_PAGE || matches!(u.status.as_str(), "running" | "not started");
    if more {
        text.push_str(&format!(",\"continuationToken\":\"{last}\""));
    }
    text.push('}');
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        text,
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
struct CompleteRequest {
    status: String,
}

/// POST …/{kind}/{update}/complete
#[utoipa::path(
    post,
    path = "/api/stacks/{org}/{project}/{stack}/{kind}/{update}/complete",
    tag = "service",
    request_body = Object,
    responses((status = 204, description = "No content")),
)]
pub async fn complete(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path(p): Path<UpdatePath>,
    body: Body,
) -> Result<Response> {
    let u = leased_update(&state, &auth, &p).await?;
    let bytes = read_body(body, 64 * 1024).await?;
    let req: CompleteRequest = parse_json(&bytes)?;
    if !matches!(req.status.as_str(), "succeeded" | "failed" | "cancelled") {
        return Err(Error::bad_request(
            "Bad Request: status must be succeeded, failed or cancelled",
        ));
    }
    state.store.complete_update(&u, &req.status).await?;
    state.forget_verbatim(&u.id);
    crate::rest::update_event(&state, &p.0, &p.1, &p.2, &u, &req.status);
    Ok(StatusCode::OK.into_response())
}

fn result_of(status: &str) -> &'static str {
    match status {
        "succeeded" => "succeeded",
        "running" => "in-progress",
        "not started" => "not-started",
        _ => "failed",
    }
}

fn update_info(u: &UpdateRow) -> Value {
    let meta: Metadata = serde_json::from_str(&u.metadata).unwrap_or_default();
    let config: Value = serde_json::from_str(&u.config).unwrap_or_else(|_| json!({}));
    let kind = if u.kind == "resource-import" {
        "update"
    } else {
        u.kind.as_str()
    };
    let mut info = json!({
        "kind": kind,
        "startTime": u.start_time.unwrap_or(u.created),
        "message": meta.message,
        "environment": Value::Object(meta.environment),
        "config": config,
        "result": result_of(&u.status),
        "endTime": u.end_time.unwrap_or(0),
        "version": u.version,
    });
    if let Some(rc) = u
        .resource_changes
        .as_deref()
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
    {
        info["resourceChanges"] = rc;
    }
    if let Some(n) = u.resource_count {
        info["resourceCount"] = json!(n);
    }
    info
}

/// One element of the history: the CLI reads the flat `UpdateInfo` fields; `info`,
/// `updateID` and `version` are the documented REST API's shape of the same update.
fn history_entry(u: &UpdateRow, latest_version: i64) -> Value {
    let info = update_info(u);
    let mut v = info.clone();
    v["info"] = info;
    v["updateID"] = json!(u.id);
    v["latestVersion"] = json!(latest_version);
    v["policyPacks"] = json!([]);
    v["requestedBy"] =
        json!({"githubLogin": u.requested_by, "name": u.requested_by, "avatarUrl": ""});
    v
}

/// The query of GET …/updates.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryQuery {
    page: Option<i64>,
    page_size: Option<i64>,
    /// `service` or `cli`: both get the same entries (the flat fields and `info`).
    #[serde(rename = "output-type")]
    output_type: Option<String>,
}

/// GET …/{stack}/updates (`pulumi stack history`).
#[utoipa::path(
    get,
    path = "/api/stacks/{org}/{project}/{stack}/updates",
    tag = "updates",
    params(HistoryQuery),
    responses(
        (status = 200, description = "OK", body = pulumi_auto_types::rest::ListUpdatesResponse),
    ),
)]
pub async fn history(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path((org, project, stack)): Path<(String, String, String)>,
    Query(q): Query<HistoryQuery>,
) -> Result<Response> {
    let user = auth.user()?;
    let (_, s) = stack_of(&state, user, &org, &project, &stack).await?;
    let page_size = match q.page_size {
        None | Some(0) => 100_000,
        Some(n) if n > 0 => n.min(100_000),
        Some(_) => return Err(Error::bad_request("Bad Request: pageSize must be positive")),
    };
    let page = q.page.unwrap_or(1);
    if page < 1 {
        return Err(Error::bad_request("Bad Request: page counts from 1"));
    }
    if !matches!(q.output_type.as_deref(), None | Some("service" | "cli")) {
        return Err(Error::bad_request(
            "Bad Request: output-type must be service or cli",
        ));
    }
    let updates = state.store.list_updates(&s, page, page_size).await?;
    let total = state.store.count_updates(&s).await?;
    Ok(Json(json!({
        "updates": updates.iter().map(|u| history_entry(u, s.version)).collect::<Vec<_>>(),
        "itemsPerPage": page_size,
        "total": total,
    }))
    .into_response())
}

/// GET …/{stack}/updates/latest
#[utoipa::path(
    get,
    path = "/api/stacks/{org}/{project}/{stack}/updates/latest",
    tag = "updates",
    responses(
        (status = 200, description = "OK", body = pulumi_auto_types::rest::UpdateSummary),
    ),
)]
pub async fn latest(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path((org, project, stack)): Path<(String, String, String)>,
) -> Result<Response> {
    let user = auth.user()?;
    let (_, s) = stack_of(&state, user, &org, &project, &stack).await?;
    let updates = state.store.list_updates(&s, 1, 1).await?;
    let u = updates
        .first()
        .ok_or_else(|| Error::not_found("Not Found: the stack has no updates"))?;
    Ok(Json(history_entry(u, s.version)).into_response())
}

/// GET …/{stack}/updates/{version}
#[utoipa::path(
    get,
    path = "/api/stacks/{org}/{project}/{stack}/updates/{version}",
    tag = "updates",
    responses(
        (status = 200, description = "OK", body = pulumi_auto_types::rest::UpdateSummary),
    ),
)]
pub async fn by_version(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path((org, project, stack, version)): Path<(String, String, String, String)>,
) -> Result<Response> {
    let user = auth.user()?;
    let (_, s) = stack_of(&state, user, &org, &project, &stack).await?;
    let version: i64 = version
        .parse()
        .map_err(|_| Error::bad_request("Bad Request: the version must be an integer"))?;
    let updates = state.store.list_updates(&s, 1, 100_000).await?;
    let u = updates
        .iter()
        .find(|u| u.version == version)
        .ok_or_else(|| Error::not_found("Not Found: no update with that version"))?;
    Ok(Json(history_entry(u, s.version)).into_response())
}

/// GET …/{stack}/updates/latest/previews
#[utoipa::path(
    get,
    path = "/api/stacks/{org}/{project}/{stack}/updates/latest/previews",
    tag = "updates",
    params(HistoryQuery),
    responses(
        (status = 200, description = "OK", body = pulumi_auto_types::rest::LatestPreviewsResponse),
    ),
)]
pub async fn latest_previews(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path((org, project, stack)): Path<(String, String, String)>,
    Query(q): Query<HistoryQuery>,
) -> Result<Response> {
    let user = auth.user()?;
    let (_, s) = stack_of(&state, user, &org, &project, &stack).await?;
    let limit = q.page_size.filter(|n| *n > 0).unwrap_or(100).min(1000);
    let previews = state.store.latest_previews(&s, limit).await?;
    Ok(Json(json!({
        "updates": previews.iter().map(|u| {
            let mut v = json!({"updateID": u.id});
            v["info"] = update_info(u);
            v
        }).collect::<Vec<_>>(),
    }))
    .into_response())
}
