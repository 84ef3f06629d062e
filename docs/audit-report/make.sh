#!/usr/bin/env bash
# Regenerates the compliance audit reports of a demo run committed here
# (demo-{us,cn,eu}.html and .md) and their screenshots
# (docs/screenshots/audit-report-{us,cn,eu}.png): runs the offline demo into a
# temporary data dir, verifies each region's audit chain, writes each
# region's report for the day of the run, and renders the HTML with headless
# Chromium.
#
# Needs: a built `meridian` (cargo build --bin meridian), and Debian's
# chromium plus CJK fonts: apt-get install -y chromium fonts-noto-cjk
# Run from the repository root: docs/audit-report/make.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

meridian="${MERIDIAN:-${CARGO_TARGET_DIR:-target}/debug/meridian}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$meridian" --data-dir "$work/data" demo > "$work/demo.log"

for region in us cn eu; do
  "$meridian" --data-dir "$work/data" audit verify --region "$region"
  for format in html md; do
    "$meridian" --data-dir "$work/data" audit report --region "$region" \
      --format "$format" --out "docs/audit-report/demo-$region.$format"
  done
  chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run \
    --user-data-dir="$(mktemp -d -p "$work")" --hide-scrollbars \
    --screenshot="docs/screenshots/audit-report-$region.png" --window-size=1000,2400 \
    "file://$PWD/docs/audit-report/demo-$region.html" 2>/dev/null
  echo "docs/audit-report/demo-$region.{html,md}, docs/screenshots/audit-report-$region.png"
done
