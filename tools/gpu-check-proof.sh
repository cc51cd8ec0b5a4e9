#!/usr/bin/env bash
# Shows that a gpu-check pack is self-contained, on the machine that built it:
# runs `gpu-check.sh --run` from a copy of the pack, in a private mount
# namespace where the build's shared libraries (every library the pack carries
# in lib/, e.g. oneTBB and libjpeg-turbo, hidden behind /dev/null), the CUDA
# toolkit and the build folders are hidden, with a clean environment. First it
# checks that the hiding works (a packed binary without the pack's library path
# must not start); then the run must reach "no GPU: skipped" with every
# CPU-side test passing (on a machine with a GPU: the whole table).
#
#   tools/gpu-check-proof.sh PACK        (as root: it mounts; nothing outside
#                                         the namespace changes)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
pack="$(cd "${1:?usage: tools/gpu-check-proof.sh PACK}" && pwd)"
say() { echo "== gpu-check-proof: $*"; }
[ -f "$pack/MANIFEST.txt" ] || { say "FAILED: $pack is not a pack (tools/gpu-check.sh --pack $1)"; exit 1; }

copy="$(mktemp -d /tmp/ferry-gpu-pack-proof.XXXXXX)"
trap 'rm -rf "$copy"' EXIT
cp -a "$pack/." "$copy/"

# What to hide: each packed library wherever the system has it, the toolkit,
# the build folders (their rpaths and the compiled-in ferry-worker path).
hide_files=()
for lib in "$copy"/lib/*; do
  name="$(basename "$lib")"
  while read -r path; do hide_files+=("$(readlink -f "$path")"); done < <(
    { ldconfig -p | awk -v n="$name" '$1 == n {print $NF}'; ls /usr/lib/x86_64-linux-gnu/"$name"* 2>/dev/null; } | sort -u)
done
hide_dirs=()
for d in /usr/local/cuda /usr/local/cuda-* "$repo"/build*; do
  [ -d "$d" ] && hide_dirs+=("$(readlink -f "$d")")
done
mapfile -t hide_files < <(printf '%s\n' "${hide_files[@]}" | sort -u)
mapfile -t hide_dirs < <(printf '%s\n' "${hide_dirs[@]}" | sort -u)
say "hiding ${#hide_files[@]} library files and ${#hide_dirs[@]} folders: ${hide_files[*]} ${hide_dirs[*]}"

log="$copy.log"
set +e
unshare --mount --propagation private bash -s "$copy" "${#hide_files[@]}" "${hide_files[@]}" "${hide_dirs[@]}" \
  <<'EOF' 2>&1 | tee "$log"
set -euo pipefail
copy="$1"; nfiles="$2"; shift 2
files=("${@:1:$nfiles}"); dirs=("${@:$((nfiles + 1))}")
for f in "${files[@]}"; do mount --bind /dev/null "$f"; done
for d in "${dirs[@]}"; do mount -t tmpfs -o size=1m,mode=0755 ferry-hidden "$d"; done
if env -i PATH=/usr/bin:/bin "$copy/bin/ferry-gen-sample" --help >/dev/null 2>&1; then
  echo "== gpu-check-proof: FAILED: a packed binary starts without the pack's libraries; nothing is hidden"
  exit 1
fi
echo "== gpu-check-proof: hidden: without the pack's lib/ the binaries do not start ($(env -i PATH=/usr/bin:/bin \
"$copy/bin/ferry-gen-sample" --help 2>&1 | head -n1))"
exec env -i PATH=/usr/bin:/bin HOME=/tmp LANG=C.UTF-8 bash "$copy/tools/gpu-check.sh" --run "$copy" "$copy/results"
EOF
rc=${PIPESTATUS[0]}
set -e
cp "$copy/results/results.md" "$pack/proof-results.md" 2>/dev/null || true
size=$(grep '^size:' "$pack/MANIFEST.txt" | awk '{print $2}')
if [ "$rc" != 0 ]; then
  say "FAILED: gpu-check --run exited $rc in the hidden environment (log: $log)"
  exit 1
fi
if ! grep -q "no GPU: skipped" "$log" && ! grep -q "^| GPU: " "$copy/results/results.md"; then
  say "FAILED: the run neither reached the no-GPU point nor ran the GPU rows"
  exit 1
fi
if grep -q "FAILED" "$copy/results/results.md"; then
  say "FAILED: a row failed (see $pack/proof-results.md)"
  exit 1
fi
rm -f "$log"
say "the pack is self-contained: $size bytes; the run passed with the build's libraries hidden (table: $pack/proof-results.md)"
