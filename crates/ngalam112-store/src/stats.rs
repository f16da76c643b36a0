//! Counts for the operators' dashboards (metrics gauges, reports).

use crate::{Store, StoreError};

/// How the system stands right now.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// (status, count) for every incident status present.
    pub incidents_by_status: Vec<(String, i64)>,
    /// (kind, status, count) for every combination present.
    pub units_by_kind_and_status: Vec<(String, String, i64)>,
    /// Waiting needs (incident × kind without a unit), excluding held ones.
    pub pending_needs: i64,
    /// Age in seconds of the oldest waiting need, if any.
    pub oldest_pending_seconds: Option<f64>,
    /// Active incidents on hold (waiting for an operator to release them).
    pub held_incidents: i64,
}

impl Store {
    pub async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let incidents_by_status = sqlx::query!(
            r#"SELECT status, count(*) AS "count!" FROM incidents GROUP BY status ORDER BY status"#
        )
        .fetch_all(&self.side_pool)
        .await?
        .into_iter()
        .map(|row| (row.status, row.count))
        .collect();
        let units_by_kind_and_status = sqlx::query!(
            r#"SELECT kind, status, count(*) AS "count!" FROM units
               GROUP BY kind, status ORDER BY kind, status"#
        )
        .fetch_all(&self.side_pool)
        .await?
        .into_iter()
        .map(|row| (row.kind, row.status, row.count))
        .collect();
        let pending = sqlx::query!(
            r#"SELECT coalesce(sum(cardinality(pending_kinds)), 0)::int8 AS "needs!",
                 extract(epoch FROM now() - min(created_at))::float8 AS oldest_seconds
               FROM incidents
               WHERE cardinality(pending_kinds) > 0 AND status NOT IN ('resolved', 'cancelled')
                 AND NOT hold"#
        )
        .fetch_one(&self.side_pool)
        .await?;
        let (pending_needs, oldest_pending_seconds) = (pending.needs, pending.oldest_seconds);
        let held_incidents: i64 = sqlx::query_scalar!(
            r#"SELECT count(*) AS "count!" FROM incidents
               WHERE hold AND status NOT IN ('resolved', 'cancelled')"#
        )
        .fetch_one(&self.side_pool)
        .await?;
        Ok(Snapshot {
            incidents_by_status,
            units_by_kind_and_status,
            pending_needs,
            oldest_pending_seconds,
            held_incidents,
        })
    }
}
