//! The web console in a real browser: `crates/cli/tests/browser/console.mjs` drives Debian's
//! chromium (through playwright-core from npm, both installed by `.ci/test`) against a real
//! `tessera serve`: sign-in, a wrong password, a reload that stays signed in, no token in storage,
//! revoking another session, an expired access token refreshed transparently, a password change, a
//! session revoked elsewhere, signing out everywhere, a phone-width screen, and the hardening
//! headers. A fresh server says how to make the first administrator, at start and on the page.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::support::{Server, add_user_at, cheap_hashing, http, spawn_for_first_line};

/// Debian's chromium, and node with playwright-core installed; `None` (said) outside CI.
fn browser() -> Option<(String, std::path::PathBuf)> {
    let chromium =
        std::env::var("TESSERA_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let ready = Path::new(&chromium).is_file()
        && dir.join("node_modules/playwright-core").is_dir()
        && Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if ready {
        return Some((chromium, dir));
    }
    let why = format!(
        "no browser test tools ({chromium}, node, {}/node_modules/playwright-core): `bash .ci/test` installs them",
        dir.display()
    );
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
    eprintln!("skipped: {why}");
    None
}

#[test]
fn the_console_works_in_a_real_browser() {
    let Some((chromium, dir)) = browser() else {
        return;
    };
    let data_dir = tempfile::tempdir().unwrap();
    let data = data_dir.path().display().to_string();
    add_user_at(
        &["--data-dir", &data, "--role", "reader"],
        "ann",
        "ann-pw
",
    );
    add_user_at(
        &["--data-dir", &data, "--role", "admin"],
        "root",
        "root-pw
",
    );
    let server = Server::start(
        &["--data-dir", &data],
        &[("TESSERA_ACCESS_TOKEN_LIFETIME", "3s".to_owned())],
    );
    let run = Command::new("node")
        .arg(dir.join("console.mjs"))
        .current_dir(&dir)
        .env("TESSERA_URL", format!("http://{}", server.addr))
        .env("CHROMIUM", &chromium)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "browser scenarios failed:\n{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
}

#[test]
fn a_fresh_server_says_how_to_make_the_first_administrator() {
    let data_dir = tempfile::tempdir().unwrap();
    let data = data_dir.path().display().to_string();
    let mut command = Command::new(env!("CARGO_BIN_EXE_tessera"));
    command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--data-dir",
            &data,
        ])
        .envs(cheap_hashing())
        .env("TESSERA_LOG", "warn")
        .stderr(std::process::Stdio::null());
    let (mut child, line) = spawn_for_first_line(command);
    let start: Value = serde_json::from_str(&line).unwrap();
    let hint = start["first_run"].as_str().unwrap_or_default().to_owned();
    assert!(
        hint.contains("tessera users add NAME --role admin --password-stdin"),
        "{line}"
    );
    let addr = start["addr"].as_str().unwrap().to_owned();
    let (status, body) = http(&addr, "GET", "/console/api/status", None, None);
    assert_eq!(
        (status, &body["has_users"]),
        (200, &Value::Bool(false)),
        "{body}"
    );
    assert_eq!(body["hint"], hint.as_str());
    let _ = child.kill();
    let _ = child.wait();
}
