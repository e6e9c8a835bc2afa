//! The store: every piece of state the server keeps, behind one struct over sqlx's `Any`
//! driver. The embedded default is SQLite in the data directory (WAL, `synchronous=FULL`, so
//! a transaction that committed survives a crash); the same SQL runs on PostgreSQL
//! (`postgres://…` URLs), with the same versioned migrations (`migrations/`).
//!
//! The one-update-per-stack rule is a single conditional `UPDATE` of the stack's row, which is
//! atomic on both databases and so holds across several servers on one PostgreSQL too.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use tokio::sync::Mutex;

use crate::crypto;
use crate::error::{CONCURRENT_UPDATE, Error, Result, STACK_HAS_RESOURCES};

mod audit;
mod deltas;
mod jobs;
mod plans;
mod stack_admin;
mod teams;
mod usage;
mod user_tokens;
mod webhooks;

pub use audit::{AuditEntry, AuditQuery};
pub use deltas::{apply_and_compact, apply_delta, apply_edits, hex_sha256};
pub use jobs::{JobEnd, JobRow, internal_token_description, job_status_is_final, now_ms};
pub use teams::{Access, Member, PERMISSION_ADMIN, TeamRow, TeamStack};
pub use webhooks::{DELIVERIES_KEPT, WebhookRow, delivery_id};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// How long a request waits for a PostgreSQL connection before it is answered 503.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    /// SQLite in a file (the embedded default).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// The server's state.
#[derive(Debug)]
pub struct Store {
    pool: AnyPool,
    kind: DbKind,
    /// SQLite has one writer at a time and fails (rather than waits) when two deferred
    /// transactions both try to upgrade to writers; the server serialises its own writes.
    write: Option<Mutex<()>>,
}

/// A user, as authenticated by an access token.
#[derive(Debug, Clone)]
pub struct User {
    /// The user's id.
    pub id: String,
    /// The login name (`githubLogin` in the CLI's protocol).
    pub login: String,
    /// The display name.
    pub name: String,
    /// The e-mail address (may be empty).
    pub email: String,
}

/// An organization.
#[derive(Debug, Clone)]
pub struct Org {
    /// The organization's id.
    pub id: String,
    /// Its name (`orgName` in stack paths).
    pub name: String,
}

/// An access token's public facts (its value is never kept).
#[derive(Debug, Clone)]
pub struct TokenInfo {
    /// The token's id.
    pub id: String,
    /// The login of the user it authenticates.
    pub user: String,
    /// What it is for.
    pub description: String,
    /// When it was created (Unix seconds).
    pub created: i64,
    /// When it was last used (Unix seconds, 0: never).
    pub last_used: i64,
}

/// A stack's row.
#[derive(Debug, Clone)]
pub struct StackRow {
    /// The stack's id (kept across renames).
    pub id: String,
    /// The organization's name.
    pub org: String,
    /// The project's name.
    pub project: String,
    /// The stack's name.
    pub name: String,
    /// The tags, a JSON object.
    pub tags: serde_json::Map<String, serde_json::Value>,
    /// The newest version.
    pub version: i64,
    /// Resources in the newest checkpoint.
    pub resource_count: i64,
    /// When the last update ended (Unix seconds).
    pub last_update: Option<i64>,
    /// The stack's latest state-writing update (it holds the stack while it runs).
    pub active_update: Option<String>,
    /// The wrapped data key.
    pub data_key: String,
    /// The StackConfig given at creation.
    pub config: Option<String>,
}

/// An update's row.
#[derive(Debug, Clone)]
pub struct UpdateRow {
    /// The update's id.
    pub id: String,
    /// The stack's id.
    pub stack_id: String,
    /// update, preview, refresh, destroy, import.
    pub kind: String,
    /// not started, running, succeeded, failed, cancelled.
    pub status: String,
    /// The stack version it writes (previews: the version they looked at).
    pub version: i64,
    /// The login of the user who asked for it.
    pub requested_by: String,
    /// The program JSON.
    pub program: String,
    /// The config JSON.
    pub config: String,
    /// The metadata JSON (message, environment).
    pub metadata: String,
    /// Creation time.
    pub created: i64,
    /// Start time.
    pub start_time: Option<i64>,
    /// End time.
    pub end_time: Option<i64>,
    /// The lease token's hash.
    pub lease_hash: Option<String>,
    /// When the lease expires.
    pub lease_expires: Option<i64>,
    /// The resource changes of the update's summary event (JSON).
    pub resource_changes: Option<String>,
    /// The resource count after the update.
    pub resource_count: Option<i64>,
}

/// The update kinds that write state (and so take a new stack version and the stack's lock).
pub fn kind_writes_state(kind: &str) -> bool {
    matches!(kind, "update" | "refresh" | "destroy" | "import")
}

const STACK_COLS: &str = "s.id, o.name, s.project, s.name, s.tags, s.version, s.resource_count, \
     s.last_update, s.active_update, s.data_key, s.config";
const UPDATE_COLS: &str = "id, stack_id, kind, status, version, requested_by, program, config, \
     metadata, created, start_time, end_time, lease_hash, lease_expires, resource_changes, \
     resource_count";

fn stack_from_row(r: &AnyRow) -> Result<StackRow> {
    let tags: String = r.try_get(4)?;
    Ok(StackRow {
        id: r.try_get(0)?,
        org: r.try_get(1)?,
        project: r.try_get(2)?,
        name: r.try_get(3)?,
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        version: r.try_get(5)?,
        resource_count: r.try_get(6)?,
        last_update: r.try_get(7)?,
        active_update: r.try_get(8)?,
        data_key: r.try_get(9)?,
        config: r.try_get(10)?,
    })
}

fn update_from_row(r: &AnyRow) -> Result<UpdateRow> {
    Ok(UpdateRow {
        id: r.try_get(0)?,
        stack_id: r.try_get(1)?,
        kind: r.try_get(2)?,
        status: r.try_get(3)?,
        version: r.try_get(4)?,
        requested_by: r.try_get(5)?,
        program: r.try_get(6)?,
        config: r.try_get(7)?,
        metadata: r.try_get(8)?,
        created: r.try_get(9)?,
        start_time: r.try_get(10)?,
        end_time: r.try_get(11)?,
        lease_hash: r.try_get(12)?,
        lease_expires: r.try_get(13)?,
        resource_changes: r.try_get(14)?,
        resource_count: r.try_get(15)?,
    })
}

/// Filters of a stack listing.
#[derive(Debug, Default, Clone)]
pub struct StackFilter {
    /// Only this organization.
    pub org: Option<String>,
    /// Only this project.
    pub project: Option<String>,
    /// Only stacks with this tag.
    pub tag_name: Option<String>,
    /// … whose value is this.
    pub tag_value: Option<String>,
}

/// What a new update records.
#[derive(Debug, Clone)]
pub struct NewUpdate {
    /// The kind (update, preview, refresh, destroy).
    pub kind: String,
    /// The program JSON.
    pub program: String,
    /// The config JSON.
    pub config: String,
    /// The metadata JSON.
    pub metadata: String,
}

/// What starting an update grants.
#[derive(Debug, Clone)]
pub struct Started {
    /// The stack version the update writes.
    pub version: i64,
    /// When the lease expires (Unix seconds).
    pub expires: i64,
}

/// The number of resources in an untyped deployment (`{"version":…, "deployment":{…}}`).
pub fn resource_count(untyped: &str) -> i64 {
    #[derive(serde::Deserialize)]
    struct Untyped {
        #[serde(default)]
        deployment: Option<Deployment>,
    }
    #[derive(serde::Deserialize)]
    struct Deployment {
        #[serde(default)]
        resources: Option<Vec<serde::de::IgnoredAny>>,
    }
    serde_json::from_str::<Untyped>(untyped)
        .ok()
        .and_then(|u| u.deployment)
        .and_then(|d| d.resources)
        .map(|r| r.len() as i64)
        .unwrap_or(0)
}

impl Store {
    /// Opens (creating and migrating if needed) the store: `database` is a `postgres://` URL,
    /// or `None` for SQLite in `DIR/pulumi-auto-server.db`.
    pub async fn open(data_dir: &Path, database: Option<&str>) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let (url, kind) = match database {
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                (u.to_owned(), DbKind::Postgres)
            }
            Some(u) if u.starts_with("sqlite:") => (u.to_owned(), DbKind::Sqlite),
            Some(_) => {
                return Err(Error::Internal(
                    "--database must be a postgres:// or sqlite: URL".into(),
                ));
            }
            None => {
                let path = data_dir.join("pulumi-auto-server.db");
                (
                    format!("sqlite://{}?mode=rwc", path.display()),
                    DbKind::Sqlite,
                )
            }
        };
        // A PostgreSQL that went away: a connection is pinged before each use (a broken one
        // is replaced), and a request waits at most ACQUIRE_TIMEOUT for one before it is
        // answered 503, so the server recovers by itself when the database is back.
        let mut opts = AnyPoolOptions::new()
            .max_connections(if kind == DbKind::Sqlite { 8 } else { 16 })
            .test_before_acquire(true)
            .acquire_timeout(match kind {
                DbKind::Sqlite => Duration::from_secs(30),
                DbKind::Postgres => ACQUIRE_TIMEOUT,
            });
        if kind == DbKind::Sqlite {
            opts = opts.after_connect(|conn, _meta| {
                Box::pin(async move {
                    use sqlx::Executor;
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = FULL").await?;
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    Ok(())
                })
            });
        }
        let pool = opts
            .connect(&url)
            .await
            .map_err(|e| Error::Internal(format!("cannot open the database: {e}")))?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| Error::Internal(format!("cannot migrate the database: {e}")))?;
        Ok(Store {
            pool,
            kind,
            write: (kind == DbKind::Sqlite).then(|| Mutex::new(())),
        })
    }

    /// Which database this is.
    pub fn kind(&self) -> DbKind {
        self.kind
    }

    /// Closes the pool (waits for connections to be returned).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// What ends a `SELECT` whose rows the transaction must hold until it commits:
    /// `FOR UPDATE` on PostgreSQL (a concurrent writer waits, and a waiting `SELECT … FOR
    /// UPDATE` re-checks its conditions on the rows as committed); nothing on SQLite, whose
    /// writers the store's write lock runs one at a time.
    fn row_lock(&self) -> &'static str {
        match self.kind {
            DbKind::Postgres => " FOR UPDATE",
            DbKind::Sqlite => "",
        }
    }

    async fn write_lock(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match &self.write {
            Some(m) => Some(m.lock().await),
            None => None,
        }
    }

    /// Whether any organization exists yet.
    pub async fn is_initialized(&self) -> Result<bool> {
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM organizations")
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        Ok(n > 0)
    }

    /// First start: the organization, its admin user, and the admin's token (whose value the
    /// caller gives or this makes). Returns the token's value when it made one.
    pub async fn bootstrap(&self, org: &str, admin: &str, token: &str) -> Result<()> {
        let _w = self.write_lock().await;
        let mut tx = self.pool.begin().await?;
        let t = now();
        let org_id = crypto::new_id();
        let user_id = crypto::new_id();
        sqlx::query("INSERT INTO organizations (id, name, created) VALUES ($1, $2, $3)")
            .bind(&org_id)
            .bind(org)
            .bind(t)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO users (id, login, name, email, created) VALUES ($1, $2, $3, '', $4)",
        )
        .bind(&user_id)
        .bind(admin)
        .bind(admin)
        .bind(t)
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO org_members (org_id, user_id, role) VALUES ($1, $2, 'admin')")
            .bind(&org_id)
            .bind(&user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO tokens (id, user_id, hash, description, created, last_used) \
             VALUES ($1, $2, $3, 'admin token (first start)', $4, 0)",
        )
        .bind(crypto::new_id())
        .bind(&user_id)
        .bind(crypto::token_hash(token))
        .bind(t)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    // ----- users, organizations, tokens -----

    /// The user an access token authenticates, if the token is valid.
    pub async fn authenticate(&self, token: &str) -> Result<Option<User>> {
        let hash = crypto::token_hash(token);
        let row = sqlx::query(
            "SELECT u.id, u.login, u.name, u.email, t.hash, t.id, t.last_used FROM tokens t \
             JOIN users u ON u.id = t.user_id WHERE t.hash = $1",
        )
        .bind(&hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let stored: String = row.try_get(4)?;
        if !crypto::token_matches(token, &stored) {
            return Ok(None);
        }
        let token_id: String = row.try_get(5)?;
        let last_used: i64 = row.try_get(6)?;
        let t = now();
        // Kept current to the minute, without a write per request.
        if t - last_used >= 60 {
            let _w = self.write_lock().await;
            sqlx::query("UPDATE tokens SET last_used = $1 WHERE id = $2")
                .bind(t)
                .bind(&token_id)
                .execute(&self.pool)
                .await?;
        }
        Ok(Some(User {
            id: row.try_get(0)?,
            login: row.try_get(1)?,
            name: row.try_get(2)?,
            email: row.try_get(3)?,
        }))
    }

    /// The organizations a user belongs to, by name.
    pub async fn user_orgs(&self, user_id: &str) -> Result<Vec<Org>> {
        let rows = sqlx::query(
            "SELECT o.id, o.name FROM organizations o JOIN org_members m ON m.org_id = o.id \
             WHERE m.user_id = $1 ORDER BY o.name",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Org {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                })
            })
            .collect()
    }

    /// The organization named `name` if `user` is a member of it.
    pub async fn member_org(&self, user: &User, name: &str) -> Result<Option<Org>> {
        let row = sqlx::query(
            "SELECT o.id, o.name FROM organizations o JOIN org_members m ON m.org_id = o.id \
             WHERE m.user_id = $1 AND o.name = $2",
        )
        .bind(&user.id)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(Org {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
            })
        })
        .transpose()
    }

    /// A new token for the user with login `login`; returns its id (the value is the caller's).
    pub async fn create_token(
        &self,
        login: &str,
        description: &str,
        value: &str,
    ) -> Result<String> {
        let _w = self.write_lock().await;
        let user: Option<String> = sqlx::query("SELECT id FROM users WHERE login = $1")
            .bind(login)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
        let Some(user) = user else {
            return Err(Error::not_found(format!("no user {login:?}")));
        };
        let id = crypto::new_id();
        sqlx::query(
            "INSERT INTO tokens (id, user_id, hash, description, created, last_used) \
             VALUES ($1, $2, $3, $4, $5, 0)",
        )
        .bind(&id)
        .bind(&user)
        .bind(crypto::token_hash(value))
        .bind(description)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    /// Every token's public facts.
    pub async fn list_tokens(&self) -> Result<Vec<TokenInfo>> {
        let rows = sqlx::query(
            "SELECT t.id, u.login, t.description, t.created, t.last_used FROM tokens t \
             JOIN users u ON u.id = t.user_id ORDER BY t.created, t.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TokenInfo {
                    id: r.try_get(0)?,
                    user: r.try_get(1)?,
                    description: r.try_get(2)?,
                    created: r.try_get(3)?,
                    last_used: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// Revokes a token; false when there is none with that id.
    pub async fn revoke_token(&self, id: &str) -> Result<bool> {
        let _w = self.write_lock().await;
        let n = sqlx::query("DELETE FROM tokens WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    // ----- stacks -----

    /// Whether the organization has a stack of the project.
    pub async fn project_exists(&self, org: &Org, project: &str) -> Result<bool> {
        let row = sqlx::query("SELECT 1 FROM stacks WHERE org_id = $1 AND project = $2 LIMIT 1")
            .bind(&org.id)
            .bind(project)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// A stack by its names.
    pub async fn get_stack(
        &self,
        org: &Org,
        project: &str,
        name: &str,
    ) -> Result<Option<StackRow>> {
        let sql = format!(
            "SELECT {STACK_COLS} FROM stacks s JOIN organizations o ON o.id = s.org_id \
             WHERE s.org_id = $1 AND s.project = $2 AND s.name = $3"
        );
        let row = sqlx::query(&sql)
            .bind(&org.id)
            .bind(project)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(stack_from_row).transpose()
    }

    /// The stack that was called `org/project/name` before a rename.
    pub async fn get_stack_by_alias(
        &self,
        org: &Org,
        project: &str,
        name: &str,
    ) -> Result<Option<StackRow>> {
        let sql = format!(
            "SELECT {STACK_COLS} FROM stack_aliases a JOIN stacks s ON s.id = a.stack_id \
             JOIN organizations o ON o.id = s.org_id \
             WHERE a.org_id = $1 AND a.project = $2 AND a.name = $3"
        );
        let row = sqlx::query(&sql)
            .bind(&org.id)
            .bind(project)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(stack_from_row).transpose()
    }

    /// A stack by its id.
    pub async fn get_stack_by_id(&self, id: &str) -> Result<Option<StackRow>> {
        let sql = format!(
            "SELECT {STACK_COLS} FROM stacks s JOIN organizations o ON o.id = s.org_id \
             WHERE s.id = $1"
        );
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(stack_from_row).transpose()
    }

    /// Creates a stack; 409 when the name is taken. `state` is an initial untyped deployment.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_stack(
        &self,
        org: &Org,
        project: &str,
        name: &str,
        tags: &serde_json::Map<String, serde_json::Value>,
        wrapped_key: &str,
        id: &str,
        config: Option<&str>,
        state: Option<&str>,
    ) -> Result<()> {
        let _w = self.write_lock().await;
        let mut tx = self.pool.begin().await?;
        ensure_name_free(&mut tx, org, project, name).await?;
        let version: i64 = if state.is_some() { 1 } else { 0 };
        let count = state.map(resource_count).unwrap_or(0);
        sqlx::query(
            "INSERT INTO stacks (id, org_id, project, name, tags, version, resource_count, \
             last_update, active_update, data_key, config, created) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL, $8, $9, $10)",
        )
        .bind(id)
        .bind(&org.id)
        .bind(project)
        .bind(name)
        .bind(serde_json::Value::Object(tags.clone()).to_string())
        .bind(version)
        .bind(count)
        .bind(wrapped_key)
        .bind(config)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        if let Some(state) = state {
            sqlx::query(
                "INSERT INTO checkpoints (stack_id, version, deployment) VALUES ($1, 1, $2)",
            )
            .bind(id)
            .bind(state)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The stacks a user can see (every stack of an organization they administer, those
    /// their teams reach in the others), filtered, in a stable
    /// order, `limit` from `after` (the previous page's last stack id).
    pub async fn list_stacks(
        &self,
        user: &User,
        filter: &StackFilter,
        after: Option<(&str, &str, &str)>,
        limit: i64,
    ) -> Result<Vec<StackRow>> {
        let mut sql = format!(
            "SELECT {STACK_COLS} FROM stacks s JOIN organizations o ON o.id = s.org_id \
             JOIN org_members m ON m.org_id = s.org_id WHERE m.user_id = $1 \
             AND (m.role = 'admin' OR EXISTS (SELECT 1 FROM team_stack_permissions p \
             JOIN team_members tm ON tm.team_id = p.team_id \
             WHERE p.stack_id = s.id AND tm.user_id = m.user_id))"
        );
        let mut binds: Vec<String> = vec![user.id.clone()];
        let mut next = |sql: &mut String, clause: &str, v: &str| {
            binds.push(v.to_owned());
            sql.push_str(&clause.replace('?', &format!("${}", binds.len())));
        };
        if let Some(o) = &filter.org {
            next(&mut sql, " AND o.name = ?", o);
        }
        if let Some(p) = &filter.project {
            next(&mut sql, " AND s.project = ?", p);
        }
        if let Some((o, p, s)) = after {
            // Keyset pagination on (org, project, name).
            next(&mut sql, " AND (o.name > ?", o);
            next(&mut sql, " OR (o.name = ? ", o);
            next(&mut sql, "AND (s.project > ? ", p);
            next(&mut sql, "OR (s.project = ? ", p);
            next(&mut sql, "AND s.name > ?))))", s);
        }
        sql.push_str(" ORDER BY o.name, s.project, s.name");
        // Tag filters are applied after the query (tags are a JSON document), so no LIMIT then.
        let tag_filtered = filter.tag_name.is_some();
        if !tag_filtered {
            sql.push_str(&format!(" LIMIT {}", limit.max(1)));
        }
        let mut q = sqlx::query(&sql);
        for b in &binds {
            q = q.bind(b);
        }
        let rows = q.fetch_all(&self.pool).await?;
        let mut out = Vec::new();
        for r in &rows {
            let s = stack_from_row(r)?;
            if let Some(tn) = &filter.tag_name {
                match s.tags.get(tn).and_then(|v| v.as_str()) {
                    None => continue,
                    Some(v) => {
                        if filter.tag_value.as_deref().is_some_and(|want| want != v) {
                            continue;
                        }
                    }
                }
            }
            out.push(s);
            if out.len() as i64 >= limit.max(1) {
                break;
            }
        }
        Ok(out)
    }

    /// Deletes a stack and everything recorded for it. Refused (400, the CLI's text) while it
    /// has resources unless `force`; refused (409) while an update holds it.
    pub async fn delete_stack(&self, stack: &StackRow, force: bool) -> Result<()> {
        let _w = self.write_lock().await;
        let mut tx = self.pool.begin().await?;
        match self.stack_held_tx(&mut tx, &stack.id, None).await? {
            None => return Err(Error::not_found("Not Found: stack not found")),
            Some(true) => return Err(Error::Conflict(CONCURRENT_UPDATE.into())),
            Some(false) => {}
        }
        let count: i64 = sqlx::query("SELECT resource_count FROM stacks WHERE id = $1")
            .bind(&stack.id)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if count > 0 && !force {
            return Err(Error::bad_request(STACK_HAS_RESOURCES));
        }
        sqlx::query(
            "DELETE FROM engine_events WHERE update_id IN (SELECT id FROM updates WHERE stack_id = $1)",
        )
        .bind(&stack.id)
        .execute(&mut *tx)
        .await?;
        for table in [
            "checkpoint_deltas",
            "checkpoints",
            "updates",
            "stack_aliases",
            "team_stack_permissions",
        ] {
            sqlx::query(&format!("DELETE FROM {table} WHERE stack_id = $1"))
                .bind(&stack.id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM stacks WHERE id = $1")
            .bind(&stack.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Renames a stack (and maybe moves it to another project of the same organization).
    pub async fn rename_stack(
        &self,
        stack: &StackRow,
        org: &Org,
        project: &str,
        name: &str,
    ) -> Result<()> {
        let _w = self.write_lock().await;
        let mut tx = self.pool.begin().await?;
        ensure_name_free(&mut tx, org, project, name).await?;
        match self.stack_held_tx(&mut tx, &stack.id, None).await? {
            None => return Err(Error::not_found("Not Found: stack not found")),
            Some(true) => return Err(Error::Conflict(CONCURRENT_UPDATE.into())),
            Some(false) => {}
        }
        sqlx::query(
            "INSERT INTO stack_aliases (org_id, project, name, stack_id) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (org_id, project, name) DO UPDATE SET stack_id = excluded.stack_id",
        )
        .bind(&org.id)
        .bind(&stack.project)
        .bind(&stack.name)
        .bind(&stack.id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE stacks SET project = $1, name = $2 WHERE id = $3")
            .bind(project)
            .bind(name)
            .bind(&stack.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces a stack's tags.
    pub async fn set_tags(
        &self,
        stack: &StackRow,
        tags: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<()> {
        let _w = self.write_lock().await;
        sqlx::query("UPDATE stacks SET tags = $1 WHERE id = $2")
            .bind(serde_json::Value::Object(tags.clone()).to_string())
            .bind(&stack.id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ----- state -----

    /// The stack's state at `version` (the newest checkpoint at or below it), or the newest.
    pub async fn checkpoint(
        &self,
        stack: &StackRow,
        version: Option<i64>,
    ) -> Result<Option<String>> {
        let mut conn = self.pool.acquire().await?;
        let row = sqlx::query(
            "SELECT version FROM checkpoints WHERE stack_id = $1 AND version <= $2 \
             ORDER BY version DESC LIMIT 1",
        )
        .bind(&stack.id)
        .bind(version.unwrap_or(i64::MAX))
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let found: i64 = row.try_get(0)?;
        Ok(deltas::current_text(&mut conn, &stack.id, found)
            .await?
            .map(|(text, _)| text))
    }

    /// The checkpoint an update wrote (at its own version), if any.
    pub async fn checkpoint_of_update(&self, update: &UpdateRow) -> Result<Option<String>> {
        Ok(self.current_checkpoint(update).await?.map(|(text, _)| text))
    }

    /// `stack import`: a new version with the given state, recorded as a finished update of
    /// kind `import`. Refused (409) while an update holds the stack.
    pub async fn import_state(
        &self,
        stack: &StackRow,
        user: &User,
        untyped: &str,
    ) -> Result<String> {
        let _w = self.write_lock().await;
        let mut tx = self.pool.begin().await?;
        match self.stack_held_tx(&mut tx, &stack.id, None).await? {
            None => return Err(Error::not_found("Not Found: stack not found")),
            Some(true) => return Err(Error::Conflict(CONCURRENT_UPDATE.into())),
            Some(false) => {}
        }
        let version: i64 = sqlx::query("SELECT version FROM stacks WHERE id = $1")
            .bind(&stack.id)
            .fetch_one(&mut *tx)
            .await?
            .try_get::<i64, _>(0)?
            + 1;
        let id = crypto::new_id();
        let t = now();
        let count = resource_count(untyped);
        sqlx::query(
            "INSERT INTO updates (id, stack_id, kind, status, version, requested_by, program, \
             config, metadata, created, start_time, end_time, lease_hash, lease_expires, \
             resource_changes, resource_count) VALUES ($1, $2, 'import', 'succeeded', $3, $4, \
             '{}', '{}', '{\"message\":\"\",\"environment\":{}}', $5, $5, $5, NULL, NULL, NULL, $6)",
        )
        .bind(&id)
        .bind(&stack.id)
        .bind(version)
        .bind(&user.login)
        .bind(t)
        .bind(count)
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO checkpoints (stack_id, version, deployment) VALUES ($1, $2, $3)")
            .bind(&stack.id)
            .bind(version)
            .bind(untyped)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE stacks SET version = $1, resource_count = $2, last_update = $3 WHERE id = $4",
        )
        .bind(version)
        .bind(count)
        .bind(t)
        .bind(&stack.id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    // ----- updates -----

    /// Takes the stack's row for the rest of the transaction and tells whether a live update
    /// (running, lease unexpired) other than `except` holds the stack.
    ///
    /// On PostgreSQL the row is read `FOR UPDATE`: a second transaction waits here until the
    /// first commits, and the statements after this one (read committed: each statement sees
    /// what was committed before it began) see the first one's update as running. A single
    /// conditional `UPDATE … WHERE active_update NOT IN (SELECT … running)` is not enough
    /// there: after the wait PostgreSQL re-checks the row but evaluates the sub-select on the
    /// statement's old snapshot, so two starts could both take the stack. On SQLite the
    /// store's write lock already runs these transactions one at a time. `None` when the
    /// stack is gone.
    async fn stack_held_tx(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        stack_id: &str,
        except: Option<&str>,
    ) -> Result<Option<bool>> {
        let row = sqlx::query(&format!(
            "SELECT active_update FROM stacks WHERE id = $1{}",
            self.row_lock()
        ))
        .bind(stack_id)
        .fetch_optional(&mut **tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let active: Option<String> = row.try_get(0)?;
        let Some(active) = active.filter(|a| Some(a.as_str()) != except) else {
            return Ok(Some(false));
        };
        let row = sqlx::query("SELECT status, lease_expires FROM updates WHERE id = $1")
            .bind(&active)
            .fetch_optional(&mut **tx)
            .await?;
        Ok(Some(match row {
            None => false,
            Some(r) => {
                let status: String = r.try_get(0)?;
                let expires: Option<i64> = r.try_get(1)?;
                status == "running" && expires.unwrap_or(0) >= now()
            }
        }))
    }

    /// Records a new update (not started yet).
    pub async fn create_update(
        &self,
        stack: &StackRow,
        user: &User,
        u: &NewUpdate,
    ) -> Result<String> {
        let _w = self.write_lock().await;
        let id = crypto::new_id();
        sqlx::query(
            "INSERT INTO updates (id, stack_id, kind, status, version, requested_by, program, \
             config, metadata, created, start_time, end_time, lease_hash, lease_expires, \
             resource_changes, resource_count) \
             VALUES ($1, $2, $3, 'not started', 0, $4, $5, $6, $7, $8, NULL, NULL, NULL, NULL, NULL, NULL)",
        )
        .bind(&id)
        .bind(&stack.id)
        .bind(&u.kind)
        .bind(&user.login)
        .bind(&u.program)
        .bind(&u.config)
        .bind(&u.metadata)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    /// An update of a stack by id.
    pub async fn get_update(&self, stack: &StackRow, id: &str) -> Result<Option<UpdateRow>> {
        let sql = format!("SELECT {UPDATE_COLS} FROM updates WHERE id = $1 AND stack_id = $2");
        let row = sqlx::query(&sql)
            .bind(id)
            .bind(&stack.id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(update_from_row).transpose()
    }

    /// The running update whose lease token hashes to `hash`.
    pub async fn update_by_lease(&self, hash: &str) -> Result<Option<UpdateRow>> {
        let sql = format!("SELECT {UPDATE_COLS} FROM updates WHERE lease_hash = $1");
        let row = sqlx::query(&sql)
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(update_from_row).transpose()
    }

    /// An update by id alone (lease checks).
    pub async fn get_update_by_id(&self, id: &str) -> Result<Option<UpdateRow>> {
        let sql = format!("SELECT {UPDATE_COLS} FROM updates WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(update_from_row).transpose()
    }

    /// Starts an update: takes the stack (409 with the CLI's text when another live update
    /// holds it; an update whose lease expired loses the stack and is marked failed), gives
    /// it a new version (state-writing kinds) and a lease whose token hash is `lease_hash`.
    pub async fn start_update(
        &self,
        stack: &StackRow,
        update: &UpdateRow,
        lease_hash: &str,
        lease_secs: i64,
        tags: Option<&serde_json::Map<String, serde_json::Value>>,
    ) -> Result<Started> {
        if update.status != "not started" {
            return Err(Error::Conflict(format!(
                "Conflict: the update has already been started (status {})",
                update.status
            )));
        }
        let _w = self.write_lock().await;
        let mut tx = self.pool.begin().await?;
        let t = now();
        let expires = t + lease_secs;
        let writes = kind_writes_state(&update.kind);
        let version: i64;
        if writes {
            // The one-update-per-stack rule: the stack's row is held from here to the commit.
            match self
                .stack_held_tx(&mut tx, &stack.id, Some(&update.id))
                .await?
            {
                None => return Err(Error::not_found("Not Found: stack not found")),
                Some(true) => return Err(Error::Conflict(CONCURRENT_UPDATE.into())),
                Some(false) => {}
            }
            sqlx::query(
                "UPDATE stacks SET active_update = $1, version = version + 1 WHERE id = $2",
            )
            .bind(&update.id)
            .bind(&stack.id)
            .execute(&mut *tx)
            .await?;
            // Whatever held the stack before (an update whose lease expired) has failed.
            sqlx::query(
                "UPDATE updates SET status = 'failed', end_time = $1 WHERE stack_id = $2 AND \
                 status = 'running' AND id <> $3 AND kind <> 'preview'",
            )
            .bind(t)
            .bind(&stack.id)
            .bind(&update.id)
            .execute(&mut *tx)
            .await?;
            version = sqlx::query("SELECT version FROM stacks WHERE id = $1")
                .bind(&stack.id)
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
        } else {
            version = stack.version;
        }
        if let Some(tags) = tags {
            sqlx::query("UPDATE stacks SET tags = $1 WHERE id = $2")
                .bind(serde_json::Value::Object(tags.clone()).to_string())
                .bind(&stack.id)
                .execute(&mut *tx)
                .await?;
        }
        let n = sqlx::query(
            "UPDATE updates SET status = 'running', version = $1, start_time = $2, \
             lease_hash = $3, lease_expires = $4 WHERE id = $5 AND status = 'not started'",
        )
        .bind(version)
        .bind(t)
        .bind(lease_hash)
        .bind(expires)
        .bind(&update.id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n != 1 {
            return Err(Error::Conflict(
                "Conflict: the update has already been started".into(),
            ));
        }
        tx.commit().await?;
        Ok(Started { version, expires })
    }

    /// Extends a running update's lease; returns the new expiry.
    pub async fn renew_lease(&self, update_id: &str, secs: i64) -> Result<i64> {
        let _w = self.write_lock().await;
        let expires = now() + secs;
        let n = sqlx::query(
            "UPDATE updates SET lease_expires = $1 WHERE id = $2 AND status = 'running' \
             AND lease_expires >= $3",
        )
        .bind(expires)
        .bind(update_id)
        .bind(now())
        .execute(&self.pool)
        .await?
        .rows_affected();
        if n != 1 {
            return Err(Error::Forbidden(
                "Forbidden: the update's lease has expired or the update has ended".into(),
            ));
        }
        Ok(expires)
    }

    /// Saves a running update's checkpoint (the whole untyped deployment).
    pub async fn save_checkpoint(&self, update: &UpdateRow, untyped: &str) -> Result<()> {
        let _w = self.write_lock().await;
        let mut tx = self.pool.begin().await?;
        // Only while the update still holds the stack: a cancelled update writes nothing.
        // Held to the commit: a cancel (or a start after the lease expired) waits for this
        // write, or this one sees it and writes nothing.
        let holds = sqlx::query(&format!(
            "SELECT 1 FROM stacks s JOIN updates u ON u.id = s.active_update \
             WHERE s.id = $1 AND u.id = $2 AND u.status = 'running'{}",
            self.row_lock()
        ))
        .bind(&update.stack_id)
        .bind(&update.id)
        .fetch_optional(&mut *tx)
        .await?;
        if holds.is_none() {
            return Err(Error::Conflict(
                "Conflict: the update no longer holds the stack (it was cancelled or its lease expired)"
                    .into(),
            ));
        }
        let q = "INSERT INTO checkpoints (stack_id, version, deployment) VALUES ($1, $2, $3) \
                 ON CONFLICT (stack_id, version) DO UPDATE SET deployment = excluded.deployment";
        sqlx::query(q)
            .bind(&update.stack_id)
            .bind(update.version)
            .bind(untyped)
            .execute(&mut *tx)
            .await?;
        deltas::discard(&mut tx, &update.stack_id, update.version).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Appends engine events (sequence number, JSON) to an update; a retried batch is
    /// idempotent. `changes` is the resource changes of a summary event among them.
    pub async fn add_events(
        &self,
        update: &UpdateRow,
        events: &[(i64, String)],
        changes: Option<&str>,
    ) -> Result<()> {
        let _w = self.write_lock().await;
        let mut tx = self.pool.begin().await?;
        for (seq, body) in events {
            sqlx::query(
                "INSERT INTO engine_events (update_id, seq, body) VALUES ($1, $2, $3) \
                 ON CONFLICT (update_id, seq) DO NOTHING",
            )
            .bind(&update.id)
            .bind(*seq)
            .bind(body)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(changes) = changes {
            sqlx::query("UPDATE updates SET resource_changes = $1 WHERE id = $2")
                .bind(changes)
                .bind(&update.id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// An update's engine events after sequence number `after`, at most `limit`.
    pub async fn events(
        &self,
        update_id: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, String)>> {
        let rows = sqlx::query(
            "SELECT seq, body FROM engine_events WHERE update_id = $1 AND seq > $2 \
             ORDER BY seq LIMIT $3",
        )
        .bind(update_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// Ends a running update with `status` (succeeded, failed, cancelled), which frees the
    /// stack. Completing an update twice with the same status is not an error.
    pub async fn complete_update(&self, update: &UpdateRow, status: &str) -> Result<()> {
        let _w = self.write_lock().await;
        let mut tx = self.pool.begin().await?;
        let t = now();
        let n = sqlx::query(
            "UPDATE updates SET status = $1, end_time = $2 \
             WHERE id = $3 AND status = 'running'",
        )
        .bind(status)
        .bind(t)
        .bind(&update.id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 1 && kind_writes_state(&update.kind) {
            deltas::fold(&mut tx, &update.stack_id, update.version).await?;
            let latest: Option<i64> = sqlx::query(
                "SELECT version FROM checkpoints WHERE stack_id = $1 ORDER BY version DESC LIMIT 1",
            )
            .bind(&update.stack_id)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
            let state = match latest {
                Some(v) => deltas::current_text(&mut tx, &update.stack_id, v)
                    .await?
                    .map(|(text, _)| text),
                None => None,
            };
            let count = state.as_deref().map(resource_count).unwrap_or(0);
            sqlx::query("UPDATE updates SET resource_count = $1 WHERE id = $2")
                .bind(count)
                .bind(&update.id)
                .execute(&mut *tx)
                .await?;
            // `active_update` stays: it names the stack's latest update (what `pulumi cancel`
            // targets); the stack is free because that update is no longer running.
            sqlx::query("UPDATE stacks SET resource_count = $1, last_update = $2 WHERE id = $3")
                .bind(count)
                .bind(t)
                .bind(&update.stack_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// `pulumi cancel`: the update ends as cancelled and the stack is free at once; the
    /// CLI that ran it can write nothing more.
    pub async fn cancel_update(&self, update: &UpdateRow) -> Result<()> {
        if update.status != "running" && update.status != "not started" {
            return Err(Error::Conflict(format!(
                "Conflict: the update is not in progress (status {})",
                update.status
            )));
        }
        let _w = self.write_lock().await;
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE updates SET status = 'cancelled', end_time = $1 WHERE id = $2")
            .bind(now())
            .bind(&update.id)
            .execute(&mut *tx)
            .await?;
        deltas::fold(&mut tx, &update.stack_id, update.version).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A stack's updates (no previews), newest first; `page` counts from 1.
    pub async fn list_updates(
        &self,
        stack: &StackRow,
        page: i64,
        page_size: i64,
    ) -> Result<Vec<UpdateRow>> {
        let sql = format!(
            "SELECT {UPDATE_COLS} FROM updates WHERE stack_id = $1 AND kind <> 'preview' \
             AND status <> 'not started' ORDER BY version DESC, created DESC LIMIT $2 OFFSET $3"
        );
        let rows = sqlx::query(&sql)
            .bind(&stack.id)
            .bind(page_size)
            .bind((page.max(1) - 1).saturating_mul(page_size))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(update_from_row).collect()
    }

    /// A stack's previews newer than its last update, newest first.
    pub async fn latest_previews(&self, stack: &StackRow, limit: i64) -> Result<Vec<UpdateRow>> {
        let sql = format!(
            "SELECT {UPDATE_COLS} FROM updates WHERE stack_id = $1 AND kind = 'preview' \
             AND version >= $2 AND status <> 'not started' ORDER BY created DESC LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(&stack.id)
            .bind(stack.version)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(update_from_row).collect()
    }
}

/// 409 when `org` already has a stack `project/name` (checked inside the caller's
/// transaction, so the answer holds until it commits).
pub(crate) async fn ensure_name_free(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    org: &Org,
    project: &str,
    name: &str,
) -> Result<()> {
    let taken =
        sqlx::query("SELECT 1 FROM stacks WHERE org_id = $1 AND project = $2 AND name = $3")
            .bind(&org.id)
            .bind(project)
            .bind(name)
            .fetch_optional(&mut **tx)
            .await?;
    if taken.is_some() {
        return Err(Error::Conflict(format!(
            "Conflict: stack '{}/{project}/{name}' already exists",
            org.name
        )));
    }
    Ok(())
}
