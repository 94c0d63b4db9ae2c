//! The SQLite backend.
//!
//! Every write runs in a `BEGIN IMMEDIATE` transaction: it takes the database's write lock before
//! reading anything, so two writers never work from the same snapshot (a deferred transaction that
//! reads first can only fail with `SQLITE_BUSY_SNAPSHOT` when it tries to write), and a writer that
//! finds the lock taken waits up to `busy_timeout` for it instead of failing at once.

use std::path::Path;
use std::str::FromStr as _;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection as _, Row as _, Sqlite, SqliteExecutor, Transaction};
use tessera_auth::audit::{AuditEvent, AuditFilter, AuditRecord, about_new_user};
use tessera_auth::ids::{SessionId, UserId};
use tessera_auth::store::{
    AuditStore, Client, ClientStore, FlushStats, ImportedUser, KeyInfo, KeyStore, NewUser,
    PoolConnections, PrivateJwk, RefreshRecord, RefreshState, Revocation, RevocationKind,
    RotateOutcome, Session, SessionStore, Store, StoreError, StoredRefresh, User, UserStore,
};
use tokio::sync::{mpsc, oneshot};

use crate::rows::{
    AuditValues, CLIENT_COLUMNS, Columns as _, DELETE_AUDIT_BEFORE, DJANGO_IMPORTS, INSERT_AUDIT,
    KEY_COLUMNS, RECORD_DJANGO_IMPORT, REFRESH_SELECT, REVOCATION_COLUMNS, SESSION_COLUMNS,
    USER_COLUMNS, audit_events, bind_audit, client_row, db_error, django_import_row, json_text,
    key_row, kind_row, refresh_row, revocation_row, session_row, upsert_imported_user_sql,
    user_row,
};

/// Tunables of the SQLite backend.
#[derive(Clone, Debug)]
pub struct SqliteOptions {
    /// Connections in the pool (default 8). Readers run in parallel under WAL; writers take turns
    /// on the file's single write lock whatever the pool size.
    pub max_connections: u32,
    /// How long a writer waits for the write lock held by another writer, in this process or
    /// another one such as the CLI (default 5 s). Past it, the call fails with
    /// [`StoreError::Unavailable`].
    pub busy_timeout: Duration,
    /// How long a call waits for a free pooled connection before failing with
    /// [`StoreError::Unavailable`] (default 5 s).
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

/// A store in one SQLite file (or, for tests, in memory).
///
/// Cloning is cheap and shares the connection pool.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Rotations go through one writer task that commits concurrent ones together (see
    /// [`rotation_writer`]).
    rotations: mpsc::Sender<RotationJob>,
}

/// One `rotate_refresh` call waiting for the group commit.
struct RotationJob {
    old_hash: [u8; 32],
    new: RefreshRecord,
    now: i64,
    /// The events recording the rotation, written with it.
    audit: Vec<AuditEvent>,
    reply: oneshot::Sender<Result<RotateOutcome, StoreError>>,
}

/// Most rotations committed by one transaction.
const MAX_ROTATION_BATCH: usize = 64;

/// Group commit for refresh-token rotation. `synchronous = FULL` makes every commit wait for the disk
/// (one fsync, several milliseconds); a refresh storm would otherwise be bounded by the disk's
/// fsync rate. The writer takes every rotation waiting at that moment, applies each under its own
/// savepoint (so one failure does not undo the others, and a second rotation of the same token in
/// the batch sees the first), and commits them with one fsync before any caller is answered.
async fn rotation_writer(pool: SqlitePool, mut jobs: mpsc::Receiver<RotationJob>) {
    while let Some(first) = jobs.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_ROTATION_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        match rotate_batch(&pool, &batch).await {
            Ok(outcomes) => {
                for (job, outcome) in batch.into_iter().zip(outcomes) {
                    let _ = job.reply.send(outcome);
                }
            }
            Err(error) => {
                // Every rotation of the batch failed for the one reason: each caller gets it.
                let unavailable = error.is_unavailable();
                let shared = std::sync::Arc::new(error);
                for job in batch {
                    let what = "the batch this rotation was committed in failed";
                    let cause = std::sync::Arc::clone(&shared);
                    let _ = job.reply.send(Err(if unavailable {
                        StoreError::unavailable(what, cause)
                    } else {
                        StoreError::internal(what, cause)
                    }));
                }
            }
        }
    }
}

async fn rotate_batch(
    pool: &SqlitePool,
    batch: &[RotationJob],
) -> Result<Vec<Result<RotateOutcome, StoreError>>, StoreError> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(db_error)?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for job in batch {
        sqlx::query("SAVEPOINT rotation")
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        let outcome = rotate_in(&mut tx, &job.old_hash, &job.new, job.now, &job.audit).await;
        let end = match outcome {
            Ok(RotateOutcome::Rotated) => "RELEASE rotation",
            _ => "ROLLBACK TO rotation",
        };
        sqlx::query(end).execute(&mut *tx).await.map_err(db_error)?;
        if end.starts_with("ROLLBACK") {
            sqlx::query("RELEASE rotation")
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        outcomes.push(outcome);
    }
    tx.commit().await.map_err(db_error)?;
    Ok(outcomes)
}

/// One rotation inside a write transaction.
async fn rotate_in(
    tx: &mut Transaction<'static, Sqlite>,
    old_hash: &[u8; 32],
    new: &RefreshRecord,
    now: i64,
    audit: &[AuditEvent],
) -> Result<RotateOutcome, StoreError> {
    // Rotations of one token are serialized by the write lock (and by the writer task); only the
    // first finds the row still active.
    let changed = sqlx::query(
        "UPDATE refresh_tokens SET state = 'rotated', rotated_at = ?, replaced_by = ? \
         WHERE token_hash = ? AND state = 'active' AND session_id = ? AND EXISTS \
         (SELECT 1 FROM sessions s WHERE s.id = refresh_tokens.session_id \
          AND s.revoked_at IS NULL AND s.expires_at > ?)",
    )
    .bind(now)
    .bind(&new.token_hash[..])
    .bind(&old_hash[..])
    .bind(&new.session_id.0)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(db_error)?
    .rows_affected();
    if changed == 0 {
        // Read inside the transaction, so the answer describes the state that refused us.
        let stored = stored_refresh(&mut **tx, old_hash).await?;
        if let Some(old) = &stored
            && old.state == RefreshState::Active
            && old.record.session_id != new.session_id
        {
            return Err(StoreError::internal_because(
                "rotate_refresh: the new token belongs to another session",
            ));
        }
        return Ok(RotateOutcome::NotActive(stored));
    }
    insert_refresh(tx, new).await?;
    make_current(tx, new, now).await?;
    record(tx, audit).await?;
    Ok(RotateOutcome::Rotated)
}

/// Writes audit events inside the transaction of the change they record.
async fn record(
    tx: &mut Transaction<'static, Sqlite>,
    audit: &[AuditEvent],
) -> Result<(), StoreError> {
    for event in audit {
        let values = AuditValues::of(event)?;
        bind_audit(sqlx::query(INSERT_AUDIT), &values)
            .execute(&mut **tx)
            .await
            .map_err(db_error)?;
    }
    Ok(())
}

impl SqliteStore {
    /// Opens the database file at `path` with default [`SqliteOptions`], creating it (and its
    /// directory) if missing and applying pending migrations.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(path, &SqliteOptions::default()).await
    }

    /// Opens a `sqlite://PATH` (or `sqlite:PATH`) URL with default [`SqliteOptions`];
    /// `sqlite::memory:` opens [`SqliteStore::in_memory`]. Query parameters are refused: this
    /// backend sets its connection options itself.
    pub async fn open_url(url: &str) -> Result<SqliteStore, StoreError> {
        match parse_url(url)? {
            UrlTarget::Memory => SqliteStore::in_memory().await,
            UrlTarget::File(path) => SqliteStore::open(Path::new(path)).await,
        }
    }

    /// Opens the database file at `path` with explicit options.
    ///
    /// The file is created with mode 0600 on Unix (and an existing file is narrowed to it): it
    /// holds private signing keys and password hashes. The connections use WAL journaling,
    /// `synchronous = FULL` (a rotation or revocation is on disk before the call returns), foreign
    /// keys, and the configured busy timeout.
    pub async fn open_with(
        path: &Path,
        options: &SqliteOptions,
    ) -> Result<SqliteStore, StoreError> {
        create_private_file(path)?;
        let connect = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(options.busy_timeout);
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            // A connection must come back out of any transaction. One that does not (a request
            // cancelled inside sqlx's `begin_with`, after `BEGIN` ran but before the transaction
            // guard existed) would refuse every later `BEGIN`; it is closed, which rolls it back.
            .after_release(|connection, _| {
                Box::pin(async move { Ok(!connection.is_in_transaction()) })
            })
            .connect_with(connect)
            .await
            .map_err(db_error)?;
        migrate(&pool).await?;
        tracing::debug!(path = %path.display(), "opened SQLite store");
        Ok(SqliteStore::with_writer(pool))
    }

    /// A fresh, empty database that lives in memory until the store (and all its clones) is
    /// dropped. Meant for tests.
    pub async fn in_memory() -> Result<SqliteStore, StoreError> {
        let connect = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(db_error)?
            .foreign_keys(true);
        // Every connection to `:memory:` opens a database of its own, gone when the connection
        // closes: so exactly one connection, never recycled. (A shared-cache database would allow
        // more, but its table locks fail with SQLITE_LOCKED instead of waiting.)
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(SqliteOptions::default().acquire_timeout)
            .connect_with(connect)
            .await
            .map_err(db_error)?;
        migrate(&pool).await?;
        Ok(SqliteStore::with_writer(pool))
    }

    /// Closes every connection, checkpointing the write-ahead log into the database file. Later
    /// calls on this store (or its clones) fail with [`StoreError::Unavailable`].
    pub async fn close(&self) {
        self.pool.close().await;
    }

    fn with_writer(pool: SqlitePool) -> SqliteStore {
        let (rotations, jobs) = mpsc::channel(4 * MAX_ROTATION_BATCH);
        tokio::spawn(rotation_writer(pool.clone(), jobs));
        SqliteStore { pool, rotations }
    }

    /// A write transaction that holds the write lock from its first statement.
    async fn write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error)
    }
}

/// Runs the embedded migrations.
async fn migrate(pool: &SqlitePool) -> Result<(), StoreError> {
    sqlx::migrate!("./migrations/sqlite")
        .run(pool)
        .await
        .map_err(|error| match error {
            sqlx::migrate::MigrateError::Execute(error)
            | sqlx::migrate::MigrateError::ExecuteMigration(error, _) => db_error(error),
            // Typically a database written by a newer Tessera than this one.
            other => StoreError::internal_because(format!("migrating the database: {other}")),
        })
}

/// Where a `sqlite:` URL points.
#[derive(Debug, PartialEq, Eq)]
enum UrlTarget<'a> {
    Memory,
    File(&'a str),
}

fn parse_url(url: &str) -> Result<UrlTarget<'_>, StoreError> {
    let bad = |why: &str| StoreError::internal_because(format!("database URL {url:?}: {why}"));
    let rest = url
        .strip_prefix("sqlite:")
        .ok_or_else(|| bad("not a sqlite: URL"))?;
    if rest == ":memory:" {
        return Ok(UrlTarget::Memory);
    }
    let path = rest.strip_prefix("//").unwrap_or(rest);
    if path.contains('?') {
        return Err(bad("query parameters are not supported"));
    }
    if path.is_empty() {
        return Err(bad("no file path"));
    }
    Ok(UrlTarget::File(path))
}

/// Creates the database file readable by its owner only, before SQLite opens it: it holds private
/// keys and password hashes. SQLite gives the `-wal` and `-shm` files the mode of the database.
fn create_private_file(path: &Path) -> Result<(), StoreError> {
    let io =
        |e: std::io::Error| StoreError::unavailable_because(format!("{}: {e}", path.display()));
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
        // `mode` only applies to a file this call created; narrow an existing one too.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    #[cfg(not(unix))]
    options.open(path).map_err(io)?;
    Ok(())
}

/// A refresh token with its state as the caller must see it (see [`refresh_row`]).
async fn stored_refresh<'e>(
    executor: impl SqliteExecutor<'e>,
    token_hash: &[u8; 32],
) -> Result<Option<StoredRefresh>, StoreError> {
    sqlx::query(&format!("{REFRESH_SELECT} WHERE r.token_hash = ?"))
        .bind(&token_hash[..])
        .fetch_optional(executor)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(refresh_row)
        .transpose()
}

async fn insert_refresh(
    tx: &mut Transaction<'_, Sqlite>,
    record: &RefreshRecord,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, jti, session_id, issued_at, expires_at, state) \
         VALUES (?, ?, ?, ?, ?, 'active')",
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

/// Makes `record` its session's current token.
async fn make_current(
    tx: &mut Transaction<'_, Sqlite>,
    record: &RefreshRecord,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE sessions SET current_refresh_hash = ?, last_used_at = ? WHERE id = ?")
        .bind(&record.token_hash[..])
        .bind(now)
        .bind(&record.session_id.0)
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
    Ok(())
}

async fn log(
    tx: &mut Transaction<'_, Sqlite>,
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
    tx: &mut Transaction<'_, Sqlite>,
    ids: Vec<String>,
    now: i64,
    log_expires_at: i64,
) -> Result<Vec<SessionId>, StoreError> {
    let mut revoked = Vec::new();
    for id in ids {
        let changed =
            sqlx::query("UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
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
            "UPDATE refresh_tokens SET state = 'revoked' WHERE session_id = ? AND state = 'active'",
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
impl UserStore for SqliteStore {
    async fn create_user(
        &self,
        user: &NewUser,
        now: i64,
        audit: &[AuditEvent],
    ) -> Result<User, StoreError> {
        let mut tx = self.write().await?;
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
        // One read transaction, so the count and the page come from the same snapshot.
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM users")
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?
            .try_get("n")
            .map_err(db_error)?;
        let users = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY id LIMIT ? OFFSET ?"
        ))
        .bind(as_i64(limit))
        .bind(as_i64(offset))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?
        .iter()
        .map(user_row)
        .collect::<Result<Vec<_>, _>>()?;
        tx.commit().await.map_err(db_error)?;
        Ok((u64::try_from(count).unwrap_or(0), users))
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
            "UPDATE users SET roles = COALESCE(?, roles), claims = COALESCE(?, claims) WHERE id = ?",
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
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
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
        log(&mut tx, &kind, log_expires_at).await?;
        record(&mut tx, audit).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    async fn set_password_hash(
        &self,
        id: UserId,
        password_hash: &str,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let changed = sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
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
            sqlx::query("UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?")
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
        let mut tx = self.write().await?;
        // Sessions and their refresh tokens go by ON DELETE CASCADE.
        let changed = sqlx::query("DELETE FROM users WHERE id = ?")
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
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    async fn record_login(&self, id: UserId, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET last_login = ? WHERE id = ?")
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
        sqlx::query(&upsert_imported_user_sql(""))
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
impl SessionStore for SqliteStore {
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
            "SELECT {SESSION_COLUMNS} FROM sessions \
             WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? \
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
        let (reply, answer) = oneshot::channel();
        let job = RotationJob {
            old_hash: *old_hash,
            new: new.clone(),
            now,
            audit: audit.to_vec(),
            reply,
        };
        let gone = || StoreError::unavailable_because("the rotation writer has stopped");
        self.rotations.send(job).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
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
        let mut tx = self.write().await?;
        let ids = ids.iter().map(|s| s.0.clone()).collect();
        let revoked = revoke_in(&mut tx, ids, now, log_expires_at).await?;
        record(&mut tx, audit).await?;
        tx.commit().await.map_err(db_error)?;
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
        let mut tx = self.write().await?;
        let rows = sqlx::query(
            "SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS NULL \
             AND (? IS NULL OR id != ?) ORDER BY created_at, id",
        )
        .bind(user.0)
        .bind(keep.map(SessionId::as_str))
        .bind(keep.map(SessionId::as_str))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        let ids = rows
            .iter()
            .map(|row| row.try_get::<String, _>("id").map_err(db_error))
            .collect::<Result<Vec<_>, _>>()?;
        log(
            &mut tx,
            &RevocationKind::UserTokensBefore { user, before: now },
            log_expires_at,
        )
        .await?;
        let revoked = revoke_in(&mut tx, ids, now, log_expires_at).await?;
        record(&mut tx, audit).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(revoked)
    }

    async fn revocations_page(
        &self,
        after_id: i64,
        now: i64,
        limit: usize,
    ) -> Result<Vec<Revocation>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {REVOCATION_COLUMNS} FROM revocations \
             WHERE id > ? AND expires_at > ? ORDER BY id LIMIT ?"
        ))
        .bind(after_id)
        .bind(now)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter().map(revocation_row).collect()
    }

    async fn revoke_access_token(&self, jti: &str, log_expires_at: i64) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        log(
            &mut tx,
            &RevocationKind::Token(jti.to_owned()),
            log_expires_at,
        )
        .await?;
        tx.commit().await.map_err(db_error)?;
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
        // Tokens first, so a revoked session whose last token just expired goes in the same sweep;
        // those of ended sessions too, rather than by cascade, so the count includes them.
        let refresh_tokens = run("DELETE FROM refresh_tokens WHERE expires_at <= ?1 \
             OR session_id IN (SELECT id FROM sessions WHERE expires_at <= ?1)")
        .await?;
        let sessions = run("DELETE FROM sessions WHERE expires_at <= ?1 \
             OR (revoked_at IS NOT NULL AND revoked_at <= ?1 \
                 AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.session_id = sessions.id))")
        .await?;
        let revocations = run("DELETE FROM revocations WHERE expires_at <= ?").await?;
        let keys = run("DELETE FROM signing_keys WHERE expires_at <= ?").await?;
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
impl KeyStore for SqliteStore {
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
        let row = sqlx::query("SELECT private_jwk FROM signing_keys WHERE kid = ?")
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
        sqlx::query(
            "UPDATE signing_keys SET retired_at = ?, expires_at = ? WHERE retired_at IS NULL",
        )
        .bind(key.created_at)
        .bind(retired_keys_expire_at)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, private_jwk, created_at, retired_at, expires_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
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
        tx.commit().await.map_err(db_error)
    }
}

impl SqliteStore {
    /// The client whose `column` (`id` or `name`, both unique) is `value`.
    async fn client_where(
        &self,
        column: &'static str,
        value: &str,
    ) -> Result<Option<Client>, StoreError> {
        sqlx::query(&format!(
            "SELECT {CLIENT_COLUMNS} FROM clients WHERE {column} = ?"
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
impl ClientStore for SqliteStore {
    async fn create_client(&self, client: &Client, audit: &[AuditEvent]) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query(&format!(
            "INSERT INTO clients ({CLIENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
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
        let changed = sqlx::query("UPDATE clients SET secret_hash = ? WHERE id = ?")
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
        let mut tx = self.write().await?;
        let changed = sqlx::query("DELETE FROM clients WHERE id = ?")
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
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }
}

#[async_trait]
impl AuditStore for SqliteStore {
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
impl Store for SqliteStore {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_file_or_memory() {
        assert_eq!(
            parse_url("sqlite:///var/lib/t.db").unwrap(),
            UrlTarget::File("/var/lib/t.db")
        );
        assert_eq!(
            parse_url("sqlite://data/t.db").unwrap(),
            UrlTarget::File("data/t.db")
        );
        assert_eq!(parse_url("sqlite:t.db").unwrap(), UrlTarget::File("t.db"));
        assert_eq!(parse_url("sqlite::memory:").unwrap(), UrlTarget::Memory);
        for bad in [
            "postgres://h/db",
            "sqlite://",
            "sqlite://t.db?mode=ro",
            "t.db",
        ] {
            assert!(
                matches!(parse_url(bad), Err(StoreError::Internal { .. })),
                "{bad}"
            );
        }
    }

    async fn pragma(store: &SqliteStore, name: &str) -> String {
        let row = sqlx::query(&format!("PRAGMA {name}"))
            .fetch_one(&store.pool)
            .await
            .unwrap();
        row.try_get::<String, _>(0)
            .or_else(|_| row.try_get::<i64, _>(0).map(|n| n.to_string()))
            .unwrap()
    }

    #[tokio::test]
    async fn file_connections_are_durable_and_shareable() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
        assert_eq!(pragma(&store, "journal_mode").await, "wal");
        assert_eq!(pragma(&store, "synchronous").await, "2", "FULL");
        assert_eq!(pragma(&store, "foreign_keys").await, "1");
        assert_eq!(pragma(&store, "busy_timeout").await, "5000");
    }

    #[tokio::test]
    async fn in_memory_store_keeps_its_data_and_enforces_foreign_keys() {
        let store = SqliteStore::in_memory().await.unwrap();
        assert_eq!(pragma(&store, "foreign_keys").await, "1");
        let user = NewUser {
            username: "ann".into(),
            ..NewUser::default()
        };
        store.create_user(&user, 1, &[]).await.unwrap();
        assert_eq!(store.list_users().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_writer_held_past_the_busy_timeout_is_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let options = SqliteOptions {
            busy_timeout: Duration::from_millis(50),
            ..SqliteOptions::default()
        };
        let holder = SqliteStore::open_with(&path, &options).await.unwrap();
        let other = SqliteStore::open_with(&path, &options).await.unwrap();
        let user = NewUser {
            username: "ann".into(),
            ..NewUser::default()
        };
        let lock = holder.write().await.unwrap();
        assert!(matches!(
            other.create_user(&user, 1, &[]).await,
            Err(StoreError::Unavailable { .. })
        ));
        lock.rollback().await.unwrap();
        other.create_user(&user, 1, &[]).await.unwrap();
    }

    #[tokio::test]
    async fn a_closed_store_is_unavailable() {
        let store = SqliteStore::in_memory().await.unwrap();
        store.close().await;
        assert!(matches!(
            store.ping().await,
            Err(StoreError::Unavailable { .. })
        ));
    }

    #[tokio::test]
    async fn rotating_into_another_session_is_refused_as_a_bug() {
        let store = SqliteStore::in_memory().await.unwrap();
        let ann = store
            .create_user(
                &NewUser {
                    username: "ann".into(),
                    ..NewUser::default()
                },
                1,
                &[],
            )
            .await
            .unwrap()
            .id;
        let record = |n: u8, sid: &str| RefreshRecord {
            token_hash: [n; 32],
            jti: n.to_string(),
            session_id: SessionId(sid.into()),
            issued_at: 1,
            expires_at: 100,
        };
        for (sid, n) in [("a", 1), ("b", 2)] {
            let session = Session {
                id: SessionId(sid.into()),
                user_id: ann,
                created_at: 1,
                last_used_at: 1,
                expires_at: 100,
                user_agent: None,
                ip: None,
                revoked_at: None,
            };
            store
                .create_session(&session, Some(&record(n, sid)), &[])
                .await
                .unwrap();
        }
        assert!(matches!(
            store
                .rotate_refresh(&[1; 32], &record(3, "b"), 2, &[])
                .await,
            Err(StoreError::Internal { .. })
        ));
        let old = store.refresh_token(&[1; 32]).await.unwrap().unwrap();
        assert_eq!(old.state, RefreshState::Active, "nothing changed");
        assert!(store.refresh_token(&[3; 32]).await.unwrap().is_none());
    }
}
