//! The queue of the custom API's update, preview, refresh, confirmed destroy and burn
//! requests. A request is
//! recorded `queued` with its parameters ([`super::jobs::Jobs::enqueue`]; a burn's config,
//! secrets included, sealed with a data key of its own that the master key wraps); every
//! replica claims queued jobs of the programs it serves (the oldest first, `FOR UPDATE
//! SKIP LOCKED` on PostgreSQL, so replicas claiming at once take different ones) while it
//! runs fewer than its `--max-jobs`, and runs each through the library. The replica that took
//! the request is woken at once; the others look every [`POLL`]. A replica at its limit
//! (or started with `--max-jobs 0`, taking requests but running none) leaves the queue to
//! the others; a request whose replica dies before any claim stays queued for a survivor.
//! A burn's answer is sealed into its job's end, where the replica holding the client's
//! request reads it (every 200 ms); the client going away cancels the burn through the
//! database. A destroy's preview runs where it was asked for (its caller waits for the
//! list of deletions); its plan is kept in the database (`destroy_plans`) for the
//! confirmation to reach any replica, and the confirmed destroy is queued with the plan.

use std::sync::Arc;
use std::time::Duration;

use super::Programs;
use crate::api::AppState;

/// How often a replica looks for queued jobs when nothing woke it.
pub const POLL: Duration = Duration::from_millis(300);

/// Claims and runs queued jobs until the server stops.
pub(super) async fn claim_loop(p: Arc<Programs>, state: Arc<AppState>) {
    let names: Vec<String> = p.programs.keys().cloned().collect();
    loop {
        while !p.jobs.stopping() && p.jobs.running() < crate::replica::max_jobs() {
            match state
                .store
                .claim_queued_job(crate::replica::id(), &names)
                .await
            {
                Ok(Some((row, request))) => {
                    tracing::info!(job = %row.id, kind = %row.kind, program = %row.program, stack = %row.stack, "claimed a queued operation");
                    match row.kind.as_str() {
                        "burn" => super::burn::run_claimed(&p, row, request).await,
                        "destroy" => super::destroy::run_claimed(&p, row, request).await,
                        _ => super::handlers::run_claimed(&p, row, request).await,
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming a queued operation failed");
                    break;
                }
            }
        }
        if p.jobs.stopping() {
            return;
        }
        tokio::select! {
            _ = p.jobs.queued.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}
