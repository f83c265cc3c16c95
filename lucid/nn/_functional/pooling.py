"""Pooling: ``max_pool2d``, ``avg_pool2d`` and ``adaptive_avg_pool2d``.

Max and average pooling visit the ``kh*kw`` kernel positions, each a strided
slice over every window at once, so the work is vectorised over pixels and
the loop is only as long as the kernel.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lucid._tensor import Tensor
from lucid.autograd import Function
from lucid.nn._functional.conv import Pair, _pair, _tap
from lucid.nn._functional.resample import adaptive_average_matrix, separable


def _pool_size(size: int, kernel: int, stride: int, pad: int, dilation: int, ceil: bool):
    """Output length and the padding needed after the input, PyTorch's rules."""
    span = dilation * (kernel - 1) + 1
    room = size + 2 * pad - span
    if room < 0:
        return 0, 0
    out = (-(-room // stride) if ceil else room // stride) + 1
    # In ceil mode the last window must start inside the input or the left padding.
    if ceil and (out - 1) * stride >= size + pad:
        out -= 1
    after = max(0, (out - 1) * stride + span - size - pad)
    return out, after


def _pool_args(kernel_size, stride, padding, dilation, ceil_mode, input: Tensor, name: str):
    if input.ndim != 4:
        raise ValueError(f"{name} expects input of shape (N, C, H, W), got {input.shape}")
    kernel = _pair(kernel_size, "kernel_size")
    stride = kernel if stride is None or stride == [] else _pair(stride, "stride")
    pad, dil = _pair(padding, "padding"), _pair(dilation, "dilation")
    for k, p, d in zip(kernel, pad, dil, strict=True):
        if p < 0 or p > (d * (k - 1) + 1) // 2:
            raise ValueError(
                f"{name}: padding {padding!r} must be between 0 and half the kernel extent "
                f"(kernel_size {kernel_size!r}, dilation {dilation!r})"
            )
    sizes = [
        _pool_size(s, k, st, p, d, ceil_mode)
        for s, k, st, p, d in zip(input.shape[2:], kernel, stride, pad, dil, strict=True)
    ]
    out_hw = (sizes[0][0], sizes[1][0])
    if min(out_hw) < 1:
        raise ValueError(
            f"{name}: a kernel of {kernel} (dilation {dil}) does not fit input of shape "
            f"{input.shape} with padding {pad}; use a smaller kernel or more padding"
        )
    pads = (pad[0], sizes[0][1], pad[1], sizes[1][1])
    return kernel, stride, dil, pads, out_hw


def _pad_with(x: np.ndarray, pads: tuple[int, int, int, int], value: float) -> np.ndarray:
    top, bottom, left, right = pads
    if not (top or bottom or left or right):
        return x
    n, c, h, w = x.shape
    out = np.full((n, c, h + top + bottom, w + left + right), value, dtype=x.dtype)
    out[:, :, top : top + h, left : left + w] = x
    return out


def _crop(gxp: np.ndarray, pads: tuple[int, int, int, int], shape: tuple[int, ...]):
    top, _, left, _ = pads
    return gxp[:, :, top : top + shape[2], left : left + shape[3]]


# ------------------------------------------------------------- max pool ---


class _MaxPool2d(Function):
    @staticmethod
    def forward(ctx, x, *, kernel, stride, dilation, pads, out_hw):
        xp = _pad_with(x, pads, -np.inf)
        out = index = None
        position = 0
        for i in range(kernel[0]):
            for j in range(kernel[1]):
                tap = _tap(xp, i, j, out_hw, stride, dilation, 2)
                if out is None:
                    out = tap.copy()
                    index = np.zeros(out.shape, dtype=np.int32)
                else:
                    # A NaN at any tap wins (the last one, if several), as in PyTorch.
                    better = tap > out
                    better |= np.isnan(tap)
                    np.copyto(out, tap, where=better)
                    index[better] = position
                position += 1
        if ctx.needs_input_grad:
            ctx.geometry = (kernel, stride, dilation, pads, out_hw, x.shape, xp.shape)
            ctx.save_for_backward(index)
        return out

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_arrays
        kernel, stride, dilation, pads, out_hw, x_shape, xp_shape = ctx.geometry
        gxp = np.zeros(xp_shape, dtype=grad.dtype)
        position = 0
        for i in range(kernel[0]):
            for j in range(kernel[1]):
                _tap(gxp, i, j, out_hw, stride, dilation, 2)[...] += np.where(
                    index == position, grad, 0
                )
                position += 1
        return _crop(gxp, pads, x_shape)


def max_pool2d(
    input: Tensor,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] | None = None,
    padding: int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
    ceil_mode: bool = False,
) -> Tensor:
    """The maximum of each ``kernel_size`` window (padding counts as minus infinity).

    A NaN anywhere in a window makes its maximum NaN (and takes its gradient).

    Parameters
    ----------
    input:
        Shape ``(N, C, H, W)``.
    kernel_size:
        Window size, an int or a pair.
    stride:
        Step between windows; defaults to ``kernel_size``.
    padding:
        Implicit minus-infinity padding on each side, at most half the kernel.
    dilation:
        Spacing between the window's elements.
    ceil_mode:
        Round the output size up, so windows may run past the end.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> x = lucid.Tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    >>> F.max_pool2d(x, 2).tolist()
    [[[[4.0]]]]
    """
    kernel, stride, dil, pads, out_hw = _pool_args(
        kernel_size, stride, padding, dilation, ceil_mode, input, "max_pool2d"
    )
    return _MaxPool2d.apply(
        input, kernel=kernel, stride=stride, dilation=dil, pads=pads, out_hw=out_hw
    )


# ------------------------------------------------------------- avg pool ---


def _window_counts(size: int, kernel: int, stride: int, pad: int, out: int, include_pad: bool):
    """How many elements each window along one axis averages, PyTorch's rule."""
    start = np.arange(out) * stride - pad
    end = np.minimum(start + kernel, size + pad)
    if include_pad:
        return end - start
    return np.minimum(end, size) - np.maximum(start, 0)


class _AvgPool2d(Function):
    @staticmethod
    def forward(ctx, x, *, kernel, stride, pads, out_hw, divisor):
        xp = _pad_with(x, pads, 0.0)
        out = np.zeros((*x.shape[:2], *out_hw), dtype=x.dtype)
        for i in range(kernel[0]):
            for j in range(kernel[1]):
                out += _tap(xp, i, j, out_hw, stride, (1, 1), 2)
        out /= divisor
        ctx.geometry = (kernel, stride, pads, out_hw, x.shape, xp.shape, divisor)
        return out

    @staticmethod
    def backward(ctx, grad):
        kernel, stride, pads, out_hw, x_shape, xp_shape, divisor = ctx.geometry
        share = grad / divisor
        gxp = np.zeros(xp_shape, dtype=grad.dtype)
        for i in range(kernel[0]):
            for j in range(kernel[1]):
                _tap(gxp, i, j, out_hw, stride, (1, 1), 2)[...] += share
        return _crop(gxp, pads, x_shape)


def avg_pool2d(
    input: Tensor,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] | None = None,
    padding: int | Sequence[int] = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """The mean of each ``kernel_size`` window.

    Parameters
    ----------
    input:
        Shape ``(N, C, H, W)``.
    kernel_size, stride, padding, ceil_mode:
        As for ``max_pool2d`` (the padding is zeros).
    count_include_pad:
        Count the zero padding in each window's divisor.
    divisor_override:
        Divide every window's sum by this instead.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> x = lucid.Tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    >>> F.avg_pool2d(x, 2).tolist()
    [[[[2.5]]]]
    """
    kernel, step, _, pads, out_hw = _pool_args(
        kernel_size, stride, padding, 1, ceil_mode, input, "avg_pool2d"
    )
    if divisor_override is not None:
        divisor = np.asarray(divisor_override, dtype=input.dtype)
    else:
        rows, cols = (
            _window_counts(s, k, st, p, o, count_include_pad)
            for s, k, st, p, o in zip(
                input.shape[2:], kernel, step, (pads[0], pads[2]), out_hw, strict=True
            )
        )
        divisor = np.outer(rows, cols).astype(input.dtype)
    return _AvgPool2d.apply(
        input, kernel=kernel, stride=step, pads=pads, out_hw=out_hw, divisor=divisor
    )


# -------------------------------------------------------- adaptive pool ---


def adaptive_avg_pool2d(input: Tensor, output_size: int | Sequence[int | None]) -> Tensor:
    """Average over bins chosen to give ``output_size`` whatever the input size.

    Parameters
    ----------
    input:
        Shape ``(N, C, H, W)`` (or ``(C, H, W)``). With a height or width of
        0 only ``output_size=1`` is accepted, giving NaN (0 / 0), as in PyTorch.
    output_size:
        An int, or a pair whose ``None`` entries keep the input size.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.adaptive_avg_pool2d(lucid.ones(2, 3, 7, 5), 1).shape
    (2, 3, 1, 1)
    """
    if input.ndim not in (3, 4):
        raise ValueError(
            f"adaptive_avg_pool2d expects input (N, C, H, W) or (C, H, W), got {input.shape}"
        )
    sizes = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    if len(sizes) != 2:
        raise ValueError(f"output_size must be an int or a pair, got {output_size!r}")
    out: Pair = tuple(  # type: ignore[assignment]
        s if o is None else int(o) for s, o in zip(input.shape[-2:], sizes, strict=True)
    )
    if min(out) < 1:
        raise ValueError(f"adaptive_avg_pool2d: output_size must be positive, got {output_size!r}")
    empty = 0 in input.shape[-2:]
    if empty and out != (1, 1):
        raise ValueError(
            f"adaptive_avg_pool2d: input of shape {input.shape} has no pixels to pool into "
            f"{out}; give it a non-zero height and width"
        )
    matrices = [adaptive_average_matrix(s, o) for s, o in zip(input.shape[-2:], out, strict=True)]
    pooled = separable(input, matrices)
    # PyTorch's global average of no pixels is 0/0 = NaN; a sum over nothing is 0.
    return pooled * np.nan if empty else pooled
