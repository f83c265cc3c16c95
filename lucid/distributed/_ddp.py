"""``DistributedDataParallel``: gradients averaged across ranks in buckets, during backward."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from lucid._tensor import Tensor
from lucid.distributed import _group
from lucid.nn.modules.module import Module
from lucid.nn.parameter import Parameter


class _Bucket:
    """Parameters whose gradients travel in one all-reduce, and the flat buffer they share."""

    def __init__(self, params: list[Parameter]) -> None:
        self.params = params
        sizes = [p.data.size for p in params]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).tolist()
        self.buffer = np.empty(self.offsets[-1], dtype=params[0].data.dtype)
        self.ready = 0
        self.work: _group.Work | None = None

    def launch(self, group: _group._Group) -> _group.Work:
        for p, start, stop in zip(self.params, self.offsets, self.offsets[1:], strict=False):
            # Every parameter is ready, so every one has a gradient.
            self.buffer[start:stop] = p.grad.data.ravel()  # type: ignore[union-attr]
        work = _group.all_reduce(self.buffer, async_op=True)
        assert work is not None  # async_op=True always returns the Work
        self.work = work
        return work

    def write_back(self, world_size: int) -> None:
        self.buffer /= world_size
        for p, start, stop in zip(self.params, self.offsets, self.offsets[1:], strict=False):
            p.grad.data[...] = self.buffer[start:stop].reshape(p.data.shape)  # type: ignore[union-attr]
        self.ready = 0
        self.work = None


class DistributedDataParallel(Module):
    """Data-parallel training across MPI ranks, as ``torch.nn.parallel.DistributedDataParallel``.

    Wrapping copies rank 0's parameters and buffers to every rank. Each rank
    then runs forward and backward on its own batch; as soon as all gradients
    of a bucket (about ``bucket_cap_mb`` of parameters, in reverse
    registration order, roughly the order backward produces them) are
    complete, their all-reduce starts, so communication overlaps the rest of
    backward. When the last bucket is ready, every rank holds the gradients
    averaged over all ranks, bit-identical everywhere, and ``optimizer.step()``
    keeps the replicas equal.

    Every parameter that requires a gradient must receive one in each
    backward (as with PyTorch's default ``find_unused_parameters=False``):
    otherwise the next forward raises an error naming the parameters.

    Parameters
    ----------
    module
        The model to replicate.
    broadcast_buffers
        Copy rank 0's buffers (such as batch-norm statistics) to every rank
        at the start of each forward, as PyTorch does.
    bucket_cap_mb
        Size of a gradient bucket in MiB.

    Examples
    --------
    >>> import lucid, lucid.distributed as dist
    >>> dist.init_process_group()
    >>> model = dist.DistributedDataParallel(lucid.nn.Linear(3, 1))
    >>> model(lucid.ones(2, 3)).sum().backward()
    >>> model.module.weight.grad.tolist()
    [[2.0, 2.0, 2.0]]
    >>> dist.destroy_process_group()
    """

    def __init__(
        self, module: Module, *, broadcast_buffers: bool = True, bucket_cap_mb: float = 25.0
    ) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel wraps a lucid.nn.Module, got {module!r}")
        if not bucket_cap_mb > 0:
            raise ValueError(f"bucket_cap_mb must be positive, got {bucket_cap_mb!r}")
        group = _group._current()
        self.module = module
        self.broadcast_buffers = broadcast_buffers
        for tensor in [*module.parameters(), *module.buffers()]:
            _group.broadcast(tensor, src=0)
        params = [p for p in module.parameters() if p.requires_grad]
        self._buckets = _make_buckets(params[::-1], int(bucket_cap_mb * 2**20))
        self._bucket_of = {id(p): b for b in self._buckets for p in b.params}
        self._world_size = group.size
        self._sync = True
        self._launched = 0
        #: Seconds spent waiting for all-reduces after the last gradient was
        #: ready: the communication that backward did not hide.
        self.exposed_comm_seconds = 0.0
        self._hooks = [p.register_post_accumulate_grad_hook(self._grad_ready) for p in params]

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self._launched or any(b.ready for b in self._buckets):
            missing = [
                name
                for name, p in self.module.named_parameters()
                if id(p) in self._bucket_of
                and self._bucket_of[id(p)].work is None
                and p.grad is None
            ]
            self._reset()
            raise RuntimeError(
                "DistributedDataParallel: the previous backward did not produce gradients "
                "for every parameter, so they were not averaged across ranks"
                + (f" (no gradient: {', '.join(missing)})" if missing else "")
                + "; make every parameter that requires a gradient take part in the loss, "
                "or set requires_grad=False on those that do not"
            )
        if self.broadcast_buffers and self._world_size > 1:
            for buffer in self.module.buffers():
                _group.broadcast(buffer, src=0)
        return self.module(*args, **kwargs)

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Skip the all-reduce inside the block: gradients accumulate locally.

        The first backward after the block averages everything accumulated,
        so ``k`` micro-batches cost one round of communication.
        """
        previous, self._sync = self._sync, False
        try:
            yield
        finally:
            self._sync = previous

    def _grad_ready(self, param: Tensor) -> None:
        if not self._sync:
            return
        bucket = self._bucket_of[id(param)]
        bucket.ready += 1
        if bucket.ready < len(bucket.params):
            return
        bucket.launch(_group._current())
        self._launched += 1
        if self._launched < len(self._buckets):
            # MPI advances non-blocking collectives when it is called: test
            # the ones in flight so they progress while backward continues.
            for b in self._buckets:
                if b.work is not None:
                    b.work.is_completed()
            return
        start = time.perf_counter()
        for b in self._buckets:
            assert b.work is not None
            b.work.wait()
        self.exposed_comm_seconds += time.perf_counter() - start
        for b in self._buckets:
            b.write_back(self._world_size)
        self._launched = 0

    def _reset(self) -> None:
        # Not waiting for reductions in flight: the other ranks may never
        # start theirs, and the error raised next ends this rank anyway.
        for b in self._buckets:
            b.ready = 0
            b.work = None
        self._launched = 0


def _make_buckets(params: list[Parameter], cap_bytes: int) -> list[_Bucket]:
    """Consecutive parameters of one dtype, grouped until a bucket reaches ``cap_bytes``."""
    buckets: list[_Bucket] = []
    current: list[Parameter] = []
    size = 0
    for p in params:
        if current and (size + p.data.nbytes > cap_bytes or p.data.dtype != current[0].data.dtype):
            buckets.append(_Bucket(current))
            current, size = [], 0
        current.append(p)
        size += p.data.nbytes
    if current:
        buckets.append(_Bucket(current))
    return buckets
