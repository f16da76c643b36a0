//! `IncidentService`: call-takers and dispatchers.

use chrono::{DateTime, Utc};
use ngalam112_core::validation::{self, SHORT_TEXT_MAX_CHARS};
use ngalam112_core::{IncidentDraft, NewIncident, PhoneNumber};
use ngalam112_core::{IncidentId, UnitId, ValidationError};
use ngalam112_proto::v1 as proto;
use ngalam112_proto::v1::incident_service_server::IncidentService;
use ngalam112_store::{IncidentPageCursor, Store};
use tonic::{Request, Response, Status};

use crate::auth::caller;
use crate::convert::{self, incident_to_proto};
use crate::error::answer;

const DEFAULT_PAGE_SIZE: u32 = 50;
const MAX_PAGE_SIZE: u32 = 500;
const DEFAULT_RECOMMENDATIONS: usize = 5;
const MAX_RECOMMENDATIONS: usize = 100;
const MAX_NEARBY_RADIUS_M: f64 = 100_000.0;
/// The kind of WatchIncidents' first event when asked for
/// (`mark_subscribed`): the stream follows changes from here on.
const SUBSCRIBED: &str = "subscribed";

pub struct IncidentApi {
    store: Store,
    /// Incident and alarm changes loaded once for all watchers of this process.
    board: super::board::Fanout,
    /// How many events one watcher's connection may buffer.
    watch_stream_buffer: usize,
    /// Turns true when the server begins to shut down.
    stopping: tokio::sync::watch::Receiver<bool>,
}

impl IncidentApi {
    pub fn new(
        store: Store,
        board: super::board::Fanout,
        watch_stream_buffer: usize,
        stopping: tokio::sync::watch::Receiver<bool>,
    ) -> Self {
        Self {
            store,
            board,
            watch_stream_buffer,
            stopping,
        }
    }
}

/// Parses a CreateIncident request: the enums and the point here (each
/// error names its field), the rest in `NewIncident::parse`.
pub fn new_incident(
    request: &proto::CreateIncidentRequest,
) -> Result<NewIncident, ValidationError> {
    NewIncident::parse(IncidentDraft {
        category: convert::category("category", request.category)?,
        priority: convert::priority("priority", request.priority)?,
        location: convert::geo_point("location", request.location.as_ref())?,
        required_kinds: convert::each(
            convert::unit_kind,
            "required_kinds",
            &request.required_kinds,
        )?,
        caller_phone: &request.caller_phone,
        caller_id_withheld: request.caller_id_withheld,
        caller_name: &request.caller_name,
        address: &request.address,
        description: &request.description,
        request_id: &request.request_id,
        duplicate_of: &request.duplicate_of,
        hold: request.hold,
        call_id: &request.call_id,
    })
}

fn encode_page_token(cursor: &IncidentPageCursor) -> String {
    format!("{}_{}", cursor.created_at.timestamp_micros(), cursor.id)
}

pub fn decode_page_token(token: &str) -> Result<Option<IncidentPageCursor>, ValidationError> {
    if token.is_empty() {
        return Ok(None);
    }
    let invalid = || ValidationError::new("page_token", "is not a token this server issued");
    let (micros, id) = token.split_once('_').ok_or_else(invalid)?;
    let created_at = micros
        .parse::<i64>()
        .ok()
        .and_then(DateTime::<Utc>::from_timestamp_micros)
        .and_then(|at| validation::time_in_range("page_token", at).ok())
        .ok_or_else(invalid)?;
    let id = uuid::Uuid::parse_str(id).map_err(|_| invalid())?;
    Ok(Some(IncidentPageCursor { created_at, id }))
}

#[tonic::async_trait]
impl IncidentService for IncidentApi {
    #[tracing::instrument(skip_all, fields(incident_id))]
    async fn create_incident(
        &self,
        request: Request<proto::CreateIncidentRequest>,
    ) -> Result<Response<proto::Incident>, Status> {
        answer(async {
            let actor = caller(&request)?.actor();
            let new = new_incident(request.get_ref())?;
            if let Some(call_id) = new.call_id()
                && !self.store.call_exists(call_id).await?
            {
                return Err(ValidationError::new(
                    "call_id",
                    "names no call the phone system signalled",
                )
                .into());
            }
            let outcome = self.store.create_incident(&new, &actor).await?;
            tracing::Span::current()
                .record("incident_id", tracing::field::display(outcome.incident.id));
            // Callers' identities stay out of the logs; debug shows them masked.
            tracing::debug!(
                caller_phone = %validation::mask_phone(new.caller_phone()),
                caller_name = %validation::mask_name(new.caller_name()),
                "caller"
            );
            tracing::info!(
                created = outcome.created,
                status = %outcome.incident.status,
                category = %outcome.incident.category,
                priority = %outcome.incident.priority,
                "incident intake"
            );
            Ok(incident_to_proto(&outcome.incident))
        })
        .await
    }

    async fn get_incident(
        &self,
        request: Request<proto::GetIncidentRequest>,
    ) -> Result<Response<proto::Incident>, Status> {
        answer(async {
            let id = IncidentId::parse("id", &request.get_ref().id)?;
            Ok(incident_to_proto(&self.store.incident_detail(id).await?))
        })
        .await
    }

    async fn list_incidents(
        &self,
        request: Request<proto::ListIncidentsRequest>,
    ) -> Result<Response<proto::ListIncidentsResponse>, Status> {
        answer(async {
            let request = request.get_ref();
            let statuses = convert::each(convert::incident_status, "statuses", &request.statuses)?;
            let page_size = match request.page_size {
                0 => DEFAULT_PAGE_SIZE,
                size if size < 0 => {
                    return Err(ValidationError::new("page_size", "must not be negative").into());
                }
                size => u32::try_from(size)
                    .unwrap_or(MAX_PAGE_SIZE)
                    .min(MAX_PAGE_SIZE),
            };
            let after = decode_page_token(&request.page_token)?;
            let mut incidents = self
                .store
                .list_incidents(&statuses, page_size + 1, after)
                .await?;
            let next_page_token = if incidents.len() > page_size as usize {
                incidents.truncate(page_size as usize);
                incidents
                    .last()
                    .map(|last| {
                        encode_page_token(&IncidentPageCursor {
                            created_at: last.created_at,
                            id: last.id.uuid(),
                        })
                    })
                    .unwrap_or_default()
            } else {
                String::new()
            };
            Ok(proto::ListIncidentsResponse {
                incidents: incidents.iter().map(incident_to_proto).collect(),
                next_page_token,
            })
        })
        .await
    }

    async fn find_nearby_incidents(
        &self,
        request: Request<proto::FindNearbyIncidentsRequest>,
    ) -> Result<Response<proto::FindNearbyIncidentsResponse>, Status> {
        answer(async {
            let request = request.get_ref();
            let location = convert::geo_point("location", request.location.as_ref())?;
            if !request.radius_m.is_finite()
                || request.radius_m <= 0.0
                || request.radius_m > MAX_NEARBY_RADIUS_M
            {
                return Err(ValidationError::new(
                    "radius_m",
                    format!("must be within (0, {MAX_NEARBY_RADIUS_M}] metres"),
                )
                .into());
            }
            let category = convert::optional(convert::category, "category", request.category)?;
            let incidents = self
                .store
                .find_nearby_incidents(location, request.radius_m, category)
                .await?;
            Ok(proto::FindNearbyIncidentsResponse {
                incidents: incidents.iter().map(incident_to_proto).collect(),
            })
        })
        .await
    }

    async fn recommend_units(
        &self,
        request: Request<proto::RecommendUnitsRequest>,
    ) -> Result<Response<proto::RecommendUnitsResponse>, Status> {
        answer(async {
            let request = request.get_ref();
            let incident_id = IncidentId::parse("incident_id", &request.incident_id)?;
            let kind = convert::optional(convert::unit_kind, "kind", request.kind)?;
            let limit = match request.limit {
                0 => DEFAULT_RECOMMENDATIONS,
                limit if limit < 0 => {
                    return Err(ValidationError::new("limit", "must not be negative").into());
                }
                limit => usize::try_from(limit)
                    .unwrap_or(MAX_RECOMMENDATIONS)
                    .min(MAX_RECOMMENDATIONS),
            };
            let recommendations = self.store.recommend_units(incident_id, kind, limit).await?;
            Ok(proto::RecommendUnitsResponse {
                recommendations: recommendations
                    .iter()
                    .map(|recommendation| proto::UnitRecommendation {
                        unit: Some(convert::unit_to_proto(&recommendation.unit)),
                        distance_m: recommendation.distance_m,
                        location_age_s: recommendation.location_age.as_seconds_f64(),
                        location_stale: recommendation.location_stale,
                        eta_s: recommendation.road.map_or(0.0, |leg| leg.eta_s),
                        road_distance_m: recommendation.road.map_or(0.0, |leg| leg.distance_m),
                    })
                    .collect(),
            })
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(incident_id = %request.get_ref().incident_id, unit_id = %request.get_ref().unit_id))]
    async fn assign_unit(
        &self,
        request: Request<proto::AssignUnitRequest>,
    ) -> Result<Response<proto::Assignment>, Status> {
        answer(async {
            let actor = caller(&request)?.actor();
            let incident_id = IncidentId::parse("incident_id", &request.get_ref().incident_id)?;
            let unit_id = UnitId::parse("unit_id", &request.get_ref().unit_id)?;
            let assignment = self.store.assign_unit(incident_id, unit_id, &actor).await?;
            tracing::info!(assignment_id = %assignment.id, "dispatcher override");
            Ok(convert::assignment_to_proto(&assignment))
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(incident_id = %request.get_ref().id))]
    async fn cancel_incident(
        &self,
        request: Request<proto::CancelIncidentRequest>,
    ) -> Result<Response<proto::Incident>, Status> {
        answer(async {
            let actor = caller(&request)?.actor();
            let id = IncidentId::parse("id", &request.get_ref().id)?;
            let reason = validation::text(
                "reason",
                request.get_ref().reason.trim(),
                SHORT_TEXT_MAX_CHARS,
            )?;
            let code = convert::closing_code(request.get_ref().resolution_code)?;
            let incident = self
                .store
                .cancel_incident(id, code, &reason, &actor)
                .await?;
            tracing::info!("incident cancelled");
            Ok(incident_to_proto(&incident))
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(incident_id = %request.get_ref().incident_id))]
    async fn refer_incident(
        &self,
        request: Request<proto::ReferIncidentRequest>,
    ) -> Result<Response<proto::Referral>, Status> {
        answer(async {
            let actor = caller(&request)?.actor();
            let request = request.get_ref();
            let incident_id = IncidentId::parse("incident_id", &request.incident_id)?;
            let agency_id = ngalam112_core::AgencyId::parse("agency_id", &request.agency_id)?;
            let note = validation::text("note", request.note.trim(), SHORT_TEXT_MAX_CHARS)?;
            let referral = self
                .store
                .refer_incident(incident_id, agency_id, &note, &actor)
                .await?;
            tracing::info!(referral_id = %referral.id, agency = %referral.agency_short_name, "incident referred");
            Ok(convert::referral_to_proto(&referral))
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(incident_id = %request.get_ref().id))]
    async fn release_hold(
        &self,
        request: Request<proto::ReleaseHoldRequest>,
    ) -> Result<Response<proto::Incident>, Status> {
        answer(async {
            let actor = caller(&request)?.actor();
            let id = IncidentId::parse("id", &request.get_ref().id)?;
            let incident = self.store.release_hold(id, &actor).await?;
            tracing::info!("hold released");
            Ok(incident_to_proto(&incident))
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(incident_id = %request.get_ref().id))]
    async fn resolve_incident(
        &self,
        request: Request<proto::ResolveIncidentRequest>,
    ) -> Result<Response<proto::Incident>, Status> {
        answer(async {
            let actor = caller(&request)?.actor();
            let id = IncidentId::parse("id", &request.get_ref().id)?;
            let resolution = validation::text(
                "resolution",
                request.get_ref().resolution.trim(),
                SHORT_TEXT_MAX_CHARS,
            )?;
            let code = convert::closing_code(request.get_ref().resolution_code)?;
            let incident = self
                .store
                .resolve_incident(id, code, &resolution, &actor)
                .await?;
            tracing::info!("incident resolved");
            Ok(incident_to_proto(&incident))
        })
        .await
    }

    async fn get_incident_timeline(
        &self,
        request: Request<proto::GetIncidentTimelineRequest>,
    ) -> Result<Response<proto::GetIncidentTimelineResponse>, Status> {
        answer(async {
            let id = IncidentId::parse("id", &request.get_ref().id)?;
            let events = self.store.timeline(id).await?;
            Ok(proto::GetIncidentTimelineResponse {
                events: events
                    .iter()
                    .map(convert::timeline_event_to_proto)
                    .collect(),
            })
        })
        .await
    }

    async fn get_response_time_report(
        &self,
        request: Request<proto::GetResponseTimeReportRequest>,
    ) -> Result<Response<proto::ResponseTimeReport>, Status> {
        answer(async {
            let request = request.get_ref();
            let since = convert::required_time("since", request.since.as_ref())?;
            let until = match &request.until {
                Some(until) => convert::required_time("until", Some(until))?,
                None => Utc::now(),
            };
            if until <= since {
                return Err(ValidationError::new("until", "must be after since").into());
            }
            let target = match request.target_seconds {
                0.0 => 60.0,
                target if target.is_finite() && target > 0.0 => target,
                _ => {
                    return Err(ValidationError::new(
                        "target_seconds",
                        "must be a positive number",
                    )
                    .into());
                }
            };
            let report = self
                .store
                .response_time_report(since, until, target)
                .await?;
            Ok(proto::ResponseTimeReport {
                target_seconds: target,
                prank_incidents: i32::try_from(report.prank_incidents).unwrap_or(i32::MAX),
                duplicate_incidents: i32::try_from(report.duplicate_incidents).unwrap_or(i32::MAX),
                referrals: i32::try_from(report.referrals.sent).unwrap_or(i32::MAX),
                referrals_acknowledged_within_target: i32::try_from(
                    report.referrals.acknowledged_within_target,
                )
                .unwrap_or(i32::MAX),
                referrals_unanswered: i32::try_from(report.referrals.unanswered)
                    .unwrap_or(i32::MAX),
                p90_referral_to_acknowledge_s: report.referrals.p90_to_acknowledge_s,
                calls: convert::saturating_i32(report.calls.calls),
                abandoned_calls: convert::saturating_i32(report.calls.abandoned),
                answered_within_10s_share: report.calls.answered_within_10s,
                answered_within_20s_share: report.calls.answered_within_20s,
                calls_recorded: convert::saturating_i32(report.calls.recorded),
                p50_answer_to_incident_s: report.calls.p50_answer_to_incident_s,
                p90_answer_to_incident_s: report.calls.p90_answer_to_incident_s,
                rows: report
                    .rows
                    .iter()
                    .map(|row| proto::ResponseTimeRow {
                        category: row
                            .category
                            .map_or(0, |c| convert::category_to_proto(c).into()),
                        priority: row
                            .priority
                            .map_or(0, |p| convert::priority_to_proto(p).into()),
                        incidents: i32::try_from(row.incidents).unwrap_or(i32::MAX),
                        offered_within_target: i32::try_from(row.offered_within_target)
                            .unwrap_or(i32::MAX),
                        accepted_within_target: i32::try_from(row.accepted_within_target)
                            .unwrap_or(i32::MAX),
                        p90_call_to_offer_s: row.p90_call_to_offer_s,
                        p90_call_to_accept_s: row.p90_call_to_accept_s,
                    })
                    .collect(),
            })
        })
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn ingest_device_location(
        &self,
        request: Request<proto::IngestDeviceLocationRequest>,
    ) -> Result<Response<proto::IngestDeviceLocationResponse>, Status> {
        answer(async {
            let actor = caller(&request)?.actor();
            let request = request.get_ref();
            let phone = PhoneNumber::parse("caller_phone", &request.caller_phone)?;
            let payload = validation::text("payload", &request.payload, 2_000)?;
            let fix = ngalam112_core::aml::parse(&payload, Utc::now())?;
            let outcome = self.store.ingest_device_fix(&phone, &fix, &actor).await?;
            tracing::info!(
                attached = outcome.attached.len(),
                held = outcome.held,
                method = fix.method.as_str(),
                "device location received"
            );
            Ok(proto::IngestDeviceLocationResponse {
                incident_ids: outcome.attached.iter().map(ToString::to_string).collect(),
                held: outcome.held,
            })
        })
        .await
    }

    async fn get_incident_eido(
        &self,
        request: Request<proto::GetIncidentEidoRequest>,
    ) -> Result<Response<proto::GetIncidentEidoResponse>, Status> {
        answer(async {
            let id = IncidentId::parse("id", &request.get_ref().id)?;
            // An export reads on the side connections (never dispatch's).
            let store = self.store.side();
            let incident = store.incident_detail(id).await?;
            let timeline = store.timeline(id).await?;
            let mut unit_ids: Vec<UnitId> =
                incident.assignments.iter().map(|a| a.unit_id).collect();
            unit_ids.sort();
            unit_ids.dedup();
            let mut units = Vec::with_capacity(unit_ids.len());
            for unit_id in unit_ids {
                units.push(store.unit(unit_id).await?);
            }
            let document = crate::eido::export(&incident, &timeline, &units);
            Ok(proto::GetIncidentEidoResponse {
                eido_json: document.to_string(),
            })
        })
        .await
    }

    type WatchIncidentsStream =
        tokio_stream::wrappers::ReceiverStream<Result<proto::IncidentEvent, Status>>;

    async fn watch_incidents(
        &self,
        request: Request<proto::WatchIncidentsRequest>,
    ) -> Result<Response<Self::WatchIncidentsStream>, Status> {
        let changes = self.board.incidents();
        let (sender, receiver) = tokio::sync::mpsc::channel(self.watch_stream_buffer.max(2));
        if request.get_ref().mark_subscribed {
            // Following changes from here on: a list read after this
            // marker misses nothing.
            let _ = sender.try_send(Ok(proto::IncidentEvent {
                incident: None,
                kind: SUBSCRIBED.to_owned(),
            }));
        }
        tokio::spawn(super::fleet::forward(
            changes,
            sender,
            crate::streams::end_of_stream(self.stopping.clone(), caller(&request).ok()),
        ));
        Ok(Response::new(tokio_stream::wrappers::ReceiverStream::new(
            receiver,
        )))
    }

    type WatchAlarmsStream = super::fleet::FleetStream<proto::Alarm>;

    async fn watch_alarms(
        &self,
        request: Request<proto::WatchAlarmsRequest>,
    ) -> Result<Response<Self::WatchAlarmsStream>, Status> {
        let end = crate::streams::end_of_stream(self.stopping.clone(), caller(&request).ok());
        let stream = super::fleet::watch_alarms(self.store.clone(), &self.board, end).await?;
        Ok(Response::new(stream))
    }

    async fn list_alarms(
        &self,
        request: Request<proto::ListAlarmsRequest>,
    ) -> Result<Response<proto::ListAlarmsResponse>, Status> {
        answer(async {
            let alarms = self.store.alarms(request.get_ref().open_only).await?;
            Ok(proto::ListAlarmsResponse {
                alarms: alarms.iter().map(convert::alarm_to_proto).collect(),
            })
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(alarm_id = %request.get_ref().alarm_id))]
    async fn acknowledge_alarm(
        &self,
        request: Request<proto::AcknowledgeAlarmRequest>,
    ) -> Result<Response<proto::Alarm>, Status> {
        answer(async {
            let actor = caller(&request)?.actor();
            let alarm_id = ngalam112_core::AlarmId::parse("alarm_id", &request.get_ref().alarm_id)?;
            let alarm = self.store.acknowledge_alarm(alarm_id, &actor).await?;
            tracing::info!(acknowledged_by = %actor.0, "alarm acknowledged");
            Ok(convert::alarm_to_proto(&alarm))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip_and_garbage_is_refused() {
        let cursor = IncidentPageCursor {
            created_at: DateTime::<Utc>::from_timestamp_micros(1_800_000_000_123_456).unwrap(),
            id: uuid::Uuid::new_v4(),
        };
        assert_eq!(
            decode_page_token(&encode_page_token(&cursor)).unwrap(),
            Some(cursor)
        );
        assert_eq!(decode_page_token("x_y").unwrap_err().field, "page_token");
        assert_eq!(decode_page_token("").unwrap(), None);
    }
}
