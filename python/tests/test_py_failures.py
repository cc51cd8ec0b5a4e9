"""Python datasets when things go wrong: exceptions, killed and crashed
workers, respawn, start methods, and what is left behind (nothing)."""
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import ferry
import pydatasets
from conftest import assert_clean, assert_gone, census
from test_errors import fifo_list


@pytest.mark.parametrize("workers, method", [(0, "fork"), (2, "fork"), (2, "spawn")])
def test_an_exception_in_getitem_arrives_with_type_message_index_worker_and_traceback(workers, method):
    before = census()
    loader = ferry.DataLoader(pydatasets.Failing(bad=5), batch_size=4, num_workers=workers, start_method=method)
    with pytest.raises(ferry.SampleFailed) as info:
        list(loader)
    err = info.value
    assert isinstance(err, RuntimeError) and err.sample_index == 5
    assert err.worker_id == (-1 if workers == 0 else err.worker_id) and err.worker_id < max(workers, 1)
    text = str(err)
    assert "ValueError: sample 5 is broken on purpose" in text
    assert "Traceback (most recent call last)" in text and "broken_helper" in text and "pydatasets.py" in text
    assert ("calling thread" if workers == 0 else f"worker {err.worker_id}") in text
    # The epoch ended; the next one runs again and fails at the same sample.
    with pytest.raises(ferry.SampleFailed, match="sample 5"):
        list(loader)
    del loader, info, err
    assert_clean(before)


def test_exception_types_keep_their_module_in_the_message():
    with pytest.raises(ferry.SampleFailed, match="pydatasets.Custom: sample 2"):
        list(ferry.DataLoader(pydatasets.Failing(bad=2, error=pydatasets.Custom), batch_size=4, num_workers=1))


@pytest.mark.parametrize("policy", ["skip", "substitute"])
def test_bad_sample_raised_in_python_follows_on_bad_sample(policy):
    loader = ferry.DataLoader(pydatasets.Failing(n=10, bad=4, error=ferry.BadSample), batch_size=5, num_workers=1,
                              on_bad_sample=policy)
    values = np.concatenate([np.from_dlpack(b)[:, 0] for b in loader]).tolist()
    assert values == ([0, 1, 2, 3, 5, 5, 6, 7, 8, 9] if policy == "skip" else [0, 1, 2, 3, 0, 5, 6, 7, 8, 9])
    stats = loader.stats()
    assert stats["skipped_samples" if policy == "skip" else "substituted_samples"] == 1
    assert "sample 4 is broken on purpose" in stats["bad_sample_messages"][0]
    with pytest.raises(ferry.SampleFailed, match="on_bad_sample=error"):
        list(ferry.DataLoader(pydatasets.Failing(n=10, bad=4, error=ferry.BadSample), batch_size=5))


def test_a_crashing_worker_is_worker_crashed_with_its_signal():
    before = census()
    loader = ferry.DataLoader(pydatasets.Segfaults(), batch_size=2, num_workers=1)
    with pytest.raises(ferry.WorkerCrashed) as info:
        list(loader)
    assert info.value.signal == signal.SIGSEGV and "SIGSEGV" in str(info.value)
    assert re.search(r"item[^:]*: 3\b", str(info.value))  # the sample that crashed it
    assert isinstance(info.value, RuntimeError)
    del loader, info
    assert_clean(before)


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_respawned_worker_finishes_the_epoch_with_the_same_bytes(tmp_path, method):
    marker = tmp_path / "killed"
    open(marker, "w").close()  # the reference run kills nobody
    want = [np.from_dlpack(b["x"]).tobytes() for b in ferry.DataLoader(
        pydatasets.KillsItsWorkerOnce(marker), batch_size=4, shuffle=True, seed=3)]
    marker.unlink()
    loader = ferry.DataLoader(pydatasets.KillsItsWorkerOnce(marker), batch_size=4, shuffle=True, seed=3,
                              num_workers=2, start_method=method, on_worker_failure="respawn")
    got = [np.from_dlpack(b["x"]).tobytes() for b in loader]
    assert marker.exists() and loader.stats()["worker_respawns"] == 1
    assert got == want


def test_killing_a_worker_without_respawn_is_worker_crashed_and_leaves_nothing(tmp_path, image_folder):
    before = census()
    lst, _ = fifo_list(tmp_path, image_folder)
    loader = ferry.DataLoader(pydatasets.Files(lst), schema=pydatasets.FILES_SCHEMA, batch_size=2, num_workers=2,
                              transforms={"image": ("val", 16)}, start_method="spawn")
    it = iter(loader)
    next(it)
    pids = loader.worker_pids()
    threading.Timer(0.2, os.kill, (pids[1], signal.SIGKILL)).start()
    with pytest.raises(ferry.WorkerCrashed) as info:
        for _ in it:
            pass
    assert info.value.pid in pids
    assert_gone(pids)
    del loader, it, info
    assert_clean(before)


def test_an_unimportable_main_module_dataset_forks_with_a_warning_instead_of_spawning(tmp_path):
    # python -c has no main file: a class defined there cannot reach a fresh
    # interpreter, so with threads running the loader warns and forks.
    code = textwrap.dedent("""
        import threading, warnings, ferry
        class Squares:
            def __len__(self): return 6
            def __getitem__(self, i): return i * i
        stop = threading.Event()
        t = threading.Thread(target=stop.wait); t.start()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            print(sorted(int(v) for b in ferry.DataLoader(Squares(), batch_size=2, num_workers=1) for v in b.numpy()))
        stop.set(); t.join()
        print(any("spawned workers" in str(w.message) for w in caught))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p)))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["[0, 1, 4, 9, 16, 25]", "True"]
    assert "forking workers from a process with" in out.stderr


def run_script(tmp_path, body):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(body))
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=tmp_path,
                          env=dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p)))


def test_spawn_imports_the_main_script_so_its_classes_arrive(tmp_path):
    out = run_script(tmp_path, """
        import ferry
        class Squares:
            def __len__(self): return 6
            def __getitem__(self, i): return i * i
        if __name__ == "__main__":
            loader = ferry.DataLoader(Squares(), batch_size=3, num_workers=2, start_method="spawn")
            print(sorted(int(v) for b in loader for v in b.numpy()))
    """)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[0, 1, 4, 9, 16, 25]"


def test_spawn_from_a_script_without_a_main_guard_says_what_to_do(tmp_path):
    out = run_script(tmp_path, """
        import ferry
        class Squares:
            def __len__(self): return 6
            def __getitem__(self, i): return i * i
        loader = ferry.DataLoader(Squares(), batch_size=3, num_workers=1, start_method="spawn")
        print(list(loader))
    """)
    assert out.returncode != 0
    assert "if __name__ == '__main__':" in out.stderr and "failed to start" in out.stderr


def test_worker_init_fn_errors_fail_the_start_with_the_traceback():
    loader = ferry.DataLoader(pydatasets.Arrays(8), batch_size=4, num_workers=1, worker_init_fn=pydatasets.bad_init)
    with pytest.raises(ferry.Error, match="failed to start.*RuntimeError: no init today") as info:
        next(iter(loader))
    assert "bad_init" in str(info.value)


def test_options_are_attributes_and_prefetch_factor_needs_workers():
    loader = ferry.DataLoader(pydatasets.Arrays(), batch_size=4, num_workers=2, prefetch_factor=3, drop_last=True,
                              persistent_workers=True, timeout=1.5, in_order=False, pin_memory=False, seed=7)
    assert (loader.batch_size, loader.num_workers, loader.prefetch_factor, loader.drop_last) == (4, 2, 3, True)
    assert (loader.persistent_workers, loader.timeout, loader.in_order, loader.pin_memory) == (True, 1.5, False, False)
    assert (loader.seed, loader.shuffle, loader.start_method, loader.on_bad_sample) == (7, False, "auto", "error")
    assert ferry.DataLoader(pydatasets.Arrays(), num_workers=1).prefetch_factor == 2
    assert ferry.DataLoader(pydatasets.Arrays()).prefetch_factor is None
    with pytest.raises(ValueError, match="prefetch_factor"):
        ferry.DataLoader(pydatasets.Arrays(), prefetch_factor=2)
    for cls in (ferry.WorkerCrashed, ferry.SampleFailed, ferry.Timeout):
        assert issubclass(cls, RuntimeError) and issubclass(cls, ferry.Error)


def test_options_only_python_datasets_take_are_refused_for_ferry_datasets(image_folder):
    ds = ferry.ImageFolder(str(image_folder), pipeline="val", size=16)
    for kw in (dict(schema={}), dict(transforms={"image": "val"}), dict(worker_init_fn=print)):
        with pytest.raises(ferry.InvalidOption, match="Python datasets"):
            ferry.DataLoader(ds, **kw)


def test_print_in_getitem_reaches_a_piped_stdout(tmp_path):
    out = run_script(tmp_path, """
        import ferry
        class Talks:
            def __len__(self): return 4
            def __getitem__(self, i):
                print(f"producing {i}")
                return i
        if __name__ == "__main__":
            print("start", flush=True)
            for method in ("fork", "spawn"):
                for b in ferry.DataLoader(Talks(), batch_size=2, num_workers=1, start_method=method):
                    pass
    """)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split()
    assert lines.count("start") == 1  # the parent's buffered output is not written again by a child
    # Each loader: samples 0..3 in its worker, and sample 0 once more to infer the schema.
    assert [lines.count(str(i)) for i in range(4)] == [4, 2, 2, 2]
