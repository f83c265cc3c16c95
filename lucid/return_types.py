"""The named tuples of ops that return values and indices, as ``torch.return_types``.

Each unpacks as ``values, indices``: the gradient flows through ``values`` to
the selected elements, ``indices`` (int64) has none.
"""

from __future__ import annotations

from typing import NamedTuple

from lucid._tensor import Tensor


class _ValuesIndices(NamedTuple):
    values: Tensor
    indices: Tensor

    def __repr__(self) -> str:
        name = f"lucid.return_types.{type(self).__name__}"
        return f"{name}(values={self.values!r}, indices={self.indices!r})"


class max(_ValuesIndices):
    """What :func:`lucid.max` returns along a dim: the largest values and their indices.

    Examples
    --------
    >>> import lucid
    >>> lucid.tensor([[1.0, 5.0], [7.0, 0.0]]).max(1)
    lucid.return_types.max(values=tensor([5., 7.]), indices=tensor([1, 0]))
    """

    __slots__ = ()


class min(_ValuesIndices):
    """What :func:`lucid.min` returns along a dim: the smallest values and their indices."""

    __slots__ = ()


class sort(_ValuesIndices):
    """What :func:`lucid.sort` returns: the sorted values and where each came from."""

    __slots__ = ()


class topk(_ValuesIndices):
    """What :func:`lucid.topk` returns: the ``k`` largest (or smallest) values and indices."""

    __slots__ = ()


__all__ = ["max", "min", "sort", "topk"]
