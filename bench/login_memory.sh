#!/usr/bin/env bash
# Resident memory of `tessera serve` (argon2id at OWASP cost) idle, right after a burst of logins,
# and once the burst is over: argon2's 19 MiB working buffers should not stay resident.
#
#   bash bench/login_memory.sh [BINARY...]     # default: target/release/tessera (built if missing)
#   LOGINS=200 CONCURRENCY=16 bash bench/login_memory.sh
#
# Prints one Markdown row per binary: idle RSS, RSS right after the burst, RSS 3 s later.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOGINS=${LOGINS:-100}
CONCURRENCY=${CONCURRENCY:-8}
WORK=$(mktemp -d /tmp/tessera-memory.XXXXXX)
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
log() { echo "$*" >&2; }
source "$ROOT/bench/lib.sh"

binaries=("$@")
if [ ${#binaries[@]} -eq 0 ]; then
  cargo build --release -q -p tessera --manifest-path "$ROOT/Cargo.toml"
  binaries=("$ROOT/target/release/tessera")
fi

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
echo "| binary | idle RSS (MiB) | right after $LOGINS logins, $CONCURRENCY at once | 3 s after the burst |"
echo "|---|---|---|---|"
for TESSERA in "${binaries[@]}"; do
  dir=$(mktemp -d "$WORK/run.XXXX")
  printf 'correct horse\n' | "$TESSERA" users add ann --password-stdin --data-dir "$dir" >/dev/null
  port=$(free_port)
  TESSERA_LOG=warn TESSERA_LOGIN_FAILURES_PER_IP=1000000 TESSERA_LOGIN_FAILURES_PER_USERNAME=1000000 \
    "$TESSERA" serve --listen "127.0.0.1:$port" --data-dir "$dir" > "$dir/out" 2> "$dir/err" &
  pid=$!; PIDS+=("$pid")
  wait_http "127.0.0.1:$port"
  sleep 1
  idle=$(rss_kib "$pid")
  seq 1 "$LOGINS" | xargs -P "$CONCURRENCY" -I{} \
    curl -fs -o /dev/null -X POST "http://127.0.0.1:$port/api/token/" \
      -H 'content-type: application/json' -d '{"username":"ann","password":"correct horse"}'
  after=$(rss_kib "$pid")
  sleep 3
  settled=$(rss_kib "$pid")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  row "$(basename "$TESSERA")" "$(mib "$idle")" "$(mib "$after")" "$(mib "$settled")"
done
