"""``embedding``: rows of a weight matrix picked by integer indices."""

from __future__ import annotations

import numpy as np

from lucid._tensor import Tensor
from lucid.autograd import Function


class _Embedding(Function):
    @staticmethod
    def forward(ctx, weight, *, indices, padding_idx):
        ctx.indices, ctx.padding_idx = indices, padding_idx
        return weight[indices]

    @staticmethod
    def backward(ctx, grad):
        rows, dim = ctx.input_shapes[0]
        gw = np.zeros((rows, dim), dtype=grad.dtype)
        np.add.at(gw, ctx.indices.reshape(-1), grad.reshape(-1, dim))
        if ctx.padding_idx is not None:
            gw[ctx.padding_idx] = 0
        return gw


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Look up rows of ``weight`` (num_embeddings, dim) at the integer ``input`` indices.

    Parameters
    ----------
    input:
        Integer tensor of any shape.
    weight:
        Shape ``(num_embeddings, embedding_dim)``.
    padding_idx:
        This row receives no gradient.

    Returns
    -------
    Tensor of shape ``(*input.shape, embedding_dim)``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> table = lucid.Tensor([[0.0, 0.0], [1.0, 2.0]])
    >>> F.embedding(lucid.Tensor([1, 0, 1]), table).tolist()
    [[1.0, 2.0], [0.0, 0.0], [1.0, 2.0]]
    """
    if input.dtype.kind not in "iu":
        raise TypeError(f"embedding indices must be integers, got dtype {input.dtype}")
    if weight.ndim != 2:
        raise ValueError(f"embedding weight must be (num_embeddings, dim), got {weight.shape}")
    rows = weight.shape[0]
    if input.numel() and (input.data.min() < 0 or input.data.max() >= rows):
        raise IndexError(
            f"embedding index out of range: indices span [{input.data.min()}, "
            f"{input.data.max()}] but the table has {rows} rows"
        )
    if padding_idx is not None and padding_idx < 0:
        padding_idx += rows
    return _Embedding.apply(weight, indices=input.data, padding_idx=padding_idx)
