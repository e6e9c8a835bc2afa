//! Destroy previews' plans waiting for their confirmation, shared by every replica.

use sqlx::Row;

use super::{Store, now};
use crate::error::Result;

impl Store {
    /// Keeps the plan `plan` (JSON) of a destroy preview of `program`'s stack `stack` under
    /// `id`, and drops plans made before `expired_before` (seconds since the epoch).
    pub async fn put_destroy_plan(
        &self,
        id: &str,
        program: &str,
        stack: &str,
        plan: &str,
        expired_before: i64,
    ) -> Result<()> {
        let _w = self.write_lock().await;
        sqlx::query("DELETE FROM destroy_plans WHERE made < $1")
            .bind(expired_before)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO destroy_plans (id, program, stack, plan, made) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(program)
        .bind(stack)
        .bind(plan)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Takes (once: of two replicas taking it at the same moment, one gets it) the plan
    /// kept under `id` for `program`'s stack `stack`, if it was made at or after
    /// `expired_before`. A plan id of another stack is left where it is.
    pub async fn take_destroy_plan(
        &self,
        id: &str,
        program: &str,
        stack: &str,
        expired_before: i64,
    ) -> Result<Option<String>> {
        let _w = self.write_lock().await;
        let row = sqlx::query(
            "DELETE FROM destroy_plans WHERE id = $1 AND program = $2 AND stack = $3 \
             AND made >= $4 RETURNING plan",
        )
        .bind(id)
        .bind(program)
        .bind(stack)
        .bind(expired_before)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok(r.try_get(0)?)).transpose()
    }
}
