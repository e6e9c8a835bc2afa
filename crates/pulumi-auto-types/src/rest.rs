//! The request and response shapes of the Pulumi Service REST API that Pulumi documents for
//! end users (stacks, updates, engine events, organizations, teams, access tokens, webhooks,
//! audit logs, resource counts), as Pulumi Cloud (`https://api.pulumi.com`) and
//! `pulumi-auto-server` both answer them.
//!
//! Field names follow the wire format (camelCase, as in pulumi's `sdk/go/common/apitype`);
//! every field a server may leave out is `#[serde(default)]`, so the shapes read answers of
//! either server. Deployments and engine events are kept as [`serde_json::Value`]: their
//! schemas are the CLI's and are passed through unchanged.
//!
//! ```
//! use pulumi_auto_types::rest::ListStacksResponse;
//! let page: ListStacksResponse = serde_json::from_str(
//!     r#"{"stacks":[{"orgName":"acme","projectName":"web","stackName":"dev",
//!          "lastUpdate":1700000000,"resourceCount":4}],"continuationToken":"abc"}"#,
//! ).unwrap();
//! assert_eq!(page.stacks[0].stack_name, "dev");
//! assert_eq!(page.continuation_token.as_deref(), Some("abc"));
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::Secret;

/// The body of every error answer: `{"code": <HTTP status>, "message": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorResponse {
    /// The HTTP status code.
    pub code: u16,
    /// A message for a human.
    pub message: String,
}

// ----- stacks -----

/// One stack of a listing (`GET /api/user/stacks`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct StackSummary {
    /// The organization's name.
    pub org_name: String,
    /// The project's name.
    pub project_name: String,
    /// The stack's name.
    pub stack_name: String,
    /// When its last update ended (Unix seconds), if it was ever updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update: Option<i64>,
    /// Resources in its latest checkpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_count: Option<i64>,
}

/// A page of stacks; follow `continuation_token` for the next.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ListStacksResponse {
    /// The stacks of this page.
    pub stacks: Vec<StackSummary>,
    /// Present when more stacks follow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuation_token: Option<String>,
}

/// The filters of a stack listing; all optional.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(rename_all = "camelCase")]
pub struct ListStacksQuery {
    /// Only stacks of this organization.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// Only stacks of this project.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Only stacks with this tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag_name: Option<String>,
    /// … whose value is this (with `tag_name`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag_value: Option<String>,
    /// Where the previous page ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub continuation_token: Option<String>,
}

/// What runs on a stack right now.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OperationStatus {
    /// The update kind (`update`, `preview`, `refresh`, `destroy`, `import`).
    pub kind: String,
    /// Who started it.
    pub author: String,
    /// When it started (Unix seconds).
    pub started: i64,
}

/// A stack (`GET /api/stacks/{org}/{project}/{stack}`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Stack {
    /// The organization's name.
    pub org_name: String,
    /// The project's name.
    pub project_name: String,
    /// The stack's name.
    pub stack_name: String,
    /// The operation in progress, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_operation: Option<OperationStatus>,
    /// The id of the stack's latest state-writing update (empty if none).
    #[serde(default)]
    pub active_update: String,
    /// The stack's tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// The stack's version (how many state-writing updates it has had).
    #[serde(default)]
    pub version: i64,
}

/// A stack's state (`GET …/export`, `…/export/{version}`): `{version, deployment}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UntypedDeployment {
    /// The deployment schema version (3).
    #[serde(default)]
    pub version: i64,
    /// Features the deployment uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<String>>,
    /// The deployment (`manifest`, `secrets_providers`, `resources`, …) as the CLI wrote it.
    #[serde(default)]
    pub deployment: Value,
}

/// `POST …/tags`: adds or changes one tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StackTag {
    /// The tag's name.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// `POST …/transfer`: moves a stack to another organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TransferStackRequest {
    /// The organization to move the stack to.
    pub to_org: String,
}

// ----- updates -----

/// What an update did (the `info` of an update listing).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UpdateInfo {
    /// `update`, `preview`, `refresh`, `destroy`, `import`.
    pub kind: String,
    /// When it started (Unix seconds).
    #[serde(default)]
    pub start_time: i64,
    /// The update's message.
    #[serde(default)]
    pub message: String,
    /// The environment the CLI reported (`git.head`, `exec.kind`, …).
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// The config the update ran with (`{"key": {"string", "secret", "object"}}`).
    #[serde(default)]
    pub config: Value,
    /// `not-started`, `in-progress`, `succeeded`, `failed`.
    #[serde(default)]
    pub result: String,
    /// When it ended (Unix seconds, 0 while it runs).
    #[serde(default)]
    pub end_time: i64,
    /// The stack version it wrote.
    #[serde(default)]
    pub version: i64,
    /// Resource changes by operation (`create`, `same`, `update`, `delete`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_changes: Option<BTreeMap<String, i64>>,
    /// Resources after the update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_count: Option<i64>,
}

/// A user as other users see them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UserInfo {
    /// The display name.
    #[serde(default)]
    pub name: String,
    /// The login.
    pub github_login: String,
    /// An avatar URL (may be empty).
    #[serde(default)]
    pub avatar_url: String,
    /// The e-mail address (admin-only answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// One update of a stack's history (`GET …/updates`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UpdateSummary {
    /// What the update did.
    pub info: UpdateInfo,
    /// The update's id.
    #[serde(rename = "updateID")]
    pub update_id: String,
    /// The stack version it wrote.
    #[serde(default)]
    pub version: i64,
    /// The stack's newest version.
    #[serde(default)]
    pub latest_version: i64,
    /// Who asked for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<UserInfo>,
    /// The policy packs that ran.
    #[serde(default)]
    pub policy_packs: Vec<Value>,
}

/// A page of a stack's updates, newest first.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ListUpdatesResponse {
    /// The updates of this page.
    pub updates: Vec<UpdateSummary>,
    /// The page size used.
    #[serde(default)]
    pub items_per_page: i64,
    /// How many updates the stack has in all.
    #[serde(default)]
    pub total: i64,
}

/// The paging of an update listing.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(rename_all = "camelCase")]
pub struct ListUpdatesQuery {
    /// The page, from 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<i64>,
    /// Updates a page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_size: Option<i64>,
    /// `service` (the documented shape) or `cli`.
    #[serde(rename = "output-type", skip_serializing_if = "Option::is_none")]
    pub output_type: Option<String>,
}

/// An update's status (`GET …/update/{updateID}`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UpdateResults {
    /// `not started`, `running`, `succeeded`, `failed`, `cancelled`.
    pub status: String,
    /// Log events (this server keeps none: the engine events are under `…/events`).
    #[serde(default)]
    pub events: Vec<Value>,
    /// Present while the update runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuation_token: Option<String>,
}

/// A page of an update's engine events, in order (`GET …/update/{updateID}/events`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UpdateEventsResponse {
    /// Engine events as the CLI uploaded them (`sequence`, `timestamp`, and one payload).
    pub events: Vec<Value>,
    /// Present while more events may follow (more pages, or the update still runs).
    #[serde(default)]
    pub continuation_token: Option<String>,
}

/// The previews since a stack's last update (`GET …/updates/latest/previews`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LatestPreviewsResponse {
    /// The previews, newest first.
    pub updates: Vec<StackPreview>,
}

/// One preview.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StackPreview {
    /// The preview's id.
    #[serde(rename = "updateID")]
    pub update_id: String,
    /// What it did.
    #[serde(default)]
    pub info: UpdateInfo,
}

// ----- organizations, members, teams -----

/// A member of an organization.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct OrganizationMember {
    /// `admin` or `member`.
    pub role: String,
    /// The user.
    pub user: UserInfo,
    /// Whether the user has a Pulumi account (always true here).
    #[serde(default)]
    pub known_to_pulumi: bool,
    /// Whether the user is an admin by another route than their role.
    #[serde(default)]
    pub virtual_admin: bool,
}

/// The members of an organization.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ListMembersResponse {
    /// The members.
    pub members: Vec<OrganizationMember>,
    /// Present when more members follow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuation_token: Option<String>,
}

/// `POST|PATCH /api/orgs/{org}/members/{login}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberRoleRequest {
    /// `admin` or `member`.
    pub role: String,
}

/// A team's stack permission: 101 read, 102 edit (adds updates, tags, config), 103 admin
/// (adds delete, rename, transfer, destroy).
pub mod permission {
    /// Read: get, list, export, updates and events.
    pub const READ: i64 = 101;
    /// Edit: read, plus updates, previews, refreshes, imports, tags, config, secrets.
    pub const EDIT: i64 = 102;
    /// Admin: edit, plus destroy, delete, rename and transfer.
    pub const ADMIN: i64 = 103;
}

/// A stack a team reaches, and how.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TeamStackPermission {
    /// The project's name.
    pub project_name: String,
    /// The stack's name.
    pub stack_name: String,
    /// 101 read, 102 edit, 103 admin.
    pub permission: i64,
}

/// A team.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Team {
    /// `pulumi` (managed here) or `github`.
    #[serde(default)]
    pub kind: String,
    /// The team's name.
    pub name: String,
    /// Its display name.
    #[serde(default)]
    pub display_name: String,
    /// Its description.
    #[serde(default)]
    pub description: String,
    /// Its members (in the answer for one team).
    #[serde(default)]
    pub members: Vec<UserInfo>,
    /// The stacks it reaches (in the answer for one team).
    #[serde(default)]
    pub stacks: Vec<TeamStackPermission>,
}

/// The teams of an organization.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ListTeamsResponse {
    /// The teams.
    pub teams: Vec<Team>,
}

/// `POST /api/orgs/{org}/teams/pulumi`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CreateTeamRequest {
    /// The team's name.
    pub name: String,
    /// Its display name.
    #[serde(default)]
    pub display_name: String,
    /// Its description.
    #[serde(default)]
    pub description: String,
}

/// The stack of a permission change.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct StackRef {
    /// The project's name.
    pub project_name: String,
    /// The stack's name.
    pub stack_name: String,
}

/// `PATCH /api/orgs/{org}/teams/{team}`: one change of a team (set exactly one part).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UpdateTeamRequest {
    /// `add` or `remove` (with `member`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_action: Option<String>,
    /// The login of the member to add or remove.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// Gives the team a permission on a stack (replacing one it had).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_stack_permission: Option<TeamStackPermission>,
    /// Takes a stack away from the team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove_stack: Option<StackRef>,
}

// ----- access tokens -----

/// An access token's public facts (its value is never shown again).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AccessToken {
    /// The token's id.
    pub id: String,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// When it was last used (Unix seconds, 0: never).
    #[serde(default)]
    pub last_used: i64,
}

/// The caller's access tokens.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ListTokensResponse {
    /// The tokens.
    pub tokens: Vec<AccessToken>,
}

/// `POST /api/user/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateTokenRequest {
    /// What the token is for.
    pub description: String,
}

/// A new token: its value, shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CreateTokenResponse {
    /// The token's id.
    pub id: String,
    /// The token's value (redacted in `Debug`).
    #[serde(deserialize_with = "secret_string")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub token_value: Secret,
}

fn secret_string<'de, D: Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
    String::deserialize(d).map(Secret::new)
}

// ----- webhooks -----

/// `POST /api/orgs/{org}/hooks`.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CreateWebhookRequest {
    /// The organization.
    pub organization_name: String,
    /// A name for humans.
    pub display_name: String,
    /// Where deliveries are POSTed (`http` or `https`).
    pub payload_url: String,
    /// The HMAC-SHA256 key of `Pulumi-Webhook-Signature` (never returned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Whether deliveries are sent.
    #[serde(default)]
    pub active: bool,
}

impl std::fmt::Debug for CreateWebhookRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateWebhookRequest")
            .field("organization_name", &self.organization_name)
            .field("display_name", &self.display_name)
            .field("payload_url", &self.payload_url)
            .field(
                "secret",
                &self.secret.as_ref().map(|_| crate::secret::REDACTED),
            )
            .field("active", &self.active)
            .finish()
    }
}

/// A webhook (its secret is never part of it).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    /// The organization.
    pub organization_name: String,
    /// The webhook's name (its id).
    pub name: String,
    /// A name for humans.
    #[serde(default)]
    pub display_name: String,
    /// Where deliveries go.
    pub payload_url: String,
    /// Whether deliveries are sent.
    #[serde(default)]
    pub active: bool,
    /// Whether deliveries are signed.
    #[serde(default)]
    pub has_secret: bool,
}

/// One delivery of a webhook, or its ping.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WebhookDelivery {
    /// The delivery's id.
    pub id: String,
    /// `ping`, `stack`, `update`, …
    pub kind: String,
    /// The body sent.
    #[serde(default)]
    pub payload: String,
    /// When it was sent (Unix seconds).
    #[serde(default)]
    pub timestamp: i64,
    /// How long it took (milliseconds).
    #[serde(default)]
    pub duration: i64,
    /// The URL it went to.
    #[serde(default)]
    pub request_url: String,
    /// The request headers, as text.
    #[serde(default)]
    pub request_headers: String,
    /// The receiver's status (0: no answer).
    #[serde(default)]
    pub response_code: i64,
    /// The receiver's headers, as text.
    #[serde(default)]
    pub response_headers: String,
    /// The receiver's body (truncated).
    #[serde(default)]
    pub response_body: String,
}

// ----- audit log, resources -----

/// One audit-log entry.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AuditLogEvent {
    /// When (Unix seconds).
    pub timestamp: i64,
    /// The caller's address.
    #[serde(default, rename = "sourceIP")]
    pub source_ip: String,
    /// What happened (`stack.create`, `auth.failure`, …).
    pub event: String,
    /// A sentence about it.
    #[serde(default)]
    pub description: String,
    /// Who.
    #[serde(default)]
    pub user: UserInfo,
}

/// A page of the audit log, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ListAuditLogEventsResponse {
    /// The entries.
    pub audit_log_events: Vec<AuditLogEvent>,
    /// Present when older entries follow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuation_token: Option<String>,
}

/// The resources under management in one period.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ResourceCountSummary {
    /// The year.
    pub year: i32,
    /// The month (1 to 12), for daily, weekly… granularities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub month: Option<u32>,
    /// The day of the month.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<u32>,
    /// The ISO week.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub week_number: Option<u32>,
    /// The hour (0 to 23).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hour: Option<u32>,
    /// The resources under management.
    pub resources: i64,
}

/// `GET /api/orgs/{org}/resources/summary`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResourceSummaryResponse {
    /// One entry a period, oldest first.
    pub summary: Vec<ResourceCountSummary>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_value_is_redacted_in_debug() {
        let r: CreateTokenResponse =
            serde_json::from_str(r#"{"id":"t1","tokenValue":"pul-abcdef0123"}"#).unwrap();
        assert_eq!(r.token_value.expose(), "pul-abcdef0123");
        assert!(!format!("{r:?}").contains("abcdef"));
        let w = CreateWebhookRequest {
            secret: Some("hook-secret-1".into()),
            ..Default::default()
        };
        assert!(!format!("{w:?}").contains("hook-secret-1"));
    }

    #[test]
    fn stack_reads_a_minimal_answer() {
        let s: Stack = serde_json::from_str(
            r#"{"orgName":"o","projectName":"p","stackName":"s","activeUpdate":"",
                "currentOperation":{"kind":"update","author":"a","started":5}}"#,
        )
        .unwrap();
        assert_eq!(s.current_operation.unwrap().kind, "update");
        assert!(s.tags.is_empty());
    }
}
