"""Pretrained weights of the PVT family: where they are published, how to read them, how they score.

Every entry below comes from a public source, cited beside it; nothing is
estimated. What is not published is left out: no sha256 is recorded for
``pvt_v2_b2_li``, ``pvt_v2_b3`` and ``pvt_v2_b4`` (their Hub file pages, as
consulted, showed none), GitHub release assets carry no published hash at
all, top-5 accuracy of PVT v1 is published for PVT-Small only, and no
weights were released for ``pvt_huge``.

PVT v2 (tags ``in1k``)
    The weights are timm's copies on the Hugging Face Hub, ``timm/<model>.in1k``
    with ``model.safetensors`` (no pickle), as listed in timm's
    ``timm/models/pvt_v2.py`` (``default_cfgs``, ``hf_hub_id='timm/'``) and on
    https://huggingface.co/timm/pvt_v2_b0.in1k (licence apache-2.0); the sha256
    values are the Hub's Git LFS pointers shown on each file's page, e.g.
    https://huggingface.co/timm/pvt_v2_b0.in1k/blob/main/model.safetensors.
    Their parameter names are timm's; :func:`timm_to_official` maps them to the
    official names lucid uses. The official release files
    ``https://github.com/whai362/PVT/releases/download/v2/<model>.pth`` (from
    whai362/PVT ``classification/README.md``, also timm's former ``url``) are
    the alternative source: ``pretrained_cfg_overlay={"source": "url"}``.
    Top-1/top-5 are timm's ImageNet-1k validation results for these files
    (``results/results-imagenet.csv`` in huggingface/pytorch-image-models,
    crop 0.9, bicubic); the paper's figures are 70.5, 78.7, 82.0, 82.1, 83.1,
    83.6 and 83.8.

PVT v1 (tags ``in1k``)
    The official release files listed in whai362/PVT ``classification/README.md``
    (``https://github.com/whai362/PVT/releases/download/v2/pvt_tiny.pth`` and so
    on). They carry the attention output projection, so the model is built with
    ``attn_proj=True``. Top-1 is that README's table; PVT-Small's top-1/top-5 are
    its evaluation example (``Acc@1 79.764 Acc@5 94.950``). The evaluation
    transform is the repository's ``datasets.py``: resize to 256 (bicubic), centre
    crop 224, ImageNet mean and std, i.e. ``crop_pct`` 0.875.
"""

from __future__ import annotations

import re

import numpy as np

from lucid.models import register_pretrained

__all__ = ["PRETRAINED", "register", "timm_to_official"]

# timm.data.constants.IMAGENET_DEFAULT_MEAN / IMAGENET_DEFAULT_STD.
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)
_RELEASES = "https://github.com/whai362/PVT/releases/download/v2"

_COMMON = {
    "num_classes": 1000,
    "input_size": (3, 224, 224),
    "interpolation": "bicubic",
    "mean": _MEAN,
    "std": _STD,
    "first_conv": "patch_embed1.proj",
    "classifier": "head",
    "license": "apache-2.0",
    "origin_url": "https://github.com/whai362/PVT",
}

# model -> (sha256 of the Hub's model.safetensors or None, top-1, top-5).
_V2 = {
    "pvt_v2_b0": (
        "d0927f8c963fa7ae1ca6cd459449a076a954c561245ca6025103fceffd2df34c",
        70.660,
        90.196,
    ),
    "pvt_v2_b1": (
        "0cb38d3df58e50bb591e99ded2a1a2a02bc807415e9bed4d4076428239112caa",
        78.702,
        94.502,
    ),
    "pvt_v2_b2": (
        "0bff520d64b91bdbb35f2b5bff2b62d35a9d9c6d6a5056e683f1e7ce556d0e5e",
        82.086,
        95.956,
    ),
    "pvt_v2_b2_li": (None, 82.194, 96.092),
    "pvt_v2_b3": (None, 83.120, 96.554),
    "pvt_v2_b4": (None, 83.710, 96.674),
    "pvt_v2_b5": (
        "070ea6f6e2b9c06fa8dc9ba943c04d5fb74df01f2cb328d95ae65c94c304176b",
        83.742,
        96.634,
    ),
}
# model -> (top-1, top-5 or None).
_V1 = {
    "pvt_tiny": (75.1, None),
    "pvt_small": (79.764, 94.950),
    "pvt_medium": (81.2, None),
    "pvt_large": (81.7, None),
}


def _v2_cfg(model: str, sha256: str | None, top1: float, top5: float) -> dict[str, object]:
    cfg: dict[str, object] = {
        **_COMMON,
        "hf_hub_id": f"timm/{model}.in1k",
        "hf_hub_filename": "model.safetensors",
        "url": f"{_RELEASES}/{model}.pth",
        "crop_pct": 0.9,
        "paper_ids": "arXiv:2106.13797",
        "top1": top1,
        "top5": top5,
    }
    if sha256 is not None:
        cfg["sha256"] = sha256
    return cfg


def _v1_cfg(model: str, top1: float, top5: float | None) -> dict[str, object]:
    cfg: dict[str, object] = {
        **_COMMON,
        "url": f"{_RELEASES}/{model}.pth",
        "crop_pct": 0.875,
        "paper_ids": "arXiv:2102.12122",
        "settings": {"attn_proj": True},
        "top1": top1,
    }
    if top5 is not None:
        cfg["top5"] = top5
    return cfg


# (model, tag) -> pretrained cfg: the one table the registry, the docs and the CLI read.
PRETRAINED: dict[tuple[str, str], dict[str, object]] = {
    **{(m, "in1k"): _v2_cfg(m, *row) for m, row in _V2.items()},
    **{(m, "in1k"): _v1_cfg(m, *row) for m, row in _V1.items()},
}

_STAGE = re.compile(r"^stages\.(\d+)\.(downsample|blocks|norm)\.")


def timm_to_official(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Rename timm's PVT v2 parameters to the official names; other layouts pass unchanged.

    The inverse of timm's ``_checkpoint_filter_fn`` (``timm/models/pvt_v2.py``),
    which maps official names to timm's:

    ========================================  ===================================
    timm                                      official (lucid)
    ========================================  ===================================
    ``patch_embed.*``                         ``patch_embed1.*``
    ``stages.{i}.downsample.*``               ``patch_embed{i+1}.*``
    ``stages.{i}.blocks.{j}.*``               ``block{i+1}.{j}.*``
    ``stages.{i}.norm.*``                     ``norm{i+1}.*``
    ``...mlp.dwconv.weight``                  ``...mlp.dwconv.dwconv.weight``
    ========================================  ===================================

    Examples
    --------
    >>> import numpy as np
    >>> timm = ["patch_embed.proj.weight", "stages.1.blocks.0.mlp.dwconv.bias",
    ...         "stages.3.norm.weight", "stages.2.downsample.proj.bias"]
    >>> list(timm_to_official(dict.fromkeys(timm, np.zeros(1))))  # doctest: +NORMALIZE_WHITESPACE
    ['patch_embed1.proj.weight', 'block2.0.mlp.dwconv.dwconv.bias', 'norm4.weight',
     'patch_embed3.proj.bias']
    """
    if "patch_embed.proj.weight" not in state:
        return state
    out = {}
    for key, value in state.items():
        name = re.sub(r"^patch_embed\.", "patch_embed1.", key)
        m = _STAGE.match(name)
        if m:
            stage, part = int(m.group(1)) + 1, m.group(2)
            rest = name[m.end() :]
            if part == "downsample":
                name = f"patch_embed{stage}.{rest}"
            elif part == "norm":
                name = f"norm{stage}.{rest}"
            else:
                name = f"block{stage}.{rest}"
        out[name.replace(".mlp.dwconv.", ".mlp.dwconv.dwconv.")] = value
    return out


def register() -> None:
    """Hand the table to lucid's pretrained registry (called when the plugin loads)."""
    for (model, tag), cfg in PRETRAINED.items():
        register_pretrained(model, tag, cfg, filter_fn=timm_to_official)
