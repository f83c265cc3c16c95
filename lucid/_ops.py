"""The differentiable operations: one ``Function`` per op, forward and backward side by side."""

from __future__ import annotations

import builtins
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from lucid import _kernels
from lucid._tensor import DEFAULT_FLOAT, Tensor, _to_array
from lucid.autograd._function import Function, sum_axes, unbroadcast, unbroadcast_product

Axis = int | tuple[int, ...] | None

# NumPy's exp2 has a faster SIMD loop than its exp: hot paths use
# exp(y) = exp2(y log2 e), folding log2 e into a multiplication they make anyway.
_LOG2E = math.log2(math.e)


# ------------------------------------------------------------- helpers ---


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _floating(x: Any) -> Tensor:
    """``x`` as a floating tensor: integer and bool data become float32, as in PyTorch."""
    x = _as_tensor(x)
    return x if x.data.dtype.kind == "f" else astype(x, DEFAULT_FLOAT)


def _is_float(x: Any) -> bool:
    return isinstance(x, float) or (isinstance(x, Tensor) and x.data.dtype.kind == "f")


def _promote(a: Any, b: Any) -> tuple[Any, Any]:
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
    if _is_float(a) and isinstance(b, Tensor) and b.data.dtype.kind != "f":
        b = astype(b, a.dtype if isinstance(a, Tensor) else DEFAULT_FLOAT)
    elif _is_float(b) and isinstance(a, Tensor) and a.data.dtype.kind != "f":
        a = astype(a, b.dtype if isinstance(b, Tensor) else DEFAULT_FLOAT)
    return a, b


def _broadcasting(fn: Callable[..., Any], op: str, *operands: Any) -> Any:
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


def _norm_dim(axis: int, ndim: int, what: str = "axis") -> int:
    if not isinstance(axis, int | np.integer):
        raise TypeError(f"{what} must be an integer, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"{what} {axis} is out of range for a tensor with {ndim} dimensions "
            f"(expected {-ndim} to {ndim - 1})"
        )
    return int(axis) % ndim


def _norm_axis(axis: Axis, ndim: int) -> tuple[int, ...]:
    """Reduction axes as a sorted tuple of non-negative ints (all axes for ``None``)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    # A 0-d tensor accepts axis 0 or -1, as in PyTorch, and reduces over nothing.
    normed = tuple(sorted(_norm_dim(ax, builtins.max(ndim, 1)) for ax in axes))
    if len(set(normed)) != len(normed):
        raise ValueError(f"axis {axis!r} names the same axis twice")
    return normed if ndim else ()


def _keepdims_grad(grad: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
    """A reduction's gradient with the reduced axes restored as size 1."""
    return grad if keepdims else np.expand_dims(grad, axes)


def _count(shape: tuple[int, ...], axes: tuple[int, ...]) -> int:
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


# ----------------------------------------------------------- arithmetic ---


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        return _broadcasting(np.add, "add", a, b)

    @staticmethod
    def backward(ctx, grad):
        (sa, sb), (need_a, need_b) = ctx.input_shapes, ctx.needs_input_grad
        return (
            unbroadcast(grad, sa) if need_a else None,
            unbroadcast(grad, sb) if need_b else None,
        )


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        return _broadcasting(np.subtract, "sub", a, b)

    @staticmethod
    def backward(ctx, grad):
        (sa, sb), (need_a, need_b) = ctx.input_shapes, ctx.needs_input_grad
        # Negate after reducing: cheaper when b was broadcast.
        return (
            unbroadcast(grad, sa) if need_a else None,
            -unbroadcast(grad, sb) if need_b else None,
        )


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        out = _broadcasting(np.multiply, "mul", a, b)
        ctx.save_for_backward(a, b)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_arrays
        ga = unbroadcast_product(grad, b, np.shape(a)) if ctx.needs_input_grad[0] else None
        gb = unbroadcast_product(grad, a, np.shape(b)) if ctx.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        out = _broadcasting(np.true_divide, "div", a, b)
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


class Pow(Function):
    @staticmethod
    def forward(ctx, a, b):
        out = _broadcasting(np.power, "pow", a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved_arrays
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = unbroadcast(grad * b * np.power(a, b - 1), np.shape(a))
        if ctx.needs_input_grad[1]:
            base = np.asarray(a, dtype=out.dtype)
            with np.errstate(divide="ignore", invalid="ignore"):
                d = out * np.log(base)
            # 0 ** b is flat in b (PyTorch's convention), not 0 * log(0) = nan.
            gb = unbroadcast(grad * np.where(base == 0, 0, d), np.shape(b))
        return ga, gb


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return np.negative(a)

    @staticmethod
    def backward(ctx, grad):
        return -grad


def _matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # NumPy multiplies an (..., n, k) @ (k, m) product one GEMM per batch
    # entry; folding the batch into the rows makes it one large GEMM.
    if b.ndim == 2 and a.ndim > 2 and a.flags.c_contiguous:
        return (a.reshape(-1, a.shape[-1]) @ b).reshape(*a.shape[:-1], b.shape[-1])
    return np.matmul(a, b)


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
                gb = a2.reshape(-1, a2.shape[-1]).T @ g2.reshape(-1, g2.shape[-1])
            else:
                gb = unbroadcast(np.matmul(np.swapaxes(a2, -1, -2), g2), b2.shape)
            gb = gb.reshape(b.shape)
        return ga, gb


def add(a: Any, b: Any) -> Tensor:
    """Elementwise ``a + b`` with broadcasting.

    Examples
    --------
    >>> import lucid
    >>> lucid.add(lucid.tensor([1.0, 2.0]), 1).tolist()
    [2.0, 3.0]
    """
    return Add.apply(*_promote(a, b))


def sub(a: Any, b: Any) -> Tensor:
    """Elementwise ``a - b`` with broadcasting.

    Examples
    --------
    >>> import lucid
    >>> lucid.sub(lucid.tensor([1.0, 2.0]), 1).tolist()
    [0.0, 1.0]
    """
    return Sub.apply(*_promote(a, b))


def mul(a: Any, b: Any) -> Tensor:
    """Elementwise ``a * b`` with broadcasting.

    Examples
    --------
    >>> import lucid
    >>> lucid.mul(lucid.tensor([[1.0], [2.0]]), lucid.tensor([1.0, 10.0])).tolist()
    [[1.0, 10.0], [2.0, 20.0]]
    """
    return Mul.apply(*_promote(a, b))


def div(a: Any, b: Any) -> Tensor:
    """Elementwise ``a / b`` with broadcasting (true division; integers give float32).

    Examples
    --------
    >>> import lucid
    >>> lucid.div(lucid.tensor([1, 2]), 2).tolist()
    [0.5, 1.0]
    """
    a, b = _promote(a, b)
    if not (_is_float(a) or _is_float(b)):
        a = astype(a, DEFAULT_FLOAT) if isinstance(a, Tensor) else float(a)
    return Div.apply(a, b)


def pow(a: Any, b: Any) -> Tensor:
    """Elementwise ``a ** b`` with broadcasting.

    Examples
    --------
    >>> import lucid
    >>> lucid.pow(lucid.tensor([2.0, 3.0]), 2).tolist()
    [4.0, 9.0]
    """
    return Pow.apply(*_promote(a, b))


def neg(a: Any) -> Tensor:
    """Elementwise ``-a``.

    Examples
    --------
    >>> import lucid
    >>> lucid.neg(lucid.tensor([1.0, -2.0])).tolist()
    [-1.0, 2.0]
    """
    return Neg.apply(_as_tensor(a))


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with NumPy's batching and broadcasting rules (``a @ b``).

    Examples
    --------
    >>> import lucid
    >>> (lucid.ones(5, 2, 3) @ lucid.ones(3, 4)).shape
    (5, 2, 4)
    """
    a, b = _promote(a, b)
    if not (isinstance(a, Tensor) and isinstance(b, Tensor)):
        raise TypeError(f"matmul needs two tensors, got {a!r} and {b!r}; use * for scalars")
    return MatMul.apply(a, b)


# ------------------------------------------------------ unary elementwise ---


class Abs(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.abs(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_arrays
        return grad * np.sign(a)


class Exp(Function):
    @staticmethod
    def forward(ctx, a):
        out = np.exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_arrays
        return grad * out


class Log(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.log(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_arrays
        return grad / a


class Sqrt(Function):
    @staticmethod
    def forward(ctx, a):
        out = np.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_arrays
        g = grad / out
        g *= 0.5
        return g


class Rsqrt(Function):
    @staticmethod
    def forward(ctx, a):
        out = np.sqrt(a)
        np.reciprocal(out, out=out)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_arrays
        g = out * out
        g *= out
        g *= grad
        g *= -0.5
        return g


class Sin(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.sin(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_arrays
        return grad * np.cos(a)


class Cos(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.cos(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_arrays
        g = np.sin(a)
        g *= grad
        return np.negative(g, out=g)


class Tanh(Function):
    @staticmethod
    def forward(ctx, a):
        out = np.tanh(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_arrays
        g = out * out
        np.subtract(1, g, out=g)
        g *= grad
        return g


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, a):
        # exp(-a) as exp2(-a log2 e). It overflows to inf for a < -88 in
        # float32, and 1 / (1 + inf) is the correct limit 0.
        out = np.multiply(a, -_LOG2E)
        with np.errstate(over="ignore"):
            np.exp2(out, out=out)
        out += 1
        np.reciprocal(out, out=out)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_arrays
        g = np.subtract(1, out)
        g *= out
        g *= grad
        return g


class Relu(Function):
    @staticmethod
    def forward(ctx, a):
        out = np.maximum(a, 0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_arrays
        return np.where(out > 0, grad, 0)


def abs(a: Any) -> Tensor:
    """Elementwise absolute value; the gradient at 0 is 0.

    Examples
    --------
    >>> import lucid
    >>> lucid.abs(lucid.tensor([-1.5, 2.0])).tolist()
    [1.5, 2.0]
    """
    return Abs.apply(_as_tensor(a))


def exp(a: Any) -> Tensor:
    """Elementwise exponential.

    Examples
    --------
    >>> import lucid
    >>> lucid.exp(lucid.tensor([0.0])).tolist()
    [1.0]
    """
    return Exp.apply(_floating(a))


def log(a: Any) -> Tensor:
    """Elementwise natural logarithm.

    Examples
    --------
    >>> import lucid
    >>> lucid.log(lucid.tensor([1.0])).tolist()
    [0.0]
    """
    return Log.apply(_floating(a))


def sqrt(a: Any) -> Tensor:
    """Elementwise square root.

    Examples
    --------
    >>> import lucid
    >>> lucid.sqrt(lucid.tensor([4.0, 9.0])).tolist()
    [2.0, 3.0]
    """
    return Sqrt.apply(_floating(a))


def rsqrt(a: Any) -> Tensor:
    """Elementwise reciprocal square root ``1 / sqrt(a)``.

    Examples
    --------
    >>> import lucid
    >>> lucid.rsqrt(lucid.tensor([4.0])).tolist()
    [0.5]
    """
    return Rsqrt.apply(_floating(a))


def sin(a: Any) -> Tensor:
    """Elementwise sine.

    Examples
    --------
    >>> import lucid
    >>> lucid.sin(lucid.tensor([0.0])).tolist()
    [0.0]
    """
    return Sin.apply(_floating(a))


def cos(a: Any) -> Tensor:
    """Elementwise cosine.

    Examples
    --------
    >>> import lucid
    >>> lucid.cos(lucid.tensor([0.0])).tolist()
    [1.0]
    """
    return Cos.apply(_floating(a))


def tanh(a: Any) -> Tensor:
    """Elementwise hyperbolic tangent.

    Examples
    --------
    >>> import lucid
    >>> lucid.tanh(lucid.tensor([0.0])).tolist()
    [0.0]
    """
    return Tanh.apply(_floating(a))


def sigmoid(a: Any) -> Tensor:
    """Elementwise logistic function ``1 / (1 + exp(-a))``, stable for large ``|a|``.

    Examples
    --------
    >>> import lucid
    >>> lucid.sigmoid(lucid.tensor([0.0, -1000.0])).tolist()
    [0.5, 0.0]
    """
    return Sigmoid.apply(_floating(a))


def relu(a: Any) -> Tensor:
    """Elementwise ``max(a, 0)``; the gradient at 0 is 0.

    Examples
    --------
    >>> import lucid
    >>> lucid.relu(lucid.tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    """
    return Relu.apply(_as_tensor(a))


# ---------------------------------------------------------- erf and GELU ---
# GELU is the hottest elementwise op of a vision transformer, so erf and GELU
# run as a fixed sequence of in-place NumPy ufuncs over pieces of the input
# small enough that every intermediate stays in the CPU cache. When a
# gradient will be needed, the same pass also writes the derivative, which
# backward then only multiplies by: the input itself is not kept.
#
# float32 erf: erf(x) = x P(x^2) / Q(x^2) with |x| clamped to 4 (erf(4)
# rounds to 1 in float32). The coefficients were fitted for lucid by
# iteratively reweighted least squares of the linearised residual
# x P - erf Q on [0, 4]; the fit's maximum error is 2.2e-9. It is evaluated
# in float64 scratch buffers so that rounding inside the two polynomials
# does not add a few float32 ulps: the result is within 3.2e-8 of erf, i.e.
# correctly rounded or one ulp off. (erf alone is rarely hot; GELU below
# stays in float32.)
#
# float32 GELU uses Abramowitz & Stegun's formula 7.1.26 for the complement,
#     erfc(z) = t (a1 + t (a2 + t (a3 + t (a4 + t a5)))) exp(-z^2),
#     t = 1 / (1 + p z),  z >= 0,  absolute error below 1.5e-7,
# in a form free of cancellation: with q = Phi(-|x|) = erfc(|x| / sqrt 2) / 2
# and because x erf(x) is even, gelu(x) = x Phi(x) = max(x, 0) - |x| q.
# Its absolute error is 3.3e-7 on [-12, 12] (PyTorch's float32 GELU: 1.1e-6).
#
# With numba installed, float32 GELU on arrays of lucid._kernels.MIN_SIZE
# elements or more runs instead as one compiled pass on all cores
# (lucid._numba_kernels): x (1 + erf(x / sqrt 2)) / 2 with the rational erf
# above, evaluated in float32; its absolute error is 1.1e-6 on [-10, 10].
#
# float64 tensors, which gradient checks use, need erf to double precision:
# they take Python's math.erf element by element. That is about 50x slower,
# fine for the small arrays of a check, but float64 erf and GELU are not
# meant for large models.

_ERF_P = (
    1.128379177620168,
    0.18497367407045176,
    0.05432158575533721,
    0.003844412038463355,
    0.00038091015544067957,
    4.726524633827396e-06,
    -1.3406248332621225e-08,
)
_ERF_Q = (
    1.0,
    0.4972621451017993,
    0.11389451301052922,
    0.01545691549270684,
    0.0013081922223354108,
    6.349916455451973e-05,
)
_AS_P = 0.3275911
_AS_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
# For q, z = |x| / sqrt 2, so t = 1 / (1 + p' |x|) with p' = p / sqrt 2. Written
# as t = u / p' with u = 1 / (1/p' + |x|), the powers of p' move into the
# coefficients (with q's factor 1/2), which saves a pass.
_GELU_INV_P = math.sqrt(2.0) / _AS_P
_GELU_B = tuple(a / 2 * (_AS_P / math.sqrt(2.0)) ** -k for k, a in enumerate(_AS_A, start=1))
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_TANH_K = 0.044715
# 32K elements: the buffers of a piece (128 KiB each in float32) fit in L2.
_CHUNK = 1 << 15

_erf_exact = np.vectorize(math.erf, otypes=[np.float64])


def _polyval(out: np.ndarray, z: np.ndarray, coeffs: Sequence[float]) -> None:
    """``out = c0 + z * (c1 + z * (c2 + ...))``, in place (Horner's scheme)."""
    np.multiply(z, coeffs[-1], out=out)
    for c in reversed(coeffs[1:-1]):
        out += c
        out *= z
    out += coeffs[0]


def _erf_piece(x, out, deriv, xc, z, p, q):
    # xc, z, p, q are float64 scratch buffers.
    np.clip(x, -4.0, 4.0, out=xc)
    np.multiply(xc, xc, out=z)
    _polyval(p, z, _ERF_P)
    _polyval(q, z, _ERF_Q)
    p *= xc
    np.divide(p, q, out=out)
    if deriv is not None:
        np.multiply(x, x, out=deriv)
        deriv *= -_LOG2E
        np.exp2(deriv, out=deriv)
        deriv *= _TWO_OVER_SQRT_PI


def _gelu_piece(x, out, deriv, s1, s2):
    np.abs(x, out=s1)
    np.add(s1, _GELU_INV_P, out=s2)
    np.divide(1.0, s2, out=s2)  # u
    _polyval(out, s2, _GELU_B)
    out *= s2
    np.square(x, out=s2)
    s2 *= -0.5 * _LOG2E
    np.exp2(s2, out=s2)  # exp(-x^2 / 2)
    out *= s2  # q
    if deriv is not None:
        # gelu'(x) = Phi(x) + x phi(x), with Phi(x) = 1/2 + sign(x) (1/2 - q).
        np.multiply(x, s2, out=deriv)
        deriv *= _INV_SQRT_2PI
        np.subtract(0.5, out, out=s2)
        # sign(x) (1/2 - q), with 1/2 - q >= 0: give it x's sign bit, the one
        # bit where x and |x| differ. (np.copysign has no SIMD loop: 3x slower.)
        signed = s2.view(np.int32)
        np.bitwise_xor(signed, x.view(np.int32), out=signed)
        np.bitwise_xor(signed, s1.view(np.int32), out=signed)
        deriv += s2
        deriv += 0.5
    out *= s1
    np.maximum(x, 0, out=s1)
    np.subtract(s1, out, out=out)


def _gelu_tanh_piece(x, out, deriv, s1, s2):
    # gelu(x) = x h,  h = (1 + tanh(u)) / 2,  u = sqrt(2/pi) (x + k x^3)
    np.multiply(x, x, out=s1)
    np.multiply(s1, _SQRT_2_OVER_PI * _GELU_TANH_K, out=s2)
    s2 += _SQRT_2_OVER_PI
    s2 *= x
    np.tanh(s2, out=s2)
    np.add(s2, 1, out=out)
    out *= 0.5
    if deriv is not None:
        # gelu'(x) = h + x (1 - tanh(u)^2) / 2 * sqrt(2/pi) (1 + 3 k x^2)
        s1 *= 3 * _GELU_TANH_K * _SQRT_2_OVER_PI
        s1 += _SQRT_2_OVER_PI
        np.multiply(s2, s2, out=deriv)
        np.subtract(1, deriv, out=deriv)
        deriv *= s1
        deriv *= x
        deriv *= 0.5
        deriv += out
    out *= x


def _chunked(
    piece: Callable[..., None],
    x: np.ndarray,
    derivative: bool,
    scratch: int = 2,
    scratch_dtype: Any = None,
):
    """Run ``piece(x, out, deriv, *scratch)`` over cache-sized pieces of ``x``."""
    flat = np.ravel(x)
    out = np.empty_like(flat)
    deriv = np.empty_like(flat) if derivative else None
    n = builtins.min(flat.size, _CHUNK)
    buffers = [np.empty(n, scratch_dtype or flat.dtype) for _ in range(scratch)]
    for start in range(0, flat.size, _CHUNK):
        stop = builtins.min(start + _CHUNK, flat.size)
        d = None if deriv is None else deriv[start:stop]
        piece(flat[start:stop], out[start:stop], d, *(b[: stop - start] for b in buffers))
    return out.reshape(x.shape), None if deriv is None else deriv.reshape(x.shape)


def _via_float32(piece: Callable[..., None], x: np.ndarray, derivative: bool, **scratch: Any):
    """Evaluate in float32 (float16 goes up and comes back down)."""
    if x.dtype == np.float32:
        return _chunked(piece, x, derivative, **scratch)
    out, deriv = _chunked(piece, x.astype(np.float32), derivative, **scratch)
    return out.astype(x.dtype), None if deriv is None else deriv.astype(x.dtype)


def _erf(x: np.ndarray, derivative: bool):
    if x.dtype != np.float64:
        return _via_float32(_erf_piece, x, derivative, scratch=4, scratch_dtype=np.float64)
    out = _erf_exact(x)
    return out, (np.exp(-x * x) * _TWO_OVER_SQRT_PI) if derivative else None


def _gelu(x: np.ndarray, derivative: bool):
    kernels = _kernels.compiled(x)
    if kernels is not None:
        rows = x.reshape(-1, x.shape[-1])
        out = np.empty_like(rows)
        deriv = np.empty_like(rows) if derivative else None
        kernels.gelu(rows, None, out, deriv)
        return out.reshape(x.shape), None if deriv is None else deriv.reshape(x.shape)
    if x.dtype != np.float64:
        return _via_float32(_gelu_piece, x, derivative)
    cdf = 0.5 * (1.0 + _erf_exact(x / math.sqrt(2.0)))
    deriv = cdf + x * np.exp(-0.5 * x * x) * _INV_SQRT_2PI if derivative else None
    return x * cdf, deriv


def _gelu_tanh(x: np.ndarray, derivative: bool):
    if x.dtype == np.float64:
        return _chunked(_gelu_tanh_piece, x, derivative)
    return _via_float32(_gelu_tanh_piece, x, derivative)


class Erf(Function):
    @staticmethod
    def forward(ctx, a):
        out, deriv = _erf(a, derivative=bool(ctx.needs_input_grad))
        ctx.save_for_backward(deriv)
        return out

    @staticmethod
    def backward(ctx, grad):
        (deriv,) = ctx.saved_arrays
        return grad * deriv


def _times_derivative(grad: np.ndarray, deriv: np.ndarray) -> np.ndarray:
    """``grad * deriv`` for arrays of one shape: the backward of GELU and its fused forms."""
    kernels = _kernels.compiled(grad, deriv)
    if kernels is None or grad.shape != deriv.shape:
        return grad * deriv
    out = np.empty_like(deriv)
    rows = (-1, deriv.shape[-1])
    kernels.multiply(grad.reshape(rows), deriv.reshape(rows), out.reshape(rows))
    return out


class Gelu(Function):
    @staticmethod
    def forward(ctx, a, *, approximate):
        kernel = _gelu_tanh if approximate == "tanh" else _gelu
        out, deriv = kernel(a, derivative=bool(ctx.needs_input_grad))
        ctx.save_for_backward(deriv)
        return out

    @staticmethod
    def backward(ctx, grad):
        (deriv,) = ctx.saved_arrays
        return _times_derivative(grad, deriv)


def erf(a: Any) -> Tensor:
    """Elementwise error function (in float32, within one ulp).

    Examples
    --------
    >>> import lucid
    >>> [round(v, 4) for v in lucid.erf(lucid.tensor([0.0, 1.0])).tolist()]
    [0.0, 0.8427]
    """
    return Erf.apply(_floating(a))


def gelu(a: Any, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit ``x * Phi(x)``.

    Parameters
    ----------
    a:
        Input tensor.
    approximate:
        ``"none"`` for the exact form with the normal CDF, ``"tanh"`` for
        ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``, as in PyTorch.

    Examples
    --------
    >>> import lucid
    >>> [round(v, 4) for v in lucid.gelu(lucid.tensor([-1.0, 1.0])).tolist()]
    [-0.1587, 0.8413]
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(f'approximate must be "none" or "tanh", got {approximate!r}')
    return Gelu.apply(_floating(a), approximate=approximate)


# ------------------------------------------ clip, maximum, minimum, where ---


class Clip(Function):
    @staticmethod
    def forward(ctx, a, *, lo, hi):
        ctx.lo, ctx.hi = lo, hi
        ctx.save_for_backward(a)
        return np.clip(a, lo, hi)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_arrays
        # Inside the closed interval the gradient passes, as in PyTorch's clamp.
        if ctx.lo is None:
            inside = a <= ctx.hi
        elif ctx.hi is None:
            inside = a >= ctx.lo
        else:
            inside = (a >= ctx.lo) & (a <= ctx.hi)
        return np.where(inside, grad, 0)


def _split_ties(grad: np.ndarray, a: Any, b: Any, ctx: Any, a_wins: np.ndarray):
    """Gradients of maximum/minimum: the winner takes it all, ties share it evenly."""
    tie = np.equal(a, b)
    shared = np.where(tie, grad * 0.5, grad)
    ga = unbroadcast(np.where(a_wins | tie, shared, 0), np.shape(a))
    gb = unbroadcast(np.where(a_wins, 0, shared), np.shape(b))
    return (ga if ctx.needs_input_grad[0] else None, gb if ctx.needs_input_grad[1] else None)


class Maximum(Function):
    @staticmethod
    def forward(ctx, a, b):
        out = _broadcasting(np.maximum, "maximum", a, b)
        ctx.save_for_backward(a, b)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_arrays
        return _split_ties(grad, a, b, ctx, np.greater(a, b))


class Minimum(Function):
    @staticmethod
    def forward(ctx, a, b):
        out = _broadcasting(np.minimum, "minimum", a, b)
        ctx.save_for_backward(a, b)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_arrays
        return _split_ties(grad, a, b, ctx, np.less(a, b))


class Where(Function):
    @staticmethod
    def forward(ctx, a, b, *, cond):
        ctx.cond = cond
        return _broadcasting(np.where, "where", cond, a, b)

    @staticmethod
    def backward(ctx, grad):
        cond, (sa, sb) = ctx.cond, ctx.input_shapes
        ga = unbroadcast(np.where(cond, grad, 0), sa) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(np.where(cond, 0, grad), sb) if ctx.needs_input_grad[1] else None
        return ga, gb


def clip(a: Any, min: Any = None, max: Any = None) -> Tensor:
    """Limit the values of ``a`` to ``[min, max]``; either bound may be omitted.

    The gradient passes where ``min <= a <= max`` and is 0 elsewhere. Tensor
    bounds broadcast like ``maximum``/``minimum``.

    Examples
    --------
    >>> import lucid
    >>> lucid.clip(lucid.tensor([-2.0, 0.5, 3.0]), 0, 1).tolist()
    [0.0, 0.5, 1.0]
    """
    if min is None and max is None:
        raise ValueError("clip needs at least one of min and max")
    a = _as_tensor(a)
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = a if min is None else maximum(a, min)
        return out if max is None else minimum(out, max)
    bounds = [v.item() if isinstance(v, np.generic) else v for v in (min, max)]
    if a.data.dtype.kind != "f" and any(isinstance(v, float) for v in bounds):
        a = astype(a, DEFAULT_FLOAT)
    return Clip.apply(a, lo=bounds[0], hi=bounds[1])


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum with broadcasting; ties split the gradient evenly.

    Examples
    --------
    >>> import lucid
    >>> lucid.maximum(lucid.tensor([1.0, 5.0]), 2.0).tolist()
    [2.0, 5.0]
    """
    return Maximum.apply(*_promote(a, b))


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum with broadcasting; ties split the gradient evenly.

    Examples
    --------
    >>> import lucid
    >>> lucid.minimum(lucid.tensor([1.0, 5.0]), 2.0).tolist()
    [1.0, 2.0]
    """
    return Minimum.apply(*_promote(a, b))


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """Pick ``a`` where ``cond`` is true and ``b`` elsewhere, broadcasting all three.

    Examples
    --------
    >>> import lucid
    >>> x = lucid.tensor([-1.0, 2.0])
    >>> lucid.where(x > 0, x, 0.0).tolist()
    [0.0, 2.0]
    """
    c = cond.data if isinstance(cond, Tensor) else np.asarray(cond)
    if c.dtype != np.bool_:
        raise TypeError(f"where needs a bool condition, got dtype {c.dtype}; compare first (x > 0)")
    a, b = _promote(a, b)
    if not (isinstance(a, Tensor) or isinstance(b, Tensor)):
        a = Tensor(a)
    return Where.apply(a, b, cond=c)


# ---------------------------------------------------------- reductions ---


class Sum(Function):
    @staticmethod
    def forward(ctx, a, *, axes, keepdims):
        ctx.shape, ctx.axes, ctx.keepdims = a.shape, axes, keepdims
        return sum_axes(a, axes, keepdims)

    @staticmethod
    def backward(ctx, grad):
        # A read-only broadcast view: no need to write out copies of grad.
        return np.broadcast_to(_keepdims_grad(grad, ctx.axes, ctx.keepdims), ctx.shape)


class Mean(Function):
    @staticmethod
    def forward(ctx, a, *, axes, keepdims):
        ctx.shape, ctx.axes, ctx.keepdims = a.shape, axes, keepdims
        ctx.count = _count(a.shape, axes)
        return np.true_divide(sum_axes(a, axes, keepdims), ctx.count)

    @staticmethod
    def backward(ctx, grad):
        g = grad / np.asarray(ctx.count, dtype=grad.dtype)
        return np.broadcast_to(_keepdims_grad(g, ctx.axes, ctx.keepdims), ctx.shape)


class Var(Function):
    @staticmethod
    def forward(ctx, a, *, axes, correction, keepdims):
        n = _count(a.shape, axes)
        dof = n - correction
        if dof <= 0:
            warnings.warn(
                f"var over {n} elements with correction={correction} has {dof} degrees of "
                "freedom; the result is inf or nan",
                RuntimeWarning,
                stacklevel=4,
            )
        mean = np.true_divide(sum_axes(a, axes, keepdims=True), n)
        dev = np.subtract(a, mean)
        squares = unbroadcast_product(dev, dev, mean.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.true_divide(squares, builtins.max(dof, 0))
        out = out if keepdims else np.squeeze(out, axes)
        ctx.axes, ctx.keepdims, ctx.dof = axes, keepdims, dof
        ctx.save_for_backward(a, mean)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, mean = ctx.saved_arrays
        scale = 2.0 / ctx.dof if ctx.dof > 0 else math.nan
        g = _keepdims_grad(grad, ctx.axes, ctx.keepdims) * scale
        dev = np.subtract(a, mean)
        dev *= g
        return dev


class Max(Function):
    _reduce = staticmethod(np.max)

    @staticmethod
    def forward(ctx, a, *, axes, keepdims):
        if a.size == 0:
            raise ValueError(
                f"{type(ctx).__name__.lower()} of an empty tensor (shape {a.shape!r}) has no value"
            )
        out = np.asarray(ctx._reduce(a, axis=axes, keepdims=keepdims))
        ctx.axes, ctx.keepdims = axes, keepdims
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_arrays
        # Every element equal to the extreme value gets an equal share, as
        # with PyTorch's amax/amin.
        hit = a == _keepdims_grad(out, ctx.axes, ctx.keepdims)
        count = hit.sum(axis=ctx.axes, keepdims=True, dtype=grad.dtype)
        return np.where(hit, _keepdims_grad(grad, ctx.axes, ctx.keepdims) / count, 0)


class Min(Max):
    _reduce = staticmethod(np.min)


class LogSumExp(Function):
    @staticmethod
    def forward(ctx, a, *, axes, keepdims):
        m = np.max(a, axis=axes, keepdims=True)
        # A slice of only -inf (or an inf) must not produce inf - inf = nan.
        m = np.where(np.isfinite(m), m, 0)
        e = np.subtract(a, m)
        np.exp(e, out=e)
        out = np.log(sum_axes(e, axes, keepdims=True))
        out += m
        out = out if keepdims else np.squeeze(out, axes)
        ctx.axes, ctx.keepdims = axes, keepdims
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_arrays
        g = np.subtract(a, _keepdims_grad(out, ctx.axes, ctx.keepdims))
        np.exp(g, out=g)
        g *= _keepdims_grad(grad, ctx.axes, ctx.keepdims)
        return g


class Softmax(Function):
    @staticmethod
    def forward(ctx, a, *, axis):
        out = np.subtract(a, np.max(a, axis=axis, keepdims=True))
        np.exp(out, out=out)
        out /= sum_axes(out, (axis,), keepdims=True)
        ctx.axis = axis
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_arrays
        g = grad * out
        np.subtract(grad, sum_axes(g, (ctx.axis,), keepdims=True), out=g)
        g *= out
        return g


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, a, *, axis):
        out = np.subtract(a, np.max(a, axis=axis, keepdims=True))
        out -= np.log(sum_axes(np.exp(out), (axis,), keepdims=True))
        ctx.axis = axis
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_arrays
        g = np.exp(out)
        g *= sum_axes(grad, (ctx.axis,), keepdims=True)
        return np.subtract(grad, g, out=g)


def sum(a: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis`` (an int, a tuple, or ``None`` for all axes).

    Examples
    --------
    >>> import lucid
    >>> lucid.sum(lucid.ones(2, 3), axis=1).tolist()
    [3.0, 3.0]
    """
    a = _as_tensor(a)
    return Sum.apply(a, axes=_norm_axis(axis, a.ndim), keepdims=keepdims)


def mean(a: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis`` (an int, a tuple, or ``None`` for all axes).

    Examples
    --------
    >>> import lucid
    >>> lucid.mean(lucid.tensor([[1.0, 2.0], [3.0, 5.0]]), axis=0).tolist()
    [2.0, 3.5]
    """
    a = _floating(a)
    return Mean.apply(a, axes=_norm_axis(axis, a.ndim), keepdims=keepdims)


def var(a: Any, axis: Axis = None, *, correction: int = 1, keepdims: bool = False) -> Tensor:
    """Variance over ``axis``, dividing by ``N - correction`` (1: unbiased, 0: population).

    Examples
    --------
    >>> import lucid
    >>> x = lucid.tensor([1.0, 2.0, 3.0, 4.0])
    >>> lucid.var(x).item(), lucid.var(x, correction=0).item()
    (1.6666666..., 1.25)
    """
    a = _floating(a)
    return Var.apply(a, axes=_norm_axis(axis, a.ndim), correction=correction, keepdims=keepdims)


def std(a: Any, axis: Axis = None, *, correction: int = 1, keepdims: bool = False) -> Tensor:
    """Standard deviation over ``axis``: the square root of :func:`var`.

    Examples
    --------
    >>> import lucid
    >>> lucid.std(lucid.tensor([1.0, 3.0]), correction=0).item()
    1.0
    """
    return sqrt(var(a, axis, correction=correction, keepdims=keepdims))


def max(a: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Largest value over ``axis``; ties share the gradient evenly (PyTorch's ``amax``).

    Examples
    --------
    >>> import lucid
    >>> lucid.max(lucid.tensor([[1.0, 4.0], [3.0, 2.0]]), axis=1).tolist()
    [4.0, 3.0]
    """
    a = _as_tensor(a)
    return Max.apply(a, axes=_norm_axis(axis, a.ndim), keepdims=keepdims)


def min(a: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Smallest value over ``axis``; ties share the gradient evenly (PyTorch's ``amin``).

    Examples
    --------
    >>> import lucid
    >>> lucid.min(lucid.tensor([[1.0, 4.0], [3.0, 2.0]]), axis=1).tolist()
    [1.0, 2.0]
    """
    a = _as_tensor(a)
    return Min.apply(a, axes=_norm_axis(axis, a.ndim), keepdims=keepdims)


def _arg_reduce(fn: Callable[..., Any], a: Any, axis: int | None, keepdims: bool) -> Tensor:
    a = _as_tensor(a)
    if a.size == 0:
        raise ValueError(f"{fn.__name__} of an empty tensor (shape {a.shape!r}) has no value")
    if axis is not None:
        axis = _norm_dim(axis, builtins.max(a.ndim, 1))
    out = fn(a.data, axis=axis, keepdims=keepdims)
    return Tensor._from_array(np.asarray(out, dtype=np.int64))


def argmax(a: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the largest value (over the flattened tensor when ``axis`` is None); int64.

    Examples
    --------
    >>> import lucid
    >>> lucid.argmax(lucid.tensor([[1.0, 4.0], [3.0, 2.0]]), axis=1).tolist()
    [1, 0]
    """
    return _arg_reduce(np.argmax, a, axis, keepdims)


def argmin(a: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the smallest value (over the flattened tensor when ``axis`` is None); int64.

    Examples
    --------
    >>> import lucid
    >>> lucid.argmin(lucid.tensor([[1.0, 4.0], [3.0, 2.0]]), axis=1).tolist()
    [0, 1]
    """
    return _arg_reduce(np.argmin, a, axis, keepdims)


def logsumexp(a: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """``log(sum(exp(a)))`` over ``axis``, computed without overflow.

    Examples
    --------
    >>> import lucid
    >>> lucid.logsumexp(lucid.tensor([1000.0, 1000.0])).item()
    1000.693...
    """
    a = _floating(a)
    return LogSumExp.apply(a, axes=_norm_axis(axis, a.ndim), keepdims=keepdims)


def softmax(a: Any, axis: int = -1) -> Tensor:
    """``exp(a) / sum(exp(a))`` along ``axis``, shifted by the maximum for stability.

    Examples
    --------
    >>> import lucid
    >>> lucid.softmax(lucid.tensor([0.0, 0.0, 1000.0])).tolist()
    [0.0, 0.0, 1.0]
    """
    a = _floating(a)
    return Softmax.apply(a, axis=_norm_dim(axis, builtins.max(a.ndim, 1)))


def log_softmax(a: Any, axis: int = -1) -> Tensor:
    """``a - logsumexp(a)`` along ``axis``, stable for large inputs.

    Examples
    --------
    >>> import lucid
    >>> lucid.log_softmax(lucid.tensor([0.0, 1000.0])).tolist()
    [-1000.0, 0.0]
    """
    a = _floating(a)
    return LogSoftmax.apply(a, axis=_norm_dim(axis, builtins.max(a.ndim, 1)))


# --------------------------------------------------------------- shape ---


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


class Permute(Function):
    _is_view = True

    @staticmethod
    def forward(ctx, a, *, axes):
        ctx.axes = axes
        return np.transpose(a, axes)

    @staticmethod
    def backward(ctx, grad):
        return np.transpose(grad, np.argsort(ctx.axes))


class Expand(Function):
    _is_view = True

    @staticmethod
    def forward(ctx, a, *, shape):
        ctx.shape = a.shape
        return np.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, grad):
        return unbroadcast(grad, ctx.shape)


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


class Cat(Function):
    @staticmethod
    def forward(ctx, *arrays, axis):
        ctx.axis = axis
        ctx.bounds = np.cumsum([x.shape[axis] for x in arrays])[:-1]
        return np.concatenate(arrays, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        return tuple(np.split(grad, ctx.bounds, axis=ctx.axis))


class Stack(Function):
    @staticmethod
    def forward(ctx, *arrays, axis):
        ctx.axis = axis
        return np.stack(arrays, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        return tuple(np.moveaxis(grad, ctx.axis, 0))


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


def reshape(a: Any, shape: int | Sequence[int]) -> Tensor:
    """The same data in a new shape; one dimension may be ``-1``.

    Examples
    --------
    >>> import lucid
    >>> lucid.reshape(lucid.arange(6), (2, -1)).shape
    (2, 3)
    """
    shape = (shape,) if isinstance(shape, int | np.integer) else shape
    return Reshape.apply(_as_tensor(a), shape=shape_arg((shape,)))


def permute(a: Any, axes: Sequence[int]) -> Tensor:
    """Reorder the axes of ``a``; ``axes`` names each axis once.

    Examples
    --------
    >>> import lucid
    >>> lucid.permute(lucid.zeros(2, 3, 4), (2, 0, 1)).shape
    (4, 2, 3)
    """
    a = _as_tensor(a)
    axes = shape_arg((axes,))
    if len(axes) != a.ndim or sorted(ax % builtins.max(a.ndim, 1) for ax in axes) != list(
        range(a.ndim)
    ):
        raise ValueError(
            f"permute needs each of the {a.ndim} axes once, got {axes!r} for shape {a.shape!r}"
        )
    return Permute.apply(a, axes=tuple(ax % a.ndim for ax in axes))


def swapaxes(a: Any, axis1: int, axis2: int) -> Tensor:
    """Exchange two axes.

    Examples
    --------
    >>> import lucid
    >>> lucid.swapaxes(lucid.zeros(2, 3, 4), 0, -1).shape
    (4, 3, 2)
    """
    a = _as_tensor(a)
    axes = list(range(a.ndim))
    i, j = _norm_dim(axis1, a.ndim), _norm_dim(axis2, a.ndim)
    axes[i], axes[j] = axes[j], axes[i]
    return Permute.apply(a, axes=tuple(axes))


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
    a = _as_tensor(a)
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
    a = _as_tensor(a)
    if a.ndim == 0:
        return reshape(a, (1,))
    s = _norm_dim(start_dim, a.ndim, "start_dim")
    e = _norm_dim(end_dim, a.ndim, "end_dim")
    if s > e:
        raise ValueError(
            f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {a.shape!r}"
        )
    return reshape(a, (*a.shape[:s], math.prod(a.shape[s : e + 1]), *a.shape[e + 1 :]))


def squeeze(a: Any, axis: Axis = None) -> Tensor:
    """Drop axes of size 1 (all of them, or those in ``axis``).

    As in PyTorch, naming an axis whose size is not 1 leaves it in place.

    Examples
    --------
    >>> import lucid
    >>> lucid.squeeze(lucid.zeros(2, 1, 3, 1)).shape
    (2, 3)
    >>> lucid.squeeze(lucid.zeros(2, 1, 3), 0).shape
    (2, 1, 3)
    """
    a = _as_tensor(a)
    axes = set(_norm_axis(axis, a.ndim))
    return reshape(a, tuple(n for i, n in enumerate(a.shape) if n != 1 or i not in axes))


def unsqueeze(a: Any, axis: int) -> Tensor:
    """Insert an axis of size 1 at position ``axis`` (``-1`` appends).

    Examples
    --------
    >>> import lucid
    >>> lucid.unsqueeze(lucid.zeros(2, 3), 1).shape
    (2, 1, 3)
    """
    a = _as_tensor(a)
    i = _norm_dim(axis, a.ndim + 1)
    return reshape(a, (*a.shape[:i], 1, *a.shape[i:]))


def expand(a: Any, shape: Sequence[int]) -> Tensor:
    """Broadcast ``a`` to ``shape`` without copying; ``-1`` keeps a size, new axes go in front.

    The result is a read-only view.

    Examples
    --------
    >>> import lucid
    >>> lucid.expand(lucid.zeros(3, 1), (2, -1, 4)).shape
    (2, 3, 4)
    """
    a = _as_tensor(a)
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
    return Tile.apply(_as_tensor(a), reps=reps)


def _tensor_list(op: str, tensors: Sequence[Any]) -> list[Tensor]:
    if isinstance(tensors, Tensor) or not isinstance(tensors, Sequence) or not tensors:
        raise TypeError(f"{op} needs a non-empty list or tuple of tensors, got {tensors!r}")
    return [_as_tensor(t) for t in tensors]


def cat(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis; all other sizes must match.

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
    ax = _norm_dim(axis, ndim)
    rest = {s[:ax] + s[ax + 1 :] for s in shapes}
    if len(rest) > 1:
        raise ValueError(f"cat along axis {axis}: all other sizes must match, got shapes {shapes}")
    return Cat.apply(*ts, axis=ax)


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors of one shape along a new axis.

    Examples
    --------
    >>> import lucid
    >>> lucid.stack([lucid.zeros(2, 3), lucid.ones(2, 3)], axis=1).shape
    (2, 2, 3)
    """
    ts = _tensor_list("stack", tensors)
    shapes = [t.shape for t in ts]
    if len(set(shapes)) > 1:
        raise ValueError(f"stack needs tensors of one shape, got {shapes}")
    return Stack.apply(*ts, axis=_norm_dim(axis, ts[0].ndim + 1))


def split(a: Any, split_size_or_sections: int | Sequence[int], axis: int = 0) -> list[Tensor]:
    """Cut ``a`` along ``axis`` into pieces of a given size (the last may be smaller) or sizes.

    Examples
    --------
    >>> import lucid
    >>> [p.shape for p in lucid.split(lucid.zeros(5, 2), 2)]
    [(2, 2), (2, 2), (1, 2)]
    >>> [p.shape for p in lucid.split(lucid.zeros(5, 2), [1, 4])]
    [(1, 2), (4, 2)]
    """
    a = _as_tensor(a)
    ax = _norm_dim(axis, a.ndim)
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
                f"axis {axis} of shape {a.shape!r}"
            )
    pieces, start = [], 0
    for s in sizes:
        pieces.append(getitem(a, (slice(None),) * ax + (slice(start, start + s),)))
        start += s
    return pieces


def chunk(a: Any, chunks: int, axis: int = 0) -> list[Tensor]:
    """Cut ``a`` into ``chunks`` nearly equal pieces along ``axis`` (PyTorch's rule: fewer
    pieces when the size does not divide evenly).

    Examples
    --------
    >>> import lucid
    >>> [p.shape[0] for p in lucid.chunk(lucid.zeros(6, 1), 3)]
    [2, 2, 2]
    """
    if not isinstance(chunks, int | np.integer) or chunks <= 0:
        raise ValueError(f"chunks must be a positive integer, got {chunks!r}")
    a = _as_tensor(a)
    n = a.shape[_norm_dim(axis, a.ndim)]
    return split(a, builtins.max(-(-n // int(chunks)), 1), axis)


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
    a = _as_tensor(a)
    return Pad.apply(a, pairs=_pad_pairs(pad_width, a.ndim), value=value)


# ------------------------------------------------------------ indexing ---


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


# -------------------------------------------------------------- dtypes ---


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
    a = _as_tensor(a)
    return AsType.apply(a, dtype=a.dtype)


# -------------------------------------------------- comparison (no grad) ---


def compare(ufunc: Callable[..., np.ndarray], a: Any, b: Any) -> Tensor:
    """Apply a comparison or logical ufunc; the result is a bool tensor with no gradient."""
    a_arr = a.data if isinstance(a, Tensor) else a if np.isscalar(a) else _to_array(a)
    b_arr = b.data if isinstance(b, Tensor) else b if np.isscalar(b) else _to_array(b)
    return Tensor._from_array(np.asarray(_broadcasting(ufunc, ufunc.__name__, a_arr, b_arr)))


def logical_not(a: Any) -> Tensor:
    """Elementwise logical not (``~a``) of a bool tensor.

    Examples
    --------
    >>> import lucid
    >>> lucid.logical_not(lucid.tensor([True, False])).tolist()
    [False, True]
    """
    a = _as_tensor(a)
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


# ------------------------------------------------------------- aliases ---
# The NumPy and PyTorch spellings of the same operations.

concatenate = cat
clamp = clip
broadcast_to = expand
subtract = sub
multiply = mul
divide = div
amax = max
amin = min
