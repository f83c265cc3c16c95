"""PVT v2, the improved Pyramid Vision Transformer family (b0 to b5 and b2-li).

Wenhai Wang, Enze Xie, Xiang Li, Deng-Ping Fan, Kaitao Song, Ding Liang, Tong Lu,
Ping Luo and Ling Shao, "PVT v2: Improved Baselines with Pyramid Vision Transformer",
Computational Visual Media 8(3), 2022, https://arxiv.org/abs/2106.13797.

The blocks are PVT v1's (:mod:`lucid_models_pvt.pvt`) with v2's switches on:
overlapping patch embedding, a depthwise convolution in the MLP, the attention
output projection, and for ``_li`` the linear spatial-reduction attention.
Parameter names follow the official implementation (``patch_embed1.proj.weight``,
``block1.0.mlp.dwconv.dwconv.weight``, ``norm1.weight``, ``head.weight``, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lucid
from lucid import nn
from lucid.models import register_model
from lucid_models_pvt.pvt import (
    Block,
    PatchEmbed,
    _check_counts,
    _check_stages,
    _drop_path_rates,
    _init_weights,
    _PyramidTransformer,
    _reject_unknown,
)

__all__ = [
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


class PVTv2(_PyramidTransformer):
    """Pyramid Vision Transformer v2.

    Four stages over ever coarser token grids (strides 4, 8, 16, 32). Each
    stage embeds overlapping patches (a 7x7 stride-4 convolution, then 3x3
    stride 2), runs blocks of spatial-reduction attention and convolutional
    MLPs, and ends with its own LayerNorm (``norm1`` ... ``norm4``). There are
    no position embeddings and no class token: the head reads the mean of the
    last stage's tokens, and images of any size work, as long as every strided
    spatial reduction fits its stage's map (sides of at least 29 pixels with
    the default ``sr_ratios``; the linear variant takes any size).

    Parameters
    ----------
    img_size
        Nominal training image side, kept in ``config`` only: nothing in the
        model depends on the input size.
    num_classes
        Classes of the head; 0 for no head (the model returns pooled features).
    in_channels
        Channels of the input images.
    embed_dims, depths, num_heads, mlp_ratios, sr_ratios
        Per-stage token width, number of blocks, attention heads, MLP hidden
        width as a multiple of the token width, and spatial-reduction ratio
        (an integer: the kernel and stride of ``attn.sr``; unused when
        ``linear``). Defaults: PVT v2-b0.
    qkv_bias
        Bias in the query and key/value projections.
    linear
        Linear spatial-reduction attention (the ``_li`` variants): keys and
        values from the map average-pooled to 7x7, with a ReLU in each MLP.
    drop_rate, attn_drop_rate, drop_path_rate
        Dropout in MLPs and projections; dropout on attention weights;
        stochastic-depth rate, rising linearly over the blocks to this value.
    features_only
        Build a backbone: no head, and ``forward`` returns the four stage maps
        (see :meth:`forward_features`).

    Attributes
    ----------
    config : dict
        The settings the model was built with.

    Examples
    --------
    >>> import lucid
    >>> from lucid_models_pvt.pvt_v2 import PVTv2
    >>> model = PVTv2(num_classes=10, depths=[1, 1, 1, 1])
    >>> model(lucid.zeros(2, 3, 48, 40)).shape
    (2, 10)
    >>> [tuple(f.shape) for f in model.forward_features(lucid.zeros(1, 3, 64, 64))]
    [(1, 32, 16, 16), (1, 64, 8, 8), (1, 160, 4, 4), (1, 256, 2, 2)]
    """

    def __init__(
        self,
        img_size: int = 224,
        num_classes: int = 1000,
        *,
        in_channels: int = 3,
        embed_dims: Sequence[int] = (32, 64, 160, 256),
        depths: Sequence[int] = (2, 2, 2, 2),
        num_heads: Sequence[int] = (1, 2, 5, 8),
        mlp_ratios: Sequence[float] = (8.0, 8.0, 4.0, 4.0),
        sr_ratios: Sequence[int] = (8, 4, 2, 1),
        qkv_bias: bool = True,
        linear: bool = False,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        features_only: bool = False,
    ) -> None:
        super().__init__()
        stages = _check_stages(embed_dims, depths, num_heads, mlp_ratios, sr_ratios)
        _check_counts(num_classes, in_channels)
        if not isinstance(img_size, int) or img_size <= 0:
            raise ValueError(f"img_size must be a positive integer, got {img_size!r}")
        self.config = {
            "img_size": img_size,
            "num_classes": num_classes,
            "in_channels": in_channels,
            **stages,
            "qkv_bias": qkv_bias,
            "linear": linear,
            "drop_rate": drop_rate,
            "attn_drop_rate": attn_drop_rate,
            "drop_path_rate": drop_path_rate,
            "features_only": features_only,
        }
        dims = stages["embed_dims"]
        rates = iter(_drop_path_rates(drop_path_rate, stages["depths"]))
        channels = in_channels
        for i in range(4):
            kernel, stride = (7, 4) if i == 0 else (3, 2)
            setattr(self, f"patch_embed{i + 1}", PatchEmbed(channels, dims[i], kernel, stride))
            blocks = [
                Block(
                    dims[i],
                    stages["num_heads"][i],
                    stages["mlp_ratios"][i],
                    stages["sr_ratios"][i],
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
        _init_weights(self, conv_fan_out=True)
        self._setup_head(num_classes, features_only)

    def _forward_stages(
        self, x: lucid.Tensor, keep_maps: bool
    ) -> tuple[lucid.Tensor, list[lucid.Tensor]]:
        b = x.shape[0]
        maps = []
        for i in range(4):
            x, size = getattr(self, f"patch_embed{i + 1}")(x)
            for block in getattr(self, f"block{i + 1}"):
                x = block(x, size)
            x = getattr(self, f"norm{i + 1}")(x)
            if i < 3 or keep_maps:
                maps.append(x.reshape(b, *size, x.shape[-1]).permute(0, 3, 1, 2))
            if i < 3:
                # The next patch embedding convolves the stage's map.
                x = maps[-1]
        return x, maps

    def _pool(self, tokens: lucid.Tensor) -> lucid.Tensor:
        return tokens.mean(axis=1)

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
                    f"got {h}x{w}: stage {i + 1}'s {sh}x{sw} map is smaller than its {r}x{r} "
                    "spatial reduction; resize or pad the images"
                )


def _stage_sides(side: int) -> list[int]:
    """Sides of the four stage maps for an input side (the padded convolutions round up)."""
    sides = [-(-side // 4)]
    for _ in range(3):
        sides.append(-(-sides[-1] // 2))
    return sides


def _fits(sides: list[int], ratios: list[int]) -> bool:
    return all(s >= r for s, r in zip(sides, ratios, strict=True))


def _create_pvt_v2(
    variant: str, img_size: int, num_classes: int, kwargs: dict[str, Any], **defaults: Any
) -> PVTv2:
    """Build ``variant`` from its ``defaults``, any of which ``kwargs`` override."""
    _reject_unknown(variant, kwargs, PVTv2)
    return PVTv2(img_size, num_classes, **{**defaults, **kwargs})


# ---------------------------------------------------------------- builders ---

_WIDE = [64, 128, 320, 512]


@register_model
def pvt_v2_b0(img_size: int = 224, num_classes: int = 1000, **kwargs: Any) -> PVTv2:
    """PVT v2-b0: 3,666,760 parameters (3.4M without the head, as the paper counts); 70.5% top-1.

    Parameters
    ----------
    img_size : int, default 224
        Nominal training image side (recorded in ``config``); inputs of any
        size from 29x29 up work.
    num_classes : int, default 1000
        Classes of the head; 0 for a model returning pooled features.
    **kwargs
        Override any setting of :class:`PVTv2`. The b0 defaults:

        - ``embed_dims`` (list[int]): ``[32, 64, 160, 256]``
        - ``depths`` (list[int]): ``[2, 2, 2, 2]``
        - ``num_heads`` (list[int]): ``[1, 2, 5, 8]``
        - ``mlp_ratios`` (list[float]): ``[8.0, 8.0, 4.0, 4.0]``
        - ``sr_ratios`` (list[int]): ``[8, 4, 2, 1]``
        - ``linear`` (bool): ``False``
        - ``qkv_bias`` (bool): ``True``
        - ``in_channels`` (int): ``3``
        - ``drop_rate``, ``attn_drop_rate``, ``drop_path_rate`` (float): ``0.0``
        - ``features_only`` (bool): ``False``; ``True`` returns the four stage maps

    Returns
    -------
    PVTv2

    Examples
    --------
    >>> import lucid
    >>> from lucid_models_pvt.pvt_v2 import pvt_v2_b0
    >>> model = pvt_v2_b0()
    >>> model(lucid.zeros(1, 3, 64, 64)).shape
    (1, 1000)
    """
    return _create_pvt_v2(
        "pvt_v2_b0",
        img_size,
        num_classes,
        kwargs,
        embed_dims=[32, 64, 160, 256],
        depths=[2, 2, 2, 2],
    )


@register_model
def pvt_v2_b1(img_size: int = 224, num_classes: int = 1000, **kwargs: Any) -> PVTv2:
    """PVT v2-b1: 14,009,000 parameters (14.0M); 78.7% top-1.

    Parameters
    ----------
    img_size : int, default 224
        Nominal training image side (recorded in ``config``); inputs of any
        size from 29x29 up work.
    num_classes : int, default 1000
        Classes of the head; 0 for a model returning pooled features.
    **kwargs
        Override any setting of :class:`PVTv2`. The b1 defaults:

        - ``embed_dims`` (list[int]): ``[64, 128, 320, 512]``
        - ``depths`` (list[int]): ``[2, 2, 2, 2]``
        - ``num_heads`` (list[int]): ``[1, 2, 5, 8]``
        - ``mlp_ratios`` (list[float]): ``[8.0, 8.0, 4.0, 4.0]``
        - ``sr_ratios`` (list[int]): ``[8, 4, 2, 1]``
        - ``linear`` (bool): ``False``
        - ``qkv_bias`` (bool): ``True``
        - ``in_channels`` (int): ``3``
        - ``drop_rate``, ``attn_drop_rate``, ``drop_path_rate`` (float): ``0.0``
        - ``features_only`` (bool): ``False``; ``True`` returns the four stage maps

    Returns
    -------
    PVTv2

    Examples
    --------
    >>> import lucid
    >>> from lucid_models_pvt.pvt_v2 import pvt_v2_b1
    >>> model = pvt_v2_b1(num_classes=0)
    >>> model(lucid.zeros(1, 3, 64, 64)).shape
    (1, 512)
    """
    return _create_pvt_v2(
        "pvt_v2_b1", img_size, num_classes, kwargs, embed_dims=_WIDE, depths=[2, 2, 2, 2]
    )


@register_model
def pvt_v2_b2(img_size: int = 224, num_classes: int = 1000, **kwargs: Any) -> PVTv2:
    """PVT v2-b2: 25,362,856 parameters (25.4M); 82.0% top-1.

    Parameters
    ----------
    img_size : int, default 224
        Nominal training image side (recorded in ``config``); inputs of any
        size from 29x29 up work.
    num_classes : int, default 1000
        Classes of the head; 0 for a model returning pooled features.
    **kwargs
        Override any setting of :class:`PVTv2`. The b2 defaults:

        - ``embed_dims`` (list[int]): ``[64, 128, 320, 512]``
        - ``depths`` (list[int]): ``[3, 4, 6, 3]``
        - ``num_heads`` (list[int]): ``[1, 2, 5, 8]``
        - ``mlp_ratios`` (list[float]): ``[8.0, 8.0, 4.0, 4.0]``
        - ``sr_ratios`` (list[int]): ``[8, 4, 2, 1]``
        - ``linear`` (bool): ``False``
        - ``qkv_bias`` (bool): ``True``
        - ``in_channels`` (int): ``3``
        - ``drop_rate``, ``attn_drop_rate``, ``drop_path_rate`` (float): ``0.0``
        - ``features_only`` (bool): ``False``; ``True`` returns the four stage maps

    Returns
    -------
    PVTv2

    Examples
    --------
    >>> import lucid
    >>> from lucid_models_pvt.pvt_v2 import pvt_v2_b2
    >>> backbone = pvt_v2_b2(features_only=True)
    >>> [f.shape[1] for f in backbone(lucid.zeros(1, 3, 64, 64))]
    [64, 128, 320, 512]
    """
    return _create_pvt_v2(
        "pvt_v2_b2", img_size, num_classes, kwargs, embed_dims=_WIDE, depths=[3, 4, 6, 3]
    )


@register_model
def pvt_v2_b2_li(img_size: int = 224, num_classes: int = 1000, **kwargs: Any) -> PVTv2:
    """PVT v2-b2-li, b2 with linear attention: 22,553,512 parameters (22.6M); 82.1% top-1.

    Keys and values come from the map average-pooled to 7x7, so attention
    costs grow linearly with the image area.

    Parameters
    ----------
    img_size : int, default 224
        Nominal training image side (recorded in ``config``); inputs of any
        size work.
    num_classes : int, default 1000
        Classes of the head; 0 for a model returning pooled features.
    **kwargs
        Override any setting of :class:`PVTv2`. The b2-li defaults:

        - ``embed_dims`` (list[int]): ``[64, 128, 320, 512]``
        - ``depths`` (list[int]): ``[3, 4, 6, 3]``
        - ``num_heads`` (list[int]): ``[1, 2, 5, 8]``
        - ``mlp_ratios`` (list[float]): ``[8.0, 8.0, 4.0, 4.0]``
        - ``sr_ratios`` (list[int]): ``[8, 4, 2, 1]`` (unused with ``linear``)
        - ``linear`` (bool): ``True``
        - ``qkv_bias`` (bool): ``True``
        - ``in_channels`` (int): ``3``
        - ``drop_rate``, ``attn_drop_rate``, ``drop_path_rate`` (float): ``0.0``
        - ``features_only`` (bool): ``False``; ``True`` returns the four stage maps

    Returns
    -------
    PVTv2

    Examples
    --------
    >>> import lucid
    >>> from lucid_models_pvt.pvt_v2 import pvt_v2_b2_li
    >>> model = pvt_v2_b2_li(num_classes=10)
    >>> model(lucid.zeros(1, 3, 96, 64)).shape
    (1, 10)
    """
    return _create_pvt_v2(
        "pvt_v2_b2_li",
        img_size,
        num_classes,
        kwargs,
        embed_dims=_WIDE,
        depths=[3, 4, 6, 3],
        linear=True,
    )


@register_model
def pvt_v2_b3(img_size: int = 224, num_classes: int = 1000, **kwargs: Any) -> PVTv2:
    """PVT v2-b3: 45,238,696 parameters (45.2M); 83.1% top-1.

    Parameters
    ----------
    img_size : int, default 224
        Nominal training image side (recorded in ``config``); inputs of any
        size from 29x29 up work.
    num_classes : int, default 1000
        Classes of the head; 0 for a model returning pooled features.
    **kwargs
        Override any setting of :class:`PVTv2`. The b3 defaults:

        - ``embed_dims`` (list[int]): ``[64, 128, 320, 512]``
        - ``depths`` (list[int]): ``[3, 4, 18, 3]``
        - ``num_heads`` (list[int]): ``[1, 2, 5, 8]``
        - ``mlp_ratios`` (list[float]): ``[8.0, 8.0, 4.0, 4.0]``
        - ``sr_ratios`` (list[int]): ``[8, 4, 2, 1]``
        - ``linear`` (bool): ``False``
        - ``qkv_bias`` (bool): ``True``
        - ``in_channels`` (int): ``3``
        - ``drop_rate``, ``attn_drop_rate``, ``drop_path_rate`` (float): ``0.0``
        - ``features_only`` (bool): ``False``; ``True`` returns the four stage maps

    Returns
    -------
    PVTv2

    Examples
    --------
    >>> from lucid_models_pvt.pvt_v2 import pvt_v2_b3
    >>> pvt_v2_b3(depths=[1, 1, 1, 1]).config["depths"]
    [1, 1, 1, 1]
    """
    return _create_pvt_v2(
        "pvt_v2_b3", img_size, num_classes, kwargs, embed_dims=_WIDE, depths=[3, 4, 18, 3]
    )


@register_model
def pvt_v2_b4(img_size: int = 224, num_classes: int = 1000, **kwargs: Any) -> PVTv2:
    """PVT v2-b4: 62,556,072 parameters (62.6M); 83.6% top-1.

    Parameters
    ----------
    img_size : int, default 224
        Nominal training image side (recorded in ``config``); inputs of any
        size from 29x29 up work.
    num_classes : int, default 1000
        Classes of the head; 0 for a model returning pooled features.
    **kwargs
        Override any setting of :class:`PVTv2`. The b4 defaults:

        - ``embed_dims`` (list[int]): ``[64, 128, 320, 512]``
        - ``depths`` (list[int]): ``[3, 8, 27, 3]``
        - ``num_heads`` (list[int]): ``[1, 2, 5, 8]``
        - ``mlp_ratios`` (list[float]): ``[8.0, 8.0, 4.0, 4.0]``
        - ``sr_ratios`` (list[int]): ``[8, 4, 2, 1]``
        - ``linear`` (bool): ``False``
        - ``qkv_bias`` (bool): ``True``
        - ``in_channels`` (int): ``3``
        - ``drop_rate``, ``attn_drop_rate``, ``drop_path_rate`` (float): ``0.0``
        - ``features_only`` (bool): ``False``; ``True`` returns the four stage maps

    Returns
    -------
    PVTv2

    Examples
    --------
    >>> from lucid_models_pvt.pvt_v2 import pvt_v2_b4
    >>> pvt_v2_b4(depths=[1, 1, 1, 1]).config["embed_dims"]
    [64, 128, 320, 512]
    """
    return _create_pvt_v2(
        "pvt_v2_b4", img_size, num_classes, kwargs, embed_dims=_WIDE, depths=[3, 8, 27, 3]
    )


@register_model
def pvt_v2_b5(img_size: int = 224, num_classes: int = 1000, **kwargs: Any) -> PVTv2:
    """PVT v2-b5: 81,956,008 parameters (82.0M); 83.8% top-1.

    Parameters
    ----------
    img_size : int, default 224
        Nominal training image side (recorded in ``config``); inputs of any
        size from 29x29 up work.
    num_classes : int, default 1000
        Classes of the head; 0 for a model returning pooled features.
    **kwargs
        Override any setting of :class:`PVTv2`. The b5 defaults:

        - ``embed_dims`` (list[int]): ``[64, 128, 320, 512]``
        - ``depths`` (list[int]): ``[3, 6, 40, 3]``
        - ``num_heads`` (list[int]): ``[1, 2, 5, 8]``
        - ``mlp_ratios`` (list[float]): ``[4.0, 4.0, 4.0, 4.0]``
        - ``sr_ratios`` (list[int]): ``[8, 4, 2, 1]``
        - ``linear`` (bool): ``False``
        - ``qkv_bias`` (bool): ``True``
        - ``in_channels`` (int): ``3``
        - ``drop_rate``, ``attn_drop_rate``, ``drop_path_rate`` (float): ``0.0``
        - ``features_only`` (bool): ``False``; ``True`` returns the four stage maps

    Returns
    -------
    PVTv2

    Examples
    --------
    >>> from lucid_models_pvt.pvt_v2 import pvt_v2_b5
    >>> pvt_v2_b5(depths=[1, 1, 1, 1]).config["mlp_ratios"]
    [4.0, 4.0, 4.0, 4.0]
    """
    return _create_pvt_v2(
        "pvt_v2_b5",
        img_size,
        num_classes,
        kwargs,
        embed_dims=_WIDE,
        depths=[3, 6, 40, 3],
        mlp_ratios=[4.0, 4.0, 4.0, 4.0],
    )
