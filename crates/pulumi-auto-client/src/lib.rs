//! A typed client of the Pulumi Service REST API for users: stacks, updates, engine events,
//! organization members, teams and their stack permissions, access tokens, webhooks and
//! the audit log. It speaks to
//! Pulumi Cloud (`https://api.pulumi.com`) and to `pulumi-auto-server` alike, with the shapes
//! of [`pulumi_auto_types::rest`].
//!
//! ```no_run
//! use futures_util::TryStreamExt;
//! use pulumi_auto_client::Client;
//! use pulumi_auto_types::rest::ListStacksQuery;
//!
//! # async fn demo() -> pulumi_auto_client::Result<()> {
//! let client = Client::new("https://api.pulumi.com", std::env::var("PULUMI_ACCESS_TOKEN").unwrap())?;
//! let stacks: Vec<_> = client.stacks(ListStacksQuery::default()).try_collect().await?;
//! for s in &stacks {
//!     let stack = client.get_stack(&s.org_name, &s.project_name, &s.stack_name).await?;
//!     println!("{}/{}/{} v{}", stack.org_name, stack.project_name, stack.stack_name, stack.version);
//! }
//! # Ok(()) }
//! ```
//!
//! - Errors are typed by status ([`Error::Unauthorized`], [`Error::Forbidden`],
//!   [`Error::NotFound`], [`Error::Conflict`], …) and carry the server's message.
//! - Idempotent calls (GET) are retried with backoff on 5xx answers and connection
//!   errors; nothing else is ever sent twice.
//! - Listings that page with continuation tokens are also [`Stream`]s
//!   that follow the tokens.
//! - The token never appears in `Debug` output or in errors.
#![deny(missing_docs)]

mod error;

use std::time::Duration;

use futures_core::Stream;
use pulumi_auto_types::Secret;
use pulumi_auto_types::rest::{
    AccessToken, CreateTeamRequest, CreateTokenRequest, CreateTokenResponse, CreateWebhookRequest,
    LatestPreviewsResponse, ListMembersResponse, ListStacksQuery, ListStacksResponse,
    ListTeamsResponse, ListTokensResponse, ListUpdatesQuery, ListUpdatesResponse,
    MemberRoleRequest, OrganizationMember, Stack, StackRef, StackSummary, StackTag, Team,
    TeamStackPermission, TransferStackRequest, UntypedDeployment, UpdateEventsResponse,
    UpdateResults, UpdateTeamRequest, Webhook, WebhookDelivery,
};
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use error::{Error, Result};

/// The media type the client asks for.
pub const ACCEPT: &str = "application/vnd.pulumi+8";

/// How often and how patiently idempotent calls are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all (1: no retry).
    pub attempts: u32,
    /// The wait before the first retry; doubled for each next one.
    pub backoff: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 4,
            backoff: Duration::from_millis(200),
        }
    }
}

/// A client of one service (`base_url`) with one access token.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Secret,
    retry: Retry,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("token", &self.token)
            .field("retry", &self.retry)
            .finish()
    }
}

/// Checks an organization, project, stack, team or user name: 1 to 100 of
/// `A-Z a-z 0-9 - _ .` (what a path segment may carry unescaped).
fn name(what: &str, s: &str) -> Result<()> {
    let ok = !s.is_empty()
        && s.len() <= 100
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "invalid {what} name (1 to 100 of A-Z, a-z, 0-9, '-', '_', '.')"
        )))
    }
}

/// Checks an id or tag name used as a path segment: 1 to 100 of `A-Z a-z 0-9 - _ . :`.
fn segment(what: &str, s: &str) -> Result<()> {
    let ok = !s.is_empty()
        && s.len() <= 100
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!("invalid {what}")))
    }
}

fn stack_path(org: &str, project: &str, stack: &str) -> Result<String> {
    name("organization", org)?;
    name("project", project)?;
    name("stack", stack)?;
    Ok(format!("/api/stacks/{org}/{project}/{stack}"))
}

/// No query string.
const NO_QUERY: Option<&()> = None;
/// No body.
const NO_BODY: Option<&()> = None;

impl Client {
    /// A client of the service at `base_url` (`https://api.pulumi.com`, or a
    /// `pulumi-auto-server`'s `http://HOST:PORT`) with an access token.
    pub fn new(base_url: &str, token: impl Into<Secret>) -> Result<Client> {
        let token = token.into();
        let t = token.expose();
        if t.is_empty() || t.len() > 512 || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::InvalidInput(
                "the token must be 1 to 512 characters without spaces".into(),
            ));
        }
        let base = base_url.trim_end_matches('/');
        let url = reqwest::Url::parse(base)
            .map_err(|_| Error::InvalidInput("the base URL is not a URL".into()))?;
        if !matches!(url.scheme(), "http" | "https")
            || url.host_str().is_none()
            || !url.username().is_empty()
            || url.password().is_some()
            || url.query().is_some()
        {
            return Err(Error::InvalidInput(
                "the base URL must be http(s)://host[:port][/path], without credentials or query"
                    .into(),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("pulumi-auto-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Transport(e.to_string()))?;
        Ok(Client {
            http,
            base: base.to_owned(),
            token,
            retry: Retry::default(),
        })
    }

    /// The same client with another retry policy.
    pub fn with_retry(mut self, retry: Retry) -> Client {
        self.retry = Retry {
            attempts: retry.attempts.max(1),
            backoff: retry.backoff,
        };
        self
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Sends one request; GET is retried on 5xx and connection errors. The status and body
    /// of the final answer, or the error of a failing status.
    async fn send<Q: Serialize + ?Sized, B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        query: Option<&Q>,
        body: Option<&B>,
    ) -> Result<(u16, String)> {
        let idempotent = method == Method::GET || method == Method::HEAD;
        let attempts = if idempotent { self.retry.attempts } else { 1 };
        let mut wait = self.retry.backoff;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut req = self
                .http
                .request(method.clone(), format!("{}{path}", self.base))
                .header(
                    reqwest::header::AUTHORIZATION,
                    format!("token {}", self.token.expose()),
                )
                .header(reqwest::header::ACCEPT, ACCEPT);
            if let Some(q) = query {
                req = req.query(q);
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            let outcome = match req.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    match resp.text().await {
                        Ok(text) => Ok((status, text)),
                        Err(e) => Err(Error::Transport(e.without_url().to_string())),
                    }
                }
                Err(e) => Err(Error::Transport(e.without_url().to_string())),
            };
            let retryable = match &outcome {
                Ok((status, _)) => *status >= 500,
                Err(_) => true,
            };
            if !retryable || attempt >= attempts {
                let (status, text) = outcome?;
                if status >= 400 {
                    return Err(Error::from_answer(status, &text));
                }
                return Ok((status, text));
            }
            tokio::time::sleep(wait).await;
            wait = wait.saturating_mul(2);
        }
    }

    async fn json<T: DeserializeOwned, Q: Serialize + ?Sized, B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        query: Option<&Q>,
        body: Option<&B>,
    ) -> Result<T> {
        let (_, text) = self.send(method, path, query, body).await?;
        serde_json::from_str(&text).map_err(|e| Error::Decode(e.to_string()))
    }

    async fn unit<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<()> {
        self.send(method, path, NO_QUERY, body).await.map(|_| ())
    }

    // ----- stacks -----

    /// One page of the caller's stacks (`GET /api/user/stacks`).
    pub async fn list_stacks(&self, query: &ListStacksQuery) -> Result<ListStacksResponse> {
        self.json(Method::GET, "/api/user/stacks", Some(query), NO_BODY)
            .await
    }

    /// Every stack matching `query`, following the continuation tokens page by page.
    pub fn stacks(&self, query: ListStacksQuery) -> impl Stream<Item = Result<StackSummary>> + '_ {
        use futures_util::StreamExt;
        let pages = futures_util::stream::try_unfold(Some(query), move |q| async move {
            let Some(q) = q else { return Ok(None) };
            let page = self.list_stacks(&q).await?;
            let next = page.continuation_token.clone().map(|t| ListStacksQuery {
                continuation_token: Some(t),
                ..q
            });
            Ok(Some((page.stacks, next)))
        });
        pages
            .map(|r: Result<Vec<StackSummary>>| match r {
                Ok(v) => futures_util::stream::iter(v.into_iter().map(Ok)).left_stream(),
                Err(e) => futures_util::stream::iter(std::iter::once(Err(e))).right_stream(),
            })
            .flatten()
    }

    /// A stack, with the operation in progress if any.
    pub async fn get_stack(&self, org: &str, project: &str, stack: &str) -> Result<Stack> {
        let p = stack_path(org, project, stack)?;
        self.json(Method::GET, &p, NO_QUERY, NO_BODY).await
    }

    /// The stack's latest state.
    pub async fn export_stack(
        &self,
        org: &str,
        project: &str,
        stack: &str,
    ) -> Result<UntypedDeployment> {
        let p = stack_path(org, project, stack)?;
        self.json(Method::GET, &format!("{p}/export"), NO_QUERY, NO_BODY)
            .await
    }

    /// The stack's state at `version`.
    pub async fn export_stack_version(
        &self,
        org: &str,
        project: &str,
        stack: &str,
        version: i64,
    ) -> Result<UntypedDeployment> {
        let p = stack_path(org, project, stack)?;
        if version < 1 {
            return Err(Error::InvalidInput("the version counts from 1".into()));
        }
        self.json(
            Method::GET,
            &format!("{p}/export/{version}"),
            NO_QUERY,
            NO_BODY,
        )
        .await
    }

    /// Deletes a stack; refused (400) while it has resources unless `force`, and (409) while
    /// an update runs.
    pub async fn delete_stack(
        &self,
        org: &str,
        project: &str,
        stack: &str,
        force: bool,
    ) -> Result<()> {
        let p = stack_path(org, project, stack)?;
        let p = if force { format!("{p}?force=true") } else { p };
        self.unit(Method::DELETE, &p, NO_BODY).await
    }

    /// Sets one tag.
    pub async fn set_stack_tag(
        &self,
        org: &str,
        project: &str,
        stack: &str,
        tag: &StackTag,
    ) -> Result<()> {
        let p = stack_path(org, project, stack)?;
        self.unit(Method::POST, &format!("{p}/tags"), Some(tag))
            .await
    }

    /// Deletes one tag.
    pub async fn delete_stack_tag(
        &self,
        org: &str,
        project: &str,
        stack: &str,
        tag: &str,
    ) -> Result<()> {
        let p = stack_path(org, project, stack)?;
        segment("tag name", tag)?;
        self.unit(Method::DELETE, &format!("{p}/tags/{tag}"), NO_BODY)
            .await
    }

    /// Moves a stack to another organization (409 while an update runs).
    pub async fn transfer_stack(
        &self,
        org: &str,
        project: &str,
        stack: &str,
        to_org: &str,
    ) -> Result<()> {
        let p = stack_path(org, project, stack)?;
        name("organization", to_org)?;
        self.unit(
            Method::POST,
            &format!("{p}/transfer"),
            Some(&TransferStackRequest {
                to_org: to_org.to_owned(),
            }),
        )
        .await
    }

    // ----- updates -----

    /// A page of the stack's updates, newest first.
    pub async fn list_updates(
        &self,
        org: &str,
        project: &str,
        stack: &str,
        query: &ListUpdatesQuery,
    ) -> Result<ListUpdatesResponse> {
        let p = stack_path(org, project, stack)?;
        self.json(Method::GET, &format!("{p}/updates"), Some(query), NO_BODY)
            .await
    }

    /// The status of one update.
    pub async fn update_status(
        &self,
        org: &str,
        project: &str,
        stack: &str,
        update_id: &str,
    ) -> Result<UpdateResults> {
        let p = stack_path(org, project, stack)?;
        segment("update id", update_id)?;
        self.json(
            Method::GET,
            &format!("{p}/update/{update_id}"),
            NO_QUERY,
            NO_BODY,
        )
        .await
    }

    /// One page of an update's engine events, after `continuation_token`.
    pub async fn update_events_page(
        &self,
        org: &str,
        project: &str,
        stack: &str,
        update_id: &str,
        continuation_token: Option<&str>,
    ) -> Result<UpdateEventsResponse> {
        let p = stack_path(org, project, stack)?;
        segment("update id", update_id)?;
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Q<'a> {
            continuation_token: &'a str,
        }
        let q = continuation_token.map(|t| Q {
            continuation_token: t,
        });
        self.json(
            Method::GET,
            &format!("{p}/update/{update_id}/events"),
            q.as_ref(),
            NO_BODY,
        )
        .await
    }

    /// Every engine event of an update, in order, following the continuation tokens. It ends
    /// when the server gives no token (the update is over and every event was read) or a
    /// page brings nothing new (the update still runs: call again later with the last
    /// event's position, or use [`Client::update_events_page`]).
    pub fn update_events<'a>(
        &'a self,
        org: &'a str,
        project: &'a str,
        stack: &'a str,
        update_id: &'a str,
    ) -> impl Stream<Item = Result<serde_json::Value>> + 'a {
        use futures_util::StreamExt;
        let pages = futures_util::stream::try_unfold(
            (true, None::<String>),
            move |(go, token)| async move {
                if !go {
                    return Ok(None);
                }
                let page = self
                    .update_events_page(org, project, stack, update_id, token.as_deref())
                    .await?;
                let more = page.continuation_token.is_some() && !page.events.is_empty();
                Ok(Some((page.events, (more, page.continuation_token))))
            },
        );
        pages
            .map(|r: Result<Vec<serde_json::Value>>| match r {
                Ok(v) => futures_util::stream::iter(v.into_iter().map(Ok)).left_stream(),
                Err(e) => futures_util::stream::iter(std::iter::once(Err(e))).right_stream(),
            })
            .flatten()
    }

    /// The previews since the stack's last update, newest first.
    pub async fn latest_previews(
        &self,
        org: &str,
        project: &str,
        stack: &str,
    ) -> Result<LatestPreviewsResponse> {
        let p = stack_path(org, project, stack)?;
        self.json(
            Method::GET,
            &format!("{p}/updates/latest/previews"),
            NO_QUERY,
            NO_BODY,
        )
        .await
    }

    // ----- organizations -----

    /// The organization's members.
    pub async fn list_members(&self, org: &str) -> Result<ListMembersResponse> {
        name("organization", org)?;
        self.json(
            Method::GET,
            &format!("/api/orgs/{org}/members"),
            Some(&[("type", "backend")]),
            NO_BODY,
        )
        .await
    }

    /// Adds a member with `role` (`admin` or `member`). Pulumi Cloud documents an empty
    /// answer: then the member returned is the login and role asked for (other fields empty).
    pub async fn add_member(
        &self,
        org: &str,
        login: &str,
        role: &str,
    ) -> Result<OrganizationMember> {
        name("organization", org)?;
        name("user", login)?;
        let (_, text) = self
            .send(
                Method::POST,
                &format!("/api/orgs/{org}/members/{login}"),
                NO_QUERY,
                Some(&MemberRoleRequest { role: role.into() }),
            )
            .await?;
        member_answer(&text, login, role)
    }

    /// Changes a member's role (an empty answer, as Pulumi Cloud documents: see
    /// [`Client::add_member`]).
    pub async fn set_member_role(
        &self,
        org: &str,
        login: &str,
        role: &str,
    ) -> Result<OrganizationMember> {
        name("organization", org)?;
        name("user", login)?;
        let (_, text) = self
            .send(
                Method::PATCH,
                &format!("/api/orgs/{org}/members/{login}"),
                NO_QUERY,
                Some(&MemberRoleRequest { role: role.into() }),
            )
            .await?;
        member_answer(&text, login, role)
    }

    /// Removes a member.
    pub async fn remove_member(&self, org: &str, login: &str) -> Result<()> {
        name("organization", org)?;
        name("user", login)?;
        self.unit(
            Method::DELETE,
            &format!("/api/orgs/{org}/members/{login}"),
            NO_BODY,
        )
        .await
    }

    /// The organization's teams.
    pub async fn list_teams(&self, org: &str) -> Result<ListTeamsResponse> {
        name("organization", org)?;
        self.json(
            Method::GET,
            &format!("/api/orgs/{org}/teams"),
            NO_QUERY,
            NO_BODY,
        )
        .await
    }

    /// A team with its members and stacks.
    pub async fn get_team(&self, org: &str, team: &str) -> Result<Team> {
        name("organization", org)?;
        name("team", team)?;
        self.json(
            Method::GET,
            &format!("/api/orgs/{org}/teams/{team}"),
            NO_QUERY,
            NO_BODY,
        )
        .await
    }

    /// Creates a (Pulumi-managed) team.
    pub async fn create_team(&self, org: &str, req: &CreateTeamRequest) -> Result<Team> {
        name("organization", org)?;
        name("team", &req.name)?;
        self.json(
            Method::POST,
            &format!("/api/orgs/{org}/teams/pulumi"),
            NO_QUERY,
            Some(req),
        )
        .await
    }

    /// Deletes a team.
    pub async fn delete_team(&self, org: &str, team: &str) -> Result<()> {
        name("organization", org)?;
        name("team", team)?;
        self.unit(
            Method::DELETE,
            &format!("/api/orgs/{org}/teams/{team}"),
            NO_BODY,
        )
        .await
    }

    /// One change of a team.
    pub async fn update_team(
        &self,
        org: &str,
        team: &str,
        change: &UpdateTeamRequest,
    ) -> Result<()> {
        name("organization", org)?;
        name("team", team)?;
        self.unit(
            Method::PATCH,
            &format!("/api/orgs/{org}/teams/{team}"),
            Some(change),
        )
        .await
    }

    /// Adds a member to a team.
    pub async fn add_team_member(&self, org: &str, team: &str, login: &str) -> Result<()> {
        self.update_team(
            org,
            team,
            &UpdateTeamRequest {
                member_action: Some("add".into()),
                member: Some(login.into()),
                ..Default::default()
            },
        )
        .await
    }

    /// Takes a member out of a team.
    pub async fn remove_team_member(&self, org: &str, team: &str, login: &str) -> Result<()> {
        self.update_team(
            org,
            team,
            &UpdateTeamRequest {
                member_action: Some("remove".into()),
                member: Some(login.into()),
                ..Default::default()
            },
        )
        .await
    }

    /// Gives a team a permission (101 read, 102 edit, 103 admin) on a stack.
    pub async fn set_team_stack_permission(
        &self,
        org: &str,
        team: &str,
        permission: &TeamStackPermission,
    ) -> Result<()> {
        self.update_team(
            org,
            team,
            &UpdateTeamRequest {
                add_stack_permission: Some(permission.clone()),
                ..Default::default()
            },
        )
        .await
    }

    /// Takes a stack away from a team.
    pub async fn remove_team_stack(&self, org: &str, team: &str, stack: &StackRef) -> Result<()> {
        self.update_team(
            org,
            team,
            &UpdateTeamRequest {
                remove_stack: Some(stack.clone()),
                ..Default::default()
            },
        )
        .await
    }

    // ----- webhooks -----

    /// Creates a webhook of the organization; the answer never holds its secret.
    pub async fn create_webhook(&self, org: &str, req: &CreateWebhookRequest) -> Result<Webhook> {
        name("organization", org)?;
        self.json(
            Method::POST,
            &format!("/api/orgs/{org}/hooks"),
            NO_QUERY,
            Some(req),
        )
        .await
    }

    /// The organization's webhooks.
    pub async fn list_webhooks(&self, org: &str) -> Result<Vec<Webhook>> {
        name("organization", org)?;
        self.json(
            Method::GET,
            &format!("/api/orgs/{org}/hooks"),
            NO_QUERY,
            NO_BODY,
        )
        .await
    }

    /// One webhook.
    pub async fn get_webhook(&self, org: &str, hook: &str) -> Result<Webhook> {
        name("organization", org)?;
        name("webhook", hook)?;
        self.json(
            Method::GET,
            &format!("/api/orgs/{org}/hooks/{hook}"),
            NO_QUERY,
            NO_BODY,
        )
        .await
    }

    /// Deletes a webhook.
    pub async fn delete_webhook(&self, org: &str, hook: &str) -> Result<()> {
        name("organization", org)?;
        name("webhook", hook)?;
        self.unit(
            Method::DELETE,
            &format!("/api/orgs/{org}/hooks/{hook}"),
            NO_BODY,
        )
        .await
    }

    /// Sends a ping delivery now; the delivery.
    pub async fn ping_webhook(&self, org: &str, hook: &str) -> Result<WebhookDelivery> {
        name("organization", org)?;
        name("webhook", hook)?;
        self.json(
            Method::POST,
            &format!("/api/orgs/{org}/hooks/{hook}/ping"),
            NO_QUERY,
            NO_BODY,
        )
        .await
    }

    /// A webhook's deliveries, newest first.
    pub async fn webhook_deliveries(&self, org: &str, hook: &str) -> Result<Vec<WebhookDelivery>> {
        name("organization", org)?;
        name("webhook", hook)?;
        self.json(
            Method::GET,
            &format!("/api/orgs/{org}/hooks/{hook}/deliveries"),
            NO_QUERY,
            NO_BODY,
        )
        .await
    }

    // ----- audit log -----

    /// One page of the organization's audit log, newest first: entries older than
    /// `start_time` (Unix seconds), of `user` only, after `continuation_token`.
    pub async fn audit_log(
        &self,
        org: &str,
        start_time: Option<i64>,
        user: Option<&str>,
        continuation_token: Option<&str>,
    ) -> Result<pulumi_auto_types::rest::ListAuditLogEventsResponse> {
        name("organization", org)?;
        let mut q: Vec<(&str, String)> = Vec::new();
        if let Some(t) = start_time {
            q.push(("startTime", t.to_string()));
        }
        if let Some(u) = user {
            name("user", u)?;
            q.push(("userFilter", u.to_owned()));
        }
        if let Some(t) = continuation_token {
            q.push(("continuationToken", t.to_owned()));
        }
        self.json(
            Method::GET,
            &format!("/api/orgs/{org}/auditlogs"),
            Some(&q),
            NO_BODY,
        )
        .await
    }

    // ----- access tokens -----

    /// The caller's tokens.
    pub async fn list_tokens(&self) -> Result<Vec<AccessToken>> {
        let r: ListTokensResponse = self
            .json(Method::GET, "/api/user/tokens", NO_QUERY, NO_BODY)
            .await?;
        Ok(r.tokens)
    }

    /// Creates a token; its value is in the answer only.
    pub async fn create_token(&self, description: &str) -> Result<CreateTokenResponse> {
        self.json(
            Method::POST,
            "/api/user/tokens",
            NO_QUERY,
            Some(&CreateTokenRequest {
                description: description.into(),
            }),
        )
        .await
    }

    /// Revokes one of the caller's tokens.
    pub async fn delete_token(&self, id: &str) -> Result<()> {
        segment("token id", id)?;
        self.unit(Method::DELETE, &format!("/api/user/tokens/{id}"), NO_BODY)
            .await
    }
}

/// The member an add or role change answered, or (for an empty answer) the one asked for.
fn member_answer(text: &str, login: &str, role: &str) -> Result<OrganizationMember> {
    if text.trim().is_empty() {
        return Ok(OrganizationMember {
            role: role.to_owned(),
            user: pulumi_auto_types::rest::UserInfo {
                github_login: login.to_owned(),
                ..Default::default()
            },
            ..Default::default()
        });
    }
    serde_json::from_str(text).map_err(|e| Error::Decode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_input_is_refused_and_the_token_never_shows() {
        let c = Client::new("http://127.0.0.1:1/", "tok-very-secret-123").unwrap();
        assert_eq!(c.base_url(), "http://127.0.0.1:1");
        assert!(!format!("{c:?}").contains("very-secret"));
        for bad in ["ftp://x", "http://u:p@x", "not a url", "http://x/?a=1"] {
            assert!(
                matches!(Client::new(bad, "t"), Err(Error::InvalidInput(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            Client::new("http://x", ""),
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            Client::new("http://x", "a b"),
            Err(Error::InvalidInput(_))
        ));
        assert!(stack_path("o", "p", "../x").is_err());
        assert!(stack_path("o", "p/q", "s").is_err());
        assert!(stack_path("o", "p", "s").is_ok());
    }
}
