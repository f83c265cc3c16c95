"""Convert an official PVT or PVT v2 PyTorch checkpoint to a safetensors file lucid loads.

Usage::

    python -m lucid_models_pvt.convert IN.pth OUT.safetensors [--model NAME]

torch is needed only here, to read the ``.pth`` file (with ``weights_only=True``,
so the checkpoint cannot run code). The official parameter names are lucid's, so
no key is renamed: wrappers such as ``{"model": ...}`` and DataParallel's
``module.`` prefix are removed, the weights are loaded strictly into the named
model (inferred from the keys when ``--model`` is not given) and written with
:func:`lucid.save`. Load the result with::

    model = lucid.models.pvt_medium(attn_proj=True)
    model.load_state_dict(lucid.load("pvt_medium.safetensors"))

(PVT v1 checkpoints carry the attention output projection, hence
``attn_proj=True``; PVT v2 models always have it.)
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

import lucid
import lucid.models
from lucid_models_pvt import pvt, pvt_v2

__all__ = ["convert", "infer_model", "main", "read_checkpoint"]

# Containers that training scripts wrap a state dict in.
_WRAPPERS = ("model", "state_dict", "model_state", "model_ema", "module")

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
    """The state dict of a PyTorch checkpoint as float32 NumPy arrays, unwrapped.

    Parameters
    ----------
    path
        A ``.pth`` file written by ``torch.save``: a state dict, or a dict
        holding one under ``"model"``, ``"state_dict"``, ``"model_state"``,
        ``"model_ema"`` or ``"module"``.

    Returns
    -------
    dict of str to numpy.ndarray
        Parameter names (without a ``module.`` prefix) to arrays.
    """
    try:
        import torch
    except ImportError as e:
        raise RuntimeError(
            "reading a PyTorch checkpoint needs torch, which is not installed; install it "
            "for this conversion only (e.g. pip install torch==2.13.0 --index-url "
            "https://download.pytorch.org/whl/cpu): lucid itself never needs torch"
        ) from e
    obj = torch.load(os.fspath(path), map_location="cpu", weights_only=True)
    while isinstance(obj, Mapping):
        inner = next((obj[k] for k in _WRAPPERS if isinstance(obj.get(k), Mapping)), None)
        if inner is None:
            break
        obj = inner
    if not isinstance(obj, Mapping) or not obj:
        raise ValueError(
            f"{os.fspath(path)!r} holds no state dict (found {type(obj).__name__}); "
            "expected a dict of parameter names to tensors"
        )
    arrays = {}
    for name, value in obj.items():
        if not isinstance(value, torch.Tensor):
            continue  # bookkeeping such as a saved epoch number
        value = value.detach().cpu()
        # float32 whatever the checkpoint's precision (NumPy has no bfloat16).
        arrays[name.removeprefix("module.")] = (
            value.float() if value.is_floating_point() else value
        ).numpy()
    return arrays


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
    settings: dict[str, Any] = {"num_classes": 0 if head is None else int(head.shape[0])}
    if name.startswith("pvt_") and not name.startswith("pvt_v2"):
        settings["attn_proj"] = "block1.0.attn.proj.weight" in arrays
        if "pos_embed1" in arrays:
            side = round(arrays["pos_embed1"].shape[1] ** 0.5)
            settings["img_size"] = 4 * side
    net = lucid.models.create_model(name, **settings)
    try:
        net.load_state_dict({k: lucid.Tensor(v) for k, v in arrays.items()}, strict=True)
    except (KeyError, RuntimeError, ValueError) as e:
        raise ValueError(f"{os.fspath(src)!r} does not fit {name}: {e}") from e
    lucid.save(net.state_dict(), dst, metadata={"model": name, "format": "lucid"})
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
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {args.dst} ({name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
