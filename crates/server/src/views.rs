//! How domain values look in JSON responses, shared by the user and admin routes.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::{Value, json};
use tessera_auth::IssuedClient;
use tessera_auth::SessionId;
use tessera_auth::store::{Client, Session, User};

/// Unix seconds as an RFC 3339 UTC timestamp (as the API shows times).
pub fn rfc3339(unix: i64) -> String {
    let time = UNIX_EPOCH + Duration::from_secs(u64::try_from(unix).unwrap_or(0));
    humantime::format_rfc3339_seconds(time).to_string()
}

/// A session as `/api/sessions/` shows it; `current` marks the caller's own.
pub fn session_json(session: &Session, current: Option<&SessionId>) -> Value {
    json!({
        "id": session.id.0,
        "created_at": rfc3339(session.created_at),
        "last_used_at": rfc3339(session.last_used_at),
        "user_agent": session.user_agent,
        "ip": session.ip,
        "current": current == Some(&session.id),
    })
}

/// A user as the admin API shows it.
pub fn user_json(user: &User) -> Value {
    json!({
        "id": user.id.0,
        "username": user.username,
        "is_active": user.is_active,
        "roles": user.roles,
        "claims": user.claims,
        "created_at": rfc3339(user.created_at),
        "last_login": user.last_login.map(rfc3339),
    })
}

/// An OAuth client as listings show it: never its secret.
pub fn client_json(client: &Client) -> Value {
    json!({
        "client_id": client.id,
        "name": client.name,
        "scopes": client.scopes,
        "grants": client.grants,
        "created_at": rfc3339(client.created_at),
    })
}

/// A client with the secret it was just given: the one time the secret is shown.
pub fn issued_client_json(issued: &IssuedClient) -> Value {
    json!({
        "client_id": issued.client.id,
        "client_secret": issued.secret.as_str(),
        "name": issued.client.name,
        "scopes": issued.client.scopes,
        "grants": issued.client.grants,
    })
}
