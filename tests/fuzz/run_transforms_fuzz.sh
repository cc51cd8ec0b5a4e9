#!/bin/bash
# Runs one fuzz target for a bounded time on a fresh seed corpus.
# Usage: tests/fuzz/run_transforms_fuzz.sh BUILD_DIR [SECONDS=60] [TARGET=transforms_fuzz]
#   TARGET: transforms_fuzz (JPEG seeds), png_fuzz (PNG seeds) or webp_fuzz (WebP seeds)
set -euo pipefail
build=${1:?usage: run_transforms_fuzz.sh BUILD_DIR [SECONDS] [TARGET]}
seconds=${2:-60}
target=${3:-transforms_fuzz}
case "$target" in
  transforms_fuzz) format=jpeg ;;
  png_fuzz) format=png ;;
  webp_fuzz) format=webp ;;
  *) echo "run_transforms_fuzz.sh: unknown target '$target'" >&2; exit 2 ;;
esac
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
"$build/bin/transforms_fuzz_seeds" "$corpus" "$format"
# -rss_limit_mb: a hostile header may make a decoder allocate up to ~max_pixels * 8 bytes.
"$build/bin/$target" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 "$corpus"
