//! `FieldService`: the crews' devices. A unit token acts only for its own
//! unit and that unit's assignments.

use ngalam112_core::validation::{self, SHORT_TEXT_MAX_CHARS};
use ngalam112_core::{AssignmentId, AssignmentStatus, UnitId, ValidationError};
use ngalam112_proto::v1 as proto;
use ngalam112_proto::v1::field_service_server::FieldService;
use ngalam112_store::{AvlWriter, ChangeFeed, Store};
use tonic::{Request, Response, Status};

use crate::auth::{Caller, caller};
use crate::convert::{self, assignment_to_proto, incident_to_proto};
use crate::error::{ApiError, ApiResult, answer};

/// Longest long-poll a device may ask for.
pub const MAX_WAIT_SECONDS: u32 = 30;

pub struct FieldApi {
    store: Store,
    feed: ChangeFeed,
    positions: AvlWriter,
    /// Turns true when the server begins to shut down.
    stopping: tokio::sync::watch::Receiver<bool>,
}

impl FieldApi {
    pub fn new(
        store: Store,
        feed: ChangeFeed,
        stopping: tokio::sync::watch::Receiver<bool>,
    ) -> Self {
        Self {
            positions: AvlWriter::start(store.pool().clone()),
            store,
            feed,
            stopping,
        }
    }

    /// The unit's open assignment; with `wait` > 0, waits for an offer (from
    /// any server process) up to `wait` when there is none yet. Idle waits
    /// cost no database work: they sleep on the change feed.
    async fn open_assignment(
        &self,
        unit_id: UnitId,
        wait: std::time::Duration,
    ) -> ApiResult<proto::PollAssignmentResponse> {
        let signal = self.feed.offer_signal(unit_id);
        let offered = signal.notified();
        tokio::pin!(offered);
        // Registered before reading, so an offer committed in between wakes us.
        offered.as_mut().enable();
        let mut connection = self.feed.connection();
        let mut stopping = self.stopping.clone();
        // The reads are boxed: this future is held for the whole wait (by
        // 10,000 waiting crews at once), and an inline read would make
        // every waiting poll as large as the largest read's state.
        let mut open = Box::pin(self.store.open_assignment(unit_id)).await?;
        if open.is_none() && !wait.is_zero() {
            let connected = *connection.borrow();
            if !connected {
                return Err(ApiError::Unavailable(
                    "live updates are reconnecting to the database; poll again shortly".to_owned(),
                ));
            }
            // (The watch guards are dropped inside each future: they must
            // not live across the awaits below.)
            let shutting_down = async {
                let _ = stopping.wait_for(|stopping| *stopping).await;
            };
            let connection_lost = async {
                let _ = connection.wait_for(|connected| !*connected).await;
            };
            tokio::select! {
                () = &mut offered => open = Box::pin(self.store.open_assignment(unit_id)).await?,
                () = tokio::time::sleep(wait) => {}
                // Shutting down: answer now with what there is.
                () = shutting_down => {}
                () = connection_lost => {
                    return Err(ApiError::Unavailable(
                        "lost the database connection while waiting; poll again shortly".to_owned(),
                    ));
                }
            }
        }
        Ok(match open {
            Some((assignment, incident)) => proto::PollAssignmentResponse {
                assignment: Some(assignment_to_proto(&assignment)),
                incident: Some(incident_to_proto(&incident)),
            },
            None => proto::PollAssignmentResponse::default(),
        })
    }

    /// Parses an assignment id and checks that the caller's unit holds it.
    async fn own_assignment(
        &self,
        caller: &Caller,
        field: &str,
        value: &str,
    ) -> ApiResult<AssignmentId> {
        let id = AssignmentId::parse(field, value)?;
        let unit = self.store.assignment_unit(id).await?;
        caller.require_unit(unit)?;
        Ok(id)
    }
}

#[tonic::async_trait]
impl FieldService for FieldApi {
    async fn report_location(
        &self,
        request: Request<proto::ReportLocationRequest>,
    ) -> Result<Response<proto::Unit>, Status> {
        answer(async {
            let caller = caller(&request)?;
            let unit_id = UnitId::parse("unit_id", &request.get_ref().unit_id)?;
            let location = convert::geo_point("location", request.get_ref().location.as_ref())?;
            caller.require_unit(unit_id)?;
            Ok(convert::unit_to_proto(
                &self.positions.report(unit_id, location).await?,
            ))
        })
        .await
    }

    async fn poll_assignment(
        &self,
        request: Request<proto::PollAssignmentRequest>,
    ) -> Result<Response<proto::PollAssignmentResponse>, Status> {
        answer(async {
            let caller = caller(&request)?;
            let unit_id = UnitId::parse("unit_id", &request.get_ref().unit_id)?;
            if request.get_ref().wait_seconds > MAX_WAIT_SECONDS {
                return Err(ValidationError::new(
                    "wait_seconds",
                    format!("must be at most {MAX_WAIT_SECONDS}"),
                )
                .into());
            }
            caller.require_unit(unit_id)?;
            let wait = std::time::Duration::from_secs(u64::from(request.get_ref().wait_seconds));
            self.open_assignment(unit_id, wait).await
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(assignment_id = %request.get_ref().assignment_id))]
    async fn accept_assignment(
        &self,
        request: Request<proto::AcceptAssignmentRequest>,
    ) -> Result<Response<proto::Assignment>, Status> {
        answer(async {
            let caller = caller(&request)?;
            let id = self
                .own_assignment(&caller, "assignment_id", &request.get_ref().assignment_id)
                .await?;
            let assignment = self.store.accept_assignment(id, &caller.actor()).await?;
            tracing::info!(unit_id = %assignment.unit_id, "offer accepted");
            Ok(assignment_to_proto(&assignment))
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(assignment_id = %request.get_ref().assignment_id))]
    async fn decline_assignment(
        &self,
        request: Request<proto::DeclineAssignmentRequest>,
    ) -> Result<Response<proto::Assignment>, Status> {
        answer(async {
            let caller = caller(&request)?;
            let reason = validation::text(
                "reason",
                request.get_ref().reason.trim(),
                SHORT_TEXT_MAX_CHARS,
            )?;
            let id = self
                .own_assignment(&caller, "assignment_id", &request.get_ref().assignment_id)
                .await?;
            let assignment = self
                .store
                .decline_assignment(id, &reason, &caller.actor())
                .await?;
            tracing::info!(unit_id = %assignment.unit_id, "offer declined");
            Ok(assignment_to_proto(&assignment))
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(assignment_id = %request.get_ref().assignment_id))]
    async fn update_assignment_status(
        &self,
        request: Request<proto::UpdateAssignmentStatusRequest>,
    ) -> Result<Response<proto::Assignment>, Status> {
        answer(async {
            let caller = caller(&request)?;
            let status = convert::assignment_status("status", request.get_ref().status)?;
            if !matches!(
                status,
                AssignmentStatus::Accepted
                    | AssignmentStatus::EnRoute
                    | AssignmentStatus::OnScene
                    | AssignmentStatus::Completed
            ) {
                return Err(ValidationError::new(
                    "status",
                    "must be ACCEPTED, EN_ROUTE, ON_SCENE or COMPLETED",
                )
                .into());
            }
            let id = self
                .own_assignment(&caller, "assignment_id", &request.get_ref().assignment_id)
                .await?;
            let assignment = if status == AssignmentStatus::Accepted {
                self.store.accept_assignment(id, &caller.actor()).await?
            } else {
                self.store
                    .update_assignment_status(id, status, &caller.actor())
                    .await?
            };
            tracing::info!(unit_id = %assignment.unit_id, status = %assignment.status, "assignment progressed");
            Ok(assignment_to_proto(&assignment))
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(unit_id = %request.get_ref().unit_id))]
    async fn raise_alarm(
        &self,
        request: Request<proto::RaiseAlarmRequest>,
    ) -> Result<Response<proto::Alarm>, Status> {
        answer(async {
            let caller = caller(&request)?;
            let request = request.get_ref();
            let unit_id = UnitId::parse("unit_id", &request.unit_id)?;
            caller.require_unit(unit_id)?;
            // Without a position (a phone with no GPS fix), the unit's last
            // reported one: an alarm is never refused for want of one.
            let location = match request.location.as_ref() {
                Some(location) => convert::geo_point("location", Some(location))?,
                None => self.store.unit(unit_id).await?.location,
            };
            let note = validation::text("note", request.note.trim(), SHORT_TEXT_MAX_CHARS)?;
            let alarm = self.store.raise_alarm(unit_id, location, &note).await?;
            tracing::warn!(alarm_id = %alarm.id, call_sign = %alarm.unit_call_sign, "crew in danger");
            Ok(convert::alarm_to_proto(&alarm))
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(assignment_id = %request.get_ref().assignment_id))]
    async fn get_route(
        &self,
        request: Request<proto::GetRouteRequest>,
    ) -> Result<Response<proto::Route>, Status> {
        answer(async {
            let caller = caller(&request)?;
            // A crew sees its own routes; operators and admins any.
            let id = if matches!(caller.role, ngalam112_core::Role::Unit(_)) {
                self.own_assignment(&caller, "assignment_id", &request.get_ref().assignment_id)
                    .await?
            } else {
                AssignmentId::parse("assignment_id", &request.get_ref().assignment_id)?
            };
            let (_, route) = self.store.assignment_route(id).await?;
            Ok(proto::Route {
                points: route
                    .points
                    .iter()
                    .map(convert::geo_point_to_proto)
                    .collect(),
                eta_s: route.leg.eta_s,
                distance_m: route.leg.distance_m,
            })
        })
        .await
    }
}
