//! Roles, custom claims, authorization and the admin API.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};

use super::{TestServer, json_request};

impl TestServer {
    async fn admin_call(
        &self,
        method: Method,
        path: &str,
        bearer: &str,
        body: Option<Value>,
    ) -> crate::Reply {
        let request = match body {
            Some(body) => json_request(method, path, &body, Some(bearer)),
            None => Request::builder()
                .method(method)
                .uri(path)
                .header(header::AUTHORIZATION, format!("Bearer {bearer}"))
                .body(Body::empty())
                .unwrap(),
        };
        self.send(request).await
    }

    /// A server with an admin "root" and a plain user "ann"; returns (server, root's access token).
    async fn with_admin() -> (TestServer, String) {
        let server = TestServer::start().await;
        server
            .add_user_with("root", "pw", &["admin"], json!({}))
            .await;
        server
            .add_user_with(
                "ann",
                "pw",
                &["joker"],
                json!({"name": "Joker", "email": "j@example.com"}),
            )
            .await;
        let (root, _) = server.login("root", "pw").await;
        (server, root)
    }
}

/// Decodes an access token with an independent library (`jsonwebtoken`) using the published JWKS.
async fn decode_independently(server: &TestServer, token: &str) -> Value {
    let jwks = server
        .send(
            Request::get("/.well-known/jwks.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .body;
    let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks).unwrap();
    let kid = jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
    let jwk = jwks.find(&kid).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .unwrap()
        .claims
}

#[tokio::test]
async fn access_tokens_carry_roles_and_claims_refresh_tokens_do_not() {
    let (server, _) = TestServer::with_admin().await;
    let (access, refresh) = server.login("ann", "pw").await;
    let claims = decode_independently(&server, &access).await;
    assert_eq!(claims["roles"], json!(["joker"]));
    assert_eq!(
        claims["role"], "joker",
        "one role: the classic `role` claim too"
    );
    assert_eq!(claims["name"], "Joker");
    assert_eq!(claims["email"], "j@example.com");
    assert_eq!(claims["user_id"], "2");
    let refresh_claims = crate::decode_part(&refresh, 1);
    assert!(refresh_claims.get("roles").is_none() && refresh_claims.get("name").is_none());
    let me = server.get_with("/api/me/", &access).await;
    assert_eq!(
        me.body,
        json!({"id": 2, "username": "ann", "roles": ["joker"], "claims": {"name": "Joker", "email": "j@example.com"}})
    );
}

#[tokio::test]
async fn the_claim_list_can_be_narrowed() {
    let server =
        TestServer::start_with(|c| c.auth.access_token_claims = Some(vec!["name".into()])).await;
    server
        .add_user_with(
            "ann",
            "pw",
            &["a", "b"],
            json!({"name": "Joker", "email": "j@example.com"}),
        )
        .await;
    let (access, _) = server.login("ann", "pw").await;
    let claims = decode_independently(&server, &access).await;
    assert_eq!(claims["roles"], json!(["a", "b"]));
    assert!(claims.get("role").is_none(), "two roles: no single `role`");
    assert_eq!(claims["name"], "Joker");
    assert!(claims.get("email").is_none());
}

#[tokio::test]
async fn admin_routes_answer_403_without_the_role_and_401_without_a_token() {
    let (server, _) = TestServer::with_admin().await;
    let (ann, _) = server.login("ann", "pw").await;
    let reply = server
        .admin_call(Method::GET, "/api/admin/users/", &ann, None)
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(
        reply.body,
        json!({"detail": "You do not have permission to perform this action."})
    );
    let reply = server
        .send(
            Request::get("/api/admin/users/")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.body,
        json!({"detail": "Authentication credentials were not provided."})
    );
    let reply = server
        .admin_call(Method::GET, "/api/admin/users/", "garbage", None)
        .await;
    assert_eq!(reply.body["messages"][0]["message"], "Token is invalid");
}

#[tokio::test]
async fn admin_lists_creates_shows_updates_and_deletes_users() {
    let (server, root) = TestServer::with_admin().await;
    for name in ["c", "d", "e"] {
        server.add_user(name, "pw").await;
    }
    let page = server
        .admin_call(
            Method::GET,
            "/api/admin/users/?limit=2&offset=1",
            &root,
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.body["count"], 5);
    let names: Vec<_> = page.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].clone())
        .collect();
    assert_eq!(names, [json!("ann"), json!("c")]);
    let keys: Vec<_> = page.body["results"][0]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "username",
            "is_active",
            "roles",
            "claims",
            "created_at",
            "last_login"
        ]
    );
    let everything = server
        .admin_call(Method::GET, "/api/admin/users/?limit=x", &root, None)
        .await;
    assert_eq!(
        everything.body["results"].as_array().unwrap().len(),
        5,
        "unreadable limit: the default"
    );

    let created = server
        .admin_call(
            Method::POST,
            "/api/admin/users/",
            &root,
            Some(json!({"username": "joker", "password": "pw2", "roles": ["joker"], "claims": {"name": "Joker"}})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["id"], 6);
    assert_eq!(created.body["roles"], json!(["joker"]));
    let (joker, _) = server.login("joker", "pw2").await;

    let shown = server
        .admin_call(Method::GET, "/api/admin/users/6/", &root, None)
        .await;
    assert_eq!(shown.body["claims"], json!({"name": "Joker"}));
    let patched = server
        .admin_call(
            Method::PATCH,
            "/api/admin/users/6/",
            &root,
            Some(json!({"roles": ["staff", "joker"]})),
        )
        .await;
    assert_eq!(patched.body["roles"], json!(["staff", "joker"]));
    assert_eq!(
        patched.body["claims"],
        json!({"name": "Joker"}),
        "claims untouched by a roles-only patch"
    );

    let sessions = server
        .admin_call(Method::GET, "/api/admin/users/6/sessions/", &root, None)
        .await;
    assert_eq!(sessions.body.as_array().unwrap().len(), 1);
    let reply = server
        .admin_call(
            Method::POST,
            "/api/admin/users/6/logout-all/",
            &root,
            Some(json!({})),
        )
        .await;
    assert_eq!((reply.status, reply.body), (StatusCode::OK, json!({})));
    assert_eq!(
        server.get_with("/api/me/", &joker).await.status,
        StatusCode::UNAUTHORIZED
    );

    let (joker, _) = server.login("joker", "pw2").await;
    let disabled = server
        .admin_call(
            Method::PATCH,
            "/api/admin/users/6/",
            &root,
            Some(json!({"is_active": false})),
        )
        .await;
    assert_eq!(disabled.body["is_active"], false);
    let reply = server.get_with("/api/me/", &joker).await;
    assert_eq!(
        reply.body["code"], "user_inactive",
        "disabling takes effect at once"
    );

    let reply = server
        .admin_call(Method::DELETE, "/api/admin/users/6/", &root, None)
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    for path in [
        "/api/admin/users/6/",
        "/api/admin/users/abc/",
        "/api/admin/users/999/sessions/",
    ] {
        let reply = server.admin_call(Method::GET, path, &root, None).await;
        assert_eq!(
            (reply.status, reply.body),
            (StatusCode::NOT_FOUND, json!({"detail": "Not found."})),
            "{path}"
        );
    }
    let reply = server
        .admin_call(Method::DELETE, "/api/admin/users/6/", &root, None)
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn admin_field_errors_have_drfs_shape() {
    let (server, root) = TestServer::with_admin().await;
    let cases = [
        (
            json!({}),
            json!({"username": ["This field is required."], "password": ["This field is required."]}),
        ),
        (
            json!({"username": "ann", "password": "x"}),
            json!({"username": ["A user with that username already exists."]}),
        ),
        (
            json!({"username": "n", "password": "x", "roles": "admin"}),
            json!({"roles": ["Expected a list of items but got type \"str\"."]}),
        ),
        (
            json!({"username": "n", "password": "x", "claims": []}),
            json!({"claims": ["Expected a dictionary of items but got type \"list\"."]}),
        ),
        (
            json!({"username": "n", "password": "x", "claims": {"exp": 1}}),
            json!({"claims": ["Claim \"exp\" is reserved and cannot be set."]}),
        ),
        (
            json!({"username": "n", "password": "x", "claims": {"user_id": "1"}}),
            json!({"claims": ["Claim \"user_id\" is reserved and cannot be set."]}),
        ),
        (
            json!({"username": "n", "password": "x", "is_active": "maybe"}),
            json!({"is_active": ["Must be a valid boolean."]}),
        ),
    ];
    for (body, expected) in cases {
        let reply = server
            .admin_call(Method::POST, "/api/admin/users/", &root, Some(body.clone()))
            .await;
        assert_eq!(
            (reply.status, &reply.body),
            (StatusCode::BAD_REQUEST, &expected),
            "{body}"
        );
    }
    let huge = json!({"username": "n", "password": "x", "claims": {"bio": "x".repeat(7_000)}});
    let reply = server
        .admin_call(Method::POST, "/api/admin/users/", &root, Some(huge))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.body["claims"][0].as_str().unwrap().contains("limit"),
        "{:?}",
        reply.body
    );
    let reply = server
        .admin_call(
            Method::PATCH,
            "/api/admin/users/2/",
            &root,
            Some(json!({"claims": {"sid": "x"}})),
        )
        .await;
    assert_eq!(
        reply.body,
        json!({"claims": ["Claim \"sid\" is reserved and cannot be set."]})
    );
}

#[tokio::test]
async fn role_changes_reach_the_next_access_token_or_at_once_with_revocation() {
    let (server, root) = TestServer::with_admin().await;
    let (_, refresh) = server.login("ann", "pw").await;
    server
        .admin_call(
            Method::PATCH,
            "/api/admin/users/2/",
            &root,
            Some(json!({"roles": ["admin"]})),
        )
        .await;
    let reply = server
        .post("/api/token/refresh/", json!({"refresh": refresh}))
        .await;
    let access = reply.body["access"].as_str().unwrap().to_owned();
    assert_eq!(
        decode_independently(&server, &access).await["roles"],
        json!(["admin"])
    );
    assert_eq!(
        server
            .admin_call(Method::GET, "/api/admin/users/", &access, None)
            .await
            .status,
        StatusCode::OK
    );

    // With revoke_sessions the old tokens stop at once.
    let reply = server
        .admin_call(
            Method::PATCH,
            "/api/admin/users/2/",
            &root,
            Some(json!({"roles": [], "revoke_sessions": true})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        server.get_with("/api/me/", &access).await.status,
        StatusCode::UNAUTHORIZED
    );
}
