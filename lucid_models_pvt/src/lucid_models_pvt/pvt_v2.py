"""PVT v2, the improved Pyramid Vision Transformer family (b0 to b5 and b2-li).

Wenhai Wang, Enze Xie, Xiang Li, Deng-Ping Fan, Kaitao Song, Ding Liang, Tong Lu,
Ping Luo and Ling Shao, "PVT v2: Improved Baselines with Pyramid Vision Transformer",
Computational Visual Media 8(3), 2022, https://arxiv.org/abs/2106.13797.

The building blocks are PVT v1's with v2's additions switched on:
overlapping patch embedding, a depthwise convolution in the MLP, the attention
output projection, and for ``_li`` the linear spatial-reduction attention.
Parameter names follow the official implementation (``patch_embed1.proj.weight``,
``block1.0.mlp.dwconv.dwconv.weight``, ``norm1.weight``, ``head.weight``, ...).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import lucid
from lucid import nn
from lucid.models import register_model
from lucid_models_pvt._common import (
    NUM_STAGES,
    Block,
    PatchEmbed,
    PyramidTransformer,
    Variant,
    check_bool,
    check_count,
    check_in_chans,
    check_rate,
    check_stages,
    create_variant,
    documented_by,
    drop_path_rates,
    init_weights,
    stage_settings,
    take_indices,
    to_map,
)

__all__ = [
    "VARIANTS",
    "PVTv2",
    "pvt_v2_b0",
    "pvt_v2_b1",
    "pvt_v2_b2",
    "pvt_v2_b2_li",
    "pvt_v2_b3",
    "pvt_v2_b4",
    "pvt_v2_b5",
]

# ------------------------------------------------------------------- model ---


class PVTv2(PyramidTransformer):
    """Pyramid Vision Transformer v2.

    Four stages over ever coarser token grids (strides 4, 8, 16, 32). Each
    stage embeds overlapping patches (a 7x7 stride-4 convolution, then 3x3
    stride 2), runs blocks of spatial-reduction attention and convolutional
    MLPs, and ends with its own LayerNorm (``norm1`` ... ``norm4``). There are
    no position embeddings and no class token: the head reads the mean of the
    last stage's map, and images of any size work, as long as every strided
    spatial reduction fits its stage's map (sides of at least 29 pixels with
    the default ``sr_ratios``; the linear variant takes any size).

    The constructor's defaults are PVT v2-b0's settings.

    Parameters
    ----------
    img_size : int
        Nominal training image side, kept in ``config`` only: nothing in the
        model depends on the input size.
    num_classes : int
        Classes of the head; 0 for no head (the model returns pooled features).
    in_chans : int
        Channels of the input images (timm's name; ``in_channels`` is an alias).
    embed_dims : list[int]
        The token width (embedding dimension) of each stage.
    depths : list[int]
        The number of transformer blocks in each stage.
    num_heads : list[int]
        The number of attention heads in each stage; each stage's token width
        must be divisible by its number of heads.
    mlp_ratios : list[float]
        The hidden width of each stage's MLP, as a multiple of the stage's
        token width.
    sr_ratios : list[float]
        The spatial-reduction ratio of each stage's attention: keys and values
        are computed on a grid this many times coarser in each direction. The
        values must be whole numbers (``8`` and ``8.0`` both work; ``2.5`` is
        an error): each ratio is the kernel size and stride of the convolution
        ``attn.sr`` that shrinks the keys and values. Unused when ``linear``.
    qkv_bias : bool
        Whether the query and key/value projections have a bias.
    linear : bool
        Linear spatial-reduction attention (the ``_li`` variants): keys and
        values from the map average-pooled to 7x7, with a ReLU in each MLP.
    drop_rate : float
        Dropout probability on the token features: inside the MLPs and after
        the attention projection.
    attn_drop_rate : float
        Dropout probability on the attention weights.
    drop_path_rate : float
        Stochastic-depth rate of the last block; the rate rises linearly from 0
        over the blocks to this value.
    features_only : bool
        Build a backbone: no head, and ``forward`` returns the maps of the
        stages ``out_indices`` chooses.
    out_indices : list[int]
        Stages whose maps a ``features_only`` model returns (0 to 3).

    Attributes
    ----------
    config : dict
        The settings the model was built with, as checked and normalised
        (lists; ratios as floats).
    feature_info
        timm's ``FeatureInfo``: ``channels()``, ``reduction()`` and
        ``module_name()`` of the stage maps.

    Examples
    --------
    >>> import lucid
    >>> from lucid_models_pvt.pvt_v2 import PVTv2
    >>> model = PVTv2(num_classes=10, depths=[1, 1, 1, 1])
    >>> model(lucid.zeros(2, 3, 48, 40)).shape
    (2, 10)
    >>> model.forward_features(lucid.zeros(1, 3, 64, 64)).shape
    (1, 256, 2, 2)
    >>> [tuple(m.shape) for m in model.forward_intermediates(
    ...     lucid.zeros(1, 3, 64, 64), intermediates_only=True)]
    [(1, 32, 16, 16), (1, 64, 8, 8), (1, 160, 4, 4), (1, 256, 2, 2)]
    """

    default_global_pool = "avg"

    def __init__(
        self,
        img_size: int = 224,
        num_classes: int = 1000,
        *,
        in_chans: int = 3,
        in_channels: int | None = None,
        embed_dims: Sequence[int] = (32, 64, 160, 256),
        depths: Sequence[int] = (2, 2, 2, 2),
        num_heads: Sequence[int] = (1, 2, 5, 8),
        mlp_ratios: Sequence[float] = (8.0, 8.0, 4.0, 4.0),
        sr_ratios: Sequence[float] = (8.0, 4.0, 2.0, 1.0),
        qkv_bias: bool = True,
        linear: bool = False,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        features_only: bool = False,
        out_indices: Sequence[int] = (0, 1, 2, 3),
    ) -> None:
        super().__init__()
        stages = check_stages(embed_dims, depths, num_heads, mlp_ratios, sr_ratios)
        self.config = {
            "img_size": check_count("img_size", img_size, 1),
            "num_classes": check_count("num_classes", num_classes, 0),
            "in_chans": check_in_chans(in_chans, in_channels),
            **stages,
            "qkv_bias": check_bool("qkv_bias", qkv_bias),
            "linear": check_bool("linear", linear),
            "drop_rate": check_rate("drop_rate", drop_rate),
            "attn_drop_rate": check_rate("attn_drop_rate", attn_drop_rate),
            "drop_path_rate": check_rate("drop_path_rate", drop_path_rate),
            "features_only": check_bool("features_only", features_only),
            "out_indices": take_indices(out_indices)[0],
        }
        dims = stages["embed_dims"]
        rates = iter(drop_path_rates(self.config["drop_path_rate"], stages["depths"]))
        channels = self.config["in_chans"]
        for i in range(NUM_STAGES):
            kernel, stride = (7, 4) if i == 0 else (3, 2)
            setattr(self, f"patch_embed{i + 1}", PatchEmbed(channels, dims[i], kernel, stride))
            blocks = [
                Block(
                    dims[i],
                    stages["num_heads"][i],
                    stages["mlp_ratios"][i],
                    int(stages["sr_ratios"][i]),
                    qkv_bias=qkv_bias,
                    drop=drop_rate,
                    attn_drop=attn_drop_rate,
                    drop_path=next(rates),
                    dwconv=True,
                    linear=linear,
                )
                for _ in range(stages["depths"][i])
            ]
            setattr(self, f"block{i + 1}", nn.ModuleList(blocks))
            setattr(self, f"norm{i + 1}", nn.LayerNorm(dims[i], eps=1e-6))
            channels = dims[i]
        init_weights(self, conv_fan_out=True)
        self._setup(num_classes, features_only, self.config["out_indices"])

    def _forward_stages(
        self, x: lucid.Tensor, take: Collection[int], stop: int, norm: bool
    ) -> tuple[lucid.Tensor, list[lucid.Tensor]]:
        maps = []
        for i in range(stop + 1):
            x, size = getattr(self, f"patch_embed{i + 1}")(x)
            for block in getattr(self, f"block{i + 1}"):
                x = block(x, size)
            # The next patch embedding convolves the stage's map.
            x = to_map(getattr(self, f"norm{i + 1}")(x), size)
            if i in take:
                maps.append(x)
        return x, maps

    def _pool(self, x: lucid.Tensor) -> lucid.Tensor:
        return x.mean(axis=(2, 3))

    def _stage_module(self, stage: int) -> str:
        return f"norm{stage + 1}"

    def _check_sides(self, h: int, w: int) -> None:
        # Any side works, as long as each strided spatial reduction fits its stage's map.
        if self.config["linear"]:
            return
        ratios = self.config["sr_ratios"]
        for i, (sh, sw, r) in enumerate(zip(_stage_sides(h), _stage_sides(w), ratios, strict=True)):
            if min(sh, sw) < r:
                need = next(s for s in range(1, 1 << 16) if _fits(_stage_sides(s), ratios))
                raise ValueError(
                    f"PVTv2 with sr_ratios {ratios} needs image sides of at least {need} pixels, "
                    f"got {h}x{w}: stage {i + 1}'s {sh}x{sw} map is smaller than its "
                    f"{r:g}x{r:g} spatial reduction; resize or pad the images"
                )


def _stage_sides(side: int) -> list[int]:
    """Sides of the four stage maps for an input side (the padded convolutions round up)."""
    sides = [-(-side // 4)]
    for _ in range(3):
        sides.append(-(-sides[-1] // 2))
    return sides


def _fits(sides: list[int], ratios: list[float]) -> bool:
    return all(s >= r for s, r in zip(sides, ratios, strict=True))


# ----------------------------------------------------------- variant table ---

_WIDE = [64, 128, 320, 512]
# The largest models' examples build a shallow copy, to keep them quick.
_SHALLOW = {"depths": [1, 1, 1, 1]}

# One row per registered model: the builders, their docstrings (and so the
# documentation pages) and the checkpoint converter read these settings.
# Top-1 accuracies: ImageNet-1k at 224x224, as the PVT v2 paper reports them.
VARIANTS: dict[str, Variant] = {
    "pvt_v2_b0": Variant(
        "PVT v2-b0", stage_settings([32, 64, 160, 256], [2, 2, 2, 2], linear=False), 70.5
    ),
    "pvt_v2_b1": Variant("PVT v2-b1", stage_settings(_WIDE, [2, 2, 2, 2], linear=False), 78.7),
    "pvt_v2_b2": Variant("PVT v2-b2", stage_settings(_WIDE, [3, 4, 6, 3], linear=False), 82.0),
    "pvt_v2_b2_li": Variant(
        "PVT v2-b2-li",
        stage_settings(_WIDE, [3, 4, 6, 3], linear=True),
        82.1,
        note="b2 with linear spatial-reduction attention: keys and values come from the map "
        "average-pooled to 7x7, so attention costs grow linearly with the image area.",
    ),
    "pvt_v2_b3": Variant(
        "PVT v2-b3",
        stage_settings(_WIDE, [3, 4, 18, 3], linear=False),
        83.1,
        example_settings=_SHALLOW,
    ),
    "pvt_v2_b4": Variant(
        "PVT v2-b4",
        stage_settings(_WIDE, [3, 8, 27, 3], linear=False),
        83.6,
        example_settings=_SHALLOW,
    ),
    "pvt_v2_b5": Variant(
        "PVT v2-b5",
        stage_settings(_WIDE, [3, 6, 40, 3], mlp_ratios=[4.0, 4.0, 4.0, 4.0], linear=False),
        83.8,
        example_settings=_SHALLOW,
    ),
}

_documented = documented_by(
    VARIANTS,
    PVTv2,
    "Nominal training image side (recorded in ``config``); inputs of any size from 29x29 "
    "up work (any size with ``linear=True``).",
    {},
)


def _create_pvt_v2(variant: str, img_size: int, num_classes: int, **kwargs: Any) -> PVTv2:
    """Build ``variant`` from its table row, any setting of which ``kwargs`` override."""
    model: PVTv2 = create_variant(
        PVTv2, variant, VARIANTS[variant].settings, img_size, num_classes, kwargs
    )
    return model


# ---------------------------------------------------------------- builders ---


@register_model
@_documented
def pvt_v2_b0(img_size: int = 224, num_classes: int = 1000, **kwargs: Any) -> PVTv2:
    return _create_pvt_v2("pvt_v2_b0", img_size, num_classes, **kwargs)


@register_model
@_documented
def pvt_v2_b1(img_size: int = 224, num_classes: int = 1000, **kwargs: Any) -> PVTv2:
    return _create_pvt_v2("pvt_v2_b1", img_size, num_classes, **kwargs)


@register_model
@_documented
def pvt_v2_b2(img_size: int = 224, num_classes: int = 1000, **kwargs: Any) -> PVTv2:
    return _create_pvt_v2("pvt_v2_b2", img_size, num_classes, **kwargs)


@register_model
@_documented
def pvt_v2_b2_li(img_size: int = 224, num_classes: int = 1000, **kwargs: Any) -> PVTv2:
    return _create_pvt_v2("pvt_v2_b2_li", img_size, num_classes, **kwargs)


@register_model
@_documented
def pvt_v2_b3(img_size: int = 224, num_classes: int = 1000, **kwargs: Any) -> PVTv2:
    return _create_pvt_v2("pvt_v2_b3", img_size, num_classes, **kwargs)


@register_model
@_documented
def pvt_v2_b4(img_size: int = 224, num_classes: int = 1000, **kwargs: Any) -> PVTv2:
    return _create_pvt_v2("pvt_v2_b4", img_size, num_classes, **kwargs)


@register_model
@_documented
def pvt_v2_b5(img_size: int = 224, num_classes: int = 1000, **kwargs: Any) -> PVTv2:
    return _create_pvt_v2("pvt_v2_b5", img_size, num_classes, **kwargs)
