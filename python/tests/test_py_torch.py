"""torch.utils.data datasets (Dataset subclasses, Subset, ConcatDataset,
TensorDataset) returning torch tensors, run in an interpreter that has torch
(the .venv of `bash scripts/setup --with-torch`), so this test process stays
free of torch's threads."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

REPO = os.path.join(os.path.dirname(__file__), "..", "..")
VENV_PYTHON = os.path.join(os.environ.get("FERRY_VENV") or os.path.join(REPO, ".venv"), "bin", "python")


def venv_has_torch():
    if not os.access(VENV_PYTHON, os.X_OK):
        return False
    return subprocess.run([VENV_PYTHON, "-c", "import torch"], capture_output=True).returncode == 0


pytestmark = pytest.mark.skipif(not venv_has_torch(), reason="no .venv with torch (bash scripts/setup --with-torch)")

SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np, torch, ferry
    from torch.utils.data import ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset, default_collate

    class Noisy(Dataset):
        def __len__(self):
            return 20

        def __getitem__(self, i):
            g = torch.Generator().manual_seed(ferry.sample_seed() % (1 << 63))
            info = torch.utils.data.get_worker_info()
            return {"x": torch.rand(5, 3, generator=g).t(), "i": torch.tensor(i), "half": torch.full((2,), i, dtype=torch.bfloat16),
                    "flag": torch.tensor(i % 2 == 0), "worker": -1 if info is None else info.id, "global": torch.rand(()).item()}

    def epoch(loader):
        return [(b["i"].numpy().tolist(), torch.from_dlpack(b["x"]).numpy().tobytes().hex(), torch.from_dlpack(b["half"]).float().tolist(),
                 torch.from_dlpack(b["flag"]).tolist(), b["worker"].numpy().tolist(), b["global"].numpy().tolist()) for b in loader]

    class Counting(IterableDataset):
        # PyTorch's documented pattern; its __len__ does not make it map-style.
        def __len__(self):
            return 10

        def __iter__(self):
            info = torch.utils.data.get_worker_info()
            start, step = (0, 1) if info is None else (info.id, info.num_workers)
            return iter([torch.tensor(v) for v in range(start, 10, step)])

    if __name__ == "__main__":
        data = ConcatDataset([Subset(Noisy(), range(5, 15)), Noisy()])
        out = {}
        for name, kw in {"w0": {}, "w2": {"num_workers": 2}, "spawn": {"num_workers": 2, "start_method": "spawn"}}.items():
            out[name] = epoch(ferry.DataLoader(data, batch_size=4, shuffle=True, seed=3, **kw))
        pairs = TensorDataset(torch.arange(12).reshape(6, 2), torch.arange(6))
        b = next(iter(ferry.DataLoader(pairs, batch_size=6, num_workers=1)))
        out["tensor_dataset"] = [type(b).__name__, torch.from_dlpack(b[0]).tolist(), torch.from_dlpack(b[1]).tolist()]
        c = next(iter(ferry.DataLoader(pairs, batch_size=3, collate_fn=default_collate)))
        out["default_collate"] = [type(c).__name__, type(c[0]).__name__, c[0].tolist(), c[1].tolist()]
        class Grad(Dataset):
            def __len__(self):
                return 2
            def __getitem__(self, i):
                return torch.zeros(2, requires_grad=True)
        try:
            list(ferry.DataLoader(Grad()))
        except ferry.Error as e:
            out["grad_error"] = str(e)
        for name, kw in {"iterable_w0": {}, "iterable_w2": {"num_workers": 2}}.items():
            loader = ferry.DataLoader(Counting(), batch_size=3, **kw)
            out[name] = [len(loader), [torch.from_dlpack(b).tolist() for b in loader]]
        reference = torch.utils.data.DataLoader(Counting(), batch_size=3, num_workers=2)
        out["iterable_torch_w2"] = [len(reference), [b.tolist() for b in reference]]
        print(json.dumps(out))
""")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    script = tmp_path_factory.mktemp("torch") / "torch_datasets.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run([VENV_PYTHON, str(script)], capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_subset_and_concat_dataset_give_every_sample_once_with_the_same_bytes(results):
    ids = sorted(i for batch in results["w0"] for i in batch[0])  # Noisy's own index: Subset 5..14, then 0..19
    assert ids == sorted(list(range(5, 15)) + list(range(20)))
    strip = [[b[:4] for b in results[k]] for k in ("w0", "w2", "spawn")]  # tensors, not worker ids or globals
    assert strip[0] == strip[1] == strip[2]
    first = results["w0"][0]
    assert first[2] == [[float(i)] * 2 for i in first[0]]  # bfloat16
    assert first[3] == [i % 2 == 0 for i in first[0]]  # bool


def test_torch_sees_its_worker_info_and_per_worker_seeds(results):
    workers = {w for batch in results["w2"] for w in batch[4]}
    assert workers == {0, 1}
    assert {w for batch in results["w0"] for w in batch[4]} == {-1}
    draws = [g for batch in results["w2"] for g in batch[5]]
    assert len(set(draws)) == len(draws)  # each worker's torch generator is its own


def test_tensor_datasets_and_default_collate(results):
    assert results["tensor_dataset"] == ["tuple", [[2 * i, 2 * i + 1] for i in range(6)], list(range(6))]
    assert results["default_collate"] == ["list", "Tensor", [[0, 1], [2, 3], [4, 5]], [0, 1, 2]]


def test_a_tensor_that_requires_grad_is_refused_naming_the_field(results):
    assert "field 'sample'" in results["grad_error"] and "grad" in results["grad_error"]


def test_a_torch_iterable_dataset_is_read_per_worker_round_robin(results):
    assert results["iterable_w0"] == [4, [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]]
    # As torch's DataLoader: batch 0 of worker 0, batch 0 of worker 1, ...
    assert results["iterable_w2"] == [4, [[0, 2, 4], [1, 3, 5], [6, 8], [7, 9]]]
    assert results["iterable_w2"] == results["iterable_torch_w2"]
