//! How domain values look in JSON responses, shared by the user and admin routes.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::{Value, json};
use tessera_auth::IssuedClient;
use tessera_auth::SessionId;
use tessera_auth::audit::AuditRecord;
use tessera_auth::store::{Client, Session, User};

/// Unix seconds as an RFC 3339 UTC timestamp (as the API shows times).
pub fn rfc3339(unix: i64) -> String {
    let time = UNIX_EPOCH + Duration::from_secs(u64::try_from(unix).unwrap_or(0));
    humantime::format_rfc3339_seconds(time).to_string()
}

/// An RFC 3339 timestamp (`2026-12-01T10:00:00Z`, fractions and `+02:00` offsets allowed) as
/// Unix seconds; `None` for anything else.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let text = text.trim();
    // `get`, not `split_at`: the cut may fall inside a character of untrusted text.
    let parts = text
        .len()
        .checked_sub(6)
        .and_then(|at| Some((text.get(..at)?, text.get(at..)?)));
    let (base, offset) = match parts {
        Some((base, tail))
            if (tail.starts_with('+') || tail.starts_with('-'))
                && tail.as_bytes().get(3) == Some(&b':') =>
        {
            let hours: i64 = tail.get(1..3)?.parse().ok()?;
            let minutes: i64 = tail.get(4..6)?.parse().ok()?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let sign = if tail.starts_with('-') { -1 } else { 1 };
            (format!("{base}Z"), sign * (hours * 3600 + minutes * 60))
        }
        _ if text.ends_with(['Z', 'z']) => (text.to_owned(), 0),
        _ => return None,
    };
    if !base.contains('T') && !base.contains('t') {
        return None;
    }
    let time = humantime::parse_rfc3339_weak(&base).ok()?;
    let unix = i64::try_from(time.duration_since(UNIX_EPOCH).ok()?.as_secs()).ok()?;
    Some(unix - offset)
}

/// A signing key as the admin API shows it (never its private part).
pub fn key_json(key: &tessera_auth::KeyInfo, status: &tessera_auth::KeyStatus) -> Value {
    use tessera_auth::KeyStatus;
    let (state, until) = match status {
        KeyStatus::Published => ("published", None),
        KeyStatus::Signing => ("signing", None),
        KeyStatus::SigningUntil(at) => ("signing", Some(*at)),
        KeyStatus::Verifying(at) => ("verifying", *at),
        KeyStatus::Expired => ("expired", None),
    };
    json!({
        "kid": key.kid,
        "alg": key.alg,
        "state": state,
        "until": until.map(rfc3339),
        "created_at": rfc3339(key.created_at),
    })
}

/// An audit event as the admin API and `tessera audit` show it.
pub fn audit_json(record: &AuditRecord) -> Value {
    let event = &record.event;
    json!({
        "id": record.id,
        "time": rfc3339(event.time),
        "event": event.kind.name(),
        "actor": event.actor,
        "subject": event.subject.as_ref().map(|s| json!({"id": s.id.0, "username": s.username})),
        "session": event.session.as_ref().map(SessionId::as_str),
        "ip": event.ip,
        "user_agent": event.user_agent,
        "detail": event.detail,
    })
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
        "created_at": rfc3339(issued.client.created_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times_are_read_with_offsets_and_anything_else_is_none() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:10Z"), Some(10));
        assert_eq!(parse_rfc3339("1970-01-01T01:00:10+01:00"), Some(10));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:10.5Z"), Some(10));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:10-01:00"), Some(3_610));
        // Found by Schemathesis: a cut inside a multi-byte character once panicked.
        for bad in [
            "\u{80}\u{10000}0",
            "yesterday",
            "1970-01-01",
            "1970-01-01T00:00:10",
            "€€€€€€€",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
    }
}
