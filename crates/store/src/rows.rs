//! What every SQL backend shares: how rows become domain values, how revocation kinds are
//! written, and how driver errors become [`StoreError`]s. Only the SQL dialect differs per
//! backend.

use sqlx::{ColumnIndex, Decode, Row, Type};
use tessera_auth::audit::{Actor, AuditEvent, AuditFilter, AuditKind, AuditRecord, AuditSubject};
use tessera_auth::ids::{SessionId, UserId};
use tessera_auth::store::{
    Client, Conflict, KeyInfo, RefreshRecord, RefreshState, RevocationKind, Session, StoreError,
    StoredRefresh, User,
};

/// Typed column access over any backend's row, errors already mapped.
pub(crate) trait Columns {
    fn int(&self, column: &str) -> Result<i64, StoreError>;
    fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError>;
    fn text(&self, column: &str) -> Result<String, StoreError>;
    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError>;
    fn opt_bytes(&self, column: &str) -> Result<Option<Vec<u8>>, StoreError>;
    fn flag(&self, column: &str) -> Result<bool, StoreError>;
}

impl<R> Columns for R
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
{
    fn int(&self, column: &str) -> Result<i64, StoreError> {
        self.try_get(column).map_err(db_error)
    }
    fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError> {
        self.try_get(column).map_err(db_error)
    }
    fn text(&self, column: &str) -> Result<String, StoreError> {
        self.try_get(column).map_err(db_error)
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        self.try_get(column).map_err(db_error)
    }
    fn opt_bytes(&self, column: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.try_get(column).map_err(db_error)
    }
    fn flag(&self, column: &str) -> Result<bool, StoreError> {
        self.try_get(column).map_err(db_error)
    }
}

/// The one place where driver errors become [`StoreError`]s, for every backend. The driver's
/// error is kept as the source.
pub(crate) fn db_error(error: sqlx::Error) -> StoreError {
    let unavailable = match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            return StoreError::Conflict(conflict_of(db.as_ref()));
        }
        sqlx::Error::Database(db) => is_unavailable(db.as_ref()),
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        _ => false,
    };
    if unavailable {
        StoreError::unavailable("the database cannot serve the call now", error)
    } else {
        StoreError::internal("the database refused the call", error)
    }
}

/// Which unique constraint a violation hit, from its name (PostgreSQL) or message (SQLite's
/// "UNIQUE constraint failed: users.username").
fn conflict_of(db: &dyn sqlx::error::DatabaseError) -> Conflict {
    let said = db.constraint().unwrap_or_else(|| db.message());
    if said.contains("username") {
        Conflict::Username
    } else if said.contains("kid") || said.contains("signing_keys") {
        Conflict::KeyId
    } else if said.contains("clients") {
        Conflict::ClientName
    } else {
        Conflict::Other
    }
}

/// Whether the database said "not now" (busy, shutting down, out of resources, timed out) rather
/// than that we asked for something wrong.
fn is_unavailable(db: &dyn sqlx::error::DatabaseError) -> bool {
    let Some(code) = db.code() else {
        return false;
    };
    if db
        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .is_some()
    {
        is_unavailable_sqlstate(&code)
    } else {
        is_unavailable_sqlite_code(&code)
    }
}

/// PostgreSQL SQLSTATEs that mean the server is unreachable, restarting or overloaded, or that a
/// statement ran past `statement_timeout`.
pub(crate) fn is_unavailable_sqlstate(code: &str) -> bool {
    code.starts_with("08") // connection exception
        || code.starts_with("53") // insufficient resources (too many connections, disk full)
        || code.starts_with("57P") // admin/crash shutdown, cannot connect now
        || code == "57014" // query canceled (statement_timeout)
        || code == "55P03" // lock not available (lock_timeout)
        || code == "40001" // serialization failure
        || code == "40P01" // deadlock detected
}

/// Whether an SQLite (extended) result code means the file is busy or unusable for now.
pub(crate) fn is_unavailable_sqlite_code(code: &str) -> bool {
    const BUSY: i32 = 5; // another connection holds the lock past the busy timeout
    const LOCKED: i32 = 6;
    const IOERR: i32 = 10;
    const FULL: i32 = 13; // the disk is full
    const CANTOPEN: i32 = 14;
    code.parse::<i32>()
        .is_ok_and(|code| matches!(code & 0xff, BUSY | LOCKED | IOERR | FULL | CANTOPEN))
}

/// A revocation kind as its `(kind, subject, before_ts)` columns.
pub(crate) fn kind_row(kind: &RevocationKind) -> (&'static str, String, Option<i64>) {
    match kind {
        RevocationKind::Session(sid) => ("session", sid.0.clone(), None),
        RevocationKind::UserTokensBefore { user, before } => {
            ("user_tokens_before", user.0.to_string(), Some(*before))
        }
        RevocationKind::UserDisabled(user) => ("user_disabled", user.0.to_string(), None),
        RevocationKind::UserEnabled(user) => ("user_enabled", user.0.to_string(), None),
        RevocationKind::UserDeleted(user) => ("user_deleted", user.0.to_string(), None),
        RevocationKind::ClientDeleted(client) => ("client_deleted", client.clone(), None),
        RevocationKind::Token(jti) => ("token", jti.clone(), None),
    }
}

/// The inverse of [`kind_row`].
pub(crate) fn row_kind(
    kind: &str,
    subject: String,
    before: Option<i64>,
) -> Result<RevocationKind, StoreError> {
    let user = || {
        subject.parse::<i64>().map(UserId).map_err(|_| {
            StoreError::internal_because(format!("bad revocation subject {subject:?}"))
        })
    };
    Ok(match kind {
        "session" => RevocationKind::Session(SessionId(subject.clone())),
        "user_tokens_before" => RevocationKind::UserTokensBefore {
            user: user()?,
            before: before.ok_or_else(|| {
                StoreError::internal_because("user_tokens_before entry without before_ts")
            })?,
        },
        "user_disabled" => RevocationKind::UserDisabled(user()?),
        "user_enabled" => RevocationKind::UserEnabled(user()?),
        "user_deleted" => RevocationKind::UserDeleted(user()?),
        "client_deleted" => RevocationKind::ClientDeleted(subject),
        "token" => RevocationKind::Token(subject),
        other => {
            return Err(StoreError::internal_because(format!(
                "unknown revocation kind {other:?}"
            )));
        }
    })
}

/// Roles and claims are stored as JSON text in both backends.
pub(crate) fn json_text<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::internal("serializing a column", e))
}

fn json_column<T: serde::de::DeserializeOwned>(
    row: &impl Columns,
    column: &str,
) -> Result<T, StoreError> {
    let text = row.text(column)?;
    serde_json::from_str(&text)
        .map_err(|e| StoreError::internal_because(format!("column {column}: {e}")))
}

fn hash_of(bytes: Vec<u8>) -> Result<[u8; 32], StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::internal_because("stored token hash is not 32 bytes"))
}

fn opt_hash(row: &impl Columns, column: &str) -> Result<Option<[u8; 32]>, StoreError> {
    row.opt_bytes(column)?.map(hash_of).transpose()
}

pub(crate) const USER_COLUMNS: &str =
    "id, username, password_hash, is_active, created_at, last_login, roles, claims";

pub(crate) fn user_row(row: &impl Columns) -> Result<User, StoreError> {
    Ok(User {
        roles: json_column(row, "roles")?,
        claims: json_column(row, "claims")?,
        id: UserId(row.int("id")?),
        username: row.text("username")?,
        password_hash: row.text("password_hash")?,
        is_active: row.flag("is_active")?,
        created_at: row.int("created_at")?,
        last_login: row.opt_int("last_login")?,
    })
}

/// Creates an imported user with its own id, or overwrites its fields; `$3`, the password hash, may
/// be NULL to keep the stored one. `{overriding}` is PostgreSQL's `OVERRIDING SYSTEM VALUE`.
pub(crate) fn upsert_imported_user_sql(overriding: &str) -> String {
    format!(
        "INSERT INTO users (id, username, password_hash, is_active, created_at, roles, claims) \
         {overriding} VALUES ($1, $2, COALESCE($3, '!'), $4, $5, $6, $7) \
         ON CONFLICT (id) DO UPDATE SET username = excluded.username, \
         is_active = excluded.is_active, roles = excluded.roles, claims = excluded.claims, \
         password_hash = COALESCE($3, users.password_hash)"
    )
}

/// Records the digest of an imported user's Django password hash.
pub(crate) const RECORD_DJANGO_IMPORT: &str = "INSERT INTO django_imports (user_id, password_digest, imported_at) VALUES ($1, $2, $3) \
     ON CONFLICT (user_id) DO UPDATE SET password_digest = excluded.password_digest, \
     imported_at = excluded.imported_at";

pub(crate) const DJANGO_IMPORTS: &str =
    "SELECT user_id, password_digest FROM django_imports ORDER BY user_id";

pub(crate) fn django_import_row(row: &impl Columns) -> Result<(UserId, [u8; 32]), StoreError> {
    let digest = row
        .opt_bytes("password_digest")?
        .ok_or_else(|| StoreError::internal_because("django_imports.password_digest is NULL"))?;
    Ok((UserId(row.int("user_id")?), hash_of(digest)?))
}

/// Inserts one audit event; its values come from [`AuditValues`], bound by [`bind_audit`].
pub(crate) const INSERT_AUDIT: &str = "INSERT INTO audit_log (time, event, actor_type, actor_id, \
     subject_id, subject_username, session, ip, user_agent, detail) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

/// An audit event as the columns of its row.
pub(crate) struct AuditValues {
    time: i64,
    event: &'static str,
    actor_type: String,
    actor_id: Option<String>,
    subject_id: Option<i64>,
    subject_username: Option<String>,
    session: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    detail: String,
}

impl AuditValues {
    pub(crate) fn of(event: &AuditEvent) -> Result<AuditValues, StoreError> {
        let actor_type = match serde_json::to_value(event.actor.kind) {
            Ok(serde_json::Value::String(kind)) => kind,
            _ => return Err(StoreError::internal_because("actor type is not a string")),
        };
        Ok(AuditValues {
            time: event.time,
            event: event.kind.name(),
            actor_type,
            actor_id: event.actor.id.clone(),
            subject_id: event.subject.as_ref().map(|s| s.id.0),
            subject_username: event.subject.as_ref().map(|s| s.username.clone()),
            session: event.session.as_ref().map(|s| s.0.clone()),
            ip: event.ip.clone(),
            user_agent: event.user_agent.clone(),
            detail: json_text(&event.detail)?,
        })
    }
}

/// Binds [`INSERT_AUDIT`]'s values, on any backend.
pub(crate) fn bind_audit<'q, DB>(
    query: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>,
    row: &'q AuditValues,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
where
    DB: sqlx::Database,
    i64: sqlx::Encode<'q, DB> + Type<DB>,
    Option<i64>: sqlx::Encode<'q, DB> + Type<DB>,
    &'q str: sqlx::Encode<'q, DB> + Type<DB>,
    Option<&'q str>: sqlx::Encode<'q, DB> + Type<DB>,
{
    query
        .bind(row.time)
        .bind(row.event)
        .bind(row.actor_type.as_str())
        .bind(row.actor_id.as_deref())
        .bind(row.subject_id)
        .bind(row.subject_username.as_deref())
        .bind(row.session.as_deref())
        .bind(row.ip.as_deref())
        .bind(row.user_agent.as_deref())
        .bind(row.detail.as_str())
}

/// A value bound to a filtered audit query.
pub(crate) enum Bound {
    Int(i64),
    Text(String),
}

/// Binds `values` in order, on any backend.
pub(crate) fn bind_all<'q, DB>(
    mut query: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>,
    values: &'q [Bound],
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
where
    DB: sqlx::Database,
    i64: sqlx::Encode<'q, DB> + Type<DB>,
    &'q str: sqlx::Encode<'q, DB> + Type<DB>,
{
    for value in values {
        query = match value {
            Bound::Int(n) => query.bind(*n),
            Bound::Text(text) => query.bind(text.as_str()),
        };
    }
    query
}

const AUDIT_COLUMNS: &str = "id, time, event, actor_type, actor_id, subject_id, subject_username, \
     session, ip, user_agent, detail";

/// A query for the events `filter` selects, with the total count of them as `total`: newest first
/// (`newest_first`, for pages) or oldest first (for following the log), `limit` and `offset` last.
pub(crate) fn audit_query(
    filter: &AuditFilter,
    newest_first: bool,
    limit: u64,
    offset: u64,
) -> (String, Vec<Bound>) {
    let mut conditions = Vec::new();
    let mut values = Vec::new();
    let next = |value: Bound, values: &mut Vec<Bound>| {
        values.push(value);
        format!("${}", values.len())
    };
    if let Some(kind) = filter.kind {
        let p = next(Bound::Text(kind.name().to_owned()), &mut values);
        conditions.push(format!("event = {p}"));
    }
    match (filter.subject_id, &filter.subject_name) {
        (Some(id), Some(name)) => {
            let a = next(Bound::Int(id.0), &mut values);
            let b = next(Bound::Text(name.clone()), &mut values);
            conditions.push(format!("(subject_id = {a} OR subject_username = {b})"));
        }
        (Some(id), None) => {
            let a = next(Bound::Int(id.0), &mut values);
            conditions.push(format!("subject_id = {a}"));
        }
        (None, Some(name)) => {
            let b = next(Bound::Text(name.clone()), &mut values);
            conditions.push(format!("subject_username = {b}"));
        }
        (None, None) => {}
    }
    if let Some(since) = filter.since {
        let p = next(Bound::Int(since), &mut values);
        conditions.push(format!("time >= {p}"));
    }
    if let Some(after) = filter.after_id {
        let p = next(Bound::Int(after), &mut values);
        conditions.push(format!("id > {p}"));
    }
    let clause = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    let order = if newest_first { "DESC" } else { "ASC" };
    let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let l = next(Bound::Int(as_i64(limit)), &mut values);
    let o = next(Bound::Int(as_i64(offset)), &mut values);
    let sql = format!(
        "SELECT {AUDIT_COLUMNS}, COUNT(*) OVER () AS total FROM audit_log{clause} \
         ORDER BY id {order} LIMIT {l} OFFSET {o}"
    );
    (sql, values)
}

/// [`tessera_auth::store::AuditStore::audit_events`] for any SQL backend: one query, its total
/// from a window count (a second query only for a page past the end).
pub(crate) async fn audit_events<DB>(
    pool: &sqlx::Pool<DB>,
    filter: &AuditFilter,
    newest_first: bool,
    limit: u64,
    offset: u64,
) -> Result<(u64, Vec<AuditRecord>), StoreError>
where
    DB: sqlx::Database,
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + Type<DB>,
    DB::Row: Columns,
{
    let (sql, values) = audit_query(filter, newest_first, limit, offset);
    let rows = bind_all(sqlx::query(&sql), &values)
        .fetch_all(pool)
        .await
        .map_err(db_error)?;
    let total = match rows.first() {
        Some(row) => row.int("total")?,
        None if offset == 0 => 0,
        None => {
            let (sql, values) = audit_query(filter, newest_first, 1, 0);
            let first = bind_all(sqlx::query(&sql), &values)
                .fetch_optional(pool)
                .await
                .map_err(db_error)?;
            match first {
                Some(row) => row.int("total")?,
                None => 0,
            }
        }
    };
    let records = rows.iter().map(audit_row).collect::<Result<Vec<_>, _>>()?;
    Ok((u64::try_from(total).unwrap_or(0), records))
}

/// Deletes audit events from before `$1`.
pub(crate) const DELETE_AUDIT_BEFORE: &str = "DELETE FROM audit_log WHERE time < $1";

pub(crate) fn audit_row(row: &impl Columns) -> Result<AuditRecord, StoreError> {
    let event = row.text("event")?;
    let kind = AuditKind::parse(&event)
        .ok_or_else(|| StoreError::internal_because(format!("unknown audit event {event:?}")))?;
    let actor_type = row.text("actor_type")?;
    let kind_of_actor = serde_json::from_value(serde_json::Value::String(actor_type.clone()))
        .map_err(|_| StoreError::internal_because(format!("unknown actor type {actor_type:?}")))?;
    let subject = match (
        row.opt_int("subject_id")?,
        row.opt_text("subject_username")?,
    ) {
        (Some(id), Some(username)) => Some(AuditSubject {
            id: UserId(id),
            username,
        }),
        _ => None,
    };
    Ok(AuditRecord {
        id: row.int("id")?,
        event: AuditEvent {
            time: row.int("time")?,
            kind,
            actor: Actor {
                kind: kind_of_actor,
                id: row.opt_text("actor_id")?,
            },
            subject,
            session: row.opt_text("session")?.map(SessionId),
            ip: row.opt_text("ip")?,
            user_agent: row.opt_text("user_agent")?,
            detail: json_column(row, "detail")?,
        },
    })
}

pub(crate) const SESSION_COLUMNS: &str =
    "id, user_id, created_at, last_used_at, expires_at, user_agent, ip, revoked_at";

pub(crate) fn session_row(row: &impl Columns) -> Result<Session, StoreError> {
    Ok(Session {
        id: SessionId(row.text("id")?),
        user_id: UserId(row.int("user_id")?),
        created_at: row.int("created_at")?,
        last_used_at: row.int("last_used_at")?,
        expires_at: row.int("expires_at")?,
        user_agent: row.opt_text("user_agent")?,
        ip: row.opt_text("ip")?,
        revoked_at: row.opt_int("revoked_at")?,
    })
}

/// A key's public columns: never the private JWK, which only [`KeyStore::private_key`] reads.
///
/// [`KeyStore::private_key`]: tessera_auth::store::KeyStore::private_key
pub(crate) const KEY_COLUMNS: &str = "kid, alg, created_at, retired_at, expires_at";

pub(crate) fn key_row(row: &impl Columns) -> Result<KeyInfo, StoreError> {
    Ok(KeyInfo {
        kid: row.text("kid")?,
        alg: row.text("alg")?,
        created_at: row.int("created_at")?,
        retired_at: row.opt_int("retired_at")?,
        expires_at: row.opt_int("expires_at")?,
    })
}

pub(crate) const REVOCATION_COLUMNS: &str = "id, kind, subject, before_ts, expires_at";

pub(crate) fn revocation_row(
    row: &impl Columns,
) -> Result<tessera_auth::store::Revocation, StoreError> {
    Ok(tessera_auth::store::Revocation {
        id: row.int("id")?,
        kind: row_kind(
            &row.text("kind")?,
            row.text("subject")?,
            row.opt_int("before_ts")?,
        )?,
        expires_at: row.int("expires_at")?,
    })
}

/// `SELECT` list and `FROM` clause of a refresh token joined with its session; the backend adds
/// its own `WHERE r.token_hash = <placeholder>`.
pub(crate) const REFRESH_SELECT: &str = "SELECT r.token_hash, r.jti, r.session_id, r.issued_at, \
     r.expires_at, r.state, r.rotated_at, r.replaced_by, s.current_refresh_hash, s.revoked_at \
     FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id";

/// A refresh token with its state as the caller must see it: a token of a revoked session is
/// `Revoked` whatever its own row says.
pub(crate) fn refresh_row(row: &impl Columns) -> Result<StoredRefresh, StoreError> {
    let session_revoked = row.opt_int("revoked_at")?.is_some();
    let state = match row.text("state")?.as_str() {
        "active" | "rotated" | "revoked" if session_revoked => RefreshState::Revoked,
        "revoked" => RefreshState::Revoked,
        "active" => RefreshState::Active,
        "rotated" => RefreshState::Rotated {
            at: row
                .opt_int("rotated_at")?
                .ok_or_else(|| StoreError::internal_because("rotated token without rotated_at"))?,
        },
        other => {
            return Err(StoreError::internal_because(format!(
                "unknown refresh token state {other:?}"
            )));
        }
    };
    let replaced_by = opt_hash(row, "replaced_by")?;
    let current = opt_hash(row, "current_refresh_hash")?;
    Ok(StoredRefresh {
        record: RefreshRecord {
            token_hash: opt_hash(row, "token_hash")?
                .ok_or_else(|| StoreError::internal_because("refresh token without hash"))?,
            jti: row.text("jti")?,
            session_id: SessionId(row.text("session_id")?),
            issued_at: row.int("issued_at")?,
            expires_at: row.int("expires_at")?,
        },
        successor_is_current: matches!(state, RefreshState::Rotated { .. })
            && replaced_by.is_some()
            && replaced_by == current,
        replaced_by,
        state,
    })
}

pub(crate) const CLIENT_COLUMNS: &str = "id, name, secret_hash, scopes, grants, created_at";

pub(crate) fn client_row(row: &impl Columns) -> Result<Client, StoreError> {
    Ok(Client {
        id: row.text("id")?,
        name: row.text("name")?,
        secret_hash: opt_hash(row, "secret_hash")?
            .ok_or_else(|| StoreError::internal_because("client without a secret hash"))?,
        scopes: json_column(row, "scopes")?,
        grants: json_column(row, "grants")?,
        created_at: row.int("created_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds() -> Vec<RevocationKind> {
        vec![
            RevocationKind::Session(SessionId("0123abcd".into())),
            RevocationKind::UserTokensBefore {
                user: UserId(7),
                before: 1_700_000_000,
            },
            RevocationKind::UserDisabled(UserId(1)),
            RevocationKind::UserEnabled(UserId(2)),
            RevocationKind::UserDeleted(UserId(i64::MAX)),
        ]
    }

    #[test]
    fn revocation_kinds_round_trip_through_their_rows() {
        for kind in kinds() {
            let (name, subject, before) = kind_row(&kind);
            assert_eq!(row_kind(name, subject, before).unwrap(), kind);
        }
    }

    #[test]
    fn malformed_revocation_rows_are_internal_errors() {
        for (kind, subject, before) in [
            ("user_deleted", "bob", None),
            ("user_tokens_before", "1", None),
            ("sessions", "abc", None),
        ] {
            assert!(
                matches!(
                    row_kind(kind, subject.into(), before),
                    Err(StoreError::Internal { .. })
                ),
                "{kind} {subject}"
            );
        }
    }

    #[test]
    fn driver_errors_map_by_cause() {
        for unavailable in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::Io(std::io::ErrorKind::BrokenPipe.into()),
            sqlx::Error::Protocol("unexpected EOF".into()),
        ] {
            assert!(
                matches!(db_error(unavailable), StoreError::Unavailable { .. }),
                "unavailable"
            );
        }
        assert!(matches!(
            db_error(sqlx::Error::RowNotFound),
            StoreError::Internal { .. }
        ));
        assert!(matches!(
            db_error(sqlx::Error::ColumnNotFound("x".into())),
            StoreError::Internal { .. }
        ));
    }

    #[test]
    fn busy_and_io_codes_are_unavailable_and_constraint_codes_are_not() {
        // SQLITE_BUSY, SQLITE_BUSY_SNAPSHOT, SQLITE_LOCKED, SQLITE_IOERR_FSYNC, SQLITE_FULL.
        for code in ["5", "517", "6", "1034", "13"] {
            assert!(is_unavailable_sqlite_code(code), "{code}");
        }
        // SQLITE_ERROR, SQLITE_CORRUPT, SQLITE_CONSTRAINT_FOREIGNKEY, garbage.
        for code in ["1", "11", "787", "busy"] {
            assert!(!is_unavailable_sqlite_code(code), "{code}");
        }
    }

    #[test]
    fn outage_sqlstates_are_unavailable_and_mistakes_are_not() {
        // connection failure, too many connections, admin shutdown, cannot connect now,
        // statement timeout.
        for code in ["08006", "53300", "57P01", "57P03", "57014"] {
            assert!(is_unavailable_sqlstate(code), "{code}");
        }
        // unique violation, syntax error, undefined table, foreign key violation.
        for code in ["23505", "42601", "42P01", "23503"] {
            assert!(!is_unavailable_sqlstate(code), "{code}");
        }
    }
}
