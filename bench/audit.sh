#!/usr/bin/env bash
# The audit log's cost on the write paths: login and refresh throughput of this build, which writes
# an audit event in the transaction of every login and rotation, side by side with the build just
# before the audit log (BEFORE, a commit), on the embedded default (SQLite), same data shape, in one
# run: three alternating runs each, medians. Passwords use a cheap argon2 cost so that a login is
# bound by its writes, where the audit log could show, rather than by hashing.
#
#   bash bench/audit.sh                 # two release builds (the earlier one cached), then ~4 minutes
#   BEFORE=<commit> bash bench/audit.sh
# The earlier build gets the SQLite fix of f375826 too (bench/audit-before.patch, the same change
# on the earlier code), so that both sides run the same transaction handling and differ by the
# audit log alone.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BEFORE=${BEFORE:-455de72}
source "$ROOT/bench/lib.sh"
bench_init audit 8s

log "building this tree (release)"
cargo build --release -q -p tessera --manifest-path "$ROOT/Cargo.toml"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/tessera-bench"
mkdir -p "$cache"
tag="$BEFORE+fix"
if [ ! -x "$cache/before-$tag/tessera" ]; then
  log "building $BEFORE (release, cached in $cache)"
  rm -rf "$WORK/before-src"
  git -C "$ROOT" worktree add -q --detach "$WORK/before-src" "$BEFORE"
  git -C "$WORK/before-src" apply "$ROOT/bench/audit-before.patch"
  CARGO_TARGET_DIR="$cache/target-before" cargo build --release -q -p tessera \
    --manifest-path "$WORK/before-src/Cargo.toml"
  mkdir -p "$cache/before-$tag"
  cp "$cache/target-before/release/tessera" "$cache/before-$tag/tessera"
  git -C "$ROOT" worktree remove --force "$WORK/before-src"
fi
declare -A BIN=([audit]="${CARGO_TARGET_DIR:-$ROOT/target}/release/tessera" [before]="$cache/before-$tag/tessera")

cheap=(env TESSERA_PASSWORD_HASH_MEMORY_KIB=64 TESSERA_PASSWORD_HASH_ITERATIONS=1)
start() { # NAME: a server of that build on a data dir of its own, with the user bench
  local name=$1 port; port=$(free_port)
  echo "bench-pw" | "${cheap[@]}" "${BIN[$name]}" users add bench --password-stdin --data-dir "$WORK/$name" >/dev/null
  "${cheap[@]}" TESSERA_LOG=warn TESSERA_LOGIN_FAILURES_PER_IP=1000000 TESSERA_LOGIN_FAILURES_PER_USERNAME=1000000 \
    "${BIN[$name]}" serve --listen "127.0.0.1:$port" --data-dir "$WORK/$name" > "$WORK/$name.out" 2> "$WORK/$name.log" &
  PIDS+=($!)
  wait_http "127.0.0.1:$port"
  printf -v "ADDR_$name" '%s' "127.0.0.1:$port"
}
start audit
start before
body='{"username":"bench","password":"bench-pw"}'
for name in audit before; do : > "$WORK/$name.login"; : > "$WORK/$name.refresh"; done
for i in 1 2 3; do
  for name in audit before; do
    addr_var="ADDR_$name"; addr=${!addr_var}
    BODY=$body run_wrk "$name-login-$i" "http://$addr/api/token/" -s "$ROOT/bench/wrk/json_post.lua" >> "$WORK/$name.login"
    mint_pool "$WORK/$name-pool-$i" "$addr" bench bench-pw 2
    POOL="$WORK/$name-pool-$i" run_wrk "$name-refresh-$i" "http://$addr/api/token/refresh/" -s "$ROOT/bench/wrk/refresh_pool.lua" >> "$WORK/$name.refresh"
  done
done
median() { sort -n "$1" | sed -n 2p; }
machine_line
echo
echo "| SQLite, ${DURATION} runs, ${CONNS} connections | before the audit log (req/s, p50 / p99 ms) | with the audit log | with / before |"
echo "|---|---|---|---|"
for what in login refresh; do
  read -r b b50 b99 _ < <(median "$WORK/before.$what")
  read -r a a50 a99 _ < <(median "$WORK/audit.$what")
  path=$([ $what = login ] && echo "POST /api/token/ (login)" || echo "POST /api/token/refresh/ (each token once)")
  row "$path" "$b ($b50 / $b99)" "$a ($a50 / $a99)" "$(ratio "$a" "$b")"
done
events=$("${BIN[audit]}" audit --data-dir "$WORK/audit" | wc -l)
echo "<!-- runs (rps p50 p99 non2xx): $(for f in "$WORK"/*.login "$WORK"/*.refresh; do printf '%s: %s ' "$(basename "$f")" "$(tr '\n' ';' < "$f")"; done) -->"
echo "<!-- audit events written by the audit build: $events; before = $tag -->"
