"""``DistributedSampler``: each rank reads its own share of a dataset."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sized

from lucid._creation import randperm
from lucid._random import Generator
from lucid.data.sampler import Sampler
from lucid.distributed import _group


class DistributedSampler(Sampler[int]):
    """Indices of the share of ``dataset`` that one rank reads, as PyTorch's ``DistributedSampler``.

    The dataset's indices (shuffled with ``seed + epoch`` when ``shuffle``)
    are dealt out to the ranks in turn: rank ``r`` gets positions ``r``,
    ``r + num_replicas``, ... Every rank gets the same number of samples: the
    list is padded by repeating its start, or, with ``drop_last``, cut to a
    multiple of ``num_replicas``. Call :meth:`set_epoch` at the start of each
    epoch so the order changes from epoch to epoch.

    Parameters
    ----------
    dataset
        Anything with a length.
    num_replicas, rank
        Default to the process group's world size and rank.
    shuffle
        Shuffle the indices, the same way on every rank.
    seed
        Must be the same on every rank.
    drop_last
        Drop the tail instead of padding.

    Examples
    --------
    >>> from lucid.distributed import DistributedSampler
    >>> list(DistributedSampler(range(5), num_replicas=2, rank=1, shuffle=False))
    [1, 3, 0]
    """

    def __init__(
        self,
        dataset: Sized,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if num_replicas is None:
            num_replicas = _group.get_world_size()
        if rank is None:
            rank = _group.get_rank()
        if isinstance(num_replicas, bool) or not isinstance(num_replicas, int) or num_replicas < 1:
            raise ValueError(f"num_replicas must be a positive integer, got {num_replicas!r}")
        if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < num_replicas:
            raise ValueError(
                f"Invalid rank {rank!r}, rank should be in the interval [0, {num_replicas - 1}]"
            )
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.epoch = 0
        n = len(dataset)
        if drop_last and n % num_replicas:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        if self.shuffle:
            g = Generator().manual_seed(self.seed + self.epoch)
            indices = randperm(n, generator=g).tolist()
        else:
            indices = list(range(n))
        if self.drop_last:
            indices = indices[: self.total_size]
        elif indices:
            padding = self.total_size - len(indices)
            indices += (indices * math.ceil(padding / len(indices)))[:padding]
        return iter(indices[self.rank : self.total_size : self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch`` in the shuffle's seed: each epoch then has its own order."""
        self.epoch = epoch
