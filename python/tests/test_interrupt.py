"""Ctrl-C during iteration, and other Python threads while the loader waits."""
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import ferry

from conftest import DATASET_KINDS, assert_gone, list_loader, list_loader_source
from test_errors import fifo_list


@pytest.mark.parametrize("kind", DATASET_KINDS)
def test_sigint_while_waiting_raises_keyboard_interrupt_and_stops_workers(tmp_path, image_folder, kind):
    lst, _ = fifo_list(tmp_path, image_folder)
    loader = list_loader(kind, lst, batch_size=2, num_workers=2)
    it = iter(loader)
    next(it)  # the workers run; batch 1 waits forever on the FIFO
    pids = loader.worker_pids()
    assert len(pids) == 2
    main = threading.main_thread().ident
    timer = threading.Timer(0.3, signal.pthread_kill, (main, signal.SIGINT))
    timer.start()
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        for _ in it:
            pass
    timer.join()
    assert time.monotonic() - t0 < 10
    assert loader.worker_pids() == []
    assert_gone(pids)
    with pytest.raises(StopIteration):  # that epoch is over
        next(it)


@pytest.mark.parametrize("kind", DATASET_KINDS)
def test_sigint_during_a_blocking_read_in_the_calling_thread_raises_keyboard_interrupt(tmp_path, image_folder, kind):
    lst, _ = fifo_list(tmp_path, image_folder)
    loader = list_loader(kind, lst, batch_size=2, num_workers=0)
    it = iter(loader)
    next(it)  # batch 1 opens the FIFO in this thread and blocks
    main = threading.main_thread().ident
    timer = threading.Timer(0.3, signal.pthread_kill, (main, signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        next(it)
    timer.join()


@pytest.mark.parametrize("kind", DATASET_KINDS)
def test_ctrl_c_in_a_training_script_exits_with_no_child_left(tmp_path, image_folder, kind):
    lst, _ = fifo_list(tmp_path, image_folder)
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        import ferry
        import pydatasets
        loader = {list_loader_source(kind, lst, "batch_size=2, num_workers=2")}
        for i, batch in enumerate(loader):
            if i == 0:
                print(" ".join(map(str, loader.worker_pids())), flush=True)
    """))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    child = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=env, text=True)
    pids = [int(p) for p in child.stdout.readline().split()]
    assert len(pids) == 2, child.stderr.read()
    time.sleep(0.2)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=20)
    assert child.returncode != 0 and "KeyboardInterrupt" in err
    assert_gone(pids)


@pytest.mark.parametrize("kind", DATASET_KINDS)
@pytest.mark.parametrize("workers", [0, 2])
def test_other_threads_run_while_the_loader_waits(tmp_path, image_folder, workers, kind):
    # The first sample blocks until a writer opens the FIFO. Only another
    # Python thread can open it: if the wait held the GIL, this would hang.
    lst, fifo = fifo_list(tmp_path, image_folder, block_at=0)
    loader = list_loader(kind, lst, batch_size=2, num_workers=workers)
    opened = threading.Event()

    def writer():
        time.sleep(0.2)
        with open(fifo, "wb"):
            opened.set()

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    # ferry's source refuses a FIFO; the Python dataset reads it empty.
    with pytest.raises(ferry.SampleFailed, match="not a regular file" if kind == "cpp" else "'image'"):
        next(iter(loader))
    assert opened.wait(5)
    t.join(5)


def test_a_second_thread_entering_a_busy_loader_gets_a_clear_error(tmp_path, image_folder):
    lst, fifo = fifo_list(tmp_path, image_folder, block_at=0)
    ds = ferry.open_dataset(str(lst), pipeline="val", size=16)
    loader = ferry.DataLoader(ds, batch_size=2, num_workers=1)
    seen = {}

    def other():
        time.sleep(0.3)  # the main thread is now waiting inside next()
        try:
            loader.stats()
        except RuntimeError as e:
            seen["error"] = str(e)
        with open(fifo, "wb"):  # let the blocked sample go (it then fails)
            pass

    t = threading.Thread(target=other, daemon=True)
    t.start()
    with pytest.raises(ferry.SampleFailed):
        next(iter(loader))
    t.join(5)
    assert "another thread" in seen.get("error", "")
