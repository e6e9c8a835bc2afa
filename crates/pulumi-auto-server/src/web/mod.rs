//! The self-service web page, served at `/`: sign in with a token, the programs and their
//! stacks, a form (built from a program's config schema) that creates a stack, preview,
//! update and refresh with their events streamed live, outputs and history, and a destroy
//! that shows its preview and needs the stack's name typed.
//!
//! Static HTML, CSS and a small vanilla JavaScript file, embedded in the binary
//! (`include_str!`), calling the custom API (`/api/programs/…`) with the token from the
//! tab's `sessionStorage` in an `Authorization: token …` header (never in a URL). The live
//! events are read with `fetch()` from the Server-Sent Events route (`EventSource` cannot
//! send the header). The script writes every value from the server with `textContent`,
//! never as HTML; the page's answers carry a Content-Security-Policy that allows no inline
//! script and no framing.

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The page.
pub const INDEX_HTML: &str = include_str!("assets/index.html");
/// Its script.
pub const APP_JS: &str = include_str!("assets/app.js");
/// Its style sheet.
pub const APP_CSS: &str = include_str!("assets/app.css");

/// The Content-Security-Policy of the page: only this server's own script, style and API,
/// no inline script or style, no plugins, no framing, forms posting nowhere else.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'";

/// The headers every answer of the page carries (beside its content type).
pub fn security_headers() -> [(HeaderName, HeaderValue); 6] {
    [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ),
    ]
}

async fn with_security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    for (name, value) in security_headers() {
        h.insert(name, value);
    }
    resp
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// The page's routes: `/` and its assets under `/ui/` (no authentication: they hold no
/// data; every call the script makes carries the token).
pub fn routes() -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/ui/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/ui/app.css",
            get(|| async { asset("text/css; charset=utf-8", APP_CSS) }),
        )
        .layer(middleware::from_fn(with_security_headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_inline_script_and_no_html_sinks() {
        // The CSP allows no inline script: the page has none, and no inline handler.
        assert!(!INDEX_HTML.contains("<script>"));
        let handler = INDEX_HTML.split(" on").skip(1).any(|rest| {
            let name: String = rest.chars().take_while(char::is_ascii_lowercase).collect();
            !name.is_empty() && rest[name.len()..].starts_with('=')
        });
        assert!(!handler, "an inline event handler");
        assert!(!INDEX_HTML.contains("style="));
        // Server values are written as text only.
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!APP_JS.contains(sink), "{sink} in app.js");
        }
        // The token is sent in a header, never in a URL.
        assert!(APP_JS.contains("'Authorization'"));
        assert!(!APP_JS.contains("?token") && !APP_JS.contains("&token"));
        assert!(CSP.contains("frame-ancestors 'none'") && !CSP.contains("unsafe-inline"));
    }
}
