//! Opens what the configuration names: the SQLite file or PostgreSQL, and Redis when configured.
//! The one place the binary turns `database_url` and `redis_url` into a [`Backend`].

use std::sync::Arc;

use tessera_auth::{Chain, FailureLog, RevocationBus, Store};
use tessera_server::Backend;

use crate::config::Config;
use tessera_store::{
    PostgresNotifications, PostgresOptions, PostgresStore, RedisOptions, SharedRedis,
    SqliteOptions, SqliteStore,
};

use crate::Failure;

/// What to do about the database schema on open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Schema {
    /// Apply pending migrations (`migrate`, and `serve` unless `migrate = false`).
    Migrate,
    /// Refuse a schema older than this build (every other command).
    Check,
}

/// Opens the configured backend. SQLite files are always migrated on open (they belong to this
/// process); PostgreSQL is migrated only when asked.
pub(crate) async fn open(config: &Config, schema: Schema) -> Result<Backend, Failure> {
    let redis = config
        .redis_url
        .as_deref()
        .map(|url| {
            SharedRedis::new(
                url,
                RedisOptions {
                    prefix: config.redis_prefix.clone(),
                    timeout: config.redis_timeout.0,
                    ..RedisOptions::default()
                },
            )
            .map_err(|e| Failure::usage(format!("redis_url: {}", Chain(&e))))
        })
        .transpose()?;
    let (store, pg_bus): (Arc<dyn Store>, Option<Arc<dyn RevocationBus>>) =
        if config.is_postgres() {
            let url = config.database_url.as_deref().unwrap_or_default();
            let options = PostgresOptions {
                max_connections: config.database_max_connections,
                acquire_timeout: config.database_timeout.0,
                statement_timeout: config.database_statement_timeout.0,
            };
            let store = PostgresStore::connect(url, &options).await.map_err(|e| {
                Failure::usage(format!("cannot connect to PostgreSQL: {}", Chain(&e)))
            })?;
            match schema {
                Schema::Migrate => {
                    let applied = store.migrate().await.map_err(|e| {
                        Failure::usage(format!("migrating PostgreSQL: {}", Chain(&e)))
                    })?;
                    if applied > 0 {
                        tracing::info!(applied, "applied database migrations");
                    }
                }
                Schema::Check => store
                    .check_schema()
                    .await
                    .map_err(|e| Failure::usage(Chain(&e).to_string()))?,
            }
            let bus = Arc::new(PostgresNotifications::new(store.clone()));
            (Arc::new(store), Some(bus))
        } else {
            let path = config.sqlite_path().ok_or_else(|| {
                Failure::usage("database_url: expected sqlite://PATH or postgres://")
            })?;
            let options = SqliteOptions {
                acquire_timeout: config.database_timeout.0,
                ..SqliteOptions::default()
            };
            let store = SqliteStore::open_with(&path, &options).await.map_err(|e| {
                Failure::usage(format!(
                    "cannot open database {}: {}",
                    path.display(),
                    Chain(&e)
                ))
            })?;
            (Arc::new(store), None)
        };
    // Redis, when configured, carries the broadcast; PostgreSQL's own notifications otherwise.
    let bus = match &redis {
        Some(redis) => Some(Arc::new(redis.clone()) as Arc<dyn RevocationBus>),
        None => pg_bus,
    };
    Ok(Backend {
        store,
        bus,
        failures: redis.map(|redis| Arc::new(redis) as Arc<dyn FailureLog>),
    })
}
