"""float32 erf and GELU on arrays, with their derivatives in the same pass."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from lucid._kernels._compiled import compiled

# NumPy's exp2 has a faster SIMD loop than its exp: hot paths use
# exp(y) = exp2(y log2 e), folding log2 e into a multiplication they make anyway.
LOG2E = math.log2(math.e)


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
# (lucid._kernels._numba): x (1 + erf(x / sqrt 2)) / 2 with the rational erf
# above, evaluated in float32; its absolute error is 1.1e-6 on [-10, 10].
#
# At the edges every path gives what x Phi(x) and its derivative give in IEEE
# arithmetic, as PyTorch does in float64 and for the tanh form: gelu(+inf) =
# +inf, gelu(-inf) = -inf * 0 = NaN, NaN stays NaN, and the derivative is NaN
# at both infinities. (PyTorch's own float32 exact GELU returns NaN for +inf
# on arrays of two or more elements and +inf on one; here a result never
# depends on the array's size.) Intermediate overflows such as x^2 for
# |x| > 1.8e19 are expected there and raise no NumPy warnings.
#
# float64 tensors, which gradient checks use, need erf to double precision:
# they take Python's math.erf element by element. That is about 50x slower,
# fine for the small arrays of a check, but float64 erf and GELU are not
# meant for large models.

ERF_P = (
    1.128379177620168,
    0.18497367407045176,
    0.05432158575533721,
    0.003844412038463355,
    0.00038091015544067957,
    4.726524633827396e-06,
    -1.3406248332621225e-08,
)
ERF_Q = (
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
# Beyond 20, exp(-x^2 / 2) underflows float32 to 0, so q is 0.
_GELU_BIG = 1e4
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
    _polyval(p, z, ERF_P)
    _polyval(q, z, ERF_Q)
    p *= xc
    np.divide(p, q, out=out)
    if deriv is not None:
        np.multiply(x, x, out=deriv)
        deriv *= -LOG2E
        np.exp2(deriv, out=deriv)
        deriv *= _TWO_OVER_SQRT_PI


def _gelu_piece(x, out, deriv, s1, s2):
    np.abs(x, out=s1)
    np.add(s1, _GELU_INV_P, out=s2)
    np.divide(1.0, s2, out=s2)  # u
    _polyval(out, s2, _GELU_B)
    out *= s2
    np.square(x, out=s2)
    s2 *= -0.5 * LOG2E
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
    # |x| q would be inf * 0 = NaN at x = +inf, where gelu is +inf: q is 0 long
    # before _GELU_BIG, so |min(x, _GELU_BIG)| changes nothing else. At x = -inf
    # the product stays NaN, the value of x Phi(x) = -inf * 0 (and PyTorch's).
    np.minimum(x, _GELU_BIG, out=s1)
    np.abs(s1, out=s1)
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
    n = min(flat.size, _CHUNK)
    buffers = [np.empty(n, scratch_dtype or flat.dtype) for _ in range(scratch)]
    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, flat.size, _CHUNK):
            stop = min(start + _CHUNK, flat.size)
            d = None if deriv is None else deriv[start:stop]
            piece(flat[start:stop], out[start:stop], d, *(b[: stop - start] for b in buffers))
    return out.reshape(x.shape), None if deriv is None else deriv.reshape(x.shape)


def _via_float32(piece: Callable[..., None], x: np.ndarray, derivative: bool, **scratch: Any):
    """Evaluate in float32 (float16 goes up and comes back down)."""
    if x.dtype == np.float32:
        return _chunked(piece, x, derivative, **scratch)
    out, deriv = _chunked(piece, x.astype(np.float32), derivative, **scratch)
    return out.astype(x.dtype), None if deriv is None else deriv.astype(x.dtype)


def erf(x: np.ndarray, derivative: bool):
    if x.dtype != np.float64:
        return _via_float32(_erf_piece, x, derivative, scratch=4, scratch_dtype=np.float64)
    out = _erf_exact(x)
    return out, (np.exp(-x * x) * _TWO_OVER_SQRT_PI) if derivative else None


def gelu(x: np.ndarray, derivative: bool):
    kernels = compiled(x)
    if kernels is not None:
        rows = x.reshape(-1, x.shape[-1])
        out = np.empty_like(rows)
        deriv = np.empty_like(rows) if derivative else None
        kernels.gelu(rows, None, out, deriv)
        return out.reshape(x.shape), None if deriv is None else deriv.reshape(x.shape)
    if x.dtype != np.float64:
        return _via_float32(_gelu_piece, x, derivative)
    cdf = 0.5 * (1.0 + _erf_exact(x / math.sqrt(2.0)))
    with np.errstate(over="ignore", invalid="ignore"):
        deriv = cdf + x * np.exp(-0.5 * x * x) * _INV_SQRT_2PI if derivative else None
        return x * cdf, deriv


def gelu_backward(grad: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``grad * gelu'(x)``: GELU's backward from its input, as PyTorch keeps it.

    Keeping the input (which the graph usually holds anyway) instead of a
    derivative array saves one array of the activation's size per GELU.
    """
    kernels = compiled(grad, x)
    if kernels is None or grad.shape != x.shape:
        return grad * gelu(x, derivative=True)[1]
    out = np.empty_like(x)
    rows = (-1, x.shape[-1])
    kernels.gelu_backward(grad.reshape(rows), x.reshape(rows), out.reshape(rows))
    return out


def gelu_tanh(x: np.ndarray, derivative: bool):
    if x.dtype == np.float64:
        return _chunked(_gelu_tanh_piece, x, derivative)
    return _via_float32(_gelu_tanh_piece, x, derivative)


def times_derivative(grad: np.ndarray, deriv: np.ndarray) -> np.ndarray:
    """``grad * deriv`` for arrays of one shape: the backward of GELU and its fused forms."""
    kernels = compiled(grad, deriv)
    if kernels is None or grad.shape != deriv.shape:
        return grad * deriv
    out = np.empty_like(deriv)
    rows = (-1, deriv.shape[-1])
    kernels.multiply(grad.reshape(rows), deriv.reshape(rows), out.reshape(rows))
    return out
