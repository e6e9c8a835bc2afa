//! The service secrets provider (`pulumi stack init --secrets-provider` left at its default on
//! a service backend): the CLI sends each secret config value here to be encrypted or
//! decrypted with the stack's data key. Plaintexts exist only in memory for the length of a
//! request; they are never logged and never stored.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;
use serde_json::json;
use zeroize::Zeroizing;

use super::stacks::{org_of, stack_of};
use super::{AppState, Auth, parse_json, read_body};
use crate::crypto::DataKey;
use crate::error::{Error, Result};
use crate::store::StackRow;

type Shared = Arc<AppState>;
type StackPath = (String, String, String);

/// The most values one batch may carry.
const MAX_BATCH: usize = 100_000;

impl AppState {
    /// The data key of a stack (unwrapped once, then cached in memory).
    pub(crate) fn data_key(&self, stack: &StackRow) -> Result<Arc<DataKey>> {
        let mut cache = self
            .data_keys
            .lock()
            .map_err(|_| Error::Internal("internal error".into()))?;
        if let Some(k) = cache.get(&stack.id) {
            return Ok(k.clone());
        }
        let k = Arc::new(self.master.unwrap_data_key(&stack.data_key, &stack.id)?);
        cache.insert(stack.id.clone(), k.clone());
        Ok(k)
    }

    /// Drops a deleted stack's cached data key.
    pub(crate) fn forget_data_key(&self, stack_id: &str) {
        if let Ok(mut cache) = self.data_keys.lock() {
            cache.remove(stack_id);
        }
    }
}

fn b64(field: &str, s: &str) -> Result<Zeroizing<Vec<u8>>> {
    B64.decode(s)
        .map(Zeroizing::new)
        .map_err(|_| Error::bad_request(format!("Bad Request: {field} must be base64")))
}

#[derive(Deserialize)]
struct EncryptRequest {
    plaintext: Zeroizing<String>,
}

#[derive(Deserialize)]
struct DecryptRequest {
    ciphertext: String,
}

#[derive(Deserialize)]
struct BatchEncryptRequest {
    plaintexts: Vec<Zeroizing<String>>,
}

#[derive(Deserialize)]
struct BatchDecryptRequest {
    ciphertexts: Vec<String>,
}

async fn key_of(state: &AppState, auth: &Auth, p: &StackPath) -> Result<Arc<DataKey>> {
    let user = auth.user()?;
    let s = match stack_of(state, user, &p.0, &p.1, &p.2).await {
        Ok((_, s)) => s,
        // A renamed stack's state still names it by its former name.
        Err(Error::NotFound(msg)) => {
            let org = org_of(state, user, &p.0).await?;
            state
                .store
                .get_stack_by_alias(&org, &p.1, &p.2)
                .await?
                .ok_or(Error::NotFound(msg))?
        }
        Err(e) => return Err(e),
    };
    state.data_key(&s)
}

/// POST …/{stack}/encrypt
#[utoipa::path(
    post,
    path = "/api/stacks/{org}/{project}/{stack}/encrypt",
    tag = "service",
    request_body = Object,
    responses((status = 200, description = "OK", body = Object)),
)]
pub async fn encrypt(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path(p): Path<StackPath>,
    body: Body,
) -> Result<Response> {
    let key = key_of(&state, &auth, &p).await?;
    let bytes = Zeroizing::new(read_body(body, state.config.max_body).await?.to_vec());
    let req: EncryptRequest = parse_json(&bytes)?;
    let plain = b64("plaintext", &req.plaintext)?;
    let ct = key.encrypt(&plain)?;
    Ok(Json(json!({"ciphertext": B64.encode(ct)})).into_response())
}

/// POST …/{stack}/decrypt
#[utoipa::path(
    post,
    path = "/api/stacks/{org}/{project}/{stack}/decrypt",
    tag = "service",
    request_body = Object,
    responses((status = 200, description = "OK", body = Object)),
)]
pub async fn decrypt(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path(p): Path<StackPath>,
    body: Body,
) -> Result<Response> {
    let key = key_of(&state, &auth, &p).await?;
    let bytes = read_body(body, state.config.max_body).await?;
    let req: DecryptRequest = parse_json(&bytes)?;
    let ct = b64("ciphertext", &req.ciphertext)?;
    let plain = key.decrypt(&ct)?;
    Ok(Json(json!({"plaintext": B64.encode(plain.as_slice())})).into_response())
}

/// POST …/{stack}/batch-encrypt
#[utoipa::path(
    post,
    path = "/api/stacks/{org}/{project}/{stack}/batch-encrypt",
    tag = "service",
    request_body = Object,
    responses((status = 200, description = "OK", body = Object)),
)]
pub async fn batch_encrypt(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path(p): Path<StackPath>,
    body: Body,
) -> Result<Response> {
    let key = key_of(&state, &auth, &p).await?;
    let bytes = Zeroizing::new(read_body(body, state.config.max_body).await?.to_vec());
    let req: BatchEncryptRequest = parse_json(&bytes)?;
    if req.plaintexts.len() > MAX_BATCH {
        return Err(Error::bad_request(
            "Bad Request: too many values in one batch",
        ));
    }
    let mut out = Vec::with_capacity(req.plaintexts.len());
    for p in &req.plaintexts {
        let plain = b64("plaintexts", p)?;
        out.push(B64.encode(key.encrypt(&plain)?));
    }
    Ok(Json(json!({"ciphertexts": out})).into_response())
}

/// POST …/{stack}/batch-decrypt: plaintexts keyed by their ciphertext (base64), as the CLI
/// looks them up.
#[utoipa::path(
    post,
    path = "/api/stacks/{org}/{project}/{stack}/batch-decrypt",
    tag = "service",
    request_body = Object,
    responses((status = 200, description = "OK", body = Object)),
)]
pub async fn batch_decrypt(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path(p): Path<StackPath>,
    body: Body,
) -> Result<Response> {
    let key = key_of(&state, &auth, &p).await?;
    let bytes = read_body(body, state.config.max_body).await?;
    let req: BatchDecryptRequest = parse_json(&bytes)?;
    if req.ciphertexts.len() > MAX_BATCH {
        return Err(Error::bad_request(
            "Bad Request: too many values in one batch",
        ));
    }
    let mut out = HashMap::with_capacity(req.ciphertexts.len());
    for c in &req.ciphertexts {
        let ct = b64("ciphertexts", c)?;
        let plain = key.decrypt(&ct)?;
        out.insert(B64.encode(&*ct), B64.encode(plain.as_slice()));
    }
    Ok(Json(json!({"plaintexts": out})).into_response())
}

/// POST …/decrypt/log-decryption and …/log-batch-decryption: audit hints the CLI sends for
/// third-party secrets providers; acknowledged.
#[utoipa::path(
    post,
    path = "/api/stacks/{org}/{project}/{stack}/decrypt/log-decryption",
    tag = "service",
    responses((status = 204, description = "No content")),
)]
pub async fn log_decryption(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path(p): Path<StackPath>,
) -> Result<Response> {
    let user = auth.user()?;
    stack_of(&state, user, &p.0, &p.1, &p.2).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// POST …/decrypt/log-batch-decryption: as [`log_decryption`], for a batch.
#[utoipa::path(
    post,
    path = "/api/stacks/{org}/{project}/{stack}/decrypt/log-batch-decryption",
    tag = "service",
    responses((status = 204, description = "No content")),
)]
pub async fn log_batch_decryption(
    state: State<Shared>,
    auth: Extension<Auth>,
    p: Path<StackPath>,
) -> Result<Response> {
    log_decryption(state, auth, p).await
}
