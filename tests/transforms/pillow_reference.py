#!/usr/bin/python3
"""Pillow reference outputs for ferry's transform tests.

Reads one job per line on stdin and writes each result's raw bytes to stdout,
in order:
  PATH MODE resize_box W H X0 Y0 X1 Y1    Image.resize((W, H), BILINEAR, box=(X0, Y0, X1, Y1))
  PATH MODE resize_crop RW RH LEFT TOP S  Image.resize((RW, RH), BILINEAR).crop((LEFT, TOP, LEFT+S, TOP+S))
  PATH MODE decode                        the decoded image's bytes
  PATH MODE bands_box W H X0 Y0 X1 Y1     resize_box band by band (no RGBA premultiplication)
  PATH - labels                           numpy.array(Image.open(PATH)) as uint16 (a label map)
  PATH - labels_nearest W H X0 Y0 X1 Y1   the same after resize((W, H), NEAREST, box=...)
MODE is the mode the decoded image is converted to first: RGB, RGBA or L, or
HIGH8 for a 16-bit grayscale PNG (Pillow's mode I) reduced to its high byte.
A resize_box op given as resize_box_bicubic or resize_box_nearest uses that
filter; resize_box_flip mirrors the bilinear result left-right.
This is what torchvision's transforms do on PIL images.
"""
import sys

import numpy as np
from PIL import Image

FILTERS = {"": Image.BILINEAR, "_flip": Image.BILINEAR, "_bicubic": Image.BICUBIC, "_nearest": Image.NEAREST}


def converted(im, mode):
    if mode == "HIGH8":
        return Image.fromarray((np.asarray(im, dtype=np.uint32) >> 8).astype(np.uint8), "L")
    return im.convert(mode)


def main():
    out = sys.stdout.buffer
    for line in sys.stdin:
        f = line.split()
        if not f:
            continue
        path, mode, op, a = f[0], f[1], f[2], [float(x) for x in f[3:]]
        with Image.open(path) as im:
            if op == "labels":
                out.write(np.asarray(im).astype("<u2").tobytes())
                continue
            if op == "labels_nearest":
                r = im.resize((int(a[0]), int(a[1])), Image.NEAREST, box=(a[2], a[3], a[4], a[5]))
                out.write(np.asarray(r).astype("<u2").tobytes())
                continue
            im = converted(im, mode)
            if op == "decode":
                r = im
            elif op.startswith("resize_box"):
                r = im.resize((int(a[0]), int(a[1])), FILTERS[op[len("resize_box"):]], box=(a[2], a[3], a[4], a[5]))
                if op == "resize_box_flip":
                    r = r.transpose(Image.FLIP_LEFT_RIGHT)
            elif op == "bands_box":
                bands = [b.resize((int(a[0]), int(a[1])), Image.BILINEAR, box=(a[2], a[3], a[4], a[5]))
                         for b in im.split()]
                r = Image.merge(im.mode, bands)
            elif op == "resize_crop":
                left, top, s = int(a[2]), int(a[3]), int(a[4])
                r = im.resize((int(a[0]), int(a[1])), Image.BILINEAR).crop((left, top, left + s, top + s))
            else:
                sys.exit("unknown op " + op)
            out.write(r.tobytes())
    out.flush()


main()
