//! A user's own access tokens (the REST API's `/api/user/tokens`).

use sqlx::Row;

use super::{Store, User};
use crate::error::Result;
use pulumi_auto_types::rest::AccessToken;

impl Store {
    /// The user's tokens, oldest first.
    pub async fn list_user_tokens(&self, user: &User) -> Result<Vec<AccessToken>> {
        let rows = sqlx::query(
            "SELECT id, description, last_used FROM tokens WHERE user_id = $1 \
             ORDER BY created, id",
        )
        .bind(&user.id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AccessToken {
                    id: r.try_get(0)?,
                    description: r.try_get(1)?,
                    last_used: r.try_get(2)?,
                })
            })
            .collect()
    }

    /// Revokes one of the user's tokens; false when they have none with that id.
    pub async fn revoke_user_token(&self, user: &User, id: &str) -> Result<bool> {
        let _w = self.write_lock().await;
        let n = sqlx::query("DELETE FROM tokens WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(&user.id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n > 0)
    }
}
