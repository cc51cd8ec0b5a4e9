#!/usr/bin/env python3
"""ferry-bench against torch.utils.data.DataLoader, side by side, alternating.

    bash scripts/setup --with-torch        # once: .venv with torch + torchvision
    .venv/bin/python tools/compare_pytorch.py --data ../shared/data/imagenet-1k-sample \
        --workers 2 --pipelines train,val --rounds 5

    tools/compare_pytorch.py --data DIR --workers 16 --device cuda   # on a GPU machine

Both loaders read the same ImageFolder with the same number of worker
processes, the same batch size and the same transforms:
  train: RandomResizedCrop(224) + RandomHorizontalFlip + ToTensor + Normalize
  val:   Resize(256) + CenterCrop(224) + ToTensor + Normalize
With --device cuda every batch is delivered to GPU 0 and the consumer waits
for its copy before taking the next: ferry-bench --device cuda (the loader's
page-locked arenas and copy stream), against torch's DataLoader with
pin_memory=True and images.to("cuda", non_blocking=True) followed by a wait on
the current stream. ferry's side only needs the ferry-bench binary
(--ferry-bench), not the Python module.
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
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


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


def process_cpu_seconds(pid):
    """utime + stime of a live process, from /proc/<pid>/stat."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------
# Measuring a process tree from outside.
# --------------------------------------------------------------------------
def _children_map():
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(name))
    return children


def _tree(root):
    children = _children_map()
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _kib_field(path, field):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class TreeMemory(threading.Thread):
    """Peak summed RSS and PSS of a process and its descendants."""

    def __init__(self, pid, period=0.1):
        super().__init__(daemon=True)
        self.pid, self.period = pid, period
        self.peak_rss = self.peak_pss = 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            rss = pss = 0
            for pid in _tree(self.pid):
                rss += _kib_field(f"/proc/{pid}/status", "VmRSS:")
                pss += _kib_field(f"/proc/{pid}/smaps_rollup", "Pss:")
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
            self.stop.wait(self.period)


def measured_run(cmd):
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    mem = TreeMemory(proc.pid)
    mem.start()
    out, err = proc.communicate()
    mem.stop.set()
    mem.join()
    if proc.returncode != 0:
        sys.exit(f"compare_pytorch: {' '.join(cmd)} failed ({proc.returncode}):\n{err}")
    return json.loads(out), mem.peak_rss, mem.peak_pss


def ferry_cmd(a, pipeline, seed):
    return [a.ferry_bench, "--data", a.data, "--pipeline", pipeline, "--workers", str(a.workers), "--batch-size",
            str(a.batch_size), "--epochs", str(a.epochs), "--seed", str(seed), "--json", "-", "--no-progress",
            "--device", a.device]


def torch_cmd(a, pipeline, seed):
    return [sys.executable, os.path.abspath(__file__), "--torch-child", "--data", a.data, "--pipeline", pipeline,
            "--workers", str(a.workers), "--batch-size", str(a.batch_size), "--epochs", str(a.epochs), "--seed",
            str(seed), "--device", a.device]


def warm_page_cache(root):
    for dirpath, _, files in os.walk(root):
        for name in files:
            with open(os.path.join(dirpath, name), "rb") as f:
                while f.read(1 << 20):
                    pass


def mib(b):
    return f"{b / 2**20:.0f} MiB"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="an ImageFolder directory")
    p.add_argument("--pipelines", default="train", help="comma-separated: train, val")
    p.add_argument("--pipeline", default="train", help=argparse.SUPPRESS)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=1, help="epochs per run")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds; the table shows medians")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                   help="cuda: deliver every batch to GPU 0 (pinned host memory, async copy, wait)")
    p.add_argument("--ferry-bench", default=os.path.join(ROOT, "build", "bin", "ferry-bench"))
    p.add_argument("--json", help="also write all runs and the medians to this file")
    p.add_argument("--torch-child", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.torch_child:
        torch_child(a)
        return
    if not os.path.isdir(a.data):
        sys.exit(f"compare_pytorch: --data {a.data} is not a directory (an ImageFolder is needed for torchvision)")
    if not os.access(a.ferry_bench, os.X_OK):
        sys.exit(f"compare_pytorch: {a.ferry_bench} not found; build first (scripts/build)")
    pipelines = [s for s in a.pipelines.split(",") if s]
    for s in pipelines:
        if s not in ("train", "val"):
            sys.exit(f"compare_pytorch: pipeline '{s}' has no torchvision equivalent here (train, val)")

    warm_page_cache(a.data)
    runs = {(pl, tool): [] for pl in pipelines for tool in ("ferry", "torch")}
    for r in range(a.rounds):
        for pl in pipelines:
            order = ("ferry", "torch") if r % 2 == 0 else ("torch", "ferry")
            for tool in order:
                cmd = ferry_cmd(a, pl, a.seed + r) if tool == "ferry" else torch_cmd(a, pl, a.seed + r)
                report, rss, pss = measured_run(cmd)
                runs[(pl, tool)].append({"images_per_s": report["images_per_s"], "images": report["images"],
                                         "images_per_cpu_s": report.get("images_per_cpu_s", 0),
                                         "peak_rss_bytes": rss, "peak_pss_bytes": pss})
                print(f"round {r + 1}/{a.rounds} {pl:5s} {tool:5s}: {report['images_per_s']:7.1f} images/s, "
                      f"{report.get('images_per_cpu_s', 0):6.1f} images/CPU-s, peak RSS {mib(rss)}, PSS {mib(pss)}, "
                      f"load {os.getloadavg()[0]:.1f}", flush=True)

    def med(pl, tool, key):
        return statistics.median(x[key] for x in runs[(pl, tool)])

    print()
    print(f"{a.rounds} alternating rounds, {a.workers} workers, batch {a.batch_size}, {a.epochs} epoch(s) per run, "
          f"device {a.device}, medians; data {a.data}")
    header = ("| pipeline | ferry images/s | torch images/s | ratio | ferry images/CPU-s | torch images/CPU-s "
              "| ratio | ferry peak RSS | torch peak RSS | ferry peak PSS | torch peak PSS |")
    print(header)
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    summary = {}
    for pl in pipelines:
        row = {k: {tool: med(pl, tool, k) for tool in ("ferry", "torch")}
               for k in ("images_per_s", "images_per_cpu_s", "peak_rss_bytes", "peak_pss_bytes")}
        f, t = row["images_per_s"]["ferry"], row["images_per_s"]["torch"]
        fc, tc = row["images_per_cpu_s"]["ferry"], row["images_per_cpu_s"]["torch"]
        row["ratio"] = f / t if t > 0 else 0
        row["cpu_ratio"] = fc / tc if tc > 0 else 0
        summary[pl] = row
        print(f"| {pl} | {f:.1f} | {t:.1f} | {row['ratio']:.2f}x | {fc:.1f} | {tc:.1f} | {row['cpu_ratio']:.2f}x "
              f"| {mib(row['peak_rss_bytes']['ferry'])} | {mib(row['peak_rss_bytes']['torch'])} "
              f"| {mib(row['peak_pss_bytes']['ferry'])} | {mib(row['peak_pss_bytes']['torch'])} |")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"args": vars(a), "runs": {f"{k[0]}/{k[1]}": v for k, v in runs.items()}, "medians": summary},
                      fh, indent=2)


if __name__ == "__main__":
    main()
