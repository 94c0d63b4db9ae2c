//! Prometheus metrics after each flow, read with the Prometheus project's own exposition parser
//! (Python `prometheus_client`), and the request ids every response carries.

use std::net::SocketAddr;
use std::process::{Command, Stdio};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use super::TestServer;

/// A Python with the Prometheus project's own client library.
fn python() -> Option<String> {
    tessera_store::testing::python_with(&["prometheus_client"])
}

/// The samples of a scrape, parsed by the reference parser: `(name, labels, value)`.
struct Scrape(Vec<(String, Value, Option<f64>)>);

impl Scrape {
    async fn of(server: &TestServer, python: &str) -> (Scrape, String) {
        let metrics = server.state.metrics.clone().expect("metrics are on");
        let response = tessera_server::metrics::router(metrics)
            .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/openmetrics-text")
        );
        let text = String::from_utf8(
            response
                .into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .to_vec(),
        )
        .unwrap();
        let mut child = Command::new(python)
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/it/parse_metrics.py"
            ))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), text.as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "the exposition parser refused the scrape: {}\n{text}",
            String::from_utf8_lossy(&output.stderr)
        );
        let samples: Vec<(String, Value, Option<f64>)> =
            serde_json::from_slice(&output.stdout).unwrap();
        (Scrape(samples), text)
    }

    /// The value of the sample `name` whose labels include `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .iter()
            .find(|(n, l, _)| n == name && labels.iter().all(|(k, v)| l[*k].as_str() == Some(*v)))
            .and_then(|(_, _, v)| *v)
            .unwrap_or(0.0)
    }
}

async fn metrics_server() -> TestServer {
    TestServer::start_with(|settings| {
        settings.metrics_listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        settings.throttle.per_username = 3;
    })
    .await
}

#[tokio::test]
async fn every_flow_is_counted_with_bounded_labels() {
    let Some(python) = python() else {
        return;
    };
    let server = metrics_server().await;
    server.add_user("ann", "ann-pw").await;
    server.add_user("bob", "bob-pw").await;

    let (access, refresh) = server.login("ann", "ann-pw").await;
    for _ in 0..3 {
        let reply = server
            .post(
                "/api/token/",
                json!({"username": "bob", "password": "wrong"}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    let throttled = server
        .post(
            "/api/token/",
            json!({"username": "bob", "password": "wrong"}),
        )
        .await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    for _ in 0..3 {
        assert_eq!(
            server.get_with("/api/me/", &access).await.status,
            StatusCode::OK
        );
    }
    let rotated = server
        .post("/api/token/refresh/", json!({ "refresh": refresh }))
        .await;
    assert_eq!(rotated.status, StatusCode::OK);
    let reused = server
        .post("/api/token/refresh/", json!({ "refresh": refresh }))
        .await;
    assert_eq!(reused.status, StatusCode::UNAUTHORIZED);
    let garbage = server
        .post("/api/token/refresh/", json!({ "refresh": "not-a-token" }))
        .await;
    assert_eq!(garbage.status, StatusCode::UNAUTHORIZED);
    let (second, _) = server.login("ann", "ann-pw").await;
    assert_eq!(
        server
            .post_with("/api/logout/", &second, json!({}))
            .await
            .status,
        StatusCode::OK
    );
    let (third, _) = server.login("ann", "ann-pw").await;
    assert_eq!(
        server
            .post_with(
                "/api/password/",
                &third,
                json!({"old_password": "ann-pw", "new_password": "ann-pw-2"})
            )
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        server
            .post_with("/api/logout-all/", &third, json!({}))
            .await
            .status,
        StatusCode::OK
    );
    let unknown = server
        .send(
            Request::get("/api/users/ann/secret-path")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    let (scrape, text) = Scrape::of(&server, &python).await;
    let logins = |result| scrape.value("tessera_logins_total", &[("result", result)]);
    assert_eq!(
        (logins("success"), logins("failure"), logins("throttled")),
        (3.0, 3.0, 1.0)
    );
    let refreshes = |result| scrape.value("tessera_token_refreshes_total", &[("result", result)]);
    assert_eq!(
        (
            refreshes("success"),
            refreshes("failure"),
            refreshes("reuse")
        ),
        (1.0, 1.0, 1.0)
    );
    assert_eq!(scrape.value("tessera_reuse_detections_total", &[]), 1.0);
    let revoked = |reason| scrape.value("tessera_revocations_total", &[("reason", reason)]);
    assert_eq!(
        (
            revoked("reuse"),
            revoked("logout"),
            revoked("password"),
            revoked("logout_all")
        ),
        (1.0, 1.0, 1.0, 1.0)
    );
    assert!(scrape.value("tessera_verified_token_cache_hits_total", &[]) >= 2.0);
    assert!(scrape.value("tessera_verified_token_cache_misses_total", &[]) >= 1.0);
    let requests = |route, status| {
        scrape.value(
            "tessera_http_requests_total",
            &[("route", route), ("method", "POST"), ("status", status)],
        )
    };
    assert_eq!(requests("/api/token/", "200"), 3.0);
    assert_eq!(requests("/api/token/", "401"), 3.0);
    assert_eq!(requests("/api/token/", "429"), 1.0);
    assert_eq!(
        scrape.value(
            "tessera_http_requests_total",
            &[("route", "unmatched"), ("method", "GET"), ("status", "404")]
        ),
        1.0
    );
    // A histogram with buckets, by status class.
    assert_eq!(
        scrape.value(
            "tessera_http_request_duration_seconds_count",
            &[("route", "/api/me/"), ("status_class", "2xx")]
        ),
        3.0
    );
    assert!(text.contains("tessera_http_request_duration_seconds_bucket{"));
    assert_eq!(
        scrape.value(
            "tessera_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    assert!(scrape.value("tessera_revocation_sync_lag_seconds", &[]) >= 0.0);
    let pool = scrape.value("tessera_db_pool_connections", &[("state", "idle")])
        + scrape.value("tessera_db_pool_connections", &[("state", "in_use")]);
    assert!(pool >= 1.0, "the pool has connections: {pool}");
    // Nothing a client chose reaches a label: no names, no raw paths, no tokens.
    for secret in ["ann", "bob", "secret-path", &access[..20]] {
        assert!(
            !scrape
                .0
                .iter()
                .any(|(_, labels, _)| labels.to_string().contains(secret)),
            "{secret:?} in a label"
        );
    }
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let server = TestServer::start().await;
    let reply = server
        .send(
            Request::get("/healthz")
                .header("x-request-id", "from-the-client")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let id = reply.headers["x-request-id"].to_str().unwrap().to_owned();
    // Not a trusted proxy: the client's id is not taken (it is logged as the client's).
    assert_ne!(id, "from-the-client");
    assert_eq!(id.len(), 32);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    let other = server
        .send(Request::get("/no/such/route").body(Body::empty()).unwrap())
        .await;
    let other = other.headers["x-request-id"].to_str().unwrap();
    assert_ne!(other, id, "each request its own");
}
