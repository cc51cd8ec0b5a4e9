#!/usr/bin/env python3
"""ferry-bench against torch.utils.data.DataLoader, side by side, alternating.

    bash scripts/setup --with-torch        # once: .venv with torch + torchvision
    .venv/bin/python tools/compare_pytorch.py --data ../shared/data/imagenet-1k-sample \
        --workers 2 --pipelines train,val --rounds 5

Both loaders read the same ImageFolder with the same number of worker
processes, the same batch size and the same transforms:
  train: RandomResizedCrop(224) + RandomHorizontalFlip + ToTensor + Normalize
  val:   Resize(256) + CenterCrop(224) + ToTensor + Normalize
Each run is its own process. Rounds alternate the two loaders (and swap which
goes first every round), so drift of a shared machine hits both alike; the
table shows medians over the rounds.

Python datasets (--python-cases) run the same Python dataset object through
torch.utils.data.DataLoader and ferry.DataLoader (needs the ferry module:
build first; the script finds build/python/module):
  array:  __getitem__ returns a 3x224x224 float32 numpy array and a label
  pil:    torchvision.datasets.ImageFolder with PIL + the train transforms
  hybrid: __getitem__ returns the JPEG's bytes; ferry decodes them with its
          native train pipeline (transforms={"image": "train"}); compared
          with ferry.ImageFolder(pipeline="train") through the same binding

    .venv/bin/python tools/compare_pytorch.py --data ../shared/data/imagenet-1k-sample \
        --pipelines '' --python-cases array,pil,hybrid --rounds 5

images/s is images delivered over the time from starting the first epoch's
iteration (which starts the workers) to the last batch, the same window for
both tools. images/CPU-s divides the same images by the CPU time (user +
system) the main process and its workers used in that window: on a machine
shared with other work it shows the cost per image even when the wall clock
does not. Memory is measured the same way for both from outside: every
100 ms the script sums VmRSS and Pss (/proc/<pid>/smaps_rollup) over the run's
process and all its descendants, and keeps the peaks. RSS counts shared
batch memory once per process that maps it; PSS splits it among them.
"""
import argparse
import os
import sys
import time

from comparison import (ROOT, add_arguments, checked_pipelines, ferry_cmd, print_medians, print_child_report,
                        process_cpu_seconds, run_rounds, write_json)


# --------------------------------------------------------------------------
# The torch side: runs in its own process (--torch-child), prints one JSON line.
# --------------------------------------------------------------------------
def torch_child(args):
    import torch
    import torchvision.transforms as T
    from torchvision.datasets import ImageFolder

    normalize = T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
    if args.pipeline == "train":
        transform = T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.ToTensor(), normalize])
    else:
        transform = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), normalize])
    torch.manual_seed(args.seed)
    dataset = ImageFolder(args.data, transform=transform)
    extra = {}
    if args.workers > 0:
        extra = dict(persistent_workers=True, prefetch_factor=2)
    cuda = args.device == "cuda"
    if cuda and not torch.cuda.is_available():
        sys.exit("compare_pytorch: --device cuda, but torch sees no usable GPU")
    loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch_size, shuffle=True,
                                         num_workers=args.workers, pin_memory=cuda, **extra)
    deliver = None
    if cuda:
        torch.cuda.init()  # context creation outside the measured window, as ferry-bench's loader setup

        def deliver(batch):
            for t in batch:
                t.to("cuda", non_blocking=True)
            torch.cuda.current_stream().synchronize()  # as ferry-bench waits for each copy
    timed_epochs(loader, args.epochs, torch_worker_pids, lambda batch: batch[0], deliver)


def torch_worker_pids(iterator):
    return [w.pid for w in getattr(iterator, "_workers", [])]


def timed_epochs(loader, epochs, worker_pids_of, images_of, deliver=None):
    """Runs `epochs` epochs, handing each batch to `deliver` when given; prints
    one JSON line: images, wall and CPU time."""
    images = 0
    worker_pids = set()
    start = time.perf_counter()
    cpu_start = time.process_time()
    for _ in range(epochs):
        it = iter(loader)
        for batch in it:
            if deliver is not None:
                deliver(batch)
            images += images_of(batch).shape[0]
            worker_pids.update(worker_pids_of(it))
    wall = time.perf_counter() - start
    # Workers are persistent and still alive: their whole CPU time lies in the window.
    cpu = time.process_time() - cpu_start + sum(process_cpu_seconds(pid) for pid in worker_pids)
    print_child_report(images, wall, cpu)


# --------------------------------------------------------------------------
# Python datasets: one object, two loaders (--python-child).
# --------------------------------------------------------------------------
class ArrayDataset:
    """Case array: a 3x224x224 float32 array and a label per sample, made in
    __getitem__ (what a dataset of preprocessed tensors costs a loader)."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        import numpy as np
        return np.full((3, 224, 224), (i % 251) / 251, np.float32), i % 1000


class EncodedFolder:
    """Case hybrid: the files of an ImageFolder as bytes, decoded by ferry."""

    def __init__(self, root):
        from torchvision.datasets import ImageFolder
        self.samples = ImageFolder(root).samples

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        path, label = self.samples[i]
        with open(path, "rb") as f:
            return {"image": f.read(), "label": label}


def python_case_dataset(a):
    if a.python_child == "array":
        return ArrayDataset(a.array_samples)
    if a.python_child == "pil":
        import torchvision.transforms as T
        from torchvision.datasets import ImageFolder
        normalize = T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
        return ImageFolder(a.data, transform=T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(),
                                                         T.ToTensor(), normalize]))
    return EncodedFolder(a.data)


def import_ferry():
    try:
        import ferry
    except ImportError:
        sys.path.insert(0, os.path.join(ROOT, "build", "python", "module"))
        import ferry
    return ferry


def python_child(a):
    """Runs one loader over one case's dataset; prints one JSON line."""
    import torch
    torch.manual_seed(a.seed)
    opts = dict(batch_size=a.batch_size, shuffle=True, num_workers=a.workers)
    if a.workers > 0:
        opts.update(persistent_workers=True, prefetch_factor=2)
    if a.tool == "torch":
        loader = torch.utils.data.DataLoader(python_case_dataset(a), **opts)
        pids_of, unpack = torch_worker_pids, lambda batch: batch[0]
    else:
        ferry = import_ferry()
        if a.tool == "ferry-imagefolder":
            dataset, extra = ferry.ImageFolder(a.data, pipeline="train"), {}
        elif a.python_child == "hybrid":
            dataset, extra = python_case_dataset(a), {"transforms": {"image": "train"}}
        else:
            dataset, extra = python_case_dataset(a), {}
        loader = ferry.DataLoader(dataset, seed=a.seed, **opts, **extra)
        pids_of = lambda it: loader.worker_pids()  # noqa: E731
        unpack = lambda batch: torch.from_dlpack(batch["image"] if isinstance(batch, dict) else batch[0])  # noqa: E731
    timed_epochs(loader, a.epochs, pids_of, unpack)


def torch_cmd(a, pipeline, seed):
    return [sys.executable, os.path.abspath(__file__), "--torch-child", "--data", a.data, "--pipeline", pipeline,
            "--workers", str(a.workers), "--batch-size", str(a.batch_size), "--epochs", str(a.epochs), "--seed",
            str(seed), "--device", a.device]


def python_cmd(a, case, tool, seed):
    return [sys.executable, os.path.abspath(__file__), "--python-child", case, "--tool", tool, "--data", a.data,
            "--workers", str(a.workers), "--batch-size", str(a.batch_size), "--epochs", str(a.epochs), "--seed",
            str(seed), "--array-samples", str(a.array_samples)]


# The two loaders each Python case compares: (first, second); ratio = first / second.
PYTHON_CASE_TOOLS = {"array": ("ferry", "torch"), "pil": ("ferry", "torch"), "hybrid": ("ferry", "ferry-imagefolder")}


def checked_python_cases(a):
    cases = [s for s in a.python_cases.split(",") if s]
    for s in cases:
        if s not in PYTHON_CASE_TOOLS:
            sys.exit(f"compare_pytorch: --python-cases '{s}' is not one of {', '.join(PYTHON_CASE_TOOLS)}")
    if cases:
        import_ferry()  # fail here, not in every child, when the module is not built
    return cases


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_arguments(p)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                   help="cuda: deliver every batch to GPU 0 (pinned host memory, async copy, wait)")
    p.add_argument("--python-cases", default="", help="comma-separated: array, pil, hybrid (Python datasets)")
    p.add_argument("--array-samples", type=int, default=1024, help="samples per epoch of the array case")
    p.add_argument("--torch-child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--python-child", help=argparse.SUPPRESS)
    p.add_argument("--tool", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.torch_child:
        torch_child(a)
        return
    if a.python_child:
        python_child(a)
        return
    pipelines = checked_pipelines(a, "compare_pytorch", "torchvision")
    python_cases = checked_python_cases(a)
    if not pipelines and not python_cases:
        sys.exit("compare_pytorch: nothing to run (--pipelines and --python-cases are both empty)")

    def command(tool, pipeline, seed):
        return ferry_cmd(a, pipeline, seed, a.device) if tool == "ferry" else torch_cmd(a, pipeline, seed)

    runs, medians = {}, {}
    if pipelines:
        runs.update(run_rounds(a, pipelines, ("ferry", "torch"), command, "compare_pytorch"))
    for case in python_cases:
        tools = PYTHON_CASE_TOOLS[case]
        runs.update(run_rounds(a, [case], tools, lambda tool, c, seed: python_cmd(a, c, tool, seed),
                               "compare_pytorch"))
    print()
    print(f"{a.rounds} alternating rounds, {a.workers} workers, batch {a.batch_size}, {a.epochs} epoch(s) per run, "
          f"device {a.device}, medians; data {a.data}")
    if pipelines:
        medians.update(print_medians(pipelines, ("ferry", "torch"), ("ferry", "torch"), runs))
    for case in python_cases:
        tools = PYTHON_CASE_TOOLS[case]
        print()
        medians.update(print_medians([case], tools, tools, runs))
    write_json(a, runs, medians)


if __name__ == "__main__":
    main()
