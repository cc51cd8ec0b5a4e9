"""DataLoader basics: options, epochs, determinism, same bytes as the C++ loader."""
import subprocess

import numpy as np
import pytest

import ferry
from conftest import DATASET_KINDS, folder_loader


def epoch_bytes(loader, fields=None):
    """All fields of one epoch (one iter()) as bytes, in field order."""
    out = []
    for batch in loader:
        for name, field in batch.items():
            if fields and name not in fields:
                continue
            if isinstance(field, ferry.RaggedTensor):
                out.append(np.from_dlpack(field.values).tobytes())
                out.append(np.from_dlpack(field.offsets).tobytes())
            else:
                out.append(np.from_dlpack(field).tobytes())
    return b"".join(out)


def test_batches_have_the_schema_fields_and_shapes(image_folder):
    ds = ferry.ImageFolder(str(image_folder), pipeline="val", size=32)
    assert len(ds) == 40 and ds.num_classes == 4 and len(ds.classes) == 4
    loader = ferry.DataLoader(ds, batch_size=16)
    assert len(loader) == 3
    batches = list(loader)
    assert len(batches) == 3
    assert set(batches[0]) == {"image", "label"}
    image, label = batches[0]["image"], batches[0]["label"]
    assert image.shape == (16, 3, 32, 32) and image.dtype == "float32"
    assert label.shape == (16,) and label.dtype == "int64"
    assert batches[2]["image"].shape[0] == 8  # the last, partial batch
    assert len(ferry.DataLoader(ds, batch_size=16, drop_last=True)) == 2


def test_labels_are_the_datasets_labels_in_sampler_order(image_folder):
    ds = ferry.ImageFolder(str(image_folder), pipeline="val", size=16)
    labels = np.concatenate([np.from_dlpack(b["label"]) for b in ferry.DataLoader(ds, batch_size=7)])
    assert labels.tolist() == [ds.label(i) for i in range(len(ds))]


def test_raw_pipeline_yields_each_files_bytes(image_folder):
    ds = ferry.ImageFolder(str(image_folder), pipeline="raw")
    loader = ferry.DataLoader(ds, batch_size=6, num_workers=2)
    i = 0
    for batch in loader:
        raw = batch["bytes"]
        assert isinstance(raw, ferry.RaggedTensor)
        offsets = np.from_dlpack(raw.offsets)
        values = np.from_dlpack(raw.values)
        for k in range(len(raw)):
            want = open(ds.path(i), "rb").read()
            assert values[offsets[k]:offsets[k + 1]].tobytes() == want
            assert np.from_dlpack(raw[k]).tobytes() == want
            i += 1
    assert i == len(ds)


def test_each_iter_is_a_new_epoch_and_set_epoch_replays_one(image_folder):
    ds = ferry.ImageFolder(str(image_folder), pipeline="train", size=24)
    loader = ferry.DataLoader(ds, batch_size=8, shuffle=True, seed=5)
    e0 = epoch_bytes(loader)
    assert loader.next_epoch == 1
    e1 = epoch_bytes(loader)
    assert e0 != e1
    loader.set_epoch(0)
    assert epoch_bytes(loader) == e0


@pytest.mark.parametrize("kind", DATASET_KINDS)
@pytest.mark.parametrize("workers,in_order", [(1, True), (2, True), (2, False)])
def test_workers_give_the_same_bytes_as_the_calling_thread(image_folder, workers, in_order, kind):
    ref = folder_loader(kind, image_folder, batch_size=8, shuffle=True, seed=11)
    other = folder_loader(kind, image_folder, batch_size=8, shuffle=True, seed=11, num_workers=workers,
                          in_order=in_order)
    for _ in range(2):
        a, b = epoch_bytes(ref), epoch_bytes(other)
        if in_order:
            assert a == b
        else:
            assert len(a) == len(b)


@pytest.mark.parametrize("pipeline", ["train", "raw"])
def test_spawned_workers_give_the_same_bytes(image_folder, pipeline):
    ds = ferry.ImageFolder(str(image_folder), pipeline=pipeline, size=24)
    ref = ferry.DataLoader(ds, batch_size=8, shuffle=True, seed=2)
    spawned = ferry.DataLoader(ds, batch_size=8, shuffle=True, seed=2, num_workers=2, start_method="spawn")
    assert epoch_bytes(ref) == epoch_bytes(spawned)
    with pytest.raises(ferry.InvalidOption, match="start_method"):
        ferry.DataLoader(ds, start_method="thread")


@pytest.mark.parametrize("pipeline", ["train", "val_u8", "raw"])
def test_same_bytes_as_the_cpp_loader(image_folder, dump_batches_tool, tmp_path, pipeline):
    out = tmp_path / "cpp.bin"
    subprocess.run([dump_batches_tool, str(image_folder), pipeline, "32", "8", "2", "42", "1", "2", str(out)],
                   check=True)
    ds = ferry.open_dataset(str(image_folder), pipeline=pipeline, size=32)
    loader = ferry.DataLoader(ds, batch_size=8, num_workers=2, seed=42, shuffle=True)
    mine = epoch_bytes(loader) + epoch_bytes(loader)
    assert mine == out.read_bytes()


def test_file_list_datasets_open_by_spec(image_folder, tmp_path):
    ds = ferry.ImageFolder(str(image_folder), pipeline="val", size=16)
    csv = tmp_path / "list.csv"
    csv.write_text("path,label\n" + "".join(f"{ds.path(i)},{ds.label(i)}\n" for i in range(len(ds))))
    from_list = ferry.open_dataset(str(csv), pipeline="val", size=16)
    assert len(from_list) == len(ds)
    a = epoch_bytes(ferry.DataLoader(ds, batch_size=10))
    b = epoch_bytes(ferry.DataLoader(from_list, batch_size=10))
    assert a == b


def test_state_dict_restores_the_epoch(image_folder):
    ds = ferry.ImageFolder(str(image_folder), pipeline="train", size=16)
    loader = ferry.DataLoader(ds, batch_size=8, shuffle=True, seed=3)
    epoch_bytes(loader)
    epoch_bytes(loader)
    state = loader.state_dict()
    assert state["epoch"] == 2
    want = epoch_bytes(loader)
    fresh = ferry.DataLoader(ds, batch_size=8, shuffle=True, seed=3, num_workers=2)
    fresh.load_state_dict(state)
    assert epoch_bytes(fresh) == want
    with pytest.raises(ferry.InvalidOption, match="seed"):
        ferry.DataLoader(ds, batch_size=8, seed=4).load_state_dict(state)


def test_stats_and_describe(image_folder):
    ds = ferry.ImageFolder(str(image_folder), pipeline="val", size=16)
    loader = ferry.DataLoader(ds, batch_size=8, num_workers=2)
    epoch_bytes(loader)
    s = loader.stats()
    assert s["batches"] == 5 and s["samples"] == 40 and s["worker_starts"] == 1
    assert s["stage_s"]["decode"] > 0
    text = loader.describe()
    assert "ImageFolder" in text and "workers: 2" in text


def test_bad_options_raise_invalid_option_naming_the_option(image_folder):
    ds = ferry.ImageFolder(str(image_folder), pipeline="val", size=16)
    with pytest.raises(ferry.InvalidOption, match="batch_size"):
        ferry.DataLoader(ds, batch_size=0)
    with pytest.raises(ValueError, match="on_bad_sample"):
        ferry.DataLoader(ds, on_bad_sample="ignore")
    with pytest.raises(ferry.InvalidOption, match="pin_memory"):
        ferry.DataLoader(ds, pin_memory="always")
    with pytest.raises(ferry.InvalidOption, match="pipeline|train"):
        ferry.ImageFolder(str(image_folder), pipeline="nope")
    with pytest.raises(ferry.DataError):
        ferry.ImageFolder("/nonexistent/ferry")


@pytest.mark.parametrize("kind", DATASET_KINDS)
def test_distributed_ranks_split_the_epoch(image_folder, kind):
    ds = ferry.ImageFolder(str(image_folder), pipeline="val", size=16)
    seen = []
    for rank in range(2):
        loader = folder_loader(kind, image_folder, "val", 16, batch_size=5, shuffle=True, seed=1, rank=rank,
                               world_size=2)
        assert len(loader) == 4
        seen += [int(x) for b in loader for x in np.from_dlpack(b["label"])]
    assert sorted(seen) == sorted(ds.label(i) for i in range(len(ds)))


@pytest.mark.parametrize("kind", DATASET_KINDS)
def test_state_dict_mid_epoch_resumes_the_rest_of_the_epoch(image_folder, kind):
    loader = folder_loader(kind, image_folder, "train", 16, batch_size=8, shuffle=True, seed=9)
    loader.set_epoch(4)
    full = [np.from_dlpack(b["image"]).tobytes() for b in loader]
    loader.set_epoch(4)
    it = iter(loader)
    next(it), next(it)
    state = loader.state_dict()
    assert state["epoch"] == 4 and state["batches_delivered"] == 2
    fresh = folder_loader(kind, image_folder, "train", 16, batch_size=8, shuffle=True, seed=9, num_workers=2)
    fresh.load_state_dict(state)
    rest = [np.from_dlpack(b["image"]).tobytes() for b in fresh]
    assert rest == full[2:]


def test_pin_memory_auto_runs_everywhere_and_true_needs_a_gpu(image_folder):
    ds = ferry.ImageFolder(str(image_folder), pipeline="val", size=16)
    auto = ferry.DataLoader(ds, batch_size=8, num_workers=1, pin_memory="auto")
    assert sum(b["label"].shape[0] for b in auto) == len(ds)
    try:
        pinned = ferry.DataLoader(ds, batch_size=8, num_workers=1, pin_memory=True)
        assert sum(b["label"].shape[0] for b in pinned) == len(ds)
    except ferry.InvalidOption as e:  # no CUDA build or no usable GPU: refused with the reason
        assert "GPU" in str(e) or "CUDA" in str(e)


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def _until(predicate, seconds=10.0):
    import time

    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


@pytest.mark.parametrize("persistent", [False, True])
def test_a_dropped_iterator_stops_the_workers_of_a_non_persistent_loader(image_folder, persistent):
    # PyTorch's test_partial_workers: breaking out of an epoch and dropping
    # its iterator must not leave the workers running until the next iter().
    ds = ferry.ImageFolder(str(image_folder), pipeline="val", size=16)
    loader = ferry.DataLoader(ds, batch_size=4, num_workers=2, persistent_workers=persistent)
    it = iter(loader)
    next(it)
    next(it)
    pids = loader.worker_pids()
    assert len(pids) == 2
    del it
    if persistent:
        assert loader.worker_pids() == pids and all(_alive(p) for p in pids)
    else:
        assert loader.worker_pids() == []
        assert _until(lambda: not any(_alive(p) for p in pids))
    assert sum(len(b["label"]) for b in loader) == len(ds)  # the next epoch is whole
