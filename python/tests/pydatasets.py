"""Python datasets for the tests. They live in a module (not in the test
functions) so that spawned workers can unpickle them."""
import ctypes
import os
import random
import signal

import numpy as np

import ferry


class Arrays:
    """Sample i: a float32 array full of i, its label and its name."""

    def __init__(self, n=40, shape=(3, 4)):
        self.n, self.shape = n, shape

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"x": np.full(self.shape, i, np.float32), "label": i, "name": f"sample-{i}"}


class Augmented:
    """Random values from ferry.sample_rng(): the same for any worker count."""

    def __init__(self, n=40):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        rng = ferry.sample_rng()
        return (rng.random(16, dtype=np.float32), i, rng.integers(0, 1 << 30))


class Tokens:
    """1-D int64 arrays of varying length: a ragged field once declared."""

    def __init__(self, n=30):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"tokens": np.arange(i % 7 + 1, dtype=np.int64) + i, "id": i}


class Failing:
    """Sample `bad` raises ValueError; the others are plain."""

    def __init__(self, n=16, bad=5, error=ValueError):
        self.n, self.bad, self.error = n, bad, error

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.bad:
            self.broken_helper(i)
        return np.full(2, i, np.int32)

    def broken_helper(self, i):
        raise self.error(f"sample {i} is broken on purpose")


class Files:
    """(path, label) lines of a CSV list; sample i is {"image": the file's
    bytes, "label": label}. A FIFO in the list blocks its reader."""

    def __init__(self, list_path):
        with open(list_path) as f:
            self.items = [(p, int(label)) for p, label in (line.strip().rsplit(",", 1) for line in f if line.strip())]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        path, label = self.items[i]
        with open(path, "rb") as f:
            return {"image": f.read(), "label": label}


FILES_SCHEMA = {"image": ferry.Field("bytes"), "label": ferry.Field("int64")}


class Folder(Files):
    """The files of a ferry.ImageFolder, in its order."""

    def __init__(self, dataset):
        self.items = [(dataset.path(i), dataset.label(i)) for i in range(len(dataset))]


class KillsItsWorkerOnce:
    """Sample `at` SIGKILLs the worker producing it, the first time only
    (the marker file remembers), so a respawned worker gets through."""

    def __init__(self, marker, n=24, at=9):
        self.marker, self.n, self.at = str(marker), n, at

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.at and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
        return {"x": ferry.sample_rng().random(4), "i": i}


class Segfaults:
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 3:
            ctypes.string_at(0)  # reads address 0: SIGSEGV
        return i


class WorkerState:
    """What a worker looks like from inside: its info and its global generators."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = ferry.get_worker_info()
        return {"id": -1 if info is None else info.id, "num_workers": 0 if info is None else info.num_workers,
                "seed": 0 if info is None else info.seed % (1 << 62), "own_dataset": info is not None and info.dataset is self,
                "random": random.random(), "numpy": np.random.random(), "init": getattr(self, "init", -1)}


def record_init(worker_id):
    """A worker_init_fn: marks the worker's copy of its dataset."""
    ferry.get_worker_info().dataset.init = worker_id


class Custom(Exception):
    """An exception type of the dataset's own module."""


def bad_init(worker_id):
    raise RuntimeError("no init today")


class UsesTheInterpreter:
    """What a forked child can do only if it was prepared as os.fork() does:
    start and join a thread, import a module, run a subprocess."""

    def __len__(self):
        return 4

    def __getitem__(self, i):
        import subprocess
        import sys
        import threading
        box = []
        t = threading.Thread(target=lambda: box.append(__import__("fractions").Fraction(i, 2)))
        t.start()
        t.join(10)
        out = subprocess.run([sys.executable, "-c", "print(7)"], capture_output=True, text=True, timeout=30).stdout
        return {"pid": os.getpid(), "half": float(box[0]), "child": int(out)}


class Sharded:
    """Iterable: values 0..n-1, split across workers with get_worker_info()
    as PyTorch documents (worker w of W yields w, w + W, ...). Each sample
    carries a draw from ferry.sample_rng(). `fail_at`: that value raises;
    `kill_at`: that value SIGKILLs its worker the first time (the marker
    file remembers). With `length`, the dataset has a __len__."""

    def __init__(self, n=23, fail_at=None, kill_at=None, marker=None, length=False):
        self.n, self.fail_at, self.kill_at, self.marker, self.length = n, fail_at, kill_at, marker, length

    def __len__(self):
        if not self.length:
            raise TypeError("Sharded has no length")
        return self.n

    def __iter__(self):
        info = ferry.get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        for v in range(start, self.n, step):
            if v == self.fail_at:
                self.broken_helper(v)
            if v == self.kill_at and not os.path.exists(self.marker):
                open(self.marker, "w").close()
                os.kill(os.getpid(), signal.SIGKILL)
            yield {"x": np.full(3, v, np.float32), "v": v, "r": ferry.sample_rng().random(2), "name": f"s{v}"}

    def broken_helper(self, v):
        raise KeyError(f"value {v} is broken on purpose")


class Unsharded:
    """Iterable that ignores get_worker_info(): every worker yields it all."""

    def __init__(self, n=6):
        self.n = n

    def __iter__(self):
        return iter([np.int64(v) for v in range(self.n)])


class FailsToStart:
    """Iterable whose __iter__ itself raises."""

    def __iter__(self):
        raise OSError("the shard list is unreachable")


class BlocksAfter:
    """Iterable: worker 0 (or the calling thread) yields `first` values, then
    every reader blocks opening `fifo` (a FIFO nobody writes); other workers
    block at once."""

    def __init__(self, fifo, first=4):
        self.fifo, self.first = str(fifo), first

    def __iter__(self):
        info = ferry.get_worker_info()
        if info is None or info.id == 0:
            yield from (np.int64(v) for v in range(self.first))
        with open(self.fifo, "rb") as f:
            yield np.int64(len(f.read()))
