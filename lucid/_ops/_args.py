"""Argument handling shared by the ops: tensors from inputs, dims, shapes, broadcasting."""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from lucid._tensor import Tensor

Axis = int | tuple[int, ...] | None


def as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def is_float(x: Any) -> bool:
    return isinstance(x, float) or (isinstance(x, Tensor) and x.data.dtype.kind == "f")


def broadcasting(fn: Callable[..., Any], op: str, *operands: Any) -> Any:
    """``fn(*operands)``, turning NumPy's broadcast failure into an error naming the shapes."""
    try:
        return fn(*operands)
    except ValueError:
        shapes = [np.shape(x) for x in operands]
        try:
            np.broadcast_shapes(*shapes)
        except ValueError:
            raise ValueError(
                f"{op}: shapes {' and '.join(map(repr, shapes))} cannot be broadcast together; "
                "aligned from the right, each dimension must be equal or 1 (reshape or "
                "unsqueeze one operand)"
            ) from None
        raise


def norm_dim(axis: int, ndim: int, what: str = "axis") -> int:
    if not isinstance(axis, int | np.integer):
        raise TypeError(f"{what} must be an integer, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"{what} {axis} is out of range for a tensor with {ndim} dimensions "
            f"(expected {-ndim} to {ndim - 1})"
        )
    return int(axis) % ndim


def norm_axis(axis: Axis, ndim: int) -> tuple[int, ...]:
    """Reduction axes as a sorted tuple of non-negative ints (all axes for ``None``)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    # A 0-d tensor accepts axis 0 or -1, as in PyTorch, and reduces over nothing.
    normed = tuple(sorted(norm_dim(ax, builtins.max(ndim, 1)) for ax in axes))
    if len(set(normed)) != len(normed):
        raise ValueError(f"axis {axis!r} names the same axis twice")
    return normed if ndim else ()


def keepdims_grad(grad: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
    """A reduction's gradient with the reduced axes restored as size 1."""
    return grad if keepdims else np.expand_dims(grad, axes)


def reduced_count(shape: tuple[int, ...], axes: tuple[int, ...]) -> int:
    return math.prod(shape[i] for i in axes)


def shape_arg(args: Sequence[Any]) -> tuple[int, ...]:
    """Accept both ``f(2, 3)`` and ``f((2, 3))``, as PyTorch does."""
    if len(args) == 1 and isinstance(args[0], np.ndarray | Tensor):
        args = tuple(np.asarray(args[0]).reshape(-1).tolist())
    elif len(args) == 1 and isinstance(args[0], Sequence):
        args = tuple(args[0])
    for s in args:
        if not isinstance(s, int | np.integer):
            raise TypeError(f"sizes and axes must be integers, got {s!r} in {tuple(args)!r}")
    return tuple(int(s) for s in args)
