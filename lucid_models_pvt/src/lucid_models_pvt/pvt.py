"""PVT v1, the Pyramid Vision Transformer family, and the blocks PVT v2 shares with it.

Wenhai Wang, Enze Xie, Xiang Li, Deng-Ping Fan, Kaitao Song, Ding Liang, Tong Lu,
Ping Luo and Ling Shao, "Pyramid Vision Transformer: A Versatile Backbone for Dense
Prediction without Convolutions", ICCV 2021, https://arxiv.org/abs/2102.12122.

Parameter names follow the official implementation (``patch_embed1.proj.weight``,
``pos_embed1``, ``block1.0.attn.q.weight``, ``norm.weight``, ``cls_token``,
``head.weight``, ...), so converted official checkpoints load unchanged.
"""

from __future__ import annotations

import difflib
import inspect
import math
from collections.abc import Sequence
from typing import Any

import lucid
from lucid import nn
from lucid.models import register_model
from lucid.nn import functional as F

__all__ = ["PVT", "pvt_huge", "pvt_large", "pvt_medium", "pvt_small", "pvt_tiny"]

# Height and width of a stage's token grid.
Size = tuple[int, int]

# ------------------------------------------------------------------ blocks ---


class DWConv(nn.Module):
    """Depthwise 3x3 convolution over a token sequence seen as its ``(H, W)`` grid (PVT v2)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)

    def forward(self, x: lucid.Tensor, size: Size) -> lucid.Tensor:
        b, _, c = x.shape
        x = self.dwconv(x.transpose(1, 2).reshape(b, c, *size))
        return x.flatten(2).transpose(1, 2)


class Mlp(nn.Module):
    """Feed-forward block ``fc1 -> GELU -> fc2``, with PVT v2's optional additions.

    Parameters
    ----------
    dim, hidden
        Token width and hidden width.
    drop
        Dropout after the activation and after ``fc2``.
    dwconv
        Insert a depthwise 3x3 convolution before the GELU (PVT v2).
    relu
        Apply a ReLU right after ``fc1`` (PVT v2's linear variant).
    """

    def __init__(
        self, dim: int, hidden: int, drop: float = 0.0, dwconv: bool = False, relu: bool = False
    ) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.relu = relu
        self.dwconv = DWConv(hidden) if dwconv else None
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: lucid.Tensor, size: Size) -> lucid.Tensor:
        if self.relu or self.dwconv is not None:
            x = self.fc1(x)
            if self.relu:
                x = x.relu()
            if self.dwconv is not None:
                x = self.dwconv(x, size)
            x = self.act(x)
        else:
            # fc1 and act fused: one pass over the widest activation of the block.
            x = F.linear_gelu(x, self.fc1.weight, self.fc1.bias)
        return self.drop(self.fc2(self.drop(x)))


class Attention(nn.Module):
    """Spatial-reduction attention (SRA): keys and values come from a shrunken copy of the map.

    Parameters
    ----------
    dim, num_heads
        Token width and number of heads (``dim`` must be divisible by it).
    sr_ratio
        With ``sr_ratio > 1`` a convolution of kernel and stride ``sr_ratio``
        (``sr``) and a LayerNorm (``norm``) shrink the key/value map by that
        factor per side.
    qkv_bias
        Bias in the ``q`` and ``kv`` projections.
    attn_drop
        Dropout on the attention weights while training.
    proj
        Add the output projection ``proj`` of the paper.
    proj_drop
        Dropout after ``proj``.
    linear
        PVT v2's linear SRA instead: average-pool the map to 7x7, then a 1x1
        convolution, LayerNorm and GELU, whatever the input size.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        sr_ratio: int = 1,
        qkv_bias: bool = True,
        attn_drop: float = 0.0,
        proj: bool = True,
        proj_drop: float = 0.0,
        linear: bool = False,
    ) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.linear = linear
        self.attn_drop = attn_drop
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.kv = nn.Linear(dim, 2 * dim, bias=qkv_bias)
        reduce = linear or sr_ratio > 1
        kernel = 1 if linear else sr_ratio
        self.sr = nn.Conv2d(dim, dim, kernel, stride=kernel) if reduce else None
        # PyTorch's default eps here, as in the reference implementation.
        self.norm = nn.LayerNorm(dim) if reduce else None
        self.proj = nn.Linear(dim, dim) if proj else None
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: lucid.Tensor, size: Size) -> lucid.Tensor:
        b, n, c = x.shape
        heads = self.num_heads
        q = self.q(x).reshape(b, n, heads, c // heads).transpose(1, 2)
        kv = self.kv(x if self.sr is None else self._reduce(x, size))
        k, v = kv.reshape(b, -1, 2, heads, c // heads).permute(2, 0, 3, 1, 4)
        dropout = self.attn_drop if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout)
        out = out.transpose(1, 2).reshape(b, n, c)
        if self.proj is not None:
            out = self.proj_drop(self.proj(out))
        return out

    def _reduce(self, x: lucid.Tensor, size: Size) -> lucid.Tensor:
        """The shrunken token sequence that keys and values are computed from."""
        b, _, c = x.shape
        grid = x.transpose(1, 2).reshape(b, c, *size)
        if self.linear:
            grid = F.adaptive_avg_pool2d(grid, 7)
        x = self.norm(self.sr(grid).flatten(2).transpose(1, 2))
        return F.gelu(x) if self.linear else x


class Block(nn.Module):
    """Pre-norm transformer block: ``x + attn(norm1(x))``, then ``x + mlp(norm2(x))``.

    ``proj``, ``dwconv`` and ``linear`` choose between the PVT v1 and v2
    layouts (see :class:`Attention` and :class:`Mlp`).
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float,
        sr_ratio: int,
        qkv_bias: bool = True,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        proj: bool = True,
        dwconv: bool = False,
        linear: bool = False,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads, sr_ratio, qkv_bias, attn_drop, proj, drop, linear)
        self.drop_path = nn.DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop, dwconv, relu=linear)

    def forward(self, x: lucid.Tensor, size: Size) -> lucid.Tensor:
        if lucid.is_grad_enabled():
            x = x + self.drop_path(self.attn(self.norm1(x), size))
            return x + self.drop_path(self.mlp(self.norm2(x), size))
        # Nothing is recorded: each residual goes into the branch's fresh
        # output, in place, instead of into a third array.
        y = self.drop_path(self.attn(self.norm1(x), size))
        y += x
        z = self.drop_path(self.mlp(self.norm2(y), size))
        z += y
        return z


class PatchEmbed(nn.Module):
    """An image or feature map to a token sequence: a strided convolution, then LayerNorm.

    PVT v1 cuts non-overlapping patches (``kernel == stride``); PVT v2's
    patches overlap, padded by half the kernel.
    """

    def __init__(self, in_channels: int, dim: int, kernel: int, stride: int) -> None:
        super().__init__()
        padding = 0 if kernel == stride else kernel // 2
        self.proj = nn.Conv2d(in_channels, dim, kernel, stride=stride, padding=padding)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: lucid.Tensor) -> tuple[lucid.Tensor, Size]:
        x = self.proj(x)
        size = (x.shape[2], x.shape[3])
        return self.norm(x.flatten(2).transpose(1, 2)), size


# ------------------------------------------------- shared model machinery ---


def _check_stages(
    embed_dims: Sequence[int],
    depths: Sequence[int],
    num_heads: Sequence[int],
    mlp_ratios: Sequence[float],
    sr_ratios: Sequence[int],
) -> dict[str, list[Any]]:
    """The per-stage settings as lists, after checking they describe four consistent stages."""
    settings = {
        "embed_dims": embed_dims,
        "depths": depths,
        "num_heads": num_heads,
        "mlp_ratios": mlp_ratios,
        "sr_ratios": sr_ratios,
    }
    checked: dict[str, list[Any]] = {}
    for name, value in settings.items():
        if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 4:
            raise ValueError(
                f"{name} needs one value per stage, i.e. a list of 4, got {value!r}; "
                "PVT always has four stages"
            )
        numbers = (int, float) if name == "mlp_ratios" else (int,)
        if not all(isinstance(v, numbers) and not isinstance(v, bool) and v > 0 for v in value):
            kind = "positive numbers" if name == "mlp_ratios" else "positive integers"
            raise ValueError(f"{name} must be {kind}, got {value!r}")
        checked[name] = list(value)
    for i, (dim, heads) in enumerate(zip(checked["embed_dims"], checked["num_heads"], strict=True)):
        if dim % heads:
            raise ValueError(
                f"embed_dims[{i}]={dim} is not divisible by num_heads[{i}]={heads}: every head "
                f"gets an equal share of the width; choose a num_heads[{i}] that divides {dim}"
            )
    return checked


def _drop_path_rates(rate: float, depths: Sequence[int]) -> list[float]:
    """Stochastic-depth rates rising linearly from 0 to ``rate`` over all blocks."""
    total = sum(depths)
    return [rate * j / (total - 1) if total > 1 else 0.0 for j in range(total)]


def _init_weights(model: nn.Module, conv_fan_out: bool) -> None:
    """Initialise as the reference implementations do.

    Linear layers get truncated-normal weights (std 0.02) and zero biases;
    with ``conv_fan_out`` (PVT v2) convolutions get normal weights of std
    ``sqrt(2 / fan_out)`` and zero biases. LayerNorms keep ones and zeros.
    """
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif conv_fan_out and isinstance(m, nn.Conv2d):
            out_channels, _, kh, kw = m.weight.shape
            fan_out = kh * kw * out_channels // m.groups
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def _check_counts(num_classes: int, in_channels: int) -> None:
    for name, value, least in (("num_classes", num_classes, 0), ("in_channels", in_channels, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            hint = "; use 0 for a model without a classifier" if name == "num_classes" else ""
            kind = "a non-negative" if least == 0 else "a positive"
            raise ValueError(f"{name} must be {kind} integer, got {value!r}{hint}")


def _new_head(num_features: int, num_classes: int) -> nn.Module:
    _check_counts(num_classes, 1)
    if num_classes == 0:
        return nn.Identity()
    head = nn.Linear(num_features, num_classes)
    nn.init.trunc_normal_(head.weight, std=0.02)
    nn.init.zeros_(head.bias)
    return head


def _reject_unknown(variant: str, kwargs: dict[str, Any], model_class: type) -> None:
    """Name an unknown setting, and the closest valid ones, before the model is built."""
    valid = [p for p in inspect.signature(model_class).parameters if p != "self"]
    for key in kwargs:
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=3)
            hint = f"did you mean {' or '.join(map(repr, close))}? " if close else ""
            raise TypeError(
                f"{variant}() got an unknown setting {key!r}; {hint}"
                f"valid settings are: {', '.join(valid)}"
            )


class _PyramidTransformer(nn.Module):
    """What PVT and PVT v2 share: the head, input checks and the forward entry points.

    Subclasses build their stages, set ``config`` and call ``_setup_head``;
    they implement ``_forward_stages`` (final tokens and stage maps) and
    ``_pool`` (tokens to one feature vector per image).
    """

    config: dict[str, Any]

    def _setup_head(self, num_classes: int, features_only: bool) -> None:
        self.features_only = features_only
        self.num_features = self.config["embed_dims"][-1]
        self.num_classes = 0 if features_only else num_classes
        self.head = _new_head(self.num_features, self.num_classes)
        self.config["num_classes"] = self.num_classes

    def forward(self, x: lucid.Tensor) -> lucid.Tensor | list[lucid.Tensor]:
        """Classify a batch of images.

        Parameters
        ----------
        x
            Images of shape ``(B, in_channels, H, W)``, floating point.

        Returns
        -------
        Tensor or list of Tensor
            Logits of shape ``(B, num_classes)``; pooled features of shape
            ``(B, embed_dims[-1])`` when ``num_classes=0``; the four stage
            maps (see :meth:`forward_features`) when built with
            ``features_only=True``.
        """
        self._check_input(x)
        if self.features_only:
            return self._forward_stages(x, keep_maps=True)[1]
        tokens, _ = self._forward_stages(x, keep_maps=False)
        return self.head(self._pool(tokens))

    def forward_features(self, x: lucid.Tensor) -> list[lucid.Tensor]:
        """The four stage feature maps, the backbone output for dense prediction.

        Parameters
        ----------
        x
            Images of shape ``(B, in_channels, H, W)``, floating point.

        Returns
        -------
        list of Tensor
            ``[(B, C1, H/4, W/4), (B, C2, H/8, W/8), (B, C3, H/16, W/16),
            (B, C4, H/32, W/32)]`` with ``Ci = embed_dims[i]`` (sides round
            up for PVT v2 inputs that are not multiples of 32).
        """
        self._check_input(x)
        return self._forward_stages(x, keep_maps=True)[1]

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the head with a freshly initialised one for ``num_classes`` classes (0: none).

        Parameters
        ----------
        num_classes
            Number of output classes; 0 removes the head, so the model
            returns pooled features.
        """
        if self.features_only:
            raise ValueError(
                "a features_only model returns stage maps and has no classifier; "
                "build it without features_only=True to classify"
            )
        self.head = _new_head(self.num_features, num_classes)
        self.num_classes = num_classes
        self.config["num_classes"] = num_classes

    def _forward_stages(
        self, x: lucid.Tensor, keep_maps: bool
    ) -> tuple[lucid.Tensor, list[lucid.Tensor]]:
        raise NotImplementedError

    def _pool(self, tokens: lucid.Tensor) -> lucid.Tensor:
        raise NotImplementedError

    def _check_input(self, x: Any) -> None:
        channels = self.config["in_channels"]
        expected = f"(B, {channels}, H, W)"
        if not isinstance(x, lucid.Tensor):
            raise TypeError(
                f"expected a lucid.Tensor of shape {expected}, got {type(x).__name__}; "
                "wrap arrays with lucid.Tensor(...)"
            )
        if x.ndim != 4:
            hint = "; add a batch dimension with x.unsqueeze(0)" if x.ndim == 3 else ""
            raise ValueError(f"expected input of shape {expected}, got {x.shape!r}{hint}")
        if x.shape[1] != channels:
            raise ValueError(
                f"expected input of shape {expected}, got {x.shape!r} with {x.shape[1]} "
                f"channels; convert the images to {channels} channels or build the model "
                f"with in_channels={x.shape[1]}"
            )
        if x.dtype.kind != "f":
            raise TypeError(
                f"expected floating-point images, got dtype {x.dtype}; convert with x.float() "
                "and scale and normalise as the model was trained (e.g. x.float() / 255)"
            )
        self._check_sides(x.shape[2], x.shape[3])

    def _check_sides(self, h: int, w: int) -> None:
        """Raise if the stages cannot process an ``h`` x ``w`` image."""


# ------------------------------------------------------------------- model ---


class PVT(_PyramidTransformer):
    """Pyramid Vision Transformer (PVT v1).

    Four stages of transformer blocks over ever coarser token grids (strides
    4, 8, 16, 32). Each stage embeds non-overlapping patches (4x4 pixels, then
    2x2 tokens), adds learned position embeddings and runs spatial-reduction
    attention; a class token joins before stage 4 and is classified after a
    final LayerNorm.

    By default the attention has no output projection (the layout of the
    parameter counts our documentation gives, e.g. 41,492,648 for
    PVT-Medium); ``attn_proj=True`` adds the paper's ``proj`` Linear after
    each attention (44,208,104 for PVT-Medium), the layout of the official
    checkpoints.

    Parameters
    ----------
    img_size
        Training image side; sets the position-embedding grids. Other inputs
        whose sides are multiples of 32 work too: the embeddings are then
        resized bilinearly.
    num_classes
        Classes of the head; 0 for no head (the model returns pooled features).
    in_channels
        Channels of the input images.
    embed_dims, depths, num_heads, mlp_ratios, sr_ratios
        Per-stage token width, number of blocks, attention heads, MLP hidden
        width as a multiple of the token width, and spatial-reduction ratio
        (an integer: the kernel and stride of ``attn.sr``). Defaults: PVT-Tiny.
        Stage 4 carries the class token, so ``sr_ratios[3]`` must be 1.
    qkv_bias
        Bias in the query and key/value projections.
    attn_proj
        Add the attention output projection of the paper and the official
        checkpoints.
    drop_rate, attn_drop_rate, drop_path_rate
        Dropout after position embeddings and in MLPs and projections; dropout
        on attention weights; stochastic-depth rate, rising linearly over the
        blocks to this value.
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
    >>> from lucid_models_pvt.pvt import PVT
    >>> model = PVT(img_size=64, num_classes=10, depths=[1, 1, 1, 1])
    >>> model(lucid.zeros(2, 3, 64, 64)).shape
    (2, 10)
    >>> [tuple(f.shape) for f in model.forward_features(lucid.zeros(1, 3, 64, 64))]
    [(1, 64, 16, 16), (1, 128, 8, 8), (1, 320, 4, 4), (1, 512, 2, 2)]
    """

    def __init__(
        self,
        img_size: int = 224,
        num_classes: int = 1000,
        *,
        in_channels: int = 3,
        embed_dims: Sequence[int] = (64, 128, 320, 512),
        depths: Sequence[int] = (2, 2, 2, 2),
        num_heads: Sequence[int] = (1, 2, 5, 8),
        mlp_ratios: Sequence[float] = (8.0, 8.0, 4.0, 4.0),
        sr_ratios: Sequence[int] = (8, 4, 2, 1),
        qkv_bias: bool = True,
        attn_proj: bool = False,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        features_only: bool = False,
    ) -> None:
        super().__init__()
        stages = _check_stages(embed_dims, depths, num_heads, mlp_ratios, sr_ratios)
        _check_counts(num_classes, in_channels)
        if not isinstance(img_size, int) or img_size <= 0 or img_size % 32:
            raise ValueError(
                f"img_size must be a positive multiple of 32 (the total stride), got {img_size!r}"
            )
        if stages["sr_ratios"][3] != 1:
            raise ValueError(
                f"sr_ratios[3] must be 1 in PVT v1, got {stages['sr_ratios'][3]}: stage 4 "
                "carries the class token, which a spatial reduction cannot include"
            )
        self.config = {
            "img_size": img_size,
            "num_classes": num_classes,
            "in_channels": in_channels,
            **stages,
            "qkv_bias": qkv_bias,
            "attn_proj": attn_proj,
            "drop_rate": drop_rate,
            "attn_drop_rate": attn_drop_rate,
            "drop_path_rate": drop_path_rate,
            "features_only": features_only,
        }
        dims = stages["embed_dims"]
        rates = iter(_drop_path_rates(drop_path_rate, stages["depths"]))
        channels = in_channels
        for i in range(4):
            patch = 4 if i == 0 else 2
            side = img_size // 2 ** (i + 2)
            tokens = side * side + (1 if i == 3 else 0)
            setattr(self, f"patch_embed{i + 1}", PatchEmbed(channels, dims[i], patch, patch))
            setattr(self, f"pos_embed{i + 1}", nn.Parameter(lucid.zeros(1, tokens, dims[i])))
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
                    proj=attn_proj,
                )
                for _ in range(stages["depths"][i])
            ]
            setattr(self, f"block{i + 1}", nn.ModuleList(blocks))
            channels = dims[i]
        self.pos_drop = nn.Dropout(drop_rate)
        self.norm = nn.LayerNorm(dims[3], eps=1e-6)
        self.cls_token = nn.Parameter(lucid.zeros(1, 1, dims[3]))
        _init_weights(self, conv_fan_out=False)
        for i in range(4):
            nn.init.trunc_normal_(getattr(self, f"pos_embed{i + 1}"), std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        self._setup_head(num_classes, features_only)

    def _forward_stages(
        self, x: lucid.Tensor, keep_maps: bool
    ) -> tuple[lucid.Tensor, list[lucid.Tensor]]:
        b = x.shape[0]
        maps = []
        for i in range(4):
            x, size = getattr(self, f"patch_embed{i + 1}")(x)
            c = x.shape[-1]
            if i == 3:
                x = lucid.cat([self.cls_token.expand(b, 1, c), x], axis=1)
            x = self.pos_drop(x + self._pos_embed(i, size))
            for block in getattr(self, f"block{i + 1}"):
                x = block(x, size)
            if i < 3:
                # The next patch embedding convolves the stage's map.
                x = x.reshape(b, *size, c).permute(0, 3, 1, 2)
                maps.append(x)
        x = self.norm(x)
        if keep_maps:
            maps.append(x[:, 1:].reshape(b, *size, c).permute(0, 3, 1, 2))
        return x, maps

    def _pool(self, tokens: lucid.Tensor) -> lucid.Tensor:
        return tokens[:, 0]

    def _check_sides(self, h: int, w: int) -> None:
        if h % 32 or w % 32:
            fit = f"{-(-h // 32) * 32}x{-(-w // 32) * 32}"
            raise ValueError(
                f"PVT needs image sides that are multiples of 32, got {h}x{w}; resize or "
                f"pad the images, e.g. to {fit}"
            )

    def _pos_embed(self, stage: int, size: Size) -> lucid.Tensor:
        """Stage ``stage``'s position embeddings for a ``size`` grid, resized if needed."""
        pos = getattr(self, f"pos_embed{stage + 1}")
        side = self.config["img_size"] // 2 ** (stage + 2)
        if size == (side, side):
            return pos
        if stage < 3:
            return _resize_grid(pos, side, size)
        # The class token's embedding has no place on the grid: keep it as is.
        return lucid.cat([pos[:, :1], _resize_grid(pos[:, 1:], side, size)], axis=1)


def _resize_grid(pos: lucid.Tensor, side: int, size: Size) -> lucid.Tensor:
    """Bilinearly resize ``(1, side*side, C)`` grid embeddings to ``(1, H*W, C)``."""
    c = pos.shape[-1]
    grid = pos.reshape(1, side, side, c).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=size, mode="bilinear", align_corners=False)
    return grid.flatten(2).transpose(1, 2)


def _create_pvt(
    variant: str, img_size: int, num_classes: int, kwargs: dict[str, Any], **defaults: Any
) -> PVT:
    """Build ``variant`` from its ``defaults``, any of which ``kwargs`` override."""
    _reject_unknown(variant, kwargs, PVT)
    return PVT(img_size, num_classes, **{**defaults, **kwargs})


# ---------------------------------------------------------------- builders ---


@register_model
def pvt_tiny(img_size: int = 224, num_classes: int = 1000, **kwargs: Any) -> PVT:
    """PVT-Tiny: 12,457,192 parameters (13,229,288 with ``attn_proj=True``); 75.1% top-1.

    Parameters
    ----------
    img_size : int, default 224
        Training image side (a multiple of 32); other multiples of 32 work at
        inference through resized position embeddings.
    num_classes : int, default 1000
        Classes of the head; 0 for a model returning pooled features.
    **kwargs
        Override any setting of :class:`PVT`. The PVT-Tiny defaults:

        - ``embed_dims`` (list[int]): ``[64, 128, 320, 512]``
        - ``depths`` (list[int]): ``[2, 2, 2, 2]``
        - ``num_heads`` (list[int]): ``[1, 2, 5, 8]``
        - ``mlp_ratios`` (list[float]): ``[8.0, 8.0, 4.0, 4.0]``
        - ``sr_ratios`` (list[int]): ``[8, 4, 2, 1]``
        - ``attn_proj`` (bool): ``False``; ``True`` adds the attention output
          projection of the paper and the official checkpoints
        - ``qkv_bias`` (bool): ``True``
        - ``in_channels`` (int): ``3``
        - ``drop_rate``, ``attn_drop_rate``, ``drop_path_rate`` (float): ``0.0``
        - ``features_only`` (bool): ``False``; ``True`` returns the four stage maps

    Returns
    -------
    PVT

    Examples
    --------
    >>> import lucid
    >>> from lucid_models_pvt.pvt import pvt_tiny
    >>> model = pvt_tiny(img_size=64)
    >>> model(lucid.zeros(1, 3, 64, 64)).shape
    (1, 1000)
    """
    return _create_pvt("pvt_tiny", img_size, num_classes, kwargs, depths=[2, 2, 2, 2])


@register_model
def pvt_small(img_size: int = 224, num_classes: int = 1000, **kwargs: Any) -> PVT:
    """PVT-Small: 23,003,048 parameters (24,485,864 with ``attn_proj=True``); 79.8% top-1.

    Parameters
    ----------
    img_size : int, default 224
        Training image side (a multiple of 32); other multiples of 32 work at
        inference through resized position embeddings.
    num_classes : int, default 1000
        Classes of the head; 0 for a model returning pooled features.
    **kwargs
        Override any setting of :class:`PVT`. The PVT-Small defaults:

        - ``embed_dims`` (list[int]): ``[64, 128, 320, 512]``
        - ``depths`` (list[int]): ``[3, 4, 6, 3]``
        - ``num_heads`` (list[int]): ``[1, 2, 5, 8]``
        - ``mlp_ratios`` (list[float]): ``[8.0, 8.0, 4.0, 4.0]``
        - ``sr_ratios`` (list[int]): ``[8, 4, 2, 1]``
        - ``attn_proj`` (bool): ``False``; ``True`` adds the attention output
          projection of the paper and the official checkpoints
        - ``qkv_bias`` (bool): ``True``
        - ``in_channels`` (int): ``3``
        - ``drop_rate``, ``attn_drop_rate``, ``drop_path_rate`` (float): ``0.0``
        - ``features_only`` (bool): ``False``; ``True`` returns the four stage maps

    Returns
    -------
    PVT

    Examples
    --------
    >>> from lucid_models_pvt.pvt import pvt_small
    >>> model = pvt_small(img_size=64, num_classes=10)
    >>> model.config["depths"]
    [3, 4, 6, 3]
    """
    return _create_pvt("pvt_small", img_size, num_classes, kwargs, depths=[3, 4, 6, 3])


@register_model
def pvt_medium(img_size: int = 224, num_classes: int = 1000, **kwargs: Any) -> PVT:
    """PVT-Medium: 41,492,648 parameters (44,208,104 with ``attn_proj=True``); 81.2% top-1.

    A deeper third stage than PVT-Small (18 blocks) for harder recognition
    tasks at moderate cost.

    Parameters
    ----------
    img_size : int, default 224
        Training image side (a multiple of 32); other multiples of 32 work at
        inference through resized position embeddings.
    num_classes : int, default 1000
        Classes of the head; 0 for a model returning pooled features.
    **kwargs
        Override any setting of :class:`PVT`. The PVT-Medium defaults:

        - ``embed_dims`` (list[int]): ``[64, 128, 320, 512]``
        - ``depths`` (list[int]): ``[3, 4, 18, 3]``
        - ``num_heads`` (list[int]): ``[1, 2, 5, 8]``
        - ``mlp_ratios`` (list[float]): ``[8.0, 8.0, 4.0, 4.0]``
        - ``sr_ratios`` (list[int]): ``[8, 4, 2, 1]``; integers, as they are the
          kernel and stride of the reduction convolution (not ``[8.0, ...]``)
        - ``attn_proj`` (bool): ``False``; ``True`` adds the attention output
          projection of the paper and the official checkpoints
        - ``qkv_bias`` (bool): ``True``
        - ``in_channels`` (int): ``3``
        - ``drop_rate``, ``attn_drop_rate``, ``drop_path_rate`` (float): ``0.0``
        - ``features_only`` (bool): ``False``; ``True`` returns the four stage maps

    Returns
    -------
    PVT
        A PVT-Medium vision transformer.

    Examples
    --------
    >>> import lucid
    >>> from lucid_models_pvt.pvt import pvt_medium
    >>> model = pvt_medium(img_size=64, num_classes=10)
    >>> model(lucid.zeros(1, 3, 64, 64)).shape
    (1, 10)
    """
    return _create_pvt("pvt_medium", img_size, num_classes, kwargs, depths=[3, 4, 18, 3])


@register_model
def pvt_large(img_size: int = 224, num_classes: int = 1000, **kwargs: Any) -> PVT:
    """PVT-Large: 57,663,336 parameters (61,369,320 with ``attn_proj=True``); 81.7% top-1.

    Parameters
    ----------
    img_size : int, default 224
        Training image side (a multiple of 32); other multiples of 32 work at
        inference through resized position embeddings.
    num_classes : int, default 1000
        Classes of the head; 0 for a model returning pooled features.
    **kwargs
        Override any setting of :class:`PVT`. The PVT-Large defaults:

        - ``embed_dims`` (list[int]): ``[64, 128, 320, 512]``
        - ``depths`` (list[int]): ``[3, 8, 27, 3]``
        - ``num_heads`` (list[int]): ``[1, 2, 5, 8]``
        - ``mlp_ratios`` (list[float]): ``[8.0, 8.0, 4.0, 4.0]``
        - ``sr_ratios`` (list[int]): ``[8, 4, 2, 1]``
        - ``attn_proj`` (bool): ``False``; ``True`` adds the attention output
          projection of the paper and the official checkpoints
        - ``qkv_bias`` (bool): ``True``
        - ``in_channels`` (int): ``3``
        - ``drop_rate``, ``attn_drop_rate``, ``drop_path_rate`` (float): ``0.0``
        - ``features_only`` (bool): ``False``; ``True`` returns the four stage maps

    Returns
    -------
    PVT

    Examples
    --------
    >>> from lucid_models_pvt.pvt import pvt_large
    >>> model = pvt_large(img_size=64, depths=[1, 1, 1, 1])
    >>> model.config["depths"], model.config["embed_dims"]
    ([1, 1, 1, 1], [64, 128, 320, 512])
    """
    return _create_pvt("pvt_large", img_size, num_classes, kwargs, depths=[3, 8, 27, 3])


@register_model
def pvt_huge(img_size: int = 224, num_classes: int = 1000, **kwargs: Any) -> PVT:
    """PVT-Huge: 286,706,920 parameters (304,945,512 with ``attn_proj=True``).

    The widest and deepest configuration of the official implementation; the
    paper reports no ImageNet accuracy for it.

    Parameters
    ----------
    img_size : int, default 224
        Training image side (a multiple of 32); other multiples of 32 work at
        inference through resized position embeddings.
    num_classes : int, default 1000
        Classes of the head; 0 for a model returning pooled features.
    **kwargs
        Override any setting of :class:`PVT`. The PVT-Huge defaults:

        - ``embed_dims`` (list[int]): ``[128, 256, 512, 768]``
        - ``depths`` (list[int]): ``[3, 10, 60, 3]``
        - ``num_heads`` (list[int]): ``[2, 4, 8, 12]``
        - ``mlp_ratios`` (list[float]): ``[8.0, 8.0, 4.0, 4.0]``
        - ``sr_ratios`` (list[int]): ``[8, 4, 2, 1]``
        - ``drop_path_rate`` (float): ``0.02``
        - ``attn_proj`` (bool): ``False``; ``True`` adds the attention output
          projection of the paper and the official checkpoints
        - ``qkv_bias`` (bool): ``True``
        - ``in_channels`` (int): ``3``
        - ``drop_rate``, ``attn_drop_rate`` (float): ``0.0``
        - ``features_only`` (bool): ``False``; ``True`` returns the four stage maps

    Returns
    -------
    PVT

    Examples
    --------
    The full model holds 1.1 GB of weights; a shallow copy shows the widths:

    >>> from lucid_models_pvt.pvt import pvt_huge
    >>> model = pvt_huge(img_size=64, depths=[1, 1, 1, 1])
    >>> model.config["embed_dims"]
    [128, 256, 512, 768]
    """
    return _create_pvt(
        "pvt_huge",
        img_size,
        num_classes,
        kwargs,
        embed_dims=[128, 256, 512, 768],
        depths=[3, 10, 60, 3],
        num_heads=[2, 4, 8, 12],
        drop_path_rate=0.02,
    )
