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
import json
import os
import sys
import time

from comparison import add_arguments, checked_pipelines, ferry_cmd, print_medians, process_cpu_seconds, run_rounds


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
    if cuda:
        torch.cuda.init()  # context creation outside the measured window, as ferry-bench's loader setup
    images = 0
    worker_pids = set()
    start = time.perf_counter()
    cpu_start = time.process_time()
    for _ in range(args.epochs):
        it = iter(loader)
        worker_pids.update(w.pid for w in getattr(it, "_workers", []))
        for images_batch, labels in it:
            if cuda:
                images_batch = images_batch.to("cuda", non_blocking=True)
                labels = labels.to("cuda", non_blocking=True)
                torch.cuda.current_stream().synchronize()  # as ferry-bench waits for each copy
            images += images_batch.shape[0]
    wall = time.perf_counter() - start
    # Workers are persistent and still alive: their whole CPU time lies in the window.
    cpu = time.process_time() - cpu_start + sum(process_cpu_seconds(pid) for pid in worker_pids)
    print(json.dumps({"images": images, "wall_s": wall, "images_per_s": images / wall, "cpu_s": cpu,
                      "images_per_cpu_s": images / cpu if cpu > 0 else 0}), flush=True)


def torch_cmd(a, pipeline, seed):
    return [sys.executable, os.path.abspath(__file__), "--torch-child", "--data", a.data, "--pipeline", pipeline,
            "--workers", str(a.workers), "--batch-size", str(a.batch_size), "--epochs", str(a.epochs), "--seed",
            str(seed), "--device", a.device]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_arguments(p)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                   help="cuda: deliver every batch to GPU 0 (pinned host memory, async copy, wait)")
    p.add_argument("--torch-child", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.torch_child:
        torch_child(a)
        return
    pipelines = checked_pipelines(a, "compare_pytorch", "torchvision")

    def command(tool, pipeline, seed):
        return ferry_cmd(a, pipeline, seed, a.device) if tool == "ferry" else torch_cmd(a, pipeline, seed)

    runs = run_rounds(a, pipelines, ("ferry", "torch"), command, "compare_pytorch")
    print()
    print(f"{a.rounds} alternating rounds, {a.workers} workers, batch {a.batch_size}, {a.epochs} epoch(s) per run, "
          f"device {a.device}, medians; data {a.data}")
    print_medians(a, pipelines, ("ferry", "torch"), ("ferry", "torch"), runs)


if __name__ == "__main__":
    main()
