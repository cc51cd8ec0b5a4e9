#!/usr/bin/env python3
"""Train a small torchvision ResNet on an ImageFolder, fed by ferry.

    .venv/bin/python tools/train_example.py --data ../shared/data/imagenet-1k-sample
    .venv/bin/python tools/train_example.py --data ... --baseline   # torch.utils.data.DataLoader

Prints the loss and images/s every --log-every steps, then a summary line with
the overall images/s and the share of time the loop waited for data. Batches
from ferry reach torch through DLPack without a copy (torch.from_dlpack); the
memory goes back to ferry's workers when the tensors are freed.

Needs torch and torchvision (bash scripts/setup --with-torch makes .venv) and
the ferry module (built into build/python/module or build-py/module,
or pip-installed).
"""
import argparse
import os
import pathlib
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]


def import_ferry():
    try:
        import ferry
        return ferry
    except ImportError:
        for cand in ("build/python/module", "build-py/module"):
            if (REPO / cand).is_dir():
                sys.path.insert(0, str(REPO / cand))
                try:
                    import ferry
                    return ferry
                except ImportError:
                    sys.path.pop(0)
    sys.exit("train_example: cannot import ferry: build it (cmake -S python -B build-py && "
             "cmake --build build-py --target ferry_python) or pip install . at the repository root")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(REPO.parent / "shared/data/imagenet-1k-sample"),
                   help="ImageFolder root (class folders of JPEGs)")
    p.add_argument("--baseline", action="store_true", help="use torch.utils.data.DataLoader + torchvision")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--arch", default="resnet18", help="a torchvision.models constructor name")
    p.add_argument("--size", type=int, default=None, help="crop side (default 224 on CUDA, 64 on CPU)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log-every", type=int, default=20)
    p.add_argument("--threads", type=int, default=0,
                   help="torch intra-op threads (0: on CPU, the cores the data workers leave free, at least 1)")
    return p.parse_args()


def ferry_batches(args, ferry, torch, device):
    ds = ferry.ImageFolder(args.data, pipeline="train", size=args.size)
    loader = ferry.DataLoader(ds, batch_size=args.batch_size, shuffle=True, num_workers=args.workers,
                              drop_last=True, persistent_workers=True, seed=args.seed)
    print(loader.describe(), flush=True)
    while True:
        for batch in loader:
            x = torch.from_dlpack(batch["image"])  # no copy: a view of the shared slot
            y = torch.from_dlpack(batch["label"])
            if device.type == "cuda":
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            yield x, y, ds.num_classes


def torch_batches(args, torch, device):
    import torchvision
    from torchvision import transforms as T

    tf = T.Compose([T.RandomResizedCrop(args.size), T.RandomHorizontalFlip(), T.ToTensor(),
                    T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    ds = torchvision.datasets.ImageFolder(args.data, transform=tf)
    loader = torch.utils.data.DataLoader(ds, batch_size=args.batch_size, shuffle=True, num_workers=args.workers,
                                         drop_last=True, persistent_workers=args.workers > 0,
                                         pin_memory=device.type == "cuda")
    print(f"torch DataLoader: {ds}, {args.workers} workers", flush=True)
    while True:
        for x, y in loader:
            yield x.to(device, non_blocking=True), y.to(device, non_blocking=True), len(ds.classes)


def main():
    args = parse_args()
    try:
        import torch
        import torchvision
    except ImportError:
        sys.exit("train_example: needs torch and torchvision (bash scripts/setup --with-torch; run with .venv/bin/python)")
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(args.device)
    if args.size is None:
        args.size = 224 if device.type == "cuda" else 64
    if not args.threads and device.type == "cpu":
        # Oversubscribed cores (torch's threads + data workers) cost far more
        # than they give: measured 1.0 s vs 3-6 s per step on 2 cores.
        args.threads = max(1, (os.cpu_count() or 1) - args.workers)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    if args.baseline:
        batches = torch_batches(args, torch, device)
    else:
        batches = ferry_batches(args, import_ferry(), torch, device)

    print(f"{'baseline torch' if args.baseline else 'ferry'}: {args.arch} on {device}, "
          f"{args.size}x{args.size}, batch {args.batch_size}, {args.steps} steps, "
          f"{torch.get_num_threads()} torch threads, {args.workers} data workers", flush=True)
    model = None
    wait_s = 0.0
    t_start = t_log = time.perf_counter()
    images = images_log = 0
    for step in range(1, args.steps + 1):
        t0 = time.perf_counter()
        x, y, num_classes = next(batches)
        wait_s += time.perf_counter() - t0
        if model is None:
            model = getattr(torchvision.models, args.arch)(num_classes=num_classes).to(device)
            if device.type == "cuda":
                model = model.to(memory_format=torch.channels_last)
            opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=1e-4)
            sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps)
            t_start = t_log = time.perf_counter()
            wait_s = 0.0
        if device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        del x, y  # hand ferry's slot back before the next batch is requested
        images += args.batch_size
        images_log += args.batch_size
        if step % args.log_every == 0 or step == args.steps:
            if device.type == "cuda":
                torch.cuda.synchronize()
            now = time.perf_counter()
            print(f"step {step:5d}  loss {loss.item():.4f}  {images_log / (now - t_log):8.1f} images/s", flush=True)
            t_log, images_log = now, 0
    total = time.perf_counter() - t_start
    print(f"done: {images / total:.1f} images/s over {args.steps} steps ({total:.1f} s), "
          f"waiting for data {100 * wait_s / total:.1f}% of the time", flush=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
