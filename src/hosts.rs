//! The host names the pages and gRPC-Web answer for. A page on another
//! site can make an operator's browser resolve its own name to this
//! server's address (DNS rebinding): the browser then sends that name in
//! `Host`, so every name but the configured ones is refused. Native gRPC
//! clients (`n112`, crews' gateways) are not browsers and are not checked.

use std::net::IpAddr;
use std::sync::Arc;

/// Names (or addresses) the server answers browsers for, without ports.
#[derive(Debug, Clone)]
pub struct PublicHosts(Arc<Vec<String>>);

impl PublicHosts {
    /// `configured` (`--public-host`), or by default the listen address
    /// and `localhost` (with its loopback addresses).
    pub fn new(configured: &[String], listen: Option<IpAddr>) -> Self {
        let mut names: Vec<String> = configured
            .iter()
            .map(|name| normalise(name))
            .filter(|name| !name.is_empty())
            .collect();
        if names.is_empty() {
            names.extend(["localhost", "127.0.0.1", "::1"].map(str::to_owned));
            if let Some(listen) = listen.filter(|address| !address.is_unspecified()) {
                names.push(normalise(&listen.to_string()));
            }
        }
        names.dedup();
        Self(Arc::new(names))
    }

    pub fn names(&self) -> &[String] {
        &self.0
    }

    /// Whether a browser's request (a page or gRPC-Web) is for one of our
    /// names. Native gRPC (`application/grpc`) always passes.
    pub fn admits(&self, request: &http::request::Parts) -> bool {
        let content_type = request
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        if content_type.starts_with("application/grpc")
            && !content_type.starts_with("application/grpc-web")
        {
            return true;
        }
        let host = request
            .headers
            .get(http::header::HOST)
            .and_then(|host| host.to_str().ok())
            .map(str::to_owned)
            .or_else(|| {
                request
                    .uri
                    .authority()
                    .map(|authority| authority.to_string())
            });
        host.is_some_and(|host| self.0.contains(&normalise(&strip_port(&host))))
    }
}

/// The tower layer that refuses browsers' requests for other host names
/// (outermost, before gRPC-Web is translated into gRPC).
#[derive(Debug, Clone)]
pub struct HostCheck(pub PublicHosts);

impl<S> tower::Layer<S> for HostCheck {
    type Service = HostCheckService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HostCheckService {
            inner,
            hosts: self.0.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct HostCheckService<S> {
    inner: S,
    hosts: PublicHosts,
}

type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;
type Response = http::Response<tonic::body::Body>;

impl<S, B> tower::Service<http::Request<B>> for HostCheckService<S>
where
    S: tower::Service<http::Request<B>, Response = Response>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response, S::Error>>;

    fn poll_ready(
        &mut self,
        context: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let (parts, body) = request.into_parts();
        if !self.hosts.admits(&parts) {
            return Box::pin(std::future::ready(Ok(refused())));
        }
        Box::pin(self.inner.call(http::Request::from_parts(parts, body)))
    }
}

/// 421 Misdirected Request, with nothing of ours in it.
fn refused() -> Response {
    let mut response = http::Response::new(tonic::body::Body::new(String::from(
        "this server does not answer for that host name (see --public-host)\n",
    )));
    *response.status_mut() = http::StatusCode::MISDIRECTED_REQUEST;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// `host:port`, `[v6]:port`, `[v6]` or `host` → the host alone.
fn strip_port(host: &str) -> String {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default().to_owned();
    }
    match host.rsplit_once(':') {
        // More than one colon: a bare IPv6 address.
        Some((name, port)) if !name.contains(':') && port.chars().all(|c| c.is_ascii_digit()) => {
            name.to_owned()
        }
        _ => host.to_owned(),
    }
}

fn normalise(name: &str) -> String {
    name.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(host: &str) -> http::request::Parts {
        http::Request::get("/")
            .header(http::header::HOST, host)
            .body(())
            .expect("a request")
            .into_parts()
            .0
    }

    #[test]
    fn only_the_configured_names_are_answered() {
        let defaults = PublicHosts::new(&[], Some("192.0.2.10".parse().expect("ip")));
        for ok in [
            "localhost:50051",
            "127.0.0.1:50051",
            "[::1]:50051",
            "192.0.2.10:50051",
            "LOCALHOST",
        ] {
            assert!(defaults.admits(&page(ok)), "{ok}");
        }
        for refused in [
            "evil.example",
            "evil.example:50051",
            "localhost.evil.example",
        ] {
            assert!(!defaults.admits(&page(refused)), "{refused}");
        }
        let configured = PublicHosts::new(&["cad.malangkota.go.id".to_owned()], None);
        assert!(configured.admits(&page("cad.malangkota.go.id:443")));
        assert!(!configured.admits(&page("localhost:50051")));
        let mut native = page("evil.example");
        native.headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/grpc"),
        );
        assert!(defaults.admits(&native), "native gRPC is not a browser");
        native.headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/grpc-web+proto"),
        );
        assert!(!defaults.admits(&native), "gRPC-Web is checked");
    }
}
