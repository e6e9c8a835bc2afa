//! Users, organizations and stacks: login, `whoami`, the default organization, `stack
//! init|ls|select|rm|rename|tag|export|import`.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{AppState, Auth, parse_json, read_body};
use crate::crypto;
use crate::error::{Error, Result};
use crate::store::{Org, StackFilter, StackRow, User, now};

type Shared = Arc<AppState>;

/// Whether `s` is a valid organization, project or stack name: 1 to 100 of `A-Z a-z 0-9 - _ .`.
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

fn check_name(what: &str, s: &str) -> Result<()> {
    if valid_name(s) {
        Ok(())
    } else {
        Err(Error::bad_request(format!(
            "Bad Request: invalid {what} name (1 to 100 of A-Z, a-z, 0-9, '-', '_', '.')"
        )))
    }
}

/// Checks tags as the CLI does: names 1 to 40 of `A-Z a-z 0-9 - _ . :`, values at most 256
/// characters, strings only.
pub fn check_tags(tags: &Map<String, Value>) -> Result<()> {
    if tags.len() > 1000 {
        return Err(Error::bad_request("Bad Request: too many tags"));
    }
    for (k, v) in tags {
        let ok_name = !k.is_empty()
            && k.chars().count() <= 40
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        if !ok_name {
            return Err(Error::bad_request(
                "Bad Request: invalid tag name (1 to 40 of A-Z, a-z, 0-9, '-', '_', '.', ':')",
            ));
        }
        match v.as_str() {
            Some(s) if s.chars().count() <= 256 => {}
            Some(_) => {
                return Err(Error::bad_request(
                    "Bad Request: a tag value is longer than 256 characters",
                ));
            }
            None => {
                return Err(Error::bad_request(
                    "Bad Request: tag values must be strings",
                ));
            }
        }
    }
    Ok(())
}

/// The organization `org` of the caller (404 when it does not exist or they are no member).
pub(crate) async fn org_of(state: &AppState, user: &User, org: &str) -> Result<Org> {
    check_name("organization", org)?;
    state
        .store
        .member_org(user, org)
        .await?
        .ok_or_else(|| Error::not_found(format!("Not Found: organization '{org}' not found")))
}

/// The stack `org/project/stack` the caller may reach (404 otherwise).
pub(crate) async fn stack_of(
    state: &AppState,
    user: &User,
    org: &str,
    project: &str,
    stack: &str,
) -> Result<(Org, StackRow)> {
    check_name("project", project)?;
    check_name("stack", stack)?;
    if let Some(found) = crate::rest::take_found(user, org, project, stack) {
        return Ok(found);
    }
    let o = org_of(state, user, org).await?;
    let s = state
        .store
        .get_stack(&o, project, stack)
        .await?
        .ok_or_else(|| {
            Error::not_found(format!(
                "Not Found: stack '{org}/{project}/{stack}' not found"
            ))
        })?;
    Ok((o, s))
}

/// GET /api/capabilities
#[utoipa::path(
    get,
    path = "/api/capabilities",
    tag = "service",
    responses((status = 200, description = "OK", body = Object)),
)]
pub async fn capabilities(Extension(auth): Extension<Auth>) -> Result<Response> {
    auth.user()?;
    Ok(Json(json!({
        "capabilities": [
            {"capability": "batch-encrypt"},
            {"capability": "delta-checkpoint-uploads-v2", "version": 2,
             "configuration": {"checkpointCutoffSizeBytes": super::updates::DELTA_CUTOFF_BYTES}},
        ]
    }))
    .into_response())
}

/// GET /api/cli/version: the caller's own version as latest (the server does not track
/// releases), so the CLI never nags about upgrades.
#[utoipa::path(
    get,
    path = "/api/cli/version",
    tag = "service",
    responses((status = 200, description = "OK", body = Object)),
)]
pub async fn cli_version(Extension(auth): Extension<Auth>, headers: HeaderMap) -> Result<Response> {
    auth.user()?;
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // "pulumi-cli/1 (3.259.0; linux; cmd=…)"
    let version = ua
        .split_once('(')
        .and_then(|(_, rest)| rest.split([';', ')']).next())
        .map(str::trim)
        .filter(|v| {
            !v.is_empty()
                && v.len() < 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-+".contains(&b))
        });
    match version {
        Some(v) => Ok(Json(json!({
            "latestVersion": v,
            "oldestWithoutWarning": v,
            "latestDevVersion": "",
        }))
        .into_response()),
        None => Err(Error::not_found("Not Found: unknown CLI version")),
    }
}

/// GET /api/user
#[utoipa::path(
    get,
    path = "/api/user",
    tag = "service",
    responses((status = 200, description = "OK", body = Object)),
)]
pub async fn current_user(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
) -> Result<Response> {
    let user = auth.user()?;
    let orgs = state.store.user_orgs(&user.id).await?;
    Ok(Json(json!({
        "id": user.id,
        "githubLogin": user.login,
        "name": user.name,
        "email": user.email,
        "avatarUrl": "",
        "organizations": orgs.iter().map(|o| json!({
            "githubLogin": o.name, "name": o.name, "avatarUrl": "",
        })).collect::<Vec<_>>(),
        "identities": [],
        "siteAdmin": false,
    }))
    .into_response())
}

/// GET /api/user/organizations/default
#[utoipa::path(
    get,
    path = "/api/user/organizations/default",
    tag = "service",
    responses((status = 200, description = "OK", body = Object)),
)]
pub async fn default_org(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
) -> Result<Response> {
    let user = auth.user()?;
    let orgs = state.store.user_orgs(&user.id).await?;
    let name = orgs.first().map(|o| o.name.clone()).unwrap_or_default();
    Ok(Json(json!({"GitHubLogin": name, "Messages": []})).into_response())
}

/// The query of GET /api/user/stacks.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    organization: Option<String>,
    project: Option<String>,
    tag_name: Option<String>,
    tag_value: Option<String>,
    continuation_token: Option<String>,
}

const STACK_PAGE: i64 = 500;

fn stack_summary(s: &StackRow) -> Value {
    let mut v = json!({
        "id": s.id,
        "orgName": s.org,
        "projectName": s.project,
        "stackName": s.name,
        "resourceCount": s.resource_count,
    });
    if let Some(t) = s.last_update {
        v["lastUpdate"] = json!(t);
    }
    v
}

/// GET /api/user/stacks
#[utoipa::path(
    get,
    path = "/api/user/stacks",
    tag = "stacks",
    params(ListQuery),
    responses(
        (status = 200, description = "OK", body = pulumi_auto_types::rest::ListStacksResponse),
    ),
)]
pub async fn list_stacks(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Query(q): Query<ListQuery>,
) -> Result<Response> {
    let user = auth.user()?;
    let filter = StackFilter {
        org: q.organization,
        project: q.project,
        tag_name: q.tag_name,
        tag_value: q.tag_value,
    };
    let after = match &q.continuation_token {
        None => None,
        Some(t) => {
            let raw = B64URL
                .decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| Error::bad_request("Bad Request: invalid continuation token"))?;
            let parts: Vec<String> = raw.split('\n').map(str::to_owned).collect();
            if parts.len() != 3 {
                return Err(Error::bad_request(
                    "Bad Request: invalid continuation token",
                ));
            }
            Some(parts)
        }
    };
    let stacks = state
        .store
        .list_stacks(
            user,
            &filter,
            after
                .as_ref()
                .map(|p| (p[0].as_str(), p[1].as_str(), p[2].as_str())),
            STACK_PAGE,
        )
        .await?;
    let token = (stacks.len() as i64 == STACK_PAGE)
        .then(|| stacks.last())
        .flatten()
        .map(|s| B64URL.encode(format!("{}\n{}\n{}", s.org, s.project, s.name)));
    let mut body = json!({"stacks": stacks.iter().map(stack_summary).collect::<Vec<_>>()});
    if let Some(t) = token {
        body["continuationToken"] = json!(t);
    }
    Ok(Json(body).into_response())
}

/// HEAD /api/stacks/{org}/{project}
#[utoipa::path(
    head,
    path = "/api/stacks/{org}/{project}",
    tag = "service",
    responses((status = 200, description = "The project exists")),
)]
pub async fn project_exists(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path((org, project)): Path<(String, String)>,
) -> Result<Response> {
    let user = auth.user()?;
    let o = org_of(&state, user, &org).await?;
    check_name("project", &project)?;
    if state.store.project_exists(&o, &project).await? {
        Ok(StatusCode::OK.into_response())
    } else {
        Err(Error::not_found("Not Found: project not found"))
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateStackRequest {
    stack_name: String,
    #[serde(default)]
    tags: Option<Map<String, Value>>,
    #[serde(default)]
    #[allow(dead_code)]
    teams: Option<Vec<String>>,
    #[serde(default)]
    state: Option<Box<serde_json::value::RawValue>>,
    #[serde(default)]
    config: Option<Box<serde_json::value::RawValue>>,
}

/// POST /api/stacks/{org}/{project}
#[utoipa::path(
    post,
    path = "/api/stacks/{org}/{project}",
    tag = "service",
    request_body = Object,
    responses((status = 200, description = "OK", body = Object)),
)]
pub async fn create_stack(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path((org, project)): Path<(String, String)>,
    body: Body,
) -> Result<Response> {
    let user = auth.user()?;
    let o = org_of(&state, user, &org).await?;
    check_name("project", &project)?;
    let bytes = read_body(body, state.config.max_body).await?;
    let req: CreateStackRequest = parse_json(&bytes)?;
    check_name("stack", &req.stack_name)?;
    let tags = req.tags.unwrap_or_default();
    check_tags(&tags)?;
    let stack_state = match &req.state {
        Some(raw) if raw.get() != "null" => {
            check_untyped_deployment(raw.get())?;
            Some(raw.get().to_owned())
        }
        _ => None,
    };
    let config = req
        .config
        .as_ref()
        .map(|c| c.get().to_owned())
        .filter(|c| c != "null");
    let id = crypto::new_id();
    let wrapped = state.master.new_wrapped_data_key(&id)?;
    state
        .store
        .create_stack(
            &o,
            &project,
            &req.stack_name,
            &tags,
            &wrapped,
            &id,
            config.as_deref(),
            stack_state.as_deref(),
        )
        .await?;
    crate::rest::stack_event(&state, &o.name, &project, &req.stack_name, user, "created");
    Ok(Json(json!({})).into_response())
}

/// Checks that a text is an untyped deployment object (`{"version": n, "deployment": {…}}`).
pub(crate) fn check_untyped_deployment(text: &str) -> Result<()> {
    #[derive(Deserialize)]
    struct Untyped {
        #[serde(default)]
        #[allow(dead_code)]
        version: i64,
        #[serde(default)]
        #[allow(dead_code)]
        features: Option<Vec<String>>,
        #[serde(default)]
        #[allow(dead_code)]
        deployment: Option<Map<String, Value>>,
    }
    parse_json::<Untyped>(text.as_bytes()).map(|_| ())
}

async fn stack_json(state: &AppState, s: &StackRow) -> Result<Value> {
    let mut v = json!({
        "id": s.id,
        "orgName": s.org,
        "projectName": s.project,
        "stackName": s.name,
        "activeUpdate": s.active_update.clone().unwrap_or_default(),
        "tags": Value::Object(s.tags.clone()),
        "version": s.version,
    });
    if let Some(active) = &s.active_update
        && let Some(u) = state.store.get_update_by_id(active).await?
        && u.status == "running"
        && u.lease_expires.unwrap_or(0) >= now()
    {
        v["currentOperation"] = json!({
            "kind": u.kind,
            "author": u.requested_by,
            "started": u.start_time.unwrap_or(u.created),
        });
    }
    if let Some(c) = &s.config
        && let Ok(c) = serde_json::from_str::<Value>(c)
    {
        v["config"] = c;
    }
    Ok(v)
}

/// GET /api/stacks/{org}/{project}/{stack}
#[utoipa::path(
    get,
    path = "/api/stacks/{org}/{project}/{stack}",
    tag = "stacks",
    responses((status = 200, description = "OK", body = pulumi_auto_types::rest::Stack)),
)]
pub async fn get_stack(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path((org, project, stack)): Path<(String, String, String)>,
) -> Result<Response> {
    let user = auth.user()?;
    let (_, s) = stack_of(&state, user, &org, &project, &stack).await?;
    Ok(Json(stack_json(&state, &s).await?).into_response())
}

/// The query of DELETE …/{stack}.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[derive(Debug, Deserialize)]
pub struct DeleteQuery {
    #[serde(default)]
    force: Option<String>,
}

/// DELETE /api/stacks/{org}/{project}/{stack}?force=…
#[utoipa::path(
    delete,
    path = "/api/stacks/{org}/{project}/{stack}",
    tag = "stacks",
    params(DeleteQuery),
    responses(
        (status = 204, description = "No content"),
        (status = 409, description = "The stack still has resources (use force), or an update runs", body = pulumi_auto_types::rest::ErrorResponse),
    ),
)]
pub async fn delete_stack(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path((org, project, stack)): Path<(String, String, String)>,
    Query(q): Query<DeleteQuery>,
) -> Result<Response> {
    let user = auth.user()?;
    let (_, s) = stack_of(&state, user, &org, &project, &stack).await?;
    let force = matches!(q.force.as_deref(), Some("true" | "1"));
    state.store.delete_stack(&s, force).await?;
    state.forget_data_key(&s.id);
    crate::rest::stack_event(&state, &s.org, &s.project, &s.name, user, "deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn empty_deployment() -> String {
    let t = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into());
    json!({"version": 3, "deployment": {"manifest": {"time": t, "magic": "", "version": ""}}})
        .to_string()
}

fn json_text(text: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], text).into_response()
}

/// GET …/{stack}/export
#[utoipa::path(
    get,
    path = "/api/stacks/{org}/{project}/{stack}/export",
    tag = "stacks",
    responses(
        (status = 200, description = "OK", body = pulumi_auto_types::rest::UntypedDeployment),
    ),
)]
pub async fn export(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path((org, project, stack)): Path<(String, String, String)>,
    headers: axum::http::HeaderMap,
) -> Result<Response> {
    let user = auth.user()?;
    let (_, s) = stack_of(&state, user, &org, &project, &stack).await?;
    let text = state
        .store
        .checkpoint(&s, None)
        .await?
        .unwrap_or_else(empty_deployment);
    Ok(json_text(for_this_replica(text, &headers)))
}

/// A deployment as this replica answers it: its service secrets provider's URL the one the
/// client reached (see [`crate::replica::with_secrets_url`]).
fn for_this_replica(text: String, headers: &axum::http::HeaderMap) -> String {
    crate::replica::request_base_url(headers)
        .and_then(|url| crate::replica::with_secrets_url(&text, &url))
        .unwrap_or(text)
}

/// GET …/{stack}/export/{version}
#[utoipa::path(
    get,
    path = "/api/stacks/{org}/{project}/{stack}/export/{version}",
    tag = "stacks",
    responses(
        (status = 200, description = "OK", body = pulumi_auto_types::rest::UntypedDeployment),
    ),
)]
pub async fn export_version(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path((org, project, stack, version)): Path<(String, String, String, String)>,
    headers: axum::http::HeaderMap,
) -> Result<Response> {
    let user = auth.user()?;
    let (_, s) = stack_of(&state, user, &org, &project, &stack).await?;
    let version: i64 =
        version.parse().ok().filter(|v| *v >= 1).ok_or_else(|| {
            Error::bad_request("Bad Request: the version must be a positive integer")
        })?;
    if version > s.version {
        return Err(Error::not_found(format!(
            "Not Found: stack has no version {version}"
        )));
    }
    let text = state
        .store
        .checkpoint(&s, Some(version))
        .await?
        .unwrap_or_else(empty_deployment);
    Ok(json_text(for_this_replica(text, &headers)))
}

/// POST …/{stack}/import
#[utoipa::path(
    post,
    path = "/api/stacks/{org}/{project}/{stack}/import",
    tag = "service",
    request_body = pulumi_auto_types::rest::UntypedDeployment,
    responses((status = 200, description = "OK", body = Object)),
)]
pub async fn import(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path((org, project, stack)): Path<(String, String, String)>,
    body: Body,
) -> Result<Response> {
    let user = auth.user()?;
    let (_, s) = stack_of(&state, user, &org, &project, &stack).await?;
    let bytes = read_body(body, state.config.max_body).await?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| Error::bad_request("Bad Request: the body is not UTF-8"))?;
    check_untyped_deployment(text)?;
    let id = state.store.import_state(&s, user, text).await?;
    Ok(Json(json!({"updateId": id})).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RenameRequest {
    new_name: String,
    #[serde(default)]
    new_project: String,
}

/// POST …/{stack}/rename
#[utoipa::path(
    post,
    path = "/api/stacks/{org}/{project}/{stack}/rename",
    tag = "service",
    request_body = Object,
    responses((status = 204, description = "No content")),
)]
pub async fn rename(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path((org, project, stack)): Path<(String, String, String)>,
    body: Body,
) -> Result<Response> {
    let user = auth.user()?;
    let (o, s) = stack_of(&state, user, &org, &project, &stack).await?;
    let bytes = read_body(body, 64 * 1024).await?;
    let req: RenameRequest = parse_json(&bytes)?;
    check_name("stack", &req.new_name)?;
    let new_project = if req.new_project.is_empty() {
        s.project.clone()
    } else {
        check_name("project", &req.new_project)?;
        req.new_project
    };
    state
        .store
        .rename_stack(&s, &o, &new_project, &req.new_name)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// PATCH …/{stack}/tags: replaces every tag.
#[utoipa::path(
    patch,
    path = "/api/stacks/{org}/{project}/{stack}/tags",
    tag = "stacks",
    request_body = std::collections::BTreeMap<String,
    String>,
    responses((status = 204, description = "No content")),
)]
pub async fn set_tags(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path((org, project, stack)): Path<(String, String, String)>,
    body: Body,
) -> Result<Response> {
    let user = auth.user()?;
    let (_, s) = stack_of(&state, user, &org, &project, &stack).await?;
    let bytes = read_body(body, 1024 * 1024).await?;
    let tags: Map<String, Value> = parse_json(&bytes)?;
    check_tags(&tags)?;
    state.store.set_tags(&s, &tags).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// PUT …/{stack}/config: accepted and ignored (the server keeps no stack config of its own).
#[utoipa::path(
    put,
    path = "/api/stacks/{org}/{project}/{stack}/config",
    tag = "service",
    request_body = Object,
    responses((status = 204, description = "No content")),
)]
pub async fn put_config(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path((org, project, stack)): Path<(String, String, String)>,
    body: Body,
) -> Result<Response> {
    let user = auth.user()?;
    stack_of(&state, user, &org, &project, &stack).await?;
    let bytes = read_body(body, 1024 * 1024).await?;
    let _: Map<String, Value> = parse_json(&bytes)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
