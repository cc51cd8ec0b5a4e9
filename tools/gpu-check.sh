#!/usr/bin/env bash
# GPU check of ferry's CUDA stage, in one go (under 8 minutes on one H200):
#   1. configure and build the CUDA targets (Release) in BUILD_DIR (default build-gpu);
#   2. run the host-reference tests (everywhere);
#   3. with a GPU: run the GPU tests (H2D byte for byte, kernels vs the host
#      reference, CUDA IPC producer/consumer in two processes incl. a consumer
#      killed mid-batch, no device-memory growth over 1,000 batches), then the
#      loader's device path (LoaderOptions::device/pin_memory: same bytes as
#      host batches, host slot released only after the copy, no device-memory
#      growth, page-locked arenas, respawned workers), and fail if any of them
#      is skipped;
#   4. with a GPU: measure H2D throughput of H2DCopier against a plain pinned
#      cudaMemcpyAsync loop of the same sizes, and print a markdown table.
# Without a GPU (or without the CUDA toolkit) it stops after step 2 with
# "no GPU: skipped" and exits 0.
#
#   tools/gpu-check.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build-gpu}"
start=$(date +%s)
jobs=$(nproc)
say() { echo "== gpu-check: $*"; }
elapsed() { echo "$(( $(date +%s) - start )) s"; }
mkdir -p "$dir/gpu-check"
dir="$(cd "$dir" && pwd)"
logs="$dir/gpu-check"

say "configure $dir (Release)"
generator=()
command -v ninja >/dev/null && [ ! -f "$dir/CMakeCache.txt" ] && generator=(-G Ninja)
# The libtorch example is not needed here, and a CUDA build of torch's CMake
# config can stop the configure on its own; leave it out.
if ! cmake -S . -B "$dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DFERRY_CUDA=ON -DFERRY_TORCH_EXAMPLE=OFF \
  >"$logs/configure.log" 2>&1; then
  tail -n 30 "$logs/configure.log"
  say "FAILED: configure (full log: $logs/configure.log)"
  exit 1
fi
grep -E "^-- ferry:" "$logs/configure.log" || true
have_cuda=0
grep -q "ferry: CUDA stage ON" "$logs/configure.log" && have_cuda=1

targets=(cuda_reference_test loader_cuda_test)
[ "$have_cuda" = 1 ] && targets+=(cuda_test cuda_fake_runtime_test ferry-ipc-producer ferry-ipc-consumer ferry-cuda-bench
  loader_cuda_gpu_test loader_cuda_fake_runtime_test)
say "build ${targets[*]} (-j$jobs)"
if ! cmake --build "$dir" --parallel "$jobs" --target "${targets[@]}" >"$logs/build.log" 2>&1; then
  grep -E "error|Error" "$logs/build.log" | head -n 30 || tail -n 30 "$logs/build.log"
  say "FAILED: build (full log: $logs/build.log)"
  exit 1
fi
say "built in $(elapsed)"

say "host-reference tests"
timeout 120 "$dir/tests/cuda_reference_test" --gtest_brief=1
say "loader options (device/pin_memory refusals skip where a GPU is usable)"
timeout 120 "$dir/tests/loader_cuda_test" --gtest_brief=1
if [ "$have_cuda" = 1 ]; then
  say "pool/copier logic on the CPU stand-in runtime"
  timeout 120 "$dir/tests/cuda_fake_runtime_test" --gtest_brief=1
  say "loader device path on the CPU stand-in runtime"
  timeout 180 "$dir/tests/loader_cuda_fake_runtime_test" --gtest_brief=1
fi

if [ "$have_cuda" != 1 ]; then
  say "no GPU: skipped (this build has no CUDA stage: no CUDA toolkit found)"
  exit 0
fi
status_rc=0
status=$("$dir/bin/ferry-cuda-bench" --status) || status_rc=$?
if [ "$status_rc" = 2 ]; then
  # Still run the suite: the GPU tests must skip cleanly, the rest must pass.
  FERRY_BIN_DIR="$dir/bin" timeout 300 "$dir/tests/cuda_test" --gtest_brief=1 >"$logs/cuda_test.log" 2>&1 || {
    cat "$logs/cuda_test.log"
    say "FAILED: cuda_test"
    exit 1
  }
  timeout 120 "$dir/tests/loader_cuda_gpu_test" --gtest_brief=1 >"$logs/loader_cuda_gpu_test.log" 2>&1 || {
    cat "$logs/loader_cuda_gpu_test.log"
    say "FAILED: loader_cuda_gpu_test"
    exit 1
  }
  say "$status"
  say "no GPU: skipped (GPU tests and H2D benchmark need a GPU; build and host tests passed in $(elapsed))"
  exit 0
elif [ "$status_rc" != 0 ]; then
  say "FAILED: ferry-cuda-bench --status exited $status_rc"
  exit 1
fi
say "$status"

say "GPU tests"
set +e
FERRY_BIN_DIR="$dir/bin" timeout 360 "$dir/tests/cuda_test" >"$logs/cuda_test.log" 2>&1
test_rc=$?
set -e
grep -E "^\[ *(OK|FAILED|SKIPPED) *\]|\[ info \]" "$logs/cuda_test.log" || true
skipped=$(grep -cE "^\[  SKIPPED \] [A-Za-z]" "$logs/cuda_test.log" || true)
if [ "$test_rc" != 0 ]; then
  say "FAILED: GPU tests (exit $test_rc; full log: $logs/cuda_test.log)"
  exit 1
fi
if [ "$skipped" != 0 ]; then
  say "FAILED: $skipped GPU test(s) skipped although a GPU is present (see $logs/cuda_test.log)"
  exit 1
fi
say "GPU tests passed ($(elapsed))"

say "loader device path on the GPU"
set +e
timeout 240 "$dir/tests/loader_cuda_gpu_test" >"$logs/loader_cuda_gpu_test.log" 2>&1
test_rc=$?
set -e
grep -E "^\[ *(OK|FAILED|SKIPPED) *\]" "$logs/loader_cuda_gpu_test.log" || true
skipped=$(grep -cE "^\[  SKIPPED \] [A-Za-z]" "$logs/loader_cuda_gpu_test.log" || true)
# A failure here is reported at the end, after the throughput table.
loader_failed=""
if [ "$test_rc" != 0 ]; then
  grep -B2 -A12 "Failure" "$logs/loader_cuda_gpu_test.log" | head -n 60 || true
  loader_failed="loader GPU tests (exit $test_rc; full log: $logs/loader_cuda_gpu_test.log)"
elif [ "$skipped" != 0 ]; then
  loader_failed="$skipped loader GPU test(s) skipped although a GPU is present"
else
  say "loader GPU tests passed ($(elapsed))"
fi

say "H2D throughput"
timeout 180 "$dir/bin/ferry-cuda-bench" | tee "$logs/table.md"
say "done in $(elapsed). Record the table above in docs/performance/cuda.md with the date and GPU name:"
echo "   $(date -u +%Y-%m-%d) ${status}"
if [ -n "$loader_failed" ]; then
  say "FAILED: $loader_failed"
  exit 1
fi
