"""Python map-style datasets: schema, structure, determinism, start methods."""
import collections
import os
import pickle

import numpy as np
import pytest

import ferry
import pydatasets
from conftest import assert_clean, census

Point = collections.namedtuple("Point", "x y")


class Nested:
    def __len__(self):
        return 10

    def __getitem__(self, i):
        return {"pair": (np.full(2, i, np.int16), float(i) / 2),
                "more": [Point(True if i % 2 else False, b"\x00" * i), {"text": "é" * i, "obj": {i}}]}


def py_epoch_bytes(loader):
    """Every tensor of one epoch as bytes, in batch and leaf order."""
    out = []

    def walk(v):
        if isinstance(v, dict):
            for k in v:
                walk(v[k])
        elif isinstance(v, (tuple, list)):
            for x in v:
                walk(x)
        elif isinstance(v, ferry.RaggedTensor):
            out.append(np.from_dlpack(v.values).tobytes() + np.from_dlpack(v.offsets).tobytes())
        elif isinstance(v, ferry.Tensor):
            out.append(np.from_dlpack(v).tobytes())
        else:
            out.append(repr(v).encode())

    for batch in loader:
        walk(batch)
    return b"".join(out)


@pytest.mark.parametrize("workers", [0, 1, 2, 4])
def test_every_sample_exactly_once_per_epoch(workers):
    before = census()
    loader = ferry.DataLoader(pydatasets.Arrays(37), batch_size=5, shuffle=True, seed=3, num_workers=workers)
    for _ in range(2):
        labels, names = [], []
        for batch in loader:
            x, label = np.from_dlpack(batch["x"]), np.from_dlpack(batch["label"])
            assert x.shape[1:] == (3, 4) and x.dtype == np.float32
            assert (x == label[:, None, None]).all()  # each sample lands in its own place
            labels += label.tolist()
            names += batch["name"]
        assert sorted(labels) == list(range(37))
        assert names == [f"sample-{i}" for i in labels]
    del loader, batch, x, label
    assert_clean(before)


def test_batches_keep_the_samples_structure():
    loader = ferry.DataLoader(Nested(), batch_size=4)
    batch = next(iter(loader))
    assert set(batch) == {"pair", "more"}
    pair, more = batch["pair"], batch["more"]
    assert isinstance(pair, tuple) and isinstance(more, list) and isinstance(more[0], Point)
    assert np.from_dlpack(pair[0]).dtype == np.int16 and pair[0].shape == (4, 2)
    assert np.from_dlpack(pair[1]).tolist() == [0.0, 0.5, 1.0, 1.5] and pair[1].dtype == "float64"
    assert more[0].x.numpy().tolist() == [False, True, False, True]
    assert more[0].y == [b"", b"\x00", b"\x00\x00", b"\x00\x00\x00"]
    assert more[1]["text"] == ["", "é", "éé", "ééé"]
    assert more[1]["obj"] == [{0}, {1}, {2}, {3}]  # a set is no structure: it travels pickled


def test_infer_schema_names_each_leaf_by_its_path():
    schema = ferry.infer_schema(Nested(), index=1)
    assert schema == {"pair": (ferry.Field("int16", (2,)), ferry.Field("float64")),
                      "more": [Point(ferry.Field("bool"), ferry.Field("bytes", capacity=64)),
                               {"text": ferry.Field("str", capacity=64), "obj": ferry.Field("object", capacity=schema["more"][1]["obj"].capacity)}]}
    loader = ferry.DataLoader(Nested(), batch_size=2)
    text = loader.describe()
    for name in ("pair.0:int16[2]", "pair.1:float64[]", "more.0.x:bool[]", "more.0.y:uint8[ragged]",
                 "more.1.text:uint8[ragged]"):
        assert name in text
    assert pickle.loads(pickle.dumps(ferry.Field("int64", ragged=True, capacity=9))) == ferry.Field(
        "int64", ragged=True, capacity=9)


def test_sample_rng_gives_the_same_bytes_for_any_worker_count():
    def run(**kw):
        return py_epoch_bytes(ferry.DataLoader(pydatasets.Augmented(45), batch_size=6, shuffle=True, seed=8, **kw))

    want = run()
    assert want != py_epoch_bytes(ferry.DataLoader(pydatasets.Augmented(45), batch_size=6, shuffle=True, seed=9))
    for workers in (1, 2, 4):
        assert run(num_workers=workers) == want
    assert run(num_workers=2, start_method="spawn") == want
    assert run(num_workers=3, threads_per_worker=2) == want


def test_sample_rng_outside_a_loader_is_an_error():
    with pytest.raises(RuntimeError, match="__getitem__"):
        ferry.sample_rng()
    # infer_schema reads the sample the way the loader's first epoch would.
    assert ferry.infer_schema(pydatasets.Augmented())[0] == ferry.Field("float32", (16,))


def test_each_epoch_draws_other_numbers_and_set_epoch_replays_one():
    loader = ferry.DataLoader(pydatasets.Augmented(20), batch_size=5, num_workers=2, seed=1)
    e0, e1 = py_epoch_bytes(loader), py_epoch_bytes(loader)
    assert e0 != e1
    loader.set_epoch(0)
    assert py_epoch_bytes(loader) == e0


def test_a_declared_ragged_field_holds_variable_lengths():
    schema = ferry.infer_schema(pydatasets.Tokens())
    assert schema["tokens"] == ferry.Field("int64", (1,))
    schema["tokens"] = ferry.Field("int64", ragged=True, capacity=2)  # most samples spill: still exact
    for workers in (0, 2):
        loader = ferry.DataLoader(pydatasets.Tokens(), batch_size=4, num_workers=workers, schema=schema)
        seen = 0
        for batch in loader:
            tokens = batch["tokens"]
            assert isinstance(tokens, ferry.RaggedTensor) and tokens.dtype == "int64"
            for k, i in enumerate(np.from_dlpack(batch["id"])):
                assert np.from_dlpack(tokens[k]).tolist() == list(range(i, i + i % 7 + 1))
                seen += 1
        assert seen == 30


def test_a_sample_with_another_shape_fails_naming_field_index_and_shapes():
    class Shapes(pydatasets.Arrays):
        def __getitem__(self, i):
            return {"x": np.zeros((3, 5 if i == 6 else 4), np.float32), "label": i}

    loader = ferry.DataLoader(Shapes(12), batch_size=4)
    with pytest.raises(ferry.SampleFailed) as info:
        list(loader)
    text = str(info.value)
    assert info.value.sample_index == 6
    assert "sample 6" in text and "'x'" in text and "(3, 5)" in text and "(3, 4)" in text and "sample 0" in text


@pytest.mark.parametrize("bad, words", [
    (lambda i: {"x": np.zeros((3, 4), np.float64), "label": i}, ["'x'", "float64", "float32"]),
    (lambda i: {"x": np.zeros((3, 4), np.float32)}, ["keys", "'label'"]),
    (lambda i: [np.zeros((3, 4), np.float32), i], ["list", "dict"]),
    (lambda i: {"x": np.zeros((3, 4), np.float32), "label": "seven"}, ["'label'", "str"]),
    (lambda i: {"x": np.zeros((3, 4), np.float32), "label": 1 << 70}, ["'label'", "int64"]),
])
def test_a_sample_of_another_kind_fails_naming_what_differs(bad, words):
    class Changing(pydatasets.Arrays):
        def __getitem__(self, i):
            return bad(i) if i == 3 else {"x": np.zeros((3, 4), np.float32), "label": i}

    with pytest.raises(ferry.SampleFailed, match="sample 3") as info:
        list(ferry.DataLoader(Changing(8), batch_size=8))
    for w in words:
        assert w in str(info.value)


def test_schema_errors_are_invalid_options():
    class Empty:
        def __len__(self):
            return 0

        def __getitem__(self, i):
            raise IndexError(i)

    with pytest.raises(ferry.InvalidOption, match="schema="):
        ferry.DataLoader(Empty())
    loader = ferry.DataLoader(Empty(), schema={"x": ferry.Field("float32", (2,))})
    assert len(loader) == 0 and list(loader) == []

    class Stream:
        def __iter__(self):
            return iter([])

    with pytest.raises(ferry.InvalidOption, match="yielded 0 samples.*schema="):
        ferry.DataLoader(Stream())
    with pytest.raises(ferry.InvalidOption, match="uint32"):
        ferry.DataLoader([np.zeros(2, np.uint32)])
    with pytest.raises(ferry.InvalidOption, match="str"):
        ferry.DataLoader([{1: 2}])
    with pytest.raises(ferry.InvalidOption, match="ferry.Field"):
        ferry.DataLoader([1, 2], schema={"x": "float32"})
    with pytest.raises(ferry.InvalidOption, match="not one of"):
        ferry.Field("complex128")
    with pytest.raises(ferry.InvalidOption, match="ragged"):
        ferry.Field("int64", (3,), ragged=True)
    with pytest.raises(ferry.InvalidOption, match="transforms"):
        ferry.DataLoader(pydatasets.Arrays(), transforms={"label": "train"})
    with pytest.raises(ferry.InvalidOption, match="nope"):
        ferry.DataLoader(pydatasets.Arrays(), transforms={"nope": "train"})


def test_torch_free_sequences_and_plain_values_are_datasets():
    loader = ferry.DataLoader([np.arange(3) * i for i in range(5)], batch_size=2)
    assert [np.from_dlpack(b).tolist() for b in loader] == [[[0, 0, 0], [0, 1, 2]], [[0, 2, 4], [0, 3, 6]],
                                                            [[0, 4, 8]]]
    assert loader.dataset[1].tolist() == [0, 1, 2]


def test_batch_size_none_yields_single_samples():
    loader = ferry.DataLoader(pydatasets.Arrays(7), batch_size=None, num_workers=2, shuffle=True, seed=2)
    assert len(loader) == 7 and loader.batch_size is None
    samples = list(loader)
    assert len(samples) == 7
    for s in samples:
        i = int(np.from_dlpack(s["label"]))
        assert s["label"].shape == () and s["x"].shape == (3, 4) and s["name"] == f"sample-{i}"
        assert (np.from_dlpack(s["x"]) == i).all()
    with pytest.raises(ferry.InvalidOption, match="drop_last"):
        ferry.DataLoader(pydatasets.Arrays(), batch_size=None, drop_last=True)


def test_batch_size_none_works_for_ferry_datasets(image_folder):
    ds = ferry.ImageFolder(str(image_folder), pipeline="val", size=16)
    loader = ferry.DataLoader(ds, batch_size=None)
    assert len(loader) == len(ds)
    first = next(iter(loader))
    assert first["image"].shape == (3, 16, 16) and int(np.from_dlpack(first["label"])) == ds.label(0)


def test_collate_fn_gets_the_samples_as_the_dataset_returned_them():
    seen = []

    def collate(samples):
        seen.append(samples)
        return len(samples)

    loader = ferry.DataLoader(pydatasets.Arrays(6), batch_size=4, num_workers=1, collate_fn=collate)
    assert list(loader) == [4, 2] and loader.collate_fn is collate
    first = seen[0][1]
    assert isinstance(first["x"], np.ndarray) and (first["x"] == 1).all()
    assert first["label"] == 1 and type(first["label"]) is int and first["name"] == "sample-1"


def test_worker_info_seeding_and_worker_init_fn():
    for method in ("fork", "spawn"):
        loader = ferry.DataLoader(pydatasets.WorkerState(), batch_size=2, num_workers=2, seed=5, start_method=method,
                                  worker_init_fn=pydatasets.record_init)
        rows = [{k: v.numpy().tolist() for k, v in b.items()} for b in loader]
        by_worker = {}
        for r in rows:
            for k in range(2):
                by_worker.setdefault(r["id"][k], set()).add((r["seed"][k], r["init"][k], r["num_workers"][k],
                                                             r["own_dataset"][k]))
        assert sorted(by_worker) == [0, 1], method
        assert {w: {x[1:] for x in s} for w, s in by_worker.items()} == {0: {(0, 2, True)}, 1: {(1, 2, True)}}
        seeds = {next(iter(s))[0] for s in by_worker.values()}
        assert len(seeds) == 2  # one seed per worker
        draws = [r["random"][k] for r in rows for k in range(2)] + [r["numpy"][k] for r in rows for k in range(2)]
        assert len(set(draws)) == len(draws)  # no two workers share a stream
    assert ferry.get_worker_info() is None
    main = next(iter(ferry.DataLoader(pydatasets.WorkerState(), batch_size=2)))
    assert np.from_dlpack(main["id"]).tolist() == [-1, -1] and np.from_dlpack(main["init"]).tolist() == [-1, -1]


def test_spawn_refuses_an_unpicklable_dataset_with_the_reason():
    class Local(pydatasets.Arrays):  # defined in a function: pickle cannot find it
        pass

    loader = ferry.DataLoader(Local(8), batch_size=4, num_workers=1, start_method="spawn")
    with pytest.raises(ferry.InvalidOption, match="spawn.*pickl.*fork"):
        next(iter(loader))
    assert len(list(ferry.DataLoader(Local(8), batch_size=4, num_workers=1, start_method="fork"))) == 2


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_hybrid_dataset_decodes_natively_to_the_same_bytes_as_image_folder(image_folder, method):
    ds = ferry.ImageFolder(str(image_folder), pipeline="train", size=24)
    native = ferry.DataLoader(ds, batch_size=8, shuffle=True, seed=4, num_workers=2)
    hybrid = ferry.DataLoader(pydatasets.Folder(ds), batch_size=8, shuffle=True, seed=4, num_workers=2,
                              start_method=method, transforms={"image": ("train", 24)})
    batch = next(iter(hybrid))
    assert batch["image"].shape == (8, 3, 24, 24) and batch["image"].dtype == "float32"
    hybrid.set_epoch(0)
    for _ in range(2):
        assert py_epoch_bytes(hybrid) == py_epoch_bytes(native)


def test_state_dict_resumes_mid_epoch_with_another_worker_count():
    def loader(workers):
        return ferry.DataLoader(pydatasets.Augmented(50), batch_size=4, shuffle=True, seed=6, num_workers=workers)

    full = loader(2)
    full.set_epoch(3)
    want = [np.from_dlpack(b[0]).tobytes() for b in full]
    partial = loader(2)
    partial.set_epoch(3)
    it = iter(partial)
    for _ in range(5):
        next(it)
    state = partial.state_dict()
    for workers in (0, 3):
        fresh = loader(workers)
        fresh.load_state_dict(state)
        assert [np.from_dlpack(b[0]).tobytes() for b in fresh] == want[5:]


def test_out_of_order_delivery_and_distributed_ranks_keep_each_sample_once():
    ids = []
    for rank in range(3):
        loader = ferry.DataLoader(pydatasets.Arrays(31), batch_size=4, shuffle=True, seed=2, num_workers=2,
                                  in_order=False, rank=rank, world_size=3, drop_last=True)
        ids += [int(i) for b in loader for i in np.from_dlpack(b["label"])]
    assert len(ids) == len(set(ids)) == 3 * 8 and set(ids) <= set(range(31))  # 10 per rank, 2 full batches


class DLPackOnly:
    """An array that offers nothing but DLPack (as torch tensors do)."""

    def __init__(self, a):
        self.a = a

    def __dlpack__(self, stream=None):
        return self.a.__dlpack__()

    def __dlpack_device__(self):
        return self.a.__dlpack_device__()


class InterfaceOnly:
    """An array that offers nothing but the numpy array interface (as PIL images do)."""

    def __init__(self, a):
        self.a = a
        self.__array_interface__ = a.__array_interface__


class Strided:
    def __len__(self):
        return 6

    def __getitem__(self, i):
        a = (np.arange(24, dtype=np.int32).reshape(4, 6) * (i + 1)).T[::-2]  # non-contiguous, negative strides
        return (a, DLPackOnly(a), InterfaceOnly(np.ascontiguousarray(a)))


def test_arrays_are_taken_from_buffers_dlpack_and_the_array_interface_whatever_their_strides():
    for workers in (0, 1):
        for batch in ferry.DataLoader(Strided(), batch_size=3, num_workers=workers):
            views = [np.from_dlpack(t) for t in batch]
            assert views[0].shape == (3, 3, 4) and views[0].dtype == np.int32
            assert (views[0] == views[1]).all() and (views[0] == views[2]).all()
    first = next(iter(ferry.DataLoader(Strided(), batch_size=6)))
    assert all((np.from_dlpack(first[0])[i] == Strided()[i][0]).all() for i in range(6))


class Records:
    """Remembers, in the process that ran it, which samples it produced."""

    calls = []

    def __len__(self):
        return 4

    def __getitem__(self, i):
        Records.calls.append(i)
        return i


class FirstFails(Records):
    def __getitem__(self, i):
        raise KeyError(f"no sample {i}")


class FirstCrashes(Records):
    def __getitem__(self, i):
        pydatasets.Segfaults()[3]


def test_schema_inference_runs_no_dataset_code_in_this_process():
    Records.calls.clear()
    loader = ferry.DataLoader(Records(), batch_size=2, num_workers=1, start_method="fork")
    assert Records.calls == []  # dataset[0] ran in a child: nothing here opened or started anything
    assert [b.numpy().tolist() for b in loader] == [[0, 1], [2, 3]] and Records.calls == []
    assert ferry.infer_schema(Records()) == ferry.Field("int64") and Records.calls == [0]


def test_the_first_samples_error_is_raised_with_its_own_type():
    with pytest.raises(KeyError, match="no sample 0") as info:
        ferry.DataLoader(FirstFails())
    assert "infer the schema" in "".join(getattr(info.value, "__notes__", []))
    with pytest.raises(ferry.InvalidOption, match="SIGSEGV.*schema="):
        ferry.DataLoader(FirstCrashes())


def test_a_forked_worker_is_a_healthy_interpreter():
    rows = [{k: v.numpy().tolist() for k, v in b.items()}
            for b in ferry.DataLoader(pydatasets.UsesTheInterpreter(), batch_size=2, num_workers=2, start_method="fork")]
    assert sorted(h for r in rows for h in r["half"]) == [0.0, 0.5, 1.0, 1.5]
    assert all(c == 7 for r in rows for c in r["child"])
    assert os.getpid() not in {p for r in rows for p in r["pid"]}
