//! Destroys through the custom API, gated by a human: a destroy preview lists what would be
//! deleted and keeps its plan in the database (valid 15 minutes, taken once, by any
//! replica); a destroy names that plan and the stack's name as typed. The confirmed destroy
//! is queued like an update and run by whichever replica claims it, which checks the
//! stack's protection again; the library refuses it when the stack changed since the
//! preview.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::response::IntoResponse;
use pulumi_auto::ops::DestroyOptions;
use pulumi_auto::{DestroyPlan, Stack};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::authz::{Action, On, allow};
use super::handlers::{Res, accepted, body, existing};
use super::jobs::end_of;
use super::{PLAN_TTL, Programs, lib_error, validate};
use crate::api::{AppState, Auth};
use crate::error::Error;
use crate::store::{JobEnd, JobRow};

type Shared = Arc<AppState>;

/// Plans made before this (seconds since the epoch) have expired.
pub(super) fn plans_expired_before() -> i64 {
    crate::store::now() - PLAN_TTL.as_secs() as i64
}

/// `POST …/stacks/{stack}/destroy-preview`: what a destroy would delete, and the plan id
/// a destroy must name (valid 15 minutes, once).
#[utoipa::path(
    post,
    path = "/api/programs/{program}/stacks/{stack}/destroy-preview",
    tag = "programs",
    responses((status = 200, description = "OK", body = Object)),
)]
pub async fn destroy_preview(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path((program, stack)): Path<(String, String)>,
) -> Res {
    let p = Programs::of(&state)?;
    let g = p.program(&program)?.clone();
    validate::stack_name(&stack)?;
    let user = allow(&state, &auth, &p.org, On::Stack(&g, &stack), Action::Admin).await?;
    existing(&state, &p, &g, &stack).await?;
    let job = p
        .jobs
        .begin(&g.name, &stack, "destroy-preview", &user.login, true)
        .await?;
    let res = async {
        let s = p.stack(&g, &stack).await?;
        s.preview_destroy(
            DestroyOptions::default()
                .on_event(job.sink())
                .cancel_token(job.cancel.clone()),
        )
        .await
        .map_err(|e| lib_error(e, &[]))
    }
    .await;
    let end = JobEnd {
        status: if res.is_ok() { "succeeded" } else { "failed" }.into(),
        error: res.as_ref().err().map(|e| e.to_string()),
        ..JobEnd::default()
    };
    p.jobs.finish(&job, end).await;
    let plan = res?;
    let deletions = serde_json::to_value(plan.deletions()).unwrap_or(Value::Null);
    let plan_id = crate::crypto::new_id();
    let text = serde_json::to_string(&plan)
        .map_err(|e| Error::Internal(format!("cannot keep the destroy plan: {e}")))?;
    state
        .store
        .put_destroy_plan(&plan_id, &g.name, &stack, &text, plans_expired_before())
        .await?;
    Ok(Json(json!({
        "planId": plan_id,
        "stack": stack,
        "deletions": deletions,
        "expiresInSeconds": PLAN_TTL.as_secs(),
        "confirm": format!("POST …/destroy with {{\"planId\": \"{plan_id}\", \"confirm\": \"{stack}\"}}"),
    }))
    .into_response())
}

/// The body of `POST …/destroy`.
#[derive(utoipa::ToSchema, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DestroyBody {
    /// The plan id of a destroy preview of this stack.
    #[serde(default)]
    pub plan_id: String,
    /// The stack's name, typed by a human.
    #[serde(default)]
    pub confirm: String,
    /// Needed for a protected stack.
    #[serde(default)]
    pub override_protection: bool,
    /// Also remove the stack once its resources are gone.
    #[serde(default)]
    pub remove: bool,
}

/// `POST …/stacks/{stack}/destroy`: needs the plan id of a destroy preview of this stack,
/// `confirm` equal to the stack's name, an admin, and for a protected stack
/// `overrideProtection`. Nothing runs when a check fails. The confirmed destroy is queued
/// (202, `queued`) for whichever replica claims it; there the protection is checked again
/// (job status `refused`), and the library refuses a plan gone stale (`refused` too).
#[utoipa::path(
    post,
    path = "/api/programs/{program}/stacks/{stack}/destroy",
    tag = "programs",
    request_body = DestroyBody,
    responses((status = 202, description = "Accepted", body = Object)),
)]
pub async fn destroy(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path((program, stack)): Path<(String, String)>,
    b: Body,
) -> Res {
    let p = Programs::of(&state)?;
    let g = p.program(&program)?.clone();
    validate::stack_name(&stack)?;
    let user = allow(&state, &auth, &p.org, On::Stack(&g, &stack), Action::Admin).await?;
    let req: DestroyBody = body(b).await?;
    if req.confirm != stack {
        return Err(Error::bad_request(format!(
            "Bad Request: confirm must be the stack's name ({stack:?}) exactly; nothing was destroyed"
        ))
        .into());
    }
    // In the database: the preview may have reached another replica. Taken once.
    let kept = state
        .store
        .take_destroy_plan(&req.plan_id, &g.name, &stack, plans_expired_before())
        .await?;
    let Some(plan) = kept.and_then(|text| serde_json::from_str::<DestroyPlan>(&text).ok()) else {
        return Err(Error::Conflict(
            "Conflict: unknown or expired planId for this stack: run destroy-preview first; nothing was destroyed".into(),
        )
        .into());
    };
    // Checked here for the caller's 409, and again where the destroy runs.
    let s = p.stack(&g, &stack).await?;
    if !req.override_protection && protected(&s).await? {
        return Err(Error::Conflict(protected_text(&stack)).into());
    }
    let request = serde_json::to_string(&Confirmed {
        plan,
        confirm: req.confirm,
        override_protection: req.override_protection,
        remove: req.remove,
    })
    .map_err(|e| Error::Internal(format!("cannot queue the destroy: {e}")))?;
    let id = p
        .jobs
        .enqueue(&g.name, &stack, "destroy", &user.login, &request)
        .await?;
    tracing::warn!(program = %g.name, %stack, job = %id, by = %user.login, "destroy confirmed and queued");
    Ok(accepted(&g.name, &stack, &id, "destroy", "queued"))
}

/// A confirmed destroy, as queued with its job: the plan the human confirmed and what
/// they typed and chose. It holds no secret (a plan names resources, never their inputs).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Confirmed {
    plan: DestroyPlan,
    confirm: String,
    override_protection: bool,
    remove: bool,
}

/// Whether the stack carries the protection tag.
async fn protected(s: &Stack) -> Result<bool, Error> {
    let tags = s.list_tags().await.map_err(|e| lib_error(e, &[]))?;
    Ok(tags
        .get("pulumi-auto:protected")
        .is_some_and(|v| v == "true"))
}

fn protected_text(stack: &str) -> String {
    format!(
        "Conflict: stack {stack:?} is protected: a destroy needs overrideProtection: true; nothing was destroyed"
    )
}

/// Runs a confirmed destroy this replica claimed ([`super::queue`]): the protection checked
/// again, then the library's destroy with the approval made from the confirmed plan (which
/// compares it with a fresh preview and refuses when the stack changed).
pub(super) async fn run_claimed(p: &Arc<Programs>, row: JobRow, request: Option<String>) {
    let job = p.jobs.adopt(&row.id, &row.program, &row.stack, &row.kind);
    let ended = |status: &str, error: String| JobEnd {
        status: status.into(),
        error: Some(error),
        ..JobEnd::default()
    };
    let Some(c) = request.and_then(|r| serde_json::from_str::<Confirmed>(&r).ok()) else {
        let e = "the queued destroy's confirmation is unreadable; nothing was destroyed";
        p.jobs.finish(&job, ended("failed", e.into())).await;
        return;
    };
    let Ok(g) = p.program(&row.program) else {
        let e = format!("program {:?} is not served by this replica", row.program);
        p.jobs.finish(&job, ended("failed", e)).await;
        return;
    };
    let s = match p.stack(g, &row.stack).await {
        Ok(s) => s,
        Err(e) => {
            p.jobs.finish(&job, ended("failed", e.to_string())).await;
            return;
        }
    };
    if !c.override_protection {
        match protected(&s).await {
            Ok(false) => {}
            Ok(true) => {
                let e = protected_text(&row.stack);
                p.jobs.finish(&job, ended("refused", e)).await;
                return;
            }
            Err(e) => {
                p.jobs.finish(&job, ended("failed", e.to_string())).await;
                return;
            }
        }
    }
    let approval = c
        .plan
        .approve(c.confirm)
        .override_protection(c.override_protection);
    let (sink, tok) = (job.sink(), job.cancel.clone());
    let remove = c.remove;
    tracing::warn!(program = %g.name, stack = %row.stack, job = %job.id, "destroy started");
    p.jobs.run(job, async move {
        let res = s
            .destroy(
                DestroyOptions::default()
                    .remove(remove)
                    .on_event(sink)
                    .cancel_token(tok),
                &approval,
            )
            .await;
        end_of(res, &[], |r| JobEnd {
            status: "succeeded".into(),
            summary: serde_json::to_string(&r.summary).ok(),
            ..JobEnd::default()
        })
    });
}
