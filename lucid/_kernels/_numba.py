"""numba-compiled float32 kernels behind ``lucid._kernels``, imported on first use only.

Each kernel makes one pass over the rows of 2-D float32 arrays, fusing what
NumPy does in several passes with a temporary array each. Kernels are
compiled on their first call and cached on disk (``cache=True``): later
processes load them in milliseconds.

Compiled without ``fastmath``: NaN and infinity behave as in NumPy. Two
settings differ from numba's defaults, neither changing results beyond
float32 rounding: ``error_model="numpy"`` (a float division by zero gives inf
instead of raising, which is what lets LLVM vectorise loops that divide),
and, only on kernels that sum along rows, ``fastmath={"reassoc"}``, which
lets those sums run in SIMD lanes.

Threads. Large arrays are split by rows over ``lucid.get_num_threads()``
threads: the calling thread and lucid's helper threads
(``lucid._kernels._threads``); the kernels release the GIL. numba's own
``parallel=True`` was measured and not used: its OpenMP pool keeps threads
spinning after each kernel, taking the cores from the next matmul (a PVT
forward ran up to 10x slower), and its workqueue pool often ran both halves
on one core of a 2-core VM.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit

from lucid._kernels import _threads
from lucid._kernels._gelu import ERF_P, ERF_Q
from lucid._kernels._threads import run_parts, run_rows

_f32 = np.float32
_FLAGS: dict[str, Any] = {"cache": True, "error_model": "numpy", "nogil": True}
_ROW_SUMS: dict[str, Any] = {**_FLAGS, "fastmath": {"reassoc"}}

# ------------------------------------------------------- scalar helpers ---
# Module-level float32 constants are frozen into the compiled code.

_P0, _P1, _P2, _P3, _P4, _P5, _P6 = (_f32(c) for c in ERF_P)
_Q0, _Q1, _Q2, _Q3, _Q4, _Q5 = (_f32(c) for c in ERF_Q)
_INV_SQRT2 = _f32(1.0 / math.sqrt(2.0))
_INV_SQRT_2PI = _f32(1.0 / math.sqrt(2.0 * math.pi))
_LOG2E = _f32(1.0 / math.log(2.0))
# 2^f = exp(f ln 2) for |f| <= 1/2: Taylor to degree 7, relative error 7e-9.
_E0, _E1, _E2, _E3, _E4, _E5, _E6, _E7 = (
    _f32(math.log(2.0) ** k / math.factorial(k)) for k in range(8)
)


@njit(inline="always")
def _erf(z):
    # lucid's float32 rational erf (lucid._ops), here evaluated in float32.
    z = min(max(z, _f32(-4.0)), _f32(4.0))
    s = z * z
    p = _P0 + s * (_P1 + s * (_P2 + s * (_P3 + s * (_P4 + s * (_P5 + s * _P6)))))
    q = _Q0 + s * (_Q1 + s * (_Q2 + s * (_Q3 + s * (_Q4 + s * _Q5))))
    return z * p / q


@njit(inline="always")
def _exp(t):
    # exp(t) = 2^n 2^f, n = round(t log2 e), with 2^n written straight into
    # the exponent bits: unlike a call to libm, this vectorises. For t <= 0
    # (softmax, the normal density); below float32's normal range it gives 0.
    y = t * _LOG2E
    n = np.floor(max(y, _f32(-126.0)) + _f32(0.5))
    f = y - n
    p = _E0 + f * (_E1 + f * (_E2 + f * (_E3 + f * (_E4 + f * (_E5 + f * (_E6 + f * _E7))))))
    scaled = p * np.int32((np.int32(n) + np.int32(127)) << np.int32(23)).view(np.float32)
    return _f32(0.0) if y < _f32(-126.0) else scaled


@njit(inline="always")
def _gelu_cdf(x):
    return _f32(0.5) + _f32(0.5) * _erf(x * _INV_SQRT2)


@njit(inline="always")
def _gelu_derivative(x, cdf):
    return cdf + x * _INV_SQRT_2PI * _exp(_f32(-0.5) * x * x)


# --------------------------------------------------------------- kernels ---
# Each works on rows [lo, hi) of its first argument, so that threads can
# share the rows of one call.


@njit(**_FLAGS)
def _gelu_rows(h, bias, out, deriv, lo, hi):
    # out must not be h: LLVM leaves a loop whose input and output may
    # overlap unvectorised (7x slower); _gelu_inplace_rows is for that.
    if deriv.shape[0] == 0:
        for i in range(lo, hi):
            for j in range(h.shape[1]):
                x = h[i, j] + bias[j]
                out[i, j] = x * _gelu_cdf(x)
    else:
        for i in range(lo, hi):
            for j in range(h.shape[1]):
                x = h[i, j] + bias[j]
                cdf = _gelu_cdf(x)
                out[i, j] = x * cdf
                deriv[i, j] = _gelu_derivative(x, cdf)


@njit(**_FLAGS)
def _gelu_inplace_rows(h, bias, deriv, lo, hi):
    if deriv.shape[0] == 0:
        for i in range(lo, hi):
            for j in range(h.shape[1]):
                x = h[i, j] + bias[j]
                h[i, j] = x * _gelu_cdf(x)
    else:
        for i in range(lo, hi):
            for j in range(h.shape[1]):
                x = h[i, j] + bias[j]
                cdf = _gelu_cdf(x)
                h[i, j] = x * cdf
                deriv[i, j] = _gelu_derivative(x, cdf)


@njit(**_FLAGS)
def _gelu_backward_rows(grad, x, out, lo, hi):
    for i in range(lo, hi):
        for j in range(x.shape[1]):
            v = x[i, j]
            out[i, j] = grad[i, j] * _gelu_derivative(v, _gelu_cdf(v))


@njit(**_FLAGS)
def _multiply_rows(a, b, out, lo, hi):
    for i in range(lo, hi):
        for j in range(a.shape[1]):
            out[i, j] = a[i, j] * b[i, j]


@njit(**_FLAGS)
def _add_rows(out, bias, residual, lo, hi):
    # residual of 0 rows: add the bias alone.
    if residual.shape[0] == 0:
        for i in range(lo, hi):
            for j in range(out.shape[1]):
                out[i, j] += bias[j]
    else:
        for i in range(lo, hi):
            for j in range(out.shape[1]):
                out[i, j] += bias[j] + residual[i, j]


@njit(**_ROW_SUMS)
def _layer_norm_rows(x, weight, bias, eps, out, xhat, rstd, lo, hi):
    # xhat of 0 rows: nothing is kept for backward.
    d = x.shape[1]
    inv_d = _f32(1.0) / _f32(d)
    keep = xhat.shape[0] != 0
    for i in range(lo, hi):
        s = _f32(0.0)
        for j in range(d):
            s += x[i, j]
        mean = s * inv_d
        v = _f32(0.0)
        for j in range(d):
            t = x[i, j] - mean
            v += t * t
        r = _f32(1.0) / np.sqrt(v * inv_d + eps)
        if keep:
            rstd[i] = r
            for j in range(d):
                t = (x[i, j] - mean) * r
                xhat[i, j] = t
                out[i, j] = t * weight[j] + bias[j]
        else:
            for j in range(d):
                out[i, j] = (x[i, j] - mean) * r * weight[j] + bias[j]


@njit(**_ROW_SUMS)
def _layer_norm_backward_rows(grad, xhat, rstd, weight, gx, gw, gb, lo, hi):
    # gw and gb receive these rows' share of the weight and bias gradients.
    d = grad.shape[1]
    inv_d = _f32(1.0) / _f32(d)
    for j in range(d):
        gw[j] = 0.0
        gb[j] = 0.0
    for i in range(lo, hi):
        m1 = _f32(0.0)
        m2 = _f32(0.0)
        for j in range(d):
            g = grad[i, j]
            gw[j] += g * xhat[i, j]
            gb[j] += g
            g *= weight[j]
            m1 += g
            m2 += g * xhat[i, j]
        m1 *= inv_d
        m2 *= inv_d
        r = rstd[i]
        for j in range(d):
            gx[i, j] = (grad[i, j] * weight[j] - m1 - xhat[i, j] * m2) * r


@njit(inline="always")
def _row_max(s, i):
    # Eight running maxima, not one: a single chain of compares is bound by
    # their latency, and rows of attention scores are short (49 in PVT).
    k = s.shape[1]
    k8 = k - k % 8
    m0 = m1 = m2 = m3 = m4 = m5 = m6 = m7 = s[i, 0]
    for j in range(0, k8, 8):
        m0 = max(m0, s[i, j])
        m1 = max(m1, s[i, j + 1])
        m2 = max(m2, s[i, j + 2])
        m3 = max(m3, s[i, j + 3])
        m4 = max(m4, s[i, j + 4])
        m5 = max(m5, s[i, j + 5])
        m6 = max(m6, s[i, j + 6])
        m7 = max(m7, s[i, j + 7])
    m = max(max(max(m0, m1), max(m2, m3)), max(max(m4, m5), max(m6, m7)))
    for j in range(k8, k):
        m = max(m, s[i, j])
    return m


@njit(**_ROW_SUMS)
def _softmax_rows(s, scale, lo, hi):
    k = s.shape[1]
    for i in range(lo, hi):
        m = _row_max(s, i)
        for j in range(k):
            s[i, j] = _exp((s[i, j] - m) * scale)
        t = _f32(0.0)
        for j in range(k):
            t += s[i, j]
        r = _f32(1.0) / t
        for j in range(k):
            s[i, j] *= r


@njit(**_ROW_SUMS)
def _softmax_backward_rows(grad, attn, scale, lo, hi):
    k = grad.shape[1]
    for i in range(lo, hi):
        t = _f32(0.0)
        for j in range(k):
            t += grad[i, j] * attn[i, j]
        for j in range(k):
            grad[i, j] = (grad[i, j] - t) * attn[i, j] * scale


# ------------------------------------------------------------------ Adam ---


@njit(**_FLAGS)
def _adam_rows(p, g, m, v, vmax, coefficients, lo, hi):
    # 1-D arrays; vmax of 0 values: no amsgrad. The same float32 operations,
    # in the same order, as the NumPy path of lucid._kernels._adam.
    sign, coupled, decay, keep1, beta2, keep2, root2, eps, step = coefficients
    for i in range(lo, hi):
        gi = g[i] * sign
        if coupled != 0:
            gi = gi + coupled * p[i]
        mi = m[i] + (gi - m[i]) * keep1
        vi = v[i] * beta2 + gi * gi * keep2
        m[i] = mi
        v[i] = vi
        if vmax.shape[0] != 0:
            vi = max(vmax[i], vi)
            vmax[i] = vi
        p[i] = p[i] * decay - mi / (np.sqrt(vi) / root2 + eps) * step


# ------------------------------------------------ depthwise convolution ---
# Channels-last: x (N, H, W, C), weight (kh, kw, C), output (N, Ho, Wo, C).
# geometry = (stride_h, stride_w, pad_top, pad_left, dilation_h, dilation_w);
# taps that fall into the padding are skipped, so nothing is padded. The
# innermost loop runs along the channels, contiguous in every array, and is
# vectorised. Rows are (image, output row) pairs for the forward and the
# weight gradient, (image, input row) pairs for the input gradient, which
# gathers from the output gradient so that no two threads write one element.
# No "reassoc": every sum here is across rows, not along them.


@njit(**_FLAGS)
def _depthwise_rows(x, w, bias, out, geometry, lo, hi):
    sh, sw, ph, pw, dh, dw = geometry
    h, wd, c = x.shape[1], x.shape[2], x.shape[3]
    kh, kw = w.shape[0], w.shape[1]
    ho, wo = out.shape[1], out.shape[2]
    for r in range(lo, hi):
        b, oy = r // ho, r % ho
        for ox in range(wo):
            o = out[b, oy, ox]
            if bias.shape[0] == 0:
                o[:] = 0
            else:
                o[:] = bias
            for i in range(kh):
                iy = oy * sh - ph + i * dh
                if iy < 0 or iy >= h:
                    continue
                for j in range(kw):
                    ix = ox * sw - pw + j * dw
                    if ix < 0 or ix >= wd:
                        continue
                    xs = x[b, iy, ix]
                    ws = w[i, j]
                    for k in range(c):
                        o[k] += xs[k] * ws[k]


@njit(**_FLAGS)
def _depthwise_grad_input_rows(g, w, gx, geometry, lo, hi):
    sh, sw, ph, pw, dh, dw = geometry
    h, wd, c = gx.shape[1], gx.shape[2], gx.shape[3]
    kh, kw = w.shape[0], w.shape[1]
    ho, wo = g.shape[1], g.shape[2]
    for r in range(lo, hi):
        b, iy = r // h, r % h
        for ix in range(wd):
            o = gx[b, iy, ix]
            o[:] = 0
            for i in range(kh):
                t = iy + ph - i * dh
                if t < 0 or t % sh != 0 or t // sh >= ho:
                    continue
                oy = t // sh
                for j in range(kw):
                    u = ix + pw - j * dw
                    if u < 0 or u % sw != 0 or u // sw >= wo:
                        continue
                    gs = g[b, oy, u // sw]
                    ws = w[i, j]
                    for k in range(c):
                        o[k] += gs[k] * ws[k]


@njit(**_FLAGS)
def _depthwise_grad_weight_rows(g, x, gw, gb, row, geometry, lo, hi):
    # gw (kh, kw, C) and gb (C, or 0 values) receive these rows' share;
    # row is scratch of gw's shape. Each output row is summed into it first,
    # then added to gw: two short chains of float32 additions instead of one
    # of N*Ho*Wo, for accuracy.
    sh, sw, ph, pw, dh, dw = geometry
    h, wd, c = x.shape[1], x.shape[2], x.shape[3]
    kh, kw = gw.shape[0], gw.shape[1]
    ho, wo = g.shape[1], g.shape[2]
    gw[:] = 0
    gb[:] = 0
    for r in range(lo, hi):
        b, oy = r // ho, r % ho
        row[:] = 0
        for ox in range(wo):
            gs = g[b, oy, ox]
            if gb.shape[0] != 0:
                for k in range(c):
                    gb[k] += gs[k]
            for i in range(kh):
                iy = oy * sh - ph + i * dh
                if iy < 0 or iy >= h:
                    continue
                for j in range(kw):
                    ix = ox * sw - pw + j * dw
                    if ix < 0 or ix >= wd:
                        continue
                    xs = x[b, iy, ix]
                    acc = row[i, j]
                    for k in range(c):
                        acc[k] += gs[k] * xs[k]
        gw += row


def _run(kernel: Callable[..., None], *args: Any) -> None:
    """Run ``kernel(*args, lo, hi)`` over all rows of ``args[0]``, split between threads."""
    run_rows(kernel, args[0].shape[0], args[0].size, *args)


# -------------------------------------------------------------- wrappers ---
# Arguments: C-contiguous float32 arrays, 2-D unless said otherwise
# (lucid._kernels checks). ``None`` becomes an array of 0 rows, so each
# kernel compiles once whatever is left out.

_NO_ROWS = np.empty((0, 0), np.float32)
_NO_VALUES = np.empty(0, np.float32)


def _filled(a: np.ndarray | None, size: int, value: float) -> np.ndarray:
    return np.full(size, value, np.float32) if a is None else a


def gelu(h, bias, out, deriv) -> None:
    """``out = gelu(h + bias)`` (``out`` may be ``h``); with ``deriv``, also gelu' there."""
    bias = _filled(bias, h.shape[1], 0.0)
    deriv = _NO_ROWS if deriv is None else deriv
    if out is h:
        _run(_gelu_inplace_rows, h, bias, deriv)
    else:
        _run(_gelu_rows, h, bias, out, deriv)


def gelu_backward(grad, x, out) -> None:
    """``out = grad * gelu'(x)``."""
    _run(_gelu_backward_rows, grad, x, out)


def multiply(a, b, out) -> None:
    """``out = a * b``."""
    _run(_multiply_rows, a, b, out)


def add(out, bias, residual) -> None:
    """``out += bias (+ residual)``, ``bias`` 1-D along the rows."""
    _run(_add_rows, out, bias, _NO_ROWS if residual is None else residual)


def layer_norm(x, weight, bias, eps, out, xhat=None, rstd=None) -> None:
    """Normalise the rows of ``x`` into ``out``; with ``xhat``/``rstd``, keep those for backward."""
    d = x.shape[1]
    _run(
        _layer_norm_rows,
        x,
        _filled(weight, d, 1.0),
        _filled(bias, d, 0.0),
        _f32(eps),
        out,
        _NO_ROWS if xhat is None else xhat,
        _NO_VALUES if rstd is None else rstd,
    )


def layer_norm_backward(grad, xhat, rstd, weight, gx):
    """Fill ``gx`` with the input gradient; return the weight and bias gradients."""
    rows, d = grad.shape
    spans = _threads.spans(rows, grad.size)
    # Each thread sums its rows' share of the weight and bias gradients.
    gw = np.empty((len(spans), d), np.float32)
    gb = np.empty((len(spans), d), np.float32)
    weight = _filled(weight, d, 1.0)
    calls = [
        (grad, xhat, rstd, weight, gx, gw[k], gb[k], lo, hi) for k, (lo, hi) in enumerate(spans)
    ]
    run_parts(_layer_norm_backward_rows, calls)
    return gw.sum(axis=0), gb.sum(axis=0)


def softmax(s, scale) -> None:
    """``s = softmax(s * scale)`` along the rows, in place."""
    _run(_softmax_rows, s, _f32(scale))


def softmax_backward(grad, attn, scale) -> None:
    """``grad`` becomes the gradient of the scores of :func:`softmax`, in place."""
    _run(_softmax_backward_rows, grad, attn, _f32(scale))


def depthwise(x, weight, bias, out, geometry) -> None:
    """Depthwise convolution of ``x`` (N, H, W, C), weight (kh, kw, C), into ``out``."""
    bias = np.empty(0, x.dtype) if bias is None else bias
    rows = out.shape[0] * out.shape[1]
    run_rows(_depthwise_rows, rows, out.size, x, weight, bias, out, geometry)


def depthwise_grad_input(grad, weight, gx, geometry) -> None:
    """Fill ``gx`` (N, H, W, C) with the input gradient of :func:`depthwise`."""
    rows = gx.shape[0] * gx.shape[1]
    run_rows(_depthwise_grad_input_rows, rows, gx.size, grad, weight, gx, geometry)


def depthwise_grad_weight(grad, x, shape, bias, geometry):
    """The weight gradient (kh, kw, C) of :func:`depthwise` and, with ``bias``, the bias's."""
    spans = _threads.spans(grad.shape[0] * grad.shape[1], grad.size)
    # Each thread sums its rows' share; the shares are added at the end.
    gw = np.empty((len(spans), *shape), grad.dtype)
    gb = np.empty((len(spans), shape[2] if bias else 0), grad.dtype)
    row = np.empty((len(spans), *shape), grad.dtype)
    calls = [(grad, x, gw[k], gb[k], row[k], geometry, lo, hi) for k, (lo, hi) in enumerate(spans)]
    run_parts(_depthwise_grad_weight_rows, calls)
    return gw.sum(axis=0), (gb.sum(axis=0) if bias else None)


def adam(p, g, m, v, vmax, coefficients) -> None:
    """One Adam/AdamW step on 1-D arrays, in place (see ``lucid._kernels._adam``)."""
    _run(_adam_rows, p, g, m, v, _NO_VALUES if vmax is None else vmax, coefficients)
