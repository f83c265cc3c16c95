"""Random regularisation layers: ``Dropout`` and ``DropPath`` (stochastic depth)."""

from __future__ import annotations

from lucid._tensor import Tensor
from lucid.nn import functional as F
from lucid.nn.modules.module import Module


class Dropout(Module):
    """Zero elements with probability ``p`` in training mode, scaling the rest by ``1/(1-p)``.

    Parameters
    ----------
    p:
        Probability of zeroing an element.
    inplace:
        Accepted for PyTorch compatibility; lucid always computes out of place.

    Examples
    --------
    >>> import lucid
    >>> drop = lucid.nn.Dropout(0.5).eval()
    >>> drop(lucid.ones(3)).tolist()
    [1.0, 1.0, 1.0]
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability must be in [0, 1], got {p!r}")
        self.p = p
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class DropPath(Module):
    """Stochastic depth: in training mode, drop whole samples of a residual branch.

    Each sample is zeroed with probability ``drop_prob`` and otherwise scaled
    by ``1 / (1 - drop_prob)`` (when ``scale_by_keep``), as in timm.

    Examples
    --------
    >>> import lucid
    >>> lucid.nn.DropPath(0.1)
    DropPath(drop_prob=0.100)
    """

    def __init__(self, drop_prob: float = 0.0, scale_by_keep: bool = True) -> None:
        super().__init__()
        if not 0.0 <= drop_prob <= 1.0:
            raise ValueError(f"drop_prob must be in [0, 1], got {drop_prob!r}")
        self.drop_prob = drop_prob
        self.scale_by_keep = scale_by_keep

    def forward(self, input: Tensor) -> Tensor:
        return F.drop_path(input, self.drop_prob, self.training, self.scale_by_keep)

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob:0.3f}"
