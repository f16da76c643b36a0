//! A client of the Ngalam 112 server: the service clients over one
//! channel, with a bearer token, over plaintext or TLS. Used by the
//! operator app (`n112`), the benchmark and the tests; it knows nothing of
//! the server's insides (no store, no SQL).

use std::time::Duration;

use ngalam112_proto::v1::agency_service_client::AgencyServiceClient;
use ngalam112_proto::v1::auth_service_client::AuthServiceClient;
use ngalam112_proto::v1::caller_service_client::CallerServiceClient;
use ngalam112_proto::v1::camera_service_client::CameraServiceClient;
use ngalam112_proto::v1::field_service_client::FieldServiceClient;
use ngalam112_proto::v1::incident_service_client::IncidentServiceClient;
use ngalam112_proto::v1::public_service_client::PublicServiceClient;
use ngalam112_proto::v1::telephony_service_client::TelephonyServiceClient;
use ngalam112_proto::v1::unit_service_client::UnitServiceClient;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

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
    pub telephony: TelephonyServiceClient<Authed>,
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
            telephony: TelephonyServiceClient::with_interceptor(channel.clone(), bearer.clone()),
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

/// Why a channel could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("{0:?} is not a server URL")]
    Address(String),
    #[error("TLS configuration: {0}")]
    Tls(#[source] tonic::transport::Error),
}

/// A channel to `server` (`http://…`, or `https://…` with `ca_pem`, the CA
/// that signed the server's certificate) that connects on first use and
/// reconnects by itself.
pub fn channel(server: &str, ca_pem: Option<Vec<u8>>) -> Result<Channel, ConnectError> {
    let mut endpoint = Channel::from_shared(server.to_owned())
        .map_err(|_| ConnectError::Address(server.to_owned()))?
        .connect_timeout(Duration::from_secs(5))
        .tcp_keepalive(Some(Duration::from_secs(30)));
    if let Some(pem) = ca_pem {
        endpoint = endpoint
            .tls_config(ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem)))
            .map_err(ConnectError::Tls)?;
    }
    Ok(endpoint.connect_lazy())
}
