"""Convolution layers: ``Conv1d`` and ``Conv2d``."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from lucid._tensor import Tensor
from lucid.nn import functional as F
from lucid.nn import init
from lucid.nn._meta import empty
from lucid.nn.modules.module import Module
from lucid.nn.parameter import Parameter


def _tuple(value: int | Sequence[int], n: int, name: str) -> tuple[int, ...]:
    values = (value,) * n if isinstance(value, int) else tuple(value)
    if len(values) != n or not all(isinstance(v, int) for v in values):
        raise ValueError(f"{name} must be an int or {n} ints, got {value!r}")
    return values


class _ConvNd(Module):
    _dims = 2

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: str | int | Sequence[int] = 0,
        dilation: int | Sequence[int] = 1,
        groups: int = 1,
        bias: bool = True,
    ) -> None:
        super().__init__()
        n = self._dims
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(
                f"in_channels ({in_channels}) and out_channels ({out_channels}) must both be "
                f"divisible by groups ({groups})"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _tuple(kernel_size, n, "kernel_size")
        self.stride = _tuple(stride, n, "stride")
        self.dilation = _tuple(dilation, n, "dilation")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"padding must be 'same', 'valid' or numbers, got {padding!r}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(
                    f"padding='same' needs stride 1, got stride {stride!r}; give the padding "
                    "as numbers"
                )
            self.padding: str | tuple[int, ...] = padding
        else:
            self.padding = _tuple(padding, n, "padding")
        self.groups = groups
        # Stored with the input channels innermost, (out, *kernel, in): the
        # layout of the matrix the convolution multiplies by, so it needs no
        # copy per call. Shape, values and state dict are unchanged.
        memory = empty((out_channels, *self.kernel_size, in_channels // groups))
        self.weight = Parameter(np.moveaxis(memory, -1, 1))
        if bias:
            self.bias = Parameter(empty((out_channels,)))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw the weights again with PyTorch's default initialisation."""
        # kaiming_uniform_ with a = sqrt(5) gives the bound 1 / sqrt(fan_in).
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        n = self._dims
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0,) * n:
            text += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text


class Conv2d(_ConvNd):
    """2-D convolution over ``(N, C_in, H, W)`` input.

    Parameters
    ----------
    in_channels, out_channels:
        Channels of the input and of the output.
    kernel_size:
        An int or a pair.
    stride, dilation:
        An int or a pair.
    padding:
        Zeros on each side: an int, a pair, ``"valid"`` or ``"same"`` (stride 1).
    groups:
        Independent channel groups; ``groups == in_channels`` is depthwise.
    bias:
        Learn a per-channel bias.

    Attributes
    ----------
    weight:
        Shape ``(out_channels, in_channels / groups, kh, kw)``, initialised
        uniformly in ``±1/sqrt(fan_in)`` (PyTorch's default).
    bias:
        Shape ``(out_channels,)``, or ``None``.

    Examples
    --------
    >>> import lucid
    >>> conv = lucid.nn.Conv2d(3, 8, kernel_size=3, stride=2, padding=1)
    >>> conv(lucid.zeros(1, 3, 32, 32)).shape
    (1, 8, 16, 16)
    """

    _dims = 2

    def forward(self, input: Tensor) -> Tensor:
        return F.conv2d(
            input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )


class Conv1d(_ConvNd):
    """1-D convolution over ``(N, C_in, L)`` input; parameters as for ``Conv2d`` on one axis.

    Examples
    --------
    >>> import lucid
    >>> conv = lucid.nn.Conv1d(4, 6, kernel_size=5, padding="same")
    >>> conv(lucid.zeros(2, 4, 10)).shape
    (2, 6, 10)
    """

    _dims = 1

    def forward(self, input: Tensor) -> Tensor:
        return F.conv1d(
            input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )
