//! The domain's rules, tested on their own: an in-memory store and a clock that moves only when a
//! test moves it. No HTTP, no database, no sleeping.

use std::sync::Arc;
use std::time::Duration;

use zeroize::Zeroizing;

use super::{AuthService, KeyStatus, LoginContext, NewAccount, UserChange};
use crate::clock::ManualClock;
use crate::config::AuthConfig;
use crate::error::{AuthError, TokenProblem};
use crate::memory::MemoryStore;
use crate::password::{PasswordHasher, PasswordPolicy};
use crate::store::{KeyStore as _, Store};
use crate::throttle::{LoginThrottle, ThrottleConfig};

const START: i64 = 1_800_000_000;

/// A serving instance (and what it runs on) over `store` and `clock`.
struct Domain {
    auth: AuthService,
    store: MemoryStore,
    clock: ManualClock,
}

fn hasher() -> PasswordHasher {
    let cheap = PasswordPolicy {
        memory_kib: 8,
        iterations: 1,
        parallelism: 1,
    };
    PasswordHasher::new(cheap, 2).unwrap()
}

impl Domain {
    async fn start(config: AuthConfig) -> Domain {
        Domain::over(MemoryStore::new(), ManualClock::at(START), config).await
    }

    async fn over(store: MemoryStore, clock: ManualClock, config: AuthConfig) -> Domain {
        let shared: Arc<dyn Store> = Arc::new(store.clone());
        let auth = AuthService::builder(shared, config, hasher(), Arc::new(clock.clone()))
            .throttle(LoginThrottle::new(ThrottleConfig {
                per_username: 3,
                per_ip: 10,
                window: 60,
            }))
            .start()
            .await
            .unwrap();
        Domain { auth, store, clock }
    }

    /// Another serving instance over the same store and clock.
    async fn another(&self, config: AuthConfig) -> Domain {
        Domain::over(self.store.clone(), self.clock.clone(), config).await
    }

    async fn add(&self, name: &str) {
        self.auth
            .add_user(
                NewAccount {
                    username: name.into(),
                    password: Zeroizing::new(format!("{name}-pw")),
                    is_active: true,
                    ..NewAccount::default()
                },
                &crate::audit::Acting::cli(),
            )
            .await
            .unwrap();
    }

    async fn login(&self, name: &str) -> super::TokenPair {
        self.auth
            .login(
                name,
                Zeroizing::new(format!("{name}-pw")),
                &LoginContext::default(),
            )
            .await
            .unwrap()
    }

    fn advance(&self, seconds: u64) {
        self.clock.advance(Duration::from_secs(seconds));
    }
}

fn refused(result: Result<impl std::fmt::Debug, AuthError>) -> TokenProblem {
    match result {
        Err(AuthError::Token(problem)) => problem,
        other => panic!("expected a refused token, got {other:?}"),
    }
}

#[tokio::test]
async fn rotation_issues_a_new_pair_and_spends_the_old_refresh_token() {
    let domain = Domain::start(AuthConfig::default()).await;
    domain.add("ann").await;
    let first = domain.login("ann").await;
    domain.advance(10);
    let second = domain
        .auth
        .refresh(&first.refresh, &crate::LoginContext::default())
        .await
        .unwrap();
    let (next_refresh, exp) = second.refresh.clone().unwrap();
    assert_ne!(next_refresh, first.refresh);
    assert_eq!(exp, START + 10 + 86_400);
    assert_eq!(second.access_expires_at, START + 10 + 300);
    domain.auth.verify_access(&second.access).unwrap();
    domain.auth.verify_access(&first.access).unwrap();
}

#[tokio::test]
async fn reuse_of_a_rotated_token_revokes_the_whole_session_and_its_descendants() {
    let domain = Domain::start(AuthConfig::default()).await;
    domain.add("ann").await;
    let a = domain.login("ann").await;
    let b = domain
        .auth
        .refresh(&a.refresh, &crate::LoginContext::default())
        .await
        .unwrap();
    let (b_refresh, _) = b.refresh.unwrap();
    let c = domain
        .auth
        .refresh(&b_refresh, &crate::LoginContext::default())
        .await
        .unwrap();
    let (c_refresh, _) = c.refresh.unwrap();
    // The oldest token comes back: someone holds a copy.
    assert_eq!(
        refused(
            domain
                .auth
                .refresh(&a.refresh, &crate::LoginContext::default())
                .await
        ),
        TokenProblem::Blacklisted
    );
    // Every descendant dies with the session, access tokens included, at once.
    assert_eq!(
        refused(
            domain
                .auth
                .refresh(&c_refresh, &crate::LoginContext::default())
                .await
        ),
        TokenProblem::Blacklisted
    );
    assert_eq!(
        refused(domain.auth.verify_access(&c.access)),
        TokenProblem::Blacklisted
    );
    assert_eq!(
        refused(domain.auth.verify_access(&a.access)),
        TokenProblem::Blacklisted
    );
    // Other sessions of the user are untouched.
    let other = domain.login("ann").await;
    domain.auth.verify_access(&other.access).unwrap();
}

#[tokio::test]
async fn the_grace_window_forgives_only_the_immediate_predecessor() {
    let config = AuthConfig {
        reuse_grace: 30,
        ..AuthConfig::default()
    };
    let domain = Domain::start(config).await;
    domain.add("ann").await;
    let a = domain.login("ann").await;
    let b = domain
        .auth
        .refresh(&a.refresh, &crate::LoginContext::default())
        .await
        .unwrap();
    let (b_refresh, _) = b.refresh.unwrap();
    // A retry of `a` (the response carrying `b` was lost) within the window: a new pair, `c`,
    // rotating `b`, which is now the immediate predecessor.
    domain.advance(10);
    let c = domain
        .auth
        .refresh(&a.refresh, &crate::LoginContext::default())
        .await
        .unwrap();
    let (c_refresh, _) = c.refresh.unwrap();
    // `a` is now two steps back: presenting it is reuse, even within the window, and the whole
    // session goes.
    assert_eq!(
        refused(
            domain
                .auth
                .refresh(&a.refresh, &crate::LoginContext::default())
                .await
        ),
        TokenProblem::Blacklisted
    );
    for gone in [&b_refresh, &c_refresh] {
        assert_eq!(
            refused(
                domain
                    .auth
                    .refresh(gone, &crate::LoginContext::default())
                    .await
            ),
            TokenProblem::Blacklisted
        );
    }
    assert_eq!(
        refused(domain.auth.verify_access(&c.access)),
        TokenProblem::Blacklisted
    );

    // Past the window, even the immediate predecessor is reuse.
    let fresh = domain.login("ann").await;
    let next = domain
        .auth
        .refresh(&fresh.refresh, &crate::LoginContext::default())
        .await
        .unwrap();
    domain.advance(31);
    assert_eq!(
        refused(
            domain
                .auth
                .refresh(&fresh.refresh, &crate::LoginContext::default())
                .await
        ),
        TokenProblem::Blacklisted
    );
    assert_eq!(
        refused(domain.auth.verify_access(&next.access)),
        TokenProblem::Blacklisted
    );
}

#[tokio::test]
async fn rotation_never_extends_a_session_past_its_absolute_lifetime() {
    let config = AuthConfig {
        refresh_lifetime: 600,
        session_lifetime: 1_000,
        ..AuthConfig::default()
    };
    let domain = Domain::start(config).await;
    domain.add("ann").await;
    let mut refresh = domain.login("ann").await.refresh;
    for _ in 0..2 {
        domain.advance(450);
        let outcome = domain
            .auth
            .refresh(&refresh, &crate::LoginContext::default())
            .await
            .unwrap();
        let (next, exp) = outcome.refresh.unwrap();
        assert!(exp <= START + 1_000, "capped by the session: {exp}");
        refresh = next;
    }
    domain.advance(100);
    assert_eq!(
        refused(
            domain
                .auth
                .refresh(&refresh, &crate::LoginContext::default())
                .await
        ),
        TokenProblem::Expired
    );
}

#[tokio::test]
async fn failed_logins_are_throttled_within_the_window_only() {
    let domain = Domain::start(AuthConfig::default()).await;
    domain.add("ann").await;
    let nowhere = LoginContext::default();
    let wrong = || {
        domain
            .auth
            .login("ann", Zeroizing::new("nope".into()), &nowhere)
    };
    for _ in 0..3 {
        assert!(matches!(wrong().await, Err(AuthError::InvalidCredentials)));
    }
    domain.advance(20);
    assert!(matches!(
        wrong().await,
        Err(AuthError::Throttled { retry_after: 40 })
    ));
    domain.advance(40);
    domain.login("ann").await;
}

#[tokio::test]
async fn administration_takes_effect_on_this_instance_before_it_returns() {
    let domain = Domain::start(AuthConfig::default()).await;
    domain.add("ann").await;
    let pair = domain.login("ann").await;
    let ann = domain.auth.find_user("ann").await.unwrap();
    let me = domain
        .auth
        .me(&domain.auth.verify_access(&pair.access).unwrap())
        .await
        .unwrap();
    assert!(me.roles.is_empty());
    // New roles show at once (no stale cached profile), though tokens carry them from the next
    // refresh.
    let change = UserChange {
        roles: Some(vec!["staff".into()]),
        ..UserChange::default()
    };
    domain
        .auth
        .update_user(ann.id, &change, &crate::audit::Acting::cli())
        .await
        .unwrap();
    let access = domain.auth.verify_access(&pair.access).unwrap();
    assert_eq!(domain.auth.me(&access).await.unwrap().roles, ["staff"]);
    // Disabling ends every token now, without a sync.
    domain
        .auth
        .disable_user("ann", &crate::audit::Acting::cli())
        .await
        .unwrap();
    assert!(matches!(
        domain.auth.verify_access(&pair.access),
        Err(AuthError::UserInactive)
    ));
    domain
        .auth
        .enable_user("ann", &crate::audit::Acting::cli())
        .await
        .unwrap();
    let again = domain.login("ann").await;
    domain.auth.verify_access(&again.access).unwrap();
    assert!(
        matches!(
            domain.auth.verify_access(&pair.access),
            Err(AuthError::Token(TokenProblem::Blacklisted))
        ),
        "the sessions disabling revoked stay revoked"
    );
    domain
        .auth
        .delete_user(ann.id, &crate::audit::Acting::cli())
        .await
        .unwrap();
    assert!(matches!(
        domain.auth.verify_access(&again.access),
        Err(AuthError::UserNotFound)
    ));
}

#[tokio::test]
async fn a_key_rotated_elsewhere_is_learned_from_the_first_token_it_signed() {
    let a = Domain::start(AuthConfig::default()).await;
    let b = a.another(AuthConfig::default()).await;
    a.add("ann").await;
    let old = a.auth.signing_kid().unwrap();
    let new = b
        .auth
        .rotate_key(&crate::audit::Acting::cli())
        .await
        .unwrap();
    assert_eq!(b.auth.signing_kid().unwrap(), new.kid);
    assert_eq!(a.auth.signing_kid().unwrap(), old, "a has not synced");
    let token = b.login("ann").await.access;
    // `a` meets a key id it does not know: it reloads once and verifies.
    a.auth.verify_access_fresh(&token).await.unwrap();
    assert_eq!(a.auth.signing_kid().unwrap(), new.kid);

    // Made-up key ids cost at most one reload a second (this second's was just spent).
    let forged = |kid: &str| {
        let mut parts = token.splitn(2, '.');
        let _ = parts.next();
        let header = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            format!(r#"{{"alg":"ES256","typ":"at+jwt","kid":"{kid}"}}"#),
        );
        format!("{header}.{}", parts.next().unwrap_or_default())
    };
    let reloads_before = a.store.key_reads();
    for second in 1..=2 {
        for i in 0..50 {
            let result = a
                .auth
                .verify_access_fresh(&forged(&format!("bogus-{i}")))
                .await;
            assert_eq!(refused(result), TokenProblem::Invalid);
        }
        assert_eq!(a.store.key_reads() - reloads_before, second - 1);
        a.advance(1);
    }
}

#[tokio::test]
async fn a_key_published_ahead_signs_only_when_due() {
    let config = AuthConfig {
        key_publish_ahead: 60,
        ..AuthConfig::default()
    };
    let domain = Domain::start(config).await;
    let old = domain.auth.signing_kid().unwrap();
    let new = domain
        .auth
        .rotate_key(&crate::audit::Acting::cli())
        .await
        .unwrap();
    assert_eq!(new.created_at, START + 60);
    let statuses: Vec<_> = domain
        .auth
        .keys()
        .await
        .unwrap()
        .into_iter()
        .map(|(key, status)| (key.kid, status))
        .collect();
    assert_eq!(
        statuses,
        [
            (old.clone(), KeyStatus::SigningUntil(START + 60)),
            (new.kid.clone(), KeyStatus::Published)
        ]
    );
    let published = domain.auth.public_jwks().unwrap();
    assert_eq!(published.keys.len(), 2, "published at once");
    assert_eq!(domain.auth.signing_kid().unwrap(), old);
    domain.advance(60);
    domain.auth.sync().await.unwrap();
    assert_eq!(domain.auth.signing_kid().unwrap(), new.kid);
    // Syncing reads the keys' public facts only; private halves are read when a key loads.
    let private_reads = domain.store.private_key_reads();
    domain.auth.sync().await.unwrap();
    assert_eq!(domain.store.private_key_reads(), private_reads);
    assert!(domain.store.private_key(&new.kid).await.unwrap().is_some());
}

#[tokio::test]
async fn clients_are_registered_with_a_secret_shown_once_and_deleted_everywhere() {
    use super::Grant;
    use crate::ids::token_hash;
    let domain = Domain::start(AuthConfig::default()).await;
    let issued = domain
        .auth
        .register_client(
            "billing",
            vec!["write".into(), "read".into()],
            vec![],
            &crate::audit::Acting::cli(),
        )
        .await
        .unwrap();
    let client = &issued.client;
    assert_eq!(client.grants, ["client_credentials"]);
    assert_eq!(client.scopes, ["read", "write"]);
    assert_eq!(client.secret_hash, token_hash(&issued.secret));
    for text in [client.id.as_str(), issued.secret.as_str()] {
        assert_eq!(text.len(), 43);
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }
    assert!(matches!(
        domain
            .auth
            .register_client(
                "billing",
                vec![],
                vec![Grant::Password],
                &crate::audit::Acting::cli()
            )
            .await,
        Err(AuthError::InvalidInput(_))
    ));
    assert!(matches!(
        domain
            .auth
            .register_client(
                "bad",
                vec!["two words".into()],
                vec![],
                &crate::audit::Acting::cli()
            )
            .await,
        Err(AuthError::InvalidInput(_))
    ));
    let rotated = domain
        .auth
        .rotate_client_secret(&client.id, &crate::audit::Acting::cli())
        .await
        .unwrap();
    assert_ne!(*rotated.secret, *issued.secret);
    assert_eq!(rotated.client.secret_hash, token_hash(&rotated.secret));
    // Deleting it reaches this instance's revocation state before the call returns.
    let live = domain.auth.live().unwrap();
    assert!(
        live.revocations
            .check_issued(Some(&client.id), None)
            .is_ok()
    );
    domain
        .auth
        .delete_client(&client.id, &crate::audit::Acting::cli())
        .await
        .unwrap();
    assert!(
        live.revocations
            .check_issued(Some(&client.id), None)
            .is_err()
    );
    assert!(matches!(
        domain.auth.client_named("billing").await,
        Err(AuthError::NotFound)
    ));
}

async fn client_with(domain: &Domain, name: &str, grants: &[super::Grant]) -> crate::store::Client {
    domain
        .auth
        .register_client(
            name,
            vec!["read".into(), "write".into()],
            grants.to_vec(),
            &crate::audit::Acting::cli(),
        )
        .await
        .unwrap()
        .client
}

#[tokio::test]
async fn client_credentials_tokens_carry_scopes_and_die_with_their_client() {
    use super::{Bearer, Grant};
    let domain = Domain::start(AuthConfig::default()).await;
    let client = client_with(&domain, "cron", &[Grant::ClientCredentials]).await;
    let all = domain
        .auth
        .grant_client_credentials(&client, None)
        .await
        .unwrap();
    assert_eq!(all.scope, "read write");
    assert_eq!(all.expires_in, 300);
    assert!(all.refresh_token.is_none());
    let narrowed = domain
        .auth
        .grant_client_credentials(&client, Some("read"))
        .await
        .unwrap();
    assert_eq!(narrowed.scope, "read");
    assert!(matches!(
        domain
            .auth
            .grant_client_credentials(&client, Some("admin"))
            .await,
        Err(AuthError::OAuth {
            problem: crate::error::OAuthProblem::InvalidScope,
            ..
        })
    ));
    match domain
        .auth
        .verify_bearer(&narrowed.access_token)
        .await
        .unwrap()
    {
        Bearer::Client(access) => {
            assert_eq!(access.client_id, client.id);
            assert_eq!(access.scopes, ["read"]);
        }
        other => panic!("{other:?}"),
    }
    // Not a user: the user routes refuse it.
    assert_eq!(
        refused(domain.auth.verify_access(&narrowed.access_token)),
        TokenProblem::NoUserId
    );
    // Revoked alone; the other token stands.
    domain
        .auth
        .revoke_for_client(&client, &narrowed.access_token)
        .await
        .unwrap();
    assert!(
        domain
            .auth
            .verify_bearer(&narrowed.access_token)
            .await
            .is_err()
    );
    domain.auth.verify_bearer(&all.access_token).await.unwrap();
    // Deleting the client ends every token it got.
    domain
        .auth
        .delete_client(&client.id, &crate::audit::Acting::cli())
        .await
        .unwrap();
    assert!(domain.auth.verify_bearer(&all.access_token).await.is_err());
    assert!(
        !domain
            .auth
            .introspect(&all.access_token)
            .await
            .unwrap()
            .active
    );
}

#[tokio::test]
async fn password_and_refresh_grants_keep_to_their_client() {
    use super::Grant;
    use crate::error::OAuthProblem;
    let domain = Domain::start(AuthConfig::default()).await;
    domain.add("ann").await;
    let app = client_with(&domain, "app", &[Grant::Password, Grant::RefreshToken]).await;
    let other = client_with(&domain, "other", &[Grant::Password, Grant::RefreshToken]).await;
    let cron = client_with(&domain, "cron", &[Grant::ClientCredentials]).await;
    let nowhere = LoginContext::default();
    let password = || Zeroizing::new("ann-pw".to_owned());
    assert!(matches!(
        domain
            .auth
            .grant_password(&cron, "ann", password(), None, &nowhere)
            .await,
        Err(AuthError::OAuth {
            problem: OAuthProblem::UnauthorizedClient,
            ..
        })
    ));
    assert!(matches!(
        domain
            .auth
            .grant_password(&app, "ann", Zeroizing::new("nope".into()), None, &nowhere)
            .await,
        Err(AuthError::OAuth {
            problem: OAuthProblem::InvalidGrant,
            ..
        })
    ));
    let tokens = domain
        .auth
        .grant_password(&app, "ann", password(), Some("read"), &nowhere)
        .await
        .unwrap();
    let refresh = tokens.refresh_token.clone().unwrap();
    // A user's token: the user routes take it, and it says which client and scope.
    let access = domain.auth.verify_access(&tokens.access_token).unwrap();
    assert_eq!(access.client_id.as_deref(), Some(app.id.as_str()));
    assert_eq!(access.scopes, ["read"]);
    // Another client cannot refresh it, and the owner's token is not spent.
    assert!(matches!(
        domain
            .auth
            .grant_refresh(&other, &refresh, &crate::LoginContext::default())
            .await,
        Err(AuthError::OAuth {
            problem: OAuthProblem::InvalidGrant,
            ..
        })
    ));
    // Nor can the simplejwt endpoints, without the client's authentication.
    assert_eq!(
        refused(
            domain
                .auth
                .refresh(&refresh, &crate::LoginContext::default())
                .await
        ),
        TokenProblem::Invalid
    );
    assert_eq!(
        refused(
            domain
                .auth
                .blacklist(&refresh, &crate::LoginContext::default())
                .await
        ),
        TokenProblem::Invalid
    );
    let next = domain
        .auth
        .grant_refresh(&app, &refresh, &crate::LoginContext::default())
        .await
        .unwrap();
    assert_eq!(next.scope, "read");
    // Reuse detection as everywhere.
    assert!(matches!(
        domain
            .auth
            .grant_refresh(&app, &refresh, &crate::LoginContext::default())
            .await,
        Err(AuthError::OAuth {
            problem: OAuthProblem::InvalidGrant,
            ..
        })
    ));
    assert!(
        !domain
            .auth
            .introspect(&next.access_token)
            .await
            .unwrap()
            .active
    );

    // Introspection and revocation of a user's token.
    let fresh = domain
        .auth
        .grant_password(&app, "ann", password(), None, &nowhere)
        .await
        .unwrap();
    let facts = domain.auth.introspect(&fresh.access_token).await.unwrap();
    assert!(facts.active);
    assert_eq!(facts.username.as_deref(), Some("ann"));
    assert_eq!(facts.client_id.as_deref(), Some(app.id.as_str()));
    assert_eq!(facts.token_type, Some("Bearer"));
    let refresh_facts = domain
        .auth
        .introspect(fresh.refresh_token.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(refresh_facts.token_type, Some("refresh_token"));
    assert!(matches!(
        domain
            .auth
            .revoke_for_client(&other, &fresh.access_token)
            .await,
        Err(AuthError::OAuth {
            problem: OAuthProblem::UnauthorizedClient,
            ..
        })
    ));
    assert!(
        domain
            .auth
            .introspect(&fresh.access_token)
            .await
            .unwrap()
            .active
    );
    domain
        .auth
        .revoke_for_client(&app, fresh.refresh_token.as_deref().unwrap())
        .await
        .unwrap();
    assert!(
        !domain
            .auth
            .introspect(&fresh.access_token)
            .await
            .unwrap()
            .active
    );
    // simplejwt-flow tokens belong to no client.
    let pair = domain.login("ann").await;
    assert!(matches!(
        domain.auth.revoke_for_client(&app, &pair.access).await,
        Err(AuthError::OAuth {
            problem: OAuthProblem::UnauthorizedClient,
            ..
        })
    ));
    assert!(domain.auth.introspect(&pair.access).await.unwrap().active);
    assert!(domain.auth.revoke_for_client(&app, "garbage").await.is_ok());
}

#[tokio::test]
async fn client_authentication_is_checked_and_throttled() {
    use crate::error::OAuthProblem;
    let domain = Domain::start(AuthConfig::default()).await;
    let issued = domain
        .auth
        .register_client("cron", vec![], vec![], &crate::audit::Acting::cli())
        .await
        .unwrap();
    let id = issued.client.id.clone();
    let ok = domain
        .auth
        .authenticate_client(&id, &issued.secret, None)
        .await
        .unwrap();
    assert_eq!(ok.id, id);
    for (client, secret) in [(id.as_str(), "wrong"), ("unknown", issued.secret.as_str())] {
        assert!(matches!(
            domain.auth.authenticate_client(client, secret, None).await,
            Err(AuthError::OAuth {
                problem: OAuthProblem::InvalidClient,
                ..
            })
        ));
    }
    for _ in 0..2 {
        let _ = domain.auth.authenticate_client(&id, "wrong", None).await;
    }
    assert!(matches!(
        domain
            .auth
            .authenticate_client(&id, &issued.secret, None)
            .await,
        Err(AuthError::Throttled { .. })
    ));
}

#[tokio::test]
async fn a_django_hash_logs_in_once_and_is_replaced_by_argon2id() {
    use crate::store::UserStore as _;
    let domain = Domain::start(AuthConfig::default()).await;
    domain.add("ann").await;
    let ann = domain.store.user_by_name("ann").await.unwrap().unwrap();
    // Made by Django 5.2's PBKDF2PasswordHasher for the password "tessera".
    let django = "pbkdf2_sha256$1000$seasalt$JufROfxj26yFKzOTf2LtZ4LBpdvdVUqDMTeLsZNG59w=";
    domain
        .store
        .set_password_hash(ann.id, django, &[])
        .await
        .unwrap();
    let context = LoginContext::default();
    let login = |password: &str| {
        domain
            .auth
            .login("ann", Zeroizing::new(password.to_owned()), &context)
    };
    assert!(matches!(
        login("Tessera").await,
        Err(AuthError::InvalidCredentials)
    ));
    assert_eq!(
        domain
            .store
            .user_by_name("ann")
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        django,
        "a failed login changes nothing"
    );
    login("tessera").await.unwrap();
    let upgraded = domain
        .store
        .user_by_name("ann")
        .await
        .unwrap()
        .unwrap()
        .password_hash;
    assert!(
        upgraded.starts_with("$argon2id$v=19$m=8,t=1,p=1$"),
        "{upgraded}"
    );
    login("tessera").await.unwrap();
    assert_eq!(
        domain
            .store
            .user_by_name("ann")
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        upgraded,
        "a current hash is left alone"
    );
    // An unusable Django password never matches, and is not a server error.
    domain
        .store
        .set_password_hash(ann.id, "!unusable", &[])
        .await
        .unwrap();
    assert!(matches!(
        login("").await,
        Err(AuthError::InvalidCredentials)
    ));
    assert!(matches!(
        login("!unusable").await,
        Err(AuthError::InvalidCredentials)
    ));
}
