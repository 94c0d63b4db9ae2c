# Shared by the bench scripts: their set-up, ports, waiting, wrk runs and the report's tables.
# Expects THREADS, CONNS, DURATION and WORK to be set, by bench_init or by the script itself.

log() { echo "$*" >&2; }

# bench_init NAME [DURATION]: the run's load (DURATION, CONNS, THREADS from the environment, else
# DURATION as given or 8s, 32 connections, 2 threads), its work dir, the servers in PIDS stopped on
# exit, and wrk installed when missing.
bench_init() {
  DURATION=${DURATION:-${2:-8s}}
  CONNS=${CONNS:-32}
  THREADS=${THREADS:-2}
  WORK=$(mktemp -d "/tmp/tessera-$1.XXXXXX")
  PIDS=()
  trap 'for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done' EXIT
  command -v wrk >/dev/null || { log "installing wrk"; apt-get install -y -q wrk >/dev/null; }
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 1 200); do curl -fs "http://$1/healthz" >/dev/null 2>&1 && return 0; sleep 0.05; done; log "no answer on $1"; return 1; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# wrk NAME URL [wrk args...]: runs wrk, keeps its output, prints "rps p50 p99 non2xx".
run_wrk() {
  local name=$1 url=$2; shift 2
  wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$@" "$url" > "$WORK/$name.txt" 2>&1
  python3 - "$WORK/$name.txt" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def ms(label):
    m = re.search(r"^\s*%s%%\s+([\d.]+)(us|ms|s)\s*$" % label, text, re.M)
    if not m:
        return float("nan")
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
# Successful responses per second: a failed request (e.g. a refresh pool running dry) does not count.
total, seconds = re.search(r"(\d+) requests in ([\d.]+)(m?s)", text).groups()[:2]
unit = re.search(r"\d+ requests in [\d.]+(m?s)", text).group(1)
seconds = float(seconds) / (1000 if unit == "ms" else 1)
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
bad = int(bad.group(1)) if bad else 0
print(f"{(int(total) - bad) / seconds:.0f} {ms('50'):.2f} {ms('99'):.2f} {bad}")
PY
}

json() { python3 -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }
login() { curl -fs -X POST "http://$1/api/token/" -H 'content-type: application/json' -d "{\"username\":\"$2\",\"password\":\"$3\"}"; }

row() { local out="|"; for cell in "$@"; do out+=" $cell |"; done; echo "$out"; }
ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.2f}' if b else 'n/a')" "$1" "$2"; }
machine_line() {
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)."
}

# mint_pool POOL ADDR USER PASSWORD N: logs in for N x DURATION, appending every refresh token to
# POOL.<thread>, so a refresh run can spend each token once.
mint_pool() {
  local pool=$1 addr=$2 user=$3 password=$4 n=$5
  for _ in $(seq 1 "$n"); do
    POOL="$pool" BODY="{\"username\":\"$user\",\"password\":\"$password\"}" \
      wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" -s "$ROOT/bench/wrk/mint_pool.lua" "http://$addr/api/token/" >> "$pool.mint.txt" 2>&1
  done
}

# use_test_database STEM: creates and migrates a database of this run's own on the test PostgreSQL
# (sets ADMIN_URL, REDIS_URL, DB, DB_URL) and, when the script exits, stops the servers in PIDS and
# drops the database. Needs TESSERA to be built.
use_test_database() {
  ADMIN_URL=${TESSERA_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
  REDIS_URL=${TESSERA_TEST_REDIS_URL:-redis://127.0.0.1:6379}
  DB="$1_$$"
  DB_URL="${ADMIN_URL%/*}/$DB"
  trap drop_test_database EXIT
  psql "$ADMIN_URL" -qc "CREATE DATABASE $DB" >/dev/null
  "$TESSERA" migrate --database-url "$DB_URL" >/dev/null
}
drop_test_database() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
}
