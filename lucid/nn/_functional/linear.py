"""``linear``: ``x @ W.T + b`` as one BLAS matmul on a 2-D view of the input."""

from __future__ import annotations

import numpy as np

from lucid._tensor import Tensor
from lucid.autograd import Function
from lucid.nn._functional import counting


class _Linear(Function):
    @staticmethod
    def forward(ctx, x, weight, bias):
        x2 = x.reshape(-1, x.shape[-1])
        out = x2 @ weight.T
        if bias is not None:
            out += bias
        if ctx.needs_input_grad:
            # A copy made by reshape cannot change under us, so keep it and
            # skip a second copy in backward; a view is kept as the input
            # itself so the version check sees in-place changes.
            ctx.x_shape = x.shape
            ctx.save_for_backward(x if np.may_share_memory(x2, x) else x2, weight)
        return out.reshape(*x.shape[:-1], weight.shape[0])

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_arrays
        x2 = x.reshape(-1, x.shape[-1])
        g2 = grad.reshape(-1, weight.shape[0])
        needs_x, needs_w, needs_b = ctx.needs_input_grad
        gx = (g2 @ weight).reshape(ctx.x_shape) if needs_x else None
        gw = g2.T @ x2 if needs_w else None
        gb = g2.sum(axis=0) if needs_b else None
        return gx, gw, gb


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
    if weight.ndim != 2 or input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: input of shape {input.shape} does not fit a weight of shape "
            f"{weight.shape}; expected input (*, {weight.shape[-1]}) and a 2-D weight "
            "(out_features, in_features)"
        )
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(
            f"linear: bias of shape {bias.shape} does not match weight of shape "
            f"{weight.shape}; expected ({weight.shape[0]},)"
        )
    if counting._totals:
        counting.add(int(np.prod(input.shape[:-1])) * weight.shape[0] * weight.shape[1])
    return _Linear.apply(input, weight, bias)
