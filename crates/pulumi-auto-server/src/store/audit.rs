//! The audit log's rows.

use sqlx::Row;

use super::{Org, Store};
use crate::crypto;
use crate::error::Result;

/// One audit-log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Sorts by time; the continuation token of a page is its last entry's id.
    pub id: String,
    /// When (Unix seconds).
    pub ts: i64,
    /// The caller's address.
    pub source_ip: String,
    /// The caller's login (empty for an authentication failure).
    pub user_login: String,
    /// The caller's display name.
    pub user_name: String,
    /// What happened (`stack.create`, `auth.failure`, …).
    pub event: String,
    /// A sentence about it.
    pub description: String,
    /// Whether the call needed the organization's admin role.
    pub require_org_admin: bool,
    /// Whether it needed the stack's admin permission.
    pub require_stack_admin: bool,
    /// Whether it was an authentication failure.
    pub auth_failure: bool,
}

/// The filters of an audit-log page.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Entries older than this (Unix seconds).
    pub before: Option<i64>,
    /// Only this user's.
    pub user: Option<String>,
    /// After this entry (the previous page's continuation token).
    pub after_id: Option<String>,
}

impl Store {
    /// Records an entry under the organization named `org` (the server's first organization
    /// when it names none the server knows).
    pub async fn audit(&self, org: Option<&str>, mut e: AuditEntry) -> Result<()> {
        let org_id: Option<String> = match org {
            Some(name) => sqlx::query("SELECT id FROM organizations WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?
                .map(|r| r.try_get(0))
                .transpose()?,
            None => None,
        };
        let org_id = match org_id {
            Some(id) => id,
            None => sqlx::query("SELECT id FROM organizations ORDER BY created, id LIMIT 1")
                .fetch_one(&self.pool)
                .await?
                .try_get(0)?,
        };
        let micros = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros())
            .unwrap_or(0);
        e.id = format!("{micros:020}-{}", &crypto::new_id()[..8]);
        let _w = self.write_lock().await;
        sqlx::query(
            "INSERT INTO audit_log (id, org_id, ts, source_ip, user_login, user_name, event, \
             description, require_org_admin, require_stack_admin, auth_failure) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&e.id)
        .bind(&org_id)
        .bind(e.ts)
        .bind(&e.source_ip)
        .bind(&e.user_login)
        .bind(&e.user_name)
        .bind(&e.event)
        .bind(&e.description)
        .bind(i64::from(e.require_org_admin))
        .bind(i64::from(e.require_stack_admin))
        .bind(i64::from(e.auth_failure))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A page of an organization's audit log, newest first.
    pub async fn audit_page(
        &self,
        org: &Org,
        q: &AuditQuery,
        limit: i64,
    ) -> Result<Vec<AuditEntry>> {
        let mut sql = String::from(
            "SELECT id, ts, source_ip, user_login, user_name, event, description, \
             require_org_admin, require_stack_admin, auth_failure FROM audit_log \
             WHERE org_id = $1",
        );
        let mut binds: Vec<String> = Vec::new();
        let mut n = 1;
        if let Some(after) = &q.after_id {
            n += 1;
            sql.push_str(&format!(" AND id < ${n}"));
            binds.push(after.clone());
        }
        if let Some(u) = &q.user {
            n += 1;
            sql.push_str(&format!(" AND user_login = ${n}"));
            binds.push(u.clone());
        }
        if let Some(before) = q.before {
            sql.push_str(&format!(" AND ts < {before}"));
        }
        sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", limit.max(1)));
        let mut query = sqlx::query(&sql).bind(&org.id);
        for b in &binds {
            query = query.bind(b);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.try_get(0)?,
                    ts: r.try_get(1)?,
                    source_ip: r.try_get(2)?,
                    user_login: r.try_get(3)?,
                    user_name: r.try_get(4)?,
                    event: r.try_get(5)?,
                    description: r.try_get(6)?,
                    require_org_admin: r.try_get::<i64, _>(7)? != 0,
                    require_stack_admin: r.try_get::<i64, _>(8)? != 0,
                    auth_failure: r.try_get::<i64, _>(9)? != 0,
                })
            })
            .collect()
    }
}
