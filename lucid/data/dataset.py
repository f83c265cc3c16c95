"""Datasets as ``torch.utils.data``'s: map-style, iterable, and ways to combine and split them."""

from __future__ import annotations

import bisect
import itertools
import math
import numbers
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, Generic, TypeVar

from lucid._creation import randperm
from lucid._random import Generator
from lucid._tensor import Tensor

__all__ = [
    "ConcatDataset",
    "Dataset",
    "IterableDataset",
    "Subset",
    "TensorDataset",
    "random_split",
]

T_co = TypeVar("T_co", covariant=True)


class Dataset(Generic[T_co]):
    """A map-style dataset: ``dataset[i]`` is sample ``i``; subclasses define ``__getitem__``.

    Define ``__len__`` too so that samplers and :class:`~lucid.data.DataLoader`
    know the size. ``a + b`` concatenates two datasets.

    Examples
    --------
    >>> from lucid.data import Dataset
    >>> class Squares(Dataset):
    ...     def __len__(self):
    ...         return 4
    ...     def __getitem__(self, i):
    ...         return i * i
    >>> squares = Squares()
    >>> len(squares + squares), (squares + squares)[5]
    (8, 1)
    """

    def __getitem__(self, index: Any) -> T_co:
        raise NotImplementedError(f"{type(self).__name__} should implement __getitem__")

    def __add__(self, other: Dataset[T_co]) -> ConcatDataset[T_co]:
        return ConcatDataset([self, other])


class IterableDataset(Dataset[T_co]):
    """A stream of samples: subclasses define ``__iter__``.

    With ``num_workers > 0`` every worker process iterates its own copy; use
    :func:`~lucid.data.get_worker_info` inside ``__iter__`` to give each worker
    its share, or every sample arrives ``num_workers`` times (as in PyTorch).

    Examples
    --------
    >>> from lucid.data import IterableDataset, DataLoader
    >>> class Count(IterableDataset):
    ...     def __iter__(self):
    ...         return iter(range(5))
    >>> [batch.tolist() for batch in DataLoader(Count(), batch_size=2)]
    [[0, 1], [2, 3], [4]]
    """

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError(f"{type(self).__name__} should implement __iter__")

    def __getitem__(self, index: Any) -> T_co:
        raise TypeError(
            f"{type(self).__name__} is iterable-style: iterate over it, do not index it"
        )


class TensorDataset(Dataset[tuple[Tensor, ...]]):
    """Samples are the rows of tensors of equal length: ``dataset[i] == (t[i] for t in tensors)``.

    Examples
    --------
    >>> import lucid
    >>> from lucid.data import TensorDataset
    >>> ds = TensorDataset(lucid.arange(6).reshape(3, 2), lucid.tensor([7, 8, 9]))
    >>> len(ds), ds[1]
    (3, (tensor([2, 3]), tensor(8)))
    """

    def __init__(self, *tensors: Tensor) -> None:
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        for i, t in enumerate(tensors):
            if not isinstance(t, Tensor) or t.ndim == 0:
                got = "a 0-d tensor" if isinstance(t, Tensor) else type(t).__name__
                raise TypeError(
                    f"TensorDataset takes lucid tensors with a first (sample) dimension; "
                    f"argument {i} is {got} (wrap arrays with lucid.tensor)"
                )
        sizes = [t.shape[0] for t in tensors]
        if len(set(sizes)) != 1:
            raise ValueError(f"Size mismatch between tensors: first dimensions are {sizes}")
        self.tensors = tensors

    def __getitem__(self, index: Any) -> tuple[Tensor, ...]:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return int(self.tensors[0].shape[0])


class Subset(Dataset[T_co]):
    """The samples of ``dataset`` at ``indices``, in that order.

    Examples
    --------
    >>> from lucid.data import Subset
    >>> Subset(["a", "b", "c", "d"], [3, 0])[0]
    'd'
    """

    def __init__(self, dataset: Dataset[T_co] | Sequence[T_co], indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]  # type: ignore[call-overload]
        return self.dataset[self.indices[idx]]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset[T_co]):
    """Several map-style datasets one after the other.

    Examples
    --------
    >>> from lucid.data import ConcatDataset
    >>> both = ConcatDataset([[0, 1, 2], [10, 11]])
    >>> len(both), both[3], both[-1], both.cumulative_sizes
    (5, 10, 11, [3, 5])
    """

    def __init__(self, datasets: Sequence[Dataset[T_co] | Sequence[T_co]]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError(
                    f"ConcatDataset does not support IterableDataset ({type(d).__name__}): "
                    "chain the iterators in an IterableDataset of your own"
                )
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))  # type: ignore[arg-type]

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int) -> T_co:
        length = len(self)
        if idx < 0:
            if -idx > length:
                raise ValueError(
                    f"absolute value of index should not exceed dataset length: "
                    f"index {idx}, length {length}"
                )
            idx += length
        if idx >= length:
            raise IndexError(f"index {idx} is out of range for a dataset of length {length}")
        dataset_idx = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[dataset_idx - 1] if dataset_idx > 0 else 0
        return self.datasets[dataset_idx][idx - start]


def random_split(
    dataset: Dataset[T_co] | Sequence[T_co],
    lengths: Sequence[int | float],
    generator: Generator | None = None,
) -> list[Subset[T_co]]:
    """Split ``dataset`` at random into non-overlapping subsets of the given lengths.

    As ``torch.utils.data.random_split``: ``lengths`` are counts summing to
    ``len(dataset)``, or fractions summing to 1 (``floor(len * fraction)``
    each, the remainder handed out one by one from the first). The order
    comes from ``lucid.randperm(len(dataset), generator=generator)``.

    Examples
    --------
    >>> import lucid
    >>> from lucid.data import random_split
    >>> train, val = random_split(range(10), [0.8, 0.2], generator=lucid.Generator().manual_seed(0))
    >>> len(train), len(val), sorted(list(train) + list(val)) == list(range(10))
    (8, 2, True)
    """
    n = len(dataset)  # type: ignore[arg-type]
    if any(isinstance(x, bool) or not isinstance(x, numbers.Real) for x in lengths):
        raise TypeError(f"lengths must be numbers, got {lengths!r}")
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        counts = []
        for i, frac in enumerate(lengths):
            if not 0 <= frac <= 1:
                raise ValueError(f"Fraction at index {i} is not between 0 and 1: {frac}")
            counts.append(math.floor(n * frac))
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        for i, count in enumerate(counts):
            if count == 0:
                warnings.warn(f"Length of split at index {i} is 0", stacklevel=2)
    else:
        if any(not isinstance(x, numbers.Integral) or x < 0 for x in lengths):
            raise ValueError(
                f"lengths must be non-negative counts or fractions summing to 1, got {lengths!r}"
            )
        counts = [int(x) for x in lengths]
    if sum(counts) != n:
        raise ValueError(
            f"Sum of input lengths ({sum(counts)}) does not equal the length of the input "
            f"dataset ({n})"
        )
    order = randperm(n, generator=generator).tolist()
    return [
        Subset(dataset, order[end - count : end])
        for end, count in zip(itertools.accumulate(counts), counts, strict=True)
    ]
