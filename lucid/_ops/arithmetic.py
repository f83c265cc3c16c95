"""Arithmetic with broadcasting: ``+ - * / **``, negation and ``@``."""

from __future__ import annotations

from typing import Any

import numpy as np

from lucid import _kernels
from lucid._kernels import unbroadcast, unbroadcast_product
from lucid._ops._args import (
    as_tensor,
    broadcasting,
    is_float,
)
from lucid._ops.dtypes import cast, check_same_dtype, promote
from lucid._tensor import DEFAULT_FLOAT, Function, Tensor


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        return broadcasting(np.add, "add", a, b)

    @staticmethod
    def backward(ctx, grad):
        (sa, sb), (need_a, need_b) = ctx.input_shapes, ctx.needs_input_grad
        return (
            unbroadcast(grad, sa) if need_a else None,
            unbroadcast(grad, sb) if need_b else None,
        )


def add(a: Any, b: Any) -> Tensor:
    """Elementwise ``a + b`` with broadcasting.

    Examples
    --------
    >>> import lucid
    >>> lucid.add(lucid.tensor([1.0, 2.0]), 1).tolist()
    [2.0, 3.0]
    """
    return Add.apply(*promote(a, b))


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        return broadcasting(np.subtract, "sub", a, b)

    @staticmethod
    def backward(ctx, grad):
        (sa, sb), (need_a, need_b) = ctx.input_shapes, ctx.needs_input_grad
        # Negate after reducing: cheaper when b was broadcast.
        return (
            unbroadcast(grad, sa) if need_a else None,
            -unbroadcast(grad, sb) if need_b else None,
        )


def sub(a: Any, b: Any) -> Tensor:
    """Elementwise ``a - b`` with broadcasting.

    Examples
    --------
    >>> import lucid
    >>> lucid.sub(lucid.tensor([1.0, 2.0]), 1).tolist()
    [0.0, 1.0]
    """
    return Sub.apply(*promote(a, b))


subtract = sub


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        out = broadcasting(np.multiply, "mul", a, b)
        ctx.save_for_backward(a, b)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_arrays
        ga = unbroadcast_product(grad, b, np.shape(a)) if ctx.needs_input_grad[0] else None
        gb = unbroadcast_product(grad, a, np.shape(b)) if ctx.needs_input_grad[1] else None
        return ga, gb


def mul(a: Any, b: Any) -> Tensor:
    """Elementwise ``a * b`` with broadcasting.

    Examples
    --------
    >>> import lucid
    >>> lucid.mul(lucid.tensor([[1.0], [2.0]]), lucid.tensor([1.0, 10.0])).tolist()
    [[1.0, 10.0], [2.0, 20.0]]
    """
    return Mul.apply(*promote(a, b))


multiply = mul


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        out = broadcasting(np.true_divide, "div", a, b)
        ctx.save_for_backward(b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        b, out = ctx.saved_arrays
        grad_over_b = grad / b
        ga = unbroadcast(grad_over_b, ctx.input_shapes[0]) if ctx.needs_input_grad[0] else None
        # d(a/b)/db = -(a/b)/b: reuse the output instead of reading a again.
        gb = (
            -unbroadcast_product(grad_over_b, out, np.shape(b)) if ctx.needs_input_grad[1] else None
        )
        return ga, gb


def div(a: Any, b: Any) -> Tensor:
    """Elementwise ``a / b`` with broadcasting (true division; integers give float32).

    Examples
    --------
    >>> import lucid
    >>> lucid.div(lucid.tensor([1, 2]), 2).tolist()
    [0.5, 1.0]
    """
    a, b = promote(a, b)
    if not (is_float(a) or is_float(b)):
        # Integer true division gives the default float dtype, as in PyTorch.
        a, b = (cast(x, DEFAULT_FLOAT) if isinstance(x, Tensor) else float(x) for x in (a, b))
    return Div.apply(a, b)


divide = div


class Pow(Function):
    @staticmethod
    def forward(ctx, a, b):
        out = broadcasting(np.power, "pow", a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved_arrays
        ga = gb = None
        if ctx.needs_input_grad[0]:
            if np.ndim(b) == 0 and b != 0:  # the common x ** 2
                d = b * np.power(a, b - 1)
            else:
                # x ** 0 is flat everywhere, also at x = 0, where b x^(b-1)
                # is 0 * inf: its gradient is 0 there, as in PyTorch.
                with np.errstate(divide="ignore", invalid="ignore"):
                    d = np.where(np.equal(b, 0), 0, b * np.power(a, b - 1))
            ga = unbroadcast(grad * d, np.shape(a))
        if ctx.needs_input_grad[1]:
            base = np.asarray(a, dtype=out.dtype)
            with np.errstate(divide="ignore", invalid="ignore"):
                d = out * np.log(base)
            # 0 ** b is flat in b (PyTorch's convention), not 0 * log(0) = nan.
            gb = unbroadcast(grad * np.where(base == 0, 0, d), np.shape(b))
        return ga, gb


def pow(a: Any, b: Any) -> Tensor:
    """Elementwise ``a ** b`` with broadcasting.

    Examples
    --------
    >>> import lucid
    >>> lucid.pow(lucid.tensor([2.0, 3.0]), 2).tolist()
    [4.0, 9.0]
    """
    return Pow.apply(*promote(a, b))


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return np.negative(a)

    @staticmethod
    def backward(ctx, grad):
        return -grad


def neg(a: Any) -> Tensor:
    """Elementwise ``-a``.

    Examples
    --------
    >>> import lucid
    >>> lucid.neg(lucid.tensor([1.0, -2.0])).tolist()
    [-1.0, 2.0]
    """
    return Neg.apply(as_tensor(a))


def _matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.ndim < 2 or b.ndim < 2:
        return np.matmul(a, b)
    # NumPy multiplies an (..., n, k) @ (k, m) product one GEMM per batch
    # entry; folding the batch into the rows makes it one large GEMM.
    if b.ndim == 2 and a.ndim > 2 and a.flags.c_contiguous:
        folded = _kernels.matmul(a.reshape(-1, a.shape[-1]), b)
        return folded.reshape(*a.shape[:-1], b.shape[-1])
    return _kernels.matmul(a, b)


class MatMul(Function):
    @staticmethod
    def forward(ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(
                f"matmul needs at least 1-D operands, got shapes {a.shape!r} and {b.shape!r}; "
                "use * to multiply by a scalar"
            )
        if a.shape[-1] != b.shape[0 if b.ndim == 1 else -2]:
            raise ValueError(
                f"matmul shape mismatch: {a.shape!r} @ {b.shape!r}; the last dimension of the "
                "first must equal the second-to-last of the second"
            )
        try:
            out = _matmul(a, b)
        except ValueError:
            raise ValueError(
                f"matmul: the batch dimensions of {a.shape!r} and {b.shape!r} cannot be "
                "broadcast together"
            ) from None
        ctx.save_for_backward(a, b)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_arrays
        # Treat vectors as matrices so one rule covers every case.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
        g2 = grad.reshape(*batch, a2.shape[-2], b2.shape[-1])
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = unbroadcast(_matmul(g2, np.swapaxes(b2, -1, -2)), a2.shape).reshape(a.shape)
        if ctx.needs_input_grad[1]:
            if b2.ndim == 2 and g2.ndim > 2:
                # A weight shared by the whole batch: one GEMM over all rows
                # instead of a product per batch entry followed by a sum.
                rows = a2.reshape(-1, a2.shape[-1]).T
                gb = _kernels.matmul(rows, g2.reshape(-1, g2.shape[-1]), gradient=True)
            else:
                gb = unbroadcast(_matmul(np.swapaxes(a2, -1, -2), g2), b2.shape)
            gb = gb.reshape(b.shape)
        return ga, gb


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with NumPy's batching and broadcasting rules (``a @ b``).

    Examples
    --------
    >>> import lucid
    >>> (lucid.ones(5, 2, 3) @ lucid.ones(3, 4)).shape
    (5, 2, 4)

    As in PyTorch, both operands must have the same dtype: a float64 input
    meets float32 weights only after ``x.float()`` (or ``model.double()``).
    """
    if isinstance(a, int | float) or isinstance(b, int | float):
        raise TypeError(f"matmul needs two tensors, got {a!r} and {b!r}; use * for scalars")
    a, b = as_tensor(a), as_tensor(b)
    check_same_dtype("matmul", a, b)
    return MatMul.apply(a, b)
