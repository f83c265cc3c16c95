"""Separable linear resampling: ``interpolate`` and the matrices behind adaptive pooling.

Nearest, linear and cubic interpolation and adaptive average pooling all map
each spatial axis independently through a small ``(out, in)`` matrix, so one
function applies a matrix per axis with a BLAS ``tensordot`` and its backward
applies the transposes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lucid._tensor import Tensor
from lucid.autograd import Function


# inf and NaN in the input are propagated on purpose, without NumPy's warnings.
@np.errstate(invalid="ignore", over="ignore")
def _along(x: np.ndarray, matrix: np.ndarray, axis: int) -> np.ndarray:
    """Multiply axis ``axis`` of ``x`` by ``matrix`` (out, in)."""
    if axis == x.ndim - 1:
        out = np.tensordot(x, matrix, axes=(-1, 1))
    else:
        out = np.moveaxis(np.tensordot(matrix, x, axes=(1, axis)), 0, axis)
    # A product is exact unless the input holds inf or NaN: its zero weights
    # then give 0 * inf = NaN in every output, where PyTorch's pooling and
    # interpolation touch only the outputs that read it. A finite result
    # proves that none did; anything else is recomputed from the nonzero
    # weights alone.
    if np.isfinite(np.sum(out)):
        return out
    return _along_nonzero(x, matrix, axis)


def _along_nonzero(x: np.ndarray, matrix: np.ndarray, axis: int) -> np.ndarray:
    """``_along`` as a sum over the nonzero entries of ``matrix`` only."""
    source = np.moveaxis(x, axis, -1)
    out = np.zeros((*source.shape[:-1], matrix.shape[0]), np.result_type(x, matrix))
    for o, i in zip(*np.nonzero(matrix), strict=True):
        out[..., o] += matrix[o, i] * source[..., i]
    return np.moveaxis(out, -1, axis)


class _Separable(Function):
    """Map each trailing axis of ``x`` through its matrix (``None`` leaves the axis alone)."""

    @staticmethod
    def forward(ctx, x, *, matrices):
        first = x.ndim - len(matrices)
        ctx.matrices, ctx.first = matrices, first
        out = x
        for k, matrix in enumerate(matrices):
            if matrix is not None:
                out = _along(out, matrix.astype(x.dtype, copy=False), first + k)
        return x.copy() if out is x else out

    @staticmethod
    def backward(ctx, grad):
        for k, matrix in enumerate(ctx.matrices):
            if matrix is not None:
                grad = _along(grad, matrix.T.astype(grad.dtype, copy=False), ctx.first + k)
        return grad


def separable(x: Tensor, matrices: Sequence[np.ndarray | None]) -> Tensor:
    """Apply one ``(out, in)`` matrix to each of the last ``len(matrices)`` axes of ``x``."""
    return _Separable.apply(x, matrices=tuple(matrices))


# -------------------------------------------------------------- matrices ---


def adaptive_average_matrix(size: int, out: int) -> np.ndarray | None:
    """Rows averaging the bins PyTorch's adaptive pooling uses (``None`` when ``out == size``)."""
    if out == size:
        return None
    i = np.arange(out)
    start = (i * size) // out
    end = -((-(i + 1) * size) // out)
    cols = np.arange(size)
    inside = (cols >= start[:, None]) & (cols < end[:, None])
    return inside / (end - start)[:, None]


def _source_scale(size: int, out: int, scale_factor: float | None, align_corners: bool):
    if align_corners:
        return np.float32((size - 1) / (out - 1) if out > 1 else 0.0)
    if scale_factor is not None and scale_factor > 0:
        return np.float32(1.0 / scale_factor)
    return np.float32(size / out)


def _interpolation_matrix(
    size: int, out: int, mode: str, scale_factor: float | None, align_corners: bool
) -> np.ndarray | None:
    """The (out, size) matrix of ``mode`` along one axis, computed in float32 like PyTorch."""
    if mode == "nearest":
        if out == size:
            return None
        scale = _source_scale(size, out, scale_factor, False)
        src = np.minimum(np.floor(np.arange(out, dtype=np.float32) * scale), size - 1)
        matrix = np.zeros((out, size))
        matrix[np.arange(out), src.astype(np.intp)] = 1.0
        return matrix
    scale = _source_scale(size, out, scale_factor, align_corners)
    dst = np.arange(out, dtype=np.float32)
    # Aligned corners map pixel centres onto each other; otherwise image edges do.
    src = dst * scale if align_corners else (dst + np.float32(0.5)) * scale - np.float32(0.5)
    matrix = np.zeros((out, size))
    rows = np.arange(out)
    if mode == "linear":
        # Linear sampling clamps positions left of the first pixel centre.
        src = np.maximum(src, np.float32(0.0))
        i0 = np.floor(src).astype(np.intp)
        lam = (src - i0).astype(np.float64)
        np.add.at(matrix, (rows, np.minimum(i0, size - 1)), 1 - lam)
        np.add.at(matrix, (rows, np.minimum(i0 + 1, size - 1)), lam)
        return matrix
    # Cubic convolution (Keys, a = -0.75) over 4 taps, indices clamped to the edge.
    i0 = np.floor(src).astype(np.intp)
    t = (src - i0).astype(np.float64)
    a = -0.75

    def near(d: np.ndarray) -> np.ndarray:  # |d| <= 1
        return ((a + 2) * d - (a + 3)) * d * d + 1

    def far(d: np.ndarray) -> np.ndarray:  # 1 < |d| < 2
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a

    for offset, weight in ((-1, far(t + 1)), (0, near(t)), (1, near(1 - t)), (2, far(2 - t))):
        np.add.at(matrix, (rows, np.clip(i0 + offset, 0, size - 1)), weight)
    return matrix


# ------------------------------------------------------------ interpolate ---

_MODE_DIMS = {"nearest": (1, 2), "linear": (1,), "bilinear": (2,), "bicubic": (2,)}


def interpolate(
    input: Tensor,
    size: int | Sequence[int] | None = None,
    scale_factor: float | Sequence[float] | None = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
) -> Tensor:
    """Resize the spatial axes of ``(N, C, L)`` or ``(N, C, H, W)`` input.

    Parameters
    ----------
    input:
        Shape ``(N, C, L)`` (modes ``nearest``, ``linear``) or ``(N, C, H, W)``
        (``nearest``, ``bilinear``, ``bicubic``).
    size:
        Output spatial size; give this or ``scale_factor``.
    scale_factor:
        Multiplier of the spatial size (the output size is rounded down).
    mode:
        ``"nearest"``, ``"linear"``, ``"bilinear"`` or ``"bicubic"``.
    align_corners:
        For the linear and cubic modes: map the corner pixels' centres onto
        each other (``True``) or the corners of the image (``False``, the
        default).

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> x = lucid.Tensor([[[1.0, 2.0]]])
    >>> F.interpolate(x, scale_factor=2).tolist()
    [[[1.0, 1.0, 2.0, 2.0]]]
    >>> F.interpolate(x, size=3, mode="linear", align_corners=True).tolist()
    [[[1.0, 1.5, 2.0]]]
    """
    if mode not in _MODE_DIMS:
        raise ValueError(f"interpolate: unknown mode {mode!r}; expected one of {list(_MODE_DIMS)}")
    dims = input.ndim - 2
    if dims not in _MODE_DIMS[mode]:
        raise ValueError(
            f"interpolate: mode {mode!r} takes "
            + " or ".join(f"{d + 2}-D" for d in _MODE_DIMS[mode])
            + f" input (N, C, spatial...), got shape {input.shape}"
        )
    if align_corners is not None and mode == "nearest":
        raise ValueError("interpolate: align_corners only applies to linear and cubic modes")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor")
    spatial = input.shape[2:]
    factors: tuple[float | None, ...]
    if size is not None:
        out = (size,) * dims if isinstance(size, int) else tuple(int(s) for s in size)
        factors = (None,) * dims
    else:
        scales = (
            (float(scale_factor),) * dims
            if isinstance(scale_factor, int | float)
            else tuple(float(f) for f in scale_factor)  # type: ignore[union-attr]
        )
        out = tuple(int(np.floor(s * f)) for s, f in zip(spatial, scales, strict=False))
        factors = scales
    if len(out) != dims or len(factors) != dims or min(out) < 1:
        raise ValueError(
            f"interpolate: cannot resize spatial shape {spatial} to {out}; give one positive "
            f"size or scale factor per spatial axis ({dims})"
        )
    kind = {"bilinear": "linear", "bicubic": "cubic"}.get(mode, mode)
    matrices = [
        _interpolation_matrix(s, o, kind, f, bool(align_corners))
        for s, o, f in zip(spatial, out, factors, strict=True)
    ]
    return separable(input, matrices)
