"""Samplers as ``torch.utils.data``'s: the order in which a DataLoader visits a dataset."""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Iterator, Sized
from typing import Any, Generic, TypeVar

from lucid import _random
from lucid._creation import randperm
from lucid._random import Generator

__all__ = ["BatchSampler", "RandomSampler", "Sampler", "SequentialSampler"]

T_co = TypeVar("T_co", covariant=True)


class Sampler(Generic[T_co]):
    """Base class of samplers: an iterable of dataset indices (or of lists of them).

    Examples
    --------
    >>> from lucid.data import Sampler
    >>> class Backwards(Sampler):
    ...     def __init__(self, n):
    ...         self.n = n
    ...     def __iter__(self):
    ...         return iter(range(self.n - 1, -1, -1))
    ...     def __len__(self):
    ...         return self.n
    >>> list(Backwards(3))
    [2, 1, 0]
    """

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError(f"{type(self).__name__} should implement __iter__")


class SequentialSampler(Sampler[int]):
    """``0, 1, ..., len(data_source) - 1``.

    Examples
    --------
    >>> from lucid.data import SequentialSampler
    >>> list(SequentialSampler("abc"))
    [0, 1, 2]
    """

    def __init__(self, data_source: Sized) -> None:
        self.data_source: Sized = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


def _seeded_generator(generator: Generator | None) -> Generator:
    """``generator``, or (as PyTorch) a fresh one seeded from the default generator."""
    if generator is not None:
        return generator
    seed = int(_random.numpy_rng(None).integers(0, 2**63))
    return Generator().manual_seed(seed)


class RandomSampler(Sampler[int]):
    """Indices in a random order, as ``torch.utils.data.RandomSampler``.

    Without replacement, each pass is a fresh ``randperm(n)`` (``num_samples``
    may span several passes); with replacement, indices are drawn uniformly
    in chunks of 32. Without a ``generator``, every iteration seeds a new one
    from lucid's default generator, so ``lucid.manual_seed`` fixes the order.

    Parameters
    ----------
    data_source:
        The dataset (only its length is used).
    replacement:
        Draw with replacement.
    num_samples:
        How many indices to yield (default: ``len(data_source)``).
    generator:
        The :class:`lucid.Generator` to draw from.

    Examples
    --------
    >>> import lucid
    >>> from lucid.data import RandomSampler
    >>> g = lucid.Generator().manual_seed(0)
    >>> sorted(RandomSampler(range(5), generator=g))
    [0, 1, 2, 3, 4]
    """

    def __init__(
        self,
        data_source: Sized,
        replacement: bool = False,
        num_samples: int | None = None,
        generator: Generator | None = None,
    ) -> None:
        if not isinstance(replacement, bool):
            raise TypeError(
                f"replacement should be a boolean value, but got replacement={replacement!r}"
            )
        count = len(data_source) if num_samples is None else num_samples
        if isinstance(count, bool) or not isinstance(count, numbers.Integral) or count <= 0:
            raise ValueError(
                f"num_samples should be a positive integer value, but got num_samples={count!r}"
                + (" (the dataset is empty)" if num_samples is None else "")
            )
        if generator is not None and not isinstance(generator, Generator):
            raise TypeError(f"generator must be a lucid.Generator, got {type(generator).__name__}")
        self.data_source: Sized = data_source
        self.replacement: bool = replacement
        self._num_samples: int | None = num_samples
        self.generator: Generator | None = generator

    @property
    def num_samples(self) -> int:
        """How many indices one iteration yields."""
        return len(self.data_source) if self._num_samples is None else int(self._num_samples)

    def __iter__(self) -> Iterator[int]:
        n = len(self.data_source)
        generator = _seeded_generator(self.generator)
        if self.replacement:
            rng = _random.numpy_rng(generator)
            for _ in range(self.num_samples // 32):
                yield from rng.integers(0, n, size=32).tolist()
            yield from rng.integers(0, n, size=self.num_samples % 32).tolist()
            return
        for _ in range(self.num_samples // n):
            yield from randperm(n, generator=generator).tolist()
        yield from randperm(n, generator=generator).tolist()[: self.num_samples % n]

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler[list[int]]):
    """Group the indices of ``sampler`` into lists of ``batch_size``.

    Examples
    --------
    >>> from lucid.data import BatchSampler, SequentialSampler
    >>> list(BatchSampler(SequentialSampler(range(5)), batch_size=2, drop_last=False))
    [[0, 1], [2, 3], [4]]
    >>> list(BatchSampler(SequentialSampler(range(5)), batch_size=2, drop_last=True))
    [[0, 1], [2, 3]]
    """

    def __init__(self, sampler: Iterable[Any], batch_size: int, drop_last: bool) -> None:
        if (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, numbers.Integral)
            or batch_size <= 0
        ):
            raise ValueError(
                f"batch_size should be a positive integer value, but got batch_size={batch_size!r}"
            )
        if not isinstance(drop_last, bool):
            raise ValueError(
                f"drop_last should be a boolean value, but got drop_last={drop_last!r}"
            )
        self.sampler: Iterable[Any] = sampler
        self.batch_size: int = int(batch_size)
        self.drop_last: bool = drop_last

    def __iter__(self) -> Iterator[list[Any]]:
        batch: list[Any] = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        if self.drop_last:
            return n // self.batch_size
        return (n + self.batch_size - 1) // self.batch_size


class _InfiniteConstantSampler(Sampler[None]):
    """``None`` forever: the placeholder indices of an iterable-style dataset."""

    def __iter__(self) -> Iterator[None]:
        while True:
            yield None
