"""Matrix products split over lucid's threads, with BLAS on one thread in each.

Every matmul of lucid's layers (linear, convolution, attention, ``lucid.matmul``)
comes here. A large product is cut into one block of the result per thread,
along a batch axis, the rows or the columns, and each block is one BLAS call
on its own thread (NumPy releases the GIL around BLAS). BLAS's own threads
never run lucid's work: OpenBLAS's workers busy-wait for a while after each
parallel call, on the cores that lucid's next kernel (GELU, LayerNorm, ...)
needs, which cost a PVT v2 forward a quarter of its time on two cores.
"""

from __future__ import annotations

import numpy as np

from lucid._kernels._threads import kernel_threads, run_parts

__all__ = ["matmul"]

# Multiply-adds below which a product stays on the calling thread; OpenBLAS
# keeps products of fewer than 65536 * 4 on one thread too.
SPLIT_MIN = 1 << 18


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
    """The axis of ``out`` to cut into ``threads`` blocks: a batch axis, else rows, else columns."""
    rows, columns = out.ndim - 2, out.ndim - 1
    for axis in range(rows):
        if out.shape[axis] >= threads:
            return axis
    if out.shape[rows] >= 4 * threads:
        return rows
    if out.shape[columns] >= 16 * threads:
        return columns
    return None


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``np.matmul(a, b)`` for operands of at least 2 dimensions, split over lucid's threads.

    ``out``, when given, must have the result's shape and dtype.
    """
    if out is None:
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        out = np.empty((*batch, a.shape[-2], b.shape[-1]), np.result_type(a, b))
    threads = kernel_threads()
    if threads == 1 or out.size * a.shape[-1] < SPLIT_MIN:
        np.matmul(a, b, out=out)
        return out
    axis = _split_axis(out, threads)
    if axis is None:
        run_parts(_product, [(a, b, out)], one_blas_thread=True)
        return out
    size, rows, columns = out.shape[axis], out.ndim - 2, out.ndim - 1
    # The same axis in each operand's own numbering (negative: it has none).
    a_axis = -1 if axis == columns else axis - (out.ndim - a.ndim)
    b_axis = b.ndim - 1 if axis == columns else (-1 if axis == rows else axis - (out.ndim - b.ndim))
    calls = []
    for k in range(threads):
        lo, hi = k * size // threads, (k + 1) * size // threads
        calls.append((_cut(a, a_axis, lo, hi), _cut(b, b_axis, lo, hi), _cut(out, axis, lo, hi)))
    run_parts(_product, calls, one_blas_thread=True)
    return out
