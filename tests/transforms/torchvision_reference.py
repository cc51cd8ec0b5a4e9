"""torchvision references for ferry's colour augmentation tests (color_jitter_test.cc).

Run with a Python that has torch and torchvision (scripts/setup --with-torch
makes .venv). Reads one job per line on stdin:
  IN OUT W H C O0 O1 O2 O3 ON0 ON1 ON2 ON3 B C S H GRAY
IN holds an H x W x C float32 image of 0..255 values; the script applies
torchvision.transforms.functional's adjust_brightness (op 0), adjust_contrast
(1), adjust_saturation (2) and adjust_hue (3) in the order O0..O3, skipping ops
whose ONk is 0, with factors B, C, S and hue H, then rgb_to_grayscale (3
output channels) when GRAY is 1, on the image as a 0..1 float tensor, exactly
as ColorJitter and RandomGrayscale call them, and writes the result to OUT in
the same layout.
"""
import sys

import numpy as np
import torch
import torchvision.transforms.functional as F

OPS = [F.adjust_brightness, F.adjust_contrast, F.adjust_saturation, F.adjust_hue]

for line in sys.stdin:
    f = line.split()
    if not f:
        continue
    src, dst = f[0], f[1]
    w, h, c = int(f[2]), int(f[3]), int(f[4])
    order = [int(x) for x in f[5:9]]
    on = [int(x) for x in f[9:13]]
    factors = [float(x) for x in f[13:17]]
    gray = f[17] == "1"
    img = torch.from_numpy(np.fromfile(src, dtype=np.float32).reshape(h, w, c).copy()).permute(2, 0, 1) / 255.0
    for op in order:
        if on[op]:
            img = OPS[op](img, factors[op])
    if gray and c == 3:
        img = F.rgb_to_grayscale(img, num_output_channels=3)
    (img * 255.0).permute(1, 2, 0).contiguous().numpy().astype(np.float32).tofile(dst)
