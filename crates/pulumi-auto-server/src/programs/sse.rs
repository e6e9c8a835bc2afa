//! `GET …/updates/{id}/events/stream`: a job's engine events as Server-Sent Events. Each
//! event's `id` is its position in the job (1, 2, …) and its `event` the payload's name
//! (`resourcePreEvent`, …); a client that sends `Last-Event-ID: N` (as `EventSource` does
//! on reconnecting) gets the events after N, so nothing is lost or repeated; a client that
//! joins late gets the backlog first. The stream ends with an `event: status` whose data is
//! the job's final status.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Extension, Path, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream;
use serde_json::json;

use super::Programs;
use super::authz::{Action, On, allow};
use super::handlers::Res;
use super::jobs::{Ev, Job};
use crate::api::{AppState, Auth};
use crate::error::Error;
use crate::store::job_status_is_final;

/// The position a reconnecting client last saw (`Last-Event-ID`), 0 when none.
pub fn last_event_id(headers: &HeaderMap) -> i64 {
    headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<i64>().ok())
        .filter(|n| *n >= 0)
        .unwrap_or(0)
}

fn event(e: &Ev) -> Event {
    Event::default()
        .id(e.seq.to_string())
        .event(&e.kind)
        .data(&e.body)
}

fn status_event(id: &str, status: &str, error: Option<&str>) -> Event {
    Event::default()
        .event("status")
        .data(json!({"updateId": id, "status": status, "error": error}).to_string())
}

enum Source {
    /// A job this server runs: read from memory.
    Live(Arc<Job>, tokio::sync::watch::Receiver<u64>),
    /// A finished job, or one another server runs: read from the database.
    Stored,
}

struct Reader {
    state: Arc<AppState>,
    id: String,
    source: Source,
    last: i64,
    pending: VecDeque<Event>,
    done: bool,
}

impl Reader {
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Reader)> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Some((Ok(e), self));
            }
            if self.done {
                return None;
            }
            match &mut self.source {
                Source::Live(job, rx) => {
                    rx.borrow_and_update();
                    let (evs, end) = job.read(self.last);
                    if let Some(last) = evs.last() {
                        self.last = last.seq;
                        self.pending.extend(evs.iter().map(event));
                        continue;
                    }
                    if let Some(end) = end {
                        self.pending.push_back(status_event(
                            &self.id,
                            &end.status,
                            end.error.as_deref(),
                        ));
                        self.done = true;
                        continue;
                    }
                    if rx.changed().await.is_err() {
                        self.source = Source::Stored;
                    }
                }
                Source::Stored => {
                    let evs = match self.state.store.job_events(&self.id, self.last).await {
                        Ok(v) => v,
                        Err(_) => return None,
                    };
                    if let Some((seq, _, _)) = evs.last() {
                        self.last = *seq;
                        self.pending.extend(
                            evs.into_iter()
                                .map(|(seq, kind, body)| event(&Ev { seq, kind, body })),
                        );
                        continue;
                    }
                    match self.state.store.get_job(&self.id).await {
                        Ok(Some(j)) if job_status_is_final(&j.status) => {
                            // Events written after the last read and before the end.
                            let more = self.state.store.job_events(&self.id, self.last).await;
                            if let Ok(more) = more
                                && !more.is_empty()
                            {
                                for (seq, kind, body) in more {
                                    self.last = seq;
                                    self.pending.push_back(event(&Ev { seq, kind, body }));
                                }
                                continue;
                            }
                            self.pending.push_back(status_event(
                                &self.id,
                                &j.status,
                                j.error.as_deref(),
                            ));
                            self.done = true;
                        }
                        Ok(Some(_)) => tokio::time::sleep(Duration::from_millis(300)).await,
                        _ => return None,
                    }
                }
            }
        }
    }
}

/// The handler.
#[utoipa::path(
    get,
    path = "/api/programs/{program}/stacks/{stack}/updates/{id}/events/stream",
    tag = "programs",
    responses(
        (status = 200, description = "Server-Sent Events: the operation's engine events as they come", body = String, content_type = "text/event-stream"),
    ),
)]
pub async fn stream(
    State(state): State<Arc<AppState>>,
    Extension(auth): Extension<Auth>,
    Path((program, stack, id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Res {
    let p = Programs::of(&state)?;
    let g = p.program(&program)?;
    allow(&state, &auth, &p.org, On::Stack(g, &stack), Action::Read).await?;
    let row = state.store.get_job(&id).await?;
    if !row
        .as_ref()
        .is_some_and(|j| j.program == g.name && j.stack == stack)
    {
        return Err(
            Error::not_found(format!("Not Found: no update {id:?} of stack {stack:?}")).into(),
        );
    }
    let source = match p.jobs.live(&id) {
        Some(job) => {
            let rx = job.subscribe();
            Source::Live(job, rx)
        }
        None => Source::Stored,
    };
    let reader = Reader {
        state: state.clone(),
        id,
        source,
        last: last_event_id(&headers),
        pending: VecDeque::new(),
        done: false,
    };
    let s = stream::unfold(reader, Reader::next);
    Ok(Sse::new(s)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_event_ids() {
        let mut h = HeaderMap::new();
        assert_eq!(last_event_id(&h), 0);
        h.insert("last-event-id", "17".parse().unwrap());
        assert_eq!(last_event_id(&h), 17);
        h.insert("last-event-id", "-3".parse().unwrap());
        assert_eq!(last_event_id(&h), 0);
        h.insert("last-event-id", "x".parse().unwrap());
        assert_eq!(last_event_id(&h), 0);
    }
}
