"""One Adam / AdamW update of one parameter array, in place: NumPy, or one compiled pass.

NumPy needs about ten passes over each parameter, with a scratch array;
with numba, float32 parameters take one pass (``lucid._kernels._numba``)
that does the same float32 operations in the same order, so both paths give
the same numbers. The rule is PyTorch's (``torch.optim.Adam``/``AdamW``)::

    g = -g                                  (maximize)
    g = g + weight_decay * p                (Adam)   or   p = p * (1 - lr * weight_decay)  (AdamW)
    m = m + (g - m) * (1 - beta1)
    v = v * beta2 + g * g * (1 - beta2)
    v_max = max(v_max, v)                   (amsgrad; then v_max replaces v below)
    p = p - m / (sqrt(v) / sqrt(1 - beta2**t) + eps) * (lr / (1 - beta1**t))
"""

from __future__ import annotations

import math

import numpy as np

from lucid._kernels._compiled import compiled


def _flat(arrays: list[np.ndarray | None]) -> list[np.ndarray | None] | None:
    """1-D views of arrays of one dtype that share one memory order (C or Fortran), else ``None``.

    ``nn.Linear`` keeps its weight, and so its gradient and moments,
    column-major: elementwise work does not care, as long as all agree.
    """
    present = [a for a in arrays if a is not None]
    if any(a.dtype != present[0].dtype for a in present):
        return None
    if all(a.flags.c_contiguous for a in present):
        return [None if a is None else a.reshape(-1) for a in arrays]
    if all(a.flags.f_contiguous for a in present):
        # The transpose of a Fortran-ordered array is C-ordered: a view, no copy.
        return [None if a is None else a.T.reshape(-1) for a in arrays]
    return None


def adam_update(
    param: np.ndarray,
    grad: np.ndarray,
    exp_avg: np.ndarray,
    exp_avg_sq: np.ndarray,
    max_exp_avg_sq: np.ndarray | None,
    *,
    step: int,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    decoupled: bool,
    maximize: bool,
) -> None:
    """Update ``param`` and its moments in place (``max_exp_avg_sq`` given: amsgrad).

    ``step`` counts from 1; ``decoupled`` selects AdamW's weight decay.

    Examples
    --------
    >>> import numpy as np
    >>> p, g = np.array([1.0, -2.0], np.float32), np.array([2.0, -4.0], np.float32)
    >>> m, v = np.zeros(2, np.float32), np.zeros(2, np.float32)
    >>> adam_update(p, g, m, v, None, step=1, lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8,
    ...             weight_decay=0.0, decoupled=False, maximize=False)
    >>> p.round(4).tolist()
    [0.9, -1.9]
    """
    views = _flat([param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq])
    kernels = None if views is None else compiled(*views, min_size=0)  # type: ignore[arg-type]
    if kernels is not None and views is not None:
        f32 = np.float32
        coupled = 0.0 if decoupled else weight_decay
        decay = 1 - lr * weight_decay if decoupled else 1.0
        # Every factor rounded to float32 first, as NumPy does with Python floats.
        coefficients = tuple(
            f32(c)
            for c in (
                -1.0 if maximize else 1.0,
                coupled,
                decay,
                1 - beta1,
                beta2,
                1 - beta2,
                math.sqrt(1 - beta2**step),
                eps,
                lr / (1 - beta1**step),
            )
        )
        kernels.adam(*views, coefficients)
        return
    if maximize:
        grad = -grad
    if weight_decay != 0:
        if decoupled:
            param *= 1 - lr * weight_decay
        else:
            grad = grad + weight_decay * param
    # One scratch array serves both moments, then the denominator and the update.
    scratch = grad - exp_avg
    scratch *= 1 - beta1
    exp_avg += scratch
    np.multiply(grad, grad, out=scratch)
    scratch *= 1 - beta2
    exp_avg_sq *= beta2
    exp_avg_sq += scratch
    if max_exp_avg_sq is not None:
        np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        second = max_exp_avg_sq
    else:
        second = exp_avg_sq
    update = np.sqrt(second, out=scratch)
    update /= math.sqrt(1 - beta2**step)
    update += eps
    np.divide(exp_avg, update, out=update)
    update *= lr / (1 - beta1**step)
    param -= update
