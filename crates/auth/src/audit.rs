//! The security audit log: who logged in from where, what was revoked and changed, by whom. Each
//! event is written by the store in the same transaction as the change it records (a login's
//! session, a revocation, a user's new roles); events without a change (a failed or throttled
//! login, a refresh that rotates nothing) are appended on their own. Nothing secret is ever put in
//! an event: no password, token, hash or client secret; a deleted user's rows keep the username.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ids::{SessionId, UserId};

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuditKind {
    /// A password (or sliding, or OAuth password-grant) login succeeded.
    #[serde(rename = "login.success")]
    LoginSuccess,
    /// A login was refused: wrong password, unknown or disabled user.
    #[serde(rename = "login.failure")]
    LoginFailure,
    /// A login was refused unjudged: too many failures.
    #[serde(rename = "login.throttled")]
    LoginThrottled,
    /// A refresh token (or sliding token) was exchanged.
    #[serde(rename = "token.refresh")]
    TokenRefresh,
    /// A rotated refresh token came back: its session was revoked.
    #[serde(rename = "token.reuse_detected")]
    TokenReuseDetected,
    /// A session ended: logout, blacklist, deleted by its user or an administrator.
    #[serde(rename = "session.revoked")]
    SessionRevoked,
    /// Every session of a user ended.
    #[serde(rename = "user.logout_all")]
    UserLogoutAll,
    /// A user's password changed (by themselves or an administrator).
    #[serde(rename = "user.password_changed")]
    UserPasswordChanged,
    /// A user was created.
    #[serde(rename = "user.created")]
    UserCreated,
    /// A user's roles, claims or (imported) name changed.
    #[serde(rename = "user.updated")]
    UserUpdated,
    /// A user was disabled.
    #[serde(rename = "user.disabled")]
    UserDisabled,
    /// A user was enabled again.
    #[serde(rename = "user.enabled")]
    UserEnabled,
    /// A user was deleted.
    #[serde(rename = "user.deleted")]
    UserDeleted,
    /// A new signing key was rotated in.
    #[serde(rename = "key.rotated")]
    KeyRotated,
    /// An OAuth client was registered.
    #[serde(rename = "client.created")]
    ClientCreated,
    /// An OAuth client was deleted.
    #[serde(rename = "client.deleted")]
    ClientDeleted,
    /// An OAuth client's secret was replaced.
    #[serde(rename = "client.secret_rotated")]
    ClientSecretRotated,
}

impl AuditKind {
    /// Every kind, for parsing and documentation.
    pub const ALL: [AuditKind; 17] = [
        AuditKind::LoginSuccess,
        AuditKind::LoginFailure,
        AuditKind::LoginThrottled,
        AuditKind::TokenRefresh,
        AuditKind::TokenReuseDetected,
        AuditKind::SessionRevoked,
        AuditKind::UserLogoutAll,
        AuditKind::UserPasswordChanged,
        AuditKind::UserCreated,
        AuditKind::UserUpdated,
        AuditKind::UserDisabled,
        AuditKind::UserEnabled,
        AuditKind::UserDeleted,
        AuditKind::KeyRotated,
        AuditKind::ClientCreated,
        AuditKind::ClientDeleted,
        AuditKind::ClientSecretRotated,
    ];

    /// The event's name (`login.success`).
    pub fn name(self) -> &'static str {
        match self {
            AuditKind::LoginSuccess => "login.success",
            AuditKind::LoginFailure => "login.failure",
            AuditKind::LoginThrottled => "login.throttled",
            AuditKind::TokenRefresh => "token.refresh",
            AuditKind::TokenReuseDetected => "token.reuse_detected",
            AuditKind::SessionRevoked => "session.revoked",
            AuditKind::UserLogoutAll => "user.logout_all",
            AuditKind::UserPasswordChanged => "user.password_changed",
            AuditKind::UserCreated => "user.created",
            AuditKind::UserUpdated => "user.updated",
            AuditKind::UserDisabled => "user.disabled",
            AuditKind::UserEnabled => "user.enabled",
            AuditKind::UserDeleted => "user.deleted",
            AuditKind::KeyRotated => "key.rotated",
            AuditKind::ClientCreated => "client.created",
            AuditKind::ClientDeleted => "client.deleted",
            AuditKind::ClientSecretRotated => "client.secret_rotated",
        }
    }

    /// The kind named `name`.
    pub fn parse(name: &str) -> Option<AuditKind> {
        AuditKind::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

/// Who acted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActorType {
    /// A user, through the API (their own login, logout, password).
    User,
    /// An OAuth client.
    Client,
    /// An operator at the command line.
    Cli,
    /// Tessera itself (reuse detection).
    System,
}

/// The actor of an event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// What kind of actor.
    #[serde(rename = "type")]
    pub kind: ActorType,
    /// The user id or client id, when there is one.
    pub id: Option<String>,
}

impl Actor {
    /// A user.
    pub fn user(id: UserId) -> Actor {
        Actor {
            kind: ActorType::User,
            id: Some(id.0.to_string()),
        }
    }

    /// An OAuth client.
    pub fn client(id: &str) -> Actor {
        Actor {
            kind: ActorType::Client,
            id: Some(id.to_owned()),
        }
    }

    /// The command line.
    pub fn cli() -> Actor {
        Actor {
            kind: ActorType::Cli,
            id: None,
        }
    }

    /// Tessera itself.
    pub fn system() -> Actor {
        Actor {
            kind: ActorType::System,
            id: None,
        }
    }
}

/// Who is acting and from where: what every event of one call carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acting {
    /// The actor.
    pub actor: Actor,
    /// The request's client address, if the call came over HTTP.
    pub ip: Option<String>,
    /// The request's `User-Agent`.
    pub user_agent: Option<String>,
}

impl Acting {
    /// An operator at the command line.
    pub fn cli() -> Acting {
        Acting::as_actor(Actor::cli())
    }

    /// Tessera itself.
    pub fn system() -> Acting {
        Acting::as_actor(Actor::system())
    }

    /// `actor`, from no particular request.
    pub fn as_actor(actor: Actor) -> Acting {
        Acting {
            actor,
            ip: None,
            user_agent: None,
        }
    }

    /// `actor`, from the request with this address and `User-Agent`.
    pub fn from_request(actor: Actor, ip: Option<&str>, user_agent: Option<&str>) -> Acting {
        Acting {
            actor,
            ip: ip.map(str::to_owned),
            user_agent: user_agent.map(str::to_owned),
        }
    }

    /// An event of `kind` at `time`, by this actor from this request.
    pub fn event(&self, time: i64, kind: AuditKind) -> AuditEvent {
        let mut event = AuditEvent::new(time, kind, self.actor.clone());
        event.ip.clone_from(&self.ip);
        event.user_agent.clone_from(&self.user_agent);
        event
    }
}

/// The user an event is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditSubject {
    /// Their id.
    pub id: UserId,
    /// Their username at the time, kept after they are deleted.
    pub username: String,
}

/// A security event, as the domain hands it to the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    /// When (Unix seconds).
    pub time: i64,
    /// What.
    pub kind: AuditKind,
    /// Who did it.
    pub actor: Actor,
    /// Whom it is about.
    pub subject: Option<AuditSubject>,
    /// The session concerned.
    pub session: Option<SessionId>,
    /// The client's address, for requests.
    pub ip: Option<String>,
    /// The client's `User-Agent`, for requests.
    pub user_agent: Option<String>,
    /// What else there is to say (roles set, the attempted username, a key id); never a secret.
    pub detail: Map<String, Value>,
}

impl AuditEvent {
    /// An event of `kind` by `actor` at `time`, about nobody yet.
    pub fn new(time: i64, kind: AuditKind, actor: Actor) -> AuditEvent {
        AuditEvent {
            time,
            kind,
            actor,
            subject: None,
            session: None,
            ip: None,
            user_agent: None,
            detail: Map::new(),
        }
    }

    /// About `id` named `username`.
    pub fn about(mut self, id: UserId, username: &str) -> AuditEvent {
        self.subject = Some(AuditSubject {
            id,
            username: username.to_owned(),
        });
        self
    }

    /// Concerning `session`.
    pub fn session(mut self, session: &SessionId) -> AuditEvent {
        self.session = Some(session.clone());
        self
    }

    /// With `name: value` in the detail.
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> AuditEvent {
        self.detail.insert(name.to_owned(), value.into());
        self
    }
}

/// `events` with the ones about nobody made about the user `id` named `username`: a new user's
/// id is known only once the store has created them.
pub fn about_new_user(events: &[AuditEvent], id: UserId, username: &str) -> Vec<AuditEvent> {
    events
        .iter()
        .cloned()
        .map(|event| match event.subject {
            Some(_) => event,
            None => event.about(id, username),
        })
        .collect()
}

/// A stored event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    /// Increasing with each event.
    pub id: i64,
    /// The event.
    pub event: AuditEvent,
}

/// Which events a query returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only this kind.
    pub kind: Option<AuditKind>,
    /// Only events about this user (by id).
    pub subject_id: Option<UserId>,
    /// Only events about a user with this name (deleted users included).
    pub subject_name: Option<String>,
    /// Only events at or after this time.
    pub since: Option<i64>,
    /// Only events with an id above this (for following the log).
    pub after_id: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_name_that_parses_back_and_serializes_as_it() {
        for kind in AuditKind::ALL {
            assert_eq!(AuditKind::parse(kind.name()), Some(kind));
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                Value::String(kind.name().into())
            );
        }
        assert_eq!(AuditKind::parse("login"), None);
    }

    #[test]
    fn actors_serialize_as_the_log_shows_them() {
        assert_eq!(
            serde_json::to_value(Actor::user(UserId(7))).unwrap(),
            serde_json::json!({"type": "user", "id": "7"})
        );
        assert_eq!(
            serde_json::to_value(Actor::cli()).unwrap(),
            serde_json::json!({"type": "cli", "id": null})
        );
    }
}
