"""The Python side of ferry-bench-transforms: Pillow and torchvision on the same files, one core.

Started by the tool as `PYTHON python_modes.py LIST_DIR`; LIST_DIR holds
jpeg.txt, png.txt and webp.txt (one file path per line). It loads every file
into memory, prints "ready MODE..." with the modes it can run, then for each
line "MODE" on stdin runs one pass over that mode's files and prints
"MODE IMAGES THREAD_CPU_SECONDS WALL_SECONDS" (a failed mode prints
"MODE error MESSAGE"). Modes:
  pillow-png, pillow-webp   Image.open(bytes).convert("RGB"), fully decoded
  torchvision-train-jitter  RandomResizedCrop(224), RandomHorizontalFlip(),
                            ColorJitter(0.4, 0.4, 0.4, 0.1), ToTensor(), Normalize()
                            on PIL images decoded from the JPEG bytes
"""
import io
import os
import sys
import time

from PIL import Image


def load(list_dir, name):
    path = os.path.join(list_dir, name + ".txt")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        paths = [p.strip() for p in f if p.strip()]
    out = []
    for p in paths:
        with open(p, "rb") as g:
            out.append(g.read())
    return out


def decode_all(files):
    for b in files:
        Image.open(io.BytesIO(b)).convert("RGB").load()


def main():
    list_dir = sys.argv[1]
    files = {"jpeg": load(list_dir, "jpeg"), "png": load(list_dir, "png"), "webp": load(list_dir, "webp")}
    modes = {}
    if files["png"]:
        modes["pillow-png"] = (files["png"], decode_all)
    if files["webp"]:
        modes["pillow-webp"] = (files["webp"], decode_all)
    try:
        import torch
        import torchvision.transforms as T

        torch.set_num_threads(1)
        train = T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.ColorJitter(0.4, 0.4, 0.4, 0.1),
                           T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])

        def train_all(jpegs):
            for b in jpegs:
                train(Image.open(io.BytesIO(b)).convert("RGB"))

        if files["jpeg"]:
            modes["torchvision-train-jitter"] = (files["jpeg"], train_all)
    except ImportError:
        pass
    print("ready " + " ".join(modes), flush=True)
    for line in sys.stdin:
        mode = line.strip()
        if not mode:
            continue
        if mode not in modes:
            print(mode + " error unknown mode", flush=True)
            continue
        data, run = modes[mode]
        try:
            c0, w0 = time.thread_time(), time.perf_counter()
            run(data)
            print("%s %d %.6f %.6f" % (mode, len(data), time.thread_time() - c0, time.perf_counter() - w0), flush=True)
        except Exception as e:  # a mode that fails says why and the tool carries on
            print(mode + " error " + str(e).replace("\n", " "), flush=True)


main()
