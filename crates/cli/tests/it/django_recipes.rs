//! docs/MIGRATING-FROM-SIMPLEJWT.md's two recipes for keeping a Django REST framework site serving,
//! run with the real site (djangorestframework-simplejwt 5.5.1 from the venv `.ci/test` installs):
//! during the switch, Tessera and the site share simplejwt's HMAC key and each accepts the other's
//! tokens; after it, the site trusts Tessera's own (ES256) keys through simplejwt's `JWK_URL`.

use serde_json::{Map, Value, json};
use tessera_store::testing::python_with;

use super::simplejwt_settings::{SECRET, call, django_answers, login, saving, step};
use super::support::{Server, add_user_at};

fn python() -> Option<String> {
    python_with(&[
        "django",
        "rest_framework",
        "rest_framework_simplejwt",
        "jwt",
        "cryptography",
    ])
}

/// A Tessera with ann (id 1, as on the site), started with `args`; its access token for ann.
fn tessera_with_ann(dir: &tempfile::TempDir, args: &[&str]) -> (Server, String) {
    let data = dir.path().join("data").display().to_string();
    add_user_at(&["--data-dir", &data], "ann", "pw\n");
    let mut all = vec!["--data-dir", data.as_str()];
    all.extend(args);
    let server = Server::start(&all, &[]);
    let (status, _, body) = call(
        &server.addr,
        "POST",
        "/api/token/",
        &Map::new(),
        Some(&login()),
    );
    assert_eq!(status, 200, "{body}");
    let access = body["access"].as_str().unwrap().to_owned();
    (server, access)
}

fn me_as(token: &str) -> Value {
    step(
        "GET",
        "/api/me/",
        json!({"Authorization": format!("Bearer {token}")}),
        Value::Null,
    )
}

/// During the switch: one HMAC key, tokens good on both sides.
#[test]
fn during_the_switch_both_sides_accept_each_others_tokens_with_the_shared_key() {
    let Some(python) = python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tessera.toml");
    std::fs::write(
        &config,
        format!("[simplejwt]\nALGORITHM = \"HS256\"\nSIGNING_KEY = \"{SECRET}\"\n"),
    )
    .unwrap();
    let config = config.display().to_string();
    let (server, tessera_access) = tessera_with_ann(&dir, &["--config", &config]);
    let spec = json!({
        "users": {"ann": "pw"},
        "simple_jwt": {"ALGORITHM": "HS256", "SIGNING_KEY": SECRET},
        "saved": {"tessera_access": tessera_access},
        "steps": [
            me_as("$tessera_access"),
            saving(step("POST", "/api/token/", json!({}), login()), json!({"django_access": "access"})),
        ],
    });
    let (answers, saved) = django_answers(&python, &spec);
    assert_eq!(
        answers[0]["status"], 200,
        "the site takes Tessera's token: {}",
        answers[0]
    );
    assert_eq!(answers[0]["body"]["username"], "ann");
    // ...and Tessera takes the site's.
    let django_access = saved["django_access"].as_str().unwrap();
    let mut headers = Map::new();
    headers.insert(
        "Authorization".into(),
        format!("Bearer {django_access}").into(),
    );
    let (status, _, body) = call(&server.addr, "GET", "/api/me/", &headers, None);
    assert_eq!((status, &body["username"]), (200, &json!("ann")), "{body}");
}

/// After the switch: Tessera signs with its own keys; the site reads them from the JWKS.
#[test]
fn after_the_switch_the_site_trusts_tesseras_keys_through_jwk_url() {
    let Some(python) = python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (server, tessera_access) = tessera_with_ann(&dir, &[]);
    let stranger = {
        use tessera_jwt::{Algorithm, Header, SigningKey, encode_with_header};
        let key = SigningKey::generate(Algorithm::ES256).unwrap();
        let claims = super::support::payload_of(&tessera_access);
        encode_with_header(&Header::for_key(&key), &claims, &key).unwrap()
    };
    let spec = json!({
        "users": {"ann": "pw"},
        "simple_jwt": {
            "ALGORITHM": "ES256",
            "JWK_URL": format!("http://{}/.well-known/jwks.json", server.addr),
        },
        "saved": {"tessera_access": tessera_access, "stranger": stranger},
        "steps": [me_as("$tessera_access"), me_as("$stranger")],
    });
    let (answers, _) = django_answers(&python, &spec);
    assert_eq!(answers[0]["status"], 200, "{}", answers[0]);
    assert_eq!(answers[0]["body"]["username"], "ann");
    assert_eq!(
        answers[1]["status"], 401,
        "another key is refused: {}",
        answers[1]
    );
}
