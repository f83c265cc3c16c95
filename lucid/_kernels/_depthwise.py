"""Depthwise 2-D convolution on channels-last arrays, forward and backward.

A depthwise convolution (one input channel per group, as in PVT v2's and
MobileNet's 3x3 layers) is no matrix product: each output is ``kh*kw``
multiply-adds along the channel axis. With numba, one compiled pass does
them per output pixel, vectorised over the channels, without padding the
input (taps outside it are skipped), split by output rows over lucid's
kernel threads (``lucid._kernels._numba``). Without numba, or with a channel
multiplier above 1, NumPy accumulates ``kh*kw`` shifted slices of the
zero-padded input instead.

Arrays are channels-last: the input ``(N, H, W, C)``, the output and its
gradient ``(N, Ho, Wo, O)``; the weight keeps PyTorch's ``(O, 1, kh, kw)``
shape, and ``O = m * C`` for a channel multiplier ``m``. ``padding`` is
``(top, bottom, left, right)``.
"""

from __future__ import annotations

import numpy as np

from lucid._kernels._compiled import compiled

Pair = tuple[int, int]
Pads = tuple[int, int, int, int]

# Both float types: gradient checks run in float64 through the same kernels.
_FLOATS = (np.float32, np.float64)


def _window(start: int, count: int, step: int) -> slice:
    return slice(start, start + step * (count - 1) + 1, step)


def tap(x: np.ndarray, i: int, j: int, out_hw: Pair, stride: Pair, dilation: Pair, h_axis: int):
    """What kernel position (i, j) sees at every output position (axes h_axis, h_axis + 1)."""
    rows = _window(i * dilation[0], out_hw[0], stride[0])
    cols = _window(j * dilation[1], out_hw[1], stride[1])
    return x[(slice(None),) * h_axis + (rows, cols)]


def conv_output_size(
    in_hw: Pair, kernel: Pair, stride: Pair, padding: Pads, dilation: Pair
) -> Pair:
    """``(Ho, Wo)`` of a convolution, as PyTorch computes it."""
    pads = (padding[0] + padding[1], padding[2] + padding[3])
    sides = [
        (n + p - d * (k - 1) - 1) // s + 1
        for n, p, k, s, d in zip(in_hw, pads, kernel, stride, dilation, strict=True)
    ]
    return sides[0], sides[1]


def pad_nhwc(x: np.ndarray, padding: Pads) -> np.ndarray:
    """``x`` (N, H, W, C) zero-padded on its two spatial axes (``x`` itself when no padding)."""
    top, bottom, left, right = padding
    if not (top or bottom or left or right):
        return x
    n, h, w, c = x.shape
    out = np.zeros((n, h + top + bottom, w + left + right, c), dtype=x.dtype)
    out[:, top : top + h, left : left + w] = x
    return out


def _compiled_for(x: np.ndarray, weight: np.ndarray, *others: np.ndarray | None):
    """The compiled kernels for a channel multiplier of 1, else ``None`` (NumPy's turn).

    Any size qualifies: one compiled pass beats ``kh*kw`` NumPy passes even
    for small maps.
    """
    if weight.shape[0] != x.shape[3] or weight.dtype != x.dtype:
        return None
    return compiled(x, *others, min_size=0, floats=_FLOATS)


def _kernel_weight(weight: np.ndarray) -> np.ndarray:
    """(C, 1, kh, kw) -> C-contiguous (kh, kw, C): the compiled kernels read channels innermost."""
    return np.ascontiguousarray(weight[:, 0].transpose(1, 2, 0))


def depthwise_conv2d(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    stride: Pair,
    padding: Pads,
    dilation: Pair,
) -> np.ndarray:
    """Depthwise convolution of channels-last ``x``; returns C-contiguous ``(N, Ho, Wo, O)``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.ones((1, 3, 3, 2), np.float32)
    >>> w = np.ones((2, 1, 3, 3), np.float32)
    >>> depthwise_conv2d(x, w, None, (1, 1), (1, 1, 1, 1), (1, 1))[0, :, :, 0]
    array([[4., 6., 4.],
           [6., 9., 6.],
           [4., 6., 4.]], dtype=float32)
    """
    n, h, w, _ = x.shape
    o, _, kh, kw = weight.shape
    out_hw = conv_output_size((h, w), (kh, kw), stride, padding, dilation)
    kernels = _compiled_for(x, weight, bias)
    if kernels is not None:
        out = np.empty((n, *out_hw, o), dtype=x.dtype)
        geometry = (*stride, padding[0], padding[2], *dilation)
        kernels.depthwise(x, _kernel_weight(weight), bias, out, geometry)
        return out
    xp = pad_nhwc(x, padding)
    # Each input channel repeated m times: every slice below is a plain (..., O) array.
    if o != x.shape[3]:
        xp = np.repeat(xp, o // x.shape[3], axis=3)
    w3 = weight.reshape(o, kh, kw)
    out = tap(xp, 0, 0, out_hw, stride, dilation, 1) * w3[:, 0, 0]
    term = np.empty_like(out)
    for i, j in np.ndindex(kh, kw):
        if i or j:
            np.multiply(tap(xp, i, j, out_hw, stride, dilation, 1), w3[:, i, j], out=term)
            out += term
    if bias is not None:
        out += bias
    return out


def depthwise_conv2d_backward(
    grad: np.ndarray,
    x: np.ndarray,
    weight: np.ndarray,
    stride: Pair,
    padding: Pads,
    dilation: Pair,
    needs: tuple[bool, bool, bool],
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """Gradients of :func:`depthwise_conv2d` for the input, weight and bias that ``needs`` names.

    ``grad`` is the output gradient ``(N, Ho, Wo, O)``; the input gradient
    comes back channels-last ``(N, H, W, C)``, the weight gradient C-contiguous
    in the weight's shape.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.ones((1, 3, 3, 1), np.float32)
    >>> w = np.ones((1, 1, 3, 3), np.float32)
    >>> g = np.ones((1, 3, 3, 1), np.float32)
    >>> gx, gw, gb = depthwise_conv2d_backward(g, x, w, (1, 1), (1,) * 4, (1, 1), (1, 1, 1))
    >>> gw[0, 0].tolist(), gb.tolist()
    ([[4.0, 6.0, 4.0], [6.0, 9.0, 6.0], [4.0, 6.0, 4.0]], [9.0])
    """
    needs_x, needs_w, needs_b = needs
    o, _, kh, kw = weight.shape
    g = np.ascontiguousarray(grad)
    kernels = _compiled_for(x, weight, g)
    if kernels is not None:
        geometry = (*stride, padding[0], padding[2], *dilation)
        w_k = _kernel_weight(weight)
        gx = gw = gb = None
        if needs_x:
            gx = np.empty_like(x)
            kernels.depthwise_grad_input(g, w_k, gx, geometry)
        if needs_w or needs_b:
            gw_k, gb = kernels.depthwise_grad_weight(g, x, w_k.shape, needs_b, geometry)
            gw = np.ascontiguousarray(gw_k.transpose(2, 0, 1)).reshape(weight.shape)
        return gx, gw if needs_w else None, gb
    c = x.shape[3]
    out_hw = g.shape[1:3]
    xp = pad_nhwc(x, padding)
    if o != c:
        xp = np.repeat(xp, o // c, axis=3)
    w3 = weight.reshape(o, kh, kw)
    gxp = np.zeros(xp.shape, dtype=g.dtype) if needs_x else None
    gw3 = np.empty(w3.shape, dtype=g.dtype) if needs_w else None
    term = np.empty_like(g) if needs_x else None
    for i in range(kh):
        for j in range(kw):
            if gw3 is not None:
                window = tap(xp, i, j, out_hw, stride, dilation, 1)
                gw3[:, i, j] = np.einsum("nyxc,nyxc->c", g, window)
            if gxp is not None:
                np.multiply(g, w3[:, i, j], out=term)
                tap(gxp, i, j, out_hw, stride, dilation, 1)[...] += term
    gx = None
    if gxp is not None:
        if o != c:
            gxp = gxp.reshape(*gxp.shape[:3], c, -1).sum(axis=4)
        top, _, left, _ = padding
        gx = gxp[:, top : top + x.shape[1], left : left + x.shape[2]]
    gb = np.einsum("nhwo->o", g) if needs_b else None
    return gx, None if gw3 is None else gw3.reshape(weight.shape), gb
