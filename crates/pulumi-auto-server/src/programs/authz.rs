//! Who may do what in the custom API: one function, [`allow`], that the permission model of
//! the REST API replaces later. Today it lets an organization's admins do everything and
//! nobody else anything (a lease token is never accepted).

use crate::api::{AppState, Auth};
use crate::error::{Error, Result};
use crate::store::User;

/// What a caller asks to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// List programs and stacks, read a stack, its operations and their events.
    Read,
    /// Read secret outputs in plaintext.
    ReadSecrets,
    /// Create a stack, set its config, run preview, update, refresh; cancel; burn.
    Write,
    /// Destroy a stack (the stack admin permission, 103, or an organization admin).
    Admin,
}

/// The user behind `auth` if they may do `action` on `stack` (`None`: the program as a
/// whole) of organization `org`; 401 for a lease token, 403 otherwise.
pub async fn allow(
    state: &AppState,
    auth: &Auth,
    org: &str,
    action: Action,
    stack: Option<&str>,
) -> Result<User> {
    let _ = stack;
    let user = auth.user()?.clone();
    if state.store.is_org_admin(&user.id, org).await? {
        return Ok(user);
    }
    Err(Error::Forbidden(format!(
        "Forbidden: {} needs an admin of organization {org:?}",
        match action {
            Action::Read => "reading programs and stacks",
            Action::ReadSecrets => "reading secret outputs",
            Action::Write => "running operations",
            Action::Admin => "destroying a stack",
        }
    )))
}

/// Whether `auth` is an admin of `org` (without failing).
pub async fn is_admin(state: &AppState, auth: &Auth, org: &str) -> bool {
    match auth.user() {
        Ok(u) => state.store.is_org_admin(&u.id, org).await.unwrap_or(false),
        Err(_) => false,
    }
}
