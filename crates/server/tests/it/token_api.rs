//! simplejwt's token endpoints: bodies, status codes, claims, rotation, reuse detection.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::json;

use super::{TestServer, decode_part, json_request, mint};

const BEARER: &str = "Bearer realm=\"api\"";

#[tokio::test]
async fn login_issues_a_simplejwt_pair_with_our_headers() {
    let server = TestServer::start().await;
    server.add_user("ann", "correct horse").await;
    let reply = server
        .post(
            "/api/token/",
            json!({"username": "ann", "password": "correct horse"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let access = reply.body["access"].as_str().unwrap();
    let refresh = reply.body["refresh"].as_str().unwrap();

    let (header, claims) = (decode_part(access, 0), decode_part(access, 1));
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["kid"], server.state.auth.signing_kid().unwrap());
    assert_eq!(claims["token_type"], "access");
    assert_eq!(claims["user_id"], "1");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        300
    );
    let jti = claims["jti"].as_str().unwrap();
    assert!(jti.len() == 32 && jti.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(claims["sid"].as_str().unwrap().len(), 32);

    let (header, claims) = (decode_part(refresh, 0), decode_part(refresh, 1));
    assert_eq!(header["typ"], "refresh+jwt");
    assert_eq!(claims["token_type"], "refresh");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        86_400
    );
    assert_eq!(claims["sid"], decode_part(access, 1)["sid"]);
}

#[tokio::test]
async fn bad_credentials_unknown_and_disabled_users_get_one_answer() {
    let server = TestServer::start().await;
    server.add_user("ann", "pw-ann").await;
    server.add_user("bob", "pw-bob").await;
    server
        .cli()
        .disable_user("bob", &tessera_auth::audit::Acting::cli())
        .await
        .unwrap();
    for (user, password) in [("ann", "wrong"), ("nobody", "pw-ann"), ("bob", "pw-bob")] {
        let reply = server
            .post(
                "/api/token/",
                json!({"username": user, "password": password}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{user}");
        assert_eq!(
            reply.body,
            json!({"detail": "No active account found with the given credentials"})
        );
        assert_eq!(reply.headers[header::WWW_AUTHENTICATE], BEARER);
    }
}

#[tokio::test]
async fn field_errors_have_drfs_shape() {
    let server = TestServer::start().await;
    let reply = server.post("/api/token/", json!({"username": "ann"})).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body, json!({"password": ["This field is required."]}));

    // Byte for byte as DRF writes it: fields in serializer order.
    let raw = server
        .send(json_request(Method::POST, "/api/token/", &json!({}), None))
        .await;
    assert_eq!(
        raw.body.to_string(),
        r#"{"username":["This field is required."],"password":["This field is required."]}"#
    );
    let reply = server
        .post("/api/token/", json!({"username": " ", "password": null}))
        .await;
    assert_eq!(
        reply.body,
        json!({"username": ["This field may not be blank."], "password": ["This field may not be null."]})
    );
    for path in ["/api/token/refresh/", "/api/token/blacklist/"] {
        let reply = server.post(path, json!({})).await;
        assert_eq!(
            reply.body,
            json!({"refresh": ["This field is required."]}),
            "{path}"
        );
    }
    let reply = server.post("/api/token/verify/", json!({})).await;
    assert_eq!(reply.body, json!({"token": ["This field is required."]}));
}

#[tokio::test]
async fn form_bodies_work_and_bad_bodies_are_400_413_415() {
    let server = TestServer::start().await;
    server.add_user("ann", "pw").await;
    let form = Request::post("/api/token/")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("username=ann&password=pw"))
        .unwrap();
    assert_eq!(server.send(form).await.status, StatusCode::OK);

    let reply = server.post("/api/token/", json!([])).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.body,
        json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]})
    );

    let broken = Request::post("/api/token/")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"username\": "))
        .unwrap();
    let reply = server.send(broken).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.body["detail"]
            .as_str()
            .unwrap()
            .starts_with("JSON parse error - ")
    );

    let huge = json!({"username": "a".repeat(70_000), "password": "x"});
    assert_eq!(
        server.post("/api/token/", huge).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );

    let text = Request::post("/api/token/")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("hi"))
        .unwrap();
    let reply = server.send(text).await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        reply.body,
        json!({"detail": "Unsupported media type \"text/plain\" in request."})
    );
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_whole_session() {
    let server = TestServer::start().await;
    server.add_user("ann", "pw").await;
    let (access, first) = server.login("ann", "pw").await;

    let reply = server
        .post("/api/token/refresh/", json!({"refresh": first}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let second = reply.body["refresh"].as_str().unwrap().to_owned();
    let new_access = reply.body["access"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    assert_eq!(
        decode_part(&second, 1)["sid"],
        decode_part(&first, 1)["sid"]
    );
    assert_eq!(
        server.get_with("/api/me/", &new_access).await.status,
        StatusCode::OK
    );

    // The rotated token comes back: reuse. The whole session dies, descendants included.
    let reply = server
        .post("/api/token/refresh/", json!({"refresh": first}))
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.body,
        json!({"detail": "Token is blacklisted", "code": "token_not_valid"})
    );
    let reply = server
        .post("/api/token/refresh/", json!({"refresh": second}))
        .await;
    assert_eq!(reply.body["detail"], "Token is blacklisted");
    for token in [access, new_access] {
        let reply = server.get_with("/api/me/", &token).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.body["messages"][0]["message"], "Token is blacklisted");
    }
}

#[tokio::test]
async fn concurrent_refreshes_with_one_token_exactly_one_wins() {
    let server = TestServer::start().await;
    server.add_user("ann", "pw").await;
    let (_, refresh) = server.login("ann", "pw").await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let app = server.app.clone();
        let request = json_request(
            Method::POST,
            "/api/token/refresh/",
            &json!({"refresh": refresh}),
            None,
        );
        tasks.push(tokio::spawn(async move {
            use tower::ServiceExt as _;
            app.oneshot(request).await.unwrap().status()
        }));
    }
    let mut ok = 0;
    for task in tasks {
        if task.await.unwrap() == StatusCode::OK {
            ok += 1;
        }
    }
    assert_eq!(ok, 1);
}

#[tokio::test]
async fn verify_accepts_any_valid_token_and_names_the_problem() {
    let server = TestServer::start().await;
    server.add_user("ann", "pw").await;
    let (access, refresh) = server.login("ann", "pw").await;
    for token in [&access, &refresh] {
        let reply = server
            .post("/api/token/verify/", json!({"token": token}))
            .await;
        assert_eq!((reply.status, reply.body), (StatusCode::OK, json!({})));
    }
    let reply = server
        .post("/api/token/verify/", json!({"token": "not.a.token"}))
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.body.to_string(),
        r#"{"detail":"Token is invalid","code":"token_not_valid"}"#
    );
    assert_eq!(reply.headers[header::WWW_AUTHENTICATE], BEARER);

    let key = server.signing_key().await;
    let expired = mint(
        &key,
        &json!({"alg": "ES256", "typ": "at+jwt", "kid": key.kid().as_str()}),
        &json!({"token_type": "access", "exp": server.now() - 10, "iat": server.now() - 310, "jti": "ab", "user_id": "1"}),
    );
    let reply = server
        .post("/api/token/verify/", json!({"token": expired}))
        .await;
    assert_eq!(
        reply.body,
        json!({"detail": "Token is expired", "code": "token_not_valid"})
    );

    assert_eq!(
        server
            .post("/api/token/blacklist/", json!({"refresh": refresh}))
            .await
            .status,
        StatusCode::OK
    );
    for token in [&access, &refresh] {
        let reply = server
            .post("/api/token/verify/", json!({"token": token}))
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            reply.body,
            json!({"detail": "Token is blacklisted", "code": "token_not_valid"})
        );
    }
}

#[tokio::test]
async fn blacklist_logs_the_session_out_access_tokens_included() {
    let server = TestServer::start().await;
    server.add_user("ann", "pw").await;
    let (access, refresh) = server.login("ann", "pw").await;
    let reply = server
        .post("/api/token/blacklist/", json!({"refresh": refresh}))
        .await;
    assert_eq!((reply.status, reply.body), (StatusCode::OK, json!({})));
    let reply = server.get_with("/api/me/", &access).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.body["messages"][0]["message"], "Token is blacklisted");
    let reply = server
        .post("/api/token/refresh/", json!({"refresh": refresh}))
        .await;
    assert_eq!(reply.body["detail"], "Token is blacklisted");
    let reply = server
        .post("/api/token/blacklist/", json!({"refresh": refresh}))
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    // An access token is not a refresh token.
    let (access, _) = server.login("ann", "pw").await;
    let reply = server
        .post("/api/token/blacklist/", json!({"refresh": access}))
        .await;
    assert_eq!(
        reply.body,
        json!({"detail": "Token has wrong type", "code": "token_not_valid"})
    );
}

#[tokio::test]
async fn refresh_refuses_gone_users_and_tokens_never_issued() {
    let server = TestServer::start().await;
    server.add_user("ann", "pw").await;
    server.add_user("bob", "pw").await;
    let (_, ann_refresh) = server.login("ann", "pw").await;
    let (_, bob_refresh) = server.login("bob", "pw").await;
    server.delete_user("ann").await;
    server
        .cli()
        .disable_user("bob", &tessera_auth::audit::Acting::cli())
        .await
        .unwrap();
    for token in [ann_refresh, bob_refresh] {
        let reply = server
            .post("/api/token/refresh/", json!({"refresh": token}))
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            reply.body,
            json!({"detail": "No active account found for the given token."})
        );
    }
    // Validly signed, right shape, but the store never issued it: the store is an allow-list.
    server.add_user("cid", "pw").await;
    let key = server.signing_key().await;
    let forged = mint(
        &key,
        &json!({"alg": "ES256", "typ": "refresh+jwt", "kid": key.kid().as_str()}),
        &json!({"token_type": "refresh", "exp": server.now() + 100, "iat": server.now(), "jti": "cd", "user_id": "3", "sid": "0".repeat(32)}),
    );
    let reply = server
        .post("/api/token/refresh/", json!({"refresh": forged}))
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.body,
        json!({"detail": "Token is invalid", "code": "token_not_valid"})
    );
}

#[tokio::test]
async fn grace_window_lets_only_the_immediate_predecessor_retry() {
    let server = TestServer::start_with(|c| c.auth.reuse_grace = 30).await;
    server.add_user("ann", "pw").await;
    let (_, first) = server.login("ann", "pw").await;
    let second = server
        .post("/api/token/refresh/", json!({"refresh": first}))
        .await
        .body["refresh"]
        .clone();
    // The response carrying `second` was lost; the client retries with `first`.
    let retry = server
        .post("/api/token/refresh/", json!({"refresh": first}))
        .await;
    assert_eq!(retry.status, StatusCode::OK, "{:?}", retry.body);
    let third = retry.body["refresh"].as_str().unwrap().to_owned();
    assert_ne!(json!(third), second);
    // `first` again: its successor is no longer the current token, so this is reuse.
    let reply = server
        .post("/api/token/refresh/", json!({"refresh": first}))
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let reply = server
        .post("/api/token/refresh/", json!({"refresh": third}))
        .await;
    assert_eq!(
        reply.body["detail"], "Token is blacklisted",
        "the session was revoked"
    );
}

#[tokio::test]
async fn rotation_off_returns_only_an_access_token() {
    let server = TestServer::start_with(|c| c.auth.rotate_refresh_tokens = false).await;
    server.add_user("ann", "pw").await;
    let (_, refresh) = server.login("ann", "pw").await;
    for _ in 0..2 {
        let reply = server
            .post("/api/token/refresh/", json!({"refresh": refresh}))
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(reply.body.get("refresh").is_none());
        assert!(reply.body["access"].is_string());
    }
}

#[tokio::test]
async fn throttling_counts_failures_per_username_whatever_the_ip() {
    let server = TestServer::start().await;
    server.add_user("ann", "pw").await;
    server.add_user("bob", "pw").await;
    for _ in 0..5 {
        let reply = server
            .post(
                "/api/token/",
                json!({"username": "ann", "password": "nope"}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    let reply = server
        .post("/api/token/", json!({"username": "ann", "password": "pw"}))
        .await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = reply.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry));
    assert!(
        reply.body["detail"]
            .as_str()
            .unwrap()
            .starts_with("Request was throttled.")
    );
    server.login("bob", "pw").await;
}

/// Wrong passwords sent at once are counted before they are checked: how many are checked does not
/// depend on how many arrive together.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_wrong_passwords_are_checked_only_up_to_the_limit() {
    let server = TestServer::start().await;
    server.add_user("ann", "pw").await;
    let guesses = (0..19).map(|i| {
        server.post(
            "/api/token/",
            json!({"username": "ann", "password": format!("guess {i}")}),
        )
    });
    let mut checked = 0;
    let mut throttled = 0;
    for reply in futures_util::future::join_all(guesses).await {
        match reply.status {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => throttled += 1,
            other => panic!("{other}: {:?}", reply.body),
        }
    }
    assert_eq!((checked, throttled), (5, 14));
    let reply = server
        .post("/api/token/", json!({"username": "ann", "password": "pw"}))
        .await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_in_json() {
    let server = TestServer::start().await;
    let reply = server
        .send(Request::get("/nope").body(Body::empty()).unwrap())
        .await;
    assert_eq!(
        (reply.status, reply.body),
        (StatusCode::NOT_FOUND, json!({"detail": "Not found."}))
    );
    let reply = server
        .send(Request::get("/api/token/").body(Body::empty()).unwrap())
        .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.body, json!({"detail": "Method \"GET\" not allowed."}));
    let reply = server
        .send(Request::get("/healthz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(
        (reply.status, reply.body),
        (StatusCode::OK, json!({"status": "ok"}))
    );
    let reply = server
        .send(Request::get("/readyz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["checks"]["database"], "ok");
}

#[tokio::test]
async fn issuer_and_audience_are_written_and_required() {
    let server = TestServer::start_with(|c| {
        c.auth.issuer = Some("https://auth.example".into());
        c.auth.audience = Some("api".into());
    })
    .await;
    server.add_user("ann", "pw").await;
    let (access, _) = server.login("ann", "pw").await;
    let claims = decode_part(&access, 1);
    assert_eq!(
        (claims["iss"].clone(), claims["aud"].clone()),
        (json!("https://auth.example"), json!("api"))
    );
    assert_eq!(
        server.get_with("/api/me/", &access).await.status,
        StatusCode::OK
    );

    let key = server.signing_key().await;
    let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": key.kid().as_str()});
    let base = json!({"token_type": "access", "exp": server.now() + 60, "iat": server.now(), "jti": "ab", "user_id": "1", "iss": "https://auth.example", "aud": "api"});
    for (name, value) in [
        ("aud", json!("other")),
        ("iss", json!("https://evil.example")),
    ] {
        let mut claims = base.clone();
        claims[name] = value;
        let reply = server
            .get_with("/api/me/", &mint(&key, &header, &claims))
            .await;
        assert_eq!(
            reply.body["messages"][0]["message"], "Token is invalid",
            "{name}"
        );
    }
    assert_eq!(
        server
            .get_with("/api/me/", &mint(&key, &header, &base))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn rotation_never_extends_a_session_past_its_absolute_lifetime() {
    let server = TestServer::start_with(|c| {
        c.auth.session_lifetime = 3_600;
    })
    .await;
    server.add_user("ann", "pw").await;
    let (_, refresh) = server.login("ann", "pw").await;
    let first = decode_part(&refresh, 1);
    assert!(first["exp"].as_i64().unwrap() - first["iat"].as_i64().unwrap() <= 3_600);
    let reply = server
        .post("/api/token/refresh/", json!({"refresh": refresh}))
        .await;
    let second = decode_part(reply.body["refresh"].as_str().unwrap(), 1);
    assert!(second["exp"].as_i64().unwrap() <= first["iat"].as_i64().unwrap() + 3_600);
}

#[tokio::test]
async fn storage_down_means_503_for_what_needs_it_and_verification_goes_on() {
    let server = TestServer::start().await;
    server.add_user("ann", "pw").await;
    server.add_user("bob", "pw").await;
    let (access, refresh) = server.login("ann", "pw").await;
    assert_eq!(
        server.get_with("/api/me/", &access).await.status,
        StatusCode::OK
    );
    let bob = server.login("bob", "pw").await;
    server.close_store().await;

    let reply = server
        .send(Request::get("/readyz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.body["status"], "unavailable");
    assert!(
        reply.body["checks"]["database"]
            .as_str()
            .unwrap()
            .starts_with("down")
    );
    for (path, body) in [
        ("/api/token/", json!({"username": "ann", "password": "pw"})),
        ("/api/token/refresh/", json!({"refresh": refresh})),
    ] {
        let reply = server.post(path, body).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_eq!(
            reply.body,
            json!({"detail": "Service temporarily unavailable, try again later."})
        );
    }
    // Access tokens are checked in memory: protected routes that need no storage keep working.
    let reply = server
        .post("/api/token/verify/", json!({"token": access}))
        .await;
    assert_eq!((reply.status, reply.body), (StatusCode::OK, json!({})));
    // `/api/me/` answers from the last record this instance read, a second or more ago.
    server.advance(std::time::Duration::from_secs(1));
    let reply = server.get_with("/api/me/", &access).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["username"], "ann");
    // A user this instance never read cannot be answered.
    let (bob_access, _) = bob;
    let reply = server.get_with("/api/me/", &bob_access).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    let reply = server
        .send(Request::get("/healthz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(reply.status, StatusCode::OK);
}
