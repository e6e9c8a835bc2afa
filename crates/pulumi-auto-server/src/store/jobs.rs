//! The custom API's jobs (`program_jobs`) and their engine events (`program_job_events`),
//! and the replicas that run them (`replicas`): the record of each job's status, the
//! replica that claimed it, summary, masked outputs and error. At most one unfinished job
//! per program stack (a partial unique index, across every replica); jobs of replicas whose
//! heartbeat expired are claimed by a survivor (`FOR UPDATE SKIP LOCKED` on PostgreSQL, a
//! conditional `UPDATE` on both) and failed.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{DbKind, Store};

/// Milliseconds since the Unix epoch (the times of jobs: finer than seconds, so the
/// operations of one second keep their order).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
use crate::error::Result;

/// The description of replica `replica`'s internal token.
pub fn internal_token_description(prefix: &str, replica: &str) -> String {
    format!("{prefix} [replica {replica}]")
}

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
/// The number of columns in [`JOB_COLS`].
const JOB_COL_COUNT: usize = 12;

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
    /// The answer to the request waiting for the job (a burn's), sealed.
    pub answer: Option<String>,
}

impl Store {
    /// Records a new job, `running` and claimed by `replica`. Returns the id of the
    /// unfinished job that holds the stack instead when there is one (burns, on stacks of
    /// their own, never conflict).
    pub async fn insert_running_job(
        &self,
        id: &str,
        program: &str,
        stack: &str,
        kind: &str,
        requested_by: &str,
        replica: &str,
    ) -> Result<Option<String>> {
        self.insert_job(
            id,
            program,
            stack,
            kind,
            requested_by,
            Some(replica),
            None,
            None,
        )
        .await
    }

    /// Records a new job, `queued` with its `request` (JSON) for any replica to claim
    /// ([`Store::claim_queued_job`]), and the replica whose client waits for its answer
    /// (`waiter`, a burn's; see [`Store::cancel_orphaned_jobs`]). Returns the id of the
    /// unfinished job that holds the stack instead when there is one.
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_queued_job(
        &self,
        id: &str,
        program: &str,
        stack: &str,
        kind: &str,
        requested_by: &str,
        request: &str,
        waiter: Option<&str>,
    ) -> Result<Option<String>> {
        self.insert_job(
            id,
            program,
            stack,
            kind,
            requested_by,
            None,
            Some(request),
            waiter,
        )
        .await
    }

    /// Cancels the unfinished jobs whose waiting client was held by a replica with no
    /// heartbeat at or after `cutoff` (no row, or an old one): nobody is left to answer. A
    /// queued one is cancelled at once with `reason`; a running one is marked for its
    /// replica to cancel. Returns the ids of both kinds.
    pub async fn cancel_orphaned_jobs(&self, cutoff: i64, reason: &str) -> Result<Vec<String>> {
        let _w = self.write_lock().await;
        let t = now_ms();
        let orphaned = "waiter IS NOT NULL AND waiter NOT IN \
                        (SELECT id FROM replicas WHERE heartbeat >= $1)";
        let mut tx = self.pool.begin().await?;
        let queued = sqlx::query(&format!(
            "UPDATE program_jobs SET status = 'cancelled', ended = $2, error = $3 \
             WHERE status = 'queued' AND {orphaned} RETURNING id"
        ))
        .bind(cutoff)
        .bind(t)
        .bind(reason)
        .fetch_all(&mut *tx)
        .await?;
        let running = sqlx::query(&format!(
            "UPDATE program_jobs SET cancel_requested = $2 WHERE status = 'running' \
             AND cancel_requested IS NULL AND {orphaned} RETURNING id"
        ))
        .bind(cutoff)
        .bind(t)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        queued
            .iter()
            .chain(&running)
            .map(|r| Ok(r.try_get(0)?))
            .collect()
    }

    #[allow(clippy::too_many_arguments)]
    async fn insert_job(
        &self,
        id: &str,
        program: &str,
        stack: &str,
        kind: &str,
        requested_by: &str,
        replica: Option<&str>,
        request: Option<&str>,
        waiter: Option<&str>,
    ) -> Result<Option<String>> {
        let status = if replica.is_some() {
            "running"
        } else {
            "queued"
        };
        for _ in 0..5 {
            let inserted = {
                let _w = self.write_lock().await;
                let t = now_ms();
                sqlx::query(
                    "INSERT INTO program_jobs (id, program, stack, kind, status, requested_by, \
                     created, claimed_by, started, request, waiter) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING",
                )
                .bind(id)
                .bind(program)
                .bind(stack)
                .bind(kind)
                .bind(status)
                .bind(requested_by)
                .bind(t)
                .bind(replica)
                .bind(replica.map(|_| t))
                .bind(request)
                .bind(waiter)
                .execute(&self.pool)
                .await?
                .rows_affected()
                    == 1
            };
            if inserted {
                return Ok(None);
            }
            let running = sqlx::query(
                "SELECT id FROM program_jobs WHERE program = $1 AND stack = $2 \
                 AND status IN ('queued', 'running') AND kind <> 'burn'",
            )
            .bind(program)
            .bind(stack)
            .fetch_optional(&self.pool)
            .await?;
            if let Some(r) = running {
                return Ok(Some(r.try_get(0)?));
            }
            // The job that held the stack ended in between: try again.
        }
        Err(crate::error::Error::Unavailable(
            "Service Unavailable: the stack's operations change too fast; try again".into(),
        ))
    }

    /// Claims the oldest queued job of one of `programs` for replica `me`: it becomes
    /// `running`, claimed by `me`. On PostgreSQL the row is taken `FOR UPDATE SKIP LOCKED`,
    /// so replicas claiming at once take different jobs; on both databases the conditional
    /// update makes each job claimed once. Returns the job and its request (JSON).
    pub async fn claim_queued_job(
        &self,
        me: &str,
        programs: &[String],
    ) -> Result<Option<(JobRow, Option<String>)>> {
        if programs.is_empty() {
            return Ok(None);
        }
        let _w = self.write_lock().await;
        let mut tx = self.pool.begin().await?;
        let lock = match self.kind {
            DbKind::Postgres => " FOR UPDATE SKIP LOCKED",
            DbKind::Sqlite => "",
        };
        let params: Vec<String> = (1..=programs.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {JOB_COLS}, request FROM program_jobs WHERE status = 'queued' \
             AND program IN ({}) ORDER BY created LIMIT 1{lock}",
            params.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for p in programs {
            q = q.bind(p);
        }
        let Some(row) = q.fetch_optional(&mut *tx).await? else {
            tx.commit().await?;
            return Ok(None);
        };
        let mut job = job_from_row(&row)?;
        let request: Option<String> = row.try_get(JOB_COL_COUNT)?;
        let t = now_ms();
        let r = sqlx::query(
            "UPDATE program_jobs SET status = 'running', claimed_by = $1, started = $2 \
             WHERE id = $3 AND status = 'queued'",
        )
        .bind(me)
        .bind(t)
        .bind(&job.id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if r.rows_affected() != 1 {
            return Ok(None);
        }
        job.status = "running".into();
        job.started = Some(t);
        Ok(Some((job, request)))
    }

    /// Asks for a job's cancel, for a cancel request that reached another replica than
    /// the one running it: a queued job is cancelled at once (`Some("cancelled")`), a
    /// running one marked for its replica to cancel (`Some("cancelling")`); `None` when it
    /// had already ended.
    pub async fn request_cancel(&self, id: &str) -> Result<Option<&'static str>> {
        let _w = self.write_lock().await;
        let t = now_ms();
        let queued = sqlx::query(
            "UPDATE program_jobs SET status = 'cancelled', ended = $1, \
             error = 'cancelled before it started' WHERE id = $2 AND status = 'queued'",
        )
        .bind(t)
        .bind(id)
        .execute(&self.pool)
        .await?;
        if queued.rows_affected() == 1 {
            return Ok(Some("cancelled"));
        }
        let running = sqlx::query(
            "UPDATE program_jobs SET cancel_requested = $1 WHERE id = $2 AND status = 'running'",
        )
        .bind(t)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok((running.rows_affected() == 1).then_some("cancelling"))
    }

    /// Job `id`'s status, and once it has ended its sealed answer (if its run left one)
    /// and its error; `None` for no such job.
    pub async fn job_answer(
        &self,
        id: &str,
    ) -> Result<Option<(String, Option<String>, Option<String>)>> {
        let row = sqlx::query("SELECT status, answer, error FROM program_jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .transpose()
    }

    /// Whether a cancel of job `id` was asked for through another replica.
    pub async fn cancel_requested(&self, id: &str) -> Result<bool> {
        let row = sqlx::query("SELECT cancel_requested FROM program_jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => r.try_get::<Option<i64>, _>(0)?.is_some(),
            None => false,
        })
    }

    /// Registers (or renews) this replica's heartbeat row.
    pub async fn register_replica(&self, id: &str, info: &str) -> Result<()> {
        let _w = self.write_lock().await;
        let t = now_ms();
        sqlx::query(
            "INSERT INTO replicas (id, started, heartbeat, info) VALUES ($1, $2, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET heartbeat = $2",
        )
        .bind(id)
        .bind(t)
        .bind(info)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Renews this replica's heartbeat; false when its row is gone (it was taken for dead).
    pub async fn renew_heartbeat(&self, id: &str) -> Result<bool> {
        let _w = self.write_lock().await;
        let r = sqlx::query("UPDATE replicas SET heartbeat = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Removes this replica's row (a graceful stop, once its jobs are recorded).
    pub async fn remove_replica(&self, id: &str) -> Result<()> {
        let _w = self.write_lock().await;
        sqlx::query("DELETE FROM replicas WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Removes the rows of every replica but `me` (SQLite, whose database one server uses
    /// at a time: every other replica is an earlier run of this one).
    pub async fn forget_other_replicas(&self, me: &str) -> Result<()> {
        let _w = self.write_lock().await;
        sqlx::query("DELETE FROM replicas WHERE id <> $1")
            .bind(me)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The id and info of each replica whose heartbeat is at or after `cutoff` (Unix ms).
    pub async fn live_replica_infos(&self, cutoff: i64) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT id, info FROM replicas WHERE heartbeat >= $1 ORDER BY id")
            .bind(cutoff)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// The ids of the replicas whose heartbeat is at or after `cutoff` (Unix ms).
    pub async fn live_replicas(&self, cutoff: i64) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT id FROM replicas WHERE heartbeat >= $1 ORDER BY id")
            .bind(cutoff)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// Claims the unfinished jobs of dead replicas (no row, or a heartbeat before
    /// `cutoff`), marks them failed with `reason`, and for each stack they held records a
    /// `repair` job claimed by `me` that holds the stack until its repair is done. One
    /// transaction; on PostgreSQL the rows are claimed with `FOR UPDATE SKIP LOCKED`, so
    /// survivors looking at once split them; the conditional updates make each job failed
    /// once on both databases. Returns the failed jobs with the replica each was claimed by,
    /// and the repair jobs (as rows).
    pub async fn reap_dead_jobs(
        &self,
        me: &str,
        cutoff: i64,
        reason: &str,
    ) -> Result<(Vec<(JobRow, String)>, Vec<JobRow>)> {
        let _w = self.write_lock().await;
        let mut tx = self.pool.begin().await?;
        let lock = match self.kind {
            DbKind::Postgres => " FOR UPDATE SKIP LOCKED",
            DbKind::Sqlite => "",
        };
        let rows = sqlx::query(&format!(
            "SELECT {JOB_COLS}, claimed_by FROM program_jobs WHERE status IN ('queued', 'running') \
             AND claimed_by IS NOT NULL AND claimed_by <> $1 AND claimed_by \
             NOT IN (SELECT id FROM replicas WHERE heartbeat >= $2) ORDER BY created{lock}"
        ))
        .bind(me)
        .bind(cutoff)
        .fetch_all(&mut *tx)
        .await?;
        let candidates: Vec<(JobRow, String)> = rows
            .iter()
            .map(|r| Ok((job_from_row(r)?, r.try_get(JOB_COL_COUNT)?)))
            .collect::<Result<_>>()?;
        let (mut failed, mut repairs) = (Vec::new(), Vec::new());
        let t = now_ms();
        for (j, replica) in candidates {
            let r = sqlx::query(
                "UPDATE program_jobs SET status = 'failed', error = $1, ended = $2 \
                 WHERE id = $3 AND status IN ('queued', 'running')",
            )
            .bind(reason)
            .bind(t)
            .bind(&j.id)
            .execute(&mut *tx)
            .await?;
            if r.rows_affected() != 1 {
                continue;
            }
            if j.kind != "burn" {
                let id = crate::crypto::new_id();
                let r = sqlx::query(
                    "INSERT INTO program_jobs (id, program, stack, kind, status, requested_by, \
                     created, claimed_by, started) \
                     VALUES ($1, $2, $3, 'repair', 'running', $4, $5, $6, $5) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(&id)
                .bind(&j.program)
                .bind(&j.stack)
                .bind(&j.requested_by)
                .bind(t)
                .bind(me)
                .execute(&mut *tx)
                .await?;
                if r.rows_affected() == 1 {
                    repairs.push(JobRow {
                        id,
                        program: j.program.clone(),
                        stack: j.stack.clone(),
                        kind: "repair".into(),
                        status: "running".into(),
                        requested_by: j.requested_by.clone(),
                        created: t,
                        started: Some(t),
                        ended: None,
                        summary: None,
                        outputs: None,
                        error: None,
                    });
                }
            }
            failed.push((j, replica));
        }
        // Rows of replicas dead for an hour (their jobs were reaped long ago).
        sqlx::query("DELETE FROM replicas WHERE heartbeat < $1 AND id <> $2")
            .bind(cutoff - 3_600_000)
            .bind(me)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((failed, repairs))
    }

    /// Records how a job ended (unless it already has: a job of this replica that a
    /// survivor failed while this replica had lost its heartbeat keeps that record).
    pub async fn end_job(&self, id: &str, end: &JobEnd) -> Result<()> {
        let _w = self.write_lock().await;
        sqlx::query(
            "UPDATE program_jobs SET status = $1, summary = $2, outputs = $3, error = $4, \
             ended = $5, stack = COALESCE($7, stack), answer = $8 \
             WHERE id = $6 AND status IN ('queued', 'running')",
        )
        .bind(&end.status)
        .bind(&end.summary)
        .bind(&end.outputs)
        .bind(&end.error)
        .bind(now_ms())
        .bind(id)
        .bind(&end.stack)
        .bind(&end.answer)
        .execute(&self.pool)
        .await?;
        Ok(())
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

    /// A token for the first admin of organization `org`, made for replica `replica`'s own
    /// runs of the custom API (described as `prefix [replica ID]`); earlier such tokens of
    /// replicas without a heartbeat since `cutoff` (and of this replica) are revoked, those
    /// of live replicas kept. Returns the admin's login.
    pub async fn internal_admin_token(
        &self,
        org: &str,
        prefix: &str,
        replica: &str,
        cutoff: i64,
        value: &str,
    ) -> Result<Option<String>> {
        let description = internal_token_description(prefix, replica);
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
        sqlx::query(
            "DELETE FROM tokens WHERE description = $1 OR description = $2 OR \
             (description LIKE $3 AND description NOT IN \
             (SELECT $4 || id || ']' FROM replicas WHERE heartbeat >= $5))",
        )
        .bind(&description)
        .bind(prefix)
        .bind(format!("{prefix} [replica %"))
        .bind(format!("{prefix} [replica "))
        .bind(cutoff)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO tokens (id, user_id, hash, description, created, last_used) \
             VALUES ($1, $2, $3, $4, $5, 0)",
        )
        .bind(crate::crypto::new_id())
        .bind(&user_id)
        .bind(crate::crypto::token_hash(value))
        .bind(&description)
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

    /// The stacks of organization `org`'s project `project` with their tags, sorted by name.
    pub async fn project_stack_tags(
        &self,
        org: &str,
        project: &str,
    ) -> Result<Vec<(String, serde_json::Map<String, serde_json::Value>)>> {
        let rows = sqlx::query(
            "SELECT s.name, s.tags FROM stacks s JOIN organizations o ON o.id = s.org_id \
             WHERE o.name = $1 AND s.project = $2 ORDER BY s.name",
        )
        .bind(org)
        .bind(project)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let tags: String = r.try_get(1)?;
                Ok((
                    r.try_get(0)?,
                    serde_json::from_str(&tags).unwrap_or_default(),
                ))
            })
            .collect()
    }

    /// The names of the stacks of `org`'s project `project`.
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

impl Store {
    /// Keeps the stack settings file of a custom API stack (replacing the last one).
    pub async fn put_stack_settings(&self, program: &str, stack: &str, body: &str) -> Result<()> {
        let _w = self.write_lock().await;
        sqlx::query(
            "INSERT INTO program_stack_settings (program, stack, body, updated) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (program, stack) \
             DO UPDATE SET body = $3, updated = $4",
        )
        .bind(program)
        .bind(stack)
        .bind(body)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The kept stack settings file of a custom API stack.
    pub async fn stack_settings(&self, program: &str, stack: &str) -> Result<Option<String>> {
        let row = sqlx::query(
            "SELECT body FROM program_stack_settings WHERE program = $1 AND stack = $2",
        )
        .bind(program)
        .bind(stack)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok(r.try_get(0)?)).transpose()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_column_count_is_that_of_the_column_list() {
        assert_eq!(super::JOB_COLS.split(',').count(), super::JOB_COL_COUNT);
    }
}
