"""Batch fields are DLPack producers: zero copies, and memory that lives as
long as its last consumer."""
import ctypes
import gc
import os
import sys

import numpy as np
import pytest

import ferry

ctypes.pythonapi.PyCapsule_GetName.restype = ctypes.c_char_p
ctypes.pythonapi.PyCapsule_GetName.argtypes = [ctypes.py_object]


def _import_torch():
    try:
        import torch
        return torch
    except ImportError:
        pass
    venv = os.environ.get("FERRY_VENV") or os.path.join(os.path.dirname(__file__), "..", "..", ".venv")
    site = os.path.join(venv, "lib", f"python{sys.version_info[0]}.{sys.version_info[1]}", "site-packages")
    if os.path.isdir(os.path.join(site, "torch")):
        sys.path.append(site)
        try:
            import torch
            return torch
        except ImportError:
            return None
    return None


torch = _import_torch()
needs_torch = pytest.mark.skipif(torch is None, reason="torch not installed (bash scripts/setup --with-torch)")


@pytest.fixture
def loader(image_folder):
    ds = ferry.ImageFolder(str(image_folder), pipeline="val", size=32)
    return ferry.DataLoader(ds, batch_size=8, num_workers=2, prefetch_factor=2)


def test_numpy_view_is_the_batch_memory_itself(loader):
    batch = next(iter(loader))
    image = batch["image"]
    assert image.__dlpack_device__() == (1, 0)  # kDLCPU
    arr = np.from_dlpack(image)
    assert arr.__array_interface__["data"][0] == image.data_ptr
    assert arr.shape == image.shape and arr.dtype == np.float32
    label = np.from_dlpack(batch["label"])
    assert label.__array_interface__["data"][0] == batch["label"].data_ptr
    # Both fields lie in one slot: the label right after or before the image.
    lo = min(image.data_ptr, batch["label"].data_ptr)
    hi = max(image.data_ptr + image.nbytes, batch["label"].data_ptr + batch["label"].nbytes)
    assert hi - lo <= loader.slot_bytes
    assert np.shares_memory(arr, np.asarray(image))


def test_capsules_follow_the_protocol(loader):
    image = next(iter(loader))["image"]
    legacy = image.__dlpack__()
    assert ctypes.pythonapi.PyCapsule_GetName(legacy) == b"dltensor"
    versioned = image.__dlpack__(max_version=(1, 0))
    assert ctypes.pythonapi.PyCapsule_GetName(versioned) == b"dltensor_versioned"
    old = image.__dlpack__(max_version=(0, 8))
    assert ctypes.pythonapi.PyCapsule_GetName(old) == b"dltensor"
    del legacy, versioned, old  # never consumed: their destructors free the payload
    with pytest.raises(BufferError):
        image.__dlpack__(dl_device=(2, 0))
    with pytest.raises(BufferError):
        image.__dlpack__(copy=True)
    gc.collect()


def test_a_view_kept_past_later_batches_keeps_its_bytes(loader):
    it = iter(loader)
    first = np.from_dlpack(next(it)["image"])  # only the numpy view holds the slot now
    snapshot = first.copy()
    gc.collect()
    for batch in it:  # 4 more batches through 2 workers x 3 slots
        np.from_dlpack(batch["image"]).sum()
    assert np.array_equal(first, snapshot)
    # A second epoch reuses every free slot; the held one must not be among them.
    for batch in loader:
        pass
    assert np.array_equal(first, snapshot)


def test_slots_are_reused_once_every_consumer_let_go(image_folder):
    ds = ferry.ImageFolder(str(image_folder), pipeline="val", size=32)
    loader = ferry.DataLoader(ds, batch_size=4, num_workers=1, prefetch_factor=1)
    for batch in loader:  # each batch dropped before the next: the slots cycle
        np.from_dlpack(batch["image"]).sum()
    assert loader.stats()["one_off_segments"] == 0
    held = [np.from_dlpack(b["image"]) for b in loader]  # every batch held: slots run out
    assert loader.stats()["one_off_segments"] > 0
    assert len(held) == 10


def test_ragged_fields_expose_values_and_offsets(image_folder):
    ds = ferry.ImageFolder(str(image_folder), pipeline="raw")
    batch = next(iter(ferry.DataLoader(ds, batch_size=4)))
    raw = batch["bytes"]
    assert raw.values.dtype == "uint8" and raw.offsets.dtype == "int64"
    assert raw.offsets.shape == (5,) and len(raw) == 4
    offsets = np.from_dlpack(raw.offsets)
    assert offsets[0] == 0 and offsets[-1] == raw.values.shape[0]
    assert raw[-1].shape == (offsets[4] - offsets[3],)
    with pytest.raises(IndexError):
        raw[4]


@needs_torch
def test_torch_takes_fields_without_a_copy(loader):
    batch = next(iter(loader))
    x = torch.from_dlpack(batch["image"])
    y = torch.from_dlpack(batch["label"])
    assert x.data_ptr() == batch["image"].data_ptr and x.dtype == torch.float32
    assert tuple(x.shape) == batch["image"].shape
    assert y.dtype == torch.int64 and y.data_ptr() == batch["label"].data_ptr
    snapshot = x.clone()
    del batch
    for _ in iter(loader):  # next epoch through every free slot
        pass
    assert torch.equal(x, snapshot)
