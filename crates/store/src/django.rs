//! Reads the users of a Django site (`django.contrib.auth`'s `auth_user`, `auth_group` and
//! `auth_user_groups`) for `tessera import django`, from the database URL as dj-database-url
//! writes it. The Django database is opened read-only where the driver allows, and only read.

use std::collections::HashMap;
use std::path::PathBuf;

use sqlx::Connection as _;
use sqlx::postgres::PgConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use tessera_auth::django_import::DjangoUser;
use tessera_auth::store::StoreError;

use crate::rows::{Columns, db_error};

/// Where a Django database is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DjangoDatabase {
    /// `sqlite:///relative.db` or `sqlite:////absolute/db.sqlite3`.
    Sqlite(PathBuf),
    /// `postgres://`, `postgresql://` or `pgsql://` (as dj-database-url names them).
    Postgres(String),
}

impl DjangoDatabase {
    /// Parses a dj-database-url URL; the error says what is expected.
    pub fn parse(url: &str) -> Result<DjangoDatabase, String> {
        let (scheme, rest) = url.split_once("://").ok_or_else(|| {
            format!("{url:?} is not a database URL (sqlite:///PATH or postgres://...)")
        })?;
        match scheme {
            // dj-database-url: the path is what follows the third slash, so a fourth makes it
            // absolute.
            "sqlite" => match rest.strip_prefix('/') {
                Some(path) if !path.is_empty() && path != ":memory:" => {
                    Ok(DjangoDatabase::Sqlite(PathBuf::from(path)))
                }
                _ => Err(format!(
                    "{url:?}: expected sqlite:///relative.db or sqlite:////absolute/path.db"
                )),
            },
            "postgres" | "postgresql" | "pgsql" => {
                Ok(DjangoDatabase::Postgres(format!("postgres://{rest}")))
            }
            other => Err(format!(
                "database URL scheme {other:?} is not supported (sqlite or postgres)"
            )),
        }
    }
}

const USERS: &str = "SELECT CAST(id AS BIGINT) AS id, username, password, is_superuser, is_staff, \
     is_active, email, first_name, last_name FROM auth_user ORDER BY id";
const GROUPS: &str = "SELECT CAST(m.user_id AS BIGINT) AS user_id, g.name AS name \
     FROM auth_user_groups m JOIN auth_group g ON g.id = m.group_id ORDER BY m.user_id, g.name";

/// Every user of the Django database, with their groups' names.
pub async fn read_django_users(database: &DjangoDatabase) -> Result<Vec<DjangoUser>, StoreError> {
    match database {
        DjangoDatabase::Sqlite(path) => {
            if !path.is_file() {
                return Err(StoreError::internal_because(format!(
                    "no SQLite database at {}",
                    path.display()
                )));
            }
            let options = SqliteConnectOptions::new()
                .filename(path)
                .read_only(true)
                .create_if_missing(false);
            let mut connection = SqliteConnection::connect_with(&options)
                .await
                .map_err(db_error)?;
            let users = sqlx::query(USERS).fetch_all(&mut connection).await;
            let groups = sqlx::query(GROUPS).fetch_all(&mut connection).await;
            let _ = connection.close().await;
            assemble(
                users.map_err(missing_tables)?,
                groups.map_err(missing_tables)?,
            )
        }
        DjangoDatabase::Postgres(url) => {
            let mut connection = PgConnection::connect(url).await.map_err(db_error)?;
            let users = sqlx::query(USERS).fetch_all(&mut connection).await;
            let groups = sqlx::query(GROUPS).fetch_all(&mut connection).await;
            let _ = connection.close().await;
            assemble(
                users.map_err(missing_tables)?,
                groups.map_err(missing_tables)?,
            )
        }
    }
}

/// A query that failed most likely found no `auth_*` tables: say so, keeping the driver's words.
fn missing_tables(error: sqlx::Error) -> StoreError {
    StoreError::internal(
        "reading django.contrib.auth's tables (auth_user, auth_group, auth_user_groups)",
        error,
    )
}

fn assemble(
    users: Vec<impl Columns>,
    groups: Vec<impl Columns>,
) -> Result<Vec<DjangoUser>, StoreError> {
    let mut by_user: HashMap<i64, Vec<String>> = HashMap::new();
    for row in &groups {
        by_user
            .entry(row.int("user_id")?)
            .or_default()
            .push(row.text("name")?);
    }
    users
        .iter()
        .map(|row| {
            let id = row.int("id")?;
            Ok(DjangoUser {
                id,
                username: row.text("username")?,
                password: row.text("password")?,
                is_superuser: row.flag("is_superuser")?,
                is_staff: row.flag("is_staff")?,
                is_active: row.flag("is_active")?,
                email: row.opt_text("email")?.unwrap_or_default(),
                first_name: row.opt_text("first_name")?.unwrap_or_default(),
                last_name: row.opt_text("last_name")?.unwrap_or_default(),
                groups: by_user.remove(&id).unwrap_or_default(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_read_as_dj_database_url_writes_them() {
        let parse = DjangoDatabase::parse;
        assert_eq!(
            parse("sqlite:///db.sqlite3"),
            Ok(DjangoDatabase::Sqlite("db.sqlite3".into()))
        );
        assert_eq!(
            parse("sqlite:////srv/site/db.sqlite3"),
            Ok(DjangoDatabase::Sqlite("/srv/site/db.sqlite3".into()))
        );
        assert_eq!(
            parse("postgresql://django@db/site"),
            Ok(DjangoDatabase::Postgres("postgres://django@db/site".into()))
        );
        assert_eq!(
            parse("pgsql://db/site"),
            Ok(DjangoDatabase::Postgres("postgres://db/site".into()))
        );
        for bad in ["sqlite://", "sqlite:///", "sqlite://:memory:", "db.sqlite3"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let mysql = parse("mysql://db/site").unwrap_err();
        assert!(mysql.contains("\"mysql\""), "{mysql}");
    }

    #[tokio::test]
    async fn a_missing_file_is_named() {
        let database = DjangoDatabase::Sqlite("/nonexistent/db.sqlite3".into());
        let error = read_django_users(&database).await.unwrap_err();
        assert!(
            error.to_string().contains("/nonexistent/db.sqlite3"),
            "{error}"
        );
    }
}
