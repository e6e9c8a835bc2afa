//! Webhooks: create (with an optional secret, kept encrypted and never returned), list,
//! get, delete, ping, deliveries. Stack events (created, deleted) and finished updates and
//! previews are POSTed to every active hook of the organization from a queue in the
//! database (`webhook_outbox`: written where the event happens, claimed by any replica
//! with a lease, so each is sent once however many replicas there are, and one whose
//! replica died while sending it is sent by another once the lease expires), with retries
//! and backoff and a timeout, signed with `Pulumi-Webhook-Signature` (hex HMAC-SHA256 of
//! the body) when the hook has a secret; each attempt goes to the hook's bounded delivery
//! log. Nothing waits for a hook.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use pulumi_auto_types::rest::{CreateWebhookRequest, Webhook, WebhookDelivery};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::Semaphore;

use crate::api::{AppState, Auth, org_of, parse_json, read_body, valid_name};
use crate::error::{Error, Result};
use crate::store::{Org, UpdateRow, User, WebhookRow, delivery_id, now};

type Shared = Arc<AppState>;

/// Attempts per event and hook.
pub const ATTEMPTS: u32 = 3;
/// The wait before the first retry (doubled for the next).
pub const BACKOFF: Duration = Duration::from_secs(1);
/// How long one delivery may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Deliveries in flight at once (per replica).
pub const IN_FLIGHT: usize = 16;
/// How long a replica holds a claimed delivery (longer than every attempt and backoff).
pub const LEASE: Duration = Duration::from_secs(60);
/// How often the queue is looked at without a wake-up (deliveries of other replicas'
/// events, expired leases).
pub const POLL: Duration = Duration::from_millis(500);

struct Job {
    id: String,
    hook: WebhookRow,
    kind: String,
    payload: String,
}

/// The background delivery of this replica (started with the server, or on first use).
#[derive(Default)]
pub struct HookQueue {
    wake: OnceLock<Arc<tokio::sync::Notify>>,
    http: OnceLock<reqwest::Client>,
}

impl std::fmt::Debug for HookQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HookQueue")
    }
}

impl HookQueue {
    fn http(&self) -> &reqwest::Client {
        self.http.get_or_init(|| {
            reqwest::Client::builder()
                .timeout(TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .user_agent("pulumi-auto-server-webhooks")
                .build()
                .unwrap_or_default()
        })
    }
}

/// Starts this replica's delivery loop (once): claims due deliveries from the queue, up to
/// `IN_FLIGHT` (16) at once, sends each (with retries) and removes it.
pub fn start(state: &Shared) -> Arc<tokio::sync::Notify> {
    state
        .hooks
        .wake
        .get_or_init(|| {
            let wake = Arc::new(tokio::sync::Notify::new());
            let (state, w) = (state.clone(), wake.clone());
            tokio::spawn(async move {
                let slots = Arc::new(Semaphore::new(IN_FLIGHT));
                loop {
                    let free = slots.available_permits();
                    let claimed = if free == 0 {
                        Vec::new()
                    } else {
                        match claim(&state, free).await {
                            Ok(c) => c,
                            Err(e) => {
                                tracing::warn!(error = %e, "could not read the webhook queue");
                                Vec::new()
                            }
                        }
                    };
                    let full = !claimed.is_empty() && claimed.len() == free;
                    for job in claimed {
                        let Ok(slot) = slots.clone().acquire_owned().await else {
                            return;
                        };
                        let state = state.clone();
                        tokio::spawn(async move {
                            deliver_with_retries(&state, &job).await;
                            if let Err(e) = state.store.outbox_done(&job.id).await {
                                tracing::warn!(error = %e, "could not remove a sent webhook delivery");
                            }
                            drop(slot);
                        });
                    }
                    if !full {
                        let _ = tokio::time::timeout(POLL, w.notified()).await;
                    } else {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            });
            wake
        })
        .clone()
}

/// Claims up to `n` due deliveries for this replica.
async fn claim(state: &AppState, n: usize) -> Result<Vec<Job>> {
    let rows = state
        .store
        .claim_outbox(crate::replica::id(), n as i64, LEASE)
        .await?;
    let mut jobs = Vec::new();
    for (id, hook_id, kind, payload) in rows {
        match state.store.webhook_by_id(&hook_id).await? {
            Some(hook) if hook.active => jobs.push(Job {
                id,
                hook,
                kind,
                payload,
            }),
            // Deleted or deactivated since: not sent.
            _ => state.store.outbox_done(&id).await?,
        }
    }
    Ok(jobs)
}

async fn deliver_with_retries(state: &AppState, job: &Job) {
    let mut wait = BACKOFF;
    for attempt in 1..=ATTEMPTS {
        let d = deliver(state, &job.hook, &job.kind, &job.payload).await;
        if (200..300).contains(&d.response_code) || attempt == ATTEMPTS {
            return;
        }
        tokio::time::sleep(wait).await;
        wait *= 2;
    }
}

/// The hex HMAC-SHA256 of `body` keyed by `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn secret_of(state: &AppState, hook: &WebhookRow) -> Option<zeroize::Zeroizing<Vec<u8>>> {
    let (key, sealed) = hook.sealed_secret.as_ref()?;
    let dk = state
        .master
        .unwrap_data_key(key, &format!("webhook:{}", hook.id))
        .ok()?;
    let bytes = B64.decode(sealed).ok()?;
    dk.decrypt(&bytes).ok()
}

fn cut(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// One POST of `payload` to the hook; logged, and returned.
async fn deliver(
    state: &AppState,
    hook: &WebhookRow,
    kind: &str,
    payload: &str,
) -> WebhookDelivery {
    let id = delivery_id();
    let mut headers = vec![
        ("Content-Type".to_owned(), "application/json".to_owned()),
        ("Pulumi-Webhook-Id".to_owned(), id.clone()),
        ("Pulumi-Webhook-Kind".to_owned(), kind.to_owned()),
    ];
    if let Some(secret) = secret_of(state, hook) {
        headers.push((
            "Pulumi-Webhook-Signature".to_owned(),
            signature(&secret, payload.as_bytes()),
        ));
    }
    let mut req = state.hooks.http().post(&hook.payload_url);
    for (k, v) in &headers {
        req = req.header(k, v);
    }
    let started = Instant::now();
    let (code, resp_headers, body) = match req.body(payload.to_owned()).send().await {
        Ok(r) => {
            let code = i64::from(r.status().as_u16());
            let hs = r
                .headers()
                .iter()
                .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join("\n");
            let body = r.text().await.unwrap_or_default();
            (code, hs, cut(&body, 4096))
        }
        Err(e) => (0, String::new(), cut(&e.without_url().to_string(), 1024)),
    };
    let d = WebhookDelivery {
        id,
        kind: kind.to_owned(),
        payload: payload.to_owned(),
        timestamp: now(),
        duration: started.elapsed().as_millis() as i64,
        request_url: hook.payload_url.clone(),
        request_headers: headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join("\n"),
        response_code: code,
        response_headers: resp_headers,
        response_body: body,
    };
    if let Err(e) = state.store.add_delivery(&hook.id, &d).await {
        tracing::warn!(error = %e, "could not log a webhook delivery");
    }
    d
}

/// Queues an event for every active hook of the organization `org` (in the background),
/// and wakes this replica's delivery loop.
pub fn notify(state: &Shared, org: &str, kind: &str, payload: Value) {
    let state = state.clone();
    let (org, kind) = (org.to_owned(), kind.to_owned());
    tokio::spawn(async move {
        let payload = payload.to_string();
        match state.store.queue_webhook_event(&org, &kind, &payload).await {
            Ok(0) => {}
            Ok(_) => start(&state).notify_one(),
            Err(e) => tracing::warn!(error = %e, "could not queue a webhook event"),
        }
    });
}

fn who(login: &str) -> Value {
    json!({"name": login, "githubLogin": login, "avatarUrl": ""})
}

/// A stack was created or deleted (`action`).
pub fn stack_event(
    state: &Shared,
    org: &str,
    project: &str,
    stack: &str,
    user: &User,
    action: &str,
) {
    notify(
        state,
        org,
        "stack",
        json!({
            "user": who(&user.login),
            "organization": who(org),
            "action": action,
            "projectName": project,
            "stackName": stack,
        }),
    );
}

/// An update or preview ended with `status`.
pub fn update_event(
    state: &Shared,
    org: &str,
    project: &str,
    stack: &str,
    u: &UpdateRow,
    status: &str,
) {
    let preview = u.kind == "preview";
    let changes: Value = u
        .resource_changes
        .as_deref()
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_else(|| json!({}));
    notify(
        state,
        org,
        if preview {
            "stack_preview"
        } else {
            "stack_update"
        },
        json!({
            "user": who(&u.requested_by),
            "organization": who(org),
            "projectName": project,
            "stackName": stack,
            "updateId": u.id,
            "kind": u.kind,
            "result": status,
            "isPreview": preview,
            "version": u.version,
            "resourceChanges": changes,
        }),
    );
}

// ----- handlers -----

fn hook_json(h: &WebhookRow) -> Webhook {
    Webhook {
        organization_name: h.org.clone(),
        name: h.name.clone(),
        display_name: h.display_name.clone(),
        payload_url: h.payload_url.clone(),
        active: h.active,
        has_secret: h.sealed_secret.is_some(),
    }
}

/// Checks a payload URL: `http` or `https` with a host, at most 2048 characters.
pub fn check_url(url: &str) -> Result<()> {
    let ok = url.len() <= 2048
        && reqwest::Url::parse(url).is_ok_and(|u| {
            matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
        });
    if ok {
        Ok(())
    } else {
        Err(Error::bad_request(
            "Bad Request: payloadUrl must be an http or https URL with a host",
        ))
    }
}

async fn hook_of(state: &AppState, o: &Org, name: &str) -> Result<WebhookRow> {
    if !valid_name(name) {
        return Err(Error::not_found("Not Found: webhook not found"));
    }
    state
        .store
        .list_webhooks(o)
        .await?
        .into_iter()
        .find(|h| h.name == name)
        .ok_or_else(|| Error::not_found("Not Found: webhook not found"))
}

/// POST /api/orgs/{org}/hooks → 201, the hook (without its secret).
#[utoipa::path(
    post,
    path = "/api/orgs/{org}/hooks",
    tag = "webhooks",
    request_body = CreateWebhookRequest,
    responses((status = 201, description = "Created", body = Webhook)),
)]
pub async fn create(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path(o): Path<String>,
    body: Body,
) -> Result<Response> {
    let o = org_of(&state, auth.user()?, &o).await?;
    let bytes = read_body(body, 64 * 1024).await?;
    let req: CreateWebhookRequest = parse_json(&bytes)?;
    if !req.organization_name.is_empty() && req.organization_name != o.name {
        return Err(Error::bad_request(
            "Bad Request: organizationName is not the organization of the path",
        ));
    }
    check_url(&req.payload_url)?;
    if req.display_name.chars().count() > 200 || req.display_name.contains(char::is_control) {
        return Err(Error::bad_request(
            "Bad Request: displayName must be at most 200 characters, no control characters",
        ));
    }
    let id = crate::crypto::new_id();
    let sealed = match req.secret.as_deref() {
        None | Some("") => None,
        Some(s) if s.len() > 1024 => {
            return Err(Error::bad_request(
                "Bad Request: the secret must be at most 1024 bytes",
            ));
        }
        Some(s) => {
            let context = format!("webhook:{id}");
            let wrapped = state.master.new_wrapped_data_key(&context)?;
            let dk = state.master.unwrap_data_key(&wrapped, &context)?;
            Some((wrapped, B64.encode(dk.encrypt(s.as_bytes())?)))
        }
    };
    let name = id[..12].to_owned();
    state
        .store
        .create_webhook(
            &o,
            &id,
            &name,
            &req.display_name,
            &req.payload_url,
            req.active,
            sealed,
        )
        .await?;
    let h = hook_of(&state, &o, &name).await?;
    Ok((StatusCode::CREATED, Json(hook_json(&h))).into_response())
}

/// GET /api/orgs/{org}/hooks
#[utoipa::path(
    get,
    path = "/api/orgs/{org}/hooks",
    tag = "webhooks",
    responses((status = 200, description = "OK", body = Vec<Webhook>)),
)]
pub async fn list(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path(o): Path<String>,
) -> Result<Response> {
    let o = org_of(&state, auth.user()?, &o).await?;
    let hooks = state.store.list_webhooks(&o).await?;
    Ok(Json(hooks.iter().map(hook_json).collect::<Vec<_>>()).into_response())
}

/// GET /api/orgs/{org}/hooks/{name}
#[utoipa::path(
    get,
    path = "/api/orgs/{org}/hooks/{name}",
    tag = "webhooks",
    responses((status = 200, description = "OK", body = Webhook)),
)]
pub async fn get_one(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path((o, name)): Path<(String, String)>,
) -> Result<Response> {
    let o = org_of(&state, auth.user()?, &o).await?;
    Ok(Json(hook_json(&hook_of(&state, &o, &name).await?)).into_response())
}

/// DELETE /api/orgs/{org}/hooks/{name}
#[utoipa::path(
    delete,
    path = "/api/orgs/{org}/hooks/{name}",
    tag = "webhooks",
    responses((status = 204, description = "No content")),
)]
pub async fn delete_one(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path((o, name)): Path<(String, String)>,
) -> Result<Response> {
    let o = org_of(&state, auth.user()?, &o).await?;
    let h = hook_of(&state, &o, &name).await?;
    state.store.delete_webhook(&h).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// POST /api/orgs/{org}/hooks/{name}/ping: one delivery now; the delivery.
#[utoipa::path(
    post,
    path = "/api/orgs/{org}/hooks/{name}/ping",
    tag = "webhooks",
    responses((status = 200, description = "OK", body = WebhookDelivery)),
)]
pub async fn ping(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path((o, name)): Path<(String, String)>,
) -> Result<Response> {
    let o = org_of(&state, auth.user()?, &o).await?;
    let h = hook_of(&state, &o, &name).await?;
    let payload = json!({"message": "ping from pulumi-auto-server", "webhook": h.name}).to_string();
    let d = deliver(&state, &h, "ping", &payload).await;
    Ok(Json(d).into_response())
}

/// GET /api/orgs/{org}/hooks/{name}/deliveries: newest first.
#[utoipa::path(
    get,
    path = "/api/orgs/{org}/hooks/{name}/deliveries",
    tag = "webhooks",
    responses((status = 200, description = "OK", body = Vec<WebhookDelivery>)),
)]
pub async fn deliveries(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path((o, name)): Path<(String, String)>,
) -> Result<Response> {
    let o = org_of(&state, auth.user()?, &o).await?;
    let h = hook_of(&state, &o, &name).await?;
    Ok(Json(state.store.deliveries(&h).await?).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hex_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn only_http_urls() {
        assert!(check_url("http://127.0.0.1:9/hook").is_ok());
        assert!(check_url("https://example.com/h?x=1").is_ok());
        for bad in [
            "ftp://x/",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "http://",
            "x",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }
}
