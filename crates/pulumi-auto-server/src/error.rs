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

/// The message of every 503 for a database that cannot be reached.
pub const DATABASE_UNAVAILABLE: &str =
    "Service Unavailable: the database cannot be reached; try again shortly.";

/// Whether a database error's SQLSTATE says the server is going away, not yet up, or out of
/// connections (PostgreSQL's classes 08 and 53, and 57P01 to 57P03: shut down by an
/// administrator, crashed, starting up), so the request may well succeed when repeated.
pub fn sqlstate_is_unavailable(code: &str) -> bool {
    code.starts_with("08") || code.starts_with("53") || matches!(code, "57P01" | "57P02" | "57P03")
}

/// Whether an sqlx error means the database could not be reached (rather than a bad query or
/// a conflict): a connection that failed or broke, a pool that timed out or closed.
pub fn sqlx_is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|c| sqlstate_is_unavailable(&c)),
        _ => false,
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Error {
        match &e {
            e if sqlx_is_unavailable(e) => {
                tracing::warn!(error = %e, "database unavailable");
                Error::Unavailable(DATABASE_UNAVAILABLE.into())
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
        let mut resp = (status, Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        resp
    }
}

/// The result type of the server's fallible functions.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_states_are_unavailable_other_errors_are_not() {
        for c in [
            "08000", "08006", "08001", "53300", "57P01", "57P02", "57P03",
        ] {
            assert!(sqlstate_is_unavailable(c), "{c}");
        }
        // unique violation, syntax error, serialization failure, query cancelled
        for c in ["23505", "42601", "40001", "57014", ""] {
            assert!(!sqlstate_is_unavailable(c), "{c}");
        }
        assert!(sqlx_is_unavailable(&sqlx::Error::PoolTimedOut));
        assert!(sqlx_is_unavailable(&sqlx::Error::Io(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused
        ))));
        assert!(!sqlx_is_unavailable(&sqlx::Error::RowNotFound));
    }

    #[test]
    fn an_unavailable_database_is_a_503_with_a_retry_after_and_a_message() {
        let e = Error::from(sqlx::Error::PoolTimedOut);
        assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.to_string(), DATABASE_UNAVAILABLE);
        let resp = e.into_response();
        assert_eq!(resp.status(), 503);
        assert_eq!(resp.headers()["retry-after"], "1");
        let e = Error::from(sqlx::Error::RowNotFound);
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
