//! Partner agencies and the referrals handed to them. A referral carries
//! what the agency needs to act (category, place, description) and never
//! the caller's name or number.

use chrono::{DateTime, Utc};
use ngalam112_core::{
    AgencyId, GeoPoint, IncidentCategory, IncidentId, ReferralId, ReferralStatus,
};
use uuid::Uuid;

use crate::dispatch::lock_incident;
use crate::incidents::refuse_if_closed;
use crate::records::decode;
use crate::timeline::{self, Event};
use crate::{Actor, Store, StoreError};

#[derive(Debug, Clone)]
pub struct AgencyRecord {
    pub id: AgencyId,
    pub name: String,
    pub short_name: String,
    pub contact: String,
}

#[derive(Debug, Clone)]
pub struct ReferralRecord {
    pub id: ReferralId,
    pub incident_id: IncidentId,
    pub agency_id: AgencyId,
    pub agency_short_name: String,
    pub status: ReferralStatus,
    pub note: String,
    pub answer: String,
    pub sent_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub category: IncidentCategory,
    pub location: GeoPoint,
    pub address: String,
    pub description: String,
}

struct ReferralRow {
    id: Uuid,
    incident_id: Uuid,
    agency_id: Uuid,
    short_name: String,
    status: String,
    note: String,
    answer: String,
    sent_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    acknowledged_at: Option<DateTime<Utc>>,
    category: String,
    lat: f64,
    lon: f64,
    address: String,
    description: String,
}

/// `SELECT` a referral with its agency's short name and its incident's
/// place (`r`: referrals, `a`: agencies, `i`: incidents), then `$sql`
/// (`WHERE …`), checked at build time.
macro_rules! select_referrals {
    ($sql:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            ReferralRow,
            "SELECT r.id, r.incident_id, r.agency_id, a.short_name, r.status, r.note, r.answer, \
               r.sent_at, r.updated_at, r.acknowledged_at, i.category, i.lat, i.lon, i.address, \
               i.description \
             FROM referrals r JOIN agencies a ON a.id = r.agency_id \
               JOIN incidents i ON i.id = r.incident_id "
                + $sql
            $(, $arg)*
        )
    };
}

impl TryFrom<ReferralRow> for ReferralRecord {
    type Error = StoreError;

    fn try_from(row: ReferralRow) -> Result<Self, StoreError> {
        Ok(ReferralRecord {
            id: ReferralId::from_uuid(row.id),
            incident_id: IncidentId::from_uuid(row.incident_id),
            agency_id: AgencyId::from_uuid(row.agency_id),
            agency_short_name: row.short_name,
            status: decode::<ReferralStatus>(&row.status)?,
            note: row.note,
            answer: row.answer,
            sent_at: row.sent_at,
            updated_at: row.updated_at,
            acknowledged_at: row.acknowledged_at,
            category: decode::<IncidentCategory>(&row.category)?,
            location: GeoPoint::new("location", row.lat, row.lon)
                .map_err(|error| StoreError::Internal(error.to_string()))?,
            address: row.address,
            description: row.description,
        })
    }
}

/// An incident's referrals, oldest first.
pub(crate) async fn referrals_of(
    connection: &mut sqlx::PgConnection,
    incident_id: IncidentId,
) -> Result<Vec<ReferralRecord>, StoreError> {
    let rows = select_referrals!(
        "WHERE r.incident_id = $1 ORDER BY r.sent_at, r.id",
        incident_id.uuid()
    )
    .fetch_all(&mut *connection)
    .await?;
    rows.into_iter().map(ReferralRecord::try_from).collect()
}

impl Store {
    pub async fn register_agency(
        &self,
        name: &str,
        short_name: &str,
        contact: &str,
    ) -> Result<AgencyRecord, StoreError> {
        let id = AgencyId::from_uuid(Uuid::new_v4());
        sqlx::query!(
            "INSERT INTO agencies (id, name, short_name, contact) VALUES ($1, $2, $3, $4)",
            id.uuid(),
            name,
            short_name,
            contact,
        )
        .execute(&self.pool)
        .await?;
        Ok(AgencyRecord {
            id,
            name: name.to_owned(),
            short_name: short_name.to_owned(),
            contact: contact.to_owned(),
        })
    }

    /// Every agency, by short name.
    pub async fn list_agencies(&self) -> Result<Vec<AgencyRecord>, StoreError> {
        let rows =
            sqlx::query!("SELECT id, name, short_name, contact FROM agencies ORDER BY short_name")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|row| AgencyRecord {
                id: AgencyId::from_uuid(row.id),
                name: row.name,
                short_name: row.short_name,
                contact: row.contact,
            })
            .collect())
    }

    /// Hands the incident to an agency (it stays open). FAILED_PRECONDITION
    /// when the incident is closed.
    pub async fn refer_incident(
        &self,
        incident_id: IncidentId,
        agency_id: AgencyId,
        note: &str,
        actor: &Actor,
    ) -> Result<ReferralRecord, StoreError> {
        let id = ReferralId::new_random();
        self.retrying(move || async move {
            let mut transaction = self.pool.begin().await?;
            lock_incident(&mut transaction, incident_id).await?;
            let status: String = sqlx::query_scalar!(
                "SELECT status FROM incidents WHERE id = $1",
                incident_id.uuid(),
            )
            .fetch_one(&mut *transaction)
            .await?;
            refuse_if_closed(&status)?;
            let short_name: String = sqlx::query_scalar!(
                "SELECT short_name FROM agencies WHERE id = $1",
                agency_id.uuid(),
            )
            .fetch_optional(&mut *transaction)
            .await?
            .ok_or_else(|| StoreError::not_found("agency", agency_id))?;
            sqlx::query!(
                "INSERT INTO referrals (id, incident_id, agency_id, status, note) \
                 VALUES ($1, $2, $3, 'sent', $4)",
                id.uuid(),
                incident_id.uuid(),
                agency_id.uuid(),
                note,
            )
            .execute(&mut *transaction)
            .await?;
            timeline::append(
                &mut transaction,
                actor,
                Event::incident(
                    incident_id,
                    ngalam112_core::EventKind::ReferralSent,
                    format!("referred to {short_name}"),
                ),
            )
            .await?;
            transaction.commit().await?;
            Ok(())
        })
        .await?;
        self.referral(id).await
    }

    pub async fn referral(&self, id: ReferralId) -> Result<ReferralRecord, StoreError> {
        let row = select_referrals!("WHERE r.id = $1", id.uuid())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("referral", id))?;
        ReferralRecord::try_from(row)
    }

    /// Newest first; of one agency (None: all), of one status (None: all).
    pub async fn referrals(
        &self,
        agency: Option<AgencyId>,
        status: Option<ReferralStatus>,
    ) -> Result<Vec<ReferralRecord>, StoreError> {
        let rows = select_referrals!(
            "WHERE ($1::uuid IS NULL OR r.agency_id = $1) AND ($2::text IS NULL OR r.status = $2) \
             ORDER BY r.sent_at DESC, r.id LIMIT 500",
            agency.map(|agency| agency.uuid()),
            status.map(ReferralStatus::as_str),
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(ReferralRecord::try_from).collect()
    }

    /// The agency's answer: forward only (FAILED_PRECONDITION otherwise);
    /// on the incident's timeline, so every board sees it.
    pub async fn update_referral(
        &self,
        id: ReferralId,
        next: ReferralStatus,
        answer: &str,
        actor: &Actor,
    ) -> Result<ReferralRecord, StoreError> {
        let incident: Uuid =
            sqlx::query_scalar!("SELECT incident_id FROM referrals WHERE id = $1", id.uuid())
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| StoreError::not_found("referral", id))?;
        self.retrying(move || async move {
            let mut transaction = self.pool.begin().await?;
            // Lock order: the incident first, then its referral.
            lock_incident(&mut transaction, IncidentId::from_uuid(incident)).await?;
            let referral = sqlx::query!(
                "SELECT r.status, a.short_name FROM referrals r \
                 JOIN agencies a ON a.id = r.agency_id WHERE r.id = $1 FOR UPDATE OF r",
                id.uuid(),
            )
            .fetch_one(&mut *transaction)
            .await?;
            let (status, short_name) = (referral.status, referral.short_name);
            let current = decode::<ReferralStatus>(&status)?;
            if !current.can_become(next) {
                return Err(StoreError::FailedPrecondition(format!(
                    "referral is {current}; it cannot become {next} (forward only; rejected is final)"
                )));
            }
            sqlx::query!(
                "UPDATE referrals SET status = $2, \
                   answer = CASE WHEN $3 = '' THEN answer ELSE $3 END, \
                   acknowledged_at = coalesce(acknowledged_at, now()), updated_at = now() \
                 WHERE id = $1",
                id.uuid(),
                next.as_str(),
                answer,
            )
            .execute(&mut *transaction)
            .await?;
            let detail = if answer.is_empty() {
                format!("{short_name}: {next}")
            } else {
                format!("{short_name}: {next} — {answer}")
            };
            timeline::append(
                &mut transaction,
                actor,
                Event::incident(
                    IncidentId::from_uuid(incident),
                    ngalam112_core::EventKind::of_referral(next),
                    detail,
                ),
            )
            .await?;
            transaction.commit().await?;
            Ok(())
        })
        .await?;
        self.referral(id).await
    }
}
