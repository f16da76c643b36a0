//! Operators' signals: Prometheus metrics (via the `metrics` facade and its
//! Prometheus exporter) and one tracing span per RPC with its method, code
//! and latency.
//!
//! Metric names (all prefixed `ngalam112_`):
//! - `rpc_requests_total{method,code}`, `rpc_duration_seconds{method,code}`
//! - `incidents{status}`, `units{kind,status}`, `pending_needs`,
//!   `pending_oldest_seconds`, `held_incidents`, `db_pool_connections{state}` (gauges, every
//!   few seconds from the database)
//! - `call_to_first_offer_seconds`, `call_to_first_accept_seconds`,
//!   `call_to_on_scene_seconds` {category,priority} (recorded by the store
//!   in the process that made the change)
//! - `offers_refused_total{outcome=declined|timed_out}`
//! - `intake_total{path=group|single}`: new calls stored with the calls
//!   arriving with them, or in a transaction of their own (queued, held,
//!   another caller, …); `intake_group_calls`: calls per group statement

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use ngalam112_store::Store;
use tracing::Instrument;

const RPC_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
const RESPONSE_BUCKETS: &[f64] = &[
    5.0, 10.0, 15.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0, 900.0, 1800.0,
];

/// Serves `/metrics` (Prometheus text) on `address`. Call once per process.
pub fn install(address: SocketAddr) -> anyhow::Result<()> {
    PrometheusBuilder::new()
        .with_http_listener(address)
        .set_buckets_for_metric(
            Matcher::Full("ngalam112_rpc_duration_seconds".to_owned()),
            RPC_BUCKETS,
        )?
        .set_buckets_for_metric(
            Matcher::Prefix("ngalam112_call_to_".to_owned()),
            RESPONSE_BUCKETS,
        )?
        .install()?;
    describe();
    Ok(())
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "ngalam112_rpc_requests_total",
        "gRPC calls by method and status code"
    );
    describe_histogram!(
        "ngalam112_rpc_duration_seconds",
        "gRPC call latency by method and code"
    );
    describe_gauge!("ngalam112_incidents", "incidents by status");
    describe_gauge!("ngalam112_units", "units by kind and status");
    describe_gauge!(
        "ngalam112_pending_needs",
        "required kinds still waiting for a unit"
    );
    describe_gauge!(
        "ngalam112_held_incidents",
        "active incidents on hold, waiting for an operator to release them"
    );
    describe_gauge!(
        "ngalam112_pending_oldest_seconds",
        "age of the oldest waiting incident"
    );
    describe_gauge!(
        "ngalam112_db_pool_connections",
        "database pool connections by state"
    );
    describe_histogram!(
        "ngalam112_call_to_first_offer_seconds",
        "from the call to the first offer"
    );
    describe_histogram!(
        "ngalam112_call_to_first_accept_seconds",
        "from the call to the first accept"
    );
    describe_histogram!(
        "ngalam112_call_to_on_scene_seconds",
        "from the call to the first unit on scene"
    );
    describe_counter!(
        "ngalam112_offers_refused_total",
        "offers declined or timed out"
    );
    describe_counter!(
        "ngalam112_intake_total",
        "new calls stored, by outcome: dispatched at once, queued (waiting for a unit of some kind) or held"
    );
    describe_histogram!(
        "ngalam112_intake_group_calls",
        "calls one intake group statement tried to store"
    );
}

/// Publishes the database's counts as gauges every `interval`.
pub async fn publish_gauges(store: Store, interval: Duration) {
    loop {
        match store.snapshot().await {
            Ok(snapshot) => {
                for (status, count) in snapshot.incidents_by_status {
                    metrics::gauge!("ngalam112_incidents", "status" => status).set(count as f64);
                }
                for (kind, status, count) in snapshot.units_by_kind_and_status {
                    metrics::gauge!("ngalam112_units", "kind" => kind, "status" => status)
                        .set(count as f64);
                }
                metrics::gauge!("ngalam112_pending_needs").set(snapshot.pending_needs as f64);
                metrics::gauge!("ngalam112_pending_oldest_seconds")
                    .set(snapshot.oldest_pending_seconds.unwrap_or(0.0));
                metrics::gauge!("ngalam112_held_incidents").set(snapshot.held_incidents as f64);
            }
            Err(error) => tracing::debug!(%error, "gauges not refreshed"),
        }
        let pool = store.pool();
        let idle = pool.num_idle() as f64;
        metrics::gauge!("ngalam112_db_pool_connections", "state" => "idle").set(idle);
        metrics::gauge!("ngalam112_db_pool_connections", "state" => "in_use")
            .set(f64::from(pool.size()) - idle);
        tokio::time::sleep(interval).await;
    }
}

/// Wraps every call: a span with method, code and latency, and the RPC
/// metrics.
#[derive(Clone, Default)]
pub struct RpcLayer;

impl<S> tower::Layer<S> for RpcLayer {
    type Service = RpcService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcService { inner }
    }
}

#[derive(Clone)]
pub struct RpcService<S> {
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send>>;

impl<S, B, ResponseBody> tower::Service<http::Request<B>> for RpcService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<ResponseBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResponseBody: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = method_label(request.uri().path()).to_owned();
        let span = tracing::info_span!(
            "rpc",
            method = %method,
            code = tracing::field::Empty,
            latency_ms = tracing::field::Empty
        );
        let started = Instant::now();
        let response = span.in_scope(|| self.inner.call(request));
        Box::pin(
            async move {
                let response = response.await?;
                // tonic answers an error as a trailers-only response (the
                // status in the headers); no status header means OK (a
                // stream's final status is not known yet at this point).
                let code = response
                    .headers()
                    .get("grpc-status")
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| value.parse::<i32>().ok())
                    .map_or(tonic::Code::Ok, tonic::Code::from_i32);
                let latency = started.elapsed();
                let code_name = format!("{code:?}");
                let span = tracing::Span::current();
                span.record("code", code_name.as_str());
                span.record("latency_ms", latency.as_secs_f64() * 1e3);
                let labels = [("method", method), ("code", code_name)];
                metrics::counter!("ngalam112_rpc_requests_total", &labels).increment(1);
                metrics::histogram!("ngalam112_rpc_duration_seconds", &labels)
                    .record(latency.as_secs_f64());
                match code {
                    tonic::Code::Internal | tonic::Code::Unknown | tonic::Code::Unavailable => {
                        tracing::warn!("rpc failed");
                    }
                    _ => tracing::debug!("rpc done"),
                }
                Ok(response)
            }
            .instrument(span),
        )
    }
}

/// The label of a request path: the RPC's name for a method this server
/// has, `web` for the console's pages and files, `unknown` for anything
/// else — so that requests to made-up paths (before authentication, even)
/// cannot create metric series without end.
pub fn method_label(path: &str) -> &str {
    static KNOWN: std::sync::OnceLock<std::collections::HashSet<String>> =
        std::sync::OnceLock::new();
    let known = KNOWN.get_or_init(|| {
        let mut known = std::collections::HashSet::new();
        for encoded in [
            ngalam112_proto::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
        ] {
            let Ok(set) = <prost_types::FileDescriptorSet as prost::Message>::decode(encoded)
            else {
                continue;
            };
            for file in set.file {
                for service in &file.service {
                    for method in &service.method {
                        known.insert(format!(
                            "{}.{}/{}",
                            file.package(),
                            service.name(),
                            method.name()
                        ));
                    }
                }
            }
        }
        for version in ["v1", "v1alpha"] {
            known.insert(format!(
                "grpc.reflection.{version}.ServerReflection/ServerReflectionInfo"
            ));
        }
        known
    });
    let name = path.trim_start_matches('/');
    if known.contains(name) {
        name.trim_start_matches("ngalam112.v1.")
    } else if name.is_empty() || name == "crew" || name.starts_with("assets/") {
        "web"
    } else {
        "unknown"
    }
}

#[cfg(test)]
mod label_tests {
    use super::method_label;

    #[test]
    fn only_known_methods_get_their_own_label() {
        assert_eq!(
            method_label("/ngalam112.v1.IncidentService/CreateIncident"),
            "IncidentService/CreateIncident"
        );
        assert_eq!(
            method_label("/grpc.health.v1.Health/Check"),
            "grpc.health.v1.Health/Check"
        );
        assert_eq!(method_label("/"), "web");
        assert_eq!(method_label("/assets/console.js"), "web");
        assert_eq!(
            method_label("/ngalam112.v1.IncidentService/Nope"),
            "unknown"
        );
        assert_eq!(method_label("/x9f3a/b"), "unknown");
        assert_eq!(method_label("/random-path-1234"), "unknown");
    }
}
