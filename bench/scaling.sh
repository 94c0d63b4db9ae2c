#!/usr/bin/env bash
# The measurements behind docs/SCALING.md that the other bench scripts do not make:
#   replay    start-up time and memory of an instance whose revocation log holds N live entries
#             (PostgreSQL), for N = 0, 100k, 1M
#   fanout    Redis PUBLISH throughput with 0, 10 and 100 subscribers on the channel (the
#             revocation broadcast reaches every instance through one PUBLISH)
#   sync      the per-second sync queries every instance makes (revocations after its cursor,
#             the key list), as transactions per second PostgreSQL answers (pgbench)
#
#   bash bench/scaling.sh        # release build, then about three minutes; needs PostgreSQL and Redis
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/bench/lib.sh"
bench_init scaling
cargo build --release -q -p tessera --manifest-path "$ROOT/Cargo.toml"
TESSERA="${CARGO_TARGET_DIR:-$ROOT/target}/release/tessera"
use_test_database scaling

machine_line
echo
echo "### Revocation log replay at start (PostgreSQL)"
echo
row "live log entries" "start until /readyz (s)" "RSS after start (MiB)"
row "---" "---" "---"
for n in 0 100000 1000000; do
  psql "$DB_URL" -qc "TRUNCATE revocations" >/dev/null
  psql "$DB_URL" -qc "INSERT INTO revocations (kind, subject, before_ts, expires_at)
    SELECT 'session', md5(g::text), NULL, extract(epoch from now())::bigint + 86400
    FROM generate_series(1, $n) g" >/dev/null
  port=$(free_port)
  start=$(date +%s.%N)
  TESSERA_LOG=warn "$TESSERA" serve --listen "127.0.0.1:$port" --database-url "$DB_URL" \
    > "$WORK/replay-$n.out" 2> "$WORK/replay-$n.err" &
  pid=$!; PIDS+=("$pid")
  until curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do sleep 0.02; done
  took=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$start" "$(date +%s.%N)")
  row "$n" "$took" "$(( $(rss_kib "$pid") / 1024 ))"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done

echo
echo "### Redis PUBLISH with subscribers on the channel (redis-benchmark, 50 clients)"
echo
row "subscribers" "PUBLISH/s" "deliveries/s"
row "---" "---" "---"
REDIS_HOSTPORT=${REDIS_URL#redis://}
REDIS_HOST=${REDIS_HOSTPORT%:*}; REDIS_PORT=${REDIS_HOSTPORT##*:}
for subs in 0 10 100; do
  subpids=()
  for _ in $(seq 1 "$subs"); do
    redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" subscribe "scaling-bench-$$" > /dev/null &
    subpids+=($!)
  done
  sleep 1
  rps=$(redis-benchmark -h "$REDIS_HOST" -p "$REDIS_PORT" -q -n 200000 -c 50 \
    PUBLISH "scaling-bench-$$" "session:0123456789abcdef0123456789abcdef" | tr '\r' '\n' \
    | grep -oE '[0-9.]+ requests per second' | tail -1 | awk '{print int($1)}')
  row "$subs" "$rps" "$(( rps * (subs > 0 ? subs : 1) ))"
  for p in "${subpids[@]}"; do kill "$p" 2>/dev/null || true; done
done

echo
echo "### The per-second sync queries (pgbench, 8 clients, 10 s, one instance's two queries per transaction)"
echo
cat > "$WORK/sync.sql" <<'SQL'
SELECT id, kind, subject, before_ts, expires_at FROM revocations WHERE id > 999999999 AND expires_at > 0 ORDER BY id LIMIT 1000;
SELECT kid, alg, created_at, retired_at, expires_at FROM signing_keys ORDER BY created_at, kid;
SQL
tps=$(pgbench -n -c 8 -j 2 -T 10 -f "$WORK/sync.sql" "$DB_URL" 2>/dev/null | awk '/^tps/ {print int($3)}')
row "sync transactions/s" "$tps"
echo
echo "<!-- work dir: $WORK -->"
