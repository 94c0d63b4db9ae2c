use serde_json::Value;

use crate::{stderr, stdout, tessera};

const ALGS: [&str; 13] = [
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
    "ES384", "ES512", "EdDSA",
];

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn every_algorithm_generates_encodes_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    for alg in ALGS {
        let jwk_text = stdout(&tessera(
            &["keys", "generate", "--alg", alg, "--kid", "k1"],
            "",
        ));
        let jwk: Value = serde_json::from_str(&jwk_text).unwrap();
        assert_eq!(jwk["alg"], alg);
        assert_eq!(jwk["kid"], "k1");
        if alg.starts_with("HS") {
            assert_eq!(jwk["kty"], "oct");
        }
        let key = write(&dir, &format!("{alg}.jwk"), &jwk_text);
        let token = stdout(&tessera(
            &[
                "token",
                "encode",
                "--key",
                &key,
                "--claims",
                r#"{"sub":"7"}"#,
                "--exp",
                "5m",
                "--iat",
                "--jti",
            ],
            "",
        ));
        let token = token.trim();
        // The private JWK verifies (for HMAC it is the only key); for asymmetric keys so does the
        // public JWK derived from it.
        let verify_with = if alg.starts_with("HS") {
            key.clone()
        } else {
            let public = stdout(&tessera(&["keys", "public", &key], ""));
            assert!(!public.contains("\"d\""), "public JWK leaks d");
            write(&dir, &format!("{alg}.pub.jwk"), &public)
        };
        let payload: Value = serde_json::from_str(&stdout(&tessera(
            &["token", "verify", token, "--key", &verify_with],
            "",
        )))
        .unwrap();
        assert_eq!(payload["sub"], "7");
        assert_eq!(payload["jti"].as_str().unwrap().len(), 32);
        assert!(payload["exp"].as_i64().unwrap() > payload["iat"].as_i64().unwrap());
    }
}

#[test]
fn pem_keys_work_in_both_directions() {
    let dir = tempfile::tempdir().unwrap();
    for alg in ["RS256", "PS384", "ES512", "EdDSA"] {
        let pem = stdout(&tessera(
            &["keys", "generate", "--alg", alg, "--format", "pem"],
            "",
        ));
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let key = write(&dir, &format!("{alg}.pem"), &pem);
        let public = stdout(&tessera(&["keys", "public", "-", "--format", "pem"], &pem));
        assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"));
        let public = write(&dir, &format!("{alg}.pub.pem"), &public);
        let token = stdout(&tessera(
            &[
                "token", "encode", "--key", &key, "--alg", alg, "--exp", "60",
            ],
            "",
        ));
        let verified = tessera(
            &["token", "verify", "-", "--key", &public, "--alg", alg],
            &token,
        );
        stdout(&verified);
    }
}

#[test]
fn invalid_tokens_exit_1_with_code_and_message() {
    let dir = tempfile::tempdir().unwrap();
    let key = write(
        &dir,
        "k.jwk",
        &stdout(&tessera(&["keys", "generate", "--alg", "ES256"], "")),
    );
    let token = stdout(&tessera(
        &[
            "token",
            "encode",
            "--key",
            &key,
            "--claims",
            r#"{"exp":1000,"aud":"api"}"#,
        ],
        "",
    ));
    let token = token.trim();

    let expired = tessera(
        &[
            "token", "verify", token, "--key", &key, "--aud", "api", "--time", "1000",
        ],
        "",
    );
    assert_eq!(expired.status.code(), Some(1));
    assert_eq!(
        stderr(&expired).trim(),
        "expired: token expired at 1000 (now 1000)"
    );
    assert!(expired.stdout.is_empty());

    let fresh = tessera(
        &[
            "token", "verify", token, "--key", &key, "--aud", "api", "--time", "999",
        ],
        "",
    );
    stdout(&fresh);

    let wrong_aud = tessera(
        &[
            "token", "verify", token, "--key", &key, "--aud", "web", "--time", "999",
        ],
        "",
    );
    assert_eq!(wrong_aud.status.code(), Some(1));
    assert!(stderr(&wrong_aud).starts_with("invalid_audience: "));

    let other = write(
        &dir,
        "other.jwk",
        &stdout(&tessera(&["keys", "generate", "--alg", "ES256"], "")),
    );
    let forged = tessera(
        &[
            "token",
            "verify",
            token,
            "--key",
            &other,
            "--any-aud",
            "--time",
            "999",
        ],
        "",
    );
    assert_eq!(forged.status.code(), Some(1));
    assert_eq!(stderr(&forged).lines().count(), 1);

    let garbage = tessera(&["token", "verify", "not-a-token", "--key", &key], "");
    assert_eq!(garbage.status.code(), Some(1));
    assert!(stderr(&garbage).starts_with("malformed: "));
}

#[test]
fn decode_shows_content_and_warns() {
    let dir = tempfile::tempdir().unwrap();
    let key = write(
        &dir,
        "k.jwk",
        &stdout(&tessera(&["keys", "generate", "--alg", "HS256"], "")),
    );
    let token = stdout(&tessera(
        &[
            "token",
            "encode",
            "--key",
            &key,
            "--header",
            r#"{"typ":"at+jwt"}"#,
            "--claims",
            r#"{"role":"joker"}"#,
        ],
        "",
    ));
    let output = tessera(&["token", "decode", "-"], &token);
    let both: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(both["header"]["typ"], "at+jwt");
    assert_eq!(both["header"]["alg"], "HS256");
    assert_eq!(both["payload"]["role"], "joker");
    assert!(stderr(&output).contains("NOT verified"));
}

#[test]
fn bad_arguments_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let key = write(
        &dir,
        "k.jwk",
        &stdout(&tessera(&["keys", "generate", "--alg", "ES256"], "")),
    );
    for args in [
        vec!["keys", "generate", "--alg", "none"],
        vec!["keys", "generate", "--alg", "HS256", "--format", "pem"],
        vec!["token", "verify", "x.y.z", "--key", "/nonexistent/key.jwk"],
        vec!["token", "encode", "--key", &key, "--claims", "[1]"],
        vec!["token", "encode", "--key", &key, "--alg", "ES384"],
        vec![
            "token",
            "encode",
            "--key",
            &key,
            "--header",
            r#"{"alg":"HS256"}"#,
        ],
        vec!["token", "encode", "--key", &key, "--exp", "soon"],
        vec!["frobnicate"],
    ] {
        let output = tessera(&args, "");
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(!stderr(&output).is_empty());
    }
    let weak = write(
        &dir,
        "weak.jwk",
        r#"{"kty":"oct","alg":"HS256","k":"c2hvcnQ"}"#,
    );
    let output = tessera(&["token", "encode", "--key", &weak], "");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("at least 32"),
        "{}",
        stderr(&output)
    );
}

/// A token another issuer (here the `jsonwebtoken` crate) signed with its own `kid`: one key given
/// without an id verifies it whatever the `kid`; in a JWK Set, `kid` selects the key.
#[test]
fn one_key_without_an_id_verifies_tokens_whatever_their_kid() {
    use jsonwebtoken::{Algorithm as Alg, EncodingKey, Header, encode};
    let dir = tempfile::tempdir().unwrap();
    let pem = stdout(&tessera(
        &["keys", "generate", "--alg", "RS256", "--format", "pem"],
        "",
    ));
    let public_pem = write(
        &dir,
        "pub.pem",
        &stdout(&tessera(&["keys", "public", "-", "--format", "pem"], &pem)),
    );
    let public_jwk: Value =
        serde_json::from_str(&stdout(&tessera(&["keys", "public", "-"], &pem))).unwrap();
    let mut without_kid = public_jwk.clone();
    without_kid.as_object_mut().unwrap().remove("kid");
    without_kid["alg"] = "RS256".into();
    let jwk_file = write(&dir, "pub.jwk", &without_kid.to_string());
    let mut in_set = public_jwk.clone();
    in_set["kid"] = "ours-1".into();
    in_set["alg"] = "RS256".into();
    let set_file = write(
        &dir,
        "jwks.json",
        &serde_json::json!({"keys": [in_set]}).to_string(),
    );
    let issuer_key = EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
    let sign = |kid: Option<&str>| {
        let mut header = Header::new(Alg::RS256);
        header.kid = kid.map(str::to_owned);
        encode(
            &header,
            &serde_json::json!({"sub": "7", "exp": 4_000_000_000u64}),
            &issuer_key,
        )
        .unwrap()
    };
    let verify = |token: &str, key: &str| tessera(&["token", "verify", "-", "--key", key], token);

    let theirs = sign(Some("their-key-7"));
    for key in [&public_pem, &jwk_file] {
        let verified = verify(&theirs, key);
        assert_eq!(stdout(&verified).trim(), r#"{"sub":"7","exp":4000000000}"#);
    }
    let refused = verify(&theirs, &set_file);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).starts_with("unknown_kid: "),
        "{}",
        stderr(&refused)
    );
    stdout(&verify(&sign(Some("ours-1")), &set_file));
    stdout(&verify(&sign(None), &set_file));
}
