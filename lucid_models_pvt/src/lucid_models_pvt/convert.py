"""Convert an official or timm PVT / PVT v2 checkpoint to a safetensors file lucid loads.

Usage::

    python -m lucid_models_pvt.convert IN.pth OUT.safetensors [--model NAME]

The ``.pth`` file is read by lucid's allowlisted reader
(:mod:`lucid.models._torch_pickle`): torch is not needed and nothing in the
file runs. The official parameter names are lucid's; timm's names (its Hub
files, ``patch_embed.proj``, ``stages.0.blocks.0``, ...) are mapped to them by
:func:`lucid_models_pvt.pretrained.timm_to_official`. Wrappers such as
``{"model": ...}`` and DataParallel's ``module.`` prefix are removed, the
weights are loaded strictly into the named model (inferred from the keys when
``--model`` is not given) and written with :func:`lucid.save`, recording in
the file's metadata the model name, the settings its layout needs (PVT v1
checkpoints carry the attention output projection: ``attn_proj=True``) and
the source file. ``create_model`` reads them back::

    model = lucid.models.create_model("pvt_medium", checkpoint_path="pvt_medium.safetensors")
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

import lucid
import lucid.models
from lucid.models._torch_pickle import read_state_dict
from lucid_models_pvt import pvt, pvt_v2
from lucid_models_pvt.pretrained import timm_to_official

__all__ = ["convert", "infer_model", "main", "read_checkpoint"]

# (family, depths, first stage width, linear attention) -> variant, for inferring
# the model from a checkpoint's keys (loading strictly then checks every shape),
# from the families' variant tables.
_VARIANTS = {
    (
        family,
        tuple(v.settings["depths"]),
        v.settings["embed_dims"][0],
        v.settings.get("linear", False),
    ): name
    for family, table in (("pvt", pvt.VARIANTS), ("pvt_v2", pvt_v2.VARIANTS))
    for name, v in table.items()
}
_BLOCK_KEY = re.compile(r"block([1-4])\.(\d+)\.")


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """The state dict of a PyTorch checkpoint as NumPy arrays, unwrapped, with official names.

    Parameters
    ----------
    path
        A ``.pth`` file written by ``torch.save``: a state dict, or a dict
        holding one under ``"model"``, ``"state_dict"``, ``"model_state"``,
        ``"model_ema"`` or ``"module"``; official or timm parameter names.

    Returns
    -------
    dict of str to numpy.ndarray
        Official parameter names (without a ``module.`` prefix) to arrays,
        floating point as float32.

    Raises
    ------
    lucid.models._torch_pickle.CheckpointError
        The file is not a readable PyTorch checkpoint, or names anything but
        tensors, containers and scalars (refused before anything runs).
    """
    return timm_to_official(read_state_dict(path))


def infer_model(state_dict: Mapping[str, Any]) -> str:
    """The registered model name whose architecture the checkpoint's keys describe.

    Parameters
    ----------
    state_dict
        Official PVT or PVT v2 parameter names to arrays.

    Returns
    -------
    str
        E.g. ``"pvt_medium"`` or ``"pvt_v2_b2_li"``.

    Examples
    --------
    >>> from lucid_models_pvt.pvt_v2 import pvt_v2_b0
    >>> infer_model(pvt_v2_b0().state_dict())
    'pvt_v2_b0'
    """
    # PVT v2 ends each stage with its own norm; v1 has one final norm and a class token.
    family = "pvt_v2" if "norm1.weight" in state_dict else "pvt"
    blocks: list[set[int]] = [set() for _ in range(4)]
    for key in state_dict:
        m = _BLOCK_KEY.match(key)
        if m:
            blocks[int(m.group(1)) - 1].add(int(m.group(2)))
    depths = tuple(len(b) for b in blocks)
    width = np.shape(state_dict.get("patch_embed1.proj.weight", ()))[:1]
    # Only the linear attention reduces stage 4, with a 1x1 convolution.
    linear = "block4.0.attn.sr.weight" in state_dict
    key = (family, depths, width[0] if width else None, linear)
    if key not in _VARIANTS:
        raise ValueError(
            f"cannot tell which model this checkpoint is for ({family} layout, depths "
            f"{list(depths)}, first stage width {key[2]}); name it with --model, e.g. "
            "--model pvt_medium"
        )
    return _VARIANTS[key]


def convert(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], model: str | None = None
) -> str:
    """Convert the checkpoint ``src`` to the safetensors file ``dst``.

    Parameters
    ----------
    src
        PyTorch checkpoint of an official PVT or PVT v2 model.
    dst
        Output path, by convention ending in ``.safetensors``.
    model
        Registered model name; inferred from the checkpoint's keys when omitted.

    Returns
    -------
    str
        The model name the weights were checked against (also stored in the
        file's metadata under ``"model"``).
    """
    arrays = read_checkpoint(src)
    name = model or infer_model(arrays)
    head = arrays.get("head.weight")
    num_classes = 0 if head is None else int(head.shape[0])
    # The settings the weights' layout needs, recorded for create_model(checkpoint_path=...).
    settings: dict[str, Any] = {}
    if name.startswith("pvt_") and not name.startswith("pvt_v2"):
        settings["attn_proj"] = "block1.0.attn.proj.weight" in arrays
        pos = arrays.get("pos_embed1")
        if pos is not None:
            if pos.ndim != 3:
                raise ValueError(
                    f"{os.fspath(src)!r} has pos_embed1 of shape {pos.shape}; a PVT checkpoint "
                    "has (1, tokens, channels)"
                )
            settings["img_size"] = 4 * round(pos.shape[1] ** 0.5)
    net = lucid.models.create_model(name, num_classes=num_classes, **settings)
    try:
        net.load_state_dict({k: lucid.Tensor(v) for k, v in arrays.items()}, strict=True)
    except (KeyError, RuntimeError, ValueError) as e:
        raise ValueError(f"{os.fspath(src)!r} does not fit {name}: {e}") from e
    with open(src, "rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    metadata = {
        "model": name,
        "format": "lucid",
        "settings": json.dumps(settings, sort_keys=True),
        "num_classes": str(num_classes),
        "source": os.path.basename(os.fspath(src)),
        "source_sha256": digest,
    }
    lucid.save(net.state_dict(), dst, metadata=metadata)
    return name


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m lucid_models_pvt.convert",
        description="Convert an official PVT / PVT v2 PyTorch checkpoint to safetensors for lucid.",
    )
    parser.add_argument("src", help="PyTorch checkpoint (.pth)")
    parser.add_argument("dst", help="output file (.safetensors)")
    parser.add_argument("--model", help="model name, e.g. pvt_medium (default: inferred)")
    args = parser.parse_args(argv)
    try:
        name = convert(args.src, args.dst, args.model)
    except (OSError, RuntimeError, ValueError, KeyError) as e:
        # One line, whatever the message: a checkpoint can make load errors long.
        print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
        return 1
    print(f"wrote {args.dst} ({name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
