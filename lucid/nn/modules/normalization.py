"""Normalisation layers: ``LayerNorm``, ``GroupNorm``, ``BatchNorm1d`` and ``BatchNorm2d``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lucid._tensor import Tensor
from lucid.nn import functional as F
from lucid.nn.modules.module import Module
from lucid.nn.parameter import Parameter


def _register_affine(module: Module, shape: tuple[int, ...], affine: bool, bias: bool) -> None:
    """Register ``weight`` (ones) and ``bias`` (zeros) of ``shape``, or ``None`` for each."""
    weight = Parameter(np.ones(shape, dtype=np.float32)) if affine else None
    shift = Parameter(np.zeros(shape, dtype=np.float32)) if affine and bias else None
    module.register_parameter("weight", weight)
    module.register_parameter("bias", shift)


class LayerNorm(Module):
    """Normalise over the trailing ``normalized_shape`` dimensions of each sample.

    Parameters
    ----------
    normalized_shape:
        The trailing shape to normalise over (an int for the last axis).
    eps:
        Added to the variance for numerical stability.
    elementwise_affine:
        Learn ``weight`` (ones at first) and ``bias`` (zeros) of that shape.
    bias:
        With ``elementwise_affine``, also learn the bias.

    Examples
    --------
    >>> import lucid
    >>> norm = lucid.nn.LayerNorm(8)
    >>> norm(lucid.randn(2, 5, 8)).shape
    (2, 5, 8)
    >>> norm
    LayerNorm((8,), eps=1e-05, elementwise_affine=True, bias=True)
    """

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
    ) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
        self.normalized_shape = tuple(int(s) for s in shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _register_affine(self, self.normalized_shape, elementwise_affine, bias)

    def forward(self, input: Tensor) -> Tensor:
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}"
        )


class GroupNorm(Module):
    """Normalise each group of channels of each sample; per-channel affine map.

    Parameters
    ----------
    num_groups:
        Groups to split ``num_channels`` into.
    num_channels:
        Channels of the ``(N, C, *)`` input.
    eps:
        Added to the variance for numerical stability.
    affine:
        Learn per-channel ``weight`` (ones at first) and ``bias`` (zeros).
    bias:
        With ``affine``, also learn the bias.

    Examples
    --------
    >>> import lucid
    >>> lucid.nn.GroupNorm(2, 6)(lucid.randn(3, 6, 4, 4)).shape
    (3, 6, 4, 4)
    """

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(
                f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})"
            )
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        _register_affine(self, (num_channels,), affine, bias)

    def forward(self, input: Tensor) -> Tensor:
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self.bias is not None}"
        )


class _BatchNorm(Module):
    _input_dims: tuple[int, ...] = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        _register_affine(self, (num_features,), affine, bias)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, np.float32)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, np.float32)))
            self.register_buffer("num_batches_tracked", Tensor(np.zeros((), np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """Forget the running statistics (mean 0, variance 1, no batches seen)."""
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0
            for buffer in (self.running_mean, self.running_var, self.num_batches_tracked):
                buffer._version.value += 1

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in self._input_dims:
            raise ValueError(
                f"{type(self).__name__} expects "
                + " or ".join(f"{d}-D" for d in self._input_dims)
                + f" input (N, C, ...), got shape {input.shape}"
            )
        if input.shape[1] != self.num_features:
            raise ValueError(
                f"{type(self).__name__}({self.num_features}) got input with "
                f"{input.shape[1]} channels (shape {input.shape})"
            )
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1
            self.num_batches_tracked._version.value += 1
            if self.momentum is None:
                # No momentum: a cumulative average over all batches seen.
                momentum = 1.0 / float(self.num_batches_tracked.data)
        use_batch_stats = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return F.batch_norm(
            input,
            self.running_mean if track else None,
            self.running_var if track else None,
            self.weight,
            self.bias,
            use_batch_stats,
            momentum,
            self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of ``(N, C, H, W)`` input, per channel.

    In training mode each batch is normalised with its own statistics, which
    also update the running mean and (unbiased) variance; in evaluation
    mode the running statistics are used.

    Parameters
    ----------
    num_features:
        Channels ``C``.
    eps:
        Added to the variance for numerical stability.
    momentum:
        Weight of each batch in the running statistics; ``None`` for a
        cumulative average.
    affine:
        Learn per-channel ``weight`` (ones at first) and ``bias`` (zeros).
    track_running_stats:
        Keep running statistics (buffers ``running_mean``, ``running_var``,
        ``num_batches_tracked``); without them batch statistics are always used.
    bias:
        With ``affine``, also learn the bias.

    Examples
    --------
    >>> import lucid
    >>> bn = lucid.nn.BatchNorm2d(4)
    >>> bn(lucid.randn(8, 4, 5, 5)).shape
    (8, 4, 5, 5)
    >>> int(bn.num_batches_tracked)
    1
    """

    _input_dims = (4,)


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of ``(N, C)`` or ``(N, C, L)`` input; see ``BatchNorm2d``.

    Examples
    --------
    >>> import lucid
    >>> lucid.nn.BatchNorm1d(3)(lucid.randn(10, 3)).shape
    (10, 3)
    """

    _input_dims = (2, 3)
