"""The process group on MPI (mpi4py): start-up, rank and size, and the collectives."""

from __future__ import annotations

import enum
import os
import sys
import traceback
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import numpy as np

from lucid._tensor import Tensor

# Variables that MPI launchers set in every process they start: Open MPI's
# mpirun, MPICH's Hydra (PMI) and PMIx-based launchers such as srun.
_LAUNCHER_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK")


class ReduceOp(enum.Enum):
    """How :func:`all_reduce` combines the ranks' values, as ``torch.distributed.ReduceOp``.

    ``AVG`` is the sum divided by the world size (floating tensors only).
    """

    SUM = "sum"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    AVG = "avg"


class _Group:
    """The initialised process group: MPI's world communicator, or one process without MPI."""

    def __init__(self, comm: Any) -> None:
        self.comm = comm  # None: a single process that never started MPI
        self.rank = 0 if comm is None else comm.Get_rank()
        self.size = 1 if comm is None else comm.Get_size()


_group: _Group | None = None
_previous_excepthook: Any = None


def is_available() -> bool:
    """Whether mpi4py (and with it an MPI library) can be imported."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def _launched_by_mpi() -> bool:
    return any(name in os.environ for name in _LAUNCHER_VARIABLES)


def init_process_group(backend: str = "mpi", **kwargs: Any) -> None:
    """Join the processes that ``mpirun`` started into one group.

    Reads the MPI environment: under ``mpirun -n N`` every process gets its
    rank and the world size N. Started without an MPI launcher, the process
    is a group of its own (rank 0, world size 1) and MPI is never loaded, so
    the same script runs with or without ``mpirun``.

    Parameters
    ----------
    backend
        Only ``"mpi"``: lucid talks to other processes through MPI
        (``gloo`` and ``nccl`` are PyTorch's; launch with ``mpirun`` instead
        of ``torchrun``).
    **kwargs
        ``init_method``, ``world_size`` and ``rank`` are refused: MPI's
        launcher decides them.

    Examples
    --------
    >>> import lucid.distributed as dist
    >>> dist.init_process_group()
    >>> dist.get_rank(), dist.get_world_size()
    (0, 1)
    >>> dist.destroy_process_group()
    """
    global _group, _previous_excepthook
    if backend != "mpi":
        raise ValueError(
            f"lucid's only backend is 'mpi', got backend={backend!r}; start the processes "
            "with `mpirun -n N python script.py` and call init_process_group()"
        )
    if kwargs:
        raise TypeError(
            f"init_process_group() takes no {', '.join(sorted(kwargs))} argument: under MPI "
            "the launcher sets rank and world size (mpirun -n N)"
        )
    if _group is not None:
        raise RuntimeError(
            "trying to initialize the default process group twice; call "
            "destroy_process_group() first"
        )
    if not _launched_by_mpi():
        _group = _Group(None)
        return
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise RuntimeError(
            "this process was started by an MPI launcher but mpi4py is not installed; "
            "install it with: pip install 'lucid[distributed]'"
        ) from error
    _group = _Group(MPI.COMM_WORLD)
    # An uncaught error on one rank must end every rank: the others would wait
    # forever in their next collective. Show the error, then abort the job.
    _previous_excepthook = sys.excepthook
    sys.excepthook = _abort_on_error


def _abort_on_error(
    kind: type[BaseException], error: BaseException, tb: TracebackType | None
) -> None:
    traceback.print_exception(kind, error, tb)
    abort(1)


def abort(status: int) -> None:
    """End every rank with ``status`` after this one failed (nothing to do alone).

    A rank that just exits would leave the others waiting in their next
    collective, and MPI's shutdown would wait for them: abort the job instead.
    """
    if _group is None or _group.comm is None:
        return
    sys.stderr.write(f"lucid.distributed: rank {_group.rank} failed; aborting all ranks\n")
    sys.stderr.flush()
    _group.comm.Abort(status)


def is_initialized() -> bool:
    """Whether :func:`init_process_group` has run (and the group was not destroyed)."""
    return _group is not None


def _current() -> _Group:
    if _group is None:
        raise RuntimeError(
            "the default process group has not been initialized; call "
            "lucid.distributed.init_process_group() first"
        )
    return _group


def get_rank() -> int:
    """This process's rank, from 0 to ``get_world_size() - 1``."""
    return _current().rank


def get_world_size() -> int:
    """How many processes the group has."""
    return _current().size


def destroy_process_group() -> None:
    """Leave the group (MPI itself is finalised when the process exits)."""
    global _group, _previous_excepthook
    _current()
    if _previous_excepthook is not None:
        sys.excepthook = _previous_excepthook
        _previous_excepthook = None
    _group = None


# ------------------------------------------------------------ collectives ---


class Work:
    """A collective started with ``async_op=True``; :meth:`wait` completes it."""

    def __init__(self, request: Any, finish: Any = None) -> None:
        self._request = request
        self._finish = finish

    def is_completed(self) -> bool:
        """Whether the operation has finished (without waiting for it)."""
        return self._request is None or bool(self._request.Test())

    def wait(self) -> bool:
        """Block until the operation has finished; the tensor then holds the result."""
        if self._request is not None:
            self._request.Wait()
            self._request = None
        if self._finish is not None:
            self._finish()
            self._finish = None
        return True


def _array(tensor: Any, what: str) -> np.ndarray:
    """The writable array behind a lucid tensor or NumPy array."""
    array = tensor.data if isinstance(tensor, Tensor) else tensor
    if not isinstance(array, np.ndarray):
        raise TypeError(
            f"{what} takes a lucid.Tensor or numpy.ndarray, got {type(tensor).__name__}"
        )
    if not array.flags.writeable:
        raise ValueError(f"{what} writes its result in place, but the array is read-only")
    return array


def _buffer(tensor: Any, what: str) -> tuple[np.ndarray, Any]:
    """The memory a collective works on in place, and what to do once it has finished.

    A contiguous array is handed to MPI as it is (no copy); any other (such as
    a transposed weight) goes through a contiguous copy that is written back.
    """
    array = _array(tensor, what)
    if array.flags.c_contiguous:
        return array, None
    staging = np.ascontiguousarray(array)

    def write_back() -> None:
        array[...] = staging

    return staging, write_back


def _then(*steps: Any) -> Any:
    """One callable running the given steps in order (``None`` entries skipped)."""
    todo = [step for step in steps if step is not None]
    return (lambda: [step() for step in todo]) if todo else None


def _mpi_op(op: ReduceOp) -> Any:
    from mpi4py import MPI

    return {
        ReduceOp.SUM: MPI.SUM,
        ReduceOp.AVG: MPI.SUM,
        ReduceOp.PRODUCT: MPI.PROD,
        ReduceOp.MIN: MPI.MIN,
        ReduceOp.MAX: MPI.MAX,
    }[op]


def all_reduce(tensor: Any, op: ReduceOp = ReduceOp.SUM, async_op: bool = False) -> Work | None:
    """Combine ``tensor`` across all ranks, in place, so every rank holds the result.

    Parameters
    ----------
    tensor
        A lucid tensor or NumPy array (contiguous); MPI reads and writes its
        memory directly, without a copy.
    op
        A :class:`ReduceOp`; ``AVG`` divides the sum by the world size.
    async_op
        Return a :class:`Work` at once and finish with ``work.wait()``.

    Examples
    --------
    >>> import lucid, lucid.distributed as dist
    >>> dist.init_process_group()
    >>> x = lucid.tensor([1.0, 2.0])
    >>> dist.all_reduce(x)
    >>> x.tolist()
    [1.0, 2.0]
    >>> dist.destroy_process_group()
    """
    if not isinstance(op, ReduceOp):
        raise TypeError(f"op must be a lucid.distributed.ReduceOp, got {op!r}")
    array, write_back = _buffer(tensor, "all_reduce")
    if op is ReduceOp.AVG and array.dtype.kind != "f":
        raise TypeError(f"ReduceOp.AVG needs a floating tensor, got dtype {array.dtype}")
    group = _current()

    def finish() -> None:
        if op is ReduceOp.AVG and group.size > 1:
            np.divide(array, group.size, out=array)

    if group.comm is None:
        request = None
    else:
        from mpi4py import MPI

        request = group.comm.Iallreduce(MPI.IN_PLACE, array, op=_mpi_op(op))
    work = Work(request, _then(finish, write_back))
    if async_op:
        return work
    work.wait()
    return None


def broadcast(tensor: Any, src: int = 0, async_op: bool = False) -> Work | None:
    """Copy rank ``src``'s ``tensor`` into every other rank's ``tensor``, in place."""
    array, write_back = _buffer(tensor, "broadcast")
    group = _current()
    _check_rank(src, group, "src")
    work = Work(None if group.comm is None else group.comm.Ibcast(array, root=src), write_back)
    if async_op:
        return work
    work.wait()
    return None


def all_gather(tensor_list: list[Any], tensor: Any, async_op: bool = False) -> Work | None:
    """Fill ``tensor_list[r]`` with rank ``r``'s ``tensor``, on every rank.

    As in PyTorch, ``tensor_list`` holds one tensor per rank, each of
    ``tensor``'s shape and dtype; they are overwritten in place.
    """
    group = _current()
    source, _ = _buffer(tensor, "all_gather")
    if not isinstance(tensor_list, list) or len(tensor_list) != group.size:
        raise ValueError(
            f"all_gather needs a list of {group.size} tensors (one per rank), "
            f"got {type(tensor_list).__name__} of length {len(tensor_list)}"
        )
    targets = [_array(t, "all_gather") for t in tensor_list]
    for i, target in enumerate(targets):
        if target.shape != source.shape or target.dtype != source.dtype:
            raise ValueError(
                f"tensor_list[{i}] has shape {target.shape} and dtype {target.dtype}; "
                f"expected {source.shape} and {source.dtype} like the tensor sent"
            )
    gathered = np.empty((group.size, *source.shape), dtype=source.dtype)
    request = None if group.comm is None else group.comm.Iallgather(source, gathered)
    if group.comm is None:
        gathered[0] = source

    def finish() -> None:
        for target, part in zip(targets, gathered, strict=True):
            target[...] = part

    work = Work(request, finish)
    if async_op:
        return work
    work.wait()
    return None


def barrier() -> None:
    """Wait until every rank has reached this call."""
    group = _current()
    if group.comm is not None:
        group.comm.Barrier()


def _check_rank(rank: Any, group: _Group, what: str) -> None:
    if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < group.size:
        raise ValueError(f"{what} must be a rank in [0, {group.size}), got {rank!r}")


def gather_rows(rows: np.ndarray) -> np.ndarray:
    """Every rank's ``rows`` (same dtype and trailing shape), concatenated in rank order.

    The ranks may hold different numbers of rows: the counts are exchanged
    first, then the rows in one ``Allgatherv``, as buffers (never pickled).
    """
    group = _current()
    rows = np.ascontiguousarray(rows)
    if group.comm is None:
        return rows.copy()
    counts = np.zeros(group.size, dtype=np.int64)
    group.comm.Allgather(np.array([rows.shape[0]], dtype=np.int64), counts)
    row_size = int(np.prod(rows.shape[1:], dtype=np.int64))
    out = np.empty((int(counts.sum()), *rows.shape[1:]), dtype=rows.dtype)
    sizes: Sequence[int] = (counts * row_size).tolist()
    group.comm.Allgatherv(rows, [out, sizes])
    return out
