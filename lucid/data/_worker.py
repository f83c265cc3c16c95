"""What runs inside a DataLoader worker process: seeding, fetching, and reporting errors."""

from __future__ import annotations

import os
import pickle
import random
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from lucid import _random

__all__ = ["WorkerInfo", "get_worker_info"]

# How often an idle worker checks that the main process is still there.
_PARENT_CHECK_INTERVAL = 1.0


@dataclass(frozen=True)
class WorkerInfo:
    """Which worker this process is, as ``torch.utils.data.get_worker_info()`` describes it.

    Attributes
    ----------
    id:
        The worker's number, ``0 .. num_workers - 1``.
    num_workers:
        How many workers the DataLoader runs.
    seed:
        The seed of this worker's random state (``base_seed + id``).
    dataset:
        This worker's copy of the dataset.
    """

    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """The :class:`WorkerInfo` of the DataLoader worker running this code; None in the main process.

    Use it in an :class:`~lucid.data.IterableDataset`'s ``__iter__`` to give
    each worker its share of the stream, or in ``worker_init_fn``.

    Examples
    --------
    >>> from lucid.data import get_worker_info
    >>> get_worker_info() is None  # in the main process
    True
    """
    return _worker_info


def seed_worker(base_seed: int, worker_id: int) -> int:
    """Seed this process's random state as PyTorch seeds a DataLoader worker; returns the seed.

    lucid's default generator and Python's ``random`` get ``base_seed +
    worker_id``; NumPy's legacy global state gets four words mixed from both
    by NumPy's ``SeedSequence`` (the same words as PyTorch's
    ``_generate_state``), so workers never share a stream.
    """
    seed = base_seed + worker_id
    _random.manual_seed(seed)
    random.seed(seed)
    words = [worker_id, base_seed & 0xFFFFFFFF, base_seed >> 32, 0]
    np.random.seed(np.random.SeedSequence(words).generate_state(4))
    return seed


class ExceptionWrapper:
    """A worker's exception, with its traceback as text, to raise again in the main process."""

    def __init__(self, where: str) -> None:
        exc_type, exc, _ = sys.exc_info()
        assert exc_type is not None, "ExceptionWrapper is made inside an except block"
        self.exc_type: type[BaseException] = exc_type
        try:
            pickle.dumps(exc_type)
        except Exception:
            # A class defined in a function cannot travel to the main process.
            self.exc_type = RuntimeError
        self.msg = f"Caught {exc_type.__name__} {where}.\nOriginal " + "".join(
            traceback.format_exception(exc_type, exc, exc.__traceback__ if exc else None)
        )

    def reraise(self) -> None:
        """Raise the worker's exception type with the worker's traceback in its message."""
        msg = self.msg
        if self.exc_type is KeyError:
            # KeyError shows repr(message); a str subclass with a plain repr keeps it readable.
            msg = _KeyErrorMessage(msg)
        try:
            exception = self.exc_type(msg)
        except Exception:
            # An exception type whose constructor needs other arguments.
            raise RuntimeError(msg) from None
        raise exception


class _KeyErrorMessage(str):
    def __repr__(self) -> str:
        return str(self)


@dataclass(frozen=True)
class IterableEnd:
    """A worker's iterable-style dataset is exhausted (for this epoch)."""

    worker_id: int


@dataclass(frozen=True)
class Resume:
    """The next epoch of a persistent worker begins: start the dataset's iterator afresh."""


class Fetcher:
    """Get one batch (or sample) from a dataset, as the main process and the workers both do."""

    def __init__(
        self,
        dataset: Any,
        iterable: bool,
        auto_collation: bool,
        collate_fn: Callable[[Any], Any],
        drop_last: bool,
    ) -> None:
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.iterator = iter(dataset) if iterable else None
        self.ended = False

    def fetch(self, index: Any) -> Any:
        """The collated samples at ``index``; StopIteration once an iterable dataset is done."""
        if self.iterator is None:
            if self.auto_collation:
                return self.collate_fn([self.dataset[i] for i in index])
            return self.collate_fn(self.dataset[index])
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.iterator))
        data = []
        for _ in index:
            try:
                data.append(next(self.iterator))
            except StopIteration:
                self.ended = True
                break
        if not data or (self.drop_last and len(data) < len(index)):
            raise StopIteration
        return self.collate_fn(data)


def worker_loop(
    conn: Connection,
    make_fetcher: Callable[[], Fetcher],
    dataset: Any,
    worker_id: int,
    num_workers: int,
    base_seed: int,
    worker_init_fn: Callable[[int], None] | None,
    parent_pid: int,
) -> None:
    """The body of a worker process: answer ``(task, index)`` messages until told to stop (None)."""
    global _worker_info
    where = f"in DataLoader worker process {worker_id}"
    try:
        seed = seed_worker(base_seed, worker_id)
        _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
        # As PyTorch, a failing worker_init_fn (or dataset iterator) is
        # reported with the first batch this worker is asked for.
        init_error: ExceptionWrapper | None = None
        fetcher: Fetcher | None = None
        try:
            if worker_init_fn is not None:
                worker_init_fn(worker_id)
            fetcher = make_fetcher()
        except Exception:
            init_error = ExceptionWrapper(where)
        while True:
            if not conn.poll(_PARENT_CHECK_INTERVAL):
                if os.getppid() != parent_pid:
                    return  # the main process died without telling us
                continue
            message = conn.recv()
            if message is None:
                return
            if isinstance(message, Resume):
                try:
                    fetcher = make_fetcher()
                except Exception:
                    fetcher, init_error = None, ExceptionWrapper(where)
                conn.send((message, None))
                continue
            task, index = message
            data: Any
            if fetcher is None:
                data = init_error  # a worker that failed to start fails every batch
            else:
                try:
                    data = fetcher.fetch(index)
                except StopIteration:
                    data = IterableEnd(worker_id)
                except Exception:
                    data = ExceptionWrapper(where)
            try:
                conn.send((task, data))
            except Exception:
                # The batch cannot be pickled (a lambda, a lock...): report that instead.
                conn.send((task, ExceptionWrapper(f"{where} while sending the batch")))
    except KeyboardInterrupt:
        pass  # Ctrl-C reaches the main process too, which stops every worker
    except (BrokenPipeError, EOFError, ConnectionResetError):
        pass  # the main process is gone
