//! What a city's auditor checks on the new primary after a failover.

use std::fmt;
use std::time::{Duration, Instant};

use sqlx::PgPool;

use ngalam112_testkit::audit::{
    GAPPY_TIMELINES, TIMED_OUT_NOT_ONCE, UNITS_DOUBLE_BOOKED, WAITING_BESIDE_FREE_UNIT, count,
};

use crate::board::Board;
use crate::load::{Acknowledged, Window};

#[derive(Debug)]
pub struct Audit {
    pub acknowledged: usize,
    /// Answered OK but not on the new primary, or without its
    /// `incident_created` event.
    pub lost: i64,
    pub retried: usize,
    /// Retried calls not stored exactly once.
    pub retried_not_once: i64,
    /// Stored calls of the test no caller was ever answered OK for.
    pub stored_unanswered: i64,
    /// Units whose open assignments overlapped in time.
    pub double_assigned: i64,
    /// Offers past their deadline by more than 10 s and still open.
    pub offers_never_timed_out: i64,
    pub timed_out: i64,
    /// Offers timed out with other than exactly one timeline event (the
    /// timer fired twice, or not at all).
    pub timed_out_not_once: i64,
    /// Waiting needs beside an available unit that could take them, after
    /// the sweep had its chance.
    pub waiting_beside_free_unit: i64,
    pub gappy_timelines: i64,
    /// Incidents a live board shows otherwise than the database (those
    /// unchanged for a second), summed over the boards.
    pub boards_wrong: usize,
}

impl Audit {
    pub fn clean(&self) -> bool {
        self.lost == 0
            && self.retried_not_once == 0
            && self.double_assigned == 0
            && self.offers_never_timed_out == 0
            && self.timed_out_not_once == 0
            && self.waiting_beside_free_unit == 0
            && self.gappy_timelines == 0
            && self.boards_wrong == 0
    }
}

fn status_number(name: &str) -> i32 {
    use ngalam112_proto::v1::IncidentStatus;
    match name {
        "pending" => IncidentStatus::Pending,
        "dispatched" => IncidentStatus::Dispatched,
        "on_scene" => IncidentStatus::OnScene,
        "resolved" => IncidentStatus::Resolved,
        "cancelled" => IncidentStatus::Cancelled,
        _ => IncidentStatus::Unspecified,
    }
    .into()
}

/// Incidents unchanged for a second that `board` shows otherwise than the
/// database does (open with another status, open though closed, or missing).
async fn board_wrong(pool: &PgPool, board: &Board) -> usize {
    let settled: Vec<(String, String)> = sqlx::query_as(
        "SELECT id::text, status FROM incidents WHERE updated_at < now() - interval '1 second'",
    )
    .fetch_all(pool)
    .await
    .expect("audit: settled incidents");
    let open = board.open();
    settled
        .iter()
        .filter(|(id, status)| {
            let status = status_number(status);
            let closed =
                status == status_number("resolved") || status == status_number("cancelled");
            match open.get(id) {
                Some(shown) => closed || *shown != status,
                None => !closed,
            }
        })
        .count()
}

/// Audits the database (through HAProxy, so on whichever node is primary)
/// and the live boards. `finished`: no call is in flight, so every stored
/// call must have been answered.
pub async fn run(
    pool: &PgPool,
    acknowledged: &[Acknowledged],
    boards: &[Board],
    finished: bool,
) -> Audit {
    let ids: Vec<uuid::Uuid> = acknowledged
        .iter()
        .map(|call| call.incident_id.parse().expect("an incident id is a UUID"))
        .collect();
    let lost: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM unnest($1::uuid[]) AS a(id) WHERE NOT EXISTS ( \
           SELECT 1 FROM incidents i JOIN timeline_events t ON t.incident_id = i.id \
           WHERE i.id = a.id AND t.kind = 'incident_created')",
    )
    .bind(&ids)
    .fetch_one(pool)
    .await
    .expect("audit: lost");
    let retried: Vec<String> = acknowledged
        .iter()
        .filter(|call| call.retried)
        .map(|call| call.description.clone())
        .collect();
    let retried_not_once: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM unnest($1::text[]) AS r(description) \
         WHERE (SELECT count(*) FROM incidents i WHERE i.description = r.description) <> 1",
    )
    .bind(&retried)
    .fetch_one(pool)
    .await
    .expect("audit: retried");
    let stored_unanswered: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM incidents WHERE description LIKE 'failover %' \
           AND NOT (id = ANY($1::uuid[]))",
    )
    .bind(&ids)
    .fetch_one(pool)
    .await
    .expect("audit: unanswered");
    let double_assigned = count(pool, UNITS_DOUBLE_BOOKED).await;
    let offers_never_timed_out = count(
        pool,
        "SELECT count(*) FROM assignments WHERE status = 'offered' \
           AND offer_deadline < now() - interval '10 seconds'",
    )
    .await;
    let timed_out = count(
        pool,
        "SELECT count(*) FROM assignments WHERE status = 'timed_out'",
    )
    .await;
    let timed_out_not_once = count(pool, TIMED_OUT_NOT_ONCE).await;
    // Every process sweeps for a waiting call beside a free unit every 5 s.
    let deadline = Instant::now() + Duration::from_secs(12);
    let mut waiting_beside_free_unit = count(pool, WAITING_BESIDE_FREE_UNIT).await;
    while waiting_beside_free_unit > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        waiting_beside_free_unit = count(pool, WAITING_BESIDE_FREE_UNIT).await;
    }
    let gappy_timelines = count(pool, GAPPY_TIMELINES).await;
    // A board catches up within moments of the change feed's news.
    let mut boards_wrong = 0;
    for board in boards {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut wrong = board_wrong(pool, board).await;
        while wrong > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(250)).await;
            wrong = board_wrong(pool, board).await;
        }
        boards_wrong += wrong;
    }
    Audit {
        acknowledged: acknowledged.len(),
        lost,
        retried: retried.len(),
        retried_not_once,
        stored_unanswered: if finished { stored_unanswered } else { 0 },
        double_assigned,
        offers_never_timed_out,
        timed_out,
        timed_out_not_once,
        waiting_beside_free_unit,
        gappy_timelines,
        boards_wrong,
    }
}

/// The audit line of one round.
pub struct Line<'a> {
    pub round: &'a str,
    pub audit: &'a Audit,
    pub window: &'a Window,
    /// From the failover command's return to the database taking a write
    /// through HAProxy again.
    pub database: Duration,
}

impl fmt::Display for Line<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Line {
            round,
            audit,
            window,
            database,
        } = self;
        let recovery = window.recovery.map_or("never".to_owned(), |at| {
            format!("{:.1} s", at.as_secs_f64())
        });
        write!(
            f,
            "failover audit [{round}]: {} calls acknowledged, {} lost; {} retried with their \
             request id, {} not stored exactly once; {} stored unanswered; {} units double-booked; \
             {} offers never timed out; {} offers timed out, {} of them not exactly once; {} waiting calls beside a free unit; {} gappy timelines; \
             {} incidents shown wrong on the live boards; \
             database writable again after {:.1} s, recovery {recovery}, {} attempts failed over {:.1} s, the longest attempt \
             {:.1} s, the longest a call waited for OK {:.1} s",
            audit.acknowledged,
            audit.lost,
            audit.retried,
            audit.retried_not_once,
            audit.stored_unanswered,
            audit.double_assigned,
            audit.offers_never_timed_out,
            audit.timed_out,
            audit.timed_out_not_once,
            audit.waiting_beside_free_unit,
            audit.gappy_timelines,
            audit.boards_wrong,
            database.as_secs_f64(),
            window.failed,
            window.failing_for.as_secs_f64(),
            window.longest_attempt.as_secs_f64(),
            window.longest_wait.as_secs_f64(),
        )
    }
}
