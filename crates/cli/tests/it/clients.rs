//! `tessera clients`: registration prints the secret once; listing never does; rotation and
//! deletion; bad input exits 2 with a message.

use serde_json::Value;

use crate::{stderr, stdout, tessera};

fn run(args: &[&str], data: &str) -> std::process::Output {
    let mut full = args.to_vec();
    full.extend(["--data-dir", data]);
    tessera(&full, "")
}

fn url_safe(text: &str) -> bool {
    text.len() == 43
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[test]
fn clients_are_added_listed_rotated_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let added: Value = serde_json::from_str(&stdout(&run(
        &[
            "clients",
            "add",
            "billing",
            "--scope",
            "read",
            "--scope",
            "write",
            "--grant",
            "client_credentials",
            "--grant",
            "refresh_token",
        ],
        data,
    )))
    .unwrap();
    let (id, secret) = (
        added["client_id"].as_str().unwrap().to_owned(),
        added["client_secret"].as_str().unwrap().to_owned(),
    );
    assert!(url_safe(&id) && url_safe(&secret), "{added}");
    assert_eq!(added["name"], "billing");
    assert_eq!(added["scopes"], serde_json::json!(["read", "write"]));
    assert_eq!(
        added["grants"],
        serde_json::json!(["client_credentials", "refresh_token"])
    );
    let plain: Value =
        serde_json::from_str(&stdout(&run(&["clients", "add", "cron"], data))).unwrap();
    assert_eq!(plain["grants"], serde_json::json!(["client_credentials"]));

    let listing = stdout(&run(&["clients", "list"], data));
    assert!(
        listing.contains("billing") && listing.contains(&id),
        "{listing}"
    );
    assert!(!listing.contains(&secret), "never a secret");

    let rotated: Value = serde_json::from_str(&stdout(&run(
        &["clients", "rotate-secret", "billing"],
        data,
    )))
    .unwrap();
    assert_eq!(rotated["client_id"], id.as_str());
    assert_ne!(rotated["client_secret"], secret.as_str());

    stdout(&run(&["clients", "delete", "billing"], data));
    let listing = stdout(&run(&["clients", "list"], data));
    assert!(
        !listing.contains("billing") && listing.contains("cron"),
        "{listing}"
    );
}

#[test]
fn bad_client_input_exits_2_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    stdout(&run(&["clients", "add", "billing"], data));
    for (args, message) in [
        (
            &["clients", "add", "billing"][..],
            "a client named \"billing\" already exists",
        ),
        (
            &["clients", "add", "x", "--grant", "implicit"],
            "--grant \"implicit\"",
        ),
        (
            &["clients", "add", "x", "--scope", "two words"],
            "not a valid scope token",
        ),
        (
            &["clients", "delete", "nobody"],
            "no client named \"nobody\"",
        ),
        (
            &["clients", "rotate-secret", "nobody"],
            "no client named \"nobody\"",
        ),
    ] {
        let output = run(args, data);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&output).contains(message),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}
