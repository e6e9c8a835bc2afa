//! Authentication: `Authorization: token <access token>` for everything a user does, and
//! `Authorization: update-token <lease token>` for the calls the CLI makes under an update's
//! lease (checkpoints, events, lease renewal, completion). Missing or bad credentials are a
//! 401 `{"code":401,"message":…}` on every route but `/healthz`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::crypto;
use crate::error::Error;
use crate::store::{UpdateRow, User};

use super::AppState;

/// Who a request comes from.
#[derive(Debug, Clone)]
pub enum Auth {
    /// A user, by an access token.
    User(User),
    /// The holder of an update's lease, by its lease token.
    Lease(Box<UpdateRow>),
}

impl Auth {
    /// The user, or a 401 for a lease token (which is valid for its own update only).
    pub fn user(&self) -> Result<&User, Error> {
        match self {
            Auth::User(u) => Ok(u),
            Auth::Lease(_) => Err(Error::Unauthorized(
                "Unauthorized: an update token is valid only for its own update's calls".into(),
            )),
        }
    }

    /// The update whose lease this is, if it is the update `id`; a 401 otherwise.
    pub fn lease_for(&self, id: &str) -> Result<&UpdateRow, Error> {
        match self {
            Auth::Lease(u) if u.id == id => Ok(u),
            Auth::Lease(_) => Err(Error::Unauthorized(
                "Unauthorized: the update token belongs to another update".into(),
            )),
            Auth::User(_) => Err(Error::Unauthorized(
                "Unauthorized: this call needs the update's lease token (update-token)".into(),
            )),
        }
    }
}

fn unauthorized(msg: &str) -> Response {
    Error::Unauthorized(format!("Unauthorized: {msg}")).into_response()
}

/// The middleware: resolves the credentials into an [`Auth`] in the request's extensions.
pub async fn authenticate(
    State(state): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return unauthorized("no credentials; log in with an access token");
    };
    let Ok(value) = value.to_str() else {
        return unauthorized("malformed Authorization header");
    };
    let (scheme, cred) = match value.split_once(' ') {
        Some((s, c)) => (s, c.trim()),
        None => return unauthorized("malformed Authorization header"),
    };
    if cred.is_empty() || cred.len() > 512 {
        return unauthorized("invalid credentials");
    }
    let auth = match scheme {
        "token" => match state.store.authenticate(cred).await {
            Ok(Some(user)) => Auth::User(user),
            Ok(None) => return unauthorized("invalid access token"),
            Err(e) => return e.into_response(),
        },
        "update-token" => {
            let hash = crypto::token_hash(cred);
            match state.store.update_by_lease(&hash).await {
                Ok(Some(u))
                    if u.lease_hash
                        .as_deref()
                        .is_some_and(|h| crypto::token_matches(cred, h)) =>
                {
                    Auth::Lease(Box::new(u))
                }
                Ok(_) => return unauthorized("invalid or expired update token"),
                Err(e) => return e.into_response(),
            }
        }
        _ => return unauthorized("unsupported authorization scheme (use `token …`)"),
    };
    req.extensions_mut().insert(auth);
    next.run(req).await
}
