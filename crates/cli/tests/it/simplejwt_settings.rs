//! The `[simplejwt]` table means what `SIMPLE_JWT` means to simplejwt, shown against the real
//! thing: the same settings go to a Django REST framework site running djangorestframework-
//! simplejwt 5.5 (`simplejwt_site.py`, from the venv `.ci/test` installs) and, pasted as a
//! `[simplejwt]` table, to `tessera serve`; both answer the same requests, and every answer must
//! match: status, body (tokens compared by their claims' names, type and user), and the 401
//! challenge; lifetimes are compared too (`exp - iat`). Sliding tokens, renamed claims, the header's name and types, the token classes and
//! rotation are all in the scenarios. Tessera's own extra claims (`sid`, `roles`, `role`) are left
//! out of the comparison.
#![allow(
    clippy::disallowed_methods,
    reason = "a sliding refresh is observed across a real second on both servers, whose clocks are real"
)]

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use serde_json::{Map, Value, json};
use tessera_store::testing::python_with;

use super::support::{Server, add_user_at};

/// What Tessera adds to simplejwt's claims.
const TESSERA_CLAIMS: [&str; 3] = ["sid", "roles", "role"];

pub(crate) const SECRET: &str = "a shared HMAC secret long enough for HS256 keys";

/// The scenario's answers from the Django site, and the values its steps saved.
pub(crate) fn django_answers(python: &str, spec: &Value) -> (Vec<Value>, Map<String, Value>) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/simplejwt_site.py");
    let mut command = Command::new(python);
    command.arg(script);
    let output = super::output_with_stdin(command, &spec.to_string());
    assert!(
        output.status.success(),
        "simplejwt_site.py: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let out: Value = serde_json::from_slice(&output.stdout).unwrap();
    (
        serde_json::from_value(out["answers"].clone()).unwrap(),
        out["saved"].as_object().unwrap().clone(),
    )
}

/// One request with the given headers; the status, `WWW-Authenticate` and JSON body.
pub(crate) fn call(
    addr: &str,
    method: &str,
    path: &str,
    headers: &Map<String, Value>,
    body: Option<&Value>,
) -> (u16, Option<String>, Value) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {}\r\n", value.as_str().unwrap()));
    }
    write!(stream, "{head}\r\n{body}").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, payload) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let challenge = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("www-authenticate")
            .then(|| value.trim().to_owned())
    });
    (
        status,
        challenge,
        serde_json::from_str(payload).unwrap_or(Value::Null),
    )
}

fn claims_of(token: &str) -> Option<Map<String, Value>> {
    use base64::Engine as _;
    let part = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// A token as its claims' names (simplejwt's only), type and user; anything else as it is.
fn describe(value: &Value, names: &(String, String)) -> Value {
    match value {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k.clone(), describe(v, names)))
            .collect::<Map<_, _>>()
            .into(),
        Value::Array(items) => items.iter().map(|v| describe(v, names)).collect(),
        Value::String(text) if text.matches('.').count() == 2 => match claims_of(text) {
            Some(claims) => {
                let mut keys: Vec<&String> = claims
                    .keys()
                    .filter(|k| !TESSERA_CLAIMS.contains(&k.as_str()))
                    .collect();
                keys.sort();
                json!({
                    "claims": keys,
                    "type": claims.get(&names.0),
                    "user": claims.get(&names.1),
                    "lifetime": claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
                })
            }
            None => value.clone(),
        },
        other => other.clone(),
    }
}

fn fill(value: &Value, saved: &Map<String, Value>) -> Value {
    match value {
        Value::String(text) => {
            let mut text = text.clone();
            for (name, saved) in saved {
                text = text.replace(&format!("${name}"), saved.as_str().unwrap());
            }
            Value::String(text)
        }
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k.clone(), fill(v, saved)))
            .collect::<Map<_, _>>()
            .into(),
        other => other.clone(),
    }
}

/// The scenario's answers from `tessera serve` with the settings as a `[simplejwt]` table; also
/// the raw saved values, for checks beyond the comparison.
fn tessera_answers(spec: &Value) -> (Vec<Value>, Map<String, Value>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data").display().to_string();
    let config = dir.path().join("tessera.toml");
    let table: toml::Table = toml::Value::try_from(&spec["simple_jwt"])
        .unwrap()
        .as_table()
        .unwrap()
        .clone();
    let mut file = toml::Table::new();
    file.insert("simplejwt".into(), toml::Value::Table(table));
    std::fs::write(&config, toml::to_string(&file).unwrap()).unwrap();
    for (name, password) in spec["users"].as_object().unwrap() {
        add_user_at(
            &["--data-dir", &data],
            name,
            &format!("{}\n", password.as_str().unwrap()),
        );
    }
    let config_arg = config.display().to_string();
    let server = Server::start(&["--config", &config_arg, "--data-dir", &data], &[]);
    let names = claim_names(spec);
    let mut saved = Map::new();
    let mut answers = Vec::new();
    for step in spec["steps"].as_array().unwrap() {
        if let Some(wait) = step["wait"].as_f64() {
            std::thread::sleep(Duration::from_secs_f64(wait));
        }
        let headers = fill(&step["headers"], &saved);
        let body = (!step["body"].is_null()).then(|| fill(&step["body"], &saved));
        let (status, challenge, answer) = call(
            &server.addr,
            step["method"].as_str().unwrap(),
            step["path"].as_str().unwrap(),
            headers.as_object().unwrap_or(&Map::new()),
            body.as_ref(),
        );
        if let Some(save) = step["save"].as_object() {
            for (name, field) in save {
                saved.insert(name.clone(), answer[field.as_str().unwrap()].clone());
            }
        }
        let answer = if answer.is_null() {
            Value::Null
        } else {
            describe(&answer, &names)
        };
        answers.push(json!({"status": status, "body": answer, "www_authenticate": challenge}));
    }
    (answers, saved, dir)
}

fn claim_names(spec: &Value) -> (String, String) {
    let setting = |key: &str, default: &str| {
        spec["simple_jwt"][key]
            .as_str()
            .unwrap_or(default)
            .to_owned()
    };
    (
        setting("TOKEN_TYPE_CLAIM", "token_type"),
        setting("USER_ID_CLAIM", "user_id"),
    )
}

/// Runs `spec` on both sides and compares every answer; returns Tessera's saved values.
fn same_answers(spec: &Value) -> Option<(Map<String, Value>, tempfile::TempDir)> {
    let python = python_with(&[
        "django",
        "rest_framework",
        "rest_framework_simplejwt",
        "jwt",
    ])?;
    let (django, _) = django_answers(&python, spec);
    let (tessera, saved, dir) = tessera_answers(spec);
    let steps = spec["steps"].as_array().unwrap();
    assert_eq!(django.len(), steps.len());
    for (index, step) in steps.iter().enumerate() {
        assert_eq!(
            tessera[index], django[index],
            "step {index}: {} {} (left: Tessera, right: simplejwt)",
            step["method"], step["path"]
        );
    }
    Some((saved, dir))
}

pub(crate) fn step(method: &str, path: &str, headers: Value, body: Value) -> Value {
    json!({"method": method, "path": path, "headers": headers, "body": body})
}

pub(crate) fn saving(mut step: Value, save: Value) -> Value {
    step["save"] = save;
    step
}

/// `step`, once `iat` can have moved on.
fn after_a_second(mut step: Value) -> Value {
    step["wait"] = json!(1.1);
    step
}

pub(crate) fn login() -> Value {
    json!({"username": "ann", "password": "pw"})
}

/// `JWT` as the header type, renamed claims, sliding tokens next to access tokens, no rotation,
/// an issuer, an audience, leeway, last logins recorded, and a Django-only key.
#[test]
fn sliding_tokens_renamed_claims_and_another_header_type_answer_as_simplejwt_does() {
    let spec = json!({
        "users": {"ann": "pw"},
        "simple_jwt": {
            "ACCESS_TOKEN_LIFETIME": 240,
            "REFRESH_TOKEN_LIFETIME": 3000,
            "ROTATE_REFRESH_TOKENS": false,
            "BLACKLIST_AFTER_ROTATION": false,
            "UPDATE_LAST_LOGIN": true,
            "ALGORITHM": "HS256",
            "SIGNING_KEY": SECRET,
            "AUDIENCE": "orders-api",
            "ISSUER": "https://auth.example",
            "LEEWAY": 5,
            "AUTH_HEADER_TYPES": ["JWT"],
            "USER_ID_CLAIM": "uid",
            "TOKEN_TYPE_CLAIM": "kind",
            "JTI_CLAIM": "token_id",
            "SLIDING_TOKEN_LIFETIME": 180,
            "SLIDING_TOKEN_REFRESH_LIFETIME": 2400,
            "SLIDING_TOKEN_REFRESH_EXP_CLAIM": "renew_until",
            "AUTH_TOKEN_CLASSES": [
                "rest_framework_simplejwt.tokens.AccessToken",
                "rest_framework_simplejwt.tokens.SlidingToken"
            ],
            "USER_ID_FIELD": "id",
        },
        "steps": [
            saving(step("POST", "/api/token/", json!({}), login()), json!({"access": "access", "refresh": "refresh"})),
            step("GET", "/api/me/", json!({"Authorization": "Bearer $access"}), Value::Null),
            step("GET", "/api/me/", json!({"Authorization": "JWT $access"}), Value::Null),
            step("GET", "/api/me/", json!({"Authorization": "JWT $access extra"}), Value::Null),
            step("GET", "/api/me/", json!({"Authorization": "JWT $refresh"}), Value::Null),
            step("POST", "/api/token/refresh/", json!({}), json!({"refresh": "$refresh"})),
            step("POST", "/api/token/refresh/", json!({}), json!({"refresh": "$refresh"})),
            step("POST", "/api/token/verify/", json!({}), json!({"token": "$access"})),
            saving(step("POST", "/api/token/sliding/", json!({}), login()), json!({"sliding": "token"})),
            step("GET", "/api/me/", json!({"Authorization": "JWT $sliding"}), Value::Null),
            step("POST", "/api/token/verify/", json!({}), json!({"token": "$sliding"})),
            after_a_second(saving(
                step("POST", "/api/token/sliding/refresh/", json!({}), json!({"token": "$sliding"})),
                json!({"slid": "token"}),
            )),
            step("GET", "/api/me/", json!({"Authorization": "JWT $slid"}), Value::Null),
            step("POST", "/api/token/sliding/refresh/", json!({}), json!({"token": "$access"})),
            step("POST", "/api/token/sliding/refresh/", json!({}), json!({"token": "not.a.token"})),
            step("POST", "/api/token/sliding/refresh/", json!({}), json!({})),
            step("POST", "/api/token/refresh/", json!({}), json!({"refresh": "$sliding"})),
            step("POST", "/api/token/sliding/", json!({}), json!({"username": "ann", "password": "wrong"})),
            step("POST", "/api/token/sliding/", json!({}), json!({"username": "ann"})),
        ],
    });
    let Some((saved, dir)) = same_answers(&spec) else {
        return;
    };
    // A sliding refresh keeps the token's id and refresh expiry and moves exp and iat.
    let before = claims_of(saved["sliding"].as_str().unwrap()).unwrap();
    let window = before["renew_until"].as_i64().unwrap() - before["iat"].as_i64().unwrap();
    assert_eq!(window, 2400, "SLIDING_TOKEN_REFRESH_LIFETIME");
    let after = claims_of(saved["slid"].as_str().unwrap()).unwrap();
    assert_eq!(before["token_id"], after["token_id"]);
    assert_eq!(before["renew_until"], after["renew_until"]);
    assert!(after["exp"].as_i64() > before["exp"].as_i64());
    assert!(after["iat"].as_i64() > before["iat"].as_i64());
    // UPDATE_LAST_LOGIN: the login is recorded.
    let data = dir.path().join("data").display().to_string();
    let listing = super::stdout(&super::tessera(&["users", "list", "--data-dir", &data], ""));
    let ann = listing.lines().find(|l| l.contains(" ann ")).unwrap();
    assert!(ann.contains("T") && !ann.contains(" - "), "{listing}");
}

/// Another header, access tokens only, and rotation with the blacklist.
#[test]
fn another_header_access_tokens_only_and_rotation_answer_as_simplejwt_does() {
    let header = |value: &str| json!({"X-Access-Token": value});
    let spec = json!({
        "users": {"ann": "pw"},
        "simple_jwt": {
            "ALGORITHM": "HS256",
            "SIGNING_KEY": SECRET,
            "ROTATE_REFRESH_TOKENS": true,
            "BLACKLIST_AFTER_ROTATION": true,
            "AUTH_HEADER_NAME": "HTTP_X_ACCESS_TOKEN",
            "AUTH_TOKEN_CLASSES": ["rest_framework_simplejwt.tokens.AccessToken"],
        },
        "steps": [
            saving(step("POST", "/api/token/", json!({}), login()), json!({"access": "access", "refresh": "refresh"})),
            step("GET", "/api/me/", header("Bearer $access"), Value::Null),
            step("GET", "/api/me/", json!({"Authorization": "Bearer $access"}), Value::Null),
            saving(step("POST", "/api/token/sliding/", json!({}), login()), json!({"sliding": "token"})),
            step("GET", "/api/me/", header("Bearer $sliding"), Value::Null),
            step("POST", "/api/token/refresh/", json!({}), json!({"refresh": "$refresh"})),
            step("POST", "/api/token/refresh/", json!({}), json!({"refresh": "$refresh"})),
        ],
    });
    same_answers(&spec);
}

/// Rotation without the blacklist: every refresh token issued stays good until it expires.
#[test]
fn rotation_without_the_blacklist_answers_as_simplejwt_does() {
    let spec = json!({
        "users": {"ann": "pw"},
        "simple_jwt": {
            "ALGORITHM": "HS256",
            "SIGNING_KEY": SECRET,
            "ROTATE_REFRESH_TOKENS": true,
            "BLACKLIST_AFTER_ROTATION": false,
            "REFRESH_TOKEN_LIFETIME": 1800,
        },
        "steps": [
            saving(step("POST", "/api/token/", json!({}), login()), json!({"refresh": "refresh"})),
            saving(step("POST", "/api/token/refresh/", json!({}), json!({"refresh": "$refresh"})), json!({"next": "refresh"})),
            step("POST", "/api/token/refresh/", json!({}), json!({"refresh": "$refresh"})),
            step("POST", "/api/token/refresh/", json!({}), json!({"refresh": "$next"})),
            step("POST", "/api/token/verify/", json!({}), json!({"token": "$refresh"})),
        ],
    });
    same_answers(&spec);
}
