#!/usr/bin/env bash
# Load test of the digest archive: wrk against `meridian serve` on
# loopback, release build, SQLite, one region. From the repository root:
#
#   bench/http.sh                       # every target, at each connection count, and at a fixed rate
#   BENCH_SECONDS=5 BENCH_CONNECTIONS="1 10" bench/http.sh
#
# Steps:
#   1. cargo build --release -p meridian-cli (the `meridian` binary);
#   2. `meridian demo` into a temporary data dir (offline: sample feeds on
#      loopback, builtin engine), which leaves one digest per region;
#   3. copies the `us` digest to the 365 days before it (so the archive has
#      366 digests, 19 index pages), with python3's sqlite3;
#   4. `meridian serve --region us` on a free loopback port;
#   5. wrk (Debian package `wrk`) on each target: first open-loop at
#      BENCH_CONNECTIONS connections (2 threads), then at a fixed rate of
#      BENCH_RATE requests/s (wrk has no -R like wrk2: bench/wrk-report.lua
#      paces each connection with wrk's `delay()` hook).
# Prints one Markdown table row per run: p50, p99 (ms), requests/s, errors.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SECONDS_PER_RUN="${BENCH_SECONDS:-10}"
CONNECTIONS="${BENCH_CONNECTIONS:-1 10 50}"
RATE="${BENCH_RATE:-1000}"
RATE_CONNECTIONS="${BENCH_RATE_CONNECTIONS:-20}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

command -v wrk >/dev/null 2>&1 || { echo "wrk is not installed: apt-get install -y wrk" >&2; exit 3; }

echo "== building meridian (release)" >&2
cargo build --release --locked -p meridian-cli >&2
MERIDIAN="$TARGET_DIR/release/meridian"

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "== meridian demo (data in $work/data)" >&2
"$MERIDIAN" --data-dir "$work/data" demo >"$work/demo.log" 2>&1

echo "== 365 more digests in the us archive" >&2
latest=$(python3 - "$work/data/us.db" <<'PY'
import datetime, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
date, doc, created = db.execute(
    "SELECT digest_date, digest_json, created_at FROM digests ORDER BY digest_date DESC LIMIT 1").fetchone()
day = datetime.date.fromisoformat(date)
rows = []
for back in range(1, 366):
    d = (day - datetime.timedelta(days=back)).isoformat()
    rows.append((d, "bench-" + d, doc.replace('"date":"%s"' % date, '"date":"%s"' % d), created))
db.executemany(
    "INSERT INTO digests (digest_date, content_hash, digest_json, created_at) VALUES (?, ?, ?, ?)", rows)
db.commit()
print(date)
PY
)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "== meridian serve --region us on 127.0.0.1:$port (newest digest $latest)" >&2
RUST_LOG="${RUST_LOG:-warn}" "$MERIDIAN" --data-dir "$work/data" serve --region us --listen "127.0.0.1:$port" \
  >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/archive/$latest" >/dev/null || { cat "$work/serve.log" >&2; exit 1; }

targets=("/archive" "/archive/$latest" "/archive/$latest.json" "/archive.json" "/archive?page=7")
echo
echo "| target | load | p50 (ms) | p99 (ms) | req/s | errors |"
echo "|---|---|---:|---:|---:|---:|"
for target in "${targets[@]}"; do
  for c in $CONNECTIONS; do
    threads=$(( c < 2 ? 1 : 2 ))
    line=$(wrk -t"$threads" -c"$c" -d"${SECONDS_PER_RUN}s" -s bench/wrk-report.lua "http://127.0.0.1:$port$target" | grep '^RESULT')
    read -r _ p50 p99 rps errors <<<"$line"
    echo "| \`$target\` | $c connections, as fast as possible | $p50 | $p99 | $rps | $errors |"
  done
  line=$(WRK_RATE="$RATE" WRK_CONNECTIONS="$RATE_CONNECTIONS" \
    wrk -t2 -c"$RATE_CONNECTIONS" -d"${SECONDS_PER_RUN}s" -s bench/wrk-report.lua "http://127.0.0.1:$port$target" | grep '^RESULT')
  read -r _ p50 p99 rps errors <<<"$line"
  echo "| \`$target\` | fixed $RATE req/s ($RATE_CONNECTIONS connections) | $p50 | $p99 | $rps | $errors |"
done
