//! Resources under management: the resource count of each stack over time, read from its
//! finished state-writing updates (each records the resources of the checkpoint it left).

use sqlx::Row;

use super::{Org, Store};
use crate::error::Result;

impl Store {
    /// For every stack of the organization, `(stack id, end time, resources)` of each
    /// finished state-writing update, oldest first.
    pub async fn resource_history(&self, org: &Org) -> Result<Vec<(String, i64, i64)>> {
        let rows = sqlx::query(
            "SELECT u.stack_id, u.end_time, u.resource_count FROM updates u \
             JOIN stacks s ON s.id = u.stack_id WHERE s.org_id = $1 \
             AND u.kind IN ('update', 'refresh', 'destroy', 'import') \
             AND u.end_time IS NOT NULL AND u.resource_count IS NOT NULL \
             ORDER BY u.end_time, u.id",
        )
        .bind(&org.id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }
}
