//! The one error type of the server: every failure a handler can meet becomes an HTTP status
//! and a JSON body `{"code": <status>, "message": "..."}`, the shape the `pulumi` CLI decodes
//! (it prints such errors as `[<code>] <message>`).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The message of the 409 the CLI (and the Automation API SDKs) recognise as a concurrent update.
pub const CONCURRENT_UPDATE: &str = "Conflict: Another update is currently in progress.";

/// The message of the 400 the CLI recognises as "the stack still has resources".
pub const STACK_HAS_RESOURCES: &str = "Bad Request: Stack still contains resources.";

/// An error answered to a client, or met while starting the server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400: the request is malformed; the message names the bad part.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no credentials, or credentials that are not (or no longer) valid.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: authenticated, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 404: the named thing does not exist.
    #[error("{0}")]
    NotFound(String),
    /// 409: the request conflicts with the current state (an update in progress, a name taken).
    #[error("{0}")]
    Conflict(String),
    /// 413: the body is larger than the server accepts.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 503: the database cannot be reached or is busy.
    #[error("{0}")]
    Unavailable(String),
    /// 500: a fault of the server itself (a bug or a broken installation), never bad input.
    #[error("{0}")]
    Internal(String),
}

impl Error {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A 400 with the given message.
    pub fn bad_request(msg: impl Into<String>) -> Error {
        Error::BadRequest(msg.into())
    }

    /// A 404 with the given message.
    pub fn not_found(msg: impl Into<String>) -> Error {
        Error::NotFound(msg.into())
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Error {
        match &e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                tracing::warn!(error = %e, "database unavailable");
                Error::Unavailable("the database is unavailable; try again".into())
            }
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                Error::Conflict("Conflict: the name is already taken.".into())
            }
            _ => {
                tracing::error!(error = %e, "database error");
                Error::Internal("internal database error".into())
            }
        }
    }
}

/// The JSON body of every error answer.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    /// The HTTP status code.
    pub code: u16,
    /// A message for a human.
    pub message: String,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = ErrorBody {
            code: status.as_u16(),
            message: self.to_string(),
        };
        (status, Json(body)).into_response()
    }
}

/// The result type of the server's fallible functions.
pub type Result<T, E = Error> = std::result::Result<T, E>;
