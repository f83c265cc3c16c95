"""Losses: ``cross_entropy`` and ``nll_loss`` as one fused function, and ``mse_loss``.

Both classification losses are ``-sum_c q[c] * z[c]`` per sample, where ``z``
is the log-softmax of the logits (cross entropy) or the given log
probabilities (NLL), and ``q`` is a dense matrix folding in the target
(indices or probabilities), class weights, label smoothing and ignored
samples. One forward and one backward then serve every option.

With class-index targets the sum runs only over the entries PyTorch reads,
never as ``0 * z``: a masked class (logit ``-inf``), ``log(0)`` in NLL's
input, or a padded (ignored) row holding NaN or ``-inf`` must not turn a
finite loss into NaN.
"""

from __future__ import annotations

import numpy as np

from lucid._tensor import Tensor
from lucid.autograd import Function

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _rows(a: np.ndarray) -> np.ndarray:
    """(N, C, *d) -> (N*prod(d), C): the class axis last, one sample position per row."""
    return np.moveaxis(a, 1, -1).reshape(-1, a.shape[1])


def _unrows(rows: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    moved = (shape[0], *shape[2:], shape[1])
    return np.moveaxis(rows.reshape(moved), -1, 1)


# Infinities and NaN in the input (masked classes, log(0), padding) give
# infinite or NaN intermediates on purpose: NumPy need not warn of them.
_QUIET = np.errstate(invalid="ignore", divide="ignore", over="ignore")


class _ClassLoss(Function):
    @staticmethod
    @_QUIET
    def forward(ctx, x, probs, *, indices, weight, ignore_index, smoothing, reduction, softmax):
        c = x.shape[1]
        z = _rows(x)
        if softmax:
            z = z - z.max(axis=1, keepdims=True)
            z -= np.log(np.exp(z).sum(axis=1, keepdims=True))
        w = None if weight is None else weight.astype(z.dtype, copy=False)
        if indices is not None:
            y = indices.reshape(-1)
            keep = y != ignore_index
            target = np.where(keep, y, 0)
            if target.size and (target.min() < 0 or target.max() >= c):
                bad = y[keep & ((y < 0) | (y >= c))][0]
                raise IndexError(
                    f"target class {bad} is out of range for {c} classes; targets must lie in "
                    f"[0, {c}) or equal ignore_index ({ignore_index})"
                )
            sample_w = keep.astype(z.dtype) if w is None else np.where(keep, w[target], 0)
            rows = np.arange(len(y))
            q = np.zeros_like(z)
            q[rows, target] = (1 - smoothing) * sample_w
            picked = (1 - smoothing) * sample_w * z[rows, target]
            if smoothing:
                q += (smoothing / c) * (keep[:, None] if w is None else keep[:, None] * w)
                spread = z.sum(axis=1) if w is None else np.einsum("rc,c->r", z, w)
                picked += (smoothing / c) * spread
            # np.where, not a product with keep: an ignored row may hold NaN.
            losses = -np.where(keep, picked, 0)
            denom = sample_w.sum()
        else:
            t = _rows(probs)
            q = t * (1 - smoothing) + smoothing / c if smoothing else t.copy()
            if w is not None:
                q *= w
            losses = -np.einsum("rc,rc->r", q, z)
            denom = len(t)
        # A mean over no weight at all is 0/0: NaN, as in PyTorch, whose gradient
        # nevertheless is 0 wherever it writes none (ignored rows; other classes
        # without label smoothing), not NaN = 0 * (1/0). ``unwritten`` marks them.
        ctx.unwritten = None
        if reduction == "mean" and denom == 0 and indices is not None:
            written = np.full(q.shape, bool(smoothing))
            written[rows, target] = True
            written &= keep[:, None]
            ctx.unwritten = ~written
        ctx.shape, ctx.reduction, ctx.denom = x.shape, reduction, denom
        ctx.smoothing, ctx.softmax, ctx.out_shape = smoothing, softmax, (x.shape[0], *x.shape[2:])
        if ctx.needs_input_grad:
            ctx.save_for_backward(q, z, w)
        if reduction == "none":
            return losses.reshape(ctx.out_shape)
        total = losses.sum()
        if reduction == "sum":
            return total
        # With no weight at all, PyTorch's mean is 0/0 = NaN (label smoothing included).
        return np.asarray(total / denom if denom else np.nan, dtype=z.dtype)

    @staticmethod
    @_QUIET
    def backward(ctx, grad):
        q, z, w = ctx.saved_arrays
        if ctx.reduction == "none":
            g = grad.reshape(-1, 1)
        elif ctx.reduction == "sum":
            g = grad
        else:
            g = grad / np.asarray(ctx.denom, dtype=grad.dtype)
        gx = gt = None
        if ctx.needs_input_grad[0]:
            gz = q * -g  # the gradient for z
            if ctx.unwritten is not None:
                gz[ctx.unwritten] = 0
            if ctx.softmax:
                rows = np.exp(z)
                rows *= gz.sum(axis=1, keepdims=True)
                gz -= rows
            gx = _unrows(gz, ctx.shape)
        if ctx.needs_input_grad[1]:
            rows = z * (-(1 - ctx.smoothing) * g)
            if w is not None:
                rows *= w
            gt = _unrows(rows, ctx.shape)
        return gx, gt


def _class_loss(input, target, weight, ignore_index, reduction, smoothing, softmax, name):
    _check_reduction(reduction)
    if not 0.0 <= smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {smoothing!r}")
    x = input
    unbatched = x.ndim == 1
    if unbatched:
        x = x.reshape(1, -1)
        target = target.reshape(1, *target.shape)
    if x.ndim < 2:
        raise ValueError(f"{name} expects input (N, C, *) or (C,), got shape {input.shape}")
    c = x.shape[1]
    if weight is not None and weight.shape != (c,):
        raise ValueError(f"{name}: weight has shape {weight.shape}, expected ({c},) per class")
    w = None if weight is None else weight.data
    if target.dtype.kind in "iu":
        expected = (x.shape[0], *x.shape[2:])
        if target.shape != expected:
            raise ValueError(
                f"{name}: class-index target of shape {target.shape} does not match input "
                f"{input.shape}; expected {expected}"
            )
        out = _ClassLoss.apply(
            x,
            None,
            indices=target.data,
            weight=w,
            ignore_index=ignore_index,
            smoothing=smoothing,
            reduction=reduction,
            softmax=softmax,
        )
    else:
        if not softmax:
            raise TypeError(f"{name} needs integer class indices as target, got {target.dtype}")
        if target.shape != x.shape:
            raise ValueError(
                f"{name}: probability target of shape {target.shape} must match input "
                f"{input.shape} (or give integer class indices)"
            )
        out = _ClassLoss.apply(
            x,
            target,
            indices=None,
            weight=w,
            ignore_index=ignore_index,
            smoothing=smoothing,
            reduction=reduction,
            softmax=softmax,
        )
    if unbatched and reduction == "none":
        return out.reshape(())
    return out


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross entropy between the softmax of ``input`` logits and ``target``.

    Parameters
    ----------
    input:
        Logits of shape ``(N, C)``, ``(N, C, d1, ...)`` or ``(C,)``; a logit
        of ``-inf`` masks its class out (the loss stays finite).
    target:
        Integer class indices of shape ``(N,)`` / ``(N, d1, ...)``, or class
        probabilities of the input's shape.
    weight:
        Per-class weights of shape ``(C,)``.
    ignore_index:
        Index targets equal to this contribute nothing (not even to the mean),
        so padding may hold NaN or ``-inf``: the loss stays finite (a padded
        row of NaN still gets a NaN gradient from the softmax, as in PyTorch).
    reduction:
        ``"mean"`` (weighted by the targets' class weights), ``"sum"`` or
        ``"none"``. A mean over no weight (every target ignored) is NaN, as in
        PyTorch, with a gradient of 0.
    label_smoothing:
        Mix the target with the uniform distribution by this amount.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> logits = lucid.Tensor([[2.0, 0.0, 0.0], [0.0, 3.0, 0.0]])
    >>> round(float(F.cross_entropy(logits, lucid.Tensor([0, 1]))), 4)
    0.1672
    """
    return _class_loss(
        input, target, weight, ignore_index, reduction, label_smoothing, True, "cross_entropy"
    )


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood of the class indices ``target`` under log-probabilities ``input``.

    Parameters
    ----------
    input:
        Log-probabilities of shape ``(N, C)``, ``(N, C, d1, ...)`` or ``(C,)``.
    target, weight, ignore_index, reduction:
        As for ``cross_entropy`` (class indices only).

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> logp = lucid.Tensor([[-0.1, -2.0], [-1.5, -0.3]])
    >>> round(float(F.nll_loss(logp, lucid.Tensor([0, 1]))), 4)
    0.2
    """
    return _class_loss(input, target, weight, ignore_index, reduction, 0.0, False, "nll_loss")


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Squared error between ``input`` and ``target`` (which broadcast together).

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> float(F.mse_loss(lucid.Tensor([1.0, 2.0]), lucid.Tensor([1.0, 4.0])))
    2.0
    """
    _check_reduction(reduction)
    diff = input - target
    squared = diff * diff
    if reduction == "none":
        return squared
    return squared.sum() if reduction == "sum" else squared.mean()
