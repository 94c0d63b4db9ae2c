//! The axum extractors and the tower layer answer as Tessera does.

use axum::body::Body;
use axum::extract::FromRef;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use axum::{Json, Router};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tessera_guard::{
    Admin, Authenticated, Bearer, Claims, Guard, GuardLayer, RequireRole, RequireScope,
    ScopeRequirement,
};
use tower::ServiceExt as _;

use crate::{access_token, guard_of, one_key_issuer};

#[derive(Clone, FromRef)]
struct AppState {
    guard: Guard,
}

struct ReadOrders;
impl ScopeRequirement for ReadOrders {
    const ALL_OF: &'static [&'static str] = &["orders:read"];
}

#[derive(serde::Deserialize)]
struct Tenant {
    tenant: String,
}

fn app(guard: Guard) -> Router {
    Router::new()
        .route(
            "/whoami",
            get(|Authenticated(t): Authenticated| async move { Json(json!({ "user_id": t.user_id })) }),
        )
        .route(
            "/admin",
            get(|_: RequireRole<Admin>| async { "admin" }),
        )
        .route(
            "/orders",
            get(|_: RequireScope<ReadOrders>| async { "orders" }),
        )
        .route(
            "/tenant",
            get(|Claims(t, _): Claims<Tenant>| async move { t.tenant }),
        )
        .with_state(AppState { guard })
}

async fn call(app: &Router, path: &str, authorization: &[&str]) -> (StatusCode, Value, bool) {
    let mut request = Request::get(path);
    for value in authorization {
        request = request.header(header::AUTHORIZATION, *value);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let challenged = response.headers().contains_key(header::WWW_AUTHENTICATE);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into()));
    (status, body, challenged)
}

#[tokio::test]
async fn extractors_pass_valid_tokens_and_refuse_the_rest_with_tesseras_bodies() {
    let (signer, issuer, clock) = one_key_issuer().await;
    let guard = guard_of(&issuer, &clock).start().await.unwrap();
    let app = app(guard);
    let admin = format!(
        "Bearer {}",
        access_token(&signer, json!({ "tenant": "acme", "scope": "orders:read" }))
    );
    let user = format!(
        "Bearer {}",
        access_token(&signer, json!({ "roles": ["staff"], "user_id": 8 }))
    );

    assert_eq!(
        call(&app, "/whoami", &[&admin]).await.1,
        json!({ "user_id": "7" })
    );
    assert_eq!(
        call(&app, "/whoami", &[&user]).await.1,
        json!({ "user_id": "8" })
    );
    assert_eq!(call(&app, "/admin", &[&admin]).await.0, StatusCode::OK);
    assert_eq!(call(&app, "/orders", &[&admin]).await.0, StatusCode::OK);
    assert_eq!(call(&app, "/tenant", &[&admin]).await.1, json!("acme"));

    let forbidden = json!({ "detail": "You do not have permission to perform this action." });
    assert_eq!(
        call(&app, "/admin", &[&user]).await,
        (StatusCode::FORBIDDEN, forbidden.clone(), false)
    );
    assert_eq!(
        call(&app, "/orders", &[&user]).await,
        (StatusCode::FORBIDDEN, forbidden, false)
    );
    // An OAuth client's own token (RFC 9068, `aud` the issuer): scopes yes, user routes no.
    let client = format!(
        "Bearer {}",
        access_token(
            &signer,
            json!({ "user_id": null, "sub": "app", "client_id": "app", "aud": issuer.url, "scope": "orders:read", "sid": null, "roles": null }),
        )
    );
    assert_eq!(call(&app, "/orders", &[&client]).await.0, StatusCode::OK);
    assert_eq!(
        call(&app, "/whoami", &[&client]).await,
        (
            StatusCode::UNAUTHORIZED,
            json!({ "detail": "Token contained no recognizable user identification", "code": "token_not_valid" }),
            true
        )
    );
    let elsewhere = format!(
        "Bearer {}",
        access_token(&signer, json!({ "aud": "billing" }))
    );
    assert_eq!(
        call(&app, "/whoami", &[&elsewhere]).await.0,
        StatusCode::UNAUTHORIZED
    );

    let (status, _, challenged) = call(&app, "/tenant", &[&user]).await;
    assert_eq!(
        (status, challenged),
        (StatusCode::UNAUTHORIZED, true),
        "claims that do not fit"
    );

    assert_eq!(
        call(&app, "/whoami", &[]).await,
        (
            StatusCode::UNAUTHORIZED,
            json!({ "detail": "Authentication credentials were not provided." }),
            true
        )
    );
    assert_eq!(
        call(&app, "/whoami", &["Bearer a b"]).await.1["code"],
        "bad_authorization_header"
    );
    assert_eq!(
        call(&app, "/whoami", &[&admin, &admin]).await.1["detail"],
        "Request has more than one Authorization header"
    );
    assert_eq!(
        call(&app, "/whoami", &["Bearer not.a.token"]).await.1,
        json!({
            "detail": "Given token not valid for any token type",
            "code": "token_not_valid",
            "messages": [{ "token_class": "AccessToken", "token_type": "access", "message": "Token is invalid" }],
        })
    );
}

#[tokio::test]
async fn the_tower_layer_guards_any_service() {
    let (signer, issuer, clock) = one_key_issuer().await;
    let guard = guard_of(&issuer, &clock).start().await.unwrap();
    // A plain router without the guard in its state: the layer does the work.
    let app = Router::new()
        .route(
            "/",
            get(|request: Request<Body>| async move {
                let Bearer(token) = request.extensions().get::<Bearer>().unwrap().clone();
                format!("user {}", token.user_id.clone().unwrap_or_default())
            }),
        )
        .layer(GuardLayer::new(guard));
    let valid = format!("Bearer {}", access_token(&signer, json!({})));
    assert_eq!(call(&app, "/", &[&valid]).await.1, json!("user 7"));
    let (status, _, challenged) = call(&app, "/", &[]).await;
    assert_eq!((status, challenged), (StatusCode::UNAUTHORIZED, true));
}
