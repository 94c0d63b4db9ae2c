//! Interop with an independent OAuth 2.0 client, the `oauth2` crate, over real HTTP: endpoints
//! discovered from the RFC 8414 metadata, client credentials with Basic and with POST, scopes
//! narrowed and refused, password and refresh with rotation and reuse detection, introspection
//! before and after revocation (and after a logout through the simplejwt API), and revocation by
//! the wrong client refused. (`oauth2` sends RFC 7009 revocations only over https, so those go
//! through its reqwest client as plain RFC 7009 form posts.)

use oauth2::basic::{BasicClient, BasicErrorResponseType, BasicRequestTokenError};
use oauth2::{
    AccessToken, AuthType, ClientId, ClientSecret, EndpointNotSet, EndpointSet, IntrospectionUrl,
    RequestTokenError, ResourceOwnerPassword, ResourceOwnerUsername, RevocationUrl, Scope,
    TokenIntrospectionResponse as _, TokenResponse as _, TokenUrl,
};
use serde_json::Value;

use super::TestServer;
use tessera_auth::Grant::{ClientCredentials, Password, RefreshToken as Refresh};

type Client = BasicClient<EndpointNotSet, EndpointNotSet, EndpointSet, EndpointSet, EndpointSet>;

/// A client configured the way a client library would be: from the server's metadata.
async fn discovered(
    http: &oauth2::reqwest::Client,
    base: &str,
    id: &str,
    secret: &str,
    auth: AuthType,
) -> Client {
    let metadata: Value = serde_json::from_str(
        &http
            .get(format!("{base}/.well-known/oauth-authorization-server"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    let url = |name: &str| metadata[name].as_str().unwrap().to_owned();
    BasicClient::new(ClientId::new(id.into()))
        .set_client_secret(ClientSecret::new(secret.into()))
        .set_auth_type(auth)
        .set_token_uri(TokenUrl::new(url("token_endpoint")).unwrap())
        .set_introspection_url(IntrospectionUrl::new(url("introspection_endpoint")).unwrap())
        .set_revocation_url(RevocationUrl::new(url("revocation_endpoint")).unwrap())
}

fn error_code(error: BasicRequestTokenError<impl std::error::Error>) -> BasicErrorResponseType {
    match error {
        RequestTokenError::ServerResponse(response) => response.error().clone(),
        other => panic!("expected an OAuth error response, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_independent_oauth_client_speaks_to_tessera() {
    // The metadata is built from the issuer: make it this server's real address.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = TestServer::start_with(|c| c.auth.issuer = Some(base.clone())).await;
    server.serve(listener);
    server.add_user("ann", "pw").await;
    let http = oauth2::reqwest::ClientBuilder::new()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let cron = server
        .cli()
        .register_client(
            "cron",
            vec!["read".into(), "write".into()],
            vec![ClientCredentials],
            &tessera_auth::audit::Acting::cli(),
        )
        .await
        .unwrap();
    let app = server
        .cli()
        .register_client(
            "app",
            vec!["read".into()],
            vec![Password, Refresh],
            &tessera_auth::audit::Acting::cli(),
        )
        .await
        .unwrap();

    // Client credentials, Basic and POST.
    for auth in [AuthType::BasicAuth, AuthType::RequestBody] {
        let client = discovered(&http, &base, &cron.client.id, &cron.secret, auth).await;
        let token = client
            .exchange_client_credentials()
            .add_scope(Scope::new("read".into()))
            .request_async(&http)
            .await
            .unwrap();
        assert_eq!(token.scopes().unwrap(), &[Scope::new("read".into())]);
        assert_eq!(token.expires_in().unwrap().as_secs(), 300);
        assert!(token.refresh_token().is_none());
        let refused = client
            .exchange_client_credentials()
            .add_scope(Scope::new("admin".into()))
            .request_async(&http)
            .await
            .unwrap_err();
        assert_eq!(error_code(refused), BasicErrorResponseType::InvalidScope);
        let facts = client
            .introspect(token.access_token())
            .request_async(&http)
            .await
            .unwrap();
        assert!(facts.active());
        assert_eq!(facts.client_id().unwrap().as_str(), cron.client.id);
    }

    // Password, then refresh with rotation; the spent token comes back: reuse.
    let app_client = discovered(
        &http,
        &base,
        &app.client.id,
        &app.secret,
        AuthType::BasicAuth,
    )
    .await;
    let first = app_client
        .exchange_password(
            &ResourceOwnerUsername::new("ann".into()),
            &ResourceOwnerPassword::new("pw".into()),
        )
        .request_async(&http)
        .await
        .unwrap();
    let first_refresh = first.refresh_token().unwrap().clone();
    let second = app_client
        .exchange_refresh_token(&first_refresh)
        .request_async(&http)
        .await
        .unwrap();
    assert_ne!(
        second.access_token().secret(),
        first.access_token().secret()
    );
    let reuse = app_client
        .exchange_refresh_token(&first_refresh)
        .request_async(&http)
        .await
        .unwrap_err();
    assert_eq!(error_code(reuse), BasicErrorResponseType::InvalidGrant);
    let facts = app_client
        .introspect(second.access_token())
        .request_async(&http)
        .await
        .unwrap();
    assert!(!facts.active(), "reuse revoked the session");

    // Revocation: the wrong client is refused and the token stands; its own client ends it.
    let third = app_client
        .exchange_password(
            &ResourceOwnerUsername::new("ann".into()),
            &ResourceOwnerPassword::new("pw".into()),
        )
        .request_async(&http)
        .await
        .unwrap();
    let cron_client = discovered(
        &http,
        &base,
        &cron.client.id,
        &cron.secret,
        AuthType::BasicAuth,
    )
    .await;
    let revoke = |id: &str, secret: &str, token: &str| {
        let request = http
            .post(format!("{base}/oauth/revoke"))
            .basic_auth(id, Some(secret))
            .form(&[("token", token)]);
        async move { request.send().await.unwrap() }
    };
    let wrong = revoke(&cron.client.id, &cron.secret, third.access_token().secret()).await;
    assert_eq!(wrong.status().as_u16(), 400, "another client's token");
    let body: Value = serde_json::from_str(&wrong.text().await.unwrap()).unwrap();
    assert_eq!(body["error"], "unauthorized_client");
    let active = |token: AccessToken| {
        let (client, http) = (&cron_client, &http);
        async move {
            client
                .introspect(&token)
                .request_async(http)
                .await
                .unwrap()
                .active()
        }
    };
    assert!(active(third.access_token().clone()).await);
    let own = revoke(
        &app.client.id,
        &app.secret,
        third.refresh_token().unwrap().secret(),
    )
    .await;
    assert_eq!(own.status().as_u16(), 200);
    assert!(!active(third.access_token().clone()).await);

    // A logout through the simplejwt API reaches introspection at once.
    let (access, _) = server.login("ann", "pw").await;
    assert!(active(AccessToken::new(access.clone())).await);
    server
        .post_with("/api/logout/", &access, serde_json::json!({}))
        .await;
    assert!(!active(AccessToken::new(access)).await);
}
