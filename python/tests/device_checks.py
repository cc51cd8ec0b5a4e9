#!/usr/bin/env python3
"""The Python device path, checked from Python: DataLoader(device="cuda") and
pin_memory=True, DLPack on the GPU with the producer's stream honoured, and
device buffers that live as long as their last consumer.

    python3 device_checks.py --backend fake --data DIR    # the module built on the
        # CPU stand-in CUDA runtime (python/module-fake-cuda; test_device_fake_cuda.py)
    python3 device_checks.py --backend torch --data DIR   # a real GPU, through torch
        # (tools/gpu-check.sh --run)

DIR is an ImageFolder (ferry-gen-sample). Prints one line per check and
"N passed, M failed"; exits 1 when a check failed.

The fake backend reads device memory through the stand-in runtime's own entry
points (exported by that module) with ctypes; run it with
FERRY_FAKE_H2D_DELAY_US=20000, so that a read which does not wait for the
batch's copy finds other bytes (the `control` check shows it does).
"""
import argparse
import ctypes
import gc
import sys
import traceback

import ferry

BATCH = 4


def host_images(data, **kw):
    """The image field of every batch of one epoch, as bytes, from host batches."""
    ds = ferry.ImageFolder(data, pipeline="val_u8", size=32)
    loader = ferry.DataLoader(ds, batch_size=BATCH, num_workers=2, shuffle=True, seed=5, **kw)
    return [ctypes.string_at(b["image"].data_ptr, b["image"].nbytes) for b in loader]


def device_loader(data, **kw):
    ds = ferry.ImageFolder(data, pipeline="val_u8", size=32)
    return ferry.DataLoader(ds, batch_size=BATCH, num_workers=2, shuffle=True, seed=5, device="cuda",
                            pin_memory=True, **kw)


# --------------------------------------------------------------------------
# Backends: how to make a stream, read a device field on it, hold a field.
# --------------------------------------------------------------------------
class _DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32),
                ("ndim", ctypes.c_int32), ("code", ctypes.c_uint8), ("bits", ctypes.c_uint8),
                ("lanes", ctypes.c_uint16), ("shape", ctypes.c_void_p), ("strides", ctypes.c_void_p),
                ("byte_offset", ctypes.c_uint64)]


class _PointerAttributes(ctypes.Structure):  # cudaPointerAttributes (CUDA 13, driver_types.h)
    _fields_ = [("type", ctypes.c_int), ("device", ctypes.c_int), ("device_pointer", ctypes.c_void_p),
                ("host_pointer", ctypes.c_void_p), ("reserved", ctypes.c_long * 8)]


ctypes.pythonapi.PyCapsule_GetPointer.restype = ctypes.c_void_p
ctypes.pythonapi.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]


class FakeBackend:
    """The stand-in runtime linked into the module, driven through ctypes."""
    name = "fake"
    races_are_visible = True  # copies take FERRY_FAKE_H2D_DELAY_US

    def __init__(self):
        self.rt = ctypes.CDLL(ferry.__file__)
        for fn in ("cudaStreamCreateWithFlags", "cudaMemcpyAsync", "cudaStreamSynchronize",
                   "cudaPointerGetAttributes"):
            getattr(self.rt, fn).restype = ctypes.c_int
        self.rt.cudaMemcpyAsync.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int,
                                            ctypes.c_void_p]
        self.rt.cudaStreamSynchronize.argtypes = [ctypes.c_void_p]
        self.rt.cudaPointerGetAttributes.argtypes = [ctypes.POINTER(_PointerAttributes), ctypes.c_void_p]

    def stream(self):
        s = ctypes.c_void_p()
        assert self.rt.cudaStreamCreateWithFlags(ctypes.byref(s), 1) == 0  # cudaStreamNonBlocking
        return s.value

    def _read(self, field, stream):
        capsule = field.__dlpack__(stream=stream)
        dl = _DLTensor.from_address(ctypes.pythonapi.PyCapsule_GetPointer(capsule, b"dltensor"))
        assert (dl.device_type, dl.device_id) == (2, 0), (dl.device_type, dl.device_id)
        out = ctypes.create_string_buffer(field.nbytes)
        s = self.stream() if stream in (None, -1) else stream
        assert self.rt.cudaMemcpyAsync(out, dl.data, field.nbytes, 2, s) == 0  # device to host
        assert self.rt.cudaStreamSynchronize(s) == 0
        return out.raw

    def read(self, field):
        """The field's bytes, read on a stream of ours that __dlpack__ made wait."""
        return self._read(field, self.stream())

    def read_without_waiting(self, field):
        return self._read(field, -1)

    def hold(self, field):
        return field.__dlpack__(stream=self.stream())  # an unconsumed capsule keeps the batch

    def read_held(self, held, field_nbytes):
        dl = _DLTensor.from_address(ctypes.pythonapi.PyCapsule_GetPointer(held, b"dltensor"))
        out = ctypes.create_string_buffer(field_nbytes)
        s = self.stream()
        assert self.rt.cudaMemcpyAsync(out, dl.data, field_nbytes, 2, s) == 0
        assert self.rt.cudaStreamSynchronize(s) == 0
        return out.raw

    def is_page_locked(self, field):
        attrs = _PointerAttributes()
        assert self.rt.cudaPointerGetAttributes(ctypes.byref(attrs), field.data_ptr) == 0
        return attrs.type == 1  # cudaMemoryTypeHost


class TorchBackend:
    """A real GPU through torch: torch.from_dlpack passes its current stream."""
    name = "torch"
    races_are_visible = False

    def __init__(self):
        import torch
        self.torch = torch
        if not torch.cuda.is_available():
            raise SystemExit("device_checks: --backend torch needs a GPU torch can use")

    def stream(self):
        return self.torch.cuda.Stream()

    def read(self, field):
        s = self.stream()
        with self.torch.cuda.stream(s):
            x = self.torch.from_dlpack(field)  # calls field.__dlpack__(stream=s.cuda_stream)
            out = bytes(x.cpu().flatten().tolist())
        return out

    def hold(self, field):
        return self.torch.from_dlpack(field)

    def read_held(self, held, field_nbytes):
        return bytes(held.cpu().flatten().tolist())

    def is_page_locked(self, field):
        return self.torch.from_dlpack(field).is_pinned()


# --------------------------------------------------------------------------
# The checks.
# --------------------------------------------------------------------------
def check_fields_live_on_the_gpu_with_the_host_bytes(be, data):
    want = host_images(data)
    loader = device_loader(data)
    got = []
    for b in loader:
        image = b["image"]
        assert image.device == "cuda:0" and image.__dlpack_device__() == (2, 0), image.device
        assert b["label"].__dlpack_device__() == (2, 0)
        got.append(be.read(image))
    assert len(got) == len(want), (len(got), len(want))
    bad = [i for i in range(len(want)) if got[i] != want[i]]
    assert not bad, f"batches {bad} differ from the host batches"
    assert "copies on a dedicated stream" in loader.describe(), loader.describe()


def check_control_a_read_that_does_not_wait_sees_other_bytes(be, data):
    if not be.races_are_visible:
        return "skipped: a real GPU's timing decides this race"
    want = host_images(data)
    wrong = sum(be.read_without_waiting(b["image"]) != want[i] for i, b in enumerate(device_loader(data)))
    assert wrong > 0, "reads that skip the wait all found the right bytes: the check above could not fail"


def check_a_kept_field_stays_intact_past_later_batches(be, data):
    loader = device_loader(data, persistent_workers=True)
    it = iter(loader)
    first = next(it)
    nbytes = first["image"].nbytes
    ptr = first["image"].data_ptr
    held = be.hold(first["image"])
    snapshot = be.read(first["image"])
    del first
    gc.collect()
    for _ in range(2):
        for b in it:
            assert b["image"].data_ptr != ptr, "a held device buffer was handed out again"
            be.read(b["image"])
        it = iter(loader)
    assert be.read_held(held, nbytes) == snapshot, "a held field changed under its holder"


def check_the_buffer_returns_only_when_its_last_consumer_is_gone(be, data):
    loader = device_loader(data, persistent_workers=True)
    it = iter(loader)
    first = next(it)
    ptr = first["image"].data_ptr
    held = be.hold(first["image"])
    del first  # the dict and its Tensors are gone; only `held` keeps the buffer
    gc.collect()
    seen = [b["image"].data_ptr for b in it]
    assert ptr not in seen, "reused while a consumer still held it"
    del held
    gc.collect()
    seen = [b["image"].data_ptr for _ in range(2) for b in loader]
    assert ptr in seen, "never reused after its last consumer let go"


def check_pin_memory_alone_gives_page_locked_host_fields(be, data):
    ds = ferry.ImageFolder(data, pipeline="val_u8", size=32)
    loader = ferry.DataLoader(ds, batch_size=BATCH, num_workers=2, pin_memory=True)
    n = 0
    for b in loader:
        image = b["image"]
        assert image.__dlpack_device__() == (1, 0) and image.device == "cpu"
        assert image.page_locked and be.is_page_locked(image), "a pinned loader's field is not page-locked"
        n += 1
    assert n > 0 and loader.stats()["pageable_batches"] == 0
    assert "worker arenas page-locked" in loader.describe(), loader.describe()


def check_dlpack_streams_follow_the_protocol(be, data):
    b = next(iter(device_loader(data)))
    image = b["image"]
    for bad, err in ((0, ValueError), ("s", TypeError), (-7, ValueError)):
        try:
            image.__dlpack__(stream=bad)
        except err:
            pass
        else:
            raise AssertionError(f"__dlpack__(stream={bad!r}) was accepted")
    for ok in (None, 1, 2, -1):
        image.__dlpack__(stream=ok)
    try:
        image.__dlpack__(dl_device=(1, 0))
    except BufferError:
        pass
    else:
        raise AssertionError("a device field was exported as host memory")
    image.__dlpack__(dl_device=(2, 0), stream=1)


def check_side_stream_work_ends_before_its_buffer_is_reused(be, data):
    """torch only: a kernel queued on a side stream still reads the batch when
    the batch is dropped; the buffer must not be refilled before it is done."""
    if be.name != "torch":
        return "skipped: needs torch kernels (the C++ test H2DCopier.DroppedBatchIsReleasedAfter"\
               "EveryStreamItWaitedOn covers it on the stand-in)"
    torch = be.torch
    want = host_images(data)
    loader = device_loader(data, persistent_workers=True)
    it = iter(loader)
    b = next(it)
    side = torch.cuda.Stream()
    with torch.cuda.stream(side):
        x = torch.from_dlpack(b["image"])
        torch.cuda._sleep(200_000_000)  # about 0.1 s of GPU time before the read
        total = x.to(torch.int64).sum()
    del x, b
    gc.collect()
    for later in it:  # refill every free buffer meanwhile
        be.read(later["image"])
    side.synchronize()
    expected = sum(want[0])
    assert int(total) == expected, f"the side stream read {int(total)}, the batch sums to {expected}"


CHECKS = [v for k, v in sorted(globals().items()) if k.startswith("check_")]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--backend", choices=("fake", "torch"), required=True)
    p.add_argument("--data", required=True, help="an ImageFolder directory (ferry-gen-sample)")
    p.add_argument("-k", default="", help="run only checks whose name contains this")
    a = p.parse_args()
    be = FakeBackend() if a.backend == "fake" else TorchBackend()
    passed = failed = skipped = 0
    for check in CHECKS:
        name = check.__name__[len("check_"):]
        if a.k not in name:
            continue
        try:
            note = check(be, a.data)
        except Exception:
            failed += 1
            print(f"FAILED  {name}\n{traceback.format_exc()}", flush=True)
            continue
        if note:
            skipped += 1
            print(f"SKIPPED {name}: {note}", flush=True)
        else:
            passed += 1
            print(f"ok      {name}", flush=True)
        gc.collect()
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
