//! The response-time standard (NFPA 1225 style): how many calls got their
//! first offer, and their first acceptance, within a target time.

use chrono::{DateTime, Utc};
use ngalam112_core::{IncidentCategory, Priority, ResolutionCode};

use crate::records::decode;
use crate::{Store, StoreError};

/// One group of incidents; `None` category and priority = all of them.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseTimeRow {
    pub category: Option<IncidentCategory>,
    pub priority: Option<Priority>,
    pub incidents: i64,
    pub offered_within_target: i64,
    pub accepted_within_target: i64,
    /// Seconds; infinite when more than 10 % never got there.
    pub p90_call_to_offer_s: f64,
    pub p90_call_to_accept_s: f64,
}

/// The report of a period: response-time rows without the incidents that
/// were no emergency response (PRANK, DUPLICATE), which are counted apart.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseTimeReport {
    pub rows: Vec<ResponseTimeRow>,
    pub prank_incidents: i64,
    pub duplicate_incidents: i64,
    /// Referrals to partner agencies sent in the period.
    pub referrals: ReferralFigures,
    /// 112 calls that rang in the period.
    pub calls: CallFigures,
}

/// How fast 112 calls were answered and recorded (EENA, NFPA 1225's
/// call-processing time).
#[derive(Debug, Clone, PartialEq)]
pub struct CallFigures {
    pub calls: i64,
    /// Ended without being answered.
    pub abandoned: i64,
    /// Shares (0..1) of all calls answered within 10 s and 20 s of ringing.
    pub answered_within_10s: f64,
    pub answered_within_20s: f64,
    /// Answered calls an incident was recorded from, and answer → recorded
    /// in seconds (0 when there are none).
    pub recorded: i64,
    pub p50_answer_to_incident_s: f64,
    pub p90_answer_to_incident_s: f64,
}

/// How fast partner agencies answered.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferralFigures {
    pub sent: i64,
    pub acknowledged_within_target: i64,
    pub unanswered: i64,
    /// Seconds; infinite when more than 10 % are unanswered.
    pub p90_to_acknowledge_s: f64,
}

impl Store {
    /// Incidents created in `[since, until)`, grouped by category and
    /// priority, plus a totals row (last).
    pub async fn response_time_report(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        target_seconds: f64,
    ) -> Result<ResponseTimeReport, StoreError> {
        let left_out: Vec<&str> = ResolutionCode::NOT_RESPONSES
            .iter()
            .map(|code| code.as_str())
            .collect();
        let rows = sqlx::query!(
            r#"WITH times AS (
               SELECT i.category, i.priority,
                 coalesce(extract(epoch FROM (SELECT min(a.offered_at) FROM assignments a
                   WHERE a.incident_id = i.id) - i.created_at)::float8, 'Infinity') AS to_offer,
                 coalesce(extract(epoch FROM (SELECT min(t.at) FROM timeline_events t
                   WHERE t.incident_id = i.id AND t.kind = 'assignment_accepted')
                   - i.created_at)::float8, 'Infinity') AS to_accept
               FROM incidents i WHERE i.created_at >= $1 AND i.created_at < $2
                 AND (i.resolution_code IS NULL OR i.resolution_code <> ALL($4)))
             SELECT category AS "category?", priority AS "priority?", count(*) AS "incidents!",
               count(*) FILTER (WHERE to_offer <= $3) AS "offered!",
               count(*) FILTER (WHERE to_accept <= $3) AS "accepted!",
               percentile_disc(0.9) WITHIN GROUP (ORDER BY to_offer) AS "p90_offer: f64",
               percentile_disc(0.9) WITHIN GROUP (ORDER BY to_accept) AS "p90_accept: f64"
             FROM times GROUP BY GROUPING SETS ((category, priority), ())
             ORDER BY category NULLS LAST, priority NULLS LAST"#,
            since,
            until,
            target_seconds,
            &left_out as &[&str],
        )
        .fetch_all(&self.side_pool)
        .await?;
        let counts = sqlx::query!(
            r#"SELECT count(*) FILTER (WHERE resolution_code = $3) AS "pranks!",
                      count(*) FILTER (WHERE resolution_code = $4) AS "duplicates!"
               FROM incidents WHERE created_at >= $1 AND created_at < $2"#,
            since,
            until,
            ResolutionCode::Prank.as_str(),
            ResolutionCode::Duplicate.as_str(),
        )
        .fetch_one(&self.side_pool)
        .await?;
        let (prank_incidents, duplicate_incidents) = (counts.pranks, counts.duplicates);
        let rows = rows
            .into_iter()
            .map(|row| {
                let category = row
                    .category
                    .map(|name| decode::<IncidentCategory>(&name))
                    .transpose()?;
                Ok(ResponseTimeRow {
                    category,
                    priority: row.priority.and_then(Priority::from_rank),
                    incidents: row.incidents,
                    offered_within_target: row.offered,
                    accepted_within_target: row.accepted,
                    p90_call_to_offer_s: row.p90_offer.unwrap_or(f64::INFINITY),
                    p90_call_to_accept_s: row.p90_accept.unwrap_or(f64::INFINITY),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let answered = sqlx::query!(
            r#"WITH answered AS (
               SELECT coalesce(extract(epoch FROM acknowledged_at - sent_at)::float8, 'Infinity')
                 AS to_ack FROM referrals WHERE sent_at >= $1 AND sent_at < $2)
             SELECT count(*) AS "sent!", count(*) FILTER (WHERE to_ack <= $3) AS "within!",
               count(*) FILTER (WHERE to_ack = 'Infinity') AS "unanswered!",
               percentile_disc(0.9) WITHIN GROUP (ORDER BY to_ack) AS "p90: f64"
             FROM answered"#,
            since,
            until,
            target_seconds,
        )
        .fetch_one(&self.side_pool)
        .await?;
        let (sent, within, unanswered, p90) = (
            answered.sent,
            answered.within,
            answered.unanswered,
            answered.p90,
        );
        let calls = self.call_figures(since, until).await?;
        Ok(ResponseTimeReport {
            calls,
            rows,
            prank_incidents,
            duplicate_incidents,
            referrals: ReferralFigures {
                sent,
                acknowledged_within_target: within,
                unanswered,
                p90_to_acknowledge_s: p90.unwrap_or(0.0),
            },
        })
    }

    async fn call_figures(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<CallFigures, StoreError> {
        let row = sqlx::query!(
            r#"WITH times AS (
               SELECT extract(epoch FROM answered_at - rang_at)::float8 AS to_answer,
                 ended_at IS NOT NULL AND answered_at IS NULL AS abandoned,
                 CASE WHEN incident_id IS NOT NULL AND answered_at IS NOT NULL THEN
                   greatest(0, extract(epoch FROM linked_at - answered_at)::float8) END AS to_record
               FROM calls WHERE rang_at >= $1 AND rang_at < $2)
             SELECT count(*) AS "calls!", count(*) FILTER (WHERE abandoned) AS "abandoned!",
               count(*) FILTER (WHERE to_answer <= 10) AS "within_10!",
               count(*) FILTER (WHERE to_answer <= 20) AS "within_20!",
               count(to_record) AS "recorded!",
               percentile_disc(0.5) WITHIN GROUP (ORDER BY to_record) AS "p50: f64",
               percentile_disc(0.9) WITHIN GROUP (ORDER BY to_record) AS "p90: f64"
             FROM times"#,
            since,
            until,
        )
        .fetch_one(&self.side_pool)
        .await?;
        let share = |count: i64| {
            if row.calls == 0 {
                0.0
            } else {
                count as f64 / row.calls as f64
            }
        };
        Ok(CallFigures {
            calls: row.calls,
            abandoned: row.abandoned,
            answered_within_10s: share(row.within_10),
            answered_within_20s: share(row.within_20),
            recorded: row.recorded,
            p50_answer_to_incident_s: row.p50.unwrap_or(0.0),
            p90_answer_to_incident_s: row.p90.unwrap_or(0.0),
        })
    }
}
