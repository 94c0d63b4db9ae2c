#!/usr/bin/env bash
# A downstream service guarded by tessera-guard (the `downstream` example), beside the Tessera it
# trusts, in one run: verification throughput of GET /whoami against the same service's /healthz
# (bare, and with the same Authorization header), and revocation propagation: a logout at Tessera
# until the downstream answers 401, over ROUNDS rounds.
#
#   bash bench/downstream.sh            # release builds, then about two minutes
#   DURATION=10s CONNS=32 ROUNDS=500 bash bench/downstream.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-200}
source "$ROOT/bench/lib.sh"
bench_init downstream
cargo build --release -q -p tessera --manifest-path "$ROOT/Cargo.toml"
cargo build --release -q -p tessera-guard --example downstream --manifest-path "$ROOT/Cargo.toml"
TESSERA="$ROOT/target/release/tessera"
DOWNSTREAM="$ROOT/target/release/examples/downstream"
FEED_TOKEN=$(head -c 32 /dev/urandom | base64 -w0)

data="$WORK/data"
echo "bench-pw" | "$TESSERA" users add bench --password-stdin --role admin --data-dir "$data" >/dev/null
port=$(free_port)
TESSERA_LOG=warn TESSERA_LOGIN_FAILURES_PER_USERNAME=1000000 TESSERA_LOGIN_FAILURES_PER_IP=1000000 \
TESSERA_REVOCATION_FEED_TOKEN="$FEED_TOKEN" \
  "$TESSERA" serve --listen "127.0.0.1:$port" --data-dir "$data" > "$WORK/tessera.out" 2> "$WORK/tessera.err" &
PIDS+=($!)
ISSUER="127.0.0.1:$port"
wait_http "$ISSUER"
port=$(free_port)
DOWNSTREAM_LOG=warn TESSERA_GUARD_FEED_TOKEN="$FEED_TOKEN" \
  "$DOWNSTREAM" --issuer "http://$ISSUER" --listen "127.0.0.1:$port" > "$WORK/downstream.out" 2> "$WORK/downstream.err" &
PIDS+=($!)
ADDR="127.0.0.1:$port"
wait_http "$ADDR"
ACCESS=$(login "$ISSUER" bench bench-pw | json access)
curl -fs "http://$ADDR/whoami" -H "Authorization: Bearer $ACCESS" >/dev/null

machine_line
echo
echo "Three alternating runs of each; the table shows the median run (by requests/s)."
echo
echo "| downstream operation | requests/s | p50 (ms) | p99 (ms) | non-2xx | / healthz with header |"
echo "|---|---|---|---|---|---|"
: > "$WORK/bare.rows"; : > "$WORK/header.rows"; : > "$WORK/whoami.rows"
for i in 1 2 3; do
  run_wrk "healthz-$i" "http://$ADDR/healthz" >> "$WORK/bare.rows"
  run_wrk "healthz-header-$i" "http://$ADDR/healthz" -H "Authorization: Bearer $ACCESS" >> "$WORK/header.rows"
  run_wrk "whoami-$i" "http://$ADDR/whoami" -H "Authorization: Bearer $ACCESS" >> "$WORK/whoami.rows"
done
median() { sort -n "$1" | sed -n 2p; }
read -r bare p50 p99 bad < <(median "$WORK/bare.rows")
read -r ceiling hp50 hp99 hbad < <(median "$WORK/header.rows")
read -r rps wp50 wp99 wbad < <(median "$WORK/whoami.rows")
row "GET /healthz" "$bare" "$p50" "$p99" "$bad" "$(ratio "$bare" "$ceiling")"
row "GET /healthz (with the Authorization header)" "$ceiling" "$hp50" "$hp99" "$hbad" "1.00"
row "GET /whoami (guard verifies; feed subscribed)" "$rps" "$wp50" "$wp99" "$wbad" "$(ratio "$rps" "$ceiling")"
echo "<!-- runs (rps p50 p99 non2xx): healthz $(tr '\n' ';' < "$WORK/bare.rows") header $(tr '\n' ';' < "$WORK/header.rows") whoami $(tr '\n' ';' < "$WORK/whoami.rows") -->"
echo
echo "Propagation, logout at Tessera -> 401 at the downstream ($ROUNDS rounds):"
python3 "$ROOT/bench/propagation.py" "$ISSUER" "$ADDR" --path /whoami --user bench --password bench-pw --rounds "$ROUNDS"
