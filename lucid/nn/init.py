"""Weight initialisers: fill a tensor in place from lucid's one random generator.

Every function writes into the tensor's existing storage without recording
anything for autograd (so it works on parameters), counts as an in-place
change (the version counter moves) and returns the tensor. Random values are
drawn in float32 for float32 tensors. Parameters built under
:func:`lucid.nn.meta_init` hold no values: every function returns them
untouched, after checking its arguments.
"""

from __future__ import annotations

import math

import numpy as np

from lucid import _random
from lucid._tensor import Tensor
from lucid.nn._meta import is_meta

__all__ = [
    "calculate_gain",
    "constant_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "ones_",
    "trunc_normal_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]

_LINEAR_LIKE = (
    "linear",
    "identity",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
)


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended scale of initial weights followed by ``nonlinearity``.

    Parameters
    ----------
    nonlinearity:
        ``"linear"``, ``"conv2d"`` (and the other conv names), ``"sigmoid"``,
        ``"tanh"``, ``"relu"``, ``"leaky_relu"`` or ``"selu"``.
    param:
        The negative slope of ``"leaky_relu"`` (default 0.01).

    Examples
    --------
    >>> from lucid.nn import init
    >>> round(init.calculate_gain("relu"), 4), round(init.calculate_gain("tanh"), 4)
    (1.4142, 1.6667)
    """
    if nonlinearity in _LINEAR_LIKE:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, int | float) and not isinstance(param, bool):
            slope = float(param)
        else:
            raise ValueError(f"negative slope {param!r} is not a number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(
        f"unsupported nonlinearity {nonlinearity!r}; expected one of "
        f"{[*_LINEAR_LIKE, 'tanh', 'relu', 'leaky_relu', 'selu']}"
    )


# ------------------------------------------------------------- helpers ---


def _write(tensor: Tensor, values: np.ndarray | float) -> Tensor:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"expected a lucid.Tensor to initialise, got {type(tensor).__name__}")
    if is_meta(tensor):
        return tensor
    tensor.data[...] = values
    tensor._version.value += 1
    return tensor


def _draw_dtype(tensor: Tensor) -> np.dtype:
    if not isinstance(tensor, Tensor) or tensor.data.dtype.kind != "f":
        what = tensor.dtype if isinstance(tensor, Tensor) else type(tensor).__name__
        raise TypeError(f"random initialisation needs a floating lucid.Tensor, got {what}")
    # The generator draws float32 or float64 only.
    return np.dtype(np.float32) if tensor.data.dtype.itemsize <= 4 else np.dtype(np.float64)


def _draw_buffer(tensor: Tensor, dtype: np.dtype) -> np.ndarray:
    """A 1-D array to draw into: the tensor's own storage where it can be, else a new one.

    Drawing straight into a large weight saves a temporary as large as the
    weight and a copy of it: building a model is mostly initialisation.
    """
    data = tensor.data
    if data.dtype == dtype and (data.flags.c_contiguous or data.flags.f_contiguous):
        return data.ravel(order="K")  # a view: memory order, whatever the layout
    return np.empty(data.size, dtype=dtype)


def _finish(tensor: Tensor, drawn: np.ndarray) -> Tensor:
    """Store what was drawn into ``tensor`` (unless it was drawn there) and count the change."""
    if not np.shares_memory(drawn, tensor.data):
        return _write(tensor, drawn.reshape(tensor.shape))
    tensor._version.value += 1
    return tensor


def _fans(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight laid out (out, in, *kernel)."""
    if tensor.ndim < 2:
        raise ValueError(
            f"fan in and fan out need a tensor with at least 2 dimensions, got shape "
            f"{tensor.shape}; use uniform_ or normal_ for biases"
        )
    receptive = int(np.prod(tensor.shape[2:]))
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor: Tensor, mode: str) -> int:
    """The fan ``mode`` names; at least 1, so an empty tensor (nothing to fill) divides safely."""
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fans(tensor)
    return max(fan_in if mode == "fan_in" else fan_out, 1)


# ------------------------------------------------------------ constants ---


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill ``tensor`` with ``val``.

    Examples
    --------
    >>> import lucid
    >>> from lucid.nn import init
    >>> init.constant_(lucid.zeros(3), 0.5).tolist()
    [0.5, 0.5, 0.5]
    """
    return _write(tensor, val)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` with zeros."""
    return _write(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` with ones."""
    return _write(tensor, 1)


# --------------------------------------------------------------- random ---


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill ``tensor`` with draws from the uniform distribution on ``[a, b)``.

    Examples
    --------
    >>> import lucid
    >>> from lucid.nn import init
    >>> w = init.uniform_(lucid.zeros(1000), -1.0, 1.0)
    >>> bool(w.min() >= -1) and bool(w.max() < 1)
    True
    """
    if not a <= b:
        raise ValueError(f"uniform_ needs a <= b, got a={a}, b={b}")
    dtype = _draw_dtype(tensor)
    if is_meta(tensor):
        return tensor
    u = _draw_buffer(tensor, dtype)
    _random.numpy_rng().random(out=u, dtype=dtype)
    u *= dtype.type(b - a)
    u += dtype.type(a)
    return _finish(tensor, u)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill ``tensor`` with draws from the normal distribution N(mean, std²).

    Examples
    --------
    >>> import lucid
    >>> from lucid.nn import init
    >>> w = init.normal_(lucid.zeros(10000), std=0.02)
    >>> 0.018 < float(w.std()) < 0.022
    True
    """
    if std < 0:
        raise ValueError(f"normal_ needs std >= 0, got {std}")
    dtype = _draw_dtype(tensor)
    if is_meta(tensor):
        return tensor
    z = _draw_buffer(tensor, dtype)
    _random.numpy_rng().standard_normal(out=z, dtype=dtype)
    z *= dtype.type(std)
    z += dtype.type(mean)
    return _finish(tensor, z)


def _normal_cdf(z: float) -> float:
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


def trunc_normal_(
    tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0
) -> Tensor:
    """Fill ``tensor`` from N(mean, std²) restricted to ``[a, b]`` (absolute bounds, as in timm).

    Values are drawn by rejection, from the normal distribution itself or,
    for bounds holding little of its mass, uniformly over ``[a, b]``.

    Examples
    --------
    >>> import lucid
    >>> from lucid.nn import init
    >>> w = init.trunc_normal_(lucid.zeros(10000), std=1.0, a=-1.0, b=1.0)
    >>> bool(w.min() >= -1) and bool(w.max() <= 1)
    True
    """
    if not std > 0 or not a < b:
        raise ValueError(f"trunc_normal_ needs std > 0 and a < b, got std={std}, a={a}, b={b}")
    dtype = _draw_dtype(tensor)
    lo, hi = (a - mean) / std, (b - mean) / std
    mass = _normal_cdf(hi) - _normal_cdf(lo)
    # The uniform proposal accepts a draw z with probability exp((peak² - z²) / 2),
    # where peak is the point of [lo, hi] closest to 0.
    peak = min(max(0.0, lo), hi)
    uniform_rate = (
        mass * math.sqrt(2 * math.pi) / ((hi - lo) * math.exp(-(peak**2) / 2))
        if math.isfinite(hi - lo)
        else 0.0
    )
    rate = max(mass, uniform_rate)
    if rate < 1e-4:
        raise ValueError(
            f"trunc_normal_: [a, b] = [{a}, {b}] holds too little of N({mean}, {std}²) to "
            "sample from; move the bounds closer to the mean or widen std"
        )
    if is_meta(tensor):
        return tensor
    rng = _random.numpy_rng()
    out = _draw_buffer(tensor, dtype)
    if mass >= uniform_rate:
        # Draw everything at once, then redraw only the (usually no) values outside.
        rng.standard_normal(out=out, dtype=dtype)
        # Bounds beyond 8 standard deviations (timm's std=.02 in [-2, 2] is 100)
        # exclude a mass of 1e-15: the final clip stands in for the scan.
        far = lo < -8 and hi > 8
        redo = np.flatnonzero((out < lo) | (out > hi)) if not far else np.empty(0, np.intp)
        while redo.size:
            out[redo] = rng.standard_normal(redo.size, dtype=dtype)
            redo = redo[(out[redo] < lo) | (out[redo] > hi)]
    else:
        filled = 0
        while filled < out.size:
            count = int((out.size - filled) / rate * 1.1) + 16
            z = (lo + (hi - lo) * rng.random(count)).astype(dtype)
            z = z[rng.random(count) <= np.exp((peak**2 - z.astype(np.float64) ** 2) / 2)]
            take = z[: out.size - filled]
            out[filled : filled + len(take)] = take
            filled += len(take)
    out *= dtype.type(std)
    out += dtype.type(mean)
    np.clip(out, a, b, out=out)
    return _finish(tensor, out)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot uniform: bound ``gain * sqrt(6 / (fan_in + fan_out))``.

    Examples
    --------
    >>> import lucid
    >>> from lucid.nn import init
    >>> w = init.xavier_uniform_(lucid.zeros(30, 20))
    >>> bool(abs(w).max() <= (6 / 50) ** 0.5)
    True
    """
    fan_in, fan_out = _fans(tensor)
    if tensor.numel() == 0:
        return tensor
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot normal: std ``gain * sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = _fans(tensor)
    if tensor.numel() == 0:
        return tensor
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def kaiming_uniform_(
    tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Tensor:
    """He uniform: bound ``gain * sqrt(3 / fan)``, gain from ``calculate_gain(nonlinearity, a)``.

    Parameters
    ----------
    tensor:
        A weight of shape ``(out, in, *kernel)``.
    a:
        Negative slope of the leaky ReLU that follows (for ``"leaky_relu"``).
    mode:
        ``"fan_in"`` keeps the forward signal's variance, ``"fan_out"`` the gradient's.
    nonlinearity:
        Passed to ``calculate_gain``.

    Examples
    --------
    >>> import lucid
    >>> from lucid.nn import init
    >>> w = init.kaiming_uniform_(lucid.zeros(64, 27), nonlinearity="relu")
    >>> bool(abs(w).max() <= (6 / 27) ** 0.5)
    True
    """
    fan = _fan(tensor, mode)
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(
    tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Tensor:
    """He normal: std ``gain / sqrt(fan)``; arguments as for ``kaiming_uniform_``."""
    fan = _fan(tensor, mode)
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan))
