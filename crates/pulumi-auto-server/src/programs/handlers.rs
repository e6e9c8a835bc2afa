//! The custom API's handlers: thin, they check the request and the caller, then hand the
//! work to the library, as a job when it is an engine operation.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pulumi_auto::ops::{PreviewOptions, RefreshOptions, UpOptions};
use pulumi_auto::secret::Revealed;
use serde::Deserialize;
use serde_json::{Value, json};

use super::authz::{Action, On, allow, missing_stack, readable_stacks};
use super::jobs::{ApiError, end_of};
use super::validate::{self, ConfigInput};
use super::{Program, Programs, lib_error};
use crate::api::{AppState, Auth, parse_json, read_body};
use crate::error::Error;
use crate::store::{JobEnd, JobRow};

/// The result of every handler.
pub type Res = Result<Response, ApiError>;

type Shared = Arc<AppState>;

/// The path of a job of the custom API.
pub fn job_location(program: &str, stack: &str, id: &str) -> String {
    format!("/api/programs/{program}/stacks/{stack}/updates/{id}")
}

/// Reads and parses an optional JSON body (empty: the default).
pub(super) async fn body<T: serde::de::DeserializeOwned + Default>(b: Body) -> Result<T, Error> {
    let bytes = read_body(b, validate::MAX_BODY).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    parse_json(&bytes)
}

/// `GET /api/programs`.
#[utoipa::path(
    get,
    path = "/api/programs",
    tag = "programs",
    responses((status = 200, description = "OK", body = Object)),
)]
pub async fn list_programs(State(state): State<Shared>, Extension(auth): Extension<Auth>) -> Res {
    let p = Programs::of(&state)?;
    allow(&state, &auth, &p.org, On::Programs, Action::Read).await?;
    let list: Vec<Value> = p
        .programs
        .values()
        .map(|g| json!({"name": g.name, "project": g.project}))
        .collect();
    Ok(Json(json!({ "programs": list })).into_response())
}

/// `GET /api/programs/{program}`: the program, its stacks and its config schema (from the
/// `config:` declarations of its `Pulumi.yaml`: `config` lists them in the file's order).
#[utoipa::path(
    get,
    path = "/api/programs/{program}",
    tag = "programs",
    responses((status = 200, description = "OK", body = Object)),
)]
pub async fn get_program(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path(program): Path<String>,
) -> Res {
    let p = Programs::of(&state)?;
    let g = p.program(&program)?;
    allow(&state, &auth, &p.org, On::Program(g), Action::Read).await?;
    let stacks = readable_stacks(&state, &auth, &p.org, g).await?;
    let config = config_schema(&g.base).await?;
    Ok(
        Json(json!({"name": g.name, "project": g.project, "stacks": stacks, "config": config}))
            .into_response(),
    )
}

/// The config a stack of the program can be given, from the `config:` declarations of its
/// `Pulumi.yaml`, in its order: the project's own keys (those of other namespaces carry
/// their value), each with its `key` and the `type`, `description`, `default` and `secret`
/// declared.
async fn config_schema(base: &std::path::Path) -> Result<Value, Error> {
    let project = pulumi_auto::workspace::settings::read_project(base)
        .await
        .map_err(|e| lib_error(e, &[]))?;
    let types = project.config_types().map_err(|e| lib_error(e, &[]))?;
    let own = format!("{}:", project.name);
    // In the order of the file.
    let order = project
        .config
        .iter()
        .flatten()
        .filter_map(|(k, _)| k.as_str());
    let keys: Vec<Value> = order
        .filter_map(|k| types.get(k).map(|t| (k, t)))
        .filter(|(_, t)| t.value.is_none())
        .map(|(k, t)| {
            let mut v = serde_json::to_value(t).unwrap_or_else(|_| json!({}));
            if let Some(o) = v.as_object_mut() {
                o.insert("key".into(), json!(k.strip_prefix(&own).unwrap_or(k)));
            }
            v
        })
        .collect();
    Ok(Value::Array(keys))
}

/// `GET /api/programs/{program}/stacks`.
#[utoipa::path(
    get,
    path = "/api/programs/{program}/stacks",
    tag = "programs",
    responses((status = 200, description = "OK", body = Object)),
)]
pub async fn list_stacks(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path(program): Path<String>,
) -> Res {
    let p = Programs::of(&state)?;
    let g = p.program(&program)?;
    allow(&state, &auth, &p.org, On::Program(g), Action::Read).await?;
    let names = readable_stacks(&state, &auth, &p.org, g).await?;
    let mut out = Vec::new();
    for name in names {
        let last = state.store.list_jobs(&g.name, &name, 1).await?;
        out.push(json!({"name": name, "lastUpdate": last.first().map(job_json)}));
    }
    Ok(Json(json!({ "stacks": out })).into_response())
}

/// 404 unless the stack exists on the server.
pub(super) async fn existing(
    state: &AppState,
    p: &Programs,
    g: &Program,
    stack: &str,
) -> Result<(), Error> {
    validate::stack_name(stack)?;
    let names = state.store.project_stack_names(&p.org, &g.project).await?;
    if names.iter().any(|n| n == stack) {
        Ok(())
    } else {
        Err(missing_stack(&g.name, stack))
    }
}

/// The body of `PUT …/stacks/{stack}`.
#[derive(utoipa::ToSchema, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutStack {
    /// Config to set (plain values, or `{"value", "secret": true}`).
    #[serde(default)]
    #[schema(value_type = std::collections::BTreeMap<String, Object>)]
    pub config: BTreeMap<String, ConfigInput>,
    /// Tags the stack protected (`true`) or not (`false`): a protected stack's destroy needs
    /// `overrideProtection`.
    #[serde(default)]
    pub protected: Option<bool>,
}

/// `PUT /api/programs/{program}/stacks/{stack}`: create or select the stack, then set the
/// config given (secret values reach the CLI without argv and are never returned).
#[utoipa::path(
    put,
    path = "/api/programs/{program}/stacks/{stack}",
    tag = "programs",
    request_body = PutStack,
    responses((status = 200, description = "OK", body = Object)),
)]
pub async fn put_stack(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path((program, stack)): Path<(String, String)>,
    b: Body,
) -> Res {
    let p = Programs::of(&state)?;
    let g = p.program(&program)?.clone();
    validate::stack_name(&stack)?;
    let user = allow(&state, &auth, &p.org, On::Stack(&g, &stack), Action::Create).await?;
    let req: PutStack = body(b).await?;
    let cfg = validate::config(req.config)?;
    let job = p
        .jobs
        .begin(&g.name, &stack, "config", &user.login, true)
        .await?;
    let handle = p.stack(&g, &stack).await;
    let res = async {
        let s = handle?;
        let ws = s.workspace().clone();
        let s = ws
            .create_or_select_stack(&stack)
            .await
            .map_err(|e| lib_error(e, &cfg.secrets))?;
        let keys: Vec<String> = cfg.values.iter().map(|(k, _)| k.clone()).collect();
        if !cfg.values.is_empty() {
            s.set_all_config(cfg.values)
                .await
                .map_err(|e| lib_error(e, &cfg.secrets))?;
        }
        if let Some(on) = req.protected {
            s.set_protected(on)
                .await
                .map_err(|e| lib_error(e, &cfg.secrets))?;
        }
        // Kept for every replica (secret values in it are the service's ciphertexts).
        let file = super::settings_file(ws.work_dir(), &stack);
        if let Ok(body) = tokio::fs::read_to_string(&file).await {
            state
                .store
                .put_stack_settings(&g.name, &stack, &body)
                .await?;
        }
        Ok::<_, Error>(keys)
    }
    .await;
    let end = JobEnd {
        status: if res.is_ok() { "succeeded" } else { "failed" }.into(),
        error: res.as_ref().err().map(|e| e.to_string()),
        ..JobEnd::default()
    };
    p.jobs.finish(&job, end).await;
    let keys = res?;
    tracing::info!(program = %g.name, %stack, keys = keys.len(), "info: Successfully initialized stack and set its config");
    Ok(
        Json(json!({"name": stack, "program": g.name, "project": g.project, "configSet": keys}))
            .into_response(),
    )
}

/// `?showSecrets=true`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShowSecrets {
    /// Reveal secret outputs (admins only).
    #[serde(default)]
    pub show_secrets: bool,
}

/// `GET /api/programs/{program}/stacks/{stack}`: the stack, its outputs (secret ones masked
/// unless an admin asks with `?showSecrets=true`) and its last operation.
#[utoipa::path(
    get,
    path = "/api/programs/{program}/stacks/{stack}",
    tag = "programs",
    params(ShowSecrets),
    responses((status = 200, description = "OK", body = Object)),
)]
pub async fn get_stack(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path((program, stack)): Path<(String, String)>,
    Query(q): Query<ShowSecrets>,
) -> Res {
    let p = Programs::of(&state)?;
    let g = p.program(&program)?.clone();
    allow(&state, &auth, &p.org, On::Stack(&g, &stack), Action::Read).await?;
    if q.show_secrets {
        allow(
            &state,
            &auth,
            &p.org,
            On::Stack(&g, &stack),
            Action::ReadSecrets,
        )
        .await?;
    }
    existing(&state, &p, &g, &stack).await?;
    let s = p.stack(&g, &stack).await?;
    let outputs = s.outputs().await.map_err(|e| lib_error(e, &[]))?;
    let outputs = if q.show_secrets {
        serde_json::to_value(Revealed(&outputs))
    } else {
        serde_json::to_value(&outputs)
    }
    .map_err(|e| Error::Internal(format!("outputs: {e}")))?;
    let last = state.store.list_jobs(&g.name, &stack, 1).await?;
    Ok(Json(json!({
        "name": stack,
        "program": g.name,
        "project": g.project,
        "outputs": outputs,
        "lastUpdate": last.first().map(job_json),
    }))
    .into_response())
}

/// A job row as JSON: id, kind, status, times, summary, outputs (masked), error.
pub fn job_json(j: &JobRow) -> Value {
    let parse = |s: &Option<String>| {
        s.as_deref()
            .and_then(|t| serde_json::from_str::<Value>(t).ok())
            .unwrap_or(Value::Null)
    };
    json!({
        "id": j.id,
        "program": j.program,
        "stack": j.stack,
        "kind": j.kind,
        "status": j.status,
        "requestedBy": j.requested_by,
        "created": j.created,
        "started": j.started,
        "ended": j.ended,
        "summary": parse(&j.summary),
        "outputs": parse(&j.outputs),
        "error": j.error,
    })
}

/// The body of `POST …/update|preview|refresh`.
#[derive(utoipa::ToSchema, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpBody {
    /// The update's message.
    #[serde(default)]
    pub message: Option<String>,
}

pub(super) fn accepted(program: &str, stack: &str, id: &str, kind: &str, status: &str) -> Response {
    let loc = job_location(program, stack, id);
    let mut r = (
        StatusCode::ACCEPTED,
        Json(json!({"updateId": id, "kind": kind, "status": status, "location": loc})),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&loc) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

async fn start_op(
    state: Shared,
    auth: Auth,
    program: String,
    stack: String,
    kind: &'static str,
    b: Body,
) -> Res {
    let p = Programs::of(&state)?;
    let g = p.program(&program)?.clone();
    validate::stack_name(&stack)?;
    let user = allow(&state, &auth, &p.org, On::Stack(&g, &stack), Action::Write).await?;
    let req: OpBody = body(b).await?;
    if req
        .message
        .as_ref()
        .is_some_and(|m| m.len() > 4096 || m.contains('\0'))
    {
        return Err(
            Error::bad_request("Bad Request: message is over 4096 bytes or contains NUL").into(),
        );
    }
    existing(&state, &p, &g, &stack).await?;
    let request = json!({ "message": req.message }).to_string();
    let id = p
        .jobs
        .enqueue(&g.name, &stack, kind, &user.login, &request)
        .await?;
    tracing::info!(program = %g.name, %stack, job = %id, kind, "operation queued");
    Ok(accepted(&g.name, &stack, &id, kind, "queued"))
}

/// Runs a queued update, preview or refresh this replica claimed ([`super::queue`]):
/// made live here, run through the library, its end recorded.
pub(super) async fn run_claimed(p: &Arc<Programs>, row: JobRow, request: Option<String>) {
    let job = p.jobs.adopt(&row.id, &row.program, &row.stack, &row.kind);
    let failed = |error: String| JobEnd {
        status: "failed".into(),
        error: Some(error),
        ..JobEnd::default()
    };
    let Ok(g) = p.program(&row.program) else {
        let e = format!("program {:?} is not served by this replica", row.program);
        p.jobs.finish(&job, failed(e)).await;
        return;
    };
    let msg = request
        .and_then(|r| serde_json::from_str::<OpBody>(&r).ok())
        .and_then(|b| b.message)
        .unwrap_or_default();
    let s = match p.stack(g, &row.stack).await {
        Ok(s) => s,
        Err(e) => {
            p.jobs.finish(&job, failed(e.to_string())).await;
            return;
        }
    };
    let (sink, tok) = (job.sink(), job.cancel.clone());
    let kind = row.kind.clone();
    tracing::info!(program = %g.name, stack = %row.stack, job = %job.id, kind = %kind, "operation started");
    let op = async move {
        match kind.as_str() {
            "update" => {
                let res = s
                    .up(UpOptions::default()
                        .message(msg)
                        .on_event(sink)
                        .cancel_token(tok))
                    .await;
                end_of(res, &[], |r| JobEnd {
                    status: "succeeded".into(),
                    summary: serde_json::to_string(&r.summary).ok(),
                    outputs: serde_json::to_string(&r.outputs).ok(),
                    ..JobEnd::default()
                })
            }
            "preview" => {
                let res = s
                    .preview(
                        PreviewOptions::default()
                            .message(msg)
                            .on_event(sink)
                            .cancel_token(tok),
                    )
                    .await;
                end_of(res, &[], |r| JobEnd {
                    status: "succeeded".into(),
                    summary: serde_json::to_string(&r.summary).ok(),
                    ..JobEnd::default()
                })
            }
            "refresh" => {
                let res = s
                    .refresh(
                        RefreshOptions::default()
                            .message(msg)
                            .on_event(sink)
                            .cancel_token(tok),
                    )
                    .await;
                end_of(res, &[], |r| JobEnd {
                    status: "succeeded".into(),
                    summary: serde_json::to_string(&r.summary).ok(),
                    ..JobEnd::default()
                })
            }
            other => JobEnd {
                status: "failed".into(),
                error: Some(format!("a queued job of kind {other:?} cannot run")),
                ..JobEnd::default()
            },
        }
    };
    p.jobs.run(job, op);
}

/// `POST …/stacks/{stack}/update`: 202, the update id and its `Location`.
#[utoipa::path(
    post,
    path = "/api/programs/{program}/stacks/{stack}/update",
    tag = "programs",
    request_body = OpBody,
    responses((status = 202, description = "Accepted", body = Object)),
)]
pub async fn start_update(
    State(s): State<Shared>,
    Extension(a): Extension<Auth>,
    Path((p, st)): Path<(String, String)>,
    b: Body,
) -> Res {
    start_op(s, a, p, st, "update", b).await
}

/// `POST …/stacks/{stack}/preview`.
#[utoipa::path(
    post,
    path = "/api/programs/{program}/stacks/{stack}/preview",
    tag = "programs",
    request_body = OpBody,
    responses((status = 202, description = "Accepted", body = Object)),
)]
pub async fn start_preview(
    State(s): State<Shared>,
    Extension(a): Extension<Auth>,
    Path((p, st)): Path<(String, String)>,
    b: Body,
) -> Res {
    start_op(s, a, p, st, "preview", b).await
}

/// `POST …/stacks/{stack}/refresh`.
#[utoipa::path(
    post,
    path = "/api/programs/{program}/stacks/{stack}/refresh",
    tag = "programs",
    request_body = OpBody,
    responses((status = 202, description = "Accepted", body = Object)),
)]
pub async fn start_refresh(
    State(s): State<Shared>,
    Extension(a): Extension<Auth>,
    Path((p, st)): Path<(String, String)>,
    b: Body,
) -> Res {
    start_op(s, a, p, st, "refresh", b).await
}

/// A job of this program's stack, or a 404.
async fn job_of(state: &AppState, program: &str, stack: &str, id: &str) -> Result<JobRow, Error> {
    let bad = || Error::not_found(format!("Not Found: no update {id:?} of stack {stack:?}"));
    if id.len() > 100 {
        return Err(bad());
    }
    match state.store.get_job(id).await? {
        Some(j) if j.program == program && j.stack == stack => Ok(j),
        _ => Err(bad()),
    }
}

/// `GET …/updates/{id}`: status, summary, outputs (secret ones masked), error.
#[utoipa::path(
    get,
    path = "/api/programs/{program}/stacks/{stack}/updates/{id}",
    tag = "programs",
    responses((status = 200, description = "OK", body = Object)),
)]
pub async fn get_update(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path((program, stack, id)): Path<(String, String, String)>,
) -> Res {
    let p = Programs::of(&state)?;
    let g = p.program(&program)?;
    allow(&state, &auth, &p.org, On::Stack(g, &stack), Action::Read).await?;
    let j = job_of(&state, &g.name, &stack, &id).await?;
    Ok(Json(job_json(&j)).into_response())
}

/// `GET …/stacks/{stack}/updates`: the newest 100 operations, newest first.
#[utoipa::path(
    get,
    path = "/api/programs/{program}/stacks/{stack}/updates",
    tag = "programs",
    responses((status = 200, description = "OK", body = Object)),
)]
pub async fn list_updates(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path((program, stack)): Path<(String, String)>,
) -> Res {
    let p = Programs::of(&state)?;
    let g = p.program(&program)?;
    validate::stack_name(&stack)?;
    allow(&state, &auth, &p.org, On::Stack(g, &stack), Action::Read).await?;
    let list = state.store.list_jobs(&g.name, &stack, 100).await?;
    Ok(Json(json!({"updates": list.iter().map(job_json).collect::<Vec<_>>()})).into_response())
}

/// `POST …/updates/{id}/cancel`: graceful (SIGINT, then the library's escalation, on
/// whichever replica runs it); 202 while it stops (a queued one is cancelled at once), 409
/// when it already ended.
#[utoipa::path(
    post,
    path = "/api/programs/{program}/stacks/{stack}/updates/{id}/cancel",
    tag = "programs",
    responses((status = 202, description = "Accepted", body = Object)),
)]
pub async fn cancel_update(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path((program, stack, id)): Path<(String, String, String)>,
) -> Res {
    let p = Programs::of(&state)?;
    let g = p.program(&program)?;
    allow(&state, &auth, &p.org, On::Stack(g, &stack), Action::Write).await?;
    let j = job_of(&state, &g.name, &stack, &id).await?;
    match p.jobs.live(&id) {
        Some(job) => {
            tracing::info!(job = %id, "cancelling the operation (SIGINT first)");
            job.cancel.cancel();
            Ok((
                StatusCode::ACCEPTED,
                Json(json!({"updateId": id, "status": "cancelling"})),
            )
                .into_response())
        }
        // Queued, or running on another replica: asked for through the database.
        None => match state.store.request_cancel(&id).await? {
            Some(status) => {
                tracing::info!(job = %id, status, "cancel asked for");
                Ok((
                    StatusCode::ACCEPTED,
                    Json(json!({"updateId": id, "status": status})),
                )
                    .into_response())
            }
            None => Err(Error::Conflict(format!(
                "Conflict: update {id} is not running (status {})",
                j.status
            ))
            .into()),
        },
    }
}
