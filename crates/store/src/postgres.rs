//! The PostgreSQL backend: the system of record when several instances share state.
//!
//! Concurrency comes from PostgreSQL's row locks under READ COMMITTED: a rotation is one
//! conditional `UPDATE ... WHERE state = 'active'`, so of two instances rotating one token the
//! second waits for the first's row lock, re-checks the condition on the committed row and
//! changes nothing. The revocation log is appended under a transaction-level advisory lock, so
//! log ids become visible in id order and a reader that has seen id N has seen everything before
//! it (identity values are otherwise handed out before commit and may commit out of order).
//! Every log append also `NOTIFY`s [`REVOCATION_CHANNEL`] inside its transaction: listeners hear
//! it exactly when the entry is committed, whichever process (server or CLI) wrote it.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use sqlx::{PgConnection, PgExecutor, Postgres, Row as _, Transaction};
use tessera_auth::audit::{AuditEvent, AuditFilter, AuditRecord, about_new_user};
use tessera_auth::ids::{SessionId, UserId};
use tessera_auth::store::{
    AuditStore, Client, ClientStore, FlushStats, ImportedUser, KeyInfo, KeyStore, NewUser,
    PoolConnections, PrivateJwk, RefreshRecord, RefreshState, Revocation, RevocationBus,
    RevocationKind, RotateOutcome, Session, SessionStore, Store, StoreError, StoredRefresh, User,
    UserStore,
};

use crate::rows::{
    AuditValues, CLIENT_COLUMNS, Columns as _, DELETE_AUDIT_BEFORE, DJANGO_IMPORTS, INSERT_AUDIT,
    KEY_COLUMNS, RECORD_DJANGO_IMPORT, REFRESH_SELECT, REVOCATION_COLUMNS, SESSION_COLUMNS,
    USER_COLUMNS, audit_events, bind_audit, client_row, db_error, django_import_row, json_text,
    key_row, kind_row, refresh_row, revocation_row, session_row, upsert_imported_user_sql,
    user_row,
};

/// The `LISTEN`/`NOTIFY` channel announcing new revocation log entries.
pub const REVOCATION_CHANNEL: &str = "tessera_revocations";

/// Key of the advisory lock that orders revocation log appends (any constant unique to Tessera).
const LOG_LOCK: i64 = 0x7e55_e7a0_0000_0001;

/// Tunables of the PostgreSQL backend.
#[derive(Clone, Debug)]
pub struct PostgresOptions {
    /// Connections in the pool (default 16).
    pub max_connections: u32,
    /// How long a call waits for a connection, including connecting to a server that is down or
    /// restarting, before failing with [`StoreError::Unavailable`] (default 3 s).
    pub acquire_timeout: Duration,
    /// Longest a statement may run on the server (`statement_timeout`, default 5 s).
    pub statement_timeout: Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(3),
            statement_timeout: Duration::from_secs(5),
        }
    }
}

/// A store in a PostgreSQL database shared by any number of instances.
///
/// Cloning is cheap and shares the connection pool.
#[derive(Clone, Debug)]
pub struct PostgresStore {
    pool: PgPool,
}

fn migrator() -> sqlx::migrate::Migrator {
    sqlx::migrate!("./migrations/postgres")
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user@host:port/database`). Does not migrate: call
    /// [`PostgresStore::migrate`] (what `tessera migrate` and `serve` do) or
    /// [`PostgresStore::check_schema`].
    pub async fn connect(
        url: &str,
        options: &PostgresOptions,
    ) -> Result<PostgresStore, StoreError> {
        let connect: PgConnectOptions = url
            .parse()
            .map_err(|e| StoreError::internal_because(format!("database URL: {e}")))?;
        let timeout_ms = options.statement_timeout.as_millis().to_string();
        let connect = connect
            .application_name("tessera")
            .options([("statement_timeout", timeout_ms.as_str())]);
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await
            .map_err(db_error)?;
        Ok(PostgresStore { pool })
    }

    /// Applies pending migrations; returns how many were applied. Safe to run from several
    /// instances at once (sqlx takes an advisory lock).
    pub async fn migrate(&self) -> Result<usize, StoreError> {
        let before = self.applied_versions().await?;
        migrator().run(&self.pool).await.map_err(migrate_error)?;
        Ok(self.applied_versions().await?.saturating_sub(before))
    }

    /// Fails with a clear message unless every migration this build knows is applied.
    pub async fn check_schema(&self) -> Result<(), StoreError> {
        let known = migrator().iter().count();
        let applied = self.applied_versions().await?;
        if applied < known {
            return Err(StoreError::internal_because(format!(
                "the database schema is not up to date ({applied} of {known} migrations applied): \
                 run `tessera migrate`"
            )));
        }
        Ok(())
    }

    async fn applied_versions(&self) -> Result<usize, StoreError> {
        let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)?;
        if !exists {
            return Ok(0);
        }
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(usize::try_from(count).unwrap_or(0))
    }

    /// Closes every connection. Later calls fail with [`StoreError::Unavailable`].
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A listener for [`REVOCATION_CHANNEL`] on a connection of its own.
    pub async fn revocation_listener(&self) -> Result<PgListener, StoreError> {
        let mut listener = PgListener::connect_with(&self.pool)
            .await
            .map_err(db_error)?;
        listener
            .listen(REVOCATION_CHANNEL)
            .await
            .map_err(db_error)?;
        Ok(listener)
    }

    async fn write(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool.begin().await.map_err(db_error)
    }

    /// A write transaction that may append to the revocation log. It takes the log's advisory lock
    /// first, held until it ends: no other append can take an id and commit around ours (ids
    /// become visible in order), and since it is every such transaction's first lock, lock-order
    /// cycles (deadlocks) between them cannot form.
    async fn log_writer(&self) -> Result<LogTx, StoreError> {
        let mut tx = self.write().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(LOG_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        Ok(LogTx(tx))
    }
}

/// A transaction holding the revocation log's lock: the only kind [`log`] accepts.
struct LogTx(Transaction<'static, Postgres>);

impl LogTx {
    async fn commit(self) -> Result<(), StoreError> {
        self.0.commit().await.map_err(db_error)
    }
}

impl std::ops::Deref for LogTx {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.0
    }
}

impl std::ops::DerefMut for LogTx {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.0
    }
}

/// Writes audit events inside the transaction of the change they record.
async fn record(conn: &mut PgConnection, audit: &[AuditEvent]) -> Result<(), StoreError> {
    for event in audit {
        let values = AuditValues::of(event)?;
        bind_audit(sqlx::query(INSERT_AUDIT), &values)
            .execute(&mut *conn)
            .await
            .map_err(db_error)?;
    }
    Ok(())
}

fn migrate_error(error: sqlx::migrate::MigrateError) -> StoreError {
    match error {
        sqlx::migrate::MigrateError::Execute(error)
        | sqlx::migrate::MigrateError::ExecuteMigration(error, _) => db_error(error),
        // Typically a database written by a newer Tessera than this one.
        other => StoreError::internal_because(format!("migrating the database: {other}")),
    }
}

async fn stored_refresh<'e>(
    executor: impl PgExecutor<'e>,
    token_hash: &[u8; 32],
) -> Result<Option<StoredRefresh>, StoreError> {
    sqlx::query(&format!("{REFRESH_SELECT} WHERE r.token_hash = $1"))
        .bind(&token_hash[..])
        .fetch_optional(executor)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(refresh_row)
        .transpose()
}

async fn insert_refresh(
    tx: &mut Transaction<'_, Postgres>,
    record: &RefreshRecord,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, jti, session_id, issued_at, expires_at, state) \
         VALUES ($1, $2, $3, $4, $5, 'active')",
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

async fn make_current(
    tx: &mut Transaction<'_, Postgres>,
    record: &RefreshRecord,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE sessions SET current_refresh_hash = $1, last_used_at = $2 WHERE id = $3")
        .bind(&record.token_hash[..])
        .bind(now)
        .bind(&record.session_id.0)
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Appends to the revocation log and announces it on commit. Only in a transaction from
/// [`PostgresStore::log_writer`], which holds the log lock.
async fn log(tx: &mut LogTx, kind: &RevocationKind, expires_at: i64) -> Result<(), StoreError> {
    let (kind, subject, before) = kind_row(kind);
    sqlx::query(
        "INSERT INTO revocations (kind, subject, before_ts, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(kind)
    .bind(subject)
    .bind(before)
    .bind(expires_at)
    .execute(&mut **tx)
    .await
    .map_err(db_error)?;
    notify(tx).await
}

/// Announces a change of shared state on [`REVOCATION_CHANNEL`]: delivered when (and only if) the
/// transaction commits; repeats within one transaction are folded into one.
async fn notify(connection: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(REVOCATION_CHANNEL)
        .execute(connection)
        .await
        .map_err(db_error)?;
    Ok(())
}

async fn revoke_in(
    tx: &mut LogTx,
    ids: Vec<String>,
    now: i64,
    log_expires_at: i64,
) -> Result<Vec<SessionId>, StoreError> {
    let mut revoked = Vec::new();
    for id in ids {
        let changed =
            sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(&id)
                .execute(&mut **tx)
                .await
                .map_err(db_error)?
                .rows_affected();
        if changed == 0 {
            continue;
        }
        sqlx::query(
            "UPDATE refresh_tokens SET state = 'revoked' \
             WHERE session_id = $1 AND state = 'active'",
        )
        .bind(&id)
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
        let sid = SessionId(id);
        log(tx, &RevocationKind::Session(sid.clone()), log_expires_at).await?;
        revoked.push(sid);
    }
    Ok(revoked)
}

#[async_trait]
impl UserStore for PostgresStore {
    async fn create_user(
        &self,
        user: &NewUser,
        now: i64,
        audit: &[AuditEvent],
    ) -> Result<User, StoreError> {
        let mut tx = self.write().await?;
        let row = sqlx::query(&format!(
            "INSERT INTO users (username, password_hash, is_active, created_at, roles, claims) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {USER_COLUMNS}"
        ))
        .bind(&user.username)
        .bind(&user.password_hash)
        .bind(user.is_active)
        .bind(now)
        .bind(json_text(&user.roles)?)
        .bind(json_text(&user.claims)?)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        let created = user_row(&row)?;
        let audit = about_new_user(audit, created.id, &created.username);
        record(&mut tx, &audit).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(created)
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError> {
        sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE username = $1"
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
        sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
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
        // One statement, so the count and the page come from the same snapshot.
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS}, COUNT(*) OVER () AS total FROM users \
             ORDER BY id LIMIT $1 OFFSET $2"
        ))
        .bind(as_i64(limit))
        .bind(as_i64(offset))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        let total = match rows.first() {
            Some(row) => row.try_get::<i64, _>("total").map_err(db_error)?,
            // Past the end (or an empty table): count separately.
            None => sqlx::query_scalar("SELECT COUNT(*) FROM users")
                .fetch_one(&self.pool)
                .await
                .map_err(db_error)?,
        };
        let users = rows.iter().map(user_row).collect::<Result<Vec<_>, _>>()?;
        Ok((u64::try_from(total).unwrap_or(0), users))
    }

    async fn set_roles_and_claims(
        &self,
        id: UserId,
        roles: Option<&[String]>,
        claims: Option<&serde_json::Map<String, serde_json::Value>>,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        let roles = roles.map(json_text).transpose()?;
        let claims = claims.map(json_text).transpose()?;
        let mut tx = self.write().await?;
        let changed = sqlx::query(
            "UPDATE users SET roles = COALESCE($1, roles), claims = COALESCE($2, claims) \
             WHERE id = $3",
        )
        .bind(roles)
        .bind(claims)
        .bind(id.0)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if changed != 1 {
            return Ok(false);
        }
        record(&mut tx, audit).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    async fn inactive_user_ids(&self) -> Result<Vec<UserId>, StoreError> {
        let ids: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM users WHERE NOT is_active ORDER BY id")
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?;
        Ok(ids.into_iter().map(UserId).collect())
    }

    async fn set_user_active(
        &self,
        id: UserId,
        active: bool,
        log_expires_at: i64,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        let mut tx = self.log_writer().await?;
        let changed = sqlx::query("UPDATE users SET is_active = $1 WHERE id = $2")
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
        log(&mut tx, &kind, log_expires_at).await?;
        record(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn set_password_hash(
        &self,
        id: UserId,
        password_hash: &str,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let changed = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        if changed != 1 {
            return Ok(false);
        }
        record(&mut tx, audit).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    async fn upgrade_password_hash(
        &self,
        id: UserId,
        expected: &str,
        password_hash: &str,
    ) -> Result<bool, StoreError> {
        let changed =
            sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3")
                .bind(password_hash)
                .bind(id.0)
                .bind(expected)
                .execute(&self.pool)
                .await
                .map_err(db_error)?
                .rows_affected();
        Ok(changed == 1)
    }

    async fn delete_user(
        &self,
        id: UserId,
        log_expires_at: i64,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        let mut tx = self.log_writer().await?;
        // Sessions and their refresh tokens go by ON DELETE CASCADE.
        let changed = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        log(&mut tx, &RevocationKind::UserDeleted(id), log_expires_at).await?;
        record(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn record_login(&self, id: UserId, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET last_login = $1 WHERE id = $2")
            .bind(now)
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn django_imports(&self) -> Result<Vec<(UserId, [u8; 32])>, StoreError> {
        sqlx::query(DJANGO_IMPORTS)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?
            .iter()
            .map(django_import_row)
            .collect()
    }

    async fn save_imported_user(
        &self,
        user: &ImportedUser,
        now: i64,
        audit: &[AuditEvent],
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query(&upsert_imported_user_sql("OVERRIDING SYSTEM VALUE"))
            .bind(user.id.0)
            .bind(&user.username)
            .bind(user.password.as_ref().map(|p| p.hash.as_str()))
            .bind(user.is_active)
            .bind(now)
            .bind(json_text(&user.roles)?)
            .bind(json_text(&user.claims)?)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        // Later ids continue after the highest imported one, and never go back.
        sqlx::query(
            "SELECT setval(pg_get_serial_sequence('users', 'id'), \
             GREATEST($1, COALESCE(pg_sequence_last_value(pg_get_serial_sequence('users', 'id')), 0)))",
        )
        .bind(user.id.0)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        if let Some(password) = &user.password {
            sqlx::query(RECORD_DJANGO_IMPORT)
                .bind(user.id.0)
                .bind(password.source_digest.as_slice())
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        record(&mut tx, audit).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(())
    }
}

#[async_trait]
impl SessionStore for PostgresStore {
    async fn create_session(
        &self,
        session: &Session,
        first: Option<&RefreshRecord>,
        audit: &[AuditEvent],
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, \
                                   ip, revoked_at, current_refresh_hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&session.id.0)
        .bind(session.user_id.0)
        .bind(session.created_at)
        .bind(session.last_used_at)
        .bind(session.expires_at)
        .bind(&session.user_agent)
        .bind(&session.ip)
        .bind(session.revoked_at)
        .bind(first.map(|first| &first.token_hash[..]))
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        if let Some(first) = first {
            insert_refresh(&mut tx, first).await?;
        }
        record(&mut tx, audit).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn session(&self, id: &SessionId) -> Result<Option<Session>, StoreError> {
        sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1"
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
            "SELECT {SESSION_COLUMNS} FROM sessions \
             WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
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
        stored_refresh(&self.pool, token_hash).await
    }

    /// Also refuses (with the token as stored) when the session is revoked or past its absolute
    /// expiry, and fails with [`StoreError::Internal`] when `new` belongs to another session than
    /// the active `old_hash`: that is a bug in the caller.
    async fn rotate_refresh(
        &self,
        old_hash: &[u8; 32],
        new: &RefreshRecord,
        now: i64,
        audit: &[AuditEvent],
    ) -> Result<RotateOutcome, StoreError> {
        // One statement, one round trip: retire the old token if it is active (and its session
        // neither revoked nor ended), and only then insert the new one and make it current. A
        // concurrent rotation of the same row waits for our row lock, re-checks `state` on the
        // committed row and matches nothing. Its audit event commits with it.
        let mut tx = self.write().await?;
        let rotated: i64 = sqlx::query_scalar(
            "WITH old AS ( \
                 UPDATE refresh_tokens SET state = 'rotated', rotated_at = $1, replaced_by = $2 \
                 WHERE token_hash = $3 AND state = 'active' AND session_id = $4 AND EXISTS \
                 (SELECT 1 FROM sessions s WHERE s.id = refresh_tokens.session_id \
                  AND s.revoked_at IS NULL AND s.expires_at > $1) \
                 RETURNING session_id), \
             new AS ( \
                 INSERT INTO refresh_tokens \
                     (token_hash, jti, session_id, issued_at, expires_at, state) \
                 SELECT $2, $5, session_id, $6, $7, 'active' FROM old RETURNING session_id), \
             current AS ( \
                 UPDATE sessions SET current_refresh_hash = $2, last_used_at = $1 \
                 WHERE id IN (SELECT session_id FROM new) RETURNING id) \
             SELECT COUNT(*) FROM current",
        )
        .bind(now)
        .bind(&new.token_hash[..])
        .bind(&old_hash[..])
        .bind(&new.session_id.0)
        .bind(&new.jti)
        .bind(new.issued_at)
        .bind(new.expires_at)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        if rotated == 1 {
            record(&mut tx, audit).await?;
            tx.commit().await.map_err(db_error)?;
            return Ok(RotateOutcome::Rotated);
        }
        drop(tx);
        // Refused: say why, from the state as it is now (it can only have moved on).
        let stored = stored_refresh(&self.pool, old_hash).await?;
        if let Some(old) = &stored
            && old.state == RefreshState::Active
            && old.record.session_id != new.session_id
        {
            return Err(StoreError::internal_because(
                "rotate_refresh: the new token belongs to another session",
            ));
        }
        Ok(RotateOutcome::NotActive(stored))
    }

    async fn add_refresh(
        &self,
        new: &RefreshRecord,
        now: i64,
        audit: &[AuditEvent],
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        insert_refresh(&mut tx, new).await?;
        make_current(&mut tx, new, now).await?;
        record(&mut tx, audit).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn revoke_sessions(
        &self,
        ids: &[SessionId],
        now: i64,
        log_expires_at: i64,
        audit: &[AuditEvent],
    ) -> Result<Vec<SessionId>, StoreError> {
        let mut tx = self.log_writer().await?;
        let ids = ids.iter().map(|s| s.0.clone()).collect();
        let revoked = revoke_in(&mut tx, ids, now, log_expires_at).await?;
        record(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(revoked)
    }

    async fn revoke_user_sessions(
        &self,
        user: UserId,
        keep: Option<&SessionId>,
        now: i64,
        log_expires_at: i64,
        audit: &[AuditEvent],
    ) -> Result<Vec<SessionId>, StoreError> {
        let mut tx = self.log_writer().await?;
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM sessions WHERE user_id = $1 AND revoked_at IS NULL \
             AND ($2::TEXT IS NULL OR id <> $2) ORDER BY created_at, id FOR UPDATE",
        )
        .bind(user.0)
        .bind(keep.map(SessionId::as_str))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        log(
            &mut tx,
            &RevocationKind::UserTokensBefore { user, before: now },
            log_expires_at,
        )
        .await?;
        let revoked = revoke_in(&mut tx, ids, now, log_expires_at).await?;
        record(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(revoked)
    }

    async fn revocations_page(
        &self,
        after_id: i64,
        now: i64,
        limit: usize,
    ) -> Result<Vec<Revocation>, StoreError> {
        sqlx::query(&format!(
            "SELECT {REVOCATION_COLUMNS} FROM revocations \
             WHERE id > $1 AND expires_at > $2 ORDER BY id LIMIT $3"
        ))
        .bind(after_id)
        .bind(now)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(revocation_row)
        .collect()
    }

    async fn revoke_access_token(&self, jti: &str, log_expires_at: i64) -> Result<(), StoreError> {
        let mut tx = self.log_writer().await?;
        log(
            &mut tx,
            &RevocationKind::Token(jti.to_owned()),
            log_expires_at,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn flush_expired(&self, now: i64) -> Result<FlushStats, StoreError> {
        let mut tx = self.write().await?;
        let mut run = async |sql: &str| -> Result<u64, StoreError> {
            Ok(sqlx::query(sql)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?
                .rows_affected())
        };
        // Same order and reasons as the SQLite backend.
        let refresh_tokens = run("DELETE FROM refresh_tokens WHERE expires_at <= $1 \
             OR session_id IN (SELECT id FROM sessions WHERE expires_at <= $1)")
        .await?;
        let sessions = run("DELETE FROM sessions WHERE expires_at <= $1 \
             OR (revoked_at IS NOT NULL AND revoked_at <= $1 \
                 AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.session_id = sessions.id))")
        .await?;
        let revocations = run("DELETE FROM revocations WHERE expires_at <= $1").await?;
        let keys = run("DELETE FROM signing_keys WHERE expires_at <= $1").await?;
        tx.commit().await.map_err(db_error)?;
        Ok(FlushStats {
            refresh_tokens,
            sessions,
            revocations,
            keys,
            // Counted by the domain, which knows the retention.
            audit_events: 0,
        })
    }
}

#[async_trait]
impl KeyStore for PostgresStore {
    async fn keys(&self) -> Result<Vec<KeyInfo>, StoreError> {
        sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM signing_keys ORDER BY created_at, kid"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(key_row)
        .collect()
    }

    async fn private_key(&self, kid: &str) -> Result<Option<PrivateJwk>, StoreError> {
        let row = sqlx::query("SELECT private_jwk FROM signing_keys WHERE kid = $1")
            .bind(kid)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.map(|row| row.text("private_jwk").map(PrivateJwk::new))
            .transpose()
    }

    async fn rotate_in(
        &self,
        key: &KeyInfo,
        private: &PrivateJwk,
        retired_keys_expire_at: i64,
        audit: &[AuditEvent],
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        // Two rotations at once must not both leave an unretired key: take the table's lock.
        sqlx::query("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sqlx::query(
            "UPDATE signing_keys SET retired_at = $1, expires_at = $2 WHERE retired_at IS NULL",
        )
        .bind(key.created_at)
        .bind(retired_keys_expire_at)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, private_jwk, created_at, retired_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&key.kid)
        .bind(&key.alg)
        .bind(private.expose())
        .bind(key.created_at)
        .bind(key.retired_at)
        .bind(key.expires_at)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        record(&mut tx, audit).await?;
        // Listening instances sync (and so reload keys) when this commits.
        notify(&mut tx).await?;
        tx.commit().await.map_err(db_error)
    }
}

impl PostgresStore {
    /// The client whose `column` (`id` or `name`, both unique) is `value`.
    async fn client_where(
        &self,
        column: &'static str,
        value: &str,
    ) -> Result<Option<Client>, StoreError> {
        sqlx::query(&format!(
            "SELECT {CLIENT_COLUMNS} FROM clients WHERE {column} = $1"
        ))
        .bind(value)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(client_row)
        .transpose()
    }
}

#[async_trait]
impl ClientStore for PostgresStore {
    async fn create_client(&self, client: &Client, audit: &[AuditEvent]) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query(&format!(
            "INSERT INTO clients ({CLIENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(&client.id)
        .bind(&client.name)
        .bind(&client.secret_hash[..])
        .bind(json_text(&client.scopes)?)
        .bind(json_text(&client.grants)?)
        .bind(client.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        record(&mut tx, audit).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn client(&self, id: &str) -> Result<Option<Client>, StoreError> {
        self.client_where("id", id).await
    }

    async fn client_by_name(&self, name: &str) -> Result<Option<Client>, StoreError> {
        self.client_where("name", name).await
    }

    async fn clients(&self) -> Result<Vec<Client>, StoreError> {
        sqlx::query(&format!(
            "SELECT {CLIENT_COLUMNS} FROM clients ORDER BY name"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(client_row)
        .collect()
    }

    async fn set_client_secret(
        &self,
        id: &str,
        secret_hash: &[u8; 32],
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let changed = sqlx::query("UPDATE clients SET secret_hash = $1 WHERE id = $2")
            .bind(&secret_hash[..])
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        record(&mut tx, audit).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    async fn delete_client(
        &self,
        id: &str,
        log_expires_at: i64,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        let mut tx = self.log_writer().await?;
        let changed = sqlx::query("DELETE FROM clients WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        log(
            &mut tx,
            &RevocationKind::ClientDeleted(id.to_owned()),
            log_expires_at,
        )
        .await?;
        record(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }
}

#[async_trait]
impl AuditStore for PostgresStore {
    async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        record(&mut tx, events).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn audit_events(
        &self,
        filter: &AuditFilter,
        newest_first: bool,
        limit: u64,
        offset: u64,
    ) -> Result<(u64, Vec<AuditRecord>), StoreError> {
        audit_events(&self.pool, filter, newest_first, limit, offset).await
    }

    async fn delete_audit_before(&self, before: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query(DELETE_AUDIT_BEFORE)
            .bind(before)
            .execute(&self.pool)
            .await
            .map_err(db_error)?
            .rows_affected())
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }
    fn pool_connections(&self) -> Option<PoolConnections> {
        Some(PoolConnections::of(self.pool.size(), self.pool.num_idle()))
    }
}

/// PostgreSQL `LISTEN`/`NOTIFY` as the revocation broadcast when there is no Redis. Announcing is
/// the store's own job (it notifies inside the transaction that appends to the log), so this side
/// only listens.
#[derive(Clone, Debug)]
pub struct PostgresNotifications {
    store: PostgresStore,
}

impl PostgresNotifications {
    /// Listens on `store`'s database.
    pub fn new(store: PostgresStore) -> PostgresNotifications {
        PostgresNotifications { store }
    }
}

#[async_trait]
impl RevocationBus for PostgresNotifications {
    fn name(&self) -> &'static str {
        "postgres"
    }

    async fn announce(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.store.ping().await
    }

    async fn listen(&self, heard: &(dyn Fn() + Send + Sync)) -> StoreError {
        let mut listener = match self.store.revocation_listener().await {
            Ok(listener) => listener,
            Err(error) => return error,
        };
        heard();
        loop {
            match listener.try_recv().await {
                Ok(Some(_)) => heard(),
                Ok(None) => {
                    return StoreError::unavailable_because(
                        "postgres: notification connection lost",
                    );
                }
                Err(error) => return db_error(error),
            }
        }
    }
}
