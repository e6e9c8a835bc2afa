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

use std::cell::RefCell;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use pulumi_auto_types::rest::permission::{ADMIN, EDIT, READ};

use crate::api::{AppState, Auth};
use crate::error::Error;
use crate::store::{Org, StackRow, User};

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

async fn check(state: &AppState, user: &User, req: Request, next: Next) -> Response {
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
    match (denied, access.found) {
        (Some(e), _) => e.into_response(),
        (None, Some((org, stack))) => {
            let found = Found {
                user_id: user.id.clone(),
                org,
                stack,
            };
            FOUND.scope(RefCell::new(Some(found)), next.run(req)).await
        }
        (None, None) => next.run(req).await,
    }
}

/// What the check found for a stack route: the organization and the stack's row, read in
/// its queries, which the handler's own lookup of that stack takes instead of reading them
/// again (two queries less a request).
struct Found {
    user_id: String,
    org: Org,
    stack: StackRow,
}

tokio::task_local! {
    /// The check's [`Found`] while the handler it let through runs (the handler runs in the
    /// middleware's task); taken by the first lookup of the same stack, so a handler that
    /// looks the stack up again after changing it reads the database.
    static FOUND: RefCell<Option<Found>>;
}

/// The organization and row of stack `org/project/stack` as the access check of this
/// request read them for `user`, once (`None` afterwards, outside a checked request, or
/// for another stack or user).
pub(crate) fn take_found(
    user: &User,
    org: &str,
    project: &str,
    stack: &str,
) -> Option<(Org, StackRow)> {
    FOUND
        .try_with(|cell| {
            let mut slot = cell.borrow_mut();
            let matches = slot.as_ref().is_some_and(|f| {
                f.user_id == user.id
                    && f.org.name == org
                    && f.stack.project == project
                    && f.stack.name == stack
            });
            if matches {
                slot.take().map(|f| (f.org, f.stack))
            } else {
                None
            }
        })
        .ok()
        .flatten()
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

    fn user(id: &str) -> User {
        User {
            id: id.into(),
            login: id.into(),
            name: String::new(),
            email: String::new(),
        }
    }

    fn found(user: &str) -> Found {
        Found {
            user_id: user.into(),
            org: Org {
                id: "o1".into(),
                name: "org".into(),
            },
            stack: StackRow {
                id: "s1".into(),
                org: "org".into(),
                project: "proj".into(),
                name: "dev".into(),
                tags: Default::default(),
                version: 1,
                resource_count: 0,
                last_update: None,
                active_update: None,
                data_key: String::new(),
                config: None,
            },
        }
    }

    #[tokio::test]
    async fn the_checked_stack_is_taken_once_for_its_own_user_and_names_only() {
        let (alice, bob) = (user("alice"), user("bob"));
        assert!(
            take_found(&alice, "org", "proj", "dev").is_none(),
            "outside a check"
        );
        FOUND
            .scope(RefCell::new(Some(found("alice"))), async {
                assert!(
                    take_found(&bob, "org", "proj", "dev").is_none(),
                    "another user"
                );
                assert!(
                    take_found(&alice, "org", "proj", "prod").is_none(),
                    "another stack"
                );
                assert!(
                    take_found(&alice, "other", "proj", "dev").is_none(),
                    "another org"
                );
                let (o, s) = take_found(&alice, "org", "proj", "dev").expect("the checked stack");
                assert_eq!((o.id.as_str(), s.id.as_str()), ("o1", "s1"));
                assert!(
                    take_found(&alice, "org", "proj", "dev").is_none(),
                    "taken once"
                );
            })
            .await;
    }
}
