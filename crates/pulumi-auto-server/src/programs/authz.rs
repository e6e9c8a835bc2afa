//! Who may do what in the custom API: [`allow`], on the permission model of the REST API
//! (`rest::access`). A program's stacks are the stacks `ORG/PROJECT/STACK` of the
//! server's organization, so a team's stack permission there is its permission here:
//!
//! | action | needs |
//! |---|---|
//! | list programs, read a program | membership of the organization (a member's listings show only the stacks they may read) |
//! | read a stack, its operations and their events ([`Action::Read`]) | read (101) on the stack |
//! | set config, preview, update, refresh, cancel ([`Action::Write`]) | edit (102) |
//! | create a stack ([`Action::Create`]) | edit (102) on an existing stack; a new one needs the organization's admin role, as creating a stack in the REST API does |
//! | destroy preview, destroy, secret outputs in plaintext ([`Action::Admin`], [`Action::ReadSecrets`]) | admin (103) |
//! | a burn ([`Action::Burn`]) | edit (102) or more on at least one stack of the program: a burn makes, updates and destroys a stack of its own, which no team can hold a permission on beforehand |
//!
//! An organization admin may do everything. A stack the caller may not read answers 404
//! with the text of a missing stack, so its existence is not disclosed; too little
//! permission on a stack they may read is 403. A lease token is never accepted (401).

use crate::api::{AppState, Auth};
use crate::error::{Error, Result};
use crate::store::User;
use pulumi_auto_types::rest::permission::{ADMIN, EDIT, READ};

use super::Program;

/// What a caller asks to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// List programs and stacks, read a stack, its operations and their events.
    Read,
    /// Read secret outputs in plaintext.
    ReadSecrets,
    /// Set a stack's config, run preview, update, refresh; cancel.
    Write,
    /// Create or select a stack and set its config (`PUT …/stacks/{stack}`).
    Create,
    /// Preview a destroy, destroy a stack.
    Admin,
    /// Run a burn of a program.
    Burn,
}

/// What an action applies to.
#[derive(Debug, Clone, Copy)]
pub enum On<'a> {
    /// The programs as a whole (`GET /api/programs`).
    Programs,
    /// A program (its description, its list of stacks, a burn).
    Program(&'a Program),
    /// A stack of a program.
    Stack(&'a Program, &'a str),
}

/// The permission a stack action needs (101, 102, 103).
pub fn level(action: Action) -> i64 {
    match action {
        Action::Read => READ,
        Action::Write | Action::Create | Action::Burn => EDIT,
        Action::Admin | Action::ReadSecrets => ADMIN,
    }
}

/// The answer for a stack that does not exist, or that the caller may not read.
pub fn missing_stack(program: &str, stack: &str) -> Error {
    Error::not_found(format!(
        "Not Found: program {program:?} has no stack {stack:?} (create it with PUT)"
    ))
}

fn level_name(level: i64) -> &'static str {
    match level {
        READ => "read (101)",
        EDIT => "edit (102)",
        _ => "admin (103)",
    }
}

fn what(action: Action) -> &'static str {
    match action {
        Action::Read => "reading it",
        Action::ReadSecrets => "reading secret outputs",
        Action::Write => "running operations",
        Action::Create => "setting its config",
        Action::Admin => "destroying it",
        Action::Burn => "a burn",
    }
}

/// The user behind `auth` if they may do `action` on `on` in organization `org`: 401 for a
/// lease token, 404 for a stack they may not read, 403 otherwise.
pub async fn allow(
    state: &AppState,
    auth: &Auth,
    org: &str,
    on: On<'_>,
    action: Action,
) -> Result<User> {
    let user = auth.user()?.clone();
    if let On::Stack(_, s) = on {
        super::validate::stack_name(s)?;
    }
    let stack = match on {
        On::Stack(g, s) => Some((g.project.as_str(), s)),
        _ => None,
    };
    let access = state.store.access(&user, org, stack).await?;
    let Some(role) = access.role.as_deref() else {
        return Err(match on {
            On::Stack(g, s) => missing_stack(&g.name, s),
            _ => Error::Forbidden(format!(
                "Forbidden: this needs membership of organization {org:?}"
            )),
        });
    };
    if role == "admin" {
        return Ok(user);
    }
    match on {
        On::Programs => Ok(user),
        On::Program(g) => match action {
            Action::Burn => {
                if best_permission(state, &user, org, g).await? >= EDIT {
                    Ok(user)
                } else {
                    Err(Error::Forbidden(format!(
                        "Forbidden: a burn of program {:?} needs the edit (102) permission on one of its stacks",
                        g.name
                    )))
                }
            }
            Action::Read => Ok(user),
            _ => Err(Error::Forbidden(format!(
                "Forbidden: {} needs the organization's admin role",
                what(action)
            ))),
        },
        On::Stack(g, s) => {
            if !access.stack_exists && action == Action::Create {
                return Err(Error::Forbidden(format!(
                    "Forbidden: creating stack {s:?} needs the organization's admin role"
                )));
            }
            if !access.stack_exists || access.permission < READ {
                return Err(missing_stack(&g.name, s));
            }
            let need = level(action);
            if access.permission < need {
                return Err(Error::Forbidden(format!(
                    "Forbidden: {} needs the {} permission on stack {s:?}",
                    what(action),
                    level_name(need)
                )));
            }
            Ok(user)
        }
    }
}

/// The highest permission `user` holds on any stack of program `g`.
async fn best_permission(state: &AppState, user: &User, org: &str, g: &Program) -> Result<i64> {
    let mut best = 0;
    for name in state.store.project_stack_names(org, &g.project).await? {
        let a = state
            .store
            .access(user, org, Some((&g.project, &name)))
            .await?;
        best = best.max(a.permission);
        if best >= ADMIN {
            break;
        }
    }
    Ok(best)
}

/// The names of program `g`'s stacks that `auth` may read.
pub async fn readable_stacks(
    state: &AppState,
    auth: &Auth,
    org: &str,
    g: &Program,
) -> Result<Vec<String>> {
    let user = auth.user()?;
    let names = state.store.project_stack_names(org, &g.project).await?;
    if is_admin(state, auth, org).await {
        return Ok(names);
    }
    let mut out = Vec::new();
    for name in names {
        let a = state
            .store
            .access(user, org, Some((&g.project, &name)))
            .await?;
        if a.permission >= READ {
            out.push(name);
        }
    }
    Ok(out)
}

/// Whether `auth` is an admin of `org` (without failing).
pub async fn is_admin(state: &AppState, auth: &Auth, org: &str) -> bool {
    match auth.user() {
        Ok(u) => state.store.is_org_admin(&u.id, org).await.unwrap_or(false),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_action_needs_the_rest_apis_permission() {
        assert_eq!(level(Action::Read), 101);
        for a in [Action::Write, Action::Create, Action::Burn] {
            assert_eq!(level(a), 102, "{a:?}");
        }
        assert_eq!(level(Action::Admin), 103);
        assert_eq!(level(Action::ReadSecrets), 103);
    }
}
