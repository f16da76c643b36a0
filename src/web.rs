//! The web console (`/`) and the crews' phone page (`/crew`), served from
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
