//! The web console (`/`), the crews' phone page (`/crew`) and the public
//! transparency page (`/publik`, no login), served from
//! files embedded in the binary (built from `web/` and committed, so a
//! machine without Node.js serves them). The pages call the same gRPC
//! services over gRPC-Web, with the same tokens and role checks.
//!
//! Every page carries a Content-Security-Policy without inline script and
//! with `connect-src 'self'`; the only thing filled in at start is the map
//! tile URL (a `<meta>` tag, HTML-escaped).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

const CONSOLE_HTML: &str = include_str!("../web/dist/index.html");
const CREW_HTML: &str = include_str!("../web/dist/crew.html");
const CONSOLE_JS: &str = include_str!("../web/dist/console.js");
const CONSOLE_CSS: &str = include_str!("../web/dist/console.css");
const CREW_JS: &str = include_str!("../web/dist/crew.js");
const CREW_CSS: &str = include_str!("../web/dist/crew.css");
const PUBLIC_HTML: &str = include_str!("../web/dist/public.html");
const PUBLIC_JS: &str = include_str!("../web/dist/public.js");
const PUBLIC_CSS: &str = include_str!("../web/dist/public.css");

/// The default map tiles: OpenStreetMap's standard tile server.
pub const OSM_TILES: &str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png";

/// What the pages need from the server's configuration.
#[derive(Debug, Clone, Default)]
pub struct WebConfig {
    /// `{z}/{x}/{y}` tile URL template; None: a plain background with the
    /// city's outline.
    pub map_tiles: Option<String>,
}

fn escape_attribute(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The tile server's origin, for the CSP's `img-src` (only `https://…` or
/// `http://…` templates are used at all).
fn tile_origin(template: &str) -> Option<String> {
    let (scheme, rest) = template.split_once("://")?;
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let host = rest.split('/').next()?;
    let host = host.replace("{s}", "*");
    (!host.is_empty() && !host.contains(['{', '}', ' ', '\'']))
        .then(|| format!("{scheme}://{host}"))
}

fn content_security_policy(config: &WebConfig) -> String {
    let tiles = config
        .map_tiles
        .as_deref()
        .and_then(tile_origin)
        .map(|origin| format!(" {origin}"))
        .unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:{tiles}; \
         connect-src 'self'; media-src 'self' data:; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

fn page(html: &'static str, config: &WebConfig) -> String {
    let tiles = config
        .map_tiles
        .as_deref()
        .filter(|template| tile_origin(template).is_some())
        .unwrap_or("");
    html.replace("__MAP_TILES__", &escape_attribute(tiles))
}

fn respond(body: String, content_type: &'static str, csp: &HeaderValue) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_SECURITY_POLICY, csp.clone());
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// The routes of the pages and their assets.
pub fn router(config: &WebConfig) -> axum::Router {
    let csp = HeaderValue::from_str(&content_security_policy(config))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"));
    let console = page(CONSOLE_HTML, config);
    let crew = page(CREW_HTML, config);
    let file = |body: String, content_type: &'static str| {
        let csp = csp.clone();
        get(move || {
            let body = body.clone();
            let csp = csp.clone();
            async move { respond(body, content_type, &csp) }
        })
    };
    axum::Router::new()
        .route("/", file(console, "text/html; charset=utf-8"))
        .route("/crew", file(crew, "text/html; charset=utf-8"))
        .route(
            "/publik",
            file(PUBLIC_HTML.to_owned(), "text/html; charset=utf-8"),
        )
        .route(
            "/assets/public.js",
            file(PUBLIC_JS.to_owned(), "text/javascript; charset=utf-8"),
        )
        .route(
            "/assets/public.css",
            file(PUBLIC_CSS.to_owned(), "text/css; charset=utf-8"),
        )
        .route(
            "/assets/console.js",
            file(CONSOLE_JS.to_owned(), "text/javascript; charset=utf-8"),
        )
        .route(
            "/assets/console.css",
            file(CONSOLE_CSS.to_owned(), "text/css; charset=utf-8"),
        )
        .route(
            "/assets/crew.js",
            file(CREW_JS.to_owned(), "text/javascript; charset=utf-8"),
        )
        .route(
            "/assets/crew.css",
            file(CREW_CSS.to_owned(), "text/css; charset=utf-8"),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The console words every timeline kind the server writes (a kind
    /// without a word would show a neutral "peristiwa", never the stored
    /// name; this keeps the two lists the same).
    #[test]
    fn the_console_has_a_word_for_every_timeline_kind() {
        let words = include_str!("../web/src/words.ts");
        let list = words
            .split_once("export const EVENT_KINDS = [")
            .and_then(|(_, rest)| rest.split_once("] as const"))
            .map(|(list, _)| list)
            .expect("EVENT_KINDS in web/src/words.ts");
        let listed: Vec<&str> = list
            .split(',')
            .map(|item| item.trim().trim_matches('"'))
            .filter(|item| !item.is_empty())
            .collect();
        let kinds: Vec<&str> = ngalam112_core::EventKind::ALL
            .iter()
            .map(|kind| kind.as_str())
            .collect();
        assert_eq!(listed, kinds, "web/src/words.ts EVENT_KINDS");
    }

    #[test]
    fn the_policy_allows_only_this_origin_and_the_tile_server() {
        let osm = WebConfig {
            map_tiles: Some(OSM_TILES.to_owned()),
        };
        let policy = content_security_policy(&osm);
        assert!(policy.contains("script-src 'self';"));
        assert!(policy.contains("connect-src 'self';"));
        assert!(policy.contains("img-src 'self' data: https://tile.openstreetmap.org;"));
        assert!(!policy.contains("unsafe-inline"));
        let odd = WebConfig {
            map_tiles: Some("javascript:alert(1)//{z}".to_owned()),
        };
        assert!(!content_security_policy(&odd).contains("javascript"));
        assert_eq!(
            tile_origin("https://{s}.tile.example.org/{z}/{x}/{y}.png").as_deref(),
            Some("https://*.tile.example.org")
        );
        assert_eq!(escape_attribute("a\"<b>"), "a&quot;&lt;b&gt;");
    }
}

/// gRPC-Web for the browser's calls, and the pages' files untouched:
/// `tonic_web`'s layer answers every other HTTP/1.1 request with 400, so
/// only gRPC-Web requests and HTTP/2 go through it.
#[derive(Debug, Clone, Default)]
pub struct GrpcWebForCalls;

impl<S: Clone> tower::Layer<S> for GrpcWebForCalls {
    type Service = GrpcWebForCallsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcWebForCallsService {
            grpc_web: tower::Layer::layer(&tonic_web::GrpcWebLayer::new(), inner.clone()),
            plain: inner,
        }
    }
}

#[derive(Debug, Clone)]
pub struct GrpcWebForCallsService<S> {
    grpc_web: tonic_web::GrpcWebService<S>,
    plain: S,
}

type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

fn is_grpc_web_or_http2<B>(request: &axum::http::Request<B>) -> bool {
    request.version() == axum::http::Version::HTTP_2
        || request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("application/grpc-web"))
}

type CallRequest = axum::http::Request<tonic::body::Body>;
type CallResponse = axum::http::Response<tonic::body::Body>;

impl<S> tower::Service<CallRequest> for GrpcWebForCallsService<S>
where
    S: tower::Service<CallRequest, Response = CallResponse> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = CallResponse;
    type Error = S::Error;
    type Future = BoxFuture<Result<CallResponse, S::Error>>;

    fn poll_ready(
        &mut self,
        _context: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        // Each call readies its own clone below.
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: CallRequest) -> Self::Future {
        if is_grpc_web_or_http2(&request) {
            let grpc_web = self.grpc_web.clone();
            Box::pin(tower::ServiceExt::oneshot(grpc_web, request))
        } else {
            let plain = self.plain.clone();
            Box::pin(tower::ServiceExt::oneshot(plain, request))
        }
    }
}
