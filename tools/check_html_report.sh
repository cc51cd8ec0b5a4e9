#!/usr/bin/env bash
# Renders ferry-bench's --html page in headless Chromium and keeps a
# screenshot, to see that the page draws (its charts are inline SVG).
#   bash scripts/setup --with-browser && bash scripts/build   # once
#   bash tools/check_html_report.sh [OUT_DIR]                  # default build/html-check
# Writes OUT_DIR/report.html (a short --sweep-workers 1,2 run over a small
# generated data set) and OUT_DIR/report.png; fails when Chromium does not
# parse the page's four charts or the screenshot is missing or blank.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mkdir -p "${1:-build/html-check}" && cd "${1:-build/html-check}" && pwd)
bin=build/bin
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "check_html_report: no chromium (bash scripts/setup --with-browser)"; exit 1; }
[ -x "$bin/ferry-bench" ] || { echo "check_html_report: $bin/ferry-bench missing (bash scripts/build)"; exit 1; }

[ -f "$out/data/.complete" ] || "$bin/ferry-gen-sample" --out "$out/data" --images 96 --classes 4 --quiet
"$bin/ferry-bench" --data "$out/data" --sweep-workers 1,2 --seconds 1.5 --batch-size 16 \
  --html "$out/report.html" --no-progress >"$out/bench.txt"

flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$out/chromium-profile")
"$browser" "${flags[@]}" --dump-dom "file://$out/report.html" >"$out/dom.html" 2>"$out/chromium.log"
svgs=$(grep -o '<svg' "$out/dom.html" | wc -l)
[ "$svgs" -eq 4 ] || { echo "check_html_report: Chromium parsed $svgs charts, expected 4"; exit 1; }
grep -q 'CPU time per image against workers' "$out/dom.html" ||
  { echo "check_html_report: the sweep charts are missing"; exit 1; }

rm -f "$out/report.png"
"$browser" "${flags[@]}" --window-size=1000,2600 --screenshot="$out/report.png" "file://$out/report.html" \
  >>"$out/chromium.log" 2>&1
[ -s "$out/report.png" ] || { echo "check_html_report: no screenshot (see $out/chromium.log)"; exit 1; }
[ "$(head -c 8 "$out/report.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
  { echo "check_html_report: $out/report.png is not a PNG"; exit 1; }
# A blank page compresses to a few KB; charts and tables do not.
size=$(stat -c %s "$out/report.png")
[ "$size" -gt 30000 ] || { echo "check_html_report: $out/report.png is only $size bytes: blank?"; exit 1; }
echo "check_html_report: $out/report.html renders ($svgs charts); screenshot $out/report.png ($size bytes)"
