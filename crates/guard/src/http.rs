//! The guard's only way out: GET requests to the issuer, each bounded in time (by the injected
//! clock, so tests move time instead of waiting) and in size.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Client, Response, StatusCode, Url};
use tessera_clock::Clock;

use crate::error::{ConfigError, FetchError};

/// A whole response read within the limits.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

/// The HTTP client and its limits.
#[derive(Clone)]
pub(crate) struct Http {
    client: Client,
    clock: Arc<dyn Clock>,
    timeout: Duration,
    max_bytes: usize,
}

impl Http {
    pub(crate) fn new(
        clock: Arc<dyn Clock>,
        timeout: Duration,
        max_bytes: usize,
    ) -> Result<Http, ConfigError> {
        let client = Client::builder()
            // A redirect could lead to a plain-http host the issuer rule would refuse.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("tessera-guard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConfigError::Tls(e.to_string()))?;
        Ok(Http {
            client,
            clock,
            timeout,
            max_bytes,
        })
    }

    /// GETs `url` and reads the whole body, within the time and size limits.
    pub(crate) async fn get(&self, url: &Url, accept: &str) -> Result<Fetched, FetchError> {
        self.read_whole(url, accept, None).await
    }

    /// [`Http::get`] with `Authorization: Bearer`.
    pub(crate) async fn get_with_bearer(
        &self,
        url: &Url,
        accept: &str,
        bearer: &str,
    ) -> Result<Fetched, FetchError> {
        self.read_whole(url, accept, Some((bearer, None))).await
    }

    async fn read_whole(
        &self,
        url: &Url,
        accept: &str,
        credential: Option<(&str, Option<i64>)>,
    ) -> Result<Fetched, FetchError> {
        let work = async {
            let mut response = self.open(url, accept, credential).await?;
            let too_large = || FetchError::TooLarge {
                url: url.to_string(),
                limit: self.max_bytes,
            };
            if response
                .content_length()
                .is_some_and(|len| len > self.max_bytes as u64)
            {
                return Err(too_large());
            }
            let mut body = Vec::new();
            while let Some(chunk) =
                response
                    .chunk()
                    .await
                    .map_err(|source| FetchError::Request {
                        url: url.to_string(),
                        source,
                    })?
            {
                if body.len() + chunk.len() > self.max_bytes {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Fetched {
                status: response.status(),
                headers: response.headers().clone(),
                body,
            })
        };
        self.within(url, work).await
    }

    /// Sends a GET and returns once the response head has arrived (within the time limit), for
    /// a body read as a stream.
    pub(crate) async fn open_stream(
        &self,
        url: &Url,
        bearer: &str,
        last_event_id: Option<i64>,
    ) -> Result<Response, FetchError> {
        self.within(
            url,
            self.open(url, "text/event-stream", Some((bearer, last_event_id))),
        )
        .await
    }

    async fn open(
        &self,
        url: &Url,
        accept: &str,
        feed: Option<(&str, Option<i64>)>,
    ) -> Result<Response, FetchError> {
        let mut request = self.client.get(url.clone()).header(ACCEPT, accept);
        if let Some((bearer, last_event_id)) = feed {
            let text = zeroize::Zeroizing::new(format!("Bearer {bearer}"));
            let mut value =
                HeaderValue::try_from(text.as_str()).map_err(|_| FetchError::Invalid {
                    url: url.to_string(),
                    reason: "the feed token is not a valid header value".into(),
                })?;
            value.set_sensitive(true);
            request = request.header(AUTHORIZATION, value);
            if let Some(id) = last_event_id {
                request = request.header("last-event-id", id.to_string());
            }
        }
        request.send().await.map_err(|source| FetchError::Request {
            url: url.to_string(),
            source,
        })
    }

    /// `work`, or a timeout error once the limit has passed on the clock.
    async fn within<T>(
        &self,
        url: &Url,
        work: impl Future<Output = Result<T, FetchError>>,
    ) -> Result<T, FetchError> {
        tokio::select! {
            done = work => done,
            () = self.clock.sleep(self.timeout) => Err(FetchError::Timeout {
                url: url.to_string(),
                seconds: self.timeout.as_secs_f64(),
            }),
        }
    }

    pub(crate) fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }
}
