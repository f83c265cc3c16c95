"""Write scikit-learn's handwritten digits as an ImageFolder of RGB PNGs, for ``lucid train``.

The 1,797 8x8 digits (values 0..16) that ship inside scikit-learn (no
download) are scaled to 0..255, upscaled with bilinear interpolation to
``--size`` pixels, repeated over three channels and saved as

    OUT/train/<digit>/<index>.png
    OUT/validation/<digit>/<index>.png

with a fixed split (``--val-fraction`` of the images, chosen by a NumPy
generator seeded with ``--seed``), so every run writes the same folder.
Needs scikit-learn (``pip install scikit-learn``; ``make test`` installs it).

    python scripts/make_digits_folder.py digits
    lucid train digits --model pvt_v2_b0 --img-size 32
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np


def make_digits_folder(out: str, size: int = 32, val_fraction: float = 0.2, seed: int = 0) -> int:
    """Write the folder; returns the number of images written."""
    from PIL import Image
    from sklearn.datasets import load_digits

    if os.path.exists(out) and os.listdir(out):
        raise FileExistsError(
            f"{out!r} exists and is not empty; remove it or choose another folder"
        )
    if not 0 < val_fraction < 1:
        raise ValueError(f"--val-fraction must be in (0, 1), got {val_fraction}")
    digits = load_digits()
    images = np.round(digits.images * (255 / 16)).astype(np.uint8)
    order = np.random.default_rng(seed).permutation(len(images))
    n_val = round(len(images) * val_fraction)
    splits = {"validation": order[:n_val], "train": order[n_val:]}
    for split, indices in splits.items():
        for index in sorted(indices.tolist()):
            folder = os.path.join(out, split, str(digits.target[index]))
            os.makedirs(folder, exist_ok=True)
            image = Image.fromarray(images[index], "L").resize(
                (size, size), Image.Resampling.BILINEAR
            )
            image.convert("RGB").save(os.path.join(folder, f"{index:04d}.png"))
    return len(images)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="digits", help="folder to create (digits)")
    parser.add_argument("--size", type=int, default=32, help="image side in pixels (32)")
    parser.add_argument("--val-fraction", type=float, default=0.2, help="validation share (0.2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split (0)")
    args = parser.parse_args(argv)
    try:
        count = make_digits_folder(args.out, args.size, args.val_fraction, args.seed)
    except (FileExistsError, ValueError) as exc:
        print(f"make_digits_folder: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {count} images to {args.out}/train and {args.out}/validation")
    return 0


if __name__ == "__main__":
    sys.exit(main())
