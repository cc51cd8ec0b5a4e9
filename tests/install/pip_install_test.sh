#!/usr/bin/env bash
# `pip install .` at the repository root: builds the module and ferry-worker
# through scikit-build-core (from .venv-build, made by scripts/setup) into a
# temporary target, then imports it with /usr/bin/python3 and runs a loader
# with spawned workers, which exec the ferry-worker the wheel carries.
# Usage: pip_install_test.sh SOURCE_DIR BUILD_DIR GEN_SAMPLE
# BUILD_DIR/pip-build keeps scikit-build-core's CMake tree between runs.
set -euo pipefail
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
gen_sample=$3
venv="$src/.venv-build"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import scikit_build_core" 2>/dev/null; then
  echo "pip_install_test: $venv with scikit-build-core is missing: run bash scripts/setup"
  exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ferry-pip-test-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}
if ! "$venv/bin/python" -m pip install --quiet --no-build-isolation --no-deps --target "$tmp/site" \
    --config-settings=build-dir="$build/pip-build" "$src" >"$tmp/pip.log" 2>&1; then
  tail -n 60 "$tmp/pip.log"
  exit 1
fi
"$gen_sample" --out "$tmp/data" --images 12 --classes 3 --quiet
PYTHONPATH="$tmp/site" /usr/bin/python3 - "$tmp/data" <<'PY'
import os, sys
import ferry
here = os.path.dirname(ferry.__file__)
worker = os.path.join(here, "ferry_bin", "ferry-worker")
assert os.access(worker, os.X_OK), f"the wheel lacks {worker}"
assert here.startswith(os.environ["PYTHONPATH"]), f"imported {ferry.__file__}, not the installed module"
loader = ferry.DataLoader(ferry.ImageFolder(sys.argv[1], pipeline="val"), batch_size=4, num_workers=2,
                          start_method="spawn")
images = sum(len(b["label"]) if hasattr(b["label"], "__len__") else b["label"].shape[0] for b in loader)
assert images == 12, images
print("pip_install_test: pip install . gives an importable ferry with ferry-worker (spawn ran 12 images)")
PY
