//! Sliding tokens end with their session: logout, logout-all, a disabled user; a refresh stops at
//! `refresh_exp`; each login is listed among the user's sessions.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{TestServer, decode_part};

async fn sliding_login(server: &TestServer) -> String {
    let reply = server
        .post(
            "/api/token/sliding/",
            json!({"username": "ann", "password": "pw"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let keys: Vec<&String> = reply.body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["token"]);
    reply.body["token"].as_str().unwrap().to_owned()
}

async fn slide(server: &TestServer, token: &str) -> (StatusCode, Value) {
    let reply = server
        .post("/api/token/sliding/refresh/", json!({ "token": token }))
        .await;
    (reply.status, reply.body)
}

fn refused(detail: &str) -> Value {
    json!({"detail": detail, "code": "token_not_valid"})
}

#[tokio::test]
async fn a_sliding_token_slides_until_refresh_exp_and_is_a_session() {
    let server = TestServer::start_with(|settings| {
        settings.auth.sliding_lifetime = 300;
        settings.auth.sliding_refresh_lifetime = 600;
    })
    .await;
    server.add_user("ann", "pw").await;
    let token = sliding_login(&server).await;
    let claims = decode_part(&token, 1);
    assert_eq!(claims["token_type"], "sliding");
    assert_eq!(claims["refresh_exp"], json!(server.now() + 600));
    assert_eq!(decode_part(&token, 0)["typ"], "sliding+jwt");
    assert_eq!(
        server.get_with("/api/me/", &token).await.status,
        StatusCode::OK
    );
    let sessions = server.get_with("/api/sessions/", &token).await.body;
    assert_eq!(sessions.as_array().unwrap().len(), 1);

    server.advance(Duration::from_secs(200));
    let (status, body) = slide(&server, &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let slid = body["token"].as_str().unwrap().to_owned();
    let after = decode_part(&slid, 1);
    assert_eq!(after["jti"], claims["jti"]);
    assert_eq!(after["refresh_exp"], claims["refresh_exp"]);
    assert_eq!(after["exp"], json!(server.now() + 300));

    server.advance(Duration::from_secs(250));
    let (status, body) = slide(&server, &slid).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let slid = body["token"].as_str().unwrap().to_owned();
    // Past refresh_exp the token still works until its exp, but no longer slides.
    server.advance(Duration::from_secs(200));
    assert_eq!(
        server.get_with("/api/me/", &slid).await.status,
        StatusCode::OK
    );
    assert_eq!(
        slide(&server, &slid).await,
        (
            StatusCode::UNAUTHORIZED,
            refused("Token 'refresh_exp' claim has expired")
        )
    );
    server.advance(Duration::from_secs(150));
    assert_eq!(
        slide(&server, &slid).await,
        (StatusCode::UNAUTHORIZED, refused("Token is expired"))
    );
}

#[tokio::test]
async fn logout_logout_all_and_disabling_end_sliding_tokens() {
    let server = TestServer::start().await;
    server.add_user("ann", "pw").await;

    let token = sliding_login(&server).await;
    let reply = server.post_with("/api/logout/", &token, json!({})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let me = server.get_with("/api/me/", &token).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    assert_eq!(me.body["messages"][0]["message"], "Token is blacklisted");
    assert_eq!(
        slide(&server, &token).await,
        (StatusCode::UNAUTHORIZED, refused("Token is blacklisted"))
    );

    let first = sliding_login(&server).await;
    let second = sliding_login(&server).await;
    let (access, _) = server.login("ann", "pw").await;
    let reply = server
        .post_with("/api/logout-all/", &access, json!({}))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    for token in [&first, &second] {
        assert_eq!(
            slide(&server, token).await.0,
            StatusCode::UNAUTHORIZED,
            "every session ended"
        );
    }

    let token = sliding_login(&server).await;
    server
        .cli()
        .disable_user("ann", &tessera_auth::audit::Acting::cli())
        .await
        .unwrap();
    server.sync().await;
    assert_eq!(
        slide(&server, &token).await,
        (StatusCode::UNAUTHORIZED, refused("Token is blacklisted"))
    );
    let reply = server
        .post(
            "/api/token/sliding/",
            json!({"username": "ann", "password": "pw"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sliding_tokens_authenticate_only_when_their_class_is_on() {
    let server = TestServer::start_with(|settings| {
        settings.auth.token_classes = tessera_auth::TokenClasses {
            access: true,
            sliding: false,
        };
    })
    .await;
    server.add_user("ann", "pw").await;
    let token = sliding_login(&server).await;
    let me = server.get_with("/api/me/", &token).await;
    assert_eq!(
        me.body,
        json!({"detail": "Given token not valid for any token type", "code": "token_not_valid",
               "messages": [{"token_class": "AccessToken", "token_type": "access",
                             "message": "Token has wrong type"}]})
    );
    // Still verifiable and refreshable, as in simplejwt.
    let verify = server
        .post("/api/token/verify/", json!({ "token": token }))
        .await;
    assert_eq!(verify.status, StatusCode::OK);
    assert_eq!(slide(&server, &token).await.0, StatusCode::OK);
}
