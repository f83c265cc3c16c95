"""Reductions over dims: sum, mean, var/std, max/min, sort/topk, logsumexp, softmax, cumsum."""

from __future__ import annotations

import builtins
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from lucid import return_types
from lucid._kernels import sum_axes, unbroadcast_product
from lucid._ops._args import (
    Axis,
    as_tensor,
    keepdims_grad,
    norm_axis,
    norm_dim,
    numpy_aliases,
    reduced_count,
)
from lucid._ops.dtypes import floating
from lucid._ops.elementwise import abs, maximum, minimum
from lucid._tensor import Function, Tensor


def _check_nonempty(op: str, shape: tuple[int, ...], dim: Axis, axes: tuple[int, ...]) -> None:
    """Refuse to reduce over a size-0 dim with an op that has no identity (max, argmax, ...)."""
    if math.prod(shape) != 0:
        return
    if dim is None:
        raise RuntimeError(
            f"{op}() of an empty tensor (shape {shape!r}) has no value; "
            "pass dim= to reduce only the non-empty dims"
        )
    for d in axes:
        if shape[d] == 0:
            raise IndexError(
                f"{op}(): expected reduction dim {d} to have non-zero size, got shape {shape!r}"
            )


# ----------------------------------------------------------------- sum ---


class Sum(Function):
    @staticmethod
    def forward(ctx, a, *, axes, keepdims):
        ctx.shape, ctx.axes, ctx.keepdims = a.shape, axes, keepdims
        return sum_axes(a, axes, keepdims)

    @staticmethod
    def backward(ctx, grad):
        # A read-only broadcast view: no need to write out copies of grad.
        return np.broadcast_to(keepdims_grad(grad, ctx.axes, ctx.keepdims), ctx.shape)


@numpy_aliases
def sum(input: Any, dim: Axis = None, keepdim: bool = False) -> Tensor:
    """Sum over ``dim`` (an int, a tuple, or ``None`` for all dims).

    Examples
    --------
    >>> import lucid
    >>> lucid.sum(lucid.ones(2, 3), dim=1).tolist()
    [3.0, 3.0]
    """
    a = as_tensor(input)
    return Sum.apply(a, axes=norm_axis(dim, a.ndim), keepdims=keepdim)


class Mean(Function):
    @staticmethod
    def forward(ctx, a, *, axes, keepdims):
        ctx.shape, ctx.axes, ctx.keepdims = a.shape, axes, keepdims
        ctx.count = reduced_count(a.shape, axes)
        # The mean over an empty dim is 0 / 0 = nan, as in PyTorch.
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.true_divide(sum_axes(a, axes, keepdims), ctx.count)

    @staticmethod
    def backward(ctx, grad):
        with np.errstate(divide="ignore"):  # a count of 0: the gradient is empty
            g = grad / np.asarray(ctx.count, dtype=grad.dtype)
        return np.broadcast_to(keepdims_grad(g, ctx.axes, ctx.keepdims), ctx.shape)


@numpy_aliases
def mean(input: Any, dim: Axis = None, keepdim: bool = False) -> Tensor:
    """Mean over ``dim`` (an int, a tuple, or ``None`` for all dims).

    Examples
    --------
    >>> import lucid
    >>> lucid.mean(lucid.tensor([[1.0, 2.0], [3.0, 5.0]]), dim=0).tolist()
    [2.0, 3.5]
    """
    a = floating(input)
    return Mean.apply(a, axes=norm_axis(dim, a.ndim), keepdims=keepdim)


# ------------------------------------------------------------- var, std ---


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
                stacklevel=5,
            )
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = np.true_divide(sum_axes(a, axes, keepdims=True), n)
            dev = np.subtract(a, mean)
            squares = unbroadcast_product(dev, dev, mean.shape)
            out = np.true_divide(squares, builtins.max(dof, 0))
        out = out if keepdims else np.squeeze(out, axes)
        ctx.axes, ctx.keepdims, ctx.dof = axes, keepdims, dof
        ctx.save_for_backward(a, mean)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, mean = ctx.saved_arrays[:2]
        scale = 2.0 / ctx.dof if ctx.dof > 0 else math.nan
        g = keepdims_grad(grad, ctx.axes, ctx.keepdims) * scale
        dev = np.subtract(a, mean)
        dev *= g
        return dev


class Std(Function):
    # sqrt(var) in one node, so that the derivative of the square root at a
    # constant slice (std 0) can be 0, as in PyTorch, instead of 0 * inf.
    @staticmethod
    def forward(ctx, a, *, axes, correction, keepdims):
        out = np.sqrt(Var.forward(ctx, a, axes=axes, correction=correction, keepdims=keepdims))
        ctx.save_for_backward(*ctx.saved_arrays, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        out = ctx.saved_arrays[2]
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(out == 0, 0, grad / (2 * out))
        return Var.backward(ctx, g.astype(grad.dtype, copy=False))


def _correction(op: str, unbiased: bool | None, correction: float | None) -> float:
    if unbiased is not None and correction is not None:
        raise TypeError(f"{op}() got both unbiased= and correction=; pass only correction=")
    if correction is not None:
        return correction
    return 0 if unbiased is False else 1


@numpy_aliases
def var(
    input: Any,
    dim: Axis = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
) -> Tensor:
    """Variance over ``dim``, dividing by ``N - correction`` (1 by default: unbiased).

    ``unbiased=False`` is ``correction=0``, as in PyTorch.

    Examples
    --------
    >>> import lucid
    >>> x = lucid.tensor([1.0, 2.0, 3.0, 4.0])
    >>> lucid.var(x).item(), lucid.var(x, correction=0).item()
    (1.6666666..., 1.25)
    """
    a = floating(input)
    c = _correction("var", unbiased, correction)
    return Var.apply(a, axes=norm_axis(dim, a.ndim), correction=c, keepdims=keepdim)


@numpy_aliases
def std(
    input: Any,
    dim: Axis = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
) -> Tensor:
    """Standard deviation over ``dim``: the square root of :func:`var`.

    Where the standard deviation is 0 (a constant slice) its gradient is 0,
    as in PyTorch.

    Examples
    --------
    >>> import lucid
    >>> lucid.std(lucid.tensor([1.0, 3.0]), correction=0).item()
    1.0
    """
    a = floating(input)
    c = _correction("std", unbiased, correction)
    return Std.apply(a, axes=norm_axis(dim, a.ndim), correction=c, keepdims=keepdim)


# ---------------------------------------------------- max, min, amax, amin ---


class Amax(Function):
    _reduce = staticmethod(np.max)

    @staticmethod
    def forward(ctx, a, *, axes, keepdims):
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


class Amin(Amax):
    _reduce = staticmethod(np.min)


def _extreme(fn: type[Amax], op: str, input: Any, dim: Axis, keepdim: bool) -> Tensor:
    a = as_tensor(input)
    axes = norm_axis(dim, a.ndim)
    _check_nonempty(op, a.shape, dim, axes)
    return fn.apply(a, axes=axes, keepdims=keepdim)


@numpy_aliases
def amax(input: Any, dim: Axis = None, keepdim: bool = False) -> Tensor:
    """Largest value over ``dim`` (an int, a tuple, or ``None``/``()`` for all dims).

    Values only; ties share the gradient evenly, as in PyTorch.

    Examples
    --------
    >>> import lucid
    >>> lucid.amax(lucid.tensor([[1.0, 4.0], [3.0, 2.0]]), dim=1).tolist()
    [4.0, 3.0]
    """
    return _extreme(Amax, "amax", input, None if dim == () else dim, keepdim)


@numpy_aliases
def amin(input: Any, dim: Axis = None, keepdim: bool = False) -> Tensor:
    """Smallest value over ``dim`` (an int, a tuple, or ``None``/``()`` for all dims).

    Values only; ties share the gradient evenly, as in PyTorch.

    Examples
    --------
    >>> import lucid
    >>> lucid.amin(lucid.tensor([[1.0, 4.0], [3.0, 2.0]]), dim=1).tolist()
    [1.0, 2.0]
    """
    return _extreme(Amin, "amin", input, None if dim == () else dim, keepdim)


class TakeAlong(Function):
    """``np.take_along_axis`` with indices that are distinct along ``dim``.

    The selection behind ``max(dim)``, ``sort`` and ``topk``: the gradient
    goes to the selected elements only. ``squeeze`` drops the (size-1) dim.
    """

    @staticmethod
    def forward(ctx, a, *, indices, dim, squeeze):
        ctx.shape, ctx.indices, ctx.dim, ctx.squeeze = a.shape, indices, dim, squeeze
        out = np.take_along_axis(a, indices, axis=dim)
        return np.squeeze(out, dim) if squeeze else out

    @staticmethod
    def backward(ctx, grad):
        g = np.zeros(ctx.shape, dtype=grad.dtype)
        values = np.expand_dims(grad, ctx.dim) if ctx.squeeze else grad
        np.put_along_axis(g, ctx.indices, values, axis=ctx.dim)
        return g


def _along_dim(
    select: Callable[..., np.ndarray], op: str, a: Tensor, dim: Any, keepdim: bool
) -> Any:
    """``(values, indices)`` of an arg-reduction ``select`` (np.argmax, ...) along one dim."""
    if isinstance(dim, tuple | list):
        raise TypeError(
            f"{op}(dim) takes one dim, got {dim!r}; use lucid.a{op}(x, dim={tuple(dim)!r}) "
            "for the values over several dims"
        )
    result = getattr(return_types, op)
    d = norm_dim(dim, builtins.max(a.ndim, 1))
    if a.ndim == 0:
        # As in PyTorch: a 0-d tensor is its own maximum, at index 0.
        return result(a * 1, Tensor._from_array(np.zeros((), np.int64)))
    _check_nonempty(op, a.shape, dim, (d,))
    idx = np.expand_dims(select(a.data, axis=d), d)
    values = TakeAlong.apply(a, indices=idx, dim=d, squeeze=not keepdim)
    indices = Tensor._from_array(idx if keepdim else np.squeeze(idx, d))
    return result(values, indices)


@numpy_aliases
def max(input: Any, dim: Any = None, keepdim: bool = False) -> Any:
    """The largest value; along ``dim``, the named tuple ``(values, indices)``.

    As in PyTorch: ``max(x)`` is a 0-d tensor (ties share the gradient);
    ``max(x, dim)`` returns the named tuple :class:`lucid.return_types.max`,
    whose gradient goes to the selected index (the first largest);
    ``max(x, other)`` with a tensor is :func:`lucid.maximum`.

    Examples
    --------
    >>> import lucid
    >>> x = lucid.tensor([[1.0, 4.0], [3.0, 2.0]])
    >>> values, indices = lucid.max(x, dim=1)
    >>> values.tolist(), indices.tolist()
    ([4.0, 3.0], [1, 0])
    >>> lucid.max(x).item()
    4.0
    """
    if isinstance(dim, Tensor):
        return maximum(input, dim)
    a = as_tensor(input)
    if dim is None:
        return _extreme(Amax, "max", a, None, False)
    return _along_dim(np.argmax, "max", a, dim, keepdim)


@numpy_aliases
def min(input: Any, dim: Any = None, keepdim: bool = False) -> Any:
    """The smallest value; along ``dim``, the named tuple ``(values, indices)``.

    The counterpart of :func:`max`; ``min(x, other)`` is :func:`lucid.minimum`.

    Examples
    --------
    >>> import lucid
    >>> x = lucid.tensor([[1.0, 4.0], [3.0, 2.0]])
    >>> values, indices = lucid.min(x, dim=1)
    >>> values.tolist(), indices.tolist()
    ([1.0, 2.0], [0, 1])
    """
    if isinstance(dim, Tensor):
        return minimum(input, dim)
    a = as_tensor(input)
    if dim is None:
        return _extreme(Amin, "min", a, None, False)
    return _along_dim(np.argmin, "min", a, dim, keepdim)


def _arg_reduce(select: Callable[..., Any], op: str, input: Any, dim: Any, keepdim: bool) -> Tensor:
    a = as_tensor(input)
    axes = norm_axis(dim, a.ndim)
    _check_nonempty(op, a.shape, dim, axes)
    if dim is None:
        out = select(a.data, axis=None)
        # PyTorch keeps every dim, as size 1, for keepdim=True without a dim.
        out = np.reshape(out, (1,) * a.ndim) if keepdim else out
    else:
        out = select(a.data, axis=norm_dim(dim, builtins.max(a.ndim, 1)), keepdims=keepdim)
    return Tensor._from_array(np.asarray(out, dtype=np.int64))


@numpy_aliases
def argmax(input: Any, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the (first) largest value along ``dim``, or in the flattened tensor; int64.

    Examples
    --------
    >>> import lucid
    >>> lucid.argmax(lucid.tensor([[1.0, 4.0], [3.0, 2.0]]), dim=1).tolist()
    [1, 0]
    """
    return _arg_reduce(np.argmax, "argmax", input, dim, keepdim)


@numpy_aliases
def argmin(input: Any, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the (first) smallest value along ``dim``, or in the flattened tensor; int64.

    Examples
    --------
    >>> import lucid
    >>> lucid.argmin(lucid.tensor([[1.0, 4.0], [3.0, 2.0]]), dim=1).tolist()
    [0, 1]
    """
    return _arg_reduce(np.argmin, "argmin", input, dim, keepdim)


# ------------------------------------------------------------ sort, topk ---


def _argsort(a: np.ndarray, dim: int, descending: bool) -> np.ndarray:
    """Stable argsort along ``dim``; NaN counts as the largest value, as in PyTorch."""
    if not descending:
        return np.argsort(a, axis=dim, kind="stable")
    # Sorting the reversed slice and reversing back keeps equal values in
    # their original order, and puts NaN (NumPy's last) first.
    n = a.shape[dim]
    flipped = np.argsort(np.flip(a, dim), axis=dim, kind="stable")
    return (n - 1) - np.flip(flipped, dim)


@numpy_aliases
def sort(
    input: Any, dim: int = -1, descending: bool = False, stable: bool = False
) -> return_types.sort:
    """Sort along ``dim``: the named tuple ``(values, indices)``.

    The sort is always stable (equal values keep their order), which
    ``stable=True`` asks for in PyTorch.

    Examples
    --------
    >>> import lucid
    >>> values, indices = lucid.sort(lucid.tensor([3.0, 1.0, 2.0]), descending=True)
    >>> values.tolist(), indices.tolist()
    ([3.0, 2.0, 1.0], [0, 2, 1])
    """
    a = as_tensor(input)
    if a.ndim == 0:
        return return_types.sort(a * 1, Tensor._from_array(np.zeros((), np.int64)))
    d = norm_dim(dim, a.ndim)
    idx = _argsort(a.data, d, descending)
    return return_types.sort(
        TakeAlong.apply(a, indices=idx, dim=d, squeeze=False), Tensor._from_array(idx)
    )


@numpy_aliases
def topk(
    input: Any, k: int, dim: int = -1, largest: bool = True, sorted: bool = True
) -> return_types.topk:
    """The ``k`` largest (or smallest) values along ``dim``: ``(values, indices)``.

    The values always come sorted (PyTorch leaves the order open for
    ``sorted=False``); among equal values, the first comes first.

    Examples
    --------
    >>> import lucid
    >>> values, indices = lucid.topk(lucid.tensor([1.0, 5.0, 3.0, 4.0]), 2)
    >>> values.tolist(), indices.tolist()
    ([5.0, 4.0], [1, 3])
    """
    a = as_tensor(input)
    d = norm_dim(dim, builtins.max(a.ndim, 1))
    size = a.shape[d] if a.ndim else 1
    if not isinstance(k, int | np.integer) or not 0 <= k <= size:
        raise IndexError(
            f"topk: k={k!r} is out of range for dim {dim} of size {size} (shape {a.shape!r}); "
            f"k must be an integer from 0 to {size}"
        )
    if a.ndim == 0:
        values, indices = topk(a.reshape(1), k, 0, largest)
        if k:
            values, indices = values.reshape(()), indices.reshape(())
        return return_types.topk(values, indices)
    idx = _argsort(a.data, d, descending=largest)
    idx = np.ascontiguousarray(np.take(idx, np.arange(int(k)), axis=d))
    return return_types.topk(
        TakeAlong.apply(a, indices=idx, dim=d, squeeze=False), Tensor._from_array(idx)
    )


# ----------------------------------------------------- logsumexp, softmax ---


class LogSumExp(Function):
    @staticmethod
    def forward(ctx, a, *, axes, keepdims):
        # initial=-inf: a slice of size 0 has the sum exp 0 and gives -inf,
        # as in PyTorch.
        m = np.max(a, axis=axes, keepdims=True, initial=-np.inf)
        # A slice of only -inf (or an inf) must not produce inf - inf = nan.
        m = np.where(np.isfinite(m), m, 0).astype(a.dtype, copy=False)
        e = np.subtract(a, m, out=np.empty_like(a))
        np.exp(e, out=e)
        with np.errstate(divide="ignore"):
            out = np.log(sum_axes(e, axes, keepdims=True), out=np.empty_like(m))
        out += m
        out = out if keepdims else np.squeeze(out, axes)
        ctx.axes, ctx.keepdims = axes, keepdims
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_arrays
        g = np.subtract(a, keepdims_grad(out, ctx.axes, ctx.keepdims), out=np.empty_like(a))
        np.exp(g, out=g)
        g *= keepdims_grad(grad, ctx.axes, ctx.keepdims)
        return g


@numpy_aliases
def logsumexp(input: Any, dim: Axis = None, keepdim: bool = False) -> Tensor:
    """``log(sum(exp(x)))`` over ``dim``, computed without overflow.

    Over a dim of size 0 the result is ``-inf``, as in PyTorch.

    Examples
    --------
    >>> import lucid
    >>> lucid.logsumexp(lucid.tensor([1000.0, 1000.0]), dim=0).item()
    1000.693...
    """
    a = floating(input)
    return LogSumExp.apply(a, axes=norm_axis(dim, a.ndim), keepdims=keepdim)


def _shifted(a: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """``a`` minus its maximum along ``axes``, in a new array (0-d stays an array)."""
    # initial=-inf lets a slice of size 0 through (its result is empty anyway).
    m = np.max(a, axis=axes, keepdims=True, initial=-np.inf)
    return np.subtract(a, m, out=np.empty_like(a))


class Softmax(Function):
    @staticmethod
    def forward(ctx, a, *, axes):
        out = _shifted(a, axes)
        np.exp(out, out=out)
        out /= sum_axes(out, axes, keepdims=True)
        ctx.axes = axes
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_arrays
        g = np.multiply(grad, out, out=np.empty_like(out))
        np.subtract(grad, sum_axes(g, ctx.axes, keepdims=True), out=g)
        g *= out
        return g


def _softmax_axes(a: Tensor, dim: int) -> tuple[int, ...]:
    # A 0-d tensor takes dim 0 or -1, as in PyTorch, and is its own slice.
    d = norm_dim(dim, builtins.max(a.ndim, 1))
    return (d,) if a.ndim else ()


@numpy_aliases
def softmax(input: Any, dim: int = -1) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim``, shifted by the maximum for stability.

    Examples
    --------
    >>> import lucid
    >>> lucid.softmax(lucid.tensor([0.0, 0.0, 1000.0]), dim=0).tolist()
    [0.0, 0.0, 1.0]
    """
    a = floating(input)
    return Softmax.apply(a, axes=_softmax_axes(a, dim))


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, a, *, axes):
        out = _shifted(a, axes)
        with np.errstate(divide="ignore"):  # log(0) of an empty slice: nothing to write
            out -= np.log(sum_axes(np.exp(out), axes, keepdims=True))
        ctx.axes = axes
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_arrays
        g = np.exp(out, out=np.empty_like(out))
        g *= sum_axes(grad, ctx.axes, keepdims=True)
        return np.subtract(grad, g, out=g)


@numpy_aliases
def log_softmax(input: Any, dim: int = -1) -> Tensor:
    """``x - logsumexp(x)`` along ``dim``, stable for large inputs.

    Examples
    --------
    >>> import lucid
    >>> lucid.log_softmax(lucid.tensor([0.0, 1000.0]), dim=0).tolist()
    [-1000.0, 0.0]
    """
    a = floating(input)
    return LogSoftmax.apply(a, axes=_softmax_axes(a, dim))


# ------------------------------------------------------------------ norm ---


class Norm2(Function):
    # The Euclidean norm in one node, so that its gradient x / ||x|| can be 0
    # at x = 0, as in PyTorch, instead of 0 / 0.
    @staticmethod
    def forward(ctx, a, *, axes, keepdims):
        out = np.sqrt(sum_axes(np.square(a), axes, keepdims=True))
        ctx.axes, ctx.keepdims = axes, keepdims
        ctx.save_for_backward(a, out)
        return out if keepdims else np.squeeze(out, axes)

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_arrays
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(out == 0, 0, keepdims_grad(grad, ctx.axes, ctx.keepdims) / out)
        return a * scale.astype(a.dtype, copy=False)


@numpy_aliases
def norm(input: Any, p: Any = "fro", dim: Axis = None, keepdim: bool = False) -> Tensor:
    """The vector ``p``-norm over ``dim`` (all dims by default), as ``torch.norm``.

    ``p`` is ``"fro"`` or 2 (Euclidean), 1, ``inf``, ``-inf``, or any other
    number. At 0 the gradient of the 2-norm is 0, as in PyTorch.

    Examples
    --------
    >>> import lucid
    >>> x = lucid.tensor([[3.0, 4.0], [-1.0, 0.0]])
    >>> lucid.norm(x, dim=1).tolist(), lucid.norm(x, p=1).item()
    ([5.0, 1.0], 8.0)
    """
    a = floating(input)
    axes = norm_axis(dim, a.ndim)
    if p in ("fro", 2):
        return Norm2.apply(a, axes=axes, keepdims=keepdim)
    if not isinstance(p, int | float) or isinstance(p, bool):
        raise ValueError(f"norm: p must be 'fro' or a number, got {p!r}")
    size = abs(a)
    if p == math.inf:
        return amax(size, axes, keepdim)
    if p == -math.inf:
        return amin(size, axes, keepdim)
    if p == 0:
        return sum((size != 0).to(a.dtype), axes, keepdim)
    if p == 1:
        return sum(size, axes, keepdim)
    return sum(size**p, axes, keepdim) ** (1.0 / p)


# ----------------------------------------------------- cumsum, all, any ---


class CumSum(Function):
    @staticmethod
    def forward(ctx, a, *, dim):
        ctx.dim = dim
        return np.cumsum(a, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        # Each input adds to every later output: sum the gradient from the end.
        return np.flip(np.cumsum(np.flip(grad, ctx.dim), axis=ctx.dim), ctx.dim)


@numpy_aliases
def cumsum(input: Any, dim: int) -> Tensor:
    """Running sum along ``dim``; integer and bool input gives int64, as in PyTorch.

    Examples
    --------
    >>> import lucid
    >>> lucid.cumsum(lucid.tensor([1.0, 2.0, 3.0]), dim=0).tolist()
    [1.0, 3.0, 6.0]
    """
    a = as_tensor(input)
    d = norm_dim(dim, builtins.max(a.ndim, 1))
    if a.data.dtype.kind in "biu":
        return Tensor._from_array(
            np.cumsum(a.data, axis=d if a.ndim else None, dtype=np.int64).reshape(a.shape)
        )
    return CumSum.apply(a, dim=d) if a.ndim else a * 1


def _logical(reduce: Callable[..., Any], input: Any, dim: Axis, keepdim: bool) -> Tensor:
    a = as_tensor(input)
    out = reduce(a.data, axis=norm_axis(dim, a.ndim), keepdims=keepdim)
    return Tensor._from_array(np.asarray(out))


@numpy_aliases
def all(input: Any, dim: Axis = None, keepdim: bool = False) -> Tensor:
    """Whether every element (along ``dim``) is non-zero, as a bool tensor.

    Examples
    --------
    >>> import lucid
    >>> lucid.all(lucid.tensor([[True, False], [True, True]]), dim=1).tolist()
    [False, True]
    """
    return _logical(np.all, input, dim, keepdim)


@numpy_aliases
def any(input: Any, dim: Axis = None, keepdim: bool = False) -> Tensor:
    """Whether any element (along ``dim``) is non-zero, as a bool tensor.

    Examples
    --------
    >>> import lucid
    >>> lucid.any(lucid.tensor([[True, False], [False, False]]), dim=1).tolist()
    [True, False]
    """
    return _logical(np.any, input, dim, keepdim)
