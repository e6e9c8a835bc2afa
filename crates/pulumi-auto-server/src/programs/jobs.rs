//! Operations as jobs: one at a time per stack across every replica (a second one is a 409
//! with the running job's id: the database's partial unique index on unfinished jobs),
//! recorded in the database (`program_jobs`, claimed by this replica as it is inserted),
//! their engine events kept in memory for live readers and written to
//! `program_job_events` as they come (where readers on other replicas find them), cancelled
//! gracefully on request or at shutdown. This replica's heartbeat keeps its jobs its own;
//! the jobs of a replica whose heartbeat expired are failed by a survivor, which repairs
//! their stacks (see [`super::prepare`]).

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pulumi_auto::Secret;
use pulumi_auto::events::EngineEvent;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::api::AppState;
use crate::error::{CONCURRENT_UPDATE, Error};
use crate::store::JobEnd;

/// One engine event of a job: its position (1, 2, …; the SSE id), its type
/// (`resourcePreEvent`, …) and its JSON as the CLI wrote it (secrets masked by the engine).
#[derive(Debug, Clone)]
pub struct Ev {
    /// Position in the job, from 1.
    pub seq: i64,
    /// The payload's name.
    pub kind: String,
    /// The event's JSON.
    pub body: String,
}

/// How a job ended, as readers see it.
#[derive(Debug, Clone)]
pub struct Final {
    /// succeeded, failed, cancelled or refused.
    pub status: String,
    /// Why it did not succeed.
    pub error: Option<String>,
}

#[derive(Default)]
struct JobState {
    events: Vec<Ev>,
    persisted: usize,
    end: Option<Final>,
}

/// A job this server runs.
pub struct Job {
    /// Its id.
    pub id: String,
    /// The program.
    pub program: String,
    /// The stack.
    pub stack: String,
    /// What it does.
    pub kind: String,
    /// Cancels it (the library sends SIGINT, then escalates).
    pub cancel: CancellationToken,
    state: Mutex<JobState>,
    changed: watch::Sender<u64>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("stack", &self.stack)
            .finish_non_exhaustive()
    }
}

impl Job {
    /// Records an engine event (called from the operation's event callback).
    pub fn push(&self, ev: &EngineEvent) {
        let body = ev.to_json().to_string();
        let kind = ev.name().to_owned();
        if let Ok(mut s) = self.state.lock() {
            let seq = s.events.len() as i64 + 1;
            s.events.push(Ev { seq, kind, body });
        }
        self.changed.send_modify(|n| *n += 1);
    }

    /// The events after position `after`, and the end once every event is read.
    pub fn read(&self, after: i64) -> (Vec<Ev>, Option<Final>) {
        match self.state.lock() {
            Ok(s) => {
                let from = (after.max(0) as usize).min(s.events.len());
                (s.events[from..].to_vec(), s.end.clone())
            }
            Err(_) => (
                Vec::new(),
                Some(Final {
                    status: "failed".into(),
                    error: None,
                }),
            ),
        }
    }

    /// A receiver that changes with every event and at the end.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// The event callback of the job's operation.
    pub fn sink(self: &Arc<Self>) -> impl Fn(&EngineEvent) + Send + Sync + 'static {
        let job = self.clone();
        move |ev| job.push(ev)
    }
}

/// Why a job could not begin.
#[derive(Debug)]
pub enum ApiError {
    /// The stack runs another operation: 409 with the documented message and its id.
    Busy(String),
    /// Any other error.
    Other(Error),
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError::Other(e)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::Other(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Busy(id) => (
                StatusCode::CONFLICT,
                Json(serde_json::json!({
                    "code": 409,
                    "message": CONCURRENT_UPDATE,
                    "updateId": id,
                })),
            )
                .into_response(),
            ApiError::Other(e) => e.into_response(),
        }
    }
}

/// The jobs of this server.
pub struct Jobs {
    state: Arc<AppState>,
    live: Mutex<HashMap<String, Arc<Job>>>,
    shutting_down: AtomicBool,
    tracker: TaskTracker,
    /// Wakes this replica's claimer ([`super::queue`]) when a job was queued here.
    pub(super) queued: tokio::sync::Notify,
}

/// A library error's text for a client or the record: secrets given in the request
/// redacted (the library already redacts the workspace's), at most 8 KiB.
pub fn error_text(e: &pulumi_auto::Error, secrets: &[Secret]) -> String {
    let text = pulumi_auto::secret::redact(&e.to_string(), secrets);
    if text.len() <= 8192 {
        return text;
    }
    let mut end = 8192;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// How a library operation's result ends a job: errors that are cancellations are
/// `cancelled`, destroy refusals `refused`, others `failed`.
pub fn end_of<T>(
    res: pulumi_auto::Result<T>,
    secrets: &[Secret],
    ok: impl FnOnce(T) -> JobEnd,
) -> JobEnd {
    match res {
        Ok(v) => ok(v),
        Err(e) => JobEnd {
            status: match &e {
                pulumi_auto::Error::Cancelled { .. } => "cancelled",
                pulumi_auto::Error::DestroyRefused { .. } => "refused",
                _ => "failed",
            }
            .into(),
            error: Some(error_text(&e, secrets)),
            ..JobEnd::default()
        },
    }
}

impl Jobs {
    /// No jobs yet.
    pub fn new(state: Arc<AppState>) -> Jobs {
        Jobs {
            state,
            live: Default::default(),
            shutting_down: AtomicBool::new(false),
            tracker: TaskTracker::new(),
            queued: tokio::sync::Notify::new(),
        }
    }

    /// Begins a job of `kind` on `program`'s `stack` for `user`: refused with 409 (and the
    /// running job's id) while the stack runs another on any replica, 503 once the server
    /// is stopping. Every kind but `burn` holds the stack (`exclusive` says the same:
    /// burns run on ephemeral stacks of their own).
    pub async fn begin(
        &self,
        program: &str,
        stack: &str,
        kind: &str,
        user: &str,
        exclusive: bool,
    ) -> Result<Arc<Job>, ApiError> {
        if self.shutting_down.load(Ordering::SeqCst) {
            return Err(
                Error::Unavailable("Service Unavailable: the server is stopping".into()).into(),
            );
        }
        debug_assert_eq!(exclusive, kind != "burn");
        let id = crate::crypto::new_id();
        let store = &self.state.store;
        if let Some(running) = store
            .insert_running_job(&id, program, stack, kind, user, crate::replica::id())
            .await?
        {
            return Err(ApiError::Busy(running));
        }
        Ok(self.adopt(&id, program, stack, kind))
    }

    /// Queues a job of `kind` on `program`'s `stack` for `user` with its `request` (JSON),
    /// for this replica or any other to claim and run ([`super::queue`]): 409 (with the
    /// unfinished job's id) while the stack has another, 503 once the server is stopping.
    /// Returns the job's id.
    pub async fn enqueue(
        &self,
        program: &str,
        stack: &str,
        kind: &str,
        user: &str,
        request: &str,
    ) -> Result<String, ApiError> {
        let id = crate::crypto::new_id();
        self.enqueue_as(&id, program, stack, kind, user, request, false)
            .await?;
        Ok(id)
    }

    /// [`enqueue`](Self::enqueue) under the id `id` the caller made (a burn seals its
    /// request with a key bound to it). `waited_here`: this replica holds a client
    /// waiting for the job's answer, so the job is cancelled should this replica die.
    #[allow(clippy::too_many_arguments)]
    pub async fn enqueue_as(
        &self,
        id: &str,
        program: &str,
        stack: &str,
        kind: &str,
        user: &str,
        request: &str,
        waited_here: bool,
    ) -> Result<(), ApiError> {
        if self.shutting_down.load(Ordering::SeqCst) {
            return Err(
                Error::Unavailable("Service Unavailable: the server is stopping".into()).into(),
            );
        }
        let id = id.to_owned();
        if let Some(running) = self
            .state
            .store
            .insert_queued_job(
                &id,
                program,
                stack,
                kind,
                user,
                request,
                waited_here.then(crate::replica::id),
            )
            .await?
        {
            return Err(ApiError::Busy(running));
        }
        self.queued.notify_one();
        Ok(())
    }

    /// The number of jobs this replica runs now.
    pub fn running(&self) -> usize {
        self.live.lock().map(|l| l.len()).unwrap_or(usize::MAX)
    }

    /// Makes job `id`, claimed by this replica in the database, one this replica runs:
    /// kept in memory for live readers, its events written to the database as they come
    /// (where a reader that joins after its end, or on another replica, finds them), and a
    /// cancel asked for through another replica honoured.
    pub fn adopt(&self, id: &str, program: &str, stack: &str, kind: &str) -> Arc<Job> {
        let id = id.to_owned();
        let (changed, _) = watch::channel(0);
        let job = Arc::new(Job {
            id: id.clone(),
            program: program.to_owned(),
            stack: stack.to_owned(),
            kind: kind.to_owned(),
            cancel: CancellationToken::new(),
            state: Mutex::new(JobState::default()),
            changed,
        });
        if let Ok(mut live) = self.live.lock() {
            live.insert(id, job.clone());
        }
        // Writes the events to the database as they come (a reader that joins after the
        // job's end, or another server, reads them there).
        {
            let (job, state) = (job.clone(), self.state.clone());
            let mut rx = job.subscribe();
            self.tracker.spawn(async move {
                let mut asked = std::time::Instant::now();
                loop {
                    flush(&state, &job).await;
                    // A cancel asked for through another replica, looked for twice a second.
                    if !job.cancel.is_cancelled()
                        && asked.elapsed() >= Duration::from_millis(500)
                        && {
                            asked = std::time::Instant::now();
                            state.store.cancel_requested(&job.id).await.unwrap_or(false)
                        }
                    {
                        tracing::info!(job = %job.id, "cancelling the operation, as asked through another replica (SIGINT first)");
                        job.cancel.cancel();
                    }
                    if job.read(i64::MAX).1.is_some() {
                        break;
                    }
                    let _ = tokio::time::timeout(Duration::from_millis(500), rx.changed()).await;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            });
        }
        job
    }

    /// The server's state.
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// A job this server runs now.
    pub fn live(&self, id: &str) -> Option<Arc<Job>> {
        self.live.lock().ok()?.get(id).cloned()
    }

    /// Runs `op` as the job's task (tracked, so shutdown waits for it) and records how it
    /// ended.
    pub fn run(
        self: &Arc<Self>,
        job: Arc<Job>,
        op: impl Future<Output = JobEnd> + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let jobs = self.clone();
        self.tracker.spawn(async move {
            let end = op.await;
            jobs.finish(&job, end).await;
        })
    }

    /// Records a job's end: its last events, its row, then tells the readers and frees
    /// the stack.
    pub async fn finish(&self, job: &Arc<Job>, end: JobEnd) {
        flush(&self.state, job).await;
        // Until the end is recorded the stack stays held (on every replica): retried for
        // two minutes through a database outage.
        for attempt in 0..60 {
            match self.state.store.end_job(&job.id, &end).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(job = %job.id, attempt, error = %e, "recording a job's end failed");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
        tracing::info!(job = %job.id, kind = %job.kind, stack = %end.stack.as_deref().unwrap_or(&job.stack), status = %end.status, "operation ended");
        if let Ok(mut s) = job.state.lock() {
            s.end = Some(Final {
                status: end.status.clone(),
                error: end.error.clone(),
            });
        }
        job.changed.send_modify(|n| *n += 1);
        if let Ok(mut live) = self.live.lock() {
            live.remove(&job.id);
        }
    }

    /// Cancels every job this replica runs (it lost its heartbeat: survivors take them
    /// for dead and repair their stacks).
    pub fn cancel_all(&self) {
        if let Ok(l) = self.live.lock() {
            for j in l.values() {
                j.cancel.cancel();
            }
        }
    }

    /// Runs `fut` as a task tracked with the jobs (shutdown waits for it).
    pub fn spawn(&self, fut: impl Future<Output = ()> + Send + 'static) {
        self.tracker.spawn(fut);
    }

    /// Whether the server is stopping.
    pub fn stopping(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// Refuses new jobs, cancels the running ones and waits (up to 2 minutes: the
    /// library's escalation ends a stuck CLI within 40 s) until each has been recorded.
    pub async fn shut_down(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        let live: Vec<Arc<Job>> = match self.live.lock() {
            Ok(l) => l.values().cloned().collect(),
            Err(_) => Vec::new(),
        };
        if !live.is_empty() {
            tracing::info!(jobs = live.len(), "cancelling the running operations");
        }
        for j in &live {
            j.cancel.cancel();
        }
        self.tracker.close();
        if tokio::time::timeout(Duration::from_secs(120), self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("some operations did not end within 2 minutes of the shutdown");
        }
    }
}

/// Writes a job's events not yet in the database.
async fn flush(state: &AppState, job: &Job) {
    let (from, batch): (usize, Vec<(i64, String, String)>) = match job.state.lock() {
        Ok(s) => (
            s.persisted,
            s.events[s.persisted..]
                .iter()
                .map(|e| (e.seq, e.kind.clone(), e.body.clone()))
                .collect(),
        ),
        Err(_) => return,
    };
    if batch.is_empty() {
        return;
    }
    let n = batch.len();
    match state.store.add_job_events(&job.id, &batch).await {
        Ok(()) => {
            if let Ok(mut s) = job.state.lock() {
                s.persisted = s.persisted.max(from + n);
            }
        }
        Err(e) => tracing::warn!(job = %job.id, error = %e, "writing a job's events failed"),
    }
}
