//! Sessions, password change and browser mode.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::json;

use super::{TestServer, decode_part};

#[tokio::test]
async fn sessions_are_listed_and_deleted_by_their_owner_only() {
    let server = TestServer::start().await;
    server.add_user("ann", "pw").await;
    server.add_user("bob", "pw").await;
    let (a1, _) = server.login("ann", "pw").await;
    let login = Request::post("/api/token/")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::USER_AGENT, "tessera-test/1.0")
        .body(Body::from(
            json!({"username": "ann", "password": "pw"}).to_string(),
        ))
        .unwrap();
    let a2 = server.send(login).await.body["access"]
        .as_str()
        .unwrap()
        .to_owned();
    let (b1, _) = server.login("bob", "pw").await;

    let reply = server.get_with("/api/sessions/", &a1).await;
    assert_eq!(reply.status, StatusCode::OK);
    let list = reply.body.as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    let current = decode_part(&a1, 1)["sid"].clone();
    for session in &list {
        let keys: Vec<_> = session.as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            [
                "id",
                "created_at",
                "last_used_at",
                "user_agent",
                "ip",
                "current"
            ]
        );
        assert_eq!(session["current"], session["id"] == current);
        assert!(session["created_at"].as_str().unwrap().ends_with('Z'));
    }
    assert!(list.iter().any(|s| s["user_agent"] == "tessera-test/1.0"));

    let other = decode_part(&a2, 1)["sid"].as_str().unwrap().to_owned();
    let bobs = decode_part(&b1, 1)["sid"].as_str().unwrap().to_owned();
    let delete = |sid: &str, bearer: &str| {
        Request::delete(format!("/api/sessions/{sid}/"))
            .header(header::AUTHORIZATION, format!("Bearer {bearer}"))
            .body(Body::empty())
            .unwrap()
    };
    let reply = server.send(delete(&bobs, &a1)).await;
    assert_eq!(
        (reply.status, reply.body),
        (StatusCode::NOT_FOUND, json!({"detail": "Not found."}))
    );
    assert_eq!(
        server.send(delete("ffff", &a1)).await.status,
        StatusCode::NOT_FOUND
    );
    let reply = server.send(delete(&other, &a1)).await;
    assert_eq!((reply.status, reply.body), (StatusCode::OK, json!({})));
    assert_eq!(
        server.get_with("/api/me/", &a2).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server
            .get_with("/api/sessions/", &a1)
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        server.get_with("/api/me/", &b1).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn password_change_checks_the_old_one_and_keeps_only_this_session() {
    let server = TestServer::start().await;
    server.add_user("ann", "old-pw").await;
    let (mine, _) = server.login("ann", "old-pw").await;
    let (other, _) = server.login("ann", "old-pw").await;
    let reply = server
        .post_with(
            "/api/password/",
            &mine,
            json!({"old_password": "wrong", "new_password": "new-pw"}),
        )
        .await;
    assert_eq!(
        (reply.status, reply.body),
        (
            StatusCode::BAD_REQUEST,
            json!({"old_password": ["Wrong password."]})
        )
    );
    let reply = server
        .post_with("/api/password/", &mine, json!({"old_password": "old-pw"}))
        .await;
    assert_eq!(
        reply.body,
        json!({"new_password": ["This field is required."]})
    );
    let reply = server
        .post_with(
            "/api/password/",
            &mine,
            json!({"old_password": "old-pw", "new_password": "new-pw"}),
        )
        .await;
    assert_eq!((reply.status, reply.body), (StatusCode::OK, json!({})));
    assert_eq!(
        server.get_with("/api/me/", &mine).await.status,
        StatusCode::OK
    );
    assert_eq!(
        server.get_with("/api/me/", &other).await.status,
        StatusCode::UNAUTHORIZED
    );
    let reply = server
        .post(
            "/api/token/",
            json!({"username": "ann", "password": "old-pw"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    server.login("ann", "new-pw").await;
}

#[tokio::test]
async fn browser_mode_keeps_the_refresh_token_in_an_httponly_cookie() {
    let server = TestServer::start_with(|c| {
        c.browser_mode = true;
        c.allowed_origins = vec!["https://app.example".into()];
    })
    .await;
    server.add_user("ann", "pw").await;
    let reply = server
        .post("/api/token/", json!({"username": "ann", "password": "pw"}))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply.body.get("refresh").is_none(),
        "not readable by scripts"
    );
    let cookie = reply.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/api/token/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let pair = cookie.split(';').next().unwrap().to_owned();

    let with_cookie = |extra: Option<(&str, &str)>| {
        let mut builder = Request::post("/api/token/refresh/")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::COOKIE, pair.clone());
        if let Some((name, value)) = extra {
            builder = builder.header(name, value);
        }
        builder.body(Body::from("{}")).unwrap()
    };
    let reply = server.send(with_cookie(None)).await;
    assert_eq!(
        reply.status,
        StatusCode::FORBIDDEN,
        "no CSRF header, no trusted origin"
    );
    let reply = server
        .send(with_cookie(Some(("origin", "https://evil.example"))))
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let reply = server
        .send(with_cookie(Some(("x-requested-with", "XMLHttpRequest"))))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert!(
        reply.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .starts_with("refresh_token=")
    );
    // The cookie's token was rotated: presenting it again is reuse.
    let reply = server
        .send(with_cookie(Some(("origin", "https://app.example"))))
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}
