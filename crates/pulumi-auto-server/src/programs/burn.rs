//! Burner endpoints, the Automation API tutorial's `GET /location`: `POST
//! /api/programs/{program}/burn` (and a `GET` alias whose query string is the config) runs
//! an ephemeral stack of the program: up with the request's config, the outputs answered
//! as JSON, the stack destroyed and removed before the answer. Each burn has a stack of
//! its own (the library's unique names) and a settings file of its own; the library's
//! ephemeral guard, its ledger (`DATA/ephemeral-ledger`) and the janitor at start leave
//! nothing behind, also when the client goes away (the burn is cancelled and torn down)
//! or the server stops.

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
use super::handlers::{Res, ShowSecrets};
use super::jobs::{ApiError, error_text};
use super::validate::{self, ConfigInput};
use super::{Programs, lib_error};
use crate::api::{AppState, Auth, parse_json, read_body};
use crate::error::Error;
use crate::store::{JobEnd, User};

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
    let job = p
        .jobs
        .begin(&g.name, "", "burn", &user.login, false)
        .await?;
    // The client going away drops this handler: that cancels the burn, which the task
    // then tears down.
    let _cancel_on_drop = job.cancel.clone().drop_guard();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let secrets = cfg.secrets.clone();
    let mut builder = EphemeralStack::builder_from(p.builder(&g.burn))
        .prefix(format!("burn-{}", g.name))
        .backend_url(&p.backend_url)
        .pulumi_home(&p.home)
        .ledger_dir(&p.ledger)
        .run_id(run_id(&p.instance));
    for (k, v) in cfg.values {
        builder = match v {
            pulumi_auto::ConfigSetValue::Secret(s) => builder.secret_config(k, s),
            pulumi_auto::ConfigSetValue::Plain(s) => builder.config(k, s),
        };
    }
    let (sink, tok, name) = (job.sink(), job.cancel.clone(), g.name.clone());
    p.jobs.run(job, async move {
        let guard = match builder.create().await {
            Ok(g) => g,
            Err(e) => {
                let text = error_text(&e, &secrets);
                let _ = tx.send(Err(lib_error(e, &secrets)));
                return JobEnd { status: "failed".into(), error: Some(text), ..JobEnd::default() };
            }
        };
        let stack = guard.name().to_owned();
        tracing::info!(program = %name, %stack, "info: Successfully initialized stack");
        let up = guard.up(UpOptions::default().on_event(sink).cancel_token(tok)).await;
        tracing::info!(program = %name, %stack, ok = up.is_ok(), "info: Update complete; destroying the burner stack");
        let down = guard.teardown().await;
        let (end, answer) = match (up, down) {
            (Ok(up), Ok(_)) => {
                let outputs = if show_secrets {
                    serde_json::to_value(Revealed(&up.outputs))
                } else {
                    serde_json::to_value(&up.outputs)
                }
                .unwrap_or(Value::Null);
                let end = JobEnd {
                    status: "succeeded".into(),
                    summary: serde_json::to_string(&up.summary).ok(),
                    outputs: serde_json::to_string(&up.outputs).ok(),
                    error: None,
                    stack: Some(stack.clone()),
                };
                let summary = serde_json::to_value(&up.summary).unwrap_or(Value::Null);
                (end, Ok(json!({"stack": stack, "outputs": outputs, "summary": summary, "destroyed": true})))
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
                let end = JobEnd {
                    status: if cancelled { "cancelled" } else { "failed" }.into(),
                    error: Some(text.clone()),
                    stack: Some(stack.clone()),
                    ..JobEnd::default()
                };
                (end, Err(Error::Internal(format!("the burn of stack {stack} failed: {text}"))))
            }
        };
        tracing::info!(program = %name, %stack, status = %end.status, "burn ended");
        let _ = tx.send(answer);
        end
    });
    match rx.await {
        Ok(Ok(v)) => Ok((StatusCode::OK, Json(v)).into_response()),
        Ok(Err(e)) => Err(ApiError::Other(e)),
        Err(_) => Err(Error::Internal("the burn ended without an answer".into()).into()),
    }
}
