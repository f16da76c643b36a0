//! A client of this server with a bearer token: the service clients
//! over one channel. Used by the operator app, the benchmark and the tests.

use ngalam112_proto::v1::agency_service_client::AgencyServiceClient;
use ngalam112_proto::v1::auth_service_client::AuthServiceClient;
use ngalam112_proto::v1::caller_service_client::CallerServiceClient;
use ngalam112_proto::v1::camera_service_client::CameraServiceClient;
use ngalam112_proto::v1::field_service_client::FieldServiceClient;
use ngalam112_proto::v1::incident_service_client::IncidentServiceClient;
use ngalam112_proto::v1::public_service_client::PublicServiceClient;
use ngalam112_proto::v1::unit_service_client::UnitServiceClient;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Clone)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl Bearer {
    /// Fails when the token has characters a header cannot carry.
    pub fn new(token: Option<&str>) -> Result<Self, tonic::metadata::errors::InvalidMetadataValue> {
        token
            .map(|token| format!("Bearer {}", token.trim()).parse())
            .transpose()
            .map(Bearer)
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

pub type Authed = InterceptedService<Channel, Bearer>;

/// The service clients of one caller, sharing one channel.
#[derive(Clone)]
pub struct Clients {
    pub incidents: IncidentServiceClient<Authed>,
    pub units: UnitServiceClient<Authed>,
    pub field: FieldServiceClient<Authed>,
    pub auth: AuthServiceClient<Authed>,
    pub callers: CallerServiceClient<Authed>,
    pub cameras: CameraServiceClient<Authed>,
    pub agencies: AgencyServiceClient<Authed>,
    /// Needs no token.
    pub public: PublicServiceClient<Authed>,
}

impl Clients {
    pub fn with_bearer(channel: Channel, bearer: Bearer) -> Self {
        Self {
            incidents: IncidentServiceClient::with_interceptor(channel.clone(), bearer.clone()),
            units: UnitServiceClient::with_interceptor(channel.clone(), bearer.clone()),
            field: FieldServiceClient::with_interceptor(channel.clone(), bearer.clone()),
            auth: AuthServiceClient::with_interceptor(channel.clone(), bearer.clone()),
            callers: CallerServiceClient::with_interceptor(channel.clone(), bearer.clone()),
            cameras: CameraServiceClient::with_interceptor(channel.clone(), bearer.clone()),
            agencies: AgencyServiceClient::with_interceptor(channel.clone(), bearer.clone()),
            public: PublicServiceClient::with_interceptor(channel, bearer),
        }
    }

    /// Clients for `token` (None: no authorization header).
    pub fn new(
        channel: Channel,
        token: Option<&str>,
    ) -> Result<Self, tonic::metadata::errors::InvalidMetadataValue> {
        Ok(Self::with_bearer(channel, Bearer::new(token)?))
    }
}
