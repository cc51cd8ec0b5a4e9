#!/usr/bin/env bash
# Installs the build tree into a temporary prefix, builds tests/install/consumer
# against it with find_package(ferry), and runs it with forked and spawned
# workers. Usage: install_test.sh BUILD_DIR GEN_SAMPLE
set -euo pipefail
build=$(cd "$1" && pwd)
gen_sample=$2
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ferry-install-test-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build" --prefix "$tmp/prefix" --component sdk >"$tmp/install.log"
for f in include/ferry/loader/data_loader.h include/ferry/base/error.h lib/libferry_loader.a \
         lib/cmake/ferry/ferryConfig.cmake lib/cmake/ferry/ferryTargets.cmake bin/ferry-worker; do
  [ -e "$tmp/prefix/$f" ] || { echo "install_test: $f is not installed"; cat "$tmp/install.log"; exit 1; }
done

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S "$here/consumer" -B "$tmp/consumer" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" >"$tmp/configure.log" 2>&1 || { cat "$tmp/configure.log"; exit 1; }
cmake --build "$tmp/consumer" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; exit 1; }

"$gen_sample" --out "$tmp/data" --images 10 --classes 2 --quiet
for method in fork spawn; do
  # The installed ferry-worker, not the build tree's: the prefix is not the configured one.
  out=$(FERRY_WORKER="$tmp/prefix/bin/ferry-worker" "$tmp/consumer/consumer" "$tmp/data" "$method")
  [ "$out" = "consumer: 10 images" ] || { echo "install_test: $method: got '$out'"; exit 1; }
done
echo "install_test: find_package(ferry) + ferry::ferry builds and runs (fork, spawn)"
