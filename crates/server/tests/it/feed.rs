//! The revocation feed: who may read it, what it says (no personal data), pages with cursors, and
//! the live stream (Server-Sent Events) with resumption. Also the JWKS cache lifetime.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use super::TestServer;

const FEED_TOKEN: &str = "feed-token-of-forty-characters-0123456789";

async fn with_feed() -> TestServer {
    TestServer::start_with(|c| {
        c.revocation_feed_token = Some(tessera_server::feed::FeedToken(zeroize::Zeroizing::new(
            FEED_TOKEN.into(),
        )))
    })
    .await
}

#[tokio::test]
async fn only_the_feed_token_or_the_feed_scope_reads_the_feed() {
    let server = with_feed().await;
    server.add_user("ann", "pw").await;
    let (user, _) = server.login("ann", "pw").await;
    let reply = server
        .send(
            Request::get("/api/revocations/")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        server
            .get_with("/api/revocations/", "wrong-token")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server.get_with("/api/revocations/", &user).await.status,
        StatusCode::FORBIDDEN,
        "a user's token"
    );
    assert_eq!(
        server
            .get_with("/api/revocations/", FEED_TOKEN)
            .await
            .status,
        StatusCode::OK
    );
    for (scopes, expected) in [
        (vec!["tessera:revocations"], StatusCode::OK),
        (vec!["read"], StatusCode::FORBIDDEN),
    ] {
        let name = format!("downstream-{}", scopes[0]);
        let client = server
            .cli()
            .register_client(
                &name,
                scopes.iter().map(|s| (*s).to_owned()).collect(),
                vec![],
                &tessera_auth::audit::Acting::cli(),
            )
            .await
            .unwrap();
        let token = server
            .state
            .auth
            .grant_client_credentials(&client.client, None)
            .await
            .unwrap()
            .access_token;
        assert_eq!(
            server.get_with("/api/revocations/", &token).await.status,
            expected,
            "{scopes:?}"
        );
    }
}

#[tokio::test]
async fn pages_say_what_was_revoked_with_cursors_and_no_personal_data() {
    let server = with_feed().await;
    server.add_user("ann", "pw").await;
    server.add_user("bob", "pw").await;
    let (a1, _) = server.login("ann", "pw").await;
    let sid = super::decode_part(&a1, 1)["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    server.post_with("/api/logout/", &a1, json!({})).await;
    let (a2, _) = server.login("ann", "pw").await;
    server.post_with("/api/logout-all/", &a2, json!({})).await;
    server
        .cli()
        .disable_user("bob", &tessera_auth::audit::Acting::cli())
        .await
        .unwrap();
    server
        .cli()
        .enable_user("bob", &tessera_auth::audit::Acting::cli())
        .await
        .unwrap();
    let page = server.get_with("/api/revocations/", FEED_TOKEN).await;
    assert_eq!(page.status, StatusCode::OK);
    let results = page.body["results"].as_array().unwrap().clone();
    let kinds: Vec<&str> = results
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert!(kinds.starts_with(&["session", "user"]), "{kinds:?}");
    assert_eq!(results[0]["sid"], sid.as_str());
    assert_eq!(
        results[1]["only_without_sid"], true,
        "logout-all: the sessions have entries of their own"
    );
    assert!(
        results
            .iter()
            .any(|e| e["type"] == "user" && e["user_id"] == "2" && e["only_without_sid"] == false),
        "bob's disabling ends every token: {results:?}"
    );
    let text = page.body.to_string();
    assert!(
        !text.contains("ann") && !text.contains("bob"),
        "no names: {text}"
    );
    for entry in &results {
        assert!(entry["cursor"].is_i64() && entry["expires_at"].is_i64());
    }
    // `after` is exclusive, and the page's cursor resumes after everything read (the enabling of
    // bob, which a verifier has nothing to do with, included).
    let first = results[0]["cursor"].as_i64().unwrap();
    let rest = server
        .get_with(&format!("/api/revocations/?after={first}"), FEED_TOKEN)
        .await;
    assert_eq!(
        rest.body["results"].as_array().unwrap().len(),
        results.len() - 1
    );
    let end = page.body["cursor"].as_i64().unwrap();
    let nothing = server
        .get_with(&format!("/api/revocations/?after={end}"), FEED_TOKEN)
        .await;
    assert_eq!(nothing.body, json!({"results": [], "cursor": end}));
    let one = server
        .get_with("/api/revocations/?limit=1", FEED_TOKEN)
        .await;
    assert_eq!(one.body["results"].as_array().unwrap().len(), 1);
    let bad = server
        .get_with("/api/revocations/?after=soon", FEED_TOKEN)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body, json!({"after": ["A valid integer is required."]}));
    // Entries that no longer matter (every token they cover has expired) are not served.
    server.advance(std::time::Duration::from_secs(2 * 86_400));
    let later = server.get_with("/api/revocations/", FEED_TOKEN).await;
    assert_eq!(later.body["results"], json!([]));
}

/// Reads the stream until an event whose data satisfies `wanted`; returns (id, data).
async fn next_event(body: &mut Body, wanted: impl Fn(&Value) -> bool) -> (String, Value) {
    let mut text = String::new();
    loop {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(5), body.frame())
            .await
            .expect("an event within 5 s")
            .unwrap()
            .unwrap();
        if let Ok(data) = frame.into_data() {
            text.push_str(std::str::from_utf8(&data).unwrap());
        }
        while let Some(end) = text.find("\n\n") {
            let event: String = text.drain(..end + 2).collect();
            let field = |name: &str| {
                event
                    .lines()
                    .find_map(|line| line.strip_prefix(&format!("{name}:")))
                    .map(|v| v.trim().to_owned())
            };
            if let (Some(id), Some(data)) = (field("id"), field("data")) {
                let data: Value = serde_json::from_str(&data).unwrap();
                if wanted(&data) {
                    return (id, data);
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_stream_delivers_new_revocations_and_resumes_after_a_cursor() {
    let server = with_feed().await;
    server.add_user("ann", "pw").await;
    let (old, _) = server.login("ann", "pw").await;
    server.post_with("/api/logout/", &old, json!({})).await;
    let open = |extra: Option<(&str, String)>, query: &str| {
        let mut request = Request::get(format!("/api/revocations/stream{query}"))
            .header(header::AUTHORIZATION, format!("Bearer {FEED_TOKEN}"));
        if let Some((name, value)) = extra {
            request = request.header(name, value);
        }
        let app = server.app.clone();
        let request = request.body(Body::empty()).unwrap();
        async move { app.oneshot(request).await.unwrap() }
    };
    let response = open(None, "").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/event-stream"
    );
    let mut body = response.into_body();
    // What happened before the connection is replayed first.
    let (first_id, first) = next_event(&mut body, |_| true).await;
    assert_eq!(first["type"], "session");
    // Then a logout made while connected arrives.
    let (live, _) = server.login("ann", "pw").await;
    let sid = super::decode_part(&live, 1)["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    server.post_with("/api/logout/", &live, json!({})).await;
    let (second_id, _) = next_event(&mut body, |e| e["sid"] == sid.as_str()).await;
    assert!(second_id.parse::<i64>().unwrap() > first_id.parse::<i64>().unwrap());

    // Resuming after the first event, by Last-Event-ID or ?after=, starts with the second.
    for (extra, query) in [
        (Some(("last-event-id", first_id.clone())), String::new()),
        (None, format!("?after={first_id}")),
    ] {
        let mut body = open(extra, &query).await.into_body();
        let (id, data) = next_event(&mut body, |_| true).await;
        assert_eq!(
            (id.as_str(), &data["sid"]),
            (second_id.as_str(), &json!(sid))
        );
    }
    // A reader with an OAuth token reads until the token expires; then the stream ends.
    let client = server
        .cli()
        .register_client(
            "reader",
            vec!["tessera:revocations".into()],
            vec![],
            &tessera_auth::audit::Acting::cli(),
        )
        .await
        .unwrap();
    let token = server
        .state
        .auth
        .grant_client_credentials(&client.client, None)
        .await
        .unwrap()
        .access_token;
    let request = Request::get("/api/revocations/stream")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let mut body = server
        .app
        .clone()
        .oneshot(request)
        .await
        .unwrap()
        .into_body();
    next_event(&mut body, |_| true).await;
    // The stream, read in the background, waits for the log to grow or the token to expire.
    let reading = tokio::spawn(async move { while body.frame().await.is_some() {} });
    while server.clock.sleepers() == 0 {
        tokio::task::yield_now().await;
    }
    server.advance(std::time::Duration::from_secs(301));
    tokio::time::timeout(std::time::Duration::from_secs(5), reading)
        .await
        .expect("the stream ends when the token expires")
        .unwrap();

    // Any other credential is refused.
    let (user, _) = server.login("ann", "pw").await;
    let reply = server
        .send(
            Request::get("/api/revocations/stream")
                .header(header::AUTHORIZATION, format!("Bearer {user}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_jwks_may_be_cached_as_long_as_keys_are_published_ahead() {
    let server = TestServer::start().await;
    let reply = server
        .send(
            Request::get("/.well-known/jwks.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.headers[header::CACHE_CONTROL], "public, max-age=0");
    let ahead = TestServer::start_with(|c| c.auth.key_publish_ahead = 3_600).await;
    let reply = ahead
        .send(
            Request::get("/.well-known/jwks.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.headers[header::CACHE_CONTROL], "public, max-age=3600");
}
