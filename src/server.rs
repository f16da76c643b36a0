//! Assembles the server: auth layer, the services (gRPC and gRPC-Web),
//! health and reflection, the web console's pages; and keeps the health
//! status true to the database.

use std::future::Future;
use std::time::Duration;

use ngalam112_proto::v1::agency_service_server::AgencyServiceServer;
use ngalam112_proto::v1::auth_service_server::AuthServiceServer;
use ngalam112_proto::v1::caller_service_server::CallerServiceServer;
use ngalam112_proto::v1::camera_service_server::CameraServiceServer;
use ngalam112_proto::v1::field_service_server::FieldServiceServer;
use ngalam112_proto::v1::incident_service_server::IncidentServiceServer;
use ngalam112_proto::v1::public_service_server::PublicServiceServer;
use ngalam112_proto::v1::telephony_service_server::TelephonyServiceServer;
use ngalam112_proto::v1::unit_service_server::UnitServiceServer;
use ngalam112_store::{ChangeFeed, SchemaState, Store};
use tokio::net::TcpListener;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::auth::AuthLayer;
use crate::services::{
    AgencyApi, AuthApi, CallerApi, CameraApi, FieldApi, IncidentApi, PublicApi, TelephonyApi,
    UnitApi,
};

/// The services whose health is reported (besides the overall "").
const SERVICE_NAMES: &[&str] = &[
    "ngalam112.v1.IncidentService",
    "ngalam112.v1.UnitService",
    "ngalam112.v1.FieldService",
    "ngalam112.v1.AuthService",
    "ngalam112.v1.CallerService",
    "ngalam112.v1.PublicService",
    "ngalam112.v1.CameraService",
    "ngalam112.v1.AgencyService",
];

/// A PEM certificate chain and private key to serve gRPC over TLS.
#[derive(Clone)]
pub struct TlsIdentity {
    pub certificate_pem: Vec<u8>,
    pub private_key_pem: Vec<u8>,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsIdentity { .. }")
    }
}

/// Limits of the server itself.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Serve over TLS (rustls) with this identity; None: plaintext.
    pub tls: Option<TlsIdentity>,
    /// Largest request a client may send (protects against memory abuse).
    pub max_request_bytes: usize,
    /// How often the health status re-checks the database.
    pub health_check_interval: Duration,
    /// How many incident changes a watcher may fall behind (in this
    /// process's feed, and again in its own connection's buffer) before it
    /// is told to resubscribe.
    pub watch_feed_buffer: usize,
    pub watch_stream_buffer: usize,
    /// Refresh the database gauges (incidents, units, queue) this often;
    /// None: no gauges (no metrics exporter installed).
    pub gauge_interval: Option<Duration>,
    /// How long a person's session from `Login` lasts (one shift).
    pub session_lifetime: Duration,
    /// The web console's settings (map tiles).
    pub web: crate::web::WebConfig,
    /// Callers' names and numbers of incidents closed longer ago than this
    /// are blanked; None keeps them.
    pub caller_retention: Option<Duration>,
    /// Watch streams one token may hold open at once (per process).
    pub max_watchers_per_token: usize,
    /// HTTP/2 streams (calls in flight) one connection may hold open.
    pub max_streams_per_connection: u32,
    /// Proxies whose `X-Forwarded-For` names the client (`--trusted-proxy`).
    pub trusted_proxies: crate::client_address::TrustedProxies,
    /// How long one computation of the public figures is served again.
    pub public_figures_fresh_for: Duration,
    /// Host names the pages and gRPC-Web answer for (`--public-host`);
    /// empty: the listen address and `localhost`.
    pub public_hosts: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            tls: None,
            max_request_bytes: 64 * 1024,
            health_check_interval: Duration::from_secs(2),
            watch_feed_buffer: 4096,
            watch_stream_buffer: 256,
            gauge_interval: None,
            session_lifetime: Duration::from_secs(12 * 3600),
            web: crate::web::WebConfig::default(),
            caller_retention: Some(Duration::from_secs(365 * 24 * 3600)),
            max_watchers_per_token: 16,
            max_streams_per_connection: 256,
            trusted_proxies: Default::default(),
            public_figures_fresh_for: Duration::from_secs(10),
            public_hosts: Vec::new(),
        }
    }
}

/// Serves gRPC on `listener` until `shutdown` completes. Health reports
/// NOT_SERVING until the database answers with a migrated schema and the
/// change feed listens (long-polls and live boards depend on it), and
/// whenever either stops.
pub async fn run(
    listener: TcpListener,
    store: Store,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    let limit = config.max_request_bytes;
    // Open to anyone, so capped like every other service.
    let health_service = health_service.max_decoding_message_size(limit);
    let public_hosts = crate::hosts::PublicHosts::new(
        &config.public_hosts,
        listener.local_addr().ok().map(|address| address.ip()),
    );
    tracing::info!(names = ?public_hosts.names(), "pages and gRPC-Web answer for these hosts");
    // Not serving until the first check has seen a migrated database.
    for name in std::iter::once("").chain(SERVICE_NAMES.iter().copied()) {
        health_reporter
            .set_service_status(name, ServingStatus::NotServing)
            .await;
    }
    let (feed, feed_task) = ChangeFeed::start(store.pool().clone(), config.watch_feed_buffer);
    let revocations = feed.revocations();
    let readiness = tokio::spawn(report_readiness(
        store.clone(),
        feed.connection(),
        health_reporter,
        config.health_check_interval,
    ));
    // Long-polls and watch streams end as soon as shutdown begins, so the
    // graceful shutdown only waits for short calls in flight.
    let (stopping_sender, stopping) = tokio::sync::watch::channel(false);
    let shutdown = async move {
        shutdown.await;
        tracing::info!("shutting down: no new calls; finishing those in flight");
        stopping_sender.send_replace(true);
    };
    let offer_timer = tokio::spawn(crate::offer_timer::run(store.clone(), feed.clone()));
    let (board, board_task) =
        crate::services::board::Fanout::start(store.clone(), &feed, config.watch_feed_buffer);
    let housekeeping = tokio::spawn(crate::housekeeping::run(
        store.clone(),
        config.caller_retention,
    ));
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = &config.tls {
        let identity =
            tonic::transport::Identity::from_pem(&tls.certificate_pem, &tls.private_key_pem);
        builder =
            builder.tls_config(tonic::transport::ServerTlsConfig::new().identity(identity))?;
    }
    let gauges = config
        .gauge_interval
        .map(|interval| tokio::spawn(crate::metrics::publish_gauges(store.clone(), interval)));
    let mut services = tonic::service::Routes::builder();
    services.add_service(health_service);
    let handles = Handles {
        board,
        feed,
        stopping,
    };
    add_api_services(&mut services, &store, &config, handles)?;
    // The console and the crew page share the address: gRPC, gRPC-Web
    // (HTTP/1.1 too, for browsers) and the pages' files.
    let routes = tonic::service::Routes::from(
        services
            .routes()
            .prepare()
            .into_axum_router()
            .merge(crate::web::router(&config.web)),
    );
    let result = builder
        .accept_http1(true)
        .max_concurrent_streams(config.max_streams_per_connection)
        .layer(crate::metrics::RpcLayer)
        .layer(crate::hosts::HostCheck(public_hosts))
        .layer(crate::web::GrpcWebForCalls)
        .layer(AuthLayer::new(
            store.clone(),
            crate::streams::Watchers::new(config.max_watchers_per_token),
            revocations,
        ))
        .add_routes(routes)
        .serve_with_incoming_shutdown(
            // Nagle's algorithm against delayed ACKs would stall small
            // answers by 40 ms: send at once.
            tonic::transport::server::TcpIncoming::from(listener)
                .with_nodelay(Some(true))
                .with_keepalive(Some(Duration::from_secs(60))),
            shutdown,
        )
        .await;
    readiness.abort();
    offer_timer.abort();
    housekeeping.abort();
    board_task.abort();
    if let Some(gauges) = gauges {
        gauges.abort();
    }
    feed_task.abort();
    result?;
    Ok(())
}

/// What the services share with the rest of the server.
struct Handles {
    board: crate::services::board::Fanout,
    feed: ChangeFeed,
    stopping: tokio::sync::watch::Receiver<bool>,
}

/// Every gRPC service of the API and reflection, each request capped at
/// `max_request_bytes`.
fn add_api_services(
    services: &mut tonic::service::RoutesBuilder,
    store: &Store,
    config: &ServerConfig,
    handles: Handles,
) -> anyhow::Result<()> {
    let limit = config.max_request_bytes;
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(ngalam112_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?
        .max_decoding_message_size(limit);
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(ngalam112_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?
        .max_decoding_message_size(limit);
    services
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(
            IncidentServiceServer::new(IncidentApi::new(
                store.clone(),
                handles.board.clone(),
                config.watch_stream_buffer,
                handles.stopping.clone(),
            ))
            .max_decoding_message_size(limit),
        )
        .add_service(
            UnitServiceServer::new(UnitApi::new(
                store.clone(),
                handles.board.clone(),
                handles.stopping.clone(),
            ))
            .max_decoding_message_size(limit),
        )
        .add_service(
            TelephonyServiceServer::new(TelephonyApi::new(
                store.clone(),
                handles.board,
                handles.stopping.clone(),
            ))
            .max_decoding_message_size(limit),
        )
        .add_service(
            FieldServiceServer::new(FieldApi::new(store.clone(), handles.feed, handles.stopping))
                .max_decoding_message_size(limit),
        )
        .add_service(
            AuthServiceServer::new(AuthApi::new(
                store.clone(),
                config.session_lifetime,
                config.trusted_proxies.clone(),
            ))
            .max_decoding_message_size(limit),
        )
        .add_service(
            CallerServiceServer::new(CallerApi::new(store.clone()))
                .max_decoding_message_size(limit),
        )
        .add_service(
            AgencyServiceServer::new(AgencyApi::new(store.clone()))
                .max_decoding_message_size(limit),
        )
        .add_service(
            CameraServiceServer::new(CameraApi::new(store.clone()))
                .max_decoding_message_size(limit),
        )
        .add_service(
            PublicServiceServer::new(PublicApi::new(
                store.clone(),
                config.trusted_proxies.clone(),
                config.public_figures_fresh_for,
            ))
            .max_decoding_message_size(limit),
        );
    Ok(())
}

async fn report_readiness(
    store: Store,
    mut listening: tokio::sync::watch::Receiver<bool>,
    reporter: HealthReporter,
    interval: Duration,
) {
    let mut last: Option<(SchemaState, bool)> = None;
    loop {
        let state = (store.schema_state().await, *listening.borrow_and_update());
        if last.as_ref() != Some(&state) {
            let ready = state.0 == SchemaState::Ready && state.1;
            let status = if ready {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            };
            for name in std::iter::once("").chain(SERVICE_NAMES.iter().copied()) {
                reporter.set_service_status(name, status).await;
            }
            match &state {
                (SchemaState::Ready, true) => tracing::info!("database ready; serving"),
                (SchemaState::Ready, false) => {
                    tracing::info!("waiting for the change feed to listen; health is NOT_SERVING");
                }
                (SchemaState::Behind { missing }, _) => tracing::warn!(
                    ?missing,
                    "the database schema is older than this binary needs \
                     (run `ngalam112 migrate`); health is NOT_SERVING"
                ),
                (SchemaState::Unreachable, _) => {
                    tracing::warn!("database not reachable; health is NOT_SERVING");
                }
            }
            last = Some(state);
        }
        // Re-check at the interval, or at once when the feed comes or goes.
        if let Ok(Err(_)) = tokio::time::timeout(interval, listening.changed()).await {
            // The feed is gone (shutting down): just keep the interval.
            tokio::time::sleep(interval).await;
        }
    }
}
