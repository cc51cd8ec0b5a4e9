#!/usr/bin/env bash
# The GPU check of ferry's CUDA stage, prepared on a build machine and run on a
# bare GPU machine (no compiler toolchain for ferry's dependencies, no package
# registry; a copy of the working tree travels, and ignored folders only when
# named).
#
#   tools/gpu-check.sh --pack DIR [BUILD_DIR]   here: build Release with CUDA for
#       sm_90 in BUILD_DIR (default build-gpu) and copy into DIR (git ignores
#       gpu-pack*/) everything the check runs: the GPU tests, the CPU stand-in
#       tests, ferry-cuda-bench, ferry-bench, ferry-gen-sample, ferry-worker, the
#       CUDA IPC pair, every non-system shared library they load (ldd), the
#       static engine libraries and headers for building the Python module there,
#       compare_pytorch.py and device_checks.py. Fails above 64 MiB.
#   tools/gpu-check.sh --run DIR [OUT]          there: runs everything from DIR
#       alone (library path set to DIR/lib, its own sample data), writes
#       OUT/results.md (the table) and the raw logs to OUT (default
#       DIR/results), and ends within FERRY_GPU_CHECK_BUDGET seconds (default
#       420; every step has a timeout inside it).
#   tools/gpu-check.sh [BUILD_DIR]              both, on a machine with a GPU and
#       the build dependencies: --pack BUILD_DIR/pack, then --run it.
#
# --run on a machine without a GPU runs the CPU-side tests and stops with
# "no GPU: skipped" (exit 0), unless nvidia-smi lists a GPU that ferry cannot
# use (driver too old for the CUDA runtime, ...): that is a failure (exit 1).
# Exit status: 0 every row passed (or no GPU), 1 a row failed, 3 incomplete
# (a row could not run here: exclusive-process compute mode, the time budget,
# no Python headers for the module); the table says which and why.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
say() { echo "== gpu-check: $*"; }
die() {
  say "FAILED: $*"
  exit 1
}

readonly MAX_PACK_BYTES=$((64 << 20))
# Binaries the check runs: tools in bin/, test programs in tests/.
readonly PACK_TOOLS=(ferry-bench ferry-gen-sample ferry-worker ferry-cuda-bench ferry-ipc-producer ferry-ipc-consumer
  ferry-ipc-producer-fake ferry-ipc-consumer-fake)
readonly PACK_TESTS=(cuda_test cuda_kernel_test cuda_reference_test loader_cuda_test loader_cuda_gpu_test
  cuda_fake_runtime_test loader_cuda_fake_runtime_test)
# The engine as static libraries, in link order, for the Python module.
readonly PACK_STATIC=(ferry_loader ferry_workers ferry_transforms ferry_cuda ferry_trace ferry_base)
# Never packed: the C runtime and the dynamic loader come with every Linux.
readonly SYSTEM_LIBS='^(linux-vdso|ld-linux|libc|libm|libdl|libpthread|librt|libresolv|libutil)\.so'
# Packed apart, used only where the machine's own are older than the build's.
readonly COMPAT_LIBS='^(libstdc\+\+|libgcc_s)\.so'

# ---------------------------------------------------------------------------
# --pack
# ---------------------------------------------------------------------------
pack() {
  local out="$1" build="${2:-build-gpu}"
  cd "$repo"
  case "$out" in /*) ;; *) out="$repo/$out" ;; esac
  case "$build" in /*) ;; *) build="$repo/$build" ;; esac
  command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ] || die "--pack needs the CUDA toolkit (nvcc)"
  mkdir -p "$build"
  say "configure $build (Release, CUDA for sm_90)"
  local generator=()
  command -v ninja >/dev/null && [ ! -f "$build/CMakeCache.txt" ] && generator=(-G Ninja)
  cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DFERRY_CUDA=ON -DFERRY_PYTHON=OFF \
    -DFERRY_TORCH_EXAMPLE=OFF -DFERRY_CUDA_ARCHITECTURES=90-real >"$build/configure.log" 2>&1 ||
    { tail -n 30 "$build/configure.log"; die "configure (log: $build/configure.log)"; }
  grep -q "ferry: CUDA stage ON" "$build/configure.log" || die "the CUDA stage is off in $build (see configure.log)"
  say "build (-j$(nproc))"
  local targets=("${PACK_TOOLS[@]}" "${PACK_TESTS[@]}" "${PACK_STATIC[@]}")
  cmake --build "$build" --parallel "$(nproc)" --target "${targets[@]}" >"$build/build.log" 2>&1 ||
    { grep -E "error" "$build/build.log" | head -n 30; die "build (log: $build/build.log)"; }

  rm -rf "$out"
  mkdir -p "$out"/{bin,tests,lib,compat,engine,src,tools}
  local f
  for f in "${PACK_TOOLS[@]}"; do cp "$build/bin/$f" "$out/bin/"; done
  for f in "${PACK_TESTS[@]}"; do cp "$build/tests/$f" "$out/tests/"; done
  for f in "${PACK_STATIC[@]}"; do cp "$build/lib/lib$f.a" "$out/engine/"; done
  # Every shared library any of them loads, by its soname, as a plain file.
  local name path
  while read -r name path; do
    if [[ "$name" =~ $SYSTEM_LIBS ]]; then continue; fi
    if [[ "$name" =~ $COMPAT_LIBS ]]; then cp -L "$path" "$out/compat/$name"; else cp -L "$path" "$out/lib/$name"; fi
  done < <(for f in "$out"/bin/* "$out"/tests/*; do ldd "$f"; done | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | sort -u)
  if ldd "$out"/bin/* "$out"/tests/* | grep -q "not found"; then die "a packed binary needs a library ldd cannot find"; fi
  # What building the module there needs: the headers, the binding's sources,
  # the compile definitions the engine was built with.
  (git ls-files '*.h' '*.cuh' python/src | tar -cf - -T -) | tar -xf - -C "$out/src"
  # (No public header reads a FERRY_ macro; the module is compiled as in the build.)
  echo "-DFERRY_HAVE_CUDA=1" >"$out/engine/defines.txt"
  cp tools/compare_pytorch.py python/tests/device_checks.py tools/gpu-check.sh "$out/tools/"

  local bytes glibc glibcxx
  bytes=$(du -sb "$out" | cut -f1)
  glibc=$(objdump -T "$out"/bin/* "$out"/tests/* "$out"/lib/* 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n1)
  glibcxx=$(objdump -T "$out"/bin/* "$out"/tests/* "$out"/lib/* 2>/dev/null | grep -o 'GLIBCXX_[0-9.]*' | sort -uV |
    tail -n1)
  {
    echo "ferry GPU-check pack"
    echo "commit:    $(git rev-parse HEAD)$(git diff --quiet HEAD -- . ':!gpu-pack*' || echo ' (uncommitted changes)')"
    echo "built:     $(date -u +%Y-%m-%dT%H:%MZ) on $(. /etc/os-release && echo "$PRETTY_NAME"), $(c++ --version | head -n1)"
    echo "cuda:      $(nvcc --version 2>/dev/null | grep -o 'release [0-9.]*' || /usr/local/cuda/bin/nvcc --version | grep -o 'release [0-9.]*'), kernels sm_90"
    echo "needs:     $glibc, $glibcxx (compat/ has the build's libstdc++ for older systems)"
    echo "size:      $bytes bytes"
    echo "files:"
    (cd "$out" && find . -type f | sort | sed 's/^\.\//  /')
  } >"$out/MANIFEST.txt"
  say "packed $(find "$out" -type f | wc -l) files, $((bytes / 1024)) KiB, into $out (needs $glibc, $glibcxx)"
  if [ "$bytes" -gt "$MAX_PACK_BYTES" ]; then die "the pack is $bytes bytes, over the $MAX_PACK_BYTES that travel"; fi
}

# ---------------------------------------------------------------------------
# --run: steps, each bounded by the time left.
# ---------------------------------------------------------------------------
declare -a ROWS=()
failed=0
incomplete=0
row() { ROWS+=("| $1 | $2 | $3 |"); }
fail_row() {
  row "$1" "FAILED" "$2"
  failed=1
}
skip_row() {
  row "$1" "not run" "$2"
  incomplete=1
}

# seconds left before the budget ends
left() { echo $((deadline - $(date +%s))); }
# bounded CAP LOG cmd...: runs cmd with a timeout of min(CAP, time left - 15 s), output to LOG.
bounded() {
  local cap="$1" log="$2"
  shift 2
  local t=$(($(left) - 15))
  [ "$t" -gt "$cap" ] && t="$cap"
  if [ "$t" -lt 10 ]; then
    echo "not started: the time budget is spent" >"$log"
    return 124
  fi
  timeout --kill-after=5 "$t" "$@" >"$log" 2>&1
}
# ferry's binaries run as "${fenv[@]}" BINARY: the pack's libraries first
# (set in run()); Python stays on the system's.
fenv=()

gtest_summary() {  # LOG: "N passed, M skipped" from a gtest log
  local passed skipped
  passed=$(grep -oE '^\[  PASSED  \] [0-9]+' "$1" | grep -oE '[0-9]+$' || echo 0)
  skipped=$(grep -oE '^\[  SKIPPED \] [0-9]+ test' "$1" | grep -oE '[0-9]+' || echo 0)
  echo "${passed:-0} passed, ${skipped:-0} skipped"
}

# run_gtest NAME CAP MUST_NOT_SKIP BINARY [gtest args...]
run_gtest() {
  local name="$1" cap="$2" strict="$3" bin="$4"
  shift 4
  local log="$out/$bin.log" rc=0
  bounded "$cap" "$log" "${fenv[@]}" "$pack/tests/$bin" "$@" || rc=$?
  local summary
  summary=$(gtest_summary "$log")
  if [ "$rc" = 124 ] && grep -q "not started" "$log"; then
    skip_row "$name" "time budget spent"
  elif [ "$rc" != 0 ]; then
    fail_row "$name" "exit $rc; $(grep -E '^\[  FAILED  \] [A-Za-z]' "$log" | head -n 5 | sed 's/\[  FAILED  \] //' |
      tr '\n' ' ')(log: $bin.log)"
  elif [ "$strict" = strict ] && ! [[ "$summary" =~ \ 0\ skipped ]]; then
    fail_row "$name" "$summary: a GPU test skipped although a GPU is present ($(grep -A1 -E '^\[ *SKIPPED *\] [A-Za-z]' \
      "$log" | head -n 4 | tr '\n' ' '))"
  else
    row "$name" "passed" "$summary"
  fi
  say "$name: $(echo "${ROWS[-1]}" | cut -d'|' -f3-4)"
}

json_field() {  # FILE KEY [INDEX]: a number from a ferry-bench JSON report
  python3 - "$@" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
if len(sys.argv) > 3: d = d["sweep"][int(sys.argv[3])]
print(d[sys.argv[2]])
EOF
}

# Alternating ferry-bench runs: A, B, B, A; the row shows the median of each.
end_to_end() {
  local data="$1" secs=6 i n=0 flags
  for i in cpu gpu gpu cpu; do
    n=$((n + 1))
    if [ "$i" = cpu ]; then flags=(--pipeline train --device cpu); else
      flags=(--pipeline train_u8 --device cuda --gpu-normalize)
    fi
    local log="$out/e2e-$n-$i.log" rc=0
    bounded 60 "$log" "${fenv[@]}" "$pack/bin/ferry-bench" --data "$data" --workers 16 --batch-size 128 --seconds "$secs" \
      --no-progress --json "$out/e2e-$n-$i.json" "${flags[@]}" || rc=$?
    if [ "$rc" != 0 ]; then
      fail_row "end to end ($i, run $n)" "ferry-bench exit $rc: $(tail -n 3 "$log" | tr '\n' ' ')"
      return
    fi
  done
  python3 - "$out" <<'EOF' >>"$out/e2e-table.md"
import json, statistics, sys, glob
out = sys.argv[1]
for kind, label in (("cpu", "train float32, host (CPU normalize)"), ("gpu", "train_u8 to the GPU, normalized there")):
    runs = [json.load(open(f)) for f in sorted(glob.glob(f"{out}/e2e-*-{kind}.json"))]
    ips = statistics.median(r["images_per_s"] for r in runs)
    ms = statistics.median(1000 * r["cpu_s"] / r["images"] for r in runs)
    print(f"| {label} | 16 | {ips:.0f} | {ms:.3f} |")
EOF
  row "end to end, 16 workers (2 alternating runs each)" "measured" "see the end-to-end table"
}

worker_sweep() {
  local data="$1" log="$out/sweep.log" rc=0
  bounded 120 "$log" "${fenv[@]}" "$pack/bin/ferry-bench" --data "$data" --pipeline train --batch-size 128 --seconds 4 \
    --sweep-workers 1,2,4,8,16 --no-progress --json "$out/sweep.json" || rc=$?
  if [ "$rc" != 0 ]; then
    fail_row "worker sweep 1..16 (train, CPU)" "ferry-bench exit $rc: $(tail -n 3 "$log" | tr '\n' ' ')"
    return
  fi
  python3 - "$out/sweep.json" <<'EOF' >>"$out/sweep-table.md"
import json, sys
runs = json.load(open(sys.argv[1]))["sweep"]
one = runs[0]["images_per_s"]
for r in runs:
    print(f"| {r['workers']} | {r['images_per_s']:.0f} | {r['images_per_s'] / one:.1f}x | "
          f"{1000 * r['cpu_s'] / r['images']:.3f} |")
EOF
  row "worker sweep 1, 2, 4, 8, 16 (train, CPU)" "measured" "see the sweep table (aim: 16 workers >= 12x one)"
}

find_torch_python() {
  local p
  for p in "${FERRY_PYTHON:-}" python3 python3.12 python; do
    [ -n "$p" ] && command -v "$p" >/dev/null && "$p" -c "import torch, torchvision" 2>/dev/null && {
      command -v "$p"
      return
    }
  done
  return 1
}

# wrapper NAME: OUT/NAME.sh runs the pack's NAME with the pack's library path,
# for programs started from Python (which itself keeps the system's libraries).
wrapper() {
  printf '#!/bin/sh\nLD_LIBRARY_PATH="%s${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "%s" "$@"\n' "$libpath" \
    "$pack/bin/$1" >"$out/$1.sh"
  chmod +x "$out/$1.sh"
  echo "$out/$1.sh"
}

compare_torch() {
  local data="$1" py="$2" log="$out/compare_pytorch.log" rc=0
  bounded 180 "$log" "$py" "$pack/tools/compare_pytorch.py" --data "$data" --workers 16 --device cuda --rounds 2 \
    --epochs 2 --batch-size 64 --ferry-bench "$(wrapper ferry-bench)" --json "$out/compare_pytorch.json" || rc=$?
  if [ "$rc" != 0 ]; then
    fail_row "compare_pytorch.py, 16 workers, to the GPU" "exit $rc: $(tail -n 3 "$log" | tr '\n' ' ')"
  else
    row "compare_pytorch.py, 16 workers, to the GPU" "measured" \
      "$(grep -E '^\| train ' "$log" | cut -d'|' -f3-5 | sed 's/|/,/g') (ferry, torch, ratio images/s)"
  fi
}

# The Python module, built here against this machine's Python (the pack's
# engine libraries are static), then device_checks.py through torch.
python_device_path() {
  local py="$1" mod="$out/module" log="$out/python-module-build.log"
  local inc pybind ext
  inc=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
  if [ ! -f "$inc/Python.h" ]; then
    skip_row "Python device path with torch" "no Python.h for $py here ($inc); the module cannot be built"
    return
  fi
  # pip's pybind11, the copy torch ships, or one installed beside Python's headers.
  local cand
  pybind=""
  for cand in "$("$py" -c 'import pybind11; print(pybind11.get_include())' 2>/dev/null)" \
    "$("$py" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "include"))' 2>/dev/null)" \
    "$(dirname "$inc")"; do
    if [ -n "$cand" ] && [ -f "$cand/pybind11/pybind11.h" ]; then
      pybind="$cand"
      break
    fi
  done
  if [ -z "$pybind" ]; then
    skip_row "Python device path with torch" "no pybind11 headers (pip's or torch's) for $py"
    return
  fi
  ext=$("$py" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
  local cuda_inc=()
  for d in "$(dirname "$(command -v nvcc 2>/dev/null || echo /usr/local/cuda/bin/nvcc)")/../include" \
    /usr/local/cuda/include; do [ -f "$d/cuda_runtime_api.h" ] && cuda_inc=(-isystem "$d") && break; done
  mkdir -p "$mod"
  local objs=() src rc=0 pids=() defs
  read -ra defs <"$pack/engine/defines.txt"
  local pybind_inc=(-isystem "$pybind")
  # A default include folder given again as -isystem breaks the C++ headers' #include_next.
  case "$pybind" in /usr/include | /usr/local/include) pybind_inc=() ;; esac
  for src in "$pack"/src/python/src/*.cpp; do
    objs+=("$mod/$(basename "$src" .cpp).o")
    c++ -std=c++20 -O2 -fPIC -fvisibility=hidden -DNDEBUG "${defs[@]}" -I"$pack/src" -isystem "$inc" \
      "${pybind_inc[@]}" "${cuda_inc[@]}" -c "$src" -o "${objs[-1]}" >"${objs[-1]}.log" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  local libs=()
  for l in "${PACK_STATIC[@]}"; do libs+=("$pack/engine/lib$l.a"); done
  if [ "$rc" = 0 ]; then
    c++ -shared -o "$mod/ferry$ext" "${objs[@]}" "${libs[@]}" "$pack"/lib/*.so* -ldl -lrt -lpthread \
      -Wl,-rpath,"$pack/lib" >>"$log" 2>&1 || rc=$?
  fi
  cat "$mod"/*.o.log >>"$log" 2>/dev/null || true
  if [ "$rc" != 0 ]; then
    fail_row "Python device path with torch" "building the module failed ($(c++ --version | head -n1); log: \
python-module-build.log)"
    return
  fi
  local clog="$out/device_checks.log" crc=0
  bounded 120 "$clog" env PYTHONPATH="$mod" FERRY_WORKER="$(wrapper ferry-worker)" "$py" \
    "$pack/tools/device_checks.py" --backend torch --data "$2" || crc=$?
  local summary
  summary=$(tail -n 1 "$clog")
  if [ "$crc" != 0 ]; then
    fail_row "Python device path with torch" "$summary; $(grep '^FAILED' "$clog" | tr '\n' ' ') (log: device_checks.log)"
  else
    row "Python device path with torch" "passed" "$summary"
  fi
}

make_data() {  # DIR IMAGES: an ImageFolder of generated JPEGs, 8 generators at once
  local dir="$1" images="$2" k rc=0 pids=()
  rm -rf "$dir" "$dir.parts"
  mkdir -p "$dir" "$dir.parts"
  for k in 0 1 2 3 4 5 6 7; do
    "${fenv[@]}" "$pack/bin/ferry-gen-sample" --out "$dir.parts/$k" --images $((images / 8)) --classes 8 --seed "$k" --quiet &
    pids+=($!)
  done
  for k in "${pids[@]}"; do wait "$k" || rc=1; done
  [ "$rc" = 0 ] || return 1
  for k in 0 1 2 3 4 5 6 7; do
    for c in "$dir.parts/$k"/*/; do mv "$c" "$dir/p$k-$(basename "$c")"; done
  done
  rm -rf "$dir.parts"
}

run() {
  pack="$(cd "$1" && pwd)"
  out="${2:-$pack/results}"
  mkdir -p "$out"
  out="$(cd "$out" && pwd)"
  rm -f "$out"/*.log "$out"/*.json "$out"/*-table.md
  local start budget
  start=$(date +%s)
  budget="${FERRY_GPU_CHECK_BUDGET:-420}"
  deadline=$((start + budget))
  [ -f "$pack/MANIFEST.txt" ] || die "$pack is not a gpu-check pack (no MANIFEST.txt); make one with --pack"

  # The machine's C++ runtime if it is new enough for the build, else the pack's.
  libpath="$pack/lib"
  if ! env LD_LIBRARY_PATH="$libpath" "$pack/bin/ferry-gen-sample" --help >/dev/null 2>"$out/libcheck.log"; then
    libpath="$pack/lib:$pack/compat"
    env LD_LIBRARY_PATH="$libpath" "$pack/bin/ferry-gen-sample" --help >/dev/null 2>>"$out/libcheck.log" ||
      die "the packed binaries do not start here: $(tail -n 2 "$out/libcheck.log") (pack needs $(grep '^needs' \
"$pack/MANIFEST.txt"); this machine has $(ldd --version | head -n1))"
  fi

  fenv=(env LD_LIBRARY_PATH="$libpath${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" FERRY_BIN_DIR="$pack/bin")

  # What ran where (read-only queries).
  local gpus="" smi="" mode="" status status_rc=0
  if command -v nvidia-smi >/dev/null; then
    gpus=$(timeout 20 nvidia-smi -L 2>&1 | grep -E '^GPU [0-9]+' || true)
    smi=$(timeout 20 nvidia-smi 2>&1 | grep -m1 -E 'Driver Version' | tr -s ' |' ' ' || true)
    mode=$(timeout 20 nvidia-smi --query-gpu=name,compute_mode,mig.mode.current --format=csv,noheader 2>&1 || true)
  fi
  status=$("${fenv[@]}" "$pack/bin/ferry-cuda-bench" --status 2>&1) || status_rc=$?
  {
    echo "date:         $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "machine:      $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), \
$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME"), $(ldd --version | head -n1 | grep -oE '[0-9.]+$' | sed 's/^/glibc /')"
    echo "nvidia-smi:   ${smi:-none}"
    echo "GPUs:         ${gpus:-none listed}"
    echo "compute mode, MIG: ${mode:-unknown}"
    echo "ferry:        $status"
    echo "pack:         $(grep -E '^(commit|built|cuda):' "$pack/MANIFEST.txt" | tr -s ' ' | tr '\n' ';')"
    echo "libraries:    LD_LIBRARY_PATH=$libpath for ferry's binaries"
  } >"$out/machine.txt"
  cat "$out/machine.txt"

  # The CPU side first: it runs everywhere, GPU or not.
  run_gtest "host reference of the kernels" 60 any cuda_reference_test --gtest_brief=1
  run_gtest "loader options (refusals skip with a GPU)" 60 any loader_cuda_test --gtest_brief=1
  run_gtest "pool, copier, IPC on the CPU stand-in runtime" 120 strict cuda_fake_runtime_test --gtest_brief=1
  run_gtest "loader device path on the CPU stand-in runtime" 120 strict loader_cuda_fake_runtime_test --gtest_brief=1

  if [ "$status_rc" != 0 ]; then
    if [ -n "$gpus" ]; then
      fail_row "GPU usable by ferry" "nvidia-smi lists a GPU, but ferry cannot use it: $status"
    elif [ "$status_rc" = 2 ]; then
      row "GPU" "none" "$status"
    else
      fail_row "GPU probe" "ferry-cuda-bench --status exited $status_rc: $status"
    fi
    write_table "$start"
    if [ "$failed" = 0 ]; then say "no GPU: skipped (the CPU-side tests passed; nothing else can run here)"; fi
    exit "$failed"
  fi

  # Exclusive-process mode allows one process per GPU: the two-process IPC
  # tests cannot run (and would fail obscurely), so they are left out and the
  # table says so.
  local ipc_filter=()
  if echo "$mode" | grep -qi 'exclusive_process'; then
    ipc_filter=(--gtest_filter=-IpcTwoProcesses.*)
    skip_row "CUDA IPC between two processes" "the GPU is in Exclusive_Process compute mode (one process per GPU); \
run where it is Default (nvidia-smi -c 0, as root)"
  fi
  run_gtest "GPU: H2D, pool, copier, CUDA IPC (cuda_test)" 180 strict cuda_test "${ipc_filter[@]}"
  run_gtest "GPU: conversion kernels vs host reference (own process)" 60 strict cuda_kernel_test
  run_gtest "GPU: loader device path (loader_cuda_gpu_test)" 180 strict loader_cuda_gpu_test

  local hlog="$out/h2d.log" rc=0
  bounded 90 "$hlog" "${fenv[@]}" "$pack/bin/ferry-cuda-bench" || rc=$?
  if [ "$rc" = 0 ]; then
    row "H2D: H2DCopier vs plain pinned cudaMemcpyAsync" "measured" "see the H2D table (aim: >= 90% from 8 MiB)"
  else
    fail_row "H2D: H2DCopier vs plain pinned cudaMemcpyAsync" "ferry-cuda-bench exit $rc: $(tail -n 3 "$hlog" |
      tr '\n' ' ')"
  fi

  say "sample data ($(left) s left)"
  local data="$out/data/train"
  if ! make_data "$data" 4096 >"$out/data.log" 2>&1; then
    fail_row "sample data" "ferry-gen-sample failed: $(tail -n 3 "$out/data.log" | tr '\n' ' ')"
    write_table "$start"
    exit 1
  fi
  end_to_end "$data"
  worker_sweep "$data"
  local py
  if py=$(find_torch_python); then
    compare_torch "$data" "$py"
    python_device_path "$py" "$data"
  else
    skip_row "compare_pytorch.py, 16 workers, to the GPU" "no python with torch and torchvision here (set FERRY_PYTHON)"
    skip_row "Python device path with torch" "no python with torch here (set FERRY_PYTHON)"
  fi
  write_table "$start"
  if [ "$failed" != 0 ]; then exit 1; fi
  if [ "$incomplete" != 0 ]; then exit 3; fi
}

write_table() {
  local start="$1" t="$out/results.md"
  {
    echo "## GPU check, $(date -u +%Y-%m-%d)"
    echo
    echo '```'
    cat "$out/machine.txt"
    echo "duration:     $(($(date +%s) - start)) s"
    echo '```'
    echo
    echo "| check | result | details |"
    echo "|---|---|---|"
    printf '%s\n' "${ROWS[@]}"
    if [ -s "$out/h2d.log" ] && grep -q '^|' "$out/h2d.log"; then
      echo
      grep -E '^(##|\|)' "$out/h2d.log" | sed 's/^## /### /'
    fi
    if [ -s "$out/e2e-table.md" ]; then
      echo
      echo "### End to end (ferry-bench, 16 workers, batch 128, medians of 2 alternating 6 s runs)"
      echo
      echo "| pipeline | workers | images/s | CPU ms per image |"
      echo "|---|---:|---:|---:|"
      cat "$out/e2e-table.md"
    fi
    if [ -s "$out/sweep-table.md" ]; then
      echo
      echo "### Worker sweep (ferry-bench, train, CPU, batch 128, 4 s each)"
      echo
      echo "| workers | images/s | vs 1 worker | CPU ms per image |"
      echo "|---:|---:|---:|---:|"
      cat "$out/sweep-table.md"
    fi
    if [ -s "$out/compare_pytorch.log" ] && grep -q '^| pipeline' "$out/compare_pytorch.log"; then
      echo
      echo "### ferry vs torch DataLoader (pin_memory=True, .to('cuda', non_blocking=True)), to the GPU"
      echo
      grep -E '^[0-9]+ alternating|^\|' "$out/compare_pytorch.log"
    fi
  } >"$t"
  echo
  cat "$t"
  say "table: $t; raw logs beside it (took $(($(date +%s) - start)) s)"
}

case "${1:-}" in
  --pack)
    [ $# -ge 2 ] || die "usage: tools/gpu-check.sh --pack DIR [BUILD_DIR]"
    pack "$2" "${3:-build-gpu}"
    ;;
  --run)
    [ $# -ge 2 ] || die "usage: tools/gpu-check.sh --run DIR [OUT]"
    run "$2" "${3:-}"
    ;;
  -h | --help)
    sed -n '2,27p' "$0"
    ;;
  *)
    build="${1:-build-gpu}"
    pack "$build/pack" "$build"
    run "$build/pack"
    ;;
esac
