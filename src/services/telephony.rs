//! `TelephonyService`: the phone system rings into the console (CTI). The
//! exchange signals each 112 call (role gateway); consoles watch the
//! ringing and answered calls and list the day's (operator).

use chrono::{Duration, Utc};
use ngalam112_core::calls::{SignalDraft, Signalled};
use ngalam112_proto::v1 as proto;
use ngalam112_proto::v1::telephony_service_server::TelephonyService;
use ngalam112_store::Store;
use tonic::{Request, Response, Status};

use crate::auth::caller;
use crate::convert::{self, call_to_proto};
use crate::error::answer;

/// ListCalls without `since`: the last day.
const DEFAULT_LIST_HOURS: i64 = 24;

pub struct TelephonyApi {
    store: Store,
    board: super::board::Fanout,
    stopping: tokio::sync::watch::Receiver<bool>,
}

impl TelephonyApi {
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

#[tonic::async_trait]
impl TelephonyService for TelephonyApi {
    #[tracing::instrument(skip_all, fields(call_id = %request.get_ref().call_id))]
    async fn signal_call(
        &self,
        request: Request<proto::SignalCallRequest>,
    ) -> Result<Response<proto::Call>, Status> {
        answer(async {
            let request = request.get_ref();
            let signal = Signalled::parse(SignalDraft {
                call_id: &request.call_id,
                line: &request.line,
                caller_phone: &request.caller_phone,
                caller_id_withheld: request.caller_id_withheld,
                signal: convert::call_signal("signal", request.signal)?,
                position: &request.position,
            })?;
            let call = self.store.signal_call(&signal).await?;
            tracing::info!(
                signal = signal.signal.as_str(),
                state = call.state.as_str(),
                "call signalled"
            );
            Ok(call_to_proto(&call))
        })
        .await
    }

    type WatchCallsStream = super::fleet::FleetStream<proto::Call>;

    async fn watch_calls(
        &self,
        request: Request<proto::WatchCallsRequest>,
    ) -> Result<Response<Self::WatchCallsStream>, Status> {
        let end = crate::streams::end_of_stream(self.stopping.clone(), caller(&request).ok());
        let stream = super::fleet::watch_calls(self.store.clone(), &self.board, end).await?;
        Ok(Response::new(stream))
    }

    async fn list_calls(
        &self,
        request: Request<proto::ListCallsRequest>,
    ) -> Result<Response<proto::ListCallsResponse>, Status> {
        answer(async {
            let since = match request.get_ref().since.as_ref() {
                Some(since) => convert::required_time("since", Some(since))?,
                None => Utc::now() - Duration::hours(DEFAULT_LIST_HOURS),
            };
            let calls = self.store.calls_since(since).await?;
            Ok(proto::ListCallsResponse {
                calls: calls.iter().map(call_to_proto).collect(),
            })
        })
        .await
    }
}
