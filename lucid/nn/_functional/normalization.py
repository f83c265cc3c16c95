"""Normalisation layers as fused functions: ``layer_norm``, ``group_norm``, ``batch_norm``.

Each works on a 2-D or 3-D view of its input and reduces with BLAS
matrix-vector products and ``einsum`` (both much faster than ``ndarray.mean``
on float32), allocating as few temporaries as it can.

Empty inputs (a batch of 0, or 0 values to normalise) give empty outputs, as
in PyTorch: the views are shaped with explicit sizes, since ``reshape(-1)``
cannot infer a size next to a 0, and statistics are never taken over nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from lucid import _kernels
from lucid._tensor import Tensor
from lucid.autograd import Function

# ----------------------------------------------------- shared row kernels ---


def _normalize_rows(x2: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Standardise each row of the 2-D ``x2``: returns ``xhat`` and ``1/std`` as a column."""
    d = x2.shape[1]
    inv_d = 1.0 / max(d, 1)  # rows of 0 values: their (empty) output needs no statistics
    mean = x2 @ np.full(d, inv_d, dtype=x2.dtype)
    xhat = x2 - mean[:, None]
    var = np.einsum("ij,ij->i", xhat, xhat) * inv_d
    rstd = (1.0 / np.sqrt(var + eps))[:, None]
    xhat *= rstd
    return xhat, rstd


def _normalize_rows_backward(gxhat: np.ndarray, xhat: np.ndarray, rstd: np.ndarray) -> np.ndarray:
    """Gradient for the rows of ``x`` from the gradient for ``xhat`` (which it overwrites)."""
    d = gxhat.shape[1]
    inv_d = 1.0 / max(d, 1)
    m1 = gxhat @ np.full(d, inv_d, dtype=gxhat.dtype)
    m2 = np.einsum("ij,ij->i", gxhat, xhat) * inv_d
    gxhat -= m1[:, None]
    gxhat -= xhat * m2[:, None]
    gxhat *= rstd
    return gxhat


# ---------------------------------------------------------- layer norm ---


class _LayerNorm(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, *, shape, eps):
        x2 = x.reshape(math.prod(x.shape[: x.ndim - len(shape)]), math.prod(shape))
        w = None if weight is None else weight.reshape(-1)
        b = None if bias is None else bias.reshape(-1)
        kernels = _kernels.compiled(x2, w, b)
        if kernels is not None:
            return _LayerNorm.forward_compiled(ctx, kernels, x2, w, b, shape, eps).reshape(x.shape)
        xhat, rstd = _normalize_rows(x2, eps)
        if ctx.needs_input_grad:
            ctx.shape = shape
            ctx.save_for_backward(xhat, rstd, w)
            out = xhat * w if w is not None else xhat.copy()
        else:
            # Nothing to save: scale and shift xhat where it lies.
            out = xhat
            if w is not None:
                out *= w
        if bias is not None:
            out += bias.reshape(-1)
        return out.reshape(x.shape)

    @staticmethod
    def forward_compiled(ctx, kernels, x2, w, b, shape, eps):
        """The forward in one compiled pass, keeping ``xhat`` and ``1/std`` only if recorded."""
        out = np.empty_like(x2)
        if not ctx.needs_input_grad:
            kernels.layer_norm(x2, w, b, eps, out)
            return out
        xhat = np.empty_like(x2)
        rstd = np.empty((len(x2), 1), dtype=x2.dtype)
        kernels.layer_norm(x2, w, b, eps, out, xhat, rstd.reshape(-1))
        ctx.shape = shape
        ctx.save_for_backward(xhat, rstd, w)
        return out

    @staticmethod
    def backward(ctx, grad):
        xhat, rstd, w = ctx.saved_arrays
        g2 = grad.reshape(xhat.shape)
        needs_x, needs_w, needs_b = ctx.needs_input_grad
        kernels = _kernels.compiled(g2, w) if needs_x else None
        if kernels is not None:
            gx = np.empty_like(g2)
            gw, gb = kernels.layer_norm_backward(g2, xhat, rstd.reshape(-1), w, gx)
            return (
                gx.reshape(grad.shape),
                gw.reshape(ctx.shape) if needs_w else None,
                gb.reshape(ctx.shape) if needs_b else None,
            )
        gw = np.einsum("ij,ij->j", g2, xhat).reshape(ctx.shape) if needs_w else None
        gb = (np.ones(len(g2), dtype=g2.dtype) @ g2).reshape(ctx.shape) if needs_b else None
        gx = None
        if needs_x:
            gxhat = g2 * w if w is not None else g2.copy()
            gx = _normalize_rows_backward(gxhat, xhat, rstd).reshape(grad.shape)
        return gx, gw, gb


def layer_norm(
    input: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise over the last dimensions, then scale by ``weight`` and shift by ``bias``.

    Parameters
    ----------
    input:
        Shape ``(*, *normalized_shape)``.
    normalized_shape:
        The trailing shape to normalise over.
    weight, bias:
        Of shape ``normalized_shape``, or ``None``.
    eps:
        Added to the variance for numerical stability.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> y = F.layer_norm(lucid.Tensor([[1.0, 2.0, 3.0]]), (3,))
    >>> [round(v, 3) for v in y.tolist()[0]]
    [-1.225, 0.0, 1.225]
    """
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if not shape or input.shape[input.ndim - len(shape) :] != shape:
        raise ValueError(
            f"layer_norm: input of shape {input.shape} does not end with normalized_shape "
            f"{shape}; normalise over trailing dimensions the input has"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != shape:
            raise ValueError(
                f"layer_norm: {name} has shape {t.shape}, expected normalized_shape {shape}"
            )
    return _LayerNorm.apply(input, weight, bias, shape=shape, eps=eps)


# ---------------------------------------------------------- group norm ---


class _GroupNorm(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, *, groups, eps):
        n, c = x.shape[:2]
        spatial = math.prod(x.shape[2:])
        xhat, rstd = _normalize_rows(x.reshape(n * groups, c // groups * spatial), eps)
        xhat3 = xhat.reshape(n, c, spatial)
        ctx.groups = groups
        if ctx.needs_input_grad:
            ctx.save_for_backward(xhat3, rstd, weight)
            out = xhat3 * weight[:, None] if weight is not None else xhat3.copy()
        else:
            out = xhat3
            if weight is not None:
                out *= weight[:, None]
        if bias is not None:
            out += bias[:, None]
        return out.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad):
        xhat3, rstd, weight = ctx.saved_arrays
        g3 = grad.reshape(xhat3.shape)
        needs_x, needs_w, needs_b = ctx.needs_input_grad
        gw = np.einsum("ncs,ncs->c", g3, xhat3) if needs_w else None
        gb = np.einsum("ncs->c", g3) if needs_b else None
        gx = None
        if needs_x:
            gxhat = g3 * weight[:, None] if weight is not None else g3.copy()
            n, c, spatial = xhat3.shape
            rows = (n * ctx.groups, c // ctx.groups * spatial)
            gx2 = _normalize_rows_backward(gxhat.reshape(rows), xhat3.reshape(rows), rstd)
            gx = gx2.reshape(grad.shape)
        return gx, gw, gb


def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each group of channels of each sample, then apply a per-channel affine map.

    Parameters
    ----------
    input:
        Shape ``(N, C, *)`` with ``C`` divisible by ``num_groups``.
    num_groups:
        Number of channel groups.
    weight, bias:
        Of shape ``(C,)``, or ``None``.
    eps:
        Added to the variance for numerical stability.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.group_norm(lucid.randn(2, 4, 3, 3), 2).shape
    (2, 4, 3, 3)
    """
    if input.ndim < 2 or input.shape[1] % num_groups:
        raise ValueError(
            f"group_norm: input of shape {input.shape} cannot be split into {num_groups} "
            "channel groups; expected (N, C, *) with C divisible by num_groups"
        )
    return _GroupNorm.apply(input, weight, bias, groups=num_groups, eps=eps)


# ---------------------------------------------------------- batch norm ---


class _BatchNorm(Function):
    """Per-channel normalisation of ``(N, C, S)`` by batch or by running statistics."""

    @staticmethod
    def forward(ctx, x, weight, bias, *, training, running_mean, running_var, momentum, eps):
        n, c = x.shape[:2]
        x3 = x.reshape(n, c, math.prod(x.shape[2:]))
        ctx.training = training
        if training:
            count = x3.shape[0] * x3.shape[2]
            inv_count = 1.0 / max(count, 1)
            mean = np.einsum("ncs->c", x3) * inv_count
            xhat = x3 - mean[:, None]
            var = np.einsum("ncs,ncs->c", xhat, xhat) * inv_count
            rstd = 1.0 / np.sqrt(var + eps)
            xhat *= rstd[:, None]
            # An empty batch has no statistics: PyTorch leaves the running ones alone.
            if running_mean is not None and count:
                # The running variance is the unbiased one, as in PyTorch.
                running_mean *= 1 - momentum
                running_mean += momentum * mean
                running_var *= 1 - momentum
                running_var += (momentum * count / max(count - 1, 1)) * var
            if ctx.needs_input_grad:
                ctx.save_for_backward(xhat, rstd, weight)
                out = xhat * weight[:, None] if weight is not None else xhat.copy()
            else:
                out = xhat
                if weight is not None:
                    out *= weight[:, None]
        else:
            rstd = 1.0 / np.sqrt(running_var + eps)
            scale = rstd if weight is None else weight * rstd
            out = x3 * scale[:, None]
            out -= (running_mean * scale)[:, None]
            if ctx.needs_input_grad:
                ctx.save_for_backward(x, running_mean.copy(), rstd, weight)
        if bias is not None:
            out += bias[:, None]
        return out.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad):
        needs_x, needs_w, needs_b = ctx.needs_input_grad
        if ctx.training:
            xhat, rstd, weight = ctx.saved_arrays
            g3 = grad.reshape(xhat.shape)
            gw = np.einsum("ncs,ncs->c", g3, xhat) if needs_w else None
            gb = np.einsum("ncs->c", g3) if needs_b else None
            gx = None
            if needs_x:
                gxhat = g3 * weight[:, None] if weight is not None else g3.copy()
                inv_count = 1.0 / max(xhat.shape[0] * xhat.shape[2], 1)
                m1 = np.einsum("ncs->c", gxhat) * inv_count
                m2 = np.einsum("ncs,ncs->c", gxhat, xhat) * inv_count
                gxhat -= m1[:, None]
                gxhat -= xhat * m2[:, None]
                gxhat *= rstd[:, None]
                gx = gxhat.reshape(grad.shape)
            return gx, gw, gb
        x, mean, rstd, weight = ctx.saved_arrays
        x3 = x.reshape(*x.shape[:2], math.prod(x.shape[2:]))
        g3 = grad.reshape(x3.shape)
        gsum = np.einsum("ncs->c", g3) if needs_w or needs_b else None
        gw = rstd * (np.einsum("ncs,ncs->c", g3, x3) - mean * gsum) if needs_w else None
        scale = rstd if weight is None else weight * rstd
        gx = (g3 * scale[:, None]).reshape(grad.shape) if needs_x else None
        return gx, gw, gsum if needs_b else None


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each channel over the batch and spatial positions.

    In training mode the batch statistics normalise the input and update
    ``running_mean`` and ``running_var`` in place (``running = (1 - momentum)
    * running + momentum * batch``, the variance unbiased). Otherwise the
    running statistics normalise it.

    Parameters
    ----------
    input:
        Shape ``(N, C, *)``.
    running_mean, running_var:
        Shape ``(C,)``; may be ``None`` in training mode (nothing is tracked).
    weight, bias:
        Shape ``(C,)``, or ``None``.
    training:
        Use batch statistics (and update the running ones).
    momentum:
        Weight of the batch statistics in the running average.
    eps:
        Added to the variance for numerical stability.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> mean, var = lucid.zeros(3), lucid.ones(3)
    >>> y = F.batch_norm(lucid.randn(4, 3, 2, 2) + 5, mean, var, training=True)
    >>> 0.3 < float(mean.mean()) < 0.7
    True
    """
    if input.ndim < 2:
        raise ValueError(f"batch_norm expects input of shape (N, C, *), got {input.shape}")
    if training and input.shape[1] and input.numel() // input.shape[1] == 1:
        raise ValueError(
            f"batch_norm in training mode needs more than one value per channel, got input of "
            f"shape {input.shape}; use a larger batch or call eval()"
        )
    if not training and (running_mean is None or running_var is None):
        raise ValueError("batch_norm in evaluation mode needs running_mean and running_var")
    tracked = training and running_mean is not None and running_var is not None
    out = _BatchNorm.apply(
        input,
        weight,
        bias,
        training=training,
        running_mean=running_mean.data if tracked or not training else None,  # type: ignore[union-attr]
        running_var=running_var.data if tracked or not training else None,  # type: ignore[union-attr]
        momentum=momentum,
        eps=eps,
    )
    if tracked:
        running_mean._version.value += 1  # type: ignore[union-attr]
        running_var._version.value += 1  # type: ignore[union-attr]
    return out
