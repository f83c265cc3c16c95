"""The differentiable operations: one ``Function`` per op, forward and backward side by side."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from lucid._tensor import DEFAULT_FLOAT, Tensor, _to_array
from lucid.autograd._function import Function, unbroadcast

Axis = int | tuple[int, ...] | None


def _is_float(x: Any) -> bool:
    return isinstance(x, float) or (isinstance(x, Tensor) and x.data.dtype.kind == "f")


def _promote(a: Any, b: Any) -> tuple[Any, Any]:
    """Bring a binary op's operands to tensors or Python scalars.

    Python scalars stay scalars: NumPy then keeps the tensor's dtype. Where
    NumPy would compute an integer tensor with float32 (or a Python float) in
    float64, lucid keeps the floating operand's dtype, as PyTorch does.
    """
    a = a if isinstance(a, Tensor | int | float) else Tensor(a)
    b = b if isinstance(b, Tensor | int | float) else Tensor(b)
    if _is_float(a) and isinstance(b, Tensor) and b.data.dtype.kind != "f":
        b = b.astype(a.dtype if isinstance(a, Tensor) else DEFAULT_FLOAT)
    elif _is_float(b) and isinstance(a, Tensor) and a.data.dtype.kind != "f":
        a = a.astype(b.dtype if isinstance(b, Tensor) else DEFAULT_FLOAT)
    return a, b


def _shape(x: Any) -> tuple[int, ...]:
    return np.shape(x)


# ----------------------------------------------------------- arithmetic ---


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (_shape(a), _shape(b))
        return np.add(a, b)

    @staticmethod
    def backward(ctx, grad):
        sa, sb = ctx.shapes
        return unbroadcast(grad, sa), unbroadcast(grad, sb)


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (_shape(a), _shape(b))
        return np.subtract(a, b)

    @staticmethod
    def backward(ctx, grad):
        sa, sb = ctx.shapes
        gb = unbroadcast(-grad, sb) if ctx.needs_input_grad[1] else None
        return unbroadcast(grad, sa), gb


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.multiply(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_arrays
        ga = unbroadcast(grad * b, _shape(a)) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(grad * a, _shape(b)) if ctx.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.true_divide(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_arrays
        ga = unbroadcast(grad / b, _shape(a)) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(-grad * a / (b * b), _shape(b)) if ctx.needs_input_grad[1] else None
        return ga, gb


class Pow(Function):
    @staticmethod
    def forward(ctx, a, b):
        out = np.power(a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved_arrays
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = unbroadcast(grad * b * np.power(a, b - 1), _shape(a))
        if ctx.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                log_a = np.where(a > 0, np.log(np.where(a > 0, a, 1)), 0).astype(out.dtype)
            gb = unbroadcast(grad * out * log_a, _shape(b))
        return ga, gb


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return np.negative(a)

    @staticmethod
    def backward(ctx, grad):
        return -grad


class MatMul(Function):
    @staticmethod
    def forward(ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(
                f"matmul needs at least 1-D operands, got shapes {a.shape!r} and {b.shape!r}"
            )
        if a.shape[-1] != b.shape[0 if b.ndim == 1 else -2]:
            raise ValueError(
                f"matmul shape mismatch: {a.shape!r} @ {b.shape!r}; the last dimension of the "
                "first must equal the second-to-last of the second"
            )
        ctx.save_for_backward(a, b)
        return np.matmul(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_arrays
        # Treat vectors as matrices so one rule covers every case.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = grad
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = np.expand_dims(g2, -1)
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = unbroadcast(np.matmul(g2, np.swapaxes(b2, -1, -2)), a2.shape)
            ga = ga.reshape(a.shape)
        if ctx.needs_input_grad[1]:
            gb = unbroadcast(np.matmul(np.swapaxes(a2, -1, -2), g2), b2.shape)
            gb = gb.reshape(b.shape)
        return ga, gb


def add(a: Any, b: Any) -> Tensor:
    """Elementwise ``a + b`` with broadcasting."""
    return Add.apply(*_promote(a, b))


def sub(a: Any, b: Any) -> Tensor:
    """Elementwise ``a - b`` with broadcasting."""
    return Sub.apply(*_promote(a, b))


def mul(a: Any, b: Any) -> Tensor:
    """Elementwise ``a * b`` with broadcasting."""
    return Mul.apply(*_promote(a, b))


def div(a: Any, b: Any) -> Tensor:
    """Elementwise ``a / b`` with broadcasting (true division)."""
    a, b = _promote(a, b)
    if not (_is_float(a) or _is_float(b)):
        # Integer division still gives float32, as in PyTorch.
        a = a.astype(DEFAULT_FLOAT) if isinstance(a, Tensor) else float(a)
    return Div.apply(a, b)


def pow(a: Any, b: Any) -> Tensor:
    """Elementwise ``a ** b`` with broadcasting."""
    return Pow.apply(*_promote(a, b))


def neg(a: Tensor) -> Tensor:
    """Elementwise ``-a``."""
    return Neg.apply(a)


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with NumPy's batching and broadcasting rules (``a @ b``)."""
    a = a if isinstance(a, Tensor) else Tensor(a)
    b = b if isinstance(b, Tensor) else Tensor(b)
    return MatMul.apply(a, b)


# ---------------------------------------------------------- reductions ---


def _norm_axis(axis: Axis, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    for ax in axes:
        if not -ndim <= ax < builtins.max(ndim, 1):
            raise ValueError(f"axis {ax} is out of range for a tensor with {ndim} dimensions")
    return tuple(sorted(ax % builtins.max(ndim, 1) for ax in axes))


def _expand_reduced(
    grad: np.ndarray, shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool
):
    """Broadcast a reduction's gradient back to the input's shape."""
    if not keepdims:
        grad = np.expand_dims(grad, axes)
    return np.broadcast_to(grad, shape)


class Sum(Function):
    @staticmethod
    def forward(ctx, a, *, axes, keepdims):
        ctx.shape, ctx.axes, ctx.keepdims = a.shape, axes, keepdims
        return np.sum(a, axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad):
        return np.ascontiguousarray(_expand_reduced(grad, ctx.shape, ctx.axes, ctx.keepdims))


class Mean(Function):
    @staticmethod
    def forward(ctx, a, *, axes, keepdims):
        ctx.shape, ctx.axes, ctx.keepdims = a.shape, axes, keepdims
        ctx.count = int(np.prod([a.shape[i] for i in axes]))
        return np.mean(a, axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad):
        g = grad / np.asarray(ctx.count, dtype=grad.dtype)
        return np.ascontiguousarray(_expand_reduced(g, ctx.shape, ctx.axes, ctx.keepdims))


def sum(a: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis`` (all axes when ``None``)."""
    return Sum.apply(a, axes=_norm_axis(axis, a.ndim), keepdims=keepdims)


def mean(a: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis`` (all axes when ``None``)."""
    if a.data.dtype.kind != "f":
        a = a.astype(DEFAULT_FLOAT)
    return Mean.apply(a, axes=_norm_axis(axis, a.ndim), keepdims=keepdims)


# --------------------------------------------------------------- shape ---


def shape_arg(args: Sequence[Any]) -> tuple[int, ...]:
    """Accept both ``f(2, 3)`` and ``f((2, 3))``, as PyTorch does."""
    if len(args) == 1 and isinstance(args[0], Sequence | np.ndarray):
        return tuple(int(s) for s in args[0])
    return tuple(int(s) for s in args)


class Reshape(Function):
    _is_view = True

    @staticmethod
    def forward(ctx, a, *, shape):
        ctx.shape = a.shape
        try:
            return a.reshape(shape)
        except ValueError:
            raise ValueError(
                f"cannot reshape a tensor of shape {a.shape!r} ({a.size} elements) into {shape!r}"
            ) from None

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.shape)


class Permute(Function):
    _is_view = True

    @staticmethod
    def forward(ctx, a, *, axes):
        if sorted(ax % builtins.max(a.ndim, 1) for ax in axes) != list(range(a.ndim)):
            raise ValueError(
                f"permute needs each of the {a.ndim} axes once, got {axes!r} for shape {a.shape!r}"
            )
        ctx.axes = axes
        return np.transpose(a, axes)

    @staticmethod
    def backward(ctx, grad):
        return np.transpose(grad, np.argsort(ctx.axes))


def reshape(a: Tensor, shape: Sequence[int]) -> Tensor:
    """The same data in a new shape; one dimension may be ``-1``."""
    return Reshape.apply(a, shape=tuple(shape))


def permute(a: Tensor, axes: Sequence[int]) -> Tensor:
    """Reorder the axes of ``a``."""
    return Permute.apply(a, axes=tuple(axes))


def swapaxes(a: Tensor, axis1: int, axis2: int) -> Tensor:
    """Exchange two axes."""
    axes = list(range(a.ndim))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return Permute.apply(a, axes=tuple(axes))


class AsType(Function):
    @staticmethod
    def forward(ctx, a, *, dtype):
        ctx.dtype = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad.astype(ctx.dtype)


def astype(a: Tensor, dtype: Any) -> Tensor:
    """A copy of ``a`` in ``dtype``; gradients flow between floating dtypes only."""
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        return Tensor._from_array(a.data.astype(dtype))
    return AsType.apply(a, dtype=dtype)


def clone(a: Tensor) -> Tensor:
    """A copy of ``a`` with its own storage, still in the graph."""
    return AsType.apply(a, dtype=a.dtype)


# -------------------------------------------------- comparison (no grad) ---


def compare(ufunc: Callable[..., np.ndarray], a: Any, b: Any) -> Tensor:
    """Apply a comparison or logical ufunc; the result is a bool tensor with no gradient."""
    a_arr = a.data if isinstance(a, Tensor) else _to_array(a) if not np.isscalar(a) else a
    b_arr = b.data if isinstance(b, Tensor) else _to_array(b) if not np.isscalar(b) else b
    return Tensor._from_array(np.asarray(ufunc(a_arr, b_arr)))


def logical_not(a: Tensor) -> Tensor:
    """Elementwise logical not (``~a``) of a bool tensor."""
    if a.data.dtype.kind == "f":
        raise TypeError(f"~ needs a bool or integer tensor, got {a.dtype}")
    return Tensor._from_array(np.invert(a.data))
