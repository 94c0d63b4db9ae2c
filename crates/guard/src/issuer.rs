//! The issuer's URL and the addresses derived from it: metadata (RFC 8414), the key set, the
//! revocation feed. Every address the guard reads, including a `jwks_uri` the metadata names,
//! passes the same transport rule: `https`, or plain `http` only to a loopback host unless allowed.

use std::net::IpAddr;

use reqwest::Url;

use crate::error::ConfigError;

/// A checked issuer.
#[derive(Clone, Debug)]
pub(crate) struct Issuer {
    /// The identifier tokens carry in `iss`: the URL as given, without a trailing slash.
    id: String,
    url: Url,
    allow_plain_http: bool,
}

impl Issuer {
    pub(crate) fn parse(text: &str, allow_plain_http: bool) -> Result<Issuer, ConfigError> {
        let refused = |reason: &str| ConfigError::IssuerUrl {
            // A URL with credentials in it is not repeated (they would reach a log).
            url: if text.contains('@') {
                "(redacted: it contains credentials)".to_owned()
            } else {
                text.to_owned()
            },
            reason: reason.to_owned(),
        };
        let url = Url::parse(text.trim()).map_err(|e| refused(&e.to_string()))?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(refused("an issuer has no query or fragment (RFC 8414 §2)"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(refused("an issuer carries no credentials"));
        }
        let issuer = Issuer {
            // As given: tokens carry the issuer's own spelling, which `Url` would normalise
            // (lower-case host, default port dropped).
            id: text.trim().trim_end_matches('/').to_owned(),
            url,
            allow_plain_http,
        };
        issuer.check(&issuer.url).map_err(|e| match e {
            ConfigError::IssuerUrl { reason, .. } => refused(&reason),
            other => other,
        })?;
        Ok(issuer)
    }

    /// The value tokens carry in `iss`.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// Whether the guard may read `url`.
    pub(crate) fn check(&self, url: &Url) -> Result<(), ConfigError> {
        match url.scheme() {
            "https" => Ok(()),
            "http" if self.allow_plain_http || is_loopback(url) => Ok(()),
            "http" => Err(ConfigError::PlainHttp {
                url: url.to_string(),
            }),
            other => Err(ConfigError::IssuerUrl {
                url: url.to_string(),
                reason: format!("scheme {other:?} is neither https nor http"),
            }),
        }
    }

    /// RFC 8414 §3: the well-known segment goes between the host and the issuer's path.
    pub(crate) fn metadata_url(&self) -> Url {
        let mut url = self.url.clone();
        let path = self.url.path().trim_end_matches('/');
        url.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
        url
    }

    /// `{issuer}/.well-known/jwks.json`, for issuers without metadata.
    pub(crate) fn default_jwks_url(&self) -> Url {
        self.below(".well-known/jwks.json")
    }

    /// Tessera's live revocation feed, resuming after `cursor`.
    pub(crate) fn feed_url(&self, cursor: i64) -> Url {
        self.after("api/revocations/stream", cursor)
    }

    /// A page of Tessera's revocation feed, after `cursor`.
    pub(crate) fn feed_page_url(&self, cursor: i64) -> Url {
        self.after("api/revocations/", cursor)
    }

    fn after(&self, relative: &str, cursor: i64) -> Url {
        let mut url = self.below(relative);
        url.query_pairs_mut()
            .append_pair("after", &cursor.to_string());
        url
    }

    fn below(&self, relative: &str) -> Url {
        let mut url = self.url.clone();
        let path = format!("{}/{relative}", self.url.path().trim_end_matches('/'));
        url.set_path(&path);
        url
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback_unless_allowed() {
        for ok in [
            "https://auth.example.com",
            "http://127.0.0.1:8000",
            "http://localhost:8000/",
            "http://[::1]:8000",
        ] {
            assert!(Issuer::parse(ok, false).is_ok(), "{ok}");
        }
        let refused = Issuer::parse("http://auth.example.com", false).unwrap_err();
        assert!(
            matches!(refused, ConfigError::PlainHttp { .. }),
            "{refused}"
        );
        assert!(refused.to_string().contains("not loopback"));
        assert!(Issuer::parse("http://auth.example.com", true).is_ok());
        for bad in [
            "ftp://x",
            "auth.example.com",
            "https://a/?q=1",
            "https://a/#f",
            "https://u:p@a/",
        ] {
            assert!(
                matches!(Issuer::parse(bad, true), Err(ConfigError::IssuerUrl { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn addresses_follow_rfc_8414_and_tessera() {
        let root = Issuer::parse("https://auth.example.com/", false).unwrap();
        assert_eq!(root.id(), "https://auth.example.com");
        assert_eq!(
            root.metadata_url().as_str(),
            "https://auth.example.com/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            root.default_jwks_url().as_str(),
            "https://auth.example.com/.well-known/jwks.json"
        );
        assert_eq!(
            root.feed_url(42).as_str(),
            "https://auth.example.com/api/revocations/stream?after=42"
        );
        assert_eq!(
            root.feed_page_url(0).as_str(),
            "https://auth.example.com/api/revocations/?after=0"
        );
        let spelled = Issuer::parse("https://Auth.Example.com:443", false).unwrap();
        assert_eq!(
            spelled.id(),
            "https://Auth.Example.com:443",
            "tokens carry this spelling"
        );
        let secret = Issuer::parse("https://user:hunter2@a/", false).unwrap_err();
        assert!(!secret.to_string().contains("hunter2"), "{secret}");
        let tenant = Issuer::parse("https://auth.example.com/tenant/1", false).unwrap();
        assert_eq!(
            tenant.metadata_url().as_str(),
            "https://auth.example.com/.well-known/oauth-authorization-server/tenant/1"
        );
        assert_eq!(
            tenant.default_jwks_url().as_str(),
            "https://auth.example.com/tenant/1/.well-known/jwks.json"
        );
    }
}
