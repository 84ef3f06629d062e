#!/usr/bin/env bash
# Renders an HTML file (or an http(s) URL) to a PNG with headless Chromium.
#
#   bench/screenshot.sh INPUT.html OUTPUT.png [WIDTHxHEIGHT]    # default 1000x1600
#
# The page is drawn at WIDTH x HEIGHT CSS pixels (scale 1); what lies below
# HEIGHT is cut, so give a tall enough size for long pages. Nothing else is
# fetched than the page needs (no sync, no component updates), and a fresh
# profile is used and removed. Exits non-zero, saying why, when Chromium
# fails or writes no PNG.
#
# Needs Debian's Chromium, plus CJK fonts for Chinese pages:
#   apt-get install -y chromium fonts-noto-cjk
#
# Examples:
#   # the compliance audit report of a demo run (docs/audit.md)
#   meridian --data-dir /tmp/demo demo
#   meridian --data-dir /tmp/demo audit report --region us --format html --out /tmp/report-us.html
#   bench/screenshot.sh /tmp/report-us.html docs/screenshots/audit-report-us.png 1200x3000
#   # a page of a running `meridian serve`
#   bench/screenshot.sh http://127.0.0.1:8080/archive /tmp/archive.png 1000x1200
set -euo pipefail

if [[ $# -lt 2 || $# -gt 3 ]]; then
  sed -n '2,4p' "$0" >&2
  exit 2
fi
input=$1
output=$2
size=${3:-1000x1600}
if [[ ! $size =~ ^([0-9]+)x([0-9]+)$ ]]; then
  echo "screenshot.sh: size must be WIDTHxHEIGHT, not '$size'" >&2
  exit 2
fi
width=${BASH_REMATCH[1]}
height=${BASH_REMATCH[2]}

case "$input" in
  http://* | https://* | file://*) url=$input ;;
  *)
    if [[ ! -f $input ]]; then
      echo "screenshot.sh: no such file: $input" >&2
      exit 2
    fi
    url="file://$(cd "$(dirname "$input")" && pwd)/$(basename "$input")"
    ;;
esac
command -v chromium >/dev/null 2>&1 || {
  echo "screenshot.sh: chromium is not installed (apt-get install -y chromium fonts-noto-cjk)" >&2
  exit 3
}

mkdir -p "$(dirname "$output")"
output_abs="$(cd "$(dirname "$output")" && pwd)/$(basename "$output")"
profile="$(mktemp -d)"
log="$profile.log"
trap 'rm -rf "$profile" "$log"' EXIT
rm -f "$output_abs"

# --no-sandbox: Chromium's sandbox needs user namespaces, absent when run as
# root in containers and CI.
if ! chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
  --disable-background-networking --disable-component-update --disable-sync \
  --no-first-run --hide-scrollbars --force-device-scale-factor=1 \
  --user-data-dir="$profile" --window-size="$width,$height" \
  --screenshot="$output_abs" "$url" >"$log" 2>&1; then
  echo "screenshot.sh: chromium failed on $url:" >&2
  cat "$log" >&2
  exit 1
fi
if [[ ! -s $output_abs ]] || [[ "$(head -c 4 "$output_abs" | od -An -c | tr -d ' ')" != '211PNG' ]]; then
  echo "screenshot.sh: chromium wrote no PNG for $url:" >&2
  cat "$log" >&2
  exit 1
fi
echo "$output ($width x $height) from $url"
