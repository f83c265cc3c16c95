"""``Embedding``: a learned lookup table of vectors."""

from __future__ import annotations

from lucid._tensor import Tensor
from lucid.nn import functional as F
from lucid.nn import init
from lucid.nn._meta import empty, is_meta
from lucid.nn.modules.module import Module
from lucid.nn.parameter import Parameter


class Embedding(Module):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim``, looked up by index.

    Parameters
    ----------
    num_embeddings:
        Rows of the table.
    embedding_dim:
        Size of each vector.
    padding_idx:
        A row that starts at zero and receives no gradient.

    Attributes
    ----------
    weight:
        Shape ``(num_embeddings, embedding_dim)``, drawn from N(0, 1).

    Examples
    --------
    >>> import lucid
    >>> emb = lucid.nn.Embedding(10, 4, padding_idx=0)
    >>> emb(lucid.Tensor([[0, 3], [9, 9]])).shape
    (2, 2, 4)
    """

    def __init__(
        self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None
    ) -> None:
        super().__init__()
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"padding_idx {padding_idx} is out of range for {num_embeddings} embeddings"
                )
            padding_idx %= num_embeddings
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_idx
        self.weight = Parameter(empty((num_embeddings, embedding_dim)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw the table again from N(0, 1), with the padding row zero."""
        init.normal_(self.weight)
        if self.padding_idx is not None and not is_meta(self.weight):
            self.weight.data[self.padding_idx] = 0

    def forward(self, input: Tensor) -> Tensor:
        return F.embedding(input, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        return text
