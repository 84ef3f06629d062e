#!/usr/bin/env bash
# Meridian's insight-quality benchmark, in one command. From the repository root:
#
#   bench/quality.sh                              # the tables
#   bench/quality.sh --json                       # the same as JSON
#   bench/quality.sh --floor docs/quality.md      # fail when the overall strict
#                                                 # top-5 drops > 0.05 below the figure there
#
# It installs sumy (the LexRank/TextRank peer) into a venv under the cargo
# target folder, builds `meridian-bench` in release mode and runs
# `meridian-bench insights --peer-python <venv python> "$@"`: the builtin
# engine's five insights per transcript, scored against the editor's gold
# annotations in $MERIDIAN_EVAL (default: the shared/eval folder beside the checkout), transcripts from
# $MERIDIAN_CORPUS (default: the shared/corpus folder beside the checkout). What it measures and the last
# results: docs/quality.md.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
export MERIDIAN_CORPUS="${MERIDIAN_CORPUS:-$(dirname "$ROOT")/shared/corpus}"
export MERIDIAN_EVAL="${MERIDIAN_EVAL:-$(dirname "$ROOT")/shared/eval}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET" in /*) ;; *) TARGET="$ROOT/$TARGET" ;; esac
VENV="$TARGET/quality-venv"
# Pinned: the latest releases when this benchmark was written. numpy is needed
# by sumy's LexRank and TextRank but is not one of sumy's own dependencies.
SUMY="sumy==0.13.0"
NUMPY="numpy==2.4.6"
NLTK="nltk==3.10.4"

if [ ! -x "$VENV/bin/python" ]; then
  echo "== creating $VENV" >&2
  python3 -m venv "$VENV"
fi
# Already-satisfied pins are checked locally, without a download.
echo "== installing $SUMY $NUMPY $NLTK into $VENV" >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$SUMY" "$NUMPY" "$NLTK" >&2

# sumy imports NLTK, which would look for (and some callers download) its data
# in the home folder; the peer needs none. Point NLTK at an empty folder so a
# stray data folder on one machine cannot change the results.
export NLTK_DATA="$VENV/nltk-data-empty"
mkdir -p "$NLTK_DATA"
"$VENV/bin/python" -c 'import sumy.summarizers.lex_rank, sumy.summarizers.text_rank, sumy.nlp.stemmers as s; s.Stemmer("english"); s.Stemmer("german")' >&2

echo "== building meridian-bench (release)" >&2
cargo build --release -p meridian-bench >&2
BIN="$TARGET/release/meridian-bench"

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); $(date -u +%Y-%m-%dT%H:%MZ)" >&2
echo "== insights: builtin engine vs gold, peer sumy $("$VENV/bin/python" -c 'import sumy; print(sumy.__version__)')" >&2
exec "$BIN" insights --eval "$MERIDIAN_EVAL" --corpus "$MERIDIAN_CORPUS" \
  --peer-python "$VENV/bin/python" --peer-script "$ROOT/bench/sumy_peer.py" "$@"
