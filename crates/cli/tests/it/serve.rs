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

/// `--log-format json` makes every line JSON, the start-up line too; each request leaves one line
/// with its route template, status, latency and request id (echoed in `X-Request-Id`); and
/// `--metrics-listen` serves `/metrics` on its own address.
#[test]
fn json_logs_request_ids_and_the_metrics_listener() {
    use std::io::{Read as _, Write as _};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("stderr.log");
    let mut command = Command::new(env!("CARGO_BIN_EXE_tessera"));
    command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
        ])
        .args(["--log-format", "json", "--data-dir", data.to_str().unwrap()])
        .envs(cheap_hashing())
        .env("TESSERA_LOG", "info")
        .stderr(std::fs::File::create(&log).unwrap());
    let (mut child, line) = crate::support::spawn_for_first_line(command);
    let start: serde_json::Value = serde_json::from_str(&line).unwrap();
    let addr = start["addr"].as_str().unwrap().to_owned();
    let metrics = start["metrics_addr"].as_str().unwrap().to_owned();

    let raw = |addr: &str, request: &str| {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    };
    let response = raw(
        &addr,
        &format!(
            "GET /api/sessions/abc123/ HTTP/1.1\r\nHost: {addr}\r\nX-Request-Id: client-7\r\nConnection: close\r\n\r\n"
        ),
    );
    let request_id = response
        .lines()
        .find_map(|l| l.strip_prefix("x-request-id: "))
        .unwrap()
        .to_owned();
    assert_ne!(
        request_id, "client-7",
        "no trusted proxy: the client's id is not taken"
    );
    let scrape = raw(
        &metrics,
        &format!("GET /metrics HTTP/1.1\r\nHost: {metrics}\r\nConnection: close\r\n\r\n"),
    );
    assert!(scrape.starts_with("HTTP/1.1 200"), "{scrape}");
    assert!(
        scrape.contains(r#"tessera_http_requests_total{route="/api/sessions/{id}/",method="GET",status="405"} 1"#)
            || scrape.contains(r#"tessera_http_requests_total{route="/api/sessions/{id}/",method="GET",status="401"} 1"#),
        "{scrape}"
    );
    // A second server on the same port fails; in JSON mode the reason is a JSON line too.
    let taken = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["serve", "--listen", &addr, "--log-format", "json"])
        .args(["--data-dir", data.to_str().unwrap()])
        .envs(cheap_hashing())
        .env("TESSERA_LOG", "warn")
        .output()
        .unwrap();
    assert_eq!(taken.status.code(), Some(2));
    let stderr = String::from_utf8(taken.stderr).unwrap();
    let stopped: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect();
    assert!(
        stopped
            .iter()
            .any(|l| l["message"] == "tessera serve stopped"
                && l["error"].as_str().unwrap_or_default().contains(&addr)),
        "{stderr}"
    );

    let _ = child.kill();
    let _ = child.wait();

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect();
    assert!(lines.iter().any(|l| l["message"] == "listening"), "{text}");
    let request = lines
        .iter()
        .find(|l| l["message"] == "request")
        .unwrap_or_else(|| panic!("no request line: {text}"));
    assert_eq!(
        request["route"], "/api/sessions/{id}/",
        "the template, not the path"
    );
    assert_eq!(request["method"], "GET");
    assert_eq!(request["request_id"], request_id.as_str());
    assert_eq!(request["client_request_id"], "client-7");
    assert!(request["status"].as_u64().is_some() && request["latency_ms"].as_f64().is_some());
    assert!(!text.contains("abc123"), "the raw path is not logged");
}
