"""Functions that make tensors: from data, filled with a constant, ranges, and random draws."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lucid._ops import shape_arg
from lucid._random import Generator, numpy_rng
from lucid._tensor import DEFAULT_FLOAT, Tensor, _to_array

Size = int | Sequence[int]


def _size(size: Sequence[Any]) -> tuple[int, ...]:
    shape = shape_arg(size)
    if any(n < 0 for n in shape):
        raise ValueError(f"sizes must be non-negative, got {shape!r}")
    return shape


def _wrap(arr: np.ndarray, requires_grad: bool) -> Tensor:
    t = Tensor._from_array(arr)
    return t.requires_grad_(True) if requires_grad else t


def _float_dtype(dtype: Any, what: str) -> np.dtype:
    dtype = DEFAULT_FLOAT if dtype is None else np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"{what} draws floating numbers; got dtype={dtype}, expected a float dtype")
    return dtype


def _or_default(dtype: Any, default: Any) -> Any:
    # Not `dtype or default`: older NumPy versions treat a dtype without fields as false.
    return default if dtype is None else dtype


def _dtype_of(value: Any, dtype: Any) -> np.dtype:
    """The dtype PyTorch infers for a fill value: bool, int64, or float32."""
    if dtype is not None:
        return np.dtype(dtype)
    if isinstance(value, bool | np.bool_):
        return np.dtype(np.bool_)
    if isinstance(value, int | np.integer):
        return np.dtype(np.int64)
    return DEFAULT_FLOAT


# ------------------------------------------------------------ from data ---


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data``; floating data becomes float32 unless ``dtype`` says.

    Parameters
    ----------
    data:
        Nested lists, a scalar, a NumPy array or a tensor.
    dtype:
        The dtype to store, e.g. ``lucid.float64``.
    requires_grad:
        Record operations on the tensor for ``backward()``.

    Examples
    --------
    >>> import lucid
    >>> lucid.tensor([[1, 2], [3, 4]]).dtype
    dtype('int64')
    >>> lucid.tensor([0.5], requires_grad=True)
    tensor([0.5], requires_grad=True)
    """
    src = data.data if isinstance(data, Tensor) else data
    arr = _to_array(src, dtype)
    if isinstance(src, np.ndarray) and np.may_share_memory(arr, src):
        arr = arr.copy()
    return _wrap(arr, requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array`` and keeping its dtype (float64 stays float64).

    Examples
    --------
    >>> import numpy as np, lucid
    >>> a = np.zeros(2)
    >>> t = lucid.from_numpy(a)
    >>> a[0] = 5
    >>> t.tolist(), t.dtype
    ([5.0, 0.0], dtype('float64'))
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy needs a numpy.ndarray, got {type(array).__name__}")
    if array.dtype.kind not in "fiub":
        raise TypeError(
            f"cannot make a tensor of dtype {array.dtype}; lucid tensors hold floating, "
            "integer or bool data"
        )
    return Tensor._from_array(array)


# ------------------------------------------------------------ constants ---


def zeros(*size: Size, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros (float32 unless ``dtype`` says); ``zeros(2, 3)`` or ``zeros((2, 3))``.

    Examples
    --------
    >>> import lucid
    >>> lucid.zeros(2, 3).shape
    (2, 3)
    """
    return _wrap(np.zeros(_size(size), dtype=_or_default(dtype, DEFAULT_FLOAT)), requires_grad)


def ones(*size: Size, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones (float32 unless ``dtype`` says).

    Examples
    --------
    >>> import lucid
    >>> lucid.ones((2,), dtype=lucid.int64).tolist()
    [1, 1]
    """
    return _wrap(np.ones(_size(size), dtype=_or_default(dtype, DEFAULT_FLOAT)), requires_grad)


def empty(*size: Size, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor (float32 unless ``dtype`` says): fill it before reading it.

    Examples
    --------
    >>> import lucid
    >>> lucid.empty(4, 2).shape
    (4, 2)
    """
    return _wrap(np.empty(_size(size), dtype=_or_default(dtype, DEFAULT_FLOAT)), requires_grad)


def full(
    size: Size, fill_value: float | bool, *, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """A tensor filled with ``fill_value``; the dtype follows the value (bool, int64, float32).

    Examples
    --------
    >>> import lucid
    >>> lucid.full((2,), 7).tolist(), lucid.full((2,), 0.5).dtype
    ([7, 7], dtype('float32'))
    """
    arr = np.full(_size((size,)), fill_value, dtype=_dtype_of(fill_value, dtype))
    return _wrap(arr, requires_grad)


def _like_shape(t: Any) -> tuple[tuple[int, ...], np.dtype]:
    arr = t.data if isinstance(t, Tensor) else np.asarray(t)
    return arr.shape, arr.dtype


def zeros_like(t: Any, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros with the shape (and, unless ``dtype`` is given, the dtype) of ``t``.

    Examples
    --------
    >>> import lucid
    >>> lucid.zeros_like(lucid.ones(2, 2)).tolist()
    [[0.0, 0.0], [0.0, 0.0]]
    """
    shape, like = _like_shape(t)
    return _wrap(np.zeros(shape, dtype=_or_default(dtype, like)), requires_grad)


def ones_like(t: Any, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones with the shape (and, unless ``dtype`` is given, the dtype) of ``t``.

    Examples
    --------
    >>> import lucid
    >>> lucid.ones_like(lucid.zeros(2)).tolist()
    [1.0, 1.0]
    """
    shape, like = _like_shape(t)
    return _wrap(np.ones(shape, dtype=_or_default(dtype, like)), requires_grad)


def empty_like(t: Any, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor with the shape (and dtype) of ``t``.

    Examples
    --------
    >>> import lucid
    >>> lucid.empty_like(lucid.zeros(3)).shape
    (3,)
    """
    shape, like = _like_shape(t)
    return _wrap(np.empty(shape, dtype=_or_default(dtype, like)), requires_grad)


def full_like(
    t: Any, fill_value: float | bool, *, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """``fill_value`` everywhere, with the shape (and unless ``dtype`` says, the dtype) of ``t``.

    Examples
    --------
    >>> import lucid
    >>> lucid.full_like(lucid.zeros(2), 3).tolist()
    [3.0, 3.0]
    """
    shape, like = _like_shape(t)
    return _wrap(np.full(shape, fill_value, dtype=_or_default(dtype, like)), requires_grad)


# --------------------------------------------------------------- ranges ---


def arange(
    start: float,
    end: float | None = None,
    step: float = 1,
    *,
    dtype: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Values from ``start`` up to (not including) ``end`` by ``step``; ``arange(n)`` is 0..n-1.

    All-integer arguments give int64, any float gives float32.

    Examples
    --------
    >>> import lucid
    >>> lucid.arange(4).tolist(), lucid.arange(0, 1, 0.25).tolist()
    ([0, 1, 2, 3], [0.0, 0.25, 0.5, 0.75])
    """
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange step must not be 0")
    if dtype is None:
        ints = all(isinstance(v, int | np.integer) for v in (start, end, step))
        dtype = np.int64 if ints else DEFAULT_FLOAT
    # Count the values in float64, as PyTorch does, so float32 rounding of the
    # bounds cannot add or drop an element.
    return _wrap(np.arange(start, end, step).astype(dtype, copy=False), requires_grad)


def linspace(
    start: float, end: float, steps: int, *, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end``, both included (float32).

    Examples
    --------
    >>> import lucid
    >>> lucid.linspace(0, 1, 5).tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    if not isinstance(steps, int | np.integer) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    return _wrap(
        np.linspace(start, end, steps, dtype=_or_default(dtype, DEFAULT_FLOAT)), requires_grad
    )


def eye(n: int, m: int | None = None, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """The ``n`` x ``m`` identity matrix (``m`` defaults to ``n``).

    Examples
    --------
    >>> import lucid
    >>> lucid.eye(2).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    return _wrap(np.eye(n, m, dtype=_or_default(dtype, DEFAULT_FLOAT)), requires_grad)


# --------------------------------------------------------------- random ---
# Drawn from lucid's one generator, directly in the requested precision:
# float32 numbers are never drawn as float64 and then converted.


def rand(
    *size: Size, generator: Generator | None = None, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """Uniform random numbers in ``[0, 1)``.

    Examples
    --------
    >>> import lucid
    >>> x = lucid.rand(2, 3)
    >>> x.shape, x.dtype, bool(((x >= 0) & (x < 1)).all())
    ((2, 3), dtype('float32'), True)
    """
    dtype = _float_dtype(dtype, "rand")
    draw_as = dtype if dtype in (np.float32, np.float64) else np.float32
    arr = numpy_rng(generator).random(_size(size), dtype=draw_as).astype(dtype, copy=False)
    return _wrap(arr, requires_grad)


def randn(
    *size: Size, generator: Generator | None = None, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """Standard normal random numbers (mean 0, standard deviation 1).

    Examples
    --------
    >>> import lucid
    >>> lucid.randn(4, 2).shape
    (4, 2)
    """
    dtype = _float_dtype(dtype, "randn")
    draw_as = dtype if dtype in (np.float32, np.float64) else np.float32
    arr = numpy_rng(generator).standard_normal(_size(size), dtype=draw_as).astype(dtype, copy=False)
    return _wrap(arr, requires_grad)


def randint(
    low: int,
    high: int | Sequence[int] | None = None,
    size: Size = (),
    *,
    generator: Generator | None = None,
    dtype: Any = None,
) -> Tensor:
    """Random integers in ``[low, high)`` (int64), called as in PyTorch.

    ``randint(high, size)`` draws from ``[0, high)``; ``randint(low, high, size)``
    from ``[low, high)``.

    Examples
    --------
    >>> import lucid
    >>> x = lucid.randint(10, (3,))
    >>> x.shape, x.dtype, bool(((x >= 0) & (x < 10)).all())
    ((3,), dtype('int64'), True)
    >>> lucid.randint(5, 6, (2,)).tolist()
    [5, 5]
    """
    if isinstance(high, Sequence):
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    if high <= low:
        raise ValueError(f"randint needs low < high, got low={low}, high={high}")
    dtype = np.dtype(np.int64 if dtype is None else dtype)
    draws = numpy_rng(generator).integers(low, high, _size((size,)), dtype=dtype)
    return Tensor._from_array(draws)


def randperm(
    n: int, *, generator: Generator | None = None, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """A random permutation of ``0 .. n-1`` (int64 unless ``dtype`` says), as ``torch.randperm``.

    Examples
    --------
    >>> import lucid
    >>> g = lucid.Generator().manual_seed(0)
    >>> sorted(lucid.randperm(5, generator=g).tolist())
    [0, 1, 2, 3, 4]
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f"randperm needs a non-negative integer n, got {n!r}")
    perm = numpy_rng(generator).permutation(int(n)).astype(_or_default(dtype, np.int64))
    return _wrap(perm, requires_grad)
