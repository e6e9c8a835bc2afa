//! The audit log: [`record`] notes every mutating call (also refused ones) and every
//! authentication failure, with the time, source address, user, event and a description
//! (method, path, status; never a body, a query string or a header). The JSON endpoint
//! pages newest first with `startTime` (entries older than it), `userFilter` and
//! continuation tokens; the export endpoint gives CSV (the documented columns) or CEF,
//! always gzip.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, Extension, Path, Query, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use pulumi_auto_types::rest::{AuditLogEvent, ListAuditLogEventsResponse, UserInfo};
use serde::Deserialize;

use super::access::{Need, need};
use crate::api::{AppState, Auth, org_of, valid_name};
use crate::error::{Error, Result};
use crate::store::{AuditEntry, AuditQuery, now};

type Shared = Arc<AppState>;

/// Who made a call, put on its response by the access layer for [`record`].
#[derive(Debug, Clone)]
pub struct AuditUser {
    /// Login.
    pub login: String,
    /// Display name.
    pub name: String,
}

/// The event name of a call: `stack.create`, `update.create`, `tags.update`, … (a pure
/// function of the method and the path).
pub fn event_name(method: &Method, path: &str) -> String {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let verb = match *method {
        Method::POST => "create",
        Method::DELETE => "delete",
        Method::PATCH | Method::PUT => "update",
        _ => "read",
    };
    let thing = match segs.as_slice() {
        ["api", "stacks", _, _] => "stack",
        ["api", "stacks", _, _, _] => "stack",
        ["api", "stacks", _, _, _, "tags", ..] => "stack.tags",
        ["api", "stacks", _, _, _, "config"] => "stack.config",
        ["api", "stacks", _, _, _, "rename"] => return "stack.rename".into(),
        ["api", "stacks", _, _, _, "transfer"] => return "stack.transfer".into(),
        ["api", "stacks", _, _, _, "import"] => return "stack.import".into(),
        [
            "api",
            "stacks",
            _,
            _,
            _,
            op @ ("encrypt" | "decrypt" | "batch-encrypt" | "batch-decrypt"),
        ] => {
            return format!("secrets.{op}");
        }
        ["api", "stacks", _, _, _, "decrypt", ..] => return "secrets.log-decryption".into(),
        [
            "api",
            "stacks",
            _,
            _,
            _,
            kind @ ("update" | "preview" | "refresh" | "destroy"),
        ] => {
            return format!("{kind}.create");
        }
        ["api", "stacks", _, _, _, _, _] => {
            return format!("update.{}", if verb == "create" { "start" } else { verb });
        }
        ["api", "stacks", _, _, _, _, _, "cancel"] => return "update.cancel".into(),
        ["api", "orgs", _, "members", ..] => "member",
        ["api", "orgs", _, "teams", ..] => "team",
        ["api", "orgs", _, "hooks", ..] => "webhook",
        ["api", "user", "tokens", ..] => "token",
        _ => "api",
    };
    format!("{thing}.{verb}")
}

/// The middleware (outside authentication, so it sees 401s).
pub async fn record(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_default();
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    let user = resp.extensions().get::<AuditUser>().cloned();
    let auth_failure = status == 401;
    let mutating = method != Method::GET && method != Method::HEAD;
    if !(auth_failure || mutating && user.is_some()) {
        return resp;
    }
    let route = need(&method, &path);
    let org = match &route {
        Need::OrgMember(o) | Need::OrgAdmin(o) | Need::Stack { org: o, .. } => Some(o.clone()),
        Need::Nothing => None,
    };
    // A path segment is safe to show once it is a valid name; anything else is elided.
    let shown: Vec<&str> = path
        .split('/')
        .map(|s| {
            if s.is_empty() || valid_name(s) {
                s
            } else {
                "…"
            }
        })
        .collect();
    let (login, name) = user.map(|u| (u.login, u.name)).unwrap_or_default();
    let entry = AuditEntry {
        id: String::new(),
        ts: now(),
        source_ip: ip,
        user_login: login,
        user_name: name,
        event: if auth_failure {
            "auth.failure".into()
        } else {
            event_name(&method, &path)
        },
        description: format!("{method} {} → {status}", shown.join("/")),
        require_org_admin: matches!(route, Need::OrgAdmin(_)),
        require_stack_admin: matches!(route, Need::Stack { level: 103, .. }),
        auth_failure,
    };
    let org = org.filter(|o| valid_name(o));
    if let Err(e) = state.store.audit(org.as_deref(), entry).await {
        tracing::warn!(error = %e, "could not record an audit-log entry");
    }
    resp
}

/// The query of the audit-log endpoints.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditParams {
    start_time: Option<i64>,
    user_filter: Option<String>,
    continuation_token: Option<String>,
    format: Option<String>,
}

const PAGE: i64 = 100;
const EXPORT_MAX: i64 = 100_000;

fn query_of(p: &AuditParams) -> Result<AuditQuery> {
    if let Some(t) = &p.continuation_token
        && (t.len() > 64 || !t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    {
        return Err(Error::bad_request(
            "Bad Request: invalid continuation token",
        ));
    }
    if let Some(u) = &p.user_filter
        && !valid_name(u)
    {
        return Err(Error::bad_request("Bad Request: invalid userFilter"));
    }
    Ok(AuditQuery {
        before: p.start_time,
        user: p.user_filter.clone(),
        after_id: p.continuation_token.clone(),
    })
}

fn event_json(e: &AuditEntry) -> AuditLogEvent {
    AuditLogEvent {
        timestamp: e.ts,
        source_ip: e.source_ip.clone(),
        event: e.event.clone(),
        description: e.description.clone(),
        user: UserInfo {
            name: e.user_name.clone(),
            github_login: e.user_login.clone(),
            avatar_url: String::new(),
            email: None,
        },
    }
}

/// GET /api/orgs/{org}/auditlogs
#[utoipa::path(
    get,
    path = "/api/orgs/{org}/auditlogs",
    tag = "audit",
    params(AuditParams),
    responses((status = 200, description = "OK", body = ListAuditLogEventsResponse)),
)]
pub async fn list(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path(o): Path<String>,
    Query(p): Query<AuditParams>,
) -> Result<Response> {
    let o = org_of(&state, auth.user()?, &o).await?;
    let q = query_of(&p)?;
    let rows = state.store.audit_page(&o, &q, PAGE).await?;
    let token = (rows.len() as i64 == PAGE)
        .then(|| rows.last().map(|r| r.id.clone()))
        .flatten();
    Ok(Json(ListAuditLogEventsResponse {
        audit_log_events: rows.iter().map(event_json).collect(),
        continuation_token: token,
    })
    .into_response())
}

/// A CSV field: quoted when it holds a comma, quote or line break.
fn csv(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// CEF escaping: `\` and `|` in header fields; `\`, `=` and line breaks in extensions.
fn cef_header(s: &str) -> String {
    s.replace('\\', "\\\\").replace('|', "\\|")
}

fn cef_ext(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('=', "\\=")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

/// The export's text (before gzip): CSV with the documented columns, or CEF lines.
pub fn export_text(rows: &[AuditEntry], cef: bool) -> String {
    let mut out = String::new();
    if cef {
        for e in rows {
            out.push_str(&format!(
                "CEF:0|pulumi-auto|pulumi-auto-server|1|{}|{}|{}|rt={} src={} suser={} msg={}\n",
                cef_header(&e.event),
                cef_header(&e.description),
                if e.auth_failure { 7 } else { 3 },
                e.ts.saturating_mul(1000),
                cef_ext(&e.source_ip),
                cef_ext(&e.user_login),
                cef_ext(&e.description),
            ));
        }
    } else {
        out.push_str(
            "Timestamp,Name,Login,Event,Description,SourceIP,RequireOrgAdmin,RequireStackAdmin,AuthenticationFailure\n",
        );
        for e in rows {
            let ts = time::OffsetDateTime::from_unix_timestamp(e.ts)
                .ok()
                .and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_default();
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{},{}\n",
                csv(&ts),
                csv(&e.user_name),
                csv(&e.user_login),
                csv(&e.event),
                csv(&e.description),
                csv(&e.source_ip),
                e.require_org_admin,
                e.require_stack_admin,
                e.auth_failure
            ));
        }
    }
    out
}

/// GET /api/orgs/{org}/auditlogs/export?format=csv|cef: gzip.
#[utoipa::path(
    get,
    path = "/api/orgs/{org}/auditlogs/export",
    tag = "audit",
    params(AuditParams),
    responses(
        (status = 200, description = "The entries as gzipped CSV or CEF", body = Vec<u8>, content_type = "application/gzip"),
    ),
)]
pub async fn export(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path(o): Path<String>,
    Query(p): Query<AuditParams>,
) -> Result<Response> {
    let o = org_of(&state, auth.user()?, &o).await?;
    let cef = match p.format.as_deref() {
        None | Some("csv") => false,
        Some("cef") => true,
        Some(_) => return Err(Error::bad_request("Bad Request: format must be csv or cef")),
    };
    let q = query_of(&p)?;
    let rows = state.store.audit_page(&o, &q, EXPORT_MAX).await?;
    let text = export_text(&rows, cef);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes())
        .map_err(|_| Error::Internal("gzip failed".into()))?;
    let bytes = gz
        .finish()
        .map_err(|_| Error::Internal("gzip failed".into()))?;
    let name = if cef {
        "auditlogs.cef.gz"
    } else {
        "auditlogs.csv.gz"
    };
    Ok((
        [
            (header::CONTENT_TYPE, "application/gzip".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_named_by_route() {
        assert_eq!(event_name(&Method::POST, "/api/stacks/o/p"), "stack.create");
        assert_eq!(
            event_name(&Method::DELETE, "/api/stacks/o/p/s"),
            "stack.delete"
        );
        assert_eq!(
            event_name(&Method::PATCH, "/api/stacks/o/p/s/tags"),
            "stack.tags.update"
        );
        assert_eq!(
            event_name(&Method::POST, "/api/stacks/o/p/s/update"),
            "update.create"
        );
        assert_eq!(
            event_name(&Method::POST, "/api/stacks/o/p/s/update/u"),
            "update.start"
        );
        assert_eq!(
            event_name(&Method::POST, "/api/stacks/o/p/s/destroy"),
            "destroy.create"
        );
        assert_eq!(
            event_name(&Method::POST, "/api/orgs/o/members/x"),
            "member.create"
        );
        assert_eq!(
            event_name(&Method::DELETE, "/api/user/tokens/t"),
            "token.delete"
        );
    }

    #[test]
    fn exports_escape_their_fields() {
        let e = AuditEntry {
            id: "1".into(),
            ts: 0,
            source_ip: "127.0.0.1".into(),
            user_login: "a".into(),
            user_name: "A, \"the\" admin".into(),
            event: "x|y".into(),
            description: "k=v".into(),
            require_org_admin: true,
            require_stack_admin: false,
            auth_failure: false,
        };
        let csv = export_text(std::slice::from_ref(&e), false);
        assert!(
            csv.contains(
                "1970-01-01T00:00:00Z,\"A, \"\"the\"\" admin\",a,x|y,k=v,127.0.0.1,true,false,false"
            ),
            "{csv}"
        );
        let cef = export_text(&[e], true);
        assert!(cef.starts_with("CEF:0|pulumi-auto|pulumi-auto-server|1|x\\|y|k=v|3|rt=0 src=127.0.0.1 suser=a msg=k\\=v"), "{cef}");
    }
}
