//! `PublicService`: the city's figures for anyone, without a token. Only
//! monthly aggregates per category leave; each client address may ask at
//! most 10 times a second.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeZone, Utc};
use governor::{Quota, RateLimiter};
use ngalam112_core::ValidationError;
use ngalam112_proto::v1 as proto;
use ngalam112_proto::v1::public_service_server::PublicService;
use ngalam112_store::{PublicCategoryStats, Store};
use tokio::sync::Semaphore;
use tonic::{Request, Response, Status};

use crate::client_address::TrustedProxies;
use crate::convert::category_to_proto;
use crate::error::{ApiError, answer};

/// Calls per second one client address may make.
pub const CALLS_PER_SECOND: u32 = 10;

type Limiter = RateLimiter<
    IpAddr,
    governor::state::keyed::HashMapStateStore<IpAddr>,
    governor::clock::DefaultClock,
>;

/// A month's figures as computed, by (first day, end), with when.
type Figures = HashMap<(DateTime<Utc>, DateTime<Utc>), (Instant, Vec<proto::CategoryStats>)>;

pub struct PublicApi {
    store: Store,
    proxies: TrustedProxies,
    limiter: Limiter,
    figures: Mutex<Figures>,
    /// How long one computation is served again (`ServerConfig`).
    fresh_for: Duration,
    /// One computation at a time per process.
    computing: Semaphore,
}

impl PublicApi {
    /// `fresh_for`: how long one computation of a month's figures is
    /// served again, so that a flood from many addresses costs the
    /// database one query per month and period, not one per call.
    pub fn new(store: Store, proxies: TrustedProxies, fresh_for: Duration) -> Self {
        let per_second = NonZeroU32::new(CALLS_PER_SECOND).unwrap_or(NonZeroU32::MIN);
        Self {
            store,
            proxies,
            limiter: RateLimiter::hashmap(Quota::per_second(per_second)),
            figures: Mutex::default(),
            fresh_for,
            computing: Semaphore::new(1),
        }
    }

    fn cached(&self, period: (DateTime<Utc>, DateTime<Utc>)) -> Option<Vec<proto::CategoryStats>> {
        let figures = self.figures.lock().unwrap_or_else(PoisonError::into_inner);
        figures
            .get(&period)
            .filter(|(at, _)| at.elapsed() < self.fresh_for)
            .map(|(_, rows)| rows.clone())
    }

    /// The figures of `[since, until)`: computed at most once per
    /// `fresh_for` and one computation at a time (a call that
    /// waits over a second for it is answered RESOURCE_EXHAUSTED).
    async fn figures(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<proto::CategoryStats>, ApiError> {
        if let Some(rows) = self.cached((since, until)) {
            return Ok(rows);
        }
        let _turn = tokio::time::timeout(Duration::from_secs(1), self.computing.acquire())
            .await
            .ok()
            .and_then(Result::ok)
            .ok_or_else(|| {
                ApiError::ResourceExhausted(
                    "the figures are being computed; try again in a moment".to_owned(),
                )
            })?;
        // Computed by the call we waited for?
        if let Some(rows) = self.cached((since, until)) {
            return Ok(rows);
        }
        let rows: Vec<proto::CategoryStats> = self
            .store
            .public_stats(since, until)
            .await?
            .iter()
            .map(stats_to_proto)
            .collect();
        let mut figures = self.figures.lock().unwrap_or_else(PoisonError::into_inner);
        figures.retain(|_, (at, _)| at.elapsed() < self.fresh_for);
        figures.insert((since, until), (Instant::now(), rows.clone()));
        Ok(rows)
    }

    fn admit(&self, client: IpAddr) -> Result<(), Status> {
        // Forget addresses whose allowance is full again, now and then.
        if self.limiter.len() > 10_000 {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&client).map_err(|_| {
            Status::resource_exhausted(format!(
                "more than {CALLS_PER_SECOND} calls a second from this address; try again shortly"
            ))
        })
    }
}

/// Western Indonesia Time, in which the city counts its months.
fn wib() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC"))
}

/// Midnight (WIB) at the start of `now`'s day, in UTC: the current
/// month is published as of then.
pub fn start_of_today(now: DateTime<Utc>) -> DateTime<Utc> {
    let today = now.with_timezone(&wib()).date_naive();
    wib()
        .from_local_datetime(&today.and_hms_opt(0, 0, 0).unwrap_or_default())
        .single()
        .map_or(now, |local| local.with_timezone(&Utc))
}

/// `YYYY-MM` (empty: the current month in WIB) as its first day and the
/// next month's, in UTC.
pub fn month_range(
    month: &str,
    now: DateTime<Utc>,
) -> Result<(String, DateTime<Utc>, DateTime<Utc>), ValidationError> {
    let invalid = || ValidationError::new("month", "must be YYYY-MM (e.g. 2026-11)");
    let first = if month.is_empty() {
        let today = now.with_timezone(&wib()).date_naive();
        NaiveDate::from_ymd_opt(today.year(), today.month(), 1).ok_or_else(invalid)?
    } else {
        let (year, month_number) = month.split_once('-').ok_or_else(invalid)?;
        if year.len() != 4 || month_number.len() != 2 {
            return Err(invalid());
        }
        let year: i32 = year.parse().map_err(|_| invalid())?;
        let month_number: u32 = month_number.parse().map_err(|_| invalid())?;
        if !(1900..=9998).contains(&year) {
            return Err(invalid());
        }
        NaiveDate::from_ymd_opt(year, month_number, 1).ok_or_else(invalid)?
    };
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .ok_or_else(invalid)?;
    let at_midnight = |day: NaiveDate| {
        wib()
            .from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default())
            .single()
            .map(|local| local.with_timezone(&Utc))
            .ok_or_else(invalid)
    };
    Ok((
        first.format("%Y-%m").to_string(),
        at_midnight(first)?,
        at_midnight(next)?,
    ))
}

fn stats_to_proto(row: &PublicCategoryStats) -> proto::CategoryStats {
    let count = |value: i64| i32::try_from(value).unwrap_or(i32::MAX);
    proto::CategoryStats {
        category: category_to_proto(row.category).into(),
        incidents: count(row.incidents),
        dispatched: count(row.dispatched),
        median_call_to_on_scene_s: row.median_call_to_on_scene_s.unwrap_or(0.0),
        p90_call_to_on_scene_s: row.p90_call_to_on_scene_s.unwrap_or(0.0),
        share_offered_within_60s: row.share_offered_within_60s.unwrap_or(0.0),
        prank: count(row.prank),
        referred: count(row.referred),
        suppressed: row.suppressed,
    }
}

#[tonic::async_trait]
impl PublicService for PublicApi {
    async fn get_public_stats(
        &self,
        request: Request<proto::GetPublicStatsRequest>,
    ) -> Result<Response<proto::GetPublicStatsResponse>, Status> {
        self.admit(self.proxies.client_of(&request))?;
        answer(async {
            let now = Utc::now();
            let (month, since, until) = month_range(&request.get_ref().month, now)?;
            // Today's calls are not published until the day is over.
            let until = until.min(start_of_today(now));
            Ok(proto::GetPublicStatsResponse {
                month,
                categories: self.figures(since, until).await?,
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_counted_in_wib() {
        let now = Utc
            .with_ymd_and_hms(2026, 11, 30, 18, 0, 0)
            .single()
            .unwrap_or_default();
        // 1 Dec 01:00 WIB already.
        let (month, since, until) = month_range("", now).expect("current month");
        assert_eq!(month, "2026-12");
        assert_eq!(since.to_rfc3339(), "2026-11-30T17:00:00+00:00");
        assert_eq!(until.to_rfc3339(), "2026-12-31T17:00:00+00:00");
        // 1 Dec 01:00 WIB: published up to 1 Dec 00:00 WIB.
        assert_eq!(
            start_of_today(now).to_rfc3339(),
            "2026-11-30T17:00:00+00:00"
        );
        let (_, since, until) = month_range("2026-02", now).expect("February");
        assert_eq!((until - since).num_days(), 28);
        for bad in [
            "2026-13", "2026-1", "26-11", "2026/11", "abcd-ef", "0000-01", "2026-00",
        ] {
            assert_eq!(month_range(bad, now).unwrap_err().field, "month", "{bad}");
        }
    }
}
