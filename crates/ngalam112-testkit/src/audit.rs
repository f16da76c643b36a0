//! The dispatch rules as counts of what breaks them, for the tests that
//! audit a whole database after a simulation (`processes.rs`) or a
//! failover (`tests/failover`). Each query returns one `bigint`: 0 when the
//! rule held.

/// Units whose open assignments overlapped in time (a unit sent to two
/// places at once).
pub const UNITS_DOUBLE_BOOKED: &str = "WITH spans AS (SELECT id, unit_id, \
       tstzrange(offered_at, CASE WHEN status IN ('completed','declined','timed_out','cancelled') \
       THEN updated_at END) AS open_during FROM assignments) \
     SELECT count(DISTINCT a.unit_id) FROM spans a JOIN spans b \
       ON a.unit_id = b.unit_id AND a.id < b.id WHERE a.open_during && b.open_during";

/// Timed-out offers without exactly one `assignment_timed_out` event (the
/// timer fired twice, or never wrote it).
pub const TIMED_OUT_NOT_ONCE: &str = "SELECT count(*) FROM assignments a \
     WHERE a.status = 'timed_out' AND (SELECT count(*) FROM timeline_events t \
       WHERE t.assignment_id = a.id AND t.kind = 'assignment_timed_out') <> 1";

/// Waiting needs beside an available unit that could take them (rule 5).
pub const WAITING_BESIDE_FREE_UNIT: &str = "SELECT count(*) FROM incidents i, \
       unnest(i.pending_kinds) k \
     WHERE i.status NOT IN ('resolved','cancelled') AND EXISTS ( \
       SELECT 1 FROM units u WHERE u.kind = k AND u.status = 'available' AND NOT EXISTS ( \
         SELECT 1 FROM assignments a WHERE a.incident_id = i.id AND a.unit_id = u.id \
           AND a.status IN ('declined','timed_out')))";

/// Timelines not numbered 1..n without gaps.
pub const GAPPY_TIMELINES: &str = "SELECT count(*) FROM (SELECT incident_id, \
       min(incident_seq) AS first, max(incident_seq) AS last, count(*) AS n \
       FROM timeline_events GROUP BY incident_id) s \
     WHERE first <> 1 OR last <> n";

/// Runs one of the counts above (or any `SELECT count(*)`).
pub async fn count(pool: &sqlx::PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(pool)
        .await
        .expect("audit query")
}
