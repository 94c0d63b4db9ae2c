//! Key discovery, caching and refetching.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;
use tessera_guard::{ConfigError, ManualClock, Rejection, TokenProblem, Unavailable};

use crate::{EPOCH, TestIssuer, access_token, guard_of, key, one_key_issuer};

#[tokio::test]
async fn verifies_with_keys_found_through_metadata_and_as_strictly_as_tessera() {
    let (signer, issuer, clock) = one_key_issuer().await;
    let guard = guard_of(&issuer, &clock)
        .audience("orders")
        .start()
        .await
        .unwrap();
    assert_eq!(issuer.fetches(), 1, "fetched once at start");

    let token = access_token(&signer, json!({ "aud": "orders", "iss": issuer.url }));
    let verified = guard.verify(&token).await.unwrap();
    assert_eq!(verified.user_id.as_deref(), Some("7"));
    assert_eq!(verified.roles, ["admin"]);

    let refused = |extra: serde_json::Value| access_token(&signer, extra);
    let invalid = Err(Rejection::InvalidToken(TokenProblem::Invalid));
    for (extra, expected) in [
        (json!({ "aud": "billing" }), invalid),
        (json!({}), invalid),
        (
            json!({ "aud": "orders", "iss": "https://evil.example" }),
            invalid,
        ),
        (json!({ "aud": "orders", "nbf": EPOCH + 60 }), invalid),
        (
            json!({ "aud": "orders", "exp": EPOCH - 1 }),
            Err(Rejection::InvalidToken(TokenProblem::Expired)),
        ),
        (
            json!({ "aud": "orders", "token_type": "refresh" }),
            Err(Rejection::InvalidToken(TokenProblem::WrongType)),
        ),
    ] {
        assert_eq!(
            guard.verify(&refused(extra.clone())).await.map(|_| ()),
            expected,
            "{extra}"
        );
    }
    // A token signed by another key under a known id, and one with `alg: none`.
    let forged = access_token(&key("k1"), json!({ "aud": "orders" }));
    assert_eq!(guard.verify(&forged).await.map(|_| ()), invalid);
    let parts: Vec<&str> = token.split('.').collect();
    let none = format!(
        "{}.{}.",
        tessera_jwt_b64(r#"{"alg":"none","kid":"k1"}"#),
        parts[1]
    );
    assert_eq!(guard.verify(&none).await.map(|_| ()), invalid);

    // Past `exp`, the cached verification does not help.
    clock.advance(Duration::from_secs(301));
    assert_eq!(
        guard.verify(&token).await.map(|_| ()),
        Err(Rejection::InvalidToken(TokenProblem::Expired))
    );
}

fn tessera_jwt_b64(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

#[tokio::test]
async fn without_metadata_the_well_known_key_set_is_used() {
    let signer = key("k1");
    let issuer = TestIssuer::start(vec![signer.clone()]).await;
    issuer.served.lock().unwrap().metadata = None;
    let clock = ManualClock::at(EPOCH);
    let guard = guard_of(&issuer, &clock).start().await.unwrap();
    assert!(
        guard
            .verify(&access_token(&signer, json!({})))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn metadata_of_another_issuer_or_pointing_at_plain_http_is_refused() {
    let signer = key("k1");
    let issuer = TestIssuer::start(vec![signer.clone()]).await;
    let token = access_token(&signer, json!({}));
    for metadata in [
        json!({ "issuer": "https://other.example", "jwks_uri": format!("{}/keys", issuer.url) }),
        json!({ "issuer": issuer.url, "jwks_uri": "http://keys.example/jwks.json" }),
    ] {
        issuer.served.lock().unwrap().metadata = Some(metadata.clone());
        let clock = ManualClock::at(EPOCH);
        let guard = guard_of(&issuer, &clock).start().await.unwrap();
        assert_eq!(
            guard.verify(&token).await.map(|_| ()),
            Err(Rejection::Unavailable(Unavailable::NoKeys)),
            "{metadata}"
        );
        assert_eq!(guard.status().keys, 0);
    }
}

#[tokio::test]
async fn a_flood_of_unknown_kids_costs_one_fetch_per_cooldown() {
    let (signer, issuer, clock) = one_key_issuer().await;
    let guard = guard_of(&issuer, &clock)
        .refetch_cooldown(Duration::from_secs(5))
        .start()
        .await
        .unwrap();
    assert_eq!(issuer.fetches(), 1);
    let bogus: Vec<String> = (0..300)
        .map(|i| access_token(&key(&format!("bogus-{i}")), json!({})))
        .collect();
    let flood = |tokens: Vec<String>| {
        let guard = guard.clone();
        async move {
            let tasks: Vec<_> = tokens
                .into_iter()
                .map(|t| {
                    let guard = guard.clone();
                    tokio::spawn(async move { guard.verify(&t).await.map(|_| ()) })
                })
                .collect();
            for task in tasks {
                assert_eq!(
                    task.await.unwrap(),
                    Err(Rejection::InvalidToken(TokenProblem::Invalid))
                );
            }
        }
    };
    // Within the cooldown of the start's fetch: none.
    flood(bogus.clone()).await;
    assert_eq!(issuer.fetches(), 1);
    // After it: one for the whole flood.
    clock.advance(Duration::from_secs(5));
    flood(bogus.clone()).await;
    assert_eq!(issuer.fetches(), 2);
    flood(bogus).await;
    assert_eq!(issuer.fetches(), 2);
    assert!(
        guard
            .verify(&access_token(&signer, json!({})))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_key_rotated_in_at_the_issuer_verifies_within_the_cooldown() {
    let old = key("k1");
    let issuer = TestIssuer::start(vec![old.clone()]).await;
    let clock = ManualClock::at(EPOCH);
    let guard = guard_of(&issuer, &clock).start().await.unwrap();
    let new = key("k2");
    issuer.served.lock().unwrap().keys.push(new.clone());
    let token = access_token(&new, json!({}));
    // Right after the start's fetch, the cooldown holds (a bogus kid could have been first).
    assert!(guard.verify(&token).await.is_err());
    clock.advance(Duration::from_secs(5));
    assert!(guard.verify(&token).await.is_ok(), "seen without a restart");
    assert!(guard.verify(&access_token(&old, json!({}))).await.is_ok());
    assert_eq!(guard.status().keys, 2);
}

/// Moves `clock` a second at a time until the issuer has seen `count` key set requests; returns
/// the seconds moved.
async fn advance_until_fetches(clock: &ManualClock, issuer: &TestIssuer, count: u64) -> u64 {
    for moved in 0..600 {
        if issuer.fetches() >= count {
            return moved;
        }
        clock.advance(Duration::from_secs(1));
        let mut fetched = issuer.fetched.clone();
        let _ = tokio::time::timeout(Duration::from_millis(20), fetched.wait_for(|n| *n >= count))
            .await;
    }
    panic!("{count} fetches expected, saw {}", issuer.fetches());
}

#[tokio::test]
async fn the_key_set_is_refreshed_per_cache_control_and_kept_when_the_issuer_fails() {
    let first = key("k1");
    let issuer = TestIssuer::start(vec![first.clone()]).await;
    issuer.served.lock().unwrap().cache_control = Some("max-age=120".into());
    let clock = ManualClock::at(EPOCH);
    let guard = guard_of(&issuer, &clock).start().await.unwrap();
    let token = access_token(&first, json!({ "exp": EPOCH + 10_000 }));
    // The issuer now fails; the refresh after 120 s keeps the last good set.
    issuer.served.lock().unwrap().failing = Some(StatusCode::INTERNAL_SERVER_ERROR);
    let moved = advance_until_fetches(&clock, &issuer, 2).await;
    assert!(
        (120..=122).contains(&moved),
        "refreshed after {moved} s, max-age=120"
    );
    for _ in 0..20 {
        assert!(
            guard.verify(&token).await.is_ok(),
            "the last good set is kept"
        );
    }
    // Failures are retried every second; `no-store` is bounded below (30 s by default).
    {
        let mut served = issuer.served.lock().unwrap();
        served.failing = None;
        served.cache_control = Some("no-store".into());
    }
    advance_until_fetches(&clock, &issuer, 3).await;
    for _ in 0..50 {
        assert!(guard.verify(&token).await.is_ok());
    }
    assert_eq!(issuer.fetches(), 3, "requests do not cause fetches");
    let moved = advance_until_fetches(&clock, &issuer, 4).await;
    assert!(
        (29..=32).contains(&moved),
        "refreshed after {moved} s, min 30"
    );
}

#[tokio::test]
async fn slow_and_oversized_answers_are_cut_off() {
    let signer = key("k1");
    let issuer = TestIssuer::start(vec![signer.clone()]).await;
    issuer.served.lock().unwrap().padding = 10_000;
    let clock = ManualClock::at(EPOCH);
    let guard = guard_of(&issuer, &clock)
        .max_response_bytes(4_096)
        .start()
        .await
        .unwrap();
    assert_eq!(guard.status().keys, 0, "an oversized set is not taken");

    {
        let mut served = issuer.served.lock().unwrap();
        served.padding = 0;
        served.hang = true;
    }
    let clock = ManualClock::at(EPOCH);
    let starting = tokio::spawn(
        guard_of(&issuer, &clock)
            .request_timeout(Duration::from_secs(2))
            .start(),
    );
    issuer.wait_for_fetches(2).await;
    // Wait for the guard to arm its timer, then move past it.
    while clock.sleepers() == 0 {
        tokio::task::yield_now().await;
    }
    clock.advance(Duration::from_secs(3));
    let guard = starting.await.unwrap().unwrap();
    assert_eq!(guard.status().keys, 0);
    assert_eq!(
        guard
            .verify(&access_token(&signer, json!({})))
            .await
            .map(|_| ()),
        Err(Rejection::Unavailable(Unavailable::NoKeys))
    );
}

#[tokio::test]
async fn configuration_errors_name_the_setting() {
    let refused = tessera_guard::Guard::builder("http://auth.example.com")
        .start()
        .await
        .unwrap_err();
    assert!(
        matches!(refused, ConfigError::PlainHttp { .. }),
        "{refused}"
    );
    let refused = tessera_guard::Guard::builder("https://auth.example.com")
        .max_staleness(Duration::from_secs(1))
        .start()
        .await
        .unwrap_err();
    assert!(
        refused.to_string().starts_with("max_staleness"),
        "{refused}"
    );
    let refused = tessera_guard::Guard::builder("https://auth.example.com")
        .key_cache_bounds(Duration::from_secs(10), Duration::from_secs(1))
        .start()
        .await
        .unwrap_err();
    assert!(
        refused.to_string().starts_with("key_cache_bounds"),
        "{refused}"
    );
}
