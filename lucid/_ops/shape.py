"""Shape operations: reshape, permute, expand, tile, cat/stack, split/chunk, pad."""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from lucid._kernels import unbroadcast
from lucid._ops._args import (
    Axis,
    as_tensor,
    norm_axis,
    norm_dim,
    numpy_aliases,
    shape_arg,
)
from lucid._ops.dtypes import promote_all
from lucid._ops.indexing import getitem
from lucid._tensor import Function, Tensor


class Reshape(Function):
    _is_view = True

    @staticmethod
    def forward(ctx, a, *, shape):
        ctx.shape = a.shape
        try:
            return a.reshape(shape)
        except ValueError:
            raise ValueError(
                f"cannot reshape a tensor of shape {a.shape!r} ({a.size} elements) into "
                f"{shape!r}; the sizes must multiply to the same count (one may be -1)"
            ) from None

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.shape)


def reshape(a: Any, shape: int | Sequence[int]) -> Tensor:
    """The same data in a new shape; one dimension may be ``-1``.

    Examples
    --------
    >>> import lucid
    >>> lucid.reshape(lucid.arange(6), (2, -1)).shape
    (2, 3)
    """
    shape = (shape,) if isinstance(shape, int | np.integer) else shape
    return Reshape.apply(as_tensor(a), shape=shape_arg((shape,)))


class Permute(Function):
    _is_view = True

    @staticmethod
    def forward(ctx, a, *, axes):
        ctx.axes = axes
        return np.transpose(a, axes)

    @staticmethod
    def backward(ctx, grad):
        return np.transpose(grad, np.argsort(ctx.axes))


def permute(a: Any, dims: Sequence[int]) -> Tensor:
    """Reorder the dims of ``a``; ``dims`` names each dim once.

    Examples
    --------
    >>> import lucid
    >>> lucid.permute(lucid.zeros(2, 3, 4), (2, 0, 1)).shape
    (4, 2, 3)
    """
    a = as_tensor(a)
    axes = shape_arg((dims,))
    if len(axes) != a.ndim or sorted(ax % builtins.max(a.ndim, 1) for ax in axes) != list(
        range(a.ndim)
    ):
        raise ValueError(
            f"permute needs each of the {a.ndim} axes once, got {axes!r} for shape {a.shape!r}"
        )
    return Permute.apply(a, axes=tuple(ax % a.ndim for ax in axes))


def swapaxes(a: Any, axis0: int, axis1: int) -> Tensor:
    """Exchange two axes.

    Examples
    --------
    >>> import lucid
    >>> lucid.swapaxes(lucid.zeros(2, 3, 4), 0, -1).shape
    (4, 3, 2)
    """
    a = as_tensor(a)
    axes = list(range(a.ndim))
    i, j = norm_dim(axis0, a.ndim), norm_dim(axis1, a.ndim)
    axes[i], axes[j] = axes[j], axes[i]
    return Permute.apply(a, axes=tuple(axes))


swapdims = swapaxes


def transpose(a: Any, *axes: int | Sequence[int]) -> Tensor:
    """Swap two axes (``transpose(x, 0, 1)``, PyTorch style) or permute them all (NumPy style).

    With no axes, all axes are reversed.

    Examples
    --------
    >>> import lucid
    >>> lucid.transpose(lucid.zeros(2, 3, 4), 0, 1).shape
    (3, 2, 4)
    >>> lucid.transpose(lucid.zeros(2, 3, 4)).shape
    (4, 3, 2)
    """
    a = as_tensor(a)
    if len(axes) == 2 and all(isinstance(ax, int | np.integer) for ax in axes):
        return swapaxes(a, *axes)  # type: ignore[arg-type]
    if not axes:
        return permute(a, tuple(reversed(range(a.ndim))))
    return permute(a, shape_arg(axes))


def flatten(a: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge the axes ``start_dim`` to ``end_dim`` (inclusive) into one.

    Examples
    --------
    >>> import lucid
    >>> lucid.flatten(lucid.zeros(2, 3, 4), 1).shape
    (2, 12)
    """
    a = as_tensor(a)
    if a.ndim == 0:
        return reshape(a, (1,))
    s = norm_dim(start_dim, a.ndim, "start_dim")
    e = norm_dim(end_dim, a.ndim, "end_dim")
    if s > e:
        raise ValueError(
            f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {a.shape!r}"
        )
    return reshape(a, (*a.shape[:s], math.prod(a.shape[s : e + 1]), *a.shape[e + 1 :]))


@numpy_aliases
def squeeze(a: Any, dim: Axis = None) -> Tensor:
    """Drop dims of size 1 (all of them, or those in ``dim``).

    As in PyTorch, naming a dim whose size is not 1 leaves it in place.

    Examples
    --------
    >>> import lucid
    >>> lucid.squeeze(lucid.zeros(2, 1, 3, 1)).shape
    (2, 3)
    >>> lucid.squeeze(lucid.zeros(2, 1, 3), 0).shape
    (2, 1, 3)
    """
    a = as_tensor(a)
    axes = set(norm_axis(dim, a.ndim))
    return reshape(a, tuple(n for i, n in enumerate(a.shape) if n != 1 or i not in axes))


@numpy_aliases
def unsqueeze(a: Any, dim: int) -> Tensor:
    """Insert a dim of size 1 at position ``dim`` (``-1`` appends).

    Examples
    --------
    >>> import lucid
    >>> lucid.unsqueeze(lucid.zeros(2, 3), 1).shape
    (2, 1, 3)
    """
    a = as_tensor(a)
    i = norm_dim(dim, a.ndim + 1)
    return reshape(a, (*a.shape[:i], 1, *a.shape[i:]))


class Expand(Function):
    _is_view = True

    @staticmethod
    def forward(ctx, a, *, shape):
        ctx.shape = a.shape
        return np.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, grad):
        return unbroadcast(grad, ctx.shape)


def expand(a: Any, shape: Sequence[int]) -> Tensor:
    """Broadcast ``a`` to ``shape`` without copying; ``-1`` keeps a size, new axes go in front.

    The result is a read-only view.

    Examples
    --------
    >>> import lucid
    >>> lucid.expand(lucid.zeros(3, 1), (2, -1, 4)).shape
    (2, 3, 4)
    """
    a = as_tensor(a)
    shape = shape_arg((shape,))
    lead = len(shape) - a.ndim
    if lead < 0:
        raise ValueError(
            f"cannot expand shape {a.shape!r} to {shape!r}: the target has fewer dimensions"
        )
    target = tuple(a.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(shape))
    for i, n in enumerate(target):
        have = a.shape[i - lead] if i >= lead else 1
        if n < 0 or (have != 1 and have != n):
            raise ValueError(
                f"cannot expand shape {a.shape!r} to {shape!r}: only size-1 axes can grow "
                f"(axis {i} has size {have}, target {n})"
            )
    return Expand.apply(a, shape=target)


broadcast_to = expand


class Tile(Function):
    @staticmethod
    def forward(ctx, a, *, reps):
        out = np.tile(a, reps)
        ctx.shape = a.shape
        ctx.reps = (1,) * (out.ndim - len(reps)) + reps
        return out

    @staticmethod
    def backward(ctx, grad):
        # Output axis i holds reps[i] copies of input axis i back to back:
        # view it as (reps[i], size[i]) and sum over the copies.
        shape = (1,) * (grad.ndim - len(ctx.shape)) + ctx.shape
        pairs = [n for r, size in zip(ctx.reps, shape, strict=True) for n in (r, size)]
        summed = grad.reshape(pairs).sum(axis=tuple(range(0, 2 * grad.ndim, 2)))
        return summed.reshape(ctx.shape)


def tile(a: Any, reps: int | Sequence[int]) -> Tensor:
    """Repeat the whole tensor ``reps[i]`` times along axis ``i`` (``Tensor.repeat`` in PyTorch).

    Examples
    --------
    >>> import lucid
    >>> lucid.tile(lucid.tensor([1.0, 2.0]), 2).tolist()
    [1.0, 2.0, 1.0, 2.0]
    """
    reps = shape_arg((reps,)) if not isinstance(reps, int | np.integer) else (int(reps),)
    if any(r < 0 for r in reps):
        raise ValueError(f"repeat counts must be non-negative, got {reps!r}")
    return Tile.apply(as_tensor(a), reps=reps)


def _tensor_list(op: str, tensors: Sequence[Any]) -> list[Tensor]:
    if isinstance(tensors, Tensor) or not isinstance(tensors, Sequence) or not tensors:
        raise TypeError(f"{op} needs a non-empty list or tuple of tensors, got {tensors!r}")
    return [as_tensor(t) for t in tensors]


class Cat(Function):
    @staticmethod
    def forward(ctx, *arrays, axis):
        ctx.axis = axis
        ctx.bounds = np.cumsum([x.shape[axis] for x in arrays])[:-1]
        return np.concatenate(arrays, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        return tuple(np.split(grad, ctx.bounds, axis=ctx.axis))


@numpy_aliases
def cat(tensors: Sequence[Any], dim: int = 0) -> Tensor:
    """Join tensors along an existing dim; all other sizes must match.

    Mixed dtypes are promoted as in PyTorch (int64 with float32 gives float32).

    Examples
    --------
    >>> import lucid
    >>> lucid.cat([lucid.zeros(2, 3), lucid.ones(1, 3)]).shape
    (3, 3)
    """
    ts = _tensor_list("cat", tensors)
    ndim = ts[0].ndim
    shapes = [t.shape for t in ts]
    if ndim == 0 or any(t.ndim != ndim for t in ts):
        raise ValueError(f"cat needs tensors with the same number (>= 1) of axes, got {shapes}")
    ax = norm_dim(dim, ndim)
    rest = {s[:ax] + s[ax + 1 :] for s in shapes}
    if len(rest) > 1:
        raise ValueError(f"cat along dim {dim}: all other sizes must match, got shapes {shapes}")
    return Cat.apply(*promote_all(ts), axis=ax)


concatenate = cat
concat = cat


class Stack(Function):
    @staticmethod
    def forward(ctx, *arrays, axis):
        ctx.axis = axis
        return np.stack(arrays, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        return tuple(np.moveaxis(grad, ctx.axis, 0))


@numpy_aliases
def stack(tensors: Sequence[Any], dim: int = 0) -> Tensor:
    """Join tensors of one shape along a new dim; mixed dtypes are promoted as by :func:`cat`.

    Examples
    --------
    >>> import lucid
    >>> lucid.stack([lucid.zeros(2, 3), lucid.ones(2, 3)], dim=1).shape
    (2, 2, 3)
    """
    ts = _tensor_list("stack", tensors)
    shapes = [t.shape for t in ts]
    if len(set(shapes)) > 1:
        raise ValueError(f"stack needs tensors of one shape, got {shapes}")
    return Stack.apply(*promote_all(ts), axis=norm_dim(dim, ts[0].ndim + 1))


@numpy_aliases
def split(a: Any, split_size_or_sections: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
    """Cut ``a`` along ``dim`` into pieces of a given size (the last may be smaller) or sizes.

    Examples
    --------
    >>> import lucid
    >>> [p.shape for p in lucid.split(lucid.zeros(5, 2), 2)]
    [(2, 2), (2, 2), (1, 2)]
    >>> [p.shape for p in lucid.split(lucid.zeros(5, 2), [1, 4])]
    [(1, 2), (4, 2)]
    """
    a = as_tensor(a)
    ax = norm_dim(dim, a.ndim)
    n = a.shape[ax]
    if isinstance(split_size_or_sections, int | np.integer):
        size = int(split_size_or_sections)
        if size <= 0:
            raise ValueError(f"split size must be positive, got {size}")
        sizes = [builtins.min(size, n - s) for s in range(0, n, size)] or [0]
    else:
        sizes = list(shape_arg((split_size_or_sections,)))
        if builtins.sum(sizes) != n or any(s < 0 for s in sizes):
            raise ValueError(
                f"split sizes {sizes} must be non-negative and add up to {n}, the size of "
                f"dim {dim} of shape {a.shape!r}"
            )
    pieces, start = [], 0
    for s in sizes:
        pieces.append(getitem(a, (slice(None),) * ax + (slice(start, start + s),)))
        start += s
    return tuple(pieces)


@numpy_aliases
def chunk(a: Any, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """Cut ``a`` into ``chunks`` nearly equal pieces along ``dim`` (PyTorch's rule: fewer
    pieces when the size does not divide evenly).

    Examples
    --------
    >>> import lucid
    >>> [p.shape[0] for p in lucid.chunk(lucid.zeros(6, 1), 3)]
    [2, 2, 2]
    """
    if not isinstance(chunks, int | np.integer) or chunks <= 0:
        raise ValueError(f"chunks must be a positive integer, got {chunks!r}")
    a = as_tensor(a)
    n = a.shape[norm_dim(dim, a.ndim)]
    return split(a, builtins.max(-(-n // int(chunks)), 1), dim)


def _pad_pairs(pad_width: Any, ndim: int) -> tuple[tuple[int, int], ...]:
    """NumPy's ``pad_width`` forms: ``n``, ``(before, after)``, or one pair per axis."""
    arr = np.asarray(pad_width)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"pad widths must be integers, got {pad_width!r}")
    if arr.ndim == 0 or arr.shape in ((1,), (2,), (1, 2)):
        arr = np.broadcast_to(arr.reshape(-1), (ndim, 2))
    elif arr.shape != (ndim, 2):
        raise ValueError(
            f"pad width {pad_width!r} does not fit a tensor with {ndim} dimensions; give an "
            f"int, one (before, after) pair, or {ndim} pairs"
        )
    if (arr < 0).any():
        raise ValueError(f"pad widths must be non-negative, got {pad_width!r}")
    return tuple((int(lo), int(hi)) for lo, hi in arr)


class Pad(Function):
    @staticmethod
    def forward(ctx, a, *, pairs, value):
        out = np.full(
            tuple(n + lo + hi for n, (lo, hi) in zip(a.shape, pairs, strict=True)),
            value,
            dtype=a.dtype,
        )
        ctx.inner = tuple(slice(lo, lo + n) for n, (lo, _) in zip(a.shape, pairs, strict=True))
        out[ctx.inner] = a
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad[ctx.inner]


def pad(a: Any, pad_width: Any, mode: str = "constant", value: float = 0) -> Tensor:
    """Pad with a constant, NumPy style: ``pad_width`` is per axis, first axis first.

    ``pad_width`` is an int (every side of every axis), one ``(before,
    after)`` pair for all axes, or one pair per axis. (``lucid.nn.functional.pad``
    takes PyTorch's last-axis-first form.)

    Examples
    --------
    >>> import lucid
    >>> lucid.pad(lucid.ones(2, 2), ((0, 0), (1, 2))).shape
    (2, 5)
    """
    if mode != "constant":
        raise ValueError(f'pad supports mode="constant" only, got mode={mode!r}')
    a = as_tensor(a)
    return Pad.apply(a, pairs=_pad_pairs(pad_width, a.ndim), value=value)
