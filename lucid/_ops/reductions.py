"""Reductions over dims: sum, mean, var/std, max/min, argmax, logsumexp, softmax."""

from __future__ import annotations

import builtins
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from lucid._kernels import sum_axes, unbroadcast_product
from lucid._ops._args import (
    Axis,
    as_tensor,
    keepdims_grad,
    norm_axis,
    norm_dim,
    reduced_count,
)
from lucid._ops.dtypes import floating
from lucid._ops.elementwise import sqrt
from lucid._tensor import Function, Tensor


class Sum(Function):
    @staticmethod
    def forward(ctx, a, *, axes, keepdims):
        ctx.shape, ctx.axes, ctx.keepdims = a.shape, axes, keepdims
        return sum_axes(a, axes, keepdims)

    @staticmethod
    def backward(ctx, grad):
        # A read-only broadcast view: no need to write out copies of grad.
        return np.broadcast_to(keepdims_grad(grad, ctx.axes, ctx.keepdims), ctx.shape)


def sum(a: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis`` (an int, a tuple, or ``None`` for all axes).

    Examples
    --------
    >>> import lucid
    >>> lucid.sum(lucid.ones(2, 3), axis=1).tolist()
    [3.0, 3.0]
    """
    a = as_tensor(a)
    return Sum.apply(a, axes=norm_axis(axis, a.ndim), keepdims=keepdims)


class Mean(Function):
    @staticmethod
    def forward(ctx, a, *, axes, keepdims):
        ctx.shape, ctx.axes, ctx.keepdims = a.shape, axes, keepdims
        ctx.count = reduced_count(a.shape, axes)
        return np.true_divide(sum_axes(a, axes, keepdims), ctx.count)

    @staticmethod
    def backward(ctx, grad):
        g = grad / np.asarray(ctx.count, dtype=grad.dtype)
        return np.broadcast_to(keepdims_grad(g, ctx.axes, ctx.keepdims), ctx.shape)


def mean(a: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis`` (an int, a tuple, or ``None`` for all axes).

    Examples
    --------
    >>> import lucid
    >>> lucid.mean(lucid.tensor([[1.0, 2.0], [3.0, 5.0]]), axis=0).tolist()
    [2.0, 3.5]
    """
    a = floating(a)
    return Mean.apply(a, axes=norm_axis(axis, a.ndim), keepdims=keepdims)


class Var(Function):
    @staticmethod
    def forward(ctx, a, *, axes, correction, keepdims):
        n = reduced_count(a.shape, axes)
        dof = n - correction
        if dof <= 0:
            warnings.warn(
                f"var over {n} elements with correction={correction} has {dof} degrees of "
                "freedom; the result is inf or nan",
                RuntimeWarning,
                stacklevel=4,
            )
        mean = np.true_divide(sum_axes(a, axes, keepdims=True), n)
        dev = np.subtract(a, mean)
        squares = unbroadcast_product(dev, dev, mean.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.true_divide(squares, builtins.max(dof, 0))
        out = out if keepdims else np.squeeze(out, axes)
        ctx.axes, ctx.keepdims, ctx.dof = axes, keepdims, dof
        ctx.save_for_backward(a, mean)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, mean = ctx.saved_arrays
        scale = 2.0 / ctx.dof if ctx.dof > 0 else math.nan
        g = keepdims_grad(grad, ctx.axes, ctx.keepdims) * scale
        dev = np.subtract(a, mean)
        dev *= g
        return dev


def var(a: Any, axis: Axis = None, *, correction: int = 1, keepdims: bool = False) -> Tensor:
    """Variance over ``axis``, dividing by ``N - correction`` (1: unbiased, 0: population).

    Examples
    --------
    >>> import lucid
    >>> x = lucid.tensor([1.0, 2.0, 3.0, 4.0])
    >>> lucid.var(x).item(), lucid.var(x, correction=0).item()
    (1.6666666..., 1.25)
    """
    a = floating(a)
    return Var.apply(a, axes=norm_axis(axis, a.ndim), correction=correction, keepdims=keepdims)


def std(a: Any, axis: Axis = None, *, correction: int = 1, keepdims: bool = False) -> Tensor:
    """Standard deviation over ``axis``: the square root of :func:`var`.

    Examples
    --------
    >>> import lucid
    >>> lucid.std(lucid.tensor([1.0, 3.0]), correction=0).item()
    1.0
    """
    return sqrt(var(a, axis, correction=correction, keepdims=keepdims))


class Max(Function):
    _reduce = staticmethod(np.max)

    @staticmethod
    def forward(ctx, a, *, axes, keepdims):
        if a.size == 0:
            raise ValueError(
                f"{type(ctx).__name__.lower()} of an empty tensor (shape {a.shape!r}) has no value"
            )
        out = np.asarray(ctx._reduce(a, axis=axes, keepdims=keepdims))
        ctx.axes, ctx.keepdims = axes, keepdims
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_arrays
        # Every element equal to the extreme value gets an equal share, as
        # with PyTorch's amax/amin.
        hit = a == keepdims_grad(out, ctx.axes, ctx.keepdims)
        count = hit.sum(axis=ctx.axes, keepdims=True, dtype=grad.dtype)
        return np.where(hit, keepdims_grad(grad, ctx.axes, ctx.keepdims) / count, 0)


def max(a: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Largest value over ``axis``; ties share the gradient evenly (PyTorch's ``amax``).

    Examples
    --------
    >>> import lucid
    >>> lucid.max(lucid.tensor([[1.0, 4.0], [3.0, 2.0]]), axis=1).tolist()
    [4.0, 3.0]
    """
    a = as_tensor(a)
    return Max.apply(a, axes=norm_axis(axis, a.ndim), keepdims=keepdims)


amax = max


class Min(Max):
    _reduce = staticmethod(np.min)


def min(a: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Smallest value over ``axis``; ties share the gradient evenly (PyTorch's ``amin``).

    Examples
    --------
    >>> import lucid
    >>> lucid.min(lucid.tensor([[1.0, 4.0], [3.0, 2.0]]), axis=1).tolist()
    [1.0, 2.0]
    """
    a = as_tensor(a)
    return Min.apply(a, axes=norm_axis(axis, a.ndim), keepdims=keepdims)


amin = min


def _arg_reduce(fn: Callable[..., Any], a: Any, axis: int | None, keepdims: bool) -> Tensor:
    a = as_tensor(a)
    if a.size == 0:
        raise ValueError(f"{fn.__name__} of an empty tensor (shape {a.shape!r}) has no value")
    if axis is not None:
        axis = norm_dim(axis, builtins.max(a.ndim, 1))
    out = fn(a.data, axis=axis, keepdims=keepdims)
    return Tensor._from_array(np.asarray(out, dtype=np.int64))


def argmax(a: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the largest value (over the flattened tensor when ``axis`` is None); int64.

    Examples
    --------
    >>> import lucid
    >>> lucid.argmax(lucid.tensor([[1.0, 4.0], [3.0, 2.0]]), axis=1).tolist()
    [1, 0]
    """
    return _arg_reduce(np.argmax, a, axis, keepdims)


def argmin(a: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the smallest value (over the flattened tensor when ``axis`` is None); int64.

    Examples
    --------
    >>> import lucid
    >>> lucid.argmin(lucid.tensor([[1.0, 4.0], [3.0, 2.0]]), axis=1).tolist()
    [0, 1]
    """
    return _arg_reduce(np.argmin, a, axis, keepdims)


class LogSumExp(Function):
    @staticmethod
    def forward(ctx, a, *, axes, keepdims):
        m = np.max(a, axis=axes, keepdims=True)
        # A slice of only -inf (or an inf) must not produce inf - inf = nan.
        m = np.where(np.isfinite(m), m, 0)
        e = np.subtract(a, m)
        np.exp(e, out=e)
        out = np.log(sum_axes(e, axes, keepdims=True))
        out += m
        out = out if keepdims else np.squeeze(out, axes)
        ctx.axes, ctx.keepdims = axes, keepdims
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_arrays
        g = np.subtract(a, keepdims_grad(out, ctx.axes, ctx.keepdims))
        np.exp(g, out=g)
        g *= keepdims_grad(grad, ctx.axes, ctx.keepdims)
        return g


def logsumexp(a: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """``log(sum(exp(a)))`` over ``axis``, computed without overflow.

    Examples
    --------
    >>> import lucid
    >>> lucid.logsumexp(lucid.tensor([1000.0, 1000.0])).item()
    1000.693...
    """
    a = floating(a)
    return LogSumExp.apply(a, axes=norm_axis(axis, a.ndim), keepdims=keepdims)


class Softmax(Function):
    @staticmethod
    def forward(ctx, a, *, axis):
        out = np.subtract(a, np.max(a, axis=axis, keepdims=True))
        np.exp(out, out=out)
        out /= sum_axes(out, (axis,), keepdims=True)
        ctx.axis = axis
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_arrays
        g = grad * out
        np.subtract(grad, sum_axes(g, (ctx.axis,), keepdims=True), out=g)
        g *= out
        return g


def softmax(a: Any, axis: int = -1) -> Tensor:
    """``exp(a) / sum(exp(a))`` along ``axis``, shifted by the maximum for stability.

    Examples
    --------
    >>> import lucid
    >>> lucid.softmax(lucid.tensor([0.0, 0.0, 1000.0])).tolist()
    [0.0, 0.0, 1.0]
    """
    a = floating(a)
    return Softmax.apply(a, axis=norm_dim(axis, builtins.max(a.ndim, 1)))


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, a, *, axis):
        out = np.subtract(a, np.max(a, axis=axis, keepdims=True))
        out -= np.log(sum_axes(np.exp(out), (axis,), keepdims=True))
        ctx.axis = axis
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_arrays
        g = np.exp(out)
        g *= sum_axes(grad, (ctx.axis,), keepdims=True)
        return np.subtract(grad, g, out=g)


def log_softmax(a: Any, axis: int = -1) -> Tensor:
    """``a - logsumexp(a)`` along ``axis``, stable for large inputs.

    Examples
    --------
    >>> import lucid
    >>> lucid.log_softmax(lucid.tensor([0.0, 1000.0])).tolist()
    [-1000.0, 0.0]
    """
    a = floating(a)
    return LogSoftmax.apply(a, axis=norm_dim(axis, builtins.max(a.ndim, 1)))
