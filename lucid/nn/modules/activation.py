"""Activation layers: ``ReLU``, ``GELU``, ``SiLU``, ``Sigmoid``, ``Tanh`` and ``Softmax``."""

from __future__ import annotations

from lucid._tensor import Tensor
from lucid.nn import functional as F
from lucid.nn.modules.module import Module


class _Elementwise(Module):
    """An activation with no settings but ``inplace``.

    ``inplace`` is accepted so PyTorch model code runs unchanged; lucid
    always computes out of place (in-place ops cannot be differentiated).
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class ReLU(_Elementwise):
    """``max(x, 0)`` elementwise.

    Examples
    --------
    >>> import lucid
    >>> lucid.nn.ReLU()(lucid.Tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.relu(input)


class SiLU(_Elementwise):
    """``x * sigmoid(x)`` elementwise (also called swish).

    Examples
    --------
    >>> import lucid
    >>> lucid.nn.SiLU()(lucid.Tensor([0.0])).tolist()
    [0.0]
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.silu(input)


class Sigmoid(Module):
    """``1 / (1 + exp(-x))`` elementwise.

    Examples
    --------
    >>> import lucid
    >>> lucid.nn.Sigmoid()(lucid.Tensor([0.0])).tolist()
    [0.5]
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.sigmoid(input)


class Tanh(Module):
    """Hyperbolic tangent elementwise.

    Examples
    --------
    >>> import lucid
    >>> lucid.nn.Tanh()(lucid.Tensor([0.0])).tolist()
    [0.0]
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.tanh(input)


class GELU(Module):
    """Gaussian error linear unit, ``x * Phi(x)``.

    Parameters
    ----------
    approximate:
        ``"none"`` for the exact form with ``erf``, ``"tanh"`` for the tanh
        approximation.

    Examples
    --------
    >>> import lucid
    >>> lucid.nn.GELU()(lucid.Tensor([0.0])).tolist()
    [0.0]
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Softmax(Module):
    """Softmax along ``dim``: positive values summing to one.

    Parameters
    ----------
    dim:
        The axis to normalise (required: PyTorch's implicit choice is deprecated).

    Examples
    --------
    >>> import lucid
    >>> lucid.nn.Softmax(dim=-1)(lucid.zeros(1, 4)).tolist()
    [[0.25, 0.25, 0.25, 0.25]]
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        if self.dim is None:
            raise ValueError(
                "Softmax needs the axis to normalise: construct it as Softmax(dim=...)"
            )
        return F.softmax(input, dim=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
