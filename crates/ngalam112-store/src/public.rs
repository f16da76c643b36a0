//! Monthly figures for citizens: per category only, nothing finer, and no
//! value that could point at a caller or a place: a row of fewer than
//! [`PUBLISHED_MINIMUM`] incidents is suppressed, and times and shares
//! from fewer than that are omitted.

use chrono::{DateTime, Utc};
use ngalam112_core::{IncidentCategory, ResolutionCode};

use crate::records::decode;
use crate::{Store, StoreError};

/// One category's month.
#[derive(Debug, Clone, PartialEq)]
pub struct PublicCategoryStats {
    pub category: IncidentCategory,
    pub incidents: i64,
    pub dispatched: i64,
    /// Seconds from the call to the first unit on scene (pranks and
    /// duplicates left out); None when no unit reached a scene.
    pub median_call_to_on_scene_s: Option<f64>,
    pub p90_call_to_on_scene_s: Option<f64>,
    /// Share of dispatched calls offered within 60 s; None when none was
    /// dispatched.
    pub share_offered_within_60s: Option<f64>,
    pub prank: i64,
    pub referred: i64,
    /// Fewer than [`PUBLISHED_MINIMUM`] incidents: every figure above is 0.
    pub suppressed: bool,
}

/// No figure made from fewer incidents than this is published: a
/// difference of one would point at one call.
pub const PUBLISHED_MINIMUM: i64 = 5;

/// A value computed from `base` incidents, or None when they are too few.
fn published<T>(value: Option<T>, base: i64) -> Option<T> {
    value.filter(|_| base >= PUBLISHED_MINIMUM)
}

impl Store {
    /// Incidents created in `[since, until)`, per category.
    pub async fn public_stats(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<PublicCategoryStats>, StoreError> {
        let not_responses: Vec<&str> = ResolutionCode::NOT_RESPONSES
            .iter()
            .map(|code| code.as_str())
            .collect();
        let rows = sqlx::query!(
            r#"WITH month AS (
               SELECT i.category, i.resolution_code,
                 (i.resolution_code IS NOT NULL AND i.resolution_code = ANY($3)) AS not_response,
                 extract(epoch FROM (SELECT min(a.offered_at) FROM assignments a
                   WHERE a.incident_id = i.id) - i.created_at)::float8 AS to_offer,
                 extract(epoch FROM (SELECT min(t.at) FROM timeline_events t
                   WHERE t.incident_id = i.id AND t.kind = 'assignment_on_scene')
                   - i.created_at)::float8 AS to_scene
               FROM incidents i WHERE i.created_at >= $1 AND i.created_at < $2)
             SELECT category AS "category!", count(*) AS "incidents!",
               count(to_offer) AS "dispatched!",
               percentile_cont(0.5) WITHIN GROUP (ORDER BY to_scene)
                 FILTER (WHERE NOT not_response) AS median,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY to_scene)
                 FILTER (WHERE NOT not_response) AS p90,
               count(to_scene) FILTER (WHERE NOT not_response) AS "timed!",
               (count(*) FILTER (WHERE to_offer <= 60))::float8 / nullif(count(to_offer), 0)
                 AS share,
               count(*) FILTER (WHERE resolution_code = $4) AS "prank!",
               count(*) FILTER (WHERE resolution_code = $5) AS "referred!"
             FROM month GROUP BY category ORDER BY category"#,
            since,
            until,
            &not_responses as &[&str],
            ResolutionCode::Prank.as_str(),
            ResolutionCode::Referred.as_str()
        )
        .fetch_all(&self.side_pool)
        .await?;
        let mut stats = rows
            .into_iter()
            .map(|row| {
                let category = decode::<IncidentCategory>(&row.category)?;
                if row.incidents < PUBLISHED_MINIMUM {
                    return Ok(PublicCategoryStats {
                        category,
                        incidents: 0,
                        dispatched: 0,
                        median_call_to_on_scene_s: None,
                        p90_call_to_on_scene_s: None,
                        share_offered_within_60s: None,
                        prank: 0,
                        referred: 0,
                        suppressed: true,
                    });
                }
                Ok(PublicCategoryStats {
                    category,
                    incidents: row.incidents,
                    dispatched: row.dispatched,
                    median_call_to_on_scene_s: published(row.median, row.timed),
                    p90_call_to_on_scene_s: published(row.p90, row.timed),
                    share_offered_within_60s: published(row.share, row.dispatched),
                    prank: row.prank,
                    referred: row.referred,
                    suppressed: false,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        stats.sort_by_key(|row| {
            IncidentCategory::ALL
                .iter()
                .position(|c| *c == row.category)
        });
        Ok(stats)
    }
}
