//! Webhooks and their bounded delivery log.

use sqlx::Row;

use super::{Org, Store, now};
use crate::crypto;
use crate::error::{Error, Result};
use pulumi_auto_types::rest::WebhookDelivery;

/// The deliveries kept per webhook (older ones are dropped).
pub const DELIVERIES_KEPT: i64 = 200;

/// A webhook's row.
#[derive(Clone)]
pub struct WebhookRow {
    /// Its id.
    pub id: String,
    /// The organization's name.
    pub org: String,
    /// Its name.
    pub name: String,
    /// Its display name.
    pub display_name: String,
    /// Where deliveries go.
    pub payload_url: String,
    /// Whether deliveries are sent.
    pub active: bool,
    /// The hook's wrapped data key and the sealed secret (base64), when it has a secret.
    pub sealed_secret: Option<(String, String)>,
}

impl std::fmt::Debug for WebhookRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookRow")
            .field("id", &self.id)
            .field("org", &self.org)
            .field("name", &self.name)
            .field("payload_url", &self.payload_url)
            .field("active", &self.active)
            .field("has_secret", &self.sealed_secret.is_some())
            .finish()
    }
}

const HOOK_COLS: &str = "w.id, o.name, w.name, w.display_name, w.payload_url, w.active, \
     w.secret_key, w.secret";

fn hook_from(r: &sqlx::any::AnyRow) -> Result<WebhookRow> {
    let key: Option<String> = r.try_get(6)?;
    let secret: Option<String> = r.try_get(7)?;
    Ok(WebhookRow {
        id: r.try_get(0)?,
        org: r.try_get(1)?,
        name: r.try_get(2)?,
        display_name: r.try_get(3)?,
        payload_url: r.try_get(4)?,
        active: r.try_get::<i64, _>(5)? != 0,
        sealed_secret: key.zip(secret),
    })
}

impl Store {
    /// Creates a webhook named `name`; 409 when the name is taken.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_webhook(
        &self,
        org: &Org,
        id: &str,
        name: &str,
        display_name: &str,
        payload_url: &str,
        active: bool,
        sealed_secret: Option<(String, String)>,
    ) -> Result<()> {
        let _w = self.write_lock().await;
        let taken = sqlx::query("SELECT 1 FROM webhooks WHERE org_id = $1 AND name = $2")
            .bind(&org.id)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        if taken.is_some() {
            return Err(Error::Conflict(format!(
                "Conflict: webhook '{name}' already exists"
            )));
        }
        let (key, secret) = sealed_secret.unzip();
        sqlx::query(
            "INSERT INTO webhooks (id, org_id, name, display_name, payload_url, active, \
             secret_key, secret, created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(id)
        .bind(&org.id)
        .bind(name)
        .bind(display_name)
        .bind(payload_url)
        .bind(i64::from(active))
        .bind(key)
        .bind(secret)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// An organization's webhooks, by name.
    pub async fn list_webhooks(&self, org: &Org) -> Result<Vec<WebhookRow>> {
        let sql = format!(
            "SELECT {HOOK_COLS} FROM webhooks w JOIN organizations o ON o.id = w.org_id \
             WHERE w.org_id = $1 ORDER BY w.name"
        );
        let rows = sqlx::query(&sql)
            .bind(&org.id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(hook_from).collect()
    }

    /// The active webhooks of the organization named `org`.
    pub async fn active_webhooks(&self, org: &str) -> Result<Vec<WebhookRow>> {
        let sql = format!(
            "SELECT {HOOK_COLS} FROM webhooks w JOIN organizations o ON o.id = w.org_id \
             WHERE o.name = $1 AND w.active = 1 ORDER BY w.name"
        );
        let rows = sqlx::query(&sql).bind(org).fetch_all(&self.pool).await?;
        rows.iter().map(hook_from).collect()
    }

    /// A webhook by id.
    pub async fn webhook_by_id(&self, id: &str) -> Result<Option<WebhookRow>> {
        let sql = format!(
            "SELECT {HOOK_COLS} FROM webhooks w JOIN organizations o ON o.id = w.org_id \
             WHERE w.id = $1"
        );
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(hook_from).transpose()
    }

    /// Queues an event for delivery to every active webhook of the organization named
    /// `org` (one transaction); returns how many deliveries were queued.
    pub async fn queue_webhook_event(&self, org: &str, kind: &str, payload: &str) -> Result<u64> {
        let _w = self.write_lock().await;
        let mut tx = self.pool.begin().await?;
        let hooks = sqlx::query(
            "SELECT w.id FROM webhooks w JOIN organizations o ON o.id = w.org_id \
             WHERE o.name = $1 AND w.active = 1 ORDER BY w.name",
        )
        .bind(org)
        .fetch_all(&mut *tx)
        .await?;
        let t = super::jobs::now_ms();
        for h in &hooks {
            let hook_id: String = h.try_get(0)?;
            sqlx::query(
                "INSERT INTO webhook_outbox (id, webhook_id, kind, payload, created, lease_until) \
                 VALUES ($1, $2, $3, $4, $5, 0)",
            )
            .bind(delivery_id())
            .bind(&hook_id)
            .bind(kind)
            .bind(payload)
            .bind(t)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(hooks.len() as u64)
    }

    /// Claims up to `n` queued deliveries whose lease expired (or that were never claimed)
    /// for `replica`, for `lease`, oldest first: `FOR UPDATE SKIP LOCKED` on PostgreSQL, so
    /// replicas claiming at once take different ones; one `UPDATE` on both. Returns each
    /// one's id, webhook id, kind and payload.
    pub async fn claim_outbox(
        &self,
        replica: &str,
        n: i64,
        lease: std::time::Duration,
    ) -> Result<Vec<(String, String, String, String)>> {
        let _w = self.write_lock().await;
        let t = super::jobs::now_ms();
        let lock = match self.kind {
            super::DbKind::Postgres => " FOR UPDATE SKIP LOCKED",
            super::DbKind::Sqlite => "",
        };
        let rows = sqlx::query(&format!(
            "UPDATE webhook_outbox SET lease_until = $1, claimed_by = $2 WHERE id IN \
             (SELECT id FROM webhook_outbox WHERE lease_until < $3 ORDER BY id LIMIT $4{lock}) \
             RETURNING id, webhook_id, kind, payload"
        ))
        .bind(t + i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2))
        .bind(replica)
        .bind(t)
        .bind(n)
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<(String, String, String, String)> = rows
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
            .collect::<Result<_>>()?;
        out.sort();
        Ok(out)
    }

    /// Removes a sent (or no longer deliverable) delivery from the queue.
    pub async fn outbox_done(&self, id: &str) -> Result<()> {
        let _w = self.write_lock().await;
        sqlx::query("DELETE FROM webhook_outbox WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes a webhook and its deliveries.
    pub async fn delete_webhook(&self, hook: &WebhookRow) -> Result<()> {
        let _w = self.write_lock().await;
        let mut tx = self.pool.begin().await?;
        for sql in [
            "DELETE FROM webhook_outbox WHERE webhook_id = $1",
            "DELETE FROM webhook_deliveries WHERE webhook_id = $1",
            "DELETE FROM webhooks WHERE id = $1",
        ] {
            sqlx::query(sql).bind(&hook.id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Logs a delivery (keeping the newest [`DELIVERIES_KEPT`]); ids sort by time.
    pub async fn add_delivery(&self, hook_id: &str, d: &WebhookDelivery) -> Result<()> {
        let _w = self.write_lock().await;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, webhook_id, kind, payload, ts, duration, \
             request_url, request_headers, response_code, response_headers, response_body) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&d.id)
        .bind(hook_id)
        .bind(&d.kind)
        .bind(&d.payload)
        .bind(d.timestamp)
        .bind(d.duration)
        .bind(&d.request_url)
        .bind(&d.request_headers)
        .bind(d.response_code)
        .bind(&d.response_headers)
        .bind(&d.response_body)
        .execute(&mut *tx)
        .await?;
        sqlx::query(&format!(
            "DELETE FROM webhook_deliveries WHERE webhook_id = $1 AND id NOT IN \
             (SELECT id FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY id DESC LIMIT {DELIVERIES_KEPT})"
        ))
        .bind(hook_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A webhook's deliveries, newest first.
    pub async fn deliveries(&self, hook: &WebhookRow) -> Result<Vec<WebhookDelivery>> {
        let rows = sqlx::query(
            "SELECT id, kind, payload, ts, duration, request_url, request_headers, \
             response_code, response_headers, response_body FROM webhook_deliveries \
             WHERE webhook_id = $1 ORDER BY id DESC",
        )
        .bind(&hook.id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(WebhookDelivery {
                    id: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    payload: r.try_get(2)?,
                    timestamp: r.try_get(3)?,
                    duration: r.try_get(4)?,
                    request_url: r.try_get(5)?,
                    request_headers: r.try_get(6)?,
                    response_code: r.try_get(7)?,
                    response_headers: r.try_get(8)?,
                    response_body: r.try_get(9)?,
                })
            })
            .collect()
    }
}

/// A delivery id that sorts by time.
pub fn delivery_id() -> String {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    format!("{micros:020}-{}", &crypto::new_id()[..8])
}
