"""Iterable Python datasets (__iter__): each worker reads its own
iter(dataset), batches come round-robin over the workers as in torch's
DataLoader, with ferry's guarantees (exact respawn, resume, clean ends)."""
import os
import signal
import threading
import time

import numpy as np
import pytest

import ferry
import pydatasets
from conftest import assert_clean, assert_gone, census


def values(batches):
    return [v for b in batches for v in np.from_dlpack(b["v"]).tolist()]


@pytest.mark.parametrize("workers, method", [(0, "fork"), (1, "fork"), (3, "fork"), (2, "spawn")])
def test_a_sharded_dataset_yields_every_sample_once_round_robin_over_the_workers(workers, method):
    before = census()
    loader = ferry.DataLoader(pydatasets.Sharded(23), batch_size=4, num_workers=workers, start_method=method)
    for _ in range(2):
        batches = list(loader)
        assert sorted(values(batches)) == list(range(23))
        streams = max(workers, 1)
        # Batch k comes from worker k % W while every worker still has batches (as torch's DataLoader).
        per_worker = -(-23 // streams)
        for k, b in enumerate(batches[: streams * (per_worker // 4)]):
            assert {v % streams for v in np.from_dlpack(b["v"]).tolist()} == {k % streams}
        x = np.from_dlpack(batches[0]["x"])
        assert x.shape[1:] == (3,) and (x == np.from_dlpack(batches[0]["v"])[:, None]).all()
        assert batches[0]["name"] == [f"s{v}" for v in np.from_dlpack(batches[0]["v"]).tolist()]
    del loader, batches, b, x
    assert_clean(before)


def test_an_unsharded_dataset_repeats_in_every_worker_as_in_pytorch():
    loader = ferry.DataLoader(pydatasets.Unsharded(6), batch_size=3, num_workers=2)
    got = [np.from_dlpack(b).tolist() for b in loader]
    assert got == [[0, 1, 2], [0, 1, 2], [3, 4, 5], [3, 4, 5]]


def test_sample_rng_is_a_function_of_seed_epoch_stream_and_position():
    def draws(seed, epoch, workers=2):
        loader = ferry.DataLoader(pydatasets.Sharded(17), batch_size=4, num_workers=workers, seed=seed)
        loader.set_epoch(epoch)
        return [np.from_dlpack(b["r"]).tobytes() for b in loader]

    assert draws(1, 0) == draws(1, 0)
    assert draws(1, 0) != draws(2, 0) and draws(1, 0) != draws(1, 1)
    spawned = ferry.DataLoader(pydatasets.Sharded(17), batch_size=4, num_workers=2, seed=1, start_method="spawn")
    assert [np.from_dlpack(b["r"]).tobytes() for b in spawned] == draws(1, 0)


def test_drop_last_drops_each_workers_short_last_batch():
    loader = ferry.DataLoader(pydatasets.Sharded(23), batch_size=4, num_workers=2, drop_last=True)
    batches = list(loader)
    # Worker 0 has 12 values (3 full batches), worker 1 has 11 (2 full, 3 dropped).
    assert [len(b["name"]) for b in batches] == [4] * 5
    assert sorted(values(batches)) == sorted(list(range(0, 23, 2))[:12] + list(range(1, 23, 2))[:8])


def test_len_follows_the_datasets_len_and_is_a_type_error_without_one():
    assert len(ferry.DataLoader(pydatasets.Sharded(23, length=True), batch_size=4)) == 6
    loader = ferry.DataLoader(pydatasets.Sharded(23), batch_size=4)
    with pytest.raises(TypeError, match="iterable dataset.*Sharded.*without __len__"):
        len(loader)
    assert len(values(loader)) == 23


def test_shuffle_ranks_and_iterators_are_refused_naming_why():
    with pytest.raises(ferry.InvalidOption, match="iterable dataset.*shuffle"):
        iter(ferry.DataLoader(pydatasets.Sharded(), batch_size=4, shuffle=True))
    with pytest.raises(ferry.InvalidOption, match="iterable dataset.*sampler"):
        iter(ferry.DataLoader(pydatasets.Sharded(), batch_size=4, rank=0, world_size=2))
    with pytest.raises(ferry.InvalidOption, match="iterator, which can be read only once"):
        ferry.DataLoader((np.zeros(2) for _ in range(3)), batch_size=2)
    with pytest.raises(ferry.InvalidOption, match="yielded 0 samples.*schema="):
        ferry.DataLoader(pydatasets.Sharded(0), batch_size=2)
    assert ferry.infer_schema(pydatasets.Sharded(5))["v"] == ferry.Field("int64")


@pytest.mark.parametrize("workers", [0, 2])
def test_an_exception_in_iter_arrives_with_its_traceback_and_the_next_epoch_runs(workers):
    before = census()
    loader = ferry.DataLoader(pydatasets.Sharded(20, fail_at=9), batch_size=4, num_workers=workers)
    with pytest.raises(ferry.SampleFailed) as info:
        list(loader)
    text = str(info.value)
    assert "KeyError" in text and "value 9 is broken on purpose" in text and "broken_helper" in text
    assert "stream" in text
    with pytest.raises(ferry.SampleFailed, match="value 9"):
        list(loader)
    with pytest.raises(ferry.SampleFailed, match="OSError: the shard list is unreachable"):
        list(ferry.DataLoader(pydatasets.FailsToStart(), batch_size=2, num_workers=workers,
                              schema={"a": ferry.Field("int64")}))
    del loader, info
    assert_clean(before)


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_respawned_worker_reopens_its_stream_and_the_epoch_stays_exact(tmp_path, method):
    marker = tmp_path / "killed"

    def epoch(**extra):
        loader = ferry.DataLoader(pydatasets.Sharded(30, kill_at=13, marker=str(marker)), batch_size=4,
                                  num_workers=3, seed=2, start_method=method, **extra)
        return loader, [(np.from_dlpack(b["v"]).tobytes(), np.from_dlpack(b["r"]).tobytes()) for b in loader]

    open(marker, "w").close()  # the reference run kills nobody
    _, want = epoch()
    marker.unlink()
    loader, got = epoch(on_worker_failure="respawn")
    assert marker.exists() and loader.stats()["worker_respawns"] == 1
    assert got == want


def test_state_dict_resumes_mid_epoch_exactly():
    def loader():
        return ferry.DataLoader(pydatasets.Sharded(41), batch_size=4, num_workers=2, seed=8)

    want = [np.from_dlpack(b["r"]).tobytes() for b in loader()]
    partial = loader()
    it = iter(partial)
    for _ in range(3):
        next(it)
    state = partial.state_dict()
    fresh = loader()
    fresh.load_state_dict(state)
    assert [np.from_dlpack(b["r"]).tobytes() for b in fresh] == want[3:]
    other = ferry.DataLoader(pydatasets.Sharded(41), batch_size=4, num_workers=3, seed=8)
    with pytest.raises(ferry.InvalidOption, match="same num_workers"):
        other.load_state_dict(state)
        next(iter(other))


def test_batch_size_none_yields_single_samples():
    samples = list(ferry.DataLoader(pydatasets.Sharded(5), batch_size=None, num_workers=2))
    assert [int(np.from_dlpack(s["v"])) for s in samples] == [0, 1, 2, 3, 4]  # worker 0, 1, 0, 1, 0
    assert samples[1]["name"] == "s1" and samples[1]["x"].shape == (3,)


def test_in_order_false_still_yields_every_sample_once():
    loader = ferry.DataLoader(pydatasets.Sharded(37), batch_size=4, num_workers=3, in_order=False)
    for _ in range(2):
        assert sorted(values(loader)) == list(range(37))


def test_a_stuck_worker_is_a_timeout_and_sigint_while_waiting_stops_the_workers(tmp_path):
    fifo = tmp_path / "never-written"
    os.mkfifo(fifo)
    schema = ferry.Field("int64")
    before = census()
    loader = ferry.DataLoader(pydatasets.BlocksAfter(fifo), batch_size=2, num_workers=2, timeout=1.0, schema=schema)
    t0 = time.monotonic()
    with pytest.raises(ferry.Timeout):
        list(loader)
    assert time.monotonic() - t0 < 30
    del loader
    assert_clean(before)

    loader = ferry.DataLoader(pydatasets.BlocksAfter(fifo), batch_size=2, num_workers=2, schema=schema)
    it = iter(loader)
    assert np.from_dlpack(next(it)).tolist() == [0, 1]  # worker 0's first batch; worker 1 is stuck
    pids = loader.worker_pids()
    timer = threading.Timer(0.3, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        for _ in it:
            pass
    timer.join()
    assert loader.worker_pids() == []
    assert_gone(pids)
