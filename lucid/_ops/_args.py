"""Argument handling shared by the ops: tensors from inputs, dims, shapes, broadcasting."""

from __future__ import annotations

import builtins
import functools
import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

from lucid._tensor import Tensor

Axis = int | Sequence[int] | None
F = TypeVar("F", bound=Callable[..., Any])

# NumPy's names for two arguments, accepted as aliases as PyTorch's own argument
# parser does (``numpy_compatibility_arg_names`` in
# torch/csrc/utils/python_arg_parser.cpp). This table is the one place where
# lucid resolves them: every op and Tensor method that takes a dim goes through
# ``numpy_aliases`` or ``resolve_aliases``.
NUMPY_ALIASES = {"axis": "dim", "keepdims": "keepdim"}


def resolve_aliases(op: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Rename NumPy keyword arguments in ``kwargs`` (in place) to PyTorch's names."""
    for alias, name in NUMPY_ALIASES.items():
        if alias in kwargs:
            if name in kwargs:
                raise TypeError(
                    f"{op}() got both {name}= and its NumPy spelling {alias}=; pass only {name}="
                )
            kwargs[name] = kwargs.pop(alias)
    return kwargs


def numpy_aliases(fn: F) -> F:
    """Let ``fn`` (which names its arguments ``dim``/``keepdim``) take ``axis``/``keepdims`` too."""
    op = fn.__name__

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if kwargs:
            resolve_aliases(op, kwargs)
        return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


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


def norm_dim(dim: Any, ndim: int, what: str = "dim") -> int:
    """``dim`` as a non-negative index for a tensor of ``ndim`` dimensions (-1 is the last)."""
    if not isinstance(dim, int | np.integer) or isinstance(dim, bool):
        raise TypeError(f"{what} must be an integer, got {dim!r}")
    if not -ndim <= dim < ndim:
        raise IndexError(
            f"{what} {dim} is out of range for a tensor with {ndim} dimensions "
            f"(expected {-ndim} to {ndim - 1})"
        )
    return int(dim) % ndim


def norm_axis(dim: Axis, ndim: int) -> tuple[int, ...]:
    """Reduction dims as a sorted tuple of non-negative ints (all dims for ``None``)."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int | np.integer) else tuple(dim)
    # A 0-d tensor accepts dim 0 or -1, as in PyTorch, and reduces over nothing.
    normed = tuple(sorted(norm_dim(d, builtins.max(ndim, 1)) for d in dims))
    if len(set(normed)) != len(normed):
        raise ValueError(f"dim {dim!r} names the same dimension twice")
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
