"""Comparisons and logical operators: bool results, no gradient."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from lucid._ops._args import (
    as_tensor,
    broadcasting,
)
from lucid._tensor import Tensor, _to_array


def compare(ufunc: Callable[..., np.ndarray], a: Any, b: Any) -> Tensor:
    """Apply a comparison or logical ufunc; the result is a bool tensor with no gradient."""
    a_arr = a.data if isinstance(a, Tensor) else a if np.isscalar(a) else _to_array(a)
    b_arr = b.data if isinstance(b, Tensor) else b if np.isscalar(b) else _to_array(b)
    return Tensor._from_array(np.asarray(broadcasting(ufunc, ufunc.__name__, a_arr, b_arr)))


def logical_not(a: Any) -> Tensor:
    """Elementwise logical not (``~a``) of a bool tensor.

    Examples
    --------
    >>> import lucid
    >>> lucid.logical_not(lucid.tensor([True, False])).tolist()
    [False, True]
    """
    a = as_tensor(a)
    if a.data.dtype.kind == "f":
        raise TypeError(f"~ needs a bool or integer tensor, got {a.dtype}; compare first (x > 0)")
    return Tensor._from_array(np.invert(a.data))


def eq(a: Any, b: Any) -> Tensor:
    """Elementwise ``a == b`` as a bool tensor.

    Examples
    --------
    >>> import lucid
    >>> lucid.eq(lucid.tensor([1, 2]), 2).tolist()
    [False, True]
    """
    return compare(np.equal, a, b)


def ne(a: Any, b: Any) -> Tensor:
    """Elementwise ``a != b`` as a bool tensor.

    Examples
    --------
    >>> import lucid
    >>> lucid.ne(lucid.tensor([1, 2]), 2).tolist()
    [True, False]
    """
    return compare(np.not_equal, a, b)


def lt(a: Any, b: Any) -> Tensor:
    """Elementwise ``a < b`` as a bool tensor.

    Examples
    --------
    >>> import lucid
    >>> lucid.lt(lucid.tensor([1, 2]), 2).tolist()
    [True, False]
    """
    return compare(np.less, a, b)


def le(a: Any, b: Any) -> Tensor:
    """Elementwise ``a <= b`` as a bool tensor.

    Examples
    --------
    >>> import lucid
    >>> lucid.le(lucid.tensor([1, 3]), 2).tolist()
    [True, False]
    """
    return compare(np.less_equal, a, b)


def gt(a: Any, b: Any) -> Tensor:
    """Elementwise ``a > b`` as a bool tensor.

    Examples
    --------
    >>> import lucid
    >>> lucid.gt(lucid.tensor([1, 3]), 2).tolist()
    [False, True]
    """
    return compare(np.greater, a, b)


def ge(a: Any, b: Any) -> Tensor:
    """Elementwise ``a >= b`` as a bool tensor.

    Examples
    --------
    >>> import lucid
    >>> lucid.ge(lucid.tensor([1, 2]), 2).tolist()
    [False, True]
    """
    return compare(np.greater_equal, a, b)


def logical_and(a: Any, b: Any) -> Tensor:
    """Elementwise logical and, as a bool tensor.

    Examples
    --------
    >>> import lucid
    >>> lucid.logical_and(lucid.tensor([True, True]), lucid.tensor([True, False])).tolist()
    [True, False]
    """
    return compare(np.logical_and, a, b)


def logical_or(a: Any, b: Any) -> Tensor:
    """Elementwise logical or, as a bool tensor.

    Examples
    --------
    >>> import lucid
    >>> lucid.logical_or(lucid.tensor([True, False]), lucid.tensor([False, False])).tolist()
    [True, False]
    """
    return compare(np.logical_or, a, b)


def logical_xor(a: Any, b: Any) -> Tensor:
    """Elementwise logical exclusive or, as a bool tensor.

    Examples
    --------
    >>> import lucid
    >>> lucid.logical_xor(lucid.tensor([True, True]), lucid.tensor([True, False])).tolist()
    [False, True]
    """
    return compare(np.logical_xor, a, b)
