//! Organizations: members (roles `admin` and `member`), teams, and the teams' stack
//! permissions. Reading is for members; every change is for admins (the access layer
//! checks both before these run).

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pulumi_auto_types::rest::{
    CreateTeamRequest, ListMembersResponse, ListTeamsResponse, MemberRoleRequest,
    OrganizationMember, Team, TeamStackPermission, UpdateTeamRequest, UserInfo, permission,
};

use crate::api::{AppState, Auth, org_of, parse_json, read_body, valid_name};
use crate::error::{Error, Result};
use crate::store::{Org, TeamRow, User};

type Shared = Arc<AppState>;

fn user_info(u: &User) -> UserInfo {
    UserInfo {
        name: u.name.clone(),
        github_login: u.login.clone(),
        avatar_url: String::new(),
        email: (!u.email.is_empty()).then(|| u.email.clone()),
    }
}

fn check(what: &str, s: &str) -> Result<()> {
    if valid_name(s) {
        Ok(())
    } else {
        Err(Error::bad_request(format!(
            "Bad Request: invalid {what} (1 to 100 of A-Z, a-z, 0-9, '-', '_', '.')"
        )))
    }
}

fn check_role(role: &str) -> Result<()> {
    if matches!(role, "admin" | "member") {
        Ok(())
    } else {
        Err(Error::bad_request(
            "Bad Request: role must be admin or member",
        ))
    }
}

async fn org(state: &AppState, auth: &Auth, org: &str) -> Result<Org> {
    org_of(state, auth.user()?, org).await
}

async fn member_json(state: &AppState, o: &Org, login: &str) -> Result<Response> {
    let m = state
        .store
        .list_members(o)
        .await?
        .into_iter()
        .find(|m| m.user.login == login)
        .ok_or_else(|| Error::not_found("Not Found: no such member"))?;
    Ok(Json(OrganizationMember {
        role: m.role,
        user: user_info(&m.user),
        known_to_pulumi: true,
        virtual_admin: false,
    })
    .into_response())
}

/// GET /api/orgs/{org}/members
#[utoipa::path(
    get,
    path = "/api/orgs/{org}/members",
    tag = "organizations",
    responses((status = 200, description = "OK", body = ListMembersResponse)),
)]
pub async fn list_members(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path(o): Path<String>,
) -> Result<Response> {
    let o = org(&state, &auth, &o).await?;
    let members = state
        .store
        .list_members(&o)
        .await?
        .into_iter()
        .map(|m| OrganizationMember {
            role: m.role,
            user: user_info(&m.user),
            known_to_pulumi: true,
            virtual_admin: false,
        })
        .collect();
    Ok(Json(ListMembersResponse {
        members,
        continuation_token: None,
    })
    .into_response())
}

fn role_of(bytes: &[u8]) -> Result<String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok("member".into());
    }
    let req: MemberRoleRequest = parse_json(bytes)?;
    check_role(&req.role)?;
    Ok(req.role)
}

/// POST /api/orgs/{org}/members/{login} `{role}`: adds a member (the server makes the user
/// when it does not know them; `pulumi-auto-server token create --user` gives them a token).
#[utoipa::path(
    post,
    path = "/api/orgs/{org}/members/{login}",
    tag = "organizations",
    request_body = MemberRoleRequest,
    responses((status = 200, description = "OK", body = OrganizationMember)),
)]
pub async fn add_member(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path((o, login)): Path<(String, String)>,
    body: Body,
) -> Result<Response> {
    let o = org(&state, &auth, &o).await?;
    check("login", &login)?;
    let role = role_of(&read_body(body, 64 * 1024).await?)?;
    state.store.add_member(&o, &login, &role).await?;
    member_json(&state, &o, &login).await
}

/// PATCH /api/orgs/{org}/members/{login} `{role}`
#[utoipa::path(
    patch,
    path = "/api/orgs/{org}/members/{login}",
    tag = "organizations",
    request_body = MemberRoleRequest,
    responses((status = 200, description = "OK", body = OrganizationMember)),
)]
pub async fn set_member_role(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path((o, login)): Path<(String, String)>,
    body: Body,
) -> Result<Response> {
    let o = org(&state, &auth, &o).await?;
    check("login", &login)?;
    let bytes = read_body(body, 64 * 1024).await?;
    let req: MemberRoleRequest = parse_json(&bytes)?;
    check_role(&req.role)?;
    state.store.set_member_role(&o, &login, &req.role).await?;
    member_json(&state, &o, &login).await
}

/// DELETE /api/orgs/{org}/members/{login}
#[utoipa::path(
    delete,
    path = "/api/orgs/{org}/members/{login}",
    tag = "organizations",
    responses((status = 204, description = "No content")),
)]
pub async fn remove_member(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path((o, login)): Path<(String, String)>,
) -> Result<Response> {
    let o = org(&state, &auth, &o).await?;
    check("login", &login)?;
    state.store.remove_member(&o, &login).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn team_json(t: &TeamRow) -> Team {
    Team {
        kind: t.kind.clone(),
        name: t.name.clone(),
        display_name: t.display_name.clone(),
        description: t.description.clone(),
        members: Vec::new(),
        stacks: Vec::new(),
    }
}

/// GET /api/orgs/{org}/teams
#[utoipa::path(
    get,
    path = "/api/orgs/{org}/teams",
    tag = "teams",
    responses((status = 200, description = "OK", body = ListTeamsResponse)),
)]
pub async fn list_teams(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path(o): Path<String>,
) -> Result<Response> {
    let o = org(&state, &auth, &o).await?;
    let teams = state.store.list_teams(&o).await?;
    Ok(Json(ListTeamsResponse {
        teams: teams.iter().map(team_json).collect(),
    })
    .into_response())
}

async fn team_of(state: &AppState, o: &Org, name: &str) -> Result<TeamRow> {
    check("team name", name)?;
    state
        .store
        .get_team(o, name)
        .await?
        .ok_or_else(|| Error::not_found(format!("Not Found: team '{name}' not found")))
}

/// GET /api/orgs/{org}/teams/{team}: the team with its members and stacks.
#[utoipa::path(
    get,
    path = "/api/orgs/{org}/teams/{team}",
    tag = "teams",
    responses((status = 200, description = "OK", body = Team)),
)]
pub async fn get_team(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path((o, name)): Path<(String, String)>,
) -> Result<Response> {
    let o = org(&state, &auth, &o).await?;
    let t = team_of(&state, &o, &name).await?;
    let mut team = team_json(&t);
    team.members = state
        .store
        .team_members(&t)
        .await?
        .iter()
        .map(user_info)
        .collect();
    team.stacks = state
        .store
        .team_stacks(&t)
        .await?
        .into_iter()
        .map(
            |(project_name, stack_name, permission)| TeamStackPermission {
                project_name,
                stack_name,
                permission,
            },
        )
        .collect();
    Ok(Json(team).into_response())
}

/// POST /api/orgs/{org}/teams/pulumi `{name, displayName, description}` → 201, the team.
/// GitHub teams (`…/teams/github`) are not supported: 400.
#[utoipa::path(
    post,
    path = "/api/orgs/{org}/teams/{team}",
    tag = "teams",
    request_body = CreateTeamRequest,
    responses((status = 201, description = "Created", body = Team)),
)]
pub async fn create_team(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path((o, kind)): Path<(String, String)>,
    body: Body,
) -> Result<Response> {
    let o = org(&state, &auth, &o).await?;
    if kind != "pulumi" {
        return Err(Error::bad_request(
            "Bad Request: only pulumi teams can be created here (POST …/teams/pulumi)",
        ));
    }
    let bytes = read_body(body, 64 * 1024).await?;
    let req: CreateTeamRequest = parse_json(&bytes)?;
    check("team name", &req.name)?;
    for (what, s) in [
        ("displayName", &req.display_name),
        ("description", &req.description),
    ] {
        if s.chars().count() > 1000 || s.contains(char::is_control) {
            return Err(Error::bad_request(format!(
                "Bad Request: {what} must be at most 1000 characters, no control characters"
            )));
        }
    }
    state
        .store
        .create_team(&o, "pulumi", &req.name, &req.display_name, &req.description)
        .await?;
    let t = team_of(&state, &o, &req.name).await?;
    Ok((StatusCode::CREATED, Json(team_json(&t))).into_response())
}

/// DELETE /api/orgs/{org}/teams/{team}
#[utoipa::path(
    delete,
    path = "/api/orgs/{org}/teams/{team}",
    tag = "teams",
    responses((status = 204, description = "No content")),
)]
pub async fn delete_team(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path((o, name)): Path<(String, String)>,
) -> Result<Response> {
    let o = org(&state, &auth, &o).await?;
    let t = team_of(&state, &o, &name).await?;
    state.store.delete_team(&t).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// PATCH /api/orgs/{org}/teams/{team}: exactly one of `{memberAction, member}`,
/// `{addStackPermission: {projectName, stackName, permission}}`, `{removeStack:
/// {projectName, stackName}}`. 204.
#[utoipa::path(
    patch,
    path = "/api/orgs/{org}/teams/{team}",
    tag = "teams",
    request_body = UpdateTeamRequest,
    responses((status = 204, description = "No content")),
)]
pub async fn update_team(
    State(state): State<Shared>,
    Extension(auth): Extension<Auth>,
    Path((o, name)): Path<(String, String)>,
    body: Body,
) -> Result<Response> {
    let o = org(&state, &auth, &o).await?;
    let t = team_of(&state, &o, &name).await?;
    let bytes = read_body(body, 64 * 1024).await?;
    let req: UpdateTeamRequest = parse_json(&bytes)?;
    let parts = usize::from(req.member_action.is_some() || req.member.is_some())
        + usize::from(req.add_stack_permission.is_some())
        + usize::from(req.remove_stack.is_some());
    if parts != 1 {
        return Err(Error::bad_request(
            "Bad Request: give exactly one of memberAction+member, addStackPermission, removeStack",
        ));
    }
    let stack = |project: &str, stack: &str| {
        let state = state.clone();
        let o = o.clone();
        let (project, stack) = (project.to_owned(), stack.to_owned());
        async move {
            check("project name", &project)?;
            check("stack name", &stack)?;
            state
                .store
                .get_stack(&o, &project, &stack)
                .await?
                .ok_or_else(|| {
                    Error::not_found(format!(
                        "Not Found: stack '{}/{project}/{stack}' not found",
                        o.name
                    ))
                })
        }
    };
    if let Some(p) = &req.add_stack_permission {
        if !(permission::READ..=permission::ADMIN).contains(&p.permission) {
            return Err(Error::bad_request(
                "Bad Request: permission must be 101 (read), 102 (edit) or 103 (admin)",
            ));
        }
        let s = stack(&p.project_name, &p.stack_name).await?;
        state
            .store
            .team_set_permission(&t, &s, p.permission)
            .await?;
    } else if let Some(r) = &req.remove_stack {
        let s = stack(&r.project_name, &r.stack_name).await?;
        state.store.team_remove_stack(&t, &s).await?;
    } else {
        let (Some(action), Some(member)) = (req.member_action.as_deref(), req.member.as_deref())
        else {
            return Err(Error::bad_request(
                "Bad Request: memberAction and member go together",
            ));
        };
        check("login", member)?;
        match action {
            "add" => state.store.team_add_member(&o, &t, member).await?,
            "remove" => state.store.team_remove_member(&o, &t, member).await?,
            _ => {
                return Err(Error::bad_request(
                    "Bad Request: memberAction must be add or remove",
                ));
            }
        }
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
