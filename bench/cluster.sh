#!/usr/bin/env bash
# Scale-out benchmarks, in one run on this machine:
#   1. refresh throughput, Tessera on PostgreSQL vs Tessera on SQLite;
#   2. revocation propagation (logout on A -> refused on B and C), Redis pub/sub and PostgreSQL
#      LISTEN/NOTIFY;
#   3. access-token verification throughput, one instance vs three.
#
#   bash bench/cluster.sh
#   DURATION=5s CONNS=32 ROUNDS=100 bash bench/cluster.sh
#
# Needs: cargo, python3, wrk (installed from Debian's packages when missing), PostgreSQL and Redis
# (TESSERA_TEST_DATABASE_URL / TESSERA_TEST_REDIS_URL, defaults as in the tests). Makes a database
# of its own and drops it at the end. Prints Markdown on stdout; raw output goes to $WORK.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-200}
SECTIONS=${SECTIONS:-refresh propagation verify}   # any subset, e.g. SECTIONS=verify
want() { [[ " $SECTIONS " == *" $1 "* ]]; }
WORK=$(mktemp -d /tmp/tessera-cluster.XXXXXX)
PIDS=()
log() { echo "$*" >&2; }

command -v wrk >/dev/null || { log "installing wrk"; apt-get install -y -q wrk >/dev/null; }
log "building tessera (release)"
cargo build --release -q -p tessera --manifest-path "$ROOT/Cargo.toml"
TESSERA="$ROOT/target/release/tessera"
source "$ROOT/bench/lib.sh"

# Logins in flight count against the per-username limit too: a load run sends many at once.
export TESSERA_LOG=warn TESSERA_LOGIN_FAILURES_PER_IP=1000000 TESSERA_LOGIN_FAILURES_PER_USERNAME=1000000 TESSERA_MASTER_KEY=$(python3 -c 'import os; print(os.urandom(32).hex())')
# The login pool and the propagation rounds log in thousands of times: cheap hashing for this user.
CHEAP=(env TESSERA_PASSWORD_HASH_MEMORY_KIB=64 TESSERA_PASSWORD_HASH_ITERATIONS=1)

use_test_database tessera_bench
printf 'pool-pw\n' | "${CHEAP[@]}" "$TESSERA" users add pool --password-stdin --database-url "$DB_URL" >/dev/null
mkdir -p "$WORK/sqlite"
printf 'pool-pw\n' | "${CHEAP[@]}" "$TESSERA" users add pool --password-stdin --data-dir "$WORK/sqlite" >/dev/null

start() { # NAME ARGS... -> sets ADDR, PID
  local name=$1; shift
  local port; port=$(free_port)
  "$TESSERA" serve --listen "127.0.0.1:$port" "$@" > "$WORK/$name.out" 2> "$WORK/$name.err" &
  PID=$!; PIDS+=("$PID"); ADDR="127.0.0.1:$port"
  wait_http "$ADDR"
}

echo "# Scale-out benchmark run $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo
machine_line
echo "wrk -t$THREADS -c$CONNS -d$DURATION --latency; PostgreSQL $(psql "$ADMIN_URL" -Atc 'SHOW server_version'), Redis $(redis-cli -u "$REDIS_URL" INFO server | awk -F: '/^redis_version/ {print $2}' | tr -d '\r'); everything shares the machine."
echo

if want refresh; then
echo "## Refresh throughput: PostgreSQL vs SQLite (ES256, each refresh token used once)"
echo
row "backend" "refresh req/s" "p50 / p99 ms" "ratio to SQLite"
row "---" "---" "---" "---"
declare -A REFRESH
for backend in sqlite postgres; do
  if [ $backend = sqlite ]; then start "refresh-$backend" --data-dir "$WORK/sqlite"
  else start "refresh-$backend" --database-url "$DB_URL"; fi
  mint_pool "$WORK/pool-$backend" "$ADDR" pool pool-pw 3
  read -r rps p50 p99 bad < <(POOL="$WORK/pool-$backend" run_wrk "refresh-$backend" "http://$ADDR/api/token/refresh/" -s "$ROOT/bench/wrk/refresh_pool.lua")
  REFRESH[$backend]=$rps
  [ "$bad" = 0 ] || log "$backend refresh: $bad non-2xx"
  row "$backend" "$rps" "$p50 / $p99" "$(ratio "$rps" "${REFRESH[sqlite]}")"
  kill "$PID"
done
echo
fi

if want propagation; then
echo "## Revocation propagation: logout on A, refused on B and C ($ROUNDS rounds)"
echo
echo "Latency from sending the logout to A until both B and C answer 401; B and C are polled"
echo "back-to-back on keep-alive connections. sync_interval is the default 1 s: anything under it"
echo "came by the broadcast."
echo
row "broadcast" "p50 ms" "p90 ms" "p99 ms" "max ms"
row "---" "---" "---" "---" "---"
for bus in redis postgres; do
  extra=(); [ $bus = redis ] && extra=(--redis-url "$REDIS_URL") && export TESSERA_REDIS_PREFIX="bench$$:"
  addrs=()
  for i in 1 2 3; do start "prop-$bus-$i" --database-url "$DB_URL" "${extra[@]}"; addrs+=("$ADDR"); done
  result=$(python3 "$ROOT/bench/propagation.py" "${addrs[@]}" --user pool --password pool-pw --rounds "$ROUNDS")
  echo "$result" > "$WORK/propagation-$bus.json"
  row "$bus" $(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(r["p50_ms"], r["p90_ms"], r["p99_ms"], r["max_ms"])' "$result")
  for pid in "${PIDS[@]: -3}"; do kill "$pid" 2>/dev/null || true; done
done
echo
fi

if want verify; then
echo "## Verification throughput: one instance vs three (POST /api/token/verify/, ES256 access token)"
echo
echo "The same load generator both times: three wrk processes with a third of the connections each,"
echo "all aimed at one instance, then one at each of three; rates are summed. With 2 cores, three"
echo "instances compete for the same CPUs as one does (and with the load generator)."
echo
row "instances" "verify req/s" "worst p99 ms" "ratio to one"
row "---" "---" "---" "---"
addrs=()
for i in 1 2 3; do start "verify-$i" --database-url "$DB_URL"; addrs+=("$ADDR"); done
ACCESS=$(login "${addrs[0]}" pool pool-pw | json access)
# three_wrk NAME ADDR ADDR ADDR: one wrk per address at once; prints "summed-rps worst-p99".
three_wrk() {
  local name=$1; shift
  local loaders=() i=0
  for addr in "$@"; do
    (BODY="{\"token\":\"$ACCESS\"}" CONNS=$((CONNS / 3)) run_wrk "$name-$i" "http://$addr/api/token/verify/" -s "$ROOT/bench/wrk/json_post.lua" > "$WORK/$name-$i.sum") &
    loaders+=($!); i=$((i + 1))
  done
  wait "${loaders[@]}"
  cat "$WORK/$name"-*.sum | awk '{s += $1; if ($3 > p) p = $3} END {printf "%d %s\n", s, p}'
}
read -r one p99 < <(three_wrk verify-one "${addrs[0]}" "${addrs[0]}" "${addrs[0]}")
row 1 "$one" "$p99" "1.00"
read -r three p99 < <(three_wrk verify-three "${addrs[@]}")
row 3 "$three" "$p99" "$(ratio "$three" "$one")"
echo
fi
log "raw output in $WORK"
