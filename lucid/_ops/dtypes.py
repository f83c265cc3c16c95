"""dtype conversion (``astype``, ``clone``) and the promotion rules of mixed operands."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lucid._ops._args import (
    as_tensor,
)
from lucid._tensor import DEFAULT_FLOAT, Function, Tensor


class AsType(Function):
    @staticmethod
    def forward(ctx, a, *, dtype):
        ctx.dtype = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad.astype(ctx.dtype)


def astype(a: Tensor, dtype: Any) -> Tensor:
    """A copy of ``a`` in ``dtype``; gradients flow between floating dtypes only.

    Examples
    --------
    >>> import lucid
    >>> lucid.tensor([1.7, -1.7]).astype(lucid.int64).tolist()
    [1, -1]
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        return Tensor._from_array(a.data.astype(dtype))
    return AsType.apply(a, dtype=dtype)


def clone(a: Any) -> Tensor:
    """A copy of ``a`` with its own storage, still in the graph.

    Examples
    --------
    >>> import lucid
    >>> x = lucid.ones(2)
    >>> y = lucid.clone(x)
    >>> y += 1
    >>> x.tolist(), y.tolist()
    ([1.0, 1.0], [2.0, 2.0])
    """
    a = as_tensor(a)
    return AsType.apply(a, dtype=a.dtype)


def floating(x: Any) -> Tensor:
    """``x`` as a floating tensor: integer and bool data become float32, as in PyTorch."""
    x = as_tensor(x)
    return x if x.data.dtype.kind == "f" else astype(x, DEFAULT_FLOAT)


# PyTorch's promotion: the highest category among the operands wins (bool <
# integer < floating). Within it, tensors with dimensions decide the dtype;
# 0-d tensors only when no such tensor is of that category; Python scalars
# only when nothing else is, and then as the default dtype of their category
# (int64, float32). So a float32 tensor stays float32 with a float64 0-d tensor
# or a Python float, and integer tensors with a float give float32.
_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}
_SCALAR_DTYPE = {bool: np.dtype(np.bool_), int: np.dtype(np.int64), float: DEFAULT_FLOAT}


def result_type(*operands: Any) -> np.dtype:
    """The dtype PyTorch gives an op on ``operands`` (tensors and Python scalars).

    Examples
    --------
    >>> import lucid
    >>> from lucid._ops import result_type
    >>> result_type(lucid.tensor([1, 2]), 0.5), result_type(lucid.tensor([1, 2]), lucid.ones(2))
    (dtype('float32'), dtype('float32'))
    """
    tiers: tuple[list[np.dtype], list[np.dtype], list[np.dtype]] = ([], [], [])
    for x in operands:
        if isinstance(x, Tensor):
            tiers[0 if x.data.ndim else 1].append(x.data.dtype)
        else:
            tiers[2].append(_SCALAR_DTYPE[type(x) if type(x) in _SCALAR_DTYPE else float])
    top = max(_CATEGORY[d.kind] for tier in tiers for d in tier)
    for tier in tiers:
        same = [d for d in tier if _CATEGORY[d.kind] == top]
        if same:
            return np.result_type(*same)
    raise AssertionError("unreachable: every operand is in a tier")


def cast(x: Any, dtype: np.dtype) -> Any:
    """A tensor operand in ``dtype``; Python scalars stay scalars (NumPy then keeps the dtype)."""
    if isinstance(x, Tensor) and x.data.dtype != dtype:
        return astype(x, dtype)
    return x


def promote_all(tensors: Sequence[Tensor]) -> list[Tensor]:
    """``tensors`` in their common dtype (:func:`result_type`), for cat and stack."""
    dtype = result_type(*tensors)
    return [cast(t, dtype) for t in tensors]


def promote(a: Any, b: Any) -> tuple[Any, Any]:
    """Bring a binary op's operands to one dtype by PyTorch's rules (:func:`result_type`).

    Tensors come back as tensors of the result dtype, Python scalars as
    Python scalars; NumPy scalars count as Python scalars, and anything else
    (lists, arrays) becomes a tensor.
    """
    # Fast paths first: most operands are tensors of one dtype or plain scalars.
    if isinstance(a, Tensor):
        if isinstance(b, Tensor) and a.data.dtype == b.data.dtype:
            return a, b
        if (type(b) is int and a.data.dtype.kind != "b") or (
            type(b) is float and a.data.dtype.kind == "f"
        ):
            return a, b
    operands = []
    for x in (a, b):
        if isinstance(x, np.generic):
            x = x.item()
        operands.append(x if isinstance(x, Tensor | int | float) else Tensor(x))
    dtype = result_type(*operands)
    return cast(operands[0], dtype), cast(operands[1], dtype)


def check_same_dtype(op: str, *tensors: Tensor | None) -> None:
    """Refuse operands of different dtypes where PyTorch does (matmul, linear, conv).

    Promoting there would silently run a float32 model in float64 on a float64
    input (or the reverse); PyTorch raises, and so does lucid.
    """
    dtypes = [t.data.dtype for t in tensors if t is not None]
    if any(d != dtypes[0] for d in dtypes):
        names = " and ".join(str(d) for d in dict.fromkeys(dtypes))
        raise RuntimeError(
            f"{op}: expected all operands to have the same dtype, got {names}; convert the "
            "input to the parameters' dtype (e.g. x.float()) or the model to the input's "
            "(model.double())"
        )
