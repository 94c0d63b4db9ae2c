//! The admin API, guarded by the `admin` role: users (paginated), their roles, claims and status,
//! their sessions, and logging them out.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tessera_auth::audit::{Acting, Actor, AuditFilter, AuditKind};
use tessera_auth::{Grant, NewAccount, UserChange, UserId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{AdminRole, Body, Client, RequireRole};
use crate::state::AppState;
use crate::views::{
    audit_json, client_json, issued_client_json, parse_rfc3339, session_json, user_json,
};

type Admin = RequireRole<AdminRole>;
type ApiResult = Result<Response, ApiError>;

/// Default and largest page sizes.
const DEFAULT_LIMIT: u64 = 100;
const MAX_LIMIT: u64 = 1_000;

/// The admin routes, to be merged into the main router.
pub fn router() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, update, remove))
        .routes(routes!(sessions))
        .routes(routes!(logout_all))
        .routes(routes!(list_clients, create_client))
        .routes(routes!(remove_client))
        .routes(routes!(rotate_client_secret))
        .routes(routes!(audit))
        .routes(routes!(revoke_user_session))
        .routes(routes!(keys))
        .routes(routes!(rotate_key))
}

/// Ends one session of a user.
#[utoipa::path(
    delete,
    path = "/api/admin/users/{id}/sessions/{sid}/",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "User id"), ("sid" = String, Path, description = "Session id")),
    responses((status = 200, description = "The session is ended", body = crate::openapi::Empty), crate::openapi::Refusals)
)]
async fn revoke_user_session(
    State(state): State<Arc<AppState>>,
    Operator(acting): Operator,
    Path((id, sid)): Path<(String, String)>,
) -> ApiResult {
    state
        .auth
        .delete_session(user_id(&id)?, &tessera_auth::SessionId(sid), &acting)
        .await?;
    Ok(Json(json!({})).into_response())
}

/// Every stored signing key and where it stands.
#[utoipa::path(
    get,
    path = "/api/admin/keys/",
    tag = "admin",
    security(("bearer" = [])),
    responses((status = 200, description = "Keys, oldest first", body = Vec<crate::openapi::KeyView>), crate::openapi::Refusals)
)]
async fn keys(State(state): State<Arc<AppState>>, _: Admin) -> ApiResult {
    let keys: Vec<Value> = state
        .auth
        .keys()
        .await?
        .iter()
        .map(|(key, status)| crate::views::key_json(key, status))
        .collect();
    Ok(Json(Value::Array(keys)).into_response())
}

/// A new signing key (published now, signing after `key_publish_ahead`).
#[utoipa::path(
    post,
    path = "/api/admin/keys/rotate/",
    tag = "admin",
    security(("bearer" = [])),
    responses((status = 201, description = "The new key", body = crate::openapi::KeyView), crate::openapi::Refusals)
)]
async fn rotate_key(State(state): State<Arc<AppState>>, Operator(acting): Operator) -> ApiResult {
    let key = state.auth.rotate_key(&acting).await?;
    let status = tessera_auth::KeyStatus::of(&key, state.auth.now());
    Ok((
        StatusCode::CREATED,
        Json(crate::views::key_json(&key, &status)),
    )
        .into_response())
}

/// An administrator's request, and who made it from where, for the audit log.
struct Operator(Acting);

impl FromRequestParts<Arc<AppState>> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let RequireRole(access, _) = Admin::from_request_parts(parts, state).await?;
        let Client(context) = Client::from_request_parts(parts, state).await?;
        Ok(Operator(context.acting(Actor::user(access.user_id))))
    }
}

/// `?event=&user=&since=&limit=&offset=`: the audit log, newest first. `user` is a username or
/// an id; `since` is RFC 3339.
#[utoipa::path(
    get,
    path = "/api/admin/audit/",
    tag = "admin",
    security(("bearer" = [])),
    params(("event" = Option<String>, Query, description = "Only this event"), ("user" = Option<String>, Query, description = "Only events about this user (username or id)"), ("since" = Option<String>, Query, description = "Only events at or after this time (RFC 3339)"), ("limit" = Option<String>, Query, description = "Page size (1 to 1000)"), ("offset" = Option<String>, Query, description = "Where the page starts")),
    responses((status = 200, description = "Audit events, newest first", body = crate::openapi::AuditPage), crate::openapi::Refusals)
)]
async fn audit(
    State(state): State<Arc<AppState>>,
    _: Admin,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let filter = audit_filter(&query)?;
    let limit = page_param(&query, "limit", DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let offset = page_param(&query, "offset", 0);
    let (count, events) = state
        .auth
        .audit_events(&filter, true, limit, offset)
        .await?;
    let results: Vec<Value> = events.iter().map(audit_json).collect();
    Ok(Json(json!({ "count": count, "results": results })).into_response())
}

/// The audit query's filters; a value that cannot be read is a 400 naming its parameter.
fn audit_filter(query: &HashMap<String, String>) -> Result<AuditFilter, ApiError> {
    let mut filter = AuditFilter::default();
    if let Some(name) = query.get("event").filter(|v| !v.is_empty()) {
        filter.kind = Some(AuditKind::parse(name).ok_or_else(|| {
            ApiError::field(
                "event",
                &format!("Select a valid choice. {name} is not one of the available choices."),
            )
        })?);
    }
    if let Some(user) = query.get("user").filter(|v| !v.is_empty()) {
        filter.subject_id = user.parse::<i64>().ok().map(UserId);
        filter.subject_name = Some(user.clone());
    }
    if let Some(since) = query.get("since").filter(|v| !v.is_empty()) {
        filter.since = Some(parse_rfc3339(since).ok_or_else(|| {
            ApiError::field(
                "since",
                "Enter a valid date/time (RFC 3339, e.g. 2026-12-01T10:00:00Z).",
            )
        })?);
    }
    Ok(filter)
}

/// An id from the path; anything that is not one is simply not found.
fn user_id(raw: &str) -> Result<UserId, ApiError> {
    raw.parse::<i64>()
        .map(UserId)
        .map_err(|_| ApiError::NotFound)
}

fn page_param(query: &HashMap<String, String>, name: &str, default: u64) -> u64 {
    // DRF's LimitOffsetPagination ignores values it cannot read.
    query
        .get(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[utoipa::path(
    get,
    path = "/api/admin/users/",
    tag = "admin",
    security(("bearer" = [])),
    params(("limit" = Option<String>, Query, description = "Page size (1 to 1000)"), ("offset" = Option<String>, Query, description = "Where the page starts"), ("search" = Option<String>, Query, description = "Only usernames containing this (case-insensitive)")),
    responses((status = 200, description = "A page of users", body = crate::openapi::UserPage), crate::openapi::Refusals)
)]
async fn list(
    State(state): State<Arc<AppState>>,
    _: Admin,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let limit = page_param(&query, "limit", DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let offset = page_param(&query, "offset", 0);
    let (count, users) = match query.get("search").filter(|s| !s.is_empty()) {
        Some(text) => state.auth.search_users(text, limit, offset).await?,
        None => state.auth.users_page(limit, offset).await?,
    };
    let results: Vec<Value> = users.iter().map(user_json).collect();
    Ok(Json(json!({ "count": count, "results": results })).into_response())
}

#[utoipa::path(
    post,
    path = "/api/admin/users/",
    tag = "admin",
    security(("bearer" = [])),
    request_body(content = crate::openapi::NewUser, content_type = "application/json"),
    responses((status = 201, description = "Created", body = crate::openapi::UserView), crate::openapi::Refusals)
)]
async fn create(
    State(state): State<Arc<AppState>>,
    Operator(acting): Operator,
    mut body: Body,
) -> ApiResult {
    let username = body.char_field("username", true);
    let password = body.char_field("password", false);
    let roles = body.optional_string_list("roles");
    let claims = body.optional_object("claims");
    let active = body.optional_bool("is_active");
    body.finish()?;
    let user = state
        .auth
        .add_user(
            NewAccount {
                username: username.to_string(),
                password,
                roles: roles.unwrap_or_default(),
                claims: claims.unwrap_or_default(),
                is_active: active.unwrap_or(true),
            },
            &acting,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(user_json(&user))).into_response())
}

#[utoipa::path(
    get,
    path = "/api/admin/users/{id}/",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, description = "The user", body = crate::openapi::UserView), crate::openapi::Refusals)
)]
async fn show(State(state): State<Arc<AppState>>, _: Admin, Path(id): Path<String>) -> ApiResult {
    let user = state.auth.get_user(user_id(&id)?).await?;
    Ok(Json(user_json(&user)).into_response())
}

#[utoipa::path(
    patch,
    path = "/api/admin/users/{id}/",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")), request_body(content = crate::openapi::UserPatch, content_type = "application/json"),
    responses((status = 200, description = "The user, changed", body = crate::openapi::UserView), crate::openapi::Refusals)
)]
async fn update(
    State(state): State<Arc<AppState>>,
    Operator(acting): Operator,
    Path(id): Path<String>,
    mut body: Body,
) -> ApiResult {
    let id = user_id(&id)?;
    let change = UserChange {
        roles: body.optional_string_list("roles"),
        claims: body.optional_object("claims"),
        is_active: body.optional_bool("is_active"),
        revoke_sessions: body.optional_bool("revoke_sessions").unwrap_or(false),
    };
    body.finish()?;
    let user = state.auth.update_user(id, &change, &acting).await?;
    Ok(Json(user_json(&user)).into_response())
}

#[utoipa::path(
    delete,
    path = "/api/admin/users/{id}/",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses((status = 204, description = "Deleted"), crate::openapi::Refusals)
)]
async fn remove(
    State(state): State<Arc<AppState>>,
    Operator(acting): Operator,
    Path(id): Path<String>,
) -> ApiResult {
    state.auth.delete_user(user_id(&id)?, &acting).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(
    get,
    path = "/api/admin/users/{id}/sessions/",
    operation_id = "admin_user_sessions",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, description = "The user's sessions", body = Vec<crate::openapi::SessionView>), crate::openapi::Refusals)
)]
async fn sessions(
    State(state): State<Arc<AppState>>,
    _: Admin,
    Path(id): Path<String>,
) -> ApiResult {
    let sessions = state.auth.user_sessions(user_id(&id)?).await?;
    let list: Vec<Value> = sessions.iter().map(|s| session_json(s, None)).collect();
    Ok(Json(Value::Array(list)).into_response())
}

#[utoipa::path(
    post,
    path = "/api/admin/users/{id}/logout-all/",
    operation_id = "admin_user_logout_all",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, description = "Every session of the user is ended", body = crate::openapi::Empty), crate::openapi::Refusals)
)]
async fn logout_all(
    State(state): State<Arc<AppState>>,
    Operator(acting): Operator,
    Path(id): Path<String>,
) -> ApiResult {
    state.auth.logout_user(user_id(&id)?, &acting).await?;
    Ok(Json(json!({})).into_response())
}

#[utoipa::path(
    get,
    path = "/api/admin/clients/",
    tag = "admin",
    security(("bearer" = [])),
    responses((status = 200, description = "Every client", body = Vec<crate::openapi::ClientView>), crate::openapi::Refusals)
)]
async fn list_clients(State(state): State<Arc<AppState>>, _: Admin) -> ApiResult {
    let clients: Vec<Value> = state
        .auth
        .clients()
        .await?
        .iter()
        .map(client_json)
        .collect();
    Ok(Json(Value::Array(clients)).into_response())
}

#[utoipa::path(
    post,
    path = "/api/admin/clients/",
    tag = "admin",
    security(("bearer" = [])),
    request_body(content = crate::openapi::NewClient, content_type = "application/json"),
    responses((status = 201, description = "Registered; the secret is shown once", body = crate::openapi::IssuedClientView), crate::openapi::Refusals)
)]
async fn create_client(
    State(state): State<Arc<AppState>>,
    Operator(acting): Operator,
    mut body: Body,
) -> ApiResult {
    let name = body.char_field("name", true);
    let scopes = body.optional_string_list("scopes").unwrap_or_default();
    let grant_names = body.optional_string_list("grants").unwrap_or_default();
    body.finish()?;
    let mut grants = Vec::new();
    for name in &grant_names {
        match Grant::parse(name) {
            Some(grant) => grants.push(grant),
            None => {
                return Err(ApiError::field(
                    "grants",
                    &format!("\"{name}\" is not a valid choice."),
                ));
            }
        }
    }
    let issued = state
        .auth
        .register_client(&name, scopes, grants, &acting)
        .await?;
    Ok((StatusCode::CREATED, Json(issued_client_json(&issued))).into_response())
}

#[utoipa::path(
    delete,
    path = "/api/admin/clients/{client_id}/",
    tag = "admin",
    security(("bearer" = [])),
    params(("client_id" = String, Path, description = "Client id")),
    responses((status = 204, description = "Deleted; its tokens stop working"), crate::openapi::Refusals)
)]
async fn remove_client(
    State(state): State<Arc<AppState>>,
    Operator(acting): Operator,
    Path(client_id): Path<String>,
) -> ApiResult {
    state.auth.delete_client(&client_id, &acting).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(
    post,
    path = "/api/admin/clients/{client_id}/rotate-secret/",
    tag = "admin",
    security(("bearer" = [])),
    params(("client_id" = String, Path, description = "Client id")),
    responses((status = 200, description = "A new secret, shown once", body = crate::openapi::IssuedClientView), crate::openapi::Refusals)
)]
async fn rotate_client_secret(
    State(state): State<Arc<AppState>>,
    Operator(acting): Operator,
    Path(client_id): Path<String>,
) -> ApiResult {
    let issued = state.auth.rotate_client_secret(&client_id, &acting).await?;
    Ok(Json(issued_client_json(&issued)).into_response())
}
