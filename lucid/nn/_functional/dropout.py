"""Random regularisers: ``dropout`` (per element) and ``drop_path`` (per sample)."""

from __future__ import annotations

import numpy as np

from lucid import _random
from lucid._tensor import Tensor
from lucid.autograd import Function


class _Mask(Function):
    """Multiply by a fixed mask that broadcasts to the input (already scaled)."""

    @staticmethod
    def forward(ctx, x, *, mask):
        ctx.mask = mask
        return x * mask

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.mask


def _keep_mask(shape: tuple[int, ...], p: float, scale: bool, dtype: np.dtype) -> np.ndarray:
    """Ones with probability ``1 - p`` (divided by ``1 - p`` when ``scale``), else zeros."""
    keep = _random.numpy_rng().random(shape, dtype=np.float32) >= p
    mask = keep.astype(dtype)
    if scale and p < 1:
        mask /= np.asarray(1 - p, dtype=dtype)
    return mask


def _check_p(p: float, name: str) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} probability must be in [0, 1], got {p!r}")


def dropout(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``.

    Nothing changes unless ``training``; the random draws come from
    ``lucid.manual_seed``'s generator.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> _ = lucid.manual_seed(0)
    >>> sorted(set(F.dropout(lucid.ones(100), 0.5).tolist()))
    [0.0, 2.0]
    >>> F.dropout(lucid.ones(3), 0.5, training=False).tolist()
    [1.0, 1.0, 1.0]
    """
    _check_p(p, "dropout")
    if not training or p == 0:
        return input
    return _Mask.apply(input, mask=_keep_mask(input.shape, p, True, input.dtype))


def drop_path(
    input: Tensor, drop_prob: float = 0.0, training: bool = False, scale_by_keep: bool = True
) -> Tensor:
    """Stochastic depth: zero whole samples (the first axis) with probability ``drop_prob``.

    Used on residual branches, so a dropped sample skips the block. Kept
    samples are scaled by ``1 / (1 - drop_prob)`` when ``scale_by_keep``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> _ = lucid.manual_seed(0)
    >>> rows = F.drop_path(lucid.ones(8, 3), 0.5, training=True).tolist()
    >>> sorted({tuple(row) for row in rows})
    [(0.0, 0.0, 0.0), (2.0, 2.0, 2.0)]
    """
    _check_p(drop_prob, "drop_path")
    if not training or drop_prob == 0:
        return input
    shape = (input.shape[0],) + (1,) * (input.ndim - 1)
    return _Mask.apply(input, mask=_keep_mask(shape, drop_prob, scale_by_keep, input.dtype))
