"""Loss layers: ``CrossEntropyLoss``, ``NLLLoss`` and ``MSELoss``."""

from __future__ import annotations

from lucid._tensor import Tensor
from lucid.nn import functional as F
from lucid.nn.modules.module import Module


class CrossEntropyLoss(Module):
    """Cross entropy of logits against class indices or probabilities.

    Parameters
    ----------
    weight, ignore_index, reduction, label_smoothing:
        As for ``lucid.nn.functional.cross_entropy``; ``weight`` is kept as a buffer.

    Examples
    --------
    >>> import lucid
    >>> loss = lucid.nn.CrossEntropyLoss(label_smoothing=0.1)
    >>> round(float(loss(lucid.zeros(4, 5), lucid.Tensor([0, 1, 2, 3]))), 4)  # log(5)
    1.6094
    """

    def __init__(
        self,
        weight: Tensor | None = None,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__()
        self.register_buffer("weight", weight)
        self.ignore_index = ignore_index
        self.reduction = reduction
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(
            input, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing
        )


class NLLLoss(Module):
    """Negative log-likelihood of class indices under log-probabilities.

    Examples
    --------
    >>> import lucid
    >>> logp = lucid.Tensor([[-0.5, -1.0]])
    >>> float(lucid.nn.NLLLoss()(logp, lucid.Tensor([1])))
    1.0
    """

    def __init__(
        self, weight: Tensor | None = None, ignore_index: int = -100, reduction: str = "mean"
    ) -> None:
        super().__init__()
        self.register_buffer("weight", weight)
        self.ignore_index = ignore_index
        self.reduction = reduction

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class MSELoss(Module):
    """Mean (or summed) squared error.

    Examples
    --------
    >>> import lucid
    >>> float(lucid.nn.MSELoss()(lucid.Tensor([0.0, 2.0]), lucid.zeros(2)))
    2.0
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(input, target, self.reduction)
