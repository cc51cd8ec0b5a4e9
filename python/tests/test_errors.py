"""Engine errors arrive as ferry.* exceptions with the engine's message."""
import os
import signal
import threading
import time

import numpy as np
import pytest

import ferry

from conftest import DATASET_KINDS, assert_gone, list_loader


def corrupt(path):
    data = bytearray(open(path, "rb").read())
    data[2:] = b"\x00not a jpeg any more" * 8
    open(path, "wb").write(bytes(data))


@pytest.mark.parametrize("workers", [0, 2])
def test_a_corrupt_jpeg_is_sample_failed_naming_its_path(fresh_image_folder, workers):
    ds = ferry.ImageFolder(str(fresh_image_folder), pipeline="val", size=16)
    bad = 5
    corrupt(ds.path(bad))
    loader = ferry.DataLoader(ds, batch_size=4, num_workers=workers, on_bad_sample="error")
    with pytest.raises(ferry.SampleFailed) as info:
        for _ in loader:
            pass
    err = info.value
    assert isinstance(err, ferry.Error) and isinstance(err, RuntimeError)
    assert ds.path(bad) in str(err)
    assert err.sample_index == bad
    assert err.worker_id == (-1 if workers == 0 else err.worker_id) and err.worker_id < max(workers, 1)
    # The next epoch runs again (and fails at the same sample).
    with pytest.raises(ferry.SampleFailed):
        for _ in loader:
            pass


def test_skip_and_substitute_policies_count_bad_samples(fresh_image_folder):
    ds = ferry.ImageFolder(str(fresh_image_folder), pipeline="val_u8", size=16)
    corrupt(ds.path(3))
    skip = ferry.DataLoader(ds, batch_size=4, num_workers=2, on_bad_sample="skip")
    assert sum(b["label"].shape[0] for b in skip) == len(ds)
    assert skip.stats()["skipped_samples"] == 1
    sub = ferry.DataLoader(ds, batch_size=4, on_bad_sample="substitute")
    first = next(iter(sub))
    assert not np.from_dlpack(first["image"])[3].any()
    assert sub.stats()["substituted_samples"] == 1


def test_a_missing_file_fails_the_batch_with_its_path(image_folder, tmp_path):
    # A file list is not checked until read, and spawned workers rebuild the
    # same list, so every worker sees the missing file.
    ds = ferry.ImageFolder(str(image_folder), pipeline="val", size=16)
    missing = tmp_path / "gone.jpg"
    lst = tmp_path / "list.csv"
    lst.write_text("".join(f"{missing if i == 2 else ds.path(i)},0\n" for i in range(8)))
    for workers in (0, 1):
        loader = ferry.DataLoader(ferry.open_dataset(str(lst), pipeline="val", size=16), batch_size=4,
                                  num_workers=workers, on_bad_sample="skip")
        with pytest.raises(ferry.SampleFailed, match=str(missing)) as info:
            for _ in loader:
                pass
        assert info.value.sample_index == 2


def fifo_list(tmp_path, image_folder, block_at=2, total=8):
    """A file list whose sample `block_at` is a FIFO: reading it blocks until
    someone opens the FIFO for writing (a sample as slow as we like)."""
    ds = ferry.ImageFolder(str(image_folder), pipeline="val", size=16)
    fifo = tmp_path / "slow.jpg"
    os.mkfifo(fifo)
    lines = [f"{fifo if i == block_at else ds.path(i)},0\n" for i in range(total)]
    lst = tmp_path / "list.csv"
    lst.write_text("".join(lines))
    return lst, fifo


@pytest.mark.parametrize("kind", DATASET_KINDS)
def test_a_stuck_worker_is_a_timeout(tmp_path, image_folder, kind):
    lst, _ = fifo_list(tmp_path, image_folder)
    loader = list_loader(kind, lst, batch_size=2, num_workers=1, timeout=0.5)
    it = iter(loader)
    next(it)
    pids = loader.worker_pids()
    t0 = time.monotonic()
    with pytest.raises(ferry.Timeout) as info:
        next(it)
    assert isinstance(info.value, TimeoutError) and isinstance(info.value, RuntimeError)
    assert time.monotonic() - t0 < 10
    assert loader.worker_pids() == []
    assert_gone(pids)


@pytest.mark.parametrize("kind", DATASET_KINDS)
def test_a_killed_worker_is_worker_crashed_with_pid_and_signal(tmp_path, image_folder, kind):
    lst, _ = fifo_list(tmp_path, image_folder)
    loader = list_loader(kind, lst, batch_size=2, num_workers=1)
    it = iter(loader)
    next(it)
    pid = loader.worker_pids()[0]
    threading.Timer(0.2, os.kill, (pid, signal.SIGKILL)).start()
    with pytest.raises(ferry.WorkerCrashed) as info:
        next(it)
    assert info.value.pid == pid and info.value.signal == signal.SIGKILL and isinstance(info.value, RuntimeError)
    assert str(pid) in str(info.value) and "SIGKILL" in str(info.value)
    assert loader.worker_pids() == []
    assert_gone([pid])
