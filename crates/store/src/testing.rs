//! Test fixtures for the shared services: a throwaway PostgreSQL database per test and a unique
//! Redis key prefix per test, so tests run in parallel without seeing each other.
//!
//! The services are found through `TESSERA_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`) and `TESSERA_TEST_REDIS_URL` (default
//! `redis://127.0.0.1:6379`). When one is unreachable a test skips with a printed reason, except
//! under `CI=true`, where that is a failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test fixtures: a broken fixture is a failed test"
)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sqlx::Connection as _;
use sqlx::postgres::PgConnection;

/// Default of `TESSERA_TEST_DATABASE_URL`.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// Default of `TESSERA_TEST_REDIS_URL`.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// Whether a missing service fails the test (`CI=true`) rather than skipping it.
pub fn services_required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Skips (returns `None` after printing why) or, under CI, fails.
fn unavailable<T>(service: &str, why: impl std::fmt::Display) -> Option<T> {
    assert!(
        !services_required(),
        "{service} is required under CI=true but unavailable: {why}"
    );
    eprintln!("SKIPPED: {service} unavailable ({why}); set CI=true to make this a failure");
    None
}

/// A Python that can import each of `modules`: `TESSERA_TEST_PYTHON` (set by `.ci/test`, which
/// installs the venv of `.ci/requirements.txt`), else `python3`. `None` after saying why, except
/// under `CI=true`, where a missing one fails the test.
pub fn python_with(modules: &[&str]) -> Option<String> {
    let candidate = std::env::var("TESSERA_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let usable = std::process::Command::new(&candidate)
        .args(["-c", &format!("import {}", modules.join(", "))])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if usable {
        return Some(candidate);
    }
    unavailable(
        "a Python with the test tools",
        format!(
            "{candidate} cannot import {} (`bash .ci/test` installs them; or set \
             TESSERA_TEST_PYTHON)",
            modules.join(", ")
        ),
    )
}

/// A name no other test (in this process or another) is using.
pub fn unique_name(stem: &str) -> String {
    use std::hash::{BuildHasher as _, Hasher as _};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    // Random per process, so a name left behind by a killed run is not reused by the next one.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    format!(
        "{stem}_{}_{}_{:08x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        hasher.finish() & 0xffff_ffff
    )
}

/// A database created for one test and dropped (with its connections) when this is dropped.
#[derive(Debug)]
pub struct TestDatabase {
    /// URL of the new database.
    pub url: String,
    admin_url: String,
    name: String,
}

/// `url` with its database name replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{database}", &base[..host_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

impl TestDatabase {
    /// Creates an empty database, or `None` (printed) when PostgreSQL is unreachable outside CI.
    pub async fn create() -> Option<TestDatabase> {
        let admin_url = std::env::var("TESSERA_TEST_DATABASE_URL")
            .unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned());
        let connect =
            tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(&admin_url)).await;
        let mut admin = match connect {
            Ok(Ok(connection)) => connection,
            Ok(Err(error)) => return unavailable(&format!("PostgreSQL at {admin_url}"), error),
            Err(_) => return unavailable(&format!("PostgreSQL at {admin_url}"), "timed out"),
        };
        let name = unique_name("tessera_t");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("CREATE DATABASE");
        let _ = admin.close().await;
        Some(TestDatabase {
            url: with_database(&admin_url, &name),
            admin_url,
            name,
        })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop may run inside a runtime: do the async work on a thread with a runtime of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async move {
                let mut admin = PgConnection::connect(&admin_url).await.ok()?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await
                    .ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("note: could not drop test database {}", self.name);
        }
    }
}

/// The test Redis URL, or `None` (printed) when Redis is unreachable outside CI.
pub async fn redis_url() -> Option<String> {
    let url =
        std::env::var("TESSERA_TEST_REDIS_URL").unwrap_or_else(|_| DEFAULT_REDIS_URL.to_owned());
    let ping = async {
        let client = redis::Client::open(url.as_str())?;
        let mut connection = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
    };
    match tokio::time::timeout(Duration::from_secs(5), ping).await {
        Ok(Ok(_)) => Some(url),
        Ok(Err(error)) => unavailable(&format!("Redis at {url}"), error),
        Err(_) => unavailable(&format!("Redis at {url}"), "timed out"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_replaced_in_urls() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with_database("postgres://u@h/test?sslmode=disable", "t2"),
            "postgres://u@h/t2?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "t3"), "postgres://u@h/t3");
    }
}
