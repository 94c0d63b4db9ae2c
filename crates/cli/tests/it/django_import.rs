//! `tessera import django` against real Django sites (SQLite and PostgreSQL) made in this run by
//! Django itself (from the venv `.ci/test` installs): users keep their ids and passwords, roles
//! and claims come from flags, groups and profile fields, a second run changes nothing, changes in
//! Django come over without undoing a re-hash, and `--dry-run` writes nothing.

use std::process::Command;

use serde_json::{Value, json};
use tessera_store::testing::{TestDatabase, python_with};
use tokio::runtime::Runtime;

use super::support::{Server, add_user_at, cheap_hashing, http, payload_of};
use super::{stdout, tessera_with_env};

/// Runs the Django site script: `setup` migrates and fills the database, `change` edits it.
fn django_site(python: &str, url: &str, step: &str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/django_site.py");
    let output = Command::new(python)
        .args([script, url, step])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "django_site.py {step}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `tessera import django --from URL` at `location`; the lines it printed.
fn import(location: &[&str], from: &str, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["import", "django", "--from", from];
    args.extend(location);
    args.extend(extra);
    let env: Vec<(&str, &str)> = cheap_hashing().to_vec();
    let out = stdout(&tessera_with_env(&args, "", &env));
    out.lines().map(str::to_owned).collect()
}

fn has(lines: &[String], line: &str) {
    assert!(
        lines.iter().any(|l| l == line),
        "no line {line:?} in {lines:#?}"
    );
}

fn last(lines: &[String]) -> &str {
    lines.last().map(String::as_str).unwrap_or_default()
}

fn login(addr: &str, username: &str, password: &str) -> (u16, Value) {
    let body = json!({"username": username, "password": password});
    http(addr, "POST", "/api/token/", None, Some(&body))
}

/// The whole switch, on the Tessera backend `location` from the Django database `django_url`.
fn a_django_site_moves_over(python: &str, django_url: &str, location: &[&str]) {
    django_site(python, django_url, "setup");
    // A Tessera user made before the import holds id 1, which Django's `root` has too.
    add_user_at(location, "local", "local-pass\n");

    let dry = import(location, django_url, &["--dry-run"]);
    has(&dry, "created 2 ann");
    has(&dry, "dry run: nothing was written");
    assert_eq!(last(&dry), "created 10, updated 0, unchanged 0, skipped 1");
    let mut list = vec!["users", "list"];
    list.extend(location);
    let users = stdout(&tessera_with_env(&list, "", &[]));
    assert_eq!(
        users.lines().count(),
        2,
        "only the header and local: {users}"
    );

    let first = import(location, django_url, &[]);
    has(
        &first,
        "skipped 1 root: id 1 belongs to Tessera user \"local\", who was not imported from Django",
    );
    for created in [
        "2 ann", "3 sam", "4 una", "5 olga", "6 ivan", "7 ava", "8 bea",
    ] {
        has(&first, &format!("created {created}"));
    }
    has(
        &first,
        "warning 5 olga: password hash format \"md5\" is not supported: imported as unusable, \
         the user must reset the password",
    );
    has(&first, "left alone 1 local: exists only in Tessera");
    assert_eq!(
        last(&first),
        "created 10, updated 0, unchanged 0, skipped 1"
    );

    let users = stdout(&tessera_with_env(&list, "", &[]));
    let row = |name: &str| {
        users
            .lines()
            .find(|l| l.split_whitespace().nth(2) == Some(name))
            .unwrap_or_else(|| panic!("{name} not in {users}"))
            .split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(row("ann")[..5], ["2", "yes", "ann", "admin,staff", "-"]);
    assert_eq!(
        serde_json::from_str::<Value>(&row("ann")[5..].join(" ")).unwrap(),
        json!({"email": "ann@example.com", "first_name": "Ann", "last_name": "Lee"})
    );
    assert_eq!(row("sam")[..4], ["3", "yes", "sam", "staff,editors"]);
    assert_eq!(row("ivan")[..2], ["6", "no"]);

    let server = Server::start(location, &[]);
    let addr = server.addr.as_str();
    // Django's passwords work, in each format its hashers made them.
    let mut sessions = std::collections::BTreeMap::new();
    for (name, password) in [
        ("ann", "ann-pass"),
        ("sam", "sam-pass"),
        ("ava", "ava-pass"),
        ("bea", "bea-pass"),
        ("cid", "cid-pass"),
        ("dot", "dot-pass"),
        ("eve", "eve-pass"),
    ] {
        let (status, body) = login(addr, name, password);
        assert_eq!(status, 200, "{name}: {body}");
        sessions.insert(name, body);
    }
    let ann = payload_of(sessions["ann"]["access"].as_str().unwrap());
    assert_eq!(ann["user_id"], json!("2"), "the Django id: {ann}");
    assert_eq!(ann["roles"], json!(["admin", "staff"]));
    // Unusable, unsupported (md5), inactive and skipped users cannot log in.
    for (name, password) in [
        ("una", ""),
        ("olga", "olga-pass"),
        ("ivan", "ivan-pass"),
        ("root", "root-pass"),
    ] {
        let (status, body) = login(addr, name, password);
        assert_ne!(status, 200, "{name}: {body}");
    }

    // A second run changes nothing, though ann's hash was re-hashed at her login.
    let second = import(location, django_url, &[]);
    has(&second, "unchanged 2 ann");
    assert_eq!(
        last(&second),
        "created 0, updated 0, unchanged 10, skipped 1"
    );
    assert_eq!(login(addr, "ann", "ann-pass").0, 200);

    // Changes in Django come over; a password changed there ends the user's sessions.
    django_site(python, django_url, "change");
    let third = import(location, django_url, &[]);
    has(&third, "updated 8 beatrice: username");
    has(&third, "updated 3 sam: roles, password");
    has(
        &third,
        "left alone 7 ava: imported before, no longer in Django",
    );
    assert_eq!(last(&third), "created 0, updated 2, unchanged 7, skipped 1");
    let refresh = json!({"refresh": sessions["sam"]["refresh"]});
    let (status, body) = http(addr, "POST", "/api/token/refresh/", None, Some(&refresh));
    assert_eq!(status, 401, "sam's old session ended: {body}");
    assert_eq!(login(addr, "sam", "sam-pass").0, 401);
    assert_eq!(login(addr, "sam", "sam-new-pass").0, 200);
    assert_eq!(login(addr, "beatrice", "bea-pass").0, 200);
    // Deleted in Django, left alone in Tessera.
    assert_eq!(login(addr, "ava", "ava-pass").0, 200);

    // Ids made by Tessera continue after the highest imported one.
    let mut add = vec!["users", "add", "newbie", "--password-stdin"];
    add.extend(location);
    let added = stdout(&tessera_with_env(&add, "pw\n", &cheap_hashing()));
    assert_eq!(added.trim(), "created user newbie with id 12");
}

#[test]
fn a_django_sqlite_site_moves_to_the_embedded_default() {
    let Some(python) = python_with(&["django", "argon2", "bcrypt"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let django_url = format!("sqlite:///{}/django.sqlite3", dir.path().display());
    let data = dir.path().join("tessera").display().to_string();
    a_django_site_moves_over(&python, &django_url, &["--data-dir", &data]);
}

#[test]
fn a_django_postgres_site_moves_to_tessera_on_postgres() {
    let Some(python) = python_with(&["django", "argon2", "bcrypt", "psycopg"]) else {
        return;
    };
    let runtime = Runtime::new().unwrap();
    let (Some(django), Some(tessera)) = (
        runtime.block_on(TestDatabase::create()),
        runtime.block_on(TestDatabase::create()),
    ) else {
        return;
    };
    let migrate = ["migrate", "--database-url", tessera.url.as_str()];
    stdout(&tessera_with_env(&migrate, "", &[]));
    a_django_site_moves_over(&python, &django.url, &["--database-url", &tessera.url]);
}

#[test]
fn unreadable_sources_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().display().to_string();
    let not_django = dir.path().join("empty.db");
    std::fs::write(&not_django, b"").unwrap();
    for (from, expected) in [
        (
            "mysql://db/site",
            "database URL scheme \"mysql\" is not supported",
        ),
        ("sqlite:///", "expected sqlite:///relative.db"),
        (
            "sqlite:////nonexistent/db.sqlite3",
            "no SQLite database at /nonexistent/db.sqlite3",
        ),
        (
            &format!("sqlite:///{}", not_django.display()),
            "reading django.contrib.auth's tables",
        ),
    ] {
        let output = tessera_with_env(
            &["import", "django", "--from", from, "--data-dir", &data],
            "",
            &[],
        );
        assert_eq!(output.status.code(), Some(2), "{from}");
        let message = super::stderr(&output);
        assert!(message.contains(expected), "{from}: {message}");
    }
}
