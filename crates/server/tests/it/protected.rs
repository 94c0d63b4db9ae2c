//! Protected routes: the Bearer rules, user status, revocation, simplejwt-issued tokens, keys.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine as _;
use serde_json::json;

use super::{TestServer, decode_part, mint};

#[tokio::test]
async fn me_and_every_bearer_failure() {
    let server = TestServer::start().await;
    server.add_user("ann", "pw").await;
    let (access, refresh) = server.login("ann", "pw").await;
    let reply = server.get_with("/api/me/", &access).await;
    assert_eq!(
        (reply.status, reply.body),
        (
            StatusCode::OK,
            json!({"id": 1, "username": "ann", "roles": [], "claims": {}})
        )
    );

    let not_provided = json!({"detail": "Authentication credentials were not provided."});
    let reply = server
        .send(Request::get("/api/me/").body(Body::empty()).unwrap())
        .await;
    assert_eq!(
        (reply.status, &reply.body),
        (StatusCode::UNAUTHORIZED, &not_provided)
    );
    assert_eq!(
        reply.headers[header::WWW_AUTHENTICATE],
        "Bearer realm=\"api\""
    );
    let basic = Request::get("/api/me/")
        .header(header::AUTHORIZATION, "Basic YW5uOnB3")
        .body(Body::empty())
        .unwrap();
    assert_eq!(server.send(basic).await.body, not_provided);

    let two = Request::get("/api/me/")
        .header(header::AUTHORIZATION, "Bearer a b")
        .body(Body::empty())
        .unwrap();
    let reply = server.send(two).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.body["code"], "bad_authorization_header");

    let reply = server.get_with("/api/me/", "garbage").await;
    assert_eq!(
        reply.body,
        json!({"detail": "Given token not valid for any token type", "code": "token_not_valid",
        "messages": [
            {"token_class": "AccessToken", "token_type": "access", "message": "Token is invalid"},
            {"token_class": "SlidingToken", "token_type": "sliding", "message": "Token is invalid"},
        ]})
    );
    let reply = server.get_with("/api/me/", &refresh).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.body["messages"][0]["message"], "Token has wrong type");
}

#[tokio::test]
async fn disabled_and_deleted_users_are_refused_with_their_codes() {
    let server = TestServer::start().await;
    server.add_user("ann", "pw").await;
    server.add_user("bob", "pw").await;
    let (ann, _) = server.login("ann", "pw").await;
    let (bob, _) = server.login("bob", "pw").await;
    // Changed through the store, as the CLI does; the server picks it up on its next sync.
    server
        .cli()
        .disable_user("ann", &tessera_auth::audit::Acting::cli())
        .await
        .unwrap();
    server.delete_user("bob").await;
    server.sync().await;
    let reply = server.get_with("/api/me/", &ann).await;
    assert_eq!(
        (reply.status, reply.body),
        (
            StatusCode::UNAUTHORIZED,
            json!({"detail": "User is inactive", "code": "user_inactive"})
        )
    );
    let reply = server.get_with("/api/me/", &bob).await;
    assert_eq!(
        (reply.status, reply.body),
        (
            StatusCode::UNAUTHORIZED,
            json!({"detail": "User not found", "code": "user_not_found"})
        )
    );
}

#[tokio::test]
async fn logout_is_immediate_and_logout_all_reaches_every_session() {
    let server = TestServer::start().await;
    server.add_user("ann", "pw").await;
    let (first, _) = server.login("ann", "pw").await;
    let (second, second_refresh) = server.login("ann", "pw").await;
    let reply = server.post_with("/api/logout/", &first, json!({})).await;
    assert_eq!((reply.status, reply.body), (StatusCode::OK, json!({})));
    assert_eq!(
        server.get_with("/api/me/", &first).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server.get_with("/api/me/", &second).await.status,
        StatusCode::OK
    );

    let (third, _) = server.login("ann", "pw").await;
    let reply = server
        .post_with("/api/logout-all/", &third, json!({}))
        .await;
    assert_eq!((reply.status, reply.body), (StatusCode::OK, json!({})));
    for token in [&second, &third] {
        assert_eq!(
            server.get_with("/api/me/", token).await.body["messages"][0]["message"],
            "Token is blacklisted"
        );
    }
    let reply = server
        .post("/api/token/refresh/", json!({"refresh": second_refresh}))
        .await;
    assert_eq!(reply.body["detail"], "Token is blacklisted");
    // A login right after is not caught: revocation is by session id.
    let (fresh, _) = server.login("ann", "pw").await;
    assert_eq!(
        server.get_with("/api/me/", &fresh).await.status,
        StatusCode::OK
    );
}

/// An HS256 secret shared with a simplejwt deployment.
fn shared_secret() -> tessera_jwt::SigningKey {
    let jwk = tessera_jwt::Jwk::from_json(
        r#"{"kty":"oct","alg":"HS256","k":"c2hhcmVkLXNlY3JldC1vZi1hdC1sZWFzdC0zMi1ieXRlcyE"}"#,
    )
    .unwrap();
    tessera_jwt::SigningKey::from_jwk(&jwk, None).unwrap()
}

#[tokio::test]
async fn simplejwt_tokens_on_a_shared_hs256_key_verify_and_are_revocable_by_user() {
    let server = TestServer::start_with(|c| c.signing_key = Some(shared_secret())).await;
    server.add_user("ann", "pw").await;

    let jwks = server
        .send(
            Request::get("/.well-known/jwks.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        jwks.body,
        json!({"keys": []}),
        "a symmetric key is never published"
    );
    let (ours, _) = server.login("ann", "pw").await;
    assert_eq!(decode_part(&ours, 0)["alg"], "HS256");

    // As simplejwt issues them: typ JWT, no kid, no sid, integer user_id in older versions.
    let key = server.signing_key_for_operator();
    let theirs = mint(
        &key,
        &json!({"alg": "HS256", "typ": "JWT"}),
        &json!({"token_type": "access", "exp": server.now() + 300, "iat": server.now() - 1, "jti": "0123456789abcdef0123456789abcdef", "user_id": 1}),
    );
    assert_eq!(
        server.get_with("/api/me/", &theirs).await.status,
        StatusCode::OK
    );
    let their_refresh = mint(
        &key,
        &json!({"alg": "HS256", "typ": "JWT"}),
        &json!({"token_type": "refresh", "exp": server.now() + 300, "iat": server.now(), "jti": "1123456789abcdef0123456789abcdef", "user_id": 1}),
    );
    let reply = server.get_with("/api/me/", &their_refresh).await;
    assert_eq!(reply.body["messages"][0]["message"], "Token has wrong type");

    let reply = server.post_with("/api/logout-all/", &ours, json!({})).await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = server.get_with("/api/me/", &theirs).await;
    assert_eq!(reply.body["messages"][0]["message"], "Token is blacklisted");
}

/// A simplejwt-issued token (no `sid`) used to log out in the very second it was issued, or with
/// an `iat` a little ahead of our clock (within the leeway), ends with that logout.
#[tokio::test]
async fn logout_ends_the_sidless_token_it_was_called_with_whatever_its_iat() {
    let server = TestServer::start_with(|c| {
        c.signing_key = Some(shared_secret());
        c.auth.leeway = 30;
    })
    .await;
    server.add_user("ann", "pw").await;
    let key = server.signing_key_for_operator();
    for (i, iat) in [server.now(), server.now() + 20].into_iter().enumerate() {
        let token = mint(
            &key,
            &json!({"alg": "HS256", "typ": "JWT"}),
            &json!({"token_type": "access", "exp": server.now() + 300, "iat": iat, "jti": format!("{i}123456789abcdef0123456789abcdef"), "user_id": 1}),
        );
        assert_eq!(
            server.get_with("/api/me/", &token).await.status,
            StatusCode::OK
        );
        let reply = server.post_with("/api/logout/", &token, json!({})).await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        let reply = server.get_with("/api/me/", &token).await;
        assert_eq!(
            reply.body["messages"][0]["message"], "Token is blacklisted",
            "iat {iat}"
        );
    }
    // Tokens we issue carry a `sid`: a login right after is untouched.
    let (ours, _) = server.login("ann", "pw").await;
    assert_eq!(
        server.get_with("/api/me/", &ours).await.status,
        StatusCode::OK
    );
}

/// A correctly signed token that lacks a claim simplejwt requires gets simplejwt's own message.
#[tokio::test]
async fn correctly_signed_tokens_missing_a_claim_get_simplejwts_messages() {
    let server = TestServer::start().await;
    server.add_user("ann", "pw").await;
    let key = server.signing_key().await;
    let header = json!({"alg": "ES256", "typ": "JWT", "kid": key.kid().to_string()});
    let complete = json!({"token_type": "access", "exp": server.now() + 300, "iat": server.now(), "jti": "0123456789abcdef0123456789abcdef", "user_id": "1"});
    assert_eq!(
        server
            .get_with("/api/me/", &mint(&key, &header, &complete))
            .await
            .status,
        StatusCode::OK
    );
    for (missing, message) in [
        (&["exp"][..], "Token has no 'exp' claim"),
        (&["jti"], "Token has no id"),
        (&["token_type"], "Token has no type"),
        // simplejwt checks in this order: exp, then jti, then the type.
        (&["exp", "jti", "token_type"], "Token has no 'exp' claim"),
        (&["jti", "token_type"], "Token has no id"),
    ] {
        let mut claims = complete.clone();
        for name in missing {
            claims.as_object_mut().unwrap().remove(*name);
        }
        let token = mint(&key, &header, &claims);
        let reply = server.get_with("/api/me/", &token).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{missing:?}");
        assert_eq!(reply.body["code"], "token_not_valid");
        assert_eq!(reply.body["messages"][0]["message"], message, "{missing:?}");
        let reply = server
            .post("/api/token/verify/", json!({"token": token}))
            .await;
        assert_eq!(reply.body["detail"], message, "verify, {missing:?}");
    }
}

#[tokio::test]
async fn jwks_publishes_keys_and_rotation_keeps_old_tokens_valid() {
    let server = TestServer::start().await;
    server.add_user("ann", "pw").await;
    let (old_token, _) = server.login("ann", "pw").await;
    let jwks = server
        .send(
            Request::get("/.well-known/jwks.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(jwks.headers[header::CONTENT_TYPE], "application/json");
    let keys = jwks.body["keys"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kty"], "EC");
    assert!(keys[0].get("d").is_none());

    let old_kid = server.state.auth.signing_kid().unwrap();
    server
        .cli()
        .rotate_key(&tessera_auth::audit::Acting::cli())
        .await
        .unwrap();
    server.sync().await;
    let new_kid = server.state.auth.signing_kid().unwrap();
    assert_ne!(old_kid, new_kid);
    let (new_token, _) = server.login("ann", "pw").await;
    assert_eq!(decode_part(&new_token, 0)["kid"], new_kid);
    assert_eq!(
        server.get_with("/api/me/", &old_token).await.status,
        StatusCode::OK
    );
    let jwks = server
        .send(
            Request::get("/.well-known/jwks.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(jwks.body["keys"].as_array().unwrap().len(), 2);
}

/// Right after a rotation elsewhere, another instance may sign with the new key before this one's
/// next sync: the unknown key id makes it reload the keys once, and the token passes.
#[tokio::test]
async fn a_key_rotated_elsewhere_verifies_before_the_next_sync() {
    let server = TestServer::start().await;
    server.add_user("ann", "pw").await;
    let other = server.another_instance().await;
    let old_kid = other.state.auth.signing_kid().unwrap();
    server
        .cli()
        .rotate_key(&tessera_auth::audit::Acting::cli())
        .await
        .unwrap();
    server.sync().await;
    let (token, refresh) = server.login("ann", "pw").await;
    assert_ne!(decode_part(&token, 0)["kid"], old_kid.as_str());
    assert_eq!(
        other.state.auth.signing_kid().unwrap(),
        old_kid,
        "not synced yet"
    );
    assert_eq!(
        other.get_with("/api/me/", &token).await.status,
        StatusCode::OK
    );
    assert_eq!(
        other
            .post("/api/token/refresh/", json!({ "refresh": refresh }))
            .await
            .status,
        StatusCode::OK
    );

    // A made-up key id is still refused, and costs no reload within the same second.
    let forged = format!(
        "{}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"alg":"ES256","typ":"at+jwt","kid":"made-up"}"#),
        token.split_once('.').unwrap().1
    );
    assert_eq!(
        other.get_with("/api/me/", &forged).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn revocations_sessions_and_keys_survive_a_restart() {
    let server = TestServer::start().await;
    server.add_user("ann", "pw").await;
    let (revoked, _) = server.login("ann", "pw").await;
    let (kept, kept_refresh) = server.login("ann", "pw").await;
    server.post_with("/api/logout/", &revoked, json!({})).await;
    let kid = server.state.auth.signing_kid().unwrap();

    let server = server.restart().await;
    assert_eq!(server.state.auth.signing_kid().unwrap(), kid);
    assert_eq!(
        server.get_with("/api/me/", &revoked).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server.get_with("/api/me/", &kept).await.status,
        StatusCode::OK
    );
    let reply = server.get_with("/api/sessions/", &kept).await;
    assert_eq!(reply.body.as_array().unwrap().len(), 1);
    let reply = server
        .post("/api/token/refresh/", json!({"refresh": kept_refresh}))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
}

impl TestServer {
    /// The operator's HS256 key as configured (the test wrote it).
    fn signing_key_for_operator(&self) -> tessera_jwt::SigningKey {
        self.config.signing_key.clone().unwrap()
    }
}

/// With `revocation_max_staleness` set, an instance whose revocation state has not been synced
/// for that long refuses access tokens with 503 (it cannot know what was revoked meanwhile), and
/// accepts them again after a sync. Unset, it never refuses (the default).
#[tokio::test]
async fn stale_revocation_state_refuses_access_tokens_when_configured() {
    let server = TestServer::start_with(|config| {
        config.revocation_max_staleness = Some(std::time::Duration::from_millis(200));
    })
    .await;
    server.add_user("ann", "pw").await;
    let (access, _) = server.login("ann", "pw").await;
    assert_eq!(
        server.get_with("/api/me/", &access).await.status,
        StatusCode::OK
    );
    // No background task runs in these tests: nothing syncs unless the test says so.
    server.advance(std::time::Duration::from_millis(300));
    let stale = server.get_with("/api/me/", &access).await;
    assert_eq!(stale.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(stale.headers[header::RETRY_AFTER], "1");
    assert_eq!(
        server
            .post("/api/token/verify/", json!({ "token": access }))
            .await
            .status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    server.state.feed.synced(Ok(()));
    assert_eq!(
        server.get_with("/api/me/", &access).await.status,
        StatusCode::OK
    );

    let default = TestServer::start().await;
    default.add_user("ann", "pw").await;
    let (access, _) = default.login("ann", "pw").await;
    assert!(default.state.max_staleness.is_none());
    assert_eq!(
        default.get_with("/api/me/", &access).await.status,
        StatusCode::OK
    );
}

/// With `key_publish_ahead`, a rotated-in key is in the published set at once but signs only
/// when due; the previous key signs until then and keeps verifying afterwards.
#[tokio::test]
async fn a_key_published_ahead_signs_only_when_due() {
    let server = TestServer::start_with(|config| {
        config.auth.key_publish_ahead = 2;
    })
    .await;
    server.add_user("ann", "pw").await;
    let old_kid = server.state.auth.signing_kid().unwrap();
    let key = server
        .cli()
        .rotate_key(&tessera_auth::audit::Acting::cli())
        .await
        .unwrap();
    assert!(key.created_at > server.now(), "signs from later");
    server.sync().await;
    let published: Vec<String> = server
        .send(
            Request::get("/.well-known/jwks.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        published.contains(&key.kid) && published.contains(&old_kid),
        "{published:?}"
    );
    let (before, _) = server.login("ann", "pw").await;
    assert_eq!(
        decode_part(&before, 0)["kid"],
        old_kid.as_str(),
        "not due yet"
    );
    server.advance(std::time::Duration::from_secs(2));
    assert_eq!(server.now(), key.created_at);
    server.sync().await;
    let (after, _) = server.login("ann", "pw").await;
    assert_eq!(decode_part(&after, 0)["kid"], key.kid.as_str());
    assert_eq!(
        server.get_with("/api/me/", &before).await.status,
        StatusCode::OK
    );
}
