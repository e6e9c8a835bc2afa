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

use utoipa_axum::routes;

use crate::openapi::ApiRoutes;

pub(crate) use access::take_found;
pub use access::{Need, authorize, need};
pub use audit::{AuditUser, event_name, record};
pub use webhooks::{HookQueue, stack_event, start as start_webhook_delivery, update_event};

/// The REST API's routes (merged into the API router, behind authentication and
/// [`authorize`]).
pub fn routes() -> ApiRoutes {
    ApiRoutes::new()
        .routes(routes!(stacks::add_tag))
        .routes(routes!(stacks::delete_tag))
        .routes(routes!(stacks::transfer))
        .routes(routes!(orgs::list_members))
        .routes(routes!(
            orgs::add_member,
            orgs::set_member_role,
            orgs::remove_member
        ))
        .routes(routes!(orgs::list_teams))
        .routes(routes!(
            orgs::create_team,
            orgs::get_team,
            orgs::update_team,
            orgs::delete_team
        ))
        .routes(routes!(tokens::list_tokens, tokens::create_token))
        .routes(routes!(tokens::delete_token))
        .routes(routes!(audit::list))
        .routes(routes!(usage::summary))
        .routes(routes!(webhooks::list, webhooks::create))
        .routes(routes!(webhooks::get_one, webhooks::delete_one))
        .routes(routes!(webhooks::ping))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(audit::export))
}
