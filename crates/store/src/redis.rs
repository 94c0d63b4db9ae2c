//! Redis as the instances' fast shared state: the revocation broadcast (pub/sub) and the login
//! throttle's failure counters. Redis is never the record of anything that must survive it: the
//! revocation log lives in the database, and losing throttle counters only resets them.
//!
//! Every key and channel starts with the configured prefix, so several deployments (or parallel
//! tests) can share one Redis.

use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt as _;
use redis::AsyncCommands as _;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tessera_auth::store::{Counter, FailureLog, IN_FLIGHT_SECONDS, RevocationBus, StoreError};

/// Tunables of the Redis connection.
#[derive(Clone, Debug)]
pub struct RedisOptions {
    /// Prefix of every key and channel (default `tessera:`).
    pub prefix: String,
    /// Longest wait for a connection or a reply before the call fails and the caller falls back
    /// (default 1 s).
    pub timeout: Duration,
    /// How often a listening connection is pinged, so a silent peer is noticed (default 5 s).
    pub health_check: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            prefix: "tessera:".into(),
            timeout: Duration::from_secs(1),
            health_check: Duration::from_secs(5),
        }
    }
}

/// A Redis server shared by every instance.
#[derive(Clone)]
pub struct SharedRedis {
    client: redis::Client,
    commands: ConnectionManager,
    options: RedisOptions,
}

impl std::fmt::Debug for SharedRedis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedRedis")
            .field("prefix", &self.options.prefix)
            .finish_non_exhaustive()
    }
}

fn redis_error(error: redis::RedisError) -> StoreError {
    StoreError::unavailable("redis", error)
}

impl SharedRedis {
    /// Prepares a connection to `url` (`redis://host:port/db`). Connects lazily: an instance starts
    /// (and polls the database for revocations) while Redis is down.
    pub fn new(url: &str, options: RedisOptions) -> Result<SharedRedis, StoreError> {
        let client = redis::Client::open(url)
            .map_err(|e| StoreError::internal_because(format!("redis URL {url:?}: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.timeout))
            .set_response_timeout(Some(options.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(100));
        let commands =
            ConnectionManager::new_lazy_with_config(client.clone(), config).map_err(redis_error)?;
        Ok(SharedRedis {
            client,
            commands,
            options,
        })
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.options.prefix)
    }

    fn channel(&self) -> String {
        self.key("revocations")
    }
}

#[async_trait]
impl RevocationBus for SharedRedis {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn announce(&self) -> Result<(), StoreError> {
        let mut connection = self.commands.clone();
        let _: i64 = connection
            .publish(self.channel(), "log")
            .await
            .map_err(redis_error)?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut connection = self.commands.clone();
        tokio::time::timeout(
            self.options.timeout,
            redis::cmd("PING").query_async::<String>(&mut connection),
        )
        .await
        .map_err(|_| StoreError::unavailable_because("redis: no reply to PING"))?
        .map_err(redis_error)?;
        Ok(())
    }

    async fn listen(&self, heard: &(dyn Fn() + Send + Sync)) -> StoreError {
        let subscribe = async {
            let mut pubsub = self.client.get_async_pubsub().await?;
            pubsub.subscribe(self.channel()).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        let pubsub = match tokio::time::timeout(self.options.timeout, subscribe).await {
            Ok(Ok(pubsub)) => pubsub,
            Ok(Err(error)) => return redis_error(error),
            Err(_) => return StoreError::unavailable_because("redis: subscribing timed out"),
        };
        let (mut sink, mut messages) = pubsub.split();
        heard();
        // A silent peer (a cut cable rather than a closed socket) shows as an unanswered ping.
        let mut health = tokio::time::interval(self.options.health_check);
        health.tick().await;
        loop {
            tokio::select! {
                message = messages.next() => match message {
                    Some(_) => heard(),
                    None => return StoreError::unavailable_because("redis: subscription closed"),
                },
                _ = health.tick() => {
                    // Subscribed, Redis answers PING with an array: read any value.
                    match tokio::time::timeout(self.options.timeout, sink.ping::<redis::Value>()).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(error)) => return redis_error(error),
                        Err(_) => return StoreError::unavailable_because("redis: no reply to PING"),
                    }
                }
            }
        }
    }
}

/// [`FailureLog::admit`] as one atomic step: trim each counter's failures to the window and its
/// attempts in flight to [`IN_FLIGHT_SECONDS`], refuse (with the longest wait) if any is full, else
/// add the attempt to every counter's attempts in flight (an empty attempt id: check only).
/// KEYS: per counter, its failures then its attempts in flight; ARGV: now, window, attempt id,
/// in-flight limit in seconds, then each counter's limit.
const ADMIT: &str = r"
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local in_flight_for = tonumber(ARGV[4])
local wait = 0
for i = 1, #KEYS / 2 do
  local failures, in_flight = KEYS[2 * i - 1], KEYS[2 * i]
  local limit = tonumber(ARGV[4 + i])
  redis.call('ZREMRANGEBYSCORE', failures, '-inf', now - window)
  redis.call('ZREMRANGEBYSCORE', in_flight, '-inf', now - in_flight_for)
  local failed = redis.call('ZCARD', failures)
  if failed + redis.call('ZCARD', in_flight) >= limit then
    local left = 1
    if limit == 0 then
      left = window
    elseif failed >= limit then
      local oldest = redis.call('ZRANGE', failures, failed - limit, failed - limit, 'WITHSCORES')
      left = tonumber(oldest[2]) + window - now
    end
    if left < 1 then left = 1 end
    if left > wait then wait = left end
  end
end
if wait > 0 or ARGV[3] == '' then return wait end
for i = 1, #KEYS / 2 do
  redis.call('ZADD', KEYS[2 * i], now, ARGV[3])
  redis.call('EXPIRE', KEYS[2 * i], in_flight_for)
end
return 0
";

/// [`FailureLog::settle`]: the attempt leaves every counter's attempts in flight and, when it
/// failed, joins its failures (trimmed to the counter's limit).
/// KEYS as for [`ADMIT`]; ARGV: at, window, attempt id, failed (1 or 0), then each counter's limit.
const SETTLE: &str = r"
local failed = ARGV[4] == '1'
for i = 1, #KEYS / 2 do
  local failures, in_flight = KEYS[2 * i - 1], KEYS[2 * i]
  redis.call('ZREM', in_flight, ARGV[3])
  if failed then
    redis.call('ZADD', failures, tonumber(ARGV[1]), ARGV[3])
    redis.call('ZREMRANGEBYRANK', failures, 0, -(tonumber(ARGV[4 + i]) + 1))
    redis.call('EXPIRE', failures, math.max(tonumber(ARGV[2]), 1))
  end
end
return 0
";

impl SharedRedis {
    /// One of the throttle's scripts, invoked over `counters` (both of their keys each) with
    /// `args` and then each counter's limit.
    async fn throttle_script(
        &self,
        script: &str,
        counters: &[Counter],
        args: (i64, i64, &str, i64),
    ) -> Result<u64, StoreError> {
        let mut connection = self.commands.clone();
        let script = redis::Script::new(script);
        let mut invocation = script.prepare_invoke();
        for counter in counters {
            invocation
                .key(self.key(&format!("fail:{}", counter.key)))
                .key(self.key(&format!("trying:{}", counter.key)));
        }
        invocation.arg(args.0).arg(args.1).arg(args.2).arg(args.3);
        for counter in counters {
            invocation.arg(counter.limit);
        }
        invocation
            .invoke_async(&mut connection)
            .await
            .map_err(redis_error)
    }
}

#[async_trait]
impl FailureLog for SharedRedis {
    async fn admit(
        &self,
        counters: &[Counter],
        attempt: &str,
        at: i64,
        window: i64,
    ) -> Result<Option<u64>, StoreError> {
        let wait = self
            .throttle_script(ADMIT, counters, (at, window, attempt, IN_FLIGHT_SECONDS))
            .await?;
        Ok((wait > 0).then_some(wait))
    }

    async fn check(
        &self,
        counters: &[Counter],
        at: i64,
        window: i64,
    ) -> Result<Option<u64>, StoreError> {
        let wait = self
            .throttle_script(ADMIT, counters, (at, window, "", IN_FLIGHT_SECONDS))
            .await?;
        Ok((wait > 0).then_some(wait))
    }

    async fn settle(
        &self,
        counters: &[Counter],
        attempt: &str,
        failed: bool,
        at: i64,
        window: i64,
    ) -> Result<(), StoreError> {
        let failed = i64::from(failed);
        self.throttle_script(SETTLE, counters, (at, window, attempt, failed))
            .await
            .map(drop)
    }
}
