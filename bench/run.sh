#!/usr/bin/env bash
# Load benchmarks: Tessera and djangorestframework-simplejwt side by side, in one run, on loopback.
#
#   bash bench/run.sh                # everything (about 10 minutes)
#   DURATION=5s CONNS=32 bash bench/run.sh
#
# Needs: cargo, python3 (a throwaway virtualenv is made in bench/.venv), wrk (installed from Debian's
# packages when missing). Prints a Markdown report on stdout; raw wrk output goes to $WORK.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
USERS=${USERS:-20}
PEER_WORKERS=${PEER_WORKERS:-5}   # gunicorn's advice: 2 x cores + 1
WORK=$(mktemp -d /tmp/tessera-bench.XXXXXX)
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
log() { echo "$*" >&2; }

command -v wrk >/dev/null || { log "installing wrk"; apt-get install -y -q wrk >/dev/null; }
log "building tessera (release)"
cargo build --release -q -p tessera --manifest-path "$ROOT/Cargo.toml"
TESSERA="$ROOT/target/release/tessera"
source "$ROOT/bench/lib.sh"
VENV="$ROOT/bench/.venv"
if [ ! -x "$VENV/bin/gunicorn" ]; then
  log "creating $VENV for the simplejwt peer"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q -r "$ROOT/bench/simplejwt/requirements.txt"
fi

# --- Tessera ----------------------------------------------------------------------------------
start_tessera() { # NAME ALG -> sets ADDR, PID
  local name=$1 alg=$2 dir="$WORK/$1"
  mkdir -p "$dir"
  local extra=()
  if [ "$alg" = HS256 ]; then
    "$TESSERA" keys generate --alg HS256 > "$dir/hs256.jwk"
    extra=(--signing-key "$dir/hs256.jwk")
  fi
  for i in $(seq 0 $((USERS - 1))); do
    printf 'pw-%s\n' "$i" | "$TESSERA" users add "user$i" --password-stdin --data-dir "$dir/data" >/dev/null
  done
  printf 'pool-pw\n' | TESSERA_PASSWORD_HASH_MEMORY_KIB=64 TESSERA_PASSWORD_HASH_ITERATIONS=1 \
    "$TESSERA" users add pool --password-stdin --data-dir "$dir/data" >/dev/null
  local port; port=$(free_port)
  # Logins in flight count against the per-username limit too: a load run sends many at once.
  TESSERA_SIGNING_ALGORITHM=$alg TESSERA_LOG=warn TESSERA_LOGIN_FAILURES_PER_IP=1000000 TESSERA_LOGIN_FAILURES_PER_USERNAME=1000000 \
    "$TESSERA" serve --listen "127.0.0.1:$port" --data-dir "$dir/data" "${extra[@]}" > "$dir/out" 2> "$dir/err" &
  PID=$!; PIDS+=("$PID"); ADDR="127.0.0.1:$port"
  wait_http "$ADDR"
}

# --- simplejwt --------------------------------------------------------------------------------
start_peer() { # NAME ALG -> sets ADDR, PID
  local name=$1 alg=$2 dir="$WORK/$1"
  mkdir -p "$dir"
  if [ "$alg" = ES256 ]; then
    "$TESSERA" keys generate --alg ES256 --format pem > "$dir/private.pem"
    "$TESSERA" keys public "$dir/private.pem" --format pem > "$dir/public.pem"
  fi
  export PEER_DB="$dir/peer.sqlite3" PEER_ALG=$alg PEER_KEY_DIR=$dir
  (cd "$ROOT/bench/simplejwt" && "$VENV/bin/python" peer.py setup "$USERS")
  local port; port=$(free_port)
  (cd "$ROOT/bench/simplejwt" && exec "$VENV/bin/gunicorn" -w "$PEER_WORKERS" -b "127.0.0.1:$port" \
      --log-level warning peer:application) > "$dir/out" 2> "$dir/err" &
  PID=$!; PIDS+=("$PID"); ADDR="127.0.0.1:$port"
  wait_http "$ADDR"
}


echo "# Load benchmark run $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo
machine_line
echo "wrk -t$THREADS -c$CONNS -d$DURATION --latency; server and load generator share the machine."
echo

echo "## GET /api/me/ against our HTTP ceiling (GET /healthz)"
echo
echo "The ceiling is measured twice: bare, and with the same Authorization header as the /api/me/ run"
echo "(a 400-byte header costs the load generator and the HTTP parser as much as anything we do)."
echo
printf '| %s | %s | %s | %s | %s | %s | %s |\n' "server / alg" "healthz req/s (bare)" "healthz req/s (same header)" "me req/s" "me / healthz (same header)" "me p50 ms" "me p99 ms"
printf '| %s | %s | %s | %s | %s | %s | %s |\n' "---" "---" "---" "---" "---" "---" "---"
declare -A ME_RPS
for alg in HS256 ES256 EdDSA RS256; do
  start_tessera "tessera-$alg" "$alg"
  ACCESS=$(login "$ADDR" user0 pw-0 | json access)
  read -r h_rps _ _ _ < <(run_wrk "tessera-$alg-healthz" "http://$ADDR/healthz")
  read -r hh_rps _ _ _ < <(run_wrk "tessera-$alg-healthz-header" "http://$ADDR/healthz" -H "Authorization: Bearer $ACCESS")
  read -r m_rps m50 m99 bad < <(run_wrk "tessera-$alg-me" "http://$ADDR/api/me/" -H "Authorization: Bearer $ACCESS")
  [ "$bad" = 0 ] || log "tessera $alg me: $bad non-2xx"
  ME_RPS[$alg]=$m_rps
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "Tessera $alg" "$h_rps" "$hh_rps" "$m_rps" "$(ratio "$m_rps" "$hh_rps")" "$m50" "$m99"
  if [ "$alg" = ES256 ]; then TESSERA_ES256_ADDR=$ADDR; TESSERA_ES256_PID=$PID; TESSERA_ES256_ACCESS=$ACCESS
  else kill "$PID"; fi
done
for alg in HS256 ES256; do
  start_peer "peer-$alg" "$alg"
  ACCESS=$(login "$ADDR" user0 pw-0 | json access)
  read -r h_rps _ _ _ < <(run_wrk "peer-$alg-healthz" "http://$ADDR/healthz")
  read -r hh_rps _ _ _ < <(run_wrk "peer-$alg-healthz-header" "http://$ADDR/healthz" -H "Authorization: Bearer $ACCESS")
  read -r m_rps m50 m99 bad < <(run_wrk "peer-$alg-me" "http://$ADDR/api/me/" -H "Authorization: Bearer $ACCESS")
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "simplejwt $alg" "$h_rps" "$hh_rps" "$m_rps" "$(ratio "$m_rps" "$hh_rps")" "$m50" "$m99"
  echo "$m_rps" > "$WORK/peer-$alg-me.rps"
  if [ "$alg" = ES256 ]; then PEER_ES256_ADDR=$ADDR; PEER_ES256_ACCESS=$ACCESS; else kill "$PID"; fi
done
echo
echo "Tessera / simplejwt on GET /api/me/: HS256 $(ratio "${ME_RPS[HS256]}" "$(cat "$WORK/peer-HS256-me.rps")")x, ES256 $(ratio "${ME_RPS[ES256]}" "$(cat "$WORK/peer-ES256-me.rps")")x."
echo

echo "## Token endpoints, ES256 (Tessera / simplejwt)"
echo
row "scenario" "Tessera req/s" "simplejwt req/s" "ratio" "Tessera p50 / p99 ms" "simplejwt p50 / p99 ms"
row "---" "---" "---" "---" "---" "---"
verify_row() {
  read -r t_rps t50 t99 _ < <(BODY="{\"token\":\"$TESSERA_ES256_ACCESS\"}" run_wrk tessera-verify "http://$TESSERA_ES256_ADDR/api/token/verify/" -s "$ROOT/bench/wrk/json_post.lua")
  read -r p_rps p50 p99 _ < <(BODY="{\"token\":\"$PEER_ES256_ACCESS\"}" run_wrk peer-verify "http://$PEER_ES256_ADDR/api/token/verify/" -s "$ROOT/bench/wrk/json_post.lua")
  row "POST /api/token/verify/" "$t_rps" "$p_rps" "$(ratio "$t_rps" "$p_rps")" "$t50 / $t99" "$p50 / $p99"
}
verify_row
refresh_row() {
  # Mint pools by logging in (cheap password) for three times the run, then spend each token once.
  # Rates count successful responses only.
  # Django re-hashes a password with its preferred hasher at login, so the peer's pool is minted by a
  # second gunicorn on the same database that prefers MD5.
  local port; port=$(free_port)
  (cd "$ROOT/bench/simplejwt" && PEER_FAST_HASH=1 exec "$VENV/bin/gunicorn" -w "$PEER_WORKERS" -b "127.0.0.1:$port" \
      --log-level warning peer:application) > "$WORK/peer-minter.out" 2>&1 &
  local minter=$!; PIDS+=("$minter")
  wait_http "127.0.0.1:$port"
  for side in tessera peer; do
    local addr; [ $side = tessera ] && addr=$TESSERA_ES256_ADDR || addr="127.0.0.1:$port"
    mint_pool "$WORK/$side-pool" "$addr" pool pool-pw 3
  done
  kill "$minter"
  read -r t_rps t50 t99 t_bad < <(POOL="$WORK/tessera-pool" run_wrk tessera-refresh "http://$TESSERA_ES256_ADDR/api/token/refresh/" -s "$ROOT/bench/wrk/refresh_pool.lua")
  read -r p_rps p50 p99 p_bad < <(POOL="$WORK/peer-pool" run_wrk peer-refresh "http://$PEER_ES256_ADDR/api/token/refresh/" -s "$ROOT/bench/wrk/refresh_pool.lua")
  row "POST /api/token/refresh/ (each token once)" "$t_rps" "$p_rps" "$(ratio "$t_rps" "$p_rps")" "$t50 / $t99" "$p50 / $p99"
  echo "<!-- non-2xx: tessera $t_bad, simplejwt $p_bad; pools: $(cat "$WORK"/tessera-pool.* | wc -l) / $(cat "$WORK"/peer-pool.* | wc -l) -->"
}
refresh_row
login_row() {
  read -r t_rps t50 t99 _ < <(BODY='{"username":"user1","password":"pw-1"}' run_wrk tessera-login "http://$TESSERA_ES256_ADDR/api/token/" -s "$ROOT/bench/wrk/json_post.lua")
  read -r p_rps p50 p99 _ < <(BODY='{"username":"user1","password":"pw-1"}' run_wrk peer-login "http://$PEER_ES256_ADDR/api/token/" -s "$ROOT/bench/wrk/json_post.lua")
  row "POST /api/token/ (login; argon2id vs PBKDF2)" "$t_rps" "$p_rps" "$(ratio "$t_rps" "$p_rps")" "$t50 / $t99" "$p50 / $p99"
}
login_row
echo

echo "## GET /api/me/ p99 while a login flood saturates the password hasher (Tessera ES256)"
echo
read -r _ _ quiet99 _ < <(run_wrk tessera-me-quiet "http://$TESSERA_ES256_ADDR/api/me/" -H "Authorization: Bearer $TESSERA_ES256_ACCESS")
BODY='{"username":"user2","password":"pw-2"}' wrk -t1 -c16 -d"$DURATION" -s "$ROOT/bench/wrk/json_post.lua" "http://$TESSERA_ES256_ADDR/api/token/" > "$WORK/flood.txt" 2>&1 &
FLOOD=$!
sleep 1
read -r f_rps _ flood99 _ < <(run_wrk tessera-me-flood "http://$TESSERA_ES256_ADDR/api/me/" -H "Authorization: Bearer $TESSERA_ES256_ACCESS")
wait "$FLOOD" || true
row "me p99 quiet (ms)" "me p99 under login flood (ms)" "ratio" "me req/s under flood" "" ""
row "---" "---" "---" "---" "" ""
row "$quiet99" "$flood99" "$(ratio "$flood99" "$quiet99")" "$f_rps" "" ""
echo

echo "## Memory (Tessera ES256)"
echo
IDLE_START=$WORK/idle
start_tessera tessera-idle ES256
idle=$(rss_kib "$PID")
ACCESS=$(login "$ADDR" user0 pw-0 | json access)
run_wrk tessera-idle-me "http://$ADDR/api/me/" -H "Authorization: Bearer $ACCESS" >/dev/null &
LOAD=$!
sleep 3; loaded=$(rss_kib "$PID"); wait "$LOAD"
kill "$PID"
python3 - "$WORK/tessera-idle/data/tessera.db" <<'PY'
import os, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = [("session", os.urandom(16).hex(), 4_000_000_000) for _ in range(100_000)]
db.executemany("INSERT INTO revocations (kind, subject, expires_at) VALUES (?, ?, ?)", rows)
db.commit()
PY
port=$(free_port)
TESSERA_LOG=warn "$TESSERA" serve --listen "127.0.0.1:$port" --data-dir "$WORK/tessera-idle/data" > /dev/null 2>&1 &
PID=$!; PIDS+=("$PID"); wait_http "127.0.0.1:$port"
with_revocations=$(rss_kib "$PID")
kill "$PID"
echo "| idle RSS | RSS under GET /api/me/ load | RSS idle with 100k revoked sessions | per 100k revoked sessions |"
echo "|---|---|---|---|"
echo "| $((idle / 1024)) MiB | $((loaded / 1024)) MiB | $((with_revocations / 1024)) MiB | $(((with_revocations - idle) / 1024)) MiB |"
echo
log "raw output in $WORK"
