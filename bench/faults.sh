#!/usr/bin/env bash
# Fault drill with the real services (not a proxy): two release instances on PostgreSQL + Redis under a
# steady verification load; PostgreSQL is restarted, then Redis is stopped and started again. Prints
# what the instances answered during each fault. Restarts this machine's PostgreSQL and Redis: do not
# run it while other tests use them.
#
#   bash bench/faults.sh
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
THREADS=1 CONNS=4 DURATION=30s
WORK=$(mktemp -d /tmp/tessera-faults.XXXXXX)
PIDS=()
log() { echo "$*" >&2; }
cargo build --release -q -p tessera --manifest-path "$ROOT/Cargo.toml"
TESSERA="$ROOT/target/release/tessera"
source "$ROOT/bench/lib.sh"
use_test_database tessera_faults
export TESSERA_LOG=warn TESSERA_REDIS_URL=$REDIS_URL TESSERA_REDIS_PREFIX="faults$$:" \
  TESSERA_PASSWORD_HASH_MEMORY_KIB=64 TESSERA_PASSWORD_HASH_ITERATIONS=1

printf 'pw\n' | "$TESSERA" users add ann --password-stdin --database-url "$DB_URL" >/dev/null
addrs=()
for i in 1 2; do
  port=$(free_port)
  "$TESSERA" serve --listen "127.0.0.1:$port" --database-url "$DB_URL" > "$WORK/s$i.out" 2> "$WORK/s$i.err" &
  PIDS+=($!); addrs+=("127.0.0.1:$port"); wait_http "127.0.0.1:$port"
done
A=${addrs[0]} B=${addrs[1]}
now_ms() { date +%s%3N; }
status() { curl -s -o "$WORK/body" -w '%{http_code}' --max-time 10 "$@"; }
login_status() { status -X POST "http://$1/api/token/" -H 'content-type: application/json' -d '{"username":"ann","password":"pw"}'; }

REVOKED=$(login "$A" ann pw | json access)
curl -fs -X POST "http://$B/api/logout/" -H "Authorization: Bearer $REVOKED" >/dev/null
ACCESS=$(login "$A" ann pw | json access)

drill() { # NAME STOP-COMMAND START-COMMAND
  local name=$1 stop=$2 start=$3
  BODY="{\"token\":\"$ACCESS\"}" wrk -t1 -c4 -d12s -s "$ROOT/bench/wrk/json_post.lua" "http://$A/api/token/verify/" > "$WORK/$name-load-a.txt" 2>&1 &
  local la=$!
  BODY="{\"token\":\"$ACCESS\"}" wrk -t1 -c4 -d12s -s "$ROOT/bench/wrk/json_post.lua" "http://$B/api/token/verify/" > "$WORK/$name-load-b.txt" 2>&1 &
  local lb=$!
  sleep 2
  local t0; t0=$(now_ms)
  eval "$stop" >/dev/null 2>&1 || true
  local down_at; down_at=$(now_ms)
  sleep 1
  local t1; t1=$(now_ms); local ls; ls=$(login_status "$A"); local lt=$(( $(now_ms) - t1 )); local lbody; lbody=$(head -c 100 "$WORK/body")
  local rs; rs=$(status "http://$B/readyz"); local ready; ready=$(cat "$WORK/body")
  local revoked; revoked=$(status -X POST "http://$B/api/token/verify/" -H 'content-type: application/json' -d "{\"token\":\"$REVOKED\"}")
  eval "$start" >/dev/null 2>&1 || true
  local up_at; up_at=$(now_ms)
  local back="" seen=""
  for _ in $(seq 1 400); do
    local sa sb; sa=$(login_status "$A"); sb=$(login_status "$B")
    [ "$sa" = 200 ] || seen+=" A:$sa:$(head -c 60 "$WORK/body")"
    [ "$sb" = 200 ] || seen+=" B:$sb"
    if [ "$sa" = 200 ] && [ "$sb" = 200 ]; then back=$(( $(now_ms) - up_at )); break; fi
    sleep 0.05
  done
  wait "$la" "$lb" || true
  local bad_a bad_b total
  bad_a=$(grep -oP 'Non-2xx or 3xx responses: \K\d+' "$WORK/$name-load-a.txt" || echo 0)
  bad_b=$(grep -oP 'Non-2xx or 3xx responses: \K\d+' "$WORK/$name-load-b.txt" || echo 0)
  total=$(cat "$WORK/$name-load-a.txt" "$WORK/$name-load-b.txt" | grep -oP '\d+(?= requests in)' | awk '{s += $1} END {print s}')
  echo "### $name"
  echo
  echo "- stopped with \`$stop\` ($(( down_at - t0 )) ms), started again with \`$start\`"
  echo "- during the outage: login on A answered $ls in $lt ms: \`$lbody\`"
  echo "- during the outage: /readyz on B answered $rs: \`$ready\`"
  echo "- during the outage: a token revoked before the fault verified as $revoked on B"
  echo "- after the restart: login worked on both instances ${back:-NOT within 20 s} ms after the start command returned${seen:+ (before that:$(echo "$seen" | cut -c1-300))}"
  echo "- access-token verification load through the fault: $total requests, $((bad_a + bad_b)) not 200"
  echo
}

echo "# Fault drill $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo
machine_line
echo
drill "PostgreSQL restart" \
  "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main stop -m fast" \
  "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
drill "Redis stop and start" \
  "redis-cli -u $REDIS_URL shutdown nosave" \
  "redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save '' --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log"
# A revocation made during the Redis outage reached the other instance by polling, and one made
# before it still holds:
echo "- after both faults, the token revoked before them: $(status -X POST "http://$A/api/token/verify/" -H 'content-type: application/json' -d "{\"token\":\"$REVOKED\"}") on A, $(status -X POST "http://$B/api/token/verify/" -H 'content-type: application/json' -d "{\"token\":\"$REVOKED\"}") on B"
log "raw output in $WORK"
