"""``linear`` (``x @ W.T + b`` as one BLAS matmul on a 2-D view) and ``linear_gelu``."""

from __future__ import annotations

import numpy as np

from lucid import _kernels
from lucid._ops import check_same_dtype
from lucid._tensor import Tensor
from lucid.autograd import Function
from lucid.nn._functional import counting


def _matmul(ctx, x, weight):
    """``x @ weight.T`` over the last axis as a 2-D array, and the input to keep for backward.

    A copy made by reshape cannot change under us, so it is kept, sparing
    backward a second copy; a view is kept as the input itself so that the
    version check sees in-place changes.
    """
    x2 = x.reshape(-1, x.shape[-1])
    ctx.x_shape = x.shape
    return _kernels.matmul(x2, weight.T), x if np.may_share_memory(x2, x) else x2


def _add_bias(out, bias):
    kernels = _kernels.compiled(out, bias)
    if kernels is not None:
        kernels.add(out, bias, None)
    else:
        out += bias


def _backward(ctx, x, weight, g2):
    """Gradients of ``x @ weight.T + bias`` from the output gradient ``g2`` (2-D)."""
    x2 = x.reshape(-1, x.shape[-1])
    needs_x, needs_w, needs_b = ctx.needs_input_grad
    gx = _kernels.matmul(g2, weight).reshape(ctx.x_shape) if needs_x else None
    gw = None
    if needs_w:
        # In the weight's own memory order (nn.Linear stores it transposed),
        # so that the optimizer's elementwise updates run on matching layouts.
        if weight.flags.f_contiguous:
            gw = _kernels.matmul(x2.T, g2, gradient=True).T
        else:
            gw = _kernels.matmul(g2.T, x2, gradient=True)
    # A matrix-vector product: much faster than g2.sum(axis=0) on float32.
    gb = np.ones(len(g2), dtype=g2.dtype) @ g2 if needs_b else None
    return gx, gw, gb


class _Linear(Function):
    @staticmethod
    def forward(ctx, x, weight, bias):
        out, kept = _matmul(ctx, x, weight)
        if bias is not None:
            _add_bias(out, bias)
        if ctx.needs_input_grad:
            ctx.save_for_backward(kept, weight)
        return out.reshape(*x.shape[:-1], weight.shape[0])

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_arrays
        return _backward(ctx, x, weight, grad.reshape(-1, weight.shape[0]))


class _LinearGelu(Function):
    @staticmethod
    def forward(ctx, x, weight, bias):
        out, kept = _matmul(ctx, x, weight)
        derivative = bool(ctx.needs_input_grad)
        kernels = _kernels.compiled(out, bias)
        if kernels is not None:
            # Bias and GELU in one pass over the matmul's own output.
            deriv = np.empty_like(out) if derivative else None
            kernels.gelu(out, bias, out, deriv)
        else:
            if bias is not None:
                out += bias
            out, deriv = _kernels.gelu(out, derivative)
        if derivative:
            ctx.save_for_backward(kept, weight, deriv)
        return out.reshape(*x.shape[:-1], weight.shape[0])

    @staticmethod
    def backward(ctx, grad):
        x, weight, deriv = ctx.saved_arrays
        g2 = _kernels.times_derivative(grad.reshape(deriv.shape), deriv)
        return _backward(ctx, x, weight, g2)


def _check(input: Tensor, weight: Tensor, bias: Tensor | None, name: str) -> None:
    check_same_dtype(name, input, weight, bias)
    if weight.ndim != 2 or input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"{name}: input of shape {input.shape} does not fit a weight of shape "
            f"{weight.shape}; expected input (*, {weight.shape[-1]}) and a 2-D weight "
            "(out_features, in_features)"
        )
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(
            f"{name}: bias of shape {bias.shape} does not match weight of shape "
            f"{weight.shape}; expected ({weight.shape[0]},)"
        )
    if counting._totals:
        counting.add(int(np.prod(input.shape[:-1])) * weight.shape[0] * weight.shape[1])


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Apply ``input @ weight.T + bias`` over the last axis of ``input``.

    Parameters
    ----------
    input:
        Shape ``(*, in_features)``.
    weight:
        Shape ``(out_features, in_features)``.
    bias:
        Shape ``(out_features,)``, or ``None``.

    Returns
    -------
    Tensor of shape ``(*, out_features)``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> x = lucid.ones(2, 3)
    >>> F.linear(x, lucid.ones(4, 3), lucid.zeros(4)).tolist()
    [[3.0, 3.0, 3.0, 3.0], [3.0, 3.0, 3.0, 3.0]]
    """
    _check(input, weight, bias, "linear")
    return _Linear.apply(input, weight, bias)


def linear_gelu(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``gelu(linear(input, weight, bias))`` (exact GELU) as one fused operation.

    The first half of a transformer's MLP. Fused, the bias and the GELU are
    applied in place to the matmul's output in one pass, and backward keeps
    only GELU's derivative: one array fewer than the two operations apart,
    and none of their intermediate passes.

    Parameters
    ----------
    input:
        Shape ``(*, in_features)``.
    weight:
        Shape ``(out_features, in_features)``.
    bias:
        Shape ``(out_features,)``, or ``None``.

    Returns
    -------
    Tensor of shape ``(*, out_features)``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> x = lucid.tensor([[1.0, -1.0]])
    >>> [round(v, 4) for v in F.linear_gelu(x, lucid.eye(2)).tolist()[0]]
    [0.8413, -0.1587]
    """
    _check(input, weight, bias, "linear_gelu")
    return _LinearGelu.apply(input, weight, bias)
