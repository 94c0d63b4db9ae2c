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
        c.browser = Some(tessera_server::BrowserMode::new(
            true,
            vec!["https://app.example".into()],
        ));
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

#[tokio::test]
async fn two_authorization_headers_are_refused_everywhere() {
    let server = TestServer::start().await;
    server
        .add_user_with("root", "pw", &["admin"], json!({}))
        .await;
    let (access, _) = server.login("root", "pw").await;
    for path in ["/api/me/", "/api/sessions/", "/api/admin/users/"] {
        for second in [
            "Bearer garbage",
            "Basic cm9vdDpwdw==",
            &format!("Bearer {access}"),
        ] {
            let request = Request::get(path)
                .header(header::AUTHORIZATION, format!("Bearer {access}"))
                .header(header::AUTHORIZATION, second)
                .body(Body::empty())
                .unwrap();
            let reply = server.send(request).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}");
            assert_eq!(
                reply.body,
                json!({"detail": "Request has more than one Authorization header", "code": "bad_authorization_header"}),
                "{path}"
            );
        }
    }
    assert_eq!(
        server.get_with("/api/me/", &access).await.status,
        StatusCode::OK
    );
}

/// Login CSRF: a page on another site posts a form to the login endpoint with the attacker's
/// credentials; the browser would keep the refresh cookie and be signed in as the attacker.
#[tokio::test]
async fn browser_mode_refuses_logins_refreshes_and_logouts_from_other_sites() {
    let server = TestServer::start_with(|c| {
        c.browser = Some(tessera_server::BrowserMode::new(
            true,
            vec!["https://app.example".into()],
        ));
    })
    .await;
    server.add_user("mallory", "pw").await;
    let form_login = |pairs: &[(&str, &str)]| {
        let mut builder = Request::post("/api/token/")
            .header(header::HOST, "auth.example")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        for (name, value) in pairs {
            builder = builder.header(*name, *value);
        }
        builder
            .body(Body::from("username=mallory&password=pw"))
            .unwrap()
    };
    let refused = "CSRF Failed: Origin checking failed - https://evil.example does not match any trusted origins.";
    for from in [
        [("origin", "https://evil.example")].as_slice(),
        &[("referer", "https://evil.example/trap.html")],
        &[
            ("origin", "https://evil.example"),
            ("x-requested-with", "XMLHttpRequest"),
        ],
    ] {
        let reply = server.send(form_login(from)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{from:?}");
        assert_eq!(reply.body, json!({"detail": refused}));
        assert!(reply.headers.get(header::SET_COOKIE).is_none());
    }
    let reply = server.send(form_login(&[("origin", "null")])).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "an opaque origin");
    for allowed in [
        [("origin", "https://app.example")].as_slice(),
        &[("origin", "http://auth.example")],
        &[("referer", "https://auth.example/console/")],
        &[],
    ] {
        let reply = server.send(form_login(allowed)).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{allowed:?}: {:?}",
            reply.body
        );
    }

    let reply = server.send(form_login(&[])).await;
    let access = reply.body["access"].as_str().unwrap().to_owned();
    let cookie = reply.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    for path in ["/api/token/refresh/", "/api/token/blacklist/"] {
        let request = Request::post(path)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::COOKIE, &cookie)
            .header("x-requested-with", "XMLHttpRequest")
            .header(header::ORIGIN, "https://evil.example")
            .body(Body::from("{}"))
            .unwrap();
        assert_eq!(
            server.send(request).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    for path in ["/api/logout/", "/api/logout-all/"] {
        let request = Request::post(path)
            .header(header::AUTHORIZATION, format!("Bearer {access}"))
            .header(header::ORIGIN, "https://evil.example")
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            server.send(request).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    assert_eq!(
        server.get_with("/api/me/", &access).await.status,
        StatusCode::OK,
        "nothing was logged out"
    );
    // Two refresh cookies (one planted by a sibling subdomain, say): neither is picked.
    let request = Request::post("/api/token/refresh/")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::COOKIE, format!("{cookie}; refresh_token=planted"))
        .header("x-requested-with", "XMLHttpRequest")
        .body(Body::from("{}"))
        .unwrap();
    let reply = server.send(request).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.body["detail"],
        "Request has more than one refresh token cookie"
    );
}
