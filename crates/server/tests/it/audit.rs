//! The audit log: each flow leaves the event it should, with who acted, about whom, from where;
//! `/api/admin/audit/` filters and pages them for admins only; nothing secret is ever in them.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::{TestServer, decode_part, json_request};

const ANN_PASSWORD: &str = "ann-secret-pass-1";
const ANN_NEW_PASSWORD: &str = "ann-secret-pass-2";
const ROOT_PASSWORD: &str = "root-secret-pass";
const BOB_PASSWORD: &str = "bob-secret-pass";

async fn audit(server: &TestServer, admin: &str, query: &str) -> (StatusCode, Value) {
    let reply = server
        .get_with(&format!("/api/admin/audit/{query}"), admin)
        .await;
    (reply.status, reply.body)
}

async fn call(server: &TestServer, method: Method, path: &str, bearer: &str, body: Value) -> Value {
    let reply = server
        .send(json_request(method, path, &body, Some(bearer)))
        .await;
    assert!(
        reply.status.is_success(),
        "{path}: {} {}",
        reply.status,
        reply.body
    );
    reply.body
}

/// The events of `kind`, newest first.
fn of_kind<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == kind).collect()
}

#[tokio::test]
async fn every_flow_leaves_its_event_and_nothing_secret() {
    let server = TestServer::start().await;
    server
        .add_user_with("root", ROOT_PASSWORD, &["admin"], json!({}))
        .await;
    server.add_user("ann", ANN_PASSWORD).await;

    // Logins: success, a wrong password, an unknown user, and throttling.
    let (access, refresh) = server.login("ann", ANN_PASSWORD).await;
    let sid = decode_part(&access, 1)["sid"].as_str().unwrap().to_owned();
    let wrong = json!({"username": "ann", "password": "not-it"});
    assert_eq!(
        server.post("/api/token/", wrong.clone()).await.status,
        StatusCode::UNAUTHORIZED
    );
    let nobody = json!({"username": "nobody", "password": "x"});
    assert_eq!(
        server.post("/api/token/", nobody).await.status,
        StatusCode::UNAUTHORIZED
    );
    for _ in 0..4 {
        server.post("/api/token/", wrong.clone()).await;
    }
    assert_eq!(
        server.post("/api/token/", wrong.clone()).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );

    // A refresh, then the spent token again: reuse.
    let reply = server
        .post("/api/token/refresh/", json!({ "refresh": refresh }))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let reused = server
        .post("/api/token/refresh/", json!({ "refresh": refresh }))
        .await;
    assert_eq!(reused.status, StatusCode::UNAUTHORIZED);

    // Logout, logout-all, a password change, once the throttling window has passed.
    server.advance(std::time::Duration::from_secs(900));
    let (root, _) = server.login("root", ROOT_PASSWORD).await;
    let (access, _) = server.login("ann", ANN_PASSWORD).await;
    call(&server, Method::POST, "/api/logout/", &access, json!({})).await;
    let (access, _) = server.login("ann", ANN_PASSWORD).await;
    call(
        &server,
        Method::POST,
        "/api/logout-all/",
        &access,
        json!({}),
    )
    .await;
    let (access, _) = server.login("ann", ANN_PASSWORD).await;
    let change = json!({"old_password": ANN_PASSWORD, "new_password": ANN_NEW_PASSWORD});
    call(&server, Method::POST, "/api/password/", &access, change).await;

    // An administrator's changes to a user and a client, and a key rotation at the CLI.
    let bob = json!({"username": "bob", "password": BOB_PASSWORD, "roles": ["staff"]});
    let bob = call(&server, Method::POST, "/api/admin/users/", &root, bob).await;
    let bob_path = format!("/api/admin/users/{}/", bob["id"]);
    let patch = json!({"roles": ["staff", "ops"], "claims": {"email": "bob@example.com"}});
    call(&server, Method::PATCH, &bob_path, &root, patch).await;
    call(
        &server,
        Method::PATCH,
        &bob_path,
        &root,
        json!({"is_active": false}),
    )
    .await;
    call(
        &server,
        Method::PATCH,
        &bob_path,
        &root,
        json!({"is_active": true}),
    )
    .await;
    let reply = server
        .send(json_request(
            Method::DELETE,
            &bob_path,
            &json!({}),
            Some(&root),
        ))
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let client = json!({"name": "reporting", "scopes": ["read"]});
    let client = call(&server, Method::POST, "/api/admin/clients/", &root, client).await;
    let client_path = format!(
        "/api/admin/clients/{}/",
        client["client_id"].as_str().unwrap()
    );
    let rotated = call(
        &server,
        Method::POST,
        &format!("{client_path}rotate-secret/"),
        &root,
        json!({}),
    )
    .await;
    let reply = server
        .send(json_request(
            Method::DELETE,
            &client_path,
            &json!({}),
            Some(&root),
        ))
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let key = server
        .cli()
        .rotate_key(&tessera_auth::audit::Acting::cli())
        .await
        .unwrap();

    let (status, page) = audit(&server, &root, "?limit=1000").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let events = page["results"].as_array().unwrap().clone();
    assert_eq!(page["count"], json!(events.len()));
    let keys: Vec<&String> = events[0].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "id",
            "time",
            "event",
            "actor",
            "subject",
            "session",
            "ip",
            "user_agent",
            "detail"
        ]
    );
    let ids: Vec<i64> = events.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");

    let ann_success = of_kind(&events, "login.success");
    let first_login = ann_success
        .iter()
        .find(|e| e["session"] == sid.as_str())
        .unwrap_or_else(|| panic!("{events:#?}"));
    assert_eq!(first_login["actor"]["type"], "user");
    assert_eq!(first_login["subject"]["username"], "ann");
    assert_eq!(first_login["detail"]["method"], "password");
    assert!(first_login["time"].as_str().unwrap().ends_with('Z'));

    let failures = of_kind(&events, "login.failure");
    assert_eq!(
        failures.len(),
        6,
        "five wrong passwords, one unknown user: {failures:#?}"
    );
    assert!(failures.iter().any(|e| e["subject"].is_null()
        && e["detail"]["username"] == "nobody"
        && e["detail"]["reason"] == "unknown_user"));
    assert!(
        failures
            .iter()
            .any(|e| e["subject"]["username"] == "ann" && e["detail"]["reason"] == "password")
    );
    assert_eq!(of_kind(&events, "login.throttled").len(), 1);

    let refreshes = of_kind(&events, "token.refresh");
    assert_eq!(refreshes.len(), 1);
    assert_eq!(refreshes[0]["session"], sid.as_str());
    let reuse = of_kind(&events, "token.reuse_detected");
    assert_eq!(reuse.len(), 1);
    assert_eq!(
        (
            reuse[0]["actor"]["type"].as_str(),
            reuse[0]["session"].as_str()
        ),
        (Some("system"), Some(sid.as_str()))
    );

    let revoked = of_kind(&events, "session.revoked");
    assert!(
        revoked
            .iter()
            .any(|e| e["detail"]["reason"] == "logout" && e["subject"]["username"] == "ann")
    );
    let logout_all = of_kind(&events, "user.logout_all");
    let reasons: Vec<&str> = logout_all
        .iter()
        .map(|e| e["detail"]["reason"].as_str().unwrap())
        .collect();
    for reason in ["logout_all", "password", "admin"] {
        assert!(reasons.contains(&reason), "{reasons:?}");
    }
    assert_eq!(
        of_kind(&events, "user.password_changed")[0]["subject"]["username"],
        "ann"
    );

    let root_id = decode_part(&root, 1)["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let created = of_kind(&events, "user.created");
    let bob_created = created
        .iter()
        .find(|e| e["subject"]["username"] == "bob")
        .unwrap();
    assert_eq!(bob_created["actor"], json!({"type": "user", "id": root_id}));
    assert_eq!(bob_created["detail"]["roles"], json!(["staff"]));
    let updated = of_kind(&events, "user.updated");
    assert_eq!(
        updated[0]["detail"]["claims"],
        json!(["email"]),
        "claim names, not values"
    );
    assert_eq!(of_kind(&events, "user.disabled").len(), 1);
    assert_eq!(of_kind(&events, "user.enabled").len(), 1);
    // A deleted user's rows keep the username.
    let deleted = of_kind(&events, "user.deleted");
    assert_eq!(deleted[0]["subject"]["username"], "bob");
    let key_event = of_kind(&events, "key.rotated");
    assert!(
        key_event
            .iter()
            .any(|e| e["actor"]["type"] == "cli" && e["detail"]["kid"] == key.kid.as_str())
    );
    for kind in ["client.created", "client.secret_rotated", "client.deleted"] {
        let event = of_kind(&events, kind);
        assert_eq!(event.len(), 1, "{kind}");
        assert_eq!(event[0]["detail"]["name"], "reporting");
    }

    // Nothing secret anywhere in the log.
    let text = serde_json::to_string(&events).unwrap();
    let mut secrets = vec![
        ANN_PASSWORD.to_owned(),
        ANN_NEW_PASSWORD.to_owned(),
        ROOT_PASSWORD.to_owned(),
        BOB_PASSWORD.to_owned(),
        "not-it".to_owned(),
        refresh.clone(),
        access.clone(),
        root.clone(),
    ];
    secrets.push(client["client_secret"].as_str().unwrap().to_owned());
    secrets.push(rotated["client_secret"].as_str().unwrap().to_owned());
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "a secret in the audit log");
    }
}

#[tokio::test]
async fn the_audit_api_filters_pages_and_is_for_admins() {
    let server = TestServer::start().await;
    server
        .add_user_with("root", ROOT_PASSWORD, &["admin"], json!({}))
        .await;
    server.add_user("ann", ANN_PASSWORD).await;
    let (root, _) = server.login("root", ROOT_PASSWORD).await;
    let (ann, _) = server.login("ann", ANN_PASSWORD).await;
    let ann_id = decode_part(&ann, 1)["user_id"].as_str().unwrap().to_owned();
    server
        .post("/api/token/", json!({"username": "ann", "password": "no"}))
        .await;

    let count = |query: &'static str| {
        let server = &server;
        let root = root.clone();
        async move {
            let (status, body) = audit(server, &root, query).await;
            assert_eq!(status, StatusCode::OK, "{query}: {body}");
            body["count"].as_u64().unwrap()
        }
    };
    assert_eq!(count("?event=login.failure").await, 1);
    assert_eq!(count("?event=login.success").await, 2);
    assert_eq!(count("?user=ann&event=login.success").await, 1);
    let by_id = format!("?user={ann_id}&event=login.success");
    let (_, body) = audit(&server, &root, &by_id).await;
    assert_eq!(body["count"], 1);
    assert_eq!(count("?since=2999-01-01T00:00:00Z").await, 0);
    assert_eq!(
        count("?since=2000-01-01T00:00:00%2B02:00").await,
        count("").await
    );

    let (_, page) = audit(&server, &root, "?limit=1&offset=1").await;
    assert_eq!(page["results"].as_array().unwrap().len(), 1);
    let (_, all) = audit(&server, &root, "").await;
    assert_eq!(page["results"][0], all["results"][1]);

    let (status, body) = audit(&server, &root, "?event=login").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["event"][0].as_str().unwrap().contains("login"),
        "{body}"
    );
    let (status, body) = audit(&server, &root, "?since=yesterday").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["since"].is_array(), "{body}");

    let (status, body) = audit(&server, &ann, "").await;
    assert_eq!(
        (status, body),
        (
            StatusCode::FORBIDDEN,
            json!({"detail": "You do not have permission to perform this action."})
        )
    );
}

#[tokio::test]
async fn flush_expired_keeps_audit_events_for_the_retention() {
    let server = TestServer::start_with(|settings| {
        settings.auth.audit_retention = 3_600;
    })
    .await;
    server.add_user("ann", ANN_PASSWORD).await;
    server.login("ann", ANN_PASSWORD).await;
    let cli = server.cli();
    let filter = tessera_auth::audit::AuditFilter::default();
    let (before, _) = cli.audit_events(&filter, true, 10, 0).await.unwrap();
    assert!(before >= 2, "user.created and login.success");
    server.advance(std::time::Duration::from_secs(1_800));
    assert_eq!(cli.flush_expired().await.unwrap().audit_events, 0);
    server.advance(std::time::Duration::from_secs(1_801));
    assert_eq!(cli.flush_expired().await.unwrap().audit_events, before);
    assert_eq!(cli.audit_events(&filter, true, 10, 0).await.unwrap().0, 0);
}
