//! The caller's access tokens: list (with when each was last used), create (the value is
//! answered once; only its SHA-256 is stored), delete (revoked on the next request, for the
//! CLI too).

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pulumi_auto_types::rest::{CreateTokenRequest, ListTokensResponse};
use serde_json::json;

use crate::api::{AppState, Auth, parse_json, read_body};
use crate::crypto;
use crate::error::{Error, Result};

type Shared = Arc<AppState>;

/// GET /api/user/tokens
#[utoipa::path(
    get,
    path = "/api/user/tokens",
    tag = "tokens",
    responses((status = 200, description = "OK", body = ListTokensResponse)),
)]
pub async fn list_tokens(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
) -> Result<Response> {
    let user = auth.user()?;
    let tokens = state.store.list_user_tokens(user).await?;
    Ok(Json(ListTokensResponse { tokens }).into_response())
}

/// POST /api/user/tokens `{description}` → `{id, tokenValue}`
#[utoipa::path(
    post,
    path = "/api/user/tokens",
    tag = "tokens",
    request_body = CreateTokenRequest,
    responses(
        (status = 200, description = "OK", body = pulumi_auto_types::rest::CreateTokenResponse),
    ),
)]
pub async fn create_token(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    body: Body,
) -> Result<Response> {
    let user = auth.user()?;
    let bytes = read_body(body, 64 * 1024).await?;
    let req: CreateTokenRequest = parse_json(&bytes)?;
    if req.description.chars().count() > 1000 || req.description.contains(char::is_control) {
        return Err(Error::bad_request(
            "Bad Request: the description must be at most 1000 characters, no control characters",
        ));
    }
    let value = crypto::new_token();
    let id = state
        .store
        .create_token(&user.login, &req.description, &value)
        .await?;
    Ok(Json(json!({"id": id, "tokenValue": value.as_str()})).into_response())
}

/// DELETE /api/user/tokens/{id}
#[utoipa::path(
    delete,
    path = "/api/user/tokens/{id}",
    tag = "tokens",
    responses((status = 204, description = "No content")),
)]
pub async fn delete_token(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<Response> {
    let user = auth.user()?;
    if id.len() > 64 || !state.store.revoke_user_token(user, &id).await? {
        return Err(Error::not_found("Not Found: no such token"));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
