//! `CallerService`: who is calling. A number's history, and flags that warn
//! the call-taker (a flagged caller is dispatched like anyone else).

use ngalam112_core::validation::{self, SHORT_TEXT_MAX_CHARS};
use ngalam112_core::{PhoneNumber, ValidationError};
use ngalam112_proto::v1 as proto;
use ngalam112_proto::v1::caller_service_server::CallerService;
use ngalam112_store::Store;
use tonic::{Request, Response, Status};

use crate::auth::caller;
use crate::convert::{incident_to_proto, timestamp};
use crate::error::answer;

const DEFAULT_HISTORY_DAYS: i32 = 30;
const MAX_HISTORY_DAYS: i32 = 365;

pub struct CallerApi {
    store: Store,
}

impl CallerApi {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

/// A caller's number as any service accepts it, normalised; required.
fn required_phone(value: &str) -> Result<PhoneNumber, ValidationError> {
    PhoneNumber::parse("caller_phone", value)
}

fn count(value: i64) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

#[tonic::async_trait]
impl CallerService for CallerApi {
    async fn get_caller_history(
        &self,
        request: Request<proto::GetCallerHistoryRequest>,
    ) -> Result<Response<proto::GetCallerHistoryResponse>, Status> {
        answer(async {
            let request = request.get_ref();
            let phone = required_phone(&request.caller_phone)?;
            let days = match request.days {
                0 => DEFAULT_HISTORY_DAYS,
                days if (1..=MAX_HISTORY_DAYS).contains(&days) => days,
                _ => {
                    return Err(ValidationError::new(
                        "days",
                        format!(
                            "must be within [1, {MAX_HISTORY_DAYS}] (0 = {DEFAULT_HISTORY_DAYS})"
                        ),
                    )
                    .into());
                }
            };
            let history = self.store.caller_history(&phone, days).await?;
            let flag = history.flag.as_ref();
            Ok(proto::GetCallerHistoryResponse {
                caller_phone: history.caller_phone.clone(),
                incident_count: count(history.incident_count),
                prank_count: count(history.prank_count),
                flagged: flag.is_some(),
                flag_reason: flag.map(|flag| flag.reason.clone()).unwrap_or_default(),
                recent: history.recent.iter().map(incident_to_proto).collect(),
                flagged_by: flag.map(|flag| flag.flagged_by.clone()).unwrap_or_default(),
                flagged_at: flag.map(|flag| timestamp(flag.flagged_at)),
                flag_automatic: flag.is_some_and(|flag| flag.automatic),
            })
        })
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn flag_caller(
        &self,
        request: Request<proto::FlagCallerRequest>,
    ) -> Result<Response<proto::FlagCallerResponse>, Status> {
        answer(async {
            let actor = caller(&request)?.actor();
            let request = request.get_ref();
            let phone = required_phone(&request.caller_phone)?;
            let reason =
                validation::required_text("reason", request.reason.trim(), SHORT_TEXT_MAX_CHARS)?;
            self.store.flag_caller(&phone, &reason, &actor).await?;
            Ok(proto::FlagCallerResponse {})
        })
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn unflag_caller(
        &self,
        request: Request<proto::UnflagCallerRequest>,
    ) -> Result<Response<proto::UnflagCallerResponse>, Status> {
        answer(async {
            let actor = caller(&request)?.actor();
            let phone = required_phone(&request.get_ref().caller_phone)?;
            self.store.unflag_caller(&phone, &actor).await?;
            Ok(proto::UnflagCallerResponse {})
        })
        .await
    }

    async fn list_flagged_callers(
        &self,
        _request: Request<proto::ListFlaggedCallersRequest>,
    ) -> Result<Response<proto::ListFlaggedCallersResponse>, Status> {
        answer(async {
            let callers = self.store.flagged_callers().await?;
            Ok(proto::ListFlaggedCallersResponse {
                callers: callers
                    .into_iter()
                    .map(|flag| proto::FlaggedCaller {
                        caller_phone: flag.caller_phone,
                        reason: flag.reason,
                        flagged_by: flag.flagged_by,
                        flagged_at: Some(timestamp(flag.flagged_at)),
                        automatic: flag.automatic,
                    })
                    .collect(),
            })
        })
        .await
    }
}
