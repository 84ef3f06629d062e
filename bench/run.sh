#!/usr/bin/env bash
# Meridian's ingest benchmarks, in one command. From the repository root:
#
#   bench/run.sh                 # parse + daily runs over 1,000 and 10,000 feeds
#   BENCH_FEEDS="1000" bench/run.sh     # parse + the daily runs over 1,000 feeds
#   BENCH_PARTS=daily BENCH_FEEDS=1000 bench/run.sh   # the daily runs over 1,000 feeds only
#
# It builds `meridian-bench` in release mode, installs Python feedparser from
# PyPI into target/bench-venv, then runs:
#   1. the parse benchmark: every corpus feed by Meridian and a bare quick-xml
#      scan (meridian-bench parse), and by feedparser (bench/feedparser_bench.py);
#   2. daily runs over generated feeds on loopback (meridian-bench daily).
# Results (JSON) go to target/bench-results/, and a Markdown table is printed.
# The corpus is $MERIDIAN_CORPUS, default the shared/corpus folder beside the checkout. Results and the
# machine they were taken on are kept in docs/benchmarks.md.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
export MERIDIAN_CORPUS="${MERIDIAN_CORPUS:-$(dirname "$ROOT")/shared/corpus}"
ITERATIONS="${BENCH_ITERATIONS:-30}"
FP_ITERATIONS="${BENCH_FEEDPARSER_ITERATIONS:-3}"
FEEDS="${BENCH_FEEDS:-1000 10000}"
PARTS="${BENCH_PARTS:-parse daily}"
OUT="$ROOT/target/bench-results"
VENV="$ROOT/target/bench-venv"
mkdir -p "$OUT"

echo "== building meridian-bench (release)" >&2
cargo build --release -p meridian-bench >&2
BIN="$ROOT/target/release/meridian-bench"

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')" >&2

if [[ " $PARTS " == *" parse "* ]]; then
if [ ! -x "$VENV/bin/python" ]; then
  echo "== installing feedparser into $VENV" >&2
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "feedparser==6.0.14" >&2

echo "== parse: Meridian and bare quick-xml scan ($ITERATIONS passes)" >&2
"$BIN" parse --corpus "$MERIDIAN_CORPUS" --iterations "$ITERATIONS" > "$OUT/parse.json"
echo "== parse: Python feedparser ($FP_ITERATIONS passes)" >&2
"$VENV/bin/python" bench/feedparser_bench.py "$MERIDIAN_CORPUS" "$FP_ITERATIONS" > "$OUT/feedparser.json"
else
  rm -f "$OUT/parse.json" "$OUT/feedparser.json"
fi

rm -f "$OUT"/daily-*.json
if [[ " $PARTS " == *" daily "* ]]; then
for n in $FEEDS; do
  echo "== daily runs over $n feeds" >&2
  "$BIN" daily --corpus "$MERIDIAN_CORPUS" --feeds "$n" --work-dir "$ROOT/target/bench-work" > "$OUT/daily-$n.json"
done
fi

python3 bench/table.py "$OUT"
