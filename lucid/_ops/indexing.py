"""Indexing: ``x[index]`` with basic (view) and advanced (copy) indices."""

from __future__ import annotations

from typing import Any

import numpy as np

from lucid._tensor import Function, Tensor


class Index(Function):
    """Basic indexing (ints, slices, None, Ellipsis): the result is a view."""

    _is_view = True

    @staticmethod
    def forward(ctx, a, *, index):
        ctx.shape, ctx.index = a.shape, index
        return a[index]

    @staticmethod
    def backward(ctx, grad):
        g = np.zeros(ctx.shape, dtype=grad.dtype)
        g[ctx.index] = grad
        return g


class AdvancedIndex(Function):
    """Indexing with integer or bool arrays: the result is a copy."""

    @staticmethod
    def forward(ctx, a, *, index):
        ctx.shape, ctx.index = a.shape, index
        return a[index]

    @staticmethod
    def backward(ctx, grad):
        g = np.zeros(ctx.shape, dtype=grad.dtype)
        # add.at, unlike g[index] += grad, adds once per repeated index.
        np.add.at(g, ctx.index, grad)
        return g


def _raw_index_item(i: Any) -> Any:
    if i is None or i is Ellipsis or isinstance(i, slice | int | np.integer | np.bool_):
        return i
    if isinstance(i, Tensor):
        arr = i.data
    elif isinstance(i, np.ndarray):
        arr = i
    elif isinstance(i, list | tuple):
        arr = np.asarray(raw_index(tuple(i))) if i else np.zeros(0, dtype=np.int64)
    else:
        raise TypeError(
            f"cannot index with {i!r} ({type(i).__name__}); use ints, slices, None, ..., "
            "or integer/bool tensors"
        )
    if arr.dtype.kind not in "iub":
        raise TypeError(
            f"tensors used as indices must be integer or bool, got dtype {arr.dtype}; "
            "convert with .long()"
        )
    return arr


def raw_index(index: Any) -> Any:
    """Translate an index for NumPy: tensors and lists become arrays; floats are refused."""
    if isinstance(index, tuple):
        return tuple(_raw_index_item(i) for i in index)
    return _raw_index_item(index)


def getitem(a: Tensor, index: Any) -> Tensor:
    """``a[index]`` with NumPy's basic and advanced indexing; gradients scatter back.

    Examples
    --------
    >>> import lucid
    >>> x = lucid.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> x[lucid.tensor([0, 0, 2])].sum().backward()
    >>> x.grad.tolist()
    [2.0, 0.0, 1.0]
    """
    raw = raw_index(index)
    items = raw if isinstance(raw, tuple) else (raw,)
    advanced = any(isinstance(i, np.ndarray | bool | np.bool_) for i in items)
    try:
        return (AdvancedIndex if advanced else Index).apply(a, index=raw)
    except IndexError as e:
        raise IndexError(f"{e} (indexing a tensor of shape {a.shape!r})") from None
