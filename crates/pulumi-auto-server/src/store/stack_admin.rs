//! What the REST API does to a stack beyond the CLI's calls: one tag at a time, transfer to
//! another organization, and counting its updates.

use sqlx::Row;

use super::{Org, StackRow, Store};
use crate::error::{CONCURRENT_UPDATE, Error, Result};

impl Store {
    /// Sets one tag (adding or replacing it), keeping the others.
    pub async fn set_tag(&self, stack: &StackRow, name: &str, value: &str) -> Result<()> {
        self.edit_tags(stack, |tags| {
            tags.insert(name.to_owned(), serde_json::Value::String(value.to_owned()));
            true
        })
        .await
        .map(|_| ())
    }

    /// Deletes one tag; false when the stack had no such tag.
    pub async fn delete_tag(&self, stack: &StackRow, name: &str) -> Result<bool> {
        self.edit_tags(stack, |tags| tags.remove(name).is_some())
            .await
    }

    /// Reads, edits and writes a stack's tags in one transaction; `edit` says whether it
    /// changed anything.
    async fn edit_tags(
        &self,
        stack: &StackRow,
        edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>) -> bool,
    ) -> Result<bool> {
        let _w = self.write_lock().await;
        let mut tx = self.pool.begin().await?;
        let text: String = sqlx::query("SELECT tags FROM stacks WHERE id = $1")
            .bind(&stack.id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| Error::not_found("Not Found: stack not found"))?
            .try_get(0)?;
        let mut tags: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&text).unwrap_or_default();
        let changed = edit(&mut tags);
        if changed {
            sqlx::query("UPDATE stacks SET tags = $1 WHERE id = $2")
                .bind(serde_json::Value::Object(tags).to_string())
                .bind(&stack.id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// Moves a stack to another organization: 409 while an update holds it or when the
    /// target has a stack of that name. The stack keeps its id, data key, history and state;
    /// its team permissions (the old organization's teams) are dropped, and its old name is
    /// kept as an alias for the service secrets provider's calls.
    pub async fn transfer_stack(&self, stack: &StackRow, from: &Org, to: &Org) -> Result<()> {
        let _w = self.write_lock().await;
        let mut tx = self.pool.begin().await?;
        match self.stack_held_tx(&mut tx, &stack.id, None).await? {
            None => return Err(Error::not_found("Not Found: stack not found")),
            Some(true) => return Err(Error::Conflict(CONCURRENT_UPDATE.into())),
            Some(false) => {}
        }
        super::ensure_name_free(&mut tx, to, &stack.project, &stack.name).await?;
        sqlx::query("DELETE FROM team_stack_permissions WHERE stack_id = $1")
            .bind(&stack.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO stack_aliases (org_id, project, name, stack_id) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (org_id, project, name) DO UPDATE SET stack_id = excluded.stack_id",
        )
        .bind(&from.id)
        .bind(&stack.project)
        .bind(&stack.name)
        .bind(&stack.id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE stacks SET org_id = $1 WHERE id = $2")
            .bind(&to.id)
            .bind(&stack.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// How many updates (no previews) a stack has.
    pub async fn count_updates(&self, stack: &StackRow) -> Result<i64> {
        Ok(sqlx::query(
            "SELECT COUNT(*) FROM updates WHERE stack_id = $1 AND kind <> 'preview' \
             AND status <> 'not started'",
        )
        .bind(&stack.id)
        .fetch_one(&self.pool)
        .await?
        .try_get(0)?)
    }

    /// An organization by name (whoever asks).
    pub async fn org_by_name(&self, name: &str) -> Result<Option<Org>> {
        let row = sqlx::query("SELECT id, name FROM organizations WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(Org {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
            })
        })
        .transpose()
    }
}
