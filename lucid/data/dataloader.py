"""``DataLoader`` as PyTorch's: batches from a dataset, loaded in worker processes if asked."""

from __future__ import annotations

import contextlib
import functools
import itertools
import multiprocessing
import multiprocessing.context
import numbers
import os
import signal
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection, wait
from typing import Any, Generic, TypeVar

from lucid import _random
from lucid._random import Generator
from lucid.data._collate import default_collate, default_convert
from lucid.data._worker import ExceptionWrapper, Fetcher, IterableEnd, Resume, worker_loop
from lucid.data.dataset import Dataset, IterableDataset
from lucid.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    _InfiniteConstantSampler,
)

__all__ = ["DataLoader"]

T_co = TypeVar("T_co", covariant=True)

# How long a worker may take to stop when asked before it is terminated.
_SHUTDOWN_GRACE = 5.0

# Attributes PyTorch refuses to change once a DataLoader is built: the
# samplers made from them would silently disagree.
_FROZEN = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset", "persistent_workers")


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


class DataLoader(Generic[T_co]):
    """Iterate over a dataset in batches, as ``torch.utils.data.DataLoader``.

    Parameters
    ----------
    dataset:
        A map-style dataset (``__getitem__`` and ``__len__``) or an
        :class:`~lucid.data.IterableDataset`.
    batch_size:
        Samples per batch; ``None`` yields single samples, converted but not collated.
    shuffle:
        Visit the samples in a new random order every epoch (a
        :class:`~lucid.data.RandomSampler` drawing from ``generator``).
    sampler:
        The order of the indices (exclusive with ``shuffle``).
    batch_sampler:
        Yields whole lists of indices (exclusive with ``batch_size``,
        ``shuffle``, ``sampler`` and ``drop_last``).
    num_workers:
        Worker processes that load batches in parallel; 0 loads in this process.
    collate_fn:
        Turns a list of samples into a batch (default: :func:`~lucid.data.default_collate`).
    pin_memory:
        Accepted for PyTorch code; lucid runs on the CPU, so there is nothing to pin.
    drop_last:
        Drop the last batch if it is smaller than ``batch_size``.
    timeout:
        Seconds to wait for a batch from the workers before raising; 0 waits as
        long as the workers live.
    worker_init_fn:
        Called in each worker with its id, after seeding, before loading.
    multiprocessing_context:
        ``"fork"``, ``"spawn"``, ``"forkserver"`` or a context object
        (default: Python's default start method).
    generator:
        The :class:`lucid.Generator` that drives the shuffling and the
        workers' base seed (default: lucid's default generator).
    prefetch_factor:
        Batches each worker loads ahead (default 2 with workers; only with workers).
    persistent_workers:
        Keep the workers alive from one epoch to the next.

    Notes
    -----
    Determinism, as in PyTorch: each iteration draws a base seed from
    ``generator`` before any index; worker ``i`` seeds lucid's default
    generator and Python's ``random`` with ``base_seed + i`` and NumPy's
    global state from both (PyTorch's scheme). The batches are the same for
    every ``num_workers`` given the same ``generator`` seed. With
    ``persistent_workers=True`` the base seed is drawn only when the workers
    start, so the shuffled order of later epochs differs from a run without
    persistent workers, exactly as in PyTorch.

    A worker's exception is raised again in this process, with the worker's
    traceback in its message. A worker that dies (killed, out of memory)
    raises a ``RuntimeError`` naming it; ``Ctrl-C`` stops every worker.

    Examples
    --------
    >>> import lucid
    >>> from lucid.data import DataLoader, TensorDataset
    >>> ds = TensorDataset(lucid.arange(10).reshape(5, 2), lucid.arange(5))
    >>> for x, y in DataLoader(ds, batch_size=2):
    ...     print(x.shape, y.tolist())
    (2, 2) [0, 1]
    (2, 2) [2, 3]
    (1, 2) [4]
    >>> g = lucid.Generator().manual_seed(0)
    >>> order = [y.tolist() for _, y in DataLoader(ds, batch_size=5, shuffle=True, generator=g)]
    >>> sorted(order[0])
    [0, 1, 2, 3, 4]
    """

    def __init__(
        self,
        dataset: Dataset[T_co] | Any,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Sampler[Any] | Iterable[Any] | None = None,
        batch_sampler: Sampler[list[Any]] | Iterable[list[Any]] | None = None,
        num_workers: int = 0,
        collate_fn: Callable[[Any], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        multiprocessing_context: str | multiprocessing.context.BaseContext | None = None,
        generator: Generator | None = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
    ) -> None:
        # Every check comes first: a refused configuration builds nothing.
        if not _is_int(num_workers) or num_workers < 0:
            raise ValueError(
                f"num_workers option should be non-negative; use num_workers=0 to disable "
                f"multiprocessing, got {num_workers!r}"
            )
        if not isinstance(timeout, numbers.Real) or timeout < 0:
            raise ValueError(f"timeout option should be non-negative, got {timeout!r}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(
                "prefetch_factor option could only be specified in multiprocessing; "
                "let num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor "
                "to None"
            )
        if prefetch_factor is not None and (not _is_int(prefetch_factor) or prefetch_factor < 1):
            raise ValueError(f"prefetch_factor must be a positive integer, got {prefetch_factor!r}")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if generator is not None and not isinstance(generator, Generator):
            raise TypeError(f"generator must be a lucid.Generator, got {type(generator).__name__}")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"collate_fn must be callable, got {collate_fn!r}")
        if worker_init_fn is not None and not callable(worker_init_fn):
            raise TypeError(f"worker_init_fn must be callable, got {worker_init_fn!r}")
        context = self._context(multiprocessing_context)
        iterable = isinstance(dataset, IterableDataset)
        if iterable:
            if shuffle not in (None, False):
                raise ValueError(
                    f"DataLoader with IterableDataset: expected unspecified shuffle option, "
                    f"but got shuffle={shuffle}"
                )
            if sampler is not None:
                raise ValueError(
                    f"DataLoader with IterableDataset: expected unspecified sampler option, "
                    f"but got sampler={sampler}"
                )
            if batch_sampler is not None:
                raise ValueError(
                    f"DataLoader with IterableDataset: expected unspecified batch_sampler "
                    f"option, but got batch_sampler={batch_sampler}"
                )
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "batch_sampler option is mutually exclusive with batch_size, shuffle, "
                    "sampler, and drop_last"
                )
            batch_size, drop_last = None, False
        elif batch_size is None:
            if drop_last:
                raise ValueError(
                    "batch_size=None option disables auto-batching and is mutually exclusive "
                    "with drop_last"
                )
        elif not _is_int(batch_size) or batch_size <= 0:
            raise ValueError(
                f"batch_size should be a positive integer value, but got batch_size={batch_size!r}"
            )
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, got {drop_last!r}")

        if sampler is None:
            if iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.dataset: Any = dataset
        self.batch_size: int | None = batch_size
        self.drop_last: bool = drop_last
        self.sampler: Iterable[Any] = sampler
        self.batch_sampler: Iterable[list[Any]] | None = batch_sampler
        self.num_workers: int = int(num_workers)
        self.prefetch_factor: int | None = (
            prefetch_factor if num_workers == 0 else (prefetch_factor or 2)
        )
        self.pin_memory: bool = pin_memory
        self.timeout: float = float(timeout)
        self.worker_init_fn: Callable[[int], None] | None = worker_init_fn
        self.multiprocessing_context: multiprocessing.context.BaseContext = context
        self.generator: Generator | None = generator
        self.persistent_workers: bool = persistent_workers
        self.collate_fn: Callable[[Any], Any] = collate_fn or (
            default_collate if batch_sampler is not None else default_convert
        )
        self._iterable: bool = iterable
        self._iterator: _MultiProcessIter | None = None
        self._initialized = True
        if pin_memory:
            warnings.warn(
                "pin_memory=True has no effect: lucid runs on the CPU, there is no device "
                "memory to pin",
                stacklevel=2,
            )

    @staticmethod
    def _context(
        context: str | multiprocessing.context.BaseContext | None,
    ) -> multiprocessing.context.BaseContext:
        if context is None or isinstance(context, str):
            methods = multiprocessing.get_all_start_methods()
            if context is not None and context not in methods:
                raise ValueError(
                    f"multiprocessing_context must be one of {methods}, got {context!r}"
                )
            return multiprocessing.get_context(context)
        if not isinstance(context, multiprocessing.context.BaseContext):
            raise TypeError(
                f"multiprocessing_context must be a start method name or a multiprocessing "
                f"context, got {context!r}"
            )
        return context

    def __setattr__(self, name: str, value: Any) -> None:
        if getattr(self, "_initialized", False) and name in _FROZEN:
            raise ValueError(
                f"{name} attribute should not be set after {type(self).__name__} is "
                "initialized; build a new DataLoader"
            )
        super().__setattr__(name, value)

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self) -> Iterable[Any]:
        return self.batch_sampler if self.batch_sampler is not None else self.sampler

    def _fetcher_factory(self) -> Callable[[], Fetcher]:
        return functools.partial(
            Fetcher,
            self.dataset,
            self._iterable,
            self._auto_collation,
            self.collate_fn,
            self.drop_last,
        )

    def __iter__(self) -> Iterator[Any]:
        if self.num_workers == 0:
            return _SingleProcessIter(self)
        if not self.persistent_workers:
            return _MultiProcessIter(self)
        if self._iterator is None or self._iterator._shut_down:
            self._iterator = _MultiProcessIter(self)
        else:
            self._iterator._reset(first=False)
        return self._iterator

    def __len__(self) -> int:
        if not self._iterable:
            return len(self._index_sampler)  # type: ignore[arg-type]
        length = len(self.dataset)
        if self.batch_size is None:
            return length
        if self.drop_last:
            return length // self.batch_size
        return -(-length // self.batch_size)


class _BaseIter:
    def __init__(self, loader: DataLoader[Any]) -> None:
        self._loader = loader
        self._sampler_iter = iter(loader._index_sampler)
        # Drawn before any index, as PyTorch does, whatever num_workers is:
        # that keeps the generator's stream, hence the shuffle, the same.
        self._base_seed = int(_random.numpy_rng(loader.generator).integers(0, 2**63))

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self._loader)


class _SingleProcessIter(_BaseIter):
    def __init__(self, loader: DataLoader[Any]) -> None:
        super().__init__(loader)
        self._fetcher = loader._fetcher_factory()()

    def __next__(self) -> Any:
        return self._fetcher.fetch(next(self._sampler_iter))


class _MultiProcessIter(_BaseIter):
    def __init__(self, loader: DataLoader[Any]) -> None:
        super().__init__(loader)
        self._shut_down = False
        self._num_workers = loader.num_workers
        self._prefetch = int(loader.prefetch_factor or 2) * self._num_workers
        self._workers: list[multiprocessing.process.BaseProcess] = []
        self._conns: list[Connection] = []
        make_fetcher = loader._fetcher_factory()
        context = loader.multiprocessing_context
        try:
            for worker_id in range(self._num_workers):
                parent_end, child_end = context.Pipe(duplex=True)
                process = context.Process(  # type: ignore[attr-defined]
                    target=worker_loop,
                    args=(
                        child_end,
                        make_fetcher,
                        loader.dataset,
                        worker_id,
                        self._num_workers,
                        self._base_seed,
                        loader.worker_init_fn,
                        os.getpid(),
                    ),
                    name=f"lucid DataLoader worker {worker_id}",
                    daemon=True,
                )
                self._conns.append(parent_end)
                self._workers.append(process)
                process.start()
                child_end.close()  # the worker holds it now
        except BaseException:
            self._shutdown_workers(graceful=False)
            raise
        self._reset(first=True)

    def _reset(self, first: bool) -> None:
        """Start an epoch: a new pass of the sampler, then fill the workers' queues."""
        if not first:
            self._sampler_iter = iter(self._loader._index_sampler)
        self._send_idx = 0  # the next task to hand out
        self._rcvd_idx = 0  # the next task to return, in order
        # task -> (worker,) while outstanding, (worker, data) once it arrived early.
        self._task_info: dict[int, tuple[Any, ...]] = {}
        self._active = [True] * self._num_workers  # False: its iterable dataset ran out
        self._cycle = itertools.cycle(range(self._num_workers))
        try:
            if not first:
                # A persistent worker restarts its dataset iterator; batches still
                # in flight from an abandoned epoch arrive first and are dropped.
                for conn in self._conns:
                    conn.send(Resume())
                pending = self._num_workers
                while pending:
                    idx, _ = self._receive()
                    if isinstance(idx, Resume):
                        pending -= 1
            for _ in range(self._prefetch):
                self._put_index()
        except BaseException:
            self._shutdown_workers(graceful=False)
            raise

    def _put_index(self) -> None:
        try:
            index = next(self._sampler_iter)
        except StopIteration:
            return
        for _ in range(self._num_workers):
            worker_id = next(self._cycle)
            if self._active[worker_id]:
                break
        else:
            return  # every worker's iterable dataset is exhausted
        self._conns[worker_id].send((self._send_idx, index))
        self._task_info[self._send_idx] = (worker_id,)
        self._send_idx += 1

    def __next__(self) -> Any:
        try:
            data = self._next_data()
        except StopIteration:
            raise
        except BaseException:
            # Ctrl-C, a dead worker, a timeout: nothing more can come; stop them all now.
            self._shutdown_workers(graceful=False)
            raise
        if isinstance(data, ExceptionWrapper):
            data.reraise()  # the workers keep going, as in PyTorch
        return data

    def _next_data(self) -> Any:
        if self._shut_down:
            raise StopIteration
        while True:
            # Skip the tasks of workers whose iterable dataset ended.
            while self._rcvd_idx < self._send_idx:
                info = self._task_info[self._rcvd_idx]
                if len(info) == 2 or self._active[info[0]]:
                    break
                del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
            else:
                if not self._loader.persistent_workers:
                    self._shutdown_workers()
                raise StopIteration
            info = self._task_info[self._rcvd_idx]
            if len(info) == 2:
                return self._deliver()
            idx, data = self._receive()
            if isinstance(data, IterableEnd):
                self._active[data.worker_id] = False
                self._put_index()
                continue
            self._task_info[idx] += (data,)
            if idx == self._rcvd_idx:
                return self._deliver()

    def _deliver(self) -> Any:
        data = self._task_info.pop(self._rcvd_idx)[1]
        self._rcvd_idx += 1
        self._put_index()
        return data

    def _receive(self) -> tuple[Any, Any]:
        """The next message from any worker; raises if a worker died or ``timeout`` passed."""
        timeout = self._loader.timeout
        deadline = time.monotonic() + timeout if timeout > 0 else None
        sentinels = {p.sentinel: i for i, p in enumerate(self._workers)}
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready = wait([*self._conns, *sentinels], timeout=remaining)
            for conn in self._conns:
                if conn in ready:
                    try:
                        return conn.recv()
                    except (EOFError, OSError):
                        break  # its worker is gone: reported below
            for worker_id, process in enumerate(self._workers):
                if process.exitcode is not None:
                    raise RuntimeError(
                        f"DataLoader worker {worker_id} (pid {process.pid}) exited unexpectedly: "
                        f"{_exit_reason(process.exitcode)}"
                    )
            if deadline is not None and time.monotonic() >= deadline:
                raise RuntimeError(f"DataLoader timed out after {timeout} seconds")

    def _shutdown_workers(self, graceful: bool = True) -> None:
        """Stop the workers: ask them and wait a little, or if not ``graceful`` terminate them."""
        if getattr(self, "_shut_down", True):
            return
        self._shut_down = True
        for conn in self._conns:
            with contextlib.suppress(OSError, ValueError):  # that worker is already gone
                conn.send(None)
        deadline = time.monotonic() + (_SHUTDOWN_GRACE if graceful else 0.0)
        for process in self._workers:
            if process.pid is None:
                continue  # never started
            process.join(max(0.0, deadline - time.monotonic()))
            if process.exitcode is None:
                process.terminate()
                process.join()
        for conn in self._conns:
            conn.close()

    def __del__(self) -> None:
        # An abandoned epoch: the workers may be busy with batches nobody will
        # read (or blocked sending one), so waiting for them would only delay.
        self._shutdown_workers(graceful=False)


def _exit_reason(exitcode: int) -> str:
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (the kernel's out-of-memory killer sends it)" if name == "SIGKILL" else ""
        return f"killed by {name}{hint}"
    return f"exit code {exitcode}"
