"""Building blocks and model machinery shared by PVT v1 and PVT v2.

The family modules (:mod:`lucid_models_pvt.pvt`, :mod:`lucid_models_pvt.pvt_v2`)
hold the model classes and their variant tables; this module holds what both
use: the transformer blocks, the checks of the user's settings, timm's model
interface (``forward_features``, ``forward_head``, ``forward_intermediates``,
``feature_info``, ``reset_classifier``) and the builders' docstrings, written
from the variant tables.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import math
import numbers
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, TypeVar, cast

import lucid
from lucid import nn
from lucid.nn import functional as F

# Height and width of a stage's token grid.
Size = tuple[int, int]

NUM_STAGES = 4

_Builder = TypeVar("_Builder", bound=Callable[..., Any])

# ------------------------------------------------------ module semantics ---


def runs_as_stock(module: nn.Module, stock: type) -> bool:
    """Whether ``module`` is exactly a ``stock`` module that nothing observes or overrides.

    Only then may a fused kernel or an in-place update stand in for calling
    it: a subclass, an instance-level ``forward``, or a forward (pre-)hook
    would each see or change what the fusion skips.
    """
    return (
        type(module) is stock
        and not module._forward_hooks
        and not module._forward_pre_hooks
        and "forward" not in module.__dict__
    )


def _unobserved(module: nn.Module) -> bool:
    """Whether no module in ``module``'s tree could keep or see its output.

    Every module must be one of lucid's or this plugin's own classes (a user's
    module might keep a reference to what it returned) without hooks or an
    instance-level ``forward``.
    """
    return all(
        runs_as_stock(m, type(m)) and type(m).__module__.startswith(_OWN_MODULES)
        for m in module.modules()
    )


_OWN_MODULES = ("lucid.nn.", "lucid_models_pvt.")

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
    """Feed-forward block ``fc1 -> act (GELU) -> fc2``, with PVT v2's optional additions.

    Parameters
    ----------
    dim, hidden
        Token width and hidden width.
    drop
        Dropout after the activation and after ``fc2``.
    dwconv
        Insert a depthwise 3x3 convolution before the activation (PVT v2).
    relu
        Apply a ReLU (``relu``) right after ``fc1`` (PVT v2's linear variant).
    """

    def __init__(
        self, dim: int, hidden: int, drop: float = 0.0, dwconv: bool = False, relu: bool = False
    ) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.relu = nn.ReLU() if relu else None
        self.dwconv = DWConv(hidden) if dwconv else None
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: lucid.Tensor, size: Size) -> lucid.Tensor:
        if self._fusable():
            # fc1 and act fused: one pass over the widest activation of the block.
            x = F.linear_gelu(x, self.fc1.weight, self.fc1.bias)
        else:
            x = self.fc1(x)
            if self.relu is not None:
                x = self.relu(x)
            if self.dwconv is not None:
                x = self.dwconv(x, size)
            x = self.act(x)
        return self.drop(self.fc2(self.drop(x)))

    def _fusable(self) -> bool:
        """The fused kernel computes exactly ``act(fc1(x))`` and no one can tell it ran."""
        return (
            self.relu is None
            and self.dwconv is None
            and runs_as_stock(self.fc1, nn.Linear)
            and runs_as_stock(self.act, nn.GELU)
            and self.act.approximate == "none"
        )


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
        PVT v2's linear SRA instead: average-pool the map to 7x7 (``pool``),
        then a 1x1 convolution, LayerNorm and GELU (``act``), whatever the
        input size.
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
        self.attn_drop = attn_drop
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.kv = nn.Linear(dim, 2 * dim, bias=qkv_bias)
        reduce = linear or sr_ratio > 1
        kernel = 1 if linear else sr_ratio
        self.pool = nn.AdaptiveAvgPool2d(7) if linear else None
        self.sr = nn.Conv2d(dim, dim, kernel, stride=kernel) if reduce else None
        # PyTorch's default eps here, as in the reference implementation.
        self.norm = nn.LayerNorm(dim) if reduce else None
        self.act = nn.GELU() if linear else None
        self.proj = nn.Linear(dim, dim) if proj else None
        self.proj_drop = nn.Dropout(proj_drop) if proj else None

    def forward(self, x: lucid.Tensor, size: Size) -> lucid.Tensor:
        b, n, c = x.shape
        heads = self.num_heads
        q = self.q(x).reshape(b, n, heads, c // heads).transpose(1, 2)
        kv = self.kv(x if self.sr is None else self._reduce(x, size))
        k, v = kv.reshape(b, -1, 2, heads, c // heads).permute(2, 0, 3, 1, 4)
        dropout = self.attn_drop if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout)
        out = out.transpose(1, 2).reshape(b, n, c)
        if self.proj is not None and self.proj_drop is not None:
            out = self.proj_drop(self.proj(out))
        return out

    def _reduce(self, x: lucid.Tensor, size: Size) -> lucid.Tensor:
        """The shrunken token sequence that keys and values are computed from."""
        assert self.sr is not None and self.norm is not None
        b, _, c = x.shape
        grid = x.transpose(1, 2).reshape(b, c, *size)
        if self.pool is not None:
            grid = self.pool(grid)
        x = self.norm(self.sr(grid).flatten(2).transpose(1, 2))
        return x if self.act is None else self.act(x)


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
        if lucid.is_grad_enabled() or not self._in_place_is_invisible():
            x = x + self.drop_path(self.attn(self.norm1(x), size))
            return x + self.drop_path(self.mlp(self.norm2(x), size))
        # Nothing is recorded and no one holds the branches' outputs: each
        # residual goes into the branch's fresh output, in place, instead of
        # into a third array.
        y = self.drop_path(self.attn(self.norm1(x), size))
        y += x
        z = self.drop_path(self.mlp(self.norm2(y), size))
        z += y
        return z

    def _in_place_is_invisible(self) -> bool:
        # The in-place add changes the tensor a branch returned: only our own
        # modules, unhooked, are known not to keep it.
        return _unobserved(self.attn) and _unobserved(self.mlp) and _unobserved(self.drop_path)


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


# ---------------------------------------------------- the user's settings ---


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_stages(
    embed_dims: Sequence[int],
    depths: Sequence[int],
    num_heads: Sequence[int],
    mlp_ratios: Sequence[float],
    sr_ratios: Sequence[float],
) -> dict[str, list[Any]]:
    """The per-stage settings as lists, after checking they describe four consistent stages.

    Widths, depths and head counts come back as ``int``; ``mlp_ratios`` and
    ``sr_ratios`` as ``float`` (``sr_ratios`` whole numbers: they are the
    kernel size and stride of a convolution).
    """
    given = {
        "embed_dims": embed_dims,
        "depths": depths,
        "num_heads": num_heads,
        "mlp_ratios": mlp_ratios,
        "sr_ratios": sr_ratios,
    }
    checked: dict[str, list[Any]] = {}
    for name, value in given.items():
        if not isinstance(value, list | tuple) or len(value) != NUM_STAGES:
            raise ValueError(
                f"{name} needs one value per stage, i.e. a list of 4, got {value!r}; "
                "PVT always has four stages"
            )
        whole = name not in ("mlp_ratios", "sr_ratios")
        if not all((_is_integer(v) if whole else _is_number(v)) and v > 0 for v in value):
            kind = "positive integers" if whole else "positive numbers"
            raise ValueError(f"{name} must be {kind}, got {value!r}")
        checked[name] = [int(v) for v in value] if whole else [float(v) for v in value]
    for i, ratio in enumerate(checked["sr_ratios"]):
        if not ratio.is_integer():
            raise ValueError(
                f"sr_ratios[{i}]={sr_ratios[i]!r} is not a whole number: each spatial-reduction "
                "ratio is the kernel size and stride of a convolution; use a whole number "
                f"such as {math.floor(ratio)} or {math.floor(ratio)}.0"
            )
    for i, (dim, heads, ratio) in enumerate(
        zip(checked["embed_dims"], checked["num_heads"], checked["mlp_ratios"], strict=True)
    ):
        if dim % heads:
            raise ValueError(
                f"embed_dims[{i}]={dim} is not divisible by num_heads[{i}]={heads}: every head "
                f"gets an equal share of the width; choose a num_heads[{i}] that divides {dim}"
            )
        if int(dim * ratio) < 1:
            raise ValueError(
                f"mlp_ratios[{i}]={mlp_ratios[i]!r} gives stage {i + 1}'s MLP a hidden width of "
                f"int({dim} * {mlp_ratios[i]!r}) = 0; use a ratio of at least 1/{dim}"
            )
    return checked


def check_bool(name: str, value: Any) -> bool:
    """``value`` if it is a bool; strings such as ``"False"`` would otherwise count as true."""
    if not isinstance(value, bool):
        raise TypeError(
            f"{name} must be True or False, got {value!r} of type {type(value).__name__}; "
            f"pass a bool, e.g. {name}=False"
        )
    return value


def check_rate(name: str, value: Any) -> float:
    """``value`` as a float, after checking it is a probability."""
    if not _is_number(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
    return float(value)


def check_count(name: str, value: Any, least: int) -> int:
    """``value`` as an int, after checking it is an integer of at least ``least``."""
    if not _is_integer(value) or value < least:
        hint = "; use 0 for a model without a classifier" if name == "num_classes" else ""
        kind = "a non-negative" if least == 0 else "a positive"
        raise ValueError(f"{name} must be {kind} integer, got {value!r}{hint}")
    return int(value)


def check_in_chans(in_chans: Any, in_channels: Any) -> int:
    """The number of input channels from timm's ``in_chans`` or its alias ``in_channels``."""
    if in_channels is not None and in_channels != in_chans and in_chans != 3:
        raise ValueError(
            f"in_chans={in_chans!r} and in_channels={in_channels!r} disagree; they are the same "
            "setting (in_channels is an alias): pass only one"
        )
    return check_count("in_chans", in_chans if in_channels is None else in_channels, 1)


def take_indices(indices: int | Sequence[int] | None) -> tuple[list[int], int]:
    """Stage indices to return, from timm's ``indices``/``out_indices``, and the deepest one.

    ``None`` takes every stage, an int ``n`` the last ``n``, a sequence the
    stages it names (negative counting from the end), as timm's
    ``feature_take_indices`` does.
    """
    if indices is None:
        indices = NUM_STAGES
    if _is_integer(indices):
        count = int(indices)  # type: ignore[arg-type]
        if not 0 < count <= NUM_STAGES:
            raise ValueError(
                f"indices={count} asks for the last {count} stages; PVT has 1 to {NUM_STAGES}"
            )
        taken = list(range(NUM_STAGES - count, NUM_STAGES))
    elif isinstance(indices, list | tuple) and indices and all(map(_is_integer, indices)):
        taken = [int(i) + NUM_STAGES if i < 0 else int(i) for i in indices]
        if not all(0 <= i < NUM_STAGES for i in taken) or len(set(taken)) != len(taken):
            raise ValueError(
                f"stage indices must be distinct and in -4..3 (PVT has four stages), "
                f"got {list(indices)!r}"
            )
    else:
        raise TypeError(
            f"stage indices must be None, an int (the last n stages) or a list of ints, "
            f"got {indices!r}"
        )
    return taken, max(taken)


def drop_path_rates(rate: float, depths: Sequence[int]) -> list[float]:
    """Stochastic-depth rates rising linearly from 0 to ``rate`` over all blocks."""
    total = sum(depths)
    return [rate * j / (total - 1) if total > 1 else 0.0 for j in range(total)]


def init_weights(model: nn.Module, conv_fan_out: bool) -> None:
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


def create_variant(
    model_class: type,
    variant: str,
    settings: Mapping[str, Any],
    img_size: int,
    num_classes: int,
    kwargs: dict[str, Any],
) -> Any:
    """Build ``variant`` from its table row's ``settings``, overridden by ``kwargs``.

    As timm's builders: ``pretrained=True`` loads the weights (through
    :func:`lucid.models.create_model`, which calls back here without it), and
    the model carries ``pretrained_cfg``, that of its default weights tag.
    """
    from lucid import models

    if "pretrained" in kwargs:
        pretrained = kwargs.pop("pretrained")
        return models.create_model(
            variant, pretrained, img_size=img_size, num_classes=num_classes, **kwargs
        )
    reject_unknown(variant, kwargs, model_class)
    model = model_class(img_size, num_classes, **{**settings, **kwargs})
    try:
        model.pretrained_cfg = models.get_pretrained_cfg(variant)
    except models.PretrainedWeightsError:  # no published weights (pvt_huge)
        model.pretrained_cfg = {"architecture": variant}
    return model


def reject_unknown(variant: str, kwargs: Mapping[str, Any], model_class: type) -> None:
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


# ------------------------------------------------------------ feature info ---


class FeatureInfo:
    """What each stage map a model returns as features is: channels, stride, producing module.

    timm's ``FeatureInfo``: ``channels()``, ``reduction()`` and
    ``module_name()`` answer for the chosen stages (``out_indices``), or for
    the stage ``idx`` (an int) or stages (a list) given. Indexing gives a
    stage's dict (``num_chs``, ``reduction``, ``module``).

    Examples
    --------
    >>> from lucid_models_pvt.pvt_v2 import pvt_v2_b0
    >>> info = pvt_v2_b0(features_only=True, out_indices=(1, 3)).feature_info
    >>> info.channels(), info.reduction(), info.module_name()
    ([64, 256], [8, 32], ['norm2', 'norm4'])
    >>> info.channels(0)
    32
    """

    def __init__(self, stages: Sequence[Mapping[str, Any]], out_indices: Sequence[int]) -> None:
        self.info = [dict(stage) for stage in stages]
        self.out_indices = tuple(out_indices)

    def get(self, key: str, idx: int | Sequence[int] | None = None) -> Any:
        """The value of ``key`` for the chosen stages, or for ``idx``."""
        if idx is None:
            return [self.info[i][key] for i in self.out_indices]
        if isinstance(idx, int):
            return self.info[idx][key]
        return [self.info[i][key] for i in idx]

    def get_dicts(self, idx: int | Sequence[int] | None = None) -> Any:
        """The stage dicts of the chosen stages, or of ``idx``."""
        if idx is None:
            return [self.info[i] for i in self.out_indices]
        if isinstance(idx, int):
            return self.info[idx]
        return [self.info[i] for i in idx]

    def channels(self, idx: int | Sequence[int] | None = None) -> Any:
        """Channels of each chosen stage map (or of ``idx``)."""
        return self.get("num_chs", idx)

    def reduction(self, idx: int | Sequence[int] | None = None) -> Any:
        """Stride of each chosen stage map relative to the input (or of ``idx``)."""
        return self.get("reduction", idx)

    def module_name(self, idx: int | Sequence[int] | None = None) -> Any:
        """Name of the module whose output each chosen stage map is (or of ``idx``)."""
        return self.get("module", idx)

    def __getitem__(self, idx: int) -> dict[str, Any]:
        return self.info[idx]

    def __len__(self) -> int:
        return len(self.info)

    def __repr__(self) -> str:
        return f"FeatureInfo({self.info!r}, out_indices={self.out_indices!r})"


# ------------------------------------------------------- the model's API ---


class PyramidTransformer(nn.Module):
    """What PVT and PVT v2 share: the head, input checks and timm's model interface.

    Subclasses build their stages, set ``config`` and call ``_setup``; they
    implement ``_forward_stages`` (the final features and the chosen stage
    maps), ``_pool_tokens`` and ``_stage_module``.
    """

    config: dict[str, Any]
    default_global_pool: str

    def _setup(self, num_classes: int, features_only: bool, out_indices: Sequence[int]) -> None:
        self.features_only = features_only
        self.num_features = self.config["embed_dims"][-1]
        self.num_classes = 0 if features_only else num_classes
        self.global_pool = self.default_global_pool
        self.head = self._new_head(self.num_classes)
        self.config["num_classes"] = self.num_classes
        reductions = [4 * 2**i for i in range(NUM_STAGES)]
        stages = [
            {"num_chs": c, "reduction": r, "module": self._stage_module(i)}
            for i, (c, r) in enumerate(zip(self.config["embed_dims"], reductions, strict=True))
        ]
        self.feature_info = FeatureInfo(stages, out_indices if features_only else range(4))

    def _new_head(self, num_classes: int) -> nn.Module:
        if num_classes == 0:
            return nn.Identity()
        head = nn.Linear(self.num_features, num_classes)
        nn.init.trunc_normal_(head.weight, std=0.02)
        nn.init.zeros_(head.bias)
        return head

    # ------------------------------------------------------------ forward ---

    def forward(self, x: lucid.Tensor) -> lucid.Tensor | list[lucid.Tensor]:
        """Classify a batch of images, or return the chosen stage maps of a backbone.

        Parameters
        ----------
        x
            Images of shape ``(B, in_chans, H, W)``, floating point.

        Returns
        -------
        Tensor or list of Tensor
            Logits of shape ``(B, num_classes)``; pooled features of shape
            ``(B, num_features)`` when ``num_classes=0``; with
            ``features_only=True``, the maps of the stages ``out_indices``
            chooses, each ``(B, C, H, W)``.
        """
        if self.features_only:
            maps = self.forward_intermediates(
                x, self.feature_info.out_indices, intermediates_only=True
            )
            return cast(list[lucid.Tensor], maps)
        return self.forward_head(self.forward_features(x))

    def forward_features(self, x: lucid.Tensor) -> lucid.Tensor:
        """The final features, before pooling and the head (timm's ``forward_features``).

        Parameters
        ----------
        x
            Images of shape ``(B, in_chans, H, W)``, floating point.

        Returns
        -------
        Tensor
            PVT v1: the normalised tokens of stage 4, class token first,
            ``(B, 1 + H/32 * W/32, C)``; PVT v2: stage 4's map ``(B, C, H', W')``.
        """
        self._no_backbone("forward_features")
        self._check_input(x)
        return self._forward_stages(x, (), NUM_STAGES - 1, False)[0]

    def forward_head(self, x: lucid.Tensor, pre_logits: bool = False) -> lucid.Tensor:
        """Pool :meth:`forward_features`'s output and apply the head (timm's ``forward_head``).

        Parameters
        ----------
        x
            The output of :meth:`forward_features`.
        pre_logits
            Return the pooled features, before the head.

        Returns
        -------
        Tensor
            Logits ``(B, num_classes)``, or with ``pre_logits`` the pooled
            features ``(B, num_features)``.
        """
        self._no_backbone("forward_head")
        if self.global_pool:
            x = self._pool(x)
        return x if pre_logits else self.head(x)

    def forward_intermediates(
        self,
        x: lucid.Tensor,
        indices: int | Sequence[int] | None = None,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
    ) -> list[lucid.Tensor] | tuple[lucid.Tensor, list[lucid.Tensor]]:
        """The stage maps and the final features in one pass (timm 1.0's ``forward_intermediates``).

        Parameters
        ----------
        x
            Images of shape ``(B, in_chans, H, W)``, floating point.
        indices
            Stages to return: all when ``None``, the last ``n`` for an int,
            the listed ones for a list (negative ones count from the end).
        norm
            Apply the final norm to the stage maps it follows (PVT v1's
            stage 4; PVT v2's stages end with their own norm anyway).
        stop_early
            Stop after the deepest stage asked for; the final features are
            then that stage's map.
        output_fmt
            ``"NCHW"``, the only layout, as in timm's PVT v2.
        intermediates_only
            Return only the stage maps.

        Returns
        -------
        list of Tensor, or tuple of Tensor and list of Tensor
            The stage maps ``(B, C_i, H_i, W_i)``, preceded by the final
            features (as :meth:`forward_features` returns them) unless
            ``intermediates_only``.
        """
        if output_fmt != "NCHW":
            raise ValueError(
                f"output_fmt must be 'NCHW' (the only layout of PVT's maps), got {output_fmt!r}"
            )
        check_bool("norm", norm)
        check_bool("stop_early", stop_early)
        taken, deepest = take_indices(indices)
        self._check_input(x)
        stop = deepest if stop_early or intermediates_only else NUM_STAGES - 1
        final, maps = self._forward_stages(x, taken, stop, norm)
        # In the order asked for, as timm returns them.
        ordered = [maps[sorted(taken).index(i)] for i in taken]
        return ordered if intermediates_only else (final, ordered)

    # --------------------------------------------------------------- head ---

    def get_classifier(self) -> nn.Module:
        """The classifier head (``nn.Identity`` when ``num_classes`` is 0)."""
        return self.head

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """Replace the head with a freshly initialised one for ``num_classes`` classes (0: none).

        Parameters
        ----------
        num_classes
            Number of output classes; 0 removes the head, so the model
            returns pooled features.
        global_pool
            Pooling before the head: ``"avg"`` (PVT v2) or ``"token"`` (PVT
            v1's class token), or ``""`` for no pooling (only without a
            head); unchanged when ``None``.
        """
        self._no_backbone("reset_classifier")
        num_classes = check_count("num_classes", num_classes, 0)
        if global_pool is not None:
            choices = (self.default_global_pool, "")
            if global_pool not in choices:
                raise ValueError(
                    f"global_pool must be one of {choices!r} for {type(self).__name__}, "
                    f"got {global_pool!r}"
                )
        pool = self.global_pool if global_pool is None else global_pool
        if not pool and num_classes:
            raise ValueError(
                "global_pool='' leaves the features unpooled, which a classifier cannot take; "
                "pass num_classes=0 with it"
            )
        self.global_pool = pool
        self.head = self._new_head(num_classes)
        self.num_classes = num_classes
        self.config["num_classes"] = num_classes

    # ------------------------------------------------------ for subclasses ---

    def _forward_stages(
        self, x: lucid.Tensor, take: Collection[int], stop: int, norm: bool
    ) -> tuple[lucid.Tensor, list[lucid.Tensor]]:
        """Run stages ``0..stop``; the final features and the maps of the stages in ``take``."""
        raise NotImplementedError

    def _pool(self, x: lucid.Tensor) -> lucid.Tensor:
        raise NotImplementedError

    def _stage_module(self, stage: int) -> str:
        raise NotImplementedError

    def _no_backbone(self, method: str) -> None:
        if self.features_only:
            raise ValueError(
                f"{method}() belongs to a classifier; this model was built with "
                "features_only=True and returns stage maps: call it, or forward_intermediates()"
            )

    def _check_input(self, x: Any) -> None:
        channels = self.config["in_chans"]
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
                f"with in_chans={x.shape[1]}"
            )
        if x.dtype.kind != "f":
            raise TypeError(
                f"expected floating-point images, got dtype {x.dtype}; convert with x.float() "
                "and scale and normalise as the model was trained (e.g. x.float() / 255)"
            )
        self._check_sides(x.shape[2], x.shape[3])

    def _check_sides(self, h: int, w: int) -> None:
        """Raise if the stages cannot process an ``h`` x ``w`` image."""


def to_map(tokens: lucid.Tensor, size: Size) -> lucid.Tensor:
    """``(B, H*W, C)`` tokens as a ``(B, C, H, W)`` map."""
    return tokens.reshape(tokens.shape[0], *size, tokens.shape[-1]).permute(0, 3, 1, 2)


# ----------------------------------------------------------- variant tables ---


@dataclasses.dataclass(frozen=True)
class Variant:
    """One row of a family's variant table: a registered model and its defaults.

    The builders, their docstrings (hence the documentation pages) and the
    checkpoint converter all read these rows.
    """

    title: str
    settings: Mapping[str, Any]
    # ImageNet-1k top-1 (%) as the family's paper reports it; None if it reports none.
    top1: float | None = None
    note: str = ""
    # Settings that keep the docstring's example quick for the largest models.
    example_settings: Mapping[str, Any] = dataclasses.field(default_factory=dict)


def variant_docstring(
    name: str,
    variant: Variant,
    model_class: type,
    img_size_text: str,
    example: Mapping[str, Any],
    paper_layout: str | None = None,
) -> str:
    """The NumPy-style docstring of the builder ``name``, written from its row.

    ``paper_layout`` names the settings of the paper's layout when the builder's
    defaults differ from it: the paper's accuracy is then said to be that
    layout's, never the default's.
    """
    stages = variant.settings["depths"]
    summary = (
        f"{variant.title}: {', '.join(map(str, stages[:-1]))} and {stages[-1]} blocks "
        f"per stage, widths {', '.join(map(str, variant.settings['embed_dims']))}."
    )
    if variant.top1 is None:
        accuracy = "The paper reports no ImageNet accuracy for it."
    elif paper_layout is None:
        accuracy = f"The paper reports {variant.top1}% ImageNet-1k top-1 for it."
    else:
        accuracy = (
            f"The paper reports {variant.top1}% ImageNet-1k top-1 for its layout, "
            f"{paper_layout}; the default layout has no published accuracy."
        )
    defaults = [f"        - ``{k}``: ``{_literal(v)}``" for k, v in variant.settings.items()]
    cls = model_class.__name__
    settings = {**example, "num_classes": 10, **variant.example_settings}
    call = ", ".join(f"{k}={_literal(v)}" for k, v in settings.items())
    lines = [
        summary,
        "",
        *([variant.note, ""] if variant.note else []),
        accuracy,
        "",
        "Parameters",
        "----------",
        "img_size : int, default 224",
        f"    {img_size_text}",
        "num_classes : int, default 1000",
        "    Classes of the head; 0 for a model returning pooled features.",
        "**kwargs",
        f"    Any other setting of :class:`{cls}`; {variant.title}'s architecture:",
        "",
        *(line[4:] for line in defaults),
        "",
        "Returns",
        "-------",
        cls,
        "",
        "Examples",
        "--------",
        ">>> import lucid",
        ">>> import lucid.models",
        f">>> model = lucid.models.{name}({call})",
        ">>> model(lucid.zeros(1, 3, 64, 64)).shape",
        "(1, 10)",
    ]
    return "\n".join(lines)


def _literal(value: Any) -> str:
    return repr(list(value) if isinstance(value, tuple) else value)


def stage_settings(
    embed_dims: Sequence[int],
    depths: Sequence[int],
    num_heads: Sequence[int] = (1, 2, 5, 8),
    mlp_ratios: Sequence[float] = (8.0, 8.0, 4.0, 4.0),
    sr_ratios: Sequence[float] = (8.0, 4.0, 2.0, 1.0),
    **extra: Any,
) -> dict[str, Any]:
    """A variant's settings, per-stage ones first, with the values most PVT variants share."""
    return {
        "embed_dims": list(embed_dims),
        "depths": list(depths),
        "num_heads": list(num_heads),
        "mlp_ratios": list(mlp_ratios),
        "sr_ratios": list(sr_ratios),
        **extra,
    }


def documented_by(
    table: Mapping[str, Variant],
    model_class: type,
    img_size_text: str,
    example: Mapping[str, Any],
    paper_layout: str | None = None,
) -> Callable[[_Builder], _Builder]:
    """A decorator giving each builder of ``table`` its docstring, written from its row."""

    def document(builder: _Builder) -> _Builder:
        name = builder.__name__
        builder.__doc__ = variant_docstring(
            name, table[name], model_class, img_size_text, example, paper_layout
        )
        return builder

    return document
