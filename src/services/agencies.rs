//! `AgencyService`: partner agencies and their referrals. An agency's
//! liaison (role `agency`) sees and answers only its own agency's
//! referrals, which never carry a caller's name or number.

use ngalam112_core::validation::{self, SHORT_TEXT_MAX_CHARS};
use ngalam112_core::{AgencyId, ReferralStatus, ValidationError};
use ngalam112_proto::v1 as proto;
use ngalam112_proto::v1::agency_service_server::AgencyService;
use ngalam112_store::{AgencyRecord, Role, Store};
use tonic::{Request, Response, Status};

use crate::auth::caller;
use crate::convert::{self, referral_to_proto};
use crate::error::{ApiError, answer};

pub struct AgencyApi {
    store: Store,
}

impl AgencyApi {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

fn agency_to_proto(agency: &AgencyRecord) -> proto::Agency {
    proto::Agency {
        id: agency.id.to_string(),
        name: agency.name.clone(),
        short_name: agency.short_name.clone(),
        contact: agency.contact.clone(),
    }
}

/// The agency a liaison speaks for; None for staff (who see every one).
fn own_agency(role: &Role) -> Option<AgencyId> {
    match role {
        Role::Agency(agency) => Some(*agency),
        _ => None,
    }
}

#[tonic::async_trait]
impl AgencyService for AgencyApi {
    #[tracing::instrument(skip_all)]
    async fn register_agency(
        &self,
        request: Request<proto::RegisterAgencyRequest>,
    ) -> Result<Response<proto::Agency>, Status> {
        answer(async {
            let request = request.get_ref();
            let name = validation::label("name", &request.name, SHORT_TEXT_MAX_CHARS)?;
            let short_name = validation::label("short_name", &request.short_name, 32)?;
            let contact =
                validation::text("contact", request.contact.trim(), SHORT_TEXT_MAX_CHARS)?;
            let agency = self
                .store
                .register_agency(&name, &short_name, &contact)
                .await?;
            tracing::info!(agency = %agency.short_name, "agency registered");
            Ok(agency_to_proto(&agency))
        })
        .await
    }

    async fn list_agencies(
        &self,
        _request: Request<proto::ListAgenciesRequest>,
    ) -> Result<Response<proto::ListAgenciesResponse>, Status> {
        answer(async {
            let agencies = self.store.list_agencies().await?;
            Ok(proto::ListAgenciesResponse {
                agencies: agencies.iter().map(agency_to_proto).collect(),
            })
        })
        .await
    }

    async fn list_referrals(
        &self,
        request: Request<proto::ListReferralsRequest>,
    ) -> Result<Response<proto::ListReferralsResponse>, Status> {
        answer(async {
            let who = caller(&request)?;
            let status =
                convert::optional(convert::referral_status, "status", request.get_ref().status)?;
            let referrals = self.store.referrals(own_agency(&who.role), status).await?;
            Ok(proto::ListReferralsResponse {
                referrals: referrals.iter().map(referral_to_proto).collect(),
            })
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(referral_id = %request.get_ref().referral_id))]
    async fn update_referral(
        &self,
        request: Request<proto::UpdateReferralRequest>,
    ) -> Result<Response<proto::Referral>, Status> {
        answer(async {
            let who = caller(&request)?;
            let request = request.get_ref();
            let id = ngalam112_core::ReferralId::parse("referral_id", &request.referral_id)?;
            let status = convert::optional(convert::referral_status, "status", request.status)?
                .filter(|status| *status != ReferralStatus::Sent)
                .ok_or_else(|| {
                    ValidationError::new(
                        "status",
                        "must be ACKNOWLEDGED, ACCEPTED, REJECTED or DONE",
                    )
                })?;
            let answer = validation::text("answer", request.answer.trim(), SHORT_TEXT_MAX_CHARS)?;
            // The agency is fixed when the referral is made: check it first.
            let referral = self.store.referral(id).await?;
            if let Some(own) = own_agency(&who.role)
                && own != referral.agency_id
            {
                return Err(ApiError::PermissionDenied(
                    "this referral belongs to another agency".to_owned(),
                ));
            }
            let updated = self
                .store
                .update_referral(id, status, &answer, &who.actor())
                .await?;
            tracing::info!(status = %updated.status, "referral answered");
            Ok(referral_to_proto(&updated))
        })
        .await
    }
}
