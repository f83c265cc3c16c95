"""``lucid predict``: classify image files with pretrained weights, preprocessed as timm evaluates.

The ImageNet-1k class names (``imagenet_classes.txt`` beside this module, one
``index, name`` line per class) are a verbatim copy of ``imagenet_classes.txt``
in the pytorch/hub repository (commit 6bb7ade92447ed6f5569cfc035ed64ef3e4b633b,
https://github.com/pytorch/hub/blob/master/imagenet_classes.txt), in the class
order of the standard ImageNet-1k labels that timm's and the official PVT
weights predict.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any, TextIO

import numpy as np

__all__ = ["imagenet_class_names", "predict"]


@cache
def imagenet_class_names() -> tuple[str, ...]:
    """The 1000 ImageNet-1k class names, by class index (``0`` is ``"tench"``).

    Examples
    --------
    >>> from lucid.models._predict import imagenet_class_names
    >>> names = imagenet_class_names()
    >>> len(names), names[0], names[281]
    (1000, 'tench', 'tabby')
    """
    text = resources.files("lucid.models").joinpath("imagenet_classes.txt").read_text("utf-8")
    names = []
    for index, line in enumerate(text.splitlines()):
        number, _, name = line.partition(", ")
        if int(number) != index:
            raise RuntimeError(f"imagenet_classes.txt is damaged at line {index + 1}; reinstall")
        names.append(name)
    return tuple(names)


def predict(
    images: Sequence[str | os.PathLike[str]], model: str, top: int = 5
) -> list[dict[str, Any]]:
    """Top classes of each image under the pretrained weights ``model`` (``"pvt_v2_b0.in1k"``).

    Each image is decoded with Pillow, converted to RGB and preprocessed by
    :func:`lucid.vision.transforms.create_transform` from the model's
    ``pretrained_cfg`` (resize by ``crop_pct`` with its interpolation, centre
    crop, normalise), as timm's evaluation does.

    Returns
    -------
    list of dict
        Per image: ``{"image": path, "predictions": [{"index", "label",
        "probability"}, ...]}``, most probable first; labels are ImageNet's
        names for 1000-class weights, else ``None``.
    """
    import lucid
    from lucid.models import create_model, get_pretrained_cfg
    from lucid.vision.transforms import create_transform

    # Everything that can be checked is checked before any download or build.
    classes = get_pretrained_cfg(model).get("num_classes", 1000)
    if not 1 <= top <= classes:
        raise ValueError(f"--top must be between 1 and {classes} (the classes), got {top}")
    for image in images:
        if not os.path.isfile(image):
            raise FileNotFoundError(f"no image file at {os.fspath(image)!r}")
    import lucid.distributed as dist

    # Under several MPI ranks each classifies every world-size-th image, and the
    # results are gathered back into the images' order on every rank.
    rank, world = (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)
    if world > 1 and rank != 0:
        dist.barrier()  # rank 0 downloads the weights first; the others read its cache
    net = create_model(model, pretrained=True).eval()
    if world > 1 and rank == 0:
        dist.barrier()
    transform = create_transform(net.pretrained_cfg, is_training=False)
    # One row per image: its position, then the top class indices, then their probabilities.
    rows = np.empty((0, 1 + 2 * top), dtype=np.float64)
    for i in range(rank, len(images), world):
        batch = transform(_open_rgb(os.fspath(images[i]))).unsqueeze(0)
        with lucid.no_grad():
            logits = net(batch).data[0].astype(np.float64)
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        best = np.argsort(-probs, kind="stable")[:top]
        rows = np.vstack([rows, np.concatenate([[i], best, probs[best]])])
    if world > 1:
        rows = dist._group.gather_rows(rows)
    rows = rows[np.argsort(rows[:, 0], kind="stable")]
    names = imagenet_class_names() if classes == 1000 else None
    return [
        {
            "image": os.fspath(images[int(row[0])]),
            "predictions": [
                {
                    "index": int(k),
                    "label": names[int(k)] if names is not None else None,
                    "probability": float(p),
                }
                for k, p in zip(row[1 : 1 + top], row[1 + top :], strict=True)
            ],
        }
        for row in rows
    ]


def _open_rgb(path: str) -> Any:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except (UnidentifiedImageError, OSError) as e:
        raise ValueError(f"{path!r} is not an image Pillow can read ({e})") from None


def write(results: list[dict[str, Any]], out: TextIO) -> None:
    """The text form of ``lucid predict``: per image its path, then one line per class."""
    for result in results:
        out.write(f"{result['image']}\n")
        for rank, p in enumerate(result["predictions"], 1):
            label = p["label"] if p["label"] is not None else f"class {p['index']}"
            out.write(f"  {rank}. {p['probability']:7.2%}  {label} ({p['index']})\n")
