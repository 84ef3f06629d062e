#!/usr/bin/env bash
# Regenerates docs/screenshots/digest-{us,cn,eu}.png: runs the offline demo
# into a temporary data dir, takes the HTML part of one digest email per
# region from the demo's outbox (.eml files, exactly as they would be sent),
# and renders it with headless Chromium.
#
# Needs: a built `meridian` (cargo build --bin meridian), python3, and
# Debian's chromium plus CJK fonts for the Chinese digest:
#   apt-get install -y chromium fonts-noto-cjk
# Run from the repository root: docs/screenshots/make.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

meridian="${MERIDIAN:-${CARGO_TARGET_DIR:-target}/debug/meridian}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$meridian" --data-dir "$work/data" demo > "$work/demo.log"

for region in us cn eu; do
  # The first email of the region's outbox, by name (names are random ids;
  # every email of a region carries the same digest).
  eml="$(ls "$work/data/outbox/$region"/*.eml | sort | head -n 1)"
  python3 - "$eml" "$work/$region.html" <<'PY'
import email, email.policy, sys
with open(sys.argv[1], "rb") as f:
    message = email.message_from_binary_file(f, policy=email.policy.default)
html = message.get_body(preferencelist=("html",))
with open(sys.argv[2], "w", encoding="utf-8") as out:
    out.write(html.get_content())
PY
  bench/screenshot.sh "$work/$region.html" "docs/screenshots/digest-$region.png" 900x1600 >/dev/null
  echo "docs/screenshots/digest-$region.png from $(basename "$eml")"
done
