"""Convolutions: ``conv2d`` (im2col and one BLAS matmul) and ``conv1d`` on top of it.

The work happens channels-last: the input is zero-padded once into an
``(N, H, W, C)`` array, whose sliding windows are a strided view that one
copy turns into the ``(positions, kh*kw*C)`` matrix multiplied by the
reshaped weight (the channel axis innermost keeps that copy fast). The result
is returned as an NCHW view of channels-last memory, so flattening it to
tokens, or feeding it to the next convolution, costs no copy. Backward
scatters the window gradients back with one pass per kernel position, or a
pure reshape when the windows do not overlap (kernel == stride, as in patch
embeddings). Depthwise convolutions (one input channel per group) skip the
matrix: they have kernels of their own on the floor below
(``lucid._kernels._depthwise``), compiled with numba where available.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import as_strided

from lucid import _kernels, _ops
from lucid._ops import check_same_dtype
from lucid._tensor import Tensor
from lucid.autograd import Function
from lucid.nn._functional import counting

Pair = tuple[int, int]
# What one kernel position sees at every output position; pooling uses it too.
_tap = _kernels.tap

# ------------------------------------------------------------- helpers ---


def _padded_nhwc(x: np.ndarray, pads: tuple[int, int, int, int]) -> np.ndarray:
    """``x`` (N, C, H, W) as a C-contiguous (N, H + pads, W + pads, C) array, zero-padded."""
    return np.ascontiguousarray(_kernels.pad_nhwc(x.transpose(0, 2, 3, 1), pads))


def _im2col(xp: np.ndarray, groups: int, kernel: Pair, out_hw: Pair, stride: Pair, dilation: Pair):
    """All windows of channels-last ``xp`` as (N*Ho*Wo, G, kh*kw*Cg), one copy."""
    n, c = xp.shape[0], xp.shape[3]
    s_n, s_h, s_w, s_c = xp.strides
    cg = c // groups
    windows = as_strided(
        xp,
        shape=(n, *out_hw, groups, *kernel, cg),
        strides=(
            s_n,
            s_h * stride[0],
            s_w * stride[1],
            s_c * cg,
            s_h * dilation[0],
            s_w * dilation[1],
            s_c,
        ),
        writeable=False,
    )
    # The last size spelled out: -1 cannot be inferred for a batch of 0.
    return windows.reshape(n * out_hw[0] * out_hw[1], groups, kernel[0] * kernel[1] * cg)


def _col2im(cols, xp_shape, groups: int, kernel: Pair, out_hw: Pair, stride: Pair, dilation: Pair):
    """Sum window gradients ``cols`` (N*Ho*Wo, G, kh*kw*Cg) onto the padded NHWC input."""
    n, hp, wp, c = xp_shape
    (kh, kw), (ho, wo) = kernel, out_hw
    blocks = cols.reshape(n, ho, wo, groups, kh, kw, c // groups)
    if kernel == stride and dilation == (1, 1):
        # Windows tile the input without overlap: scattering is a transpose.
        tiled = blocks.transpose(0, 1, 4, 2, 5, 3, 6).reshape(n, ho * kh, wo * kw, c)
        if (ho * kh, wo * kw) == (hp, wp):
            return tiled
        out = np.zeros(xp_shape, dtype=cols.dtype)
        out[:, : ho * kh, : wo * kw] = tiled
        return out
    out = np.zeros(xp_shape, dtype=cols.dtype)
    grouped = out.reshape(n, hp, wp, groups, c // groups)
    for i in range(kh):
        for j in range(kw):
            _tap(grouped, i, j, out_hw, stride, dilation, 1)[...] += blocks[:, :, :, :, i, j]
    return out


# -------------------------------------------------------------- conv2d ---


def _is_depthwise(groups: int, in_channels: int, channels_per_group: int) -> bool:
    return groups == in_channels and channels_per_group == 1 and groups > 1


def _nhwc(x: np.ndarray) -> np.ndarray:
    """``x`` (N, C, H, W) as C-contiguous (N, H, W, C): free for a channels-last view."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


class _Conv2d(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, *, stride, padding, dilation, groups):
        n, c = x.shape[:2]
        o, cg, kh, kw = weight.shape
        ctx.geometry = stride, padding, dilation
        ctx.groups, ctx.x_shape = groups, x.shape
        ctx.depthwise = _is_depthwise(groups, c, cg)
        # Prepared input: channels-last for depthwise, else also zero-padded.
        xp = _nhwc(x) if ctx.depthwise else _padded_nhwc(x, padding)
        if ctx.needs_input_grad:
            # An xp sharing the input's memory is kept as the input itself, so
            # the version check sees in-place changes to it.
            ctx.saved_input = np.may_share_memory(xp, x)
            ctx.save_for_backward(x if ctx.saved_input else xp, weight)
        if ctx.depthwise:
            # Its own kernels (lucid._kernels._depthwise): no windows, no padding copy.
            out = _kernels.depthwise_conv2d(xp, weight, bias, stride, padding, dilation)
        else:
            out_hw = _kernels.conv_output_size(x.shape[2:], (kh, kw), stride, padding, dilation)
            cols = _im2col(xp, groups, (kh, kw), out_hw, stride, dilation)
            w3 = _weight_matrices(weight, groups)
            if groups == 1:
                out = _kernels.matmul(cols[:, 0], w3[0].T)
            else:
                out = _kernels.matmul(cols.transpose(1, 0, 2), w3.transpose(0, 2, 1))
                out = out.transpose(1, 0, 2).reshape(-1, o)
            if bias is not None:
                kernels = _kernels.compiled(out, bias)
                if kernels is not None:
                    kernels.add(out, bias, None)
                else:
                    out += bias
            out = out.reshape(n, *out_hw, o)
        # A channels-last result seen as NCHW: flattening it to tokens later is free.
        return out.transpose(0, 3, 1, 2)

    @staticmethod
    def backward(ctx, grad):
        xp, weight = ctx.saved_arrays
        stride, padding, dilation = ctx.geometry
        if ctx.saved_input:  # views again, no copy
            xp = _nhwc(xp) if ctx.depthwise else _padded_nhwc(xp, padding)
        g_nhwc = grad.transpose(0, 2, 3, 1)
        if ctx.depthwise:
            gx, gw, gb = _kernels.depthwise_conv2d_backward(
                g_nhwc, xp, weight, stride, padding, dilation, ctx.needs_input_grad
            )
            return None if gx is None else gx.transpose(0, 3, 1, 2), gw, gb
        needs_x, needs_w, needs_b = ctx.needs_input_grad
        groups, (top, _, left, _) = ctx.groups, padding
        h, w = ctx.x_shape[2:]
        o = weight.shape[0]
        kernel = weight.shape[2:]
        out_hw = g_nhwc.shape[1:3]
        gb = np.einsum("nhwo->o", g_nhwc) if needs_b else None
        g3 = g_nhwc.reshape(-1, groups, o // groups)
        w3 = _weight_matrices(weight, groups)
        gx = gw = None
        if needs_w:
            cols = _im2col(xp, groups, kernel, out_hw, stride, dilation)
            if groups == 1:
                gw3 = _kernels.matmul(g3[:, 0].T, cols[:, 0], gradient=True)[None]
            else:
                gw3 = _kernels.matmul(g3.transpose(1, 2, 0), cols.transpose(1, 0, 2))
            gw = _weight_from_matrices(gw3, weight)
        if needs_x:
            if groups == 1:
                gcols = _kernels.matmul(g3[:, 0], w3[0])[:, None]
            else:
                gcols = _kernels.matmul(g3.transpose(1, 0, 2), w3).transpose(1, 0, 2)
            gxp = _col2im(gcols, xp.shape, groups, kernel, out_hw, stride, dilation)
            gx = gxp[:, top : top + h, left : left + w].transpose(0, 3, 1, 2)
        return gx, gw, gb


def _weight_matrices(weight: np.ndarray, groups: int) -> np.ndarray:
    """(O, Cg, kh, kw) -> (G, O/G, kh*kw*Cg): per group, one row per output channel.

    The columns follow the im2col order and the matmuls read these matrices
    transposed (BLAS takes them in place). nn.Conv2d stores its weights in
    this memory order, so for them this is a view, not a copy.
    """
    o, cg, kh, kw = weight.shape
    return weight.transpose(0, 2, 3, 1).reshape(groups, o // groups, kh * kw * cg)


def _weight_from_matrices(w3: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Inverse of ``_weight_matrices``, in ``weight``'s memory order (for the optimizer)."""
    o, cg, kh, kw = weight.shape
    grad = w3.reshape(o, kh, kw, cg).transpose(0, 3, 1, 2)
    return np.ascontiguousarray(grad) if weight.flags.c_contiguous else grad


# ------------------------------------------------------------ wrappers ---


def _pair(value: int | Sequence[int], name: str) -> Pair:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int | np.integer) for v in pair):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return int(pair[0]), int(pair[1])


def _padding(padding, kernel: Pair, stride: Pair, dilation: Pair) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) from an int, a pair, ``"valid"`` or ``"same"``."""
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        if stride != (1, 1):
            raise ValueError(
                f"padding='same' needs stride 1, got stride {stride}; give the padding as numbers"
            )
        # Odd totals put the extra zero after, as PyTorch does.
        totals = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
        (th, tw) = totals
        return (th // 2, th - th // 2, tw // 2, tw - tw // 2)
    if isinstance(padding, str):
        raise ValueError(f"padding must be 'same', 'valid' or numbers, got {padding!r}")
    ph, pw = _pair(padding, "padding")
    if ph < 0 or pw < 0:
        raise ValueError(f"padding must be non-negative, got {padding!r}")
    return (ph, ph, pw, pw)


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | Sequence[int] = 1,
    padding: str | int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
    groups: int = 1,
) -> Tensor:
    """2-D convolution (cross-correlation, as in every deep-learning library).

    Parameters
    ----------
    input:
        Shape ``(N, C_in, H, W)`` (or ``(C_in, H, W)``).
    weight:
        Shape ``(C_out, C_in / groups, kh, kw)``.
    bias:
        Shape ``(C_out,)``, or ``None``.
    stride, dilation:
        An int or a pair (rows, columns).
    padding:
        Zeros added on each side: an int, a pair, ``"valid"`` (none) or
        ``"same"`` (output as large as the input; stride 1 only).
    groups:
        Split channels into this many independent convolutions;
        ``groups == C_in`` is a depthwise convolution.

    Returns
    -------
    Tensor of shape ``(N, C_out, H_out, W_out)``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> x = lucid.ones(1, 1, 4, 4)
    >>> F.conv2d(x, lucid.ones(1, 1, 3, 3), padding="same")[0, 0].tolist()[0]
    [4.0, 6.0, 6.0, 4.0]
    """
    if input.ndim == 3:
        out = conv2d(
            _ops.reshape(input, (1, *input.shape)), weight, bias, stride, padding, dilation, groups
        )
        return _ops.reshape(out, out.shape[1:])
    check_same_dtype("conv2d", input, weight, bias)
    if input.ndim != 4 or weight.ndim != 4:
        raise ValueError(
            f"conv2d expects input (N, C, H, W) and weight (C_out, C_in/groups, kh, kw), got "
            f"shapes {input.shape} and {weight.shape}"
        )
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    kernel = (weight.shape[2], weight.shape[3])
    pads = _padding(padding, kernel, stride, dilation)
    n, c, h, w = input.shape
    o, cg = weight.shape[:2]
    if groups < 1 or c != cg * groups or o % groups:
        raise ValueError(
            f"conv2d: input has {c} channels and weight shape {weight.shape} with groups="
            f"{groups}; expected C_in == weight.shape[1] * groups and C_out divisible by groups"
        )
    if bias is not None and bias.shape != (o,):
        raise ValueError(f"conv2d: bias has shape {bias.shape}, expected ({o},)")
    ho, wo = _kernels.conv_output_size((h, w), kernel, stride, pads, dilation)
    if ho < 1 or wo < 1:
        raise ValueError(
            f"conv2d: a {kernel} kernel (dilation {dilation}) does not fit the input of "
            f"shape {input.shape} with padding {padding!r}; use a larger input or more padding"
        )
    if counting._totals:
        counting.add(n * ho * wo * o * cg * kernel[0] * kernel[1])
    return _Conv2d.apply(
        input, weight, bias, stride=stride, padding=pads, dilation=dilation, groups=groups
    )


def conv1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | Sequence[int] = 1,
    padding: str | int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
    groups: int = 1,
) -> Tensor:
    """1-D convolution over the last axis; the arguments are those of ``conv2d`` for one axis.

    Parameters
    ----------
    input:
        Shape ``(N, C_in, L)`` (or ``(C_in, L)``).
    weight:
        Shape ``(C_out, C_in / groups, k)``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.conv1d(lucid.ones(1, 1, 5), lucid.ones(1, 1, 3)).tolist()
    [[[3.0, 3.0, 3.0]]]
    """
    if input.ndim == 2:
        out = conv1d(
            _ops.reshape(input, (1, *input.shape)), weight, bias, stride, padding, dilation, groups
        )
        return _ops.reshape(out, out.shape[1:])
    if input.ndim != 3 or weight.ndim != 3:
        raise ValueError(
            f"conv1d expects input (N, C, L) and weight (C_out, C_in/groups, k), got shapes "
            f"{input.shape} and {weight.shape}"
        )

    def one(v: int | Sequence[int], name: str) -> int:
        (value,) = (v,) if isinstance(v, int) else tuple(v)
        if not isinstance(value, int | np.integer):
            raise ValueError(f"{name} must be an int, got {v!r}")
        return int(value)

    pad = padding if isinstance(padding, str) else (0, one(padding, "padding"))
    out = conv2d(
        _ops.reshape(input, (*input.shape[:2], 1, input.shape[2])),
        _ops.reshape(weight, (*weight.shape[:2], 1, weight.shape[2])),
        bias,
        stride=(1, one(stride, "stride")),
        padding=pad,
        dilation=(1, one(dilation, "dilation")),
        groups=groups,
    )
    return _ops.reshape(out, (out.shape[0], out.shape[1], out.shape[3]))
