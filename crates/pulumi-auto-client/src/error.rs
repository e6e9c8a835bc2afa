//! The client's errors: one variant per answer a caller handles differently, each with the
//! server's `{code, message}` text. No variant ever holds the token.

/// What a call can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bad input, refused before any request was sent (names the bad part).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// 400: the server found the request malformed.
    #[error("[400] {0}")]
    BadRequest(String),
    /// 401: no token, or one that is not (or no longer) valid.
    #[error("[401] {0}")]
    Unauthorized(String),
    /// 403: the token is valid but may not do this.
    #[error("[403] {0}")]
    Forbidden(String),
    /// 404: no such thing, or one the caller may not see.
    #[error("[404] {0}")]
    NotFound(String),
    /// 409: a conflict (an update in progress, a name taken).
    #[error("[409] {0}")]
    Conflict(String),
    /// Any other error status, with the server's message.
    #[error("[{status}] {message}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// The server could not be reached, or the connection broke.
    #[error("transport error: {0}")]
    Transport(String),
    /// The answer was not the expected JSON.
    #[error("unexpected answer: {0}")]
    Decode(String),
}

impl Error {
    /// The HTTP status of an error answer, if it is one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::BadRequest(_) => Some(400),
            Error::Unauthorized(_) => Some(401),
            Error::Forbidden(_) => Some(403),
            Error::NotFound(_) => Some(404),
            Error::Conflict(_) => Some(409),
            Error::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The error of an answer with status `status` and body `body` (`{code, message}`, or
    /// anything else, whose first 200 characters are kept).
    pub fn from_answer(status: u16, body: &str) -> Error {
        let message = match serde_json::from_str::<pulumi_auto_types::rest::ErrorResponse>(body) {
            Ok(e) => e.message,
            Err(_) => body.chars().take(200).collect(),
        };
        match status {
            400 => Error::BadRequest(message),
            401 => Error::Unauthorized(message),
            403 => Error::Forbidden(message),
            404 => Error::NotFound(message),
            409 => Error::Conflict(message),
            _ => Error::Status { status, message },
        }
    }
}

/// The result of the client's calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_become_typed_errors_with_the_message() {
        let e = Error::from_answer(409, r#"{"code":409,"message":"Conflict: busy"}"#);
        assert!(matches!(&e, Error::Conflict(m) if m == "Conflict: busy"));
        assert_eq!(e.to_string(), "[409] Conflict: busy");
        assert_eq!(e.status(), Some(409));
        let e = Error::from_answer(502, "<html>bad gateway</html>");
        assert!(
            matches!(&e, Error::Status { status: 502, message } if message.contains("gateway"))
        );
        assert!(matches!(Error::from_answer(403, "{}"), Error::Forbidden(_)));
    }
}
