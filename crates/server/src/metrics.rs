//! Prometheus metrics, served on their own listener (`metrics_listen`) at `GET /metrics`.
//!
//! HTTP requests are counted and timed by route template (never a raw path, which could carry an
//! id or a token); the domain's own counts (logins, refreshes, revocations, the verification
//! cache) and gauges (revocation sync lag, database pool) are read from the service at scrape time.
//! Every label value comes from a closed set.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use tessera_auth::AuthService;
use tessera_auth::counters::{Outcome, Tally};

use crate::state::FeedStatus;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DurationLabels {
    route: &'static str,
    method: &'static str,
    status_class: &'static str,
}

/// The metrics of one server.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Arc<Latencies>,
}

/// Upper bounds of the latency buckets, in seconds: 0.5 ms doubling to ~4 s (then `+Inf`).
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048,
    4.096,
];

/// One latency histogram in atomics: every request records into one, so it must not take a lock
/// (prometheus-client's own `Histogram` takes a write lock per observation, which two busy cores
/// contend for).
#[derive(Debug, Default)]
struct Latency {
    /// Per bucket (the last is `+Inf`), not cumulative.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Latency {
    fn observe(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Relaxed);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Relaxed);
    }
}

/// The latency histograms by label set, encoded as one family.
#[derive(Debug, Default)]
struct Latencies(std::sync::RwLock<std::collections::HashMap<DurationLabels, Arc<Latency>>>);

impl Latencies {
    fn get(&self, labels: DurationLabels) -> Arc<Latency> {
        if let Some(found) = self
            .0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&labels)
        {
            return Arc::clone(found);
        }
        Arc::clone(
            self.0
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .entry(labels)
                .or_default(),
        )
    }
}

impl Collector for Latencies {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(
            "tessera_http_request_duration_seconds",
            "HTTP request latency, by route template, method and status class",
            None,
            MetricType::Histogram,
        )?;
        let series = self.0.read().unwrap_or_else(|e| e.into_inner());
        for (labels, latency) in series.iter() {
            let buckets: Vec<(f64, u64)> = BUCKETS
                .iter()
                .copied()
                .chain([f64::MAX])
                .zip(latency.buckets.iter().map(|b| b.load(Relaxed)))
                .collect();
            let sum = latency.sum_nanos.load(Relaxed) as f64 / 1e9;
            // The count from the same reads as the buckets, so the two always agree.
            let count = buckets.iter().map(|(_, n)| n).sum();
            family
                .encode_family(labels)?
                .encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
        }
        Ok(())
    }
}

/// The method as a label: the usual ones by name, anything else `other` (a client may send any
/// token as a method).
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

impl Metrics {
    /// Metrics for the server around `auth`, whose revocation sync `feed` reports.
    pub(crate) fn new(auth: Arc<AuthService>, feed: Arc<FeedStatus>) -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "tessera_http_requests",
            "HTTP requests, by route template, method and status",
            requests.clone(),
        );
        let durations = Arc::new(Latencies::default());
        registry.register_collector(Box::new(Arc::clone(&durations)));
        registry.register_collector(Box::new(DomainCollector { auth, feed }));
        Metrics {
            registry,
            requests,
            durations,
        }
    }

    /// Records one answered request.
    pub(crate) fn observe(
        &self,
        route: &'static str,
        method: &axum::http::Method,
        status: u16,
        took: Duration,
    ) {
        let method = method_label(method);
        self.requests
            .get_or_create(&RequestLabels {
                route,
                method,
                status,
            })
            .inc();
        self.durations
            .get(DurationLabels {
                route,
                method,
                status_class: status_class(status),
            })
            .observe(took);
    }

    /// The exposition text.
    fn render(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// The router of the metrics listener.
pub fn router(metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(metrics)
}

async fn scrape(State(metrics): State<Arc<Metrics>>) -> Response {
    match metrics.render() {
        Ok(text) => {
            let mut response = text.into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ),
            );
            response
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The domain's counts and the instance's gauges, read at each scrape.
#[derive(Debug)]
struct DomainCollector {
    auth: Arc<AuthService>,
    feed: Arc<FeedStatus>,
}

fn tally<O: Outcome>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    label: &'static str,
    counts: &Tally<O>,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for outcome in O::ALL {
        let labels = [(label, outcome.label())];
        ConstCounter::new(counts.get(*outcome)).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    ConstCounter::new(value).encode(encoder.encode_descriptor(
        name,
        help,
        None,
        MetricType::Counter,
    )?)
}

impl Collector for DomainCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let counters = self.auth.counters();
        tally(
            &mut encoder,
            "tessera_logins",
            "Logins by result",
            "result",
            &counters.logins,
        )?;
        tally(
            &mut encoder,
            "tessera_token_refreshes",
            "Token refreshes by result",
            "result",
            &counters.refreshes,
        )?;
        counter(
            &mut encoder,
            "tessera_reuse_detections",
            "Refresh tokens presented again after rotation (their sessions were revoked)",
            counters
                .refreshes
                .get(tessera_auth::counters::RefreshResult::Reuse),
        )?;
        tally(
            &mut encoder,
            "tessera_revocations",
            "Revoking actions by reason",
            "reason",
            &counters.revocations,
        )?;
        counter(
            &mut encoder,
            "tessera_verified_token_cache_hits",
            "Access tokens answered from the cache of verified tokens",
            counters.verified_cache_hits.load(Relaxed),
        )?;
        counter(
            &mut encoder,
            "tessera_verified_token_cache_misses",
            "Access tokens whose signature was checked",
            counters.verified_cache_misses.load(Relaxed),
        )?;
        // Seconds since the revocation state was last synced with the store (NaN: never).
        let lag = self
            .feed
            .sync_age_ms()
            .map_or(f64::NAN, |ms| ms as f64 / 1000.0);
        ConstGauge::new(lag).encode(encoder.encode_descriptor(
            "tessera_revocation_sync_lag_seconds",
            "Seconds since this instance last synced its revocation state with the store",
            None,
            MetricType::Gauge,
        )?)?;
        if let Some(pool) = self.auth.pool_connections() {
            let mut family = encoder.encode_descriptor(
                "tessera_db_pool_connections",
                "Database pool connections by state",
                None,
                MetricType::Gauge,
            )?;
            for (state, count) in [("in_use", pool.in_use), ("idle", pool.idle)] {
                ConstGauge::new(i64::from(count))
                    .encode(family.encode_family(&[("state", state)])?)?;
            }
        }
        let mut info = encoder.encode_descriptor(
            "tessera_build_info",
            "The running build",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(1)
            .encode(info.encode_family(&[("version", env!("CARGO_PKG_VERSION"))])?)?;
        Ok(())
    }
}
