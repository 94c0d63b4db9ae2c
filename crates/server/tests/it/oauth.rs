//! The OAuth 2.0 surface (RFC 6749 token endpoint, RFC 7662 introspection, RFC 7009 revocation,
//! RFC 8414 metadata) over the same sessions, keys and revocations as the simplejwt API.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine as _;
use serde_json::json;

use super::{TestServer, decode_part};

/// A registered client: its id and secret.
struct Registered {
    id: String,
    secret: String,
}

impl TestServer {
    async fn register(
        &self,
        name: &str,
        scopes: &[&str],
        grants: &[tessera_auth::Grant],
    ) -> Registered {
        let issued = self
            .cli()
            .register_client(
                name,
                scopes.iter().map(|s| (*s).to_owned()).collect(),
                grants.to_vec(),
                &tessera_auth::audit::Acting::cli(),
            )
            .await
            .unwrap();
        Registered {
            id: issued.client.id,
            secret: issued.secret.to_string(),
        }
    }

    /// POSTs `form` to `path`, the client authenticating with HTTP Basic when `basic` is given.
    async fn form(
        &self,
        path: &str,
        basic: Option<&Registered>,
        form: &[(&str, &str)],
    ) -> super::super::Reply {
        let body = serde_urlencoded::to_string(form).unwrap();
        let mut request =
            Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(client) = basic {
            let credentials = base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", client.id, client.secret));
            request = request.header(header::AUTHORIZATION, format!("Basic {credentials}"));
        }
        self.send(request.body(Body::from(body)).unwrap()).await
    }
}

use tessera_auth::Grant::{ClientCredentials, Password, RefreshToken};

#[tokio::test]
async fn metadata_names_absolute_endpoints_from_the_issuer() {
    let server =
        TestServer::start_with(|c| c.auth.issuer = Some("https://auth.example".into())).await;
    server.register("a", &["read", "write"], &[]).await;
    server.register("b", &["admin", "read"], &[]).await;
    let reply = server
        .send(
            Request::get("/.well-known/oauth-authorization-server")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let m = &reply.body;
    assert_eq!(m["issuer"], "https://auth.example");
    assert_eq!(m["token_endpoint"], "https://auth.example/oauth/token");
    assert_eq!(m["jwks_uri"], "https://auth.example/.well-known/jwks.json");
    assert_eq!(
        m["introspection_endpoint"],
        "https://auth.example/oauth/introspect"
    );
    assert_eq!(
        m["revocation_endpoint"],
        "https://auth.example/oauth/revoke"
    );
    assert_eq!(m["scopes_supported"], json!(["admin", "read", "write"]));
    assert_eq!(
        m["grant_types_supported"],
        json!(["client_credentials", "password", "refresh_token"])
    );
    assert_eq!(
        m["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post"])
    );
    assert!(m["response_types_supported"].is_array());
}

#[tokio::test]
async fn client_credentials_by_basic_or_post_give_rfc_9068_tokens() {
    let server = TestServer::start().await;
    let cron = server
        .register("cron", &["read", "write"], &[ClientCredentials])
        .await;
    let basic = server
        .form(
            "/oauth/token",
            Some(&cron),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(basic.status, StatusCode::OK, "{:?}", basic.body);
    assert_eq!(basic.headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(basic.body["token_type"], "Bearer");
    assert_eq!(basic.body["expires_in"], 300);
    assert_eq!(basic.body["scope"], "read write");
    assert!(basic.body.get("refresh_token").is_none());
    let token = basic.body["access_token"].as_str().unwrap();
    assert_eq!(decode_part(token, 0)["typ"], "at+jwt");
    let claims = decode_part(token, 1);
    for name in [
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "jti",
        "client_id",
        "scope",
    ] {
        assert!(claims.get(name).is_some(), "{name} in {claims}");
    }
    assert_eq!(claims["sub"], cron.id.as_str());
    assert_eq!(claims["client_id"], cron.id.as_str());
    assert_eq!(claims["aud"], claims["iss"]);
    // A client is not a user, but its token is a valid token of ours.
    assert_eq!(
        server.get_with("/api/me/", token).await.status,
        StatusCode::UNAUTHORIZED
    );
    let verified = server
        .post("/api/token/verify/", json!({"token": token}))
        .await;
    assert_eq!(verified.status, StatusCode::OK);

    let posted = server
        .form(
            "/oauth/token",
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &cron.id),
                ("client_secret", &cron.secret),
                ("scope", "read"),
            ],
        )
        .await;
    assert_eq!(posted.status, StatusCode::OK, "{:?}", posted.body);
    assert_eq!(posted.body["scope"], "read");
}

#[tokio::test]
async fn bad_requests_get_rfc_6749_errors() {
    let server = TestServer::start().await;
    let cron = server
        .register("cron", &["read"], &[ClientCredentials])
        .await;
    let wrong = Registered {
        id: cron.id.clone(),
        secret: "wrong".into(),
    };
    let reply = server
        .form(
            "/oauth/token",
            Some(&wrong),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.body["error"], "invalid_client");
    assert_eq!(
        reply.headers[header::WWW_AUTHENTICATE],
        "Basic realm=\"tessera\""
    );
    let reply = server
        .form(
            "/oauth/token",
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &cron.id),
                ("client_secret", "x"),
            ],
        )
        .await;
    assert_eq!(
        (reply.status, &reply.body["error"]),
        (StatusCode::UNAUTHORIZED, &json!("invalid_client"))
    );
    assert!(reply.headers.get(header::WWW_AUTHENTICATE).is_none());
    let reply = server
        .form(
            "/oauth/token",
            None,
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(reply.body["error"], "invalid_client");
    for (form, code) in [
        (vec![("grant_type", "implicit")], "unsupported_grant_type"),
        (vec![], "invalid_request"),
        (
            vec![("grant_type", "client_credentials"), ("scope", "admin")],
            "invalid_scope",
        ),
        (
            vec![
                ("grant_type", "password"),
                ("username", "a"),
                ("password", "b"),
            ],
            "unauthorized_client",
        ),
        (
            vec![("grant_type", "refresh_token"), ("refresh_token", "x")],
            "unauthorized_client",
        ),
    ] {
        let reply = server.form("/oauth/token", Some(&cron), &form).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{form:?}: {:?}",
            reply.body
        );
        assert_eq!(reply.body["error"], code, "{form:?}");
        assert!(reply.body["error_description"].is_string());
    }
    // A repeated parameter, and a JSON body.
    let reply = server
        .send(
            Request::post("/oauth/token")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(
                    "grant_type=client_credentials&grant_type=password",
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(
        (reply.status, &reply.body["error"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_request"))
    );
    let reply = server
        .send(
            Request::post("/oauth/token")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(r#"{"grant_type":"client_credentials"}"#))
                .unwrap(),
        )
        .await;
    assert_eq!(
        (reply.status, &reply.body["error"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_request"))
    );
}

#[tokio::test]
async fn failed_client_authentication_is_throttled() {
    let server = TestServer::start().await;
    let cron = server.register("cron", &[], &[]).await;
    let wrong = Registered {
        id: cron.id.clone(),
        secret: "wrong".into(),
    };
    for _ in 0..5 {
        let reply = server
            .form(
                "/oauth/token",
                Some(&wrong),
                &[("grant_type", "client_credentials")],
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    let reply = server
        .form(
            "/oauth/token",
            Some(&cron),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(reply.headers.contains_key(header::RETRY_AFTER));
    assert_eq!(reply.body["error"], "temporarily_unavailable");
}

#[tokio::test]
async fn password_and_refresh_grants_share_sessions_with_the_simplejwt_api() {
    let server = TestServer::start().await;
    server.add_user("ann", "pw").await;
    let app = server
        .register("app", &["read"], &[Password, RefreshToken])
        .await;
    let other = server
        .register("other", &[], &[Password, RefreshToken])
        .await;
    let reply = server
        .form(
            "/oauth/token",
            Some(&app),
            &[
                ("grant_type", "password"),
                ("username", "ann"),
                ("password", "pw"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let access = reply.body["access_token"].as_str().unwrap().to_owned();
    let refresh = reply.body["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(
        server.get_with("/api/me/", &access).await.body["username"],
        "ann"
    );
    let sessions = server.get_with("/api/sessions/", &access).await;
    assert_eq!(sessions.body.as_array().unwrap().len(), 1);
    let reply = server
        .form(
            "/oauth/token",
            Some(&app),
            &[
                ("grant_type", "password"),
                ("username", "ann"),
                ("password", "nope"),
            ],
        )
        .await;
    assert_eq!(
        (reply.status, &reply.body["error"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_grant"))
    );

    // Another client's refresh: refused, and the owner's token not spent.
    let reply = server
        .form(
            "/oauth/token",
            Some(&other),
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!(reply.body["error"], "invalid_grant");
    let rotated = server
        .form(
            "/oauth/token",
            Some(&app),
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{:?}", rotated.body);
    let newer = rotated.body["access_token"].as_str().unwrap().to_owned();
    // Reuse of the spent token revokes the session everywhere.
    let reply = server
        .form(
            "/oauth/token",
            Some(&app),
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!(reply.body["error"], "invalid_grant");
    assert_eq!(
        server.get_with("/api/me/", &newer).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn introspection_and_revocation_follow_every_revocation() {
    let server = TestServer::start().await;
    server.add_user("ann", "pw").await;
    let gateway = server
        .register("gateway", &["read"], &[ClientCredentials])
        .await;
    let app = server
        .register("app", &["read"], &[Password, RefreshToken])
        .await;
    let introspect = |token: String| {
        let server = &server;
        let gateway = &gateway;
        async move {
            server
                .form("/oauth/introspect", Some(gateway), &[("token", &token)])
                .await
                .body
        }
    };
    // A simplejwt-flow token: active until logout.
    let (access, refresh) = server.login("ann", "pw").await;
    let facts = introspect(access.clone()).await;
    assert_eq!(facts["active"], true);
    assert_eq!(facts["username"], "ann");
    assert_eq!(facts["token_type"], "Bearer");
    assert_eq!(
        introspect(refresh.clone()).await["token_type"],
        "refresh_token"
    );
    // The app may not revoke a token it was not issued.
    let reply = server
        .form("/oauth/revoke", Some(&app), &[("token", &access)])
        .await;
    assert_eq!(
        (reply.status, &reply.body["error"]),
        (StatusCode::BAD_REQUEST, &json!("unauthorized_client"))
    );
    assert_eq!(introspect(access.clone()).await["active"], true);
    server.post_with("/api/logout/", &access, json!({})).await;
    assert_eq!(introspect(access.clone()).await, json!({"active": false}));
    assert_eq!(introspect(refresh).await, json!({"active": false}));
    for junk in ["garbage", "a.b.c", ""] {
        let reply = server
            .form("/oauth/introspect", Some(&gateway), &[("token", junk)])
            .await;
        if junk.is_empty() {
            assert_eq!(reply.body["error"], "invalid_request");
        } else {
            assert_eq!(reply.body, json!({"active": false}));
        }
    }
    // An OAuth user token, revoked by its client: the session ends.
    let tokens = server
        .form(
            "/oauth/token",
            Some(&app),
            &[
                ("grant_type", "password"),
                ("username", "ann"),
                ("password", "pw"),
            ],
        )
        .await
        .body;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let facts = introspect(access.clone()).await;
    assert_eq!(facts["client_id"], app.id.as_str());
    assert_eq!(facts["scope"], "read");
    let reply = server
        .form(
            "/oauth/revoke",
            Some(&app),
            &[
                ("token", tokens["refresh_token"].as_str().unwrap()),
                ("token_type_hint", "refresh_token"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(introspect(access.clone()).await["active"], false);
    assert_eq!(
        server.get_with("/api/me/", &access).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Unknown and already revoked tokens: 200 alike.
    for token in ["garbage", access.as_str()] {
        let reply = server
            .form("/oauth/revoke", Some(&app), &[("token", token)])
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{token}");
    }
    // Without client authentication: 401.
    let reply = server.form("/oauth/revoke", None, &[("token", "x")]).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_admin_api_manages_clients_and_deletion_ends_their_tokens() {
    let server = TestServer::start().await;
    server
        .add_user_with("root", "pw", &["admin"], json!({}))
        .await;
    let (admin, _) = server.login("root", "pw").await;
    let created = server
        .post_with(
            "/api/admin/clients/",
            &admin,
            json!({"name": "cron", "scopes": ["read"]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let cron = Registered {
        id: created.body["client_id"].as_str().unwrap().into(),
        secret: created.body["client_secret"].as_str().unwrap().into(),
    };
    assert_eq!(created.body["grants"], json!(["client_credentials"]));
    let bad = server
        .post_with(
            "/api/admin/clients/",
            &admin,
            json!({"name": "x", "grants": ["implicit"]}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let listed = server.get_with("/api/admin/clients/", &admin).await;
    assert_eq!(listed.body[0]["client_id"], cron.id.as_str());
    assert!(listed.body[0].get("client_secret").is_none());
    let token = server
        .form(
            "/oauth/token",
            Some(&cron),
            &[("grant_type", "client_credentials")],
        )
        .await
        .body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let rotated = server
        .post_with(
            &format!("/api/admin/clients/{}/rotate-secret/", cron.id),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK);
    let reply = server
        .form(
            "/oauth/token",
            Some(&cron),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "the old secret is gone"
    );
    let gateway = server.register("gateway", &[], &[]).await;
    let active = || {
        let (server, gateway, token) = (&server, &gateway, token.clone());
        async move {
            server
                .form("/oauth/introspect", Some(gateway), &[("token", &token)])
                .await
                .body["active"]
                .clone()
        }
    };
    assert_eq!(active().await, true, "issued tokens survive a new secret");
    let deleted = server
        .send(
            Request::delete(format!("/api/admin/clients/{}/", cron.id))
                .header(header::AUTHORIZATION, format!("Bearer {admin}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(active().await, false);
}

#[tokio::test]
async fn require_scope_guards_by_the_token_alone() {
    use axum::Router;
    use axum::routing::get;
    use tessera_server::oauth::{RequireScope, ScopeRequirement};
    use tower::ServiceExt as _;

    struct Reports;
    impl ScopeRequirement for Reports {
        const ANY_OF: &'static [&'static str] = &["reports"];
    }
    let server = TestServer::start().await;
    server.add_user("ann", "pw").await;
    let reporter = server.register("reporter", &["reports", "read"], &[]).await;
    let reader = server.register("reader", &["read"], &[]).await;
    let app = Router::new()
        .route(
            "/reports",
            get(
                |RequireScope(bearer, ..): RequireScope<Reports>| async move {
                    bearer.scopes().join(" ")
                },
            ),
        )
        .with_state(server.state.clone());
    let call = |token: String| {
        let app = app.clone();
        async move {
            app.oneshot(
                Request::get("/reports")
                    .header(header::AUTHORIZATION, format!("Bearer {token}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap()
            .status()
        }
    };
    let token_of = |client: &Registered| {
        let client = Registered {
            id: client.id.clone(),
            secret: client.secret.clone(),
        };
        let server = &server;
        async move {
            server
                .form(
                    "/oauth/token",
                    Some(&client),
                    &[("grant_type", "client_credentials")],
                )
                .await
                .body["access_token"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    assert_eq!(call(token_of(&reporter).await).await, StatusCode::OK);
    assert_eq!(call(token_of(&reader).await).await, StatusCode::FORBIDDEN);
    let (user_token, _) = server.login("ann", "pw").await;
    assert_eq!(
        call(user_token).await,
        StatusCode::FORBIDDEN,
        "no scope granted"
    );
    assert_eq!(call("garbage".into()).await, StatusCode::UNAUTHORIZED);
}
