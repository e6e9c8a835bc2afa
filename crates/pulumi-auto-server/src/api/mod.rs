//! The HTTP API: the routes the `pulumi` CLI calls when it is logged in to this server, and
//! the middleware around them (authentication, gzip request bodies, size limits, request
//! ids, trace spans, JSON error bodies).

mod auth;
mod secrets;
mod stacks;
mod updates;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::de::DeserializeOwned;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::decompression::RequestDecompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa_axum::routes;

use crate::crypto::{DataKey, MasterKey};
use crate::error::{Error, Result};
use crate::openapi::ApiRoutes;
use crate::store::Store;

pub use auth::Auth;
pub use stacks::valid_name;
pub(crate) use stacks::{check_tags, org_of, stack_of};

/// The header that carries each request's id (the CLI quotes it in 5xx errors).
pub const REQUEST_ID: &str = "x-pulumi-request-id";

/// Settings of the API.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// The largest request body accepted, after decompression, in bytes.
    pub max_body: usize,
    /// How long a lease lasts when the CLI does not say (seconds).
    pub lease_secs: i64,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            max_body: 256 * 1024 * 1024,
            lease_secs: 300,
        }
    }
}

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    /// The store.
    pub store: Store,
    /// The master key of the service secrets provider.
    pub master: MasterKey,
    /// Unwrapped data keys, by stack id.
    pub data_keys: std::sync::Mutex<HashMap<String, Arc<DataKey>>>,
    /// Settings.
    pub config: ApiConfig,
    /// The webhooks' background delivery queue.
    pub(crate) hooks: crate::rest::HookQueue,
    /// The custom API (`/api/programs/…`), once its programs are prepared.
    pub programs: std::sync::OnceLock<Arc<crate::programs::Programs>>,
    /// The last verbatim checkpoint of each running update (the base of its next delta).
    verbatim: std::sync::Mutex<HashMap<String, (i64, Arc<String>)>>,
}

impl AppState {
    /// The state over a store and a master key.
    pub fn new(store: Store, master: MasterKey, config: ApiConfig) -> AppState {
        AppState {
            store,
            master,
            data_keys: Default::default(),
            config,
            hooks: Default::default(),
            programs: Default::default(),
            verbatim: Default::default(),
        }
    }

    pub(crate) fn verbatim(&self, update: &str) -> Option<(i64, Arc<String>)> {
        self.verbatim.lock().ok()?.get(update).cloned()
    }

    pub(crate) fn remember_verbatim(&self, update: &str, seq: i64, text: String) {
        if let Ok(mut m) = self.verbatim.lock() {
            m.insert(update.to_owned(), (seq, Arc::new(text)));
        }
    }

    pub(crate) fn forget_verbatim(&self, update: &str) {
        if let Ok(mut m) = self.verbatim.lock() {
            m.remove(update);
        }
    }
}

type Shared = Arc<AppState>;

/// Every route under `/api` that needs a token: the CLI's, the REST API's
/// ([`crate::rest::routes`]) and the custom API's ([`crate::programs::routes`]), each at the
/// method and path of its `#[utoipa::path]` (see [`crate::openapi`]).
pub fn routes() -> ApiRoutes {
    ApiRoutes::new()
        .routes(routes!(stacks::capabilities))
        .routes(routes!(stacks::cli_version))
        .routes(routes!(stacks::current_user))
        .routes(routes!(stacks::default_org))
        .routes(routes!(stacks::list_stacks))
        .routes(routes!(stacks::create_stack, stacks::project_exists))
        .routes(routes!(stacks::get_stack, stacks::delete_stack))
        .routes(routes!(stacks::export))
        .routes(routes!(stacks::export_version))
        .routes(routes!(stacks::import))
        .routes(routes!(stacks::rename))
        .routes(routes!(stacks::set_tags))
        .routes(routes!(stacks::put_config))
        .routes(routes!(updates::history))
        .routes(routes!(updates::latest))
        .routes(routes!(updates::latest_previews))
        .routes(routes!(updates::by_version))
        .routes(routes!(secrets::encrypt))
        .routes(routes!(secrets::decrypt))
        .routes(routes!(secrets::log_decryption))
        .routes(routes!(secrets::log_batch_decryption))
        .routes(routes!(secrets::batch_encrypt))
        .routes(routes!(secrets::batch_decrypt))
        .routes(routes!(updates::create_update))
        .routes(routes!(updates::create_preview))
        .routes(routes!(updates::create_refresh))
        .routes(routes!(updates::create_destroy))
        .routes(routes!(updates::status, updates::start))
        .routes(routes!(updates::cancel))
        .routes(routes!(updates::renew_lease))
        .routes(routes!(updates::checkpoint))
        .routes(routes!(updates::checkpoint_verbatim))
        .routes(routes!(updates::checkpoint_delta))
        .routes(routes!(updates::events_batch))
        .routes(routes!(updates::event_single, updates::events))
        .routes(routes!(updates::complete))
        .merge(crate::rest::routes())
        .merge(crate::programs::routes())
}

/// The whole router: `/healthz`, `/api/openapi.json` and, behind authentication, `/api/…`.
pub fn router(state: Arc<AppState>) -> Router {
    let max_body = state.config.max_body;
    let (api, _) = routes().split();
    let (public, _) = crate::openapi::public_routes().split();
    let api = api
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::rest::authorize,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::rest::record,
        ));

    let request_id = HeaderName::from_static(REQUEST_ID);
    Router::new()
        .route("/healthz", get(healthz))
        .merge(public)
        .merge(api)
        .with_state(state)
        .layer(CatchPanicLayer::custom(|_| {
            Error::Internal("internal error".into()).into_response()
        }))
        // Limits what is read off the wire before decompression; the handlers limit the
        // decompressed size.
        .layer(RequestBodyLimitLayer::new(max_body))
        .layer(RequestDecompressionLayer::new())
        .layer(middleware::from_fn(json_errors))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req
                .headers()
                .get(REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            tracing::info_span!(
                "request",
                method = %req.method(),
                path = %req.uri().path(),
                request_id = %id,
            )
        }))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

async fn healthz(State(state): State<Shared>) -> Response {
    match state.store.is_initialized().await {
        Ok(true) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({"status": "ok"})),
        )
            .into_response(),
        _ => Error::Unavailable("not ready".into()).into_response(),
    }
}

async fn not_found() -> Error {
    Error::not_found("Not Found: no such route")
}

/// Gives every error answer the `{code, message}` JSON body, also those made by layers
/// (405 of a route, 413 of the size limit, 415 of an unknown content encoding).
async fn json_errors(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if status.as_u16() < 400 {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return resp;
    }
    let message = format!(
        "{}: {}",
        status.canonical_reason().unwrap_or("Error"),
        match status.as_u16() {
            405 => "method not allowed on this route",
            413 => "the request body is too large",
            415 => "unsupported content encoding (the server accepts gzip)",
            _ => "the request failed",
        }
    );
    let (mut parts, _) = resp.into_parts();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    let body = serde_json::json!({"code": status.as_u16(), "message": message}).to_string();
    Response::from_parts(parts, Body::from(body))
}

/// Reads a whole (already decompressed) body, at most `limit` bytes.
pub(crate) async fn read_body(body: Body, limit: usize) -> Result<axum::body::Bytes> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        // A body over the limit, a truncated or corrupt gzip stream, a dropped connection.
        let mut src: Option<&dyn std::error::Error> = Some(&e);
        while let Some(s) = src {
            if s.to_string().contains("length limit exceeded") {
                return Error::PayloadTooLarge(
                    "Payload Too Large: the request body is too large".into(),
                );
            }
            src = s.source();
        }
        Error::bad_request(
            "Bad Request: the request body could not be read (truncated or corrupt gzip?)",
        )
    })
}

/// Parses a JSON body, which must be an object; a 400 naming the problem (never echoing
/// the body) otherwise. (serde reads a struct from an array too, field by field: `["a","b"]`
/// would be a rename or a team, so anything but an object is refused first.)
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{') {
        return Err(Error::bad_request(
            "Bad Request: the body must be a JSON object",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        // serde_json's messages name the field and position, not the values.
        let kind = match e.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                "malformed JSON"
            }
            _ => "unexpected JSON",
        };
        Error::bad_request(format!(
            "Bad Request: {kind} at line {} column {}{}",
            e.line(),
            e.column(),
            match e.classify() {
                serde_json::error::Category::Data => format!(" ({})", data_error_hint(&e)),
                _ => String::new(),
            }
        ))
    })
}

/// serde_json's data errors say what type was expected ("invalid type: string \"…\",
/// expected i64"); the value quoted there may be a secret, so only the expectation is kept.
fn data_error_hint(e: &serde_json::Error) -> String {
    let s = e.to_string();
    if let Some(i) = s.find("expected") {
        let rest = &s[i..];
        let end = rest.find(" at line").unwrap_or(rest.len());
        return rest[..end].chars().take(120).collect();
    }
    if let Some(i) = s.find("missing field") {
        let rest = &s[i..];
        let end = rest.find(" at line").unwrap_or(rest.len());
        return rest[..end].chars().take(120).collect();
    }
    "wrong shape".into()
}
