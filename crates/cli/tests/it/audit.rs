//! The audit log from the outside: each event is also one JSON log line; `tessera audit` prints
//! the stored events as JSON lines and `--follow` keeps printing; no password or token is in the
//! log output or anywhere in the database files.
#![allow(
    clippy::disallowed_methods,
    reason = "waits on another process, whose time is the real one"
)]

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use super::support::{add_user_at, cheap_hashing, http, spawn_for_first_line, within};
use super::{stdout, tessera};

const PASSWORD: &str = "audit-test-secret-password";

#[test]
fn events_are_logged_printed_followed_and_never_hold_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.display().to_string();
    let log = dir.path().join("stderr.log");
    add_user_at(&["--data-dir", &data_arg], "ann", &format!("{PASSWORD}\n"));
    let mut command = Command::new(env!("CARGO_BIN_EXE_tessera"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .args(["--data-dir", &data_arg])
        .envs(cheap_hashing())
        .env("TESSERA_LOG", "info")
        .stderr(std::fs::File::create(&log).unwrap());
    let (mut server, line) = spawn_for_first_line(command);
    let start: Value = serde_json::from_str(&line).unwrap();
    let addr = start["addr"].as_str().unwrap().to_owned();

    // --follow, started before the flows, prints what they leave.
    let mut follower = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args([
            "audit",
            "--follow",
            "--user",
            "ann",
            "--data-dir",
            &data_arg,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let followed = BufReader::new(follower.stdout.take().unwrap());

    let login = json!({"username": "ann", "password": PASSWORD});
    let (status, pair) = http(&addr, "POST", "/api/token/", None, Some(&login));
    assert_eq!(status, 200, "{pair}");
    let access = pair["access"].as_str().unwrap().to_owned();
    let refresh = pair["refresh"].as_str().unwrap().to_owned();
    let wrong = json!({"username": "ann", "password": "a-wrong-secret"});
    assert_eq!(
        http(&addr, "POST", "/api/token/", None, Some(&wrong)).0,
        401
    );
    let body = json!({ "refresh": refresh });
    let (status, next) = http(&addr, "POST", "/api/token/refresh/", None, Some(&body));
    assert_eq!(status, 200, "{next}");
    let access2 = next["access"].as_str().unwrap().to_owned();
    assert_eq!(
        http(
            &addr,
            "POST",
            "/api/logout/",
            Some(&access2),
            Some(&json!({}))
        )
        .0,
        200
    );

    let expected = [
        "user.created",
        "login.success",
        "login.failure",
        "token.refresh",
        "session.revoked",
    ];
    let mut seen = Vec::new();
    for line in followed.lines() {
        let event: Value = serde_json::from_str(&line.unwrap()).unwrap();
        assert_eq!(event["subject"]["username"], "ann", "{event}");
        seen.push(event["event"].as_str().unwrap().to_owned());
        if seen.len() == expected.len() {
            break;
        }
    }
    let _ = follower.kill();
    let _ = follower.wait();
    assert_eq!(seen, expected, "in order, as they happened");

    // The same, without --follow; and filtered by event.
    let printed = stdout(&tessera(&["audit", "--data-dir", &data_arg], ""));
    let printed: Vec<Value> = printed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let login_success = printed
        .iter()
        .find(|e| e["event"] == "login.success")
        .unwrap();
    assert_eq!(login_success["actor"]["type"], "user");
    assert_eq!(login_success["ip"], "127.0.0.1");
    let failures = stdout(&tessera(
        &["audit", "--event", "login.failure", "--data-dir", &data_arg],
        "",
    ));
    assert_eq!(failures.lines().count(), 1, "{failures}");
    let bad = tessera(&["audit", "--event", "nope", "--data-dir", &data_arg], "");
    assert_eq!(bad.status.code(), Some(2));
    assert!(super::stderr(&bad).contains("login.success"));

    // Every event is also a log line.
    within(Duration::from_secs(10), "the audit log lines", || {
        let text = std::fs::read_to_string(&log).unwrap();
        text.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|l| l["message"] == "audit")
            .count()
            >= 4
    });
    let _ = server.kill();
    let _ = server.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    let logged: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|l: &Value| l["message"] == "audit")
        .collect();
    let kinds: Vec<&str> = logged
        .iter()
        .map(|l| l["event"].as_str().unwrap())
        .collect();
    for kind in [
        "login.success",
        "login.failure",
        "token.refresh",
        "session.revoked",
    ] {
        assert!(kinds.contains(&kind), "{kinds:?}");
    }
    assert!(logged.iter().all(|l| l["subject"] == "ann"), "{logged:?}");

    // No secret in the log, nor in any byte of the database files.
    let mut stored = Vec::new();
    for entry in std::fs::read_dir(&data).unwrap() {
        stored.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    let stored = String::from_utf8_lossy(&stored);
    for secret in [PASSWORD, "a-wrong-secret", &access, &refresh, &access2] {
        assert!(!text.contains(secret), "a secret in the log");
        assert!(!stored.contains(secret), "a secret in the database");
    }
    let signature = refresh.rsplit('.').next().unwrap();
    assert!(!stored.contains(signature), "not even part of a token");

    // flush-expired says how many events it removed (none are 90 days old).
    let flushed = stdout(&tessera(&["flush-expired", "--data-dir", &data_arg], ""));
    assert!(flushed.trim().ends_with("0 audit events"), "{flushed}");
}
