//! The SQLite backend.

use std::path::Path;
use std::str::FromStr as _;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row as _, Sqlite};
use tessera_auth::ids::{SessionId, UserId};
use tessera_auth::store::{
    FlushStats, KeyStore, NewUser, RefreshRecord, RefreshState, Revocation, RevocationKind,
    RotateOutcome, Session, SessionStore, Store, StoreError, StoredKey, StoredRefresh, User,
    UserStore,
};

/// Tunables of the SQLite backend.
#[derive(Clone, Debug)]
pub struct SqliteOptions {
    /// Connections in the pool (default 8; SQLite serializes writers anyway).
    pub max_connections: u32,
    /// How long a writer waits for another one (another instance or the CLI) (default 5 s).
    pub busy_timeout: Duration,
    /// How long a caller waits for a pooled connection before getting `Unavailable` (default 5 s).
    pub acquire_timeout: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            max_connections: 8,
            busy_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// A store in one SQLite file.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
}

/// The one place where driver errors become [`StoreError`]s.
fn db_error(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(db.message().to_owned())
        }
        // SQLITE_BUSY / SQLITE_LOCKED: another writer held the file past the busy timeout.
        sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("5" | "6" | "517")) => {
            StoreError::Unavailable(error.to_string())
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(error.to_string()),
        _ => StoreError::Internal(error.to_string()),
    }
}

fn kind_row(kind: &RevocationKind) -> (&'static str, String, Option<i64>) {
    match kind {
        RevocationKind::Session(sid) => ("session", sid.0.clone(), None),
        RevocationKind::UserTokensBefore { user, before } => {
            ("user_tokens_before", user.0.to_string(), Some(*before))
        }
        RevocationKind::UserDisabled(user) => ("user_disabled", user.0.to_string(), None),
        RevocationKind::UserEnabled(user) => ("user_enabled", user.0.to_string(), None),
        RevocationKind::UserDeleted(user) => ("user_deleted", user.0.to_string(), None),
    }
}

fn row_kind(
    kind: &str,
    subject: String,
    before: Option<i64>,
) -> Result<RevocationKind, StoreError> {
    let user = || {
        subject
            .parse::<i64>()
            .map(UserId)
            .map_err(|_| StoreError::Internal(format!("bad revocation subject {subject:?}")))
    };
    Ok(match kind {
        "session" => RevocationKind::Session(SessionId(subject.clone())),
        "user_tokens_before" => RevocationKind::UserTokensBefore {
            user: user()?,
            before: before.unwrap_or(i64::MIN),
        },
        "user_disabled" => RevocationKind::UserDisabled(user()?),
        "user_enabled" => RevocationKind::UserEnabled(user()?),
        "user_deleted" => RevocationKind::UserDeleted(user()?),
        other => {
            return Err(StoreError::Internal(format!(
                "unknown revocation kind {other:?}"
            )));
        }
    })
}

fn json_column<T: serde::de::DeserializeOwned>(
    row: &SqliteRow,
    column: &str,
) -> Result<T, StoreError> {
    let text: String = row.try_get(column).map_err(db_error)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Internal(format!("column {column}: {e}")))
}

fn json_text<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Internal(e.to_string()))
}

const USER_COLUMNS: &str = "id, username, password_hash, is_active, created_at, roles, claims";

fn user_row(row: &SqliteRow) -> Result<User, StoreError> {
    Ok(User {
        roles: json_column(row, "roles")?,
        claims: json_column(row, "claims")?,
        id: UserId(row.try_get("id").map_err(db_error)?),
        username: row.try_get("username").map_err(db_error)?,
        password_hash: row.try_get("password_hash").map_err(db_error)?,
        is_active: row.try_get("is_active").map_err(db_error)?,
        created_at: row.try_get("created_at").map_err(db_error)?,
    })
}

fn session_row(row: &SqliteRow) -> Result<Session, StoreError> {
    Ok(Session {
        id: SessionId(row.try_get("id").map_err(db_error)?),
        user_id: UserId(row.try_get("user_id").map_err(db_error)?),
        created_at: row.try_get("created_at").map_err(db_error)?,
        last_used_at: row.try_get("last_used_at").map_err(db_error)?,
        expires_at: row.try_get("expires_at").map_err(db_error)?,
        user_agent: row.try_get("user_agent").map_err(db_error)?,
        ip: row.try_get("ip").map_err(db_error)?,
        revoked_at: row.try_get("revoked_at").map_err(db_error)?,
    })
}

fn hash_of(bytes: Vec<u8>) -> Result<[u8; 32], StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Internal("stored token hash is not 32 bytes".into()))
}

const SESSION_COLUMNS: &str =
    "id, user_id, created_at, last_used_at, expires_at, user_agent, ip, revoked_at";

impl SqliteStore {
    /// Opens (creating and migrating if needed) the database file at `path`.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(path, &SqliteOptions::default()).await
    }

    /// Opens a `sqlite://PATH` URL.
    pub async fn open_url(url: &str) -> Result<SqliteStore, StoreError> {
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| StoreError::Internal(format!("not a sqlite URL: {url}")))?;
        SqliteStore::open(Path::new(path)).await
    }

    /// Opens with explicit options.
    pub async fn open_with(
        path: &Path,
        options: &SqliteOptions,
    ) -> Result<SqliteStore, StoreError> {
        create_private_file(path)?;
        let connect = SqliteConnectOptions::from_str("sqlite:")
            .map_err(db_error)?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(options.busy_timeout);
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await
            .map_err(db_error)?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Internal(format!("migration failed: {e}")))?;
        Ok(SqliteStore { pool })
    }

    async fn log(
        tx: &mut sqlx::Transaction<'_, Sqlite>,
        kind: &RevocationKind,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let (kind, subject, before) = kind_row(kind);
        sqlx::query(
            "INSERT INTO revocations (kind, subject, before_ts, expires_at) VALUES (?, ?, ?, ?)",
        )
        .bind(kind)
        .bind(subject)
        .bind(before)
        .bind(expires_at)
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    /// Marks `ids` revoked (only those still active) with their refresh tokens, and logs each.
    async fn revoke_in(
        tx: &mut sqlx::Transaction<'_, Sqlite>,
        ids: Vec<String>,
        now: i64,
        log_expires_at: i64,
    ) -> Result<Vec<SessionId>, StoreError> {
        let mut revoked = Vec::new();
        for id in ids {
            let changed = sqlx::query(
                "UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(&id)
            .execute(&mut **tx)
            .await
            .map_err(db_error)?
            .rows_affected();
            if changed == 0 {
                continue;
            }
            sqlx::query("UPDATE refresh_tokens SET state = 'revoked' WHERE session_id = ? AND state = 'active'")
                .bind(&id)
                .execute(&mut **tx)
                .await
                .map_err(db_error)?;
            let sid = SessionId(id);
            SqliteStore::log(tx, &RevocationKind::Session(sid.clone()), log_expires_at).await?;
            revoked.push(sid);
        }
        Ok(revoked)
    }
}

/// Creates the database file readable by its owner only, before SQLite opens it: it holds private
/// keys and password hashes.
fn create_private_file(path: &Path) -> Result<(), StoreError> {
    let io = |e: std::io::Error| StoreError::Unavailable(format!("{}: {e}", path.display()));
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        options.mode(0o600);
        options.open(path).map_err(io)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    #[cfg(not(unix))]
    options.open(path).map_err(io)?;
    Ok(())
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_user(&self, user: &NewUser, now: i64) -> Result<User, StoreError> {
        let row = sqlx::query(&format!(
            "INSERT INTO users (username, password_hash, is_active, created_at, roles, claims) \
             VALUES (?, ?, ?, ?, ?, ?) RETURNING {USER_COLUMNS}"
        ))
        .bind(&user.username)
        .bind(&user.password_hash)
        .bind(user.is_active)
        .bind(now)
        .bind(json_text(&user.roles)?)
        .bind(json_text(&user.claims)?)
        .fetch_one(&self.pool)
        .await
        .map_err(db_error)?;
        user_row(&row)
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError> {
        sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE username = ?"
        ))
        .bind(username)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(user_row)
        .transpose()
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?"))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?
            .as_ref()
            .map(user_row)
            .transpose()
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY id"))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?
            .iter()
            .map(user_row)
            .collect()
    }

    async fn users_page(&self, limit: u64, offset: u64) -> Result<(u64, Vec<User>), StoreError> {
        let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM users")
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)?
            .try_get("n")
            .map_err(db_error)?;
        let users = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY id LIMIT ? OFFSET ?"
        ))
        .bind(as_i64(limit))
        .bind(as_i64(offset))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(user_row)
        .collect::<Result<Vec<_>, _>>()?;
        Ok((u64::try_from(count).unwrap_or(0), users))
    }

    async fn set_roles_and_claims(
        &self,
        id: UserId,
        roles: Option<&[String]>,
        claims: Option<&serde_json::Map<String, serde_json::Value>>,
    ) -> Result<bool, StoreError> {
        let roles = roles.map(json_text).transpose()?;
        let claims = claims.map(json_text).transpose()?;
        let changed = sqlx::query(
            "UPDATE users SET roles = COALESCE(?, roles), claims = COALESCE(?, claims) WHERE id = ?",
        )
        .bind(roles)
        .bind(claims)
        .bind(id.0)
        .execute(&self.pool)
        .await
        .map_err(db_error)?
        .rows_affected();
        Ok(changed == 1)
    }

    async fn inactive_user_ids(&self) -> Result<Vec<UserId>, StoreError> {
        let rows = sqlx::query("SELECT id FROM users WHERE is_active = 0 ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter()
            .map(|row| row.try_get("id").map(UserId).map_err(db_error))
            .collect()
    }

    async fn set_user_active(
        &self,
        id: UserId,
        active: bool,
        log_expires_at: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let changed = sqlx::query("UPDATE users SET is_active = ? WHERE id = ?")
            .bind(active)
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        let kind = if active {
            RevocationKind::UserEnabled(id)
        } else {
            RevocationKind::UserDisabled(id)
        };
        SqliteStore::log(&mut tx, &kind, log_expires_at).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    async fn set_password_hash(&self, id: UserId, password_hash: &str) -> Result<bool, StoreError> {
        let changed = sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
            .bind(password_hash)
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(db_error)?
            .rows_affected();
        Ok(changed == 1)
    }

    async fn delete_user(&self, id: UserId, log_expires_at: i64) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let changed = sqlx::query("DELETE FROM users WHERE id = ?")
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        SqliteStore::log(&mut tx, &RevocationKind::UserDeleted(id), log_expires_at).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create_session(
        &self,
        session: &Session,
        first: &RefreshRecord,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        sqlx::query(
            "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip, revoked_at, current_refresh_hash) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&session.id.0)
        .bind(session.user_id.0)
        .bind(session.created_at)
        .bind(session.last_used_at)
        .bind(session.expires_at)
        .bind(&session.user_agent)
        .bind(&session.ip)
        .bind(session.revoked_at)
        .bind(&first.token_hash[..])
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        insert_refresh(&mut tx, first).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn session(&self, id: &SessionId) -> Result<Option<Session>, StoreError> {
        sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?"
        ))
        .bind(&id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(session_row)
        .transpose()
    }

    async fn active_sessions(&self, user: UserId, now: i64) -> Result<Vec<Session>, StoreError> {
        sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? \
             ORDER BY created_at, id"
        ))
        .bind(user.0)
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(session_row)
        .collect()
    }

    async fn refresh_token(
        &self,
        token_hash: &[u8; 32],
    ) -> Result<Option<StoredRefresh>, StoreError> {
        let row = sqlx::query(
            "SELECT r.token_hash, r.jti, r.session_id, r.issued_at, r.expires_at, r.state, r.rotated_at, \
                    r.replaced_by, s.current_refresh_hash, s.revoked_at \
             FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id WHERE r.token_hash = ?",
        )
        .bind(&token_hash[..])
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let state: String = row.try_get("state").map_err(db_error)?;
        let session_revoked: Option<i64> = row.try_get("revoked_at").map_err(db_error)?;
        let replaced_by: Option<Vec<u8>> = row.try_get("replaced_by").map_err(db_error)?;
        let current: Option<Vec<u8>> = row.try_get("current_refresh_hash").map_err(db_error)?;
        let state = match (state.as_str(), session_revoked) {
            (_, Some(_)) | ("revoked", _) => RefreshState::Revoked,
            ("rotated", None) => RefreshState::Rotated {
                at: row
                    .try_get::<Option<i64>, _>("rotated_at")
                    .map_err(db_error)?
                    .unwrap_or(0),
            },
            _ => RefreshState::Active,
        };
        Ok(Some(StoredRefresh {
            record: RefreshRecord {
                token_hash: hash_of(row.try_get("token_hash").map_err(db_error)?)?,
                jti: row.try_get("jti").map_err(db_error)?,
                session_id: SessionId(row.try_get("session_id").map_err(db_error)?),
                issued_at: row.try_get("issued_at").map_err(db_error)?,
                expires_at: row.try_get("expires_at").map_err(db_error)?,
            },
            successor_is_current: matches!(state, RefreshState::Rotated { .. })
                && replaced_by.is_some()
                && replaced_by == current,
            replaced_by: replaced_by.map(hash_of).transpose()?,
            state,
        }))
    }

    async fn rotate_refresh(
        &self,
        old_hash: &[u8; 32],
        new: &RefreshRecord,
        now: i64,
    ) -> Result<RotateOutcome, StoreError> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        // Write first, so the transaction takes the write lock at once and concurrent rotations of
        // one token serialize on it: only the first finds the row still active.
        let changed = sqlx::query(
            "UPDATE refresh_tokens SET state = 'rotated', rotated_at = ?, replaced_by = ? \
             WHERE token_hash = ? AND state = 'active' AND session_id = ? AND EXISTS \
             (SELECT 1 FROM sessions s WHERE s.id = refresh_tokens.session_id AND s.revoked_at IS NULL AND s.expires_at > ?)",
        )
        .bind(now)
        .bind(&new.token_hash[..])
        .bind(&old_hash[..])
        .bind(&new.session_id.0)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if changed == 0 {
            tx.rollback().await.map_err(db_error)?;
            return Ok(RotateOutcome::NotActive(
                self.refresh_token(old_hash).await?,
            ));
        }
        insert_refresh(&mut tx, new).await?;
        sqlx::query("UPDATE sessions SET current_refresh_hash = ?, last_used_at = ? WHERE id = ?")
            .bind(&new.token_hash[..])
            .bind(now)
            .bind(&new.session_id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(RotateOutcome::Rotated)
    }

    async fn add_refresh(&self, new: &RefreshRecord, now: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        insert_refresh(&mut tx, new).await?;
        sqlx::query("UPDATE sessions SET current_refresh_hash = ?, last_used_at = ? WHERE id = ?")
            .bind(&new.token_hash[..])
            .bind(now)
            .bind(&new.session_id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)
    }

    async fn revoke_sessions(
        &self,
        ids: &[SessionId],
        now: i64,
        log_expires_at: i64,
    ) -> Result<Vec<SessionId>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let revoked = SqliteStore::revoke_in(
            &mut tx,
            ids.iter().map(|s| s.0.clone()).collect(),
            now,
            log_expires_at,
        )
        .await?;
        tx.commit().await.map_err(db_error)?;
        Ok(revoked)
    }

    async fn revoke_user_sessions(
        &self,
        user: UserId,
        keep: Option<&SessionId>,
        now: i64,
        log_expires_at: i64,
    ) -> Result<Vec<SessionId>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        // Take the write lock first (see `rotate_refresh`).
        SqliteStore::log(
            &mut tx,
            &RevocationKind::UserTokensBefore { user, before: now },
            log_expires_at,
        )
        .await?;
        let rows = sqlx::query(
            "SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND id != ?",
        )
        .bind(user.0)
        .bind(keep.map(|k| k.0.as_str()).unwrap_or(""))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        let ids = rows
            .iter()
            .map(|row| row.try_get::<String, _>("id").map_err(db_error))
            .collect::<Result<Vec<_>, _>>()?;
        let revoked = SqliteStore::revoke_in(&mut tx, ids, now, log_expires_at).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(revoked)
    }

    async fn revocations_since(
        &self,
        after_id: i64,
        now: i64,
    ) -> Result<Vec<Revocation>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, kind, subject, before_ts, expires_at FROM revocations WHERE id > ? AND expires_at > ? ORDER BY id",
        )
        .bind(after_id)
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|row| {
                Ok(Revocation {
                    id: row.try_get("id").map_err(db_error)?,
                    kind: row_kind(
                        &row.try_get::<String, _>("kind").map_err(db_error)?,
                        row.try_get("subject").map_err(db_error)?,
                        row.try_get("before_ts").map_err(db_error)?,
                    )?,
                    expires_at: row.try_get("expires_at").map_err(db_error)?,
                })
            })
            .collect()
    }

    async fn flush_expired(&self, now: i64) -> Result<FlushStats, StoreError> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let mut run = async |sql: &str| -> Result<u64, StoreError> {
            Ok(sqlx::query(sql)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?
                .rows_affected())
        };
        let refresh_tokens = run("DELETE FROM refresh_tokens WHERE expires_at <= ?").await?;
        let sessions = run(
            "DELETE FROM sessions WHERE expires_at <= ?1 OR (revoked_at IS NOT NULL AND revoked_at <= ?1 \
             AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.session_id = sessions.id))",
        )
        .await?;
        let revocations = run("DELETE FROM revocations WHERE expires_at <= ?").await?;
        let keys = run("DELETE FROM signing_keys WHERE expires_at IS NOT NULL AND expires_at <= ?")
            .await?;
        tx.commit().await.map_err(db_error)?;
        Ok(FlushStats {
            refresh_tokens,
            sessions,
            revocations,
            keys,
        })
    }
}

async fn insert_refresh(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    record: &RefreshRecord,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, jti, session_id, issued_at, expires_at, state) VALUES (?, ?, ?, ?, ?, 'active')",
    )
    .bind(&record.token_hash[..])
    .bind(&record.jti)
    .bind(&record.session_id.0)
    .bind(record.issued_at)
    .bind(record.expires_at)
    .execute(&mut **tx)
    .await
    .map_err(db_error)?;
    Ok(())
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        let rows = sqlx::query(
            "SELECT kid, alg, private_jwk, created_at, retired_at, expires_at FROM signing_keys ORDER BY created_at, rowid",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|row| {
                Ok(StoredKey {
                    kid: row.try_get("kid").map_err(db_error)?,
                    alg: row.try_get("alg").map_err(db_error)?,
                    private_jwk: row.try_get("private_jwk").map_err(db_error)?,
                    created_at: row.try_get("created_at").map_err(db_error)?,
                    retired_at: row.try_get("retired_at").map_err(db_error)?,
                    expires_at: row.try_get("expires_at").map_err(db_error)?,
                })
            })
            .collect()
    }

    async fn rotate_in(
        &self,
        key: &StoredKey,
        retired_keys_expire_at: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        sqlx::query(
            "UPDATE signing_keys SET retired_at = ?, expires_at = ? WHERE retired_at IS NULL",
        )
        .bind(key.created_at)
        .bind(retired_keys_expire_at)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, private_jwk, created_at, retired_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&key.kid)
        .bind(&key.alg)
        .bind(&key.private_jwk)
        .bind(key.created_at)
        .bind(key.retired_at)
        .bind(key.expires_at)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }
}
