"""Fixtures for the ferry Python tests.

ctest sets PYTHONPATH to the built module and names the helper executables
(FERRY_GEN_SAMPLE, FERRY_DUMP_BATCHES). Run by hand:

    PYTHONPATH=build-py/python/module FERRY_GEN_SAMPLE=build-py/bin/ferry-gen-sample \
    FERRY_DUMP_BATCHES=build-py/bin/ferry-py-dump-batches /usr/bin/python3 -m pytest python/tests
"""
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]

try:
    import ferry  # noqa: F401
except ImportError:  # a build tree next to the sources
    for cand in ("build-py/module", "build/python/module"):
        if (REPO / cand).is_dir():
            sys.path.insert(0, str(REPO / cand))
            break


def _tool(env, name):
    path = os.environ.get(env)
    if path and os.access(path, os.X_OK):
        return path
    for cand in (f"build-py/bin/{name}", f"build/bin/{name}"):
        if os.access(REPO / cand, os.X_OK):
            return str(REPO / cand)
    return None


@pytest.fixture(scope="session")
def dump_batches_tool():
    tool = _tool("FERRY_DUMP_BATCHES", "ferry-py-dump-batches")
    if not tool:
        pytest.skip("ferry-py-dump-batches not built")
    return tool


def _write_jpegs_with_pillow(root, images, classes):
    from PIL import Image
    import random

    rng = random.Random(7)
    for i in range(images):
        d = root / f"class{i % classes:02d}"
        d.mkdir(parents=True, exist_ok=True)
        w, h = rng.randint(40, 160), rng.randint(40, 160)
        img = Image.new("RGB", (w, h), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
        for _ in range(6):
            x0, y0 = rng.randrange(w), rng.randrange(h)
            img.paste((rng.randrange(256), rng.randrange(256), rng.randrange(256)),
                      (x0, y0, min(w, x0 + 20), min(h, y0 + 20)))
        img.save(d / f"img{i:04d}.jpg", quality=85)


def make_image_folder(root, images=40, classes=4):
    tool = _tool("FERRY_GEN_SAMPLE", "ferry-gen-sample")
    root.mkdir(parents=True, exist_ok=True)
    if tool:
        subprocess.run([tool, "--out", str(root), "--images", str(images), "--classes", str(classes),
                        "--quiet"], check=True)
    else:
        _write_jpegs_with_pillow(root, images, classes)
    return root


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory):
    """A small ImageFolder: 40 JPEGs in 4 classes."""
    return make_image_folder(tmp_path_factory.mktemp("images") / "train")


@pytest.fixture
def fresh_image_folder(tmp_path):
    """A copy of a small ImageFolder the test may damage."""
    return make_image_folder(tmp_path / "train", images=12, classes=2)


def assert_gone(pids):
    """Each pid has exited and been reaped (no process, no zombie)."""
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}"), f"worker {pid} is still there"



def _children():
    me = str(os.getpid())
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue
            if stat[stat.rindex(b")") + 2:].split()[1].decode() == me:
                out.append(int(name))
    return sorted(out)


def census():
    """What this process holds that a loader must give back."""
    with open("/proc/self/maps") as f:
        memfd = sum("/memfd:ferry" in line for line in f)
    return {"fds": len(os.listdir("/proc/self/fd")), "children": _children(),
            "shm": sorted(n for n in os.listdir("/dev/shm") if "ferry" in n), "memfd_mappings": memfd}


def assert_clean(before, seconds=5.0):
    """Waits (with a deadline) until the census is back to `before`."""
    import gc
    import time
    deadline = time.monotonic() + seconds
    while True:
        gc.collect()
        now = census()
        if now == before:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"left behind: before {before}, after {now}")
        time.sleep(0.05)


# Datasets over a CSV file list, for tests that run on ferry's own datasets
# and on Python ones alike: "cpp" is ferry.open_dataset, "python" a Python
# dataset that reads the same files and decodes them with the same pipeline.
DATASET_KINDS = ["cpp", "python"]


def list_loader(kind, lst, **options):
    import ferry
    if kind == "cpp":
        return ferry.DataLoader(ferry.open_dataset(str(lst), pipeline="val", size=16), **options)
    import pydatasets
    # A declared schema: inferring one would read sample 0, which may block.
    return ferry.DataLoader(pydatasets.Files(lst), schema=pydatasets.FILES_SCHEMA, transforms={"image": ("val", 16)},
                            **options)


def list_loader_source(kind, lst, options):
    """The same as Python source, for scripts run in a child interpreter."""
    if kind == "cpp":
        return f"ferry.DataLoader(ferry.open_dataset({str(lst)!r}, pipeline='val', size=16), {options})"
    return (f"ferry.DataLoader(pydatasets.Files({str(lst)!r}), schema=pydatasets.FILES_SCHEMA, "
            f"transforms={{'image': ('val', 16)}}, {options})")


def folder_loader(kind, root, pipeline="train", size=24, **options):
    """A loader over an ImageFolder: ferry.ImageFolder, or a Python dataset
    handing its files' bytes to the same native pipeline (same bytes)."""
    import ferry
    ds = ferry.ImageFolder(str(root), pipeline=pipeline, size=size)
    if kind == "cpp":
        return ferry.DataLoader(ds, **options)
    import pydatasets
    return ferry.DataLoader(pydatasets.Folder(ds), transforms={"image": (pipeline, size)}, **options)
