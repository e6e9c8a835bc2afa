//! Access control: what each route needs ([`need`], a pure function of the method and
//! path) and the middleware that enforces it ([`authorize`]).
//!
//! An organization admin may do everything in the organization. A member reaches a stack
//! only through a team permission: 101 read (get, list, export, updates, events), 102 edit
//! (adds updates, previews, refreshes, imports, tags, config, encrypt/decrypt, cancel), 103
//! admin (adds destroy, delete, rename, transfer). Creating stacks, and changing members,
//! teams and permissions, is for admins. Denied is 403 `{code, message}`; a stack the caller
//! may not read is 404 with the text of a missing stack. Calls under an update's lease
//! (`update-token`) are bound to their own update by the handlers and pass.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use pulumi_auto_types::rest::permission::{ADMIN, EDIT, READ};

use crate::api::{AppState, Auth};
use crate::error::Error;

/// What a route needs of its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// Only a valid token (the caller's own things: `/api/user…`, capabilities).
    Nothing,
    /// Membership of the organization.
    OrgMember(String),
    /// The admin role in the organization.
    OrgAdmin(String),
    /// A permission (101, 102, 103) on a stack.
    Stack {
        /// The organization.
        org: String,
        /// The project.
        project: String,
        /// The stack.
        stack: String,
        /// The permission needed.
        level: i64,
    },
}

/// What the route `method path` needs. Path segments are compared as sent: a segment that
/// is percent-encoded names no stack, so it gets no permission (denial is the default).
pub fn need(method: &Method, path: &str) -> Need {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let read_method = method == Method::GET || method == Method::HEAD;
    match segs.as_slice() {
        ["api", "stacks", org] => Need::OrgMember((*org).to_owned()),
        ["api", "stacks", org, _project] => {
            if read_method {
                Need::OrgMember((*org).to_owned())
            } else {
                Need::OrgAdmin((*org).to_owned())
            }
        }
        ["api", "stacks", org, project, stack, rest @ ..] => {
            let level = match rest {
                [] if method == Method::DELETE => ADMIN,
                ["rename"] | ["transfer"] => ADMIN,
                ["destroy"] if method == Method::POST => ADMIN,
                _ if read_method => READ,
                _ => EDIT,
            };
            Need::Stack {
                org: (*org).to_owned(),
                project: (*project).to_owned(),
                stack: (*stack).to_owned(),
                level,
            }
        }
        ["api", "orgs", org, rest @ ..] => {
            let member_read = matches!(
                rest,
                [] | ["members"] | ["teams"] | ["teams", _] | ["resources", "summary"]
            );
            if read_method && member_read {
                Need::OrgMember((*org).to_owned())
            } else {
                Need::OrgAdmin((*org).to_owned())
            }
        }
        _ => Need::Nothing,
    }
}

fn level_name(level: i64) -> &'static str {
    match level {
        READ => "read (101)",
        EDIT => "edit (102)",
        _ => "admin (103)",
    }
}

/// The middleware: checks the authenticated caller against [`need`] before the handler
/// runs.
pub async fn authorize(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let user = match req.extensions().get::<Auth>() {
        Some(Auth::User(u)) => u.clone(),
        // Lease tokens: the handlers bind them to their own running update.
        _ => return next.run(req).await,
    };
    let who = super::audit::AuditUser {
        login: user.login.clone(),
        name: user.name.clone(),
    };
    let mut resp = check(&state, &user, req, next).await;
    resp.extensions_mut().insert(who);
    resp
}

async fn check(state: &AppState, user: &crate::store::User, req: Request, next: Next) -> Response {
    let need = need(req.method(), req.uri().path());
    let (org, stack, level) = match &need {
        Need::Nothing => return next.run(req).await,
        Need::OrgMember(o) | Need::OrgAdmin(o) => (o, None, 0),
        Need::Stack {
            org,
            project,
            stack,
            level,
        } => (org, Some((project.as_str(), stack.as_str())), *level),
    };
    let access = match state.store.access(user, org, stack).await {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let Some(role) = access.role.as_deref() else {
        return Error::not_found(format!("Not Found: organization '{org}' not found"))
            .into_response();
    };
    let admin = role == "admin";
    let denied = match (&need, stack) {
        (Need::OrgAdmin(_), _) if !admin => Some(Error::Forbidden(
            "Forbidden: this needs the organization's admin role".into(),
        )),
        (Need::Stack { .. }, Some(_)) if admin && !access.stack_exists => None,
        (Need::Stack { .. }, Some((project, name))) => {
            if !access.stack_exists || access.permission < READ {
                Some(Error::not_found(format!(
                    "Not Found: stack '{org}/{project}/{name}' not found"
                )))
            } else if access.permission < level {
                Some(Error::Forbidden(format!(
                    "Forbidden: this needs the {} permission on the stack",
                    level_name(level)
                )))
            } else {
                None
            }
        }
        _ => None,
    };
    match denied {
        Some(e) => e.into_response(),
        None => next.run(req).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack_level(m: Method, p: &str) -> i64 {
        match need(&m, p) {
            Need::Stack { level, .. } => level,
            other => panic!("{m} {p}: {other:?}"),
        }
    }

    #[test]
    fn each_route_needs_its_permission() {
        let s = "/api/stacks/o/p/s";
        assert_eq!(stack_level(Method::GET, s), READ);
        assert_eq!(stack_level(Method::DELETE, s), ADMIN);
        assert_eq!(stack_level(Method::GET, &format!("{s}/export/3")), READ);
        assert_eq!(
            stack_level(Method::GET, &format!("{s}/update/u/events")),
            READ
        );
        for edit in [
            "update", "preview", "refresh", "import", "encrypt", "decrypt",
        ] {
            assert_eq!(stack_level(Method::POST, &format!("{s}/{edit}")), EDIT);
        }
        assert_eq!(stack_level(Method::PATCH, &format!("{s}/tags")), EDIT);
        assert_eq!(stack_level(Method::DELETE, &format!("{s}/tags/t")), EDIT);
        assert_eq!(stack_level(Method::PUT, &format!("{s}/config")), EDIT);
        assert_eq!(stack_level(Method::POST, &format!("{s}/update/u")), EDIT);
        assert_eq!(
            stack_level(Method::POST, &format!("{s}/update/u/cancel")),
            EDIT
        );
        for admin in ["destroy", "rename", "transfer"] {
            assert_eq!(stack_level(Method::POST, &format!("{s}/{admin}")), ADMIN);
        }
        assert_eq!(
            need(&Method::POST, "/api/stacks/o/p"),
            Need::OrgAdmin("o".into())
        );
        assert_eq!(
            need(&Method::HEAD, "/api/stacks/o/p"),
            Need::OrgMember("o".into())
        );
        assert_eq!(
            need(&Method::GET, "/api/orgs/o/members"),
            Need::OrgMember("o".into())
        );
        assert_eq!(
            need(&Method::GET, "/api/orgs/o/auditlogs"),
            Need::OrgAdmin("o".into())
        );
        assert_eq!(
            need(&Method::PATCH, "/api/orgs/o/teams/t"),
            Need::OrgAdmin("o".into())
        );
        assert_eq!(need(&Method::GET, "/api/user/stacks"), Need::Nothing);
        assert_eq!(need(&Method::POST, "/api/user/tokens"), Need::Nothing);
    }
}
