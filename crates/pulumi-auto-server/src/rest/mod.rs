//! The documented Pulumi Service REST API for users, beyond the calls the CLI makes:
//! single tags, stack transfer, organization members, teams and their stack permissions,
//! the caller's access tokens, webhooks, the audit log and the resources under
//! management; [`authorize`], the access control every
//! route (the CLI's own too) passes after authentication; and [`record`], the audit log's
//! middleware.
//!
//! The handlers are thin: they check names and bodies, call the store, and answer the
//! shapes of [`pulumi_auto_types::rest`].

mod access;
mod audit;
mod orgs;
mod stacks;
mod tokens;
mod usage;
mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::routing::{delete, get, post};

use crate::api::AppState;

pub use access::{Need, authorize, need};
pub use audit::{AuditUser, event_name, record};
pub use webhooks::{HookQueue, stack_event, start as start_webhook_delivery, update_event};

/// The REST API's routes (merged into the API router, behind authentication and
/// [`authorize`]).
pub fn routes() -> Router<Arc<AppState>> {
    let stack = "/api/stacks/{org}/{project}/{stack}";
    Router::new()
        .route(&format!("{stack}/tags"), post(stacks::add_tag))
        .route(&format!("{stack}/tags/{{tag}}"), delete(stacks::delete_tag))
        .route(&format!("{stack}/transfer"), post(stacks::transfer))
        .route("/api/orgs/{org}/members", get(orgs::list_members))
        .route(
            "/api/orgs/{org}/members/{login}",
            post(orgs::add_member)
                .patch(orgs::set_member_role)
                .delete(orgs::remove_member),
        )
        .route("/api/orgs/{org}/teams", get(orgs::list_teams))
        .route(
            "/api/orgs/{org}/teams/{team}",
            post(orgs::create_team)
                .get(orgs::get_team)
                .patch(orgs::update_team)
                .delete(orgs::delete_team),
        )
        .route(
            "/api/user/tokens",
            get(tokens::list_tokens).post(tokens::create_token),
        )
        .route("/api/user/tokens/{id}", delete(tokens::delete_token))
        .route("/api/orgs/{org}/auditlogs", get(audit::list))
        .route("/api/orgs/{org}/resources/summary", get(usage::summary))
        .route(
            "/api/orgs/{org}/hooks",
            get(webhooks::list).post(webhooks::create),
        )
        .route(
            "/api/orgs/{org}/hooks/{name}",
            get(webhooks::get_one).delete(webhooks::delete_one),
        )
        .route("/api/orgs/{org}/hooks/{name}/ping", post(webhooks::ping))
        .route(
            "/api/orgs/{org}/hooks/{name}/deliveries",
            get(webhooks::deliveries),
        )
        .route("/api/orgs/{org}/auditlogs/export", get(audit::export))
}
