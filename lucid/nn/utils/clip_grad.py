"""``clip_grad_norm_``: rescale gradients so their global norm stays below a bound."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from lucid._tensor import Tensor


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> Tensor:
    """Scale the gradients in place so that their joint norm is at most ``max_norm``.

    The norm is taken over all gradients together, as if concatenated into
    one vector. Parameters without a gradient are skipped.

    Parameters
    ----------
    parameters:
        A tensor or an iterable of tensors (e.g. ``model.parameters()``).
    max_norm:
        The largest norm allowed.
    norm_type:
        The p of the p-norm; ``float("inf")`` for the largest absolute value.
    error_if_nonfinite:
        Raise if the norm is NaN or infinite instead of scaling by it.

    Returns
    -------
    The total norm before clipping, as a 0-d tensor.

    Examples
    --------
    >>> import lucid
    >>> w = lucid.ones(4, requires_grad=True)
    >>> (w * 3).sum().backward()
    >>> float(lucid.nn.utils.clip_grad_norm_([w], max_norm=1.0))
    6.0
    >>> [round(g, 3) for g in w.grad.tolist()]
    [0.5, 0.5, 0.5, 0.5]
    """
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    grads = [p.grad.data for p in params if p.grad is not None]
    if not grads:
        return Tensor(np.zeros((), dtype=np.float32))
    p = float(norm_type)
    if math.isinf(p):
        norms = np.array([np.abs(g).max() if g.size else 0.0 for g in grads], dtype=np.float64)
        total = float(norms.max())
    else:
        norms = np.array([np.linalg.norm(g.ravel(), ord=p) for g in grads], dtype=np.float64)
        total = float(np.linalg.norm(norms, ord=p))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"the total {p}-norm of the gradients is {total}, so they cannot be clipped; "
            "pass error_if_nonfinite=False to scale by it anyway"
        )
    scale = max_norm / (total + 1e-6)
    if scale < 1:
        for g in grads:
            g *= np.asarray(scale, dtype=g.dtype)
    return Tensor(np.asarray(total, dtype=np.float32))
