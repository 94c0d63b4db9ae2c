//! `tessera serve` and `tessera users` end to end: real processes, real TCP on 127.0.0.1.
#![allow(
    clippy::disallowed_methods,
    reason = "these tests drive a separate `tessera serve` process over a real socket: its time is the real one"
)]

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{Server, add_user_at, cheap_hashing, http};
use crate::{stderr, stdout, tessera};

fn serve(data_dir: &str) -> Server {
    Server::start(&["--data-dir", data_dir], &[])
}

fn add_user(dir: &str, name: &str, password_line: &str) {
    add_user_at(&["--data-dir", dir], name, password_line);
}

#[test]
fn login_me_cli_disable_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    // `users add` on a fresh data dir creates the database; one trailing newline is stripped.
    add_user(data, "ann", "pw with spaces \n");
    add_user(data, "bob", "bob-pw\n");
    let listing = stdout(&tessera(&["users", "list", "--data-dir", data], ""));
    assert!(
        listing.contains("ann") && listing.contains("bob"),
        "{listing}"
    );

    let server = serve(data);
    let (status, pair) = http(
        &server.addr,
        "POST",
        "/api/token/",
        None,
        Some(&json!({"username": "ann", "password": "pw with spaces "})),
    );
    assert_eq!(status, 200, "{pair}");
    let access = pair["access"].as_str().unwrap().to_owned();
    assert_eq!(
        http(&server.addr, "GET", "/api/me/", Some(&access), None),
        (
            200,
            json!({"id": 1, "username": "ann", "roles": [], "claims": {}})
        )
    );
    let (status, jwks) = http(&server.addr, "GET", "/.well-known/jwks.json", None, None);
    assert_eq!(status, 200);
    let kid = jwks["keys"][0]["kid"].clone();

    // A CLI change while the server runs takes effect within 2 seconds.
    stdout(&tessera(
        &["users", "disable", "ann", "--data-dir", data],
        "",
    ));
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let (status, body) = http(&server.addr, "GET", "/api/me/", Some(&access), None);
        if status == 401 {
            assert_eq!(
                body,
                json!({"detail": "User is inactive", "code": "user_inactive"})
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not see the CLI change within 2 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_, pair) = http(
        &server.addr,
        "POST",
        "/api/token/",
        None,
        Some(&json!({"username": "bob", "password": "bob-pw"})),
    );
    let bob_refresh = pair["refresh"].as_str().unwrap().to_owned();
    drop(server);

    // Restarting keeps users, keys, sessions and revocations.
    let server = serve(data);
    let (_, jwks) = http(&server.addr, "GET", "/.well-known/jwks.json", None, None);
    assert_eq!(jwks["keys"][0]["kid"], kid);
    assert_eq!(
        http(&server.addr, "GET", "/api/me/", Some(&access), None).0,
        401
    );
    let (status, _) = http(
        &server.addr,
        "POST",
        "/api/token/refresh/",
        None,
        Some(&json!({"refresh": bob_refresh})),
    );
    assert_eq!(status, 200);

    // Key rotation from the CLI reaches the running server.
    stdout(&tessera(&["keys", "rotate", "--data-dir", data], ""));
    let deadline = Instant::now() + Duration::from_secs(2);
    while http(&server.addr, "GET", "/.well-known/jwks.json", None, None).1["keys"]
        .as_array()
        .unwrap()
        .len()
        < 2
    {
        assert!(
            Instant::now() < deadline,
            "rotation not picked up within 2 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let keys = stdout(&tessera(&["keys", "list", "--data-dir", data], ""));
    assert!(
        keys.contains("signing") && keys.contains("verifying until"),
        "{keys}"
    );
}

#[test]
fn roles_and_claims_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let add = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args([
            "users",
            "add",
            "joker",
            "--password-stdin",
            "--role",
            "joker",
            "--role",
            "staff",
            "--claims",
            r#"{"name":"Joker"}"#,
            "--data-dir",
            data,
        ])
        .envs(cheap_hashing())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    add.stdin.as_ref().unwrap().write_all(b"pw\n").unwrap();
    assert!(add.wait_with_output().unwrap().status.success());
    let listing = stdout(&tessera(&["users", "list", "--data-dir", data], ""));
    assert!(
        listing.contains("joker,staff") && listing.contains(r#"{"name":"Joker"}"#),
        "{listing}"
    );

    let refused = tessera(
        &[
            "users",
            "set-claims",
            "joker",
            r#"{"exp":1}"#,
            "--data-dir",
            data,
        ],
        "",
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("\"exp\""), "{}", stderr(&refused));
    let refused = tessera(
        &["users", "set-claims", "joker", "[]", "--data-dir", data],
        "",
    );
    assert_eq!(refused.status.code(), Some(2));

    stdout(&tessera(
        &[
            "users",
            "set-roles",
            "joker",
            "admin",
            "--revoke-sessions",
            "--data-dir",
            data,
        ],
        "",
    ));
    stdout(&tessera(
        &[
            "users",
            "set-claims",
            "joker",
            r#"{"email":"j@example.com"}"#,
            "--data-dir",
            data,
        ],
        "",
    ));
    let listing = stdout(&tessera(&["users", "list", "--data-dir", data], ""));
    assert!(
        listing.contains("admin")
            && !listing.contains("staff")
            && listing.contains("j@example.com"),
        "{listing}"
    );

    let server = serve(data);
    let (status, pair) = http(
        &server.addr,
        "POST",
        "/api/token/",
        None,
        Some(&json!({"username": "joker", "password": "pw"})),
    );
    assert_eq!(status, 200, "{pair}");
    let access = pair["access"].as_str().unwrap();
    let (_, me) = http(&server.addr, "GET", "/api/me/", Some(access), None);
    assert_eq!(me["roles"], json!(["admin"]));
    let (status, users) = http(&server.addr, "GET", "/api/admin/users/", Some(access), None);
    assert_eq!((status, users["count"].clone()), (200, json!(1)));
}

#[test]
fn invalid_settings_stop_the_start_naming_the_setting() {
    let output = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["serve", "--data-dir", "/nonexistent-unused"])
        .env("TESSERA_ACCESS_TOKEN_LIFETIME", "soon")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("access_token_lifetime"), "{message}");

    let help = stdout(&tessera(&["serve", "--help"], ""));
    for line in [
        "access_token_lifetime",
        "[default: 5m]",
        "refresh_token_lifetime",
        "[default: 1d]",
        "[default: 127.0.0.1:8000]",
    ] {
        assert!(help.contains(line), "help lacks {line}");
    }
    let duplicate = tessera(
        &[
            "users",
            "add",
            "x",
            "--data-dir",
            "/proc/forbidden/dir",
            "--password-stdin",
        ],
        "pw\n",
    );
    assert_eq!(duplicate.status.code(), Some(2), "{}", stderr(&duplicate));
}
