//! What every request leaves behind: an `X-Request-Id` (a trusted proxy's, or a new one) echoed in
//! the response, one log line (`method`, `route` template, `status`, `latency_ms`, `request_id`),
//! and, with a metrics listener, its count and latency.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use crate::state::AppState;

/// The request id header, taken from trusted proxies and echoed in every response.
pub(crate) const REQUEST_ID: &str = "x-request-id";

/// Longest request id taken or logged.
const MAX_ID: usize = 128;

/// A header value fit to be an id: 1..=128 visible ASCII characters.
fn id_from(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(REQUEST_ID)?.to_str().ok()?;
    let fits =
        !value.is_empty() && value.len() <= MAX_ID && value.bytes().all(|b| b.is_ascii_graphic());
    fits.then_some(value)
}

/// Route templates, each kept once for the life of the process. Only the router's own templates
/// reach here (`MatchedPath`), so the table is as small as the router; label values and log
/// fields then cost no allocation per request.
static TEMPLATES: std::sync::RwLock<Vec<&'static str>> = std::sync::RwLock::new(Vec::new());

fn template(path: &str) -> &'static str {
    let found = TEMPLATES
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|t| **t == path)
        .copied();
    if let Some(template) = found {
        return template;
    }
    let mut templates = TEMPLATES.write().unwrap_or_else(|e| e.into_inner());
    if let Some(template) = templates.iter().find(|t| **t == path) {
        return template;
    }
    let template: &'static str = Box::leak(path.to_owned().into_boxed_str());
    templates.push(template);
    template
}

/// The request's id and, when the client sent one we do not trust, the client's.
fn request_ids(request: &Request, trusted: &[std::net::IpAddr]) -> (String, Option<String>) {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let offered = id_from(request.headers());
    match (offered, peer) {
        (Some(id), Some(peer)) if trusted.contains(&peer) => (id.to_owned(), None),
        (offered, _) => (tessera_auth::ids::random_hex(), offered.map(str::to_owned)),
    }
}

/// The middleware: wraps every route (and the fallback) of the main router.
pub(crate) async fn observe(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let clock = Arc::clone(state.auth.clock());
    let started = clock.monotonic();
    // A template from the router's own table, never the raw path (it may carry ids or tokens).
    let route: &'static str = match request.extensions().get::<MatchedPath>() {
        Some(path) => template(path.as_str()),
        None => "unmatched",
    };
    let method = request.method().clone();
    let (request_id, client_request_id) = request_ids(&request, &state.trusted_proxies);
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    let status = response.status().as_u16();
    let took = clock.monotonic().saturating_sub(started);
    if let Some(metrics) = &state.metrics {
        metrics.observe(route, &method, status, took);
    }
    tracing::info!(
        target: "tessera::request",
        method = %method,
        route,
        status,
        latency_ms = took.as_secs_f64() * 1000.0,
        request_id,
        client_request_id,
        "request"
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(offered: Option<&str>, peer: [u8; 4], trusted: &[[u8; 4]]) -> (String, Option<String>) {
        let mut request = Request::new(axum::body::Body::empty());
        if let Some(id) = offered {
            request
                .headers_mut()
                .insert(REQUEST_ID, HeaderValue::from_str(id).unwrap());
        }
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((peer, 1234))));
        let trusted: Vec<_> = trusted.iter().map(|ip| (*ip).into()).collect();
        request_ids(&request, &trusted)
    }

    #[test]
    fn request_ids_come_from_trusted_proxies_only() {
        let proxy = [10, 0, 0, 1];
        assert_eq!(ids(Some("abc-1"), proxy, &[proxy]), ("abc-1".into(), None));
        let (own, client) = ids(Some("abc-1"), [192, 0, 2, 7], &[proxy]);
        assert_ne!(own, "abc-1");
        assert_eq!(own.len(), 32);
        assert_eq!(client.as_deref(), Some("abc-1"), "logged as the client's");
        let (own, client) = ids(None, proxy, &[proxy]);
        assert_eq!((own.len(), client), (32, None));
        let long = "x".repeat(129);
        let (own, client) = ids(Some(&long), proxy, &[proxy]);
        assert!(
            own != long && client.is_none(),
            "an unfit id is neither taken nor logged"
        );
    }
}
