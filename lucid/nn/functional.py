"""Functional forms of the layers (``import lucid.nn.functional as F``), with PyTorch's names.

Generic tensor operations such as ``relu`` or ``softmax`` are the engine's
own (``lucid.relu`` and friends), re-exported here; the layer-level
operations (``linear``, ``conv2d``, ``layer_norm``, ``cross_entropy``,
``scaled_dot_product_attention``, ...) are fused functions with their own
forward and backward, in ``lucid.nn._functional``. One has no PyTorch
counterpart: ``linear_gelu``, a linear layer and GELU fused.
"""

from __future__ import annotations

from collections.abc import Sequence

from lucid import _ops
from lucid._ops import gelu, relu, sigmoid, tanh
from lucid._tensor import Tensor
from lucid.nn._functional.attention import scaled_dot_product_attention
from lucid.nn._functional.conv import conv1d, conv2d
from lucid.nn._functional.dropout import drop_path, dropout
from lucid.nn._functional.linear import linear, linear_gelu
from lucid.nn._functional.loss import cross_entropy, mse_loss, nll_loss
from lucid.nn._functional.normalization import batch_norm, group_norm, layer_norm
from lucid.nn._functional.pooling import adaptive_avg_pool2d, avg_pool2d, max_pool2d
from lucid.nn._functional.resample import interpolate
from lucid.nn._functional.sparse import embedding

__all__ = [
    "adaptive_avg_pool2d",
    "avg_pool2d",
    "batch_norm",
    "conv1d",
    "conv2d",
    "cross_entropy",
    "drop_path",
    "dropout",
    "embedding",
    "gelu",
    "group_norm",
    "interpolate",
    "layer_norm",
    "linear",
    "linear_gelu",
    "log_softmax",
    "max_pool2d",
    "mse_loss",
    "nll_loss",
    "pad",
    "relu",
    "scaled_dot_product_attention",
    "sigmoid",
    "silu",
    "softmax",
    "tanh",
]


def softmax(input: Tensor, dim: int = -1) -> Tensor:
    """Softmax along ``dim`` (``lucid.softmax`` with PyTorch's argument name).

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.softmax(lucid.zeros(2, 2), dim=1).tolist()
    [[0.5, 0.5], [0.5, 0.5]]
    """
    return _ops.softmax(input, dim)


def log_softmax(input: Tensor, dim: int = -1) -> Tensor:
    """Log of the softmax along ``dim``, computed stably.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> [round(v, 4) for v in F.log_softmax(lucid.zeros(2), dim=0).tolist()]
    [-0.6931, -0.6931]
    """
    return _ops.log_softmax(input, dim)


def silu(input: Tensor) -> Tensor:
    """``x * sigmoid(x)`` elementwise.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> [round(v, 4) for v in F.silu(lucid.Tensor([-1.0, 1.0])).tolist()]
    [-0.2689, 0.7311]
    """
    return input * _ops.sigmoid(input)


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: float = 0.0) -> Tensor:
    """Pad the last axes, PyTorch style: ``pad`` lists (before, after) pairs from the LAST axis.

    ``(1, 2)`` pads the last axis by 1 before and 2 after; ``(1, 1, 2, 2)``
    also pads the second-to-last axis by 2 on each side. Only constant
    padding is available.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.pad(lucid.ones(1, 2, 2), (1, 1, 0, 2)).shape
    (1, 4, 4)
    """
    widths = tuple(pad)
    if len(widths) % 2 or len(widths) // 2 > input.ndim:
        raise ValueError(
            f"pad needs (before, after) pairs for at most {input.ndim} axes, last axis first; "
            f"got {widths!r}"
        )
    pairs = [(0, 0)] * input.ndim
    for k in range(len(widths) // 2):
        pairs[input.ndim - 1 - k] = (widths[2 * k], widths[2 * k + 1])
    return _ops.pad(input, pairs, mode=mode, value=value)
