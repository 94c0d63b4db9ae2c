#!/usr/bin/env bash
# The cost of operations on the hot path: GET /api/me/ on three instances of the same build and
# data, loaded one at a time, three alternating runs each (medians):
#   plain    no metrics listener, warnings only in the log
#   metrics  --metrics-listen, scraped every second while loaded
#   logged   metrics as above, and one JSON log line per request (TESSERA_LOG=info) to a file
#
#   bash bench/metrics.sh               # release build, then about three minutes
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/bench/lib.sh"
bench_init metrics
cargo build --release -q -p tessera --manifest-path "$ROOT/Cargo.toml"
TESSERA="$ROOT/target/release/tessera"

data="$WORK/data"
echo "bench-pw" | "$TESSERA" users add bench --password-stdin --data-dir "$data" >/dev/null
start() { # NAME LOG_LEVEL [args...]: starts an instance, sets ADDR_<NAME>
  local name=$1 level=$2; shift 2
  local port; port=$(free_port)
  TESSERA_LOG=$level "$TESSERA" serve --listen "127.0.0.1:$port" --data-dir "$data" --log-format json "$@" \
    > "$WORK/$name.out" 2> "$WORK/$name.log" &
  PIDS+=($!)
  wait_http "127.0.0.1:$port"
  printf -v "ADDR_$name" '%s' "127.0.0.1:$port"
}
mport=$(free_port); lport=$(free_port)
start plain warn
start metrics warn --metrics-listen "127.0.0.1:$mport"
start logged info --metrics-listen "127.0.0.1:$lport"
ACCESS=$(login "$ADDR_plain" bench bench-pw | json access)

scrape_while() { # PORT: scrapes every second until killed
  while true; do curl -fs "http://127.0.0.1:$1/metrics" > /dev/null || true; sleep 1; done
}
for name in plain metrics logged; do : > "$WORK/$name.rows"; done
for i in 1 2 3; do
  run_wrk "plain-$i" "http://$ADDR_plain/api/me/" -H "Authorization: Bearer $ACCESS" >> "$WORK/plain.rows"
  scrape_while "$mport" & scraper=$!
  run_wrk "metrics-$i" "http://$ADDR_metrics/api/me/" -H "Authorization: Bearer $ACCESS" >> "$WORK/metrics.rows"
  kill "$scraper"
  scrape_while "$lport" & scraper=$!
  run_wrk "logged-$i" "http://$ADDR_logged/api/me/" -H "Authorization: Bearer $ACCESS" >> "$WORK/logged.rows"
  kill "$scraper"
done
median() { sort -n "$1" | sed -n 2p; }
machine_line
echo
echo "| GET /api/me/ on | requests/s | p50 (ms) | p99 (ms) | non-2xx | / plain |"
echo "|---|---|---|---|---|---|"
read -r base p50 p99 bad < <(median "$WORK/plain.rows")
row "plain (no metrics, warnings only)" "$base" "$p50" "$p99" "$bad" "1.00"
read -r rps p50 p99 bad < <(median "$WORK/metrics.rows")
row "metrics on, scraped every second" "$rps" "$p50" "$p99" "$bad" "$(ratio "$rps" "$base")"
read -r rps p50 p99 bad < <(median "$WORK/logged.rows")
row "metrics on + a JSON log line per request" "$rps" "$p50" "$p99" "$bad" "$(ratio "$rps" "$base")"
echo "<!-- runs (rps p50 p99 non2xx): plain $(tr '\n' ';' < "$WORK/plain.rows") metrics $(tr '\n' ';' < "$WORK/metrics.rows") logged $(tr '\n' ';' < "$WORK/logged.rows") -->"
echo "<!-- log lines written by the logged instance: $(wc -l < "$WORK/logged.log") -->"
