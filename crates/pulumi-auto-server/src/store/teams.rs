//! Organizations' members (roles `admin` and `member`), teams, and the teams' stack
//! permissions (101 read, 102 edit, 103 admin); and what a user may do with a stack.

use sqlx::Row;

use super::{Org, STACK_COLS, StackRow, Store, User, now, stack_from_row};
use crate::crypto;
use crate::error::{Error, Result};

/// An organization admin reaches every stack of the organization with this permission.
pub const PERMISSION_ADMIN: i64 = 103;

/// What a user may do in an organization and with one of its stacks.
#[derive(Debug, Clone)]
pub struct Access {
    /// The user's role in the organization (`admin`, `member`), `None` if no member.
    pub role: Option<String>,
    /// Whether the stack (by name or former name) exists.
    pub stack_exists: bool,
    /// The user's permission on the stack: 103 for an admin, the highest of their teams'
    /// otherwise, 0 for none.
    pub permission: i64,
    /// The organization and the stack's row when the stack was found by its current name
    /// in the organization the caller named (not through a former name): what the
    /// handler would read next, read here in the same query as its id.
    pub found: Option<(Org, StackRow)>,
}

/// A member of an organization.
#[derive(Debug, Clone)]
pub struct Member {
    /// The user.
    pub user: User,
    /// `admin` or `member`.
    pub role: String,
}

/// A team's row.
#[derive(Debug, Clone)]
pub struct TeamRow {
    /// The team's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// `pulumi` or `github`.
    pub kind: String,
    /// Its display name.
    pub display_name: String,
    /// Its description.
    pub description: String,
}

/// A stack a team reaches: (project, stack, permission).
pub type TeamStack = (String, String, i64);

fn user_from(r: &sqlx::any::AnyRow, at: usize) -> Result<User> {
    Ok(User {
        id: r.try_get(at)?,
        login: r.try_get(at + 1)?,
        name: r.try_get(at + 2)?,
        email: r.try_get(at + 3)?,
    })
}

impl Store {
    /// The user's role in `org` and permission on `org/project/stack` (when a stack is given;
    /// a former name counts as the stack).
    pub async fn access(
        &self,
        user: &User,
        org: &str,
        stack: Option<(&str, &str)>,
    ) -> Result<Access> {
        let row = sqlx::query(
            "SELECT o.id, m.role FROM organizations o JOIN org_members m ON m.org_id = o.id \
             WHERE o.name = $1 AND m.user_id = $2",
        )
        .bind(org)
        .bind(&user.id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(Access {
                role: None,
                stack_exists: false,
                permission: 0,
                found: None,
            });
        };
        let org_id: String = row.try_get(0)?;
        let role: String = row.try_get(1)?;
        let Some((project, name)) = stack else {
            return Ok(Access {
                permission: if role == "admin" { PERMISSION_ADMIN } else { 0 },
                role: Some(role),
                stack_exists: false,
                found: None,
            });
        };
        let sql = format!(
            "SELECT {STACK_COLS} FROM stacks s JOIN organizations o ON o.id = s.org_id \
             WHERE s.org_id = $1 AND s.project = $2 AND s.name = $3"
        );
        let found: Option<StackRow> = sqlx::query(&sql)
            .bind(&org_id)
            .bind(project)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(stack_from_row)
            .transpose()?;
        let mut stack_id = found.as_ref().map(|s| s.id.clone());
        // Found by its name in the organization the path names: that is its organization.
        let by_alias = stack_id.is_none();
        if by_alias {
            stack_id = sqlx::query(
                "SELECT stack_id FROM stack_aliases WHERE org_id = $1 AND project = $2 AND name = $3",
            )
            .bind(&org_id)
            .bind(project)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
        }
        let Some(stack_id) = stack_id else {
            return Ok(Access {
                role: Some(role),
                stack_exists: false,
                permission: 0,
                found: None,
            });
        };
        // A former name (a rename, a transfer) may lead to a stack that is now in another
        // organization: the caller's role there counts, not in the one the path names.
        // (A stack found by its current name is in that organization: one query less on
        // every stack route.)
        let stack_org: String = if by_alias {
            sqlx::query("SELECT org_id FROM stacks WHERE id = $1")
                .bind(&stack_id)
                .fetch_one(&self.pool)
                .await?
                .try_get(0)?
        } else {
            org_id.clone()
        };
        let role_there: Option<String> = if stack_org == org_id {
            Some(role.clone())
        } else {
            sqlx::query("SELECT role FROM org_members WHERE org_id = $1 AND user_id = $2")
                .bind(&stack_org)
                .bind(&user.id)
                .fetch_optional(&self.pool)
                .await?
                .map(|r| r.try_get(0))
                .transpose()?
        };
        let permission = if role_there.is_none() {
            0
        } else if role_there.as_deref() == Some("admin") {
            PERMISSION_ADMIN
        } else {
            let p: Option<i64> = sqlx::query(
                "SELECT MAX(p.permission) FROM team_stack_permissions p \
                 JOIN team_members tm ON tm.team_id = p.team_id \
                 WHERE p.stack_id = $1 AND tm.user_id = $2",
            )
            .bind(&stack_id)
            .bind(&user.id)
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
            p.unwrap_or(0)
        };
        Ok(Access {
            role: Some(role),
            stack_exists: true,
            permission,
            found: found.map(|s| {
                (
                    Org {
                        id: org_id,
                        name: s.org.clone(),
                    },
                    s,
                )
            }),
        })
    }

    // ----- members -----

    /// The members of an organization, by login.
    pub async fn list_members(&self, org: &Org) -> Result<Vec<Member>> {
        let rows = sqlx::query(
            "SELECT u.id, u.login, u.name, u.email, m.role FROM org_members m \
             JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 ORDER BY u.login",
        )
        .bind(&org.id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Member {
                    user: user_from(r, 0)?,
                    role: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// Adds `login` to the organization with `role`, creating the user when the server does
    /// not know them yet; 409 when they are a member already.
    pub async fn add_member(&self, org: &Org, login: &str, role: &str) -> Result<()> {
        let _w = self.write_lock().await;
        let mut tx = self.pool.begin().await?;
        let user_id: Option<String> = sqlx::query("SELECT id FROM users WHERE login = $1")
            .bind(login)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
        let user_id = match user_id {
            Some(id) => id,
            None => {
                let id = crypto::new_id();
                sqlx::query(
                    "INSERT INTO users (id, login, name, email, created) VALUES ($1, $2, $3, '', $4)",
                )
                .bind(&id)
                .bind(login)
                .bind(login)
                .bind(now())
                .execute(&mut *tx)
                .await?;
                id
            }
        };
        let exists = sqlx::query("SELECT 1 FROM org_members WHERE org_id = $1 AND user_id = $2")
            .bind(&org.id)
            .bind(&user_id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_some() {
            return Err(Error::Conflict(format!(
                "Conflict: '{login}' is already a member of '{}'",
                org.name
            )));
        }
        sqlx::query("INSERT INTO org_members (org_id, user_id, role) VALUES ($1, $2, $3)")
            .bind(&org.id)
            .bind(&user_id)
            .bind(role)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn member_id_tx(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        org: &Org,
        login: &str,
    ) -> Result<(String, String)> {
        let row = sqlx::query(
            "SELECT u.id, m.role FROM org_members m JOIN users u ON u.id = m.user_id \
             WHERE m.org_id = $1 AND u.login = $2",
        )
        .bind(&org.id)
        .bind(login)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| {
            Error::not_found(format!(
                "Not Found: '{login}' is not a member of '{}'",
                org.name
            ))
        })?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }

    async fn admins_tx(tx: &mut sqlx::Transaction<'_, sqlx::Any>, org: &Org) -> Result<i64> {
        Ok(
            sqlx::query("SELECT COUNT(*) FROM org_members WHERE org_id = $1 AND role = 'admin'")
                .bind(&org.id)
                .fetch_one(&mut **tx)
                .await?
                .try_get(0)?,
        )
    }

    /// Changes a member's role; the last admin cannot stop being one (409).
    pub async fn set_member_role(&self, org: &Org, login: &str, role: &str) -> Result<()> {
        let _w = self.write_lock().await;
        let mut tx = self.pool.begin().await?;
        let (user_id, old) = Self::member_id_tx(&mut tx, org, login).await?;
        if old == "admin" && role != "admin" && Self::admins_tx(&mut tx, org).await? <= 1 {
            return Err(Error::Conflict(
                "Conflict: the organization's last admin cannot lose the role".into(),
            ));
        }
        sqlx::query("UPDATE org_members SET role = $1 WHERE org_id = $2 AND user_id = $3")
            .bind(role)
            .bind(&org.id)
            .bind(&user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes a member (and takes them out of the organization's teams); the last admin
    /// cannot be removed (409).
    pub async fn remove_member(&self, org: &Org, login: &str) -> Result<()> {
        let _w = self.write_lock().await;
        let mut tx = self.pool.begin().await?;
        let (user_id, role) = Self::member_id_tx(&mut tx, org, login).await?;
        if role == "admin" && Self::admins_tx(&mut tx, org).await? <= 1 {
            return Err(Error::Conflict(
                "Conflict: the organization's last admin cannot be removed".into(),
            ));
        }
        sqlx::query(
            "DELETE FROM team_members WHERE user_id = $1 AND team_id IN \
             (SELECT id FROM teams WHERE org_id = $2)",
        )
        .bind(&user_id)
        .bind(&org.id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM org_members WHERE org_id = $1 AND user_id = $2")
            .bind(&org.id)
            .bind(&user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    // ----- teams -----

    /// The organization's teams, by name.
    pub async fn list_teams(&self, org: &Org) -> Result<Vec<TeamRow>> {
        let rows = sqlx::query(
            "SELECT id, name, kind, display_name, description FROM teams WHERE org_id = $1 \
             ORDER BY name",
        )
        .bind(&org.id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TeamRow {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    kind: r.try_get(2)?,
                    display_name: r.try_get(3)?,
                    description: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// A team by name.
    pub async fn get_team(&self, org: &Org, name: &str) -> Result<Option<TeamRow>> {
        Ok(self
            .list_teams(org)
            .await?
            .into_iter()
            .find(|t| t.name == name))
    }

    /// Creates a team; 409 when the name is taken.
    pub async fn create_team(
        &self,
        org: &Org,
        kind: &str,
        name: &str,
        display_name: &str,
        description: &str,
    ) -> Result<()> {
        let _w = self.write_lock().await;
        let mut tx = self.pool.begin().await?;
        let taken = sqlx::query("SELECT 1 FROM teams WHERE org_id = $1 AND name = $2")
            .bind(&org.id)
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Err(Error::Conflict(format!(
                "Conflict: team '{name}' already exists"
            )));
        }
        sqlx::query(
            "INSERT INTO teams (id, org_id, name, kind, display_name, description, created) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(crypto::new_id())
        .bind(&org.id)
        .bind(name)
        .bind(kind)
        .bind(display_name)
        .bind(description)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a team with its memberships and permissions.
    pub async fn delete_team(&self, team: &TeamRow) -> Result<()> {
        let _w = self.write_lock().await;
        let mut tx = self.pool.begin().await?;
        for sql in [
            "DELETE FROM team_members WHERE team_id = $1",
            "DELETE FROM team_stack_permissions WHERE team_id = $1",
            "DELETE FROM teams WHERE id = $1",
        ] {
            sqlx::query(sql).bind(&team.id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A team's members.
    pub async fn team_members(&self, team: &TeamRow) -> Result<Vec<User>> {
        let rows = sqlx::query(
            "SELECT u.id, u.login, u.name, u.email FROM team_members tm \
             JOIN users u ON u.id = tm.user_id WHERE tm.team_id = $1 ORDER BY u.login",
        )
        .bind(&team.id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| user_from(r, 0)).collect()
    }

    /// The stacks a team reaches.
    pub async fn team_stacks(&self, team: &TeamRow) -> Result<Vec<TeamStack>> {
        let rows = sqlx::query(
            "SELECT s.project, s.name, p.permission FROM team_stack_permissions p \
             JOIN stacks s ON s.id = p.stack_id WHERE p.team_id = $1 ORDER BY s.project, s.name",
        )
        .bind(&team.id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }

    /// Adds an organization member to a team (a member already in it is not an error).
    pub async fn team_add_member(&self, org: &Org, team: &TeamRow, login: &str) -> Result<()> {
        let _w = self.write_lock().await;
        let mut tx = self.pool.begin().await?;
        let (user_id, _) = Self::member_id_tx(&mut tx, org, login).await?;
        sqlx::query(
            "INSERT INTO team_members (team_id, user_id) VALUES ($1, $2) \
             ON CONFLICT (team_id, user_id) DO NOTHING",
        )
        .bind(&team.id)
        .bind(&user_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Takes a user out of a team.
    pub async fn team_remove_member(&self, org: &Org, team: &TeamRow, login: &str) -> Result<()> {
        let _w = self.write_lock().await;
        let mut tx = self.pool.begin().await?;
        let (user_id, _) = Self::member_id_tx(&mut tx, org, login).await?;
        sqlx::query("DELETE FROM team_members WHERE team_id = $1 AND user_id = $2")
            .bind(&team.id)
            .bind(&user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Gives a team `permission` (101, 102, 103) on a stack, replacing what it had.
    pub async fn team_set_permission(
        &self,
        team: &TeamRow,
        stack: &StackRow,
        permission: i64,
    ) -> Result<()> {
        let _w = self.write_lock().await;
        sqlx::query(
            "INSERT INTO team_stack_permissions (team_id, stack_id, permission) \
             VALUES ($1, $2, $3) ON CONFLICT (team_id, stack_id) \
             DO UPDATE SET permission = excluded.permission",
        )
        .bind(&team.id)
        .bind(&stack.id)
        .bind(permission)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Takes a stack away from a team.
    pub async fn team_remove_stack(&self, team: &TeamRow, stack: &StackRow) -> Result<()> {
        let _w = self.write_lock().await;
        sqlx::query("DELETE FROM team_stack_permissions WHERE team_id = $1 AND stack_id = $2")
            .bind(&team.id)
            .bind(&stack.id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

impl Store {
    /// Creates an organization with `admin` (made when unknown) as its admin; 409 when the
    /// name is taken.
    pub async fn create_org(&self, name: &str, admin: &str) -> Result<Org> {
        {
            let _w = self.write_lock().await;
            let taken = sqlx::query("SELECT 1 FROM organizations WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
            if taken.is_some() {
                return Err(Error::Conflict(format!(
                    "Conflict: organization '{name}' already exists"
                )));
            }
            sqlx::query("INSERT INTO organizations (id, name, created) VALUES ($1, $2, $3)")
                .bind(crypto::new_id())
                .bind(name)
                .bind(now())
                .execute(&self.pool)
                .await?;
        }
        let org = self
            .org_by_name(name)
            .await?
            .ok_or_else(|| Error::Internal("the new organization vanished".into()))?;
        self.add_member(&org, admin, "admin").await?;
        Ok(org)
    }
}
