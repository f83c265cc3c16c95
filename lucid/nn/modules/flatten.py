"""``Flatten``: merge a range of axes into one."""

from __future__ import annotations

from lucid._tensor import Tensor
from lucid.nn.modules.module import Module


class Flatten(Module):
    """Flatten axes ``start_dim`` to ``end_dim`` (by default all but the batch axis).

    Examples
    --------
    >>> import lucid
    >>> lucid.nn.Flatten()(lucid.zeros(2, 3, 4, 5)).shape
    (2, 60)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
