//! Incidents created with `hold` (recorded, not yet to be dispatched): an
//! operator releases them, and from then on they are dispatched like any
//! other call.

use ngalam112_core::{EventKind, IncidentId, UnitKind};

use crate::incidents::refuse_if_closed;
use crate::records::stored_kinds;
use crate::timeline::{self, Event};
use crate::{Actor, IncidentRecord, Store, StoreError};

impl Store {
    /// Ends the hold and dispatches the incident per the rules (nearest
    /// available unit of each kind it needs; those it cannot fill wait in
    /// the queue by priority and age). FAILED_PRECONDITION when it is not
    /// on hold or already closed.
    pub async fn release_hold(
        &self,
        incident_id: IncidentId,
        actor: &Actor,
    ) -> Result<IncidentRecord, StoreError> {
        self.retrying(|| async {
            // Every kind's lock: a dispatcher's assignment may add kinds.
            let mut transaction = self.dispatcher().exclusive(UnitKind::ALL, actor).await?;
            let incident = sqlx::query!(
                "SELECT status, hold, required_kinds FROM incidents WHERE id = $1 \
                     FOR NO KEY UPDATE",
                incident_id.uuid(),
            )
            .fetch_optional(&mut *transaction)
            .await?
            .ok_or_else(|| StoreError::not_found("incident", incident_id))?;
            let (status, hold, required) =
                (incident.status, incident.hold, incident.required_kinds);
            let kinds = stored_kinds(&required)?;
            refuse_if_closed(&status)?;
            if !hold {
                return Err(StoreError::FailedPrecondition(
                    "incident is not on hold".to_owned(),
                ));
            }
            sqlx::query!(
                "UPDATE incidents SET hold = false, updated_at = now() WHERE id = $1",
                incident_id.uuid(),
            )
            .execute(&mut *transaction)
            .await?;
            timeline::append(
                &mut transaction,
                actor,
                Event::incident(
                    incident_id,
                    EventKind::HoldReleased,
                    "released for dispatch",
                ),
            )
            .await?;
            transaction.settle(&kinds).await?;
            transaction.finish().await?;
            Ok(())
        })
        .await?;
        self.incident(incident_id).await
    }
}
