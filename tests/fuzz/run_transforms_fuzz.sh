#!/bin/bash
# Runs transforms_fuzz for a bounded time on a fresh seed corpus.
# Usage: tests/fuzz/run_transforms_fuzz.sh BUILD_DIR [SECONDS=60]
set -euo pipefail
build=${1:?usage: run_transforms_fuzz.sh BUILD_DIR [SECONDS]}
seconds=${2:-60}
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
"$build/bin/transforms_fuzz_seeds" "$corpus"
# -rss_limit_mb: a hostile header may make libjpeg allocate up to ~max_pixels * 8 bytes.
"$build/bin/transforms_fuzz" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 "$corpus"
