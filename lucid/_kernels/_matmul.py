"""Matrix products split over lucid's threads, with BLAS on one thread in each.

Every matmul of lucid's layers (linear, convolution, attention, ``lucid.matmul``)
comes here. A large product is cut into one block of the result per thread,
along a batch axis, the rows or the columns (or, for a small result of a
long sum, into shares of the sum), and each block is one BLAS call on its
own thread (NumPy releases the GIL around BLAS). BLAS's own threads do not
run that work: OpenBLAS's workers busy-wait for a while after each parallel
call, on the cores that lucid's next kernel (GELU, LayerNorm, ...) needs;
with them, a PVT v2-b2 training step at batch 8 on two cores took 3.0 s
instead of 2.1 s.

The exception is a workload made of small products only (a batch of one
image): there, handing each product to lucid's helper thread and back costs
more than the split gains, and OpenBLAS's busy-waiting workers, which pick
up the next product at once, do better (PVT v2-b5 at batch 1: 0.29 s
against 0.32 s). So a product below ``LARGE`` multiply-adds runs on BLAS's
own threads when no large product was seen for ``QUIET_AFTER_LARGE``
seconds. Either way each element of a result is one BLAS dot product: the
result does not depend on the number of threads.
"""

from __future__ import annotations

import math
import time

import numpy as np

from lucid._kernels._threads import blas_threads, kernel_threads, run_parts

__all__ = ["matmul"]

# Multiply-adds below which a product stays on the calling thread; OpenBLAS
# keeps products of fewer than 65536 * 4 on one thread too.
SPLIT_MIN = 1 << 18
# A large product: a batch-8 PVT layer's (25088 x 64 x 512 is 2^29.6); a
# batch-1 PVT's largest are below (197 x 320 x 1280 is 2^26.3).
LARGE = 1 << 27
QUIET_AFTER_LARGE = 1.0  # seconds
_last_large = -math.inf  # time.monotonic() of the last large product


def _product(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    np.matmul(a, b, out=out)


def _cut(array: np.ndarray, axis: int, lo: int, hi: int) -> np.ndarray:
    """``array[lo:hi]`` along ``axis``; all of it when ``axis`` is missing or broadcast."""
    if axis < 0 or array.shape[axis] == 1:
        return array
    index = [slice(None)] * array.ndim
    index[axis] = slice(lo, hi)
    return array[tuple(index)]


def _split_axis(out: np.ndarray, threads: int) -> int | None:
    """The axis of ``out`` to cut into ``threads`` blocks: a batch axis, else rows or columns.

    Every thread packs all of the operand that is not cut, so the larger
    one is cut: the rows when the result has more rows than columns. A
    batch-1 transformer's products (197 tokens by 1280 features) share
    out their columns; cutting their rows, each thread packed the whole
    weight, and two threads took almost as long as one.
    """
    rows, columns = out.ndim - 2, out.ndim - 1
    for axis in range(rows):
        if out.shape[axis] >= threads:
            return axis
    by_rows = out.shape[rows] >= out.shape[columns]
    if by_rows and out.shape[rows] >= 4 * threads:
        return rows
    if out.shape[columns] >= 16 * threads:
        return columns
    if out.shape[rows] >= 4 * threads:
        return rows
    return None


def _sum_of_products(a: np.ndarray, b: np.ndarray, out: np.ndarray, threads: int) -> None:
    """``out = a @ b`` for a small result of a long sum: each thread sums a share of the terms.

    The shape of a weight's gradient, ``x.T @ grad`` over every row of a
    batch: cutting the small result would make every thread read all of
    both operands.
    """
    length = a.shape[1]
    cuts = [k * length // threads for k in range(threads + 1)]
    partial = [out] + [np.empty_like(out) for _ in range(threads - 1)]
    calls = [(a[:, lo:hi], b[lo:hi], p) for lo, hi, p in zip(cuts, cuts[1:], partial, strict=False)]
    run_parts(_product, calls)
    for p in partial[1:]:
        out += p


def matmul(
    a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None, *, gradient: bool = False
) -> np.ndarray:
    """``np.matmul(a, b)`` for operands of at least 2 dimensions, split over lucid's threads.

    ``out``, when given, must have the result's shape and dtype. The result
    does not depend on the number of threads: each element is one BLAS dot
    product whatever the split. ``gradient=True`` (a weight's
    gradient, a sum over a whole batch) also lets a small result of a long
    sum share the sum out between threads, which changes its rounding.
    """
    if out is None:
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        out = np.empty((*batch, a.shape[-2], b.shape[-1]), np.result_type(a, b))
    threads = kernel_threads()
    if threads == 1 or out.size * a.shape[-1] < SPLIT_MIN:
        np.matmul(a, b, out=out)
        return out
    global _last_large
    now = time.monotonic()
    if out.size * a.shape[-1] >= LARGE:
        _last_large = now
    elif now - _last_large > QUIET_AFTER_LARGE:
        with blas_threads(threads):
            np.matmul(a, b, out=out)
        return out
    if gradient and a.ndim == b.ndim == 2 and a.shape[1] >= 4 * max(out.shape):
        _sum_of_products(a, b, out, threads)
        return out
    axis = _split_axis(out, threads)
    if axis is None:
        np.matmul(a, b, out=out)
        return out
    size, rows, columns = out.shape[axis], out.ndim - 2, out.ndim - 1
    # The operand every thread reads whole, in C order: OpenBLAS ran two
    # concurrent products with a transposed one at half speed each (a
    # linear layer's input gradient, ``grad @ weight``, took as long on two
    # threads as on one). Copying it costs little against the product.
    if axis == columns:
        a = np.ascontiguousarray(a)
    elif b.ndim == 2:
        b = np.ascontiguousarray(b)
    # The same axis in each operand's own numbering (negative: it has none).
    a_axis = -1 if axis == columns else axis - (out.ndim - a.ndim)
    b_axis = b.ndim - 1 if axis == columns else (-1 if axis == rows else axis - (out.ndim - b.ndim))
    calls = []
    for k in range(threads):
        lo, hi = k * size // threads, (k + 1) * size // threads
        calls.append((_cut(a, a_axis, lo, hi), _cut(b, b_axis, lo, hi), _cut(out, axis, lo, hi)))
    run_parts(_product, calls)
    return out
