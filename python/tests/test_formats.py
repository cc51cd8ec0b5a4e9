"""PNG and WebP beside JPEG, colour augmentation and segmentation pairs from Python."""
import numpy as np
import pytest
from PIL import Image

import ferry


def epoch_bytes(loader):
    return b"".join(np.from_dlpack(f).tobytes() for batch in loader for f in batch.values())


def picture(rng, w, h):
    """A noisy gradient with blocks: something every codec has to work for."""
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), (x + y) % 256], axis=-1).astype(np.int32)
    img += rng.integers(-20, 20, size=img.shape)
    for _ in range(4):
        x0, y0 = rng.integers(0, w // 2), rng.integers(0, h // 2)
        img[y0:y0 + h // 4, x0:x0 + w // 4] = rng.integers(0, 256, size=3)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory):
    """JPEG, PNG (RGB, palette, gray, RGBA, 16-bit gray), WebP (lossy, lossless), a PNG named .jpg."""
    root = tmp_path_factory.mktemp("mixed") / "train"
    rng = np.random.default_rng(5)
    for i in range(24):
        d = root / f"class{i % 3}"
        d.mkdir(parents=True, exist_ok=True)
        w, h = int(rng.integers(60, 140)), int(rng.integers(60, 140))
        im = Image.fromarray(picture(rng, w, h))
        kind = i % 8
        if kind == 0:
            im.save(d / f"{i}.jpg", quality=90)
        elif kind == 1:
            im.save(d / f"{i}.png")
        elif kind == 2:
            im.convert("P").save(d / f"{i}.png")
        elif kind == 3:
            im.convert("L").save(d / f"{i}.png")
        elif kind == 4:
            im.putalpha(128)
            im.save(d / f"{i}.png")
        elif kind == 5:
            Image.fromarray((np.asarray(im.convert("L"), dtype=np.uint16) * 257)).save(d / f"{i}.png")
        elif kind == 6:
            im.save(d / f"{i}.webp", quality=80, lossless=bool(i % 16 < 8))
        else:
            im.save(d / f"{i}.jpg", format="PNG")  # the extension lies; the content decides
    return root


@pytest.mark.parametrize("pipeline", ["train", "val_u8"])
def test_a_mixed_folder_gives_the_same_bytes_for_zero_and_two_workers(mixed_folder, pipeline):
    ds = ferry.ImageFolder(str(mixed_folder), pipeline=pipeline, size=48, color_jitter=(0.4, 0.4, 0.4, 0.1),
                           random_grayscale=0.1)
    assert len(ds) == 24
    zero = ferry.DataLoader(ds, batch_size=6, shuffle=True, seed=4)
    two = ferry.DataLoader(ds, batch_size=6, shuffle=True, seed=4, num_workers=2)
    a = epoch_bytes(zero)
    assert a == epoch_bytes(two)
    plain = ferry.DataLoader(ferry.ImageFolder(str(mixed_folder), pipeline=pipeline, size=48), batch_size=6,
                             shuffle=True, seed=4)
    assert epoch_bytes(plain) != a, "color_jitter changed nothing"


def test_png_decodes_to_pillows_pixels(tmp_path):
    rng = np.random.default_rng(1)
    pixels = picture(rng, 64, 48)
    (tmp_path / "c").mkdir()
    Image.fromarray(pixels).convert("P").save(tmp_path / "c" / "a.png")
    ds = ferry.ImageFolder(str(tmp_path), pipeline="decode", size=64, interpolation="nearest")
    batch = next(iter(ferry.DataLoader(ds, batch_size=1)))
    ours = np.from_dlpack(batch["image"])[0]
    theirs = np.asarray(Image.open(tmp_path / "c" / "a.png").convert("RGB").resize((64, 64), Image.NEAREST))
    assert np.array_equal(ours, theirs)


def test_augmentation_arguments_are_checked(mixed_folder):
    for kwargs, words in [({"color_jitter": (0.4, 0.4, 0.4)}, "color_jitter"),
                          ({"color_jitter": (0.4, 0.4, 0.4, 0.9)}, "hue"),
                          ({"color_jitter": ((1.5, 0.5), 0, 0, 0)}, "brightness"),
                          ({"random_grayscale": 2.0}, "grayscale_p"),
                          ({"interpolation": "lanczos"}, "interpolation")]:
        with pytest.raises(ferry.InvalidOption, match=words):
            ferry.ImageFolder(str(mixed_folder), **kwargs)
    with pytest.raises(ferry.InvalidOption, match="raw"):
        ferry.ImageFolder(str(mixed_folder), pipeline="raw", color_jitter=(0.1, 0, 0, 0))
    # Pairs are accepted as (min, max).
    ferry.ImageFolder(str(mixed_folder), color_jitter=((0.5, 1.5), 0.2, (0.9, 1.1), (-0.1, 0.05)))


@pytest.fixture(scope="module")
def segmentation_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("seg")
    (root / "images").mkdir()
    (root / "masks").mkdir()
    rng = np.random.default_rng(3)
    lines = ["image,mask"]
    for i in range(10):
        w, h = int(rng.integers(80, 160)), int(rng.integers(80, 160))
        ids = np.zeros((h, w), np.uint8)
        for _ in range(5):
            x0, y0 = int(rng.integers(0, w - 10)), int(rng.integers(0, h - 10))
            ids[y0:y0 + h // 3, x0:x0 + w // 3] = rng.integers(1, 21)
        mask = Image.fromarray(ids, "P")
        mask.putpalette(list(rng.integers(0, 256, 768)))
        mask.save(root / "masks" / f"{i:03d}.png")
        # The image's red channel is the class id, so alignment can be checked pixel by pixel.
        rgb = np.stack([ids, 255 - ids, ids], axis=-1)
        ext = ".png" if i % 2 else ".webp"
        Image.fromarray(rgb).save(root / "images" / f"{i:03d}{ext}", lossless=True)
        lines.append(f"images/{i:03d}{ext},masks/{i:03d}.png")
    (root / "pairs.csv").write_text("\n".join(lines) + "\n")
    return root


def test_segmentation_pairs_give_aligned_image_and_mask_fields(segmentation_set):
    ds = ferry.SegmentationDataset(str(segmentation_set / "images"), str(segmentation_set / "masks"),
                                   pipeline="train_u8", size=40, interpolation="nearest", mask_dtype="uint8")
    names = [f["name"] for f in ds.schema]
    assert names == ["image", "mask"]
    loader = ferry.DataLoader(ds, batch_size=5, shuffle=True, seed=8)
    for batch in loader:
        image = np.from_dlpack(batch["image"])
        mask = np.from_dlpack(batch["mask"])
        assert mask.shape == (5, 40, 40) and mask.dtype == np.uint8
        assert np.array_equal(image[..., 0], mask)
    listed = ferry.SegmentationDataset(str(segmentation_set / "pairs.csv"), pipeline="train_u8", size=40,
                                       interpolation="nearest", mask_dtype="uint8")
    same = ferry.DataLoader(listed, batch_size=5, shuffle=True, seed=8, num_workers=2)
    assert epoch_bytes(same) == epoch_bytes(ferry.DataLoader(ds, batch_size=5, shuffle=True, seed=8))
    with pytest.raises(ferry.InvalidOption, match="segmentation"):
        ds.path(0)


def test_segmentation_masks_are_int64_class_ids_by_default(segmentation_set):
    ds = ferry.SegmentationDataset(str(segmentation_set / "pairs.csv"), pipeline="val", size=32)
    batch = next(iter(ferry.DataLoader(ds, batch_size=10)))
    mask = np.from_dlpack(batch["mask"])
    assert mask.dtype == np.int64 and mask.shape == (10, 32, 32)
    assert mask.min() >= 0 and mask.max() <= 20
    with pytest.raises(ferry.InvalidOption, match="mask_dtype"):
        ferry.SegmentationDataset(str(segmentation_set / "pairs.csv"), mask_dtype="float32")
