//! The custom API's jobs (`program_jobs`) and their engine events (`program_job_events`):
//! a queue table a server claims jobs from with one conditional `UPDATE`, and the record
//! of each job's status, summary, masked outputs and error.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::Store;

/// Milliseconds since the Unix epoch (the times of jobs: finer than seconds, so the
/// operations of one second keep their order).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
use crate::error::Result;

/// A job's row.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRow {
    /// The job's id (the custom API's update id).
    pub id: String,
    /// The served program's name.
    pub program: String,
    /// The stack's name.
    pub stack: String,
    /// update, preview, refresh, destroy or burn.
    pub kind: String,
    /// queued, running, succeeded, failed, cancelled or refused.
    pub status: String,
    /// The login of the user who asked for it.
    pub requested_by: String,
    /// When it was asked for (Unix milliseconds).
    pub created: i64,
    /// When it started running (Unix milliseconds).
    pub started: Option<i64>,
    /// When it ended (Unix milliseconds).
    pub ended: Option<i64>,
    /// The change summary (JSON), once it ended.
    #[serde(skip)]
    pub summary: Option<String>,
    /// The outputs with secret values masked (JSON), once it ended.
    #[serde(skip)]
    pub outputs: Option<String>,
    /// Why it failed, was cancelled or refused (secrets redacted).
    pub error: Option<String>,
}

/// Whether a job status is final.
pub fn job_status_is_final(status: &str) -> bool {
    matches!(status, "succeeded" | "failed" | "cancelled" | "refused")
}

const JOB_COLS: &str = "id, program, stack, kind, status, requested_by, created, started, ended, \
     summary, outputs, error";

fn job_from_row(r: &AnyRow) -> Result<JobRow> {
    Ok(JobRow {
        id: r.try_get(0)?,
        program: r.try_get(1)?,
        stack: r.try_get(2)?,
        kind: r.try_get(3)?,
        status: r.try_get(4)?,
        requested_by: r.try_get(5)?,
        created: r.try_get(6)?,
        started: r.try_get(7)?,
        ended: r.try_get(8)?,
        summary: r.try_get(9)?,
        outputs: r.try_get(10)?,
        error: r.try_get(11)?,
    })
}

/// How a job ended.
#[derive(Debug, Clone, Default)]
pub struct JobEnd {
    /// succeeded, failed, cancelled or refused.
    pub status: String,
    /// The change summary (JSON).
    pub summary: Option<String>,
    /// The outputs, secret values masked (JSON).
    pub outputs: Option<String>,
    /// The error message (secrets redacted).
    pub error: Option<String>,
    /// The stack's name, when it was known only once the job ran (a burn's).
    pub stack: Option<String>,
}

impl Store {
    /// Records a new job, `queued`.
    pub async fn insert_job(
        &self,
        id: &str,
        program: &str,
        stack: &str,
        kind: &str,
        requested_by: &str,
    ) -> Result<()> {
        let _w = self.write_lock().await;
        sqlx::query(
            "INSERT INTO program_jobs (id, program, stack, kind, status, requested_by, created) \
             VALUES ($1, $2, $3, $4, 'queued', $5, $6)",
        )
        .bind(id)
        .bind(program)
        .bind(stack)
        .bind(kind)
        .bind(requested_by)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Claims a queued job for the server `instance` (`running`); false when another
    /// server claimed it first or it is no longer queued.
    pub async fn claim_job(&self, id: &str, instance: &str) -> Result<bool> {
        let _w = self.write_lock().await;
        let r = sqlx::query(
            "UPDATE program_jobs SET status = 'running', claimed_by = $1, started = $2 \
             WHERE id = $3 AND status = 'queued'",
        )
        .bind(instance)
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Records how a job ended.
    pub async fn end_job(&self, id: &str, end: &JobEnd) -> Result<()> {
        let _w = self.write_lock().await;
        sqlx::query(
            "UPDATE program_jobs SET status = $1, summary = $2, outputs = $3, error = $4, \
             ended = $5, stack = COALESCE($7, stack) WHERE id = $6",
        )
        .bind(&end.status)
        .bind(&end.summary)
        .bind(&end.outputs)
        .bind(&end.error)
        .bind(now_ms())
        .bind(id)
        .bind(&end.stack)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Marks every job that was queued or running when the server last stopped as failed,
    /// with `reason`; returns them (their stacks may need repair).
    pub async fn fail_unfinished_jobs(&self, reason: &str) -> Result<Vec<JobRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {JOB_COLS} FROM program_jobs WHERE status IN ('queued', 'running')"
        ))
        .fetch_all(&self.pool)
        .await?;
        let jobs: Vec<JobRow> = rows.iter().map(job_from_row).collect::<Result<_>>()?;
        for j in &jobs {
            self.end_job(
                &j.id,
                &JobEnd {
                    status: "failed".into(),
                    error: Some(reason.to_owned()),
                    ..JobEnd::default()
                },
            )
            .await?;
        }
        Ok(jobs)
    }

    /// A job by id.
    pub async fn get_job(&self, id: &str) -> Result<Option<JobRow>> {
        let row = sqlx::query(&format!(
            "SELECT {JOB_COLS} FROM program_jobs WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(job_from_row).transpose()
    }

    /// The newest jobs of a program's stack, newest first.
    pub async fn list_jobs(&self, program: &str, stack: &str, limit: i64) -> Result<Vec<JobRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {JOB_COLS} FROM program_jobs WHERE program = $1 AND stack = $2 \
             ORDER BY created DESC, id DESC LIMIT $3"
        ))
        .bind(program)
        .bind(stack)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(job_from_row).collect()
    }

    /// Appends a job's events (`(seq, kind, body)`); a repeated seq is ignored.
    pub async fn add_job_events(&self, id: &str, events: &[(i64, String, String)]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let _w = self.write_lock().await;
        let mut tx = self.pool.begin().await?;
        for (seq, kind, body) in events {
            sqlx::query(
                "INSERT INTO program_job_events (job_id, seq, kind, body) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (job_id, seq) DO NOTHING",
            )
            .bind(id)
            .bind(seq)
            .bind(kind)
            .bind(body)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A job's events after position `after`, in order.
    pub async fn job_events(&self, id: &str, after: i64) -> Result<Vec<(i64, String, String)>> {
        let rows = sqlx::query(
            "SELECT seq, kind, body FROM program_job_events WHERE job_id = $1 AND seq > $2 \
             ORDER BY seq",
        )
        .bind(id)
        .bind(after)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }

    /// A token for the first admin of organization `org`, made for the server's own runs of
    /// the custom API (`description`); earlier tokens with that description are revoked.
    /// Returns the admin's login.
    pub async fn internal_admin_token(
        &self,
        org: &str,
        description: &str,
        value: &str,
    ) -> Result<Option<String>> {
        let row = sqlx::query(
            "SELECT u.id, u.login FROM users u JOIN org_members m ON m.user_id = u.id \
             JOIN organizations o ON o.id = m.org_id WHERE o.name = $1 AND m.role = 'admin' \
             ORDER BY u.created, u.login LIMIT 1",
        )
        .bind(org)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let (user_id, login): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        let _w = self.write_lock().await;
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM tokens WHERE description = $1")
            .bind(description)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO tokens (id, user_id, hash, description, created, last_used) \
             VALUES ($1, $2, $3, $4, $5, 0)",
        )
        .bind(crate::crypto::new_id())
        .bind(&user_id)
        .bind(crate::crypto::token_hash(value))
        .bind(description)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(login))
    }

    /// Whether `user` is an admin of organization `org`.
    pub async fn is_org_admin(&self, user_id: &str, org: &str) -> Result<bool> {
        let row = sqlx::query(
            "SELECT m.role FROM org_members m JOIN organizations o ON o.id = m.org_id \
             WHERE m.user_id = $1 AND o.name = $2",
        )
        .bind(user_id)
        .bind(org)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => r.try_get::<String, _>(0)? == "admin",
            None => false,
        })
    }

    /// Stack names of organization `org`'s project `project`, sorted.
    pub async fn project_stack_names(&self, org: &str, project: &str) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT s.name FROM stacks s JOIN organizations o ON o.id = s.org_id \
             WHERE o.name = $1 AND s.project = $2 ORDER BY s.name",
        )
        .bind(org)
        .bind(project)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }
}
