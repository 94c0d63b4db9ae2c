#!/usr/bin/env bash
# OAuth 2.0 throughput: client-credentials tokens/s and introspections/s, side by side in one run
# with the simplejwt API's nearest operations on the same server (login-free: /api/token/verify/
# of the same access token, and GET /healthz as the ceiling).
#
#   bash bench/oauth.sh                 # release build, about a minute
#   DURATION=10s CONNS=32 bash bench/oauth.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/bench/lib.sh"
bench_init oauth
cargo build --release -q -p tessera --manifest-path "$ROOT/Cargo.toml"
TESSERA="$ROOT/target/release/tessera"

data="$WORK/data"
client=$("$TESSERA" clients add bench --scope read --data-dir "$data")
id=$(echo "$client" | json client_id)
secret=$(echo "$client" | json client_secret)
port=$(free_port)
TESSERA_LOG=warn TESSERA_LOGIN_FAILURES_PER_USERNAME=1000000 TESSERA_LOGIN_FAILURES_PER_IP=1000000 \
  "$TESSERA" serve --listen "127.0.0.1:$port" --data-dir "$data" > "$WORK/out" 2> "$WORK/err" &
PIDS+=($!)
ADDR="127.0.0.1:$port"
wait_http "$ADDR"
basic="Basic $(printf '%s:%s' "$id" "$secret" | base64 -w0)"
token=$(curl -fs -X POST "http://$ADDR/oauth/token" -H "Authorization: $basic" \
  -d grant_type=client_credentials | json access_token)

machine_line
echo
echo "| operation | requests/s | p50 (ms) | p99 (ms) | non-2xx | / ceiling |"
echo "|---|---|---|---|---|---|"
read -r ceiling p50 p99 bad < <(run_wrk healthz "http://$ADDR/healthz")
row "GET /healthz (ceiling)" "$ceiling" "$p50" "$p99" "$bad" "1.00"
read -r rps p50 p99 bad < <(BODY="grant_type=client_credentials" AUTH="$basic" \
  run_wrk token "http://$ADDR/oauth/token" -s "$ROOT/bench/wrk/form_post.lua")
row "POST /oauth/token (client_credentials)" "$rps" "$p50" "$p99" "$bad" "$(ratio "$rps" "$ceiling")"
read -r rps p50 p99 bad < <(BODY="token=$token" AUTH="$basic" \
  run_wrk introspect "http://$ADDR/oauth/introspect" -s "$ROOT/bench/wrk/form_post.lua")
row "POST /oauth/introspect" "$rps" "$p50" "$p99" "$bad" "$(ratio "$rps" "$ceiling")"
read -r rps p50 p99 bad < <(BODY="{\"token\":\"$token\"}" \
  run_wrk verify "http://$ADDR/api/token/verify/" -s "$ROOT/bench/wrk/json_post.lua")
row "POST /api/token/verify/ (same token)" "$rps" "$p50" "$p99" "$bad" "$(ratio "$rps" "$ceiling")"
