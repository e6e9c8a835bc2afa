//! Burner endpoints, the Automation API tutorial's `GET /location`: `POST
//! /api/programs/{program}/burn` (and a `GET` alias whose query string is the config) runs
//! an ephemeral stack of the program: up with the request's config, the outputs answered
//! as JSON, the stack destroyed and removed before the answer. Each burn has a stack of
//! its own (the library's unique names) and a settings file of its own; the library's
//! ephemeral guard, its ledger (`DATA/ephemeral-ledger`) and the janitor at start leave
//! nothing behind, also when the client goes away (the burn is cancelled and torn down)
//! or the server stops. A burn is queued like the other operations ([`super::queue`]):
//! whichever replica claims it runs it and seals the answer into the job's end; the
//! replica holding the request answers with it.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use pulumi_auto::EphemeralStack;
use pulumi_auto::ops::UpOptions;
use pulumi_auto::secret::Revealed;
use serde::Deserialize;
use serde_json::{Value, json};

use super::authz::{Action, On, allow, is_admin};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use pulumi_auto::Secret;
use serde::Serialize;
use zeroize::{Zeroize, Zeroizing};

use super::handlers::{Res, ShowSecrets};
use super::jobs::{ApiError, error_text};
use super::validate::{self, ConfigInput};
use super::{Programs, lib_error};
use crate::api::{AppState, Auth, parse_json, read_body};
use crate::error::Error;
use crate::store::{JobEnd, JobRow, User};

/// The run id in the ephemeral tag of the burns of the replica `replica`: what a survivor
/// sweeps when that replica dies.
pub(super) fn run_id(replica: &str) -> String {
    format!("pulumi-auto-server {replica}")
}

/// The body of `POST …/burn`.
#[derive(utoipa::ToSchema, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BurnBody {
    /// The stack's config.
    #[serde(default)]
    #[schema(value_type = std::collections::BTreeMap<String, Object>)]
    pub config: BTreeMap<String, ConfigInput>,
}

/// `POST /api/programs/{program}/burn` with `{"config": {…}}` (`?showSecrets=true` for an
/// admin to see secret outputs).
#[utoipa::path(
    post,
    path = "/api/programs/{program}/burn",
    tag = "programs",
    params(ShowSecrets),
    request_body = BurnBody,
    responses((status = 200, description = "OK", body = Object)),
)]
pub async fn burn_post(
    State(state): State<Arc<AppState>>,
    Extension(auth): Extension<Auth>,
    Path(program): Path<String>,
    Query(q): Query<ShowSecrets>,
    b: Body,
) -> Res {
    let user = burner(&state, &auth, &program).await?;
    let bytes = read_body(b, validate::MAX_BODY).await?;
    let req: BurnBody = if bytes.iter().all(u8::is_ascii_whitespace) {
        BurnBody::default()
    } else {
        parse_json(&bytes)?
    };
    burn(state, auth, user, program, req.config, q.show_secrets).await
}

/// The caller, when they may burn `program` (before their request is read).
async fn burner(state: &AppState, auth: &Auth, program: &str) -> Result<User, Error> {
    let p = Programs::of(state)?;
    let g = p.program(program)?;
    allow(state, auth, &p.org, On::Program(g), Action::Burn).await
}

/// `GET /api/programs/{program}/burn?KEY=VALUE…`: the same with plain config values from
/// the query string (`showSecrets` is not a config key here).
#[utoipa::path(
    get,
    path = "/api/programs/{program}/burn",
    tag = "programs",
    params(ShowSecrets),
    responses((status = 200, description = "OK", body = Object)),
)]
pub async fn burn_get(
    State(state): State<Arc<AppState>>,
    Extension(auth): Extension<Auth>,
    Path(program): Path<String>,
    Query(mut q): Query<BTreeMap<String, String>>,
) -> Res {
    let user = burner(&state, &auth, &program).await?;
    let show = q.remove("showSecrets").is_some_and(|v| v == "true");
    let config = q
        .into_iter()
        .map(|(k, v)| (k, ConfigInput::Plain(v)))
        .collect();
    burn(state, auth, user, program, config, show).await
}

async fn burn(
    state: Arc<AppState>,
    auth: Auth,
    user: User,
    program: String,
    config: BTreeMap<String, ConfigInput>,
    show_secrets: bool,
) -> Res {
    let p = Programs::of(&state)?;
    let g = p.program(&program)?.clone();
    let cfg = validate::config(config)?;
    if show_secrets && !is_admin(&state, &auth, &p.org).await {
        return Err(Error::Forbidden(
            "Forbidden: showSecrets on a burn needs the organization's admin role".into(),
        )
        .into());
    }
    let request = BurnRequest {
        config: cfg
            .values
            .iter()
            .map(|(k, v)| match v {
                pulumi_auto::ConfigSetValue::Secret(s) => (k.clone(), true, s.expose().to_owned()),
                pulumi_auto::ConfigSetValue::Plain(s) => (k.clone(), false, s.clone()),
            })
            .collect(),
        show_secrets,
    };
    let id = crate::crypto::new_id();
    let sealed = {
        let plain = Zeroizing::new(serde_json::to_vec(&request).map_err(internal)?);
        drop(request);
        seal(&state, &request_context(&id), &plain)?
    };
    p.jobs
        .enqueue_as(&id, &g.name, "", "burn", &user.login, &sealed, true)
        .await?;
    tracing::info!(program = %g.name, job = %id, "burn queued");
    // The client going away drops this handler: that cancels the burn (through the
    // database, wherever it runs), whose run then tears its stack down.
    let mut on_drop = CancelOnDrop {
        state: state.clone(),
        id: Some(id.clone()),
    };
    let answer = wait_for_answer(&state, &id, &cfg.secrets).await;
    on_drop.id = None;
    answer
}

/// What a burn asks, as its queued job keeps it (sealed): the config as `(key, secret,
/// value)`, and whether secret outputs are shown.
#[derive(Serialize, Deserialize)]
struct BurnRequest {
    config: Vec<(String, bool, String)>,
    show_secrets: bool,
}

impl Drop for BurnRequest {
    fn drop(&mut self) {
        for (_, _, v) in &mut self.config {
            v.zeroize();
        }
    }
}

/// What a burn answers, as its job keeps it (sealed) for the replica holding the request.
#[derive(Serialize, Deserialize)]
struct BurnAnswer {
    status: u16,
    body: Value,
}

fn request_context(id: &str) -> String {
    format!("burn request {id}")
}

fn answer_context(id: &str) -> String {
    format!("burn answer {id}")
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("a burn's request or answer could not be kept: {e}"))
}

/// `plain` sealed with a fresh data key bound to `context`, which the master key wraps:
/// `{"key", "sealed"}` (base64).
fn seal(state: &AppState, context: &str, plain: &[u8]) -> Result<String, Error> {
    let wrapped = state.master.new_wrapped_data_key(context)?;
    let dk = state.master.unwrap_data_key(&wrapped, context)?;
    Ok(json!({"key": wrapped, "sealed": B64.encode(dk.encrypt(plain)?)}).to_string())
}

/// The plaintext of what [`seal`] made for `context`.
fn open(state: &AppState, context: &str, text: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
    let v: Value = serde_json::from_str(text).map_err(internal)?;
    let (Some(key), Some(sealed)) = (v["key"].as_str(), v["sealed"].as_str()) else {
        return Err(internal("not a sealed value"));
    };
    let dk = state.master.unwrap_data_key(key, context)?;
    let bytes = B64.decode(sealed).map_err(internal)?;
    dk.decrypt(&bytes).map_err(internal)
}

/// Cancels the burn `id` (through the database) unless disarmed (`id` taken) first.
struct CancelOnDrop {
    state: Arc<AppState>,
    id: Option<String>,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        // Dropped outside a runtime (at its end) there is nothing to run the cancel on:
        // the stopping server cancels the jobs it runs; a burn another replica runs goes
        // on to its end.
        if let Some(id) = self.id.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let state = self.state.clone();
            tracing::info!(job = %id, "the burn's client went away: cancelling it");
            rt.spawn(async move {
                for _ in 0..30 {
                    match state.store.request_cancel(&id).await {
                        Ok(_) => return,
                        Err(_) => tokio::time::sleep(std::time::Duration::from_secs(1)).await,
                    }
                }
            });
        }
    }
}

/// Waits until the burn `id` has ended (on whichever replica ran it) and answers as it
/// did.
async fn wait_for_answer(state: &AppState, id: &str, secrets: &[Secret]) -> Res {
    loop {
        match state.store.job_answer(id).await {
            Ok(Some((status, answer, error)))
                if !matches!(status.as_str(), "queued" | "running") =>
            {
                let Some(text) = answer else {
                    let why = error.unwrap_or_else(|| status.clone());
                    return Err(Error::Internal(format!(
                        "the burn ended without an answer: {}",
                        pulumi_auto::secret::redact(&why, secrets)
                    ))
                    .into());
                };
                let plain = open(state, &answer_context(id), &text)?;
                let a: BurnAnswer = serde_json::from_slice(&plain).map_err(internal)?;
                return match StatusCode::from_u16(a.status) {
                    Ok(StatusCode::OK) => Ok((StatusCode::OK, Json(a.body)).into_response()),
                    _ => Err(ApiError::Other(error_of(
                        a.status,
                        a.body["message"].as_str().unwrap_or("the burn failed"),
                    ))),
                };
            }
            Ok(Some(_)) => {}
            Ok(None) => return Err(Error::Internal("the burn's job is gone".into()).into()),
            Err(e) => tracing::warn!(job = %id, error = %e, "reading a burn's state failed"),
        }
        tokio::time::sleep(ANSWER_POLL).await;
    }
}

/// How often the replica holding a burn's request looks for its answer.
const ANSWER_POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// The error a burn answered with, from its status and message.
fn error_of(status: u16, message: &str) -> Error {
    let m = message.to_owned();
    match status {
        400 => Error::BadRequest(m),
        403 => Error::Forbidden(m),
        404 => Error::NotFound(m),
        409 => Error::Conflict(m),
        503 => Error::Unavailable(m),
        _ => Error::Internal(m),
    }
}

/// Runs a queued burn this replica claimed ([`super::queue`]): its sealed request
/// opened, the ephemeral stack made, updated, destroyed and removed, and the answer sealed
/// into the job's end for the replica holding the client's request.
pub(super) async fn run_claimed(p: &Arc<Programs>, row: JobRow, request: Option<String>) {
    let job = p.jobs.adopt(&row.id, &row.program, "", "burn");
    let state = p.jobs.state().clone();
    let (id, sealer) = (row.id.clone(), state.clone());
    let answer = move |a: BurnAnswer| -> Option<String> {
        let plain = Zeroizing::new(serde_json::to_vec(&a).ok()?);
        match seal(&sealer, &answer_context(&id), &plain) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(job = %id, error = %e, "sealing a burn's answer failed");
                None
            }
        }
    };
    let opened = request
        .ok_or_else(|| internal("no request"))
        .and_then(|r| open(&state, &request_context(&row.id), &r))
        .and_then(|plain| serde_json::from_slice::<BurnRequest>(&plain).map_err(internal));
    let (g, req) = match (p.programs.get(&row.program), opened) {
        (Some(g), Ok(req)) => (g.clone(), req),
        (g, req) => {
            let text = match (g, req) {
                (None, _) => format!("program {:?} is not served by this replica", row.program),
                (_, Err(e)) => e.to_string(),
                _ => "internal error".into(),
            };
            let body = json!({"code": 500, "message": text});
            let end = JobEnd {
                status: "failed".into(),
                error: Some(text),
                answer: answer(BurnAnswer { status: 500, body }),
                ..JobEnd::default()
            };
            p.jobs.finish(&job, end).await;
            return;
        }
    };
    let show_secrets = req.show_secrets;
    let mut secrets = Vec::new();
    let mut builder = EphemeralStack::builder_from(p.builder(&g.burn))
        .prefix(format!("burn-{}", g.name))
        .backend_url(&p.backend_url)
        .pulumi_home(&p.home)
        .ledger_dir(&p.ledger)
        .run_id(run_id(&p.instance));
    for (k, secret, v) in &req.config {
        builder = if *secret {
            let s = Secret::new(v.clone());
            secrets.push(s.clone());
            builder.secret_config(k.clone(), s)
        } else {
            builder.config(k.clone(), v.clone())
        };
    }
    drop(req);
    let (sink, tok, name) = (job.sink(), job.cancel.clone(), g.name.clone());
    tracing::info!(program = %name, job = %row.id, "burn started");
    p.jobs.run(job, async move {
        let guard = match builder.create().await {
            Ok(g) => g,
            Err(e) => {
                let text = error_text(&e, &secrets);
                let err = lib_error(e, &secrets);
                let body = json!({"code": err.status().as_u16(), "message": err.to_string()});
                return JobEnd {
                    status: "failed".into(),
                    error: Some(text),
                    answer: answer(BurnAnswer { status: err.status().as_u16(), body }),
                    ..JobEnd::default()
                };
            }
        };
        let stack = guard.name().to_owned();
        tracing::info!(program = %name, %stack, "info: Successfully initialized stack");
        let up = guard.up(UpOptions::default().on_event(sink).cancel_token(tok)).await;
        tracing::info!(program = %name, %stack, ok = up.is_ok(), "info: Update complete; destroying the burner stack");
        let down = guard.teardown().await;
        let end = match (up, down) {
            (Ok(up), Ok(_)) => {
                let outputs = if show_secrets {
                    serde_json::to_value(Revealed(&up.outputs))
                } else {
                    serde_json::to_value(&up.outputs)
                }
                .unwrap_or(Value::Null);
                let summary = serde_json::to_value(&up.summary).unwrap_or(Value::Null);
                let body = json!({"stack": stack, "outputs": outputs, "summary": summary, "destroyed": true});
                JobEnd {
                    status: "succeeded".into(),
                    summary: serde_json::to_string(&up.summary).ok(),
                    outputs: serde_json::to_string(&up.outputs).ok(),
                    error: None,
                    stack: Some(stack.clone()),
                    answer: answer(BurnAnswer { status: 200, body }),
                }
            }
            (up, down) => {
                let cancelled = matches!(up, Err(pulumi_auto::Error::Cancelled { .. }));
                let mut msgs = Vec::new();
                if let Err(e) = &up {
                    msgs.push(format!("up: {}", error_text(e, &secrets)));
                }
                if let Err(e) = &down {
                    msgs.push(format!(
                        "teardown (the janitor retries at the next start): {}",
                        error_text(e, &secrets)
                    ));
                }
                let text = msgs.join("; ");
                let message = format!("the burn of stack {stack} failed: {text}");
                JobEnd {
                    status: if cancelled { "cancelled" } else { "failed" }.into(),
                    error: Some(text),
                    stack: Some(stack.clone()),
                    answer: answer(BurnAnswer { status: 500, body: json!({"code": 500, "message": message}) }),
                    ..JobEnd::default()
                }
            }
        };
        tracing::info!(program = %name, %stack, status = %end.status, "burn ended");
        end
    });
}
