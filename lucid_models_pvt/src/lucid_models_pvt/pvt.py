"""PVT v1, the Pyramid Vision Transformer family.

Wenhai Wang, Enze Xie, Xiang Li, Deng-Ping Fan, Kaitao Song, Ding Liang, Tong Lu,
Ping Luo and Ling Shao, "Pyramid Vision Transformer: A Versatile Backbone for Dense
Prediction without Convolutions", ICCV 2021, https://arxiv.org/abs/2102.12122.

Parameter names follow the official implementation (``patch_embed1.proj.weight``,
``pos_embed1``, ``block1.0.attn.q.weight``, ``norm.weight``, ``cls_token``,
``head.weight``, ...), so converted official checkpoints load unchanged. The
building blocks are those of PVT v2, with v2's additions switched off.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import lucid
from lucid import nn
from lucid.models import register_model
from lucid.nn import functional as F
from lucid_models_pvt._common import (
    NUM_STAGES,
    Block,
    PatchEmbed,
    PyramidTransformer,
    Size,
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

__all__ = ["PVT", "VARIANTS", "pvt_huge", "pvt_large", "pvt_medium", "pvt_small", "pvt_tiny"]

# ------------------------------------------------------------------- model ---


class PVT(PyramidTransformer):
    """Pyramid Vision Transformer (PVT v1).

    Four stages of transformer blocks over ever coarser token grids (strides
    4, 8, 16, 32). Each stage embeds non-overlapping patches (4x4 pixels, then
    2x2 tokens), adds learned position embeddings and runs spatial-reduction
    attention; a class token joins before stage 4 and is classified after a
    final LayerNorm.

    PVT v1 comes in two layouts, which differ only in the attention output
    projection ``proj``, a ``Linear(dim, dim)`` after each attention:

    - the default (``attn_proj=False``) is the official architecture without
      that projection: the documented PVT-Medium, with 41,492,648 parameters;
    - ``attn_proj=True`` is the paper's layout (44,208,104 parameters for
      PVT-Medium), the one the official checkpoints need. Loading them with
      ``create_model("pvt_medium.in1k", pretrained=True)`` selects it.

    The accuracies the paper reports were measured on the paper's layout; the
    default layout has no published weights or accuracy.

    With ``features_only=True`` the model is the official detection backbone
    (whai362/PVT, ``detection/pvt.py``): no class token, no final norm and no
    head, so its checkpoints load; stage 4 then attends over the grid tokens
    alone (with ``pos_embed4`` less its class-token row). A classifier's
    stage 4 differs: its class token takes part in the attention, and its
    map (from :meth:`forward_intermediates`) comes after the final norm only
    with ``norm=True``.

    The constructor's defaults are PVT-Tiny's settings.

    Parameters
    ----------
    img_size : int
        Training image side; sets the position-embedding grids. Other inputs
        whose sides are multiples of 32 work too: the embeddings are then
        resized bilinearly.
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
        ``attn.sr`` that shrinks the keys and values. Stage 4 carries the class
        token, so ``sr_ratios[3]`` must be 1.
    qkv_bias : bool
        Whether the query and key/value projections have a bias.
    attn_proj : bool
        Whether each attention ends with the output projection ``proj``, a
        ``Linear(dim, dim)``. ``True`` is the paper's layout, the one the
        official checkpoints need; ``False`` is the official architecture
        without the projection.
    drop_rate : float
        Dropout probability on the token features: after the position
        embeddings, inside the MLPs and after the attention projection.
    attn_drop_rate : float
        Dropout probability on the attention weights.
    drop_path_rate : float
        Stochastic-depth rate of the last block; the rate rises linearly from 0
        over the blocks to this value.
    features_only : bool
        Build the official detection backbone (no class token, final norm or
        head): ``forward`` returns the maps of the stages ``out_indices`` chooses.
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
    >>> from lucid_models_pvt.pvt import PVT
    >>> model = PVT(img_size=64, num_classes=10, depths=[1, 1, 1, 1])
    >>> model(lucid.zeros(2, 3, 64, 64)).shape
    (2, 10)
    >>> model.forward_features(lucid.zeros(1, 3, 64, 64)).shape
    (1, 5, 512)
    >>> [tuple(m.shape) for m in model.forward_intermediates(
    ...     lucid.zeros(1, 3, 64, 64), intermediates_only=True)]
    [(1, 64, 16, 16), (1, 128, 8, 8), (1, 320, 4, 4), (1, 512, 2, 2)]
    """

    default_global_pool = "token"

    def __init__(
        self,
        img_size: int = 224,
        num_classes: int = 1000,
        *,
        in_chans: int = 3,
        in_channels: int | None = None,
        embed_dims: Sequence[int] = (64, 128, 320, 512),
        depths: Sequence[int] = (2, 2, 2, 2),
        num_heads: Sequence[int] = (1, 2, 5, 8),
        mlp_ratios: Sequence[float] = (8.0, 8.0, 4.0, 4.0),
        sr_ratios: Sequence[float] = (8.0, 4.0, 2.0, 1.0),
        qkv_bias: bool = True,
        attn_proj: bool = False,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        features_only: bool = False,
        out_indices: Sequence[int] = (0, 1, 2, 3),
    ) -> None:
        super().__init__()
        stages = check_stages(embed_dims, depths, num_heads, mlp_ratios, sr_ratios)
        if check_count("img_size", img_size, 1) % 32:
            raise ValueError(
                f"img_size must be a positive multiple of 32 (the total stride), got {img_size!r}"
            )
        if stages["sr_ratios"][3] != 1:
            raise ValueError(
                f"sr_ratios[3] must be 1 in PVT v1, got {sr_ratios[3]!r}: stage 4 "
                "carries the class token, which a spatial reduction cannot include"
            )
        self.config = {
            "img_size": int(img_size),
            "num_classes": check_count("num_classes", num_classes, 0),
            "in_chans": check_in_chans(in_chans, in_channels),
            **stages,
            "qkv_bias": check_bool("qkv_bias", qkv_bias),
            "attn_proj": check_bool("attn_proj", attn_proj),
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
            patch = 4 if i == 0 else 2
            side = img_size // 2 ** (i + 2)
            # Detection checkpoints keep the class token's row in pos_embed4 too.
            tokens = side * side + (1 if i == 3 else 0)
            setattr(self, f"patch_embed{i + 1}", PatchEmbed(channels, dims[i], patch, patch))
            setattr(self, f"pos_embed{i + 1}", nn.Parameter(lucid.zeros(1, tokens, dims[i])))
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
                    proj=attn_proj,
                )
                for _ in range(stages["depths"][i])
            ]
            setattr(self, f"block{i + 1}", nn.ModuleList(blocks))
            channels = dims[i]
        self.pos_drop = nn.Dropout(drop_rate)
        if not features_only:
            self.norm = nn.LayerNorm(dims[3], eps=1e-6)
            self.cls_token = nn.Parameter(lucid.zeros(1, 1, dims[3]))
            nn.init.trunc_normal_(self.cls_token, std=0.02)
        init_weights(self, conv_fan_out=False)
        for i in range(NUM_STAGES):
            nn.init.trunc_normal_(getattr(self, f"pos_embed{i + 1}"), std=0.02)
        self._setup(num_classes, features_only, self.config["out_indices"])

    def _forward_stages(
        self, x: lucid.Tensor, take: Collection[int], stop: int, norm: bool
    ) -> tuple[lucid.Tensor, list[lucid.Tensor]]:
        b = x.shape[0]
        maps = []
        for i in range(stop + 1):
            x, size = getattr(self, f"patch_embed{i + 1}")(x)
            # The classifier's stage 4 carries the class token; the backbone's does not.
            with_cls = i == 3 and not self.features_only
            if with_cls:
                x = lucid.cat([self.cls_token.expand(b, 1, x.shape[-1]), x], axis=1)
            x = self.pos_drop(x + self._pos_embed(i, size, with_cls))
            for block in getattr(self, f"block{i + 1}"):
                x = block(x, size)
            if with_cls:
                tokens, x = x, self.norm(x)
                if i in take:
                    maps.append(to_map((x if norm else tokens)[:, 1:], size))
            else:
                # The next patch embedding convolves the stage's map.
                x = to_map(x, size)
                if i in take:
                    maps.append(x)
        return x, maps

    def _pool(self, x: lucid.Tensor) -> lucid.Tensor:
        return x[:, 0]

    def _stage_module(self, stage: int) -> str:
        return f"block{stage + 1}.{self.config['depths'][stage] - 1}"

    def _check_sides(self, h: int, w: int) -> None:
        if h % 32 or w % 32:
            fit = f"{-(-h // 32) * 32}x{-(-w // 32) * 32}"
            raise ValueError(
                f"PVT needs image sides that are multiples of 32, got {h}x{w}; resize or "
                f"pad the images, e.g. to {fit}"
            )

    def _pos_embed(self, stage: int, size: Size, with_cls: bool) -> lucid.Tensor:
        """Stage ``stage``'s position embeddings for a ``size`` grid, resized if needed."""
        pos = getattr(self, f"pos_embed{stage + 1}")
        side = self.config["img_size"] // 2 ** (stage + 2)
        if size == (side, side) and (stage < 3 or with_cls):
            return pos
        if stage < 3:
            return _resize_grid(pos, side, size)
        # The class token's row has no place on the grid: it is kept as is, or dropped.
        grid = _resize_grid(pos[:, 1:], side, size)
        return lucid.cat([pos[:, :1], grid], axis=1) if with_cls else grid


def _resize_grid(pos: lucid.Tensor, side: int, size: Size) -> lucid.Tensor:
    """Bilinearly resize ``(1, side*side, C)`` grid embeddings to ``(1, H*W, C)``."""
    if size == (side, side):
        return pos
    c = pos.shape[-1]
    grid = pos.reshape(1, side, side, c).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=size, mode="bilinear", align_corners=False)
    return grid.flatten(2).transpose(1, 2)


# ----------------------------------------------------------- variant table ---

# One row per registered model: the builders, their docstrings (and so the
# documentation pages) and the checkpoint converter read these settings.
# Top-1 accuracies: ImageNet-1k at 224x224, as the PVT paper reports them.
# The largest models' examples build a shallow copy, to keep them quick.
_SHALLOW = {"depths": [1, 1, 1, 1]}

VARIANTS: dict[str, Variant] = {
    "pvt_tiny": Variant("PVT-Tiny", stage_settings([64, 128, 320, 512], [2, 2, 2, 2]), 75.1),
    "pvt_small": Variant("PVT-Small", stage_settings([64, 128, 320, 512], [3, 4, 6, 3]), 79.8),
    "pvt_medium": Variant(
        "PVT-Medium",
        stage_settings([64, 128, 320, 512], [3, 4, 18, 3]),
        81.2,
        note="A deeper third stage than PVT-Small for harder recognition tasks at moderate cost.",
    ),
    "pvt_large": Variant(
        "PVT-Large",
        stage_settings([64, 128, 320, 512], [3, 8, 27, 3]),
        81.7,
        example_settings=_SHALLOW,
    ),
    "pvt_huge": Variant(
        "PVT-Huge",
        stage_settings(
            [128, 256, 512, 768], [3, 10, 60, 3], num_heads=[2, 4, 8, 12], drop_path_rate=0.02
        ),
        note="The widest and deepest configuration of the official implementation; its full "
        "weights take 1.1 GB, so the example builds a shallow copy.",
        example_settings=_SHALLOW,
    ),
}

_documented = documented_by(
    VARIANTS,
    PVT,
    "Training image side (a multiple of 32); other multiples of 32 work at inference "
    "through resized position embeddings.",
    {"img_size": 64},
    paper_layout="``attn_proj=True`` (the layout of the official weights)",
)


def _create_pvt(variant: str, img_size: int, num_classes: int, **kwargs: Any) -> PVT:
    """Build ``variant`` from its table row, any setting of which ``kwargs`` override."""
    model: PVT = create_variant(
        PVT, variant, VARIANTS[variant].settings, img_size, num_classes, kwargs
    )
    return model


# ---------------------------------------------------------------- builders ---


@register_model
@_documented
def pvt_tiny(img_size: int = 224, num_classes: int = 1000, **kwargs: Any) -> PVT:
    return _create_pvt("pvt_tiny", img_size, num_classes, **kwargs)


@register_model
@_documented
def pvt_small(img_size: int = 224, num_classes: int = 1000, **kwargs: Any) -> PVT:
    return _create_pvt("pvt_small", img_size, num_classes, **kwargs)


@register_model
@_documented
def pvt_medium(img_size: int = 224, num_classes: int = 1000, **kwargs: Any) -> PVT:
    return _create_pvt("pvt_medium", img_size, num_classes, **kwargs)


@register_model
@_documented
def pvt_large(img_size: int = 224, num_classes: int = 1000, **kwargs: Any) -> PVT:
    return _create_pvt("pvt_large", img_size, num_classes, **kwargs)


@register_model
@_documented
def pvt_huge(img_size: int = 224, num_classes: int = 1000, **kwargs: Any) -> PVT:
    return _create_pvt("pvt_huge", img_size, num_classes, **kwargs)
