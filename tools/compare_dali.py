#!/usr/bin/env python3
"""ferry-bench against an NVIDIA DALI CPU pipeline, side by side, alternating.

    bash scripts/setup --with-dali         # once: .venv with nvidia-dali-cuda130 from PyPI
    .venv/bin/python tools/compare_dali.py --data ../shared/data/imagenet-1k-sample \
        --workers 2 --pipelines train,val --rounds 5

Both read the same ImageFolder (DALI's file reader takes the same
root/<class>/<file> layout), with the same batch size and the same work per
image, on the CPU only (DALI runs with device_id=None: no GPU is touched):
  train: a random crop of 8-100 % of the area and aspect 3/4-4/3 (decoded
         straight into the crop) + resize to 224x224 + random flip +
         normalize, float32 CHW
  val:   decode + resize of the shorter side to 256 + center crop 224 +
         normalize, float32 CHW
ferry runs `--workers` worker processes; DALI runs one process with
`--workers` threads (num_threads), its way of using the same cores. Each run
is its own process; rounds alternate the two (and swap which goes first), so
drift of a shared machine hits both alike; the table shows medians.
images/s and images per CPU-second are measured as in compare_pytorch.py; the
DALI window starts after build() and includes its first run() (ferry's includes
worker start), with the same peak RSS/PSS sampling of the process tree.
"""
import argparse
import importlib.util
import math
import os
import subprocess
import sys
import time

from comparison import (add_arguments, checked_pipelines, ferry_cmd, print_child_report, print_medians, run_rounds,
                        write_json)

DALI_PACKAGE = "nvidia-dali-cuda130"
MEAN = [0.485 * 255, 0.456 * 255, 0.406 * 255]
STD = [0.229 * 255, 0.224 * 255, 0.225 * 255]


# --------------------------------------------------------------------------
# The DALI side: runs in its own process (--dali-child), prints one JSON line.
# --------------------------------------------------------------------------
def dali_pipeline(args):
    from nvidia.dali import fn, pipeline_def, types

    @pipeline_def(batch_size=args.batch_size, num_threads=max(1, args.workers), device_id=None, seed=args.seed,
                  prefetch_queue_depth=2)
    def pipe():
        jpegs, labels = fn.readers.file(file_root=args.data, random_shuffle=True, name="reader")
        if args.pipeline == "train":
            images = fn.decoders.image_random_crop(jpegs, device="cpu", output_type=types.RGB,
                                                   random_area=[0.08, 1.0], random_aspect_ratio=[3 / 4, 4 / 3])
            images = fn.resize(images, resize_x=224, resize_y=224)
            mirror = fn.random.coin_flip(probability=0.5)
            images = fn.crop_mirror_normalize(images, dtype=types.FLOAT, output_layout="CHW", mean=MEAN, std=STD,
                                              mirror=mirror)
        else:
            images = fn.decoders.image(jpegs, device="cpu", output_type=types.RGB)
            images = fn.resize(images, resize_shorter=256)
            images = fn.crop_mirror_normalize(images, dtype=types.FLOAT, output_layout="CHW", crop=(224, 224),
                                              mean=MEAN, std=STD)
        return images, labels

    return pipe()


def dali_child(args):
    pipe = dali_pipeline(args)
    pipe.build()
    per_epoch = pipe.epoch_size("reader")
    steps = math.ceil(per_epoch / args.batch_size)
    images = 0
    start = time.perf_counter()
    cpu_start = time.process_time()  # all of DALI's threads live in this process
    for _ in range(args.epochs):
        left = per_epoch
        for _ in range(steps):
            outputs = pipe.run()
            # The reader fills a last partial batch from the next epoch: count only this epoch's.
            images += min(left, len(outputs[0]))
            left -= args.batch_size
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    print_child_report(images, wall, cpu)


def dali_cmd(a, pipeline, seed):
    return [a.python, os.path.abspath(__file__), "--dali-child", "--data", a.data, "--pipeline", pipeline,
            "--workers", str(a.workers), "--batch-size", str(a.batch_size), "--epochs", str(a.epochs), "--seed",
            str(seed)]


def require_dali(python):
    """Exits with a clear message unless `python` can import DALI."""
    if python == sys.executable:
        found = importlib.util.find_spec("nvidia") is not None and importlib.util.find_spec("nvidia.dali") is not None
    else:
        found = subprocess.run([python, "-c", "import nvidia.dali"], capture_output=True).returncode == 0
    if not found:
        sys.exit(f"compare_dali: NVIDIA DALI is not installed for {python}.\n"
                 f"  Install it with `bash scripts/setup --with-dali` (adds {DALI_PACKAGE} to .venv) and run this\n"
                 f"  script with .venv/bin/python, or `pip install {DALI_PACKAGE}` into the interpreter you use.")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_arguments(p, workers_help="ferry worker processes and DALI threads")
    p.add_argument("--python", default=sys.executable, help="the interpreter that runs the DALI side")
    p.add_argument("--dali-child", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.dali_child:
        dali_child(a)
        return
    require_dali(a.python)
    pipelines = checked_pipelines(a, "compare_dali", "DALI")

    def command(tool, pipeline, seed):
        return ferry_cmd(a, pipeline, seed) if tool == "ferry" else dali_cmd(a, pipeline, seed)

    runs = run_rounds(a, pipelines, ("ferry", "dali"), command, "compare_dali")
    print()
    print(f"{a.rounds} alternating rounds, {a.workers} workers (ferry processes, DALI threads), batch {a.batch_size}, "
          f"{a.epochs} epoch(s) per run, medians; data {a.data}")
    write_json(a, runs, print_medians(pipelines, ("ferry", "dali"), ("ferry", "DALI"), runs))


if __name__ == "__main__":
    main()
