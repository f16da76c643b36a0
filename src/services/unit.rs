//! `UnitService`: the fleet.

use ngalam112_core::validation::{self, SHORT_TEXT_MAX_CHARS};
use ngalam112_core::{UnitId, ValidationError};
use ngalam112_proto::v1 as proto;
use ngalam112_proto::v1::unit_service_server::UnitService;
use ngalam112_store::{NewUnit, Store};
use tonic::{Request, Response, Status};

use crate::auth::caller;
use crate::convert::{self, unit_to_proto};
use crate::error::answer;

pub struct UnitApi {
    store: Store,
    /// Unit changes loaded once for all watchers of this process.
    board: super::board::Fanout,
    /// Turns true when the server begins to shut down.
    stopping: tokio::sync::watch::Receiver<bool>,
}

impl UnitApi {
    pub fn new(
        store: Store,
        board: super::board::Fanout,
        stopping: tokio::sync::watch::Receiver<bool>,
    ) -> Self {
        Self {
            store,
            board,
            stopping,
        }
    }
}

/// Validates a RegisterUnit request into the store's terms.
pub fn new_unit(request: &proto::RegisterUnitRequest) -> Result<NewUnit, ValidationError> {
    Ok(NewUnit {
        call_sign: validation::call_sign(&request.call_sign)?,
        kind: convert::unit_kind("kind", request.kind)?,
        agency: validation::text("agency", request.agency.trim(), SHORT_TEXT_MAX_CHARS)?,
        location: convert::geo_point("location", request.location.as_ref())?,
    })
}

#[tonic::async_trait]
impl UnitService for UnitApi {
    #[tracing::instrument(skip_all, fields(unit_id))]
    async fn register_unit(
        &self,
        request: Request<proto::RegisterUnitRequest>,
    ) -> Result<Response<proto::Unit>, Status> {
        answer(async {
            let actor = caller(&request)?.actor();
            let new = new_unit(request.get_ref())?;
            let unit = self.store.register_unit(&new, &actor).await?;
            tracing::Span::current().record("unit_id", tracing::field::display(unit.id));
            tracing::info!(call_sign = %unit.call_sign, kind = %unit.kind, "unit registered");
            Ok(unit_to_proto(&unit))
        })
        .await
    }

    async fn get_unit(
        &self,
        request: Request<proto::GetUnitRequest>,
    ) -> Result<Response<proto::Unit>, Status> {
        answer(async {
            let id = UnitId::parse("id", &request.get_ref().id)?;
            Ok(unit_to_proto(&self.store.unit(id).await?))
        })
        .await
    }

    async fn list_units(
        &self,
        request: Request<proto::ListUnitsRequest>,
    ) -> Result<Response<proto::ListUnitsResponse>, Status> {
        answer(async {
            let request = request.get_ref();
            let statuses = convert::each(convert::unit_status, "statuses", &request.statuses)?;
            let kinds = convert::each(convert::unit_kind, "kinds", &request.kinds)?;
            let units = self.store.list_units(&statuses, &kinds).await?;
            Ok(proto::ListUnitsResponse {
                units: units.iter().map(unit_to_proto).collect(),
            })
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(unit_id = %request.get_ref().unit_id, in_service = request.get_ref().in_service))]
    async fn set_unit_in_service(
        &self,
        request: Request<proto::SetUnitInServiceRequest>,
    ) -> Result<Response<proto::Unit>, Status> {
        answer(async {
            let actor = caller(&request)?.actor();
            let unit_id = UnitId::parse("unit_id", &request.get_ref().unit_id)?;
            let unit = self
                .store
                .set_unit_in_service(unit_id, request.get_ref().in_service, &actor)
                .await?;
            tracing::info!(status = %unit.status, "unit service status set");
            Ok(unit_to_proto(&unit))
        })
        .await
    }

    type WatchUnitsStream = super::fleet::FleetStream<proto::Unit>;

    async fn watch_units(
        &self,
        request: Request<proto::WatchUnitsRequest>,
    ) -> Result<Response<Self::WatchUnitsStream>, Status> {
        let end = crate::streams::end_of_stream(
            self.stopping.clone(),
            crate::auth::caller(&request).ok(),
        );
        let stream = super::fleet::watch_units(self.store.clone(), &self.board, end).await?;
        Ok(Response::new(stream))
    }
}
