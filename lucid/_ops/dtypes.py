"""dtype conversion (``astype``, ``clone``) and the promotion rules of mixed operands."""

from __future__ import annotations

from typing import Any

import numpy as np

from lucid._ops._args import (
    as_tensor,
    is_float,
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


def promote(a: Any, b: Any) -> tuple[Any, Any]:
    """Bring a binary op's operands to tensors or Python scalars.

    Python scalars stay scalars: NumPy then keeps the tensor's dtype. NumPy
    scalars become Python scalars first, because ``np.float64(2)`` would turn
    a float32 product into float64. Where NumPy would compute an integer
    tensor with a float in float64, lucid keeps the floating operand's dtype,
    as PyTorch does.
    """
    # Fast paths first: most operands are tensors of one kind or plain scalars.
    if isinstance(a, Tensor):
        if isinstance(b, Tensor) and a.data.dtype.kind == b.data.dtype.kind:
            return a, b
        if type(b) is int or (type(b) is float and a.data.dtype.kind == "f"):
            return a, b
    if isinstance(a, np.generic):
        a = a.item()
    if isinstance(b, np.generic):
        b = b.item()
    a = a if isinstance(a, Tensor | int | float) else Tensor(a)
    b = b if isinstance(b, Tensor | int | float) else Tensor(b)
    if is_float(a) and isinstance(b, Tensor) and b.data.dtype.kind != "f":
        b = astype(b, a.dtype if isinstance(a, Tensor) else DEFAULT_FLOAT)
    elif is_float(b) and isinstance(a, Tensor) and a.data.dtype.kind != "f":
        a = astype(a, b.dtype if isinstance(b, Tensor) else DEFAULT_FLOAT)
    return a, b
