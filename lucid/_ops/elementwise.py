"""Elementwise functions: exp, log, the activations, erf and GELU, clip, maximum, where."""

from __future__ import annotations

from typing import Any

import numpy as np

from lucid import _kernels
from lucid._kernels import unbroadcast
from lucid._ops._args import (
    as_tensor,
    broadcasting,
)
from lucid._ops.dtypes import astype, floating, promote
from lucid._tensor import DEFAULT_FLOAT, Function, Tensor


class Abs(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.abs(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_arrays
        return grad * np.sign(a)


def abs(a: Any) -> Tensor:
    """Elementwise absolute value; the gradient at 0 is 0.

    Examples
    --------
    >>> import lucid
    >>> lucid.abs(lucid.tensor([-1.5, 2.0])).tolist()
    [1.5, 2.0]
    """
    return Abs.apply(as_tensor(a))


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


def exp(a: Any) -> Tensor:
    """Elementwise exponential.

    Examples
    --------
    >>> import lucid
    >>> lucid.exp(lucid.tensor([0.0])).tolist()
    [1.0]
    """
    return Exp.apply(floating(a))


class Log(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.log(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_arrays
        return grad / a


def log(a: Any) -> Tensor:
    """Elementwise natural logarithm.

    Examples
    --------
    >>> import lucid
    >>> lucid.log(lucid.tensor([1.0])).tolist()
    [0.0]
    """
    return Log.apply(floating(a))


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


def sqrt(a: Any) -> Tensor:
    """Elementwise square root.

    Examples
    --------
    >>> import lucid
    >>> lucid.sqrt(lucid.tensor([4.0, 9.0])).tolist()
    [2.0, 3.0]
    """
    return Sqrt.apply(floating(a))


class Rsqrt(Function):
    @staticmethod
    def forward(ctx, a):
        # Explicit out= arrays here and below: on a 0-d input a ufunc returns
        # a NumPy scalar, which cannot be written in place.
        out = np.sqrt(a, out=np.empty_like(a))
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


def rsqrt(a: Any) -> Tensor:
    """Elementwise reciprocal square root ``1 / sqrt(a)``.

    Examples
    --------
    >>> import lucid
    >>> lucid.rsqrt(lucid.tensor([4.0])).tolist()
    [0.5]
    """
    return Rsqrt.apply(floating(a))


class Sin(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.sin(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_arrays
        return grad * np.cos(a)


def sin(a: Any) -> Tensor:
    """Elementwise sine.

    Examples
    --------
    >>> import lucid
    >>> lucid.sin(lucid.tensor([0.0])).tolist()
    [0.0]
    """
    return Sin.apply(floating(a))


class Cos(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.cos(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_arrays
        g = np.sin(a, out=np.empty_like(a))
        g *= grad
        return np.negative(g, out=g)


def cos(a: Any) -> Tensor:
    """Elementwise cosine.

    Examples
    --------
    >>> import lucid
    >>> lucid.cos(lucid.tensor([0.0])).tolist()
    [1.0]
    """
    return Cos.apply(floating(a))


class Tanh(Function):
    @staticmethod
    def forward(ctx, a):
        out = np.tanh(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_arrays
        g = np.multiply(out, out, out=np.empty_like(out))
        np.subtract(1, g, out=g)
        g *= grad
        return g


def tanh(a: Any) -> Tensor:
    """Elementwise hyperbolic tangent.

    Examples
    --------
    >>> import lucid
    >>> lucid.tanh(lucid.tensor([0.0])).tolist()
    [0.0]
    """
    return Tanh.apply(floating(a))


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, a):
        # exp(-a) as exp2(-a log2 e). It overflows to inf for a < -88 in
        # float32, and 1 / (1 + inf) is the correct limit 0.
        out = np.multiply(a, -_kernels.LOG2E, out=np.empty_like(a))
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


def sigmoid(a: Any) -> Tensor:
    """Elementwise logistic function ``1 / (1 + exp(-a))``, stable for large ``|a|``.

    Examples
    --------
    >>> import lucid
    >>> lucid.sigmoid(lucid.tensor([0.0, -1000.0])).tolist()
    [0.5, 0.0]
    """
    return Sigmoid.apply(floating(a))


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


def relu(a: Any) -> Tensor:
    """Elementwise ``max(a, 0)``; the gradient at 0 is 0.

    Examples
    --------
    >>> import lucid
    >>> lucid.relu(lucid.tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    """
    return Relu.apply(as_tensor(a))


class Erf(Function):
    @staticmethod
    def forward(ctx, a):
        out, deriv = _kernels.erf(a, derivative=bool(ctx.needs_input_grad))
        ctx.save_for_backward(deriv)
        return out

    @staticmethod
    def backward(ctx, grad):
        (deriv,) = ctx.saved_arrays
        return grad * deriv


def erf(a: Any) -> Tensor:
    """Elementwise error function (in float32, within one ulp).

    Examples
    --------
    >>> import lucid
    >>> [round(v, 4) for v in lucid.erf(lucid.tensor([0.0, 1.0])).tolist()]
    [0.0, 0.8427]
    """
    return Erf.apply(floating(a))


class Gelu(Function):
    @staticmethod
    def forward(ctx, a, *, approximate):
        ctx.exact = approximate != "tanh"
        if ctx.exact:
            # The input is kept and the derivative computed in backward.
            ctx.save_for_backward(a)
            return _kernels.gelu(a, derivative=False)[0]
        out, deriv = _kernels.gelu_tanh(a, derivative=bool(ctx.needs_input_grad))
        ctx.save_for_backward(deriv)
        return out

    @staticmethod
    def backward(ctx, grad):
        (kept,) = ctx.saved_arrays
        if ctx.exact:
            return _kernels.gelu_backward(grad, kept)
        return _kernels.times_derivative(grad, kept)


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
    return Gelu.apply(floating(a), approximate=approximate)


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
    a = as_tensor(a)
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = a if min is None else maximum(a, min)
        return out if max is None else minimum(out, max)
    bounds = [v.item() if isinstance(v, np.generic) else v for v in (min, max)]
    if a.data.dtype.kind != "f" and any(isinstance(v, float) for v in bounds):
        a = astype(a, DEFAULT_FLOAT)
    return Clip.apply(a, lo=bounds[0], hi=bounds[1])


clamp = clip


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
        out = broadcasting(np.maximum, "maximum", a, b)
        ctx.save_for_backward(a, b)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_arrays
        return _split_ties(grad, a, b, ctx, np.greater(a, b))


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum with broadcasting; ties split the gradient evenly.

    Examples
    --------
    >>> import lucid
    >>> lucid.maximum(lucid.tensor([1.0, 5.0]), 2.0).tolist()
    [2.0, 5.0]
    """
    return Maximum.apply(*promote(a, b))


class Minimum(Function):
    @staticmethod
    def forward(ctx, a, b):
        out = broadcasting(np.minimum, "minimum", a, b)
        ctx.save_for_backward(a, b)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_arrays
        return _split_ties(grad, a, b, ctx, np.less(a, b))


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum with broadcasting; ties split the gradient evenly.

    Examples
    --------
    >>> import lucid
    >>> lucid.minimum(lucid.tensor([1.0, 5.0]), 2.0).tolist()
    [1.0, 2.0]
    """
    return Minimum.apply(*promote(a, b))


class Where(Function):
    @staticmethod
    def forward(ctx, a, b, *, cond):
        ctx.cond = cond
        return broadcasting(np.where, "where", cond, a, b)

    @staticmethod
    def backward(ctx, grad):
        cond, (sa, sb) = ctx.cond, ctx.input_shapes
        ga = unbroadcast(np.where(cond, grad, 0), sa) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(np.where(cond, 0, grad), sb) if ctx.needs_input_grad[1] else None
        return ga, gb


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
    a, b = promote(a, b)
    if not (isinstance(a, Tensor) or isinstance(b, Tensor)):
        a = Tensor(a)
    return Where.apply(a, b, cond=c)
