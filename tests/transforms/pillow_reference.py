#!/usr/bin/python3
"""Pillow reference outputs for ferry's transform tests (image_pipeline_test.cc).

Reads one job per line on stdin and writes each result's raw bytes to stdout,
in order:
  PATH MODE resize_box W H X0 Y0 X1 Y1    Image.resize((W, H), BILINEAR, box=(X0, Y0, X1, Y1))
  PATH MODE resize_crop RW RH LEFT TOP S  Image.resize((RW, RH), BILINEAR).crop((LEFT, TOP, LEFT+S, TOP+S))
MODE is the mode the decoded image is converted to first: RGB or L.
This is what torchvision's RandomResizedCrop / Resize+CenterCrop do on PIL images.
"""
import sys

from PIL import Image

out = sys.stdout.buffer
for line in sys.stdin:
    f = line.split()
    if not f:
        continue
    path, mode, op, a = f[0], f[1], f[2], [float(x) for x in f[3:]]
    with Image.open(path) as im:
        im = im.convert(mode)
        if op == "resize_box":
            r = im.resize((int(a[0]), int(a[1])), Image.BILINEAR, box=(a[2], a[3], a[4], a[5]))
        elif op == "resize_crop":
            left, top, s = int(a[2]), int(a[3]), int(a[4])
            r = im.resize((int(a[0]), int(a[1])), Image.BILINEAR).crop((left, top, left + s, top + s))
        else:
            sys.exit("unknown op " + op)
        out.write(r.tobytes())
out.flush()
