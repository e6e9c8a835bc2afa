//! Stacks: one tag at a time, and transfer to another organization.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pulumi_auto_types::rest::{StackTag, TransferStackRequest};
use serde_json::{Map, Value};

use crate::api::{AppState, Auth, check_tags, parse_json, read_body, stack_of, valid_name};
use crate::error::{Error, Result};

type Shared = Arc<AppState>;

/// POST …/{stack}/tags `{name, value}`: sets one tag.
#[utoipa::path(
    post,
    path = "/api/stacks/{org}/{project}/{stack}/tags",
    tag = "stacks",
    request_body = StackTag,
    responses((status = 204, description = "No content")),
)]
pub async fn add_tag(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path((org, project, stack)): Path<(String, String, String)>,
    body: Body,
) -> Result<Response> {
    let user = auth.user()?;
    let (_, s) = stack_of(&state, user, &org, &project, &stack).await?;
    let bytes = read_body(body, 64 * 1024).await?;
    let tag: StackTag = parse_json(&bytes)?;
    let mut one = Map::new();
    one.insert(tag.name.clone(), Value::String(tag.value.clone()));
    check_tags(&one)?;
    state.store.set_tag(&s, &tag.name, &tag.value).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// DELETE …/{stack}/tags/{tag}
#[utoipa::path(
    delete,
    path = "/api/stacks/{org}/{project}/{stack}/tags/{tag}",
    tag = "stacks",
    responses((status = 204, description = "No content")),
)]
pub async fn delete_tag(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path((org, project, stack, tag)): Path<(String, String, String, String)>,
) -> Result<Response> {
    let user = auth.user()?;
    let (_, s) = stack_of(&state, user, &org, &project, &stack).await?;
    if state.store.delete_tag(&s, &tag).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(Error::not_found("Not Found: the stack has no such tag"))
    }
}

/// POST …/{stack}/transfer `{toOrg}`: 204; 409 while an update runs. The caller needs the
/// stack's admin permission (checked by the access layer) and the admin role in the target
/// organization.
#[utoipa::path(
    post,
    path = "/api/stacks/{org}/{project}/{stack}/transfer",
    tag = "stacks",
    request_body = TransferStackRequest,
    responses(
        (status = 204, description = "No content"),
        (status = 409, description = "An update runs, or the name is taken", body = pulumi_auto_types::rest::ErrorResponse),
    ),
)]
pub async fn transfer(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path((org, project, stack)): Path<(String, String, String)>,
    body: Body,
) -> Result<Response> {
    let user = auth.user()?;
    let (from, s) = stack_of(&state, user, &org, &project, &stack).await?;
    let bytes = read_body(body, 64 * 1024).await?;
    let req: TransferStackRequest = parse_json(&bytes)?;
    if !valid_name(&req.to_org) {
        return Err(Error::bad_request("Bad Request: invalid organization name"));
    }
    let target = state.store.access(user, &req.to_org, None).await?;
    match target.role.as_deref() {
        None => {
            return Err(Error::not_found(format!(
                "Not Found: organization '{}' not found",
                req.to_org
            )));
        }
        Some("admin") => {}
        Some(_) => {
            return Err(Error::Forbidden(
                "Forbidden: a transfer needs the admin role in the target organization".into(),
            ));
        }
    }
    if req.to_org == from.name {
        return Err(Error::bad_request(
            "Bad Request: the stack is already in that organization",
        ));
    }
    let to = state
        .store
        .org_by_name(&req.to_org)
        .await?
        .ok_or_else(|| Error::not_found("Not Found: organization not found"))?;
    state.store.transfer_stack(&s, &from, &to).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
